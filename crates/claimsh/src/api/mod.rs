//! The script API, built the way Rhai builds its own standard library: one `#[export_module]`
//! per domain (one file each), combined by `def_package!` into [`ClaimshPackage`], which is built
//! once per process and shared by every worker's engine. Each function's `///` doc comment is its
//! reference: `claimsh api` prints the engine's metadata ([`reference`]), and a test runs every
//! ```` ```rhai ```` example in those comments through `claimsh check` (`docs_tests.rs`).
//!
//! Functions that act for a worker (claims, paths relative to the script, logging) take the
//! call's `NativeCallContext` and find their worker in the engine's default tag ([`worker`]).
//!
//! Adding a domain is one file with an `#[export_module]` and one line in [`domains!`] below.

use crate::worker::Worker;
use rhai::packages::Package;
use rhai::plugin::*;
use rhai::{DynamicReadLock, Engine, EvalAltResult, Position};
use std::sync::{Arc, OnceLock};

pub mod reference;

#[cfg(test)]
mod docs_tests;

/// Declares the domain files and lists their exported modules, in the order `claimsh api` prints
/// them: `file "heading" => file::exported_module,`.
macro_rules! domains {
    ($($file:ident $heading:literal => $($module:ident)::+,)+) => {
        $(pub mod $file;)+

        /// Every domain of the script API, in the order `claimsh api` prints them: its heading and
        /// its functions as a Rhai module (with their doc comments).
        pub fn domains() -> Vec<(&'static str, rhai::Module)> {
            vec![$(($heading, exported_module!($($module)::+))),+]
        }

        rhai::def_package! {
            /// Every claimsh script function, in one module built once and shared by every engine.
            pub ClaimshPackage(lib) {
                $(combine_with_exported_module!(lib, $heading, $($module)::+);)+
                // A plugin module cannot carry an iterator; `for f in claimed(items)` needs one.
                lib.set_iterable::<claims::ClaimedItems>();
            }
        }
    };
}

domains! {
    claims "claims" => claims::claim_functions,
    paths "paths" => paths::path_functions,
    io "io" => io::io_functions,
    logging "logging" => logging::logging_functions,
    parallel "parallel" => parallel::parallel_functions,
    exec "programs" => exec::program_functions,
    fasta "sequences" => fasta::sequence_functions,
    numeric "numeric" => numeric::numeric_functions,
    item_key "item keys" => item_key::item_key_functions,
    images "images" => images::image_functions,
    channels "channels" => channels::channel_functions,
}

/// What a script function returns: its value, or a script error.
pub type R<T> = Result<T, Box<EvalAltResult>>;

/// Any library error as a script error carrying its message.
pub fn script_failure(e: impl std::fmt::Display) -> Box<EvalAltResult> {
    script_error(e.to_string())
}

/// A script error raised by a native function.
pub fn script_error(message: impl Into<String>) -> Box<EvalAltResult> {
    Box::new(EvalAltResult::ErrorRuntime(
        message.into().into(),
        Position::NONE,
    ))
}

/// An engine with the whole API bound to `worker`, sandboxed: no `eval`, imports only from the
/// script's directory, an optional operation limit, and a stop check for Ctrl-C.
pub fn engine(worker: Arc<Worker>, max_operations: Option<u64>) -> Engine {
    let mut engine = Engine::new();
    // Rhai interns strings made at run time (`k${i}`) in a 256-entry cache whose eviction scans
    // every entry: with thousands of distinct item keys that scan was a third of a no-op loop's
    // time (perf, 200 000 keys). Without the cache a string is simply allocated.
    engine.set_max_strings_interned(0);
    engine.disable_symbol("eval");
    engine.set_module_resolver(rhai::module_resolvers::FileModuleResolver::new_with_path(
        worker.process.script_dir.clone(),
    ));
    if let Some(max) = max_operations {
        engine.set_max_operations(max);
    }
    // Ctrl-C is one atomic load, checked at every operation; the item deadline takes a lock and
    // a clock read, so it is checked every 256 operations (microseconds apart).
    let w = worker.clone();
    engine.on_progress(move |operations| {
        if w.stopping() || operations % 256 == 0 {
            w.interruption().map(rhai::Dynamic::from)
        } else {
            None
        }
    });
    static PACKAGE: OnceLock<ClaimshPackage> = OnceLock::new();
    PACKAGE
        .get_or_init(ClaimshPackage::new)
        .register_into_engine(&mut engine);
    logging::route_print_and_debug(&mut engine, &worker);
    engine.set_default_tag(Dynamic::from(worker));
    engine
}

/// A script error that `try`/`catch` cannot catch, ending the script run with `why`
/// ("interrupted", "timed out after 2 s"), as the progress callback does.
pub fn terminated(why: impl Into<String>) -> Box<EvalAltResult> {
    Box::new(EvalAltResult::ErrorTerminated(
        rhai::Dynamic::from(why.into()),
        Position::NONE,
    ))
}

/// The worker a script function acts for: the engine's default tag, which [`engine`] sets.
/// Read in place (a type check, no reference count touched): `claim()` and `done()` run once
/// per item in hot loops, and `par_map` elements on every core call functions that use it.
pub fn worker<'a>(ctx: &'a NativeCallContext) -> R<DynamicReadLock<'a, Arc<Worker>>> {
    ctx.tag()
        .and_then(|tag| tag.read_lock::<Arc<Worker>>())
        .ok_or_else(|| {
            script_error(format!(
                "{}: this engine has no claimsh worker (make it with api::engine)",
                ctx.fn_name()
            ))
        })
}

/// Format an error with the script position: `analyze.rhai:14:9: message`.
pub fn describe(script: &str, err: &EvalAltResult) -> String {
    let pos = err.position();
    let mut text = match err {
        // Rhai prints "Script terminated"; the token says why (interrupted, timed out).
        EvalAltResult::ErrorTerminated(why, _) if why.is_string() => why.to_string(),
        _ => err.to_string(),
    };
    // Rhai appends " (line L, position C)"; we print the position in front instead.
    if let Some(at) = text.rfind(" (line ") {
        text.truncate(at);
    }
    match (pos.line(), pos.position()) {
        (Some(line), Some(col)) => format!("{script}:{line}:{col}: {text}"),
        (Some(line), None) => format!("{script}:{line}: {text}"),
        _ => format!("{script}: {text}"),
    }
}
