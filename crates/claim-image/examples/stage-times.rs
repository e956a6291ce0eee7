//! Where the time goes per image: each stage of the main example's pipeline timed on its own,
//! one thread, medians over the images.
//!
//! `cargo run --release -p claim-image --example stage-times -- DIR_OF_TIFS [LIMIT]`

use claim_image::{
    WatershedOptions, li, load_image, measure, save_overlay, watershed_by_intensity,
};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = args.get(1).expect("usage: stage-times DIR [LIMIT]");
    let limit: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100);
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "tif"))
        .collect();
    paths.sort();
    paths.truncate(limit);
    let out = tempfile::tempdir().unwrap();
    let names = [
        "load",
        "gaussian",
        "li",
        "threshold",
        "open",
        "fill_holes",
        "remove_small",
        "watershed",
        "measure",
        "overlay",
    ];
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    for path in &paths {
        let mut t = Instant::now();
        let mut lap = |k: usize, t: &mut Instant| {
            times[k].push(t.elapsed().as_secs_f64() * 1e3);
            *t = Instant::now();
        };
        let raw = load_image(path).unwrap();
        lap(0, &mut t);
        let smooth = raw.gaussian(1.0).unwrap();
        lap(1, &mut t);
        let th = li(&smooth);
        lap(2, &mut t);
        let mask = smooth.threshold(th);
        lap(3, &mut t);
        let mask = mask.open(1).unwrap();
        lap(4, &mut t);
        let mask = mask.fill_holes();
        lap(5, &mut t);
        let mask = mask.remove_small(30);
        lap(6, &mut t);
        let labels =
            watershed_by_intensity(&mask, &smooth, &WatershedOptions::by_intensity()).unwrap();
        lap(7, &mut t);
        let rows = measure(&labels, &raw).unwrap();
        std::hint::black_box(rows);
        lap(8, &mut t);
        save_overlay(&raw, &labels, &out.path().join("o.png")).unwrap();
        lap(9, &mut t);
    }
    let mut total = 0.0;
    for (name, mut xs) in names.iter().zip(times) {
        xs.sort_by(f64::total_cmp);
        let median = xs[xs.len() / 2];
        total += median;
        println!("{name:>13} {median:7.2} ms");
    }
    println!("{:>13} {total:7.2} ms", "total");
}
