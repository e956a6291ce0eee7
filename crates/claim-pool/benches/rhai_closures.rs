//! `cargo bench -p claim-pool --bench rhai_closures`: the pool driving Rhai closures, as
//! `par_map` does in scripts — per-element overhead of `Pool::map` against a plain rayon
//! `par_iter` calling the same closure, and the speedup of CPU-bound closures on all cores
//! against one. Medians of 9 runs, baseline and subject alternating in the same process.

use claim_pool::Pool;
use rayon::prelude::*;
use rhai::{Dynamic, Engine, FnPtr};
use std::hint::black_box;
use std::time::Instant;

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

const SCRIPT: &str = r#"
fn spin(n) { let a = 1; for i in 0..n { a = (a * 31 + i) % 1000003; } a }
[|x| x * 2, |n| spin(n)]
"#;

fn main() {
    let engine = Engine::new();
    let ast = engine.compile(SCRIPT).unwrap();
    let closures: rhai::Array = engine.eval_ast(&ast).unwrap();
    let tiny_fn: FnPtr = closures[0].clone().cast();
    let heavy_fn: FnPtr = closures[1].clone().cast();
    let call = |f: &FnPtr, x: &Dynamic| f.call::<Dynamic>(&engine, &ast, (x.clone(),));

    let pool = Pool::new(0);
    let rayon_pool = rayon::ThreadPoolBuilder::new()
        .num_threads(pool.threads())
        .build()
        .unwrap();
    let tiny: Vec<Dynamic> = (0..200_000i64).map(Dynamic::from).collect();
    let (mut ours, mut base) = (Vec::new(), Vec::new());
    for _ in 0..9 {
        let t = Instant::now();
        black_box(rayon_pool.install(|| {
            tiny.par_iter()
                .map(|x| call(&tiny_fn, x).unwrap())
                .collect::<Vec<_>>()
        }));
        base.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        black_box(pool.map(&tiny, |_, x| call(&tiny_fn, x)).unwrap());
        ours.push(t.elapsed().as_secs_f64());
    }
    let (ours, base) = (median(ours), median(base));
    println!(
        "tiny Rhai closures: map {:.0} ns/element, rayon par_iter {:.0} ns/element, ratio {:.2}x (goal <= 1.2)",
        ours * 1e9 / tiny.len() as f64,
        base * 1e9 / tiny.len() as f64,
        ours / base
    );
    let heavy: Vec<Dynamic> = (0..64).map(|_| Dynamic::from(20_000i64)).collect();
    let serial = Pool::new(1);
    let (mut one, mut all, mut plain) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..9 {
        let t = Instant::now();
        black_box(serial.map(&heavy, |_, x| call(&heavy_fn, x)).unwrap());
        one.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        black_box(pool.map(&heavy, |_, x| call(&heavy_fn, x)).unwrap());
        all.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        black_box(rayon_pool.install(|| {
            heavy
                .par_iter()
                .map(|x| call(&heavy_fn, x).unwrap())
                .collect::<Vec<_>>()
        }));
        plain.push(t.elapsed().as_secs_f64());
    }
    let one = median(one);
    println!(
        "CPU-bound Rhai closures on {} workers: speedup {:.2}x over 1 worker (goal >= 1.85 on 2 cores; rayon par_iter {:.2}x)",
        pool.threads(),
        one / median(all),
        one / median(plain)
    );
}
