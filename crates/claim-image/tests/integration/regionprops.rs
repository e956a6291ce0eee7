//! `measure` against scikit-image 0.26 `regionprops`: expected values computed by
//! `scripts/fixtures/measure_fixtures.py` (versions in `fixtures/regionprops/meta.json`).
//! Every key must agree within 1e-6 relative; bounding boxes, areas and intensities exactly.
//! Also `gaussian` against `skimage.filters.gaussian` (`scripts/fixtures/gaussian_fixtures.py`).

use crate::real;
use claim_image::{Image, Labels, RegionProps, load_image, measure, otsu};
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/regionprops")
        .join(name)
}

/// Rows of a fixture CSV, checked against our column order.
fn expected(name: &str) -> Vec<Vec<f64>> {
    let text = std::fs::read_to_string(fixture(name)).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header, RegionProps::COLUMNS, "{name}: column order");
    lines
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect()
}

const EXACT: [&str; 9] = [
    "label",
    "area",
    "bbox_min_row",
    "bbox_min_col",
    "bbox_max_row",
    "bbox_max_col",
    "intensity_mean",
    "intensity_min",
    "intensity_max",
];

/// Compare every property of every object; report all mismatches at once.
fn assert_matches(ours: &[RegionProps], name: &str) {
    let want = expected(name);
    assert_eq!(ours.len(), want.len(), "{name}: number of objects");
    let mut bad = Vec::new();
    for (p, row) in ours.iter().zip(&want) {
        for ((key, got), &exp) in p.fields().into_iter().zip(row) {
            let ok = if EXACT.contains(&key) {
                got == exp
            } else {
                (got - exp).abs() <= 1e-6 * exp.abs().max(got.abs()) + 1e-12
            };
            if !ok {
                bad.push(format!(
                    "label {} {key}: ours {got}, scikit-image {exp}",
                    p.label
                ));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "{name}: {} mismatches:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

fn labels_and_image(labels: &str, image: &str) -> (Labels, Image) {
    let labels = Labels::from_image(&load_image(&fixture(labels)).unwrap()).unwrap();
    (labels, load_image(&fixture(image)).unwrap())
}

#[test]
fn coins_otsu_8_connected_equal_scikit_image() {
    let meta = std::fs::read_to_string(fixture("meta.json")).unwrap();
    let coins = load_image(&real("coins.png")).unwrap();
    let t = otsu(&coins);
    assert!(
        meta.contains(&format!("\"coins_otsu\": {t:.1}")),
        "Otsu {t}, meta: {meta}"
    );
    let labels = coins.threshold(t).label(8);
    assert_eq!(labels.count(), 96);
    assert_matches(&measure(&labels, &coins).unwrap(), "coins.csv");
}

#[test]
fn degenerate_shapes_equal_scikit_image() {
    // 1 pixel, 2-pixel rows/columns/diagonals, 3-pixel L's, lines, squares, plus, x, ring.
    let (labels, image) = labels_and_image("shapes_labels.png", "shapes_image.png");
    assert_matches(&measure(&labels, &image).unwrap(), "shapes.csv");
}

#[test]
fn random_irregular_shapes_equal_scikit_image() {
    let (labels, image) = labels_and_image("random_labels.png", "random_image.png");
    assert_matches(&measure(&labels, &image).unwrap(), "random.csv");
}

/// A fixture of `scripts/fixtures/gaussian_fixtures.py`: little-endian f64, row-major.
fn gaussian_fixture(name: &str) -> Vec<f64> {
    let bytes = std::fs::read(fixture(&format!("../gaussian/{name}.f64"))).unwrap();
    bytes
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
        .collect()
}

fn assert_blur_equals(img: &Image, sigma: f64, name: &str) {
    let want = gaussian_fixture(name);
    let got = img.gaussian(sigma).unwrap();
    assert_eq!(got.pixels().len(), want.len(), "{name}");
    for (i, (&g, &e)) in got.pixels().iter().zip(&want).enumerate() {
        let g = g as f64;
        assert!(
            (g - e).abs() <= 1e-4 * e.abs().max(1.0),
            "{name}: pixel {i}: ours {g}, scikit-image {e}"
        );
    }
}

#[test]
fn gaussian_equals_scikit_image() {
    let coins = load_image(&real("coins.png")).unwrap();
    let crop = Image::from_fn(64, 48, 8, |r, c| coins.at(100 + r, 120 + c));
    assert_blur_equals(&crop, 1.0, "coins_s1");
    assert_blur_equals(&crop, 2.5, "coins_s2.5");
    let noise = load_image(&fixture("shapes_image.png")).unwrap();
    assert_blur_equals(&noise, 1.5, "shapes_s1.5");
}
