//! Images: load, filter, threshold, clean up, label, watershed, measure, save (claim-image).

use super::{FnDoc, R, script_error, script_failure};
use crate::worker::Worker;
use claim_image::{Image, Labels, Mask, WatershedOptions};
use rhai::{Array, Dynamic, Engine, Map};
use std::sync::Arc;

pub const DOCS: &[FnDoc] = &[
    FnDoc {
        signature: "load_image(path: String) -> Image",
        about: "Load an 8/16-bit grayscale PNG or TIFF (colour → luminance; first page of a \
                multi-page TIFF).",
    },
    FnDoc {
        signature: "load_stack(path: String) -> Array",
        about: "Every page of a multi-page TIFF (z-stack, channels, time series) as images.",
    },
    FnDoc {
        signature: "load_labels(path: String) -> Labels",
        about: "Load a label image (e.g. hand-drawn annotations as a 16-bit TIFF/PNG: 0 = \
                background, one value per object).",
    },
    FnDoc {
        signature: "img.width / img.height / img.bit_depth -> int",
        about: "Image size and bit depth (32 once filtered).",
    },
    FnDoc {
        signature: "img.min / img.max -> float",
        about: "Smallest and largest pixel value.",
    },
    FnDoc {
        signature: "save_image(x: Image|Mask|Labels, path: String)",
        about: "Save as PNG/TIFF: images 16-bit, masks 0/255, labels 16-bit.",
    },
    FnDoc {
        signature: "gaussian(img: Image, sigma: float) -> Image",
        about: "Gaussian blur (floating-point result, image units): scikit-image's gaussian \
                with preserve_range (edges repeated, kernel radius 4 sigma).",
    },
    FnDoc {
        signature: "median(img: Image, radius: int) -> Image",
        about: "Median filter over a square window.",
    },
    FnDoc {
        signature: "otsu(img: Image) -> float",
        about: "Otsu threshold in the image's units (scikit-image threshold_otsu).",
    },
    FnDoc {
        signature: "li(img: Image) -> float",
        about: "Li's minimum cross-entropy threshold (scikit-image threshold_li): keeps dim \
                objects when brightness varies a lot, where Otsu splits bright from dim.",
    },
    FnDoc {
        signature: "threshold(img: Image, t: float) -> Mask",
        about: "Pixels strictly above t.",
    },
    FnDoc {
        signature: "local_mean(img: Image, radius: int) -> Image",
        about: "Mean over the (2 radius + 1)² window around each pixel (clipped at the border).",
    },
    FnDoc {
        signature: "threshold_local(img: Image, radius: int, offset: float, floor: float) -> Mask",
        about: "Pixels above floor and brighter than their window's local_mean by the fraction \
                offset (both from the image minimum). For uneven background and crowded nuclei: \
                radius ≈ 2 × the nucleus radius, offset 0.1, floor half-way from img.min to \
                otsu(img).",
    },
    FnDoc {
        signature: "typical_radius(mask: Mask) -> float",
        about: "Typical object radius in pixels: the median over objects of the largest inscribed \
                disk's radius (clumps of round nuclei do not inflate it). Scale sizes from it.",
    },
    FnDoc {
        signature: "open(mask, r) / close(mask, r) / erode(mask, r) / dilate(mask, r) -> Mask",
        about: "Morphology with a disk of radius r.",
    },
    FnDoc {
        signature: "fill_holes(mask: Mask) -> Mask",
        about: "Fill enclosed background.",
    },
    FnDoc {
        signature: "mask.area -> int",
        about: "Foreground pixels of a mask.",
    },
    FnDoc {
        signature: "remove_small(mask: Mask, min_area: int) -> Mask",
        about: "Drop objects smaller than min_area pixels.",
    },
    FnDoc {
        signature: "clear_border(mask: Mask) -> Mask",
        about: "Drop objects touching the border.",
    },
    FnDoc {
        signature: "label(mask: Mask) -> Labels / label(mask, 4)",
        about: "Connected components (8- or 4-connectivity).",
    },
    FnDoc {
        signature: "labels.count -> int",
        about: "Number of objects.",
    },
    FnDoc {
        signature: "watershed(mask: Mask) -> Labels / watershed(mask, #{sigma, min_distance, h})",
        about: "Split touching round objects by shape (distance transform, h-maxima markers; \
                defaults sigma 1, min_distance 2, h 0.1 px, for nuclei 10-30 px across). For \
                nuclei of any size scale from r = typical_radius(mask): the main example uses \
                #{sigma: 1.0, min_distance: 0.3 * r, h: 0.03 * r}.",
    },
    FnDoc {
        signature: "watershed(mask: Mask, img: Image) -> Labels / watershed(mask, img, #{...})",
        about: "Split touching objects by intensity: along the dark valleys of img (the smoothed \
                image); h is a relative dip (default 0.05 = 5% darker than the dimmer peak), \
                sigma 0, min_distance 2. For nuclei brighter in their middle.",
    },
    FnDoc {
        signature: "measure(labels: Labels, img: Image) -> Array",
        about: "One map per object with scikit-image regionprops definitions.",
    },
    FnDoc {
        signature: "match_labels(pred: Labels, truth: Labels) -> Map / match_labels(pred, truth, iou)",
        about: "Score a segmentation against annotations: objects match one-to-one when their \
                intersection over union is above iou (default 0.5; 0.5..1). Returns \
                #{tp, fp, fn, precision, recall, f1}, f1 = 2tp / (2tp + fp + fn).",
    },
    FnDoc {
        signature: "save_overlay(img: Image, labels: Labels, path: String)",
        about: "PNG of the contrast-stretched image with coloured object outlines.",
    },
];

