//! `cargo bench -p claim-core`: claim+done per item against the raw syscall floor, block claims,
//! 1 vs 2 workers, and 1k vs 100k keys. Every number is a median of 5 runs, printed with ratios
//! against a baseline measured in the same run on the same disk.

use claim_core::{Claimed, Ledger, LedgerOptions};
use std::io::Write;
use std::time::Instant;

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    xs[xs.len() / 2]
}

/// A fresh directory on the project's disk (not tmpfs), where a state directory would live.
/// Directories are kept until the end: deleting 100k files makes ext4's next creates slow
/// (`recently_deleted` inode scans), which would bias whichever run comes next.
fn scratch() -> std::path::PathBuf {
    static ROOT: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let root = ROOT.get_or_init(|| tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap());
    let dir = root.path().join(
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            .to_string(),
    );
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// create-excl + write + rename on plain files: the floor any claim file scheme pays.
fn raw_floor(n: usize) -> f64 {
    let dir = scratch();
    let (a, b) = (dir.join("a"), dir.join("b"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    let start = Instant::now();
    for i in 0..n {
        let name = format!("key-{i}");
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(a.join(&name))
            .unwrap();
        f.write_all(b"{\"token\":\"0123456789abcdef\",\"host\":\"h\",\"pid\":1}\n")
            .unwrap();
        drop(f);
        std::fs::rename(a.join(&name), b.join(&name)).unwrap();
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn ledger(dir: &std::path::Path) -> Ledger {
    Ledger::open(
        dir,
        LedgerOptions {
            host: "bench".into(),
            ..Default::default()
        },
    )
    .unwrap()
}

fn per_item(n: usize) -> f64 {
    let dir = scratch();
    let ledger = ledger(&dir);
    let start = Instant::now();
    for i in 0..n {
        if let Claimed::Won(c) = ledger.claim(&format!("key-{i}")).unwrap() {
            c.done().unwrap();
        }
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn blocks(n: u64) -> f64 {
    let dir = scratch();
    let ledger = ledger(&dir);
    let start = Instant::now();
    let keys: Vec<String> = (0..n).map(|i| format!("key-{i}")).collect();
    let mut walker = ledger.walk(keys).unwrap();
    let mut count = 0;
    while let Some(mut block) = walker.next_block().unwrap() {
        count += block.items().len();
        for i in block.items().to_vec() {
            block.done_item(i);
        }
        walker.complete(block).unwrap();
    }
    assert_eq!(count as u64, n);
    n as f64 / start.elapsed().as_secs_f64()
}

fn two_workers(n: usize, workers: usize) -> f64 {
    let dir = scratch();
    let ledger = ledger(&dir);
    let start = Instant::now();
    std::thread::scope(|s| {
        for w in 0..workers {
            let ledger = ledger.for_worker(w as u32);
            s.spawn(move || {
                for i in 0..n {
                    let key = format!("key-{}", (i + w * n / workers) % n);
                    if let Claimed::Won(c) = ledger.claim(&key).unwrap() {
                        c.done().unwrap();
                    }
                }
            });
        }
    });
    n as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let runs = 5;
    // Baseline and subject alternate, so drift on a noisy machine hits both.
    let (mut floors, mut singles) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        floors.push(raw_floor(5000));
        singles.push(per_item(5000));
    }
    let (floor, single) = (median(floors), median(singles));
    let block = median((0..runs).map(|_| blocks(100_000)).collect());
    println!("raw floor (create-excl+write+rename): {floor:>10.0} items/s");
    println!(
        "claim+done per item:                   {single:>10.0} items/s  ratio {:.2}x floor (goal >= 0.5)",
        single / floor
    );
    println!(
        "block claims, no-op items:             {block:>10.0} items/s  ratio {:.1}x floor (goal >= 10)",
        block / floor
    );
    let one = median((0..3).map(|_| two_workers(20_000, 1)).collect());
    let two = median((0..3).map(|_| two_workers(20_000, 2)).collect());
    println!("20 000 keys, 1 worker:                 {one:>10.0} items/s");
    println!(
        "20 000 keys, 2 workers:                {two:>10.0} items/s  ratio {:.2}x",
        two / one
    );
    let small = median((0..runs).map(|_| per_item(1_000)).collect());
    let large = median((0..3).map(|_| per_item(100_000)).collect());
    println!("per-item cost at 1k keys:  {:>8.1} us", 1e6 / small);
    println!(
        "per-item cost at 100k keys:{:>8.1} us  ratio {:.2}x (goal <= 1.5)",
        1e6 / large,
        small / large
    );
    let _ = std::fs::remove_dir_all(scratch().parent().unwrap());
}
