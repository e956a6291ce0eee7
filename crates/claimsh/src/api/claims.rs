//! Claims: `claim`, `done`, `fail`, `release`, the list form `claimed(items)`, and coordination
//! across all workers and nodes: `once`, `all_done`.

use super::{R, script_error, script_failure, worker};
use crate::worker::{OpenList, Worker};
use claim_core::Claimed;
use rhai::plugin::*;
use rhai::{Array, Dynamic, EvalAltResult, FnPtr, NativeCallContext};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Claims and coordination across workers and nodes.
#[export_module]
pub mod claim_functions {
    use super::*;

    /// What `claimed(items)` returns: iterate it with `for`.
    pub type ClaimedItems = super::ClaimedItems;

    /// Atomically claim an item (a string, number or map: keyed by `item_key(item)`); true for
    /// exactly one worker anywhere.
    ///
    /// ```rhai
    /// for f in glob("images/*.tif") {
    ///     if claim(f) { done(f); }
    /// }
    /// ```
    #[rhai_fn(return_raw)]
    pub fn claim(ctx: NativeCallContext, item: Dynamic) -> R<bool> {
        let w = worker(&ctx)?;
        let item = &key(&item)?;
        if w.stopping() {
            return Ok(false);
        }
        let claimed = w.ledger.claim(item).map_err(script_failure)?;
        Ok(w.took(item, claimed))
    }

    /// Claim unless the output file already exists (then the item counts as done).
    ///
    /// ```rhai
    /// let f = "images/a.tif";
    /// if claim(f, `out/${stem(f)}.csv`) { done(f); }
    /// ```
    #[rhai_fn(name = "claim", return_raw)]
    pub fn claim_unless_exists(ctx: NativeCallContext, item: Dynamic, output: &str) -> R<bool> {
        let w = worker(&ctx)?;
        let item = &key(&item)?;
        if w.stopping() {
            return Ok(false);
        }
        let claimed = w
            .ledger
            .claim_unless_exists(item, &w.resolve(output))
            .map_err(script_failure)?;
        Ok(w.took(item, claimed))
    }

    /// Publish a claimed item as done; nobody will redo it.
    #[rhai_fn(return_raw)]
    pub fn done(ctx: NativeCallContext, item: Dynamic) -> R<()> {
        finish(&*worker(&ctx)?, &key(&item)?, None)
    }

    /// Record a claimed item as failed with a reason (skipped later unless `--retry-failed`).
    ///
    /// ```rhai
    /// for f in claimed(glob("images/*.tif")) {
    ///     if load_image(f).width < 10 { fail(f, "too small"); } else { done(f); }
    /// }
    /// ```
    #[rhai_fn(return_raw)]
    pub fn fail(ctx: NativeCallContext, item: Dynamic, reason: &str) -> R<()> {
        finish(&*worker(&ctx)?, &key(&item)?, Some(reason))
    }

    /// Give a claimed item back unfinished.
    #[rhai_fn(return_raw)]
    pub fn release(ctx: NativeCallContext, item: Dynamic) -> R<()> {
        let w = worker(&ctx)?;
        let item = &key(&item)?;
        let claim = w
            .lock_held()
            .remove(item)
            .ok_or_else(|| not_held("release", item))?;
        w.set_current(None);
        tracing::info!(key = ?item, "released");
        claim.release().map_err(script_failure)
    }

    /// For `for f in claimed(items)`: yields only the items this worker won, skipping items done
    /// anywhere (alone or in any list); claims blocks of pending items.
    ///
    /// ```rhai
    /// for f in claimed(glob("images/*.tif")) {
    ///     log(f);
    ///     done(f);
    /// }
    /// ```
    #[rhai_fn(return_raw)]
    pub fn claimed(ctx: NativeCallContext, items: Array) -> R<ClaimedItems> {
        open_list(&*worker(&ctx)?, items, None)
    }

