//! Block claims: one claim file covers a run of consecutive items of a named list.
//!
//! A million bootstrap iterations should cost thousands of files, not millions. A list of `total`
//! items is cut into [`SEGMENTS`] segments; workers start in different segments (chosen from their
//! host, pid and worker id) and walk every segment once per pass. Inside a segment, blocks form a
//! chain: the first block starts at the segment's start, each next block starts where the previous
//! one ended. The end of the block that starts at `s` is fixed forever by whoever first reaches `s`
//! (an exclusively created `bounds/+<list>+<s>` file), so blocks never overlap, even when a block is
//! released, failed or taken over and claimed again.
//!
//! Block length adapts: about [`TARGET_BLOCK_TIME`] of work per claim file, measured from the items
//! this walker finished, and never more than half of what is left in the segment, so the last items
//! still spread across workers.

use crate::claim::Claim;
use crate::error::{Error, IoContext, Result};
use crate::key;
use crate::ledger::{Claimed, Ledger};
use crate::record::{BlockRecord, ClaimRecord};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::io::ErrorKind;
use std::ops::Range;
use std::time::{Duration, Instant};

/// Number of segments a list is cut into (fewer for shorter lists).
pub const SEGMENTS: u64 = 16;
/// Work aimed for per block claim.
pub const TARGET_BLOCK_TIME: Duration = Duration::from_millis(250);
/// Length of a walker's first block, before any item time is known.
const FIRST_BLOCK: u64 = 8;
/// Longest block.
const MAX_BLOCK: u64 = 1 << 16;

/// What `lists/<list>.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ListInfo {
    /// List name.
    pub name: String,
    /// Number of items.
    pub total: u64,
}

/// A claimed block: items `range()` of a list (or, when retrying, only its failed items).
#[derive(Debug)]
pub struct BlockClaim {
    claim: Claim,
    range: Range<u64>,
    items: Vec<u64>,
    failed: Vec<(u64, String)>,
    began: Instant,
}

impl BlockClaim {
    /// The block's item range.
    pub fn range(&self) -> Range<u64> {
        self.range.clone()
    }

    /// The item indices to process (all of the range, or the failed ones when retrying).
    pub fn items(&self) -> &[u64] {
        &self.items
    }

    /// Record item `index` as failed; the block is published as failed with per-item reasons.
    pub fn fail_item(&mut self, index: u64, reason: &str) {
        self.failed.push((index, reason.to_string()));
    }

    /// `host:pid` this block was taken over from, if it was.
    pub fn taken_from(&self) -> Option<&str> {
        self.claim.taken_from()
    }

    /// Give the block back unfinished.
    pub fn release(self) -> Result<()> {
        self.claim.release()
    }
}

/// Walks a list, claiming blocks. One walker per worker.
#[derive(Debug)]
pub struct ListWalker {
    ledger: Ledger,
    list: String,
    total: u64,
    segments: Vec<Range<u64>>,
    /// Index into `segments` (rotated so workers start apart) of the segment being walked.
    step: usize,
    first_segment: usize,
    pos: u64,
    /// Finished blocks: start → (end, whether some items failed).
    finished: HashMap<u64, (u64, bool)>,
    item_secs: Option<f64>,
    last_len: u64,
    saw_busy: bool,
}

impl Ledger {
    /// Record that list `list` has `total` items (for status). Idempotent; a different total for
    /// the same name is an error (two scripts sharing one state directory, probably).
    pub fn register_list(&self, list: &str, total: u64) -> Result<()> {
        if list.is_empty() {
            return Err(Error::Invalid("a list name must not be empty".into()));
        }
        let path = self
            .shared
            .dirs
            .lists
            .join(format!("{}.json", key::file_name(list)));
        if let Ok(bytes) = std::fs::read(&path)
            && let Ok(info) = serde_json::from_slice::<ListInfo>(&bytes)
        {
            if info.total == total {
                return Ok(());
            }
            return Err(Error::Invalid(format!(
                "list {list:?} is registered in {} with {} items, not {total}: \
                 use another list name or another --state directory",
                path.display(),
                info.total
            )));
        }
        let info = ListInfo {
            name: list.to_string(),
            total,
        };
        let bytes = serde_json::to_vec(&info).expect("list info serialises");
        crate::atomic_write(&path, &bytes)
    }

