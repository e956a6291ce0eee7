//! Real processes racing over one state directory: exclusivity, kill -9, fencing and clock skew.
//!
//! The test binary doubles as the worker: a parent test re-runs this executable with
//! `CLAIM_CHILD=<role>` set, which makes `child_entry` play that role instead of returning.
//! Children report on stdout with lines starting `@@`.

use crate::util::{options, skip};
use claim_core::{Claimed, Error, Ledger};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} not set"))
}

fn say(line: &str) {
    println!("@@{line}");
    std::io::stdout().flush().unwrap();
}

/// Entry point of child processes; a no-op in a normal test run.
#[test]
fn child_entry() {
    let Ok(role) = std::env::var("CLAIM_CHILD") else {
        return;
    };
    let ledger = Ledger::open(
        env("CLAIM_STATE"),
        options(&env("CLAIM_HOST"), env("CLAIM_LEASE_MS").parse().unwrap()),
    )
    .unwrap();
    match role.as_str() {
        "race" => race(&ledger),
        "hold" => hold(&ledger),
        "hold-then-done" => hold_then_done(&ledger),
        "thief" => thief(&ledger),
        other => panic!("unknown role {other}"),
    }
}

/// Claim every key it can (starting at its own offset) and record what it won.
fn race(ledger: &Ledger) {
    let keys: usize = env("CLAIM_KEYS").parse().unwrap();
    let offset: usize = env("CLAIM_OFFSET").parse().unwrap();
    let mut won = String::new();
    for i in 0..keys {
        let key = format!("key-{}", (i + offset) % keys);
        if let Claimed::Won(claim) = ledger.claim(&key).unwrap() {
            won.push_str(&key);
            won.push('\n');
            claim.done().unwrap();
        }
    }
    std::fs::write(env("CLAIM_OUT"), won).unwrap();
    say("finished");
}

/// Claim the keys named in CLAIM_KEYS (comma-separated), report, then hold them until killed.
fn hold(ledger: &Ledger) {
    let claims: Vec<_> = env("CLAIM_KEYS")
        .split(',')
        .map(|k| ledger.claim(k).unwrap().won().expect("holder wins"))
        .collect();
    say("held");
    std::thread::sleep(Duration::from_secs(3600));
    drop(claims);
}

/// Claim one key, report, wait for a line on stdin, then try to publish it.
fn hold_then_done(ledger: &Ledger) {
    let claim = ledger.claim("x").unwrap().won().expect("holder wins");
    say("held");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).unwrap();
    match claim.done() {
        Ok(()) => say("published"),
        Err(Error::LostClaim { .. }) => say("lost"),
        Err(e) => say(&format!("error {e}")),
    }
}

