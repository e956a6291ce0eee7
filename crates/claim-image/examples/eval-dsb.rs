//! Tuning aid: mean per-image F1 (IoU 0.5) of a parameterised pipeline over a folder of images
//! with a `truth/` folder of label TIFFs beside them.
//!
//! `cargo run -p claim-image --example eval-dsb -- DIR [key=value ...]`

#[allow(unused_imports)]
use claim_image::save_overlay;
use claim_image::{
    Image, Labels, Mask, WatershedOptions, li, load_image, match_labels, otsu, typical_radius,
    watershed, watershed_by_intensity,
};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

thread_local!(static EST: std::cell::Cell<f64> = const { std::cell::Cell::new(0.0) });

struct P(HashMap<String, String>);
impl P {
    fn f(&self, k: &str, d: f64) -> f64 {
        self.0.get(k).map(|v| v.parse().unwrap()).unwrap_or(d)
    }
    fn s<'a>(&'a self, k: &str, d: &'a str) -> &'a str {
        self.0.get(k).map(|s| s.as_str()).unwrap_or(d)
    }
}

fn segment(raw: &Image, p: &P) -> Labels {
    let smooth = raw.gaussian(p.f("sigma", 1.0)).unwrap();
    match p.s("pipe", "adaptive") {
        "main" => {
            let mask = smooth
                .threshold(li(&smooth))
                .open(1)
                .unwrap()
                .fill_holes()
                .remove_small(30);
            watershed_by_intensity(&mask, &smooth, &WatershedOptions::by_intensity()).unwrap()
        }
        "otsu" => {
            let mask = smooth
                .threshold(otsu(&smooth))
                .fill_holes()
                .remove_small(30);
            watershed(&mask, &WatershedOptions::default())
        }
        _ => adaptive(&smooth, p),
    }
}

fn adaptive(smooth: &Image, p: &P) -> Labels {
    let t = match p.s("th", "otsu") {
        "li" => li(smooth),
        "mix" => (li(smooth) + otsu(smooth)) / 2.0,
        _ => otsu(smooth),
    };
    let (lo0, _) = min_max(smooth);
    let t = lo0 + (t - lo0) * p.f("tk", 1.0);
    let mask = smooth.threshold(t).fill_holes();
    let first = mask.remove_small(p.f("pre_small", 10.0) as usize);
    let r = match p.s("rad", "w") {
        "median" => median_radius(&first, 0.0),
        "median2" => median_radius(&first, p.f("rmin", 2.0)),
        _ => typical_radius(&first),
    }
    .max(1.0);
    EST.with(|e| e.set(r));
    let (lo, _) = min_max(smooth);
    let mask = if p.f("bg_k", 0.0) > 0.0 {
        let mean = box_mean(smooth, (p.f("bg_k", 0.0) * r).round().max(1.0) as usize);
        let floor = lo + (t - lo) * p.f("floor_k", 0.5);
        let off = p.f("off", 0.0);
        let data = smooth
            .data
            .iter()
            .zip(&mean)
            .map(|(&v, &m)| {
                let v = v as f64;
                v > floor && v - lo > (m as f64 - lo) * (1.0 + off)
            })
            .collect();
        Mask {
            width: smooth.width,
            height: smooth.height,
            data,
        }
        .fill_holes()
    } else {
        mask
    };
    let open = (p.f("open_k", 0.0) * r).round() as i64;
    let mask: Mask = if open > 0 {
        mask.open(open).unwrap()
    } else {
        mask
    };
    let small = (p.f("small_k", 0.1) * std::f64::consts::PI * r * r).max(p.f("small_min", 5.0));
    let mask = mask.remove_small(small as usize);
    let options = WatershedOptions {
        sigma: p.f("ws_sigma_k", 0.0) * r + p.f("ws_sigma", 1.0),
        min_distance: (p.f("md_k", 0.3) * r).max(p.f("md_min", 1.0)),
        h: p.f("h_k", 0.1) * r + p.f("h", 0.0),
    };
    if p.s("ws", "shape") == "combo" {
        // ln(relief) = kd * dist / r + beta * ln(smooth): shape and intensity together.
        let dist = claim_image::distance_map(&mask);
        let (kd, beta) = (p.f("kd", 1.0), p.f("beta", 1.0));
        let data = smooth
            .data
            .iter()
            .zip(&dist)
            .map(|(&v, &d)| ((kd * d as f64 / r) + beta * (v.max(1.0) as f64).ln()).exp() as f32)
            .collect();
        let img = Image {
            width: smooth.width,
            height: smooth.height,
            bit_depth: 32,
            data,
        };
        let img = if p.f("csig", 0.0) > 0.0 {
            img.gaussian(p.f("csig", 0.0)).unwrap()
        } else {
            img
        };
        let options = WatershedOptions {
            sigma: 0.0,
            min_distance: options.min_distance,
            h: p.f("ch", 0.1),
        };
        watershed_by_intensity(&mask, &img, &options).unwrap()
    } else if p.s("ws", "shape") == "intensity" {
        watershed_by_intensity(&mask, smooth, &options).unwrap()
    } else {
        watershed(&mask, &options)
    }
}

