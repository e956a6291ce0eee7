//! Helpers shared by the integration tests: the built binary and reading `status --json`.
// Each test binary uses a different subset.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

/// The claimsh binary under test.
pub fn claimsh() -> Command {
    Command::new(env!("CARGO_BIN_EXE_claimsh"))
}

/// Lossy UTF-8 of a process's output.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `claimsh status TARGET... --json`, run in `dir` as `host` (it matters: a dead holder on the
/// same host is stale at once), parsed; the exit status must be 0.
pub fn status(dir: &Path, host: Option<&str>, target: &[&str]) -> serde_json::Value {
    let mut command = claimsh();
    if let Some(host) = host {
        command.env("CLAIMSH_HOST", host);
    }
    let out = command
        .current_dir(dir)
        .arg("status")
        .args(target)
        .arg("--json")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}
