//! claimsh's integration tests: one binary (one link, one run, tests in parallel), one module
//! per subject, and `util` for what they share. Each runs the built binary in a temporary
//! directory.
//!
//! `scenarios` runs `tests/scenarios/*.rhai` at the top of the repository: the promises a user
//! relies on, one file each. `slurm` needs a cluster and is ignored unless asked for:
//! `cargo test -p claimsh --test integration -- --include-ignored --test-threads=1 slurm::`.

mod cells;
mod chaos;
mod cli;
mod filesystems;
mod items;
mod nuclei;
mod par_map;
mod programs;
mod report;
mod scenarios;
mod slurm;
mod util;
