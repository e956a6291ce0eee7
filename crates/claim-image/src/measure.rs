//! Region properties with scikit-image `regionprops` definitions.

use crate::error::{Error, Result};
use crate::image::{Image, Labels};

/// One object's properties. Rows/cols are pixel indices; bbox max is exclusive.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub struct RegionProps {
    pub label: u32,
    pub area: f64,
    pub centroid_row: f64,
    pub centroid_col: f64,
    pub bbox_min_row: u32,
    pub bbox_min_col: u32,
    pub bbox_max_row: u32,
    pub bbox_max_col: u32,
    pub intensity_mean: f64,
    pub intensity_min: f64,
    pub intensity_max: f64,
    pub perimeter: f64,
    pub eccentricity: f64,
    pub axis_major_length: f64,
    pub axis_minor_length: f64,
    pub orientation: f64,
    pub solidity: f64,
    pub equivalent_diameter_area: f64,
}

impl RegionProps {
    /// The field names in their documented column order (scikit-image's regionprops names).
    pub const COLUMNS: [&'static str; 18] = [
        "label",
        "area",
        "centroid_row",
        "centroid_col",
        "bbox_min_row",
        "bbox_min_col",
        "bbox_max_row",
        "bbox_max_col",
        "intensity_mean",
        "intensity_min",
        "intensity_max",
        "perimeter",
        "eccentricity",
        "axis_major_length",
        "axis_minor_length",
        "orientation",
        "solidity",
        "equivalent_diameter_area",
    ];

    /// `(name, value)` pairs in the documented column order ([`RegionProps::COLUMNS`]).
    pub fn fields(&self) -> Vec<(&'static str, f64)> {
        vec![
            ("label", self.label as f64),
            ("area", self.area),
            ("centroid_row", self.centroid_row),
            ("centroid_col", self.centroid_col),
            ("bbox_min_row", self.bbox_min_row as f64),
            ("bbox_min_col", self.bbox_min_col as f64),
            ("bbox_max_row", self.bbox_max_row as f64),
            ("bbox_max_col", self.bbox_max_col as f64),
            ("intensity_mean", self.intensity_mean),
            ("intensity_min", self.intensity_min),
            ("intensity_max", self.intensity_max),
            ("perimeter", self.perimeter),
            ("eccentricity", self.eccentricity),
            ("axis_major_length", self.axis_major_length),
            ("axis_minor_length", self.axis_minor_length),
            ("orientation", self.orientation),
            ("solidity", self.solidity),
            ("equivalent_diameter_area", self.equivalent_diameter_area),
        ]
    }
}

/// Measure every labelled object of `labels` on `img` (normally the raw image).
pub fn measure(labels: &Labels, img: &Image) -> Result<Vec<RegionProps>> {
    if (labels.width, labels.height) != (img.width, img.height) {
        return Err(Error::Argument(format!(
            "measure: labels are {}x{} but the image is {}x{}",
            labels.width, labels.height, img.width, img.height
        )));
    }
    let pixels = pixels_by_label(labels);
    Ok(objects(&pixels)
        .map(|(label, p)| props(label, p, labels, img))
        .collect())
}

/// Each object's pixels as (row, col), indexed by label (index 0 unused).
fn pixels_by_label(labels: &Labels) -> Vec<Vec<(u32, u32)>> {
    let n = labels.count() as usize;
    let mut pixels: Vec<Vec<(u32, u32)>> = vec![Vec::new(); n + 1];
    for (i, &l) in labels.data.iter().enumerate() {
        if l > 0 {
            pixels[l as usize].push((i as u32 / labels.width, i as u32 % labels.width));
        }
    }
    pixels
}

/// Every object with its pixels, in label order (labels without pixels skipped).
fn objects(pixels: &[Vec<(u32, u32)>]) -> impl Iterator<Item = (u32, &[(u32, u32)])> {
    pixels
        .iter()
        .enumerate()
        .skip(1)
        .filter(|(_, p)| !p.is_empty())
        .map(|(label, p)| (label as u32, p.as_slice()))
}

