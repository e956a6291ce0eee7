//! Block claims: one claim file covers many items of a list, so a million tiny items cost
//! hundreds of files, not millions.
//!
//! A block is formed over the items of the list that are *pending* — not done, not failed (unless
//! retrying), not held — whatever claimed them before: one by one, or in blocks of any other
//! list. Its record names every item it reserves by [`ItemId`], so any other list, and any
//! per-item `claim`, can tell those items are taken, and later done. A block is named after its
//! list and its first item (`blocks/<list>.<first item id>`), so walkers of one list that reach
//! the same item race for one exclusive name; walkers start at different points of the list.
//!
//! After creating its block, a walker lists `claims/`, `done/`, `failed/` and `blocks/` again and
//! gives up (leaves pending) every item another claim holds or finished meanwhile; a per-item
//! claimer checks `blocks/` after creating its claim. Of two racing claimers at least one sees the
//! other, so no item is processed twice; when both see each other, both give the item up and a
//! later pass takes it.
//!
//! Block length adapts: about [`TARGET_BLOCK_TIME`] of work per claim file, measured from the items
//! this walker finished, and small enough that the last items still spread across workers.

use crate::claim::{Claim, Place};
use crate::error::{IoContext, Result};
use crate::key::{self, ItemId};
use crate::ledger::Ledger;
use crate::record::{BlockRecord, ItemFailure};
use crate::stale::Verdict;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Number of starting points in a list (fewer for shorter lists).
pub const SEGMENTS: u64 = 16;
/// Work aimed for per block claim.
pub const TARGET_BLOCK_TIME: Duration = Duration::from_millis(250);
/// Length of a walker's first block, before any item time is known.
const FIRST_BLOCK: usize = 8;
/// Longest block (its record lists every item id: 33 bytes each).
const MAX_BLOCK: usize = 4096;

/// What `lists/<list>.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ListInfo {
    /// List name ([`key::list_name`] of its keys).
    pub name: String,
    /// Number of items.
    pub total: u64,
}

/// A claimed block: the positions (in its list) of the items to process.
#[derive(Debug)]
pub struct BlockClaim {
    claim: Claim,
    items: Vec<u64>,
    done: Vec<u64>,
    failed: Vec<(u64, String)>,
    began: Instant,
}

impl BlockClaim {
    /// Positions of the items to process, in list order.
    pub fn items(&self) -> &[u64] {
        &self.items
    }

    /// Record item `index` as done (published with the block).
    pub fn done_item(&mut self, index: u64) {
        self.done.push(index);
    }

    /// Record item `index` as failed with `reason` (published with the block).
    pub fn fail_item(&mut self, index: u64, reason: &str) {
        self.failed.push((index, reason.to_string()));
    }

    /// `host:pid` this block was taken over from, if it was.
    pub fn taken_from(&self) -> Option<&str> {
        self.claim.taken_from()
    }
}

/// Walks a list, claiming blocks of its pending items. One walker per worker.
#[derive(Debug)]
pub struct ListWalker {
    ledger: Ledger,
    list: String,
    keys: Vec<String>,
    ids: Vec<ItemId>,
    /// Where this walker's passes start.
    start: usize,
    /// Offset from `start` of the next position to look at in this pass.
    pos: usize,
    /// Longest block this pass (half the pending items over the segments).
    cap: usize,
    item_secs: Option<f64>,
    last_len: usize,
    saw_busy: bool,
    /// Who the last stale block was taken over from, for the next block's record.
    taken_from: Option<String>,
    /// Claims judged for staleness in this pass.
    judged: HashSet<PathBuf>,
}

