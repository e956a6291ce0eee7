//! # claim-pool: local parallel execution on rayon
//!
//! Owns: running many tasks over the cores of one machine — ordered and unordered maps, a
//! streaming map with a bound on tasks in flight, per-worker state built by an init function,
//! chunking, error and panic capture with the failing item's index, halt policies, timeouts
//! reported per task, progress, and insights (per worker tasks, busy, idle and init time; the
//! slowest tasks; added up over every map of a pool). Does not own: claiming (a
//! `claim-core` ledger drives `for_each_claimed`), progress drawing (the caller gets a callback,
//! [`Pool::on_progress`]).
//!
//! Nested use does not oversubscribe: a pool's workers are rayon threads, and a map started from
//! inside a pool task runs on the same threads (rayon's work stealing), never on new ones.
//!
//! ```
//! let pool = claim_pool::Pool::new(2);
//! let squares = pool.map(&[1, 2, 3], |_, x| Ok::<_, String>(x * x)).unwrap();
//! assert_eq!(squares, vec![1, 4, 9]);
//! ```

#![deny(missing_docs)]

use rayon::prelude::*;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// When to stop taking new tasks after errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Halt {
    /// Run every task whatever fails.
    #[default]
    Never,
    /// Stop after the first error.
    OnFirstError,
    /// Stop after this many errors.
    AfterErrors(usize),
}

/// A failed task: its position in the input, and what went wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("task {index}: {failure}")]
pub struct TaskError {
    /// Position of the item in the input.
    pub index: usize,
    /// What went wrong.
    pub failure: Failure,
}

/// Why a task did not return a value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Failure {
    /// The task returned an error: its text.
    #[error("{0}")]
    Failed(String),
    /// The task panicked: the panic message.
    #[error("{0}")]
    Panicked(String),
    /// The task was never started: the pool halted after earlier errors ([`Halt`]).
    #[error("not run: the pool halted")]
    NotRun,
    /// The task returned, but after the pool's [`Pool::timeout`].
    #[error("timed out after {:.3}s (limit {:.3}s)", .took.as_secs_f64(), .limit.as_secs_f64())]
    TimedOut {
        /// How long it ran.
        took: Duration,
        /// The pool's limit.
        limit: Duration,
    },
}

/// Per-worker numbers for `--insights`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WorkerInsight {
    /// Which worker (0.. for pool threads; the last number is a caller outside the pool).
    pub worker: usize,
    /// Tasks run.
    pub tasks: usize,
    /// Time inside tasks.
    pub busy: Duration,
    /// Time inside maps spent waiting rather than running tasks (wall − busy − init).
    pub idle: Duration,
    /// Time in the init function.
    pub init: Duration,
}

/// Insights for a whole map.
#[derive(Debug, Clone, Default)]
pub struct Insights {
    /// One entry per worker thread that ran tasks.
    pub workers: Vec<WorkerInsight>,
    /// The slowest tasks: (index, time).
    pub slowest: Vec<(usize, Duration)>,
    /// Wall time of the map.
    pub wall: Duration,
}

/// A pool of N workers (N = cores by default). `Pool::new(1)` runs inline on the caller's
/// thread, for debugging.
pub struct Pool {
    threads: usize,
    rayon: Option<rayon::ThreadPool>,
    halt: Halt,
    chunk: Option<usize>,
    timeout: Option<Duration>,
    task_times: bool,
    progress: Option<Progress>,
    /// Insights added up over every map so far.
    totals: Mutex<Insights>,
}

/// A progress callback: (tasks finished in this map, tasks in this map).
type Progress = Box<dyn Fn(usize, usize) + Send + Sync>;

