//! `claimsh status`: the ledger's counts, rate, ETA, claims and failures, once, as JSON, or
//! redrawn every second (`--watch`) for a person to leave open while the cluster works.

use crate::args::StateTarget;
use crate::commands::{open, open_once};
use crate::exit::OK as EXIT_OK;
use crate::stdout::outln;
use claim_core::Status;
use std::fmt::Write as _;
use std::io::{IsTerminal, Write as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// `claimsh status [--json | --watch]`.
pub fn status(target: &StateTarget, json: bool, watch: bool) -> anyhow::Result<i32> {
    if watch {
        return watch_status(target);
    }
    let (status, once) = read(target)?;
    if json {
        let mut value = serde_json::to_value(&status)?;
        if let Some(once) = &once {
            value["once"] = serde_json::to_value(once)?;
        }
        outln!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(EXIT_OK);
    }
    let mut text = counts_text(&status);
    for c in &status.claims {
        let state = c
            .stale
            .as_deref()
            .map_or("running".to_string(), |why| format!("STALE ({why})"));
        let _ = writeln!(
            text,
            "  {} on {}:{} worker {}  {:.0}s  {state}",
            c.key, c.host, c.pid, c.worker, c.age_seconds
        );
    }
    for f in &status.failures {
        let _ = writeln!(text, "  failed {} on {}: {}", f.key, f.host, f.reason);
    }
    once_text(&mut text, once.as_ref(), usize::MAX);
    outln!("{}", text.trim_end_matches('\n'));
    Ok(EXIT_OK)
}

/// The items' status and, if any `once` step ran, the steps'.
fn read(target: &StateTarget) -> anyhow::Result<(Status, Option<Status>)> {
    let status = open(target)?.status()?;
    let once = open_once(target)?.map(|l| l.status()).transpose()?;
    Ok((status, once))
}

/// `done 3  running 1 ...` and, once a rate is known, `rate 1.5 items/s  eta 20s`.
fn counts_text(status: &Status) -> String {
    let opt = |v: Option<u64>| v.map_or("?".to_string(), |v| v.to_string());
    let mut text = format!(
        "done {}  running {}  stale {}  failed {}  pending {}  total {}\n",
        status.done,
        status.running,
        status.stale,
        status.failed,
        opt(status.pending),
        opt(status.total)
    );
    if let Some(rate) = status.items_per_second {
        let eta = status
            .eta_seconds
            .map_or("?".into(), |s| format!("{s:.0}s"));
        let _ = writeln!(text, "rate {rate:.1} items/s  eta {eta}");
    }
    text
}

/// The `once` steps' counts and up to `failures` of their failures.
fn once_text(text: &mut String, once: Option<&Status>, failures: usize) {
    let Some(once) = once.filter(|o| o.done + o.running + o.stale + o.failed > 0) else {
        return;
    };
    let _ = writeln!(
        text,
        "once steps: done {}  running {}  failed {}",
        once.done,
        once.running + once.stale,
        once.failed
    );
    for f in once.failures.iter().take(failures) {
        let _ = writeln!(text, "  failed {} on {}: {}", f.key, f.host, f.reason);
    }
}

/// Claims shown per host, and failures shown, in the live view.
const WATCH_CLAIMS: usize = 6;
const WATCH_FAILURES: usize = 5;

/// The live view: counts, rate and ETA, the running claims by host with their ages, the last
/// failures.
fn watch_text(status: &Status, once: Option<&Status>) -> String {
    let mut text = counts_text(status);
    let mut hosts: std::collections::BTreeMap<&str, Vec<&claim_core::ClaimInfo>> =
        Default::default();
    for c in &status.claims {
        hosts.entry(c.host.as_str()).or_default().push(c);
    }
    for (host, mut claims) in hosts {
        claims.sort_by(|a, b| b.age_seconds.total_cmp(&a.age_seconds));
        let _ = write!(text, "{host}:");
        for c in claims.iter().take(WATCH_CLAIMS) {
            let stale = if c.stale.is_some() { " STALE" } else { "" };
            let _ = write!(text, "  {} {:.0}s{stale}", c.key, c.age_seconds);
        }
        if claims.len() > WATCH_CLAIMS {
            let _ = write!(text, "  … {} more", claims.len() - WATCH_CLAIMS);
        }
        text.push('\n');
    }
    let skip = status.failures.len().saturating_sub(WATCH_FAILURES);
    if !status.failures.is_empty() {
        let _ = writeln!(text, "last failures:");
    }
    for f in &status.failures[skip..] {
        let _ = writeln!(text, "  {} on {}: {}", f.key, f.host, f.reason);
    }
    once_text(&mut text, once, WATCH_FAILURES);
    text
}

/// `--watch`: redraw every second until Ctrl-C (or SIGTERM); exit 0 then, as that is how a
/// viewer is closed. A ledger that does not exist yet is waited for, so the view can be opened
/// before the run starts.
fn watch_status(target: &StateTarget) -> anyhow::Result<i32> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone())?;
    }
    let dir = target.dir();
    let terminal = std::io::stdout().is_terminal();
    let started = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let body = match read(target) {
            Ok((status, once)) => watch_text(&status, once.as_ref()),
            Err(e) => format!("{e:#}\n"),
        };
        let header = format!(
            "claimsh status --watch {}  ({:.0} s; Ctrl-C to quit)\n",
            dir.display(),
            started.elapsed().as_secs_f64()
        );
        // On a terminal: home the cursor and clear, so the view stays in place.
        let clear = if terminal { "\x1b[H\x1b[2J" } else { "" };
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{clear}{header}{body}");
        let _ = out.flush();
        drop(out);
        let next = Instant::now() + Duration::from_secs(1);
        while Instant::now() < next && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    Ok(EXIT_OK)
}
