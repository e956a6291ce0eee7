//! Multi-channel microscopy: channels of OME-TIFFs and ImageJ hyperstacks, cells grown around
//! nuclei, every channel measured inside each object, a gallery page to check a batch by eye,
//! and the provenance of a result folder (claim-image, [`crate::provenance`]).
//!
//! Functions that resolve paths find their worker in the engine's tag ([`super::worker`]).

use super::{R, script_error, script_failure, worker};
use crate::worker::Worker;
use claim_image::{Image, Labels, ZProjection};
use rhai::plugin::*;
use rhai::{Array, Dynamic, Map};

fn projection(options: &Map) -> R<ZProjection> {
    let mut z = ZProjection::Max;
    for (key, value) in options {
        if key.as_str() != "z" {
            return Err(script_error(format!(
                "load_channels: unknown option {key:?} (use z)"
            )));
        }
        z = if let Ok(plane) = value.as_int() {
            let plane = usize::try_from(plane)
                .map_err(|_| script_error(format!("load_channels: z plane {plane} < 0")))?;
            ZProjection::Plane(plane)
        } else {
            match value.clone().into_string().unwrap_or_default().as_str() {
                "max" => ZProjection::Max,
                "mean" => ZProjection::Mean,
                "sum" => ZProjection::Sum,
                _ => {
                    return Err(script_error(format!(
                        "load_channels: z must be \"max\", \"mean\", \"sum\" or a plane number, \
                         not {value}"
                    )));
                }
            }
        };
    }
    Ok(z)
}

/// A gallery card from a script row: `image` names it, `overlay` is its thumbnail.
fn card(worker: &Worker, i: usize, row: &Dynamic) -> R<claim_image::Card> {
    let map = row.read_lock::<Map>().ok_or_else(|| {
        script_error(format!(
            "write_gallery: row {i} is a {}, not a map",
            row.type_name()
        ))
    })?;
    let text = |key: &str| {
        map.get(key).map(|v| v.to_string()).ok_or_else(|| {
            script_error(format!(
                "write_gallery: row {i} has no {key:?} (each row needs image and overlay)"
            ))
        })
    };
    let mut card = claim_image::Card::new(text("image")?, worker.resolve(&text("overlay")?));
    for key in claim_image::column_order(map.keys().map(|k| k.as_str())) {
        if key == "image" || key == "overlay" {
            continue;
        }
        let v = &map[key.as_str()];
        let value = match (v.as_float(), v.as_int()) {
            (Ok(f), _) => claim_image::Value::Number(f),
            (_, Ok(n)) => claim_image::Value::Number(n as f64),
            _ => claim_image::Value::Text(v.to_string()),
        };
        card.columns.push((key, value));
    }
    Ok(card)
}

#[export_module]
pub mod channel_functions {
    use super::*;

    /// The channels of a TIFF, z-planes max-projected.
    /// ```rhai
    /// let ch = load_channels("cells/a01.ome.tif");   // [dna, marker]
    /// ```
    #[rhai_fn(return_raw)]
    pub fn load_channels(ctx: NativeCallContext, path: &str) -> R<Array> {
        load_channels_with(ctx, path, Map::new())
    }

    /// The channels of a TIFF, z-planes projected as `#{z: "max" | "mean" | "sum" | plane}`.
    /// ```rhai
    /// let ch = load_channels("stack.ome.tif", #{ z: "mean" });
    /// ```
    #[rhai_fn(name = "load_channels", return_raw)]
    pub fn load_channels_with(ctx: NativeCallContext, path: &str, options: Map) -> R<Array> {
        let path = worker(&ctx)?.resolve(path);
        let z = projection(&options)?;
        let channels = claim_image::load_channels(&path, z).map_err(script_failure)?;
        Ok(channels.into_iter().map(Dynamic::from).collect())
    }

    /// The channel names of a TIFF (from the OME-XML, else `c0`, `c1`, ...).
    /// ```rhai
    /// let names = channel_names("cells/a01.ome.tif");   // ["DNA", "marker"]
    /// ```
    #[rhai_fn(return_raw)]
    pub fn channel_names(ctx: NativeCallContext, path: &str) -> R<Array> {
        let path = worker(&ctx)?.resolve(path);
        let names = claim_image::channel_names(&path).map_err(script_failure)?;
        Ok(names.into_iter().map(Dynamic::from).collect())
    }

