//! Images: load, filter, threshold, clean up, label, watershed, measure, save (claim-image).

use super::{R, script_error, script_failure, worker};
use claim_image::{Labels, WatershedOptions};
use rhai::plugin::*;
use rhai::{Array, Dynamic, FLOAT, INT, Map, NativeCallContext};

/// Images: load, filter, threshold, clean up, label, watershed, measure, save.
#[export_module]
pub mod image_functions {
    use super::*;

    /// A grayscale image (pixel values in the file's units; floating point once filtered).
    pub type Image = claim_image::Image;
    /// A foreground/background mask.
    pub type Mask = claim_image::Mask;
    /// A label image: 0 is background, one value per object.
    pub type Labels = claim_image::Labels;

    /// Load an 8/16-bit grayscale PNG or TIFF (colour becomes luminance; the first page of a
    /// multi-page TIFF).
    ///
    /// ```rhai
    /// let img = load_image("images/a.tif");
    /// log(`${img.width} x ${img.height}, ${img.bit_depth} bits, ${img.min}..${img.max}`);
    /// ```
    #[rhai_fn(return_raw)]
    pub fn load_image(ctx: NativeCallContext, path: &str) -> R<Image> {
        claim_image::load_image(&worker(&ctx)?.resolve(path)).map_err(script_failure)
    }

    /// Every page of a multi-page TIFF (z-stack, channels, time series) as images.
    ///
    /// ```rhai
    /// let pages = load_stack("stack.tif");
    /// let nuclei = pages[0];
    /// ```
    #[rhai_fn(return_raw)]
    pub fn load_stack(ctx: NativeCallContext, path: &str) -> R<Array> {
        let pages = claim_image::load_stack(&worker(&ctx)?.resolve(path)).map_err(script_failure)?;
        Ok(pages.into_iter().map(Dynamic::from).collect())
    }

    /// Load a label image (e.g. hand-drawn annotations as a 16-bit TIFF/PNG: 0 = background,
    /// one value per object).
    ///
    /// ```rhai
    /// let truth = load_labels("truth/a.png");
    /// log(`${truth.count} annotated objects`);
    /// ```
    #[rhai_fn(return_raw)]
    pub fn load_labels(ctx: NativeCallContext, path: &str) -> R<Labels> {
        let path = worker(&ctx)?.resolve(path);
        let img = claim_image::load_image(&path).map_err(script_failure)?;
        Labels::from_image(&img).map_err(|e| script_error(format!("{}: {e}", path.display())))
    }

    /// The image's width in pixels.
    #[rhai_fn(get = "width", pure)]
    pub fn width(img: &mut Image) -> INT {
        img.width() as INT
    }

    /// The image's height in pixels.
    #[rhai_fn(get = "height", pure)]
    pub fn height(img: &mut Image) -> INT {
        img.height() as INT
    }

    /// The image's bit depth: 8 or 16 as loaded, 32 once filtered.
    #[rhai_fn(get = "bit_depth", pure)]
    pub fn bit_depth(img: &mut Image) -> INT {
        img.bit_depth() as INT
    }

    /// The smallest pixel value.
    #[rhai_fn(get = "min", pure)]
    pub fn min(img: &mut Image) -> FLOAT {
        img.pixels().iter().copied().fold(f32::INFINITY, f32::min) as FLOAT
    }

    /// The largest pixel value.
    #[rhai_fn(get = "max", pure)]
    pub fn max(img: &mut Image) -> FLOAT {
        img.pixels().iter().copied().fold(f32::NEG_INFINITY, f32::max) as FLOAT
    }

    /// Save an image as a 16-bit PNG or TIFF (by the extension).
    ///
    /// ```rhai
    /// save_image(load_image("images/a.tif").gaussian(2.0), "out/a-smooth.tif");
    /// ```
    #[rhai_fn(name = "save_image", return_raw)]
    pub fn save_image(ctx: NativeCallContext, img: Image, path: &str) -> R<()> {
        claim_image::save_image_u16(&img, &worker(&ctx)?.resolve(path)).map_err(script_failure)
    }

    /// Save a mask as a PNG or TIFF of 0 and 255.
    #[rhai_fn(name = "save_image", return_raw)]
    pub fn save_mask(ctx: NativeCallContext, mask: Mask, path: &str) -> R<()> {
        claim_image::save_mask(&mask, &worker(&ctx)?.resolve(path)).map_err(script_failure)
    }

    /// Save labels as a 16-bit PNG or TIFF.
    #[rhai_fn(name = "save_image", return_raw)]
    pub fn save_labels(ctx: NativeCallContext, labels: Labels, path: &str) -> R<()> {
        claim_image::save_labels(&labels, &worker(&ctx)?.resolve(path)).map_err(script_failure)
    }

