//! Deterministic generator of synthetic fluorescence-nuclei images with ground truth.
//!
//! `cargo run --release -p claim-image --example make-nuclei -- OUT_DIR COUNT [SEED] [deflate]`
//!
//! Writes `OUT_DIR/nuclei_NNN.tif` (512×512, 16-bit; Deflate-compressed with `deflate`, as the
//! bundled set is, to keep the repository small), `OUT_DIR/truth/nuclei_NNN_labels.png`
//! (16-bit ground-truth labels) and `OUT_DIR/truth/nuclei.csv` (one row per nucleus).

use claim_image::{Image, Labels, save_image_u16, save_labels};
use std::fmt::Write as _;
use std::path::PathBuf;
use tiff::encoder::{Compression, DeflateLevel, Predictor, TiffEncoder, colortype::Gray16};

/// xorshift64*: a tiny seeded generator so the data set is the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545F4914F6CDD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.next()
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.next().max(1e-12), self.next());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

struct Nucleus {
    row: f64,
    col: f64,
    a: f64,
    b: f64,
    angle: f64,
    brightness: f64,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let out = PathBuf::from(args.get(1).map_or("datasets/nuclei", |s| s.as_str()));
    let count: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(24);
    let seed: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(2026);
    let deflate = args.get(4).is_some_and(|s| s == "deflate");
    std::fs::create_dir_all(out.join("truth")).unwrap();
    let mut csv =
        String::from("image,label,centroid_row,centroid_col,area,semi_major,semi_minor,touching\n");
    for n in 0..count {
        let mut rng = Rng(seed.wrapping_mul(1_000_003).wrapping_add(n as u64 * 7919) | 1);
        let nuclei = place(&mut rng);
        let (img, labels) = render(&nuclei, &mut rng);
        let stem = format!("nuclei_{n:03}");
        let path = out.join(format!("{stem}.tif"));
        if deflate {
            save_deflated(&img, &path);
        } else {
            save_image_u16(&img, &path).unwrap();
        }
        save_labels(
            &labels,
            &out.join("truth").join(format!("{stem}_labels.png")),
        )
        .unwrap();
        for (i, nu) in nuclei.iter().enumerate() {
            let label = i as u32 + 1;
            let px: Vec<usize> = (0..labels.pixels().len())
                .filter(|&p| labels.pixels()[p] == label)
                .collect();
            let area = px.len() as f64;
            let (sr, sc) = px.iter().fold((0.0, 0.0), |(r, c), &p| {
                (r + (p / 512) as f64, c + (p % 512) as f64)
            });
            let touching = nuclei.iter().enumerate().any(|(j, o)| {
                j != i
                    && ((o.row - nu.row).powi(2) + (o.col - nu.col).powi(2)).sqrt()
                        < nu.a + o.a + 1.0
            });
            writeln!(
                csv,
                "{stem},{label},{:.3},{:.3},{area},{:.2},{:.2},{touching}",
                sr / area,
                sc / area,
                nu.a,
                nu.b
            )
            .unwrap();
        }
    }
    std::fs::write(out.join("truth").join("nuclei.csv"), csv).unwrap();
}

fn save_deflated(img: &Image, path: &std::path::Path) {
    let data: Vec<u16> = img.pixels().iter().map(|&v| v as u16).collect();
    let file = std::fs::File::create(path).unwrap();
    TiffEncoder::new(std::io::BufWriter::new(file))
        .unwrap()
        .with_compression(Compression::Deflate(DeflateLevel::Best))
        .with_predictor(Predictor::Horizontal)
        .write_image::<Gray16>(img.width(), img.height(), &data)
        .unwrap();
}

