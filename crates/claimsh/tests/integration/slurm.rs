//! Against a real SLURM cluster (scripts/slurm-local/start.sh; SLURM_CONF set). Ignored in a plain
//! `cargo test`; `.ci/run` starts the cluster and runs them with `--include-ignored`.

use crate::util;
use std::path::{Path, PathBuf};

use crate::util::{claimsh, workspace};
use std::process::Command;
use std::time::{Duration, Instant};

fn sh(cmd: &str) -> String {
    let out = Command::new("sh").args(["-c", cmd]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn submit(script: &Path, tasks: u32) -> String {
    assert!(
        std::env::var("SLURM_CONF").is_ok(),
        "start scripts/slurm-local/start.sh and export SLURM_CONF"
    );
    let out = claimsh()
        .args(["slurm"])
        .arg(script)
        .args(["--tasks", &tasks.to_string(), "--submit"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The job id from `sbatch`'s "Submitted batch job N" line (inherited stdout of sbatch).
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .rev()
        .find_map(|l| l.strip_prefix("Submitted batch job "))
        .map(str::to_string)
        .unwrap_or_default()
}

fn wait_for_jobs(job: &str, limit: Duration) {
    let start = Instant::now();
    while !sh(&format!("squeue -h -j {job} 2>/dev/null"))
        .trim()
        .is_empty()
    {
        assert!(
            start.elapsed() < limit,
            "job {job} still running after {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn status(state: &Path) -> serde_json::Value {
    util::status(Path::new("."), None, &["--state", state.to_str().unwrap()])
}

/// `(host, items)` of every done record: items done one by one (`done/`) and finished blocks of
/// lists (`finished/`, ledger format 2).
fn done_records(state: &Path) -> Vec<(String, u64)> {
    let mut records = Vec::new();
    for dir in ["done", "finished"] {
        let Ok(entries) = std::fs::read_dir(state.join(dir)) else {
            continue;
        };
        for entry in entries {
            let Ok(text) = std::fs::read_to_string(entry.unwrap().path()) else {
                continue;
            };
            let Ok(v) = serde_json::from_str::<serde_json::Value>(text.trim()) else {
                continue;
            };
            let items = match dir {
                "done" => 1,
                _ => v["block"]["done"].as_array().map_or(0, |d| d.len() as u64),
            };
            records.push((v["host"].as_str().unwrap_or("").to_string(), items));
        }
    }
    records
}

fn done_hosts(state: &Path) -> std::collections::BTreeSet<String> {
    done_records(state)
        .into_iter()
        .filter(|(_, items)| *items > 0)
        .map(|(host, _)| host)
        .collect()
}

fn done_count(state: &Path) -> u64 {
    done_records(state).iter().map(|(_, items)| items).sum()
}

/// The bundled images' stems.
fn bundled_images() -> Vec<String> {
    let mut stems: Vec<String> = std::fs::read_dir(workspace().join("datasets/nuclei"))
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            name.strip_suffix(".tif").map(str::to_string)
        })
        .collect();
    stems.sort();
    stems
}

/// A copy of the example beside a link to the data, in a fresh directory.
fn example_copy(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir.join("examples")).unwrap();
    std::fs::copy(
        workspace().join("examples/segment-nuclei.rhai"),
        dir.join("examples/segment-nuclei.rhai"),
    )
    .unwrap();
    std::os::unix::fs::symlink(workspace().join("datasets"), dir.join("datasets")).unwrap();
    dir.join("examples/segment-nuclei.rhai")
}

#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-local/start.sh)"]
fn a_four_task_array_segments_every_image_once_across_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let script = example_copy(dir.path());
    let t0 = Instant::now();
    let job = submit(&script, 4);
    wait_for_jobs(&job, Duration::from_secs(300));
    eprintln!("4-task array wall time: {:.2}s", t0.elapsed().as_secs_f64());
    let state = dir.path().join("examples/.claimsh/segment-nuclei");
    let images = bundled_images();
    let s = status(&state);
    assert_eq!(
        (
            s["done"].as_u64(),
            s["failed"].as_u64(),
            s["running"].as_u64()
        ),
        (Some(images.len() as u64), Some(0), Some(0)),
        "{s}: every image"
    );
    assert_eq!(
        s["once"]["done"].as_u64(),
        Some(1),
        "the summary, once: {s}"
    );
    let hosts = done_hosts(&state);
    assert!(hosts.len() >= 3, "work spread over {hosts:?}");
    let results = dir.path().join("results/nuclei");
    for stem in &images {
        let csv = std::fs::read_to_string(results.join(format!("{stem}.csv"))).unwrap();
        assert!(csv.lines().count() > 10, "{stem}.csv looks incomplete");
    }
    assert_eq!(
        std::fs::read_to_string(results.join("summary.csv"))
            .unwrap()
            .lines()
            .count(),
        images.len() + 1
    );
    let logs = String::from_utf8_lossy(
        &claimsh()
            .arg("logs")
            .arg("--state")
            .arg(&state)
            .output()
            .unwrap()
            .stdout,
    )
    .into_owned();
    for host in &hosts {
        assert!(
            logs.contains(&format!("host {host}")),
            "no log from {host}: {logs}"
        );
    }
}

/// Items take ~0.3 s; each writes `out/<item>` (atomically) and appends to `rec/<host>-<pid>`.
const SLOW: &str = r#"
let items = [];
for i in 0..60 { items.push(`item-${i}`); }
for k in claimed(items) {
    sleep(0.3);
    write_text(`out/${k}`, `${k} by ${host()}`);
    let rec = `rec/${host()}-${worker_id()}-${k}`;
    write_text(rec, k);
    done(k);
}
"#;

#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-local/start.sh)"]
fn chaos_scancel_and_kill_9_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("slow.rhai");
    std::fs::write(&script, SLOW).unwrap();
    // Short lease so recovery is quick; the generated sbatch passes extra options through.
    let sbatch = claimsh()
        .arg("slurm")
        .arg(&script)
        .args(["--tasks", "4"])
        .output()
        .unwrap();
    assert!(sbatch.status.success());
    let file = script.with_extension("sbatch");
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("--no-progress", "--no-progress --lease 3");
    std::fs::write(&file, text).unwrap();
    let out = Command::new("sbatch").arg(&file).output().unwrap();
    let job = String::from_utf8_lossy(&out.stdout)
        .trim()
        .rsplit(' ')
        .next()
        .unwrap()
        .to_string();
    let state = dir.path().join(".claimsh/slow");
    let start = Instant::now();
    while done_count(&state) < 4 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "array never started"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Command::new("scancel")
        .arg(format!("{job}_1"))
        .status()
        .unwrap();
    let victim = sh(&format!(
        "grep -l 'SLURM_ARRAY_TASK_ID=2' /proc/[0-9]*/environ 2>/dev/null | xargs -r -n1 dirname | xargs -r -n1 basename | while read p; do grep -q claimsh /proc/$p/comm 2>/dev/null && grep -qz {job} /proc/$p/environ && echo $p; done | head -1"
    ));
    let killed_at = Instant::now();
    assert!(
        !victim.trim().is_empty(),
        "the claimsh of array task 2 was not found"
    );
    Command::new("kill")
        .args(["-9", victim.trim()])
        .status()
        .unwrap();
    wait_for_jobs(&job, Duration::from_secs(300));
    let s = status(&state);
    assert_eq!(
        (
            s["done"].as_u64(),
            s["running"].as_u64(),
            s["stale"].as_u64()
        ),
        (Some(60), Some(0), Some(0)),
        "{s}"
    );
    for i in 0..60 {
        let body = std::fs::read_to_string(dir.path().join(format!("out/item-{i}"))).unwrap();
        assert!(
            body.starts_with(&format!("item-{i} by n")),
            "torn or empty output: {body:?}"
        );
    }
    let recs: Vec<String> = std::fs::read_dir(dir.path().join("rec"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let mut items: Vec<&str> = recs
        .iter()
        .map(|r| &r[r.find("item-").unwrap()..])
        .collect();
    let total = items.len();
    items.sort();
    items.dedup();
    assert_eq!(items.len(), 60);
    assert!(
        total - 60 <= 16,
        "{} items redone: more than the killed tasks could hold",
        total - 60
    );
    eprintln!(
        "recovered and finished {:.1}s after the kill ({} redone)",
        killed_at.elapsed().as_secs_f64(),
        total - 60
    );
}

#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-local/start.sh)"]
fn a_task_submitted_later_joins_and_takes_a_share() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("slow.rhai");
    std::fs::write(&script, SLOW).unwrap();
    let first = submit(&script, 2);
    let state = dir.path().join(".claimsh/slow");
    let start = Instant::now();
    while done_count(&state) < 2 {
        assert!(start.elapsed() < Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(100));
    }
    let before = done_hosts(&state);
    let late = submit(&script, 1);
    wait_for_jobs(&first, Duration::from_secs(300));
    wait_for_jobs(&late, Duration::from_secs(300));
    let s = status(&state);
    assert_eq!(s["done"].as_u64(), Some(60), "{s}");
    let after = done_hosts(&state);
    assert!(
        after.len() > before.len() || after.len() >= 3,
        "late task took nothing: before {before:?}, after {after:?}"
    );
}
