//! # claimsh for Python
//!
//! The Python module `claimsh`: a thin PyO3 wrapper over [`claim_core`], so Python processes
//! and `claimsh` workers share one claim ledger (same files, same protocol, no second
//! implementation). Built with maturin (`pip install ./crates/claimsh-py`); the typed interface
//! and its documentation are in `claimsh.pyi`.
//!
//! What this layer adds over `claim_core`, all of it mirroring `claimsh`'s Rhai functions:
//! - claims held by name (`claim(key)` then `done(key)`), as in Rhai;
//! - `claimed(items)`: the walk of a list in blocks, with the runner's waiting — when a pass met
//!   items held by others, wait (until no claim is live, or one lease) and walk again, so a dead
//!   worker's items are taken over;
//! - `once(name, fn)` on the ledger `<state>/once` with key `once:<name>`, as `claimsh` does;
//! - `item(key)`: a context manager recording exceptions as failures;
//! - releasing: `KeyboardInterrupt`/`SystemExit` inside `item()` release the claim; an abandoned
//!   `claimed` iterator releases its block; `close()` and an `atexit` hook release the rest.
//!
//! Locking rule: no Rust mutex is held while the GIL is (re)acquired, and filesystem work runs
//! inside `py.detach` (GIL released), so Python threads keep running and nothing deadlocks.

use claim_core::{BlockClaim, Claim, Claimed, Ledger, LedgerOptions, ListWalker};
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyRuntimeError};
use pyo3::prelude::*;
use pyo3::types::{PyTuple, PyType};
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

create_exception!(
    claimsh,
    ClaimshError,
    PyRuntimeError,
    "A ledger operation failed (I/O, a claim lost to a takeover, or misuse such as done() on an item not held)."
);

/// Where `once` steps are recorded, beside the items' ledger (as `claimsh` does).
const ONCE_DIR: &str = "once";
/// Lines of traceback kept in a failure reason.
const TRACEBACK_LINES: usize = 12;