/// One channel's intensities inside one object (scikit-image's `intensity_mean`, `_min`,
/// `_max`, `_std` (population) and the sum, `integrated`).
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub struct ChannelStats {
    pub mean: f64,
    pub min: f64,
    pub max: f64,
    pub std: f64,
    pub integrated: f64,
}

impl ChannelStats {
    /// The statistics in column order: column `intensity_<stat>_<channel>`.
    pub const STATS: [&'static str; 5] = ["mean", "min", "max", "std", "integrated"];

    fn of(px: &[(u32, u32)], img: &Image) -> ChannelStats {
        let values = || px.iter().map(|&(r, c)| img.at(r, c) as f64);
        let n = px.len() as f64;
        let integrated: f64 = values().sum();
        let mean = integrated / n;
        let variance = values().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
        ChannelStats {
            mean,
            min: values().fold(f64::INFINITY, f64::min),
            max: values().fold(f64::NEG_INFINITY, f64::max),
            std: variance.sqrt(),
            integrated,
        }
    }

    fn values(&self) -> [f64; 5] {
        [self.mean, self.min, self.max, self.std, self.integrated]
    }
}

/// One object measured on several named channels: its shape once, then each channel.
#[derive(Debug, Clone, PartialEq)]
pub struct CellProps {
    /// Shape properties (its `intensity_*` fields are those of the first channel).
    pub shape: RegionProps,
    /// Each channel's name and statistics, in the order given.
    pub channels: Vec<(String, ChannelStats)>,
}

impl CellProps {
    /// `(column, value)` pairs: the shape columns of [`RegionProps::COLUMNS`] (without the
    /// unnamed `intensity_*`), then `intensity_<stat>_<channel>` for each channel.
    pub fn fields(&self) -> Vec<(String, f64)> {
        let mut fields: Vec<(String, f64)> = self
            .shape
            .fields()
            .into_iter()
            .filter(|(name, _)| !name.starts_with("intensity_"))
            .map(|(name, v)| (name.to_string(), v))
            .collect();
        for (channel, stats) in &self.channels {
            for (stat, v) in ChannelStats::STATS.iter().zip(stats.values()) {
                fields.push((format!("intensity_{stat}_{channel}"), v));
            }
        }
        fields
    }
}

/// Measure every object of `labels` on each named channel: shape once, intensities per
/// channel. Channel names must be distinct and every channel the size of the labels.
pub fn measure_channels(labels: &Labels, channels: &[(&str, &Image)]) -> Result<Vec<CellProps>> {
    for (name, img) in channels {
        if (labels.width, labels.height) != (img.width, img.height) {
            return Err(Error::Argument(format!(
                "measure: labels are {}x{} but channel {name:?} is {}x{}",
                labels.width, labels.height, img.width, img.height
            )));
        }
    }
    let blank;
    let first = match channels.first() {
        Some((_, img)) => *img,
        None => {
            blank = Image::from_fn(labels.width, labels.height, 8, |_, _| 0.0);
            &blank
        }
    };
    let pixels = pixels_by_label(labels);
    Ok(objects(&pixels)
        .map(|(label, p)| CellProps {
            shape: props(label, p, labels, first),
            channels: channels
                .iter()
                .map(|(name, img)| (name.to_string(), ChannelStats::of(p, img)))
                .collect(),
        })
        .collect())
}

/// The order of a measurement table's columns: other keys (`image`, `file`, ...)
/// alphabetically, then [`RegionProps::COLUMNS`], then the per-channel columns
/// (`intensity_<stat>_<channel>`) channel by channel, each in [`ChannelStats::STATS`] order.
pub fn column_order<'a>(keys: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let keys: Vec<&str> = keys.into_iter().collect();
    let per_channel = |k: &str| -> Option<(String, usize)> {
        let rest = k.strip_prefix("intensity_")?;
        ChannelStats::STATS
            .iter()
            .enumerate()
            .find_map(|(i, stat)| {
                let channel = rest.strip_prefix(stat)?.strip_prefix('_')?;
                (!channel.is_empty()).then(|| (channel.to_string(), i))
            })
    };
    let measured = |k: &str| RegionProps::COLUMNS.contains(&k);
    let mut others: Vec<String> = keys
        .iter()
        .filter(|k| !measured(k) && per_channel(k).is_none())
        .map(|k| k.to_string())
        .collect();
    others.sort();
    let shape = RegionProps::COLUMNS
        .iter()
        .filter(|c| keys.contains(c))
        .map(|c| c.to_string());
    let mut channels: Vec<(String, usize, &str)> = keys
        .iter()
        .filter_map(|k| per_channel(k).map(|(c, i)| (c, i, *k)))
        .collect();
    channels.sort();
    others
        .into_iter()
        .chain(shape)
        .chain(channels.into_iter().map(|(_, _, k)| k.to_string()))
        .collect()
}

