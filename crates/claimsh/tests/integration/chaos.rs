//! Without SLURM: several claimsh processes with different CLAIMSH_HOST values, some killed with
//! SIGKILL at random moments, over many rounds. Every item ends done exactly once as published,
//! outputs are never torn or empty, and the survivors finish what the dead held.

use crate::util;

use std::process::Child;
use std::time::{Duration, Instant};

const SCRIPT: &str = r#"
let items = [];
for i in 0..80 { items.push(`item-${i}`); }
for k in claimed(items) {
    sleep(0.01);
    write_text(`out/${k}`, `${k} by ${host()}`);
    done(k);
}
"#;

fn start(dir: &std::path::Path, host: &str) -> Child {
    util::claimsh()
        .current_dir(dir)
        .env("CLAIMSH_HOST", host)
        .args(["job.rhai", "-j", "2", "-q", "--lease", "1"])
        .spawn()
        .unwrap()
}

/// A small deterministic generator for kill times.
fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

#[test]
fn random_sigkills_over_many_rounds_lose_nothing() {
    let mut seed = 0x9E3779B97F4A7C15u64;
    for round in 0..6 {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("job.rhai"), SCRIPT).unwrap();
        let mut workers: Vec<Child> = (0..4)
            .map(|i| start(dir.path(), &format!("r{round}n{i}")))
            .collect();
        // Kill two of the four at random moments in the first ~0.4 s.
        for victim in workers.iter_mut().take(2) {
            std::thread::sleep(Duration::from_millis(next(&mut seed) % 200));
            victim.kill().unwrap();
            victim.wait().unwrap();
        }
        let start_wait = Instant::now();
        for w in workers.iter_mut().skip(2) {
            assert!(
                w.wait().unwrap().success(),
                "round {round}: a survivor failed"
            );
        }
        assert!(
            start_wait.elapsed() < Duration::from_secs(30),
            "round {round}: recovery too slow"
        );
        let s = util::status(dir.path(), None, &["job.rhai"]);
        assert_eq!(
            (
                s["done"].as_u64(),
                s["running"].as_u64(),
                s["stale"].as_u64(),
                s["failed"].as_u64()
            ),
            (Some(80), Some(0), Some(0), Some(0)),
            "round {round}: {s}"
        );
        for i in 0..80 {
            let body = std::fs::read_to_string(dir.path().join(format!("out/item-{i}"))).unwrap();
            assert!(
                body.starts_with(&format!("item-{i} by r{round}n")),
                "round {round}: torn output {body:?}"
            );
        }
    }
}