    /// Items of list `list` done and failed so far (one directory read of `done/` and `failed/`).
    pub fn list_progress(&self, list: &str) -> Result<(u64, u64)> {
        self.refresh()?;
        let prefix = format!("+{}+", key::file_name(list));
        let snapshot = self
            .shared
            .snapshot
            .read()
            .unwrap_or_else(|e| e.into_inner());
        let covered = |names: &std::collections::HashSet<String>| -> u64 {
            names
                .iter()
                .filter_map(|n| n.strip_prefix(&prefix).and_then(parse_range))
                .map(|r| r.end - r.start)
                .sum()
        };
        let mut done = covered(&snapshot.done);
        let mut failed = 0;
        for name in snapshot.failed.iter().filter(|n| n.starts_with(&prefix)) {
            let path = self.shared.dirs.failed.join(name);
            let record = std::fs::read(&path)
                .ok()
                .and_then(|b| ClaimRecord::parse(&b));
            if let Some(block) = record.and_then(|r| r.block) {
                let n = block.failed.len() as u64;
                failed += n;
                done += (block.end - block.start).saturating_sub(n);
            }
        }
        Ok((done, failed))
    }

    /// A walker over list `list` of `total` items (registers the list).
    pub fn walk_list(&self, list: &str, total: u64) -> Result<ListWalker> {
        self.register_list(list, total)?;
        let count = SEGMENTS.min(total).max(1);
        let segments: Vec<Range<u64>> = (0..count)
            .map(|i| i * total / count..(i + 1) * total / count)
            .collect();
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (&self.identity().host, self.identity().pid, self.worker).hash(&mut hasher);
        let first_segment = (hasher.finish() % count) as usize;
        let mut walker = ListWalker {
            ledger: self.clone(),
            list: list.to_string(),
            total,
            pos: segments[first_segment].start,
            segments,
            step: 0,
            first_segment,
            finished: HashMap::new(),
            item_secs: None,
            last_len: FIRST_BLOCK,
            saw_busy: false,
        };
        walker.refresh()?;
        Ok(walker)
    }
}

impl ListWalker {
    /// The list's number of items.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Whether this pass met blocks held by other live workers.
    pub fn saw_busy(&self) -> bool {
        self.saw_busy
    }

    /// Start a new pass from this walker's first segment, with a fresh snapshot.
    pub fn restart(&mut self) -> Result<()> {
        self.step = 0;
        self.pos = self.segments[self.first_segment].start;
        self.saw_busy = false;
        self.refresh()
    }

    fn refresh(&mut self) -> Result<()> {
        self.ledger.refresh()?;
        let prefix = format!("+{}+", key::file_name(&self.list));
        let snapshot = self
            .ledger
            .shared
            .snapshot
            .read()
            .unwrap_or_else(|e| e.into_inner());
        let done = snapshot.done.iter().map(|n| (n, false));
        let failed = snapshot.failed.iter().map(|n| (n, true));
        for (name, has_failures) in done.chain(failed) {
            if let Some(range) = name.strip_prefix(&prefix).and_then(parse_range) {
                let entry = self
                    .finished
                    .entry(range.start)
                    .or_insert((range.end, true));
                entry.1 &= has_failures;
            }
        }
        Ok(())
    }

    /// Claim the next block, or `None` when this pass found nothing more to claim.
    pub fn next_block(&mut self) -> Result<Option<BlockClaim>> {
        while self.step < self.segments.len() {
            let segment =
                self.segments[(self.first_segment + self.step) % self.segments.len()].clone();
            while self.pos < segment.end {
                let start = self.pos;
                if let Some(&(end, failed)) = self.finished.get(&start)
                    && (!failed || !self.ledger.shared.retry_failed)
                {
                    self.pos = end;
                    continue;
                }
                let end = self.block_end(start, segment.end)?;
                self.pos = end;
                if let Some(block) = self.try_block(start..end)? {
                    return Ok(Some(block));
                }
            }
            self.step += 1;
            if self.step < self.segments.len() {
                let next = (self.first_segment + self.step) % self.segments.len();
                self.pos = self.segments[next].start;
            }
        }
        Ok(None)
    }