fn props(label: u32, px: &[(u32, u32)], labels: &Labels, img: &Image) -> RegionProps {
    let area = px.len() as f64;
    let (mut min_r, mut min_c, mut max_r, mut max_c) = (u32::MAX, u32::MAX, 0, 0);
    let (mut sum_i, mut min_i, mut max_i) = (0.0, f64::INFINITY, f64::NEG_INFINITY);
    for &(r, c) in px {
        min_r = min_r.min(r);
        min_c = min_c.min(c);
        max_r = max_r.max(r);
        max_c = max_c.max(c);
        let v = img.at(r, c) as f64;
        sum_i += v;
        min_i = min_i.min(v);
        max_i = max_i.max(v);
    }
    let m = Moments::of(px, (min_r, min_c));
    let (a, b, c) = m.inertia_tensor();
    let mid = (a + c) / 2.0;
    let diff = (((a - c) / 2.0).powi(2) + b * b).sqrt();
    let (l1, l2) = (mid + diff, (mid - diff).max(0.0));
    RegionProps {
        label,
        area,
        centroid_row: min_r as f64 + m.sr as f64 / area,
        centroid_col: min_c as f64 + m.sc as f64 / area,
        bbox_min_row: min_r,
        bbox_min_col: min_c,
        bbox_max_row: max_r + 1,
        bbox_max_col: max_c + 1,
        intensity_mean: sum_i / area,
        intensity_min: min_i,
        intensity_max: max_i,
        perimeter: perimeter(label, px, labels),
        eccentricity: if l1 > 0.0 {
            (1.0 - l2 / l1).sqrt()
        } else {
            0.0
        },
        axis_major_length: 4.0 * l1.sqrt(),
        axis_minor_length: 4.0 * l2.sqrt(),
        orientation: m.orientation(),
        solidity: area / convex_area(px, (min_r, min_c), (max_r, max_c)) as f64,
        equivalent_diameter_area: (4.0 * area / std::f64::consts::PI).sqrt(),
    }
}

/// Raw moments up to order 2 in exact integers, on coordinates relative to the bounding box
/// (so a 65 535-pixel-wide image cannot overflow them).
struct Moments {
    n: i128,
    sr: i128,
    sc: i128,
    srr: i128,
    scc: i128,
    src: i128,
}

impl Moments {
    fn of(px: &[(u32, u32)], origin: (u32, u32)) -> Moments {
        let mut m = Moments {
            n: px.len() as i128,
            sr: 0,
            sc: 0,
            srr: 0,
            scc: 0,
            src: 0,
        };
        for &(r, c) in px {
            let (r, c) = ((r - origin.0) as i128, (c - origin.1) as i128);
            (m.sr, m.sc) = (m.sr + r, m.sc + c);
            (m.srr, m.scc, m.src) = (m.srr + r * r, m.scc + c * c, m.src + r * c);
        }
        m
    }

    /// n times the central moments mu20, mu02, mu11 (exact).
    fn central_n(&self) -> (i128, i128, i128) {
        (
            self.n * self.srr - self.sr * self.sr,
            self.n * self.scc - self.sc * self.sc,
            self.n * self.src - self.sr * self.sc,
        )
    }

