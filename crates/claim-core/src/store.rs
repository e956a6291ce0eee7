//! The state directory on disk: its folders, listings, exclusive creation, fencing by token, and
//! the file server's clock. Every other module goes through here for the filesystem.
//!
//! Shared filesystems drop files under a reader's feet as the normal course of a race (a claim
//! seen by `readdir` or by a failed exclusive create is finished by its holder before it is
//! opened), so every read that follows a listing or a failed create treats a vanished file as
//! news (`Ok(None)`), never as an error.

use crate::error::{Error, IoContext, Result};
use crate::record::ClaimRecord;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// Whether `e` says the file is gone: ENOENT, or ESTALE (an NFS client holding a file that
/// another client deleted on the server; FUSE passthroughs answer a handle-less `fstat` of such a
/// file with ENOENT). Both are news about a race, not failures.
pub(crate) fn vanished(e: &std::io::Error) -> bool {
    /// ESTALE on Linux.
    const ESTALE: i32 = 116;
    e.kind() == ErrorKind::NotFound || e.raw_os_error() == Some(ESTALE)
}

/// The format marker written to `<state>/FORMAT`.
pub const FORMAT: &str = "claim-ledger 2\n";

/// The folders of a state directory.
#[derive(Debug)]
pub(crate) struct Store {
    pub root: PathBuf,
    /// Live per-item claims, one file per item.
    pub claims: PathBuf,
    /// Per-item done records.
    pub done: PathBuf,
    /// Per-item failure records.
    pub failed: PathBuf,
    /// Live block claims (created with the first list).
    pub blocks: PathBuf,
    /// Finished block records (created with the first list). Apart from `blocks/` because a
    /// directory listing is not atomic: a block that finishes while `blocks/` is listed may be
    /// missed there, but its record was published here before, so a listing of `finished/` that
    /// follows finds it.
    pub finished: PathBuf,
    /// Registered lists: `<list>.json` and the item ids `<list>.ids`.
    pub lists: PathBuf,
    /// Private names during transitions, and clock probes.
    pub tmp: PathBuf,
    /// What the filesystem gives (from the probe; cached in `probe.json`).
    pub probe: crate::probe::ProbeReport,
    token: String,
    seq: AtomicU64,
    clock: Mutex<Option<(Instant, SystemTime)>>,
}

impl Store {
    /// Open (creating if needed) the state directory `root`; refuse other formats.
    pub fn open(root: &Path, token: String) -> Result<Store> {
        let mut store = Store {
            root: root.to_path_buf(),
            claims: root.join("claims"),
            done: root.join("done"),
            failed: root.join("failed"),
            blocks: root.join("blocks"),
            finished: root.join("finished"),
            lists: root.join("lists"),
            tmp: root.join("tmp"),
            probe: Default::default(),
            token,
            seq: AtomicU64::new(0),
            clock: Mutex::new(None),
        };
        store.prepare()?;
        // Probed where the ledger is created (or first opened on this filesystem), else read
        // from `probe.json`: refuse here, before the first item, what would fail mid-run.
        let prefix = format!("probe-{}", store.token);
        store.probe = crate::probe::for_ledger(&store.root, &store.tmp, &prefix)?;
        crate::probe::refuse(&store.root, &store.probe)?;
        Ok(store)
    }

    fn prepare(&self) -> Result<()> {
        let marker = self.root.join("FORMAT");
        match std::fs::read_to_string(&marker) {
            Ok(text) if text == FORMAT => {}
            Ok(text) => return Err(wrong_format(&self.root, &text)),
            Err(e) if e.kind() == ErrorKind::NotFound => {
                if self.root.join("claims").is_dir() {
                    return Err(wrong_format(&self.root, "(no FORMAT file)"));
                }
                std::fs::create_dir_all(&self.root).ctx("create state directory", &self.root)?;
                crate::atomic_write(&marker, FORMAT.as_bytes())?;
            }
            Err(e) => return Err(e).ctx("read", marker),
        }
        for dir in [
            &self.claims,
            &self.done,
            &self.failed,
            &self.lists,
            &self.tmp,
        ] {
            std::fs::create_dir_all(dir).ctx("create state directory", dir)?;
        }
        Ok(())
    }

    /// The names in `dir` (one directory read); a missing directory is empty.
    pub fn names(&self, dir: &Path) -> Result<Vec<String>> {
        Ok(self.names_if_exists(dir)?.unwrap_or_default())
    }

