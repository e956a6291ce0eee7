//! Multi-channel TIFFs: which pages are channels and which are z-planes, read from the OME-XML
//! (OME-TIFF), from the ImageJ description (hyperstacks), or, for plain multi-page TIFFs, every
//! page a channel; and the projection of each channel's z-planes onto one image.

use crate::error::{Error, Result};
use crate::image::Image;
use std::path::Path;

/// How a channel's z-planes become one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZProjection {
    /// The brightest value along z (keeps the bit depth).
    Max,
    /// The mean along z (floating point).
    Mean,
    /// The sum along z (floating point).
    Sum,
    /// One plane, counted from 0 (keeps the bit depth).
    Plane(usize),
}

/// Where a file's pages sit: `channels × slices × frames` planes starting at page `first_page`,
/// the page of plane (c, z, t) given by `order` (axes from fastest to slowest, e.g. `"CZT"`).
#[derive(Debug, Clone, PartialEq)]
pub struct Axes {
    /// Number of channels (C).
    pub channels: usize,
    /// Number of z-planes (Z).
    pub slices: usize,
    /// Number of time points (T).
    pub frames: usize,
    /// The axes C, Z and T from the fastest-varying page index to the slowest.
    pub order: [char; 3],
    /// One name per channel: from the metadata, else `c0`, `c1`, ...
    pub names: Vec<String>,
    /// Where the axes came from: `"OME-XML"`, `"ImageJ description"` or `"pages"`.
    pub source: &'static str,
    /// The page of plane (0, 0, 0).
    pub first_page: usize,
}

impl Axes {
    /// Plain pages: every page a channel.
    fn pages(count: usize) -> Axes {
        Axes {
            channels: count,
            slices: 1,
            frames: 1,
            order: ['C', 'Z', 'T'],
            names: default_names(count),
            source: "pages",
            first_page: 0,
        }
    }

    /// The page holding channel `c`, plane `z` of the first time point.
    pub fn page(&self, c: usize, z: usize) -> usize {
        let (mut index, mut stride) = (self.first_page, 1);
        for axis in self.order {
            let (at, size) = match axis {
                'C' => (c, self.channels),
                'Z' => (z, self.slices),
                _ => (0, self.frames),
            };
            index += at * stride;
            stride *= size;
        }
        index
    }

    /// `C=2 Z=5 T=1 (OME-XML)`, for messages.
    fn describe(&self) -> String {
        format!(
            "C={} Z={} T={} ({})",
            self.channels, self.slices, self.frames, self.source
        )
    }
}

fn default_names(count: usize) -> Vec<String> {
    (0..count).map(|c| format!("c{c}")).collect()
}

/// The channels of a TIFF, one image each, z-planes projected by `z`. 8/16-bit and
/// floating-point samples; time series and colour (RGB) samples are errors that name the file
/// and the axes found.
pub fn load_channels(path: &Path, z: ZProjection) -> Result<Vec<Image>> {
    let (description, pages) = read_pages(path)?;
    let axes = axes_of(path, description.as_deref(), pages.len())?;
    if let ZProjection::Plane(plane) = z
        && plane >= axes.slices
    {
        return Err(file_error(
            path,
            format!(
                "z plane {plane} asked for, but the file has {} (axes {}); planes count from 0",
                axes.slices,
                axes.describe()
            ),
        ));
    }
    Ok((0..axes.channels)
        .map(|c| {
            let planes: Vec<&Image> = (0..axes.slices).map(|s| &pages[axes.page(c, s)]).collect();
            project(&planes, z)
        })
        .collect())
}

/// The channel names of a TIFF: from the OME-XML, else `c0`, `c1`, ...
pub fn channel_names(path: &Path) -> Result<Vec<String>> {
    Ok(axes(path)?.names)
}

/// Which pages of a TIFF are which channel and z-plane (without decoding pixels).
pub fn axes(path: &Path) -> Result<Axes> {
    let (description, pages) = read_page_count(path)?;
    axes_of(path, description.as_deref(), pages)
}

