//! The ledger: a state directory, the identity of this process, and the claim operation.

use crate::claim::Claim;
use crate::error::{Error, IoContext, Result};
use crate::heartbeat::Heartbeat;
use crate::identity::{self, ProcessIdentity};
use crate::key;
use crate::record::ClaimRecord;
use crate::stale::Observer;
use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// The format marker written to `<state>/FORMAT`.
pub const FORMAT: &str = "claim-ledger 1\n";

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

/// The subdirectories of a state directory.
#[derive(Debug)]
pub(crate) struct Dirs {
    pub root: PathBuf,
    pub claims: PathBuf,
    pub done: PathBuf,
    pub failed: PathBuf,
    pub bounds: PathBuf,
    pub lists: PathBuf,
    pub tmp: PathBuf,
}

impl Dirs {
    fn new(root: &Path) -> Self {
        Dirs {
            root: root.to_path_buf(),
            claims: root.join("claims"),
            done: root.join("done"),
            failed: root.join("failed"),
            bounds: root.join("bounds"),
            lists: root.join("lists"),
            tmp: root.join("tmp"),
        }
    }

    fn all(&self) -> [&Path; 6] {
        [
            &self.claims,
            &self.done,
            &self.failed,
            &self.bounds,
            &self.lists,
            &self.tmp,
        ]
    }
}

/// One directory read of the finished items: names in `done/` and `failed/`.
#[derive(Default)]
pub(crate) struct Snapshot {
    pub done: HashSet<String>,
    pub failed: HashSet<String>,
}

pub(crate) struct Shared {
    pub dirs: Dirs,
    pub me: ProcessIdentity,
    pub lease: Duration,
    pub retry_failed: bool,
    pub heartbeat: Heartbeat,
    pub observer: Observer,
    pub snapshot: RwLock<Snapshot>,
    /// Ends of block starts this process has learned (`bounds/` is immutable, so they never change).
    pub bounds_cache: RwLock<HashMap<String, u64>>,
    seq: AtomicU64,
    token: String,
}

/// A claim ledger on a state directory. Cheap to clone; clones share the heartbeat thread, the
/// finished-items snapshot and the staleness observations. Each clone carries a worker id.
#[derive(Clone)]
pub struct Ledger {
    pub(crate) shared: Arc<Shared>,
    pub(crate) worker: u32,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("root", &self.shared.dirs.root)
            .field("worker", &self.worker)
            .finish()
    }
}

