//! The three value types: a grayscale image, a binary mask, and a label image. Their pixel
//! buffers always hold width × height values: the fields are private to this crate, and
//! `from_pixels` checks the size.

use crate::{Error, Result};
use std::sync::Arc;

/// A grayscale image. Values are kept as `f32` in the image's own units (0..65535 for 16-bit);
/// `bit_depth` is 8 or 16 for integer images as loaded, 32 once filtered to floating point.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    /// Width in pixels.
    pub(crate) width: u32,
    /// Height in pixels.
    pub(crate) height: u32,
    /// 8, 16 (integer values) or 32 (floating point).
    pub(crate) bit_depth: u8,
    /// Row-major pixel values.
    pub(crate) data: Pixels<f32>,
}

/// A binary mask (row-major, `true` = foreground).
#[derive(Debug, Clone, PartialEq)]
pub struct Mask {
    /// Width.
    pub(crate) width: u32,
    /// Height.
    pub(crate) height: u32,
    /// Row-major pixels.
    pub(crate) data: Vec<bool>,
}

/// A label image: 0 is background, objects are 1..=count.
#[derive(Debug, Clone, PartialEq)]
pub struct Labels {
    /// Width.
    pub(crate) width: u32,
    /// Height.
    pub(crate) height: u32,
    /// Row-major labels.
    pub(crate) data: Pixels<u32>,
}

/// A pixel buffer shared between copies until one of them changes it: Rhai copies values
/// freely (function arguments, `let b = a;`), and a 4096² image is 64 MiB.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Pixels<T>(Arc<Vec<T>>);

impl<T> From<Vec<T>> for Pixels<T> {
    fn from(values: Vec<T>) -> Self {
        Pixels(Arc::new(values))
    }
}

impl<T> FromIterator<T> for Pixels<T> {
    fn from_iter<I: IntoIterator<Item = T>>(values: I) -> Self {
        Pixels(Arc::new(values.into_iter().collect()))
    }
}

impl<T> std::ops::Deref for Pixels<T> {
    type Target = Vec<T>;
    fn deref(&self) -> &Vec<T> {
        &self.0
    }
}

impl<T: Clone> std::ops::DerefMut for Pixels<T> {
    /// The buffer to change, copied first if another value shares it.
    fn deref_mut(&mut self) -> &mut Vec<T> {
        Arc::make_mut(&mut self.0)
    }
}

impl<'a, T> IntoIterator for &'a Pixels<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<T: Clone> From<Pixels<T>> for Vec<T> {
    /// The values, taken out (copied only if shared).
    fn from(pixels: Pixels<T>) -> Vec<T> {
        Arc::try_unwrap(pixels.0).unwrap_or_else(|shared| (*shared).clone())
    }
}

/// The pixel count `width × height`, or an error naming `what` if `len` differs from it.
fn checked_len(what: &str, width: u32, height: u32, len: usize) -> Result<()> {
    let want = width as u64 * height as u64;
    if len as u64 != want {
        return Err(Error::Argument(format!(
            "{what}: {len} pixels given for a {width}×{height} image ({want} needed)"
        )));
    }
    Ok(())
}

/// Size accessors shared by the three types.
macro_rules! size_accessors {
    ($pixel:ty) => {
        /// Width in pixels.
        pub fn width(&self) -> u32 {
            self.width
        }

        /// Height in pixels.
        pub fn height(&self) -> u32 {
            self.height
        }

        /// Row-major pixels.
        pub fn pixels(&self) -> &[$pixel] {
            &self.data
        }

        /// The row-major pixel buffer, taken out.
        #[allow(clippy::useless_conversion)] // a Vec for masks, shared Pixels otherwise
        pub fn into_pixels(self) -> Vec<$pixel> {
            self.data.into()
        }
    };
}

impl Image {
    size_accessors!(f32);

