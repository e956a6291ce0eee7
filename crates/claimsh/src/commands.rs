//! The non-run subcommands (`check`, `status`, `cleanup`, `logs`, `api`, `slurm`) and the
//! progress display.

use crate::cli::{EXIT_OK, StateTarget};
use crate::worker::{ParProgress, Process};
use anyhow::Context;
use claim_core::{CleanupScope, Ledger, LedgerOptions};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub fn check(script: &std::path::Path) -> anyhow::Result<i32> {
    match crate::runner::compile(script) {
        Ok(_) => {
            println!("{}: ok", script.display());
            Ok(EXIT_OK)
        }
        Err(code) => Ok(code),
    }
}

fn open(target: &StateTarget) -> anyhow::Result<Ledger> {
    let dir = target.dir().map_err(anyhow::Error::msg)?;
    if !dir.join("FORMAT").exists() {
        anyhow::bail!(
            "{} holds no claim ledger yet (has the script run?)",
            dir.display()
        );
    }
    open_existing(&dir)
}

/// The ledger of `once(...)` steps beside the items' one, if any step ran.
fn open_once(target: &StateTarget) -> anyhow::Result<Option<Ledger>> {
    let dir = target.dir().map_err(anyhow::Error::msg)?;
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

pub fn status(target: &StateTarget, json: bool) -> anyhow::Result<i32> {
    let status = open(target)?.status()?;
    let once = open_once(target)?.map(|l| l.status()).transpose()?;
    if json {
        let mut value = serde_json::to_value(&status)?;
        if let Some(once) = &once {
            value["once"] = serde_json::to_value(once)?;
        }
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(EXIT_OK);
    }
    let opt = |v: Option<u64>| v.map_or("?".to_string(), |v| v.to_string());
    println!(
        "done {}  running {}  stale {}  failed {}  pending {}  total {}",
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
        println!("rate {rate:.1} items/s  eta {eta}");
    }
    for c in &status.claims {
        let state = c
            .stale
            .as_deref()
            .map_or("running".to_string(), |why| format!("STALE ({why})"));
        println!(
            "  {} on {}:{} worker {}  {:.0}s  {state}",
            c.key, c.host, c.pid, c.worker, c.age_seconds
        );
    }
    for f in &status.failures {
        println!("  failed {} on {}: {}", f.key, f.host, f.reason);
    }
    if let Some(once) = once {
        println!(
            "once steps: done {}  running {}  failed {}",
            once.done,
            once.running + once.stale,
            once.failed
        );
        for f in &once.failures {
            println!("  failed {} on {}: {}", f.key, f.host, f.reason);
        }
    }
    Ok(EXIT_OK)
}

pub fn cleanup(target: &StateTarget, failed: bool, all: bool) -> anyhow::Result<i32> {
    if all {
        // Without opening it: a ledger of an older format is refused by `open`, and this is
        // what its message tells the user to run.
        let dir = target.dir().map_err(anyhow::Error::msg)?;
        Ledger::remove_all(&dir).with_context(|| format!("remove {}", dir.display()))?;
        println!("removed {}", dir.display());
        return Ok(EXIT_OK);
    }
    let scope = CleanupScope { failed, all };
    let mut removed = match open_once(target)? {
        Some(once) => once.cleanup(scope)?,
        None => Vec::new(),
    };
    removed.extend(open(target)?.cleanup(scope)?);
    if removed.is_empty() {
        println!("nothing to remove");
    }
    for line in removed {
        println!("removed {line}");
    }
    Ok(EXIT_OK)
}

pub fn logs(target: &StateTarget, item: Option<String>) -> anyhow::Result<i32> {
    let dir = target.dir().map_err(anyhow::Error::msg)?.join("logs");
    match item {
        Some(item) => {
            for line in claim_log::lines_about(&dir, &item)? {
                println!("{line}");
            }
        }
        None => {
            for f in claim_log::list_files(&dir)? {
                println!(
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

pub fn api() -> anyhow::Result<i32> {
    println!("# claimsh script API\n");
    for (module, docs) in crate::api::docs() {
        println!("## {module}\n");
        for doc in docs {
            println!("- `{}` — {}", doc.signature, doc.about);
        }
        println!();
    }
    println!("Also: `ARGS` (array of the script's arguments); `print` and `debug` go to the log.");
    Ok(EXIT_OK)
}

/// Options of `claimsh slurm`.
#[derive(clap::Args, Debug)]
#[command(subcommand_negates_reqs = true)]
pub struct SlurmArgs {
    /// The script every array task runs (or `each ...`, see below).
    #[arg(required = true)]
    pub script: Option<PathBuf>,
    /// Number of array tasks (nodes).
    #[arg(long)]
    pub tasks: u32,
    /// CPUs per task; becomes --jobs.
    #[arg(long, default_value_t = 1)]
    pub cpus_per_task: u32,
    /// Time limit (none unless given).
    #[arg(long)]
    pub time: Option<String>,
    /// Partition.
    #[arg(long)]
    pub partition: Option<String>,
    /// Submit with sbatch after writing.
    #[arg(long)]
    pub submit: bool,
    /// Extra sbatch options.
    #[arg(last = true)]
    pub sbatch: Vec<String>,
    /// `claimsh slurm --tasks 8 each 'in/*.tif' -o 'out/{stem}.csv' -- CMD ...` instead of a
    /// script.
    #[command(subcommand)]
    pub each: Option<SlurmEach>,
}

/// What an array task runs when it is not a script.
#[derive(clap::Subcommand, Debug)]
pub enum SlurmEach {
    /// Every task runs `claimsh each` with these arguments, in the current folder.
    Each(crate::each::EachArgs),
}

pub fn slurm(args: &SlurmArgs) -> anyhow::Result<i32> {
    let exe = std::env::current_exe()?;
    let (name, state, run, path) = match (&args.each, &args.script) {
        (Some(SlurmEach::Each(each)), _) => {
            crate::each::slurm_line(each, &exe, args.cpus_per_task)?
        }
        (None, Some(script)) => {
            let script = std::fs::canonicalize(script)
                .with_context(|| format!("script {}", script.display()))?;
            let state = crate::cli::default_state(&script);
            let run = format!(
                "exec {} run {} --jobs \"${{SLURM_CPUS_PER_TASK:-{}}}\" --state {} --no-progress\n",
                exe.display(),
                script.display(),
                args.cpus_per_task,
                state.display()
            );
            let stem = script
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("claimsh");
            (
                stem.to_string(),
                state,
                run,
                script.with_extension("sbatch"),
            )
        }
        (None, None) => anyhow::bail!("give a SCRIPT, or `each PATTERN -- CMD ...`"),
    };
    let text = sbatch_text(args, &name, &state, &run);
    std::fs::create_dir_all(state.join("logs"))?;
    std::fs::write(&path, &text)?;
    println!("{text}");
    eprintln!("wrote {}", path.display());
    if args.submit {
        let ok = std::process::Command::new("sbatch")
            .arg(&path)
            .status()?
            .success();
        if !ok {
            anyhow::bail!("sbatch {} failed", path.display());
        }
    }
    Ok(EXIT_OK)
}

/// The job script: `#SBATCH` lines, then `run`.
fn sbatch_text(args: &SlurmArgs, name: &str, state: &std::path::Path, run: &str) -> String {
    let mut text = String::from("#!/bin/bash\n");
    text += &format!(
        "#SBATCH --job-name=claimsh-{name}\n#SBATCH --array=0-{}\n",
        args.tasks.saturating_sub(1)
    );
    text += &format!(
        "#SBATCH --cpus-per-task={}\n#SBATCH --ntasks=1\n",
        args.cpus_per_task
    );
    text += &format!(
        "#SBATCH --output={}/slurm-%A_%a.out\n",
        state.join("logs").display()
    );
    if let Some(t) = &args.time {
        text += &format!("#SBATCH --time={t}\n");
    }
    if let Some(p) = &args.partition {
        text += &format!("#SBATCH --partition={p}\n");
    }
    for o in &args.sbatch {
        text += &format!("#SBATCH {o}\n");
    }
    text += run;
    text
}

/// Global progress from the ledger: a bar on a terminal, plain lines otherwise.
/// Items done per second over the last minute, from this process's own samples (its monotonic
/// clock; done counts include other nodes' work).
#[derive(Default)]
struct Rate {
    samples: std::collections::VecDeque<(Instant, u64)>,
}

impl Rate {
    /// Add a sample; the rate over the samples of the last minute, once they span a second.
    fn add(&mut self, done: u64) -> Option<f64> {
        let now = Instant::now();
        self.samples.push_back((now, done));
        while self
            .samples
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) > Duration::from_secs(60))
        {
            self.samples.pop_front();
        }
        let (t0, d0) = *self.samples.front()?;
        let span = now.duration_since(t0).as_secs_f64();
        (span >= 1.0).then(|| done.saturating_sub(d0) as f64 / span)
    }
}

/// `12.3/s eta 40s failed 2 par_map 4200/10000`, the parts that are known.
fn progress_message(c: &claim_core::Counts, rate: Option<f64>, maps: &ParProgress) -> String {
    let mut parts = Vec::new();
    if let Some(rate) = rate {
        parts.push(format!("{rate:.1}/s"));
        if let Some(total) = c.total
            && rate > 0.0
        {
            let pending = total.saturating_sub(c.done + c.failed);
            parts.push(format!("eta {:.0}s", pending as f64 / rate));
        }
    }
    parts.push(format!("failed {}", c.failed));
    let (finished, total) = (
        maps.finished.load(Ordering::Relaxed),
        maps.total.load(Ordering::Relaxed),
    );
    if finished < total {
        parts.push(format!("par_map {finished}/{total}"));
    }
    parts.join(" ")
}

pub struct Progress {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<()>,
}

impl Progress {
    /// Redraw every second on a terminal, print a line every ten seconds otherwise. Polls
    /// [`claim_core::Ledger::counts`] (directory listings only), never the full status, so a
    /// thousand nodes can each draw a bar against one file server.
    pub fn start(process: &Arc<Process>) -> Progress {
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, ledger) = (stop.clone(), process.ledger.clone());
        let maps = process.par_progress.clone();
        let handle = std::thread::spawn(move || {
            let terminal = crate::runner::stderr_is_terminal();
            let bar = indicatif::ProgressBar::hidden();
            if terminal {
                bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                bar.set_style(
                    indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} items  {msg}")
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                );
            }
            let mut rate = Rate::default();
            let mut tick = 0u64;
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(250));
                tick += 1;
                let period = if terminal { 4 } else { 40 };
                // One early sample, so the first printed line already has a rate.
                let early_sample = tick == 4;
                if !tick.is_multiple_of(period) && !early_sample {
                    continue;
                }
                let Ok(c) = ledger.counts() else { continue };
                let per_second = rate.add(c.done);
                if !tick.is_multiple_of(period) {
                    continue;
                }
                let message = progress_message(&c, per_second, &maps);
                if terminal {
                    bar.set_length(c.total.unwrap_or(c.done + c.claimed));
                    bar.set_position(c.done);
                    bar.set_message(message);
                } else {
                    eprintln!("progress: done {} claimed {} {message}", c.done, c.claimed);
                }
            }
            bar.finish_and_clear();
        });
        Progress { stop, handle }
    }

    pub fn finish(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.handle.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_progress_message_shows_what_is_known() {
        let counts = claim_core::Counts {
            done: 60,
            failed: 2,
            claimed: 4,
            total: Some(100),
        };
        let maps = ParProgress::default();
        assert_eq!(progress_message(&counts, None, &maps), "failed 2");
        assert_eq!(
            progress_message(&counts, Some(2.0), &maps),
            "2.0/s eta 19s failed 2"
        );
        maps.total.store(10, Ordering::Relaxed);
        maps.finished.store(3, Ordering::Relaxed);
        let unknown_total = claim_core::Counts {
            total: None,
            ..counts
        };
        assert_eq!(
            progress_message(&unknown_total, Some(2.0), &maps),
            "2.0/s failed 2 par_map 3/10"
        );
    }
}
