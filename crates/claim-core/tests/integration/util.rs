//! Helpers shared by claim-core's integration tests.

use claim_core::LedgerOptions;
use std::time::Duration;

/// Ledger options for `host` with a lease of `lease_ms` milliseconds, failed items skipped.
pub fn options(host: &str, lease_ms: u64) -> LedgerOptions {
    LedgerOptions {
        lease: Duration::from_millis(lease_ms),
        host: host.into(),
        retry_failed: false,
    }
}

/// A test that needs something this machine lacks (`what`, and `why`): prints one
/// `skipped: ...` line and lets the test pass, or fails it when `CLAIMSH_REQUIRE_ALL_TESTS` is
/// set (as `.ci/run` sets it, so nothing is skipped there unnoticed).
pub fn skip(what: &str, why: &str) {
    assert!(
        std::env::var_os("CLAIMSH_REQUIRE_ALL_TESTS").is_none(),
        "{what} ({why}), and CLAIMSH_REQUIRE_ALL_TESTS is set"
    );
    // Straight to stderr, not through `eprintln!`, which the test harness captures and hides
    // for a passing test: the line must show in a plain `cargo test`.
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "skipped: {what} ({why})");
}
