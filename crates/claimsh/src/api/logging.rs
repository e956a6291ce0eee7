//! Identity, logging and waiting: `host`, `worker_id`, `workers`, `log`/`info`/`warn`/`error`,
//! `sleep`, `wait_for`. Rhai's `print` and `debug` are routed to the log by the runner.

use super::FnDoc;
use crate::worker::Worker;
use rhai::Engine;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const DOCS: &[FnDoc] = &[
    FnDoc {
        signature: "host() -> String",
        about: "This node's host name (CLAIMSH_HOST overrides).",
    },
    FnDoc {
        signature: "worker_id() -> int",
        about: "This worker's number within the process, from 0.",
    },
    FnDoc {
        signature: "workers() -> int",
        about: "Number of workers in this process (--jobs).",
    },
    FnDoc {
        signature: "log(msg: String)",
        about: "Log at info level (tagged with host, worker and current item).",
    },
    FnDoc {
        signature: "info(msg: String)",
        about: "Log at info level.",
    },
    FnDoc {
        signature: "warn(msg: String)",
        about: "Log a warning (shown on the console).",
    },
    FnDoc {
        signature: "error(msg: String)",
        about: "Log an error (shown on the console).",
    },
    FnDoc {
        signature: "sleep(seconds: float)",
        about: "Pause this worker (ends the script run on Ctrl-C or --item-timeout).",
    },
    FnDoc {
        signature: "wait_for(path: String, timeout_seconds: float) -> bool",
        about: "Wait until a file exists; false on timeout.",
    },
];

pub fn register(engine: &mut Engine, worker: &Arc<Worker>) {
    let host = worker.process.host.clone();
    engine.register_fn("host", move || host.clone());
    let id = worker.id as i64;
    engine.register_fn("worker_id", move || id);
    let n = worker.process.workers as i64;
    engine.register_fn("workers", move || n);
    for (name, level) in [("log", 1), ("info", 1), ("warn", 2), ("error", 3)] {
        let w = worker.clone();
        engine.register_fn(name, move |msg: &str| emit(&w, level, msg));
    }
    let w = worker.clone();
    engine.on_print(move |msg| emit(&w, 1, msg));
    let w = worker.clone();
    engine.on_debug(move |msg, _, pos| emit(&w, 0, &format!("{pos:?}: {msg}")));
    let w = worker.clone();
    engine.register_fn("sleep", move |seconds: f64| sleep(&w, seconds));
    let w = worker.clone();
    engine.register_fn("sleep", move |seconds: i64| sleep(&w, seconds as f64));
    let w = worker.clone();
    engine.register_fn("wait_for", move |path: &str, timeout: f64| {
        let path = w.resolve(path);
        let until = Instant::now() + Duration::from_secs_f64(timeout.max(0.0));
        loop {
            if path.exists() {
                return true;
            }
            if Instant::now() >= until || w.stopping() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    });
}

/// Sleep, but end the script run at once on Ctrl-C or when the item runs out of time.
fn sleep(w: &Worker, seconds: f64) -> super::R<()> {
    let until = Instant::now() + Duration::from_secs_f64(seconds.max(0.0));
    loop {
        if let Some(why) = w.interruption() {
            return Err(super::terminated(why));
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
}

/// Log `msg` at `level` (0 debug, 1 info, 2 warn, 3 error), tagged with the current item.
pub fn emit(worker: &Worker, level: u8, msg: &str) {
    let current = worker.current_item();
    match (level, current) {
        (0, Some(key)) => tracing::debug!(key = ?key, "{msg}"),
        (0, None) => tracing::debug!("{msg}"),
        (1, Some(key)) => tracing::info!(key = ?key, "{msg}"),
        (1, None) => tracing::info!("{msg}"),
        (2, Some(key)) => tracing::warn!(key = ?key, "{msg}"),
        (2, None) => tracing::warn!("{msg}"),
        (_, Some(key)) => tracing::error!(key = ?key, "{msg}"),
        (_, None) => tracing::error!("{msg}"),
    }
}
