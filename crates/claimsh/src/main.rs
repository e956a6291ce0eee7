//! # claimsh: run a Rhai script on every node; a shared-filesystem claim ledger divides the work
//!
//! The binary is thin: `cli` parses arguments and maps results to exit codes, `runner` starts the
//! worker threads, `api` holds the script functions (one module per domain), `commands` the
//! `status`, `cleanup`, `logs`, `check` and `api` subcommands, `check_fs` the filesystem probe, `each` the script-less `each`. Claiming lives in `claim-core`,
//! logging in `claim-log`, parallel maps in `claim-pool`, image analysis in `claim-image`.

mod api;
mod check_fs;
mod cli;
mod commands;
mod each;
mod runner;
mod worker;

/// mimalloc rather than the system allocator: image stages allocate and free megabyte buffers
/// per image on every worker thread, and glibc hands those back to the kernel each time (a page
/// fault per 4 KiB on the next image; about a tenth of the main example's time).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(cli::main());
}
