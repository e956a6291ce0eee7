//! `claimsh run`: start N worker threads, each running the whole script with its own scope, and
//! rerun it while items seen held by others are unresolved (so a crashed node's items get done).
//! At the end, one summary line says what this process did ([`crate::summary`]).

use crate::api;
use crate::args::{RunArgs, RunOptions, default_state};
use crate::exit;
use crate::summary::Summary;
use crate::worker::{Outcome, ParProgress, Process, Worker, error_once};
use anyhow::Context;
use claim_core::{Ledger, LedgerOptions};
use rhai::{AST, Dynamic, Scope};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The host name: `CLAIMSH_HOST`, else the kernel's.
pub fn host_name() -> String {
    std::env::var("CLAIMSH_HOST")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(claim_core::identity::kernel_host_name)
}

/// What to run: a compiled script, where its relative paths start, its name for messages, its
/// state directory and `ARGS`. `claimsh run` makes one from a script file, `claimsh each` from
/// its built-in script.
pub struct Job {
    /// The compiled script.
    pub ast: AST,
    /// The folder relative paths resolve against.
    pub dir: std::path::PathBuf,
    /// The script's name in messages (`analyze.rhai:14:9: ...`).
    pub name: String,
    /// The state directory.
    pub state: std::path::PathBuf,
    /// `ARGS` in the script.
    pub args: Vec<String>,
    /// What the summary tells to give `claimsh status` (the script, or `--state DIR`).
    pub target: String,
}

/// `claimsh run SCRIPT`.
pub fn run(args: RunArgs) -> anyhow::Result<i32> {
    let ast = match crate::script::compile(&args.script) {
        Ok(ast) => ast,
        Err(code) => return Ok(code),
    };
    let script = std::fs::canonicalize(&args.script)?;
    let target = match &args.state {
        Some(state) => format!("--state {}", crate::words::quote_path(state)),
        None => crate::words::quote_path(&args.script),
    };
    let job = Job {
        ast,
        dir: script.parent().map(|p| p.to_path_buf()).unwrap_or_default(),
        name: args.script.display().to_string(),
        state: args.state.clone().unwrap_or_else(|| default_state(&script)),
        args: args.args.clone(),
        target,
    };
    run_job(job, &args.options)
}

/// Run a job with these options on `--jobs` workers; the exit code.
pub fn run_job(job: Job, args: &RunOptions) -> anyhow::Result<i32> {
    let host = host_name();
    let _provenance = crate::provenance::Run::begin(&job.dir, &job.name, &job.args, &host);
    let log = start_logging(&job.state, &host, args)?;
    let signal = Arc::new(AtomicUsize::new(0));
    let process = Arc::new(start_process(&job, host, args, &signal)?);
    let workers = crate::words::count(process.workers as u64, "worker", "workers");
    tracing::info!("{workers}, state {}", job.state.display());
    let progress =
        (!args.no_progress && !args.quiet).then(|| crate::progress::Progress::start(&process));
    let started = Instant::now();
    let (workers, script_failed) = run_workers(&process, &job.args, args);
    if let Some(progress) = progress {
        progress.finish();
    }
    let interrupted = process.stop.load(Ordering::Relaxed);
    if !interrupted {
        tidy_up(&process);
    }
    if args.insights {
        eprint!("{}", insights(&workers, &process.pool, started.elapsed()));
    }
    let failed = process.failed_items.load(Ordering::Relaxed);
    if !args.quiet {
        let mut summary = summarize(&process, started.elapsed(), script_failed);
        summary.log = log.current_file();
        summary.target = job.target;
        eprint!("{}", summary.text());
    }
    Ok(match exit::for_signal(signal.load(Ordering::Relaxed)) {
        Some(code) => code,
        None if failed > 0 || script_failed => exit::FAILED,
        None => exit::OK,
    })
}

/// Install logging: a file per instance under `<state>/logs`, the console by verbosity.
fn start_logging(
    state: &std::path::Path,
    host: &str,
    args: &RunOptions,
) -> anyhow::Result<claim_log::LogGuard> {
    let verbosity = if args.quiet { -1 } else { args.verbose as i8 };
    let log = claim_log::init(&claim_log::LogConfig {
        dir: state.join("logs"),
        host: host.to_string(),
        verbosity,
        keep: args.log_keep,
        rotation: claim_log::Rotation::DAILY,
        prefix: None,
    })?;
    if let (Ok(task), Ok(job)) = (
        std::env::var("SLURM_ARRAY_TASK_ID"),
        std::env::var("SLURM_ARRAY_JOB_ID"),
    ) {
        tracing::info!("SLURM array job {job} task {task}");
    }
    Ok(log)
}

