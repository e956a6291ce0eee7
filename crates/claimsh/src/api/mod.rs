//! The script API: one module per domain, each with `register` and a `DOCS` table that
//! `claimsh api` prints (a test checks the table against the engine's registered functions, so the
//! reference cannot drift from the code).

pub mod channels;
pub mod claims;
pub mod exec;
pub mod fasta;
pub mod images;
pub mod io;
pub mod item_key;
pub mod logging;
pub mod numeric;
pub mod parallel;
pub mod paths;

use crate::worker::Worker;
use rhai::{Engine, EvalAltResult, Position};
use std::sync::Arc;

/// One script function's reference entry.
pub struct FnDoc {
    /// Signature as a script sees it.
    pub signature: &'static str,
    /// One line.
    pub about: &'static str,
}

/// Every module's table.
pub fn docs() -> Vec<(&'static str, &'static [FnDoc])> {
    vec![
        ("claims", claims::DOCS),
        ("paths", paths::DOCS),
        ("io", io::DOCS),
        ("logging", logging::DOCS),
        ("parallel", parallel::DOCS),
        ("programs", exec::DOCS),
        ("sequences", fasta::DOCS),
        ("numeric", numeric::DOCS),
        ("item keys", item_key::DOCS),
        ("images", images::DOCS),
        ("channels", channels::DOCS),
    ]
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
    claims::register(&mut engine, &worker);
    paths::register(&mut engine, &worker);
    io::register(&mut engine, &worker);
    logging::register(&mut engine, &worker);
    parallel::register(&mut engine, &worker);
    numeric::register(&mut engine);
    item_key::register(&mut engine);
    images::register(&mut engine, &worker);
    exec::register(&mut engine, &worker);
    fasta::register(&mut engine, &worker);
    channels::register(&mut engine, &worker);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::worker::{Process, Worker};

    fn worker(dir: &std::path::Path) -> Arc<Worker> {
        let ledger = claim_core::Ledger::open(dir, claim_core::LedgerOptions::default()).unwrap();
        let once_ledger = ledger.clone();
        let process = Process {
            ledger,
            once_ledger,
            script_dir: dir.to_path_buf(),
            script_name: "t.rhai".into(),
            host: "h".into(),
            workers: 1,
            stop: Default::default(),
            failed_items: Default::default(),
            failures_in_a_row: Default::default(),
            max_failures: None,
            ast: Arc::new(rhai::AST::empty()),
            pool: claim_pool::Pool::new(1),
            par_progress: Default::default(),
            item_timeout: None,
            outcome: Default::default(),
        };
        Arc::new(Worker::new(Arc::new(process), 0))
    }

    /// `claimsh api` prints the `DOCS` tables; every function the engine registers must appear
    /// there, so the reference cannot drift from the code.
    #[test]
    fn every_registered_function_is_documented() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(worker(dir.path()), None);
        let documented: String = docs()
            .iter()
            .flat_map(|(_, d)| d.iter().map(|f| f.signature))
            .collect::<Vec<_>>()
            .join("\n");
        let mut missing = Vec::new();
        for signature in engine.gen_fn_signatures(false) {
            let name = signature.split('(').next().unwrap_or("").trim();
            let name = name.strip_prefix("get$").unwrap_or(name);
            let used = documented.contains(&format!("{name}("))
                || documented.contains(&format!(".{name}"));
            if !used && !missing.contains(&name.to_string()) {
                missing.push(name.to_string());
            }
        }
        assert!(
            missing.is_empty(),
            "undocumented script functions: {missing:?}"
        );
    }

    /// The reference quotes the watershed defaults; they must be the ones the code uses.
    #[test]
    fn the_watershed_reference_quotes_the_real_defaults() {
        let about: String = images::DOCS
            .iter()
            .filter(|f| f.signature.starts_with("watershed"))
            .map(|f| f.about)
            .collect::<Vec<_>>()
            .join("\n");
        let shape = claim_image::WatershedOptions::default();
        let intensity = claim_image::WatershedOptions::by_intensity();
        for quoted in [
            format!(
                "sigma {}, min_distance {}, h {} px",
                shape.sigma, shape.min_distance, shape.h
            ),
            format!("default {} =", intensity.h),
            format!(
                "sigma {}, min_distance {}",
                intensity.sigma, intensity.min_distance
            ),
        ] {
            assert!(about.contains(&quoted), "{quoted:?} not in {about:?}");
        }
    }
}
