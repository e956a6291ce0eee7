//! # claimsh: run a Rhai script on every node; a shared-filesystem claim ledger divides the work
//!
//! The binary is thin: [`run`] parses the command line ([`args`]) and hands each subcommand to
//! its module, which returns an exit code ([`exit`]). `runner` starts the worker threads
//! (`worker`: their shared state), `api` holds the script functions (one module per domain),
//! `script` compiles and checks scripts, `check_fs` probes a filesystem, `summary` and `progress` report on a run, `status`,
//! `slurm` and `commands` are the other subcommands, `each` the script-less `each`. Claiming
//! lives in `claim-core`, logging in `claim-log`, parallel maps in `claim-pool`, image analysis
//! in `claim-image`.

mod api;
mod args;
mod check_fs;
mod commands;
mod each;
mod exit;
mod progress;
mod provenance;
mod runner;
mod script;
mod slurm;
mod status;
mod stdout;
mod summary;
mod words;
mod worker;

use args::{Cli, Command, RunArgs};
use clap::Parser;

/// mimalloc rather than the system allocator: image stages allocate and free megabyte buffers
/// per image on every worker thread, and glibc hands those back to the kernel each time (a page
/// fault per 4 KiB on the next image; about a tenth of the main example's time).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(u8::try_from(run()).unwrap_or(exit::FAILED as u8))
}

/// Parse arguments, run, and return the exit code; an error is printed once, here.
fn run() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
        }
    };
    let run = cli.script.map(|script| RunArgs {
        script,
        args: cli.args,
        options: cli.options,
    });
    let result = match (cli.command, run) {
        (Some(Command::Run(args)), _) | (None, Some(args)) => runner::run(args),
        (Some(command), _) => subcommand(command),
        (None, None) => {
            eprintln!("claimsh: give a script to run (see claimsh --help)");
            Ok(exit::USAGE)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("claimsh: {e:#}");
            exit::FAILED
        }
    }
}

/// Every command but `run`.
fn subcommand(command: Command) -> anyhow::Result<i32> {
    match command {
        Command::Run(args) => runner::run(args),
        Command::Each(args) => each::each(args),
        Command::Check { script } => script::check(&script),
        Command::Status {
            target,
            json,
            watch,
        } => status::status(&target, json, watch),
        Command::Cleanup {
            target,
            failed,
            all,
        } => commands::cleanup(&target, failed, all),
        Command::Logs { target, item } => commands::logs(&target, item),
        Command::Api { json } => commands::api(json),
        Command::CheckFs { dir, json } => {
            check_fs::check_fs(dir.as_deref().unwrap_or(std::path::Path::new(".")), json)
        }
        Command::Slurm(args) => slurm::slurm(&args),
    }
}
