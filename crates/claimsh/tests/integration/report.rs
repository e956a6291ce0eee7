//! What a person sees: the end-of-run summary and its colour rules, each error printed once,
//! `check` catching typos before a cluster does, the sbatch file with a space in a path, and
//! `status --watch` under tmux (issue 16).

use crate::util;

use crate::util::{Running, claimsh, script, text};
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

/// `claimsh ARGS` in `dir`, colour variables cleared, plus `env`.
fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = claimsh();
    command
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("RUST_LOG")
        .args(args);
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().unwrap()
}

/// Three items, `b` fails with a typo'd function.
const ONE_FAILS: &str = r#"
for k in claimed(["a", "b", "c"]) {
    if k == "b" { let x = threshold(1); }
    done(k);
}
"#;

#[test]
fn the_end_of_run_line_says_what_happened_and_lists_the_failures() {
    let dir = tempfile::tempdir().unwrap();
    script(dir.path(), "job.rhai", ONE_FAILS);
    let out = run(dir.path(), &["job.rhai", "-j", "1"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    let line = err
        .lines()
        .find(|l| l.starts_with("2 done, 1 failed, 0 left to others in "))
        .unwrap_or_else(|| panic!("no summary line in {err}"));
    assert!(line.contains(" items/s) — logs: "), "{line}");
    let log = line.split(" — logs: ").nth(1).unwrap();
    assert!(Path::new(log).is_file(), "{log} is no file");
    assert!(err.contains("\n1 item failed:\n  b: job.rhai:3:"), "{err}");
    // The run-time error says what `threshold` takes.
    assert!(err.contains("threshold takes: threshold(Image, "), "{err}");
    assert!(err.contains("claimsh status job.rhai"), "{err}");
    assert!(!err.contains("items failed in this process"), "{err}");
}

#[test]
fn no_colour_unless_a_terminal_or_clicolor_force_and_never_with_no_color() {
    let dir = tempfile::tempdir().unwrap();
    script(dir.path(), "job.rhai", ONE_FAILS);
    let piped = text(&run(dir.path(), &["job.rhai", "--retry-failed"], &[]).stderr);
    assert!(
        piped.contains("ERROR") && !piped.contains('\x1b'),
        "{piped:?}"
    );
    let forced = run(
        dir.path(),
        &["job.rhai", "--retry-failed"],
        &[("CLICOLOR_FORCE", "1")],
    );
    assert!(
        text(&forced.stderr).contains("\x1b["),
        "{:?}",
        text(&forced.stderr)
    );
    let both = [("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")];
    let none = run(dir.path(), &["job.rhai", "--retry-failed"], &both);
    assert!(
        !text(&none.stderr).contains('\x1b'),
        "{:?}",
        text(&none.stderr)
    );
}

#[test]
fn quiet_leaves_the_summary_out() {
    let dir = tempfile::tempdir().unwrap();
    script(
        dir.path(),
        "job.rhai",
        "for k in claimed([\"a\"]) { done(k); }\n",
    );
    let out = run(dir.path(), &["job.rhai", "-q"], &[]);
    assert!(out.status.success());
    assert_eq!(text(&out.stderr), "");
    // A second run finds the item done by the first.
    let again = text(&run(dir.path(), &["job.rhai"], &[]).stderr);
    assert!(
        again.starts_with("0 done, 0 failed, 0 left to others (1 item done by other runs) in "),
        "{again}"
    );
}

#[test]
fn an_error_before_any_item_is_printed_once_however_many_workers() {
    let dir = tempfile::tempdir().unwrap();
    script(dir.path(), "job.rhai", "let x = ARGS[5];\n");
    let out = run(dir.path(), &["job.rhai", "-j", "4"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert_eq!(err.matches("job.rhai:1:14").count(), 1, "{err}");
    // The log file still has every worker's line.
    let logs = dir.path().join(".claimsh/job/logs");
    let file = std::fs::read_dir(&logs).unwrap().next().unwrap().unwrap();
    let log = std::fs::read_to_string(file.path()).unwrap();
    assert_eq!(log.matches("job.rhai:1:14").count(), 4, "{log}");
}

#[test]
fn the_same_item_error_is_printed_once_and_each_failure_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    script(
        dir.path(),
        "job.rhai",
        "for k in claimed([\"a\", \"b\", \"c\", \"d\", \"e\", \"f\", \"g\"]) { let x = 1.gausian(1.0); done(k); }\n",
    );
    let out = run(dir.path(), &["job.rhai", "-j", "2"], &[]);
    let err = text(&out.stderr);
    assert_eq!(
        err.lines().filter(|l| l.contains("ERROR")).count(),
        1,
        "{err}"
    );
    assert!(err.contains("did you mean gaussian?"), "{err}");
    assert!(err.contains("0 done, 7 failed,"), "{err}");
    assert!(
        err.contains("7 items failed:\n") && err.contains("  … and 2 more\n"),
        "{err}"
    );
}

#[test]
fn each_ends_with_the_summary_too() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["a.txt", "b.txt"] {
        std::fs::write(dir.path().join(name), "x\n").unwrap();
    }
    let out = run(dir.path(), &["each", "*.txt", "--", "true"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("\n2 done, 0 failed, 0 left to others in "),
        "{err}"
    );
    assert!(err.contains("claimsh status --state") || !err.contains("failed:"));
}

#[test]
fn check_names_unknown_functions_and_what_a_known_one_takes() {
    let dir = tempfile::tempdir().unwrap();
    script(
        dir.path(),
        "job.rhai",
        "let img = load_image(\"x.tif\");\nlet s = img.gausian(1.0);\nlet m = threshold(img);\nfn twice(x) { x * 2 }\nlet f = |x| x + 1;\nprint(f(twice(2)));\nlet o = #{ g: |x| x };\nprint(o.g(1));\n",
    );
    let out = run(dir.path(), &["check", "job.rhai"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("job.rhai:2:13: no function gausian exists — did you mean gaussian?"),
        "{err}"
    );
    assert!(
        err.contains(
            "job.rhai:3:9: threshold called with 1 argument; threshold takes: threshold(Image, "
        ),
        "{err}"
    );
    assert_eq!(
        err.lines().count(),
        2,
        "closures and script functions are known: {err}"
    );
}

#[test]
fn every_example_and_the_each_script_pass_check() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    for entry in std::fs::read_dir(examples).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rhai") {
            let out = claimsh().arg("check").arg(&path).output().unwrap();
            assert!(
                out.status.success(),
                "{}: {}",
                path.display(),
                text(&out.stderr)
            );
        }
    }
}

/// A fake `sbatch` on PATH that records its argument.
fn fake_sbatch(dir: &Path) -> String {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let sbatch = bin.join("sbatch");
    std::fs::write(
        &sbatch,
        "#!/bin/sh\necho \"$1\" > \"$(dirname \"$0\")/submitted\"\necho Submitted batch job 1\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&sbatch, std::fs::Permissions::from_mode(0o755)).unwrap();
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

#[test]
fn slurm_submit_checks_the_script_first() {
    let dir = tempfile::tempdir().unwrap();
    let path = fake_sbatch(dir.path());
    script(dir.path(), "bad.rhai", "let s = 1.gausian(1.0);\n");
    let out = run(
        dir.path(),
        &["slurm", "bad.rhai", "--tasks", "2", "--submit"],
        &[("PATH", &path)],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("did you mean gaussian?"));
    assert!(text(&out.stderr).contains("not submitted"));
    assert!(!dir.path().join("bin/submitted").exists());
    script(
        dir.path(),
        "good.rhai",
        "for k in claimed([\"a\"]) { done(k); }\n",
    );
    let out = run(
        dir.path(),
        &["slurm", "good.rhai", "--tasks", "2", "--submit"],
        &[("PATH", &path)],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(dir.path().join("bin/submitted").exists());
}

#[test]
fn the_sbatch_file_works_in_a_folder_with_a_space() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("my project");
    std::fs::create_dir_all(&project).unwrap();
    script(
        &project,
        "job.rhai",
        "for k in claimed([\"a\", \"b\"]) { done(k); }\n",
    );
    let out = run(
        dir.path(),
        &["slurm", "my project/job.rhai", "--tasks", "1"],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let sbatch = project.join("job.sbatch");
    let text_of = std::fs::read_to_string(&sbatch).unwrap();
    assert!(text_of.contains("'"), "paths quoted: {text_of}");
    // Run the file as one array task would (bash skips the #SBATCH lines).
    let task = std::process::Command::new("bash")
        .arg(&sbatch)
        .env("SLURM_CPUS_PER_TASK", "1")
        .output()
        .unwrap();
    assert!(task.status.success(), "{}", text(&task.stderr));
    let status = util::status(dir.path(), None, &["my project/job.rhai"]);
    assert_eq!(status["done"].as_u64(), Some(2));
}

/// `tmux` for the live view, or a printed skip (a failure under `CLAIMSH_REQUIRE_ALL_TESTS`).
fn have_tmux() -> bool {
    let found = std::process::Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        util::skip("status --watch under tmux", "install tmux to run it");
    }
    found
}

/// tmux on its own server (`-L`), so a test never touches a user's sessions.
fn tmux(socket: &str, args: &[&str]) -> String {
    let out = std::process::Command::new("tmux")
        .args(["-L", socket])
        .args(args)
        .output()
        .unwrap();
    text(&out.stdout)
}

/// Capture the pane until `pred` holds (10 s at most); the last capture.
fn wait_for_pane(socket: &str, what: &str, pred: impl Fn(&str) -> bool) -> String {
    let started = Instant::now();
    loop {
        let pane = tmux(socket, &["capture-pane", "-p", "-t", "watch"]);
        if pred(&pane) {
            return pane;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "never {what}:\n{pane}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn status_watch_redraws_every_second_until_ctrl_c() {
    if !have_tmux() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // `a` done, `b` failed, `c` held until the file `go` appears, then done.
    script(
        dir.path(),
        "job.rhai",
        r#"
for k in ["a", "b", "c"] {
    if !claim(k) { continue; }
    if k == "b" { fail(k, "no good"); continue; }
    if k == "c" {
        write_text("holding", "");
        while !exists("go") { sleep(0.05); }
    }
    done(k);
}
"#,
    );
    let mut running = Running::spawn(
        claimsh()
            .current_dir(dir.path())
            .env("CLAIMSH_HOST", "node7")
            .args(["job.rhai", "-j", "1", "-q"])
            .stderr(std::process::Stdio::null()),
    );
    running.wait_for_file(&dir.path().join("holding"));
    let socket = format!("claimsh-test-{}", std::process::id());
    let command = format!(
        "cd '{}' && '{}' status --watch job.rhai; echo watch-exited-$?; sleep 30",
        dir.path().display(),
        env!("CARGO_BIN_EXE_claimsh")
    );
    tmux(
        &socket,
        &[
            "new-session",
            "-d",
            "-s",
            "watch",
            "-x",
            "120",
            "-y",
            "30",
            &command,
        ],
    );
    let pane = wait_for_pane(&socket, "the running claim", |p| p.contains("node7:  c "));
    assert!(
        pane.contains("done 1  running 1  stale 0  failed 1"),
        "{pane}"
    );
    assert!(
        pane.contains("last failures:\n  b on node7: no good"),
        "{pane}"
    );
    std::fs::write(dir.path().join("go"), "").unwrap();
    let pane = wait_for_pane(&socket, "a redraw", |p| p.contains("done 2  running 0"));
    assert!(!pane.contains("node7:  c "), "{pane}");
    tmux(&socket, &["send-keys", "-t", "watch", "C-c"]);
    wait_for_pane(&socket, "the watch ending", |p| {
        p.contains("watch-exited-0")
    });
    tmux(&socket, &["kill-server"]);
    assert!(running.0.wait().unwrap().code() == Some(1));
}
