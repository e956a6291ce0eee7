//! Judging whether another worker's claim is stale, and taking it over.
//!
//! A claim is stale when
//! 1. its holder ran on this host (same host name and boot id) and that process (pid + start
//!    time) is gone: decided at once; or
//! 2. its content (the heartbeat counter) has not changed while *this* process watched it for a
//!    whole lease, measured on this process's monotonic clock; or
//! 3. the file server's own clock says so (where a write advances a file's mtime, which the
//!    [`crate::probe`] checks): the claim file's mtime is more than a lease older than
//!    the mtime of a probe file this process just wrote. Both timestamps are stamped by the same
//!    clock (the server's, or this kernel's on a local disk), so neither worker's wall clock enters.
//!
//! No rule compares another machine's clock with ours, so a worker whose wall clock is hours off
//! neither steals live claims nor has its own stolen.

use crate::error::{IoContext, Result};
use crate::ledger::Ledger;
use crate::record::ClaimRecord;
use crate::store::{put_back, vanished};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

/// A claim file as seen at one moment.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub digest: u64,
    pub record: Option<ClaimRecord>,
    pub why: String,
}

/// The verdict on another worker's claim.
#[allow(clippy::large_enum_variant)] // short-lived, never stored
pub(crate) enum Verdict {
    /// The claim file is gone (finished or released meanwhile).
    Gone,
    /// The holder looks alive.
    Alive,
    /// The holder looks dead.
    Stale(Seen),
}

struct Watch {
    digest: u64,
    since: Instant,
}

/// Remembers, per claim file, since when (on our monotonic clock) we have seen it unchanged.
#[derive(Default)]
pub(crate) struct Observer {
    watched: Mutex<HashMap<PathBuf, Watch>>,
}

impl Observer {
    /// Judge the claim file at `path`.
    pub(crate) fn judge(&self, ledger: &Ledger, path: &Path) -> Result<Verdict> {
        let Some((seen, mtime)) = read_claim(path)? else {
            return Ok(Verdict::Gone);
        };
        let lease = seen
            .record
            .as_ref()
            .map(|r| Duration::from_millis(r.lease_ms))
            .unwrap_or(ledger.lease());
        if let Some(why) = self.stale_reason(ledger, path, &seen, mtime, lease)? {
            return Ok(Verdict::Stale(Seen { why, ..seen }));
        }
        Ok(Verdict::Alive)
    }

    fn stale_reason(
        &self,
        ledger: &Ledger,
        path: &Path,
        seen: &Seen,
        mtime: SystemTime,
        lease: Duration,
    ) -> Result<Option<String>> {
        let me = ledger.identity();
        if let Some(r) = &seen.record {
            if me.shares_pids_with(&r.host, &r.boot_id, &r.pid_ns)
                && !crate::identity::process_alive(r.pid, r.pid_start)
            {
                return Ok(Some(format!("holder {} is no longer running", r.holder())));
            }
            // Only trust mtime once the holder's record is readable: before its first write
            // reaches the server, an NFS exclusive create may leave a verifier in the mtime.
            // And only where a write advances it (the probe says so): elsewhere a heartbeat
            // would not show in it.
            let store = &ledger.shared.store;
            if store.probe.server_mtimes.ok
                && let Ok(age) = store.server_now()?.duration_since(mtime)
                && age > lease
            {
                return Ok(Some(format!(
                    "holder {} sent no heartbeat for {:.0}s by the file server's clock",
                    r.holder(),
                    age.as_secs_f64()
                )));
            }
        }
        let unchanged = self.unchanged_for(path, seen);
        if unchanged >= lease {
            let holder = seen.record.as_ref().map(ClaimRecord::holder);
            return Ok(Some(format!(
                "holder {} sent no heartbeat for {:.0}s as watched from {}",
                holder.as_deref().unwrap_or("(unreadable claim)"),
                unchanged.as_secs_f64(),
                me.host
            )));
        }
        Ok(None)
    }

    /// How long this process has seen `path` with this content.
    fn unchanged_for(&self, path: &Path, seen: &Seen) -> Duration {
        let mut watched = self.watched.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let watch = watched.entry(path.to_path_buf()).or_insert(Watch {
            digest: seen.digest,
            since: now,
        });
        if watch.digest != seen.digest {
            *watch = Watch {
                digest: seen.digest,
                since: now,
            };
        }
        now - watch.since
    }
}

/// Read a claim file: its content digest, record (if parseable) and mtime; `None` if it vanished
/// (finished or released since it was listed: news, not an error).
/// Every step can find the file gone: it was open, but its holder finished and deleted it (on
/// NFS a read or `fstat` then fails with ESTALE; on a FUSE passthrough with ENOENT).
pub(crate) fn read_claim(path: &Path) -> Result<Option<(Seen, SystemTime)>> {
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if vanished(&e) => return Ok(None),
        Err(e) => return Err(e).ctx("read claim", path),
    };
    let mut bytes = Vec::new();
    match file.read_to_end(&mut bytes) {
        Ok(_) => {}
        Err(e) if vanished(&e) => return Ok(None),
        Err(e) => return Err(e).ctx("read claim", path),
    }
    let mtime = match file.metadata().and_then(|m| m.modified()) {
        Ok(mtime) => mtime,
        Err(e) if vanished(&e) => return Ok(None),
        Err(e) => return Err(e).ctx("inspect claim", path),
    };
    let seen = Seen {
        digest: digest(&bytes),
        record: ClaimRecord::parse(&bytes),
        why: String::new(),
    };
    Ok(Some((seen, mtime)))
}

fn digest(bytes: &[u8]) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut hasher);
    hasher.finish()
}

impl Ledger {
    /// Take over the stale claim at `claim_path` seen as `seen`. Among many thieves exactly one
    /// wins the rename; the winner re-checks that it moved the very file it judged (same content,
    /// token and heartbeat included, so a holder that renewed meanwhile keeps its claim). Returns
    /// who it was taken from.
    pub(crate) fn take_over(&self, claim_path: &Path, seen: &Seen) -> Result<Option<String>> {
        let claim_path = claim_path.to_path_buf();
        let private = self.shared.store.private_path("steal");
        match std::fs::rename(&claim_path, &private) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).ctx("take over claim", claim_path),
        }
        let moved = read_claim(&private)?.map(|(s, _)| s);
        let same = moved.as_ref().is_some_and(|m| m.digest == seen.digest);
        if !same {
            put_back(&private, &claim_path);
            return Ok(None);
        }
        self.shared.store.remove(&private, "remove stale claim")?;
        let from = seen
            .record
            .as_ref()
            .map(ClaimRecord::holder)
            .unwrap_or_else(|| "an unreadable claim".into());
        Ok(Some(format!("{from} ({})", seen.why)))
    }
}
