//! The ledger: the front door. A state directory, the identity of this process, and what it
//! knows of every item; claiming one item at a time lives here too (blocks in [`crate::block`]).

use crate::claim::{Claim, Place};
use crate::error::{Error, IoContext, Result};
use crate::heartbeat::Heartbeat;
use crate::identity::{self, ProcessIdentity};
use crate::index::Index;
use crate::key::{self, ItemId};
use crate::record::{BlockRecord, ClaimRecord};
use crate::stale::{Observer, Verdict};
use crate::store::Store;
use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How a ledger is opened.
#[derive(Debug, Clone)]
pub struct LedgerOptions {
    /// How long a holder may go without a heartbeat before others may take its claims over.
    /// Heartbeats are sent every quarter lease.
    pub lease: Duration,
    /// Host name written into claims (`CLAIMSH_HOST` in claimsh).
    pub host: String,
    /// Claim items whose last attempt failed instead of skipping them.
    pub retry_failed: bool,
}

impl Default for LedgerOptions {
    fn default() -> Self {
        LedgerOptions {
            lease: Duration::from_secs(60),
            host: identity::kernel_host_name(),
            retry_failed: false,
        }
    }
}

/// The answer to [`Ledger::claim`].
// A won claim is moved once per item into the caller's hands; boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Claimed {
    /// This worker holds the item now.
    Won(Claim),
    /// The item is done (or its output file exists).
    Done,
    /// The item failed before and failed items are not retried.
    Failed,
    /// Another live worker holds the item.
    Busy,
}

impl Claimed {
    /// The claim, when won.
    pub fn won(self) -> Option<Claim> {
        match self {
            Claimed::Won(claim) => Some(claim),
            _ => None,
        }
    }
}

pub(crate) struct Shared {
    pub store: Store,
    pub me: ProcessIdentity,
    pub lease: Duration,
    pub retry_failed: bool,
    pub heartbeat: Heartbeat,
    pub observer: Observer,
    pub index: Mutex<Index>,
    /// Items held by claims of this process (alone or in blocks): its workers learn of each
    /// other's items here, without a file operation.
    pub held: Mutex<HashSet<ItemId>>,
    /// Bumped (and waiters woken) whenever a claim of this process ends.
    changes: (Mutex<u64>, Condvar),
}

/// A claim ledger on a state directory. Cheap to clone; clones share the heartbeat thread, what
/// is known of the items and the staleness observations. Each clone carries a worker id.
#[derive(Clone)]
pub struct Ledger {
    pub(crate) shared: Arc<Shared>,
    pub(crate) worker: u32,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("root", &self.shared.store.root)
            .field("worker", &self.worker)
            .finish()
    }
}

impl Ledger {
    /// Open (creating if needed) the ledger in `root`. A state directory of another format is
    /// refused with a message that says what to do.
    pub fn open(root: impl AsRef<Path>, options: LedgerOptions) -> Result<Ledger> {
        if options.lease < Duration::from_millis(100) {
            return Err(Error::Invalid(format!(
                "lease {:?} is too short: use at least 100 ms (seconds in practice)",
                options.lease
            )));
        }
        let me = ProcessIdentity::current(&options.host);
        let store = Store::open(root.as_ref(), identity::new_token(&me))?;
        let shared = Shared {
            store,
            heartbeat: Heartbeat::new(options.lease / 4),
            observer: Observer::default(),
            index: Mutex::default(),
            held: Mutex::default(),
            changes: Default::default(),
            lease: options.lease,
            retry_failed: options.retry_failed,
            me,
        };
        let ledger = Ledger {
            shared: Arc::new(shared),
            worker: 0,
        };
        ledger.refresh()?;
        Ok(ledger)
    }

    /// Remove the state directory `root` entirely, whatever its format (`claimsh cleanup
    /// --all`). Refuses a directory that holds no ledger marker, so a mistyped path is safe.
    pub fn remove_all(root: impl AsRef<Path>) -> Result<()> {
        let root = root.as_ref();
        let marker = std::fs::read_to_string(root.join("FORMAT")).unwrap_or_default();
        if !marker.starts_with("claim-ledger") {
            return Err(Error::NotALedger {
                path: root.to_path_buf(),
                detail: "no FORMAT file saying claim-ledger: not removed".into(),
            });
        }
        std::fs::remove_dir_all(root).ctx("remove state directory", root)
    }

