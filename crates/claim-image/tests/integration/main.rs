//! claim-image's integration tests, one binary: `measure` and `gaussian` against scikit-image's
//! answers (`regionprops`), and the bundled real images through the whole pipeline
//! (`real_images`); channels, expand_labels and per-channel measurements (`channels`).

mod channels;
mod real_images;
mod regionprops;

use std::path::PathBuf;

/// A bundled real image (`datasets/real`, see its README).
fn real(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../datasets/real")
        .join(name)
}
