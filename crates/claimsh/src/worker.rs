//! One script worker's state: its ledger handle, the claims it holds, and the open block of each
//! `claimed(...)` list. Shared by the script functions of that worker's engine.

use claim_core::{BlockClaim, Claim, Claimed, Ledger, ListWalker};
use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The folder of the state directory holding `once(...)` steps: a ledger of their own, so
/// `status` counts items, not steps.
pub const ONCE_DIR: &str = "once";

/// What every worker of this process shares.
pub struct Process {
    /// The ledger (worker 0's handle; workers clone it).
    pub ledger: Ledger,
    /// The ledger of `once(...)` steps (`<state>/once`).
    pub once_ledger: Ledger,
    /// Script directory: relative paths resolve against it.
    pub script_dir: PathBuf,
    /// Script path as given, for messages.
    pub script_name: String,
    /// Host name.
    pub host: String,
    /// Number of workers.
    pub workers: usize,
    /// Set on Ctrl-C / SIGTERM: stop taking new items.
    pub stop: Arc<AtomicBool>,
    /// Items that failed in this process.
    pub failed_items: AtomicU64,
    /// Failures in a row (reset by a done).
    pub failures_in_a_row: AtomicU64,
    /// `--max-failures`.
    pub max_failures: Option<u64>,
    /// The compiled script (closures passed to `par_map` live in it).
    pub ast: Arc<rhai::AST>,
    /// The shared thread pool for `par_map` and friends (one per process, so nested use from
    /// several script workers does not oversubscribe the cores).
    pub pool: claim_pool::Pool,
    /// Where the running `par_map` is, for the progress bar.
    pub par_progress: Arc<ParProgress>,
    /// `--item-timeout`: how long one item may run, from its claim to `done`/`fail`.
    pub item_timeout: Option<Duration>,
    /// What this process did, for the end-of-run summary, and the errors it printed.
    pub outcome: Outcome,
}

/// Failures kept with their reasons for the summary; the rest are counted.
const FAILURES_KEPT: usize = 5;

/// What the workers of this process did: items done, the first failures, the errors printed.
#[derive(Default)]
pub struct Outcome {
    /// Items done in this process.
    pub done: AtomicU64,
    /// The first [`FAILURES_KEPT`] items failed in this process, with their reasons.
    pub failures: Mutex<Vec<(String, String)>>,
    /// Every error text printed on the console so far.
    printed: Mutex<HashSet<String>>,
}

impl Outcome {
    /// Whether `message` is new to this process (and remember it): each distinct error is
    /// printed once, however many workers or items meet it (a typo fails every item the same
    /// way, and an error before any item happens in every worker).
    pub fn first_time(&self, message: &str) -> bool {
        let mut printed = self.printed.lock().unwrap_or_else(|e| e.into_inner());
        printed.insert(message.to_string())
    }

    fn note_failure(&self, item: &str, reason: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() < FAILURES_KEPT {
            failures.push((item.to_string(), reason.to_string()));
        }
    }
}

/// Log an error about `key` (or the script): on the console the first time this process sees
/// its text, in the log file every time.
pub fn error_once(outcome: &Outcome, key: Option<&str>, message: &str) {
    use claim_log::FILE_ONLY;
    match (outcome.first_time(message), key) {
        (true, Some(key)) => tracing::error!(key = ?key, "{message}"),
        (true, None) => tracing::error!("{message}"),
        (false, Some(key)) => tracing::error!(target: FILE_ONLY, key = ?key, "{message}"),
        (false, None) => tracing::error!(target: FILE_ONLY, "{message}"),
    }
}

/// Tasks finished and in all of the `par_map` running now (the latest to report, when several
/// workers map at once).
#[derive(Default)]
pub struct ParProgress {
    pub finished: AtomicUsize,
    pub total: AtomicUsize,
}

/// A worker's time in items, for `--insights`.
#[derive(Default)]
pub struct ItemTimes {
    /// The item being processed and when it started.
    pub started: Option<(String, Instant)>,
    /// Time from claim to done/fail, summed.
    pub busy: Duration,
    /// The five slowest items.
    pub slowest: Vec<(String, Duration)>,
}

/// An open `claimed(list)` block: the items not yet yielded and the one being processed.
pub struct OpenList {
    pub walker: ListWalker,
    /// The items as the script gave them (yielded as they are).
    pub items: Arc<rhai::Array>,
    /// `claimed(items, output)`: each item's output file.
    pub outputs: Option<Vec<PathBuf>>,
    pub block: Option<BlockClaim>,
    pub queue: VecDeque<u64>,
    pub current: Option<u64>,
}

impl OpenList {
    /// Whether item `index` has an output file that exists (then it counts as done).
    pub fn output_exists(&self, index: u64) -> bool {
        self.outputs
            .as_ref()
            .is_some_and(|o| o[index as usize].exists())
    }
}

/// One worker.
pub struct Worker {
    pub process: Arc<Process>,
    pub id: usize,
    pub ledger: Ledger,
    pub once_ledger: Ledger,
    pub held: Mutex<HashMap<String, Claim>>,
    pub lists: Mutex<HashMap<String, OpenList>>,
    /// Whether this pass met items held by other live workers.
    pub saw_busy: AtomicBool,
    /// Items this worker finished (for insights).
    pub finished: AtomicU64,
    /// The item being processed, for log lines.
    pub current: Mutex<Option<String>>,
    /// Time in items, for `--insights`.
    pub times: Mutex<ItemTimes>,
    /// When the current item runs out of time (`--item-timeout`).
    pub deadline: Mutex<Option<Instant>>,
}

