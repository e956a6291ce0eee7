//! `claimsh check-fs [DIR]`: run the filesystem conformance probe on DIR and say whether a
//! ledger can live there, which mechanisms it would use, what a metadata round trip costs, and
//! the advice that follows (lease, loop form).

use crate::exit;
use crate::stdout::outln;
use anyhow::Context;
use claim_core::probe::{Check, ProbeReport as Report};
use std::path::Path;

/// Round trips to the file server of one won per-item claim and its `done` (see claim-core).
const PER_ITEM_ROUND_TRIPS: f64 = 7.0;
/// Round trips of one block of a list, whatever its length.
const PER_BLOCK_ROUND_TRIPS: f64 = 20.0;

pub fn check_fs(dir: &Path, json: bool) -> anyhow::Result<i32> {
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    let report = claim_core::probe(dir)
        .with_context(|| format!("probe the filesystem of {}", dir.display()))?;
    if json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(if report.usable() {
            exit::OK
        } else {
            exit::FAILED
        });
    }
    print_checks(dir, &report);
    print_mechanisms(&report);
    if let Some(refusal) = report.refusal(dir) {
        outln!("verdict: NO LEDGER HERE\n  {refusal}");
        return Ok(exit::FAILED);
    }
    print_advice(&report);
    outln!("verdict: a claim ledger can live here");
    Ok(exit::OK)
}

/// The filesystem, and each property the ledger needs or uses, with its verdict.
fn print_checks(dir: &Path, report: &Report) {
    let fs = &report.fs;
    outln!(
        "{}: {} filesystem ({} mounted at {}, device {})",
        dir.display(),
        fs.fs_type,
        fs.source,
        fs.mount_point,
        fs.dev
    );
    let line = |name: &str, check: &Check, needed: &str| {
        let verdict = if check.ok { "yes" } else { "NO " };
        outln!("  {verdict} {name:<34} {}  [{needed}]", check.detail);
    };
    line(
        "atomic exclusive create",
        &report.exclusive_create,
        "required",
    );
    line("hard links", &report.hard_links, "required");
    line("atomic rename", &report.rename_replaces, "required");
    line(
        "writes advance mtime",
        &report.server_mtimes,
        "optional: faster takeover",
    );
    line(
        "stable inode numbers",
        &report.stable_inodes,
        "not needed: fencing is by token",
    );
    let rtt = report.round_trip_ms;
    outln!("metadata round trip: {rtt:.3} ms (median stat of a name never seen)");
}

/// Which filesystem operation does what in the ledger.
fn print_mechanisms(report: &Report) {
    outln!("mechanisms in use:");
    outln!("  per-item claims       open(O_CREAT|O_EXCL) in claims/");
    outln!("  done / failed         link() the claim into done/ or failed/, then unlink it");
    outln!("  blocks and lists      a private file in tmp/ link()ed into place");
    outln!("  release, takeover     rename() to a private name, then check the token inside");
    let server_clock = if report.server_mtimes.ok {
        "on"
    } else {
        "OFF (a write does not advance mtime here)"
    };
    outln!(
        "  staleness             heartbeats watched for a lease; file-server clock rule {server_clock}"
    );
    outln!("  listings              readdir of claims/, done/, failed/, blocks/, finished/");
}

/// The loop form and lease that suit this filesystem's round trip and clock.
fn print_advice(report: &Report) {
    let rtt = report.round_trip_ms;
    outln!("advice:");
    let per_item_ms = PER_ITEM_ROUND_TRIPS * rtt;
    let one_percent_s = per_item_ms * 100.0 / 1000.0;
    outln!(
        "  loop form: `if claim(k) {{ ... done(k) }}` costs ~{PER_ITEM_ROUND_TRIPS:.0} round trips \
         (~{per_item_ms:.2} ms) per item; `for k in claimed(keys)` ~{PER_BLOCK_ROUND_TRIPS:.0} per \
         block of many items."
    );
    if one_percent_s >= 0.01 {
        outln!(
            "             For items shorter than ~{one_percent_s:.2} s the per-item form's overhead \
             exceeds 1%: prefer the list form."
        );
    } else {
        outln!("             Round trips are cheap here: either form is fine.");
    }
    if !report.server_mtimes.ok {
        outln!(
            "  lease: a dead worker's claims are taken over only after another worker watched \
             them unchanged for a whole lease; keep --lease short (30-60 s)."
        );
    } else if rtt > 50.0 {
        outln!(
            "  lease: metadata calls are slow ({rtt:.0} ms); use --lease 300 or more so a \
             heartbeat delayed under load is not mistaken for a dead worker."
        );
    } else {
        outln!(
            "  lease: the default --lease 60 is ample (a heartbeat is one write every lease/4)."
        );
    }
}