/// Mean over the (2r+1)² window, clipped at the borders (integral image).
fn box_mean(img: &Image, r: usize) -> Vec<f32> {
    let (w, h) = (img.width as usize, img.height as usize);
    let mut sum = vec![0f64; (w + 1) * (h + 1)];
    for y in 0..h {
        let mut row = 0.0;
        for x in 0..w {
            row += img.data[y * w + x] as f64;
            sum[(y + 1) * (w + 1) + x + 1] = sum[y * (w + 1) + x + 1] + row;
        }
    }
    let mut out = Vec::with_capacity(w * h);
    for y in 0..h {
        let (y0, y1) = (y.saturating_sub(r), (y + r + 1).min(h));
        for x in 0..w {
            let (x0, x1) = (x.saturating_sub(r), (x + r + 1).min(w));
            let s = sum[y1 * (w + 1) + x1] - sum[y0 * (w + 1) + x1] - sum[y1 * (w + 1) + x0]
                + sum[y0 * (w + 1) + x0];
            out.push((s / ((y1 - y0) * (x1 - x0)) as f64) as f32);
        }
    }
    out
}

fn median_radius(mask: &Mask, rmin: f64) -> f64 {
    let labels = mask.label(8);
    let n = labels.count() as usize;
    let mut deep = vec![0f64; n + 1];
    let w = mask.width as i64;
    let h = mask.height as i64;
    // brute-force inscribed radius via typical_radius of each object alone is slow; approximate
    // by typical_radius on the mask restricted to each object's pixels is equivalent here
    let _ = (w, h);
    let d = claim_image::distance_map(mask);
    for (&l, &v) in labels.data.iter().zip(&d) {
        deep[l as usize] = deep[l as usize].max(v as f64);
    }
    let mut r: Vec<f64> = deep.into_iter().skip(1).filter(|&d| d >= rmin).collect();
    if r.is_empty() {
        return 0.0;
    }
    r.sort_by(f64::total_cmp);
    r[r.len() / 2]
}