    /// The same ledger, for worker `worker` of this process.
    pub fn for_worker(&self, worker: u32) -> Ledger {
        Ledger {
            shared: self.shared.clone(),
            worker,
        }
    }

    /// The state directory.
    pub fn root(&self) -> &Path {
        &self.shared.store.root
    }

    /// The lease.
    pub fn lease(&self) -> Duration {
        self.shared.lease
    }

    /// This process's identity as written into claims.
    pub fn identity(&self) -> &ProcessIdentity {
        &self.shared.me
    }

    /// This clone's worker id.
    pub fn worker(&self) -> u32 {
        self.worker
    }

    pub(crate) fn index(&self) -> MutexGuard<'_, Index> {
        self.shared.index.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn held(&self) -> MutexGuard<'_, HashSet<ItemId>> {
        self.shared.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Re-read what is done, failed and held (a directory listing each; records only for names
    /// not seen before).
    pub fn refresh(&self) -> Result<()> {
        self.index().refresh(&self.shared.store)
    }

    /// Try to claim `key`. Exactly one worker anywhere holds a given key at a time, whether it
    /// claims it alone or inside a block of a list; an item done either way is [`Claimed::Done`].
    pub fn claim(&self, key: &str) -> Result<Claimed> {
        let id = ItemId::of(key);
        if let Some(finished) = self.known_finished(id) {
            return Ok(finished);
        }
        // Reserve the item in this process first: a sibling worker then sees it held without
        // touching the filesystem, even while this claim is still being made.
        if !self.held().insert(id) {
            return Ok(Claimed::Busy);
        }
        let answer = self.claim_on_disk(key, id);
        if !matches!(answer, Ok(Claimed::Won(_))) {
            self.held().remove(&id);
        }
        answer
    }

    fn claim_on_disk(&self, key: &str, id: ItemId) -> Result<Claimed> {
        let name = key::file_name(key);
        for _attempt in 0..4 {
            let record = self.new_record(key, None, None);
            let path = self.shared.store.claims.join(&name);
            if let Some(file) = self.shared.store.create_exclusive(&path, &record)? {
                return self.after_win(id, Place::Item(name), file, record);
            }
            match self.shared.observer.judge(self, &path)? {
                Verdict::Alive => return Ok(Claimed::Busy),
                Verdict::Gone => continue,
                Verdict::Stale(seen) => {
                    let Some(from) = self.take_over(&path, &seen)? else {
                        return Ok(Claimed::Busy);
                    };
                    let record = self.new_record(key, None, Some(from));
                    return match self.shared.store.create_exclusive(&path, &record)? {
                        Some(file) => self.after_win(id, Place::Item(name), file, record),
                        None => Ok(Claimed::Busy),
                    };
                }
            }
        }
        Ok(Claimed::Busy)
    }

    /// Like [`claim`](Self::claim), but an existing `output` file means the item is done
    /// (MultiProcessTools' `final_file_name`). The file is checked again after winning, since
    /// another worker may have finished it meanwhile.
    pub fn claim_unless_exists(&self, key: &str, output: &Path) -> Result<Claimed> {
        if output.exists() {
            return Ok(Claimed::Done);
        }
        match self.claim(key)? {
            Claimed::Won(claim) if output.exists() => {
                claim.release()?;
                Ok(Claimed::Done)
            }
            other => Ok(other),
        }
    }

    /// What this process already knows finished about `id`.
    fn known_finished(&self, id: ItemId) -> Option<Claimed> {
        let index = self.index();
        if index.is_done(id) {
            Some(Claimed::Done)
        } else if !self.shared.retry_failed && index.is_failed(id) {
            Some(Claimed::Failed)
        } else {
            None
        }
    }

    /// After creating a per-item claim: make sure the item was not finished meanwhile, alone or
    /// in a block, and that no live block holds it. (A block's holder checks `claims/` after
    /// creating its block, so of two racing claimers at least one sees the other.)
    fn after_win(
        &self,
        id: ItemId,
        place: Place,
        file: std::fs::File,
        record: ClaimRecord,
    ) -> Result<Claimed> {
        let store = &self.shared.store;
        let Place::Item(name) = &place else {
            unreachable!("blocks are checked by their walker")
        };
        // A failure is linked into `done/` too (after `failed/`), so one `stat` answers both;
        // `failed/` is looked at only when something is there.
        let answer = if !store.exists(&store.done.join(name))? {
            self.block_answer(id)?
        } else if !store.exists(&store.failed.join(name))? {
            Some(Claimed::Done)
        } else if self.shared.retry_failed {
            self.block_answer(id)?
        } else {
            Some(Claimed::Failed)
        };
        if let Some(answer) = answer {
            // Nobody else can hold a claim created microseconds ago: remove it directly.
            store.remove(&store.claims.join(name), "remove claim")?;
            if let Claimed::Done | Claimed::Failed = answer {
                self.index().note_item(id, matches!(answer, Claimed::Done));
            }
            return Ok(answer);
        }
        let claim = Claim::new(self.clone(), &record.key.clone(), place, file, record);
        Ok(Claimed::Won(claim))
    }

    /// The answer blocks give for `id`: done or failed in a finished block, busy in a live one.
    fn block_answer(&self, id: ItemId) -> Result<Option<Claimed>> {
        let store = &self.shared.store;
        let mut index = self.index();
        index.refresh_blocks(store)?;
        Ok(if index.is_done(id) {
            Some(Claimed::Done)
        } else if index.live_block(id).is_some() {
            Some(Claimed::Busy)
        } else if !self.shared.retry_failed && index.is_failed(id) {
            Some(Claimed::Failed)
        } else {
            None
        })
    }

    /// Whether every key is done, alone or in blocks (re-reads the ledger).
    pub fn all_done<'a>(&self, keys: impl IntoIterator<Item = &'a str>) -> Result<bool> {
        self.refresh()?;
        let index = self.index();
        Ok(keys.into_iter().all(|k| index.is_done(ItemId::of(k))))
    }

