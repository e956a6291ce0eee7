//! Output: `write_text`, `read_text`, `write_csv`, `read_csv`, `concat_csv`. Every write is atomic
//! (temporary file + rename), so no reader, on any node, ever sees a torn file.

use super::{R, script_error, script_failure, worker};
use crate::worker::Worker;
use rhai::plugin::*;
use rhai::{Array, Dynamic, Map, NativeCallContext};
use std::path::Path;

/// Reading and writing files, atomically.
#[export_module]
pub mod io_functions {
    use super::*;

    /// Write a text file atomically (creating its parent folders).
    ///
    /// ```rhai
    /// write_text("out/note.txt", `made on ${host()}`);
    /// ```
    #[rhai_fn(return_raw)]
    pub fn write_text(ctx: NativeCallContext, path: &str, text: &str) -> R<()> {
        write_atomic(&worker(&ctx)?.resolve(path), text.as_bytes())
    }

    /// Read a text file.
    ///
    /// ```rhai
    /// let lines = read_text("list.txt").split("\n");
    /// ```
    #[rhai_fn(return_raw)]
    pub fn read_text(ctx: NativeCallContext, path: &str) -> R<String> {
        let path = worker(&ctx)?.resolve(path);
        std::fs::read_to_string(&path)
            .map_err(|e| script_error(format!("read {}: {e}", path.display())))
    }

    /// Write object maps as CSV, atomically; floats in shortest round-trip form. Columns: the
    /// other keys alphabetically, then `measure()`'s keys in regionprops order (`label`, `area`,
    /// `centroid_row`, ...).
    ///
    /// ```rhai
    /// write_csv([#{file: "a.tif", count: 3}, #{file: "b.tif", count: 5}], "out/counts.csv");
    /// ```
    #[rhai_fn(return_raw)]
    pub fn write_csv(ctx: NativeCallContext, rows: Array, path: &str) -> R<()> {
        let bytes = csv_bytes(&rows, None)?;
        write_atomic(&worker(&ctx)?.resolve(path), &bytes)
    }

    /// The same with exactly these columns, in this order (every row must have them).
    ///
    /// ```rhai
    /// let rows = [#{file: "a.tif", count: 3, note: "x"}];
    /// write_csv(rows, "out/counts.csv", ["file", "count"]);
    /// ```
    #[rhai_fn(name = "write_csv", return_raw)]
    pub fn write_csv_columns(
        ctx: NativeCallContext,
        rows: Array,
        path: &str,
        columns: Array,
    ) -> R<()> {
        let columns = columns.iter().map(|c| c.to_string()).collect();
        let bytes = csv_bytes(&rows, Some(columns))?;
        write_atomic(&worker(&ctx)?.resolve(path), &bytes)
    }

    /// Read a CSV file into object maps (numbers become numbers).
    ///
    /// ```rhai
    /// for row in read_csv("out/counts.csv") { log(`${row.file}: ${row.count}`); }
    /// ```
    #[rhai_fn(return_raw)]
    pub fn read_csv(ctx: NativeCallContext, path: &str) -> R<Array> {
        super::read_csv(&worker(&ctx)?.resolve(path))
    }

    /// Concatenate CSV files with the same header into one, atomically.
    ///
    /// ```rhai
    /// concat_csv(glob("out/*.csv"), "all.csv");
    /// ```
    #[rhai_fn(return_raw)]
    pub fn concat_csv(ctx: NativeCallContext, paths: Array, out: &str) -> R<()> {
        super::concat_csv(&*worker(&ctx)?, &paths, out)
    }
}