impl Ledger {
    /// A walker over the list of `keys` (registers the list for `status`).
    pub fn walk(&self, keys: Vec<String>) -> Result<ListWalker> {
        let list = key::list_name(keys.iter().map(String::as_str));
        let ids: Vec<ItemId> = keys.iter().map(|k| ItemId::of(k)).collect();
        self.register_list(&list, &ids)?;
        let store = &self.shared.store;
        for dir in [&store.finished, &store.blocks] {
            std::fs::create_dir_all(dir).ctx("create state directory", dir)?;
        }
        let total = keys.len();
        let segments = (SEGMENTS as usize).min(total).max(1);
        let mix = Sha256::digest(format!(
            "{}/{}/{}",
            self.identity().host,
            self.identity().pid,
            self.worker
        ));
        let segment =
            (u64::from_le_bytes(mix[..8].try_into().expect("8 bytes")) % segments as u64) as usize;
        let mut walker = ListWalker {
            ledger: self.clone(),
            list,
            keys,
            ids,
            start: segment * total / segments,
            pos: 0,
            cap: MAX_BLOCK,
            item_secs: None,
            last_len: FIRST_BLOCK,
            saw_busy: false,
            taken_from: None,
            judged: HashSet::new(),
        };
        walker.restart()?;
        Ok(walker)
    }

    /// Record list `list` (its item ids, for `status`): `lists/<list>.ids` (16 bytes per item)
    /// and `lists/<list>.json`. Written once, by whoever comes first; lists are named by their
    /// content, so a second writer would write the same bytes.
    fn register_list(&self, list: &str, ids: &[ItemId]) -> Result<()> {
        let store = &self.shared.store;
        let info_path = store.lists.join(format!("{list}.json"));
        if store.exists(&info_path)? {
            return Ok(());
        }
        let bytes: Vec<u8> = ids.iter().flat_map(|id| id.0.to_be_bytes()).collect();
        store.link_exclusive(&store.lists.join(format!("{list}.ids")), &bytes)?;
        let info = ListInfo {
            name: list.to_string(),
            total: ids.len() as u64,
        };
        let json = serde_json::to_vec(&info).expect("list info serialises");
        store.link_exclusive(&info_path, &json)?;
        Ok(())
    }
}

impl ListWalker {
    /// The list's number of items.
    pub fn total(&self) -> u64 {
        self.keys.len() as u64
    }

    /// The list's stable name.
    pub fn name(&self) -> &str {
        &self.list
    }

    /// The key of item `index`.
    pub fn key(&self, index: u64) -> &str {
        &self.keys[index as usize]
    }

    /// Whether this pass met items held by other live workers (or given up in a race).
    pub fn saw_busy(&self) -> bool {
        self.saw_busy
    }

    /// Start a new pass from this walker's starting point, with a fresh view of the ledger.
    pub fn restart(&mut self) -> Result<()> {
        self.pos = 0;
        self.saw_busy = false;
        self.judged.clear();
        self.ledger.refresh()?;
        let index = self.ledger.index();
        let retry = self.ledger.shared.retry_failed;
        let pending = self
            .ids
            .iter()
            .filter(|id| !index.is_done(**id) && (retry || !index.is_failed(**id)))
            .count();
        self.cap = (pending / (2 * SEGMENTS as usize)).clamp(1, MAX_BLOCK);
        Ok(())
    }

    /// Claim the next block, or `None` when this pass found nothing more to claim.
    pub fn next_block(&mut self) -> Result<Option<BlockClaim>> {
        loop {
            let resume = self.pos;
            let (positions, blockers) = self.gather();
            if self.took_over_any(blockers)? {
                self.pos = resume;
                continue;
            }
            if positions.is_empty() {
                return Ok(None);
            }
            match self.try_block(positions)? {
                Tried::Won(block) => return Ok(Some(block)),
                Tried::Empty => {}
                Tried::Held(first_offset) => {
                    // Another walker holds a block from this item: learn it, look again after.
                    self.saw_busy = true;
                    self.ledger
                        .index()
                        .refresh_blocks(&self.ledger.shared.store)?;
                    self.pos = resume.max(first_offset + 1);
                }
                Tried::Again => self.pos = resume,
            }
        }
    }

    fn offset_of(&self, position: u64) -> usize {
        let total = self.keys.len();
        (position as usize + total - self.start) % total
    }

