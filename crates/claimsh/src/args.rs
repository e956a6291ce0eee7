//! The command line (clap derive): every subcommand and option, and the default state directory.

use clap::{Args, Parser, Subcommand};
use std::path::{Path, PathBuf};

/// Run a Rhai script on every node; a claim ledger on the shared filesystem divides the work.
///
/// `claimsh SCRIPT [ARGS...]` is `claimsh run SCRIPT -- ARGS...`.
#[derive(Parser, Debug)]
#[command(name = "claimsh", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    // `claimsh SCRIPT ...`: `run`'s arguments, spelled out because clap leaves an
    // `Option<RunArgs>` with a flattened struct inside always `None`.
    /// The Rhai script to run.
    pub script: Option<PathBuf>,
    /// Arguments for the script (`ARGS` in the script).
    #[arg(trailing_var_arg = true)]
    pub args: Vec<String>,
    #[command(flatten)]
    pub options: RunOptions,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a script (the default command).
    Run(RunArgs),
    /// Run a program on every file matching a pattern, like GNU parallel, on every node.
    ///
    /// `claimsh each 'in/*.tif' --output 'out/{stem}.csv' -- python3 analyze.py {} out/{stem}.csv`
    /// (no script needed; status, cleanup and logs take `--state .claimsh/each-...`).
    Each(EachArgs),
    /// Compile a script without running it, and look for calls to functions that do not exist
    /// or take other arguments; problems as file:line:col.
    Check {
        /// The script.
        script: PathBuf,
    },
    /// Show done / running / stale / failed items, rate and ETA.
    Status {
        #[command(flatten)]
        target: StateTarget,
        /// Print JSON (top-level counts are items).
        #[arg(long, conflicts_with = "watch")]
        json: bool,
        /// Redraw every second (counts, rate, ETA, running claims by host, last failures)
        /// until Ctrl-C.
        #[arg(long)]
        watch: bool,
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
    Api {
        /// Print every function as JSON (name, parameters with types, return type, doc).
        #[arg(long)]
        json: bool,
    },
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
    Slurm(SlurmArgs),
}

/// Which ledger a command looks at: a script's (its default state directory) or `--state DIR`;
/// clap refuses neither (a usage error, exit 2).
#[derive(Args, Debug)]
#[group(required = true, multiple = true)]
pub struct StateTarget {
    /// The script whose ledger to inspect (its default state directory).
    script: Option<PathBuf>,
    /// The state directory.
    #[arg(long)]
    state: Option<PathBuf>,
}

impl StateTarget {
    /// The state directory this target names (`--state` wins over the script's).
    pub fn dir(&self) -> PathBuf {
        match (&self.state, &self.script) {
            (Some(dir), _) => dir.clone(),
            (None, Some(script)) => default_state(script),
            (None, None) => unreachable!("clap requires a SCRIPT or --state"),
        }
    }
}

/// `claimsh run`: the script, its arguments and the run options.
#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// The Rhai script.
    pub script: PathBuf,
    /// Arguments for the script (`ARGS` in the script).
    #[arg(trailing_var_arg = true)]
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

/// Options of `claimsh each`.
#[derive(clap::Args, Debug, Clone)]
pub struct EachArgs {
    /// Files to run the command on: a glob pattern relative to the current folder (quote it,
    /// so the shell leaves it to claimsh: `'in/*.tif'`, `'data/**/*.fasta'`).
    pub pattern: String,
    /// The file the command makes per item, e.g. `out/{stem}.csv`: an item whose output exists
    /// is done (not run again); a command that exits 0 without creating it fails the item. Its
    /// folder is created before the command runs.
    #[arg(short, long, value_name = "TEMPLATE")]
    pub output: Option<String>,
    #[command(flatten)]
    pub options: RunOptions,
    /// The program and its arguments. `{}` is the file, `{stem}` its name without extension,
    /// `{name}` its name, `{dir}` its folder (GNU parallel's `{/.}`, `{/}`, `{//}` and `{.}` work
    /// too); with none of them the file is appended.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
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
    Each(EachArgs),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(words: &[&str]) -> Cli {
        Cli::try_parse_from([&["claimsh"], words].concat()).expect("parses")
    }

    /// Options between the script and its first argument are claimsh's; everything from the
    /// first argument on (or after `--`) is the script's.
    #[test]
    fn options_after_the_script_are_claimshs_until_its_first_argument() {
        let cli = parse(&["job.rhai", "-j1", "-q", "in", "-x"]);
        assert_eq!(cli.options.jobs, Some(1));
        assert!(cli.options.quiet);
        assert_eq!(cli.args, ["in", "-x"]);
        let cli = parse(&["job.rhai", "--", "-j1"]);
        assert_eq!(cli.options.jobs, None);
        assert_eq!(cli.args, ["-j1"]);
    }

    /// An unknown flag before any script argument is an error with clap's `-- -x` hint, not a
    /// silent script argument.
    #[test]
    fn an_unknown_flag_before_the_arguments_is_an_error() {
        let err = Cli::try_parse_from(["claimsh", "job.rhai", "-x"]).unwrap_err();
        assert!(err.to_string().contains("'-- -x'"), "{err}");
    }
}