/// `concat_csv`: the files' lines under their common header, written atomically to `out`.
fn concat_csv(w: &Worker, paths: &Array, out: &str) -> R<()> {
    let mut header: Option<String> = None;
    let mut body = String::new();
    for p in paths {
        let path = w.resolve(&p.to_string());
        let text = std::fs::read_to_string(&path)
            .map_err(|e| script_error(format!("concat_csv: read {}: {e}", path.display())))?;
        let mut lines = text.lines();
        let head = lines.next().unwrap_or_default().to_string();
        match &header {
            None => header = Some(head),
            Some(h) if *h != head => {
                return Err(script_error(format!(
                    "concat_csv: {} has header {head:?}, expected {h:?}",
                    path.display()
                )));
            }
            _ => {}
        }
        for line in lines {
            body.push_str(line);
            body.push('\n');
        }
    }
    let text = format!("{}\n{body}", header.unwrap_or_default());
    write_atomic(&w.resolve(out), text.as_bytes())
}

/// Write `bytes` to `path` atomically, creating parent folders.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> R<()> {
    // `mkdir` of an existing folder is surprisingly slow on some filesystems (about 1 ms here),
    // so look before creating.
    if let Some(dir) = path.parent().filter(|d| !d.is_dir()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| script_error(format!("create folder {}: {e}", dir.display())))?;
    }
    claim_core::atomic_write(path, bytes).map_err(script_failure)
}

fn cell(value: &Dynamic) -> String {
    if let Ok(f) = value.as_float() {
        return format!("{f}");
    }
    if value.is_unit() {
        return String::new();
    }
    value.to_string()
}

/// The default column order: keys that are not measure() fields alphabetically (an `image`
/// or `file` column first, typically), then measure()'s fields in regionprops order, then the
/// per-channel columns channel by channel (`claim_image::column_order`).
fn default_columns(map: &Map) -> Vec<String> {
    claim_image::column_order(map.keys().map(|k| k.as_str()))
}

pub(crate) fn csv_bytes(rows: &Array, columns: Option<Vec<String>>) -> R<Vec<u8>> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let explicit = columns.is_some();
    let mut header = columns;
    for (i, row) in rows.iter().enumerate() {
        let map = row.read_lock::<Map>().ok_or_else(|| {
            script_error(format!(
                "write_csv: row {i} is a {}, not an object map",
                row.type_name()
            ))
        })?;
        let columns = header.get_or_insert_with(|| default_columns(&map));
        if i == 0 {
            writer
                .write_record(columns.iter())
                .map_err(script_failure)?;
        }
        if let Some(missing) = columns.iter().find(|c| !map.contains_key(c.as_str())) {
            return Err(script_error(format!(
                "write_csv: row {i} has no {missing:?} (columns {columns:?})"
            )));
        }
        if !explicit && map.len() != columns.len() {
            let keys: Vec<&str> = map.keys().map(|k| k.as_str()).collect();
            return Err(script_error(format!(
                "write_csv: row {i} has keys {keys:?}, row 0 has {columns:?}"
            )));
        }
        let cells = columns.iter().map(|c| cell(&map[c.as_str()]));
        writer.write_record(cells).map_err(script_failure)?;
    }
    if let (true, Some(columns)) = (rows.is_empty(), &header) {
        // No rows but named columns: still a header, so the file can be concatenated.
        writer
            .write_record(columns.iter())
            .map_err(script_failure)?;
    }
    writer.into_inner().map_err(script_failure)
}

fn read_csv(path: &Path) -> R<Array> {
    let mut reader = csv::Reader::from_path(path)
        .map_err(|e| script_error(format!("read_csv {}: {e}", path.display())))?;
    let headers = reader
        .headers()
        .map_err(|e| script_error(format!("read_csv {}: {e}", path.display())))?
        .clone();
    let mut rows = Array::new();
    for (line, record) in reader.records().enumerate() {
        let record = record
            .map_err(|e| script_error(format!("read_csv {}:{}: {e}", path.display(), line + 2)))?;
        let mut map = Map::new();
        for (key, value) in headers.iter().zip(record.iter()) {
            let v = if let Ok(i) = value.parse::<i64>() {
                Dynamic::from(i)
            } else if let Ok(f) = value.parse::<f64>() {
                Dynamic::from(f)
            } else {
                Dynamic::from(value.to_string())
            };
            map.insert(key.into(), v);
        }
        rows.push(Dynamic::from(map));
    }
    Ok(rows)
}