    /// scikit-image's inertia tensor `[[a, b], [b, c]]`: a = mu02/mu00, b = -mu11/mu00,
    /// c = mu20/mu00.
    fn inertia_tensor(&self) -> (f64, f64, f64) {
        let (mu20, mu02, mu11) = self.central_n();
        let n2 = (self.n * self.n) as f64;
        (mu02 as f64 / n2, -(mu11 as f64) / n2, mu20 as f64 / n2)
    }

    /// scikit-image's `orientation`, degenerate case included: when the two diagonal terms of
    /// the inertia tensor are equal (1-pixel objects, squares, some 2- and 3-pixel objects) it
    /// returns +π/4 if b < 0 and −π/4 otherwise. Equality is decided on exact integer moments
    /// (regression: issue 12, +π/4 and −π/4 were swapped).
    fn orientation(&self) -> f64 {
        let (mu20, mu02, mu11) = self.central_n();
        if mu02 == mu20 {
            if -mu11 < 0 {
                std::f64::consts::FRAC_PI_4
            } else {
                -std::f64::consts::FRAC_PI_4
            }
        } else {
            let (a, b, c) = self.inertia_tensor();
            0.5 * (-2.0 * b).atan2(c - a)
        }
    }
}

/// scikit-image `perimeter(neighborhood=4)`: border pixels (object minus its cross erosion) are
/// classified by the pattern of their border neighbours and weighted 1, √2 or (1+√2)/2.
fn perimeter(label: u32, px: &[(u32, u32)], labels: &Labels) -> f64 {
    let (w, h) = (labels.width as i64, labels.height as i64);
    let is = |r: i64, c: i64| {
        r >= 0 && c >= 0 && r < h && c < w && labels.data[(r * w + c) as usize] == label
    };
    let border = |r: i64, c: i64| {
        is(r, c) && !(is(r - 1, c) && is(r + 1, c) && is(r, c - 1) && is(r, c + 1))
    };
    let mut total = 0.0;
    for &(r, c) in px {
        let (r, c) = (r as i64, c as i64);
        if !border(r, c) {
            continue;
        }
        let mut code = 1;
        for (dr, dc) in [(-1, 0), (1, 0), (0, -1), (0, 1)] {
            if border(r + dr, c + dc) {
                code += 2;
            }
        }
        for (dr, dc) in [(-1, -1), (-1, 1), (1, -1), (1, 1)] {
            if border(r + dr, c + dc) {
                code += 10;
            }
        }
        total += match code {
            5 | 7 | 15 | 17 | 25 | 27 => 1.0,
            21 | 33 => std::f64::consts::SQRT_2,
            13 | 23 => (1.0 + std::f64::consts::SQRT_2) / 2.0,
            _ => 0.0,
        };
    }
    total
}

/// scikit-image's `area_convex`: the pixels of the bounding box whose centres lie in (or on) the
/// convex hull of the midpoints of every object pixel's four edges (`convex_hull_image` with
/// `offset_coordinates`), so even a 1-pixel object or a line has a 2-D hull. Coordinates are
/// doubled to stay integers, which makes every inside test exact.
fn convex_area(px: &[(u32, u32)], min: (u32, u32), max: (u32, u32)) -> usize {
    let hull = convex_hull(edge_midpoints(px, min, max));
    let (rows, cols) = ((max.0 - min.0 + 1) as i64, (max.1 - min.1 + 1) as i64);
    let mut count = 0;
    for r in 0..rows {
        for c in 0..cols {
            let p = (2 * r, 2 * c);
            let inside =
                (0..hull.len()).all(|i| cross(hull[i], hull[(i + 1) % hull.len()], p) >= 0);
            count += inside as usize;
        }
    }
    count
}