/// The axes of a TIFF with `pages` pages and this first-page description, checked: one time
/// point, and enough pages for every plane.
fn axes_of(path: &Path, description: Option<&str>, pages: usize) -> Result<Axes> {
    let axes = match description {
        Some(d) if d.trim_start().starts_with("<?xml") || d.contains("<OME") => {
            ome_axes(d).map_err(|e| file_error(path, format!("OME-XML: {e}")))?
        }
        Some(d) if d.starts_with("ImageJ=") => imagej_axes(d, pages),
        _ => Axes::pages(pages),
    };
    if axes.frames > 1 {
        return Err(file_error(
            path,
            format!(
                "a time series (axes {}): load_channels reads one time point; save each time \
                 point as its own file",
                axes.describe()
            ),
        ));
    }
    let needed = axes.first_page + axes.channels * axes.slices;
    if axes.channels == 0 || axes.slices == 0 || pages < needed {
        return Err(file_error(
            path,
            format!(
                "axes {} need {needed} pages but the file has {pages}",
                axes.describe()
            ),
        ));
    }
    Ok(axes)
}

/// Axes from OME-XML: the first image's `Pixels` (`DimensionOrder`, `SizeC/Z/T`, the channels'
/// `Name`s, the first `TiffData`'s `IFD`).
fn ome_axes(xml: &str) -> std::result::Result<Axes, String> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| e.to_string())?;
    let pixels = doc
        .descendants()
        .find(|n| n.tag_name().name() == "Pixels")
        .ok_or("no Pixels element")?;
    let size = |name: &str| -> std::result::Result<usize, String> {
        match pixels.attribute(name) {
            None => Ok(1),
            Some(v) => v
                .parse()
                .map_err(|_| format!("{name}={v:?} is not a count")),
        }
    };
    let order = pixels.attribute("DimensionOrder").unwrap_or("XYCZT");
    let mut zct: Vec<char> = order.strip_prefix("XY").unwrap_or("").chars().collect();
    zct.sort_unstable();
    if zct != ['C', 'T', 'Z'] {
        return Err(format!(
            "DimensionOrder {order:?} is not XY followed by C, Z and T"
        ));
    }
    let order: Vec<char> = order.chars().collect();
    let channels: Vec<roxmltree::Node> = pixels
        .children()
        .filter(|n| n.tag_name().name() == "Channel")
        .collect();
    if let Some(rgb) = channels
        .iter()
        .find(|c| c.attribute("SamplesPerPixel").is_some_and(|s| s != "1"))
    {
        return Err(format!(
            "a channel with SamplesPerPixel={} (colour samples); only one sample per pixel is \
             handled",
            rgb.attribute("SamplesPerPixel").unwrap_or_default()
        ));
    }
    let size_c = size("SizeC")?;
    let mut names = default_names(size_c);
    for (name, channel) in names.iter_mut().zip(&channels) {
        if let Some(n) = channel.attribute("Name").filter(|n| !n.is_empty()) {
            *name = n.to_string();
        }
    }
    let first_page = pixels
        .children()
        .find(|n| n.tag_name().name() == "TiffData")
        .and_then(|t| t.attribute("IFD"))
        .map_or(Ok(0), |v| {
            v.parse().map_err(|_| format!("TiffData IFD={v:?}"))
        })?;
    Ok(Axes {
        channels: size_c,
        slices: size("SizeZ")?,
        frames: size("SizeT")?,
        order: [order[2], order[3], order[4]],
        names,
        source: "OME-XML",
        first_page,
    })
}

/// Axes from an ImageJ description (`channels=`, `slices=`, `frames=`; pages in CZT order).
/// A stack without any of the three is read as plain pages (every page a channel).
fn imagej_axes(description: &str, pages: usize) -> Axes {
    let value = |key: &str| {
        description
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .and_then(|v| v.trim().parse::<usize>().ok())
    };
    let (c, z, t) = (value("channels"), value("slices"), value("frames"));
    if c.is_none() && z.is_none() && t.is_none() {
        return Axes {
            source: "ImageJ description",
            ..Axes::pages(pages)
        };
    }
    let channels = c.unwrap_or(1);
    Axes {
        channels,
        slices: z.unwrap_or(1),
        frames: t.unwrap_or(1),
        order: ['C', 'Z', 'T'],
        names: default_names(channels),
        source: "ImageJ description",
        first_page: 0,
    }
}

