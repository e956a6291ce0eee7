//! Programs: `exec`, `sh`, `fill`. Run any program per item, with its output captured, logged
//! under the item, and the program (with its whole process group) ended with the item.
//!
//! Each program starts in a process group of its own, so a Ctrl-C on the terminal reaches
//! claimsh only; claimsh then ends the group itself: SIGTERM, and SIGKILL after [`GRACE`]. The
//! same happens on `--item-timeout`, on an `exec` `timeout`, and when the worker thread unwinds.
//! What a program leaves running in its group after it exits is killed too (it would otherwise
//! hold the output pipes open and outlive its item).

use super::{R, script_error, terminated, worker};
use crate::worker::Worker;
use rhai::plugin::*;
use rhai::{Array, Dynamic, Map, NativeCallContext};
use rustix::process::{Pid, Signal, kill_process_group};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::{Duration, Instant};

/// Between SIGTERM to a program's group and SIGKILL.
pub const GRACE: Duration = Duration::from_secs(5);
/// Lines of each stream logged per call (all of them are still returned).
const LOGGED_LINES: usize = 1000;
/// Stderr lines quoted in the error of a failed program.
const QUOTED_LINES: usize = 5;
/// How often a waiting `exec` looks at Ctrl-C and the deadlines.
const TICK: Duration = Duration::from_millis(20);

/// Running programs per item.
#[export_module]
pub mod program_functions {
    use super::*;

    /// Run a program (no shell) in the script's folder, wait, and return
    /// `#{status, stdout, stderr}` (text: bytes that are not UTF-8 become U+FFFD, so let a
    /// program with binary output write it to a file). Output lines also go to the item's log. A
    /// non-zero exit is a script error naming the program, its status or signal and its last
    /// stderr lines; a missing program says "not found: NAME" and the PATH searched. A program
    /// killed by a signal has status 128 + its number.
    ///
    /// ```rhai
    /// let r = exec(["python3", "measure.py", "images/a.tif"]);
    /// log(r.stdout);
    /// ```
    #[rhai_fn(return_raw)]
    pub fn exec(ctx: NativeCallContext, argv: Array) -> R<Map> {
        super::exec(&*worker(&ctx)?, argv, &Map::new())
    }

    /// The same with options `#{cwd, env: #{NAME: value}, stdin: String, timeout: seconds,
    /// check: false (return a non-zero exit instead of raising), echo: true (print the output on
    /// claimsh's own stdout/stderr, one block per call)}`.
    ///
    /// ```rhai
    /// let r = exec(["grep", "-c", "ACGT"], #{stdin: "ACGT\nTTTT\n", check: false, timeout: 60});
    /// if r.status != 0 { warn(r.stderr); }
    /// ```
    #[rhai_fn(name = "exec", return_raw)]
    pub fn exec_with(ctx: NativeCallContext, argv: Array, options: Map) -> R<Map> {
        super::exec(&*worker(&ctx)?, argv, &options)
    }

    /// `exec(["sh", "-c", command])`: a shell command line, with globs, pipes and quoting the
    /// shell's way (mind file names with spaces).
    ///
    /// ```rhai
    /// sh("gzip -dc reads.fa.gz | head -n 2");
    /// ```
    #[rhai_fn(return_raw)]
    pub fn sh(ctx: NativeCallContext, command: &str) -> R<Map> {
        super::exec(&*worker(&ctx)?, shell(command), &Map::new())
    }

    /// `sh` with `exec`'s options.
    ///
    /// ```rhai
    /// let r = sh("ls images | wc -l", #{check: false});
    /// ```
    #[rhai_fn(name = "sh", return_raw)]
    pub fn sh_with(ctx: NativeCallContext, command: &str, options: Map) -> R<Map> {
        super::exec(&*worker(&ctx)?, shell(command), &options)
    }

    /// Replace `{}` (the path), `{stem}`, `{name}` and `{dir}` (also GNU parallel's `{.}` `{/}`
    /// `{//}` `{/.}`) in a template, as `claimsh each` does.
    ///
    /// ```rhai
    /// fill("out/{stem}.csv", "in/a.tif")   // "out/a.csv"
    /// ```
    #[rhai_fn(name = "fill")]
    pub fn fill_template(template: &str, path: &str) -> String {
        fill(template, path)
    }
}