/// Try to claim key `x` for CLAIM_SECONDS; report whether it ever won.
fn thief(ledger: &Ledger) {
    let until = Instant::now() + Duration::from_secs_f64(env("CLAIM_SECONDS").parse().unwrap());
    say("trying");
    while Instant::now() < until {
        if let Claimed::Won(claim) = ledger.claim("x").unwrap() {
            say("stole");
            claim.release().unwrap();
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    say("never");
}

struct Worker {
    child: Child,
    out: BufReader<ChildStdout>,
}

impl Worker {
    fn start(role: &str, state: &std::path::Path, host: &str, lease_ms: u64) -> WorkerBuilder {
        let mut command = Command::new(std::env::current_exe().unwrap());
        command
            .args([
                "--exact",
                "processes::child_entry",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("CLAIM_CHILD", role)
            .env("CLAIM_STATE", state)
            .env("CLAIM_HOST", host)
            .env("CLAIM_LEASE_MS", lease_ms.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        WorkerBuilder { command }
    }

    /// Wait for the child's next `@@` line.
    fn next(&mut self) -> String {
        let mut line = String::new();
        loop {
            line.clear();
            let n = self.out.read_line(&mut line).unwrap();
            assert!(n > 0, "child exited without reporting");
            // libtest may print "test processes::child_entry ... " on the same line first.
            if let Some(at) = line.find("@@") {
                return line[at + 2..].trim().to_string();
            }
        }
    }

    /// Send `signal` to the worker's whole process group.
    fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .args([
                &format!("-{signal}"),
                "--",
                &format!("-{}", self.child.id()),
            ])
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }
}

impl Worker {
    fn kill(&mut self) {
        self.signal("KILL");
        self.child.wait().unwrap();
        self.remove_faketime_leftovers();
    }

    /// libfaketime keeps a semaphore and a shared-memory file named by the process's pid in
    /// /dev/shm and removes them at exit; a killed worker cannot, and a later worker given the
    /// same pid would then fail to start ("sem_open: File exists").
    fn remove_faketime_leftovers(&self) {
        let pid = self.child.id();
        for name in [
            format!("sem.faketime_sem_{pid}"),
            format!("faketime_shm_{pid}"),
        ] {
            let _ = std::fs::remove_file(std::path::Path::new("/dev/shm").join(name));
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
        self.remove_faketime_leftovers();
    }
}

struct WorkerBuilder {
    command: Command,
}

impl WorkerBuilder {
    fn env(mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> Self {
        self.command.env(key, value);
        self
    }

    fn under_faketime(self, offset: &str) -> Self {
        // libfaketime preloaded directly, as `faketime -f OFFSET` does, so the files it keeps
        // in /dev/shm are named by the worker's own pid ([`Worker::remove_faketime_leftovers`]).
        // A skewed machine's wall clock is off; its monotonic clock still ticks normally (and
        // libfaketime's shifted monotonic clock hangs `nanosleep`).
        let library = libfaketime().expect("checked by have_faketime");
        self.env("LD_PRELOAD", library)
            .env("FAKETIME", offset)
            .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
    }

    /// In a pid namespace of its own, as in a container (needs root, as CI has).
    fn in_new_pid_namespace(self) -> Self {
        self.wrapped_in(&["unshare", "--pid", "--fork", "--mount-proc"])
    }

    /// Run the worker through `wrapper` (a program and its arguments), same environment.
    fn wrapped_in(self, wrapper: &[&str]) -> Self {
        let mut command = Command::new(wrapper[0]);
        command
            .args(&wrapper[1..])
            .arg(self.command.get_program())
            .args(self.command.get_args());
        for (k, v) in self.command.get_envs() {
            if let Some(v) = v {
                command.env(k, v);
            }
        }
        command.stdin(Stdio::piped()).stdout(Stdio::piped());
        WorkerBuilder { command }
    }

    fn spawn(mut self) -> Worker {
        use std::os::unix::process::CommandExt;
        // Own process group, so killing the worker also kills what faketime forked.
        let mut child =
            self.command.process_group(0).spawn().expect(
                "spawn worker (faketime tests need Debian's faketime package, unshare root)",
            );
        let out = BufReader::new(child.stdout.take().unwrap());
        Worker { child, out }
    }
}

#[test]
fn four_processes_racing_over_10_000_keys_each_key_has_one_winner() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let keys = 10_000;
    let mut workers: Vec<Worker> = (0..4)
        .map(|i| {
            Worker::start("race", &state, &format!("node{i}"), 30_000)
                .env("CLAIM_KEYS", keys.to_string())
                // Two pairs start at the same point, so they really fight over the same keys.
                .env("CLAIM_OFFSET", ((i % 2) * keys / 2).to_string())
                .env("CLAIM_OUT", dir.path().join(format!("won-{i}")))
                .spawn()
        })
        .collect();
    for worker in &mut workers {
        assert_eq!(worker.next(), "finished");
        assert!(worker.child.wait().unwrap().success());
    }
    let mut all: Vec<String> = Vec::new();
    for i in 0..4 {
        let won = std::fs::read_to_string(dir.path().join(format!("won-{i}"))).unwrap();
        assert!(
            won.lines().count() > 0,
            "worker {i} won nothing: no real race"
        );
        all.extend(won.lines().map(str::to_string));
    }
    let total = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), total, "some key was won twice");
    assert_eq!(total, keys, "some key was never won");
    let ledger = Ledger::open(&state, options("checker", 30_000)).unwrap();
    assert_eq!(ledger.status().unwrap().done, keys as u64);
}

fn wait_until_won(ledger: &Ledger, keys: &[&str], limit: Duration) -> Duration {
    let start = Instant::now();
    let mut pending: Vec<&str> = keys.to_vec();
    while !pending.is_empty() {
        assert!(start.elapsed() < limit, "not taken over within {limit:?}");
        pending.retain(|k| match ledger.claim(k).unwrap() {
            Claimed::Won(claim) => {
                assert!(claim.taken_from().is_some(), "{k} was not a takeover");
                claim.done().unwrap();
                false
            }
            _ => true,
        });
        std::thread::sleep(Duration::from_millis(20));
    }
    start.elapsed()
}

#[test]
fn a_killed_holder_on_another_host_loses_its_items_within_lease_plus_slack() {
    let dir = tempfile::tempdir().unwrap();
    let lease = 1000;
    let mut holder = Worker::start("hold", dir.path(), "node-a", lease)
        .env("CLAIM_KEYS", "a,b,c")
        .spawn();
    assert_eq!(holder.next(), "held");
    let thief = Ledger::open(dir.path(), options("node-b", lease)).unwrap();
    assert!(matches!(thief.claim("a").unwrap(), Claimed::Busy));
    holder.kill();
    let took = wait_until_won(&thief, &["a", "b", "c"], Duration::from_secs(10));
    assert!(took <= Duration::from_millis(lease + 2500), "took {took:?}");
}

#[test]
fn a_killed_holder_on_the_same_host_loses_its_items_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut holder = Worker::start("hold", dir.path(), "same", 600_000)
        .env("CLAIM_KEYS", "a,b")
        .spawn();
    assert_eq!(holder.next(), "held");
    let thief = Ledger::open(dir.path(), options("same", 600_000)).unwrap();
    assert!(matches!(thief.claim("a").unwrap(), Claimed::Busy));
    holder.kill();
    for key in ["a", "b"] {
        let claim = thief
            .claim(key)
            .unwrap()
            .won()
            .expect("dead pid: taken over at once");
        assert!(claim.taken_from().unwrap().contains("no longer running"));
    }
}

#[test]
fn a_paused_holder_whose_claim_was_taken_over_cannot_mark_it_done() {
    let dir = tempfile::tempdir().unwrap();
    let mut holder = Worker::start("hold-then-done", dir.path(), "node-a", 500).spawn();
    assert_eq!(holder.next(), "held");
    holder.signal("STOP");
    let thief = Ledger::open(dir.path(), options("node-b", 500)).unwrap();
    let start = Instant::now();
    let stolen = loop {
        if let Claimed::Won(claim) = thief.claim("x").unwrap() {
            break claim;
        }
        assert!(start.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(20));
    };
    holder.signal("CONT");
    writeln!(holder.child.stdin.as_mut().unwrap(), "go").unwrap();
    assert_eq!(holder.next(), "lost");
    assert!(!thief.is_done("x"), "the fenced holder published nothing");
    stolen.done().unwrap();
    assert!(thief.is_done("x"));
    holder.child.wait().unwrap();
}

/// A holder and a thief set up by `holder` and `thief` (a clock skew, a namespace), on hosts
/// `hosts`: over several leases the thief never wins the live claim (`on_held` may look at the
/// state first); once the holder is killed, the same thief does take it over.
fn nothing_is_stolen(
    hosts: [&str; 2],
    holder: impl Fn(WorkerBuilder) -> WorkerBuilder,
    thief: impl Fn(WorkerBuilder) -> WorkerBuilder,
    on_held: impl Fn(&std::path::Path),
) {
    let dir = tempfile::tempdir().unwrap();
    // Long enough that a loaded CI machine cannot delay a heartbeat by a whole lease.
    let lease = 1000;
    let mut holding =
        holder(Worker::start("hold", dir.path(), hosts[0], lease).env("CLAIM_KEYS", "x")).spawn();
    assert_eq!(holding.next(), "held");
    on_held(dir.path());
    let try_for = |seconds: &str| {
        thief(Worker::start("thief", dir.path(), hosts[1], lease).env("CLAIM_SECONDS", seconds))
            .spawn()
    };
    let mut trying = try_for("3.5");
    assert_eq!(trying.next(), "trying");
    assert_eq!(trying.next(), "never", "a live claim was stolen");
    // Control: once the holder dies, the same thief does take it over.
    holding.kill();
    let mut trying = try_for("8");
    assert_eq!(trying.next(), "trying");
    assert_eq!(trying.next(), "stole");
}

const HOSTS: [&str; 2] = ["holder", "thief"];

/// Debian's libfaketime (`/usr/lib/<arch>/faketime/libfaketime.so.1`), if installed.
fn libfaketime() -> Option<std::path::PathBuf> {
    let in_lib = |dir: std::path::PathBuf| dir.join("faketime/libfaketime.so.1");
    let arch_dirs = std::fs::read_dir("/usr/lib")
        .into_iter()
        .flatten()
        .flatten();
    std::iter::once(in_lib("/usr/lib".into()))
        .chain(arch_dirs.map(|entry| in_lib(entry.path())))
        .find(|path| path.is_file())
}

fn have_faketime() -> bool {
    let found = libfaketime().is_some();
    if !found {
        skip(
            "needs libfaketime",
            "Debian package faketime; .ci/run installs it",
        );
    }
    found
}

fn as_is(w: WorkerBuilder) -> WorkerBuilder {
    w
}

fn nothing_to_check(_: &std::path::Path) {}

/// The skew is real: the holder wrote its own (wrong) wall clock into the claim.
fn holder_clock_is_skewed(dir: &std::path::Path) {
    let bytes = std::fs::read(dir.join("claims/x")).unwrap();
    let started = claim_core::ClaimRecord::parse(&bytes)
        .unwrap()
        .started_unix_ms;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(now.abs_diff(started) > 3_600_000, "holder clock not skewed");
}

#[test]
fn a_thief_two_hours_ahead_does_not_steal_live_claims() {
    if !have_faketime() {
        return;
    }
    nothing_is_stolen(HOSTS, as_is, |w| w.under_faketime("+2h"), nothing_to_check);
}

#[test]
fn a_thief_two_hours_behind_does_not_steal_live_claims() {
    if !have_faketime() {
        return;
    }
    nothing_is_stolen(HOSTS, as_is, |w| w.under_faketime("-2h"), nothing_to_check);
}

/// The holder's clock is wrong instead: its records carry times two hours off, and the thief
/// must judge liveness by what it observes (heartbeat changes, server mtimes), not by them.
#[test]
fn a_holder_two_hours_behind_keeps_its_claim() {
    if !have_faketime() {
        return;
    }
    nothing_is_stolen(
        HOSTS,
        |w| w.under_faketime("-2h"),
        as_is,
        holder_clock_is_skewed,
    );
}

#[test]
fn a_holder_two_hours_ahead_keeps_its_claim() {
    if !have_faketime() {
        return;
    }
    nothing_is_stolen(
        HOSTS,
        |w| w.under_faketime("+2h"),
        as_is,
        holder_clock_is_skewed,
    );
}

/// Containers on one machine can share a host name (and the kernel's boot id) but not a pid
/// namespace: the holder's pid means nothing in the thief's, so "its pid is gone" must not
/// count as dead there; the heartbeat rules still apply.
#[test]
fn a_live_holder_in_another_pid_namespace_of_the_same_host_keeps_its_claim() {
    let root = Command::new("unshare")
        .args(["--pid", "--fork", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !root {
        return skip("needs `unshare --pid`", "root");
    }
    let same = ["same-name", "same-name"];
    nothing_is_stolen(same, |w| w.in_new_pid_namespace(), as_is, nothing_to_check);
}