/// Edge midpoints (doubled, relative to `min`) of the pixels that start or end a row or a
/// column of the object: only those can be hull vertices (scikit-image's `possible_hull`).
fn edge_midpoints(px: &[(u32, u32)], min: (u32, u32), max: (u32, u32)) -> Vec<(i64, i64)> {
    let (rows, cols) = ((max.0 - min.0 + 1) as usize, (max.1 - min.1 + 1) as usize);
    let mut row_span = vec![(i64::MAX, i64::MIN); rows];
    let mut col_span = vec![(i64::MAX, i64::MIN); cols];
    for &(r, c) in px {
        let (r, c) = ((r - min.0) as i64, (c - min.1) as i64);
        let (rs, cs) = (&mut row_span[r as usize], &mut col_span[c as usize]);
        (rs.0, rs.1) = (rs.0.min(c), rs.1.max(c));
        (cs.0, cs.1) = (cs.0.min(r), cs.1.max(r));
    }
    let mut centres: Vec<(i64, i64)> = Vec::new();
    for (r, &(lo, hi)) in row_span.iter().enumerate().filter(|(_, s)| s.0 <= s.1) {
        centres.extend([(r as i64, lo), (r as i64, hi)]);
    }
    for (c, &(lo, hi)) in col_span.iter().enumerate().filter(|(_, s)| s.0 <= s.1) {
        centres.extend([(lo, c as i64), (hi, c as i64)]);
    }
    let mut points: Vec<(i64, i64)> = centres
        .into_iter()
        .flat_map(|(r, c)| {
            let (r, c) = (2 * r, 2 * c);
            [(r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)]
        })
        .collect();
    points.sort_unstable();
    points.dedup();
    points
}

fn cross(o: (i64, i64), a: (i64, i64), b: (i64, i64)) -> i64 {
    (a.0 - o.0) * (b.1 - o.1) - (a.1 - o.1) * (b.0 - o.0)
}

