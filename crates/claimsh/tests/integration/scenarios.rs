//! The end-to-end scenarios in `tests/scenarios/` at the top of the repository: what claimsh
//! promises, as data (`tests/scenarios/README.md` describes the format). Each `.rhai` file is
//! copied under its own name into a fresh directory and the commands in its header are run
//! there, in order, with the real binary; every expectation that does not hold is reported with
//! the scenario, the header line and what claimsh printed. `CLAIMSH_SCENARIO=NAME` runs one.

use crate::util::{claimsh, text, workspace};
use std::path::{Path, PathBuf};
use std::process::Output;

/// One scenario: its script, the files it starts with, and the commands to run.
#[derive(Debug)]
struct Scenario {
    name: String,
    path: PathBuf,
    given: Vec<(String, String)>,
    steps: Vec<Step>,
}

/// One command and what it must do.
#[derive(Debug)]
struct Step {
    /// Header line of its `run:`.
    line: usize,
    args: Vec<String>,
    env: Vec<(String, String)>,
    exit: i32,
    checks: Vec<Check>,
}

/// An expectation, with the header line that states it.
#[derive(Debug)]
struct Check {
    line: usize,
    what: Expect,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Stream {
    Stdout,
    Stderr,
}

/// How many lines of a stream must match a pattern.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Times {
    Some,
    None,
    Once,
}

#[derive(Debug)]
enum Expect {
    Lines(Stream, Times, Pattern),
    LineCount(Stream, usize),
    Json(String, serde_json::Value),
    File(String, Option<String>),
    NoFile(String),
}

/// A whole line: literal text where `*` stands for any text.
#[derive(Debug)]
struct Pattern(Vec<Piece>);

#[derive(Debug, PartialEq)]
enum Piece {
    Text(String),
    Any,
}

impl Pattern {
    fn parse(value: &str) -> Pattern {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut chars = value.chars();
        while let Some(c) = chars.next() {
            match c {
                '*' => {
                    pieces.push(Piece::Text(std::mem::take(&mut literal)));
                    pieces.push(Piece::Any);
                }
                '\\' => literal.push_str(&unescape_one(chars.next())),
                c => literal.push(c),
            }
        }
        pieces.push(Piece::Text(literal));
        Pattern(pieces)
    }

    /// Whether `line` as a whole matches: the first piece at its start, the last at its end,
    /// each `*` taking the shortest text that lets the next piece follow.
    fn matches(&self, line: &str) -> bool {
        let texts: Vec<&str> = self
            .0
            .iter()
            .filter_map(|p| match p {
                Piece::Text(t) => Some(t.as_str()),
                Piece::Any => None,
            })
            .collect();
        let (first, rest) = texts.split_first().expect("a pattern has a first piece");
        let Some(mut tail) = line.strip_prefix(first) else {
            return false;
        };
        let Some((last, middle)) = rest.split_last() else {
            return tail.is_empty();
        };
        for text in middle {
            match tail.find(text) {
                Some(at) => tail = &tail[at + text.len()..],
                None => return false,
            }
        }
        tail.ends_with(last)
    }
}

/// `\n`, `\t`, `\e` (escape), `\*` and `\\` in a header value.
fn unescape_one(c: Option<char>) -> String {
    match c {
        Some('n') => "\n".into(),
        Some('t') => "\t".into(),
        Some('e') => "\x1b".into(),
        Some(c) => c.to_string(),
        None => "\\".into(),
    }
}

fn unescape(value: &str) -> String {
    let mut out = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str(&unescape_one(chars.next())),
            c => out.push(c),
        }
    }
    out
}

/// `PATH = TEXT` or `PATH`.
fn path_and_text(value: &str) -> (String, Option<String>) {
    match value.split_once(" = ") {
        Some((path, body)) => (path.trim().to_string(), Some(unescape(body))),
        None => (value.trim().to_string(), None),
    }
}

fn stream_check(key: &str, value: &str) -> Result<Option<Expect>, String> {
    let (stream, times) = match key.split_once('-') {
        Some((stream, times)) => (stream, Some(times)),
        None => (key, None),
    };
    let stream = match stream {
        "stdout" => Stream::Stdout,
        "stderr" => Stream::Stderr,
        _ => return Ok(None),
    };
    let times = match times {
        None => Times::Some,
        Some("not") => Times::None,
        Some("once") => Times::Once,
        Some("lines") => {
            let n = value.parse().map_err(|_| format!("{key}: not a number"))?;
            return Ok(Some(Expect::LineCount(stream, n)));
        }
        Some(_) => return Ok(None),
    };
    Ok(Some(Expect::Lines(stream, times, Pattern::parse(value))))
}