fn ledger_error(e: claim_core::Error) -> PyErr {
    ClaimshError::new_err(e.to_string())
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The key of an item: `str(item)` (so a `pathlib.Path` and its string are one item, and
/// Rhai's `claimed(["a", "b"])` and Python's `claimed(["a", "b"])` are one list).
fn key_of(item: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(s) = item.extract::<String>() {
        return Ok(s);
    }
    Ok(item.str()?.to_string())
}

/// The host name: `CLAIMSH_HOST`, else the kernel's (as `claimsh`).
fn default_host() -> String {
    std::env::var("CLAIMSH_HOST")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(claim_core::identity::kernel_host_name)
}

/// A walk of one list by one `claimed()` iterator.
struct Walk {
    walker: ListWalker,
    block: Option<BlockClaim>,
    queue: VecDeque<u64>,
    /// The item handed out last and not finished explicitly yet.
    current: Option<u64>,
    outputs: Option<Vec<PathBuf>>,
    /// Waiting (until then) for items seen held by others, before another pass.
    waiting: Option<Instant>,
    wait: bool,
    ended: bool,
}

/// What one step of a walk gave.
enum Step {
    Item(u64),
    /// Still waiting for other workers; check for signals and step again.
    Wait,
    End,
}

impl Walk {
    /// Advance: finish the current item (done: the loop body ran to its end), then hand out the
    /// next won item, claiming blocks as needed, waiting and walking again as `claimsh` does.
    fn step(&mut self, ledger: &Ledger) -> claim_core::Result<Step> {
        if let Some(left) = self.current.take()
            && let Some(block) = self.block.as_mut()
        {
            block.done_item(left);
        }
        if let Some(until) = self.waiting {
            // `claimsh`'s wait_for_others: until no claim is live, or a lease has passed (then a
            // pass can take stale claims over).
            if Instant::now() < until && ledger.any_claims().unwrap_or(true) {
                let left = until.saturating_duration_since(Instant::now());
                ledger.wait_for_change(left.min(Duration::from_millis(250)));
                return Ok(Step::Wait);
            }
            self.waiting = None;
            self.walker.restart()?;
        }
        loop {
            if let Some(index) = self.queue.pop_front() {
                if let Some(outputs) = &self.outputs
                    && outputs[index as usize].exists()
                {
                    if let Some(block) = self.block.as_mut() {
                        block.done_item(index);
                    }
                    continue;
                }
                self.current = Some(index);
                return Ok(Step::Item(index));
            }
            if let Some(block) = self.block.take() {
                self.walker.complete(block)?;
            }
            if self.ended {
                return Ok(Step::End);
            }
            match self.walker.next_block()? {
                Some(block) => {
                    self.queue = block.items().iter().copied().collect();
                    self.block = Some(block);
                }
                None if self.wait && self.walker.saw_busy() => {
                    self.waiting = Some(Instant::now() + ledger.lease());
                    return Ok(Step::Wait);
                }
                None => {
                    self.ended = true;
                    return Ok(Step::End);
                }
            }
        }
    }

    /// Hand the block back: finished items are published, the rest (and the current one) go
    /// back to the ledger.
    fn release(&mut self) -> claim_core::Result<()> {
        self.current = None;
        self.queue.clear();
        self.ended = true;
        self.waiting = None;
        match self.block.take() {
            Some(block) => self.walker.release(block),
            None => Ok(()),
        }
    }

    /// Finish the current item if its key is `key`: true if it was.
    fn finish_current(&mut self, key: &str, how: Finish<'_>) -> bool {
        let Some(index) = self.current else {
            return false;
        };
        if self.walker.key(index) != key {
            return false;
        }
        self.current = None;
        if let Some(block) = self.block.as_mut() {
            match how {
                Finish::Done => block.done_item(index),
                Finish::Fail(reason) => block.fail_item(index, reason),
                // Neither done nor failed: it goes back with the block.
                Finish::Release => {}
            }
        }
        true
    }

    fn current_is(&self, key: &str) -> bool {
        self.current.is_some_and(|i| self.walker.key(i) == key)
    }
}

impl Drop for Walk {
    fn drop(&mut self) {
        let _ = self.release();
    }
}

#[derive(Clone, Copy)]
enum Finish<'a> {
    Done,
    Fail(&'a str),
    Release,
}

/// What a Python `Ledger` owns; shared with its iterators and context managers.
struct Inner {
    ledger: Ledger,
    options: LedgerOptions,
    once: Mutex<Option<Ledger>>,
    held: Mutex<HashMap<String, Claim>>,
    walks: Mutex<Vec<Weak<Mutex<Walk>>>>,
    next_worker: AtomicU32,
}

/// Every open ledger of this process, for the `atexit` hook.
static LIVE: Mutex<Vec<Weak<Inner>>> = Mutex::new(Vec::new());

impl Inner {
    /// Claim `key` (skipped as done if `output` exists) and hold it if won; `caller` names the
    /// Python call in the error for a key this process holds already.
    fn claim_and_hold(&self, caller: &str, key: String, output: Option<&Path>) -> PyResult<bool> {
        if lock(&self.held).contains_key(&key) {
            return Err(ClaimshError::new_err(format!(
                "{caller}({key:?}): this process holds {key:?} already"
            )));
        }
        let claimed = match output {
            Some(path) => self.ledger.claim_unless_exists(&key, path),
            None => self.ledger.claim(&key),
        }
        .map_err(ledger_error)?;
        Ok(match claimed {
            Claimed::Won(claim) => {
                lock(&self.held).insert(key, claim);
                true
            }
            _ => false,
        })
    }

    fn open_walks(&self) -> Vec<Arc<Mutex<Walk>>> {
        let mut walks = lock(&self.walks);
        walks.retain(|w| w.strong_count() > 0);
        walks.iter().filter_map(Weak::upgrade).collect()
    }

    /// Finish `key`: a claim held by name, else the current item of an open `claimed` loop.
    fn finish(&self, key: &str, how: Finish<'_>) -> claim_core::Result<bool> {
        let claim = lock(&self.held).remove(key);
        if let Some(claim) = claim {
            match how {
                Finish::Done => claim.done()?,
                Finish::Fail(reason) => claim.fail(reason)?,
                Finish::Release => claim.release()?,
            }
            return Ok(true);
        }
        Ok(self
            .open_walks()
            .iter()
            .any(|walk| lock(walk).finish_current(key, how)))
    }

    fn holds(&self, key: &str) -> bool {
        lock(&self.held).contains_key(key)
            || self.open_walks().iter().any(|w| lock(w).current_is(key))
    }

    /// Release every claim and block this ledger holds.
    fn release_all(&self) {
        let held: Vec<Claim> = lock(&self.held).drain().map(|(_, c)| c).collect();
        for claim in held {
            let _ = claim.release();
        }
        for walk in self.open_walks() {
            let _ = lock(&walk).release();
        }
    }

    fn once_ledger(&self) -> claim_core::Result<Ledger> {
        let mut once = lock(&self.once);
        if let Some(ledger) = once.as_ref() {
            return Ok(ledger.clone());
        }
        let ledger = Ledger::open(self.ledger.root().join(ONCE_DIR), self.options.clone())?;
        *once = Some(ledger.clone());
        Ok(ledger)
    }
}

/// A claim ledger in a state directory, shared with every other worker (Python or `claimsh`)
/// that opens the same directory.
#[pyclass(module = "claimsh", name = "Ledger", frozen)]
pub struct PyLedger {
    inner: Arc<Inner>,
}

fn not_held(what: &str, key: &str) -> PyErr {
    ClaimshError::new_err(format!(
        "{what}({key:?}): this process does not hold {key:?}; call it only after claim() returned \
         true, or inside a claimed() loop for its current item"
    ))
}

/// `Type: message` and the traceback's last lines: what a failure records.
fn failure_reason(
    py: Python<'_>,
    exc_type: &Bound<'_, PyAny>,
    exc: &Bound<'_, PyAny>,
    tb: &Bound<'_, PyAny>,
) -> String {
    let name = exc_type
        .getattr("__qualname__")
        .and_then(|n| n.extract::<String>())
        .unwrap_or_else(|_| "Exception".into());
    let module = exc_type
        .getattr("__module__")
        .and_then(|n| n.extract::<String>())
        .unwrap_or_default();
    let name = if module.is_empty() || module == "builtins" {
        name
    } else {
        format!("{module}.{name}")
    };
    let message = exc.str().map(|s| s.to_string()).unwrap_or_default();
    let mut reason = if message.is_empty() {
        name
    } else {
        format!("{name}: {message}")
    };
    if !tb.is_none()
        && let Ok(lines) = py
            .import("traceback")
            .and_then(|m| m.call_method1("format_tb", (tb,)))
            .and_then(|l| l.extract::<Vec<String>>())
    {
        let text: String = lines.concat();
        let lines: Vec<&str> = text.lines().collect();
        let tail = &lines[lines.len().saturating_sub(TRACEBACK_LINES)..];
        reason.push_str("\nTraceback (most recent call last):\n");
        reason.push_str(&tail.join("\n"));
    }
    reason
}

/// Whether `err` is an ordinary error (`Exception`), not an interruption (`KeyboardInterrupt`,
/// `SystemExit`, `GeneratorExit`): ordinary errors fail an item, interruptions release it.
fn is_error(py: Python<'_>, exc_type: &Bound<'_, PyAny>) -> bool {
    exc_type.cast::<PyType>().is_ok_and(|t| {
        t.is_subclass(&py.get_type::<PyException>())
            .unwrap_or(false)
    })
}

#[pymethods]
impl PyLedger {
    /// Open (creating if needed) the ledger in `state_dir`.
    #[new]
    #[pyo3(signature = (state_dir, lease = 60.0, host = None, retry_failed = false))]
    fn new(
        py: Python<'_>,
        state_dir: PathBuf,
        lease: f64,
        host: Option<String>,
        retry_failed: bool,
    ) -> PyResult<Self> {
        if !(lease.is_finite() && lease > 0.0) {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "lease must be a positive number of seconds, not {lease}"
            )));
        }
        let options = LedgerOptions {
            lease: Duration::from_secs_f64(lease),
            host: host.unwrap_or_else(default_host),
            retry_failed,
        };
        let opts = options.clone();
        let ledger = py
            .detach(move || Ledger::open(&state_dir, opts))
            .map_err(ledger_error)?;
        let inner = Arc::new(Inner {
            ledger,
            options,
            once: Mutex::new(None),
            held: Mutex::new(HashMap::new()),
            walks: Mutex::new(Vec::new()),
            next_worker: AtomicU32::new(0),
        });
        let mut live = lock(&LIVE);
        live.retain(|w| w.strong_count() > 0);
        live.push(Arc::downgrade(&inner));
        Ok(PyLedger { inner })
    }

    /// The state directory.
    #[getter]
    fn state_dir(&self) -> PathBuf {
        self.inner.ledger.root().to_path_buf()
    }

    /// The lease in seconds.
    #[getter]
    fn lease(&self) -> f64 {
        self.inner.options.lease.as_secs_f64()
    }

    /// The host name written into claims.
    #[getter]
    fn host(&self) -> String {
        self.inner.options.host.clone()
    }

    fn __repr__(&self) -> String {
        format!(
            "claimsh.Ledger({:?}, lease={}, host={:?})",
            self.inner.ledger.root().display().to_string(),
            self.inner.options.lease.as_secs_f64(),
            self.inner.options.host
        )
    }

    /// Try to claim `key`; true for exactly one worker anywhere.
    #[pyo3(signature = (key, output = None))]
    fn claim(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        output: Option<PathBuf>,
    ) -> PyResult<bool> {
        let key = key_of(key)?;
        let inner = self.inner.clone();
        py.detach(move || inner.claim_and_hold("claim", key, output.as_deref()))
    }

    /// Publish a claimed item as done.
    fn done(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<()> {
        self.finish(py, key, Finish::Done, "done")
    }

    /// Record a claimed item as failed with `reason`.
    fn fail(&self, py: Python<'_>, key: &Bound<'_, PyAny>, reason: &str) -> PyResult<()> {
        self.finish(py, key, Finish::Fail(reason), "fail")
    }

    /// Give a claimed item back unfinished.
    fn release(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<()> {
        self.finish(py, key, Finish::Release, "release")
    }

    /// Whether this process holds `key` (claimed by name, or the current item of a `claimed`
    /// loop).
    fn holds(&self, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        Ok(self.inner.holds(&key_of(key)?))
    }

    /// Iterate over the items of `items` this process wins, claiming blocks of them.
    #[pyo3(signature = (items, output = None, wait = true))]
    fn claimed(
        &self,
        py: Python<'_>,
        items: &Bound<'_, PyAny>,
        output: Option<Bound<'_, PyAny>>,
        wait: bool,
    ) -> PyResult<PyClaimed> {
        let mut objects: Vec<Py<PyAny>> = Vec::new();
        let mut keys: Vec<String> = Vec::new();
        let mut outputs: Option<Vec<PathBuf>> = output.as_ref().map(|_| Vec::new());
        for item in items.try_iter()? {
            let item = item?;
            keys.push(key_of(&item)?);
            if let (Some(f), Some(outputs)) = (&output, outputs.as_mut()) {
                outputs.push(f.call1((&item,))?.extract::<PathBuf>()?);
            }
            objects.push(item.unbind());
        }
        let worker = self.inner.next_worker.fetch_add(1, Ordering::Relaxed);
        let ledger = self.inner.ledger.for_worker(worker);
        let walk = py
            .detach(move || {
                ledger.walk(keys).map(|walker| Walk {
                    walker,
                    block: None,
                    queue: VecDeque::new(),
                    current: None,
                    outputs,
                    waiting: None,
                    wait,
                    ended: false,
                })
            })
            .map_err(ledger_error)?;
        let walk = Arc::new(Mutex::new(walk));
        lock(&self.inner.walks).push(Arc::downgrade(&walk));
        Ok(PyClaimed {
            inner: self.inner.clone(),
            walk,
            items: objects,
        })
    }

    /// A context manager claiming `key`: `with ledger.item(key) as won: ...`.
    #[pyo3(signature = (key, output = None))]
    fn item(&self, key: &Bound<'_, PyAny>, output: Option<PathBuf>) -> PyResult<PyItem> {
        Ok(PyItem {
            inner: self.inner.clone(),
            key: key_of(key)?,
            output,
            won: Mutex::new(false),
        })
    }

    /// Whether every item is done (re-reads the ledger).
    fn all_done(&self, py: Python<'_>, items: &Bound<'_, PyAny>) -> PyResult<bool> {
        let keys = items
            .try_iter()?
            .map(|item| key_of(&item?))
            .collect::<PyResult<Vec<String>>>()?;
        let inner = self.inner.clone();
        py.detach(move || inner.ledger.all_done(keys.iter().map(String::as_str)))
            .map_err(ledger_error)
    }

    /// Run `fn()` exactly once across every worker (Python or `claimsh`) of this state
    /// directory; the others wait for it. Returns fn's result where it ran, `None` elsewhere.
    fn once(&self, py: Python<'_>, name: &str, r#fn: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let inner = self.inner.clone();
        let once = py
            .detach(move || inner.once_ledger())
            .map_err(ledger_error)?;
        let key = format!("once:{name}");
        loop {
            let (l, k) = (once.clone(), key.clone());
            match py.detach(move || l.claim(&k)).map_err(ledger_error)? {
                Claimed::Won(claim) => {
                    return match r#fn.call0() {
                        Ok(value) => {
                            py.detach(move || claim.done()).map_err(ledger_error)?;
                            Ok(value.unbind())
                        }
                        Err(e) => {
                            let exc_type = e.get_type(py);
                            if is_error(py, exc_type.as_any()) {
                                let value = e.value(py);
                                let tb = e
                                    .traceback(py)
                                    .map(|t| t.into_any())
                                    .unwrap_or_else(|| py.None().into_bound(py));
                                let reason =
                                    failure_reason(py, exc_type.as_any(), value.as_any(), &tb);
                                let _ = py.detach(move || claim.fail(&reason));
                            } else {
                                let _ = py.detach(move || claim.release());
                            }
                            Err(e)
                        }
                    };
                }
                Claimed::Done => return Ok(py.None()),
                Claimed::Failed => {
                    return Err(ClaimshError::new_err(format!(
                        "once({name:?}) failed on another worker; see `claimsh status` \
                         (open the ledger with retry_failed=True to try it again)"
                    )));
                }
                Claimed::Busy => {
                    let l = once.clone();
                    py.detach(move || {
                        std::thread::sleep(Duration::from_millis(100));
                        l.refresh()
                    })
                    .map_err(ledger_error)?;
                    py.check_signals()?;
                }
            }
        }
    }

    /// What the ledger holds: the same keys as `claimsh status --json`.
    fn status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.inner.clone();
        let json = py
            .detach(move || -> claim_core::Result<String> {
                let status = inner.ledger.status()?;
                let mut value = serde_json::to_value(&status).expect("status serialises");
                let once_dir = inner.ledger.root().join(ONCE_DIR);
                if once_dir.join("FORMAT").exists() {
                    let once = inner.once_ledger()?.status()?;
                    value["once"] = serde_json::to_value(&once).expect("status serialises");
                }
                Ok(value.to_string())
            })
            .map_err(ledger_error)?;
        py.import("json")?.call_method1("loads", (json,))
    }

    /// Release every claim and block this ledger holds (items finished are kept).
    fn close(&self, py: Python<'_>) {
        let inner = self.inner.clone();
        py.detach(move || inner.release_all());
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, PyTuple>) -> bool {
        self.close(py);
        false
    }
}