    /// Like `claimed(items)`, and an item whose output file `output(item)` exists counts as done.
    ///
    /// ```rhai
    /// for f in claimed(glob("images/*.tif"), |f| `out/${stem(f)}.csv`) {
    ///     write_text(`out/${stem(f)}.csv`, "");
    ///     done(f);
    /// }
    /// ```
    #[rhai_fn(name = "claimed", return_raw)]
    pub fn claimed_unless_exists(
        ctx: NativeCallContext,
        items: Array,
        output: FnPtr,
    ) -> R<ClaimedItems> {
        let w = worker(&ctx)?;
        let mut outputs = Vec::with_capacity(items.len());
        for item in &items {
            let path: Dynamic = output.call_within_context(&ctx, (item.clone(),))?;
            outputs.push(w.resolve(&path.to_string()));
        }
        open_list(&w, items, Some(outputs))
    }

    /// Run `f` exactly once across all workers and nodes; the others wait for it. Returns `f`'s
    /// result to the worker that ran it, `()` elsewhere.
    ///
    /// ```rhai
    /// let files = glob("images/*.tif");
    /// if all_done(files) {
    ///     once("summary", || concat_csv(glob("out/*.csv"), "summary.csv"));
    /// }
    /// ```
    #[rhai_fn(return_raw)]
    pub fn once(ctx: NativeCallContext, name: &str, f: FnPtr) -> R<Dynamic> {
        super::once(&*worker(&ctx)?, &ctx, name, f)
    }

    /// Whether every item is done (asks the ledger).
    #[rhai_fn(return_raw)]
    pub fn all_done(ctx: NativeCallContext, items: Array) -> R<bool> {
        let keys = keys(&items)?;
        worker(&ctx)?
            .ledger
            .all_done(keys.iter().map(String::as_str))
            .map_err(script_failure)
    }
}

fn not_held(what: &str, item: &str) -> Box<EvalAltResult> {
    script_error(format!(
        "{what}({item:?}): this worker does not hold {item:?}; call it only after claim() returned true"
    ))
}

/// `done` (reason `None`) or `fail` for a claimed item or the current item of a `claimed` list.
fn finish(w: &Worker, item: &str, reason: Option<&str>) -> R<()> {
    w.set_current(None);
    if let Some(claim) = w.lock_held().remove(item) {
        let held_ms = claim.held_for().as_millis();
        let result = match reason {
            None => claim.done(),
            Some(reason) => claim.fail(reason),
        };
        result.map_err(|e| {
            tracing::error!(key = ?item, "{e}");
            script_failure(e)
        })?;
        match reason {
            None => {
                tracing::info!(key = ?item, held_ms, "done");
                w.note_done();
            }
            Some(reason) => w.note_failed(item, reason),
        }
        return Ok(());
    }
    let mut lists = w.lock_lists();
    for open in lists.values_mut() {
        let Some(index) = open.current else { continue };
        if open.walker.key(index) != item {
            continue;
        }
        open.current = None;
        match reason {
            None => {
                tracing::debug!(key = ?item, "done");
                if let Some(block) = open.block.as_mut() {
                    block.done_item(index);
                }
                w.note_done();
            }
            Some(reason) => {
                if let Some(block) = open.block.as_mut() {
                    block.fail_item(index, reason);
                }
                w.note_failed(item, reason);
            }
        }
        return Ok(());
    }
    Err(not_held(
        if reason.is_some() { "fail" } else { "done" },
        item,
    ))
}

/// The value of `claimed(items)`: iterating it claims blocks of the list lazily.
#[derive(Clone)]
pub struct ClaimedItems {
    worker: Arc<Worker>,
    list: String,
}

/// An item's key: its canonical text ([`super::item_key`]): strings as they are, numbers and maps
/// in a stable form, so `claimed(grid(...))` and `done(p)` work on maps.
fn key(item: &Dynamic) -> R<String> {
    super::item_key::canonical_key(item).map_err(script_error)
}

fn keys(items: &Array) -> R<Vec<String>> {
    items.iter().map(key).collect()
}

