//! Reading and writing images, masks, label images and overlays.

use crate::error::{Error, Result};
use crate::image::{Image, Labels, Mask};
use image::{DynamicImage, ImageBuffer, Luma, Rgb};
use std::path::Path;

fn file_error(path: &Path, detail: impl ToString) -> Error {
    Error::File {
        path: path.to_path_buf(),
        detail: detail.to_string(),
    }
}

/// Load an 8- or 16-bit grayscale PNG or TIFF (first page of a multi-page TIFF). Colour images are
/// converted to luminance (with a note on stderr).
pub fn load_image(path: &Path) -> Result<Image> {
    let reader = image::ImageReader::open(path).map_err(|e| file_error(path, e))?;
    let reader = reader
        .with_guessed_format()
        .map_err(|e| file_error(path, e))?;
    let decoded = reader
        .decode()
        .map_err(|e| file_error(path, format!("cannot decode: {e}")))?;
    let (width, height) = (decoded.width(), decoded.height());
    let (bit_depth, data): (u8, Vec<f32>) = match decoded {
        DynamicImage::ImageLuma8(b) => (8, b.into_raw().into_iter().map(f32::from).collect()),
        DynamicImage::ImageLuma16(b) => (16, b.into_raw().into_iter().map(f32::from).collect()),
        other => {
            note_colour(path);
            if other.color().bytes_per_pixel() / other.color().channel_count().max(1) >= 2 {
                (
                    16,
                    other
                        .to_luma16()
                        .into_raw()
                        .into_iter()
                        .map(f32::from)
                        .collect(),
                )
            } else {
                (
                    8,
                    other
                        .to_luma8()
                        .into_raw()
                        .into_iter()
                        .map(f32::from)
                        .collect(),
                )
            }
        }
    };
    Ok(Image {
        width,
        height,
        bit_depth,
        data,
    })
}

/// Colour images are analysed by their luminance; the first one a process meets is a warning
/// (on the console), the rest are noted in the log only.
fn note_colour(path: &Path) {
    static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let message = "not grayscale: using its luminance";
    if WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
        tracing::info!(path = %path.display(), "{message}");
    } else {
        tracing::warn!(path = %path.display(), "{message} (further colour images: log only)");
    }
}

/// Every page of a multi-page TIFF (a z-stack, channels or a time series) as grayscale images
/// (8/16-bit integers or floating point), in file order; [`load_image`] reads the first page
/// only, [`crate::load_channels`] knows which pages are channels.
pub fn load_stack(path: &Path) -> Result<Vec<Image>> {
    Ok(crate::channels::read_pages(path)?.1)
}

fn save(buffer: DynamicImage, path: &Path) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.is_dir()) {
        std::fs::create_dir_all(dir).map_err(|e| file_error(dir, e))?;
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    if !matches!(ext.as_str(), "png" | "tif" | "tiff") {
        return Err(file_error(
            path,
            "unsupported format: use .png, .tif or .tiff",
        ));
    }
    let format = if ext == "png" {
        image::ImageFormat::Png
    } else {
        image::ImageFormat::Tiff
    };
    // Write next to the target and rename, so readers never see a half-written image. The
    // temporary name is unique to this write (process, counter, clock): two workers saving the
    // same output at once (a redone item) must not rename each other's file away.
    let tmp = temporary_beside(path);
    let written = encode(&buffer, &tmp, format)
        .map_err(|e| file_error(path, e))
        .and_then(|()| std::fs::rename(&tmp, path).map_err(|e| file_error(path, e)));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Write `bytes` to `path` atomically (a temporary file beside it, then a rename), creating
/// parent folders.
pub(crate) fn write_file_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.is_dir()) {
        std::fs::create_dir_all(dir).map_err(|e| file_error(dir, e))?;
    }
    let tmp = temporary_beside(path);
    let written = std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| file_error(path, e));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// PNGs with fast compression: the overlays are looked at, not archived, and at the default level
/// writing the overlay was the slowest stage of the main example. The cost: files about 1.9x
/// the size of zlib level 6 (420 kB against 225 kB per 512×512 overlay).
fn encode(
    buffer: &DynamicImage,
    path: &Path,
    format: image::ImageFormat,
) -> image::ImageResult<()> {
    use image::codecs::png::{CompressionType, FilterType, PngEncoder};
    if format != image::ImageFormat::Png {
        return buffer.save_with_format(path, format);
    }
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let encoder = PngEncoder::new_with_quality(file, CompressionType::Fast, FilterType::Adaptive);
    buffer.write_with_encoder(encoder)
}

fn temporary_beside(path: &Path) -> std::path::PathBuf {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("image");
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    // Keep the extension last: the encoder does not care, but a person listing the folder does.
    path.with_file_name(format!(
        ".{name}.{}.{n}.{nanos}.tmp.{ext}",
        std::process::id()
    ))
}

/// The 0.5th and 99.5th percentiles, for the overlay's contrast stretch: from a histogram on
/// 8/16-bit images (one pass), by selection on floating-point ones.
fn percentiles_05_995(img: &Image) -> (f32, f32) {
    let n = img.data.len();
    let (lo_rank, hi_rank) = (n / 200, n - 1 - n / 200);
    if img.is_integer() {
        let mut hist = vec![0usize; 1 << 16];
        for &v in &img.data {
            hist[(v.max(0.0) as usize).min(65535)] += 1;
        }
        let value_at = |rank: usize| {
            let mut seen = 0;
            hist.iter()
                .position(|&count| {
                    seen += count;
                    seen > rank
                })
                .unwrap_or(0) as f32
        };
        return (value_at(lo_rank), value_at(hi_rank));
    }
    let mut values = img.data.clone();
    let lo = *values.select_nth_unstable_by(lo_rank, f32::total_cmp).1;
    let hi = *values.select_nth_unstable_by(hi_rank, f32::total_cmp).1;
    (lo, hi)
}

