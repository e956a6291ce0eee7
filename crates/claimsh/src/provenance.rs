//! `provenance.json`: what produced a result folder (the script and its SHA-256, the claimsh
//! version, `ARGS`, the hosts that took part, start and end times).
//!
//! Many processes on many hosts share the folder, and any may crash, so no process rewrites
//! another's facts: each process writes its own record, `<out>/.provenance/<host>-<pid>.json`,
//! atomically, when the script first calls `provenance(out)` (started, no end) and again when the
//! process ends (with its end time). After each write it rebuilds `provenance.json` from all the
//! records, under a claim on the `once` ledger (the lock `once(...)` uses; a crashed holder's
//! claim goes stale and is taken over), writing a temporary file and renaming it. The last
//! process to rebuild has read every record written before it took the claim, so the final file
//! includes every process; a process that crashed keeps `"ended": null`.

use claim_core::{Claimed, Ledger};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// This process's facts, from `claimsh run` ([`Run::begin`]).
#[derive(Clone)]
struct ProcessFacts {
    script: PathBuf,
    args: Vec<String>,
    host: String,
    started: String,
}

/// The run of this process, and the folders whose provenance it records.
struct State {
    facts: ProcessFacts,
    /// Each output folder with the `once` ledger used to lock its `provenance.json`.
    folders: Vec<(PathBuf, Ledger)>,
}

static STATE: Mutex<Option<State>> = Mutex::new(None);

fn state() -> std::sync::MutexGuard<'static, Option<State>> {
    STATE.lock().unwrap_or_else(|e| e.into_inner())
}

/// While alive, `provenance(out)` may record this process; when dropped (the end of
/// `claimsh run`), every folder recorded gets this process's end time.
pub struct Run(());

impl Run {
    /// Remember the script (`name` as given, in folder `dir`), its `ARGS` and the host for
    /// `provenance(out)` calls.
    pub fn begin(dir: &Path, name: &str, args: &[String], host: &str) -> Run {
        let file = Path::new(name).file_name().unwrap_or_default();
        *state() = Some(State {
            facts: ProcessFacts {
                script: dir.join(file),
                args: args.to_vec(),
                host: host.to_string(),
                started: now(),
            },
            folders: Vec::new(),
        });
        Run(())
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        let Some(state) = state().take() else { return };
        let ended = now();
        for (out, ledger) in &state.folders {
            if let Err(e) = write_and_merge(out, &state.facts, Some(&ended), ledger) {
                tracing::warn!("provenance of {}: {e}", out.display());
            }
        }
    }
}

/// Record this process in `out`'s provenance (once per folder and process; later calls do
/// nothing). `ledger` is the `once` ledger, whose claims lock the merged file.
pub fn record(out: &Path, ledger: &Ledger) -> Result<(), String> {
    let facts = {
        let mut guard = state();
        let state = guard
            .as_mut()
            .ok_or("provenance() records a run of `claimsh run`; there is none here")?;
        if state.folders.iter().any(|(dir, _)| dir == out) {
            return Ok(());
        }
        state.folders.push((out.to_path_buf(), ledger.clone()));
        state.facts.clone()
    };
    write_and_merge(out, &facts, None, ledger)
}

fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn records_dir(out: &Path) -> PathBuf {
    out.join(".provenance")
}

/// This process's record, then the merged file.
fn write_and_merge(
    out: &Path,
    facts: &ProcessFacts,
    ended: Option<&str>,
    ledger: &Ledger,
) -> Result<(), String> {
    let bytes = std::fs::read(&facts.script)
        .map_err(|e| format!("read the script {}: {e}", facts.script.display()))?;
    let record = json!({
        "host": facts.host,
        "pid": std::process::id(),
        "started": facts.started,
        "ended": ended,
        "script": facts.script.display().to_string(),
        "script_sha256": sha256_hex(&bytes),
        "claimsh_version": env!("CARGO_PKG_VERSION"),
        "args": facts.args,
    });
    let name = format!("{}-{}.json", facts.host, std::process::id());
    write_json(&records_dir(out).join(name), &record)?;
    with_lock(out, ledger, || {
        write_json(&out.join("provenance.json"), &merged(out)?)
    })
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn write_json(path: &Path, value: &Value) -> Result<(), String> {
    let mut text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    text.push('\n');
    crate::api::io::write_atomic(path, text.as_bytes()).map_err(|e| e.to_string())
}

/// Run `f` holding the claim `provenance:<out>` on the `once` ledger.
fn with_lock(
    out: &Path,
    ledger: &Ledger,
    f: impl FnOnce() -> Result<(), String>,
) -> Result<(), String> {
    let key = format!("provenance:{}", out.display());
    for _ in 0..1200 {
        match ledger.claim(&key).map_err(|e| e.to_string())? {
            Claimed::Won(claim) => {
                let result = f();
                let _ = claim.release();
                return result;
            }
            Claimed::Busy => {
                std::thread::sleep(Duration::from_millis(50));
                ledger.refresh().map_err(|e| e.to_string())?;
            }
            Claimed::Done | Claimed::Failed => {
                return Err(format!(
                    "the lock {key:?} is marked finished in the once ledger"
                ));
            }
        }
    }
    Err(format!("{key:?} stayed locked for a minute"))
}

/// `provenance.json` from every process record in the folder.
fn merged(out: &Path) -> Result<Value, String> {
    let dir = records_dir(out);
    let mut records: Vec<Value> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            (path.extension()? == "json").then_some(())?;
            serde_json::from_str(&std::fs::read_to_string(&path).ok()?).ok()
        })
        .collect();
    let text = |r: &Value, key: &str| r[key].as_str().unwrap_or_default().to_string();
    records.sort_by_key(|r| (text(r, "started"), text(r, "host")));
    let first = records.first().cloned().unwrap_or(Value::Null);
    let mut hosts: Vec<String> = records.iter().map(|r| text(r, "host")).collect();
    hosts.sort();
    hosts.dedup();
    let all_ended = records.iter().all(|r| r["ended"].is_string());
    let ended = records.iter().map(|r| text(r, "ended")).max();
    let scripts: Vec<String> = records.iter().map(|r| text(r, "script_sha256")).collect();
    let mut value = json!({
        "script": first["script"],
        "script_sha256": first["script_sha256"],
        "claimsh_version": first["claimsh_version"],
        "args": first["args"],
        "hosts": hosts,
        "started": first["started"],
        "ended": if all_ended { ended.map(Value::from).unwrap_or(Value::Null) } else { Value::Null },
        "processes": records,
    });
    if scripts.iter().any(|s| *s != scripts[0]) {
        value["warning"] =
            json!("the processes ran different versions of the script (see processes)");
    }
    Ok(value)
}
