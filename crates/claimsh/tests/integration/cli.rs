//! The real binary, run as users run it: several processes and hosts racing over one state
//! directory, failures with positions, compile errors, Ctrl-C, status, cleanup, logs, and the
//! main example's accuracy against the bundled ground truth.

use crate::util;

use crate::util::{Running, claimsh, run_in, script, text};
use std::path::Path;
use std::process::Command;

fn status_json(dir: &Path, script: &str) -> serde_json::Value {
    util::status(dir, Some("checker"), &[script])
}

/// Each worker appends what it processed to its own file; the union must have no duplicates and
/// no gaps.
const RECORDING: &str = r#"
let items = [];
for i in 0..3000 { items.push(`item-${i}`); }
let mine = [];
FORM
// A worker may run the script again (waiting for others' items): name each pass's record by
// its first item, which no other pass can share, so a later pass never overwrites it.
if mine.len() > 0 {
    write_text(`rec/${host()}-${worker_id()}-${mine[0]}.txt`, mine.reduce(|s, x| s + x + "\n", ""));
}
"#;

fn every_item_exactly_once(form: &str) {
    let dir = tempfile::tempdir().unwrap();
    script(dir.path(), "job.rhai", &RECORDING.replace("FORM", form));
    util::run_as_hosts(dir.path(), 3, "node", &["job.rhai", "--jobs", "2", "-q"]);
    let mut all = Vec::new();
    let mut hosts = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(dir.path().join("rec")).unwrap() {
        let path = entry.unwrap().path();
        let body = std::fs::read_to_string(&path).unwrap();
        if !body.trim().is_empty() {
            hosts.insert(
                path.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .split('-')
                    .next()
                    .unwrap()
                    .to_string(),
            );
        }
        all.extend(body.lines().map(str::to_string));
    }
    let n = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), n, "an item was processed twice");
    assert_eq!(n, 3000, "items were missed");
    assert!(
        hosts.len() >= 2,
        "work did not spread over hosts: {hosts:?}"
    );
    let status = status_json(dir.path(), "job.rhai");
    assert_eq!(status["failed"], 0);
    assert_eq!(status["running"], 0);
}

#[test]
fn three_hosts_with_two_jobs_each_do_every_claimed_item_once() {
    every_item_exactly_once("for k in items { if claim(k) { mine.push(k); done(k); } }");
}

#[test]
fn three_hosts_with_two_jobs_each_do_every_list_item_once() {
    every_item_exactly_once("for k in claimed(items) { mine.push(k); done(k); }");
}