/// Open the ledgers, hook Ctrl-C and SIGTERM (the signal number lands in `signal`), and make
/// the state every worker shares.
fn start_process(
    job: &Job,
    host: String,
    args: &RunOptions,
    signal: &Arc<AtomicUsize>,
) -> anyhow::Result<Process> {
    let options = LedgerOptions {
        lease: Duration::from_secs(args.lease),
        host: host.clone(),
        retry_failed: args.retry_failed,
    };
    let open = |dir: std::path::PathBuf| {
        Ledger::open(&dir, options.clone())
            .with_context(|| format!("open the state directory {}", job.state.display()))
    };
    let ledger = open(job.state.clone())?;
    let once_ledger = open(job.state.join(crate::worker::ONCE_DIR))?;
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // The handlers only store into atomics.
        let _ = signal_hook::flag::register_usize(sig, signal.clone(), sig as usize);
        let _ = signal_hook::flag::register(sig, stop.clone());
    }
    let par_progress = Arc::new(ParProgress::default());
    let report = par_progress.clone();
    let pool = claim_pool::Pool::new(0)
        .task_times(args.insights)
        .on_progress(move |finished, total| {
            report.total.store(total, Ordering::Relaxed);
            report.finished.store(finished, Ordering::Relaxed);
        });
    Ok(Process {
        ledger,
        once_ledger,
        script_dir: job.dir.clone(),
        script_name: job.name.clone(),
        host,
        workers: args
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1),
        stop,
        failed_items: Default::default(),
        failures_in_a_row: Default::default(),
        max_failures: args.max_failures,
        ast: Arc::new(job.ast.clone()),
        pool,
        par_progress,
        item_timeout: args.item_timeout.map(Duration::from_secs_f64),
        outcome: Outcome::default(),
    })
}

/// Run the script on every worker thread until each is finished; the workers (for insights)
/// and whether the script failed outside any item in one of them.
fn run_workers(
    process: &Arc<Process>,
    script_args: &[String],
    args: &RunOptions,
) -> (Vec<Arc<Worker>>, bool) {
    let script_failed = AtomicBool::new(false);
    let workers: Vec<Arc<Worker>> = (0..process.workers)
        .map(|id| Arc::new(Worker::new(process.clone(), id)))
        .collect();
    std::thread::scope(|s| {
        for worker in &workers {
            let script_failed = &script_failed;
            s.spawn(move || {
                let span =
                    tracing::info_span!("worker", host = %worker.process.host, id = worker.id);
                let _enter = span.enter();
                if !run_worker(worker.clone(), args, script_args) {
                    script_failed.store(true, Ordering::Relaxed);
                }
            });
        }
    });
    (workers, script_failed.into_inner())
}

/// Tidy what dead workers left behind (claims of dead holders, or on items already done).
fn tidy_up(process: &Process) {
    for ledger in [&process.ledger, &process.once_ledger] {
        match ledger.cleanup(claim_core::CleanupScope::default()) {
            Ok(removed) => removed.iter().for_each(|r| tracing::info!("removed {r}")),
            Err(e) => tracing::warn!("cleanup at exit: {e}"),
        }
    }
}

/// The counts of the summary: this process's own, and the ledger's for what others did or hold
/// (one listing of the ledger, as the progress bar makes each second).
fn summarize(process: &Process, elapsed: Duration, script_failed: bool) -> Summary {
    let outcome = &process.outcome;
    let done = outcome.done.load(Ordering::Relaxed);
    let failed = process.failed_items.load(Ordering::Relaxed);
    let counts = process.ledger.counts().ok();
    Summary {
        done,
        failed,
        left: counts.as_ref().map_or(0, |c| c.claimed),
        done_elsewhere: counts.as_ref().map_or(0, |c| c.done.saturating_sub(done)),
        failed_elsewhere: counts
            .as_ref()
            .map_or(0, |c| c.failed.saturating_sub(failed)),
        elapsed,
        failures: outcome
            .failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone(),
        script_failed,
        ..Default::default()
    }
}

