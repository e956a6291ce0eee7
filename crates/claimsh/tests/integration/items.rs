//! An item done anywhere is done everywhere (ledger format 2), through the real binary: a folder
//! that grows, the two loop forms mixed in both orders, a reversed list, on 3 "nodes"
//! (`CLAIMSH_HOST`) × 2 workers each. Every run records what it processed; nothing may be
//! processed twice, and `status` must count each file once.

use crate::util;

use std::path::Path;

/// Both loop forms over `in/*.txt`, in the order given; each processed file is appended (one
/// file per item, so concurrent workers never share a file) to `rec/`.
/// `ARGS[0]` names the run, so a record of the same item by the same worker in another run (or
/// another pass of it) gets a name of its own.
const CLAIMED: &str = r#"
mkdir("rec");
let files = ORDER;
let n = 0;
for f in claimed(files) {
    n += 1;
    write_text(`rec/${stem(f)}-${host()}-${worker_id()}-${ARGS[0]}-${n}.txt`, f);
    done(f);
}
"#;
const PER_ITEM: &str = r#"
mkdir("rec");
let files = ORDER;
let n = 0;
for f in files {
    if claim(f) {
        n += 1;
        write_text(`rec/${stem(f)}-${host()}-${worker_id()}-${ARGS[0]}-${n}.txt`, f);
        done(f);
    }
}
"#;

fn job(dir: &Path, form: &str, reversed: bool) {
    static RUN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let order = if reversed {
        "{ let l = glob(\"in/*.txt\"); l.reverse(); l }"
    } else {
        "glob(\"in/*.txt\")"
    };
    let body = form.replace("ORDER", order);
    std::fs::write(dir.join("job.rhai"), body).unwrap();
    let run = format!(
        "run{}",
        RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    util::run_as_hosts(
        dir,
        3,
        "node",
        &["job.rhai", "--jobs", "2", "-q", "--", &run],
    );
}

fn add_files(dir: &Path, range: std::ops::Range<usize>) {
    std::fs::create_dir_all(dir.join("in")).unwrap();
    for i in range {
        std::fs::write(dir.join(format!("in/f{i:03}.txt")), "x").unwrap();
    }
}

/// How many times each input was processed so far.
fn processed(dir: &Path) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(dir.join("rec")).unwrap() {
        let item = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        *counts.entry(item).or_insert(0) += 1;
    }
    counts
}

fn assert_status(dir: &Path, files: u64) {
    let s = util::status(dir, Some("checker"), &["job.rhai"]);
    assert_eq!(
        (
            s["done"].as_u64(),
            s["total"].as_u64(),
            s["failed"].as_u64()
        ),
        (Some(files), Some(files), Some(0)),
        "{s}"
    );
}

fn each_once(dir: &Path, files: usize) {
    let counts = processed(dir);
    assert_eq!(counts.len(), files, "{counts:?}");
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "processed more than once: {twice:?}");
}

#[test]
fn a_folder_that_grows_by_one_file_costs_one_more_item() {
    let dir = tempfile::tempdir().unwrap();
    add_files(dir.path(), 0..40);
    job(dir.path(), CLAIMED, false);
    each_once(dir.path(), 40);
    add_files(dir.path(), 40..41);
    job(dir.path(), CLAIMED, false);
    each_once(dir.path(), 41);
    assert_status(dir.path(), 41);
}

#[test]
fn mixed_loop_forms_in_either_order_redo_nothing() {
    for (first, second) in [(CLAIMED, PER_ITEM), (PER_ITEM, CLAIMED)] {
        let dir = tempfile::tempdir().unwrap();
        add_files(dir.path(), 0..30);
        job(dir.path(), first, false);
        add_files(dir.path(), 30..40);
        job(dir.path(), second, false);
        each_once(dir.path(), 40);
        assert_status(dir.path(), 40);
    }
}

#[test]
fn a_reversed_list_redoes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    add_files(dir.path(), 0..40);
    job(dir.path(), CLAIMED, false);
    job(dir.path(), CLAIMED, true);
    each_once(dir.path(), 40);
    assert_status(dir.path(), 40);
}

