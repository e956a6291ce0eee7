//! The filesystem conformance probe: does the directory the ledger lives in give every mechanism
//! the ledger uses?
//!
//! | mechanism | used for | if missing |
//! | --- | --- | --- |
//! | `O_CREAT\|O_EXCL` is atomic (of two racing creates exactly one wins) | per-item claims | refused |
//! | hard links (`link()`, exclusive, content shared) | `done`/`failed` publication, blocks, lists | refused |
//! | `rename` replaces its target atomically; of two racing renames of one file one wins | fencing, takeover | refused |
//! | a write advances the file's modification time | staleness by the file server's clock | that rule is off (staleness is judged by watching heartbeats) |
//! | inode numbers stable across `link` and `rename` | nothing (fencing is by token) | informational |
//!
//! The probe runs where a ledger is created, and again whenever the filesystem a ledger is
//! opened on is not the one its cached verdict (`<state>/probe.json`) was made for: the cache is
//! keyed by the mount's device number, filesystem type and source (from `/proc/self/mountinfo`),
//! so opening an existing ledger costs one `stat` and one small read. A missing mechanism the
//! ledger cannot do without refuses the ledger at start, naming the filesystem type and mount
//! point, what failed and what to do — never a mid-run surprise.

use crate::error::{Error, IoContext, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// Bumped when the probe checks something new, so older cached verdicts are redone.
const PROBE_VERSION: u32 = 1;
/// Rounds of racing creates and renames.
const RACE_ROUNDS: usize = 6;
/// Cached verdicts kept per ledger (one per client mount of it).
const MAX_CACHED: usize = 32;

/// Which filesystem a directory is on, from `/proc/self/mountinfo`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct FsIdentity {
    /// Device number of the mount, `major:minor`.
    pub dev: String,
    /// Filesystem type (`ext4`, `nfs4`, `lustre`, `fuse.sshfs`, ...).
    pub fs_type: String,
    /// Where the filesystem is mounted.
    pub mount_point: String,
    /// What is mounted (`server:/export`, a device, ...).
    pub source: String,
}

impl FsIdentity {
    /// The filesystem `dir` is on (`unknown` fields where mountinfo does not tell).
    pub fn of(dir: &Path) -> Result<FsIdentity> {
        let meta = std::fs::metadata(dir).ctx("inspect", dir)?;
        let dev = meta.dev();
        let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
        let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
        let dev = format!("{major}:{minor}");
        let path = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mut best: Option<FsIdentity> = None;
        for line in mountinfo.lines() {
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let left: Vec<&str> = left.split(' ').collect();
            let right: Vec<&str> = right.split(' ').collect();
            if left.len() < 5 || right.len() < 2 || left[2] != dev {
                continue;
            }
            let mount_point = unescape(left[4]);
            if !path.starts_with(&mount_point) {
                continue;
            }
            if best
                .as_ref()
                .is_some_and(|b| b.mount_point.len() > mount_point.len())
            {
                continue;
            }
            best = Some(FsIdentity {
                dev: dev.clone(),
                fs_type: right[0].to_string(),
                mount_point,
                source: unescape(right[1]),
            });
        }
        Ok(best.unwrap_or(FsIdentity {
            dev,
            fs_type: "unknown".into(),
            mount_point: "unknown".into(),
            source: "unknown".into(),
        }))
    }

    fn key(&self) -> String {
        format!("{} {} {}", self.dev, self.fs_type, self.source)
    }
}

/// mountinfo escapes space, tab, newline and backslash as octal.
fn unescape(field: &str) -> String {
    let mut out = String::new();
    let mut chars = field.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let code: String = chars.clone().take(3).collect();
            if let Ok(n) = u8::from_str_radix(&code, 8) {
                out.push(n as char);
                for _ in 0..3 {
                    chars.next();
                }
                continue;
            }
        }
        out.push(c);
    }
    out
}

/// One property the probe checked.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct Check {
    /// Whether it holds.
    pub ok: bool,
    /// What was seen (the error, when it failed).
    pub detail: String,
}

impl Check {
    fn pass(detail: impl Into<String>) -> Check {
        Check {
            ok: true,
            detail: detail.into(),
        }
    }

    fn fail(detail: impl Into<String>) -> Check {
        Check {
            ok: false,
            detail: detail.into(),
        }
    }
}

