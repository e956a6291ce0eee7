//! One object at a time: the 8-connected objects of a mask, each cut out of the image with a
//! margin, so per-object work (distance transforms, watershed) needs memory for one object's
//! window instead of several full-image buffers, and stays in cache.

use crate::image::Mask;
use crate::labels::Components;

/// A stretch of one object's pixels: `row`, columns `start..end`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Span {
    pub(crate) row: usize,
    pub(crate) start: usize,
    pub(crate) end: usize,
}

/// A window of the image around one object.
pub(crate) struct Window {
    /// Top-left corner in the image (row, col).
    pub(crate) top: usize,
    pub(crate) left: usize,
    /// The mask inside the window: the object, plus every other object's pixels when asked for.
    pub(crate) mask: Mask,
    /// Whether each window pixel belongs to this object.
    pub(crate) own: Vec<bool>,
}

impl Window {
    /// Width of the window.
    pub(crate) fn width(&self) -> usize {
        self.mask.width as usize
    }

    /// The image index of window pixel `i`.
    pub(crate) fn to_image(&self, i: usize, image_width: usize) -> usize {
        let w = self.width();
        (self.top + i / w) * image_width + self.left + i % w
    }
}

/// The objects of `mask` (8-connected), each as its spans in raster order; objects come in the
/// raster order of their first pixel (the order `Mask::label` numbers them).
pub(crate) fn objects(mask: &Mask) -> Vec<Vec<Span>> {
    let components = Components::of(mask, 8);
    let mut number = vec![u32::MAX; components.run_count()];
    let mut objects: Vec<Vec<Span>> = Vec::new();
    for (row, start, end, root) in components.each() {
        if number[root] == u32::MAX {
            number[root] = objects.len() as u32;
            objects.push(Vec::new());
        }
        objects[number[root] as usize].push(Span {
            row: row as usize,
            start: start as usize,
            end: end as usize,
        });
    }
    objects
}

/// The window around `spans` (one object of `mask`) grown by `margin` pixels on each side and
/// clipped to the image. With `neighbours` the window's mask holds every foreground pixel of
/// `mask` in it, else only the object's own.
pub(crate) fn window(mask: &Mask, spans: &[Span], margin: usize, neighbours: bool) -> Window {
    let (w, h) = (mask.width as usize, mask.height as usize);
    let first = spans.first().map_or(0, |s| s.row);
    let last = spans.last().map_or(0, |s| s.row);
    let left = spans.iter().map(|s| s.start).min().unwrap_or(0);
    let right = spans.iter().map(|s| s.end).max().unwrap_or(0);
    let (top, bottom) = (first.saturating_sub(margin), (last + 1 + margin).min(h));
    let (left, right) = (left.saturating_sub(margin), (right + margin).min(w));
    let (ww, wh) = (right - left, bottom - top);
    let mut own = vec![false; ww * wh];
    for s in spans {
        let at = (s.row - top) * ww;
        own[at + s.start - left..at + s.end - left].fill(true);
    }
    let data = if neighbours {
        let mut data = Vec::with_capacity(ww * wh);
        for r in top..bottom {
            data.extend_from_slice(&mask.data[r * w + left..r * w + right]);
        }
        data
    } else {
        own.clone()
    };
    Window {
        top,
        left,
        mask: Mask {
            width: ww as u32,
            height: wh as u32,
            data,
        },
        own,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::Image;

    #[test]
    fn objects_come_in_label_order_with_all_their_pixels() {
        let mask = Image::from_fn(40, 30, 8, |r, c| {
            let ring = ((r as i32 - 15).pow(2) + (c as i32 - 20).pow(2) - 80).abs() < 30;
            (ring || (r * 7 + c * 3) % 19 == 0) as u8 as f32
        })
        .threshold(0.5);
        let labels = mask.label(8);
        let objects = objects(&mask);
        assert_eq!(objects.len(), labels.count() as usize);
        for (n, spans) in objects.iter().enumerate() {
            let pixels: usize = spans.iter().map(|s| s.end - s.start).sum();
            let labelled = labels.data.iter().filter(|&&l| l == n as u32 + 1).count();
            assert_eq!(pixels, labelled, "object {}", n + 1);
            for s in spans {
                assert_eq!(labels.data[s.row * 40 + s.start], n as u32 + 1);
            }
        }
    }

    #[test]
    fn a_window_is_clipped_to_the_image_and_maps_back() {
        let mask = Image::from_fn(10, 8, 8, |r, c| {
            (r < 3 && c < 4 || r == 6 && c == 8) as u8 as f32
        })
        .threshold(0.5);
        let objects = objects(&mask);
        let corner = window(&mask, &objects[0], 2, true);
        assert_eq!((corner.top, corner.left, corner.width()), (0, 0, 6));
        assert_eq!(corner.mask.height, 5);
        let speck = window(&mask, &objects[1], 2, true);
        assert_eq!(
            (speck.top, speck.left, speck.mask.width, speck.mask.height),
            (4, 6, 4, 4)
        );
        let i = speck.own.iter().position(|&o| o).unwrap();
        assert_eq!(speck.to_image(i, 10), 6 * 10 + 8);
        let alone = window(&mask, &objects[0], 7, false);
        assert_eq!(alone.mask.data, alone.own, "no neighbours asked for");
        assert_eq!(alone.mask.area(), 12);
    }
}