fn expectation(key: &str, value: &str) -> Result<Option<Expect>, String> {
    if let Some(check) = stream_check(key, value)? {
        return Ok(Some(check));
    }
    Ok(Some(match key {
        "json" => {
            let (pointer, json) = value
                .split_once(" = ")
                .ok_or("json: write POINTER = VALUE")?;
            let json = serde_json::from_str(json).map_err(|e| format!("json: {e}"))?;
            Expect::Json(pointer.trim().to_string(), json)
        }
        "file" => {
            let (path, body) = path_and_text(value);
            Expect::File(path, body)
        }
        "no-file" => Expect::NoFile(value.trim().to_string()),
        _ => return Ok(None),
    }))
}

impl Scenario {
    /// Read the header (the leading `//` lines) of the scenario at `path`.
    fn read(path: &Path) -> Result<Scenario, String> {
        let source = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
        let mut scenario = Scenario {
            name: path.file_stem().unwrap().to_string_lossy().into_owned(),
            path: path.to_path_buf(),
            given: Vec::new(),
            steps: Vec::new(),
        };
        for (at, line) in source.lines().enumerate() {
            let Some(comment) = line.strip_prefix("//") else {
                break;
            };
            scenario
                .directive(at + 1, comment.trim())
                .map_err(|e| format!("{}:{}: {e}", path.display(), at + 1))?;
        }
        if scenario.steps.is_empty() {
            return Err(format!("{}: no `run:` line", path.display()));
        }
        Ok(scenario)
    }

    /// One header line: `key: value` (a lowercase key, a colon and a space), or prose.
    fn directive(&mut self, line: usize, comment: &str) -> Result<(), String> {
        let Some((key, value)) = comment.split_once(": ") else {
            return Ok(());
        };
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_lowercase() || c == '-') {
            return Ok(()); // prose
        }
        match key {
            "given" => {
                let (path, body) = path_and_text(value);
                self.given.push((path, body.unwrap_or_default()));
            }
            "run" => self.steps.push(Step {
                line,
                args: value.split_whitespace().map(str::to_string).collect(),
                env: Vec::new(),
                exit: 0,
                checks: Vec::new(),
            }),
            _ => {
                let step = self
                    .steps
                    .last_mut()
                    .ok_or_else(|| format!("`{key}:` before any `run:`"))?;
                match key {
                    "env" => {
                        let (name, v) = value.split_once('=').ok_or("env: write NAME=VALUE")?;
                        step.env.push((name.to_string(), v.to_string()));
                    }
                    "exit" => step.exit = value.parse().map_err(|_| "exit: not a number")?,
                    _ => {
                        let what = expectation(key, value)?
                            .ok_or_else(|| format!("unknown directive `{key}:`"))?;
                        step.checks.push(Check { line, what });
                    }
                }
            }
        }
        Ok(())
    }

    /// Run every step in a fresh directory; the expectations that failed, described.
    fn run(&self) -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join(format!("{}.rhai", self.name));
        std::fs::copy(&self.path, &script).unwrap();
        for (path, body) in &self.given {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, body).unwrap();
        }
        let mut failures = Vec::new();
        for step in &self.steps {
            let out = step.output(dir.path());
            let mut wrong = Vec::new();
            if out.status.code() != Some(step.exit) {
                wrong.push(format!(
                    "line {}: exit {:?}, expected {}",
                    step.line,
                    out.status.code(),
                    step.exit
                ));
            }
            for check in &step.checks {
                if let Err(why) = check.what.holds(dir.path(), &out) {
                    wrong.push(format!("line {}: {why}", check.line));
                }
            }
            if !wrong.is_empty() {
                failures.push(format!(
                    "{}: `claimsh {}`:\n  {}\n--- stdout:\n{}--- stderr:\n{}",
                    self.name,
                    step.args.join(" "),
                    wrong.join("\n  "),
                    text(&out.stdout),
                    text(&out.stderr)
                ));
            }
        }
        failures
    }
}