/// What the probe found on one filesystem.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct ProbeReport {
    /// Probe version that made this report.
    pub version: u32,
    /// The filesystem probed.
    pub fs: FsIdentity,
    /// Of two racing `O_CREAT|O_EXCL` creates, exactly one wins; a create of an existing name
    /// fails with EEXIST.
    pub exclusive_create: Check,
    /// `link()` works, refuses an existing name, and the link shares its target's content.
    pub hard_links: Check,
    /// `rename` replaces its target atomically, and of two racing renames of one file exactly
    /// one wins.
    pub rename_replaces: Check,
    /// A write advances the file's modification time (set by the file server's clock).
    pub server_mtimes: Check,
    /// Inode numbers are kept across `link` and `rename` (informational: fencing is by token).
    pub stable_inodes: Check,
    /// Median time of one metadata call (a `stat` of a name never seen), milliseconds.
    pub round_trip_ms: f64,
}

impl ProbeReport {
    /// The mechanisms the ledger cannot do without that are missing here: (what, why needed).
    pub fn missing(&self) -> Vec<(&'static str, &'static str, &Check)> {
        let mut out = Vec::new();
        if !self.exclusive_create.ok {
            out.push((
                "atomic exclusive create (O_CREAT|O_EXCL)",
                "claiming an item",
                &self.exclusive_create,
            ));
        }
        if !self.hard_links.ok {
            out.push((
                "hard links (link())",
                "publishing done and failed items, blocks and lists",
                &self.hard_links,
            ));
        }
        if !self.rename_replaces.ok {
            out.push((
                "atomic rename",
                "releasing, fencing and taking over claims",
                &self.rename_replaces,
            ));
        }
        out
    }

    /// Whether a ledger can live here.
    pub fn usable(&self) -> bool {
        self.missing().is_empty()
    }

    /// The refusal message for a ledger at `root`, if it cannot live here.
    pub fn refusal(&self, root: &Path) -> Option<String> {
        let missing = self.missing();
        if missing.is_empty() {
            return None;
        }
        let what: Vec<String> = missing
            .iter()
            .map(|(what, needed, check)| format!("{what} (needed for {needed}): {}", check.detail))
            .collect();
        Some(format!(
            "cannot keep a claim ledger in {}: it is on a {} filesystem ({} mounted at {}) that \
             lacks {}. Choose a --state directory on another filesystem (a local disk, NFSv3 or \
             later, Lustre, GPFS, BeeGFS, CephFS, sshfs; not an object-store mount); \
             `claimsh check-fs DIR` tells whether a directory will do",
            root.display(),
            self.fs.fs_type,
            self.fs.source,
            self.fs.mount_point,
            what.join("; ")
        ))
    }
}

/// The cached verdicts of one ledger (`<state>/probe.json`), one per filesystem identity.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Cache {
    reports: BTreeMap<String, ProbeReport>,
}

/// The verdict for the ledger at `root` (its `tmp/` is `tmp`): from `<root>/probe.json` when it
/// was made for this filesystem, else probed now (in `tmp`, with names starting with `prefix`)
/// and cached.
pub(crate) fn for_ledger(root: &Path, tmp: &Path, prefix: &str) -> Result<ProbeReport> {
    let fs = FsIdentity::of(root)?;
    let path = root.join("probe.json");
    let mut cache: Cache = std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    if let Some(report) = cache.reports.get(&fs.key())
        && report.version == PROBE_VERSION
    {
        return Ok(report.clone());
    }
    let report = probe_in(tmp, prefix, fs)?;
    if cache.reports.len() >= MAX_CACHED {
        cache.reports.clear();
    }
    cache.reports.insert(report.fs.key(), report.clone());
    let bytes = serde_json::to_vec_pretty(&cache).expect("probe cache serialises");
    crate::atomic_write(&path, &bytes)?;
    Ok(report)
}

/// Probe the filesystem of `dir` (an existing, writable directory), in a private subdirectory
/// removed afterwards.
pub fn probe(dir: &Path) -> Result<ProbeReport> {
    let fs = FsIdentity::of(dir)?;
    let scratch = dir.join(format!(
        ".claimsh-probe-{}-{}",
        std::process::id(),
        crate::identity::unix_millis()
    ));
    std::fs::create_dir(&scratch).ctx("create probe directory", &scratch)?;
    let report = probe_in(&scratch, "probe", fs);
    let _ = std::fs::remove_dir_all(&scratch);
    report
}