/// Save an image as 16-bit (values clamped to 0..=65535).
pub fn save_image_u16(img: &Image, path: &Path) -> Result<()> {
    let data = img
        .data
        .iter()
        .map(|&v| v.round().clamp(0.0, 65535.0) as u16)
        .collect();
    let buffer = ImageBuffer::<Luma<u16>, Vec<u16>>::from_raw(img.width, img.height, data)
        .expect("size matches");
    save(DynamicImage::ImageLuma16(buffer), path)
}

/// Save a mask as 8-bit 0/255.
pub fn save_mask(mask: &Mask, path: &Path) -> Result<()> {
    let data = mask.data.iter().map(|&b| if b { 255 } else { 0 }).collect();
    let buffer = ImageBuffer::<Luma<u8>, Vec<u8>>::from_raw(mask.width, mask.height, data)
        .expect("size matches");
    save(DynamicImage::ImageLuma8(buffer), path)
}

/// Save labels as a 16-bit image (more than 65535 objects is an error).
pub fn save_labels(labels: &Labels, path: &Path) -> Result<()> {
    if labels.count() > u16::MAX as u32 {
        return Err(file_error(
            path,
            "more than 65535 labels do not fit a 16-bit image",
        ));
    }
    let data = labels.data.iter().map(|&l| l as u16).collect();
    let buffer = ImageBuffer::<Luma<u16>, Vec<u16>>::from_raw(labels.width, labels.height, data)
        .expect("size matches");
    save(DynamicImage::ImageLuma16(buffer), path)
}

/// An RGB PNG: the image contrast-stretched (0.5–99.5 percentile), each object's outline drawn in
/// its own colour.
pub fn save_overlay(img: &Image, labels: &Labels, path: &Path) -> Result<()> {
    if (img.width, img.height) != (labels.width, labels.height) {
        return Err(Error::Argument(
            "save_overlay: image and labels differ in size".into(),
        ));
    }
    let (lo, hi) = percentiles_05_995(img);
    let hi = hi.max(lo + 1.0);
    let (w, h) = (img.width as i64, img.height as i64);
    let mut out = ImageBuffer::<Rgb<u8>, Vec<u8>>::new(img.width, img.height);
    for r in 0..h {
        for c in 0..w {
            let i = (r * w + c) as usize;
            let l = labels.data[i];
            let edge = l > 0
                && [(-1, 0), (1, 0), (0, -1), (0, 1)].iter().any(|&(dr, dc)| {
                    let (rr, cc) = (r + dr, c + dc);
                    rr < 0
                        || cc < 0
                        || rr >= h
                        || cc >= w
                        || labels.data[(rr * w + cc) as usize] != l
                });
            let pixel = if edge {
                let hue = (l.wrapping_mul(2654435761) >> 8) as f32 / 16777216.0;
                hsv(hue)
            } else {
                let g = (((img.data[i] - lo) / (hi - lo)).clamp(0.0, 1.0) * 255.0) as u8;
                [g, g, g]
            };
            out.put_pixel(c as u32, r as u32, Rgb(pixel));
        }
    }
    save(DynamicImage::ImageRgb8(out), path)
}

fn hsv(h: f32) -> [u8; 3] {
    let x = |n: f32| {
        let k = (n + h * 6.0) % 6.0;
        ((1.0 - (k.min(4.0 - k).clamp(0.0, 1.0))) * 255.0) as u8
    };
    [x(5.0), x(3.0), x(1.0)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use tiff::encoder::{TiffEncoder, colortype};

    fn three_page_tiff(path: &Path) {
        let mut encoder = TiffEncoder::new(std::fs::File::create(path).unwrap()).unwrap();
        for page in 0..3u16 {
            let data: Vec<u16> = (0..12).map(|i| 1000 * page + i).collect();
            encoder
                .write_image::<colortype::Gray16>(4, 3, &data)
                .unwrap();
        }
    }

    #[test]
    fn a_stack_has_every_page_and_load_image_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stack.tif");
        three_page_tiff(&path);
        let pages = load_stack(&path).unwrap();
        assert_eq!(pages.len(), 3);
        for (k, page) in pages.iter().enumerate() {
            assert_eq!((page.width, page.height, page.bit_depth), (4, 3, 16));
            assert_eq!(page.at(2, 3), 1000.0 * k as f32 + 11.0);
        }
        assert_eq!(load_image(&path).unwrap().data, pages[0].data);
    }

    #[test]
    fn a_stack_of_a_non_tiff_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("not.tif");
        std::fs::write(&path, "hello").unwrap();
        let err = load_stack(&path).unwrap_err().to_string();
        assert!(err.contains("not.tif") && err.contains("TIFF"), "{err}");
    }

    #[test]
    fn workers_saving_the_same_output_at_once_never_fail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("same.png");
        let img = Image::from_fn(64, 64, 16, |y, x| (y * 64 + x) as f32);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..25 {
                        save_image_u16(&img, &path).unwrap();
                    }
                });
            }
        });
        assert_eq!(load_image(&path).unwrap().data, img.data);
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary files left behind");
    }
}
