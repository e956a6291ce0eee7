//! Filters on images (Gaussian, median), Otsu's threshold, and mask clean-up.

use crate::error::{Error, Result};
use crate::image::{Image, Mask};
use crate::union_find::{find, union};
use image::GrayImage;
use imageproc::distance_transform::Norm;

impl Image {
    /// Gaussian blur with standard deviation `sigma` (pixels); the result is floating point in
    /// the image's units. scikit-image's `gaussian(img, sigma, preserve_range=True)` (tested
    /// within 1e-4): kernel radius `int(4 sigma + 0.5)`, edge pixels repeated beyond the border.
    /// Separable like scipy's (down the columns, then across), one output row at a time: each
    /// pass a sum of shifted rows (vectorises), in f32, with one row of scratch memory.
    pub fn gaussian(&self, sigma: f64) -> Result<Image> {
        if !(sigma > 0.0 && sigma.is_finite()) {
            return Err(Error::Argument(format!(
                "gaussian: sigma must be > 0, got {sigma}"
            )));
        }
        let kernel = gaussian_kernel(sigma);
        let r = kernel.len() / 2;
        let (w, h) = (self.width as usize, self.height as usize);
        let mut data = vec![0f32; w * h];
        let mut padded = vec![0f32; w + 2 * r];
        for (y, dst) in data.chunks_mut(w.max(1)).enumerate() {
            let down = &mut padded[r..r + w];
            down.fill(0.0);
            for (j, &k) in kernel.iter().enumerate() {
                let from = (y + j).saturating_sub(r).min(h - 1);
                for (d, &v) in down.iter_mut().zip(&self.data[from * w..(from + 1) * w]) {
                    *d += k * v;
                }
            }
            let (first, last) = (padded[r], padded[r + w - 1]);
            padded[..r].fill(first);
            padded[r + w..].fill(last);
            for (j, &k) in kernel.iter().enumerate() {
                for (d, &v) in dst.iter_mut().zip(&padded[j..j + w]) {
                    *d += k * v;
                }
            }
        }
        Ok(Image {
            width: self.width,
            height: self.height,
            bit_depth: 32,
            data: data.into(),
        })
    }

    /// Median over a square window of `radius` (works on any bit depth).
    pub fn median(&self, radius: u32) -> Result<Image> {
        if radius == 0 || radius > 50 {
            return Err(Error::Argument(format!(
                "median: radius must be 1..=50, got {radius}"
            )));
        }
        let (w, h, r) = (self.width as i64, self.height as i64, radius as i64);
        let mut out = Vec::with_capacity(self.data.len());
        let mut window = Vec::with_capacity(((2 * r + 1) * (2 * r + 1)) as usize);
        for y in 0..h {
            for x in 0..w {
                window.clear();
                for yy in (y - r).max(0)..=(y + r).min(h - 1) {
                    for xx in (x - r).max(0)..=(x + r).min(w - 1) {
                        window.push(self.data[(yy * w + xx) as usize]);
                    }
                }
                let mid = window.len() / 2;
                let (_, m, _) = window.select_nth_unstable_by(mid, |a, b| a.total_cmp(b));
                out.push(*m);
            }
        }
        Ok(Image {
            data: out.into(),
            ..self.clone()
        })
    }
}

/// scipy's `gaussian_filter1d` weights: radius `int(4 sigma + 0.5)`, normalised to sum 1.
fn gaussian_kernel(sigma: f64) -> Vec<f32> {
    let r = (4.0 * sigma + 0.5) as i64;
    let weights: Vec<f64> = (-r..=r)
        .map(|x| (-0.5 * (x * x) as f64 / (sigma * sigma)).exp())
        .collect();
    let total: f64 = weights.iter().sum();
    weights.into_iter().map(|v| (v / total) as f32).collect()
}

