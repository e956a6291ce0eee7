//! A held claim and its transitions: done, fail, release.
//!
//! Every transition is fenced by the claim's token, written inside the claim file: a holder
//! publishes only a file that still carries its own token. A per-item claim is linked into
//! `done/` and then checked (so no racing worker ever finds the item neither claimed nor done);
//! fail and release first rename the claim to a private name (an atomic step only one process can
//! win) and check the token there. A block publishes its finished record beside the live claim
//! before removing it, for the same reason. If a thief took the claim over meanwhile, the
//! transition fails with [`Error::LostClaim`] instead of publishing.

use crate::error::{Error, IoContext, Result};
use crate::heartbeat::rewrite;
use crate::key::ItemId;
use crate::ledger::Ledger;
use crate::record::{ClaimRecord, ItemFailure};
use crate::store::Fenced;
use std::fs::File;
use std::io::ErrorKind;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// Where a claim lives: `claims/<name>` for one item, `blocks/<name>` for a block.
#[derive(Debug, Clone)]
pub(crate) enum Place {
    Item(String),
    Block(String),
}

/// A claim held by this worker. Dropping it without a transition releases it.
#[derive(Debug)]
pub struct Claim {
    ledger: Ledger,
    key: String,
    place: Place,
    file: Arc<File>,
    record: ClaimRecord,
    heartbeat_id: u64,
    since: Instant,
    finished: bool,
}