/// About 40 nuclei: mostly isolated, some in touching pairs.
fn place(rng: &mut Rng) -> Vec<Nucleus> {
    let mut nuclei: Vec<Nucleus> = Vec::new();
    let mut attempts = 0;
    while nuclei.len() < 40 && attempts < 5000 {
        attempts += 1;
        let a = rng.range(6.0, 12.0);
        let b = a * rng.range(0.75, 1.0);
        let angle = rng.range(0.0, std::f64::consts::PI);
        let (row, col) = if !nuclei.is_empty() && rng.next() < 0.25 {
            // A touching partner: the outlines meet along the line between the centres (the
            // soft edges overlap a little more, as neighbouring nuclei do in a blurred image).
            let base = &nuclei[nuclei.len() - 1];
            let t = rng.range(0.0, std::f64::consts::TAU);
            let d = (base.radius_towards(t) + radius(a, b, angle, t)) * rng.range(0.95, 1.0);
            (base.row + d * t.sin(), base.col + d * t.cos())
        } else {
            (rng.range(20.0, 492.0), rng.range(20.0, 492.0))
        };
        if !(16.0..496.0).contains(&row) || !(16.0..496.0).contains(&col) {
            continue;
        }
        let clash = nuclei.iter().any(|o| {
            let d = ((o.row - row).powi(2) + (o.col - col).powi(2)).sqrt();
            d < (o.b + b) * 0.85
        });
        let near_but_not_partner = nuclei
            .iter()
            .take(nuclei.len().saturating_sub(1))
            .any(|o| ((o.row - row).powi(2) + (o.col - col).powi(2)).sqrt() < o.a + a + 3.0);
        if clash || near_but_not_partner {
            continue;
        }
        let brightness = rng.range(1500.0, 6000.0);
        nuclei.push(Nucleus {
            row,
            col,
            a,
            b,
            angle,
            brightness,
        });
    }
    nuclei
}

/// Distance from the centre to the outline of an ellipse (semi-axes `a` ≥ `b`, major axis at
/// `angle`) in direction `t` (row = sin t, col = cos t; the renderer's convention).
fn radius(a: f64, b: f64, angle: f64, t: f64) -> f64 {
    let along = (t + angle).sin();
    let across = (t + angle).cos();
    1.0 / ((along / a).powi(2) + (across / b).powi(2)).sqrt()
}

impl Nucleus {
    fn radius_towards(&self, t: f64) -> f64 {
        radius(self.a, self.b, self.angle, t)
    }
}

fn render(nuclei: &[Nucleus], rng: &mut Rng) -> (Image, Labels) {
    let (w, h) = (512usize, 512usize);
    let mut labels = vec![0u32; w * h];
    let mut signal = vec![0f64; w * h];
    for (i, n) in nuclei.iter().enumerate() {
        let (s, c) = n.angle.sin_cos();
        let reach = n.a.ceil() as i64 + 2;
        for r in (n.row as i64 - reach).max(0)..=(n.row as i64 + reach).min(h as i64 - 1) {
            for col in (n.col as i64 - reach).max(0)..=(n.col as i64 + reach).min(w as i64 - 1) {
                let (y, x) = (r as f64 - n.row, col as f64 - n.col);
                let u = (y * c + x * s) / n.a;
                let v = (-y * s + x * c) / n.b;
                let q = u * u + v * v;
                let p = r as usize * w + col as usize;
                if q <= 1.0 && labels[p] == 0 {
                    labels[p] = i as u32 + 1;
                }
                // Soft edge and a little texture.
                let edge = 1.0 / (1.0 + ((q.sqrt() - 1.0) * 6.0).exp());
                signal[p] = signal[p].max(n.brightness * edge * (1.0 - 0.25 * q.min(1.0)));
            }
        }
    }
    let tilt = (rng.range(-1.0, 1.0), rng.range(-1.0, 1.0));
    let data = (0..w * h)
        .map(|p| {
            let (r, c) = ((p / w) as f64 / 512.0, (p % w) as f64 / 512.0);
            let background = 300.0
                + 150.0 * (tilt.0 * r + tilt.1 * c)
                + 100.0 * ((r * 3.0).sin() * (c * 2.0).cos());
            let value = background + signal[p] + rng.normal() * 40.0;
            value.clamp(0.0, 65535.0).round() as f32
        })
        .collect();
    (
        Image::from_pixels(512, 512, 16, data).expect("512² values"),
        Labels::from_pixels(512, 512, labels).expect("512² labels"),
    )
}