impl Ledger {
    /// Open (creating if needed) the ledger in `root`.
    pub fn open(root: impl AsRef<Path>, options: LedgerOptions) -> Result<Ledger> {
        if options.lease < Duration::from_millis(100) {
            return Err(Error::Invalid(format!(
                "lease {:?} is too short: use at least one second",
                options.lease
            )));
        }
        let dirs = Dirs::new(root.as_ref());
        prepare(&dirs)?;
        let me = ProcessIdentity::current(&options.host);
        let token = identity::new_token(&me);
        let shared = Shared {
            heartbeat: Heartbeat::new(options.lease / 4),
            observer: Observer::default(),
            snapshot: RwLock::default(),
            bounds_cache: RwLock::default(),
            seq: AtomicU64::new(0),
            lease: options.lease,
            retry_failed: options.retry_failed,
            dirs,
            me,
            token,
        };
        let ledger = Ledger {
            shared: Arc::new(shared),
            worker: 0,
        };
        ledger.refresh()?;
        Ok(ledger)
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
        &self.shared.dirs.root
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

    /// Re-read the done and failed sets (one directory read each).
    pub fn refresh(&self) -> Result<()> {
        let dirs = &self.shared.dirs;
        let fresh = Snapshot {
            done: list_names(&dirs.done)?,
            failed: list_names(&dirs.failed)?,
        };
        *self
            .shared
            .snapshot
            .write()
            .unwrap_or_else(|e| e.into_inner()) = fresh;
        Ok(())
    }

    /// Try to claim `key`. Exactly one worker anywhere wins a given key until it is released.
    pub fn claim(&self, key: &str) -> Result<Claimed> {
        let name = key::file_name(key);
        if let Some(finished) = self.known_finished(&name) {
            return Ok(finished);
        }
        self.claim_name(key, &name, None)
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

    /// The state of `key` from the snapshot, if finished.
    pub(crate) fn known_finished(&self, name: &str) -> Option<Claimed> {
        let snapshot = self
            .shared
            .snapshot
            .read()
            .unwrap_or_else(|e| e.into_inner());
        if snapshot.done.contains(name) {
            Some(Claimed::Done)
        } else if !self.shared.retry_failed && snapshot.failed.contains(name) {
            Some(Claimed::Failed)
        } else {
            None
        }
    }

    /// Whether any claim file exists (held, or left by a dead worker): one directory read, for
    /// callers that poll until others are finished, where a full [`status`](Self::status) would
    /// read every done record each time.
    pub fn any_claims(&self) -> Result<bool> {
        let dir = &self.shared.dirs.claims;
        let mut entries = std::fs::read_dir(dir).ctx("read state directory", dir)?;
        Ok(entries.next().is_some())
    }

    /// Whether `key` is done right now (asks the filesystem, not the snapshot).
    pub fn is_done(&self, key: &str) -> bool {
        self.shared.dirs.done.join(key::file_name(key)).exists()
    }

    /// Claim the file `name` for `key`; `block` carries a block's range.
    pub(crate) fn claim_name(
        &self,
        key: &str,
        name: &str,
        block: Option<crate::record::BlockRecord>,
    ) -> Result<Claimed> {
        for _attempt in 0..4 {
            let record = self.new_record(key, block.clone(), None);
            match self.create_claim(name, &record)? {
                Some(file) => return self.after_win(key, name, file, record),
                None => match self.shared.observer.judge(self, name)? {
                    crate::stale::Verdict::Alive => return Ok(Claimed::Busy),
                    crate::stale::Verdict::Gone => continue,
                    crate::stale::Verdict::Stale(seen) => {
                        let Some(from) = self.take_over(name, &seen)? else {
                            return Ok(Claimed::Busy);
                        };
                        let record = self.new_record(key, block.clone(), Some(from));
                        return match self.create_claim(name, &record)? {
                            Some(file) => self.after_win(key, name, file, record),
                            None => Ok(Claimed::Busy),
                        };
                    }
                },
            }
        }
        Ok(Claimed::Busy)
    }

    pub(crate) fn new_record(
        &self,
        key: &str,
        block: Option<crate::record::BlockRecord>,
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

    /// `O_CREAT|O_EXCL` the claim file and write the record; `None` if it exists.
    fn create_claim(&self, name: &str, record: &ClaimRecord) -> Result<Option<File>> {
        let path = self.shared.dirs.claims.join(name);
        let mut file = match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == ErrorKind::AlreadyExists => return Ok(None),
            Err(e) => return Err(e).ctx("create claim", path),
        };
        if let Err(e) = file.write_all(&record.to_bytes()) {
            // Do not leave an empty claim behind (a full disk, say): nothing was won.
            let _ = std::fs::remove_file(&path);
            return Err(e).ctx("write claim", path);
        }
        Ok(Some(file))
    }

    /// After creating the claim file: make sure the item was not finished meanwhile.
    fn after_win(&self, key: &str, name: &str, file: File, record: ClaimRecord) -> Result<Claimed> {
        let dirs = &self.shared.dirs;
        let published = record.published_name(name);
        let finished = if dirs.done.join(&published).exists() {
            Some(Claimed::Done)
        } else if !self.shared.retry_failed && dirs.failed.join(&published).exists() {
            Some(Claimed::Failed)
        } else {
            None
        };
        if let Some(finished) = finished {
            let path = dirs.claims.join(name);
            // Cleanup may already have removed this claim on a finished item: that is fine.
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != ErrorKind::NotFound => {
                    return Err(e).ctx("remove claim", path);
                }
                _ => {}
            }
            self.remember_finished(&published, matches!(finished, Claimed::Done));
            return Ok(finished);
        }
        Ok(Claimed::Won(Claim::new(
            self.clone(),
            key,
            name,
            file,
            record,
        )?))
    }

    pub(crate) fn remember_finished(&self, name: &str, done: bool) {
        let mut snapshot = self
            .shared
            .snapshot
            .write()
            .unwrap_or_else(|e| e.into_inner());
        if done {
            snapshot.done.insert(name.to_string());
            snapshot.failed.remove(name);
        } else {
            snapshot.failed.insert(name.to_string());
        }
    }

    /// A fresh private path in `tmp/` (never a claim name, so scans ignore it).
    pub(crate) fn private_path(&self, what: &str) -> PathBuf {
        let n = self.shared.seq.fetch_add(1, Ordering::Relaxed);
        self.shared
            .dirs
            .tmp
            .join(format!("{what}-{}-{n}", self.shared.token))
    }
}

fn prepare(dirs: &Dirs) -> Result<()> {
    let marker = dirs.root.join("FORMAT");
    match std::fs::read_to_string(&marker) {
        Ok(text) if text == FORMAT => {}
        Ok(text) => {
            return Err(Error::NotALedger {
                path: dirs.root.clone(),
                detail: format!(
                    "FORMAT says {:?}, expected {:?}",
                    text.trim(),
                    FORMAT.trim()
                ),
            });
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {
            std::fs::create_dir_all(&dirs.root).ctx("create state directory", &dirs.root)?;
            crate::atomic_write(&marker, FORMAT.as_bytes())?;
        }
        Err(e) => return Err(e).ctx("read", marker),
    }
    for dir in dirs.all() {
        std::fs::create_dir_all(dir).ctx("create state directory", dir)?;
    }
    Ok(())
}

/// The names in `dir` (one directory read).
pub(crate) fn list_names(dir: &Path) -> Result<HashSet<String>> {
    let entries = std::fs::read_dir(dir).ctx("read state directory", dir)?;
    let mut names = HashSet::new();
    for entry in entries {
        let entry = entry.ctx("read state directory", dir)?;
        if let Ok(name) = entry.file_name().into_string() {
            names.insert(name);
        }
    }
    Ok(names)
}
