//! The small subcommands (`cleanup`, `logs`, `api`), and opening a ledger a run made.

use crate::args::StateTarget;
use crate::exit::OK as EXIT_OK;
use crate::stdout::outln;
use anyhow::Context;
use claim_core::{CleanupScope, Ledger, LedgerOptions};

pub fn open(target: &StateTarget) -> anyhow::Result<Ledger> {
    let dir = target.dir();
    if !dir.join("FORMAT").exists() {
        anyhow::bail!(
            "{} holds no claim ledger yet (has the script run?)",
            dir.display()
        );
    }
    open_existing(&dir)
}

/// The ledger of `once(...)` steps beside the items' one, if any step ran.
pub fn open_once(target: &StateTarget) -> anyhow::Result<Option<Ledger>> {
    let dir = target.dir();
    let once = dir.join(crate::worker::ONCE_DIR);
    once.join("FORMAT")
        .exists()
        .then(|| open_existing(&once))
        .transpose()
}

/// A ledger a run created, opened to look at (this host's name, default lease).
fn open_existing(dir: &std::path::Path) -> anyhow::Result<Ledger> {
    let options = LedgerOptions {
        host: crate::runner::host_name(),
        ..Default::default()
    };
    Ledger::open(dir, options).with_context(|| format!("open {}", dir.display()))
}

pub fn cleanup(target: &StateTarget, failed: bool, all: bool) -> anyhow::Result<i32> {
    if all {
        // Without opening it: a ledger of an older format is refused by `open`, and this is
        // what its message tells the user to run.
        let dir = target.dir();
        Ledger::remove_all(&dir).with_context(|| format!("remove {}", dir.display()))?;
        outln!("removed {}", dir.display());
        return Ok(EXIT_OK);
    }
    let scope = CleanupScope { failed, all };
    let mut removed = match open_once(target)? {
        Some(once) => once.cleanup(scope)?,
        None => Vec::new(),
    };
    removed.extend(open(target)?.cleanup(scope)?);
    if removed.is_empty() {
        outln!("nothing to remove");
    }
    for line in removed {
        outln!("removed {line}");
    }
    Ok(EXIT_OK)
}

pub fn logs(target: &StateTarget, item: Option<String>) -> anyhow::Result<i32> {
    let dir = target.dir().join("logs");
    match item {
        Some(item) => {
            for line in claim_log::lines_about(&dir, &item)? {
                outln!("{line}");
            }
        }
        None => {
            for f in claim_log::list_files(&dir)? {
                outln!(
                    "{}  host {}  pid {}  {} .. {}  ({} lines)",
                    f.path.display(),
                    f.host,
                    f.pid,
                    f.first,
                    f.last,
                    f.lines
                );
            }
        }
    }
    Ok(EXIT_OK)
}

/// `claimsh api`: the script reference from the engine's metadata, as Markdown or JSON.
pub fn api(json: bool) -> anyhow::Result<i32> {
    let text = if json {
        format!("{:#}\n", crate::api::reference::json())
    } else {
        crate::api::reference::markdown()
    };
    outln!("{}", text.trim_end_matches('\n'));
    Ok(EXIT_OK)
}