/// Otsu's threshold in the image's own units, as scikit-image's `threshold_otsu`: integer images
/// get one histogram bin per integer value, floating-point images 256 bins between min and max.
/// Pixels strictly above the result are foreground.
pub fn otsu(img: &Image) -> f64 {
    let (min, max) = min_max(&img.data);
    if min >= max || min.is_nan() {
        return min as f64;
    }
    let (bins, centers): (usize, Vec<f64>) = if img.is_integer() {
        let n = (max - min) as usize + 1;
        (n, (0..n).map(|i| min as f64 + i as f64).collect())
    } else {
        let width = (max - min) as f64 / 256.0;
        (
            256,
            (0..256)
                .map(|i| min as f64 + width * (i as f64 + 0.5))
                .collect(),
        )
    };
    let hist = if img.is_integer() {
        counts(&img.data, bins, |v| (v - min) as usize)
    } else {
        // numpy's rule (scikit-image's histogram): (v - min) / (max - min) × 256, the last edge
        // in the last bin.
        // Bins first, in a loop the compiler vectorises (the division dominates), then counted.
        let range = (max - min) as f64;
        let bin_of: Vec<u8> = img
            .data
            .iter()
            .map(|&v| (((v - min) as f64 / range) * 256.0).min(255.0) as u8)
            .collect();
        counts(&bin_of, bins, |b| b as usize)
    };
    otsu_from_histogram(&hist, &centers)
}

/// Li's iterative minimum cross-entropy threshold, as scikit-image's `threshold_li`: starts at
/// the mean and moves to `(mean_back - mean_fore) / (ln mean_back - ln mean_fore)` (on values
/// shifted to start at 0) until it moves by less than 0.5 on integer images, or 1/100 000 of the
/// range on floating-point ones. Unlike Otsu it keeps dim objects when their brightness varies
/// a lot (Otsu then splits bright objects from dim ones); CellProfiler's default for nuclei.
pub fn li(img: &Image) -> f64 {
    let (min, max) = min_max(&img.data);
    if min >= max || min.is_nan() {
        return min as f64;
    }
    let min = min as f64;
    let tolerance = if img.is_integer() {
        0.5
    } else {
        (max as f64 - min) * 1e-5
    };
    let n = img.data.len();
    let total = sum_above(&img.data, f32::NEG_INFINITY).0 - n as f64 * min;
    let (mut current, mut next) = (-2.0 * tolerance, total / n as f64);
    while (next - current).abs() > tolerance {
        current = next;
        let (fore, n_fore) = sum_above(&img.data, (current + min) as f32);
        let fore = fore - n_fore as f64 * min;
        let n_back = n - n_fore;
        let (mean_fore, mean_back) = (
            fore / n_fore.max(1) as f64,
            (total - fore) / n_back.max(1) as f64,
        );
        if mean_back == 0.0 || n_fore == 0 {
            break;
        }
        next = (mean_back - mean_fore) / (mean_back.ln() - mean_fore.ln());
    }
    next + min
}

/// Smallest and largest value, in eight lanes (compiles to SIMD min/max).
fn min_max(data: &[f32]) -> (f32, f32) {
    let (mut lo, mut hi) = ([f32::INFINITY; 8], [f32::NEG_INFINITY; 8]);
    let lanes = data.chunks_exact(8);
    for &v in lanes.remainder() {
        (lo[0], hi[0]) = (lo[0].min(v), hi[0].max(v));
    }
    for v in lanes {
        for k in 0..8 {
            lo[k] = if v[k] < lo[k] { v[k] } else { lo[k] };
            hi[k] = if v[k] > hi[k] { v[k] } else { hi[k] };
        }
    }
    let fold = |xs: [f32; 8], pick: fn(f32, f32) -> f32| xs.into_iter().reduce(pick).unwrap_or(0.0);
    let (lo, hi) = (fold(lo, f32::min), fold(hi, f32::max));
    // NaNs never win a comparison, so they are skipped; only an image of nothing but NaN
    // leaves the starting values in place.
    if lo > hi {
        (f32::NAN, f32::NAN)
    } else {
        (lo, hi)
    }
}

