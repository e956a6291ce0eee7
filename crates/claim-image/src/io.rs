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
        data: data.into(),
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
    let format = format_of(path)?;
    write_beside(path, |tmp| {
        encode(&buffer, tmp, format).map_err(|e| e.to_string())
    })
}

/// PNG or TIFF, from the file's extension.
fn format_of(path: &Path) -> Result<image::ImageFormat> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "png" => Ok(image::ImageFormat::Png),
        "tif" | "tiff" => Ok(image::ImageFormat::Tiff),
        _ => Err(file_error(
            path,
            "unsupported format: use .png, .tif or .tiff",
        )),
    }
}

/// Run `write` on a temporary file next to `path` (its folder created if missing), then rename
/// it to `path`, so readers never see a half-written image. The temporary name is unique to
/// this write (process, counter, clock): two workers saving the same output at once (a redone
/// item) must not rename each other's file away.
fn write_beside(
    path: &Path,
    write: impl FnOnce(&Path) -> std::result::Result<(), String>,
) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.is_dir()) {
        std::fs::create_dir_all(dir).map_err(|e| file_error(dir, e))?;
    }
    let tmp = temporary_beside(path);
    let written = write(&tmp)
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
    save_u16(img.width, img.height, data, path)
}

/// A 16-bit grayscale PNG or TIFF; TIFFs straight through the `tiff` encoder (the label image
/// of every item is one: no second copy of the pixels on the way).
fn save_u16(width: u32, height: u32, data: Vec<u16>, path: &Path) -> Result<()> {
    if format_of(path)? == image::ImageFormat::Png {
        let buffer =
            ImageBuffer::<Luma<u16>, Vec<u16>>::from_raw(width, height, data).expect("size");
        return save(DynamicImage::ImageLuma16(buffer), path);
    }
    write_beside(path, |tmp| {
        use tiff::encoder::{TiffEncoder, colortype::Gray16};
        let file = std::fs::File::create(tmp).map_err(|e| e.to_string())?;
        TiffEncoder::new(std::io::BufWriter::new(file))
            .and_then(|mut tiff| tiff.write_image::<Gray16>(width, height, &data))
            .map_err(|e| e.to_string())
    })
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
    let mut largest = 0;
    let data = labels
        .data
        .iter()
        .map(|&l| {
            largest = largest.max(l);
            l as u16
        })
        .collect();
    if largest > u16::MAX as u32 {
        return Err(file_error(
            path,
            "more than 65535 labels do not fit a 16-bit image",
        ));
    }
    save_u16(labels.width, labels.height, data, path)
}

/// An RGB image (PNG, or TIFF by the extension): the image contrast-stretched (0.5–99.5
/// percentile), each object's outline drawn in its own colour. A PNG is encoded row by row as
/// the rows are drawn, so memory stays a few rows whatever the image size.
pub fn save_overlay(img: &Image, labels: &Labels, path: &Path) -> Result<()> {
    if (img.width, img.height) != (labels.width, labels.height) {
        return Err(Error::Argument(
            "save_overlay: image and labels differ in size".into(),
        ));
    }
    let overlay = Overlay::new(img, labels);
    let (w, h) = (img.width as usize, img.height as usize);
    if format_of(path)? == image::ImageFormat::Tiff {
        let mut out = vec![0u8; 3 * w * h];
        for (r, line) in out.chunks_mut(3 * w.max(1)).enumerate().take(h) {
            overlay.row(r, line);
        }
        let buffer = ImageBuffer::<Rgb<u8>, Vec<u8>>::from_raw(img.width, img.height, out)
            .expect("size matches");
        return save(DynamicImage::ImageRgb8(buffer), path);
    }
    write_beside(path, |tmp| {
        stream_png(tmp, img.width, img.height, |r, line| overlay.row(r, line))
            .map_err(|e| e.to_string())
    })
}

