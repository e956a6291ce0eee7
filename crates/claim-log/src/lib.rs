//! # claim-log: per-instance rotating log files that follow every item across nodes
//!
//! Owns: the log files under `<state>/logs/` (one per running instance: host, pid, start time),
//! their rotation and retention, the console filter, and reading logs back (`claimsh logs`).
//! Does not own: what is logged (claimsh and claim-core decide) or the progress bar.
//!
//! Every file line carries time, level, host and worker id and, about an item, its key: claimsh
//! enters a `worker{host=.. id=..}` span per worker thread (the formatter prints the span stack)
//! and logs events about an item with a `key` field, which [`lines_about`] looks for. Each line
//! is written to the file as it is logged (one `write` call, appended), so nothing is lost when
//! the process is killed, and no background thread busy-waits on a channel between lines (a
//! non-blocking writer made about seven `sched_yield` calls per claimed item).
//!
//! The console layer colours its output only when stderr is a terminal ([`stderr_color`]), and
//! leaves out events whose target is [`FILE_ONLY`]: a caller logs a repeat of an error it already
//! printed there, so the file keeps every line and the console each distinct error once.

#![deny(missing_docs)]

use std::path::{Path, PathBuf};
use tracing_appender::rolling::RollingFileAppender;
pub use tracing_appender::rolling::Rotation;
use tracing_subscriber::filter::{EnvFilter, LevelFilter};
use tracing_subscriber::prelude::*;

/// The target of events that go to the log file only: `tracing::error!(target: FILE_ONLY, ..)`.
pub const FILE_ONLY: &str = "claim_log::file_only";

/// Whether to colour what goes to stderr: never with `NO_COLOR` set (<https://no-color.org>),
/// always with `CLICOLOR_FORCE` set and not `0`, else only on a terminal that is not `dumb` (the
/// order `anstream` uses).
pub fn stderr_color() -> bool {
    use std::io::IsTerminal;
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    if set("NO_COLOR") {
        return false;
    }
    if set("CLICOLOR_FORCE") && std::env::var_os("CLICOLOR_FORCE").is_some_and(|v| v != "0") {
        return true;
    }
    std::io::stderr().is_terminal() && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
}

/// Default number of rotated files kept per instance (`--log-keep`).
pub const DEFAULT_KEEP: usize = 7;

/// How to set logging up.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// `<state>/logs`.
    pub dir: PathBuf,
    /// Host name (in the file name).
    pub host: String,
    /// Console verbosity: 0 = warnings, 1 = info (`-v`), 2 = debug (`-vv`), -1 = errors (`-q`).
    pub verbosity: i8,
    /// Rotated files kept.
    pub keep: usize,
    /// How often a new file is started (daily by default; tests use minutely).
    pub rotation: Rotation,
    /// File name prefix; `None` = [`instance_prefix`] of the host (host, pid, start time).
    pub prefix: Option<String>,
}

/// What logging set up.
pub struct LogGuard {
    /// The instance's log file name prefix.
    pub prefix: String,
    dir: PathBuf,
}

impl LogGuard {
    /// The file this instance writes to now (the newest with its prefix), if one exists yet.
    pub fn current_file(&self) -> Option<PathBuf> {
        let start = format!("{}.", self.prefix);
        std::fs::read_dir(&self.dir)
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&start) && n.ends_with(".log"))
            })
            .max()
    }
}

/// Errors setting up logging.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The log directory could not be created.
    #[error("create log directory {}: {source}", path.display())]
    Dir {
        /// Directory.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The rolling appender could not be built.
    #[error("open log file in {}: {detail}", path.display())]
    Appender {
        /// Directory.
        path: PathBuf,
        /// Cause.
        detail: String,
    },
}

/// The file prefix of this instance: `<host>.<pid>.<start unix seconds>`.
pub fn instance_prefix(host: &str) -> String {
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("{host}.{}.{start}", std::process::id())
}