impl Pool {
    /// A pool of `threads` workers (0 = available cores).
    pub fn new(threads: usize) -> Pool {
        let threads = if threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            threads
        };
        let rayon = (threads > 1).then(|| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .thread_name(|i| format!("claim-pool-{i}"))
                .build()
                .expect("build the rayon pool")
        });
        Pool {
            threads,
            rayon,
            halt: Halt::Never,
            chunk: None,
            timeout: None,
            task_times: false,
            progress: None,
            totals: Mutex::default(),
        }
    }

    /// Number of workers.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Set the halt policy.
    pub fn halt(mut self, halt: Halt) -> Self {
        self.halt = halt;
        self
    }

    /// Fix the chunk size (items handed to a worker at a time) instead of choosing it.
    pub fn chunk_size(mut self, chunk: usize) -> Self {
        self.chunk = Some(chunk.max(1));
        self
    }

    /// Report tasks that run longer than `timeout` as timed out (their results are discarded;
    /// a running task cannot be killed safely inside a thread).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Time every task, for the slowest-task list of [`Insights`] (off by default: two clock
    /// reads per task are most of the cost of a tiny task; busy time is measured per chunk).
    pub fn task_times(mut self, on: bool) -> Self {
        self.task_times = on;
        self
    }

    /// Call `f(finished, total)` after every chunk of every map (the caller draws a bar). Counted
    /// per chunk, not per task: a counter that every task bumps is a cache line all the cores
    /// fight over, and a `par_map` should touch none per element (issue 19); chunks are about
    /// 1/16 of a worker's share, fine enough for a bar.
    pub fn on_progress(mut self, f: impl Fn(usize, usize) + Send + Sync + 'static) -> Self {
        self.progress = Some(Box::new(f));
        self
    }

    /// Insights added up over every map run so far: per worker tasks, busy, idle and init
    /// time; the slowest tasks (with [`Pool::task_times`]); the summed wall time of the maps.
    pub fn insights(&self) -> Insights {
        unpoison(self.totals.lock()).clone()
    }

    fn chunk_for(&self, n: usize) -> usize {
        // About 16 chunks per worker: a worker that finishes early steals whole chunks, so the
        // last one left running is at most 1/16 of a worker's share (4 per worker lost up to a
        // quarter of the speedup on 64 heavy tasks); per-chunk costs are a few locks and clock
        // reads, nothing next to thousands of tiny tasks.
        self.chunk
            .unwrap_or_else(|| (n / (self.threads * 16)).max(1))
    }

    /// Ordered map. `Err` holds every failed task (with its index); successes are dropped then.
    pub fn map<T, R, E, F>(&self, items: &[T], f: F) -> Result<Vec<R>, Vec<TaskError>>
    where
        T: Sync,
        R: Send,
        E: std::fmt::Display,
        F: Fn(usize, &T) -> Result<R, E> + Sync,
    {
        self.map_with_state(items, || (), |_, i, x| f(i, x))
            .map(|(out, _, _)| out)
    }

    /// Ordered map with per-worker state: `init` runs once per worker thread, and each task gets
    /// that worker's state (MPIRE's `worker_init` + `worker_state`). Returns the results, every
    /// worker's final state (apply an exit hook to them; MPIRE's `worker_exit`), and insights.
    pub fn map_with_state<T, R, E, S, I, F>(
        &self,
        items: &[T],
        init: I,
        f: F,
    ) -> Result<(Vec<R>, Vec<S>, Insights), Vec<TaskError>>
    where
        T: Sync,
        R: Send,
        E: std::fmt::Display,
        S: Send,
        I: Fn() -> S + Sync,
        F: Fn(&mut S, usize, &T) -> Result<R, E> + Sync,
    {
        let started = Instant::now();
        let slots = self.threads.max(rayon::current_num_threads()) + 1;
        let shared = Shared {
            pool: self,
            init,
            f,
            states: (0..slots).map(|_| Mutex::new(None)).collect(),
            insights: (0..slots).map(|_| Mutex::default()).collect(),
            failed: Mutex::default(),
            errors: AtomicUsize::new(0),
            halted: AtomicBool::new(false),
            timings: Mutex::default(),
            finished: AtomicUsize::new(0),
            total: items.len(),
        };
        let chunk = self.chunk_for(items.len());
        let chunks = items.chunks(chunk).enumerate().map(|(c, s)| (c * chunk, s));
        // Each chunk returns its successes (no per-task `Result` to store and unpack again) and
        // files its errors apart; rayon's collect concatenates the successes in chunk order.
        let run = |(first, slice)| {
            ChunkRun {
                shared: &shared,
                first,
                slice,
            }
            .run()
        };
        let out: Vec<R> = match &self.rayon {
            Some(pool) if !inside_rayon() => pool.install(|| {
                let chunks: Vec<_> = chunks.collect();
                chunks.into_par_iter().flat_map_iter(run).collect()
            }),
            Some(_) => {
                let chunks: Vec<_> = chunks.collect();
                chunks.into_par_iter().flat_map_iter(run).collect()
            }
            None => chunks.flat_map(run).collect(),
        };
        shared.finish(out, started.elapsed())
    }

    /// Unordered map: results as `(index, value)` in completion order.
    pub fn map_unordered<T, R, E, F>(
        &self,
        items: &[T],
        f: F,
    ) -> Result<Vec<(usize, R)>, Vec<TaskError>>
    where
        T: Sync,
        R: Send,
        E: std::fmt::Display,
        F: Fn(usize, &T) -> Result<R, E> + Sync,
    {
        let done = Mutex::new(Vec::with_capacity(items.len()));
        self.map(items, |i, x| {
            let v = f(i, x)?;
            done.lock().unwrap_or_else(|e| e.into_inner()).push(i);
            Ok::<_, E>(v)
        })
        .map(|values| {
            let order = done.into_inner().unwrap_or_default();
            let mut slots: Vec<Option<R>> = values.into_iter().map(Some).collect();
            order
                .into_iter()
                .map(|i| (i, slots[i].take().expect("each index once")))
                .collect()
        })
    }

    /// Run `f` on every item; errors are collected like `map`'s.
    pub fn for_each<T, E, F>(&self, items: &[T], f: F) -> Result<(), Vec<TaskError>>
    where
        T: Sync,
        E: std::fmt::Display,
        F: Fn(usize, &T) -> Result<(), E> + Sync,
    {
        self.map(items, f).map(|_| ())
    }

    /// Streaming map over a lazy iterator, with at most `max_active` tasks in flight (a memory
    /// guard: the iterator is not consumed further ahead). Results arrive in input order to
    /// `sink`; returns the errors.
    pub fn imap<T, R, E, F, S>(
        &self,
        items: impl Iterator<Item = T>,
        max_active: usize,
        f: F,
        mut sink: S,
    ) -> Vec<TaskError>
    where
        T: Send,
        R: Send,
        E: std::fmt::Display,
        F: Fn(usize, T) -> Result<R, E> + Sync,
        S: FnMut(usize, R),
    {
        let max_active = max_active.max(1);
        let mut errors = Vec::new();
        let mut items = items.enumerate().peekable();
        while let Some(&(first, _)) = items.peek() {
            let batch: Vec<Mutex<Option<(usize, T)>>> = items
                .by_ref()
                .take(max_active)
                .map(|x| Mutex::new(Some(x)))
                .collect();
            let results = self.map(&batch, |_, cell| {
                let (i, x) = unpoison(cell.lock()).take().expect("taken once");
                f(i, x).map(|r| (i, r))
            });
            match results {
                Ok(values) => values.into_iter().for_each(|(i, r)| sink(i, r)),
                // The batch is consecutive items from `first`: a task's position in the batch
                // plus `first` is its position in `items`.
                Err(errs) => errors.extend(errs.into_iter().map(|e| TaskError {
                    index: first + e.index,
                    ..e
                })),
            }
        }
        errors
    }

    /// Drive items through a claim ledger: each item is claimed by key (`key(item)`), processed,
    /// and marked done or failed with the error. Items others hold or finished are skipped.
    pub fn for_each_claimed<T, E, K, F>(
        &self,
        ledger: &claim_core::Ledger,
        items: &[T],
        key: K,
        f: F,
    ) -> Result<usize, claim_core::Error>
    where
        T: Sync,
        E: std::fmt::Display,
        K: Fn(&T) -> String + Sync,
        F: Fn(&T) -> Result<(), E> + Sync,
    {
        let processed = AtomicUsize::new(0);
        let failure: Mutex<Option<claim_core::Error>> = Mutex::new(None);
        let _ = self.for_each(items, |_, item| {
            let claim = match ledger.claim(&key(item)) {
                Ok(claim_core::Claimed::Won(c)) => c,
                Ok(_) => return Ok(()),
                Err(e) => {
                    *failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                    return Err("ledger error".to_string());
                }
            };
            processed.fetch_add(1, Ordering::Relaxed);
            let outcome = match catch_unwind(AssertUnwindSafe(|| f(item))) {
                Ok(Ok(())) => claim.done(),
                Ok(Err(e)) => claim.fail(&e.to_string()),
                Err(panic) => claim.fail(&panic_message(panic)),
            };
            outcome.map_err(|e| e.to_string())
        });
        match failure.into_inner().unwrap_or(None) {
            Some(e) => Err(e),
            None => Ok(processed.into_inner()),
        }
    }
}

