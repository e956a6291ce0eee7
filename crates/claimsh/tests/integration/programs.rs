//! Running other programs (issue 13), through the real binary with real processes: `exec` and
//! `sh` per item, failures with status and stderr, `--item-timeout` on a hung program and on a
//! busy Rhai loop, Ctrl-C during `exec`, and `claimsh each` over several "nodes".

use crate::util;

use crate::util::{Running, claimsh, read, run_in, script, text};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Whether process `pid` (written by a test script) is still alive. Claimsh reaps its children
/// before it returns from `exec`, so a dead child has no /proc entry at all (a zombie would
/// still count as alive here).
fn alive(pid: &str) -> bool {
    Path::new("/proc").join(pid.trim()).exists()
}

/// The failure of `key` in `status --json`.
fn failure(status: &serde_json::Value, key: &str) -> String {
    status["failures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == key)
        .unwrap_or_else(|| panic!("no failure for {key}: {status}"))["reason"]
        .as_str()
        .unwrap()
        .to_string()
}

const FAILING: &str = r#"
for k in ["a", "b", "c"] {
    if claim(k) {
        let r = exec(["sh", "-c", `echo out-${k}; echo note-${k} >&2; if [ ${k} = b ]; then echo "bad input in ${k}" >&2; exit 3; fi`]);
        write_text(`${k}.out`, r.stdout);
        done(k);
    }
}
"#;

#[test]
fn exec_captures_output_and_a_failing_program_fails_only_its_item() {
    let dir = tempfile::tempdir().unwrap();
    script(dir.path(), "job.rhai", FAILING);
    let out = run_in(dir.path(), "h", &["job.rhai", "-j", "1", "-q"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(read(dir.path(), "a.out"), "out-a\n");
    assert_eq!(read(dir.path(), "c.out"), "out-c\n");
    assert!(!dir.path().join("b.out").exists());
    let s = util::status(dir.path(), Some("h"), &["job.rhai"]);
    assert_eq!(
        (s["done"].as_u64(), s["failed"].as_u64()),
        (Some(2), Some(1))
    );
    let reason = failure(&s, "b");
    assert!(
        reason.contains("sh exited with status 3") && reason.contains("bad input in b"),
        "{reason}"
    );
    assert!(reason.starts_with("job.rhai:4:"), "{reason}");
    // The program's lines are in the item's log, on both streams.
    let logs = text(&run_in(dir.path(), "x", &["logs", "job.rhai", "a"]).stdout);
    assert!(
        logs.contains("stdout| out-a") && logs.contains("stderr| note-a"),
        "{logs}"
    );
}

#[test]
fn a_failing_program_in_a_claimed_list_names_status_and_stderr() {
    let dir = tempfile::tempdir().unwrap();
    script(
        dir.path(),
        "job.rhai",
        &FAILING.replace(
            "for k in [\"a\", \"b\", \"c\"] {\n    if claim(k) {",
            "for k in claimed([\"a\", \"b\", \"c\"]) {\n    {",
        ),
    );
    let out = run_in(dir.path(), "h", &["job.rhai", "-j", "2", "-q"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let s = util::status(dir.path(), Some("h"), &["job.rhai"]);
    assert_eq!(
        (s["done"].as_u64(), s["failed"].as_u64()),
        (Some(2), Some(1))
    );
    let reason = s["failures"][0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("status 3") && reason.contains("bad input in b"),
        "{reason}"
    );
}

/// The list form records a failure under the item's own key (ledger format 2), not by its
/// position in the list.
#[test]
fn a_failing_program_in_a_claimed_list_is_recorded_under_its_own_key() {
    let dir = tempfile::tempdir().unwrap();
    script(
        dir.path(),
        "job.rhai",
        &FAILING.replace(
            "for k in [\"a\", \"b\", \"c\"] {\n    if claim(k) {",
            "for k in claimed([\"a\", \"b\", \"c\"]) {\n    {",
        ),
    );
    run_in(dir.path(), "h", &["job.rhai", "-j", "1", "-q"]);
    let s = util::status(dir.path(), Some("h"), &["job.rhai"]);
    assert!(failure(&s, "b").contains("bad input in b"));
}

#[test]
fn item_timeout_ends_a_hung_program_and_its_group_and_a_busy_loop() {
    let dir = tempfile::tempdir().unwrap();
    // The shell starts sleep in the background: only a kill of the whole group ends both.
    script(
        dir.path(),
        "job.rhai",
        r#"
for k in ["hung", "spin", "quick"] {
    if claim(k) {
        if k == "hung" {
            exec(["sh", "-c", "echo $$ > sh.tmp; sleep 300 & echo $! > sleep.tmp; mv sh.tmp sh.pid; mv sleep.tmp sleep.pid; wait"]);
        }
        if k == "spin" { let n = 0; loop { n += 1; } }
        done(k);
    }
}
"#,
    );
    let started = Instant::now();
    let out = run_in(
        dir.path(),
        "h",
        &["job.rhai", "-j", "1", "-q", "--item-timeout", "2"],
    );
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(took < Duration::from_secs(30), "took {took:?}");
    let s = util::status(dir.path(), Some("h"), &["job.rhai"]);
    assert_eq!(
        (s["done"].as_u64(), s["failed"].as_u64()),
        (Some(1), Some(2)),
        "{s}"
    );
    for key in ["hung", "spin"] {
        let reason = failure(&s, key);
        assert!(reason.contains("timed out after 2 s"), "{key}: {reason}");
    }
    for pid in ["sh.pid", "sleep.pid"] {
        let pid = read(dir.path(), pid);
        assert!(!alive(&pid), "{pid} ({pid:?}) still running");
    }
}

#[test]
fn ctrl_c_during_exec_ends_the_program_releases_the_claim_and_exits_130() {
    interrupt_during_exec("-INT", 130, &["job.rhai", "-j", "1", "-q"]);
}

/// `each` wraps `exec` in try/catch: an interruption must still release, not fail, the item.
#[test]
fn ctrl_c_during_each_releases_the_item_and_exits_130() {
    interrupt_during_exec(
        "-INT",
        130,
        &[
            "each",
            "job.rhai",
            "--state",
            ".claimsh/job",
            "-j",
            "1",
            "-q",
            "--",
            "sh",
            "-c",
            SLOW,
            "sh",
            "{}",
        ],
    );
}

#[test]
fn sigterm_during_exec_ends_the_program_releases_the_claim_and_exits_143() {
    interrupt_during_exec("-TERM", 143, &["job.rhai", "-j", "1", "-q"]);
}

/// A program that says its pid, then sleeps.
const SLOW: &str = "echo $$ > pid.tmp; mv pid.tmp pid; exec sleep 300";

/// Run claimsh with `args`, send `signal` while the program runs.
fn interrupt_during_exec(signal: &str, code: i32, args: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    script(
        dir.path(),
        "job.rhai",
        &format!(
            "if claim(\"slow\") {{\n  exec([\"sh\", \"-c\", \"{SLOW}\"]);\n  done(\"slow\");\n}}\n"
        ),
    );
    let mut child = Running::spawn(
        claimsh()
            .current_dir(dir.path())
            .env("CLAIMSH_HOST", "h")
            .args(args),
    );
    child.wait_for_file(&dir.path().join("pid"));
    let pid = read(dir.path(), "pid");
    assert!(alive(&pid));
    let started = Instant::now();
    Command::new("kill")
        .args([signal, &child.0.id().to_string()])
        .status()
        .unwrap();
    assert_eq!(child.0.wait().unwrap().code(), Some(code));
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(!alive(&pid), "the program outlived claimsh");
    let s = util::status(dir.path(), Some("h"), &["job.rhai"]);
    assert_eq!(
        (
            s["running"].as_u64(),
            s["done"].as_u64(),
            s["failed"].as_u64()
        ),
        (Some(0), Some(0), Some(0)),
        "{s}"
    );
}

#[test]
fn a_missing_program_and_an_empty_argv_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    script(
        dir.path(),
        "job.rhai",
        "if claim(\"x\") { exec([\"no-such-program-claimsh\", \"arg\"]); done(\"x\"); }\nif claim(\"y\") { exec([\"./missing.sh\"]); done(\"y\"); }\n",
    );
    let out = run_in(dir.path(), "h", &["job.rhai", "-j", "1", "-q"]);
    assert_eq!(out.status.code(), Some(1));
    let s = util::status(dir.path(), Some("h"), &["job.rhai"]);
    let reason = failure(&s, "x");
    assert!(
        reason.contains("not found: no-such-program-claimsh") && reason.contains("PATH=/"),
        "{reason}"
    );
    let reason = failure(&s, "y");
    let missing = dir.path().canonicalize().unwrap().join("missing.sh");
    assert!(
        reason.contains("not found: ./missing.sh")
            && reason.contains(&missing.display().to_string()),
        "{reason}"
    );
    script(dir.path(), "empty.rhai", "let x = 1;\nexec([]);\n");
    let out = run_in(dir.path(), "h", &["empty.rhai", "-j", "1", "-q"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("empty.rhai:2:") && err.contains("argument list is empty"),
        "{err}"
    );
}

#[test]
fn exec_options_cwd_env_stdin_check_timeout_and_sh() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("sub/data.txt"), "in sub\n").unwrap();
    std::fs::write(dir.path().join("tool.sh"), "#!/bin/sh\necho tool \"$@\"\n").unwrap();
    Command::new("chmod")
        .args(["+x", "tool.sh"])
        .current_dir(dir.path())
        .status()
        .unwrap();
    script(
        dir.path(),
        "scripts/opts.rhai",
        r#"
let r = [];
r.push(exec(["cat", "data.txt"], #{ cwd: "../sub" }).stdout);
r.push(exec(["sh", "-c", "echo $GREETING"], #{ env: #{ GREETING: "hi" } }).stdout);
r.push(exec(["tr", "a-z", "A-Z"], #{ stdin: "shout" }).stdout);
let failed = exec(["sh", "-c", "echo why >&2; exit 7"], #{ check: false });
r.push(`${failed.status} ${failed.stderr}`);
r.push(sh("echo one two | wc -w").stdout);
r.push(exec(["../tool.sh", "x"], #{ cwd: "/" }).stdout);
try { exec(["sleep", "30"], #{ timeout: 0.5 }); } catch (e) { r.push(`${e}`); }
try { exec(["true"], #{ colour: 1 }); } catch (e) { r.push(`${e}`); }
fn line(x) { let t = x; t.trim(); t + "\n" }
write_text("../results.txt", r.reduce(|s, x| s + line(x), ""));
"#,
    );
    let started = Instant::now();
    let out = run_in(dir.path(), "h", &["scripts/opts.rhai", "-j", "1", "-q"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(started.elapsed() < Duration::from_secs(20));
    let results = read(dir.path(), "results.txt");
    let lines: Vec<&str> = results.lines().collect();
    assert_eq!(
        lines[..6],
        ["in sub", "hi", "SHOUT", "7 why", "2", "tool x"]
    );
    assert!(
        lines[6].contains("sleep timed out after 0.5 s"),
        "{results}"
    );
    assert!(lines[7].contains("unknown option \"colour\""), "{results}");
}

/// `each` over 100 files on 2 "nodes" × 2 workers: every command runs exactly once, a rerun runs
/// nothing, and even without the state directory existing outputs count as done.
#[test]
fn each_runs_every_command_exactly_once_across_nodes_and_a_rerun_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("in")).unwrap();
    std::fs::create_dir_all(dir.path().join("runs")).unwrap();
    for i in 0..100 {
        std::fs::write(dir.path().join(format!("in/f{i:03}.txt")), format!("{i}\n")).unwrap();
    }
    // Each run of the command leaves a file of its own (named by its pid), so a double run shows.
    let each = [
        "each",
        "in/*.txt",
        "--output",
        "out/{stem}.txt",
        "-j",
        "2",
        "-q",
        "--",
        "sh",
        "-c",
        "touch runs/$(basename $1).$$ && cp $1 $2",
        "sh",
        "{}",
        "out/{stem}.txt",
    ];
    util::run_as_hosts(dir.path(), 2, "node", &each);
    let runs = || {
        let mut names: Vec<String> = std::fs::read_dir(dir.path().join("runs"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let first = runs();
    let mut stems: Vec<&str> = first.iter().map(|n| n.split('.').next().unwrap()).collect();
    stems.dedup();
    assert_eq!((first.len(), stems.len()), (100, 100), "{first:?}");
    assert_eq!(read(dir.path(), "out/f042.txt"), "42\n");
    util::run_as_hosts(dir.path(), 2, "node", &each);
    assert_eq!(runs(), first, "a rerun ran commands again");
    std::fs::remove_dir_all(dir.path().join(".claimsh")).unwrap();
    util::run_as_hosts(dir.path(), 1, "node", &each);
    assert_eq!(runs(), first, "existing outputs were not taken as done");
    let states: Vec<_> = std::fs::read_dir(dir.path().join(".claimsh"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(states.len(), 1);
    assert!(states[0].starts_with("each-"), "{states:?}");
    let state = format!(".claimsh/{}", states[0]);
    let s = util::status(dir.path(), Some("x"), &["--state", &state]);
    assert_eq!(
        (s["done"].as_u64(), s["failed"].as_u64()),
        (Some(100), Some(0))
    );
}

#[test]
fn each_fails_an_item_whose_command_forgets_its_output_and_prints_output_like_parallel() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("in")).unwrap();
    for name in ["a.txt", "b.txt", "c.txt"] {
        std::fs::write(dir.path().join("in").join(name), name).unwrap();
    }
    let out = run_in(
        dir.path(),
        "h",
        &[
            "each",
            "in/*.txt",
            "-o",
            "out/{stem}.done",
            "-j",
            "1",
            "-q",
            "--",
            "sh",
            "-c",
            "echo hello from $1; [ $1 = in/b.txt ] || { mkdir -p out; touch $2; }",
            "sh",
            "{}",
            "out/{stem}.done",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    for name in ["a", "b", "c"] {
        assert!(
            printed.contains(&format!("hello from in/{name}.txt\n")),
            "{printed}"
        );
    }
    let states: Vec<_> = std::fs::read_dir(dir.path().join(".claimsh"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let s = util::status(
        dir.path(),
        Some("h"),
        &["--state", states[0].to_str().unwrap()],
    );
    assert_eq!(
        (s["done"].as_u64(), s["failed"].as_u64()),
        (Some(2), Some(1))
    );
    let reason = s["failures"][0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("exited with status 0 but did not create out/b.done"),
        "{reason}"
    );
    // The file is appended when no argument names it; a pattern matching nothing is a usage error.
    let out = run_in(dir.path(), "h", &["each", "in/a.txt", "-q", "--", "cat"]);
    assert_eq!(
        (out.status.code(), text(&out.stdout)),
        (Some(0), "a.txt".to_string())
    );
    // --item-timeout reaches the command's process group through each.
    let started = Instant::now();
    let out = run_in(
        dir.path(),
        "h",
        &[
            "each",
            "in/c.txt",
            "-q",
            "--state",
            "st",
            "--item-timeout",
            "1",
            "--",
            "sh",
            "-c",
            "sleep 300",
            "sh",
            "{}",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(started.elapsed() < Duration::from_secs(20));
    let s = util::status(dir.path(), Some("h"), &["--state", "st"]);
    let reason = s["failures"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("timed out after 1 s"), "{s}");
    let out = run_in(dir.path(), "h", &["each", "nothing/*.tif", "--", "cat"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no file matches \"nothing/*.tif\""));
}

/// `claimsh slurm ... each ...` writes a job whose array tasks run `claimsh each` in this folder;
/// two tasks, run here with bash as SLURM would, share the files.
#[test]
fn slurm_writes_an_each_job_that_array_tasks_run_together() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("in")).unwrap();
    for i in 0..20 {
        std::fs::write(dir.path().join(format!("in/{i} x.txt")), "x".repeat(i)).unwrap();
    }
    let out = run_in(
        dir.path(),
        "h",
        &[
            "slurm",
            "--tasks",
            "2",
            "--cpus-per-task",
            "2",
            "each",
            "in/*.txt",
            "-o",
            "out/{stem}.n",
            "--item-timeout",
            "60",
            "--",
            "sh",
            "-c",
            "mkdir -p out && wc -c < \"$1\" > \"$2\"",
            "sh",
            "{}",
            "out/{stem}.n",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let job = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "sbatch"))
        .expect("no .sbatch file written");
    let body = std::fs::read_to_string(&job).unwrap();
    assert!(
        body.contains("#SBATCH --array=0-1") && body.contains("--item-timeout 60"),
        "{body}"
    );
    let tasks: Vec<Running> = (0..2)
        .map(|i| {
            Running::spawn(
                Command::new("bash")
                    .arg(&job)
                    .current_dir("/")
                    .env("CLAIMSH_HOST", format!("task{i}"))
                    .env("SLURM_CPUS_PER_TASK", "2"),
            )
        })
        .collect();
    for mut task in tasks {
        assert!(task.0.wait().unwrap().success());
    }
    assert_eq!(read(dir.path(), "out/7 x.n").trim(), "7");
    let state = job.with_extension("");
    let state = format!(".claimsh/{}", state.file_name().unwrap().to_string_lossy());
    let s = util::status(dir.path(), Some("x"), &["--state", &state]);
    assert_eq!(
        (s["done"].as_u64(), s["failed"].as_u64()),
        (Some(20), Some(0)),
        "{s}"
    );
}

/// GC fraction and longest forward ORF, written independently of the example's Rhai.
fn gc_and_orf(seq: &[u8]) -> (f64, usize) {
    let gc = seq.iter().filter(|b| matches!(b, b'G' | b'C')).count() as f64 / seq.len() as f64;
    let mut longest = 0;
    for frame in 0..3 {
        let mut start = None;
        for (k, codon) in seq[frame..].chunks_exact(3).enumerate() {
            let at = frame + 3 * k;
            match (start, codon) {
                (None, b"ATG") => start = Some(at),
                (Some(s), b"TAA" | b"TAG" | b"TGA") => {
                    longest = longest.max(at + 3 - s);
                    start = None;
                }
                _ => {}
            }
        }
    }
    (gc, longest)
}

/// The sequences example on 2 "nodes" × 2 workers, over the first 450 records of the bundled
/// FASTA: one row per sequence, gathered once, Rhai and awk agreeing, values checked against an
/// independent implementation.
#[test]
fn the_sequences_example_gives_one_checked_row_per_sequence_gathered_once() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let work = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(work.path().join("examples")).unwrap();
    std::fs::copy(
        root.join("examples/sequences.rhai"),
        work.path().join("examples/sequences.rhai"),
    )
    .unwrap();
    let fasta = std::fs::read_to_string(root.join("datasets/sequences/sequences.fasta")).unwrap();
    let records: Vec<(String, String)> = fasta
        .split('>')
        .skip(1)
        .take(450)
        .map(|r| {
            let (header, body) = r.split_once('\n').unwrap();
            let id = header.split_whitespace().next().unwrap().to_string();
            (id, body.split_whitespace().collect())
        })
        .collect();
    let subset = work.path().join("subset.fasta");
    let text: String = records
        .iter()
        .map(|(id, s)| format!(">{id}\n{s}\n"))
        .collect();
    std::fs::write(&subset, text).unwrap();
    let subset = subset.to_string_lossy().into_owned();
    let args = [
        "run",
        "examples/sequences.rhai",
        "-j",
        "2",
        "-q",
        "--",
        &subset,
    ];
    util::run_as_hosts(work.path(), 2, "n", &args);
    let rows: Vec<std::collections::HashMap<String, String>> =
        csv::Reader::from_path(work.path().join("results/sequences/sequences.csv"))
            .unwrap()
            .into_deserialize()
            .map(Result::unwrap)
            .collect();
    assert_eq!(rows.len(), records.len());
    for (row, (id, seq)) in rows.iter().zip(&records) {
        assert_eq!(&row["id"], id, "rows in file order");
        let (gc, orf) = gc_and_orf(seq.as_bytes());
        let num = |k: &str| row[k].parse::<f64>().unwrap();
        assert_eq!(num("length") as usize, seq.len());
        assert!(
            (num("gc") - gc).abs() < 1e-12,
            "{id}: {} vs {gc}",
            row["gc"]
        );
        assert!(
            (num("gc_awk") - gc).abs() < 1e-6,
            "{id}: awk {}",
            row["gc_awk"]
        );
        assert_eq!(num("longest_orf") as usize, orf, "{id}");
    }
    assert!(
        rows.iter()
            .any(|r| r["longest_orf"].parse::<usize>().unwrap() > 300)
    );
    let logs = text_of(
        work.path(),
        &["logs", "examples/sequences.rhai", "once:gather"],
    );
    assert_eq!(logs.matches("running once(gather)").count(), 1, "{logs}");
}

fn text_of(dir: &Path, args: &[&str]) -> String {
    text(&run_in(dir, "x", args).stdout)
}