/// One channel's planes as one image.
fn project(planes: &[&Image], z: ZProjection) -> Image {
    if planes.len() == 1 {
        return planes[0].clone();
    }
    let first = planes[0];
    let combine = |fold: fn(f64, f32) -> f64, start: f64, scale: f64| {
        let mut data = vec![start; first.data.len()];
        for plane in planes {
            for (acc, &v) in data.iter_mut().zip(&plane.data) {
                *acc = fold(*acc, v);
            }
        }
        data.into_iter().map(|v| (v * scale) as f32).collect()
    };
    let (bit_depth, data) = match z {
        ZProjection::Plane(p) => return planes[p].clone(),
        ZProjection::Max => (
            first.bit_depth,
            combine(|a, v| a.max(v as f64), f64::NEG_INFINITY, 1.0),
        ),
        ZProjection::Sum => (32, combine(|a, v| a + v as f64, 0.0, 1.0)),
        ZProjection::Mean => (
            32,
            combine(|a, v| a + v as f64, 0.0, 1.0 / planes.len() as f64),
        ),
    };
    Image {
        width: first.width,
        height: first.height,
        bit_depth,
        data,
    }
}

fn file_error(path: &Path, detail: impl ToString) -> Error {
    Error::File {
        path: path.to_path_buf(),
        detail: detail.to_string(),
    }
}

fn open_tiff(path: &Path) -> Result<tiff::decoder::Decoder<std::io::BufReader<std::fs::File>>> {
    let file = std::fs::File::open(path).map_err(|e| file_error(path, e))?;
    tiff::decoder::Decoder::new(std::io::BufReader::new(file))
        .map_err(|e| file_error(path, format!("not a readable TIFF: {e}")))
}

fn description_of<R: std::io::Read + std::io::Seek>(
    decoder: &mut tiff::decoder::Decoder<R>,
) -> Option<String> {
    decoder
        .get_tag_ascii_string(tiff::tags::Tag::ImageDescription)
        .ok()
}

/// The first page's description and the number of pages, without decoding pixels.
fn read_page_count(path: &Path) -> Result<(Option<String>, usize)> {
    let mut decoder = open_tiff(path)?;
    let description = description_of(&mut decoder);
    let mut pages = 1;
    while decoder.more_images() {
        decoder
            .next_image()
            .map_err(|e| file_error(path, format!("page {}: {e}", pages + 1)))?;
        pages += 1;
    }
    Ok((description, pages))
}

/// Every page of a TIFF as a grayscale image (8/16-bit integers or floating point, all of one
/// size), with the first page's description.
pub(crate) fn read_pages(path: &Path) -> Result<(Option<String>, Vec<Image>)> {
    let mut decoder = open_tiff(path)?;
    let description = description_of(&mut decoder);
    let mut pages: Vec<Image> = Vec::new();
    loop {
        let page = read_page(&mut decoder, path, pages.len() + 1)?;
        if let Some(first) = pages.first()
            && (first.width, first.height) != (page.width, page.height)
        {
            return Err(file_error(
                path,
                format!(
                    "page {} is {}x{} but page 1 is {}x{}",
                    pages.len() + 1,
                    page.width,
                    page.height,
                    first.width,
                    first.height
                ),
            ));
        }
        pages.push(page);
        if !decoder.more_images() {
            return Ok((description, pages));
        }
        decoder
            .next_image()
            .map_err(|e| file_error(path, format!("page {}: {e}", pages.len() + 1)))?;
    }
}

fn read_page<R: std::io::Read + std::io::Seek>(
    decoder: &mut tiff::decoder::Decoder<R>,
    path: &Path,
    page: usize,
) -> Result<Image> {
    use tiff::ColorType::Gray;
    use tiff::decoder::DecodingResult;
    let at_page = |e: tiff::TiffError| file_error(path, format!("page {page}: {e}"));
    let (width, height) = decoder.dimensions().map_err(at_page)?;
    let colour = decoder.colortype().map_err(at_page)?;
    let (bit_depth, data): (u8, Vec<f32>) = match (decoder.read_image().map_err(at_page)?, colour) {
        (DecodingResult::U8(v), Gray(8)) => (8, v.into_iter().map(f32::from).collect()),
        (DecodingResult::U16(v), Gray(16)) => (16, v.into_iter().map(f32::from).collect()),
        (DecodingResult::F32(v), Gray(32)) => (32, v),
        (DecodingResult::F64(v), Gray(64)) => (32, v.into_iter().map(|x| x as f32).collect()),
        _ => {
            return Err(file_error(
                path,
                format!(
                    "page {page} is {colour:?}; pages must be grayscale: 8- or 16-bit integers \
                     or floating point"
                ),
            ));
        }
    };
    Ok(Image {
        width,
        height,
        bit_depth,
        data: data.into(),
    })
}