/// Install the global subscriber: a file layer (info and above, debug with `-vv`) and a console
/// layer on stderr (warnings and errors unless `-v`; `RUST_LOG` overrides the console filter).
pub fn init(config: &LogConfig) -> Result<LogGuard, Error> {
    let (writer, prefix) = file_writer(config)?;
    let file_level = if config.verbosity >= 2 {
        LevelFilter::DEBUG
    } else {
        LevelFilter::INFO
    };
    let console_level = match config.verbosity {
        i8::MIN..=-1 => LevelFilter::ERROR,
        0 => LevelFilter::WARN,
        1 => LevelFilter::INFO,
        _ => LevelFilter::DEBUG,
    };
    let console_filter = EnvFilter::builder()
        .with_default_directive(console_level.into())
        .from_env_lossy();
    let file_layer = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_writer(writer)
        .with_filter(file_level);
    let console_layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(stderr_color())
        .without_time()
        .with_target(false)
        .with_filter(console_filter)
        .with_filter(tracing_subscriber::filter::filter_fn(|meta| {
            meta.target() != FILE_ONLY
        }));
    let _ = tracing_subscriber::registry()
        .with(file_layer)
        .with(console_layer)
        .try_init();
    Ok(LogGuard {
        prefix,
        dir: config.dir.clone(),
    })
}

/// A writer to this instance's rotating file (each line written as it is logged), and the
/// instance's file name prefix.
pub fn file_writer(config: &LogConfig) -> Result<(RollingFileAppender, String), Error> {
    std::fs::create_dir_all(&config.dir).map_err(|source| Error::Dir {
        path: config.dir.clone(),
        source,
    })?;
    let prefix = config
        .prefix
        .clone()
        .unwrap_or_else(|| instance_prefix(&config.host));
    let builder = RollingFileAppender::builder()
        .filename_prefix(&prefix)
        .filename_suffix("log")
        .rotation(config.rotation.clone())
        .max_log_files(config.keep.max(1));
    let appender = builder.build(&config.dir).map_err(|e| Error::Appender {
        path: config.dir.clone(),
        detail: e.to_string(),
    })?;
    Ok((appender, prefix))
}

/// One log file: its instance (host, pid, start) and the time span of its lines.
#[derive(Debug, Clone)]
pub struct LogFile {
    /// Path.
    pub path: PathBuf,
    /// Host.
    pub host: String,
    /// Pid.
    pub pid: String,
    /// First line's timestamp.
    pub first: String,
    /// Last line's timestamp.
    pub last: String,
    /// Number of lines.
    pub lines: usize,
}

/// Every log file under `dir`, sorted by name.
pub fn list_files(dir: &Path) -> std::io::Result<Vec<LogFile>> {
    let mut files = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(files);
    };
    for entry in entries {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        if !name.ends_with(".log") {
            continue;
        }
        let text = std::fs::read_to_string(&path)?;
        let (host, pid) = host_and_pid(&name);
        let stamp = |l: &str| l.split_whitespace().next().unwrap_or("").to_string();
        files.push(LogFile {
            first: text.lines().next().map(stamp).unwrap_or_default(),
            last: text.lines().last().map(stamp).unwrap_or_default(),
            lines: text.lines().count(),
            path,
            host,
            pid,
        });
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// Host and pid from `<host>.<pid>.<start>.<date>.log`, read from the right: cluster host names
/// are often dotted (`node01.cluster.local`).
fn host_and_pid(name: &str) -> (String, String) {
    let stem = name.strip_suffix(".log").unwrap_or(name);
    let mut from_right = stem.rsplitn(4, '.');
    let (_date, _start) = (from_right.next(), from_right.next());
    let pid = from_right.next().unwrap_or("").to_string();
    let host = from_right.next().unwrap_or("").to_string();
    (host, pid)
}

/// Every line about `item` from every file under `dir`, oldest first (by timestamp).
pub fn lines_about(dir: &Path, item: &str) -> std::io::Result<Vec<String>> {
    let needle = format!("key={item:?}");
    let mut lines = Vec::new();
    for file in list_files(dir)? {
        let text = std::fs::read_to_string(&file.path)?;
        lines.extend(
            text.lines()
                .filter(|l| l.contains(&needle))
                .map(str::to_string),
        );
    }
    lines.sort_by(|a, b| {
        a.split_whitespace()
            .next()
            .cmp(&b.split_whitespace().next())
    });
    Ok(lines)
}
