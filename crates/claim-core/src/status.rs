//! What the ledger holds right now (`status`) and removing what is no longer wanted (`cleanup`).

use crate::block::ListInfo;
use crate::error::Result;
use crate::key::{self, ItemId};
use crate::ledger::Ledger;
use crate::record::ClaimRecord;
use crate::stale::{Observer, Verdict, read_claim};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, SystemTime};

/// Counts are of distinct *items*, whatever claimed them (alone or in blocks of any list):
/// `done + failed + pending = total`, and `running + stale` are among the pending.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Status {
    /// Items done.
    pub done: u64,
    /// Items held by live workers.
    pub running: u64,
    /// Items held by claims that look dead (taken over at the next claim attempt).
    pub stale: u64,
    /// Items whose last attempt failed.
    pub failed: u64,
    /// Distinct items known to the ledger: every item of every registered list, and every key
    /// claimed alone. `None` only for an empty ledger.
    pub total: Option<u64>,
    /// `total - done - failed`.
    pub pending: Option<u64>,
    /// Items done per second over the last ten minutes (file server clock).
    pub items_per_second: Option<f64>,
    /// Seconds until `pending` reaches zero at `items_per_second`.
    pub eta_seconds: Option<f64>,
    /// Every claim file in `claims/`.
    pub claims: Vec<ClaimInfo>,
    /// Every failure: key and reason.
    pub failures: Vec<FailureInfo>,
    /// Registered lists.
    pub lists: Vec<ListInfo>,
}

/// Item counts cheap enough to poll (see [`Ledger::counts`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Items done.
    pub done: u64,
    /// Items whose last attempt failed.
    pub failed: u64,
    /// Items under a claim, live or stale.
    pub claimed: u64,
    /// Distinct items known to the ledger (see [`Status::total`]).
    pub total: Option<u64>,
}

/// A claim held (or abandoned) by some worker.
#[derive(Debug, Clone, Serialize)]
pub struct ClaimInfo {
    /// Item key (for a block `<list>[<n> items from <first key>]`, or `<list>[1 item: <key>]`).
    pub key: String,
    /// Holder host (empty if the claim is unreadable).
    pub host: String,
    /// Holder pid.
    pub pid: u32,
    /// Holder worker id.
    pub worker: u32,
    /// Items covered.
    pub items: u64,
    /// Roughly how long it has been held (heartbeats seen × heartbeat interval), seconds.
    pub age_seconds: f64,
    /// Seconds since its last heartbeat by the file server's clock.
    pub heartbeat_age_seconds: f64,
    /// Why it looks dead, when it does.
    pub stale: Option<String>,
}

/// A failed item (or, for a block, one failed item of it).
#[derive(Debug, Clone, Serialize)]
pub struct FailureInfo {
    /// The item's own key (also for items that failed inside a block).
    pub key: String,
    /// The reason given to `fail`.
    pub reason: String,
    /// Host that recorded the failure.
    pub host: String,
}

/// What [`Ledger::cleanup`] removes besides stale claims.
#[derive(Debug, Clone, Copy, Default)]
pub struct CleanupScope {
    /// Also remove failure records, so the items run again.
    pub failed: bool,
    /// Remove the whole state directory (every claim, record and log).
    pub all: bool,
}

impl Ledger {
    /// Count and list done, running, stale and failed items.
    pub fn status(&self) -> Result<Status> {
        let store = &self.shared.store;
        let server_now = store.server_now()?;
        self.refresh()?;
        let mut status = Status::default();
        let observer = Observer::default();
        for (dir, name) in self.claim_files()? {
            if let Some(info) = self.claim_info(&observer, &dir.join(&name), server_now)? {
                match info.stale {
                    Some(_) => status.stale += info.items,
                    None => status.running += info.items,
                }
                status.claims.push(info);
            }
        }
        status.failures = self.failures()?;
        status.lists = self.lists()?;
        let counts = self.counts()?;
        status.done = counts.done;
        status.failed = counts.failed;
        status.total = counts.total;
        status.pending = counts
            .total
            .map(|t| t.saturating_sub(counts.done + counts.failed));
        self.add_rate(&mut status, server_now)?;
        Ok(status)
    }

    /// Item counts for a progress bar: listings, and records only of names not seen before, so
    /// every node can poll it every second.
    pub fn counts(&self) -> Result<Counts> {
        let store = &self.shared.store;
        let mut index = self.index();
        index.refresh(store)?;
        index.refresh_lists(store)?;
        let done = index.done_ids().count() as u64;
        let failed = index.failed_ids().count() as u64;
        let claimed = index.held_ids().filter(|id| !index.is_done(*id)).count() as u64;
        let total = index.known_items() as u64;
        Ok(Counts {
            done,
            failed,
            claimed,
            total: (total > 0).then_some(total),
        })
    }