/// `--insights`: per worker items, time in items and idle time, the slowest items; then the same
/// for the `par_map` pool threads, if any map ran.
fn insights(workers: &[Arc<Worker>], pool: &claim_pool::Pool, wall: Duration) -> String {
    use std::fmt::Write as _;
    let secs = |d: Duration| d.as_secs_f64();
    let mut out = format!("insights: wall time {:.2}s\n", secs(wall));
    let _ = writeln!(out, "  worker  items  in items  idle");
    let mut slowest = Vec::new();
    for w in workers {
        let times = w.lock_times();
        let _ = writeln!(
            out,
            "  {:>6}  {:>5}  {:>7.2}s  {:.2}s",
            w.id,
            w.finished.load(Ordering::Relaxed),
            secs(times.busy),
            secs(wall.saturating_sub(times.busy)),
        );
        slowest.extend(times.slowest.iter().cloned());
    }
    slowest.sort_by_key(|s| std::cmp::Reverse(s.1));
    for (item, took) in slowest.iter().take(5) {
        let _ = writeln!(out, "  slowest item: {item} {:.3}s", secs(*took));
    }
    let maps = pool.insights();
    if !maps.workers.is_empty() {
        let _ = writeln!(out, "  par_map thread  tasks  busy  idle  init");
        for w in &maps.workers {
            let _ = writeln!(
                out,
                "  {:>14}  {:>5}  {:.2}s  {:.2}s  {:.3}s",
                w.worker,
                w.tasks,
                secs(w.busy),
                secs(w.idle),
                secs(w.init)
            );
        }
        for (index, took) in &maps.slowest {
            let _ = writeln!(
                out,
                "  slowest par_map element: {index} {:.3}s",
                secs(*took)
            );
        }
    }
    out
}

/// Run the script until nothing this worker saw is left unresolved. Returns false when the
/// script failed outside any item.
fn run_worker(worker: Arc<Worker>, args: &RunOptions, script_args: &[String]) -> bool {
    let engine = api::engine(worker.clone(), args.max_operations);
    let ast = worker.process.ast.clone();
    let script_args: rhai::Array = script_args.iter().cloned().map(Dynamic::from).collect();
    loop {
        worker.saw_busy.store(false, Ordering::Relaxed);
        let mut scope = Scope::new();
        scope.push_constant("ARGS", script_args.clone());
        let result = engine.run_ast_with_scope(&mut scope, &ast);
        if worker.stopping() {
            worker.release_all();
            return true;
        }
        match result {
            Ok(()) => {
                for (item, claim) in worker.lock_held().drain() {
                    tracing::warn!(key = ?item, "the script ended without done() or fail(): released");
                    let _ = claim.release();
                }
            }
            Err(e) => {
                let mut message = api::describe(&worker.process.script_name, &e);
                if let Some(hint) = crate::script::not_found_hint(&engine, &e) {
                    message = format!("{message}; {hint}");
                }
                if worker.fail_held(&message) == 0 {
                    error_once(&worker.process.outcome, None, &message);
                    worker.release_all();
                    return false;
                }
                continue; // claims make the rerun a resume
            }
        }
        if args.no_wait || !worker.saw_busy.load(Ordering::Relaxed) {
            return true;
        }
        tracing::info!("items held by other workers are unresolved: waiting for them");
        if !wait_for_others(&worker, Duration::from_secs(args.lease)) {
            return true;
        }
    }
}

/// Wait until no claim is running (then one more pass finds everything resolved) or a lease has
/// passed (then a pass can take stale claims over). A claim of this process that ends wakes the
/// wait at once; other processes' claims are looked for every 250 ms. False when interrupted.
fn wait_for_others(worker: &Worker, lease: Duration) -> bool {
    let until = Instant::now() + lease;
    while Instant::now() < until {
        if worker.stopping() {
            return false;
        }
        match worker.ledger.any_claims() {
            Ok(false) => break,
            _ => worker.ledger.wait_for_change(Duration::from_millis(250)),
        }
    }
    worker.ledger.refresh().is_ok() && !worker.stopping()
}