#[test]
fn a_script_error_fails_that_item_with_its_position_and_the_rest_get_done() {
    let dir = tempfile::tempdir().unwrap();
    script(
        dir.path(),
        "job.rhai",
        "for k in claimed([\"a\", \"b\", \"c\", \"d\"]) {\n    if k == \"c\" {\n        let x = 1 / 0;\n    }\n    done(k);\n}\n",
    );
    let out = run_in(dir.path(), "h", &["job.rhai", "-j", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let status = status_json(dir.path(), "job.rhai");
    assert_eq!(
        (status["done"].as_u64(), status["failed"].as_u64()),
        (Some(3), Some(1))
    );
    let reason = status["failures"][0]["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(reason.starts_with("job.rhai:3:"), "{reason}");
    // The plain claim() form too.
    script(
        dir.path(),
        "two.rhai",
        "for k in [\"x\", \"y\"] {\n  if claim(k) {\n    if k == \"x\" { throw \"broken\"; }\n    done(k);\n  }\n}\n",
    );
    let out = run_in(dir.path(), "h", &["two.rhai", "-j", "1"]);
    assert_eq!(out.status.code(), Some(1));
    let status = status_json(dir.path(), "two.rhai");
    assert_eq!(
        (status["done"].as_u64(), status["failed"].as_u64()),
        (Some(1), Some(1))
    );
    assert!(
        status["failures"][0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("two.rhai:3:")
    );
}

#[test]
fn an_error_outside_any_item_stops_with_its_position_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    script(
        dir.path(),
        "job.rhai",
        "let a = 1;\nlet b = undefined_thing;\n",
    );
    let out = run_in(dir.path(), "h", &["job.rhai", "-j", "2"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("job.rhai:2:9"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn bad_image_arguments_are_script_errors_that_say_what_and_where() {
    let dir = tempfile::tempdir().unwrap();
    let real = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../datasets/real")
        .canonicalize()
        .unwrap();
    std::fs::write(dir.path().join("corrupt.tif"), "not an image").unwrap();
    let body = r#"
let errors = [];
let coins = load_image("REAL/coins.png");
let cell = load_image("REAL/cell.png");
try { load_image("missing.tif"); } catch (e) { errors.push(`missing|${e}`); }
try { load_image("corrupt.tif"); } catch (e) { errors.push(`corrupt|${e}`); }
try { coins.gaussian(-1.0); } catch (e) { errors.push(`sigma|${e}`); }
try { coins.threshold(100).watershed(cell); } catch (e) { errors.push(`sizes|${e}`); }
try { save_image(coins, "out.jpg"); } catch (e) { errors.push(`format|${e}`); }
try { load_stack("REAL/coins.png"); } catch (e) { errors.push(`stack|${e}`); }
try { coins.threshold(100).watershed(#{depth: 2}); } catch (e) { errors.push(`option|${e}`); }
write_text("errors.txt", errors.reduce(|s, x| s + x + "\n", ""));
coins.gaussian(0.0);
"#
    .replace("REAL", &real.to_string_lossy());
    script(dir.path(), "bad.rhai", &body);
    let out = run_in(dir.path(), "h", &["bad.rhai", "-j", "1"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the last, uncaught one stops the run"
    );
    assert!(
        text(&out.stderr).contains("bad.rhai:13:7") && text(&out.stderr).contains("sigma"),
        "{}",
        text(&out.stderr)
    );
    let errors = std::fs::read_to_string(dir.path().join("errors.txt")).unwrap();
    let expect = [
        ("missing", &["missing.tif"][..]),
        ("corrupt", &["corrupt.tif"]),
        ("sigma", &["sigma", "-1"]),
        ("sizes", &["550x660", "384x303"]),
        ("format", &["out.jpg", ".png"]),
        ("stack", &["coins.png", "TIFF"]),
        ("option", &["depth"]),
    ];
    let lines: Vec<&str> = errors.lines().collect();
    assert_eq!(lines.len(), expect.len(), "{errors}");
    for (line, (what, words)) in lines.iter().zip(expect) {
        let (tag, message) = line.split_once('|').unwrap();
        assert_eq!(tag, what);
        for word in words {
            assert!(message.contains(word), "{what}: {message:?} lacks {word:?}");
        }
    }
}

#[test]
fn csv_columns_come_in_regionprops_order_or_as_named() {
    let dir = tempfile::tempdir().unwrap();
    let coins = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../datasets/real/coins.png")
        .canonicalize()
        .unwrap();
    let body = r#"
let img = load_image("COINS");
let rows = img.gaussian(2.0).threshold(120).label().measure(img);
write_csv(rows, "plain.csv");
let rows = rows.map(|r| { r.image = "coins"; r });
write_csv(rows, "tagged.csv");
write_csv(rows, "chosen.csv", ["image", "area", "label"]);
write_csv([], "empty.csv", ["image", "count"]);
try { write_csv(rows, "bad.csv", ["image", "volume"]); } catch (e) { write_text("bad.txt", `${e}`); }
"#
    .replace("COINS", &coins.to_string_lossy());
    script(dir.path(), "csv.rhai", &body);
    let out = run_in(dir.path(), "h", &["csv.rhai", "-j", "1"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let header = |name: &str| {
        let text = std::fs::read_to_string(dir.path().join(name)).unwrap();
        text.lines().next().unwrap_or("").to_string()
    };
    assert!(header("plain.csv").starts_with("label,area,centroid_row,centroid_col,bbox_min_row"));
    assert!(header("plain.csv").ends_with("solidity,equivalent_diameter_area"));
    assert!(header("tagged.csv").starts_with("image,label,area,"));
    assert_eq!(header("chosen.csv"), "image,area,label");
    let chosen = std::fs::read_to_string(dir.path().join("chosen.csv")).unwrap();
    let first: Vec<&str> = chosen.lines().nth(1).unwrap().split(',').collect();
    assert_eq!((first[0], first[2]), ("coins", "1"));
    assert_eq!(header("empty.csv"), "image,count");
    let bad = std::fs::read_to_string(dir.path().join("bad.txt")).unwrap();
    assert!(bad.contains("volume") && bad.contains("row 0"), "{bad}");
}

#[test]
fn check_reports_a_syntax_error_as_file_line_col_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    script(dir.path(), "bad.rhai", "let x = 1;\nlet y = (2 + ;\n");
    let out = run_in(dir.path(), "h", &["check", "bad.rhai"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).starts_with("bad.rhai:2:"),
        "{}",
        text(&out.stderr)
    );
    let missing = run_in(dir.path(), "h", &["nothing-here.rhai"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).contains("nothing-here.rhai"));
}

#[test]
fn ctrl_c_releases_held_claims_and_exits_130() {
    let dir = tempfile::tempdir().unwrap();
    script(
        dir.path(),
        "job.rhai",
        "if claim(\"slow\") {\n  write_text(\"started\", \"\");\n  loop { sleep(0.05); }\n}\n",
    );
    let mut child = Running::spawn(
        claimsh()
            .current_dir(dir.path())
            .env("CLAIMSH_HOST", "h")
            .args(["job.rhai", "-j", "1", "-q"]),
    );
    child.wait_for_file(&dir.path().join("started"));
    Command::new("kill")
        .args(["-INT", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert_eq!(child.0.wait().unwrap().code(), Some(130));
    let status = status_json(dir.path(), "job.rhai");
    assert_eq!(
        (
            status["running"].as_u64(),
            status["done"].as_u64(),
            status["failed"].as_u64()
        ),
        (Some(0), Some(0), Some(0))
    );
}

#[test]
fn status_json_and_cleanup_cover_done_running_stale_and_failed() {
    let dir = tempfile::tempdir().unwrap();
    // done: a, failed: b, stale: c (held by a process that has exited), running: d.
    script(
        dir.path(),
        "seed.rhai",
        "if claim(\"a\") { done(\"a\"); }\nif claim(\"b\") { fail(\"b\", \"bad input\"); }\nclaim(\"c\");\n",
    );
    // Leave c claimed: kill -9 the process while it holds c.
    script(
        dir.path(),
        "hold.rhai",
        "if claim(\"c\") { write_text(\"held\", \"\"); loop { sleep(0.05); } }\n",
    );
    run_in(
        dir.path(),
        "h",
        &["seed.rhai", "--state", "st", "-j", "1", "-q"],
    );
    let mut holder = Running::spawn(
        claimsh()
            .current_dir(dir.path())
            .env("CLAIMSH_HOST", "h")
            .args(["hold.rhai", "--state", "st", "-j", "1", "-q"]),
    );
    holder.wait_for_file(&dir.path().join("held"));
    drop(holder); // SIGKILL while it holds c
    script(
        dir.path(),
        "run.rhai",
        "if claim(\"d\") { write_text(\"running\", \"\"); loop { sleep(0.05); } }\n",
    );
    let mut runner = Running::spawn(
        claimsh()
            .current_dir(dir.path())
            .env("CLAIMSH_HOST", "h")
            .args(["run.rhai", "--state", "st", "-j", "1", "-q"]),
    );
    runner.wait_for_file(&dir.path().join("running"));
    let s = util::status(dir.path(), Some("h"), &["--state", "st"]);
    assert_eq!(
        (
            s["done"].as_u64(),
            s["running"].as_u64(),
            s["stale"].as_u64(),
            s["failed"].as_u64()
        ),
        (Some(1), Some(1), Some(1), Some(1)),
        "{s}"
    );
    // Every key claimed alone counts: a, b, c, d; pending = total - done - failed.
    assert_eq!(
        (s["total"].as_u64(), s["pending"].as_u64()),
        (Some(4), Some(2))
    );
    assert_eq!(s["failures"][0]["reason"], "bad input");
    let out = run_in(dir.path(), "h", &["cleanup", "--state", "st", "--failed"]);
    let printed = text(&out.stdout);
    assert!(
        printed.contains("stale claim c") && printed.contains("failure record b"),
        "{printed}"
    );
    assert!(
        !printed.contains(" d"),
        "a live claim was removed: {printed}"
    );
    let s = util::status(dir.path(), Some("h"), &["--state", "st"]);
    assert_eq!(
        (
            s["running"].as_u64(),
            s["stale"].as_u64(),
            s["failed"].as_u64()
        ),
        (Some(1), Some(0), Some(0))
    );
    drop(runner);
}

#[test]
fn logs_follow_an_item_across_hosts() {
    let dir = tempfile::tempdir().unwrap();
    script(
        dir.path(),
        "job.rhai",
        "for k in [\"p\", \"q\", \"r\", \"s\"] {\n  if claim(k) {\n    log(`working on ${k} at ${host()}`);\n    if k == \"r\" { fail(k, \"too dim\"); } else { done(k); }\n  }\n}\n",
    );
    let a = run_in(dir.path(), "alpha", &["job.rhai", "-j", "1", "-q"]);
    let b = run_in(
        dir.path(),
        "beta",
        &["job.rhai", "-j", "1", "-q", "--retry-failed"],
    );
    assert!(a.status.code().is_some() && b.status.code().is_some());
    let out = run_in(dir.path(), "x", &["logs", "job.rhai", "r"]);
    let lines = text(&out.stdout);
    assert!(
        lines.contains("claimed") && lines.contains("working on r at") && lines.contains("too dim"),
        "{lines}"
    );
    assert!(lines.contains("host=alpha"), "{lines}");
    let out = run_in(dir.path(), "x", &["logs", "job.rhai", "p"]);
    let lines = text(&out.stdout);
    assert!(
        lines.contains("done") && lines.contains("working on p at alpha"),
        "{lines}"
    );
    let list = text(&run_in(dir.path(), "x", &["logs", "job.rhai"]).stdout);
    assert!(
        list.contains("host alpha") && list.contains("host beta"),
        "{list}"
    );
}

#[test]
fn api_lists_every_domain() {
    let out = claimsh().arg("api").output().unwrap();
    let text = text(&out.stdout);
    for name in [
        "claim(item",
        "claimed(items",
        "glob(pattern",
        "write_csv(rows",
        "watershed(mask",
        "log(msg",
        "once(name",
    ] {
        assert!(text.contains(name), "{name} missing from claimsh api");
    }
}

#[test]
fn the_main_example_finds_the_bundled_nuclei() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let work = tempfile::tempdir().unwrap();
    // Run a copy of the example beside a link to the data, so the test writes nothing in the repo.
    std::fs::create_dir_all(work.path().join("examples")).unwrap();
    std::fs::copy(
        root.join("examples/segment-nuclei.rhai"),
        work.path().join("examples/segment-nuclei.rhai"),
    )
    .unwrap();
    std::os::unix::fs::symlink(
        std::fs::canonicalize(root.join("datasets")).unwrap(),
        work.path().join("datasets"),
    )
    .unwrap();
    let out = run_in(
        work.path(),
        "h",
        &["examples/segment-nuclei.rhai", "-j", "2", "-q"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let results = work.path().join("results/nuclei");
    let truth = csv::Reader::from_path(root.join("datasets/nuclei/truth/nuclei.csv"))
        .unwrap()
        .into_deserialize::<std::collections::HashMap<String, String>>();
    let (mut tp, mut fn_, mut fp) = (0usize, 0usize, 0usize);
    let mut by_image: std::collections::BTreeMap<String, Vec<(f64, f64)>> = Default::default();
    for row in truth {
        let row = row.unwrap();
        by_image.entry(row["image"].clone()).or_default().push((
            row["centroid_row"].parse().unwrap(),
            row["centroid_col"].parse().unwrap(),
        ));
    }
    for (image, nuclei) in &by_image {
        let found: Vec<(f64, f64)> = csv::Reader::from_path(results.join(format!("{image}.csv")))
            .unwrap()
            .into_deserialize::<std::collections::HashMap<String, f64>>()
            .map(|r| {
                let r = r.unwrap();
                (r["centroid_row"], r["centroid_col"])
            })
            .collect();
        let mut used = vec![false; found.len()];
        for &(r, c) in nuclei {
            let best = found
                .iter()
                .enumerate()
                .filter(|(j, _)| !used[*j])
                .map(|(j, &(fr, fc))| (j, ((fr - r).powi(2) + (fc - c).powi(2)).sqrt()))
                .filter(|&(_, d)| d <= 3.0)
                .min_by(|a, b| a.1.total_cmp(&b.1));
            match best {
                Some((j, _)) => {
                    used[j] = true;
                    tp += 1
                }
                None => fn_ += 1,
            }
        }
        fp += used.iter().filter(|u| !**u).count();
        assert!(results.join(format!("{image}_overlay.png")).exists());
    }
    let f1 = 2.0 * tp as f64 / (2 * tp + fp + fn_) as f64;
    assert_eq!(fn_, 0, "every nucleus found (tp {tp}, fp {fp})");
    assert!(f1 >= 0.95, "F1 {f1:.3} (tp {tp}, fp {fp}, fn {fn_})");
    let summary = std::fs::read_to_string(results.join("summary.csv")).unwrap();
    assert_eq!(summary.lines().count(), by_image.len() + 1, "{summary}");
}

#[test]
fn insights_show_items_per_worker_the_slowest_items_and_par_map_threads() {
    let dir = tempfile::tempdir().unwrap();
    script(
        dir.path(),
        "job.rhai",
        "for k in claimed([\"a\", \"b\", \"slow\", \"c\"]) {\n  if k == \"slow\" { sleep(0.2); }\n  par_map([1, 2, 3, 4], |x| x * 2);\n  done(k);\n}\n",
    );
    let out = run_in(
        dir.path(),
        "h",
        &["job.rhai", "-j", "2", "--insights", "-q"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stderr);
    assert!(printed.contains("insights: wall time"), "{printed}");
    let items: u64 = printed
        .lines()
        .skip_while(|l| !l.contains("worker  items"))
        .skip(1)
        .take(2)
        .map(|l| l.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(items, 4, "items per worker add up: {printed}");
    let first_slowest = printed
        .lines()
        .find(|l| l.contains("slowest item:"))
        .unwrap();
    assert!(first_slowest.contains("slow "), "{printed}");
    let tasks: u64 = printed
        .lines()
        .skip_while(|l| !l.contains("par_map thread"))
        .skip(1)
        .take_while(|l| !l.contains("slowest"))
        .map(|l| l.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(tasks, 16, "four par_maps of four: {printed}");
}

#[test]
fn par_map_keeps_order_and_a_failing_closure_names_its_element() {
    let dir = tempfile::tempdir().unwrap();
    script(
        dir.path(),
        "ok.rhai",
        "let k = 10;\nlet out = par_map([1, 2, 3, 4, 5], |x| x * k);\nwrite_text(\"out.txt\", `${out}`);\nlet evens = par_filter([1, 2, 3, 4], |x| x % 2 == 0);\nwrite_text(\"evens.txt\", `${evens}`);\n",
    );
    let out = run_in(dir.path(), "h", &["ok.rhai", "-j", "1"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out.txt")).unwrap(),
        "[10, 20, 30, 40, 50]"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("evens.txt")).unwrap(),
        "[2, 4]"
    );
    script(
        dir.path(),
        "bad.rhai",
        "let out = par_map([1, 2, 0, 4], |x| 10 / x);\n",
    );
    let out = run_in(dir.path(), "h", &["bad.rhai", "-j", "1"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("element 2") && err.contains("bad.rhai:1:"),
        "{err}"
    );
}

#[test]
fn the_parameter_screen_gathers_exactly_once_across_processes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let work = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(work.path().join("examples")).unwrap();
    std::fs::copy(
        root.join("examples/parameter-screen.rhai"),
        work.path().join("examples/p.rhai"),
    )
    .unwrap();
    util::run_as_hosts(work.path(), 3, "n", &["examples/p.rhai", "-j", "2", "-q"]);
    let all = std::fs::read_to_string(work.path().join("results/screen/all.csv")).unwrap();
    assert_eq!(all.lines().count(), 13, "{all}");
    let s = util::status(work.path(), None, &["examples/p.rhai"]);
    assert_eq!(
        (s["done"].as_u64(), s["once"]["done"].as_u64()),
        (Some(12), Some(1)),
        "items and once steps counted apart: {s}"
    );
    let logs = text(
        &run_in(
            work.path(),
            "x",
            &["logs", "examples/p.rhai", "once:gather"],
        )
        .stdout,
    );
    assert_eq!(logs.matches("running once(gather)").count(), 1, "{logs}");
}

/// `claimsh status | head -1` and the like: the reader goes away early; claimsh ends quietly
/// with exit 0 instead of panicking on the broken pipe.
#[test]
fn output_to_a_closed_pipe_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    script(
        dir.path(),
        "s.rhai",
        "for k in claimed([\"a\", \"b\"]) { done(k); }\n",
    );
    assert!(run_in(dir.path(), "h", &["s.rhai", "-q"]).status.success());
    for args in [
        &["status", "s.rhai"][..],
        &["api"][..],
        &["logs", "s.rhai"][..],
    ] {
        let mut child = claimsh()
            .current_dir(dir.path())
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // the reader is gone before claimsh writes
        let out = child.wait_with_output().unwrap();
        let err = text(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
    }
}