#[test]
fn an_existing_output_counts_as_done_in_the_list_form() {
    let dir = tempfile::tempdir().unwrap();
    add_files(dir.path(), 0..10);
    std::fs::create_dir_all(dir.path().join("out")).unwrap();
    for i in [2, 5] {
        std::fs::write(dir.path().join(format!("out/f{i:03}.csv")), "old").unwrap();
    }
    let body = r#"
mkdir("rec");
for f in claimed(glob("in/*.txt"), |f| `out/${stem(f)}.csv`) {
    write_text(`rec/${stem(f)}.txt`, f);
    write_text(`out/${stem(f)}.csv`, "new");
    done(f);
}
"#;
    std::fs::write(dir.path().join("job.rhai"), body).unwrap();
    util::run_as_hosts(dir.path(), 2, "node", &["job.rhai", "--jobs", "2", "-q"]);
    let counts = processed(dir.path());
    assert_eq!(counts.len(), 8, "{counts:?}");
    assert!(!counts.contains_key("in/f002.txt"));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out/f005.csv")).unwrap(),
        "old"
    );
    assert_status(dir.path(), 10);
}

#[test]
fn a_failure_in_the_list_form_is_listed_under_its_own_key() {
    let dir = tempfile::tempdir().unwrap();
    add_files(dir.path(), 0..5);
    let body = r#"
for f in claimed(glob("in/*.txt")) {
    if f.contains("f003") { throw "corrupt"; }
    done(f);
}
"#;
    std::fs::write(dir.path().join("job.rhai"), body).unwrap();
    let out = util::claimsh()
        .current_dir(dir.path())
        .args(["job.rhai", "-q"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let s = util::status(dir.path(), None, &["job.rhai"]);
    assert_eq!(s["failures"][0]["key"], "in/f003.txt", "{s}");
    assert!(
        s["failures"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("corrupt")
    );
    assert_eq!(
        (s["done"].as_u64(), s["failed"].as_u64()),
        (Some(4), Some(1))
    );
}

#[test]
fn a_state_directory_of_format_1_is_refused_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    add_files(dir.path(), 0..2);
    std::fs::write(
        dir.path().join("job.rhai"),
        CLAIMED.replace("ORDER", "glob(\"in/*.txt\")"),
    )
    .unwrap();
    let state = dir.path().join(".claimsh/job");
    std::fs::create_dir_all(state.join("claims")).unwrap();
    std::fs::write(state.join("FORMAT"), "claim-ledger 1\n").unwrap();
    let out = util::claimsh()
        .current_dir(dir.path())
        .args(["job.rhai", "-q"])
        .output()
        .unwrap();
    let err = util::text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("format 1") && err.contains("cleanup --all"),
        "{err}"
    );
    let out = util::claimsh()
        .current_dir(dir.path())
        .args(["cleanup", "job.rhai", "--all"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", util::text(&out.stderr));
    assert!(!state.exists());
}

#[test]
fn maps_are_items_keyed_by_their_canonical_form() {
    let dir = tempfile::tempdir().unwrap();
    let body = r#"
mkdir("rec");
for p in claimed(grid(#{a: [1, 2], b: [0.5, 1.5]})) {
    write_text(`rec/${item_key(p)}-${ARGS[0]}.txt`, `${p.a * p.b}`);
    done(p);
}
if claim(#{b: 0.5, a: 1}) { throw "a map done in the list form was claimed again"; }
"#;
    std::fs::write(dir.path().join("job.rhai"), body).unwrap();
    for run in ["one", "two"] {
        util::run_as_hosts(dir.path(), 2, "node", &["job.rhai", "-q", "--", run]);
    }
    let mut names: Vec<String> = std::fs::read_dir(dir.path().join("rec"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "a=1,b=0.5-one.txt",
            "a=1,b=1.5-one.txt",
            "a=2,b=0.5-one.txt",
            "a=2,b=1.5-one.txt"
        ],
        "each map once, and nothing again in the second run"
    );
    assert_status(dir.path(), 4);
}