    /// Judge the claims (blocks or single items) that held items of this pass, once per pass
    /// each, and take the stale ones over. True if any was.
    fn took_over_any(&mut self, blockers: Vec<PathBuf>) -> Result<bool> {
        let mut any = false;
        for path in blockers {
            if !self.judged.insert(path.clone()) {
                continue;
            }
            let verdict = self.ledger.shared.observer.judge(&self.ledger, &path)?;
            if let Verdict::Stale(seen) = verdict
                && let Some(from) = self.ledger.take_over(&path, &seen)?
            {
                self.taken_from = Some(from);
                any = true;
            }
        }
        if any {
            let store = &self.ledger.shared.store;
            let mut index = self.ledger.index();
            index.refresh_claims(store)?;
            index.refresh_blocks(store)?;
        }
        Ok(any)
    }

    /// The next pending positions of this pass, at most one block long, and the claims that
    /// held items passed over.
    fn gather(&mut self) -> (Vec<u64>, Vec<PathBuf>) {
        let total = self.keys.len();
        let len = self.block_len();
        let retry = self.ledger.shared.retry_failed;
        let store = &self.ledger.shared.store;
        let index = self.ledger.index();
        let mut blockers = Vec::new();
        let mut positions = Vec::new();
        while self.pos < total && positions.len() < len {
            let p = (self.start + self.pos) % total;
            self.pos += 1;
            let id = self.ids[p];
            if index.is_done(id) || (!retry && index.is_failed(id)) {
                continue;
            }
            if let Some(block) = index.live_block(id) {
                blockers.push(store.blocks.join(block));
                self.saw_busy = true;
                continue;
            }
            if index.is_claimed(id) {
                blockers.push(store.claims.join(key::file_name(&self.keys[p])));
                self.saw_busy = true;
                continue;
            }
            positions.push(p as u64);
        }
        blockers.dedup();
        (positions, blockers)
    }

    fn try_block(&mut self, positions: Vec<u64>) -> Result<Tried> {
        let first = positions[0];
        let name = format!("{}.{}", self.list, self.ids[first as usize].hex());
        let store = &self.ledger.shared.store;
        let path = store.blocks.join(&name);
        let record = self.ledger.new_record(
            &self.block_key(&positions),
            Some(self.block_record(&positions)),
            self.taken_from.take(),
        );
        let Some(file) = store.link_exclusive(&path, &record.to_bytes())? else {
            return match self.ledger.shared.observer.judge(&self.ledger, &path)? {
                Verdict::Alive => Ok(Tried::Held(self.offset_of(first))),
                Verdict::Gone => Ok(Tried::Again),
                Verdict::Stale(seen) => {
                    self.taken_from = self.ledger.take_over(&path, &seen)?;
                    Ok(Tried::Again)
                }
            };
        };
        let claim = Claim::new(
            self.ledger.clone(),
            &record.key.clone(),
            Place::Block(name.clone()),
            file,
            record,
        );
        let items = self.keep_uncontested(&name, positions)?;
        self.last_len = self.last_len.max(items.len());
        let ids = items.iter().map(|&p| self.ids[p as usize]);
        self.ledger.held().extend(ids);
        if items.is_empty() {
            claim.finish_block(Vec::new(), Vec::new())?;
            return Ok(Tried::Empty);
        }
        Ok(Tried::Won(BlockClaim {
            claim,
            items,
            done: Vec::new(),
            failed: Vec::new(),
            began: Instant::now(),
        }))
    }

    /// After creating block `name`: list the ledger again and keep only the items nobody else
    /// holds or finished meanwhile.
    fn keep_uncontested(&mut self, name: &str, positions: Vec<u64>) -> Result<Vec<u64>> {
        let store = &self.ledger.shared.store;
        let retry = self.ledger.shared.retry_failed;
        let mut index = self.ledger.index();
        // Claims first, then done: an item whose claim vanished between the two listings is
        // found done by the second.
        index.refresh_claims(store)?;
        index.refresh_items(store)?;
        index.refresh_blocks(store)?;
        let mut kept = Vec::with_capacity(positions.len());
        for p in positions {
            let id = self.ids[p as usize];
            if index.is_done(id) || (!retry && index.is_failed(id)) {
                continue;
            }
            if index.held_by_other_block(id, name) || index.is_claimed(id) {
                self.saw_busy = true;
                continue;
            }
            kept.push(p);
        }
        Ok(kept)
    }

