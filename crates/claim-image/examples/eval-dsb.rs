//! Tuning aid: the main example's segmentation (`examples/segment-nuclei.rhai`) with each of its
//! constants settable as `key=value`, scored on a folder of images with a `truth/` folder of
//! label images beside them: mean per-image F1 at IoU 0.5, pooled F1, and the unmatched objects
//! by kind. This is how the example's defaults were chosen (`scripts/eval-nuclei.sh` scores the
//! example itself).
//!
//! `cargo run -p claim-image --example eval-dsb -- DIR [key=value ...] [verbose=1] [dump=DIR]`
//!
//! Keys (defaults = the example's): `sigma` 1 (blur), `window_k` 2 (local window radius / r),
//! `offset` 0.1, `floor_k` 0.5 (floor from min to Otsu), `small_k` 0.25 (smallest object /
//! π r²), `md_k` 0.3 and `h_k` 0.03 (watershed min_distance and h / r), `ws_sigma` 1;
//! `pipe=plain` scores the plain pipeline instead (Otsu, fill holes, remove_small(30),
//! watershed with defaults).

use claim_image::{
    Image, Labels, MatchCounts, WatershedOptions, load_image, match_labels, otsu, save_overlay,
    typical_radius, watershed,
};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

struct Params(HashMap<String, String>);

impl Params {
    fn num(&self, key: &str, default: f64) -> f64 {
        self.0.get(key).map_or(default, |v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{key}={v}: not a number"))
        })
    }
}

fn segment(raw: &Image, p: &Params) -> Labels {
    let smooth = raw.gaussian(p.num("sigma", 1.0)).unwrap();
    let t = otsu(&smooth);
    if p.0.get("pipe").is_some_and(|v| v == "plain") {
        let mask = smooth.threshold(t).fill_holes().remove_small(30);
        return watershed(&mask, &WatershedOptions::default());
    }
    let r = typical_radius(&smooth.threshold(t).fill_holes().remove_small(10)).max(1.0);
    let lo = smooth
        .pixels()
        .iter()
        .copied()
        .fold(f32::INFINITY, f32::min) as f64;
    let floor = lo + p.num("floor_k", 0.5) * (t - lo);
    let window = (p.num("window_k", 2.0) * r).round() as u32;
    let small = p.num("small_k", 0.25) * std::f64::consts::PI * r * r;
    let mask = smooth
        .threshold_local(window, p.num("offset", 0.1), floor)
        .unwrap()
        .fill_holes()
        .remove_small(small as usize);
    let options = WatershedOptions {
        sigma: p.num("ws_sigma", 1.0),
        min_distance: p.num("md_k", 0.3) * r,
        h: p.num("h_k", 0.03) * r,
    };
    watershed(&mask, &options)
}

/// Counts per kind of error: unmatched truths [missed (less than half covered by any
/// prediction), merged (their best prediction also covers another truth by 30%), other], then
/// unmatched predictions [spurious (mostly outside every truth), fragment (mostly inside one)].
fn kinds(pred: &Labels, truth: &Labels) -> [usize; 5] {
    let mut area: [HashMap<u32, u64>; 2] = Default::default();
    let mut both: HashMap<(u32, u32), u64> = HashMap::new();
    for (&p, &t) in pred.pixels().iter().zip(truth.pixels()) {
        *area[0].entry(p).or_default() += 1;
        *area[1].entry(t).or_default() += 1;
        *both.entry((p, t)).or_default() += 1;
    }
    let best = |side: usize, id: u32| {
        both.iter()
            .filter(|(k, _)| [k.0, k.1][side] == id && [k.1, k.0][side] > 0)
            .max_by_key(|(_, v)| **v)
            .map(|(k, &v)| ([k.1, k.0][side], v))
    };
    let iou = |p: u32, t: u32, i: u64| i as f64 / (area[0][&p] + area[1][&t] - i) as f64;
    let mut out = [0; 5];
    for (&t, &a) in area[1].iter().filter(|(t, _)| **t > 0) {
        match best(1, t) {
            None => out[0] += 1,
            Some((p, i)) if iou(p, t, i) <= 0.5 => {
                let other = both.iter().any(|(&(pp, tt), &v)| {
                    pp == p && tt != t && tt > 0 && v as f64 > 0.3 * area[1][&tt] as f64
                });
                out[if (i as f64) < 0.5 * a as f64 {
                    0
                } else if other {
                    1
                } else {
                    2
                }] += 1;
            }
            _ => {}
        }
    }
    for (&p, &a) in area[0].iter().filter(|(p, _)| **p > 0) {
        match best(0, p) {
            None => out[3] += 1,
            Some((t, i)) if iou(p, t, i) <= 0.5 => {
                out[if (i as f64) < 0.5 * a as f64 { 3 } else { 4 }] += 1
            }
            _ => {}
        }
    }
    out
}

fn truth_of(dir: &Path, stem: &str) -> Labels {
    let tif = dir.join("truth").join(format!("{stem}.tif"));
    let path = if tif.exists() {
        tif
    } else {
        dir.join("truth").join(format!("{stem}_labels.png"))
    };
    Labels::from_image(&load_image(&path).unwrap()).unwrap()
}

fn score(path: &Path, dir: &Path, p: &Params) -> (String, MatchCounts, [usize; 5]) {
    let raw = load_image(path).unwrap();
    let stem = path.file_stem().unwrap().to_string_lossy().to_string();
    let truth = truth_of(dir, &stem);
    let pred = segment(&raw, p);
    if let Some(d) = p.0.get("dump") {
        let d = Path::new(d);
        save_overlay(&raw, &pred, &d.join(format!("{stem}_pred.png"))).unwrap();
        save_overlay(&raw, &truth, &d.join(format!("{stem}_truth.png"))).unwrap();
    }
    let m = match_labels(&pred, &truth, 0.5).unwrap();
    (stem, m, kinds(&pred, &truth))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = PathBuf::from(args.first().expect("usage: eval-dsb DIR [key=value ...]"));
    let p = Params(
        args[1..]
            .iter()
            .map(|a| {
                let (k, v) = a.split_once('=').expect("arguments are key=value");
                (k.to_string(), v.to_string())
            })
            .collect(),
    );
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "png" || e == "tif"))
        .collect();
    paths.sort();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                while let Some(path) =
                    paths.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
                {
                    let r = score(path, &dir, &p);
                    results.lock().unwrap().push(r);
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by(|a, b| a.0.cmp(&b.0));
    report(&results, &p, &args[1..]);
}

fn report(results: &[(String, MatchCounts, [usize; 5])], p: &Params, args: &[String]) {
    let (mut sum, mut tp, mut fp, mut fn_, mut all) = (0.0, 0, 0, 0, [0; 5]);
    for (name, m, k) in results {
        sum += m.f1();
        (tp, fp, fn_) = (tp + m.tp, fp + m.fp, fn_ + m.fn_);
        (0..5).for_each(|j| all[j] += k[j]);
        if p.0.contains_key("verbose") {
            println!(
                "{name} f1 {:.3} tp {} fp {} fn {} kinds {k:?}",
                m.f1(),
                m.tp,
                m.fp,
                m.fn_
            );
        }
    }
    println!(
        "mean F1 {:.4}  pooled {:.4}  tp {tp} fp {fp} fn {fn_}  missed/merged/other {:?} \
         spurious/fragment {:?}  {args:?}",
        sum / results.len() as f64,
        2.0 * tp as f64 / (2 * tp + fp + fn_) as f64,
        &all[..3],
        &all[3..]
    );
}