impl Step {
    /// Run the command in `dir` with colour and log settings of the caller's shell removed.
    fn output(&self, dir: &Path) -> Output {
        let mut command = claimsh();
        command
            .current_dir(dir)
            .env("CLAIMSH_HOST", "scenario")
            .env_remove("NO_COLOR")
            .env_remove("CLICOLOR_FORCE")
            .env_remove("RUST_LOG")
            .env_remove("CLAIMSH_JOBS")
            .args(&self.args);
        for (name, value) in &self.env {
            command.env(name, value);
        }
        command.output().unwrap()
    }
}

impl Expect {
    fn holds(&self, dir: &Path, out: &Output) -> Result<(), String> {
        let stream = |s: &Stream| match s {
            Stream::Stdout => text(&out.stdout),
            Stream::Stderr => text(&out.stderr),
        };
        match self {
            Expect::Lines(s, times, pattern) => {
                let n = stream(s).lines().filter(|l| pattern.matches(l)).count();
                let ok = match times {
                    Times::Some => n > 0,
                    Times::None => n == 0,
                    Times::Once => n == 1,
                };
                ok.then_some(())
                    .ok_or(format!("{n} lines of {s:?} match {times:?} {pattern:?}"))
            }
            Expect::LineCount(s, want) => {
                let n = stream(s).lines().count();
                (n == *want)
                    .then_some(())
                    .ok_or(format!("{n} lines of {s:?}, expected {want}"))
            }
            Expect::Json(pointer, want) => {
                let json: serde_json::Value = serde_json::from_slice(&out.stdout)
                    .map_err(|e| format!("stdout is no JSON: {e}"))?;
                let got = json.pointer(pointer);
                (got == Some(want))
                    .then_some(())
                    .ok_or(format!("{pointer} is {got:?}, expected {want}"))
            }
            Expect::File(path, body) => {
                let got = std::fs::read_to_string(dir.join(path))
                    .map_err(|e| format!("file {path}: {e}"))?;
                match body {
                    Some(want) if got != *want => {
                        Err(format!("{path} holds {got:?}, not {want:?}"))
                    }
                    _ => Ok(()),
                }
            }
            Expect::NoFile(path) => (!dir.join(path).exists())
                .then_some(())
                .ok_or(format!("{path} exists")),
        }
    }
}

fn scenario_files() -> Vec<PathBuf> {
    let dir = workspace().join("tests/scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rhai"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_scenario_in_tests_scenarios_holds() {
    let only = std::env::var("CLAIMSH_SCENARIO").ok();
    let scenarios: Vec<Scenario> = scenario_files()
        .iter()
        .map(|p| Scenario::read(p).unwrap_or_else(|e| panic!("{e}")))
        .filter(|s| only.as_ref().is_none_or(|name| *name == s.name))
        .collect();
    assert!(!scenarios.is_empty(), "no scenario named {only:?}");
    let failures: Vec<String> = std::thread::scope(|scope| {
        let running: Vec<_> = scenarios
            .iter()
            .map(|s| scope.spawn(move || s.run()))
            .collect();
        running
            .into_iter()
            .flat_map(|r| r.join().unwrap())
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{} of {} scenarios failed:\n\n{}",
        failures.len(),
        scenarios.len(),
        failures.join("\n\n")
    );
}

#[test]
fn a_misspelled_directive_is_an_error_not_prose() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.rhai");
    std::fs::write(
        &path,
        "// Prose: fine.\n// run: x.rhai\n// stdeer: 1 done\n",
    )
    .unwrap();
    let err = Scenario::read(&path).unwrap_err();
    assert!(err.ends_with(":3: unknown directive `stdeer:`"), "{err}");
}

#[test]
fn a_pattern_matches_whole_lines_with_stars_for_any_text() {
    let p = Pattern::parse("2 done, * in * s*");
    assert!(p.matches("2 done, 0 failed in 0.1 s (20 items/s)"));
    assert!(!p.matches("12 done, 0 failed in 0.1 s"));
    assert!(Pattern::parse("a").matches("a") && !Pattern::parse("a").matches("ab"));
    assert!(Pattern::parse("*\\e[*").matches("x\x1b[1mERROR"));
    assert!(!Pattern::parse("a*b*b").matches("ab"));
}
