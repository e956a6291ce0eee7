//! Tuning aid: mean per-image F1 (IoU 0.5) of a parameterised pipeline over a folder of images
//! with a `truth/` folder of label TIFFs beside them.
//!
//! `cargo run -p claim-image --example eval-dsb -- DIR [key=value ...]`

use claim_image::{
    Image, Labels, Mask, WatershedOptions, li, load_image, match_labels, otsu, typical_radius,
    watershed, watershed_by_intensity,
};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

struct P(HashMap<String, String>);
impl P {
    fn f(&self, k: &str, d: f64) -> f64 {
        self.0.get(k).map(|v| v.parse().unwrap()).unwrap_or(d)
    }
    fn s<'a>(&'a self, k: &str, d: &'a str) -> &'a str {
        self.0.get(k).map(|s| s.as_str()).unwrap_or(d)
    }
}

fn segment(raw: &Image, p: &P) -> Labels {
    let smooth = raw.gaussian(p.f("sigma", 1.0)).unwrap();
    match p.s("pipe", "adaptive") {
        "main" => {
            let mask = smooth
                .threshold(li(&smooth))
                .open(1)
                .unwrap()
                .fill_holes()
                .remove_small(30);
            watershed_by_intensity(&mask, &smooth, &WatershedOptions::by_intensity()).unwrap()
        }
        "otsu" => {
            let mask = smooth
                .threshold(otsu(&smooth))
                .fill_holes()
                .remove_small(30);
            watershed(&mask, &WatershedOptions::default())
        }
        _ => adaptive(&smooth, p),
    }
}

fn adaptive(smooth: &Image, p: &P) -> Labels {
    let t = match p.s("th", "otsu") {
        "li" => li(smooth),
        "mix" => (li(smooth) + otsu(smooth)) / 2.0,
        _ => otsu(smooth),
    };
    let (lo, _) = min_max(smooth);
    let t = lo + (t - lo) * p.f("tk", 1.0);
    let mask = smooth.threshold(t).fill_holes();
    let r = typical_radius(&mask.remove_small(p.f("pre_small", 10.0) as usize)).max(1.0);
    let open = (p.f("open_k", 0.0) * r).round() as i64;
    let mask: Mask = if open > 0 {
        mask.open(open).unwrap()
    } else {
        mask
    };
    let small = (p.f("small_k", 0.1) * std::f64::consts::PI * r * r).max(p.f("small_min", 5.0));
    let mask = mask.remove_small(small as usize);
    let options = WatershedOptions {
        sigma: p.f("ws_sigma_k", 0.0) * r + p.f("ws_sigma", 1.0),
        min_distance: (p.f("md_k", 0.3) * r).max(p.f("md_min", 1.0)),
        h: p.f("h_k", 0.1) * r + p.f("h", 0.0),
    };
    if p.s("ws", "shape") == "intensity" {
        watershed_by_intensity(&mask, smooth, &options).unwrap()
    } else {
        watershed(&mask, &options)
    }
}

fn min_max(img: &Image) -> (f64, f64) {
    let lo = img.data.iter().copied().fold(f32::INFINITY, f32::min);
    let hi = img.data.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    (lo as f64, hi as f64)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = PathBuf::from(&args[1]);
    let p = P(args[2..]
        .iter()
        .map(|a| {
            let (k, v) = a.split_once('=').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect());
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "png" || e == "tif"))
        .collect();
    paths.sort();
    let results = std::sync::Mutex::new(Vec::new());
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(path) = paths.get(k) else { break };
                    let r = score(path, &dir, &p);
                    results.lock().unwrap().push(r);
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by(|a, b| a.0.cmp(&b.0));
    let verbose = p.s("verbose", "0") == "1";
    let (mut sum, mut tp, mut fp, mut fn_) = (0.0, 0, 0, 0);
    let mut kinds = [0; 3];
    for (name, m, r, k) in &results {
        sum += m.f1();
        for j in 0..3 {
            kinds[j] += k[j];
        }
        (tp, fp, fn_) = (tp + m.tp, fp + m.fp, fn_ + m.fn_);
        if verbose {
            println!(
                "{name} f1 {:.3} tp {} fp {} fn {} r {:.1} miss/merge/other {k:?}",
                m.f1(),
                m.tp,
                m.fp,
                m.fn_,
                r
            );
        }
    }
    let pooled = 2.0 * tp as f64 / (2 * tp + fp + fn_) as f64;
    println!(
        "mean F1 {:.4}  pooled {:.4}  tp {tp} fp {fp} fn {fn_} miss/merge/other {kinds:?} {:?}",
        sum / results.len() as f64,
        pooled,
        &args[2..]
    );
}

fn score(path: &Path, dir: &Path, p: &P) -> (String, claim_image::MatchCounts, f64, [usize; 3]) {
    let raw = load_image(path).unwrap();
    let stem = path.file_stem().unwrap().to_string_lossy().to_string();
    let truth =
        Labels::from_image(&load_image(&dir.join("truth").join(format!("{stem}.tif"))).unwrap())
            .unwrap();
    let pred = segment(&raw, p);
    let r = typical_radius(&truth.mask());
    let kinds = misses(&pred, &truth);
    (stem, match_labels(&pred, &truth, 0.5).unwrap(), r, kinds)
}

/// Unmatched truths by kind: [missed (< half covered), merged (its best prediction covers
/// another truth by half too), other (too small/large)].
fn misses(pred: &Labels, truth: &Labels) -> [usize; 3] {
    let mut pa: HashMap<u32, u64> = HashMap::new();
    let mut ta: HashMap<u32, u64> = HashMap::new();
    let mut both: HashMap<(u32, u32), u64> = HashMap::new();
    for (&p, &t) in pred.data.iter().zip(&truth.data) {
        *pa.entry(p).or_default() += 1;
        *ta.entry(t).or_default() += 1;
        *both.entry((p, t)).or_default() += 1;
    }
    let mut out = [0; 3];
    for (&t, &area) in ta.iter().filter(|(t, _)| **t > 0) {
        let best = both
            .iter()
            .filter(|((p, tt), _)| *tt == t && *p > 0)
            .max_by_key(|(_, v)| **v);
        let Some((&(p, _), &inter)) = best else {
            out[0] += 1;
            continue;
        };
        let iou = inter as f64 / (pa[&p] + area - inter) as f64;
        if iou > 0.5 {
            continue;
        }
        if (inter as f64) < 0.5 * area as f64 {
            out[0] += 1;
            continue;
        }
        let others = both
            .iter()
            .filter(|((pp, tt), v)| {
                *pp == p && *tt != t && *tt > 0 && **v as f64 > 0.3 * ta[tt] as f64
            })
            .count();
        if others > 0 { out[1] += 1 } else { out[2] += 1 }
    }
    out
}
