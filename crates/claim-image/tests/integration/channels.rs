//! Multi-channel functions against scikit-image 0.26 and tifffile: expected values made by
//! `scripts/fixtures/channels_fixtures.py` (versions in `fixtures/channels/meta.json`).
//! `expand_labels` must be identical pixel for pixel (ties included), per-channel measurements
//! within 1e-6 relative, and `load_channels` must read the OME-TIFFs and the ImageJ hyperstack
//! tifffile wrote into the channels numpy expects.

use claim_image::{
    Image, Labels, ZProjection, channel_names, column_order, expand_labels, load_channels,
    load_image, measure_channels, ring,
};
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/channels")
        .join(name)
}

fn labels(name: &str) -> Labels {
    Labels::from_image(&load_image(&fixture(name)).unwrap()).unwrap()
}

fn meta() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("meta.json")).unwrap()).unwrap()
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn expand_labels_equals_scikit_image_pixel_for_pixel_ties_included() {
    let meta = meta();
    let (cases, distances) = (
        strings(&meta["expand_cases"]),
        strings(&meta["expand_distances"]),
    );
    assert_eq!(cases.len(), 4);
    for case in &cases {
        let input = labels(&format!("expand_{case}_labels.png"));
        for distance in &distances {
            let want = labels(&format!("expand_{case}_{distance}.png"));
            let got = expand_labels(&input, distance.parse().unwrap());
            let differ = got
                .pixels()
                .iter()
                .zip(want.pixels())
                .filter(|(a, b)| a != b)
                .count();
            assert_eq!(
                differ, 0,
                "{case} at distance {distance}: {differ} pixels differ"
            );
        }
    }
}

#[test]
fn the_ring_is_the_expansion_without_the_objects() {
    let input = labels("expand_blobs_labels.png");
    let grown = labels("expand_blobs_3.png");
    let ring = ring(&input, 3.0);
    for ((&r, &g), &l) in ring.pixels().iter().zip(grown.pixels()).zip(input.pixels()) {
        assert_eq!(r, if l == 0 { g } else { 0 });
    }
    assert!(ring.pixels().iter().any(|&r| r != 0));
}

fn parse_csv(name: &str) -> (Vec<String>, Vec<Vec<f64>>) {
    let text = std::fs::read_to_string(fixture(name)).unwrap();
    let mut lines = text.lines();
    let header = lines
        .next()
        .unwrap()
        .split(',')
        .map(str::to_string)
        .collect();
    let rows = lines
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    (header, rows)
}

#[test]
fn per_channel_measurements_equal_scikit_image_within_1e_6() {
    let cells = labels("cells_labels.png");
    let names = ["dna", "marker", "ratio"];
    let images: Vec<Image> = names
        .iter()
        .map(|n| load_channels(&fixture(&format!("cells_{n}.tif")), ZProjection::Max).unwrap())
        .map(|mut c| c.remove(0))
        .collect();
    assert_eq!(
        images.iter().map(|i| i.bit_depth()).collect::<Vec<_>>(),
        [16, 8, 32]
    );
    let channels: Vec<(&str, &Image)> = names.iter().copied().zip(&images).collect();
    let measured = measure_channels(&cells, &channels).unwrap();
    let (header, rows) = parse_csv("cells.csv");
    assert_eq!(measured.len(), rows.len());
    let mut bad = Vec::new();
    for (cell, row) in measured.iter().zip(&rows) {
        let fields = cell.fields();
        let keys: Vec<&str> = fields.iter().map(|f| f.0.as_str()).collect();
        assert_eq!(keys, header, "columns: shape once, then each channel");
        for ((key, got), &want) in fields.iter().zip(row) {
            if (got - want).abs() > 1e-6 * want.abs().max(got.abs()) + 1e-12 {
                bad.push(format!(
                    "label {} {key}: ours {got}, scikit-image {want}",
                    row[0]
                ));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "{} mismatches:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn measurement_columns_come_shape_first_then_channel_by_channel() {
    let keys = [
        "intensity_max_dna",
        "area",
        "image",
        "intensity_mean_marker",
        "label",
        "intensity_mean_dna",
    ];
    assert_eq!(
        column_order(keys),
        [
            "image",
            "label",
            "area",
            "intensity_mean_dna",
            "intensity_max_dna",
            "intensity_mean_marker"
        ]
    );
}

fn stacks() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("stacks.json")).unwrap()).unwrap()
}

