//! A held claim and its transitions: done, fail, release.
//!
//! Every transition is fenced. The holder first renames the claim file to a private name (an
//! atomic step only one process can win), then checks that the inode it moved is the one it
//! created. Only then is the file renamed into `done/` or `failed/` (or deleted, for release).
//! If a thief took the claim over meanwhile, the moved inode is the thief's: it is put back and the
//! transition fails with [`Error::LostClaim`] instead of publishing.

use crate::error::{Error, IoContext, Result};
use crate::heartbeat::rewrite;
use crate::ledger::Ledger;
use crate::record::ClaimRecord;
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// A claim held by this worker. Dropping it without a transition releases it.
#[derive(Debug)]
pub struct Claim {
    ledger: Ledger,
    key: String,
    name: String,
    file: Arc<File>,
    inode: u64,
    record: ClaimRecord,
    heartbeat_id: u64,
    since: Instant,
    finished: bool,
}

/// Where a transition sends the claim file.
enum Outcome {
    Done,
    Failed,
    Released,
}

impl Claim {
    pub(crate) fn new(
        ledger: Ledger,
        key: &str,
        name: &str,
        file: File,
        record: ClaimRecord,
    ) -> Result<Claim> {
        let path = ledger.shared.dirs.claims.join(name);
        let inode = file.metadata().ctx("inspect claim", &path)?.ino();
        let file = Arc::new(file);
        let heartbeat_id = ledger
            .shared
            .heartbeat
            .register(file.clone(), record.clone());
        Ok(Claim {
            ledger,
            key: key.to_string(),
            name: name.to_string(),
            file,
            inode,
            record,
            heartbeat_id,
            since: Instant::now(),
            finished: false,
        })
    }

    /// The item key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The record written in the claim file.
    pub fn record(&self) -> &ClaimRecord {
        &self.record
    }

    /// `host:pid` of the holder this claim was taken over from, if it was.
    pub fn taken_from(&self) -> Option<&str> {
        self.record.taken_from.as_deref()
    }

    /// How long this claim has been held.
    pub fn held_for(&self) -> std::time::Duration {
        self.since.elapsed()
    }

    /// Publish the item as done. Final: nobody will claim it again.
    pub fn done(mut self) -> Result<()> {
        self.finish(Outcome::Done, None)
    }

    /// Record the item as failed with `reason`. Skipped by others unless they retry failed items.
    pub fn fail(mut self, reason: &str) -> Result<()> {
        self.finish(Outcome::Failed, Some(reason))
    }

    /// Give the item back unfinished; anyone may claim it again.
    pub fn release(mut self) -> Result<()> {
        self.finish(Outcome::Released, None)
    }

    pub(crate) fn set_block_failures(&mut self, failed: Vec<(u64, String)>) {
        if let Some(block) = self.record.block.as_mut() {
            block.failed = failed;
        }
    }

    fn finish(&mut self, outcome: Outcome, reason: Option<&str>) -> Result<()> {
        self.finished = true;
        let shared = &self.ledger.shared;
        shared.heartbeat.unregister(self.heartbeat_id);
        let claim_path = shared.dirs.claims.join(&self.name);
        let has_failures = self
            .record
            .block
            .as_ref()
            .is_some_and(|b| !b.failed.is_empty());
        let outcome = match outcome {
            Outcome::Done if has_failures => Outcome::Failed,
            other => other,
        };
        if !matches!(outcome, Outcome::Released)
            && (reason.is_some() || self.record.block.is_some())
        {
            self.record.reason = reason.map(str::to_string);
            self.record.held_ms = Some(self.since.elapsed().as_millis() as u64);
            rewrite(&self.file, &self.record, false).ctx("write record", &claim_path)?;
        }
        let published = self.record.published_name(&self.name);
        if let Outcome::Done = outcome {
            self.publish_done(&claim_path, &published)?;
            if shared.retry_failed {
                remove_if_exists(&shared.dirs.failed.join(&published))?;
            }
            self.ledger.remember_finished(&published, true);
            return Ok(());
        }
        let private = self.ledger.private_path("finish");
        self.fence(&claim_path, &private)?;
        if let Outcome::Failed = outcome {
            let target = shared.dirs.failed.join(&published);
            std::fs::rename(&private, &target).ctx("publish failed", target)?;
            self.ledger.remember_finished(&published, false);
        } else {
            std::fs::remove_file(&private).ctx("release claim", private)?;
        }
        Ok(())
    }

    /// Publish done without ever leaving the item unclaimed *and* not done: link the claim file
    /// into `done/` (exclusive), check the linked inode is ours, and only then remove the claim.
    /// (Moving the claim away first would open a window in which a racing worker could claim the
    /// item afresh and not yet see it done.)
    fn publish_done(&self, claim_path: &Path, published: &str) -> Result<()> {
        let target = self.ledger.shared.dirs.done.join(published);
        match std::fs::hard_link(claim_path, &target) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::LostClaim {
                    key: self.key.clone(),
                    detail: "the claim file is gone".into(),
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).ctx("publish done", target),
        }
        let linked = std::fs::metadata(&target).ctx("inspect done record", &target)?;
        if linked.ino() != self.inode {
            let lost = self.lost(claim_path, "done or held by another worker");
            if std::fs::metadata(claim_path).is_ok_and(|m| m.ino() == linked.ino()) {
                // We linked the thief's live claim: take that publication back.
                let _ = std::fs::remove_file(&target);
            }
            return Err(lost);
        }
        match std::fs::remove_file(claim_path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).ctx("remove claim", claim_path)
            }
            _ => Ok(()),
        }
    }

    /// Move the claim file to `private` and make sure it is ours; put it back if it is not.
    fn fence(&self, claim_path: &Path, private: &Path) -> Result<()> {
        match std::fs::rename(claim_path, private) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::LostClaim {
                    key: self.key.clone(),
                    detail: "the claim file is gone".into(),
                });
            }
            Err(e) => return Err(e).ctx("move claim", claim_path),
        }
        let moved = std::fs::metadata(private).ctx("inspect claim", private)?;
        if moved.ino() == self.inode {
            return Ok(());
        }
        let lost = self.lost(private, "now held by another worker");
        put_back(private, claim_path);
        Err(lost)
    }

    /// The error for a claim found replaced by `found` (a file holding another worker's record).
    fn lost(&self, found: &Path, unreadable: &str) -> Error {
        let detail = std::fs::read(found)
            .ok()
            .and_then(|bytes| ClaimRecord::parse(&bytes))
            .map(|r| format!("now held by {}", r.holder()))
            .unwrap_or_else(|| unreadable.to_string());
        Error::LostClaim {
            key: self.key.clone(),
            detail,
        }
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if !self.finished {
            let _ = self.finish(Outcome::Released, None);
        }
    }
}

/// Return a file moved away by mistake to `claim_path`, unless a new claim already stands there.
pub(crate) fn put_back(private: &Path, claim_path: &Path) {
    let _ = std::fs::hard_link(private, claim_path);
    let _ = std::fs::remove_file(private);
}

fn remove_if_exists(path: &PathBuf) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e).ctx("remove", path.clone()),
        _ => Ok(()),
    }
}