    /// Grow every object by `distance` pixels without merging (scikit-image's expand_labels).
    /// ```rhai
    /// let cells = nuclei.expand_labels(6.0);
    /// ```
    #[rhai_fn(global)]
    pub fn expand_labels(labels: &mut Labels, distance: f64) -> Labels {
        claim_image::expand_labels(labels, distance)
    }

    /// `expand_labels` with a whole number of pixels.
    /// ```rhai
    /// let cells = nuclei.expand_labels(6);
    /// ```
    #[rhai_fn(global, name = "expand_labels")]
    pub fn expand_labels_int(labels: &mut Labels, distance: i64) -> Labels {
        claim_image::expand_labels(labels, distance as f64)
    }

    /// The ring `expand_labels` adds around each object (same labels): a cytoplasm.
    /// ```rhai
    /// let cytoplasm = nuclei.ring(6.0);
    /// ```
    #[rhai_fn(global)]
    pub fn ring(labels: &mut Labels, distance: f64) -> Labels {
        claim_image::ring(labels, distance)
    }

    /// `ring` with a whole number of pixels.
    /// ```rhai
    /// let cytoplasm = nuclei.ring(6);
    /// ```
    #[rhai_fn(global, name = "ring")]
    pub fn ring_int(labels: &mut Labels, distance: i64) -> Labels {
        claim_image::ring(labels, distance as f64)
    }

    /// Measure each named channel inside every object: shape once, then per channel
    /// `intensity_{mean,min,max,std,integrated}_<name>`.
    /// ```rhai
    /// let rows = cells.measure(#{ dna: ch[0], marker: ch[1] });
    /// ```
    #[rhai_fn(global, name = "measure", return_raw)]
    pub fn measure_channels(labels: &mut Labels, channels: Map) -> R<Array> {
        let mut named: Vec<(String, Image)> = Vec::new();
        for (name, value) in channels {
            let type_name = value.type_name();
            let image = value.try_cast::<Image>().ok_or_else(|| {
                script_error(format!(
                    "measure: channel {name:?} is a {type_name}, not an Image"
                ))
            })?;
            named.push((name.to_string(), image));
        }
        let refs: Vec<(&str, &Image)> = named.iter().map(|(n, i)| (n.as_str(), i)).collect();
        let cells = claim_image::measure_channels(labels, &refs).map_err(script_failure)?;
        Ok(cells.into_iter().map(|c| Dynamic::from(crate::api::images::fields_map(c.fields()))).collect())
    }

    /// `write_csv` with constant columns (e.g. the image's name) added to every row.
    /// ```rhai
    /// write_csv(rows, `${out}/${stem}.csv`, #{ image: stem });
    /// ```
    #[rhai_fn(name = "write_csv", return_raw)]
    pub fn write_csv_with(ctx: NativeCallContext, rows: Array, path: &str, constant: Map) -> R<()> {
        let mut tagged = Array::with_capacity(rows.len());
        for (i, row) in rows.into_iter().enumerate() {
            let type_name = row.type_name();
            let mut map = row.try_cast::<Map>().ok_or_else(|| {
                script_error(format!(
                    "write_csv: row {i} is a {type_name}, not an object map"
                ))
            })?;
            map.extend(constant.clone());
            tagged.push(Dynamic::from(map));
        }
        let bytes = crate::api::io::csv_bytes(&tagged, None)?;
        crate::api::io::write_atomic(&worker(&ctx)?.resolve(path), &bytes)
    }

    /// A gallery page: one card per row (`image`, `overlay` and other columns).
    /// ```rhai
    /// write_gallery(summary, `${out}/index.html`);
    /// ```
    #[rhai_fn(return_raw)]
    pub fn write_gallery(ctx: NativeCallContext, rows: Array, path: &str) -> R<()> {
        let worker = worker(&ctx)?;
        let cards = rows
            .iter()
            .enumerate()
            .map(|(i, row)| card(&worker, i, row))
            .collect::<R<Vec<_>>>()?;
        claim_image::write_gallery(&cards, &worker.resolve(path)).map_err(script_failure)
    }

    /// Record this run in `out_dir/provenance.json` (script, SHA-256, version, ARGS, hosts,
    /// start and end times).
    /// ```rhai
    /// provenance(out);
    /// ```
    #[rhai_fn(return_raw)]
    pub fn provenance(ctx: NativeCallContext, out_dir: &str) -> R<()> {
        let worker = worker(&ctx)?;
        crate::provenance::record(&worker.resolve(out_dir), &worker.once_ledger)
            .map_err(|e| script_error(format!("provenance({out_dir:?}): {e}")))
    }
}
