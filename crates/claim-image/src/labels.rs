//! Connected-component labelling.

use crate::image::{Labels, Mask};
use image::{GrayImage, Luma};
use imageproc::region_labelling::{Connectivity, connected_components};

impl Mask {
    /// Label connected objects (`connectivity` 8 or 4), numbered 1.. in raster order.
    pub fn label(&self, connectivity: u8) -> Labels {
        let gray = GrayImage::from_raw(
            self.width,
            self.height,
            self.data.iter().map(|&b| b as u8).collect(),
        )
        .expect("mask size matches");
        let conn = if connectivity == 4 {
            Connectivity::Four
        } else {
            Connectivity::Eight
        };
        let labelled = connected_components(&gray, conn, Luma([0u8]));
        Labels {
            width: self.width,
            height: self.height,
            data: labelled.into_raw(),
        }
    }
}
