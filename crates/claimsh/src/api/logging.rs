//! Identity, logging and waiting: `host`, `worker_id`, `workers`, `log`/`info`/`warn`/`error`,
//! `sleep`, `wait_for`. Rhai's `print` and `debug` are routed to the log by the runner.

use super::{R, worker};
use crate::worker::Worker;
use rhai::plugin::*;
use rhai::{Engine, INT, NativeCallContext};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Identity, logging and waiting.
#[export_module]
pub mod logging_functions {
    use super::*;

    /// This node's host name (`CLAIMSH_HOST` overrides it).
    ///
    /// ```rhai
    /// write_text(`out/${host()}.txt`, "here");
    /// ```
    #[rhai_fn(return_raw)]
    pub fn host(ctx: NativeCallContext) -> R<String> {
        Ok(worker(&ctx)?.process.host.clone())
    }

    /// This worker's number within the process, from 0.
    #[rhai_fn(return_raw)]
    pub fn worker_id(ctx: NativeCallContext) -> R<INT> {
        Ok(worker(&ctx)?.id as INT)
    }

    /// The number of workers in this process (`--jobs`).
    #[rhai_fn(return_raw)]
    pub fn workers(ctx: NativeCallContext) -> R<INT> {
        Ok(worker(&ctx)?.process.workers as INT)
    }

    /// Log at info level, tagged with host, worker and current item.
    ///
    /// ```rhai
    /// log(`worker ${worker_id()} of ${workers()} on ${host()}`);
    /// ```
    #[rhai_fn(return_raw)]
    pub fn log(ctx: NativeCallContext, msg: &str) -> R<()> {
        emit(&*worker(&ctx)?, 1, msg);
        Ok(())
    }

    /// Log at info level (the same as `log`).
    #[rhai_fn(return_raw)]
    pub fn info(ctx: NativeCallContext, msg: &str) -> R<()> {
        emit(&*worker(&ctx)?, 1, msg);
        Ok(())
    }

    /// Log a warning (also shown on the console).
    #[rhai_fn(return_raw)]
    pub fn warn(ctx: NativeCallContext, msg: &str) -> R<()> {
        emit(&*worker(&ctx)?, 2, msg);
        Ok(())
    }

    /// Log an error (also shown on the console).
    #[rhai_fn(return_raw)]
    pub fn error(ctx: NativeCallContext, msg: &str) -> R<()> {
        emit(&*worker(&ctx)?, 3, msg);
        Ok(())
    }

    /// Pause this worker for `seconds` (the script run ends at once on Ctrl-C or
    /// `--item-timeout`).
    ///
    /// ```rhai
    /// sleep(0.5);
    /// ```
    #[rhai_fn(return_raw)]
    pub fn sleep(ctx: NativeCallContext, seconds: f64) -> R<()> {
        super::sleep(&*worker(&ctx)?, seconds)
    }

    /// Pause this worker for a whole number of seconds.
    #[rhai_fn(name = "sleep", return_raw)]
    pub fn sleep_int(ctx: NativeCallContext, seconds: INT) -> R<()> {
        super::sleep(&*worker(&ctx)?, seconds as f64)
    }

    /// Wait until a file exists; false when `timeout_seconds` pass first.
    ///
    /// ```rhai
    /// if !wait_for("ready.flag", 60.0) { throw "nobody made ready.flag"; }
    /// ```
    #[rhai_fn(return_raw)]
    pub fn wait_for(ctx: NativeCallContext, path: &str, timeout_seconds: f64) -> R<bool> {
        let w = worker(&ctx)?;
        let path = w.resolve(path);
        let until = Instant::now() + Duration::from_secs_f64(timeout_seconds.max(0.0));
        loop {
            if path.exists() {
                return Ok(true);
            }
            if Instant::now() >= until || w.stopping() {
                return Ok(false);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Send Rhai's `print` (info) and `debug` (debug, with the position) to `worker`'s log.
pub fn route_print_and_debug(engine: &mut Engine, worker: &Arc<Worker>) {
    let w = worker.clone();
    engine.on_print(move |msg| emit(&w, 1, msg));
    let w = worker.clone();
    engine.on_debug(move |msg, _, pos| emit(&w, 0, &format!("{pos:?}: {msg}")));
}

/// Sleep, but end the script run at once on Ctrl-C or when the item runs out of time.
fn sleep(w: &Worker, seconds: f64) -> R<()> {
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