fn inside_rayon() -> bool {
    rayon::current_thread_index().is_some()
}

fn panic_message(panic: Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into())
}

/// What the chunks of one map share: the task, the per-worker states and numbers, the errors.
struct Shared<'p, S, I, F> {
    pool: &'p Pool,
    init: I,
    f: F,
    /// One state per worker thread (plus one for a caller outside the pool).
    states: Vec<Mutex<Option<S>>>,
    insights: Vec<Mutex<WorkerInsight>>,
    failed: Mutex<Vec<TaskError>>,
    errors: AtomicUsize,
    halted: AtomicBool,
    timings: Mutex<Vec<(usize, Duration)>>,
    /// Tasks finished, for the progress callback.
    finished: AtomicUsize,
    total: usize,
}

impl<S, I, F> Shared<'_, S, I, F> {
    fn slot(&self) -> usize {
        let last = self.states.len() - 1;
        rayon::current_thread_index().map_or(last, |i| i.min(last - 1))
    }

    /// Count an error (of the watched loop); sets `halted` when the halt policy says stop.
    fn count_error(&self) {
        let n = self.errors.fetch_add(1, Ordering::Relaxed) + 1;
        let stop = match self.pool.halt {
            Halt::Never => false,
            Halt::OnFirstError => true,
            Halt::AfterErrors(max) => n >= max,
        };
        if stop {
            self.halted.store(true, Ordering::Relaxed);
        }
    }

    fn note_errors(&self, mut errs: Vec<TaskError>) {
        unpoison(self.failed.lock()).append(&mut errs);
    }

    fn finish<R>(
        self,
        out: Vec<R>,
        wall: Duration,
    ) -> Result<(Vec<R>, Vec<S>, Insights), Vec<TaskError>> {
        let mut slowest = unpoison(self.timings.into_inner());
        slowest.sort_by_key(|s| std::cmp::Reverse(s.1));
        slowest.truncate(5);
        let workers: Vec<WorkerInsight> = self
            .insights
            .into_iter()
            .enumerate()
            .map(|(worker, m)| {
                let w = unpoison(m.into_inner());
                let idle = wall.saturating_sub(w.busy + w.init);
                WorkerInsight { worker, idle, ..w }
            })
            .filter(|w| w.tasks > 0)
            .collect();
        let insights = Insights {
            workers,
            slowest,
            wall,
        };
        unpoison(self.pool.totals.lock()).add(&insights);
        let mut failed = unpoison(self.failed.into_inner());
        if !failed.is_empty() {
            failed.sort_by_key(|e| e.index);
            return Err(failed);
        }
        let states = self
            .states
            .into_iter()
            .filter_map(|m| unpoison(m.into_inner()))
            .collect();
        Ok((out, states, insights))
    }
}

