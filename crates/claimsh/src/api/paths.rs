//! Items and paths: `glob`, `stem`, `file_name`, `parent`, `join`, `with_ext`, `exists`, `mkdir`.
//! Relative paths resolve against the script's directory so every node agrees.

use super::{FnDoc, R, script_error};
use crate::worker::Worker;
use rhai::{Array, Dynamic, Engine};
use std::path::Path;
use std::sync::Arc;

pub const DOCS: &[FnDoc] = &[
    FnDoc {
        signature: "glob(pattern: String) -> Array",
        about: "Sorted paths matching the pattern (relative to the script's folder, as written).",
    },
    FnDoc {
        signature: "stem(path: String) -> String",
        about: "File name without its extension.",
    },
    FnDoc {
        signature: "file_name(path: String) -> String",
        about: "Last component of a path.",
    },
    FnDoc {
        signature: "parent(path: String) -> String",
        about: "The path without its last component.",
    },
    FnDoc {
        signature: "join(a: String, b: String) -> String",
        about: "Join two path pieces.",
    },
    FnDoc {
        signature: "with_ext(path: String, ext: String) -> String",
        about: "The path with its extension replaced.",
    },
    FnDoc {
        signature: "exists(path: String) -> bool",
        about: "Whether the file or folder exists.",
    },
    FnDoc {
        signature: "mkdir(path: String)",
        about: "Create a folder and its parents.",
    },
];

pub fn register(engine: &mut Engine, worker: &Arc<Worker>) {
    let w = worker.clone();
    engine.register_fn("glob", move |pattern: &str| -> R<Array> {
        let full = w.resolve(pattern);
        let base = w.process.script_dir.clone();
        let paths = glob::glob(&full.to_string_lossy())
            .map_err(|e| script_error(format!("bad glob pattern {pattern:?}: {e}")))?;
        let mut out: Vec<String> = Vec::new();
        for path in paths {
            let path = path.map_err(|e| script_error(format!("glob {pattern:?}: {e}")))?;
            let shown = if Path::new(pattern).is_absolute() {
                path
            } else {
                path.strip_prefix(&base)
                    .map(Path::to_path_buf)
                    .unwrap_or(path)
            };
            out.push(shown.to_string_lossy().into_owned());
        }
        out.sort();
        Ok(out.into_iter().map(Dynamic::from).collect())
    });
    engine.register_fn("stem", |p: &str| os(Path::new(p).file_stem()));
    engine.register_fn("file_name", |p: &str| os(Path::new(p).file_name()));
    engine.register_fn("parent", |p: &str| {
        Path::new(p)
            .parent()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    engine.register_fn("join", |a: &str, b: &str| {
        Path::new(a).join(b).to_string_lossy().into_owned()
    });
    engine.register_fn("with_ext", |p: &str, ext: &str| {
        Path::new(p)
            .with_extension(ext.trim_start_matches('.'))
            .to_string_lossy()
            .into_owned()
    });
    let w = worker.clone();
    engine.register_fn("exists", move |p: &str| w.resolve(p).exists());
    let w = worker.clone();
    engine.register_fn("mkdir", move |p: &str| -> R<()> {
        let path = w.resolve(p);
        std::fs::create_dir_all(&path)
            .map_err(|e| script_error(format!("mkdir {}: {e}", path.display())))
    });
}

fn os(part: Option<&std::ffi::OsStr>) -> String {
    part.map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}
