//! Items and paths: `glob`, `stem`, `file_name`, `parent`, `join`, `with_ext`, `exists`, `mkdir`.
//! Relative paths resolve against the script's directory so every node agrees.

use super::{R, script_error, worker};
use rhai::plugin::*;
use rhai::{Array, Dynamic, NativeCallContext};
use std::path::Path;

/// Items and paths.
#[export_module]
pub mod path_functions {
    use super::*;

    /// Sorted paths matching the pattern (relative to the script's folder, shown as written).
    ///
    /// ```rhai
    /// let images = glob("images/*.tif");   // ["images/a.tif", "images/b.tif", ...]
    /// ```
    #[rhai_fn(return_raw)]
    pub fn glob(ctx: NativeCallContext, pattern: &str) -> R<Array> {
        let w = worker(&ctx)?;
        let full = w.resolve(pattern);
        let base = &w.process.script_dir;
        let paths = glob::glob(&full.to_string_lossy())
            .map_err(|e| script_error(format!("bad glob pattern {pattern:?}: {e}")))?;
        let mut out: Vec<String> = Vec::new();
        for path in paths {
            let path = path.map_err(|e| script_error(format!("glob {pattern:?}: {e}")))?;
            let shown = if Path::new(pattern).is_absolute() {
                path
            } else {
                path.strip_prefix(base)
                    .map(Path::to_path_buf)
                    .unwrap_or(path)
            };
            out.push(shown.to_string_lossy().into_owned());
        }
        out.sort();
        Ok(out.into_iter().map(Dynamic::from).collect())
    }

    /// The file name without its extension.
    ///
    /// ```rhai
    /// stem("images/a.tif")   // "a"
    /// ```
    pub fn stem(path: &str) -> String {
        os(Path::new(path).file_stem())
    }

    /// The last component of a path.
    ///
    /// ```rhai
    /// file_name("images/a.tif")   // "a.tif"
    /// ```
    pub fn file_name(path: &str) -> String {
        os(Path::new(path).file_name())
    }

    /// The path without its last component.
    ///
    /// ```rhai
    /// parent("images/a.tif")   // "images"
    /// ```
    pub fn parent(path: &str) -> String {
        Path::new(path)
            .parent()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// Join two path pieces.
    ///
    /// ```rhai
    /// join("out", "a.csv")   // "out/a.csv"
    /// ```
    pub fn join(a: &str, b: &str) -> String {
        Path::new(a).join(b).to_string_lossy().into_owned()
    }

    /// The path with its extension replaced.
    ///
    /// ```rhai
    /// with_ext("images/a.tif", "png")   // "images/a.png"
    /// ```
    pub fn with_ext(path: &str, ext: &str) -> String {
        Path::new(path)
            .with_extension(ext.trim_start_matches('.'))
            .to_string_lossy()
            .into_owned()
    }

    /// Whether the file or folder exists.
    #[rhai_fn(return_raw)]
    pub fn exists(ctx: NativeCallContext, path: &str) -> R<bool> {
        Ok(worker(&ctx)?.resolve(path).exists())
    }

    /// Create a folder and its parents.
    ///
    /// ```rhai
    /// mkdir("out/plots");
    /// ```
    #[rhai_fn(return_raw)]
    pub fn mkdir(ctx: NativeCallContext, path: &str) -> R<()> {
        let path = worker(&ctx)?.resolve(path);
        std::fs::create_dir_all(&path)
            .map_err(|e| script_error(format!("mkdir {}: {e}", path.display())))
    }
}

fn os(part: Option<&std::ffi::OsStr>) -> String {
    part.map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}