fn min_max(img: &Image) -> (f64, f64) {
    let lo = img.data.iter().copied().fold(f32::INFINITY, f32::min);
    let hi = img.data.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    (lo as f64, hi as f64)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = PathBuf::from(&args[1]);
    let p = P(args[2..]
        .iter()
        .map(|a| {
            let (k, v) = a.split_once('=').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect());
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "png" || e == "tif"))
        .collect();
    paths.sort();
    let results = std::sync::Mutex::new(Vec::new());
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(path) = paths.get(k) else { break };
                    let r = score(path, &dir, &p);
                    results.lock().unwrap().push(r);
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by(|a, b| a.0.cmp(&b.0));
    let verbose = p.s("verbose", "0") == "1";
    let (mut sum, mut tp, mut fp, mut fn_) = (0.0, 0, 0, 0);
    let mut kinds = [0; 5];
    for (name, m, r, k) in &results {
        sum += m.f1();
        for j in 0..5 {
            kinds[j] += k[j];
        }
        (tp, fp, fn_) = (tp + m.tp, fp + m.fp, fn_ + m.fn_);
        if verbose {
            println!(
                "{name} f1 {:.3} tp {} fp {} fn {} r {:.1} miss/merge/other/fp-spurious/fp-fragment {k:?}",
                m.f1(),
                m.tp,
                m.fp,
                m.fn_,
                r
            );
        }
    }
    let pooled = 2.0 * tp as f64 / (2 * tp + fp + fn_) as f64;
    println!(
        "mean F1 {:.4}  pooled {:.4}  tp {tp} fp {fp} fn {fn_} miss/merge/other/fp-spurious/fp-fragment {kinds:?} {:?}",
        sum / results.len() as f64,
        pooled,
        &args[2..]
    );
}

fn score(path: &Path, dir: &Path, p: &P) -> (String, claim_image::MatchCounts, f64, [usize; 5]) {
    let raw = load_image(path).unwrap();
    let stem = path.file_stem().unwrap().to_string_lossy().to_string();
    let truth =
        Labels::from_image(&load_image(&dir.join("truth").join(format!("{stem}.tif"))).unwrap())
            .unwrap();
    let pred = segment(&raw, p);
    if let Some(d) = p.0.get("dump") {
        claim_image::save_overlay(&raw, &pred, &Path::new(d).join(format!("{stem}_pred.png")))
            .unwrap();
        claim_image::save_overlay(
            &raw,
            &truth,
            &Path::new(d).join(format!("{stem}_truth.png")),
        )
        .unwrap();
    }
    let r = EST.with(|e| e.get());
    let kinds = misses(&pred, &truth);
    (stem, match_labels(&pred, &truth, 0.5).unwrap(), r, kinds)
}

/// Unmatched truths by kind: [missed (< half covered), merged (its best prediction covers
/// another truth by half too), other (too small/large)].
fn misses(pred: &Labels, truth: &Labels) -> [usize; 5] {
    let mut pa: HashMap<u32, u64> = HashMap::new();
    let mut ta: HashMap<u32, u64> = HashMap::new();
    let mut both: HashMap<(u32, u32), u64> = HashMap::new();
    for (&p, &t) in pred.data.iter().zip(&truth.data) {
        *pa.entry(p).or_default() += 1;
        *ta.entry(t).or_default() += 1;
        *both.entry((p, t)).or_default() += 1;
    }
    let mut out = [0; 5];
    for (&q, &area) in pa.iter().filter(|(q, _)| **q > 0) {
        let best = both
            .iter()
            .filter(|((pp, tt), _)| *pp == q && *tt > 0)
            .max_by_key(|(_, v)| **v);
        match best {
            None => out[3] += 1,
            Some((&(_, t), &inter)) => {
                let iou = inter as f64 / (ta[&t] + area - inter) as f64;
                if iou > 0.5 {
                    continue;
                }
                if (inter as f64) < 0.5 * area as f64 {
                    out[3] += 1
                } else {
                    out[4] += 1
                }
            }
        }
    }
    for (&t, &area) in ta.iter().filter(|(t, _)| **t > 0) {
        let best = both
            .iter()
            .filter(|((p, tt), _)| *tt == t && *p > 0)
            .max_by_key(|(_, v)| **v);
        let Some((&(p, _), &inter)) = best else {
            out[0] += 1;
            continue;
        };
        let iou = inter as f64 / (pa[&p] + area - inter) as f64;
        if iou > 0.5 {
            continue;
        }
        if (inter as f64) < 0.5 * area as f64 {
            out[0] += 1;
            continue;
        }
        let others = both
            .iter()
            .filter(|((pp, tt), v)| {
                *pp == p && *tt != t && *tt > 0 && **v as f64 > 0.3 * ta[tt] as f64
            })
            .count();
        if others > 0 { out[1] += 1 } else { out[2] += 1 }
    }
    out
}