    /// Gaussian blur (floating-point result, in the image's units): scikit-image's `gaussian`
    /// with `preserve_range` (edges repeated, kernel radius 4 sigma).
    ///
    /// ```rhai
    /// let smooth = load_image("images/a.tif").gaussian(1.5);
    /// ```
    #[rhai_fn(pure, return_raw)]
    pub fn gaussian(img: &mut Image, sigma: FLOAT) -> R<Image> {
        img.gaussian(sigma).map_err(script_failure)
    }

    /// Gaussian blur with a whole-number sigma.
    #[rhai_fn(name = "gaussian", pure, return_raw)]
    pub fn gaussian_int(img: &mut Image, sigma: INT) -> R<Image> {
        img.gaussian(sigma as f64).map_err(script_failure)
    }

    /// Median filter over a square window of the given radius.
    ///
    /// ```rhai
    /// let clean = load_image("images/a.tif").median(2);
    /// ```
    #[rhai_fn(pure, return_raw)]
    pub fn median(img: &mut Image, radius: INT) -> R<Image> {
        img.median(u32::try_from(radius).unwrap_or(0))
            .map_err(script_failure)
    }

    /// Otsu's threshold in the image's units (scikit-image `threshold_otsu`).
    ///
    /// ```rhai
    /// let img = load_image("images/a.tif");
    /// let mask = img.threshold(otsu(img));
    /// ```
    #[rhai_fn(pure)]
    pub fn otsu(img: &mut Image) -> FLOAT {
        claim_image::otsu(img)
    }

    /// Li's minimum cross-entropy threshold (scikit-image `threshold_li`): keeps dim objects when
    /// brightness varies a lot, where Otsu splits bright from dim.
    #[rhai_fn(pure)]
    pub fn li(img: &mut Image) -> FLOAT {
        claim_image::li(img)
    }

    /// The pixels strictly above `t`.
    #[rhai_fn(pure)]
    pub fn threshold(img: &mut Image, t: FLOAT) -> Mask {
        img.threshold(t)
    }

    /// The pixels strictly above a whole-number `t`.
    #[rhai_fn(name = "threshold", pure)]
    pub fn threshold_int(img: &mut Image, t: INT) -> Mask {
        img.threshold(t as f64)
    }

    /// The mean over the (2 radius + 1)² window around each pixel (clipped at the border).
    #[rhai_fn(pure)]
    pub fn local_mean(img: &mut Image, radius: INT) -> Image {
        img.local_mean(u32::try_from(radius).unwrap_or(0))
    }

    /// The pixels above `floor` and brighter than their window's `local_mean` by the fraction
    /// `offset` (both from the image minimum). For uneven background and crowded nuclei:
    /// radius ≈ 2 × the nucleus radius, offset 0.1, floor half-way from `img.min` to
    /// `otsu(img)`.
    ///
    /// ```rhai
    /// let img = load_image("images/a.tif").gaussian(1.0);
    /// let mask = img.threshold_local(15, 0.1, (img.min + otsu(img)) / 2.0);
    /// ```
    #[rhai_fn(pure, return_raw)]
    pub fn threshold_local(img: &mut Image, radius: INT, offset: FLOAT, floor: FLOAT) -> R<Mask> {
        img.threshold_local(u32::try_from(radius).unwrap_or(0), offset, floor)
            .map_err(script_failure)
    }

    /// The typical object radius in pixels: the median over objects of the largest inscribed
    /// disk's radius (clumps of round nuclei do not inflate it). Scale sizes from it.
    #[rhai_fn(pure)]
    pub fn typical_radius(mask: &mut Mask) -> FLOAT {
        claim_image::typical_radius(mask)
    }

    /// Morphological opening with a disk of radius `r` (removes specks and thin bridges).
    ///
    /// ```rhai
    /// let img = load_image("images/a.tif");
    /// let mask = img.threshold(otsu(img)).open(2).close(2).erode(1).dilate(1);
    /// ```
    #[rhai_fn(pure, return_raw)]
    pub fn open(mask: &mut Mask, r: INT) -> R<Mask> {
        mask.open(r).map_err(script_failure)
    }

    /// Morphological closing with a disk of radius `r` (fills small gaps).
    #[rhai_fn(pure, return_raw)]
    pub fn close(mask: &mut Mask, r: INT) -> R<Mask> {
        mask.close(r).map_err(script_failure)
    }

    /// Erosion with a disk of radius `r`.
    #[rhai_fn(pure, return_raw)]
    pub fn erode(mask: &mut Mask, r: INT) -> R<Mask> {
        mask.erode(r).map_err(script_failure)
    }

