//! Exit codes: what a batch scheduler or a shell script can tell from how claimsh ended.

/// Nothing failed.
pub const OK: i32 = 0;
/// Some items failed, or the script failed outside any item.
pub const FAILED: i32 = 1;
/// Usage error, or a script that does not compile or calls functions that do not exist.
pub const USAGE: i32 = 2;
/// Interrupted by Ctrl-C (SIGINT): 128 + 2, as a shell reports it.
pub const INTERRUPTED: i32 = 130;
/// Ended by SIGTERM (SLURM's time limit, `scancel`): 128 + 15.
pub const TERMINATED: i32 = 143;

/// The exit code for a run ended by `signal` (a signal number, or 0: none).
pub fn for_signal(signal: usize) -> Option<i32> {
    match signal {
        s if s == signal_hook::consts::SIGINT as usize => Some(INTERRUPTED),
        s if s == signal_hook::consts::SIGTERM as usize => Some(TERMINATED),
        _ => None,
    }
}