fn open_list(w: &Arc<Worker>, items: Array, outputs: Option<Vec<PathBuf>>) -> R<ClaimedItems> {
    let keys = keys(&items)?;
    let list = claim_core::key::list_name(keys.iter().map(String::as_str));
    let mut lists = w.lock_lists();
    if !lists.contains_key(&list) {
        let walker = w.ledger.walk(keys).map_err(script_failure)?;
        lists.insert(
            list.clone(),
            OpenList {
                walker,
                items: Arc::new(items),
                outputs,
                block: None,
                queue: Default::default(),
                current: None,
            },
        );
    }
    Ok(ClaimedItems {
        worker: w.clone(),
        list,
    })
}

impl IntoIterator for ClaimedItems {
    type Item = Dynamic;
    type IntoIter = ClaimedIter;
    fn into_iter(self) -> ClaimedIter {
        ClaimedIter { items: self }
    }
}

/// Iterator over the items this worker wins.
pub struct ClaimedIter {
    items: ClaimedItems,
}

impl Iterator for ClaimedIter {
    type Item = Dynamic;

    fn next(&mut self) -> Option<Dynamic> {
        let w = &self.items.worker;
        let mut lists = w.lock_lists();
        let open = lists.get_mut(&self.items.list)?;
        if let Some(left) = open.current.take() {
            let reason = "the loop body ended without done() or fail()";
            tracing::warn!(key = ?open.walker.key(left), "{reason}");
            if let Some(block) = open.block.as_mut() {
                block.fail_item(left, reason);
            }
        }
        loop {
            if let Some(index) = open.queue.pop_front() {
                if open.output_exists(index) {
                    if let Some(block) = open.block.as_mut() {
                        block.done_item(index);
                    }
                    continue;
                }
                open.current = Some(index);
                w.set_current(Some(open.walker.key(index)));
                return Some(open.items[index as usize].clone());
            }
            if let Some(block) = open.block.take()
                && let Err(e) = open.walker.complete(block)
            {
                tracing::error!("{e}");
            }
            if w.stopping() {
                lists.remove(&self.items.list);
                return None;
            }
            match open.walker.next_block() {
                Ok(Some(block)) => {
                    if let Some(from) = block.taken_from() {
                        let n = block.items().len();
                        let n = crate::words::count(n as u64, "item", "items");
                        tracing::warn!("a block of {n} taken over from {from}");
                    }
                    open.queue = block.items().iter().copied().collect();
                    open.block = Some(block);
                }
                Ok(None) => {
                    if open.walker.saw_busy() {
                        w.saw_busy.store(true, Ordering::Relaxed);
                    }
                    lists.remove(&self.items.list);
                    return None;
                }
                Err(e) => {
                    tracing::error!("claiming a block: {e}");
                    lists.remove(&self.items.list);
                    return None;
                }
            }
        }
    }
}

/// Run `f` once across every worker and node; the others wait for the winner.
fn once(w: &Arc<Worker>, ctx: &NativeCallContext, name: &str, f: FnPtr) -> R<Dynamic> {
    let key = format!("once:{name}");
    loop {
        match w.once_ledger.claim(&key).map_err(script_failure)? {
            Claimed::Won(claim) => {
                tracing::info!(key = ?key, "running once({name})");
                return match f.call_within_context::<Dynamic>(ctx, ()) {
                    Ok(value) => {
                        claim.done().map_err(script_failure)?;
                        Ok(value)
                    }
                    Err(e) => {
                        let _ = claim.fail(&e.to_string());
                        Err(e)
                    }
                };
            }
            Claimed::Done => return Ok(Dynamic::UNIT),
            Claimed::Failed => {
                return Err(script_error(format!(
                    "once({name:?}) failed on another worker; see `claimsh status` \
                     (run with --retry-failed to try it again)"
                )));
            }
            Claimed::Busy => {
                if w.stopping() {
                    return Err(script_error("interrupted while waiting for once()"));
                }
                std::thread::sleep(Duration::from_millis(100));
                w.once_ledger.refresh().map_err(script_failure)?;
            }
        }
    }
}