    /// The names in `dir`, or `None` if it does not exist (one failed open).
    pub fn names_if_exists(&self, dir: &Path) -> Result<Option<Vec<String>>> {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).ctx("read state directory", dir),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.ctx("read state directory", dir)?;
            if let Ok(name) = entry.file_name().into_string() {
                names.push(name);
            }
        }
        Ok(Some(names))
    }

    /// The names in `dir` with their metadata, sorted; entries gone meanwhile are left out.
    pub fn entries(&self, dir: &Path) -> Result<Vec<(String, std::fs::Metadata)>> {
        let mut out = Vec::new();
        for name in self.names(dir)? {
            match std::fs::symlink_metadata(dir.join(&name)) {
                Ok(meta) => out.push((name, meta)),
                Err(e) if vanished(&e) => {}
                Err(e) => return Err(e).ctx("inspect", dir.join(&name)),
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Read a file; `None` if it vanished. One `open` (no `stat` for a size hint, as
    /// `std::fs::read` makes: each is a round trip to a network file server).
    pub fn read(&self, path: &Path) -> Result<Option<Vec<u8>>> {
        use std::io::Read;
        let mut file = match File::open(path) {
            Ok(file) => file,
            Err(e) if vanished(&e) => return Ok(None),
            Err(e) => return Err(e).ctx("read", path),
        };
        let mut bytes = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            match file.read(&mut chunk) {
                Ok(0) => return Ok(Some(bytes)),
                Ok(n) => bytes.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if vanished(&e) => return Ok(None),
                Err(e) => return Err(e).ctx("read", path),
            }
        }
    }

    /// Whether `path` exists (one `stat`).
    pub fn exists(&self, path: &Path) -> Result<bool> {
        match std::fs::symlink_metadata(path) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e).ctx("inspect", path),
        }
    }

    /// `O_CREAT|O_EXCL` `path` and write `record` into it; `None` if it exists.
    pub fn create_exclusive(&self, path: &Path, record: &ClaimRecord) -> Result<Option<File>> {
        let mut file = match OpenOptions::new().write(true).create_new(true).open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == ErrorKind::AlreadyExists => return Ok(None),
            Err(e) => return Err(e).ctx("create claim", path),
        };
        if let Err(e) = file.write_all(&record.to_bytes()) {
            // Do not leave an empty claim behind (a full disk, say): nothing was won.
            let _ = std::fs::remove_file(path);
            return Err(e).ctx("write claim", path);
        }
        Ok(Some(file))
    }

    /// Write `bytes` to a private file and link it to `path`: exclusive like `O_EXCL`, and the
    /// file is never seen empty or half written. Returns the open file when linked, `None` if
    /// `path` exists.
    pub fn link_exclusive(&self, path: &Path, bytes: &[u8]) -> Result<Option<File>> {
        let private = self.private_path("new");
        let mut file = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&private)
            .ctx("write", &private)?;
        let written = file.write_all(bytes).ctx("write", &private);
        let linked = written.and_then(|()| match std::fs::hard_link(&private, path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(e).ctx("create", path),
        });
        let _ = std::fs::remove_file(&private);
        Ok(linked?.then_some(file))
    }

    /// Move `path` to a fresh private name, then check its record carries `token`. On a match
    /// the private path is returned (the caller owns the file now); otherwise the file is put
    /// back and the record found (if readable) is returned as the error's detail.
    /// Fencing compares tokens written inside the file, not inode numbers, so it holds on
    /// filesystems that do not keep inode numbers stable across `rename` (sshfs, object stores).
    pub fn fence(&self, path: &Path, token: &str) -> Result<Fenced> {
        let private = self.private_path("fence");
        match std::fs::rename(path, &private) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Fenced::Gone),
            Err(e) => return Err(e).ctx("move claim", path),
        }
        let record = self.read(&private)?.and_then(|b| ClaimRecord::parse(&b));
        match record {
            Some(r) if r.token == token => Ok(Fenced::Ours(private)),
            other => {
                put_back(&private, path);
                Ok(Fenced::Other(other))
            }
        }
    }

    /// A fresh private path in `tmp/` (never a claim name, so scans ignore it).
    pub fn private_path(&self, what: &str) -> PathBuf {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        self.tmp.join(format!("{what}-{}-{n}", self.token))
    }

    /// The file server's "now": the mtime of a probe file we just wrote (refreshed every
    /// second), plus the time since on our monotonic clock. Both timestamps of any comparison
    /// made with it are stamped by the same clock, so no worker's wall clock enters.
    pub fn server_now(&self) -> Result<SystemTime> {
        let mut clock = self.clock.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, mtime)) = *clock
            && at.elapsed() < Duration::from_secs(1)
        {
            return Ok(mtime + at.elapsed());
        }
        let path = self.tmp.join(format!("probe-{}", self.token));
        let mut file = File::create(&path).ctx("write probe", &path)?;
        file.write_all(b"probe").ctx("write probe", &path)?;
        file.sync_data().ctx("write probe", &path)?;
        let mtime = file.metadata().and_then(|m| m.modified());
        let mtime = mtime.ctx("inspect probe", &path)?;
        *clock = Some((Instant::now(), mtime));
        Ok(mtime)
    }

    /// Remove `path`; a file already gone is fine.
    pub fn remove(&self, path: &Path, action: &'static str) -> Result<()> {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != ErrorKind::NotFound => Err(e).ctx(action, path),
            _ => Ok(()),
        }
    }
}

/// The outcome of [`Store::fence`].
#[allow(clippy::large_enum_variant)] // short-lived, never stored
pub(crate) enum Fenced {
    /// The file was ours; it now lives at this private path.
    Ours(PathBuf),
    /// Another holder's file (put back); its record if readable.
    Other(Option<ClaimRecord>),
    /// Nothing was there.
    Gone,
}

/// Return a file moved away by mistake to `path`, unless a new file already stands there.
pub(crate) fn put_back(private: &Path, path: &Path) {
    let _ = std::fs::hard_link(private, path);
    let _ = std::fs::remove_file(private);
}

fn wrong_format(root: &Path, found: &str) -> Error {
    let found = found.trim();
    let detail = if found.starts_with("claim-ledger 1") {
        "it was written by an older claimsh (ledger format 1, which recorded lists by position \
         and cannot say which items are done); run `claimsh cleanup --all` on it (or delete it) \
         to start over, or finish it with the claimsh version that started it"
            .to_string()
    } else {
        format!(
            "FORMAT says {found:?}, expected {:?}; choose another --state directory",
            FORMAT.trim()
        )
    };
    Error::NotALedger {
        path: root.to_path_buf(),
        detail,
    }
}
