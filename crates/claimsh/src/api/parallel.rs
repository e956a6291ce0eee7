//! Parallel maps inside a script (claim-pool): `par_map`, `par_map_unordered`, `par_for`,
//! `par_filter`. The function is a Rhai closure; captures are allowed.

use super::{FnDoc, R, script_error};
use crate::worker::Worker;
use rhai::{Array, Dynamic, Engine, FnPtr, NativeCallContext};
use std::sync::Arc;

pub const DOCS: &[FnDoc] = &[
    FnDoc {
        signature: "par_map(items: Array, f: Fn) -> Array",
        about: "Apply f to every element on all cores; results in input order.",
    },
    FnDoc {
        signature: "par_map_unordered(items: Array, f: Fn) -> Array",
        about: "Like par_map, results in completion order.",
    },
    FnDoc {
        signature: "par_for(items: Array, f: Fn)",
        about: "Run f on every element on all cores.",
    },
    FnDoc {
        signature: "par_filter(items: Array, f: Fn) -> Array",
        about: "Elements for which f returns true, in input order.",
    },
];

fn run(
    w: &Worker,
    ctx: &NativeCallContext,
    items: &Array,
    f: &FnPtr,
    what: &str,
) -> R<Vec<(usize, Dynamic)>> {
    let engine = ctx.engine();
    let ast = &w.process.ast;
    let script = &w.process.script_name;
    w.process
        .pool
        .map_unordered(items, |_, x| {
            f.call::<Dynamic>(engine, ast, (x.clone(),))
                .map_err(|e| super::describe(script, &e))
        })
        .map_err(|errors| {
            let first = &errors[0];
            script_error(format!(
                "{what}: element {} failed: {} ({} failed in all)",
                first.index,
                first.message,
                errors.len()
            ))
        })
}

pub fn register(engine: &mut Engine, worker: &Arc<Worker>) {
    let w = worker.clone();
    engine.register_fn(
        "par_map",
        move |ctx: NativeCallContext, items: Array, f: FnPtr| -> R<Array> {
            let mut out = run(&w, &ctx, &items, &f, "par_map")?;
            out.sort_by_key(|(i, _)| *i);
            Ok(out.into_iter().map(|(_, v)| v).collect())
        },
    );
    let w = worker.clone();
    engine.register_fn(
        "par_map_unordered",
        move |ctx: NativeCallContext, items: Array, f: FnPtr| -> R<Array> {
            Ok(run(&w, &ctx, &items, &f, "par_map_unordered")?
                .into_iter()
                .map(|(_, v)| v)
                .collect())
        },
    );
    let w = worker.clone();
    engine.register_fn(
        "par_for",
        move |ctx: NativeCallContext, items: Array, f: FnPtr| -> R<()> {
            run(&w, &ctx, &items, &f, "par_for").map(|_| ())
        },
    );
    let w = worker.clone();
    engine.register_fn(
        "par_filter",
        move |ctx: NativeCallContext, items: Array, f: FnPtr| -> R<Array> {
            let mut keep = run(&w, &ctx, &items, &f, "par_filter")?;
            keep.sort_by_key(|(i, _)| *i);
            Ok(keep
                .into_iter()
                .filter(|(_, v)| v.as_bool().unwrap_or(false))
                .map(|(i, _)| items[i].clone())
                .collect())
        },
    );
}