/// Write an 8-bit RGB PNG whose row `r` `draw(r, row)` fills (fast compression, as `encode`).
fn stream_png(
    path: &Path,
    width: u32,
    height: u32,
    draw: impl Fn(usize, &mut [u8]),
) -> std::result::Result<(), png::EncodingError> {
    use std::io::Write as _;
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut encoder = png::Encoder::new(file, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    encoder.set_filter(png::Filter::Adaptive);
    let mut stream = encoder.write_header()?.into_stream_writer()?;
    let mut line = vec![0u8; 3 * width as usize];
    for r in 0..height as usize {
        draw(r, &mut line);
        stream.write_all(&line)?;
    }
    stream.finish()
}

/// How an overlay's pixels are drawn.
struct Overlay<'a> {
    img: &'a Image,
    labels: &'a Labels,
    lo: f32,
    hi: f32,
}

impl<'a> Overlay<'a> {
    fn new(img: &'a Image, labels: &'a Labels) -> Overlay<'a> {
        let (lo, hi) = percentiles_05_995(img);
        Overlay {
            img,
            labels,
            lo,
            hi: hi.max(lo + 1.0),
        }
    }

    /// Row `r` as RGB bytes: outline pixels (a 4-neighbour with another label, or the image
    /// edge) in their object's colour, the rest gray.
    fn row(&self, r: usize, out: &mut [u8]) {
        let (w, h) = (self.img.width as usize, self.img.height as usize);
        let labels = &self.labels.data;
        let here = &labels[r * w..(r + 1) * w];
        let above = (r > 0).then(|| &labels[(r - 1) * w..r * w]);
        let below = (r + 1 < h).then(|| &labels[(r + 1) * w..(r + 2) * w]);
        let values = &self.img.data[r * w..(r + 1) * w];
        let scale = 1.0 / (self.hi - self.lo);
        for (c, pixel) in out.chunks_exact_mut(3).enumerate() {
            let l = here[c];
            let differs = |line: Option<&[u32]>| line.is_none_or(|line| line[c] != l);
            let edge = l > 0
                && (c == 0
                    || c + 1 == w
                    || here[c - 1] != l
                    || here[c + 1] != l
                    || differs(above)
                    || differs(below));
            let rgb = if edge {
                hsv((l.wrapping_mul(2654435761) >> 8) as f32 / 16777216.0)
            } else {
                let g = (((values[c] - self.lo) * scale).clamp(0.0, 1.0) * 255.0) as u8;
                [g, g, g]
            };
            pixel.copy_from_slice(&rgb);
        }
    }
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
    fn an_overlay_outlines_each_object_in_colour_over_the_gray_image() {
        let dir = tempfile::tempdir().unwrap();
        let img = Image::from_fn(30, 20, 16, |y, x| (100 + 10 * x + y) as f32);
        let labels = Labels {
            width: 30,
            height: 20,
            data: (0..600)
                .map(|i| {
                    let (y, x) = (i / 30, i % 30);
                    if (5..12).contains(&y) && (4..11).contains(&x) {
                        1
                    } else {
                        u32::from(x >= 26) * 2
                    }
                })
                .collect(),
        };
        let (png, tif) = (dir.path().join("o.png"), dir.path().join("o.tif"));
        save_overlay(&img, &labels, &png).unwrap();
        save_overlay(&img, &labels, &tif).unwrap();
        let (a, b) = (image::open(&png).unwrap(), image::open(&tif).unwrap());
        assert_eq!(a.to_rgb8(), b.to_rgb8(), "PNG (streamed) and TIFF agree");
        let rgb = a.to_rgb8();
        let gray = |y, x| {
            rgb.get_pixel(x, y)
                .0
                .iter()
                .all(|&v| v == rgb.get_pixel(x, y).0[0])
        };
        assert!(gray(0, 0) && gray(8, 7), "background and inside are gray");
        assert!(
            !gray(5, 7) && !gray(8, 4) && !gray(11, 10),
            "the outline is coloured"
        );
        assert!(
            !gray(0, 29) && !gray(10, 26),
            "an object at the edge is outlined there"
        );
        assert_ne!(
            rgb.get_pixel(4, 5),
            rgb.get_pixel(26, 10),
            "objects differ in colour"
        );
        let err = save_overlay(&img, &labels, &dir.path().join("o.jpg")).unwrap_err();
        assert!(err.to_string().contains("o.jpg"), "{err}");
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