    /// An image of `width × height` row-major values; `bit_depth` is 8 or 16 for integer
    /// values, 32 for floating point. An error if the buffer's length or the depth is wrong.
    pub fn from_pixels(width: u32, height: u32, bit_depth: u8, data: Vec<f32>) -> Result<Image> {
        checked_len("image", width, height, data.len())?;
        if ![8, 16, 32].contains(&bit_depth) {
            return Err(Error::Argument(format!(
                "image: bit depth {bit_depth} (use 8, 16 or 32)"
            )));
        }
        Ok(Image {
            width,
            height,
            bit_depth,
            data: data.into(),
        })
    }

    /// 8, 16 (integer values) or 32 (floating point).
    pub fn bit_depth(&self) -> u8 {
        self.bit_depth
    }

    /// Build an image from a function of (row, col).
    pub fn from_fn(width: u32, height: u32, bit_depth: u8, f: impl Fn(u32, u32) -> f32) -> Image {
        let mut data = Vec::with_capacity((width * height) as usize);
        for r in 0..height {
            for c in 0..width {
                data.push(f(r, c));
            }
        }
        Image {
            width,
            height,
            bit_depth,
            data: data.into(),
        }
    }

    /// Whether values are integers (8- or 16-bit as loaded).
    pub fn is_integer(&self) -> bool {
        self.bit_depth <= 16
    }

    /// Pixels strictly above `t`.
    pub fn threshold(&self, t: f64) -> Mask {
        Mask {
            width: self.width,
            height: self.height,
            data: self.data.iter().map(|&v| v as f64 > t).collect(),
        }
    }

    /// Value at (row, col).
    pub fn at(&self, r: u32, c: u32) -> f32 {
        self.data[(r * self.width + c) as usize]
    }
}

impl Mask {
    size_accessors!(bool);

    /// A mask of `width × height` row-major pixels (`true` = foreground); an error if the
    /// buffer's length is wrong.
    pub fn from_pixels(width: u32, height: u32, data: Vec<bool>) -> Result<Mask> {
        checked_len("mask", width, height, data.len())?;
        Ok(Mask {
            width,
            height,
            data,
        })
    }

    /// An all-background mask.
    pub fn new(width: u32, height: u32) -> Mask {
        Mask {
            width,
            height,
            data: vec![false; (width * height) as usize],
        }
    }

    /// Number of foreground pixels.
    pub fn area(&self) -> usize {
        self.data.iter().filter(|&&b| b).count()
    }
}

impl Labels {
    size_accessors!(u32);

    /// A label image of `width × height` row-major labels (0 = background); an error if the
    /// buffer's length is wrong.
    pub fn from_pixels(width: u32, height: u32, data: Vec<u32>) -> Result<Labels> {
        checked_len("labels", width, height, data.len())?;
        Ok(Labels {
            width,
            height,
            data: data.into(),
        })
    }

    /// Number of objects (the largest label).
    pub fn count(&self) -> u32 {
        self.data.iter().copied().max().unwrap_or(0)
    }

    /// Foreground of all objects.
    pub fn mask(&self) -> Mask {
        Mask {
            width: self.width,
            height: self.height,
            data: self.data.iter().map(|&l| l > 0).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A buffer that does not match the size is refused with both numbers, never stored.
    #[test]
    fn a_buffer_of_the_wrong_size_is_an_error() {
        let err = Image::from_pixels(3, 2, 16, vec![0.0; 5]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "image: 5 pixels given for a 3×2 image (6 needed)"
        );
        assert!(Mask::from_pixels(2, 2, vec![true; 3]).is_err());
        assert!(Labels::from_pixels(2, 2, vec![1; 5]).is_err());
        assert!(Image::from_pixels(1, 1, 12, vec![0.0]).is_err());
        let labels = Labels::from_pixels(2, 1, vec![0, 7]).unwrap();
        assert_eq!((labels.width(), labels.height(), labels.count()), (2, 1, 7));
        assert_eq!(labels.pixels(), [0, 7]);
    }
}