/// Sum and count of the values strictly above `cut`: eight f32 lanes of selects and adds,
/// which compile to plain SIMD (a branch per pixel on noisy data mispredicts half the time),
/// folded into f64 every 256 values so the f32 partial sums stay exact enough.
fn sum_above(data: &[f32], cut: f32) -> (f64, usize) {
    let (mut sum, mut count) = (0.0f64, 0usize);
    for block in data.chunks(256) {
        let (mut s, mut c) = ([0.0f32; 8], [0u32; 8]);
        let lanes = block.chunks_exact(8);
        for &v in lanes.remainder() {
            if v > cut {
                s[0] += v;
                c[0] += 1;
            }
        }
        for v in lanes {
            for k in 0..8 {
                // All-ones bits where above: the value itself, else +0.0.
                let keep = ((v[k] > cut) as u32).wrapping_neg();
                s[k] += f32::from_bits(v[k].to_bits() & keep);
                c[k] += keep & 1;
            }
        }
        sum += s.iter().map(|&x| x as f64).sum::<f64>();
        count += c.iter().sum::<u32>() as usize;
    }
    (sum, count)
}

/// Otsu on a histogram with bin centres (scikit-image's formulation).
/// How many values fall in each of `bins` bins (`bin` gives a value's, below `bins`), as f64.
/// Four interleaved tallies: neighbouring pixels of a smooth image share a bin, and one tally
/// would wait on its own last increment at every pixel.
fn counts<T: Copy>(data: &[T], bins: usize, bin: impl Fn(T) -> usize) -> Vec<f64> {
    let mut tallies = vec![[0u32; 4]; bins];
    let quads = data.chunks_exact(4);
    for &v in quads.remainder() {
        tallies[bin(v)][0] += 1;
    }
    for quad in quads {
        let at = [bin(quad[0]), bin(quad[1]), bin(quad[2]), bin(quad[3])];
        for (lane, &i) in at.iter().enumerate() {
            tallies[i][lane] += 1;
        }
    }
    tallies
        .iter()
        .map(|t| t.iter().map(|&n| n as f64).sum())
        .collect()
}

pub(crate) fn otsu_from_histogram(hist: &[f64], centers: &[f64]) -> f64 {
    let n = hist.len();
    let mut w1 = vec![0.0; n];
    let mut m1 = vec![0.0; n];
    let (mut cw, mut cm) = (0.0, 0.0);
    for i in 0..n {
        cw += hist[i];
        cm += hist[i] * centers[i];
        w1[i] = cw;
        m1[i] = if cw > 0.0 { cm / cw } else { 0.0 };
    }
    let mut w2 = vec![0.0; n];
    let mut m2 = vec![0.0; n];
    let (mut cw, mut cm) = (0.0, 0.0);
    for i in (0..n).rev() {
        cw += hist[i];
        cm += hist[i] * centers[i];
        w2[i] = cw;
        m2[i] = if cw > 0.0 { cm / cw } else { 0.0 };
    }
    let mut best = (f64::NEG_INFINITY, 0);
    for i in 0..n - 1 {
        let v = w1[i] * w2[i + 1] * (m1[i] - m2[i + 1]).powi(2);
        if v > best.0 {
            best = (v, i);
        }
    }
    centers[best.1]
}

fn to_gray(mask: &Mask) -> GrayImage {
    GrayImage::from_raw(
        mask.width,
        mask.height,
        mask.data.iter().map(|&b| if b { 255 } else { 0 }).collect(),
    )
    .expect("mask size matches")
}

fn from_gray(img: &GrayImage) -> Mask {
    Mask {
        width: img.width(),
        height: img.height(),
        data: img.as_raw().iter().map(|&v| v > 0).collect(),
    }
}

fn radius(r: i64, what: &str) -> Result<u8> {
    u8::try_from(r)
        .ok()
        .filter(|&r| r > 0)
        .ok_or_else(|| Error::Argument(format!("{what}: radius must be 1..=255, got {r}")))
}

/// The four morphology operations, each with a disk structuring element.
#[derive(Clone, Copy)]
enum Morph {
    Erode,
    Dilate,
    Open,
    Close,
}

/// Small disks go through imageproc's structuring-element morphology (work grows with the disk:
/// 0.15 ms for radius 1 on 512×512), larger ones through its distance-transform morphology
/// (about 10 ms whatever the radius). Both use the same L2 disk and ignore pixels outside the
/// image, so they give the same masks (tested).
const LARGEST_ELEMENT_RADIUS: u8 = 6;

