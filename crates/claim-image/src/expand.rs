//! Growing labelled objects without merging them: scikit-image's `expand_labels` (every
//! background pixel within `distance` of an object takes the label of its nearest object pixel)
//! and the ring that growth adds around each object (a cytoplasm around its nucleus).
//!
//! The nearest object pixel comes from the exact Euclidean feature transform of Maurer, Qi and
//! Raghavan (2003), the algorithm behind scipy's `distance_transform_edt(return_indices=True)`,
//! with the same tie rules, so pixels equally far from two objects get the label scikit-image
//! gives them: first along each column the nearest object pixel, the upper one on a tie; then
//! along each row the nearest of those, the leftmost on a tie.

use crate::image::Labels;

/// Every background pixel within `distance` (Euclidean, in pixels) of an object takes the label
/// of the nearest object pixel; objects never overwrite each other. Equal to scikit-image's
/// `segmentation.expand_labels(labels, distance)`, ties included.
pub fn expand_labels(labels: &Labels, distance: f64) -> Labels {
    let nearest = nearest_object_pixels(labels);
    let w = labels.width as usize;
    let data = nearest
        .iter()
        .enumerate()
        .map(|(i, near)| match near {
            Some((r, c)) => {
                let (dr, dc) = ((i / w) as i64 - r, (i % w) as i64 - c);
                if ((dr * dr + dc * dc) as f64).sqrt() <= distance {
                    labels.data[*r as usize * w + *c as usize]
                } else {
                    0
                }
            }
            None => 0,
        })
        .collect();
    Labels {
        width: labels.width,
        height: labels.height,
        data,
    }
}

/// The pixels that [`expand_labels`] adds around each object, with the object's label (zero on
/// the objects themselves and beyond `distance`): the cytoplasm ring around a nucleus.
pub fn ring(labels: &Labels, distance: f64) -> Labels {
    let mut grown = expand_labels(labels, distance);
    for (g, &l) in grown.data.iter_mut().zip(&labels.data) {
        if l != 0 {
            *g = 0;
        }
    }
    grown
}

/// For every pixel, the (row, col) of its nearest object pixel; `None` when there is no object.
fn nearest_object_pixels(labels: &Labels) -> Vec<Option<(i64, i64)>> {
    let (w, h) = (labels.width as usize, labels.height as usize);
    let mut nearest: Vec<Option<(i64, i64)>> = labels
        .data
        .iter()
        .enumerate()
        .map(|(i, &l)| (l != 0).then_some(((i / w) as i64, (i % w) as i64)))
        .collect();
    let mut line = Vec::with_capacity(w.max(h));
    let mut scratch = Voronoi::default();
    for c in 0..w {
        line.clear();
        line.extend((0..h).map(|r| nearest[r * w + c]));
        scratch.nearest_along(&mut line, Axis::Column(c as i64));
        for (r, site) in line.iter().enumerate() {
            nearest[r * w + c] = *site;
        }
    }
    for r in 0..h {
        scratch.nearest_along(&mut nearest[r * w..(r + 1) * w], Axis::Row(r as i64));
    }
    nearest
}

/// The line being swept: a column (moving along rows) or a row (moving along columns), with
/// its fixed coordinate.
#[derive(Clone, Copy)]
enum Axis {
    Column(i64),
    Row(i64),
}

impl Axis {
    /// A site's position along the line and its squared distance from the line.
    fn split(self, (r, c): (i64, i64)) -> (i64, i64) {
        match self {
            Axis::Column(col) => (r, (c - col) * (c - col)),
            Axis::Row(row) => (c, (r - row) * (r - row)),
        }
    }
}

/// Reused buffers of one line sweep.
#[derive(Default)]
struct Voronoi {
    /// Indices into the line of the sites whose Voronoi cells cross it, in order.
    kept: Vec<usize>,
}

impl Voronoi {
    /// Replace every entry of `line` by the nearest of the line's sites (its `Some` entries).
    /// Integer arithmetic, exact; the comparisons are scipy's (`<= 0` keeps a site, `<=`
    /// keeps the earlier one), which decides the ties.
    fn nearest_along(&mut self, line: &mut [Option<(i64, i64)>], axis: Axis) {
        self.kept.clear();
        for (i, site) in line.iter().enumerate() {
            let Some(site) = *site else { continue };
            let (fd, w_r) = axis.split(site);
            while self.kept.len() >= 2 {
                let n = self.kept.len();
                let (f1, v_r) = axis.split(line[self.kept[n - 1]].expect("kept sites are sites"));
                let (f2, u_r) = axis.split(line[self.kept[n - 2]].expect("kept sites are sites"));
                let (a, b) = (f1 - f2, fd - f1);
                let c = a + b;
                if c * v_r - b * u_r - a * w_r - a * b * c <= 0 {
                    break;
                }
                self.kept.pop();
            }
            self.kept.push(i);
        }
        if self.kept.is_empty() {
            return;
        }
        let sites: Vec<(i64, i64)> = self
            .kept
            .iter()
            .map(|&k| line[k].expect("a site"))
            .collect();
        let squared = |site: (i64, i64), at: i64| {
            let (along, across) = axis.split(site);
            (along - at) * (along - at) + across
        };
        let mut l = 0;
        for (i, entry) in line.iter_mut().enumerate() {
            let at = i as i64;
            let mut best = squared(sites[l], at);
            while l + 1 < sites.len() {
                let next = squared(sites[l + 1], at);
                if best <= next {
                    break;
                }
                best = next;
                l += 1;
            }
            *entry = Some(sites[l]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(rows: &[&[u32]]) -> Labels {
        Labels {
            width: rows[0].len() as u32,
            height: rows.len() as u32,
            data: rows.concat().into(),
        }
    }

    #[test]
    fn scikit_image_docstring_examples() {
        let line = labels(&[&[0, 1, 0, 0, 0, 0, 2]]);
        assert_eq!(expand_labels(&line, 1.0).pixels(), [1, 1, 1, 0, 0, 2, 2]);
        assert_eq!(expand_labels(&line, 3.0).pixels(), [1, 1, 1, 1, 2, 2, 2]);
        let tied = labels(&[&[0, 1, 0, 2, 0]]);
        assert_eq!(expand_labels(&tied, 1.0).pixels(), [1, 1, 1, 2, 2]);
        let grid = labels(&[&[0, 1, 0, 0], &[2, 0, 0, 0], &[0, 3, 0, 0]]);
        assert_eq!(
            expand_labels(&grid, 1.0).pixels(),
            [2, 1, 1, 0, 2, 2, 0, 0, 2, 3, 3, 0]
        );
    }

    #[test]
    fn the_ring_is_the_growth_only_with_the_objects_labels() {
        let dot = labels(&[&[0, 0, 0, 0, 0], &[0, 0, 7, 0, 0], &[0, 0, 0, 0, 0]]);
        let ring = ring(&dot, 1.0);
        assert_eq!(ring.pixels(), [0, 0, 7, 0, 0, 0, 7, 0, 7, 0, 0, 0, 7, 0, 0]);
    }

    #[test]
    fn no_objects_stay_no_objects() {
        let empty = labels(&[&[0, 0], &[0, 0]]);
        assert_eq!(expand_labels(&empty, 5.0), empty);
    }
}