    /// Publish a finished block (done, or failed if some items failed) and learn its item time.
    pub fn complete(&mut self, mut block: BlockClaim) -> Result<()> {
        let n = block.items.len().max(1) as f64;
        let per_item = block.began.elapsed().as_secs_f64() / n;
        self.item_secs = Some(match self.item_secs {
            Some(old) => 0.5 * old + 0.5 * per_item,
            None => per_item,
        });
        let failed = !block.failed.is_empty();
        self.finished
            .insert(block.range.start, (block.range.end, failed));
        let failures = std::mem::take(&mut block.failed);
        let mut claim = block.claim;
        claim.set_block_failures(failures);
        claim.done()
    }

    fn block_len(&self, remaining: u64) -> u64 {
        let by_time = match self.item_secs {
            Some(secs) if secs > 0.0 => (TARGET_BLOCK_TIME.as_secs_f64() / secs) as u64,
            Some(_) => MAX_BLOCK,
            None => FIRST_BLOCK,
        };
        by_time
            .min(self.last_len.saturating_mul(8))
            .min(MAX_BLOCK)
            .min(remaining.div_ceil(2))
            .max(1)
    }

    /// The end of the block starting at `start`: fixed by the first walker to reach it.
    fn block_end(&mut self, start: u64, segment_end: u64) -> Result<u64> {
        let name = key::block_name(&self.list, start);
        if let Some(&end) = self
            .ledger
            .shared
            .bounds_cache
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&name)
        {
            return Ok(end);
        }
        let path = self.ledger.shared.dirs.bounds.join(&name);
        let proposed = start + self.block_len(segment_end - start);
        // Written to a private file first and linked into place: `link` is exclusive, and the
        // bounds file is never seen empty, even if its creator dies right then.
        let private = self.ledger.private_path("bounds");
        std::fs::write(&private, proposed.to_string()).ctx("write block bounds", &private)?;
        let linked = std::fs::hard_link(&private, &path);
        let _ = std::fs::remove_file(&private);
        let end = match linked {
            Ok(()) => {
                self.last_len = proposed - start;
                proposed
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                read_bound(&path, start, segment_end)?
            }
            Err(e) => return Err(e).ctx("create block bounds", path),
        };
        self.ledger
            .shared
            .bounds_cache
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name, end);
        Ok(end)
    }

    fn try_block(&mut self, range: Range<u64>) -> Result<Option<BlockClaim>> {
        let name = key::block_name(&self.list, range.start);
        let record = BlockRecord {
            list: self.list.clone(),
            start: range.start,
            end: range.end,
            failed: Vec::new(),
        };
        let key = format!("{}[{}..{}]", self.list, range.start, range.end);
        match self.ledger.claim_name(&key, &name, Some(record))? {
            Claimed::Won(claim) => {
                let items = self.items_to_do(&name, &range);
                Ok(Some(BlockClaim {
                    claim,
                    range,
                    items,
                    failed: Vec::new(),
                    began: Instant::now(),
                }))
            }
            Claimed::Done | Claimed::Failed => {
                self.finished.insert(range.start, (range.end, true));
                Ok(None)
            }
            Claimed::Busy => {
                self.saw_busy = true;
                Ok(None)
            }
        }
    }

    /// All items of the range, or only the failed ones when retrying a failed block.
    fn items_to_do(&self, name: &str, range: &Range<u64>) -> Vec<u64> {
        let failed_path = self
            .ledger
            .shared
            .dirs
            .failed
            .join(format!("{name}+{}", range.end));
        let previous = std::fs::read(failed_path)
            .ok()
            .and_then(|bytes| ClaimRecord::parse(&bytes))
            .and_then(|r| r.block);
        match previous {
            Some(block) if !block.failed.is_empty() => block.failed.iter().map(|f| f.0).collect(),
            _ => range.clone().collect(),
        }
    }
}

/// Parse `<start>+<end>` (the tail of a published block name).
pub(crate) fn parse_range(tail: &str) -> Option<Range<u64>> {
    let (start, end) = tail.split_once('+')?;
    Some(start.parse().ok()?..end.parse().ok()?)
}

fn read_bound(path: &std::path::Path, start: u64, segment_end: u64) -> Result<u64> {
    let text = std::fs::read_to_string(path).ctx("read block bounds", path)?;
    match text.trim().parse::<u64>() {
        Ok(end) if end > start && end <= segment_end => Ok(end),
        _ => Err(Error::NotALedger {
            path: path.to_path_buf(),
            detail: format!(
                "block bounds file holds {text:?}, expected an end in {}..={segment_end}; \
                 was the list's length changed? Use a new list name or `claimsh cleanup --all`",
                start + 1
            ),
        }),
    }
}