impl PyLedger {
    fn finish(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        how: Finish<'_>,
        what: &str,
    ) -> PyResult<()> {
        let key = key_of(key)?;
        let inner = self.inner.clone();
        let k = key.clone();
        let found = py
            .detach(move || inner.finish(&k, how))
            .map_err(ledger_error)?;
        if found {
            Ok(())
        } else {
            Err(not_held(what, &key))
        }
    }
}

/// The iterator `ledger.claimed(items)` returns.
#[pyclass(module = "claimsh", name = "Claimed", frozen)]
pub struct PyClaimed {
    inner: Arc<Inner>,
    walk: Arc<Mutex<Walk>>,
    items: Vec<Py<PyAny>>,
}

#[pymethods]
impl PyClaimed {
    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        loop {
            // Fast path: the next item of a held block, no filesystem call.
            if let Ok(mut walk) = self.walk.try_lock()
                && walk.outputs.is_none()
                && walk.waiting.is_none()
                && !walk.queue.is_empty()
            {
                if let Some(left) = walk.current.take()
                    && let Some(block) = walk.block.as_mut()
                {
                    block.done_item(left);
                }
                let index = walk.queue.pop_front().expect("not empty");
                walk.current = Some(index);
                return Ok(Some(self.items[index as usize].clone_ref(py)));
            }
            let (walk, ledger) = (self.walk.clone(), self.inner.ledger.clone());
            let step = py
                .detach(move || lock(&walk).step(&ledger))
                .map_err(ledger_error)?;
            match step {
                Step::Item(index) => return Ok(Some(self.items[index as usize].clone_ref(py))),
                Step::End => return Ok(None),
                Step::Wait => py.check_signals()?,
            }
        }
    }

    /// Stop early: items finished so far are published, the rest go back to the ledger.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let walk = self.walk.clone();
        py.detach(move || lock(&walk).release())
            .map_err(ledger_error)
    }

    /// Number of items in the list.
    fn __len__(&self) -> usize {
        self.items.len()
    }
}

