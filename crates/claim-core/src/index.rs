//! What this process knows of the ledger: which items are done, failed, or held, by per-item
//! files or by blocks. Rebuilt from directory listings; a file is opened only the first time its
//! name is seen (block records are immutable once written, apart from heartbeats, which do not
//! touch the items they list).

use crate::error::Result;
use crate::key::ItemId;
use crate::record::ClaimRecord;
use crate::store::Store;
use std::collections::{HashMap, HashSet};

/// A file in `blocks/` or `finished/`, as first read.
enum BlockEntry {
    Live,
    Finished {
        done: Vec<ItemId>,
        failed: Vec<ItemId>,
    },
}

/// The known state of every item.
#[derive(Default)]
pub(crate) struct Index {
    names: HashMap<String, Option<ItemId>>,
    done_items: HashSet<ItemId>,
    failed_items: HashSet<ItemId>,
    claimed_items: HashSet<ItemId>,
    blocks: HashMap<String, BlockEntry>,
    block_done: HashSet<ItemId>,
    block_failed: HashSet<ItemId>,
    /// Item → the live blocks covering it (two walkers may race for it: each then gives it up).
    block_live: HashMap<ItemId, Vec<String>>,
    /// Live block claims whose record could not be read (see `learn_block`).
    unreadable: Vec<String>,
    /// Registered lists already read, and the union of their items.
    lists: HashSet<String>,
    listed: HashSet<ItemId>,
}

/// Whether a block name is a finished record (`<block>.<token>.fin`) or a live claim.
pub(crate) fn is_finished_block(name: &str) -> bool {
    name.ends_with(".fin")
}

impl Index {
    /// Whether `id` is done (by a per-item record or a block). A per-item failure is linked
    /// into `done/` too; `failed/` tells it apart.
    pub fn is_done(&self, id: ItemId) -> bool {
        (self.done_items.contains(&id) && !self.failed_items.contains(&id))
            || self.block_done.contains(&id)
    }

    /// Whether `id`'s last attempt failed (and it is not done since).
    pub fn is_failed(&self, id: ItemId) -> bool {
        !self.is_done(id) && (self.failed_items.contains(&id) || self.block_failed.contains(&id))
    }

    /// A live block holding `id`, if any.
    pub fn live_block(&self, id: ItemId) -> Option<&str> {
        self.block_live
            .get(&id)
            .and_then(|names| names.first())
            .or(self.unreadable.first())
            .map(String::as_str)
    }

    /// Whether a live block other than `ours` holds `id`.
    pub fn held_by_other_block(&self, id: ItemId, ours: &str) -> bool {
        self.unreadable.iter().any(|n| n != ours)
            || self
                .block_live
                .get(&id)
                .is_some_and(|names| names.iter().any(|n| n != ours))
    }

    /// Whether a per-item claim on `id` was seen at the last listing of `claims/`.
    pub fn is_claimed(&self, id: ItemId) -> bool {
        self.claimed_items.contains(&id)
    }

