//! Splitting touching round objects: distance transform, one marker per regional maximum, and
//! marker-controlled flooding confined to the mask.

use crate::image::{Image, Labels, Mask};
use image::{GrayImage, Luma};
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Watershed parameters.
#[derive(Debug, Clone, Copy)]
pub struct WatershedOptions {
    /// Smoothing of the distance map before finding maxima (pixels); 0 = none.
    pub sigma: f64,
    /// A maximum must be at least this far (pixels) from the object edge to seed an object.
    pub min_distance: f64,
    /// h-maxima depth: a maximum seeds its own object only if it rises at least `h` pixels of
    /// distance above the saddle joining it to a higher maximum (larger = fewer splits).
    pub h: f64,
}

impl Default for WatershedOptions {
    /// Defaults for fluorescence nuclei 10–30 px across.
    fn default() -> Self {
        WatershedOptions {
            sigma: 1.0,
            min_distance: 2.0,
            h: 0.1,
        }
    }
}

#[derive(PartialEq)]
struct Entry {
    priority: f32,
    order: u64,
    index: usize,
}

impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        self.priority
            .total_cmp(&other.priority)
            .then(other.order.cmp(&self.order))
    }
}

/// Split the objects of `mask` along the valleys of their distance transform.
pub fn watershed(mask: &Mask, options: &WatershedOptions) -> Labels {
    let (w, h) = (mask.width as usize, mask.height as usize);
    let background = GrayImage::from_raw(
        mask.width,
        mask.height,
        mask.data.iter().map(|&b| (!b) as u8).collect(),
    )
    .expect("mask size matches");
    let squared = imageproc::distance_transform::euclidean_squared_distance_transform(&background);
    let mut dist = Image {
        width: mask.width,
        height: mask.height,
        bit_depth: 32,
        data: squared.pixels().map(|Luma([d])| d.sqrt() as f32).collect(),
    };
    if options.sigma > 0.0
        && let Ok(smooth) = dist.gaussian(options.sigma)
    {
        dist = smooth;
    }
    for (d, &inside) in dist.data.iter_mut().zip(&mask.data) {
        if !inside {
            *d = 0.0;
        }
    }
    let markers = h_maxima(&dist.data, &mask.data, w, h, options);
    flood(&dist.data, &mask.data, markers, w, h, mask)
}

fn neighbours(i: usize, w: usize, h: usize) -> impl Iterator<Item = usize> {
    let (r, c) = ((i / w) as i64, (i % w) as i64);
    (-1..=1i64)
        .flat_map(move |dr| (-1..=1i64).map(move |dc| (dr, dc)))
        .filter_map(move |(dr, dc)| {
            let (rr, cc) = (r + dr, c + dc);
            ((dr, dc) != (0, 0) && rr >= 0 && cc >= 0 && rr < h as i64 && cc < w as i64)
                .then(|| rr as usize * w + cc as usize)
        })
}

/// Markers = regional maxima that survive an h-maxima test: flood from the highest pixels down
/// (union-find by decreasing distance); when two basins meet, the lower one is kept as a separate
/// marker only if its peak rises more than `h` above the meeting level.
fn h_maxima(dist: &[f32], inside: &[bool], w: usize, h: usize, o: &WatershedOptions) -> Vec<u32> {
    let mut order: Vec<usize> = (0..w * h).filter(|&i| inside[i]).collect();
    order.sort_by(|&a, &b| dist[b].total_cmp(&dist[a]));
    let mut parent: Vec<usize> = (0..w * h).collect();
    let mut peak = vec![0f32; w * h];
    let mut seen = vec![false; w * h];
    let mut kept = vec![false; w * h];
    fn find(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    for &i in &order {
        seen[i] = true;
        peak[i] = dist[i];
        for j in neighbours(i, w, h) {
            if !seen[j] {
                continue;
            }
            let (a, b) = (find(&mut parent, i), find(&mut parent, j));
            if a == b {
                continue;
            }
            let (hi, lo) = if peak[a] >= peak[b] { (a, b) } else { (b, a) };
            if (peak[lo] - dist[i]) as f64 >= o.h && peak[lo] as f64 >= o.min_distance {
                kept[lo] = true;
            }
            parent[lo] = hi;
        }
    }
    // Each kept basin root, plus the root of every final component, seeds a marker at its peak.
    let mut markers = vec![0u32; w * h];
    let mut next = 0u32;
    let mut roots: Vec<usize> = order
        .iter()
        .copied()
        .filter(|&i| kept[i] || find(&mut parent, i) == i)
        .collect();
    roots.sort_unstable();
    roots.dedup();
    for root in roots {
        next += 1;
        markers[root] = next;
    }
    markers
}

fn flood(
    dist: &[f32],
    inside: &[bool],
    mut labels: Vec<u32>,
    w: usize,
    h: usize,
    mask: &Mask,
) -> Labels {
    let mut heap = BinaryHeap::new();
    let mut order = 0u64;
    for i in 0..w * h {
        if labels[i] > 0 {
            heap.push(Entry {
                priority: dist[i],
                order,
                index: i,
            });
            order += 1;
        }
    }
    while let Some(Entry { index, .. }) = heap.pop() {
        let label = labels[index];
        for j in neighbours(index, w, h) {
            if inside[j] && labels[j] == 0 {
                labels[j] = label;
                order += 1;
                heap.push(Entry {
                    priority: dist[j],
                    order,
                    index: j,
                });
            }
        }
    }
    Labels {
        width: mask.width,
        height: mask.height,
        data: labels,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disks(centres: &[(f32, f32)], r: f32) -> Mask {
        Image::from_fn(80, 80, 8, |y, x| {
            let inside = centres
                .iter()
                .any(|&(cy, cx)| (y as f32 - cy).powi(2) + (x as f32 - cx).powi(2) <= r * r);
            inside as u8 as f32
        })
        .threshold(0.5)
    }

    #[test]
    fn splits_two_touching_disks() {
        let mask = disks(&[(40.0, 28.0), (40.0, 46.0)], 10.0);
        assert_eq!(mask.label(8).count(), 1, "they touch");
        let labels = watershed(&mask, &WatershedOptions::default());
        assert_eq!(labels.count(), 2);
        assert_ne!(labels.data[40 * 80 + 28], labels.data[40 * 80 + 46]);
    }

    #[test]
    fn splits_three_touching_disks() {
        let mask = disks(&[(30.0, 30.0), (30.0, 48.0), (46.0, 39.0)], 10.0);
        assert_eq!(mask.label(8).count(), 1);
        assert_eq!(watershed(&mask, &WatershedOptions::default()).count(), 3);
    }

    #[test]
    fn keeps_a_single_disk_whole() {
        let mask = disks(&[(40.0, 40.0)], 12.0);
        assert_eq!(watershed(&mask, &WatershedOptions::default()).count(), 1);
    }
}