/// The context manager `ledger.item(key)` returns.
#[pyclass(module = "claimsh", name = "Item", frozen)]
pub struct PyItem {
    inner: Arc<Inner>,
    key: String,
    output: Option<PathBuf>,
    won: Mutex<bool>,
}

#[pymethods]
impl PyItem {
    fn __enter__(&self, py: Python<'_>) -> PyResult<bool> {
        let inner = self.inner.clone();
        let (key, output) = (self.key.clone(), self.output.clone());
        let won = py.detach(move || -> PyResult<bool> {
            // The current item of a claimed() loop is held already.
            if inner.open_walks().iter().any(|w| lock(w).current_is(&key)) {
                return Ok(true);
            }
            inner.claim_and_hold("item", key, output.as_deref())
        })?;
        *lock(&self.won) = won;
        Ok(won)
    }

    #[pyo3(signature = (exc_type, exc, tb))]
    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: &Bound<'_, PyAny>,
        exc: &Bound<'_, PyAny>,
        tb: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        if !std::mem::take(&mut *lock(&self.won)) {
            return Ok(false);
        }
        let reason = if exc_type.is_none() {
            None
        } else if is_error(py, exc_type) {
            Some(Some(failure_reason(py, exc_type, exc, tb)))
        } else {
            Some(None) // KeyboardInterrupt, SystemExit: give the item back
        };
        let inner = self.inner.clone();
        let key = self.key.clone();
        // Finished explicitly inside the block (done/fail/release): nothing left to do.
        let result = py.detach(move || match &reason {
            None => inner.finish(&key, Finish::Done),
            Some(Some(reason)) => inner.finish(&key, Finish::Fail(reason)),
            Some(None) => inner.finish(&key, Finish::Release),
        });
        match result {
            // Do not hide the block's own exception behind a ledger error.
            Err(e) if exc_type.is_none() => Err(ledger_error(e)),
            _ => Ok(false),
        }
    }
}

/// Release every claim of every ledger of this process (registered with `atexit`).
#[pyfunction]
fn _release_all(py: Python<'_>) {
    py.detach(|| {
        let live: Vec<Arc<Inner>> = lock(&LIVE).iter().filter_map(Weak::upgrade).collect();
        for inner in live {
            inner.release_all();
        }
    });
}

/// Python workers on a claimsh ledger.
#[pymodule]
#[pyo3(name = "claimsh")]
fn claimsh_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<PyLedger>()?;
    m.add_class::<PyClaimed>()?;
    m.add_class::<PyItem>()?;
    m.add("ClaimshError", py.get_type::<ClaimshError>())?;
    m.add("FORMAT", claim_core::FORMAT)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    let release = wrap_pyfunction!(_release_all, m)?;
    m.add_function(release.clone())?;
    py.import("atexit")?.call_method1("register", (release,))?;
    Ok(())
}