/// Run every check in `dir`, on files named `<prefix>-*` (all removed afterwards).
fn probe_in(dir: &Path, prefix: &str, fs: FsIdentity) -> Result<ProbeReport> {
    let name = |what: &str| dir.join(format!("{prefix}-{what}"));
    let round_trip_ms = round_trip(&name("rtt"));
    let exclusive_create = exclusive_create(&name("excl"));
    let (hard_links, stable_inodes) = links(&name("a"), &name("b"), &name("c"));
    let rename_replaces = renames(&name("x"), &name("y"), &name("z"));
    let server_mtimes = mtimes(&name("m"));
    for what in ["excl", "a", "b", "c", "x", "y", "z", "m"] {
        let _ = std::fs::remove_file(name(what));
    }
    for round in 0..RACE_ROUNDS {
        let _ = std::fs::remove_file(name(&format!("excl{round}")));
        for what in ["src", "t0", "t1"] {
            let _ = std::fs::remove_file(name(&format!("z{round}{what}")));
        }
    }
    // A filesystem that failed to create anything at all is not a probe result: say so.
    if !exclusive_create.ok && exclusive_create.detail.starts_with("create ") {
        let _ = File::create(name("w")).ctx("create a file in", dir)?;
        let _ = std::fs::remove_file(name("w"));
    }
    Ok(ProbeReport {
        version: PROBE_VERSION,
        fs,
        exclusive_create,
        hard_links,
        rename_replaces,
        server_mtimes,
        stable_inodes,
        round_trip_ms,
    })
}

