//! # claim-core: a crash-safe claim ledger on a shared filesystem
//!
//! Many workers on many machines walk the same list of items; each item must be processed by
//! exactly one of them, and a crashed worker's items must be finished by the others. The only
//! thing the machines share is a directory. This crate owns that directory's format and every
//! state transition in it. It has no script engine, no CLI and no thread-pool policy: those live in
//! `claimsh` and `claim-pool`.
//!
//! ```
//! use claim_core::{Claimed, Ledger, LedgerOptions};
//! let state = tempfile::tempdir().unwrap();
//! let ledger = Ledger::open(state.path(), LedgerOptions::default()).unwrap();
//! if let Claimed::Won(claim) = ledger.claim("images/a.tif").unwrap() {
//!     // ... process the item ...
//!     claim.done().unwrap();
//! }
//! assert!(matches!(ledger.claim("images/a.tif").unwrap(), Claimed::Done));
//! ```
//!
//! ## What an item is
//!
//! An item is its key, whatever claimed it: [`Ledger::claim`] one at a time, or
//! [`Ledger::walk`] over a list in blocks. An item is done iff a done record covers its key — a
//! per-item record or a finished block of *any* list — so a list that grows by one file, is
//! reordered, or is walked after some of its items were done one by one, redoes nothing. Every
//! persisted name is a stable function of keys ([`key::file_name`], [`key::ItemId`] = the first
//! 128 bits of SHA-256, [`key::list_name`]); a golden test pins them.
//!
//! ## On-disk format (`FORMAT` = `claim-ledger 2`)
//!
//! ```text
//! <state>/FORMAT            format marker
//!         claims/<name>     live per-item claims, one JSON ClaimRecord each
//!         done/<name>       items done one by one (the claim record that finished them)
//!         failed/<name>     items failed one by one (record with "reason"; also linked into
//!                           done/, so one stat answers "finished?"; failed/ tells them apart)
//!         blocks/<list>.<first item id>                 live block claims: record + item ids
//!         finished/<list>.<first item id>.<token>.fin   finished blocks: done ids, failures
//!         lists/<list>.json, lists/<list>.ids         each walked list: total, item ids
//!         tmp/              private names used during transitions, and clock probes
//! ```
//!
//! `<name>` is [`key::file_name`] of the item key: readable, injective, bounded, confined to its
//! directory. A ledger of format 1 (which recorded lists by position) is refused with a message
//! saying what to do; it is never misread.
//!
//! ## Transitions
//!
//! ```text
//!            claim: open(claims/N, O_CREAT|O_EXCL), write record, then check done/N
//!   (none) ──────  and blocks/ (if any list was ever walked) ──────────▶ claims/N
//!   claims/N ── done ──▶ link to done/N ──(token is ours)──▶ unlink claims/N   final
//!   claims/N ── fail ──▶ link to failed/N, then done/N ──(token is ours)──▶ unlink claims/N
//!   claims/N ── release / drop ──▶ tmp/fence-* ──(token is ours)──▶ deleted
//!   claims/N ── takeover (stale) ──▶ tmp/steal-* ──(same content)──▶ deleted, then claim
//!   blocks/B ── finish ──▶ link finished/B.<token>.fin (done + failed ids) ──▶ fence, delete B
//! ```
//!
//! `done` links the claim into `done/` before removing it (and a block writes its finished record
//! before removing its claim), so no racing worker ever finds an item neither claimed nor done.
//! The other arrows out of a claim are a `rename` to a private name, which exactly one process can
//! win; the winner then checks the token inside the file it moved (fencing). A holder whose claim
//! was taken over gets [`Error::LostClaim`] and publishes nothing. Heartbeats rewrite the record
//! in place every quarter lease through the holder's open file descriptor. Staleness rules are in
//! [`stale`] — none compares two machines' clocks.
//!
//! ## Metadata cost
//!
//! Every open, stat, link, rename and unlink is a round trip to a network file server. A won
//! per-item claim and its `done` cost 6: create, stat `done/`, list `blocks/` (one failed open
//! while no list was ever walked; then `blocks/` and `finished/` are listed), link, read back,
//! unlink. Workers of one process see each other's items in memory, at no cost. A block of `n` items costs about twenty for all `n` (create, five
//! listings, publish, fence, delete). Directory listings are not atomic, so whenever two
//! folders are listed to learn one thing, the one a file leaves is listed before the one it
//! reaches (`claims/` before `done/`, `blocks/` before `finished/`).

//! ## Filesystems
//!
//! `O_EXCL` is atomic on local filesystems and NFSv3 or later. Blocks and list files use the link
//! variant (write a private file, `link()` it to its name), so their content is never seen empty.
//! Fencing compares tokens written inside files, never inode numbers, so filesystems that do not
//! keep inode numbers stable (sshfs without `use_ino`, object-store mounts) are fine.
//!
//! ## Crashes
//! A claim is always either done, failed (with its reason), or recoverable: a dead holder's claim
//! is taken over, a transition interrupted between its two renames leaves the item unclaimed (it is
//! claimed afresh; `cleanup` removes the private file it left in `tmp/` after two leases), and a
//! claim file left empty by a crash is judged by its (unchanging) content. A holder is known dead
//! at once only on the same host, boot and pid namespace (its pid is gone or reused); anywhere
//! else, by its heartbeats stopping.

#![deny(missing_docs)]

mod block;
mod claim;
mod error;
mod heartbeat;
pub mod identity;
mod index;
pub mod key;
mod ledger;
pub mod probe;
mod record;
pub mod stale;
mod status;
mod store;

pub use block::{BlockClaim, ListInfo, ListWalker, SEGMENTS, TARGET_BLOCK_TIME};
pub use claim::Claim;
pub use error::{Error, Result};
pub use ledger::{Claimed, Ledger, LedgerOptions};
pub use probe::{ProbeReport, probe};
pub use record::{BlockRecord, ClaimRecord, ItemFailure};
pub use status::{ClaimInfo, CleanupScope, Counts, FailureInfo, Status};
pub use store::FORMAT;

use error::IoContext;
use std::path::Path;

/// Write `bytes` to `path` atomically: a temporary file in the same directory, then `rename`.
/// Readers see the old content or the new, never a torn file. Not fsynced: that costs a disk
/// flush per file (milliseconds, more than the analysis of a small image) and only matters if the
/// machine loses power, which also loses the claim's heartbeat, so the item is redone anyway
/// unless its `done` had already reached the disk.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        drop(file);
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.ctx("write", path)
}