impl Worker {
    pub fn new(process: Arc<Process>, id: usize) -> Self {
        Worker {
            ledger: process.ledger.for_worker(id as u32),
            once_ledger: process.once_ledger.for_worker(id as u32),
            process,
            id,
            held: Mutex::default(),
            lists: Mutex::default(),
            saw_busy: AtomicBool::new(false),
            finished: AtomicU64::new(0),
            current: Mutex::default(),
            times: Mutex::default(),
            deadline: Mutex::default(),
        }
    }

    /// Resolve a script path against the script's directory.
    pub fn resolve(&self, path: &str) -> PathBuf {
        let p = Path::new(path);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.process.script_dir.join(p)
        }
    }

    pub fn current_item(&self) -> Option<String> {
        self.current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn set_current(&self, item: Option<&str>) {
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = item.map(str::to_string);
        if let Some(item) = item {
            self.lock_times().started = Some((item.to_string(), Instant::now()));
        }
        let limit = item.and(self.process.item_timeout);
        *self.deadline.lock().unwrap_or_else(|e| e.into_inner()) =
            limit.map(|limit| Instant::now() + limit);
    }

    /// Why the running script code must stop now: `"interrupted"` (Ctrl-C, SIGTERM,
    /// `--max-failures`) or `"timed out after N s"` (`--item-timeout`), else `None`. Checked by
    /// the engine's progress callback, `sleep` and `exec`.
    pub fn interruption(&self) -> Option<String> {
        if self.stopping() {
            return Some("interrupted".into());
        }
        let deadline = *self.deadline.lock().unwrap_or_else(|e| e.into_inner());
        match (deadline, self.process.item_timeout) {
            (Some(at), Some(limit)) if Instant::now() >= at => {
                Some(format!("timed out after {} s", limit.as_secs_f64()))
            }
            _ => None,
        }
    }

    pub fn lock_times(&self) -> std::sync::MutexGuard<'_, ItemTimes> {
        self.times.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current item ended (done or failed): add its time.
    fn item_ended(&self) {
        *self.deadline.lock().unwrap_or_else(|e| e.into_inner()) = None;
        let mut times = self.lock_times();
        if let Some((item, started)) = times.started.take() {
            let took = started.elapsed();
            times.busy += took;
            times.slowest.push((item, took));
            times.slowest.sort_by_key(|s| std::cmp::Reverse(s.1));
            times.slowest.truncate(5);
        }
    }

    pub fn stopping(&self) -> bool {
        self.process.stop.load(Ordering::Relaxed)
    }

    /// Interpret a claim answer: remember won claims, note busy ones.
    pub fn took(&self, item: &str, claimed: Claimed) -> bool {
        match claimed {
            Claimed::Won(claim) => {
                match claim.taken_from() {
                    Some(from) => tracing::warn!(key = ?item, "claimed, taken over from {from}"),
                    None => tracing::info!(key = ?item, "claimed"),
                }
                self.lock_held().insert(item.to_string(), claim);
                self.set_current(Some(item));
                true
            }
            Claimed::Busy => {
                self.saw_busy.store(true, Ordering::Relaxed);
                false
            }
            Claimed::Done | Claimed::Failed => false,
        }
    }

    pub fn lock_held(&self) -> std::sync::MutexGuard<'_, HashMap<String, Claim>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn lock_lists(&self) -> std::sync::MutexGuard<'_, HashMap<String, OpenList>> {
        self.lists.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn note_done(&self) {
        self.item_ended();
        self.finished.fetch_add(1, Ordering::Relaxed);
        self.process.outcome.done.fetch_add(1, Ordering::Relaxed);
        self.process.failures_in_a_row.store(0, Ordering::Relaxed);
    }

    /// `item` failed with `reason`: log it (on the console once per distinct reason), count it,
    /// and stop after `--max-failures` in a row.
    pub fn note_failed(&self, item: &str, reason: &str) {
        error_once(
            &self.process.outcome,
            Some(item),
            &format!("failed: {reason}"),
        );
        self.process.outcome.note_failure(item, reason);
        self.item_ended();
        self.finished.fetch_add(1, Ordering::Relaxed);
        self.process.failed_items.fetch_add(1, Ordering::Relaxed);
        let row = self
            .process
            .failures_in_a_row
            .fetch_add(1, Ordering::Relaxed)
            + 1;
        if self.process.max_failures.is_some_and(|max| row >= max) {
            let row = crate::words::count(row, "item", "items");
            tracing::error!("{row} failed in a row (--max-failures): stopping");
            self.process.stop.store(true, Ordering::Relaxed);
        }
    }

    /// After an uncaught script error: fail every item this worker holds with `reason`.
    /// Returns how many items were failed.
    pub fn fail_held(&self, reason: &str) -> usize {
        let mut count = 0;
        let held: Vec<(String, Claim)> = self.lock_held().drain().collect();
        for (item, claim) in held {
            if let Err(e) = claim.fail(reason) {
                tracing::error!(key = ?item, "could not record failure: {e}");
            }
            self.note_failed(&item, reason);
            count += 1;
        }
        for open in self.lock_lists().values_mut() {
            if let (Some(index), Some(block)) = (open.current.take(), open.block.as_mut()) {
                let item = open.walker.key(index);
                block.fail_item(index, reason);
                self.note_failed(item, reason);
                count += 1;
            }
        }
        count
    }

    /// Release everything held (Ctrl-C, or the end of a run).
    pub fn release_all(&self) {
        let held: Vec<(String, Claim)> = self.lock_held().drain().collect();
        for (item, claim) in held {
            tracing::info!(key = ?item, "released");
            let _ = claim.release();
        }
        for (_, mut open) in self.lock_lists().drain() {
            if let Some(block) = open.block.take() {
                // Items already finished in the block are published; the rest go back.
                let _ = open.walker.release(block);
            }
        }
    }
}
