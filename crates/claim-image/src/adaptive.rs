//! Thresholds that follow the image: a local (neighbourhood-mean) threshold for uneven
//! background and crowded nuclei, whose window is sized from the nuclei themselves.

use crate::error::{Error, Result};
use crate::image::{Image, Mask};

impl Image {
    /// Mean over the `(2r+1)²` square window around each pixel, the window clipped at the image
    /// border (running sums: the same cost for any radius).
    pub fn local_mean(&self, radius: u32) -> Image {
        let mut data = Vec::with_capacity(self.data.len());
        self.each_row_of_local_means(radius as usize, |_, means| {
            data.extend(means.iter().map(|&m| m as f32));
        });
        Image {
            width: self.width,
            height: self.height,
            bit_depth: 32,
            data: data.into(),
        }
    }

    /// Calls `each(y, means)` for each row `y` in order with the row's local means (as
    /// [`Image::local_mean`]), keeping only one row of sums: memory stays a few rows whatever
    /// the image size. Column sums over the window's rows are updated as the window slides
    /// down; each row's window sums are differences of their running total across.
    fn each_row_of_local_means(&self, radius: usize, mut each: impl FnMut(usize, &[f64])) {
        let (w, h) = (self.width as usize, self.height as usize);
        let mut columns = vec![0f64; w];
        let mut across = vec![0f64; w + 1];
        let mut means = vec![0f64; w];
        let (mut top, mut bottom) = (0, 0); // rows top..bottom are in `columns`
        for y in 0..h {
            let (from, to) = (y.saturating_sub(radius), (y + radius + 1).min(h));
            for row in bottom..to {
                let line = &self.data[row * w..(row + 1) * w];
                columns
                    .iter_mut()
                    .zip(line)
                    .for_each(|(s, &v)| *s += v as f64);
            }
            for row in top..from {
                let line = &self.data[row * w..(row + 1) * w];
                columns
                    .iter_mut()
                    .zip(line)
                    .for_each(|(s, &v)| *s -= v as f64);
            }
            (top, bottom) = (from, to);
            for x in 0..w {
                across[x + 1] = across[x] + columns[x];
            }
            for (x, mean) in means.iter_mut().enumerate() {
                let (x0, x1) = (x.saturating_sub(radius), (x + radius + 1).min(w));
                *mean = (across[x1] - across[x0]) / ((to - from) * (x1 - x0)) as f64;
            }
            each(y, &means);
        }
    }

    /// Local threshold: pixels above `floor` that are also brighter than the mean of their
    /// `(2·radius+1)²` neighbourhood by the fraction `offset`, both measured from the image's
    /// minimum (so an offset means the same over any background level).
    ///
    /// With a window about two nucleus diameters wide (`radius` ≈ 2× the nucleus radius) this
    /// finds dim nuclei beside bright ones and parts crowded nuclei along the darker gaps
    /// between them, where one global threshold merges them; `floor` (e.g. half-way from the
    /// minimum to Otsu's threshold) keeps the noise of empty background out.
    pub fn threshold_local(&self, radius: u32, offset: f64, floor: f64) -> Result<Mask> {
        if !(offset > -1.0 && offset.is_finite() && floor.is_finite()) {
            return Err(Error::Argument(format!(
                "threshold_local: offset must be > -1 and floor finite, got {offset} and {floor}"
            )));
        }
        let lo = self.data.iter().copied().fold(f32::INFINITY, f32::min) as f64;
        let w = self.width as usize;
        let mut data = Vec::with_capacity(self.data.len());
        self.each_row_of_local_means(radius.max(1) as usize, |y, means| {
            let line = &self.data[y * w..(y + 1) * w];
            data.extend(line.iter().zip(means).map(|(&v, &m)| {
                let v = v as f64;
                v > floor && v - lo > (m as f32 as f64 - lo) * (1.0 + offset)
            }));
        });
        Ok(Mask {
            width: self.width,
            height: self.height,
            data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_mean_matches_the_plain_sum_window() {
        let img = Image::from_fn(13, 9, 16, |r, c| ((r * 31 + c * 17) % 23) as f32);
        let mean = img.local_mean(2);
        for r in 0..9i64 {
            for c in 0..13i64 {
                let mut values = Vec::new();
                for rr in (r - 2).max(0)..=(r + 2).min(8) {
                    for cc in (c - 2).max(0)..=(c + 2).min(12) {
                        values.push(img.at(rr as u32, cc as u32) as f64);
                    }
                }
                let want = values.iter().sum::<f64>() / values.len() as f64;
                let got = mean.at(r as u32, c as u32) as f64;
                assert!((got - want).abs() < 1e-4, "({r}, {c}): {got} vs {want}");
            }
        }
    }

    #[test]
    fn a_dim_spot_on_a_bright_slope_is_found_locally() {
        // Background rises from 100 to 1100 left to right; a spot 60 above it on the bright
        // side, and one 60 above it on the dark side: a global cut keeps one or neither.
        let img = Image::from_fn(100, 40, 16, |r, c| {
            let spot = |cr: f32, cc: f32| ((r as f32 - cr).powi(2) + (c as f32 - cc).powi(2)) < 9.0;
            100.0
                + 10.0 * c as f32
                + if spot(20.0, 15.0) || spot(20.0, 85.0) {
                    300.0
                } else {
                    0.0
                }
        });
        let mask = img.threshold_local(6, 0.05, 0.0).unwrap();
        assert!(mask.data[20 * 100 + 15] && mask.data[20 * 100 + 85]);
        let labels = mask.remove_small(5).label(8);
        assert_eq!(labels.count(), 2, "only the two spots");
        assert!(img.threshold_local(6, f64::NAN, 0.0).is_err());
    }
}
