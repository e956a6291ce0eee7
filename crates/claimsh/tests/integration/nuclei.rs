//! Real nuclei: the main example on the bundled DSB2018 subset (`datasets/real/dsb2018`, see
//! `datasets/README.md`), scored by `match_labels` as `scripts/eval-nuclei.sh` scores it, and
//! `match_labels` / `load_labels` through scripts.

use crate::util::{run_in, workspace};
use std::path::Path;
use std::process::Output;

fn assert_ok(out: &Output) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
}

/// Mean per-image F1 of the main example over `data` (images + truth/), run from copies of the
/// example and the scoring script in `work` (so no state lands in the repository).
fn mean_f1_of_the_main_example(data: &Path, work: &Path) -> (f64, usize) {
    for script in ["examples/segment-nuclei.rhai", "scripts/score-nuclei.rhai"] {
        std::fs::create_dir_all(work.join(script).parent().unwrap()).unwrap();
        std::fs::copy(workspace().join(script), work.join(script)).unwrap();
    }
    let (data, out) = (data.to_str().unwrap(), work.join("out"));
    let out = out.to_str().unwrap();
    let run = [
        "examples/segment-nuclei.rhai",
        "-j",
        "2",
        "-q",
        "--no-progress",
    ];
    assert_ok(&run_in(work, "h", &[&run[..], &["--", data, out]].concat()));
    let score = [
        "scripts/score-nuclei.rhai",
        "-j",
        "1",
        "-q",
        "--no-progress",
    ];
    assert_ok(&run_in(
        work,
        "h",
        &[&score[..], &["--", data, out]].concat(),
    ));
    let scores = std::fs::read_to_string(Path::new(out).join("scores.csv")).unwrap();
    let f1: Vec<f64> = scores
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap().parse().unwrap())
        .collect();
    (f1.iter().sum::<f64>() / f1.len() as f64, f1.len())
}

#[test]
fn the_main_example_segments_real_nuclei() {
    let work = tempfile::tempdir().unwrap();
    let data = workspace().join("datasets/real/dsb2018");
    let (f1, images) = mean_f1_of_the_main_example(&data, work.path());
    assert_eq!(images, 20);
    // The defaults reach LEVEL here (0.877 on the whole 160-image dev split they were tuned on,
    // of which these are 20); a drop of more than 0.02 means the segmentation got worse.
    assert!(
        f1 >= LEVEL - 0.02,
        "mean F1 {f1:.4} on the bundled real nuclei"
    );
    let out = work.path().join("out");
    for suffix in [".csv", "_overlay.png", "_labels.tif"] {
        assert!(
            out.join(format!("0287e7ee5b007c91{suffix}")).exists(),
            "{suffix}"
        );
    }
    let summary = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    assert_eq!(summary.lines().count(), 21, "{summary}");
}

/// Mean F1 of the main example on `datasets/real/dsb2018` when its defaults were set.
const LEVEL: f64 = 0.881;

#[test]
fn match_labels_scores_labels_against_annotations() {
    let dir = tempfile::tempdir().unwrap();
    let truth = workspace().join("datasets/real/dsb2018/truth/0287e7ee5b007c91.tif");
    let other = workspace().join("datasets/real/dsb2018/truth/a02ec007ae8feddb.tif");
    let script = format!(
        r#"
        let t = load_labels("{t}");
        let same = match_labels(t, t);
        let strict = match_labels(t, t, 0.99);
        // Thresholding the label image and relabelling merges touching nuclei: fewer matches.
        let merged = match_labels(load_image("{t}").threshold(0).label(), t);
        let bad = "";
        try {{ match_labels(t, load_labels("{o}")); }} catch (e) {{ bad = `${{e}}`; }}
        write_csv([same, strict, merged], "m.csv", ["tp", "fp", "fn", "precision", "recall", "f1"]);
        write_text("err.txt", bad);
        "#,
        t = truth.display(),
        o = other.display()
    );
    std::fs::write(dir.path().join("m.rhai"), script).unwrap();
    assert_ok(&run_in(
        dir.path(),
        "h",
        &["m.rhai", "-j", "1", "-q", "--no-progress"],
    ));
    let rows = std::fs::read_to_string(dir.path().join("m.csv")).unwrap();
    let rows: Vec<&str> = rows.lines().collect();
    assert_eq!(rows[1], "62,0,0,1,1,1", "{rows:?}");
    assert_eq!(rows[2], "62,0,0,1,1,1", "{rows:?}");
    let merged: Vec<f64> = rows[3].split(',').map(|v| v.parse().unwrap()).collect();
    assert!(merged[0] < 62.0 && merged[5] < 1.0, "{rows:?}");
    let err = std::fs::read_to_string(dir.path().join("err.txt")).unwrap();
    assert!(err.contains("256x256") && err.contains("696"), "{err}");
}