    /// Live claim files: `(folder, name)` in `claims/` and `blocks/`. Names starting with a dot
    /// are not the ledger's (no key's file name does): an NFS client's `.nfsXXXX` or FUSE's
    /// `.fuse_hiddenXXXX`, the unlinked claim file of a holder that still has it open.
    fn claim_files(&self) -> Result<Vec<(std::path::PathBuf, String)>> {
        let store = &self.shared.store;
        let ours = |n: &String| !n.starts_with('.');
        let mut files: Vec<_> = store
            .names(&store.claims)?
            .into_iter()
            .filter(ours)
            .map(|n| (store.claims.clone(), n))
            .collect();
        let blocks = store.names(&store.blocks)?.into_iter().filter(ours);
        files.extend(blocks.map(|n| (store.blocks.clone(), n)));
        files.sort();
        Ok(files)
    }

    /// Every item whose last attempt failed (and that is not done since), under its own key.
    fn failures(&self) -> Result<Vec<FailureInfo>> {
        let store = &self.shared.store;
        let mut found: HashMap<ItemId, FailureInfo> = HashMap::new();
        for name in store.names(&store.failed)? {
            let record = store.read(&store.failed.join(&name))?;
            let record = record.and_then(|b| ClaimRecord::parse(&b));
            let Some(id) = ItemId::of_file_name(&name) else {
                continue;
            };
            let info = match record {
                Some(r) => FailureInfo {
                    key: r.key,
                    reason: r.reason.unwrap_or_default(),
                    host: r.host,
                },
                None => FailureInfo {
                    key: key::key_from_file_name(&name).unwrap_or(name),
                    reason: "(unreadable failure record)".into(),
                    host: String::new(),
                },
            };
            found.insert(id, info);
        }
        for (name, record) in self.finished_blocks()? {
            let _ = name;
            for f in record.block.iter().flat_map(|b| &b.failed) {
                let Some(id) = ItemId::parse(&f.id) else {
                    continue;
                };
                found.entry(id).or_insert_with(|| FailureInfo {
                    key: f.key.clone(),
                    reason: f.reason.clone(),
                    host: record.host.clone(),
                });
            }
        }
        let index = self.index();
        let mut failures: Vec<FailureInfo> = found
            .into_iter()
            .filter(|(id, _)| !index.is_done(*id))
            .map(|(_, f)| f)
            .collect();
        failures.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(failures)
    }

    /// Finished block records: `(name, record)`.
    fn finished_blocks(&self) -> Result<Vec<(String, ClaimRecord)>> {
        let store = &self.shared.store;
        let mut out = Vec::new();
        for name in store.names(&store.finished)? {
            let bytes = store.read(&store.finished.join(&name))?;
            if let Some(record) = bytes.and_then(|b| ClaimRecord::parse(&b)) {
                out.push((name, record));
            }
        }
        Ok(out)
    }

    /// Items done per second over the last ten minutes, by the file server's clock.
    fn add_rate(&self, status: &mut Status, server_now: SystemTime) -> Result<()> {
        let store = &self.shared.store;
        let since = server_now - Duration::from_secs(600);
        let mut recent = 0u64;
        let mut earliest = server_now;
        let mut count = |mtime: Option<SystemTime>, items: u64| {
            if let Some(mtime) = mtime.filter(|m| *m >= since) {
                recent += items;
                earliest = earliest.min(mtime);
            }
        };
        for (_, meta) in store.entries(&store.done)? {
            count(meta.modified().ok(), 1);
        }
        for (name, meta) in store.entries(&store.finished)? {
            if meta.modified().is_ok_and(|m| m >= since) {
                let bytes = store.read(&store.finished.join(&name))?;
                let record = bytes.and_then(|b| ClaimRecord::parse(&b));
                let items = record.and_then(|r| r.block).map_or(0, |b| b.done.len());
                count(meta.modified().ok(), items as u64);
            }
        }
        let window = server_now.duration_since(earliest).unwrap_or_default();
        if recent > 0 && window.as_secs_f64() > 0.5 {
            let rate = recent as f64 / window.as_secs_f64();
            status.items_per_second = Some(rate);
            status.eta_seconds = status.pending.map(|p| p as f64 / rate);
        }
        Ok(())
    }

    fn claim_info(
        &self,
        observer: &Observer,
        path: &Path,
        server_now: SystemTime,
    ) -> Result<Option<ClaimInfo>> {
        let Some((seen, mtime)) = read_claim(path)? else {
            return Ok(None);
        };
        let stale = match observer.judge(self, path)? {
            Verdict::Stale(s) => Some(s.why),
            _ if self.claim_on_done_item(&seen.record) => {
                Some("its item is already done (left by a worker that died while claiming)".into())
            }
            _ => None,
        };
        let heartbeat_age = server_now.duration_since(mtime).unwrap_or_default();
        let r = seen.record;
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let info = ClaimInfo {
            key: r
                .as_ref()
                .map(|r| r.key.clone())
                .or(name)
                .unwrap_or_default(),
            host: r.as_ref().map(|r| r.host.clone()).unwrap_or_default(),
            pid: r.as_ref().map_or(0, |r| r.pid),
            worker: r.as_ref().map_or(0, |r| r.worker),
            items: r
                .as_ref()
                .and_then(|r| r.block.as_ref())
                .map_or(1, |b| b.items.len() as u64),
            age_seconds: r.as_ref().map_or(0.0, |r| {
                (r.beat * r.lease_ms / 4) as f64 / 1000.0 + heartbeat_age.as_secs_f64()
            }),
            heartbeat_age_seconds: heartbeat_age.as_secs_f64(),
            stale,
        };
        Ok(Some(info))
    }