    /// Dilation with a disk of radius `r`.
    #[rhai_fn(pure, return_raw)]
    pub fn dilate(mask: &mut Mask, r: INT) -> R<Mask> {
        mask.dilate(r).map_err(script_failure)
    }

    /// Fill enclosed background.
    #[rhai_fn(pure)]
    pub fn fill_holes(mask: &mut Mask) -> Mask {
        mask.fill_holes()
    }

    /// The foreground pixels of a mask.
    #[rhai_fn(get = "area", pure)]
    pub fn area(mask: &mut Mask) -> INT {
        mask.area() as INT
    }

    /// Drop objects smaller than `min_area` pixels.
    ///
    /// ```rhai
    /// let img = load_image("images/a.tif");
    /// let mask = img.threshold(otsu(img)).remove_small(30).clear_border();
    /// ```
    #[rhai_fn(pure)]
    pub fn remove_small(mask: &mut Mask, min_area: INT) -> Mask {
        mask.remove_small(min_area.max(0) as usize)
    }

    /// Drop objects touching the border.
    #[rhai_fn(pure)]
    pub fn clear_border(mask: &mut Mask) -> Mask {
        mask.clear_border()
    }

    /// Connected components (8-connectivity).
    ///
    /// ```rhai
    /// let img = load_image("images/a.tif");
    /// let labels = img.threshold(otsu(img)).label();
    /// log(`${labels.count} objects`);
    /// ```
    #[rhai_fn(pure)]
    pub fn label(mask: &mut Mask) -> Labels {
        mask.label(8)
    }

    /// Connected components with 4- or 8-connectivity.
    #[rhai_fn(name = "label", pure, return_raw)]
    pub fn label_connected(mask: &mut Mask, connectivity: INT) -> R<Labels> {
        match connectivity {
            4 | 8 => Ok(mask.label(connectivity as u8)),
            _ => Err(script_error(format!(
                "label: connectivity must be 4 or 8, got {connectivity}"
            ))),
        }
    }

    /// The number of objects.
    #[rhai_fn(get = "count", pure)]
    pub fn count(labels: &mut Labels) -> INT {
        labels.count() as INT
    }

    /// Split touching round objects by shape (distance transform, h-maxima markers; defaults
    /// sigma 1, min_distance 2, h 0.1 px, for nuclei 10-30 px across).
    ///
    /// ```rhai
    /// let img = load_image("images/a.tif");
    /// let nuclei = img.threshold(otsu(img)).fill_holes().watershed();
    /// ```
    #[rhai_fn(pure)]
    pub fn watershed(mask: &mut Mask) -> Labels {
        claim_image::watershed(mask, &WatershedOptions::default())
    }

    /// Split by shape with options `#{sigma, min_distance, h}` over the defaults. For nuclei of
    /// any size scale from `r = typical_radius(mask)`: the main example uses
    /// `#{sigma: 1.0, min_distance: 0.3 * r, h: 0.03 * r}`.
    ///
    /// ```rhai
    /// let img = load_image("images/a.tif");
    /// let mask = img.threshold(otsu(img)).fill_holes();
    /// let r = typical_radius(mask);
    /// let nuclei = mask.watershed(#{sigma: 1.0, min_distance: 0.3 * r, h: 0.03 * r});
    /// ```
    #[rhai_fn(name = "watershed", pure, return_raw)]
    pub fn watershed_with(mask: &mut Mask, options: Map) -> R<Labels> {
        let options = watershed_options(WatershedOptions::default(), options)?;
        Ok(claim_image::watershed(mask, &options))
    }

    /// Split touching objects by intensity: along the dark valleys of `img` (the smoothed
    /// image); h is a relative dip (default 0.05 = 5% darker than the dimmer peak), sigma 0,
    /// min_distance 2. For nuclei brighter in their middle.
    ///
    /// ```rhai
    /// let smooth = load_image("images/a.tif").gaussian(1.0);
    /// let nuclei = smooth.threshold(li(smooth)).fill_holes().watershed(smooth);
    /// ```
    #[rhai_fn(name = "watershed", pure, return_raw)]
    pub fn watershed_by_intensity(mask: &mut Mask, img: Image) -> R<Labels> {
        claim_image::watershed_by_intensity(mask, &img, &WatershedOptions::by_intensity())
            .map_err(script_failure)
    }