impl Claim {
    pub(crate) fn new(
        ledger: Ledger,
        key: &str,
        place: Place,
        file: File,
        record: ClaimRecord,
    ) -> Claim {
        let file = Arc::new(file);
        let heartbeat_id = ledger
            .shared
            .heartbeat
            .register(file.clone(), record.clone());
        Claim {
            ledger,
            key: key.to_string(),
            place,
            file,
            record,
            heartbeat_id,
            since: Instant::now(),
            finished: false,
        }
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

    fn path(&self) -> PathBuf {
        let store = &self.ledger.shared.store;
        match &self.place {
            Place::Item(name) => store.claims.join(name),
            Place::Block(name) => store.blocks.join(name),
        }
    }

    /// Publish the item as done. Final: nobody will claim it again.
    pub fn done(mut self) -> Result<()> {
        self.stop_heartbeat();
        let result = self.publish_done();
        self.ended(true);
        result
    }

    /// Record the item as failed with `reason`. Skipped by others unless they retry failed items.
    pub fn fail(mut self, reason: &str) -> Result<()> {
        self.stop_heartbeat();
        self.record.reason = Some(reason.to_string());
        self.record.held_ms = Some(self.since.elapsed().as_millis() as u64);
        let result = rewrite(&self.file, &self.record, false)
            .ctx("write record", self.path())
            .and_then(|()| self.publish_failed());
        self.ended(false);
        result
    }

    /// Give the item back unfinished; anyone may claim it again.
    pub fn release(mut self) -> Result<()> {
        self.stop_heartbeat();
        let result = self.remove_own();
        self.forget();
        self.ledger.changed();
        result
    }

    /// Finish a block: `done` and `failed` are its items' outcomes (the others go back).
    pub(crate) fn finish_block(
        mut self,
        done: Vec<ItemId>,
        failed: Vec<ItemFailure>,
    ) -> Result<()> {
        self.stop_heartbeat();
        let result = self.publish_block(done, failed);
        self.ledger.changed();
        result
    }

    fn stop_heartbeat(&mut self) {
        self.finished = true;
        self.ledger.shared.heartbeat.unregister(self.heartbeat_id);
    }

    /// This process no longer holds the claim's item (after its outcome is published).
    fn forget(&self) {
        if let Place::Item(_) = self.place {
            self.ledger.held().remove(&ItemId::of(&self.key));
        }
    }

    fn ended(&self, done: bool) {
        if let Place::Item(_) = self.place {
            self.ledger.index().note_item(ItemId::of(&self.key), done);
        }
        self.forget();
        self.ledger.changed();
    }

    /// Link the claim file into `done/`, check the linked file carries our token, and only then
    /// remove the claim.
    fn publish_done(&self) -> Result<()> {
        let store = &self.ledger.shared.store;
        let Place::Item(name) = &self.place else {
            return self.publish_block(Vec::new(), Vec::new());
        };
        let target = store.done.join(name);
        let failed = store.failed.join(name);
        let linked = std::fs::hard_link(self.path(), &target);
        let taken = matches!(&linked, Err(e) if e.kind() == ErrorKind::AlreadyExists);
        if taken && store.exists(&failed)? {
            return self.replace_failure(&target, &failed);
        }
        self.check_link(&target, linked, "publish done")?;
        store.remove(&self.path(), "remove claim")
    }

    /// Retrying a failed item: its failure record stands in `done/`; replace it by the claim.
    fn replace_failure(&self, target: &std::path::Path, failed: &std::path::Path) -> Result<()> {
        let store = &self.ledger.shared.store;
        std::fs::rename(self.path(), target).ctx("publish done", target)?;
        let found = store.read(target)?.and_then(|b| ClaimRecord::parse(&b));
        if found.as_ref().is_none_or(|r| r.token != self.record.token) {
            return Err(self.lost(found));
        }
        store.remove(failed, "remove failure record")
    }

    /// Link the claim file to `target` and check the linked file carries our token.
    fn link_checked(&self, target: &std::path::Path, action: &'static str) -> Result<()> {
        self.check_link(target, std::fs::hard_link(self.path(), target), action)
    }

    /// Check the outcome of linking the claim file to `target`: the linked file must carry our
    /// token.
    fn check_link(
        &self,
        target: &std::path::Path,
        linked: std::io::Result<()>,
        action: &'static str,
    ) -> Result<()> {
        let store = &self.ledger.shared.store;
        let linked = match linked {
            Ok(()) => true,
            Err(e) if e.kind() == ErrorKind::NotFound => return Err(self.lost(None)),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => false,
            Err(e) => return Err(e).ctx(action, target),
        };
        let found = store.read(target)?.and_then(|b| ClaimRecord::parse(&b));
        if found.as_ref().is_none_or(|r| r.token != self.record.token) {
            if linked {
                // We linked the thief's live claim: take that publication back.
                store.remove(target, "withdraw record")?;
            }
            return Err(self.lost(found));
        }
        Ok(())
    }

    /// Like done: linked into `failed/` and then into `done/` (so a claimer's one `stat` of
    /// `done/` sees it; `failed/` tells it apart), never leaving the item unclaimed and not
    /// failed. A failure left by an earlier attempt (when retrying) is replaced instead.
    fn publish_failed(&self) -> Result<()> {
        let store = &self.ledger.shared.store;
        let Place::Item(name) = &self.place else {
            unreachable!("a block's items fail one by one (finish_block)")
        };
        let target = store.failed.join(name);
        if store.exists(&target)? {
            let private = self.fence()?;
            return std::fs::rename(&private, &target).ctx("publish failed", target);
        }
        self.link_checked(&target, "publish failed")?;
        self.link_checked(&store.done.join(name), "publish failed")?;
        store.remove(&self.path(), "remove claim")
    }

    /// Write the block's finished record beside the live claim, then remove the claim.
    fn publish_block(&self, done: Vec<ItemId>, failed: Vec<ItemFailure>) -> Result<()> {
        let store = &self.ledger.shared.store;
        let Place::Block(name) = &self.place else {
            unreachable!("only blocks finish as blocks")
        };
        let path = store.blocks.join(name);
        let found = store.read(&path)?.and_then(|b| ClaimRecord::parse(&b));
        if found.as_ref().is_none_or(|r| r.token != self.record.token) {
            return Err(self.lost(found));
        }
        let mut record = self.record.clone();
        record.held_ms = Some(self.since.elapsed().as_millis() as u64);
        if let Some(block) = record.block.as_mut() {
            // The finished record names outcomes only: readers of a million-item ledger parse
            // each id once.
            block.items.clear();
            block.done = done.iter().map(|id| id.hex()).collect();
            block.failed = failed;
        }
        let fin = store.finished.join(format!("{name}.{}.fin", record.token));
        if store.link_exclusive(&fin, &record.to_bytes())?.is_none() {
            return Err(Error::Invalid(format!("{} exists already", fin.display())));
        }
        self.remove_own()
    }

    /// Fence the claim file and delete it.
    fn remove_own(&self) -> Result<()> {
        let private = self.fence()?;
        self.ledger.shared.store.remove(&private, "release claim")
    }

    /// Move the claim file to a private name, making sure it is ours.
    fn fence(&self) -> Result<PathBuf> {
        match self
            .ledger
            .shared
            .store
            .fence(&self.path(), &self.record.token)?
        {
            Fenced::Ours(private) => Ok(private),
            Fenced::Other(found) => Err(self.lost(found)),
            Fenced::Gone => Err(self.lost(None)),
        }
    }

    /// The error for a claim found replaced by `found`, or gone.
    fn lost(&self, found: Option<ClaimRecord>) -> Error {
        let detail = match found {
            Some(r) => format!("now held by {}", r.holder()),
            None => "its claim file is gone".to_string(),
        };
        Error::LostClaim {
            key: self.key.clone(),
            detail,
        }
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if !self.finished {
            self.stop_heartbeat();
            let _ = self.remove_own();
            self.forget();
            self.ledger.changed();
        }
    }
}