pub fn register(engine: &mut Engine, worker: &Arc<Worker>) {
    engine.register_type_with_name::<Image>("Image");
    engine.register_type_with_name::<Mask>("Mask");
    engine.register_type_with_name::<Labels>("Labels");
    engine.register_get("width", |i: &mut Image| i.width as i64);
    engine.register_get("height", |i: &mut Image| i.height as i64);
    engine.register_get("bit_depth", |i: &mut Image| i.bit_depth as i64);
    engine.register_get("min", |i: &mut Image| {
        i.data.iter().copied().fold(f32::INFINITY, f32::min) as f64
    });
    engine.register_get("max", |i: &mut Image| {
        i.data.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64
    });
    engine.register_get("count", |l: &mut Labels| l.count() as i64);
    engine.register_get("area", |m: &mut Mask| m.area() as i64);
    let w = worker.clone();
    engine.register_fn("load_image", move |path: &str| -> R<Image> {
        claim_image::load_image(&w.resolve(path)).map_err(script_failure)
    });
    let w = worker.clone();
    engine.register_fn("load_labels", move |path: &str| -> R<Labels> {
        let path = w.resolve(path);
        let img = claim_image::load_image(&path).map_err(script_failure)?;
        Labels::from_image(&img).map_err(|e| script_error(format!("{}: {e}", path.display())))
    });
    let w = worker.clone();
    engine.register_fn("load_stack", move |path: &str| -> R<Array> {
        let pages = claim_image::load_stack(&w.resolve(path)).map_err(script_failure)?;
        Ok(pages.into_iter().map(Dynamic::from).collect())
    });
    let w = worker.clone();
    engine.register_fn("save_image", move |x: Image, path: &str| -> R<()> {
        claim_image::save_image_u16(&x, &w.resolve(path)).map_err(script_failure)
    });
    let w = worker.clone();
    engine.register_fn("save_image", move |x: Mask, path: &str| -> R<()> {
        claim_image::save_mask(&x, &w.resolve(path)).map_err(script_failure)
    });
    let w = worker.clone();
    engine.register_fn("save_image", move |x: Labels, path: &str| -> R<()> {
        claim_image::save_labels(&x, &w.resolve(path)).map_err(script_failure)
    });
    engine.register_fn("gaussian", |i: &mut Image, sigma: f64| -> R<Image> {
        i.gaussian(sigma).map_err(script_failure)
    });
    engine.register_fn("gaussian", |i: &mut Image, sigma: i64| -> R<Image> {
        i.gaussian(sigma as f64).map_err(script_failure)
    });
    engine.register_fn("median", |i: &mut Image, radius: i64| -> R<Image> {
        i.median(u32::try_from(radius).unwrap_or(0))
            .map_err(script_failure)
    });
    engine.register_fn("otsu", |i: &mut Image| claim_image::otsu(i));
    engine.register_fn("li", |i: &mut Image| claim_image::li(i));
    engine.register_fn("threshold", |i: &mut Image, t: f64| i.threshold(t));
    engine.register_fn("threshold", |i: &mut Image, t: i64| i.threshold(t as f64));
    engine.register_fn("local_mean", |i: &mut Image, r: i64| {
        i.local_mean(u32::try_from(r).unwrap_or(0))
    });
    engine.register_fn(
        "threshold_local",
        |i: &mut Image, r: i64, offset: f64, floor: f64| -> R<Mask> {
            i.threshold_local(u32::try_from(r).unwrap_or(0), offset, floor)
                .map_err(script_failure)
        },
    );
    engine.register_fn("typical_radius", |m: &mut Mask| {
        claim_image::typical_radius(m)
    });
    engine.register_fn("open", |m: &mut Mask, r: i64| -> R<Mask> {
        m.open(r).map_err(script_failure)
    });
    engine.register_fn("close", |m: &mut Mask, r: i64| -> R<Mask> {
        m.close(r).map_err(script_failure)
    });
    engine.register_fn("erode", |m: &mut Mask, r: i64| -> R<Mask> {
        m.erode(r).map_err(script_failure)
    });
    engine.register_fn("dilate", |m: &mut Mask, r: i64| -> R<Mask> {
        m.dilate(r).map_err(script_failure)
    });
    engine.register_fn("fill_holes", |m: &mut Mask| m.fill_holes());
    engine.register_fn("remove_small", |m: &mut Mask, a: i64| {
        m.remove_small(a.max(0) as usize)
    });
    engine.register_fn("clear_border", |m: &mut Mask| m.clear_border());
    engine.register_fn("label", |m: &mut Mask| m.label(8));
    engine.register_fn("label", |m: &mut Mask, conn: i64| -> R<Labels> {
        match conn {
            4 | 8 => Ok(m.label(conn as u8)),
            _ => Err(script_error(format!(
                "label: connectivity must be 4 or 8, got {conn}"
            ))),
        }
    });
    engine.register_fn("watershed", |m: &mut Mask| {
        claim_image::watershed(m, &WatershedOptions::default())
    });
    engine.register_fn("watershed", |m: &mut Mask, o: Map| -> R<Labels> {
        let options = watershed_options(WatershedOptions::default(), o)?;
        Ok(claim_image::watershed(m, &options))
    });
    engine.register_fn("watershed", |m: &mut Mask, img: Image| -> R<Labels> {
        claim_image::watershed_by_intensity(m, &img, &WatershedOptions::by_intensity())
            .map_err(script_failure)
    });
    engine.register_fn(
        "watershed",
        |m: &mut Mask, img: Image, o: Map| -> R<Labels> {
            let options = watershed_options(WatershedOptions::by_intensity(), o)?;
            claim_image::watershed_by_intensity(m, &img, &options).map_err(script_failure)
        },
    );
    engine.register_fn("measure", |l: &mut Labels, i: Image| -> R<Array> {
        let props = claim_image::measure(l, &i).map_err(script_failure)?;
        Ok(props
            .iter()
            .map(|p| {
                let mut map = Map::new();
                for (name, value) in p.fields() {
                    let v = if value.fract() == 0.0 && (name == "label" || name.starts_with("bbox"))
                    {
                        Dynamic::from(value as i64)
                    } else {
                        Dynamic::from(value)
                    };
                    map.insert(name.into(), v);
                }
                Dynamic::from(map)
            })
            .collect())
    });
    engine.register_fn("match_labels", |p: &mut Labels, t: Labels| {
        match_map(p, &t, 0.5)
    });
    engine.register_fn("match_labels", |p: &mut Labels, t: Labels, iou: f64| {
        match_map(p, &t, iou)
    });
    let w = worker.clone();
    engine.register_fn(
        "save_overlay",
        move |i: &mut Image, l: Labels, path: &str| -> R<()> {
            claim_image::save_overlay(i, &l, &w.resolve(path)).map_err(script_failure)
        },
    );
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
