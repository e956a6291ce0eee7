//! Numeric building blocks, native so the hot loops of a bootstrap or a parameter screen do not
//! run in the interpreter: a seeded generator (`rng`, `resample`, `shuffle`), statistics on
//! arrays of numbers (`sum`, `mean`, `std`, `median`, `quantile`, `min_of`, `max_of`) and
//! parameter sweeps (`linspace`, `grid`).
//!
//! The statistics follow numpy's defaults to the last bit (pairwise summation as in
//! `np.add.reduce`, population `std`, `quantile` by linear interpolation), pinned by fixtures that
//! `scripts/fixtures/numeric_fixtures.py` generates with numpy. Bad input (an empty array, a
//! string among the numbers, `lo >= hi`) is a script error, never a panic.
//!
//! On a large constant or captured array, prefer the method form, `data.mean()`: Rhai hands
//! `mean(data)` a copy of such a variable (a deep copy of the array on every call; 3.7x the time
//! of the mean itself for a million values) and `data.mean()` the variable itself.

use super::{R, script_error};
use rand::{Rng as _, SeedableRng, seq::SliceRandom};
use rand_chacha::ChaCha8Rng;
use rhai::plugin::*;
use rhai::{Array, Dynamic, FLOAT, INT, Map};
use std::sync::{Arc, Mutex};

/// A seeded generator. Clones share one state, as a Python object would: `resample(a, r)` and
/// `shuffle(a, r)` advance the caller's `r` even though Rhai passes `r` by value.
///
/// The algorithm is ChaCha8 (`rand_chacha`), seeded with `seed_from_u64`; integers come from
/// `rand` 0.9's uniform sampler. A golden test pins the sequences, so any change is deliberate.
///
/// In `par_map`, make one generator per element from the element (`|i| ... rng(i) ...`): the
/// answer is then the same on any number of cores. A generator captured by the closure is one
/// state shared by every thread, so which element gets which numbers depends on scheduling.
#[derive(Clone)]
pub struct Rng(Arc<Mutex<ChaCha8Rng>>);

impl Rng {
    /// The generator for this seed.
    ///
    /// ```rhai
    /// let r = rng(42);
    /// let x = r.float();        // the same x on every node, every run
    /// ```
    pub fn new(seed: INT) -> Rng {
        Rng(Arc::new(Mutex::new(ChaCha8Rng::seed_from_u64(seed as u64))))
    }

    /// Run `f` on the generator's state (a poisoned lock is still a valid state).
    fn with<T>(&self, f: impl FnOnce(&mut ChaCha8Rng) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }



}


/// A script number as a float: ints convert, anything else is an error naming `what`.
fn number(x: &Dynamic, what: &str) -> R<f64> {
    if let Ok(f) = x.as_float() {
        Ok(f)
    } else if let Ok(i) = x.as_int() {
        Ok(i as f64)
    } else {
        Err(script_error(format!(
            "{what}: expected a number, got {}",
            x.type_name()
        )))
    }
}

/// The array as floats; an error for an empty array or a non-number.
fn floats(a: &Array, what: &str) -> R<Vec<f64>> {
    if a.is_empty() {
        return Err(script_error(format!("{what}: the array is empty")));
    }
    a.iter()
        .enumerate()
        .map(|(i, x)| number(x, what).map_err(|_| not_a_number(what, i, x)))
        .collect()
}

fn not_a_number(what: &str, i: usize, x: &Dynamic) -> Box<rhai::EvalAltResult> {
    script_error(format!(
        "{what}: element {i} is {}, not a number",
        x.type_name()
    ))
}