fn shell(command: &str) -> Array {
    vec!["sh".into(), "-c".into(), command.into()]
}

/// Replace `{}`, `{stem}`, `{name}` and `{dir}` (and GNU parallel's `{.}`, `{/}`, `{//}`,
/// `{/.}`: the path without extension, name, folder, stem) in one left-to-right pass (so a path that
/// itself contains braces is inserted as it is). `{dir}` of a bare file name is `.`.
pub fn fill(template: &str, path: &str) -> String {
    let p = Path::new(path);
    let part = |s: Option<&std::ffi::OsStr>| s.map(|s| s.to_string_lossy().into_owned());
    let dir = match p.parent().map(|d| d.to_string_lossy().into_owned()) {
        Some(d) if !d.is_empty() => d,
        _ => ".".to_string(),
    };
    let stem = part(p.file_stem()).unwrap_or_default();
    let name = part(p.file_name()).unwrap_or_default();
    let no_ext = p.with_extension("").to_string_lossy().into_owned();
    // GNU parallel's spellings too, for those who have them in their fingers.
    let names = [
        ("{}", path.to_string()),
        ("{stem}", stem.clone()),
        ("{name}", name.clone()),
        ("{dir}", dir.clone()),
        ("{.}", no_ext),
        ("{/}", name),
        ("{//}", dir),
        ("{/.}", stem),
    ];
    let mut out = String::with_capacity(template.len() + path.len());
    let mut rest = template;
    'scan: while !rest.is_empty() {
        for (name, value) in &names {
            if let Some(after) = rest.strip_prefix(name) {
                out.push_str(value);
                rest = after;
                continue 'scan;
            }
        }
        let c = rest.chars().next().unwrap_or_default();
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Whether a template uses any placeholder `fill` replaces.
pub fn has_placeholder(template: &str) -> bool {
    [
        "{}", "{stem}", "{name}", "{dir}", "{.}", "{/}", "{//}", "{/.}",
    ]
    .iter()
    .any(|p| template.contains(p))
}

/// `exec`'s options, checked.
struct Options {
    cwd: PathBuf,
    env: Vec<(String, String)>,
    stdin: Option<Vec<u8>>,
    timeout: Option<Duration>,
    check: bool,
    echo: bool,
}

fn options(w: &Worker, map: &Map) -> R<Options> {
    let mut o = Options {
        cwd: w.process.script_dir.clone(),
        env: Vec::new(),
        stdin: None,
        timeout: None,
        check: true,
        echo: false,
    };
    for (key, value) in map {
        let bad = |what: &str| {
            script_error(format!(
                "exec option {key}: expected {what}, got {}",
                value.type_name()
            ))
        };
        match key.as_str() {
            "cwd" => o.cwd = w.resolve(&value.to_string()),
            "env" => {
                let env = value
                    .read_lock::<Map>()
                    .ok_or_else(|| bad("a map #{NAME: value}"))?;
                o.env = env
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
            }
            "stdin" => match value.clone().try_cast::<rhai::Blob>() {
                Some(blob) => o.stdin = Some(blob),
                None => o.stdin = Some(value.to_string().into_bytes()),
            },
            "timeout" => {
                let secs = value
                    .as_float()
                    .or_else(|_| value.as_int().map(|i| i as f64));
                match secs {
                    Ok(s) if s > 0.0 && s.is_finite() => {
                        o.timeout = Some(Duration::from_secs_f64(s))
                    }
                    _ => return Err(bad("a positive number of seconds")),
                }
            }
            "check" => o.check = value.as_bool().map_err(|_| bad("true or false"))?,
            "echo" => o.echo = value.as_bool().map_err(|_| bad("true or false"))?,
            _ => {
                return Err(script_error(format!(
                    "exec: unknown option {key:?}; the options are cwd, env, stdin, timeout, check, echo"
                )));
            }
        }
    }
    if !o.cwd.is_dir() {
        return Err(script_error(format!(
            "exec: cwd {} is not a folder",
            o.cwd.display()
        )));
    }
    Ok(o)
}

fn exec(w: &Worker, argv: Array, map: &Map) -> R<Map> {
    let argv: Vec<String> = argv.iter().map(|a| a.to_string()).collect();
    let Some(name) = argv.first().cloned() else {
        return Err(script_error(
            "exec([]): the argument list is empty; give the program first, e.g. \
             exec([\"python3\", \"analyze.py\", f])",
        ));
    };
    if name.is_empty() {
        return Err(script_error("exec: the program name (argv[0]) is empty"));
    }
    let o = options(w, map)?;
    // A program given as a path resolves like every other path: against the script's folder.
    let program = if name.contains('/') {
        w.resolve(&name).components().collect()
    } else {
        PathBuf::from(&name)
    };
    let mut command = Command::new(&program);
    command
        .args(&argv[1..])
        .current_dir(&o.cwd)
        .envs(o.env.iter().map(|(k, v)| (k, v)))
        .stdin(if o.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let child = command
        .spawn()
        .map_err(|e| spawn_error(&name, &program, &o, e))?;
    super::logging::emit(w, 1, &format!("exec: {}", shown(&argv)));
    let started = Instant::now();
    let ran = supervise(w, child, &name, &o)?;
    finish(w, &name, &o, ran, started)
}

/// `python3 'my file.txt'`: the argv as one could paste it into a shell.
fn shown(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            let plain = !a.is_empty()
                && a.chars()
                    .all(|c| c.is_alphanumeric() || "-_./=:,+@%{}".contains(c));
            if plain {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn spawn_error(
    name: &str,
    program: &Path,
    o: &Options,
    e: std::io::Error,
) -> Box<rhai::EvalAltResult> {
    match e.kind() {
        std::io::ErrorKind::NotFound if name.contains('/') => script_error(format!(
            "not found: {name} (no such file: {})",
            program.display()
        )),
        std::io::ErrorKind::NotFound => {
            let path = o
                .env
                .iter()
                .find(|(k, _)| k == "PATH")
                .map(|(_, v)| v.clone())
                .or_else(|| std::env::var("PATH").ok())
                .unwrap_or_default();
            script_error(format!("not found: {name} (searched PATH={path})"))
        }
        std::io::ErrorKind::PermissionDenied => script_error(format!(
            "cannot run {name}: permission denied (is {} executable?)",
            program.display()
        )),
        _ => script_error(format!("cannot run {name}: {e}")),
    }
}

/// What a program's run came to.
struct Ran {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    /// Why claimsh ended it, if it did.
    ended: Option<Ended>,
}

#[derive(Clone)]
enum Ended {
    /// Ctrl-C / SIGTERM / `--item-timeout`: the script run ends (not catchable).
    Terminated(String),
    /// The `timeout` option: an ordinary (catchable) error.
    TimedOut(Duration),
}

enum Event {
    Line(bool, Vec<u8>),
    Eof,
    Exited(std::io::Result<ExitStatus>),
}

/// Kills the program's process group if dropped before the program was reaped (a panic, an
/// early return), so no path out of `exec` leaves it running.
struct Group {
    pid: Option<Pid>,
    reaped: bool,
}

impl Group {
    fn signal(&self, signal: Signal) {
        if let Some(pid) = self.pid {
            // ESRCH (the group is already empty) is the expected, harmless case.
            let _ = kill_process_group(pid, signal);
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if !self.reaped {
            self.signal(Signal::KILL);
        }
    }
}

/// Start the threads that feed `events`: one per output stream, one writing stdin, one waiting.
fn watch(mut child: Child, stdin: Option<Vec<u8>>, events: &Sender<Event>) {
    for (is_err, stream) in [
        (
            false,
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ),
        (
            true,
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ),
    ] {
        let (Some(stream), tx) = (stream, events.clone()) else {
            continue;
        };
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stream);
            let mut line = Vec::new();
            while reader.read_until(b'\n', &mut line).unwrap_or(0) > 0 {
                if tx
                    .send(Event::Line(is_err, std::mem::take(&mut line)))
                    .is_err()
                {
                    return;
                }
            }
            let _ = tx.send(Event::Eof);
        });
    }
    if let (Some(mut pipe), Some(bytes)) = (child.stdin.take(), stdin) {
        // A program that stops reading early closes the pipe: that is its business.
        std::thread::spawn(move || {
            let _ = pipe.write_all(&bytes);
        });
    }
    let tx = events.clone();
    std::thread::spawn(move || {
        let _ = tx.send(Event::Exited(child.wait()));
    });
}

/// Collect output until the program exits, ending it (TERM, then KILL after [`GRACE`]) on
/// Ctrl-C, the item deadline or the call's timeout.
fn supervise(w: &Worker, child: Child, name: &str, o: &Options) -> R<Ran> {
    let mut group = Group {
        pid: Some(Pid::from_child(&child)),
        reaped: false,
    };
    let started = Instant::now();
    let (tx, rx): (Sender<Event>, Receiver<Event>) = channel();
    watch(child, o.stdin.clone(), &tx);
    drop(tx);
    let (mut stdout, mut stderr, mut logged) = (Vec::new(), Vec::new(), [0usize; 2]);
    let (mut status, mut eofs) = (None, 0);
    let mut ended: Option<(Ended, Instant)> = None;
    let mut drain_until = None;
    loop {
        match rx.recv_timeout(TICK) {
            Ok(Event::Line(is_err, line)) => {
                log_line(w, name, is_err, &line, &mut logged[is_err as usize]);
                if is_err { &mut stderr } else { &mut stdout }.extend_from_slice(&line);
            }
            Ok(Event::Eof) => eofs += 1,
            Ok(Event::Exited(result)) => {
                status =
                    Some(result.map_err(|e| script_error(format!("waiting for {name}: {e}")))?);
                group.reaped = true;
                // Leftovers in the group would keep the pipes open: end them now.
                group.signal(Signal::KILL);
                group.pid = None;
                drain_until = Some(Instant::now() + Duration::from_secs(2));
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if status.is_some() && (eofs == 2 || drain_until.is_some_and(|t| Instant::now() >= t)) {
            break;
        }
        if status.is_some() {
            continue;
        }
        match &ended {
            None => {
                if let Some(why) = reason_to_end(w, o, started) {
                    super::logging::emit(w, 2, &format!("ending {name} (SIGTERM): {}", why.text()));
                    group.signal(Signal::TERM);
                    ended = Some((why, Instant::now()));
                }
            }
            Some((_, at)) if at.elapsed() >= GRACE => group.signal(Signal::KILL),
            Some(_) => {}
        }
    }
    let status = status.ok_or_else(|| script_error(format!("lost track of {name}")))?;
    Ok(Ran {
        status,
        stdout,
        stderr,
        ended: ended.map(|(e, _)| e),
    })
}

impl Ended {
    fn text(&self) -> String {
        match self {
            Ended::Terminated(why) => why.clone(),
            Ended::TimedOut(limit) => format!("timed out after {} s", limit.as_secs_f64()),
        }
    }
}

fn reason_to_end(w: &Worker, o: &Options, started: Instant) -> Option<Ended> {
    if let Some(why) = w.interruption() {
        return Some(Ended::Terminated(why));
    }
    o.timeout
        .filter(|limit| started.elapsed() >= *limit)
        .map(Ended::TimedOut)
}

fn log_line(w: &Worker, name: &str, is_err: bool, line: &[u8], count: &mut usize) {
    *count += 1;
    let stream = if is_err { "stderr" } else { "stdout" };
    if *count <= LOGGED_LINES {
        let text = String::from_utf8_lossy(line);
        super::logging::emit(w, 1, &format!("{name} {stream}| {}", text.trim_end()));
    } else if *count == LOGGED_LINES + 1 {
        super::logging::emit(
            w,
            1,
            &format!("{name} {stream}| (more lines are not logged)"),
        );
    }
}

/// Turn a finished run into the result map, or the error the issue asks for.
fn finish(w: &Worker, name: &str, o: &Options, ran: Ran, started: Instant) -> R<Map> {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let (stdout, stderr) = (text(&ran.stdout), text(&ran.stderr));
    if o.echo {
        echo(&ran.stdout, &ran.stderr);
    }
    let code = exit_code(ran.status);
    super::logging::emit(
        w,
        1,
        &format!(
            "{name}: {} after {:.2} s",
            describe_status(ran.status),
            started.elapsed().as_secs_f64()
        ),
    );
    match ran.ended {
        Some(Ended::Terminated(why)) => return Err(terminated(why)),
        Some(ended @ Ended::TimedOut(_)) => {
            return Err(script_error(format!(
                "{name} {}{}",
                ended.text(),
                last_lines(&stderr)
            )));
        }
        None => {}
    }
    if o.check && !ran.status.success() {
        return Err(script_error(format!(
            "{name} {}{}",
            describe_status(ran.status),
            last_lines(&stderr)
        )));
    }
    let mut map = Map::new();
    map.insert("status".into(), Dynamic::from(code));
    map.insert("stdout".into(), Dynamic::from(stdout));
    map.insert("stderr".into(), Dynamic::from(stderr));
    Ok(map)
}

/// The exit code, or 128 + the signal number for a program killed by a signal (as shells do).
fn exit_code(status: ExitStatus) -> i64 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => code as i64,
        (None, Some(signal)) => 128 + signal as i64,
        _ => -1,
    }
}

/// "exited with status 2", "was killed by signal 9 (SIGKILL)".
fn describe_status(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(signal)) => {
            let name = Signal::from_named_raw(signal)
                .map(signal_name)
                .unwrap_or("");
            format!("was killed by signal {signal}{name}")
        }
        _ => format!("ended ({status})"),
    }
}

