//! Parallel maps inside a script (claim-pool): `par_map`, `par_map_unordered`, `par_for`,
//! `par_filter`. The function is a Rhai closure; captures are allowed.
//!
//! # Why each pool thread gets its own copy of the closure
//!
//! A Rhai closure holds its captured variables as *shared* values (one `Arc<RwLock>` each), and
//! every read of a captured variable takes that lock. With two threads reading the same lock and
//! bumping the same reference counts, every access bounced a cache line between the cores, and a
//! `par_map` whose closure read a captured array in its inner loop ran slower on 2 cores than a
//! serial loop (issue 19: 5.9 s against 4.9 s). So each pool thread, once per map, takes a
//! [`Snapshot`]: a copy of the closure whose captured values are deep copies of their own, made
//! read-only, and its own handle on the script's functions. Elements then touch only memory of
//! their thread; nothing is locked or counted per element on a line another core writes.
//!
//! The price: captured variables are read-only inside the closure (assigning to one, or calling
//! a mutating method such as `push` on it, is an error naming the constant) — return values
//! instead. Copying costs once per thread and map, in proportion to what the closure captures.

use super::{R, script_error, worker};
use crate::worker::Worker;
use rhai::plugin::*;
use rhai::{AST, Array, Dynamic, Engine, FnPtr, INT, NativeCallContext};
use std::ops::{Range, RangeInclusive};

/// What one pool thread calls the closure through during one map: the closure with private,
/// read-only copies of its captured values, and the script's functions.
struct Snapshot {
    f: FnPtr,
    /// The script's functions only (the closure's body is one of them). Its own handle, so the
    /// reference count bumped on every call is this thread's alone.
    functions: AST,
}

impl Snapshot {
    fn of(f: &FnPtr, ast: &AST) -> Snapshot {
        let mut f = f.clone();
        for value in f.iter_curry_mut() {
            *value = private_copy(value);
        }
        Snapshot {
            f,
            functions: ast.clone_functions_only(),
        }
    }

    fn call(&self, engine: &Engine, x: &Dynamic) -> Result<Dynamic, Box<rhai::EvalAltResult>> {
        self.f
            .call::<Dynamic>(engine, &self.functions, (x.clone(),))
    }
}

/// A captured value as this thread's own: a deep copy in a cell of its own (so the closure can
/// read it as it reads any captured variable, and an element costs a reference count bump on
/// this thread's cell, not a deep copy), read-only.
fn private_copy(value: &Dynamic) -> Dynamic {
    if value.is_shared() {
        value.flatten_clone().into_read_only().into_shared()
    } else {
        value.clone()
    }
}

/// Run `f` on every item on the process's pool, results in input order.
fn run(w: &Worker, ctx: &NativeCallContext, items: &Array, f: &FnPtr, what: &str) -> R<Array> {
    let engine = ctx.engine();
    let ast = &w.process.ast;
    let script = &w.process.script_name;
    w.process
        .pool
        .map_with_state(
            items,
            || Snapshot::of(f, ast),
            |snapshot, _, x| {
                snapshot
                    .call(engine, x)
                    .map_err(|e| super::describe(script, &e))
            },
        )
        .map(|(out, _, _)| out)
        .map_err(|errors| {
            let first = &errors[0];
            let hint = if matches!(&first.failure, claim_pool::Failure::Failed(m) if m.contains("constant")) {
                " (captured variables are read-only copies inside a parallel map: return values instead)"
            } else {
                ""
            };
            script_error(format!(
                "{what}: element {} failed: {}{hint} ({} failed in all)",
                first.index,
                first.failure,
                errors.len()
            ))
        })
}

/// The elements of a range, for `par_map(0..n, f)`.
fn range_items(range: impl Iterator<Item = INT>) -> Array {
    range.map(Dynamic::from_int).collect()
}

/// Parallel maps on the process's thread pool.
#[export_module]
pub mod parallel_functions {
    use super::*;

    /// Apply `f` to every element on all cores; the results in input order. Captured variables
    /// are read-only copies per thread (return values instead of assigning to them).
    ///
    /// ```rhai
    /// let sizes = par_map(glob("images/*.tif"), |f| load_image(f).width);
    /// ```
    #[rhai_fn(return_raw)]
    pub fn par_map(ctx: NativeCallContext, items: Array, f: FnPtr) -> R<Array> {
        run(&*worker(&ctx)?, &ctx, &items, &f, "par_map")
    }

    /// `par_map` over the ints of a range.
    ///
    /// ```rhai
    /// let squares = par_map(0..100, |i| i * i);
    /// ```
    #[rhai_fn(name = "par_map", return_raw)]
    pub fn par_map_range(ctx: NativeCallContext, items: Range<INT>, f: FnPtr) -> R<Array> {
        run(&*worker(&ctx)?, &ctx, &range_items(items), &f, "par_map")
    }

    /// `par_map` over the ints of an inclusive range.
    ///
    /// ```rhai
    /// let squares = par_map(1..=100, |i| i * i);
    /// ```
    #[rhai_fn(name = "par_map", return_raw)]
    pub fn par_map_inclusive(
        ctx: NativeCallContext,
        items: RangeInclusive<INT>,
        f: FnPtr,
    ) -> R<Array> {
        run(&*worker(&ctx)?, &ctx, &range_items(items), &f, "par_map")
    }

    /// Like `par_map`, for when the order of the results does not matter (no order is
    /// promised).
    #[rhai_fn(return_raw)]
    pub fn par_map_unordered(ctx: NativeCallContext, items: Array, f: FnPtr) -> R<Array> {
        run(&*worker(&ctx)?, &ctx, &items, &f, "par_map_unordered")
    }

    /// Run `f` on every element on all cores.
    ///
    /// ```rhai
    /// par_for(glob("images/*.tif"), |f| save_image(load_image(f).gaussian(2.0), `out/${stem(f)}.tif`));
    /// ```
    #[rhai_fn(return_raw)]
    pub fn par_for(ctx: NativeCallContext, items: Array, f: FnPtr) -> R<()> {
        run(&*worker(&ctx)?, &ctx, &items, &f, "par_for").map(|_| ())
    }

    /// The elements for which `f` returns true, in input order.
    ///
    /// ```rhai
    /// let big = par_filter(glob("images/*.tif"), |f| load_image(f).width > 512);
    /// ```
    #[rhai_fn(return_raw)]
    pub fn par_filter(ctx: NativeCallContext, items: Array, f: FnPtr) -> R<Array> {
        let keep = run(&*worker(&ctx)?, &ctx, &items, &f, "par_filter")?;
        Ok(items
            .into_iter()
            .zip(keep)
            .filter(|(_, k)| k.as_bool().unwrap_or(false))
            .map(|(x, _)| x)
            .collect())
    }
}