/// numpy's pairwise summation (`pairwise_sum` in numpy's `loops_utils.h`): below 8 values a plain
/// loop; up to 128, eight accumulators; above, the two halves (cut at a multiple of 8) summed
/// apart. The same order of additions gives the same bits as `np.sum` on a float64 array.
fn pairwise_sum(x: &[f64]) -> f64 {
    const BLOCK: usize = 128;
    let n = x.len();
    if n < 8 {
        return x.iter().fold(0.0, |acc, v| acc + v);
    }
    if n <= BLOCK {
        let mut r = [0.0f64; 8];
        r.copy_from_slice(&x[..8]);
        let mut i = 8;
        while i < n - (n % 8) {
            for (k, acc) in r.iter_mut().enumerate() {
                *acc += x[i + k];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for v in &x[i..] {
            res += v;
        }
        return res;
    }
    let mut half = n / 2;
    half -= half % 8;
    pairwise_sum(&x[..half]) + pairwise_sum(&x[half..])
}



/// The numbers sorted (NaN last), for the order statistics.
fn sorted(a: &Array, what: &str) -> R<Vec<f64>> {
    let mut x = floats(a, what)?;
    x.sort_by(f64::total_cmp);
    Ok(x)
}


/// The element that wins `better` over all others (NaN wins over everything, as in numpy).
fn extreme(a: &Array, what: &str, better: fn(f64, f64) -> bool) -> R<Dynamic> {
    let x = floats(a, what)?;
    let mut best = 0;
    for (i, v) in x.iter().enumerate() {
        if v.is_nan() {
            return Ok(a[i].clone());
        }
        if better(*v, x[best]) {
            best = i;
        }
    }
    Ok(a[best].clone())
}



/// Largest array `linspace` and `grid` build (a typo in a sweep should be an error, not an
/// exhausted memory).
const MAX_GENERATED: usize = 10_000_000;

fn too_many(what: &str, n: usize) -> Box<rhai::EvalAltResult> {
    script_error(format!(
        "{what}: {n} values is more than the limit of {MAX_GENERATED}"
    ))
}


/// Seeded random numbers, statistics as numpy computes them, and parameter sweeps.
#[export_module]
pub mod numeric_functions {
    use super::*;

    /// The generator type: `rng(seed)` makes one.
    pub type Rng = super::Rng;

    /// A seeded generator (ChaCha8): the same seed gives the same numbers on every
    /// node, thread and run. In `par_map`, make one per element from the element.
    ///
    /// ```rhai
    /// let r = rng(42);
    /// let x = r.float();        // the same x on every node, every run
    /// let means = par_map(0..100, |i| mean(resample([1.0, 2.5, 4.0], rng(i))));
    /// ```
    pub fn rng(seed: INT) -> Rng {
        Rng::new(seed)
    }

    /// Uniform in [0, 1), 53 bits of precision.
    ///
    /// ```rhai
    /// let u = rng(1).float();   // 0.0 <= u && u < 1.0
    /// ```
    #[rhai_fn(pure)]
    pub fn float(r: &mut Rng) -> FLOAT {
        r.with(|g| g.random::<f64>())
    }

    /// Uniform in [lo, hi).
    ///
    /// ```rhai
    /// let die = rng(7).int(1, 7);   // 1..=6
    /// ```
    #[rhai_fn(pure, return_raw)]
    pub fn int(r: &mut Rng, lo: INT, hi: INT) -> R<INT> {
        if lo >= hi {
            return Err(script_error(format!(
                "r.int({lo}, {hi}): the range is empty (need lo < hi)"
            )));
        }
        Ok(r.with(|g| g.random_range(lo..hi)))
    }

    /// Normally distributed (ziggurat method of `rand_distr`).
    ///
    /// ```rhai
    /// let noise = rng(3).normal(0.0, 0.5);
    /// ```
    #[rhai_fn(pure, return_raw)]
    pub fn normal(r: &mut Rng, mean: Dynamic, sd: Dynamic) -> R<FLOAT> {
        let (mean, sd) = (number(&mean, "r.normal")?, number(&sd, "r.normal")?);
        if sd < 0.0 {
            return Err(script_error(format!(
                "r.normal({mean}, {sd}): sd is negative"
            )));
        }
        let normal = rand_distr::Normal::new(mean, sd)
            .map_err(|e| script_error(format!("r.normal({mean}, {sd}): {e}")))?;
        Ok(r.with(|g| rand_distr::Distribution::sample(&normal, g)))
    }

    /// One element, uniformly.
    ///
    /// ```rhai
    /// let colour = rng(5).choice(["red", "green", "blue"]);
    /// ```
    #[rhai_fn(pure, return_raw)]
    pub fn choice(r: &mut Rng, a: Array) -> R<Dynamic> {
        if a.is_empty() {
            return Err(script_error("r.choice: the array is empty"));
        }
        let i = r.with(|g| g.random_range(0..a.len()));
        Ok(a[i].clone())
    }

    /// A bootstrap sample — `a.len()` elements drawn with replacement.
    ///
    /// ```rhai
    /// let data = [4.1, 5.3, 3.9];
    /// let means = par_map(range(0, 1000), |seed| mean(resample(data, rng(seed))));
    /// ```
    #[rhai_fn(pure, return_raw)]
    pub fn resample(a: &mut Array, r: Rng) -> R<Array> {
        if a.is_empty() {
            return Err(script_error("resample: the array is empty"));
        }
        let n = a.len();
        Ok(r.with(|g| (0..n).map(|_| a[g.random_range(0..n)].clone()).collect()))
    }

    /// Shuffle `a` in place.
    ///
    /// ```rhai
    /// let order = [1, 2, 3, 4];
    /// shuffle(order, rng(9));
    /// ```
    pub fn shuffle(a: &mut Array, r: Rng) {
        r.with(|g| a.shuffle(g));
    }

    /// The sum: an int for an array of ints (an error on overflow), else a float.
    ///
    /// ```rhai
    /// let ints = sum([1, 2, 3]);        // 6
    /// let floats = sum([0.5, 1, 2]);    // 3.5
    /// ```
    #[rhai_fn(pure, return_raw)]
    pub fn sum(a: &mut Array) -> R<Dynamic> {
        if a.is_empty() {
            return Err(script_error("sum: the array is empty"));
        }
        if a.iter().all(|x| x.is_int()) {
            let mut total: INT = 0;
            for x in a.iter() {
                total = total
                    .checked_add(x.as_int().unwrap_or(0))
                    .ok_or_else(|| script_error("sum: the int total overflows; use floats"))?;
            }
            return Ok(total.into());
        }
        Ok(pairwise_sum(&floats(a, "sum")?).into())
    }

    /// The arithmetic mean, as `numpy.mean`.
    ///
    /// ```rhai
    /// mean([1, 2, 3, 4])  // 2.5
    /// ```
    #[rhai_fn(pure, return_raw)]
    pub fn mean(a: &mut Array) -> R<FLOAT> {
        let x = floats(a, "mean")?;
        Ok(pairwise_sum(&x) / x.len() as f64)
    }

    /// The population standard deviation, as `numpy.std`.
    ///
    /// ```rhai
    /// std([2, 4, 4, 4, 5, 5, 7, 9])     // 2.0
    /// ```
    #[rhai_fn(pure, return_raw)]
    pub fn std(a: &mut Array) -> R<FLOAT> {
        std_ddof(a, 0)
    }

    /// The standard deviation with divisor `n - ddof`, as `numpy.std`
    /// (ddof 0, the population std, by default; 1 for the sample std).
    ///
    /// ```rhai
    /// let population = std([2, 4, 4, 4, 5, 5, 7, 9]);     // 2.0
    /// let sample = std([2, 4, 4, 4, 5, 5, 7, 9], 1);      // 2.138...
    /// ```
    #[rhai_fn(name = "std", pure, return_raw)]
    pub fn std_ddof(a: &mut Array, ddof: INT) -> R<FLOAT> {
        let x = floats(a, "std")?;
        let n = x.len() as INT;
        if ddof < 0 || ddof >= n {
            return Err(script_error(format!(
                "std: ddof {ddof} needs 0 <= ddof < the array's length {n}"
            )));
        }
        let m = pairwise_sum(&x) / x.len() as f64;
        let squares: Vec<f64> = x.iter().map(|v| (v - m) * (v - m)).collect();
        Ok((pairwise_sum(&squares) / (n - ddof) as f64).sqrt())
    }

    /// The middle value, or the mean of the middle two, as `numpy.median`.
    ///
    /// ```rhai
    /// median([3, 1, 4, 1, 5])   // 3.0
    /// ```
    #[rhai_fn(pure, return_raw)]
    pub fn median(a: &mut Array) -> R<FLOAT> {
        let x = sorted(a, "median")?;
        let n = x.len();
        if x[n - 1].is_nan() {
            return Ok(f64::NAN);
        }
        Ok(if n % 2 == 1 {
            x[n / 2]
        } else {
            (x[n / 2 - 1] + x[n / 2]) / 2.0
        })
    }

    /// The quantile `q` (in [0, 1]) by numpy's default "linear" method — the virtual index
    /// `q (n - 1)` between two order statistics, interpolated with numpy's `_lerp` (from the
    /// upper one when the fraction is >= 0.5, as numpy does, for the same bits).
    ///
    /// ```rhai
    /// let ci = [quantile(means, 0.025), quantile(means, 0.975)];
    /// ```
    #[rhai_fn(pure, return_raw)]
    pub fn quantile(a: &mut Array, q: Dynamic) -> R<FLOAT> {
        let q = number(&q, "quantile")?;
        if !(0.0..=1.0).contains(&q) {
            return Err(script_error(format!("quantile: q = {q} is not in [0, 1]")));
        }
        let x = sorted(a, "quantile")?;
        let n = x.len();
        if x[n - 1].is_nan() {
            return Ok(f64::NAN);
        }
        let virtual_index = q * (n - 1) as f64;
        let below = virtual_index.floor();
        let lo = (below as usize).min(n - 1);
        let hi = (lo + 1).min(n - 1);
        let t = virtual_index - below;
        let (a, b) = (x[lo], x[hi]);
        let diff = b - a;
        Ok(if t >= 0.5 {
            b - diff * (1.0 - t)
        } else {
            a + diff * t
        })
    }

    /// The smallest number, as it is in the array (an int stays an int).
    ///
    /// ```rhai
    /// min_of([3, 1.5, 2])   // 1.5
    /// ```
    #[rhai_fn(pure, return_raw)]
    pub fn min_of(a: &mut Array) -> R<Dynamic> {
        extreme(a, "min_of", |v, best| v < best)
    }

    /// The largest number, as it is in the array.
    ///
    /// ```rhai
    /// max_of([3, 1.5, 2])   // 3
    /// ```
    #[rhai_fn(pure, return_raw)]
    pub fn max_of(a: &mut Array) -> R<Dynamic> {
        extreme(a, "max_of", |v, best| v > best)
    }

    /// `linspace(a, b, n)`: `n` evenly spaced floats from `a` to `b`, both ends included, computed
    /// as `numpy.linspace` does (`i * step + a`, the last one exactly `b`).
    ///
    /// ```rhai
    /// linspace(0, 1, 5)   // [0.0, 0.25, 0.5, 0.75, 1.0]
    /// ```
    #[rhai_fn(return_raw)]
    pub fn linspace(a: Dynamic, b: Dynamic, n: INT) -> R<Array> {
        let (start, stop) = (number(&a, "linspace")?, number(&b, "linspace")?);
        if n < 0 {
            return Err(script_error(format!("linspace: n = {n} is negative")));
        }
        let n = n as usize;
        if n > MAX_GENERATED {
            return Err(too_many("linspace", n));
        }
        let div = n.saturating_sub(1) as f64;
        let delta = stop - start;
        let step = delta / div;
        let mut out: Array = (0..n)
            .map(|i| {
                let i = i as f64;
                // numpy's fallbacks: one point (no step) and a step that underflows to 0.
                let y = if div == 0.0 {
                    i * delta
                } else if step == 0.0 {
                    i / div * delta
                } else {
                    i * step
                };
                Dynamic::from_float(y + start)
            })
            .collect();
        if n > 1 {
            out[n - 1] = Dynamic::from_float(stop);
        }
        Ok(out)
    }

    /// Every combination of the axes' values, as maps with the same keys. Keys are
    /// taken in sorted order and the last key varies fastest (as sklearn's `ParameterGrid`, or
    /// nested `for` loops over the keys in alphabetical order).
    ///
    /// ```rhai
    /// grid(#{growth: [0.1, 0.2], capacity: [50, 100]})
    /// // [#{capacity: 50, growth: 0.1}, #{capacity: 50, growth: 0.2},
    /// //  #{capacity: 100, growth: 0.1}, #{capacity: 100, growth: 0.2}]
    /// ```
    #[rhai_fn(return_raw)]
    pub fn grid(axes: Map) -> R<Array> {
        if axes.is_empty() {
            return Err(script_error("grid: no axes (the map is empty)"));
        }
        let mut total = 1usize;
        for (name, values) in &axes {
            let len = values
                .read_lock::<Array>()
                .map(|v| v.len())
                .ok_or_else(|| {
                    script_error(format!(
                        "grid: `{name}` must be an array of values, not {}",
                        values.type_name()
                    ))
                })?;
            if len == 0 {
                return Err(script_error(format!("grid: `{name}` has no values")));
            }
            total = total
                .checked_mul(len)
                .filter(|t| *t <= MAX_GENERATED)
                .ok_or_else(|| too_many("grid", usize::MAX))?;
        }
        let axes: Vec<(_, Array)> = axes
            .iter()
            .map(|(k, v)| (k, v.clone().into_array().unwrap_or_default()))
            .collect();
        let mut out = Array::with_capacity(total);
        for index in 0..total {
            // `index` in mixed radix, the last axis the lowest digit.
            let mut rest = index;
            let mut point = Map::new();
            for (name, values) in axes.iter().rev() {
                point.insert(Clone::clone(*name), values[rest % values.len()].clone());
                rest /= values.len();
            }
            out.push(point.into());
        }
        Ok(out)
    }
}

#[cfg(test)]
#[path = "numeric_tests.rs"]
mod tests;
