//! Helpers shared by the integration tests: the built binary, scripts and files in a test's
//! directory, reading `status --json`, and skipping a test whose tool is missing.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

/// The claimsh binary under test.
pub fn claimsh() -> Command {
    Command::new(env!("CARGO_BIN_EXE_claimsh"))
}

/// `claimsh ARGS` in `dir` as host `host`, waited for.
pub fn run_in(dir: &Path, host: &str, args: &[&str]) -> Output {
    claimsh()
        .current_dir(dir)
        .env("CLAIMSH_HOST", host)
        .args(args)
        .output()
        .unwrap()
}

/// Write `body` to `dir/name` (creating its folder); its path.
pub fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, body).unwrap();
    path
}

/// The text of `dir/name`; panics naming the file if it cannot be read.
pub fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The repository's top folder (examples, datasets, scripts, tests/scenarios).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// A test that needs something this machine lacks (`what`, and `why` it is missing): prints
/// one `skipped: ...` line and lets the test pass, or fails it when `CLAIMSH_REQUIRE_ALL_TESTS`
/// is set (as `.ci/run` sets it, so nothing is skipped there unnoticed).
pub fn skip(what: &str, why: &str) {
    assert!(
        std::env::var_os("CLAIMSH_REQUIRE_ALL_TESTS").is_none(),
        "{what}: {why}, and CLAIMSH_REQUIRE_ALL_TESTS is set"
    );
    // Straight to stderr, not through `eprintln!`, which the test harness captures and hides
    // for a passing test: the line must show in a plain `cargo test`.
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "skipped: {what} ({why})");
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

/// Run `args` in `dir` as `count` processes at once, host `<prefix>0`, `<prefix>1`, ...; each
/// must exit 0.
pub fn run_as_hosts(dir: &Path, count: usize, prefix: &str, args: &[&str]) {
    let running: Vec<Running> = (0..count)
        .map(|i| {
            Running::spawn(
                claimsh()
                    .current_dir(dir)
                    .env("CLAIMSH_HOST", format!("{prefix}{i}"))
                    .args(args),
            )
        })
        .collect();
    for mut process in running {
        let status = process.0.wait().unwrap();
        assert!(status.success(), "a process failed: {status}");
    }
}

/// A spawned claimsh, killed when dropped: a failing assertion never leaves it looping.
pub struct Running(pub Child);

impl Running {
    /// Spawn `command`.
    pub fn spawn(command: &mut Command) -> Running {
        Running(command.spawn().unwrap())
    }

    /// Wait until the script has written `file`; panics if the process exits first or after
    /// 60 s.
    pub fn wait_for_file(&mut self, file: &Path) {
        let started = Instant::now();
        while !file.exists() {
            if let Some(status) = self.0.try_wait().unwrap() {
                panic!(
                    "claimsh exited ({status}) before writing {}",
                    file.display()
                );
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{} never appeared",
                file.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
