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
//! ## On-disk format (`FORMAT` = `claim-ledger 1`)
//!
//! ```text
//! <state>/FORMAT            format marker
//!         claims/<name>     running claims, one JSON ClaimRecord each
//!         done/<name>       finished items (the claim record that finished them)
//!         failed/<name>     failed items (record with "reason")
//!         bounds/+<list>+<start>   immutable end of the block starting at <start>
//!         lists/<list>.json        {"name", "total"} of each registered item list
//!         tmp/              private names used during transitions, and clock probes
//! ```
//!
//! `<name>` is [`key::file_name`] of the item key: readable, injective, bounded, confined to its
//! directory. A block of list `L` covering items `s..e` is claimed as `+L+s` and published as
//! `+L+s+e` (so one directory read tells the ranges that are finished).
//!
//! ## Transitions
//!
//! ```text
//!            claim: open(claims/N, O_CREAT|O_EXCL), write record, then check done/N (and failed/N)
//!   (none) ─────────────────────────────────────────────────────▶ claims/N
//!   claims/N ── done ──▶ link to done/N ──(inode is ours)──▶ unlink claims/N   final
//!   claims/N ── fail ──▶ tmp/finish-* ──(inode is ours)──▶ failed/N    retried only on request
//!   claims/N ── release / drop ──▶ tmp/finish-* ──(inode is ours)──▶ deleted
//!   claims/N ── takeover (stale) ──▶ tmp/steal-* ──(same inode+content)──▶ deleted, then claim
//! ```
//!
//! `done` links the claim into `done/` before removing it, so no racing worker ever finds the
//! item neither claimed nor done. The other arrows out of `claims/N` are a `rename` to a private
//! name, which exactly one process can win; the winner then checks it moved the file it meant to
//! (fencing). A holder whose claim was
//! taken over gets [`Error::LostClaim`] from `done` and publishes nothing. Heartbeats rewrite the
//! record in place every quarter lease through the holder's open file descriptor. Staleness rules
//! are in [`stale`] — none compares two machines' clocks.
//!
//! ## Filesystems
//!
//! `O_EXCL` is atomic on local filesystems and NFSv3 or later. On older NFS use the link variant:
//! write a uniquely named file, `link()` it to the claim name, and count the claim as won if `link`
//! succeeded *or* the unique file's `nlink` is 2 (a retransmitted LINK may report `EEXIST` even
//! though it succeeded). This crate uses that variant for `bounds/`, where content must never be
//! seen empty.
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
pub mod key;
mod ledger;
mod record;
pub mod stale;
mod status;

pub use block::{BlockClaim, ListInfo, ListWalker, SEGMENTS, TARGET_BLOCK_TIME};
pub use claim::Claim;
pub use error::{Error, Result};
pub use ledger::{Claimed, FORMAT, Ledger, LedgerOptions};
pub use record::{BlockRecord, ClaimRecord};
pub use status::{ClaimInfo, CleanupScope, Counts, FailureInfo, Status};

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
