//! Multi-channel cells: the two-channel example (`examples/measure-cells.rhai` on
//! `datasets/cells`) recovers the known per-cell marker levels, `provenance.json` says what
//! produced a result folder even when several processes share it, and the gallery page works
//! in a real browser (headless Chromium: every thumbnail loads, sorting from the URL works).
//! Without `chromium` the browser test prints `skipped: ...` and passes, unless
//! `CLAIMSH_REQUIRE_ALL_TESTS` is set.

use crate::util::{self, workspace};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn claimsh(dir: &Path, host: &str, args: &[&str]) -> Command {
    let mut command = util::claimsh();
    command
        .current_dir(dir)
        .env("CLAIMSH_HOST", host)
        .arg(args[0])
        .args(["-q", "--no-progress"])
        .args(&args[1..]);
    command
}

fn assert_ok(out: &Output) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
}

/// Run the two-channel example from a copy in `work` (so no state lands in the repository) on
/// the bundled images; the output folder.
fn run_the_example(work: &Path) -> PathBuf {
    let script = work.join("examples/measure-cells.rhai");
    std::fs::create_dir_all(script.parent().unwrap()).unwrap();
    std::fs::copy(workspace().join("examples/measure-cells.rhai"), &script).unwrap();
    let data = workspace().join("datasets/cells");
    let out = work.join("out");
    let args = [
        "examples/measure-cells.rhai",
        "-j",
        "2",
        "--",
        data.to_str().unwrap(),
        out.to_str().unwrap(),
    ];
    assert_ok(&claimsh(work, "h", &args).output().unwrap());
    out
}

/// A CSV file as (header, rows of strings).
fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text
        .lines()
        .map(|l| l.split(',').map(str::to_string).collect());
    (lines.next().unwrap(), lines.collect())
}

fn column(header: &[String], name: &str) -> usize {
    header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name} in {header:?}"))
}

fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let cov: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let vx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    let vy: f64 = y.iter().map(|b| (b - my).powi(2)).sum();
    cov / (vx * vy).sqrt()
}

/// Each true cell's marker level and the measured mean marker of the cell found at its centre.
fn measured_against_truth(out: &Path) -> (Vec<f64>, Vec<f64>) {
    let (truth_header, truth) = read_csv(&workspace().join("datasets/cells/truth.csv"));
    let at = |name: &str| column(&truth_header, name);
    let (mut measured, mut known) = (Vec::new(), Vec::new());
    for cell in &truth {
        let (header, rows) = read_csv(&out.join(format!("{}.csv", cell[at("image")])));
        let (r, c) = (
            column(&header, "centroid_row"),
            column(&header, "centroid_col"),
        );
        let marker = column(&header, "intensity_mean_marker");
        let centre = |name: &str| cell[at(name)].parse::<f64>().unwrap();
        let found = rows.iter().find(|row| {
            let dr = row[r].parse::<f64>().unwrap() - centre("centroid_row");
            let dc = row[c].parse::<f64>().unwrap() - centre("centroid_col");
            dr.hypot(dc) < 3.0
        });
        let found = found.unwrap_or_else(|| panic!("no cell found for {cell:?}"));
        measured.push(found[marker].parse().unwrap());
        known.push(cell[at("marker_level")].parse().unwrap());
    }
    (measured, known)
}

#[test]
fn the_two_channel_example_recovers_the_known_marker_levels() {
    let work = tempfile::tempdir().unwrap();
    let out = run_the_example(work.path());
    let (header, rows) = read_csv(&out.join("cells_00.csv"));
    assert_eq!(header[..3], ["image", "label", "area"]);
    for channel in ["dna", "marker", "ring_marker"] {
        for stat in ["mean", "min", "max", "std", "integrated"] {
            column(&header, &format!("intensity_{stat}_{channel}"));
        }
    }
    assert!(rows.iter().all(|r| r[0] == "cells_00"));
    let (measured, known) = measured_against_truth(&out);
    assert_eq!(known.len(), 132, "every true cell is found");
    let r = pearson(&measured, &known);
    println!("correlation of measured and true marker levels: {r:.5}");
    assert!(r >= 0.99, "correlation {r}");
}