    /// Whether `key` is done right now (re-reads the ledger; false if it cannot be read).
    pub fn is_done(&self, key: &str) -> bool {
        self.all_done([key]).unwrap_or(false)
    }

    /// Whether any claim is live (held, or left by a dead worker), alone or as a block: one
    /// listing each of `claims/` and `blocks/`.
    pub fn any_claims(&self) -> Result<bool> {
        let store = &self.shared.store;
        if !store.names(&store.claims)?.is_empty() {
            return Ok(true);
        }
        let mut index = self.index();
        index.refresh_blocks(store)?;
        Ok(index.live_blocks().next().is_some())
    }

    /// Wait until a claim of this process ends or `timeout` passes. Workers of one process
    /// learn of each other's finished items this way, without polling the filesystem.
    pub fn wait_for_change(&self, timeout: Duration) {
        let (lock, signal) = &self.shared.changes;
        let deadline = Instant::now() + timeout;
        let mut seen = lock.lock().unwrap_or_else(|e| e.into_inner());
        let start = *seen;
        while *seen == start {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            seen = signal
                .wait_timeout(seen, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Wake [`wait_for_change`](Self::wait_for_change) waiters: a claim of this process ended.
    pub(crate) fn changed(&self) {
        let (lock, signal) = &self.shared.changes;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        signal.notify_all();
    }

    pub(crate) fn new_record(
        &self,
        key: &str,
        block: Option<BlockRecord>,
        taken_from: Option<String>,
    ) -> ClaimRecord {
        let me = &self.shared.me;
        ClaimRecord {
            key: key.to_string(),
            token: identity::new_token(me),
            host: me.host.clone(),
            boot_id: me.boot_id.clone(),
            pid: me.pid,
            pid_start: me.pid_start,
            pid_ns: me.pid_ns.clone(),
            worker: self.worker,
            started_unix_ms: identity::unix_millis(),
            lease_ms: self.shared.lease.as_millis() as u64,
            beat: 0,
            taken_from,
            reason: None,
            held_ms: None,
            block,
        }
    }
}