fn morphology(mask: &Mask, op: Morph, r: u8) -> Mask {
    use imageproc::morphology as m;
    let gray = to_gray(mask);
    let out = if r <= LARGEST_ELEMENT_RADIUS {
        let disk = m::Mask::disk(r);
        match op {
            Morph::Erode => m::grayscale_erode(&gray, &disk),
            Morph::Dilate => m::grayscale_dilate(&gray, &disk),
            Morph::Open => m::grayscale_open(&gray, &disk),
            Morph::Close => m::grayscale_close(&gray, &disk),
        }
    } else {
        match op {
            Morph::Erode => m::erode(&gray, Norm::L2, r),
            Morph::Dilate => m::dilate(&gray, Norm::L2, r),
            Morph::Open => m::open(&gray, Norm::L2, r),
            Morph::Close => m::close(&gray, Norm::L2, r),
        }
    };
    from_gray(&out)
}

impl Mask {
    /// Erode with a disk of radius `r`.
    pub fn erode(&self, r: i64) -> Result<Mask> {
        Ok(morphology(self, Morph::Erode, radius(r, "erode")?))
    }
    /// Dilate with a disk of radius `r`.
    pub fn dilate(&self, r: i64) -> Result<Mask> {
        Ok(morphology(self, Morph::Dilate, radius(r, "dilate")?))
    }
    /// Opening (erode then dilate): removes specks and thin bridges.
    pub fn open(&self, r: i64) -> Result<Mask> {
        Ok(morphology(self, Morph::Open, radius(r, "open")?))
    }
    /// Closing (dilate then erode): fills small gaps.
    pub fn close(&self, r: i64) -> Result<Mask> {
        Ok(morphology(self, Morph::Close, radius(r, "close")?))
    }

    /// Fill background regions not connected (4-connectivity) to the image border.
    ///
    /// Works on runs of background along rows rather than pixels: runs that overlap a run of
    /// the row above are joined (union-find), and every run not joined to one that touches the
    /// border is a hole. A few hundred runs instead of a quarter million pixels.
    pub fn fill_holes(&self) -> Mask {
        let (w, h) = (self.width as usize, self.height as usize);
        let mut runs: Vec<(usize, usize, usize)> = Vec::new(); // (row, start, end exclusive)
        let mut parent: Vec<u32> = Vec::new();
        let mut previous = 0..0; // the runs of the row above
        for r in 0..h {
            let row = &self.data[r * w..(r + 1) * w];
            let first = runs.len();
            let mut c = 0;
            while c < w {
                let Some(start) = row[c..].iter().position(|&f| !f).map(|k| c + k) else {
                    break;
                };
                let end = row[start..]
                    .iter()
                    .position(|&f| f)
                    .map_or(w, |k| start + k);
                let me = runs.len();
                runs.push((r, start, end));
                parent.push(me as u32);
                for above in previous.clone() {
                    let (_, s, e) = runs[above];
                    if s < end && start < e {
                        union(&mut parent, above, me);
                    }
                }
                c = end;
            }
            previous = first..runs.len();
        }
        let mut reaches_border = vec![false; runs.len()];
        for (k, &(r, start, end)) in runs.iter().enumerate() {
            if r == 0 || r == h - 1 || start == 0 || end == w {
                let root = find(&mut parent, k);
                reaches_border[root] = true;
            }
        }
        let mut data = self.data.clone();
        for (k, &(r, start, end)) in runs.iter().enumerate() {
            if !reaches_border[find(&mut parent, k)] {
                data[r * w + start..r * w + end].fill(true);
            }
        }
        Mask {
            width: self.width,
            height: self.height,
            data,
        }
    }

    /// Remove 8-connected objects smaller than `min_area` pixels (on runs: see `labels.rs`).
    pub fn remove_small(&self, min_area: usize) -> Mask {
        let components = crate::labels::Components::of(self, 8);
        let area = components.areas();
        components.mask_of(self.width, self.height, |root| area[root] >= min_area)
    }

