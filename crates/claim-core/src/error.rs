//! The ledger's errors. Every variant names the file involved and, where there is one, what to do.

use std::path::PathBuf;

/// What went wrong in a ledger operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file operation failed; `path` is the file and `action` what the ledger was doing.
    #[error("{action} {}: {source}{}", path.display(), hint(source))]
    Io {
        /// What the ledger was doing ("create claim", "read state directory", ...).
        action: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The caller no longer owns the claim: it was taken over (the holder looked dead) or removed.
    #[error(
        "claim on {key:?} was lost ({detail}); the item was not published by this worker \
         (another worker took it over after this one stopped heart-beating for a whole lease)"
    )]
    LostClaim {
        /// The item key.
        key: String,
        /// What was found instead of our claim.
        detail: String,
    },
    /// The state directory does not look like a ledger (or is a newer format).
    #[error("{} is not a claim ledger: {detail}", path.display())]
    NotALedger {
        /// The directory.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// The state directory's filesystem lacks a mechanism the ledger needs (see [`crate::probe`]).
    #[error("{detail}")]
    Filesystem {
        /// The state directory.
        path: PathBuf,
        /// The filesystem, what failed and what to do.
        detail: String,
    },
    /// Invalid argument (empty list name, zero lease, ...).
    #[error("{0}")]
    Invalid(String),
}

fn hint(source: &std::io::Error) -> &'static str {
    match source.raw_os_error() {
        Some(28) => " (the disk is full: free space, then run again; claims already made are kept)",
        Some(13) | Some(30) => {
            " (permission denied or read-only: choose a writable --state directory)"
        }
        _ => "",
    }
}

/// Result alias for ledger operations.
pub type Result<T> = std::result::Result<T, Error>;

/// Attach an action and a path to an I/O result.
pub(crate) trait IoContext<T> {
    fn ctx(self, action: &'static str, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, action: &'static str, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|source| Error::Io {
            action,
            path: path.into(),
            source,
        })
    }
}