    /// Whether a per-item claim stands on an item already done (its holder died between
    /// claiming and noticing).
    fn claim_on_done_item(&self, record: &Option<ClaimRecord>) -> bool {
        match record {
            Some(r) if r.block.is_none() => self.index().is_done(ItemId::of(&r.key)),
            _ => false,
        }
    }

    /// Registered lists.
    pub fn lists(&self) -> Result<Vec<ListInfo>> {
        let store = &self.shared.store;
        let mut lists = Vec::new();
        for name in store.names(&store.lists)? {
            if !name.ends_with(".json") {
                continue;
            }
            let bytes = store.read(&store.lists.join(&name))?.unwrap_or_default();
            if let Ok(info) = serde_json::from_slice::<ListInfo>(&bytes) {
                lists.push(info);
            }
        }
        lists.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(lists)
    }

    /// Remove stale claims, claims left on items already done, and temporary files orphaned by
    /// a crash mid-transition; failure records or everything when asked. Returns one line per
    /// removed thing.
    pub fn cleanup(&self, scope: CleanupScope) -> Result<Vec<String>> {
        if scope.all {
            Ledger::remove_all(self.root())?;
            return Ok(vec![self.root().display().to_string()]);
        }
        self.refresh()?;
        let mut removed = Vec::new();
        let observer = Observer::default();
        for (dir, name) in self.claim_files()? {
            let path = dir.join(&name);
            let seen = match observer.judge(self, &path)? {
                Verdict::Stale(seen) => seen,
                Verdict::Alive => match read_claim(&path)? {
                    Some((seen, _)) if self.claim_on_done_item(&seen.record) => {
                        crate::stale::Seen {
                            why: "its item is already done".into(),
                            ..seen
                        }
                    }
                    _ => continue,
                },
                Verdict::Gone => continue,
            };
            if self.take_over(&path, &seen)?.is_some() {
                let key = seen.record.map(|r| r.key).unwrap_or(name);
                removed.push(format!("stale claim {key}: {}", seen.why));
            }
        }
        removed.extend(self.remove_orphans_in_tmp()?);
        if scope.failed {
            removed.extend(self.remove_failures()?);
        }
        self.refresh()?;
        Ok(removed)
    }

    /// Forget every failure: per-item records are removed, finished blocks are rewritten without
    /// their failures (under a new name, so every reader sees the change).
    fn remove_failures(&self) -> Result<Vec<String>> {
        let store = &self.shared.store;
        let mut removed = Vec::new();
        for failure in self.failures()? {
            removed.push(format!("failure record {}", failure.key));
        }
        for name in store.names(&store.failed)? {
            // The failure's link in `done/` first (then the item is claimable), unless a retry
            // replaced it with a done record meanwhile.
            let in_done = store.done.join(&name);
            let record = store.read(&in_done)?.and_then(|b| ClaimRecord::parse(&b));
            if record.is_some_and(|r| r.reason.is_some()) {
                store.remove(&in_done, "remove failure record")?;
            }
            store.remove(&store.failed.join(&name), "remove failure record")?;
        }
        for (name, mut record) in self.finished_blocks()? {
            let Some(block) = record.block.as_mut().filter(|b| !b.failed.is_empty()) else {
                continue;
            };
            block.failed.clear();
            let base = name.trim_end_matches(".fin");
            let token = self.new_record("", None, None).token;
            let fresh = store.finished.join(format!("{base}.{token}.fin"));
            store.link_exclusive(&fresh, &record.to_bytes())?;
            store.remove(&store.finished.join(&name), "remove failure record")?;
        }
        Ok(removed)
    }

    /// Files left in `tmp/` by a process killed in the middle of a transition (a claim moved
    /// to a private name, a half-written record): every transition takes microseconds, so one
    /// older than two leases by the file server's clock belongs to nobody.
    fn remove_orphans_in_tmp(&self) -> Result<Vec<String>> {
        let store = &self.shared.store;
        let server_now = store.server_now()?;
        let mut removed = Vec::new();
        for (name, meta) in store.entries(&store.tmp)? {
            let age = meta
                .modified()
                .ok()
                .and_then(|m| server_now.duration_since(m).ok())
                .unwrap_or_default();
            if age > 2 * self.lease() && std::fs::remove_file(store.tmp.join(&name)).is_ok() {
                removed.push(format!("orphaned temporary file tmp/{name}"));
            }
        }
        Ok(removed)
    }
}

/// Keep the set type in scope for readers of this module's signatures.
#[allow(dead_code)]
type Ids = HashSet<ItemId>;
