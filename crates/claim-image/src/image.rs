//! The three value types: a grayscale image, a binary mask, and a label image.

/// A grayscale image. Values are kept as `f32` in the image's own units (0..65535 for 16-bit);
/// `bit_depth` is 8 or 16 for integer images as loaded, 32 once filtered to floating point.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// 8, 16 (integer values) or 32 (floating point).
    pub bit_depth: u8,
    /// Row-major pixel values.
    pub data: Vec<f32>,
}

/// A binary mask (row-major, `true` = foreground).
#[derive(Debug, Clone, PartialEq)]
pub struct Mask {
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// Row-major pixels.
    pub data: Vec<bool>,
}

/// A label image: 0 is background, objects are 1..=count.
#[derive(Debug, Clone, PartialEq)]
pub struct Labels {
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// Row-major labels.
    pub data: Vec<u32>,
}

impl Image {
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
            data,
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
