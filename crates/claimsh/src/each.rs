//! `claimsh each PATTERN [--output TEMPLATE] [run options] -- CMD ARGS...`: a program per file,
//! no script needed.
//!
//! `each` is a script run like any other: [`SCRIPT`] (built in) walks `claimed(glob(PATTERN))`
//! and calls `exec` per file, on the same runner as `claimsh run`. So claiming, retries, leases,
//! `--item-timeout`, Ctrl-C, logs, status and exit codes are exactly `run`'s, and follow it when
//! the ledger changes.

use crate::args::EachArgs;
use crate::exit::USAGE as EXIT_USAGE;
use crate::runner::{Job, run_job};
use crate::words::quote;
use sha2::{Digest, Sha256};
use std::path::PathBuf;

/// The script `each` runs. `ARGS` = [pattern, output template ("" for none), command...].
pub const SCRIPT: &str = r#"
let args = ARGS;
let pattern = args[0];
let output = args[1];
let command = args.extract(2);
for f in claimed(glob(pattern)) {
    let out = fill(output, f);
    if output != "" && exists(out) {
        done(f);            // made by an earlier run, or by hand
        continue;
    }
    if output != "" && parent(out) != "" { mkdir(parent(out)); }   // so the command need not
    let argv = [];
    for a in command { argv.push(fill(a, f)); }
    try {
        exec(argv, #{ echo: true });
    } catch (e) {
        fail(f, `${e}`);
        continue;
    }
    if output != "" && !exists(out) {
        fail(f, `${argv[0]} exited with status 0 but did not create ${out}`);
        continue;
    }
    done(f);
}
"#;

/// `ARGS` for [`SCRIPT`]: pattern, output template, command (the file appended when no
/// argument names it, as GNU parallel does).
pub fn script_args(each: &EachArgs) -> Vec<String> {
    let mut args = vec![
        each.pattern.clone(),
        each.output.clone().unwrap_or_default(),
    ];
    args.extend(each.command.iter().cloned());
    if !each
        .command
        .iter()
        .any(|a| crate::api::exec::has_placeholder(a))
    {
        args.push("{}".into());
    }
    args
}

/// `.claimsh/each-<12 hex digits>/` in the current folder: the digits are a SHA-256 of the
/// pattern, the output template and the command as typed, so every node running the same
/// command line in the same (shared) folder agrees, whatever its mount point.
pub fn default_state(args: &EachArgs) -> PathBuf {
    let mut hash = Sha256::new();
    let parts = script_args(args);
    for part in &parts {
        // Length-prefixed, so ["a b"] and ["a", "b"] differ.
        hash.update((part.len() as u64).to_le_bytes());
        hash.update(part.as_bytes());
    }
    let digest = hash.finalize();
    let hex: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    PathBuf::from(".claimsh").join(format!("each-{hex}"))
}

/// `claimsh each`: check the pattern, then run [`SCRIPT`] with the runner of `claimsh run`.
pub fn each(args: EachArgs) -> anyhow::Result<i32> {
    let dir = std::env::current_dir()?;
    let matches = match glob::glob(&dir.join(&args.pattern).to_string_lossy()) {
        Ok(paths) => paths.count(),
        Err(e) => {
            eprintln!("claimsh each: bad pattern {:?}: {e}", args.pattern);
            return Ok(EXIT_USAGE);
        }
    };
    if matches == 0 {
        eprintln!(
            "claimsh each: no file matches {:?} in {} (quote the pattern so the shell does not \
             expand it)",
            args.pattern,
            dir.display()
        );
        return Ok(EXIT_USAGE);
    }
    let state = args
        .options
        .state
        .clone()
        .unwrap_or_else(|| default_state(&args));
    let ast = rhai::Engine::new()
        .compile(SCRIPT)
        .map_err(|e| anyhow::anyhow!("the built-in each script: {e}"))?;
    if !args.options.quiet {
        eprintln!(
            "claimsh each: {}, state {} (claimsh status --state {1})",
            crate::words::count(matches as u64, "file", "files"),
            state.display()
        );
    }
    let job = Job {
        ast,
        dir,
        name: "each".into(),
        target: format!("--state {}", quote(&state.display().to_string())),
        state,
        args: script_args(&args),
    };
    run_job(job, &args.options)
}

/// For `claimsh slurm ... each ...`: the job name, the state directory (absolute), the
/// script's run lines (`--jobs` is SLURM's CPU count, `cpus` if unset) and where to write the sbatch file
/// (`each-<digits>.sbatch` in the current folder).
pub fn slurm_line(
    args: &EachArgs,
    exe: &std::path::Path,
    cpus: u32,
) -> anyhow::Result<(String, PathBuf, String, PathBuf)> {
    let dir = std::env::current_dir()?;
    let state = dir.join(
        args.options
            .state
            .clone()
            .unwrap_or_else(|| default_state(args)),
    );
    let mut words = vec![
        exe.display().to_string(),
        "each".into(),
        args.pattern.clone(),
    ];
    if let Some(output) = &args.output {
        words.extend(["--output".into(), output.clone()]);
    }
    words.extend(["--state".into(), state.display().to_string()]);
    let o = &args.options;
    if let Some(limit) = o.item_timeout {
        words.extend(["--item-timeout".into(), limit.to_string()]);
    }
    if let Some(max) = o.max_failures {
        words.extend(["--max-failures".into(), max.to_string()]);
    }
    words.extend([
        "--lease".into(),
        o.lease.to_string(),
        "--no-progress".into(),
    ]);
    if o.retry_failed {
        words.push("--retry-failed".into());
    }
    let quoted: Vec<String> = words.iter().map(|w| quote(w)).collect();
    let command: Vec<String> = args.command.iter().map(|w| quote(w)).collect();
    let run = format!(
        "cd {} || exit 1
exec {} --jobs \"${{SLURM_CPUS_PER_TASK:-{cpus}}}\" -- {}\n",
        quote(&dir.display().to_string()),
        quoted.join(" "),
        command.join(" ")
    );
    let name = state
        .file_name()
        .map_or("each".into(), |n| n.to_string_lossy().into_owned());
    let path = dir.join(format!("{name}.sbatch"));
    Ok((name, state, run, path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        each: EachArgs,
    }

    fn parse(line: &[&str]) -> EachArgs {
        Cli::parse_from(std::iter::once("each").chain(line.iter().copied())).each
    }

    #[test]
    fn the_default_state_depends_on_the_command_line_only() {
        let a = parse(&["in/*.txt", "-o", "out/{stem}", "-j", "2", "--", "wc", "-l"]);
        let b = parse(&["in/*.txt", "--output", "out/{stem}", "--", "wc", "-l"]);
        let c = parse(&["in/*.txt", "-o", "out/{stem}", "--", "wc", "-c"]);
        let d = parse(&["in/*.txt", "-o", "out/{stem}", "--", "wc -l"]);
        assert_eq!(
            default_state(&a),
            default_state(&b),
            "--jobs does not matter"
        );
        assert_ne!(default_state(&a), default_state(&c));
        assert_ne!(default_state(&a), default_state(&d));
        assert!(default_state(&a).starts_with(".claimsh"));
        // Pinned (SHA-256 of the length-prefixed words, checked with Python's hashlib): a node
        // with another build must find the same folder.
        let e = parse(&["*.txt", "--", "cat"]);
        assert_eq!(
            default_state(&e),
            PathBuf::from(".claimsh/each-574f45a1860b")
        );
    }

    #[test]
    fn the_file_is_appended_when_no_argument_names_it() {
        let a = parse(&["*.txt", "--", "wc", "-l"]);
        assert_eq!(script_args(&a), ["*.txt", "", "wc", "-l", "{}"]);
        let b = parse(&["*.txt", "--", "cp", "{}", "{stem}.bak"]);
        assert_eq!(script_args(&b), ["*.txt", "", "cp", "{}", "{stem}.bak"]);
    }
}