    /// Remove objects touching the image border.
    pub fn clear_border(&self) -> Mask {
        let labels = self.label(8);
        let (w, h) = (self.width, self.height);
        let mut touching = vec![false; labels.count() as usize + 1];
        for r in 0..h {
            for c in 0..w {
                if r == 0 || c == 0 || r == h - 1 || c == w - 1 {
                    touching[labels.data[(r * w + c) as usize] as usize] = true;
                }
            }
        }
        let data = labels
            .data
            .iter()
            .map(|&l| l > 0 && !touching[l as usize])
            .collect();
        Mask {
            width: w,
            height: h,
            data,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn otsu_on_a_hand_computed_16_bit_histogram() {
        // Values 100 (x4), 101 (x2), 1000 (x2), 1001 (x4): the split lies after 101.
        let values = [
            100., 100., 100., 100., 101., 101., 1000., 1000., 1001., 1001., 1001., 1001.,
        ];
        let img = Image {
            width: 12,
            height: 1,
            bit_depth: 16,
            data: values.to_vec().into(),
        };
        assert_eq!(otsu(&img), 101.0);
        assert_eq!(img.threshold(otsu(&img)).area(), 6);
    }

    fn two_populations(bit_depth: u8, scale: f32) -> Image {
        // 60 dim values 10..=69 and 40 bright ones 200, 202, ..., 278.
        let values = (0..60).map(|i| 10 + i).chain((0..40).map(|i| 200 + 2 * i));
        Image {
            width: 100,
            height: 1,
            bit_depth,
            data: values.map(|v| v as f32 / scale).collect(),
        }
    }

    #[test]
    fn li_matches_scikit_image_on_integer_and_float_images() {
        // scikit-image 0.26 threshold_li on the same values: 107.34880697241634 (uint16) and
        // 15.335545 (the values / 7 as float32).
        assert!((li(&two_populations(16, 1.0)) - 107.348_807).abs() < 0.5);
        assert!((li(&two_populations(32, 7.0)) - 15.335_545).abs() < 1e-3);
    }

    #[test]
    fn li_keeps_dim_objects_that_otsu_drops() {
        // A 4x brightness range: Otsu splits bright from dim, Li keeps both above background.
        let img = two_populations(16, 1.0);
        let dim_and_bright = Image {
            data: (0..300)
                .map(|i| match i % 3 {
                    0 => 100.0,
                    1 => 1500.0 + (i % 7) as f32,
                    _ => 6000.0 + (i % 5) as f32,
                })
                .chain(std::iter::repeat_n(100.0, 600))
                .collect(),
            width: 900,
            height: 1,
            ..img
        };
        assert!(otsu(&dim_and_bright) >= 1500.0);
        let t = li(&dim_and_bright);
        assert!((100.0..1500.0).contains(&t), "li {t}");
    }

    #[test]
    fn otsu_matches_the_formula_on_an_uneven_histogram() {
        // hist over 0..=3 = [1, 3, 1, 5]; variance for splits after 0, 1, 2 by hand:
        // after 0: w1=1 m1=0, w2=9 m2=(3+2+15)/9=2.222 → 1*9*4.938=44.44
        // after 1: w1=4 m1=0.75, w2=6 m2=17/6=2.833 → 4*6*4.340=104.2
        // after 2: w1=5 m1=1.0, w2=5 m2=3 → 5*5*4=100
        let img = Image {
            width: 10,
            height: 1,
            bit_depth: 16,
            data: vec![0., 1., 1., 1., 2., 3., 3., 3., 3., 3.].into(),
        };
        assert_eq!(otsu(&img), 1.0);
    }

    #[test]
    fn gaussian_keeps_16_bit_units() {
        let img = Image::from_fn(9, 9, 16, |_, _| 40000.0);
        let blurred = img.gaussian(1.0).unwrap();
        assert!(
            (blurred.at(4, 4) - 40000.0).abs() < 1.0,
            "{}",
            blurred.at(4, 4)
        );
        assert!(img.gaussian(0.0).is_err());
    }

    #[test]
    fn both_morphology_paths_give_the_same_masks() {
        // Blobs of every size, some cut by the border, and one-pixel specks.
        let mask = Image::from_fn(120, 90, 8, |y, x| {
            let wave = ((y as f32 * 0.31).sin() + (x as f32 * 0.23).cos()) * 0.5;
            let speck = (x * 7 + y * 13) % 97 == 0;
            (wave > 0.2 || speck) as u8 as f32
        })
        .threshold(0.5);
        use imageproc::morphology as m;
        for r in 1..=LARGEST_ELEMENT_RADIUS + 1 {
            let gray = to_gray(&mask);
            let disk = m::Mask::disk(r);
            let pairs = [
                (
                    m::grayscale_erode(&gray, &disk),
                    m::erode(&gray, Norm::L2, r),
                ),
                (
                    m::grayscale_dilate(&gray, &disk),
                    m::dilate(&gray, Norm::L2, r),
                ),
                (m::grayscale_open(&gray, &disk), m::open(&gray, Norm::L2, r)),
                (
                    m::grayscale_close(&gray, &disk),
                    m::close(&gray, Norm::L2, r),
                ),
            ];
            for (k, (element, distance)) in pairs.iter().enumerate() {
                assert_eq!(
                    from_gray(element),
                    from_gray(distance),
                    "op {k}, radius {r}"
                );
            }
        }
    }

    #[test]
    fn fill_holes_fills_only_enclosed_background() {
        let ring = Image::from_fn(9, 9, 8, |r, c| {
            let d = (r as i32 - 4).abs().max((c as i32 - 4).abs());
            if d == 2 { 1.0 } else { 0.0 }
        })
        .threshold(0.5);
        let filled = ring.fill_holes();
        assert_eq!(filled.area(), 25);
    }

    /// The plain definition: flood the background from the border, pixel by pixel.
    fn holes_filled_pixel_by_pixel(mask: &Mask) -> Mask {
        let (w, h) = (mask.width as usize, mask.height as usize);
        let mut outside = vec![false; w * h];
        let mut stack: Vec<usize> = (0..w * h)
            .filter(|&i| i / w == 0 || i % w == 0 || i / w == h - 1 || i % w == w - 1)
            .filter(|&i| !mask.data[i])
            .collect();
        while let Some(i) = stack.pop() {
            if outside[i] || mask.data[i] {
                continue;
            }
            outside[i] = true;
            let (r, c) = (i / w, i % w);
            if r > 0 {
                stack.push(i - w);
            }
            if r + 1 < h {
                stack.push(i + w);
            }
            if c > 0 {
                stack.push(i - 1);
            }
            if c + 1 < w {
                stack.push(i + 1);
            }
        }
        Mask {
            data: outside.iter().map(|&o| !o).collect(),
            ..mask.clone()
        }
    }

    #[test]
    fn fill_holes_by_runs_agrees_with_the_pixel_flood() {
        // Rings, spirals of noise and diagonal-only escapes, on several seeds.
        for seed in 0..20u32 {
            let mask = Image::from_fn(61, 47, 8, |r, c| {
                let x = (r * 31 + c * 17 + seed * 7919).wrapping_mul(2654435761) >> 29;
                let ring = ((r as i32 - 23).pow(2) + (c as i32 - 30).pow(2) - 150).abs() < 40;
                (ring || x < 3) as u8 as f32
            })
            .threshold(0.5);
            assert_eq!(
                mask.fill_holes(),
                holes_filled_pixel_by_pixel(&mask),
                "seed {seed}"
            );
        }
    }

    #[test]
    fn background_touching_the_border_only_diagonally_is_a_hole() {
        // A 3x3 block with its centre empty sits in the corner; the centre reaches the corner
        // pixel only diagonally, which 4-connectivity does not follow.
        let mask = Image::from_fn(5, 5, 8, |r, c| {
            let block = r <= 2 && c <= 2 && (r, c) != (1, 1) && (r, c) != (0, 0);
            block as u8 as f32
        })
        .threshold(0.5);
        assert!(mask.fill_holes().data[6], "centre (1,1) filled");
        assert!(!mask.fill_holes().data[0], "the corner stays background");
    }
}
