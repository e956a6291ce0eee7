//! What the ledger holds right now (`status`) and removing what is no longer wanted (`cleanup`).

use crate::block::{ListInfo, parse_range};
use crate::error::{IoContext, Result};
use crate::key;
use crate::ledger::{Ledger, list_names};
use crate::record::ClaimRecord;
use crate::stale::{Observer, Verdict, read_claim};
use serde::Serialize;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// Counts are of *items* (a block claim counts every item of its range).
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
    /// Items in all registered lists, when any list is registered.
    pub total: Option<u64>,
    /// `total - done - failed`, when the total is known.
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
    /// Items in all registered lists, when any list is registered.
    pub total: Option<u64>,
}

/// A claim held (or abandoned) by some worker.
#[derive(Debug, Clone, Serialize)]
pub struct ClaimInfo {
    /// Item key (or `list[start..end]` for a block).
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
    /// Item key (`list[index]` inside a block).
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
        let dirs = &self.shared.dirs;
        let mut status = Status::default();
        let server_now = probe_now(&dirs.tmp)?;
        let recent_since = server_now - Duration::from_secs(600);
        let mut recent = 0u64;
        let mut earliest = server_now;
        for entry in read_dir(&dirs.done)? {
            let (name, meta) = entry;
            let items = items_of(&name);
            status.done += items;
            if let Ok(mtime) = meta.modified()
                && mtime >= recent_since
            {
                recent += items;
                earliest = earliest.min(mtime);
            }
        }
        for (name, _) in read_dir(&dirs.failed)? {
            self.count_failure(&dirs.failed.join(&name), &name, &mut status);
        }
        let observer = Observer::default();
        for (name, _) in read_dir(&dirs.claims)? {
            if let Some(info) = self.claim_info(&observer, &name, server_now)? {
                match info.stale {
                    Some(_) => status.stale += info.items,
                    None => status.running += info.items,
                }
                status.claims.push(info);
            }
        }
        status.lists = self.lists()?;
        if !status.lists.is_empty() {
            let total: u64 = status.lists.iter().map(|l| l.total).sum();
            status.total = Some(total);
            status.pending = Some(total.saturating_sub(status.done + status.failed));
        }
        let window = server_now
            .duration_since(earliest)
            .unwrap_or_default()
            .as_secs_f64();
        if recent > 0 && window > 0.5 {
            let rate = recent as f64 / window;
            status.items_per_second = Some(rate);
            status.eta_seconds = status.pending.map(|p| p as f64 / rate);
        }
        Ok(status)
    }

    /// Item counts for a progress bar: `done/` and `claims/` are only listed (names say how many
    /// items they stand for), never opened or stat'ed; the few failure and list records are
    /// read. Unlike [`Ledger::status`] (a stat per done item, a staleness judgement per claim, a
    /// probe of the server clock), cheap enough for every node to poll every second.
    pub fn counts(&self) -> Result<Counts> {
        let dirs = &self.shared.dirs;
        let items_in = |dir: &Path| -> Result<u64> {
            Ok(list_names(dir)?.iter().map(|name| items_of(name)).sum())
        };
        let mut failures = Status::default();
        for (name, _) in read_dir(&dirs.failed)? {
            self.count_failure(&dirs.failed.join(&name), &name, &mut failures);
        }
        let lists = self.lists()?;
        Ok(Counts {
            done: items_in(&dirs.done)? + failures.done,
            failed: failures.failed,
            claimed: items_in(&dirs.claims)?,
            total: (!lists.is_empty()).then(|| lists.iter().map(|l| l.total).sum()),
        })
    }

    fn count_failure(&self, path: &Path, name: &str, status: &mut Status) {
        let record = std::fs::read(path)
            .ok()
            .and_then(|b| ClaimRecord::parse(&b));
        let Some(record) = record else {
            status.failed += items_of(name);
            status.failures.push(FailureInfo {
                key: key::key_from_file_name(name).unwrap_or_else(|| name.to_string()),
                reason: "(unreadable failure record)".into(),
                host: String::new(),
            });
            return;
        };
        match &record.block {
            Some(block) => {
                status.failed += block.failed.len() as u64;
                status.done += (block.end - block.start).saturating_sub(block.failed.len() as u64);
                for (index, reason) in &block.failed {
                    status.failures.push(FailureInfo {
                        key: format!("{}[{index}]", block.list),
                        reason: reason.clone(),
                        host: record.host.clone(),
                    });
                }
            }
            None => {
                status.failed += 1;
                status.failures.push(FailureInfo {
                    key: record.key.clone(),
                    reason: record.reason.clone().unwrap_or_default(),
                    host: record.host.clone(),
                });
            }
        }
    }

    fn claim_info(
        &self,
        observer: &Observer,
        name: &str,
        server_now: SystemTime,
    ) -> Result<Option<ClaimInfo>> {
        let path = self.shared.dirs.claims.join(name);
        let Some((seen, mtime)) = read_claim(&path)? else {
            return Ok(None);
        };
        let stale = match observer.judge(self, name)? {
            Verdict::Stale(s) => Some(s.why),
            Verdict::Alive | Verdict::Gone if self.already_done(name) => {
                Some("its item is already done (left by a worker that died while claiming)".into())
            }
            Verdict::Alive | Verdict::Gone => None,
        };
        let heartbeat_age = server_now.duration_since(mtime).unwrap_or_default();
        let r = seen.record;
        let info = ClaimInfo {
            key: r
                .as_ref()
                .map(|r| r.key.clone())
                .unwrap_or_else(|| name.into()),
            host: r.as_ref().map(|r| r.host.clone()).unwrap_or_default(),
            pid: r.as_ref().map_or(0, |r| r.pid),
            worker: r.as_ref().map_or(0, |r| r.worker),
            items: r
                .as_ref()
                .and_then(|r| r.block.as_ref())
                .map_or(1, |b| b.end - b.start),
            age_seconds: r.as_ref().map_or(0.0, |r| {
                (r.beat * r.lease_ms / 4) as f64 / 1000.0 + heartbeat_age.as_secs_f64()
            }),
            heartbeat_age_seconds: heartbeat_age.as_secs_f64(),
            stale,
        };
        Ok(Some(info))
    }

    /// Registered lists.
    pub fn lists(&self) -> Result<Vec<ListInfo>> {
        let mut lists = Vec::new();
        for (name, _) in read_dir(&self.shared.dirs.lists)? {
            let path = self.shared.dirs.lists.join(&name);
            let bytes = std::fs::read(&path).ctx("read list", &path)?;
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
        let dirs = &self.shared.dirs;
        if scope.all {
            std::fs::remove_dir_all(&dirs.root).ctx("remove state directory", &dirs.root)?;
            return Ok(vec![format!("removed {}", dirs.root.display())]);
        }
        let mut removed = Vec::new();
        let observer = Observer::default();
        for (name, _) in read_dir(&dirs.claims)? {
            let seen = match observer.judge(self, &name)? {
                Verdict::Stale(seen) => seen,
                Verdict::Alive if self.already_done(&name) => {
                    match read_claim(&dirs.claims.join(&name))? {
                        Some((seen, _)) => crate::stale::Seen {
                            why: "its item is already done".into(),
                            ..seen
                        },
                        None => continue,
                    }
                }
                _ => continue,
            };
            if self.take_over(&name, &seen)?.is_some() {
                let key = seen.record.map(|r| r.key).unwrap_or(name);
                removed.push(format!("stale claim {key}: {}", seen.why));
            }
        }
        removed.extend(self.remove_orphans_in_tmp()?);
        if scope.failed {
            for (name, _) in read_dir(&dirs.failed)? {
                let path = dirs.failed.join(&name);
                let key = std::fs::read(&path)
                    .ok()
                    .and_then(|b| ClaimRecord::parse(&b))
                    .map(|r| r.key)
                    .unwrap_or_else(|| name.clone());
                std::fs::remove_file(&path).ctx("remove failure record", &path)?;
                removed.push(format!("failure record {key}"));
            }
        }
        self.refresh()?;
        Ok(removed)
    }
}

