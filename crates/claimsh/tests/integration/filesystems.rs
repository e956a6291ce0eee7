//! The ledger on filesystems that behave like the shared ones people have: a FUSE passthrough
//! (`scripts/fuse-bed.py`) that charges a delay per metadata call, caches names and attributes,
//! hides stable inode numbers, refuses hard links or freezes modification times. Each test mounts
//! its own bed and unmounts it when done.
//!
//! Needs root (or fusermount), `/dev/fuse`, libfuse2 and fusepy (Debian: `python3-fusepy`).
//! Without them each test prints why and passes, unless `CLAIMSH_REQUIRE_ALL_TESTS` is set.

use crate::util;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A mounted test bed: `mount` shows `backing` through FUSE.
struct Bed {
    _dir: tempfile::TempDir,
    mount: PathBuf,
    child: Child,
}

fn bed_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/fuse-bed.py")
}

/// The Python that has fusepy (Debian's python3-fusepy lives in /usr/bin/python3's path).
fn python() -> Option<&'static str> {
    ["/usr/bin/python3", "python3"].into_iter().find(|py| {
        Command::new(py)
            .args([
                "-c",
                "try:\n import fusepy\nexcept ImportError:\n import fuse",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// Why FUSE cannot be used here, if it cannot.
fn unavailable() -> Option<String> {
    if !Path::new("/dev/fuse").exists() {
        return Some("no /dev/fuse".into());
    }
    if python().is_none() {
        return Some("no Python with fusepy (apt-get install python3-fusepy libfuse2)".into());
    }
    None
}

fn mounted(mount: &Path) -> bool {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mount = mount.to_string_lossy();
    info.lines()
        .any(|l| l.split(' ').nth(4) == Some(&*mount) && l.contains(" fuse.bed "))
}

impl Bed {
    /// Mount a bed with `switches` (fuse-bed.py's options), or say why not (`Err`).
    fn start(switches: &[&str]) -> Result<Bed, String> {
        if let Some(why) = unavailable() {
            return Err(why);
        }
        let dir = tempfile::tempdir().unwrap();
        let backing = dir.path().join("backing");
        let mount = dir.path().join("mnt");
        std::fs::create_dir(&backing).unwrap();
        std::fs::create_dir(&mount).unwrap();
        let mount = std::fs::canonicalize(&mount).unwrap();
        let mut child = Command::new(python().unwrap())
            .arg(bed_script())
            .arg(&backing)
            .arg(&mount)
            .args(switches)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("start fuse-bed.py: {e}"))?;
        let start = Instant::now();
        while !mounted(&mount) {
            if let Ok(Some(status)) = child.try_wait() {
                let mut err = String::new();
                use std::io::Read;
                let _ = child.stderr.take().unwrap().read_to_string(&mut err);
                return Err(format!("fuse-bed.py exited ({status}): {}", err.trim()));
            }
            if start.elapsed() > Duration::from_secs(20) {
                let _ = child.kill();
                let _ = child.wait();
                return Err("fuse-bed.py did not mount within 20 s".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Bed {
            _dir: dir,
            mount,
            child,
        })
    }

    /// A fresh directory on the mount.
    fn dir(&self, name: &str) -> PathBuf {
        let dir = self.mount.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}

impl Drop for Bed {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.mount).status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = Command::new("umount").arg("-l").arg(&self.mount).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Mount a bed, or print why the test is skipped and return `None`.
macro_rules! bed {
    ($test:expr, $($switch:expr),*) => {
        match Bed::start(&[$($switch),*]) {
            Ok(bed) => bed,
            Err(why) => {
                util::skip($test, &format!("the FUSE test bed is unavailable: {why}"));
                return;
            }
        }
    };
}

/// `claimsh check-fs DIR --json`: the exit code and the report.
fn check_fs(dir: &Path) -> (i32, serde_json::Value) {
    let out = util::claimsh()
        .args(["check-fs", "--json"])
        .arg(dir)
        .output()
        .unwrap();
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            util::text(&out.stdout),
            util::text(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), report)
}

fn holds(report: &serde_json::Value, check: &str) -> bool {
    report[check]["ok"].as_bool().unwrap()
}

const REQUIRED: [&str; 3] = ["exclusive_create", "hard_links", "rename_replaces"];

#[test]
fn probe_passes_local_filesystems() {
    let mut dirs = vec![tempfile::tempdir().unwrap()];
    if Path::new("/dev/shm").is_dir() {
        dirs.push(tempfile::tempdir_in("/dev/shm").unwrap());
    }
    for dir in &dirs {
        let (code, report) = check_fs(dir.path());
        assert_eq!(code, 0, "{report:#}");
        for check in REQUIRED
            .into_iter()
            .chain(["server_mtimes", "stable_inodes"])
        {
            assert!(holds(&report, check), "{check}: {report:#}");
        }
        assert_ne!(report["fs"]["fs_type"], "unknown", "{report:#}");
        // Nothing left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
    // The human form says what holds, the round trip and a verdict.
    let out = util::claimsh()
        .arg("check-fs")
        .arg(dirs[0].path())
        .output()
        .unwrap();
    let text = util::text(&out.stdout);
    assert!(out.status.success(), "{text}");
    for expected in [
        "atomic exclusive create",
        "metadata round trip:",
        "mechanisms in use:",
        "advice:",
        "verdict: a claim ledger can live here",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
}

#[test]
fn probe_verdict_on_each_switch_of_the_test_bed() {
    let test = "probe_verdict_on_each_switch_of_the_test_bed";
    // switches, then what must not hold (everything else must)
    let cases: [(&[&str], &[&str]); 4] = [
        (&[], &[]),
        (&["--no-stable-ino"], &["stable_inodes"]),
        (&["--no-links"], &["hard_links", "stable_inodes"]),
        (&["--frozen-mtime"], &["server_mtimes"]),
    ];
    for (switches, failing) in cases {
        let bed = match Bed::start(switches) {
            Ok(bed) => bed,
            Err(why) => {
                return util::skip(test, &format!("the FUSE test bed is unavailable: {why}"));
            }
        };
        let (code, report) = check_fs(&bed.dir("probe"));
        assert_eq!(report["fs"]["fs_type"], "fuse.bed", "{report:#}");
        for check in REQUIRED
            .into_iter()
            .chain(["server_mtimes", "stable_inodes"])
        {
            let expected = !failing.contains(&check);
            assert_eq!(
                holds(&report, check),
                expected,
                "{switches:?} {check}: {report:#}"
            );
        }
        let refused = failing.iter().any(|c| REQUIRED.contains(c));
        assert_eq!(code, if refused { 1 } else { 0 }, "{switches:?}");
    }
    // Latency shows in the measured round trip.
    let bed = bed!(test, "--latency-ms", "5");
    let (_, report) = check_fs(&bed.dir("probe"));
    let rtt = report["round_trip_ms"].as_f64().unwrap();
    assert!(rtt >= 4.0, "5 ms per metadata call measured as {rtt} ms");
}

const TWENTY: &str = r#"for i in 0..20 { let k = "item_" + i; if claim(k) { done(k); } }"#;

/// The issue's one-worker scenario: 20 of 20 done, never a false "lost claim".
#[test]
fn one_worker_finishes_twenty_items_without_stable_inode_numbers() {
    let bed = bed!(
        "one_worker_finishes_twenty_items_without_stable_inode_numbers",
        "--no-stable-ino"
    );
    let local = tempfile::tempdir().unwrap();
    std::fs::write(local.path().join("twenty.rhai"), TWENTY).unwrap();
    let state = bed.mount.join("state");
    let out = util::claimsh()
        .current_dir(local.path())
        .args([
            "run",
            "twenty.rhai",
            "-j",
            "1",
            "-q",
            "--no-progress",
            "--state",
        ])
        .arg(&state)
        .output()
        .unwrap();
    let err = util::text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("lost"), "{err}");
    let status = util::status(local.path(), None, &["--state", state.to_str().unwrap()]);
    assert_eq!(status["done"], 20, "{status:#}");
}

/// Without hard links the ledger is refused before the first item, with the probe's message.
#[test]
fn no_hard_links_is_refused_before_the_first_item() {
    let bed = bed!(
        "no_hard_links_is_refused_before_the_first_item",
        "--no-links"
    );
    let local = tempfile::tempdir().unwrap();
    let script = r#"write_text("started", "x"); for i in 0..20 { let k = "item_" + i; if claim(k) { done(k); } }"#;
    std::fs::write(local.path().join("twenty.rhai"), script).unwrap();
    let state = bed.mount.join("state");
    let out = util::claimsh()
        .current_dir(local.path())
        .args([
            "run",
            "twenty.rhai",
            "-j",
            "1",
            "-q",
            "--no-progress",
            "--state",
        ])
        .arg(&state)
        .output()
        .unwrap();
    let err = util::text(&out.stderr);
    assert!(!out.status.success(), "{err}");
    for expected in [
        "fuse.bed",
        bed.mount.to_str().unwrap(),
        "hard links",
        "--state",
        "check-fs",
    ] {
        assert!(err.contains(expected), "{expected:?} missing from: {err}");
    }
    assert!(!local.path().join("started").exists(), "the script ran");
    assert!(
        !state.join("claims").exists()
            || std::fs::read_dir(state.join("claims")).unwrap().count() == 0
    );
}

/// Without writes advancing mtime the ledger still works (the server-clock staleness rule is off).
#[test]
fn frozen_mtimes_still_work() {
    let bed = bed!("frozen_mtimes_still_work", "--frozen-mtime");
    let local = tempfile::tempdir().unwrap();
    std::fs::write(local.path().join("twenty.rhai"), TWENTY).unwrap();
    let state = bed.mount.join("state");
    let out = util::claimsh()
        .current_dir(local.path())
        .args([
            "run",
            "twenty.rhai",
            "-j",
            "2",
            "-q",
            "--no-progress",
            "--lease",
            "1",
            "--state",
        ])
        .arg(&state)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", util::text(&out.stderr));
    let status = util::status(local.path(), None, &["--state", state.to_str().unwrap()]);
    assert_eq!(status["done"], 20, "{status:#}");
}

const RACE_ITEMS: usize = 2000;

/// The issue's race on an NFS-like mount (0.5 ms per metadata call, 1 s name and attribute
/// cache): 3 "nodes" x 2 workers, `if claim(k) { ... done(k) }`; each exits 0, each item is
/// processed exactly once.
#[test]
fn three_nodes_race_on_a_slow_cached_mount_each_item_once() {
    let bed = bed!(
        "three_nodes_race_on_a_slow_cached_mount_each_item_once",
        "--latency-ms",
        "0.5",
        "--cache",
        "1"
    );
    let local = tempfile::tempdir().unwrap();
    std::fs::create_dir(local.path().join("out")).unwrap();
    let script = format!(
        r#"for i in 0..{RACE_ITEMS} {{ let k = "item-" + i; if claim(k) {{ write_text(`out/${{k}}.${{host()}}.${{worker_id()}}`, "x"); done(k); }} }}"#
    );
    std::fs::write(local.path().join("race.rhai"), script).unwrap();
    let state = bed.mount.join("state");
    let state_arg = state.to_str().unwrap();
    let running: Vec<(usize, Child)> = (0..3)
        .map(|node| {
            let child = util::claimsh()
                .current_dir(local.path())
                .env("CLAIMSH_HOST", format!("node{node}"))
                .args([
                    "run",
                    "race.rhai",
                    "-j",
                    "2",
                    "-q",
                    "--no-progress",
                    "--state",
                    state_arg,
                ])
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            (node, child)
        })
        .collect();
    for (node, child) in running {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "node{node}: {}",
            util::text(&out.stderr)
        );
    }
    let mut per_item = std::collections::HashMap::<String, Vec<String>>::new();
    for entry in std::fs::read_dir(local.path().join("out")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let (item, by) = name.split_once('.').unwrap();
        per_item
            .entry(item.to_string())
            .or_default()
            .push(by.to_string());
    }
    let twice: Vec<_> = per_item.iter().filter(|(_, by)| by.len() > 1).collect();
    assert!(twice.is_empty(), "processed more than once: {twice:?}");
    assert_eq!(per_item.len(), RACE_ITEMS);
    let status = util::status(local.path(), None, &["--state", state_arg]);
    assert_eq!(status["done"], RACE_ITEMS, "{status:#}");
}