/// Andrew's monotone chain on sorted, distinct points: the hull counter-clockwise, without
/// collinear points.
fn convex_hull(pts: Vec<(i64, i64)>) -> Vec<(i64, i64)> {
    let mut hull: Vec<(i64, i64)> = Vec::with_capacity(pts.len() + 1);
    for pass in 0..2 {
        let start = hull.len();
        let mut push = |p: (i64, i64)| {
            while hull.len() >= start + 2
                && cross(hull[hull.len() - 2], hull[hull.len() - 1], p) <= 0
            {
                hull.pop();
            }
            hull.push(p);
        };
        if pass == 0 {
            pts.iter().for_each(|&p| push(p));
        } else {
            pts.iter().rev().for_each(|&p| push(p));
        }
        hull.pop();
    }
    hull
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::Mask;

    fn labels_of(w: u32, h: u32, f: impl Fn(u32, u32) -> bool) -> Labels {
        let img = Image::from_fn(w, h, 8, |r, c| f(r, c) as u8 as f32);
        Mask {
            width: w,
            height: h,
            data: img.data.iter().map(|&v| v > 0.0).collect(),
        }
        .label(8)
    }

    fn flat(w: u32, h: u32) -> Image {
        Image::from_fn(w, h, 16, |r, c| (r * 100 + c) as f32)
    }

    #[test]
    fn rectangle() {
        let labels = labels_of(20, 20, |r, c| (5..9).contains(&r) && (3..13).contains(&c));
        let p = &measure(&labels, &flat(20, 20)).unwrap()[0];
        assert_eq!(p.area, 40.0);
        assert_eq!((p.centroid_row, p.centroid_col), (6.5, 7.5));
        assert_eq!(
            (
                p.bbox_min_row,
                p.bbox_min_col,
                p.bbox_max_row,
                p.bbox_max_col
            ),
            (5, 3, 9, 13)
        );
        assert_eq!((p.intensity_min, p.intensity_max), (503.0, 812.0));
        assert_eq!(p.intensity_mean, 657.5);
        assert_eq!(p.solidity, 1.0);
        // Every pixel of the outer ring has pattern code 5 (weight 1): 2*10 + 2*2 = 24.
        assert!((p.perimeter - 24.0).abs() < 1e-9, "{}", p.perimeter);
        assert!(p.orientation.abs() - std::f64::consts::FRAC_PI_2 < 1e-9);
        // Uniform rectangle: variance (n^2-1)/12 along each axis.
        assert!((p.axis_major_length - 4.0 * (99.0f64 / 12.0).sqrt()).abs() < 1e-9);
        assert!((p.axis_minor_length - 4.0 * (15.0f64 / 12.0).sqrt()).abs() < 1e-9);
    }

    #[test]
    fn filled_disk() {
        let labels = labels_of(41, 41, |r, c| {
            (r as i32 - 20).pow(2) + (c as i32 - 20).pow(2) <= 100
        });
        let p = &measure(&labels, &flat(41, 41)).unwrap()[0];
        assert_eq!(p.area, 317.0);
        assert_eq!((p.centroid_row, p.centroid_col), (20.0, 20.0));
        assert!(p.eccentricity < 1e-9);
        assert!(
            (p.equivalent_diameter_area - (4.0 * 317.0 / std::f64::consts::PI).sqrt()).abs()
                < 1e-12
        );
        // scikit-image's hull runs through pixel-edge midpoints: 341 pixels (its value).
        assert_eq!(p.solidity, 317.0 / 341.0);
        assert!(
            (p.perimeter - 2.0 * std::f64::consts::PI * 10.0).abs() < 4.0,
            "{}",
            p.perimeter
        );
    }

    #[test]
    fn rotated_ellipse_orientation_and_axes() {
        // Ellipse with semi-axes 12 (along the row = col diagonal) and 5.
        let t = std::f64::consts::FRAC_PI_4;
        let labels = labels_of(61, 61, |r, c| {
            let (y, x) = (r as f64 - 30.0, c as f64 - 30.0);
            let u = y * t.cos() + x * t.sin();
            let v = -y * t.sin() + x * t.cos();
            (u / 12.0).powi(2) + (v / 5.0).powi(2) <= 1.0
        });
        let p = &measure(&labels, &flat(61, 61)).unwrap()[0];
        // Symmetric about the diagonal, so the inertia tensor's diagonal terms are equal and
        // scikit-image's degenerate rule applies: b < 0 gives +π/4 (its value here).
        assert_eq!(p.orientation, t);
        assert!(
            (p.axis_major_length - 24.0).abs() < 1.0,
            "{}",
            p.axis_major_length
        );
        assert!(
            (p.axis_minor_length - 10.0).abs() < 1.0,
            "{}",
            p.axis_minor_length
        );
        assert!(p.eccentricity > 0.85);
    }

    #[test]
    fn object_touching_the_border_and_one_pixel_object() {
        let labels = labels_of(10, 10, |r, c| (r < 3 && c < 2) || (r == 7 && c == 7));
        let props = measure(&labels, &flat(10, 10)).unwrap();
        assert_eq!(props.len(), 2);
        assert_eq!(
            (props[0].bbox_min_row, props[0].bbox_min_col, props[0].area),
            (0, 0, 6.0)
        );
        let dot = &props[1];
        assert_eq!(
            (dot.area, dot.centroid_row, dot.centroid_col),
            (1.0, 7.0, 7.0)
        );
        assert_eq!(
            (dot.eccentricity, dot.axis_major_length, dot.perimeter),
            (0.0, 0.0, 0.0)
        );
        assert_eq!(dot.intensity_mean, 707.0);
    }

    #[test]
    fn fields_come_in_the_documented_column_order() {
        let labels = Labels {
            width: 3,
            height: 3,
            data: vec![0, 0, 0, 0, 1, 0, 0, 0, 0].into(),
        };
        let img = Image::from_fn(3, 3, 8, |_, _| 5.0);
        let props = measure(&labels, &img).unwrap();
        let names: Vec<&str> = props[0].fields().iter().map(|f| f.0).collect();
        assert_eq!(names, RegionProps::COLUMNS);
    }

    #[test]
    fn mismatched_sizes_are_an_error() {
        let labels = labels_of(4, 4, |_, _| true);
        assert!(measure(&labels, &flat(5, 4)).is_err());
    }
}