impl Insights {
    /// Add another map's numbers to these.
    fn add(&mut self, other: &Insights) {
        for w in &other.workers {
            match self.workers.iter_mut().find(|m| m.worker == w.worker) {
                Some(mine) => {
                    mine.tasks += w.tasks;
                    mine.busy += w.busy;
                    mine.idle += w.idle;
                    mine.init += w.init;
                }
                None => self.workers.push(w.clone()),
            }
        }
        self.workers.sort_by_key(|w| w.worker);
        self.slowest.extend(&other.slowest);
        self.slowest.sort_by_key(|s| std::cmp::Reverse(s.1));
        self.slowest.truncate(5);
        self.wall += other.wall;
    }
}

/// One chunk's tasks on one worker: takes the worker's state, runs the tasks in order, and
/// gives the state back with the chunk's numbers; successes are returned, errors filed.
struct ChunkRun<'s, 'p, T, S, I, F> {
    shared: &'s Shared<'p, S, I, F>,
    first: usize,
    slice: &'s [T],
}

impl<T, S, I, F> ChunkRun<'_, '_, T, S, I, F> {
    fn run<R, E>(self) -> Vec<R>
    where
        E: std::fmt::Display,
        I: Fn() -> S,
        F: Fn(&mut S, usize, &T) -> Result<R, E>,
    {
        let shared = self.shared;
        let slot = shared.slot();
        // Take the state out rather than hold its lock: a nested map inside a task may make
        // this thread steal another chunk of this map (rayon), which must not deadlock.
        let taken = unpoison(shared.states[slot].lock()).take();
        let mut me = WorkerInsight::default();
        let mut state = taken.unwrap_or_else(|| {
            let t0 = Instant::now();
            let s = (shared.init)();
            me.init = t0.elapsed();
            s
        });
        let started = Instant::now();
        let mut out = Vec::with_capacity(self.slice.len());
        let mut errs = Vec::new();
        let pool = shared.pool;
        let watched = pool.task_times || pool.timeout.is_some();
        me.tasks = if watched || pool.halt != Halt::Never {
            self.watched(&mut state, &mut out, &mut errs)
        } else {
            self.plain(&mut state, &mut out, &mut errs);
            self.slice.len()
        };
        me.busy = started.elapsed();
        if let Some(progress) = &pool.progress {
            let before = shared
                .finished
                .fetch_add(self.slice.len(), Ordering::Relaxed);
            progress(before + self.slice.len(), shared.total);
        }
        {
            let mut total = unpoison(shared.insights[slot].lock());
            total.tasks += me.tasks;
            total.busy += me.busy;
            total.init += me.init;
        }
        let mut back = unpoison(shared.states[slot].lock());
        if back.is_none() {
            *back = Some(state);
        }
        drop(back);
        if !errs.is_empty() {
            shared.note_errors(errs);
        }
        out
    }