    fn block_key(&self, positions: &[u64]) -> String {
        let first = &self.keys[positions[0] as usize];
        match positions.len() {
            1 => format!("{}[1 item: {first}]", self.list),
            n => format!("{}[{n} items from {first}]", self.list),
        }
    }

    fn block_record(&self, positions: &[u64]) -> BlockRecord {
        BlockRecord {
            list: self.list.clone(),
            items: positions
                .iter()
                .map(|&p| self.ids[p as usize].hex())
                .collect(),
            done: Vec::new(),
            failed: Vec::new(),
        }
    }

    /// Publish a finished block (its done and failed items) and learn the item time.
    pub fn complete(&mut self, block: BlockClaim) -> Result<()> {
        let finished = block.done.len() + block.failed.len();
        if finished > 0 {
            let per_item = block.began.elapsed().as_secs_f64() / finished as f64;
            self.item_secs = Some(match self.item_secs {
                Some(old) => 0.5 * old + 0.5 * per_item,
                None => per_item,
            });
        }
        self.publish(block)
    }

    /// Give a block back: the items already finished are published, the rest go back.
    pub fn release(&mut self, block: BlockClaim) -> Result<()> {
        self.publish(block)
    }

    fn publish(&self, block: BlockClaim) -> Result<()> {
        let done: Vec<ItemId> = block.done.iter().map(|&p| self.ids[p as usize]).collect();
        let failed = block
            .failed
            .iter()
            .map(|(p, reason)| ItemFailure {
                id: self.ids[*p as usize].hex(),
                key: self.keys[*p as usize].clone(),
                reason: reason.clone(),
            })
            .collect();
        let result = block.claim.finish_block(done.clone(), failed);
        if result.is_ok() {
            self.ledger.index().note_items(&done);
        }
        let mut held = self.ledger.held();
        for &p in &block.items {
            held.remove(&self.ids[p as usize]);
        }
        result
    }

    fn block_len(&self) -> usize {
        let by_time = match self.item_secs {
            Some(secs) if secs > 0.0 => (TARGET_BLOCK_TIME.as_secs_f64() / secs) as usize,
            Some(_) => MAX_BLOCK,
            None => FIRST_BLOCK,
        };
        by_time
            .min(self.last_len.saturating_mul(8))
            .min(self.cap)
            .max(1)
    }
}

/// What trying to claim a block gave.
#[allow(clippy::large_enum_variant)] // short-lived, never stored
enum Tried {
    Won(BlockClaim),
    /// Won, but every item turned out taken or finished: released.
    Empty,
    /// A live block of another walker starts at the item at this offset.
    Held(usize),
    /// The name was freed meanwhile (finished, or taken over from a dead holder): try again.
    Again,
}

#[cfg(test)]
mod tests {
    use crate::{Ledger, LedgerOptions};

    /// A running block shows in `status` as its list's items: how many, and from which key.
    #[test]
    fn a_running_block_is_named_by_its_count_and_first_key() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(dir.path(), LedgerOptions::default()).unwrap();
        let first_block = |count: usize| {
            let keys: Vec<String> = (0..count).map(|i| format!("{count}-{i}.tif")).collect();
            let mut walker = ledger.walk(keys).unwrap();
            let block = walker.next_block().unwrap().expect("a block");
            let key = ledger.status().unwrap().claims[0].key.clone();
            let (n, first) = (
                block.items().len(),
                walker.key(block.items()[0]).to_string(),
            );
            walker.release(block).unwrap();
            (key, n, first)
        };
        let (key, n, first) = first_block(1);
        assert_eq!(n, 1);
        assert!(key.ends_with(&format!("[1 item: {first}]")), "{key}");
        let (key, n, first) = first_block(1000);
        assert!(n > 1);
        assert!(key.ends_with(&format!("[{n} items from {first}]")), "{key}");
    }
}