/// Median time of a `stat` of a name never looked up before (no cache can answer it).
fn round_trip(base: &Path) -> f64 {
    let mut times: Vec<f64> = (0..9)
        .map(|i| {
            let path = PathBuf::from(format!("{}-{i}", base.display()));
            let start = Instant::now();
            let _ = std::fs::symlink_metadata(&path);
            start.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// Run `a` and `b` at the same moment on two threads.
fn race<T: Send + 'static>(
    a: impl FnOnce() -> T + Send + 'static,
    b: impl FnOnce() -> T + Send + 'static,
) -> (T, T) {
    let barrier = Arc::new(Barrier::new(2));
    let other = barrier.clone();
    let thread = std::thread::spawn(move || {
        other.wait();
        b()
    });
    barrier.wait();
    let first = a();
    (first, thread.join().expect("probe thread"))
}

fn exclusive_create(base: &Path) -> Check {
    let create = |path: PathBuf| {
        move || {
            File::options()
                .write(true)
                .create_new(true)
                .open(&path)
                .map(|_| ())
        }
    };
    for round in 0..RACE_ROUNDS {
        let path = PathBuf::from(format!("{}{round}", base.display()));
        let (a, b) = race(create(path.clone()), create(path.clone()));
        match (a, b) {
            (Ok(()), Err(e)) | (Err(e), Ok(())) if e.kind() == ErrorKind::AlreadyExists => {}
            (Ok(()), Ok(())) => {
                return Check::fail(format!(
                    "two racing exclusive creates of {} both succeeded",
                    path.display()
                ));
            }
            (Err(e), _) | (_, Err(e)) => {
                return Check::fail(format!("create {}: {e}", path.display()));
            }
        }
        match create(path.clone())() {
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Ok(()) => return Check::fail("an exclusive create of an existing file succeeded"),
            Err(e) => {
                return Check::fail(format!("exclusive create of an existing file: {e}"));
            }
        }
    }
    Check::pass(format!(
        "{RACE_ROUNDS} races of two creates: one winner each"
    ))
}

/// Hard links, and whether inode numbers survive `link` and `rename`.
fn links(a: &Path, b: &Path, c: &Path) -> (Check, Check) {
    let unknown = || Check::fail("not checked: hard links do not work");
    if let Err(e) = std::fs::write(a, b"probe") {
        return (
            Check::fail(format!("write {}: {e}", a.display())),
            unknown(),
        );
    }
    if let Err(e) = std::fs::hard_link(a, b) {
        return (Check::fail(format!("link(): {e}")), unknown());
    }
    let content = std::fs::read(b).unwrap_or_default();
    if content != b"probe" {
        return (
            Check::fail("a hard link does not show its target's content"),
            unknown(),
        );
    }
    match std::fs::hard_link(a, b) {
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
        Ok(()) => {
            return (
                Check::fail("link() onto an existing name succeeded"),
                unknown(),
            );
        }
        Err(e) => {
            return (
                Check::fail(format!("link() onto an existing name: {e}")),
                unknown(),
            );
        }
    }
    let ino = |p: &Path| std::fs::metadata(p).map(|m| m.ino()).unwrap_or(0);
    let (ia, ib) = (ino(a), ino(b));
    let links_ok = Check::pass("link() works and is exclusive");
    if std::fs::rename(b, c).is_err() {
        return (links_ok, Check::fail("rename failed"));
    }
    let ic = ino(c);
    let inodes = if ia == ib && ib == ic {
        Check::pass("kept across link and rename")
    } else {
        Check::fail(format!(
            "not kept: a file shows inode {ia}, its hard link {ib}, the link renamed {ic} \
             (harmless: claims are fenced by a token inside the file)"
        ))
    };
    (links_ok, inodes)
}

fn renames(x: &Path, y: &Path, base: &Path) -> Check {
    let result = (|| {
        std::fs::write(x, b"one")?;
        std::fs::write(y, b"two")?;
        std::fs::rename(x, y)?;
        Ok::<_, std::io::Error>((std::fs::read(y)?, x.exists()))
    })();
    match result {
        Ok((content, false)) if content == b"one" => {}
        Ok(_) => return Check::fail("rename onto an existing file did not replace it"),
        Err(e) => return Check::fail(format!("rename onto an existing file: {e}")),
    }
    for round in 0..RACE_ROUNDS {
        let name = |what: &str| PathBuf::from(format!("{}{round}{what}", base.display()));
        let src = name("src");
        if let Err(e) = std::fs::write(&src, b"race") {
            return Check::fail(format!("write {}: {e}", src.display()));
        }
        let mv = |to: PathBuf| {
            let src = src.clone();
            move || std::fs::rename(&src, &to)
        };
        let (a, b) = race(mv(name("t0")), mv(name("t1")));
        match (a, b) {
            (Ok(()), Err(e)) | (Err(e), Ok(())) if e.kind() == ErrorKind::NotFound => {}
            (Ok(()), Ok(())) => {
                return Check::fail("two racing renames of one file both succeeded");
            }
            (Err(e), _) | (_, Err(e)) => return Check::fail(format!("racing renames: {e}")),
        }
    }
    Check::pass(format!(
        "replaces its target; {RACE_ROUNDS} races of two renames of one file: one winner each"
    ))
}

/// The heartbeat's pattern: a file written again later shows a later modification time.
fn mtimes(path: &Path) -> Check {
    let result = (|| {
        let mut file = File::create(path)?;
        file.write_all(b"0")?;
        file.sync_data()?;
        let first = file.metadata()?.modified()?;
        std::thread::sleep(Duration::from_millis(20));
        file.write_all(b"1")?;
        file.sync_data()?;
        let second = file.metadata()?.modified()?;
        Ok::<_, std::io::Error>((first, second))
    })();
    match result {
        Ok((first, second)) if second > first => {
            Check::pass("a write advances the modification time")
        }
        Ok(_) => Check::fail(
            "a write 20 ms later left the modification time unchanged (staleness is then judged \
             only by watching heartbeats for a lease)",
        ),
        Err(e) => Check::fail(format!("modification times: {e}")),
    }
}

/// The error refusing a ledger on this filesystem.
pub(crate) fn refuse(root: &Path, report: &ProbeReport) -> Result<()> {
    match report.refusal(root) {
        Some(detail) => Err(Error::Filesystem {
            path: root.to_path_buf(),
            detail,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_fields_are_unescaped() {
        assert_eq!(unescape(r"/mnt/with\040space"), "/mnt/with space");
        assert_eq!(unescape("/plain"), "/plain");
    }

    #[test]
    fn a_local_directory_passes_and_its_verdict_is_cached() {
        let dir = tempfile::tempdir().unwrap();
        let report = probe(dir.path()).unwrap();
        assert!(report.usable(), "{report:#?}");
        assert!(report.server_mtimes.ok, "{report:#?}");
        assert!(report.stable_inodes.ok, "{report:#?}");
        assert_ne!(report.fs.fs_type, "unknown");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let tmp = dir.path().join("tmp");
        std::fs::create_dir(&tmp).unwrap();
        let first = for_ledger(dir.path(), &tmp, "p").unwrap();
        assert!(dir.path().join("probe.json").exists());
        assert_eq!(
            std::fs::read_dir(&tmp).unwrap().count(),
            0,
            "probe files removed"
        );
        let (mut first, mut again) = (first, for_ledger(dir.path(), &tmp, "p").unwrap());
        // JSON keeps a float to within its last bit (serde_json parses fast, not exactly).
        assert!((first.round_trip_ms - again.round_trip_ms).abs() < 1e-9);
        (first.round_trip_ms, again.round_trip_ms) = (0.0, 0.0);
        assert_eq!(first, again, "from the cache");
    }
}