    /// Nothing timed, nothing can halt: one unwind guard around the loop, entered again after
    /// a panic at the next item — the same per-task outcomes as a guard per task, at the cost
    /// of a plain loop.
    fn plain<R, E>(&self, state: &mut S, out: &mut Vec<R>, errs: &mut Vec<TaskError>)
    where
        E: std::fmt::Display,
        F: Fn(&mut S, usize, &T) -> Result<R, E>,
    {
        let f = &self.shared.f;
        // Every finished task pushed exactly one success or error, so their count says where
        // to go on after a panic.
        let mut next = 0;
        while next < self.slice.len() {
            let start = next;
            let run = catch_unwind(AssertUnwindSafe(|| {
                for (k, item) in self.slice[start..].iter().enumerate() {
                    let index = self.first + start + k;
                    match f(state, index, item) {
                        Ok(v) => out.push(v),
                        Err(e) => errs.push(TaskError::failed(index, e)),
                    }
                }
            }));
            if let Err(panic) = run {
                let at = out.len() + errs.len();
                errs.push(TaskError::panicked(self.first + at, panic));
            }
            next = out.len() + errs.len();
        }
    }

    /// A guard and the halt/timeout checks per task. Returns how many tasks
    /// ran (the rest were not started: the pool halted).
    fn watched<R, E>(&self, state: &mut S, out: &mut Vec<R>, errs: &mut Vec<TaskError>) -> usize
    where
        E: std::fmt::Display,
        F: Fn(&mut S, usize, &T) -> Result<R, E>,
    {
        let shared = self.shared;
        let pool = shared.pool;
        let timed = pool.task_times || pool.timeout.is_some();
        let mut ran = 0;
        for (k, item) in self.slice.iter().enumerate() {
            let index = self.first + k;
            if shared.halted.load(Ordering::Relaxed) {
                errs.push(TaskError::not_run(index));
                continue;
            }
            ran += 1;
            let t = timed.then(Instant::now);
            let mut result = match catch_unwind(AssertUnwindSafe(|| (shared.f)(state, index, item)))
            {
                Ok(Ok(v)) => Ok(v),
                Ok(Err(e)) => Err(TaskError::failed(index, e)),
                Err(panic) => Err(TaskError::panicked(index, panic)),
            };
            if let Some(t) = t {
                let took = t.elapsed();
                if let (Ok(_), Some(limit)) = (&result, pool.timeout)
                    && took > limit
                {
                    result = Err(TaskError::timed_out(index, took, limit));
                }
                if took > Duration::from_micros(100) {
                    unpoison(shared.timings.lock()).push((index, took));
                }
            }
            match result {
                Ok(v) => out.push(v),
                Err(e) => {
                    shared.count_error();
                    errs.push(e);
                }
            }
        }
        ran
    }
}

impl TaskError {
    fn failed(index: usize, e: impl std::fmt::Display) -> TaskError {
        TaskError {
            index,
            failure: Failure::Failed(e.to_string()),
        }
    }

    fn panicked(index: usize, panic: Box<dyn std::any::Any + Send>) -> TaskError {
        TaskError {
            index,
            failure: Failure::Panicked(panic_message(panic)),
        }
    }

    fn not_run(index: usize) -> TaskError {
        TaskError {
            index,
            failure: Failure::NotRun,
        }
    }

    fn timed_out(index: usize, took: Duration, limit: Duration) -> TaskError {
        TaskError {
            index,
            failure: Failure::TimedOut { took, limit },
        }
    }
}

/// A lock or value whose holder panicked is still usable here: tasks' panics are caught and
/// reported, and every value behind these locks stays consistent between statements.
fn unpoison<G>(r: Result<G, std::sync::PoisonError<G>>) -> G {
    r.unwrap_or_else(|e| e.into_inner())
}
