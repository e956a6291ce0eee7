//! `cargo bench -p claim-pool`: per-task overhead of `Pool::map` against a plain rayon
//! `par_iter` on tiny tasks, and the speedup of CPU-bound tasks on all cores against one.
//! Medians of 11 runs, baseline and subject alternating in the same process.

use claim_pool::Pool;
use rayon::prelude::*;
use std::hint::black_box;
use std::time::Instant;

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn spin(x: u64, rounds: u64) -> u64 {
    (0..rounds).fold(x, |a, i| {
        a.wrapping_mul(6364136223846793005).wrapping_add(i) ^ (a >> 7)
    })
}

fn main() {
    let pool = Pool::new(0);
    let rayon_pool = rayon::ThreadPoolBuilder::new()
        .num_threads(pool.threads())
        .build()
        .unwrap();
    let tiny: Vec<u64> = (0..1_000_000).collect();
    let (mut ours, mut base) = (Vec::new(), Vec::new());
    for _ in 0..11 {
        let t = Instant::now();
        black_box(rayon_pool.install(|| tiny.par_iter().map(|&x| spin(x, 20)).collect::<Vec<_>>()));
        base.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        black_box(
            pool.map(&tiny, |_, &x| Ok::<_, String>(spin(x, 20)))
                .unwrap(),
        );
        ours.push(t.elapsed().as_secs_f64());
    }
    let (ours, base) = (median(ours), median(base));
    println!(
        "tiny tasks: map {:.1} ns/task, rayon par_iter {:.1} ns/task, ratio {:.2}x (goal <= 1.2)",
        ours * 1e9 / tiny.len() as f64,
        base * 1e9 / tiny.len() as f64,
        ours / base
    );
    let heavy: Vec<u64> = (0..400).collect();
    let serial = Pool::new(1);
    let (mut one, mut all) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        let t = Instant::now();
        black_box(
            serial
                .map(&heavy, |_, &x| Ok::<_, String>(spin(x, 200_000)))
                .unwrap(),
        );
        one.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        black_box(
            pool.map(&heavy, |_, &x| Ok::<_, String>(spin(x, 200_000)))
                .unwrap(),
        );
        all.push(t.elapsed().as_secs_f64());
    }
    println!(
        "CPU-bound tasks on {} workers: speedup {:.2}x over 1 worker (goal >= 1.85 on 2 cores)",
        pool.threads(),
        median(one) / median(all)
    );
}
