//! Image errors; each names the file or the argument at fault.

use std::path::PathBuf;

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or decoded.
    #[error("{}: {detail}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// A bad argument (sigma ≤ 0, sizes that differ, ...).
    #[error("{0}")]
    Argument(String),
}

/// Result alias.
pub type Result<T> = std::result::Result<T, Error>;