impl Ledger {
    /// Files left in `tmp/` by a process killed in the middle of a transition (a claim moved
    /// to a private name, a half-written record): every transition takes microseconds, so one
    /// older than two leases by the file server's clock belongs to nobody.
    fn remove_orphans_in_tmp(&self) -> Result<Vec<String>> {
        let tmp = &self.shared.dirs.tmp;
        let server_now = probe_now(tmp)?;
        let mut removed = Vec::new();
        for (name, meta) in read_dir(tmp)? {
            let age = meta
                .modified()
                .ok()
                .and_then(|m| server_now.duration_since(m).ok())
                .unwrap_or_default();
            if age > 2 * self.lease() && std::fs::remove_file(tmp.join(&name)).is_ok() {
                removed.push(format!("orphaned temporary file tmp/{name}"));
            }
        }
        Ok(removed)
    }

    /// Whether the item (or block) that claim file `name` stands for is already done.
    fn already_done(&self, name: &str) -> bool {
        let dirs = &self.shared.dirs;
        if dirs.done.join(name).exists() {
            return true;
        }
        let Some(end) = std::fs::read_to_string(dirs.bounds.join(name)).ok() else {
            return false;
        };
        dirs.done.join(format!("{name}+{}", end.trim())).exists()
    }
}

/// Items a published name stands for: 1, or a block's range length.
fn items_of(name: &str) -> u64 {
    name.strip_prefix('+')
        .and_then(|rest| rest.split_once('+'))
        .and_then(|(_list, range)| parse_range(range))
        .map_or(1, |range| range.end.saturating_sub(range.start))
}

fn read_dir(dir: &Path) -> Result<Vec<(String, std::fs::Metadata)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).ctx("read state directory", dir)? {
        let entry = entry.ctx("read state directory", dir)?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        match entry.metadata() {
            Ok(meta) => out.push((name, meta)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).ctx("inspect", dir.join(&name)),
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// The file server's clock: write a probe file and read back its mtime.
fn probe_now(tmp: &Path) -> Result<SystemTime> {
    let path = tmp.join(format!("status-probe-{}", std::process::id()));
    std::fs::write(&path, b"probe").ctx("write probe", &path)?;
    let mtime = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .ctx("inspect probe", &path)?;
    let _ = std::fs::remove_file(&path);
    Ok(mtime)
}
