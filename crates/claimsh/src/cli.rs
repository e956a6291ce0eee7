//! Command-line interface (clap derive) and exit codes.

use clap::{Args, Parser, Subcommand};
use std::path::{Path, PathBuf};

/// Exit code: nothing failed.
pub const EXIT_OK: i32 = 0;
/// Exit code: some items failed, or the script failed outside any item.
pub const EXIT_FAILED: i32 = 1;
/// Exit code: usage error or script compile error.
pub const EXIT_USAGE: i32 = 2;

/// Run a Rhai script on every node; a claim ledger on the shared filesystem divides the work.
///
/// `claimsh SCRIPT [ARGS...]` is `claimsh run SCRIPT -- ARGS...`.
#[derive(Parser, Debug)]
#[command(name = "claimsh", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    // `claimsh SCRIPT ...`: `run`'s arguments, spelled out because clap leaves an
    // `Option<RunArgs>` with a flattened struct inside always `None`.
    /// The Rhai script to run.
    script: Option<PathBuf>,
    /// Arguments for the script (`ARGS` in the script).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
    #[command(flatten)]
    options: RunOptions,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a script (the default command).
    Run(RunArgs),
    /// Run a program on every file matching a pattern, like GNU parallel, on every node.
    ///
    /// `claimsh each 'in/*.tif' --output 'out/{stem}.csv' -- python3 analyze.py {} out/{stem}.csv`
    /// (no script needed; status, cleanup and logs take `--state .claimsh/each-...`).
    Each(crate::each::EachArgs),
    /// Compile a script without running it; errors as file:line:col.
    Check {
        /// The script.
        script: PathBuf,
    },
    /// Show done / running / stale / failed items, rate and ETA.
    Status {
        #[command(flatten)]
        target: StateTarget,
        /// Print JSON (top-level counts are items).
        #[arg(long)]
        json: bool,
    },
    /// Remove stale claims (and failure records or everything when asked).
    Cleanup {
        #[command(flatten)]
        target: StateTarget,
        /// Also remove failure records, so failed items run again.
        #[arg(long)]
        failed: bool,
        /// Remove the whole state directory.
        #[arg(long)]
        all: bool,
    },
    /// List log files, or show every line about ITEM from every node's log.
    Logs {
        #[command(flatten)]
        target: StateTarget,
        /// An item key.
        item: Option<String>,
    },
    /// Print every script function with its signature and description.
    Api,
    /// Probe a directory's filesystem: can a claim ledger live there, what a metadata round trip
    /// costs, and which loop form and lease suit it.
    CheckFs {
        /// The directory (the state directory you mean to use, or its parent) [default: .].
        dir: Option<PathBuf>,
        /// Print the probe's report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write (and optionally submit) a SLURM job-array script that runs SCRIPT (or `each ...`) on N
    /// nodes.
    Slurm(crate::commands::SlurmArgs),
}

/// Which ledger a command looks at.
#[derive(Args, Debug)]
pub struct StateTarget {
    /// The script whose ledger to inspect (its default state directory).
    script: Option<PathBuf>,
    /// The state directory.
    #[arg(long)]
    state: Option<PathBuf>,
}

impl StateTarget {
    /// The state directory this target names.
    pub fn dir(&self) -> Result<PathBuf, String> {
        match (&self.state, &self.script) {
            (Some(dir), _) => Ok(dir.clone()),
            (None, Some(script)) => Ok(default_state(script)),
            (None, None) => Err("give a SCRIPT or --state DIR".into()),
        }
    }
}

/// `claimsh run`: the script, its arguments and the run options.
#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// The Rhai script.
    pub script: PathBuf,
    /// Arguments for the script (`ARGS` in the script).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
    #[command(flatten)]
    pub options: RunOptions,
}

/// `args.jobs` rather than `args.options.jobs`: the options read as fields of the command.
impl std::ops::Deref for RunArgs {
    type Target = RunOptions;
    fn deref(&self) -> &RunOptions {
        &self.options
    }
}

/// How to run: shared by `claimsh run` and `claimsh each`.
#[derive(Args, Debug, Clone)]
pub struct RunOptions {
    /// Script workers in this process [default: available cores].
    #[arg(short, long, env = "CLAIMSH_JOBS")]
    pub jobs: Option<usize>,
    /// State directory [default: <script dir>/.claimsh/<script stem>/; for `each`,
    /// ./.claimsh/each-<hash of the command line>/]; the same on every node.
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Lease in whole seconds: a worker silent this long is presumed dead and its items retaken.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub lease: u64,
    /// Claim items whose last attempt failed instead of skipping them.
    #[arg(long)]
    pub retry_failed: bool,
    /// Fail an item that runs longer than this (seconds; its programs are ended too).
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub item_timeout: Option<f64>,
    /// Stop this process after N failed items in a row.
    #[arg(long)]
    pub max_failures: Option<u64>,
    /// Exit at the end of the script instead of waiting for items held by others.
    #[arg(long)]
    pub no_wait: bool,
    /// Rhai operation limit per script run (off by default).
    #[arg(long)]
    pub max_operations: Option<u64>,
    /// Less console output (errors only).
    #[arg(short, long)]
    pub quiet: bool,
    /// More console output (-v info, -vv debug).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// No progress bar or progress lines.
    #[arg(long)]
    pub no_progress: bool,
    /// Rotated log files kept per instance.
    #[arg(long, default_value_t = claim_log::DEFAULT_KEEP)]
    pub log_keep: usize,
    /// Print per-worker insights (tasks, busy time) at the end.
    #[arg(long)]
    pub insights: bool,
}

/// A positive, finite number of seconds.
fn parse_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if s > 0.0 && s.is_finite() => Ok(s),
        _ => Err(format!("{text:?} is not a positive number of seconds")),
    }
}

/// `<script dir>/.claimsh/<script stem>/`.
pub fn default_state(script: &Path) -> PathBuf {
    let dir = script.parent().unwrap_or(Path::new("."));
    let stem = script
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("script");
    dir.join(".claimsh").join(stem)
}

/// Parse arguments, run, and return the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
        }
    };
    let run = cli.script.map(|script| RunArgs {
        script,
        args: cli.args,
        options: cli.options,
    });
    let result = match (cli.command, run) {
        (Some(Command::Run(args)), _) | (None, Some(args)) => crate::runner::run(args),
        (Some(Command::Each(args)), _) => crate::each::each(args),
        (Some(Command::Check { script }), _) => crate::commands::check(&script),
        (Some(Command::Status { target, json }), _) => crate::commands::status(&target, json),
        (
            Some(Command::Cleanup {
                target,
                failed,
                all,
            }),
            _,
        ) => crate::commands::cleanup(&target, failed, all),
        (Some(Command::Logs { target, item }), _) => crate::commands::logs(&target, item),
        (Some(Command::Api), _) => crate::commands::api(),
        (Some(Command::CheckFs { dir, json }), _) => {
            crate::check_fs::check_fs(dir.as_deref().unwrap_or(Path::new(".")), json)
        }
        (Some(Command::Slurm(args)), _) => crate::commands::slurm(&args),
        (None, None) => {
            eprintln!("claimsh: give a script to run (see claimsh --help)");
            Ok(EXIT_USAGE)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("claimsh: {e:#}");
            EXIT_FAILED
        }
    }
}