    /// Split by intensity with options `#{sigma, min_distance, h}` over the defaults.
    ///
    /// ```rhai
    /// let smooth = load_image("images/a.tif").gaussian(1.0);
    /// let mask = smooth.threshold(li(smooth)).fill_holes();
    /// let nuclei = mask.watershed(smooth, #{h: 0.1});
    /// ```
    #[rhai_fn(name = "watershed", pure, return_raw)]
    pub fn watershed_by_intensity_with(mask: &mut Mask, img: Image, options: Map) -> R<Labels> {
        let options = watershed_options(WatershedOptions::by_intensity(), options)?;
        claim_image::watershed_by_intensity(mask, &img, &options).map_err(script_failure)
    }

    /// One map per object, with scikit-image `regionprops` definitions (`label`, `area`,
    /// `centroid_row`, ...).
    ///
    /// ```rhai
    /// let img = load_image("images/a.tif");
    /// let rows = img.threshold(otsu(img)).label().measure(img);
    /// write_csv(rows, "out/a.csv");
    /// ```
    #[rhai_fn(pure, return_raw)]
    pub fn measure(labels: &mut Labels, img: Image) -> R<Array> {
        let props = claim_image::measure(labels, &img).map_err(script_failure)?;
        Ok(props.iter().map(|p| Dynamic::from(fields_map(p.fields()))).collect())
    }

    /// Score a segmentation against annotations: objects match one-to-one when their
    /// intersection over union is above 0.5. Returns `#{tp, fp, fn, precision, recall, f1}`,
    /// f1 = 2tp / (2tp + fp + fn).
    ///
    /// ```rhai
    /// let img = load_image("images/a.tif");
    /// let score = match_labels(img.threshold(otsu(img)).label(), load_labels("truth/a.png"));
    /// log(`f1 ${score.f1}`);
    /// ```
    #[rhai_fn(pure, return_raw)]
    pub fn match_labels(pred: &mut Labels, truth: Labels) -> R<Map> {
        match_map(pred, &truth, 0.5)
    }

    /// `match_labels` with another intersection-over-union threshold (0.5..1).
    #[rhai_fn(name = "match_labels", pure, return_raw)]
    pub fn match_labels_iou(pred: &mut Labels, truth: Labels, iou: FLOAT) -> R<Map> {
        match_map(pred, &truth, iou)
    }

    /// A PNG of the contrast-stretched image with coloured object outlines.
    ///
    /// ```rhai
    /// let img = load_image("images/a.tif");
    /// save_overlay(img, img.threshold(otsu(img)).label(), "out/a-overlay.png");
    /// ```
    #[rhai_fn(pure, return_raw)]
    pub fn save_overlay(
        ctx: NativeCallContext,
        img: &mut Image,
        labels: Labels,
        path: &str,
    ) -> R<()> {
        claim_image::save_overlay(img, &labels, &worker(&ctx)?.resolve(path))
            .map_err(script_failure)
    }
}

/// One object's measurements as a script map: `label` and the bounding box as ints, the rest
/// as floats.
/// One object's measurements as a script map: integers for the label and the bounding box,
/// floats otherwise.
pub(crate) fn fields_map<N: AsRef<str>>(fields: impl IntoIterator<Item = (N, f64)>) -> Map {
    let mut map = Map::new();
    for (name, value) in fields {
        let name = name.as_ref();
        let v = if value.fract() == 0.0 && (name == "label" || name.starts_with("bbox")) {
            Dynamic::from(value as INT)
        } else {
            Dynamic::from(value)
        };
        map.insert(name.into(), v);
    }
    map
}

/// Script options over the given defaults; unknown keys and non-numbers are errors.
fn watershed_options(mut options: WatershedOptions, o: Map) -> R<WatershedOptions> {
    for (key, value) in o {
        let v = value
            .as_float()
            .or_else(|_| value.as_int().map(|i| i as f64))
            .map_err(|_| script_error(format!("watershed option {key} must be a number")))?;
        match key.as_str() {
            "sigma" => options.sigma = v,
            "min_distance" => options.min_distance = v,
            "h" => options.h = v,
            other => {
                return Err(script_error(format!(
                    "unknown watershed option {other:?} (use sigma, min_distance, h)"
                )));
            }
        }
    }
    Ok(options)
}

/// `match_labels` as a script map `#{tp, fp, fn, precision, recall, f1}`.
fn match_map(pred: &Labels, truth: &Labels, iou: f64) -> R<Map> {
    let m = claim_image::match_labels(pred, truth, iou).map_err(script_failure)?;
    let mut map = Map::new();
    map.insert("tp".into(), Dynamic::from(m.tp as i64));
    map.insert("fp".into(), Dynamic::from(m.fp as i64));
    map.insert("fn".into(), Dynamic::from(m.fn_ as i64));
    map.insert("precision".into(), Dynamic::from(m.precision()));
    map.insert("recall".into(), Dynamic::from(m.recall()));
    map.insert("f1".into(), Dynamic::from(m.f1()));
    Ok(map)
}