fn assert_channels(file: &str, z: ZProjection, expected: &serde_json::Value) {
    let got = load_channels(&fixture(file), z).unwrap();
    let want = expected.as_array().unwrap();
    assert_eq!(got.len(), want.len(), "{file} {z:?}: channels");
    for (c, (image, rows)) in got.iter().zip(want).enumerate() {
        let want: Vec<f64> = rows
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()))
            .collect();
        assert_eq!(
            image.pixels().len(),
            want.len(),
            "{file} {z:?} channel {c}: size"
        );
        for (i, (&g, &w)) in image.pixels().iter().zip(&want).enumerate() {
            // Stored as f32: exact for 8/16-bit data, within f32 rounding for means and floats.
            let ok = (g as f64 - w).abs() <= 1e-6 * w.abs().max(1.0);
            assert!(
                ok,
                "{file} {z:?} channel {c} pixel {i}: ours {g}, numpy {w}"
            );
        }
    }
}

#[test]
fn load_channels_reads_ome_tiffs_and_imagej_hyperstacks_as_numpy_does() {
    let stacks = stacks();
    let files = stacks.as_object().unwrap();
    assert_eq!(files.len(), 4);
    for (file, expected) in files {
        assert_eq!(
            channel_names(&fixture(file)).unwrap(),
            strings(&expected["names"])
        );
        assert_channels(file, ZProjection::Max, &expected["max"]);
        assert_channels(file, ZProjection::Mean, &expected["mean"]);
        assert_channels(file, ZProjection::Sum, &expected["sum"]);
        let planes = if file.starts_with("cyx") { 0 } else { 1 };
        assert_channels(file, ZProjection::Plane(planes), &expected["plane1"]);
    }
}

#[test]
fn projections_keep_integer_depths_and_make_means_floating_point() {
    let file = fixture("zcyx.ome.tif");
    assert_eq!(
        load_channels(&file, ZProjection::Max).unwrap()[0].bit_depth(),
        16
    );
    assert_eq!(
        load_channels(&file, ZProjection::Plane(3)).unwrap()[1].bit_depth(),
        16
    );
    assert_eq!(
        load_channels(&file, ZProjection::Mean).unwrap()[0].bit_depth(),
        32
    );
}

#[test]
fn a_time_series_is_refused_naming_the_file_and_its_axes() {
    let err = load_channels(&fixture("tcyx.ome.tif"), ZProjection::Max)
        .unwrap_err()
        .to_string();
    assert!(err.contains("tcyx.ome.tif"), "{err}");
    assert!(
        err.contains("time series") && err.contains("T=2") && err.contains("C=2"),
        "{err}"
    );
}

#[test]
fn a_plane_beyond_the_stack_is_an_error_naming_the_count() {
    let err = load_channels(&fixture("zcyx.ome.tif"), ZProjection::Plane(4))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("zcyx.ome.tif") && err.contains("has 4"),
        "{err}"
    );
}

#[test]
fn a_plain_multi_page_tiff_has_a_channel_per_page() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plain.tif");
    let mut encoder =
        tiff::encoder::TiffEncoder::new(std::fs::File::create(&path).unwrap()).unwrap();
    for page in 0..3u16 {
        let data: Vec<u16> = (0..12).map(|i| 100 * page + i).collect();
        encoder
            .write_image::<tiff::encoder::colortype::Gray16>(4, 3, &data)
            .unwrap();
    }
    let channels = load_channels(&path, ZProjection::Max).unwrap();
    assert_eq!(channels.len(), 3);
    assert_eq!(channels[2].at(2, 3), 211.0);
    assert_eq!(channel_names(&path).unwrap(), ["c0", "c1", "c2"]);
}