#[test]
fn provenance_says_what_produced_the_folder() {
    let work = tempfile::tempdir().unwrap();
    let out = run_the_example(work.path());
    let text = std::fs::read_to_string(out.join("provenance.json")).unwrap();
    let p: serde_json::Value = serde_json::from_str(&text).unwrap();
    let script = std::fs::read(work.path().join("examples/measure-cells.rhai")).unwrap();
    let sha: String = {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(&script);
        digest.iter().map(|b| format!("{b:02x}")).collect()
    };
    assert_eq!(p["script_sha256"], sha.as_str());
    assert!(
        p["script"]
            .as_str()
            .unwrap()
            .ends_with("measure-cells.rhai")
    );
    assert_eq!(p["claimsh_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(p["args"][1], out.to_str().unwrap());
    assert_eq!(p["hosts"], serde_json::json!(["h"]));
    assert!(p["started"].as_str().unwrap() <= p["ended"].as_str().unwrap());
}

#[test]
fn processes_on_two_hosts_sharing_a_folder_both_appear_in_its_provenance() {
    let work = tempfile::tempdir().unwrap();
    std::fs::write(
        work.path().join("job.rhai"),
        "provenance(\"out\");\nlet items = [];\nfor i in 0..40 { items.push(`${i}`); }\n\
         for x in claimed(items) { sleep(0.01); done(x); }\n",
    )
    .unwrap();
    let runs: Vec<_> = ["node-a", "node-b"]
        .iter()
        .map(|host| {
            claimsh(work.path(), host, &["job.rhai", "-j", "2"])
                .spawn()
                .unwrap()
        })
        .collect();
    for run in runs {
        assert_ok(&run.wait_with_output().unwrap());
    }
    let text = std::fs::read_to_string(work.path().join("out/provenance.json")).unwrap();
    let p: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        p["hosts"],
        serde_json::json!(["node-a", "node-b"]),
        "{text}"
    );
    let processes = p["processes"].as_array().unwrap();
    assert_eq!(processes.len(), 2, "{text}");
    assert!(processes.iter().all(|r| r["ended"].is_string()), "{text}");
    assert!(p["ended"].is_string(), "{text}");
}

/// `chromium`, or why there is none (then the caller skips, unless every test must run).
fn chromium() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("chromium"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        util::skip(
            "the gallery in a browser",
            "chromium is not installed: Debian package `chromium`",
        );
    }
    found
}

/// Headless Chromium on `url` with extra `args`; its standard output.
fn headless(browser: &Path, profile: &Path, url: &str, args: &[&str]) -> String {
    let out = Command::new("timeout")
        .arg("120")
        .arg(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The values of `attribute="..."` in the page, in document order.
fn attribute_values(dom: &str, prefix: &str) -> Vec<String> {
    dom.match_indices(prefix)
        .map(|(i, _)| {
            let rest = &dom[i + prefix.len()..];
            rest[..rest.find('"').unwrap()].to_string()
        })
        .collect()
}

#[test]
fn the_gallery_loads_every_thumbnail_and_sorts_from_the_url_in_chromium() {
    let Some(browser) = chromium() else { return };
    let work = tempfile::tempdir().unwrap();
    let out = run_the_example(work.path());
    let page = out.join("index.html");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no network"
    );
    let url = format!("file://{}", page.display());
    let profile = work.path().join("profile");
    let dom = headless(
        &browser,
        &profile,
        &format!("{url}#sort=-mean_marker"),
        &["--dump-dom", "--virtual-time-budget=5000"],
    );
    let states = attribute_values(&dom, "data-thumb=\"");
    assert_eq!(states.len(), 6, "one card per image");
    assert!(
        states.iter().all(|s| s == "loaded"),
        "thumbnails: {states:?}"
    );
    assert!(dom.contains("data-sorted=\"-mean_marker\""));
    let markers: Vec<f64> =
        attribute_values(&dom, "data-col=\"mean_marker\" data-kind=\"n\" data-v=\"")
            .iter()
            .map(|v| v.parse().unwrap())
            .collect();
    assert_eq!(markers.len(), 6);
    assert!(
        markers.windows(2).all(|w| w[0] >= w[1]),
        "descending: {markers:?}"
    );
    let by_name = headless(
        &browser,
        &profile,
        &format!("{url}?sort=image"),
        &["--dump-dom", "--virtual-time-budget=5000"],
    );
    let names = attribute_values(&by_name, "data-col=\"image\" data-v=\"");
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!((names.len(), &names), (6, &sorted));
    let shot = workspace().join("target/gallery-screenshot.png");
    let _ = std::fs::remove_file(&shot);
    headless(
        &browser,
        &profile,
        &format!("{url}#sort=-mean_marker"),
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1200,900",
        ],
    );
    let png = std::fs::read(&shot).unwrap();
    assert_eq!(&png[1..4], b"PNG", "a screenshot at {}", shot.display());
}

#[test]
fn a_missing_overlay_gets_a_visible_placeholder_not_a_failed_page() {
    let work = tempfile::tempdir().unwrap();
    std::fs::write(
        work.path().join("g.rhai"),
        "write_gallery([#{ image: \"a\", overlay: \"nowhere.png\", count: 3 }], \"out/index.html\");",
    )
    .unwrap();
    assert_ok(&claimsh(work.path(), "h", &["g.rhai"]).output().unwrap());
    let html = std::fs::read_to_string(work.path().join("out/index.html")).unwrap();
    assert!(html.contains("data-thumb=\"missing\"") && html.contains("missing overlay"));
    assert!(html.contains("nowhere.png"), "names the file");
}
