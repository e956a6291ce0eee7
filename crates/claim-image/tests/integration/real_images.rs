//! The bundled real images (`datasets/real`, see its README) go through the same operations as
//! the synthetic nuclei, with answers a person can check by eye.

use crate::real;
use claim_image::{RegionProps, li, load_image, measure};

/// Load a bundled real image, blur (σ 2), Li threshold, fill holes, drop objects under
/// `min_area` pixels, label and measure.
fn objects_in(name: &str, min_area: usize) -> Vec<RegionProps> {
    let img = load_image(&real(name)).unwrap();
    let smooth = img.gaussian(2.0).unwrap();
    let labels = smooth
        .threshold(li(&smooth))
        .fill_holes()
        .remove_small(min_area)
        .label(8);
    measure(&labels, &img).unwrap()
}

#[test]
fn the_cell_is_one_round_object_about_12_um_across() {
    // A quantitative-phase image of one cell floating in saline, 0.107 µm per pixel, with a
    // banding artefact in the background that must not come out as objects.
    let img = load_image(&real("cell.png")).unwrap();
    assert_eq!((img.width(), img.height(), img.bit_depth()), (550, 660, 8));
    let cells = objects_in("cell.png", 100);
    assert_eq!(cells.len(), 1, "one cell, no background bands");
    let cell = &cells[0];
    let diameter_um = cell.equivalent_diameter_area * 0.107;
    assert!((10.0..15.0).contains(&diameter_um), "{diameter_um} µm");
    assert!(cell.eccentricity < 0.3, "round: {}", cell.eccentricity);
}

#[test]
fn most_coins_come_out_as_separate_objects() {
    // 24 coins on a background that shares grey levels with some of them: a global threshold
    // finds most but not all (scikit-image's own tutorial needs region growing for the rest).
    let coins = objects_in("coins.png", 500);
    let round = coins.iter().filter(|c| c.eccentricity < 0.6).count();
    assert!((16..=24).contains(&round), "{round} round objects");
}
