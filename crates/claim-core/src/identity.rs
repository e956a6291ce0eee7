//! Who holds a claim: host, boot, process and a unique owner token.
//!
//! A pid alone is not an identity (pids are reused), so a claim also records the process start
//! time (field 22 of `/proc/<pid>/stat`, in clock ticks since boot), the kernel's boot id and the
//! pid namespace. On the same host, boot and pid namespace, a holder whose pid is gone or now
//! belongs to a younger process is dead. (Containers can share a host name and the kernel's boot
//! id; their pids mean nothing in another pid namespace.)

use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The identity of the process holding claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessIdentity {
    /// Host name (from `CLAIMSH_HOST` when the caller sets it, else the kernel's host name).
    pub host: String,
    /// The kernel boot id, so a reboot with reused pids is not mistaken for the old process.
    pub boot_id: String,
    /// Process id.
    pub pid: u32,
    /// Process start time in clock ticks since boot (0 when unknown).
    pub pid_start: u64,
    /// The pid namespace, as `/proc/self/ns/pid` names it (`pid:[4026531836]`; empty when
    /// unknown).
    pub pid_ns: String,
}

impl ProcessIdentity {
    /// This process, on `host`.
    pub fn current(host: &str) -> Self {
        let pid = std::process::id();
        ProcessIdentity {
            host: host.to_string(),
            boot_id: boot_id(),
            pid,
            pid_start: process_start(pid).unwrap_or(0),
            pid_ns: pid_namespace(),
        }
    }

    /// Whether `pid` and `pid_start` from a record can be checked here: a claim written on this
    /// host, boot and pid namespace (all known).
    pub fn shares_pids_with(&self, host: &str, boot_id: &str, pid_ns: &str) -> bool {
        host == self.host
            && !boot_id.is_empty()
            && boot_id == self.boot_id
            && !pid_ns.is_empty()
            && pid_ns == self.pid_ns
    }
}

fn pid_namespace() -> String {
    std::fs::read_link("/proc/self/ns/pid")
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The kernel's host name (honours `unshare --uts`).
pub fn kernel_host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Start time of process `pid` in clock ticks since boot, or `None` when it does not exist.
pub fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces and parentheses; fields resume after the last ')'.
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(19)?.parse().ok()
}

/// Whether the process `pid` that started at `pid_start` still runs on this host.
pub fn process_alive(pid: u32, pid_start: u64) -> bool {
    match process_start(pid) {
        None => false,
        Some(start) => pid_start == 0 || start == pid_start,
    }
}

/// Wall-clock milliseconds since the Unix epoch. Informational only: never used to judge staleness.
pub fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A token unique to one claim by one owner (host, pid, time and a process-wide counter, hashed).
pub fn new_token(identity: &ProcessIdentity) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let seed = format!(
        "{}/{}/{}/{}/{nanos}/{n}",
        identity.host, identity.boot_id, identity.pid, identity.pid_start
    );
    let digest = Sha256::digest(seed.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_wrong_start_time_is_not() {
        let me = ProcessIdentity::current("h");
        assert!(me.pid_start > 0);
        assert!(process_alive(me.pid, me.pid_start));
        assert!(!process_alive(me.pid, me.pid_start + 1));
    }

    #[test]
    fn pids_are_checked_only_on_the_same_host_boot_and_pid_namespace() {
        let me = ProcessIdentity::current("h");
        assert!(me.pid_ns.starts_with("pid:["), "{}", me.pid_ns);
        assert!(me.shares_pids_with("h", &me.boot_id, &me.pid_ns));
        assert!(!me.shares_pids_with("other", &me.boot_id, &me.pid_ns));
        assert!(!me.shares_pids_with("h", "another-boot", &me.pid_ns));
        assert!(!me.shares_pids_with("h", &me.boot_id, "pid:[1]"));
        assert!(!me.shares_pids_with("h", &me.boot_id, ""), "unknown: never");
    }

    #[test]
    fn tokens_are_unique() {
        let me = ProcessIdentity::current("h");
        let a = new_token(&me);
        assert_ne!(a, new_token(&me));
        assert_eq!(a.len(), 16);
    }
}