    /// Every item id known to be done.
    pub fn done_ids(&self) -> impl Iterator<Item = ItemId> + '_ {
        self.done_items
            .union(&self.block_done)
            .copied()
            .filter(|id| self.is_done(*id))
    }

    /// Every item id whose last attempt failed and that is not done.
    pub fn failed_ids(&self) -> impl Iterator<Item = ItemId> + '_ {
        self.failed_items
            .union(&self.block_failed)
            .copied()
            .filter(|id| !self.is_done(*id))
    }

    /// Items of live per-item claims and live blocks.
    pub fn held_ids(&self) -> impl Iterator<Item = ItemId> + '_ {
        self.claimed_items
            .iter()
            .chain(self.block_live.keys())
            .copied()
    }

    /// Note an item finished by this process (before the next listing shows it).
    pub fn note_item(&mut self, id: ItemId, done: bool) {
        self.done_items.insert(id);
        if done {
            self.failed_items.remove(&id);
        } else {
            self.failed_items.insert(id);
        }
    }

    /// Note items finished in a block of this process (before the next listing shows it).
    pub fn note_items(&mut self, done: &[ItemId]) {
        self.block_done.extend(done.iter().copied());
    }

    /// Re-list `done/`, `failed/`, `claims/` and `blocks/`.
    pub fn refresh(&mut self, store: &Store) -> Result<()> {
        self.refresh_claims(store)?;
        self.refresh_items(store)?;
        self.refresh_blocks(store)?;
        Ok(())
    }

    /// Re-list `done/` and `failed/`.
    pub fn refresh_items(&mut self, store: &Store) -> Result<()> {
        self.done_items = self.ids_in(store, &store.done)?;
        self.failed_items = self.ids_in(store, &store.failed)?;
        Ok(())
    }

    /// Re-list `claims/`.
    pub fn refresh_claims(&mut self, store: &Store) -> Result<()> {
        self.claimed_items = self.ids_in(store, &store.claims)?;
        Ok(())
    }

    fn ids_in(&mut self, store: &Store, dir: &std::path::Path) -> Result<HashSet<ItemId>> {
        let mut ids = HashSet::new();
        for name in store.names(dir)? {
            let id = *self
                .names
                .entry(name)
                .or_insert_with_key(|name| ItemId::of_file_name(name));
            ids.extend(id);
        }
        Ok(ids)
    }

    /// Re-list `blocks/`: read finished records not seen before, forget names gone, and read
    /// every live claim again (a live name is reused when a block is formed again from the same
    /// first item, with other items; there are only as many as there are workers).
    pub fn refresh_blocks(&mut self, store: &Store) -> Result<()> {
        // No `blocks/`: no list was ever walked here, so there is nothing to learn (the cheap
        // answer for a ledger used one item at a time).
        let Some(live) = store.names_if_exists(&store.blocks)? else {
            return Ok(());
        };
        // Live claims are listed *and read* before `finished/` is listed: one that finishes
        // meanwhile (gone when read) published its record before, so the listing finds it.
        self.forget_live();
        for name in live {
            self.learn_block(store, name)?;
        }
        let finished: HashSet<String> = store.names(&store.finished)?.into_iter().collect();
        let before = self.blocks.len();
        self.blocks
            .retain(|n, e| matches!(e, BlockEntry::Live) || finished.contains(n));
        if self.blocks.len() < before {
            self.recount_finished();
        }
        for name in finished {
            if !self.blocks.contains_key(&name) {
                self.learn_block(store, name)?;
            }
        }
        Ok(())
    }

    fn forget_live(&mut self) {
        self.blocks.retain(|_, e| !matches!(e, BlockEntry::Live));
        self.block_live.clear();
        self.unreadable.clear();
    }

    fn learn_block(&mut self, store: &Store, name: String) -> Result<()> {
        let dir = if is_finished_block(&name) {
            &store.finished
        } else {
            &store.blocks
        };
        let block = match read_block(store, &dir.join(&name))? {
            Read::Gone => return Ok(()), // finished or taken over meanwhile: the listing tells
            Read::Block(block) => block,
            Read::Unreadable if is_finished_block(&name) => return Ok(()),
            Read::Unreadable => {
                // A live claim whose items cannot be read may hold any item: everything counts
                // as held until it can be read, or is judged stale and taken over.
                self.unreadable.push(name.clone());
                self.blocks.insert(name, BlockEntry::Live);
                return Ok(());
            }
        };
        let ids = |hex: &[String]| hex.iter().filter_map(|h| ItemId::parse(h)).collect();
        let entry = if is_finished_block(&name) {
            let done: Vec<ItemId> = ids(&block.done);
            let failed: Vec<ItemId> = block
                .failed
                .iter()
                .filter_map(|f| ItemId::parse(&f.id))
                .collect();
            self.block_done.extend(done.iter().copied());
            self.block_failed.extend(failed.iter().copied());
            BlockEntry::Finished { done, failed }
        } else {
            let items: Vec<ItemId> = ids(&block.items);
            for id in &items {
                self.block_live.entry(*id).or_default().push(name.clone());
            }
            BlockEntry::Live
        };
        self.blocks.insert(name, entry);
        Ok(())
    }

    fn recount_finished(&mut self) {
        self.block_done.clear();
        self.block_failed.clear();
        for entry in self.blocks.values() {
            if let BlockEntry::Finished { done, failed } = entry {
                self.block_done.extend(done.iter().copied());
                self.block_failed.extend(failed.iter().copied());
            }
        }
    }

    /// Names of live block claims.
    pub fn live_blocks(&self) -> impl Iterator<Item = &str> {
        self.blocks
            .iter()
            .filter(|(_, e)| matches!(e, BlockEntry::Live))
            .map(|(n, _)| n.as_str())
    }

    /// Read the item ids of lists registered since the last call.
    pub fn refresh_lists(&mut self, store: &Store) -> Result<()> {
        for name in store.names(&store.lists)? {
            if !name.ends_with(".ids") || self.lists.contains(&name) {
                continue;
            }
            let Some(bytes) = store.read(&store.lists.join(&name))? else {
                continue;
            };
            for chunk in bytes.chunks_exact(16) {
                let id = u128::from_be_bytes(chunk.try_into().expect("16 bytes"));
                self.listed.insert(ItemId(id));
            }
            self.lists.insert(name);
        }
        Ok(())
    }

    /// Distinct items known: every item of a registered list (as of the last
    /// [`refresh_lists`](Self::refresh_lists)), and every item done, failed or held.
    pub fn known_items(&self) -> usize {
        let mut extra: HashSet<ItemId> = HashSet::new();
        let sets = [
            &self.done_items,
            &self.failed_items,
            &self.claimed_items,
            &self.block_done,
            &self.block_failed,
        ];
        for set in sets {
            extra.extend(set.iter().filter(|id| !self.listed.contains(id)));
        }
        extra.extend(
            self.block_live
                .keys()
                .filter(|id| !self.listed.contains(id)),
        );
        self.listed.len() + extra.len()
    }
}

enum Read {
    Gone,
    Block(crate::record::BlockRecord),
    Unreadable,
}

/// Read a block record. A heartbeat rewrites a live claim in place, so a read may catch it half
/// written: read again a few times (a rewrite takes microseconds) before calling it unreadable.
fn read_block(store: &Store, path: &std::path::Path) -> Result<Read> {
    for attempt in 0..5 {
        let Some(bytes) = store.read(path)? else {
            return Ok(Read::Gone);
        };
        if let Some(block) = ClaimRecord::parse(&bytes).and_then(|r| r.block) {
            return Ok(Read::Block(block));
        }
        std::thread::sleep(std::time::Duration::from_millis(1 << attempt));
    }
    Ok(Read::Unreadable)
}
