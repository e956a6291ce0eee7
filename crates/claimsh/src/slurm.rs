//! `claimsh slurm`: write (and optionally submit) a SLURM job-array script that runs a script or
//! `claimsh each` on N nodes.

use crate::args::{SlurmArgs, SlurmEach};
use crate::exit::OK as EXIT_OK;
use crate::stdout::outln;
use crate::words::quote_path;
use anyhow::Context;
use std::path::{Path, PathBuf};

/// `claimsh slurm`: write the job script (and with `--submit`, check the script, then submit).
pub fn slurm(args: &SlurmArgs) -> anyhow::Result<i32> {
    let exe = std::env::current_exe()?;
    let (name, state, run, path) = match (&args.each, &args.script) {
        (Some(SlurmEach::Each(each)), _) => {
            crate::each::slurm_line(each, &exe, args.cpus_per_task)?
        }
        (None, Some(script)) => {
            if args.submit {
                // A typo found here costs a second, found by the cluster a queue wait per node.
                let code = crate::script::check(script)?;
                if code != EXIT_OK {
                    eprintln!("claimsh slurm: not submitted: fix the script first");
                    return Ok(code);
                }
            }
            script_line(&exe, script, args.cpus_per_task)?
        }
        (None, None) => anyhow::bail!("give a SCRIPT, or `each PATTERN -- CMD ...`"),
    };
    let text = sbatch_text(args, &name, &state, &run);
    std::fs::create_dir_all(state.join("logs"))?;
    std::fs::write(&path, &text)?;
    outln!("{text}");
    eprintln!("wrote {}", path.display());
    if args.submit {
        let ok = std::process::Command::new("sbatch")
            .arg(&path)
            .status()
            .context("run sbatch")?
            .success();
        if !ok {
            anyhow::bail!("sbatch {} failed", path.display());
        }
    }
    Ok(EXIT_OK)
}

/// For a script: the job name (its stem), the state directory, the run line (every path
/// quoted: a project folder may have a space in its name) and where to write the sbatch file.
fn script_line(
    exe: &Path,
    script: &Path,
    cpus: u32,
) -> anyhow::Result<(String, PathBuf, String, PathBuf)> {
    let script =
        std::fs::canonicalize(script).with_context(|| format!("script {}", script.display()))?;
    let state = crate::args::default_state(&script);
    let run = format!(
        "exec {} run {} --jobs \"${{SLURM_CPUS_PER_TASK:-{cpus}}}\" --state {} --no-progress\n",
        quote_path(exe),
        quote_path(&script),
        quote_path(&state)
    );
    let stem = script
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("claimsh");
    Ok((
        stem.to_string(),
        state,
        run,
        script.with_extension("sbatch"),
    ))
}

/// The job script: `#SBATCH` lines, then `run`.
fn sbatch_text(args: &SlurmArgs, name: &str, state: &Path, run: &str) -> String {
    let mut text = String::from("#!/bin/bash\n");
    text += &format!(
        "#SBATCH --job-name=claimsh-{name}\n#SBATCH --array=0-{}\n",
        args.tasks.saturating_sub(1)
    );
    text += &format!(
        "#SBATCH --cpus-per-task={}\n#SBATCH --ntasks=1\n",
        args.cpus_per_task
    );
    // sbatch reads `#SBATCH` lines itself, with its own quoting: double quotes keep a space.
    text += &format!(
        "#SBATCH --output=\"{}/slurm-%A_%a.out\"\n",
        state.join("logs").display()
    );
    if let Some(t) = &args.time {
        text += &format!("#SBATCH --time={t}\n");
    }
    if let Some(p) = &args.partition {
        text += &format!("#SBATCH --partition={p}\n");
    }
    for o in &args.sbatch {
        text += &format!("#SBATCH {o}\n");
    }
    text += run;
    text
}
