//! # claim-image: nuclei segmentation and region measurement
//!
//! Owns: loading 8/16-bit grayscale PNG/TIFF (every page of a TIFF stack, and the channels of
//! OME-TIFFs and ImageJ hyperstacks with z projected: [`load_channels`]), Gaussian and
//! median filters, 16-bit-aware Otsu and Li thresholds, a local threshold sized by the typical
//! nucleus radius ([`typical_radius`]), mask clean-up, labelling, a watershed that splits
//! touching objects by shape (distance transform) or by intensity, scikit-image-compatible
//! region properties (per channel too: [`measure_channels`]), growing objects without merging
//! them ([`expand_labels`], [`ring`]), scoring against annotations ([`match_labels`]), and
//! overlays and a gallery page ([`write_gallery`]) a person can look at. Pure Rust, no script engine: `claimsh` binds these to script functions.
//!
//! Uses `imageproc` where it has the operation (morphology) and our own code where it has none,
//! is 8-bit only, or is slow on the main example's path: Otsu on 16-bit data, region
//! properties, watershed, hole filling, median on 16-bit, Li, and — each tested equal to
//! imageproc or scikit-image — run-based labelling, the distance transform and the Gaussian.
//!
//! ```
//! use claim_image::{Image, Mask};
//! let img = Image::from_fn(32, 32, 16, |r, c| if (r as i32 - 16).pow(2) + (c as i32 - 16).pow(2) < 64 { 1000.0 } else { 10.0 });
//! let mask = img.threshold(claim_image::otsu(&img));
//! let labels = mask.label(8);
//! assert_eq!(labels.count(), 1);
//! let props = claim_image::measure(&labels, &img).unwrap();
//! assert_eq!(props[0].area, 193.0);
//! ```

#![deny(missing_docs)]

mod adaptive;
mod channels;
mod error;
mod expand;
mod filters;
mod gallery;
mod image;
mod io;
mod labels;
mod matching;
mod measure;
mod objects;
mod union_find;
mod watershed;

pub use channels::{Axes, ZProjection, axes, channel_names, load_channels};
pub use error::{Error, Result};
pub use expand::{expand_labels, ring};
pub use filters::{li, otsu};
pub use gallery::{Card, Value, write_gallery};
pub use image::{Image, Labels, Mask};
pub use io::{load_image, load_stack, save_image_u16, save_labels, save_mask, save_overlay};
pub use matching::{MatchCounts, match_labels};
pub use measure::{CellProps, ChannelStats, RegionProps, column_order, measure, measure_channels};
pub use watershed::{WatershedOptions, typical_radius, watershed, watershed_by_intensity};
