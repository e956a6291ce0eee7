//! Where the time goes per image: each stage of the main example's pipeline
//! (`examples/segment-nuclei.rhai`) timed on its own, one thread, medians over the images.
//!
//! `cargo run --release -p claim-image --example stage-times -- DIR_OF_TIFS [LIMIT]`

use claim_image::{
    WatershedOptions, load_image, measure, otsu, save_labels, save_overlay, typical_radius,
    watershed,
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
        "otsu",
        "radius",
        "local",
        "fill_holes",
        "remove_small",
        "watershed",
        "measure",
        "overlay",
        "labels",
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
        let th = otsu(&smooth);
        lap(2, &mut t);
        let r = typical_radius(&smooth.threshold(th).fill_holes().remove_small(10)).max(1.0);
        lap(3, &mut t);
        let lo = smooth
            .pixels()
            .iter()
            .copied()
            .fold(f32::INFINITY, f32::min) as f64;
        let mask = smooth
            .threshold_local((2.0 * r).round() as u32, 0.1, lo + 0.5 * (th - lo))
            .unwrap();
        lap(4, &mut t);
        let mask = mask.fill_holes();
        lap(5, &mut t);
        let mask = mask.remove_small((0.25 * std::f64::consts::PI * r * r) as usize);
        lap(6, &mut t);
        let options = WatershedOptions {
            sigma: 1.0,
            min_distance: 0.3 * r,
            h: 0.03 * r,
        };
        let labels = watershed(&mask, &options);
        lap(7, &mut t);
        let rows = measure(&labels, &raw).unwrap();
        std::hint::black_box(rows);
        lap(8, &mut t);
        // Each image's own outputs, as a run writes them (and as scikit-image's side does).
        let stem = path.file_stem().unwrap().to_string_lossy();
        save_overlay(
            &raw,
            &labels,
            &out.path().join(format!("{stem}_overlay.png")),
        )
        .unwrap();
        lap(9, &mut t);
        save_labels(&labels, &out.path().join(format!("{stem}_labels.tif"))).unwrap();
        lap(10, &mut t);
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