fn signal_name(signal: Signal) -> &'static str {
    match signal {
        Signal::HUP => " (SIGHUP)",
        Signal::INT => " (SIGINT)",
        Signal::QUIT => " (SIGQUIT)",
        Signal::ABORT => " (SIGABRT)",
        Signal::KILL => " (SIGKILL)",
        Signal::SEGV => " (SIGSEGV)",
        Signal::PIPE => " (SIGPIPE)",
        Signal::TERM => " (SIGTERM)",
        Signal::BUS => " (SIGBUS)",
        Signal::FPE => " (SIGFPE)",
        _ => "",
    }
}

/// "; last stderr lines: one | two" (on one line: failure reasons are log lines, and
/// `claimsh logs` finds lines by the item's key, which ends the line).
fn last_lines(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if lines.is_empty() {
        return "; its stderr was empty".into();
    }
    let from = lines.len().saturating_sub(QUOTED_LINES);
    format!("; last stderr lines: {}", lines[from..].join(" | "))
}

/// Print a program's output on claimsh's own streams, one block per call, never interleaved
/// with another worker's block (like GNU parallel's default `--group`).
fn echo(stdout: &[u8], stderr: &[u8]) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(stdout).and_then(|()| out.flush());
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(stderr).and_then(|()| err.flush());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_replaces_every_placeholder_in_one_pass() {
        assert_eq!(fill("out/{stem}.csv", "in/a.tif"), "out/a.csv");
        assert_eq!(
            fill("{dir}/{name} {}", "in/sub/b.c.txt"),
            "in/sub/b.c.txt in/sub/b.c.txt"
        );
        assert_eq!(fill("{dir}", "a.txt"), ".");
        assert_eq!(
            fill("x{stem}y", "in/{}.txt"),
            "x{}y",
            "inserted text is not scanned again"
        );
        assert_eq!(fill("naïve {} ü", "p"), "naïve p ü");
        assert!(has_placeholder("--in={}") && !has_placeholder("{x}"));
        assert_eq!(
            fill("{.} {/} {//} {/.}", "in/sub/b.c.txt"),
            "in/sub/b.c b.c.txt in/sub b.c"
        );
        assert!(has_placeholder("{/.}.png"));
    }

    #[test]
    fn a_failed_program_is_described_with_its_last_stderr_lines() {
        let lines: String = (1..=8).map(|i| format!("line {i}\n")).collect();
        let text = last_lines(&lines);
        assert!(
            text.contains("line 8") && text.contains("line 4") && !text.contains("line 3"),
            "{text}"
        );
        assert_eq!(last_lines("\n"), "; its stderr was empty");
        assert_eq!(
            shown(&["cat".into(), "my file".into(), "it's".into()]),
            r"cat 'my file' 'it'\''s'"
        );
    }
}
