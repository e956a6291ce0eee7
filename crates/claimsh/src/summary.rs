//! The end-of-run report: one line saying what this process did, then the first failures with
//! their reasons and where to look next. Printed on stderr unless `-q`, terminal or not: a run
//! whose output goes to a file must still say whether it processed 24 items or none.

use crate::words::count;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

/// What one run of this process did.
#[derive(Debug, Default)]
pub struct Summary {
    /// Items done here.
    pub done: u64,
    /// Items failed here.
    pub failed: u64,
    /// Items other instances still hold as this one exits (`--no-wait`, or interrupted).
    pub left: u64,
    /// Items done by other instances or earlier runs.
    pub done_elsewhere: u64,
    /// Items whose last attempt failed in other instances or earlier runs (skipped here).
    pub failed_elsewhere: u64,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// This instance's log file.
    pub log: Option<PathBuf>,
    /// The first items failed here, with their reasons.
    pub failures: Vec<(String, String)>,
    /// Whether the script failed outside any item (its error was printed when it happened).
    pub script_failed: bool,
    /// What to give `claimsh status` for this ledger: the script, or `--state DIR`.
    pub target: String,
}

impl Summary {
    /// `24 done, 0 failed, 0 left to others in 0.5 s (48 items/s) — logs: <path>`, then the
    /// failures, one per line.
    pub fn text(&self) -> String {
        let mut out = format!(
            "{} done, {} failed, {} left to others",
            self.done, self.failed, self.left
        );
        if self.done_elsewhere > 0 {
            let _ = write!(out, " ({} by other runs)", count_done(self.done_elsewhere));
        }
        let secs = self.elapsed.as_secs_f64();
        let _ = write!(out, " in {}", seconds(secs));
        let finished = self.done + self.failed;
        if finished > 0 && secs > 0.0 {
            let _ = write!(out, " ({} items/s)", rate(finished as f64 / secs));
        }
        if let Some(log) = &self.log {
            let _ = write!(out, " — logs: {}", log.display());
        }
        out.push('\n');
        self.failures_text(&mut out);
        out
    }

    fn failures_text(&self, out: &mut String) {
        let idle = self.done + self.failed + self.left == 0 && !self.script_failed;
        if self.failed_elsewhere > 0 {
            let _ = writeln!(
                out,
                "{} failed before or elsewhere and {} skipped (`--retry-failed` runs {} again)",
                count(self.failed_elsewhere, "item", "items"),
                if self.failed_elsewhere == 1 {
                    "was"
                } else {
                    "were"
                },
                if self.failed_elsewhere == 1 {
                    "it"
                } else {
                    "them"
                }
            );
        } else if idle && self.done_elsewhere > 0 {
            let _ = writeln!(
                out,
                "nothing was left to do (`claimsh cleanup --all {}` starts over)",
                self.target
            );
        }
        if self.failed > 0 {
            let _ = writeln!(out, "{} failed:", count(self.failed, "item", "items"));
            for (item, reason) in &self.failures {
                let _ = writeln!(out, "  {item}: {reason}");
            }
            let more = self.failed.saturating_sub(self.failures.len() as u64);
            if more > 0 {
                let _ = writeln!(out, "  … and {more} more");
            }
        }
        if self.script_failed {
            let _ = writeln!(
                out,
                "the script failed outside any item (the error is above)"
            );
        }
        if self.failed > 0 || self.script_failed {
            let _ = writeln!(
                out,
                "see `claimsh status {0}` and `claimsh logs {0} ITEM`; \
                 `--retry-failed` runs failed items again",
                self.target
            );
        }
    }
}

/// `3 items done` / `1 item done`.
fn count_done(n: u64) -> String {
    format!("{} done", count(n, "item", "items"))
}

/// `0.5 s`, `12 s`, `3 min 20 s`.
fn seconds(secs: f64) -> String {
    match secs {
        s if s < 10.0 => format!("{s:.1} s"),
        s if s < 120.0 => format!("{s:.0} s"),
        s => format!("{} min {:.0} s", (s / 60.0).floor(), s % 60.0),
    }
}

/// Two significant digits, more for large rates: `0.25`, `4.8`, `48`, `1234`.
fn rate(per_second: f64) -> String {
    match per_second {
        r if r < 1.0 => format!("{r:.2}"),
        r if r < 10.0 => format!("{r:.1}"),
        r => format!("{r:.0}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_says_what_was_done_how_fast_and_where_the_log_is() {
        let summary = Summary {
            done: 24,
            elapsed: Duration::from_millis(500),
            log: Some("s/logs/h.1.2.log".into()),
            target: "a.rhai".into(),
            ..Default::default()
        };
        assert_eq!(
            summary.text(),
            "24 done, 0 failed, 0 left to others in 0.5 s (48 items/s) — logs: s/logs/h.1.2.log\n"
        );
    }

    #[test]
    fn a_run_with_nothing_left_says_how_to_start_over() {
        let summary = Summary {
            done_elsewhere: 24,
            target: "a.rhai".into(),
            ..Default::default()
        };
        assert_eq!(
            summary.text(),
            "0 done, 0 failed, 0 left to others (24 items done by other runs) in 0.0 s\n\
             nothing was left to do (`claimsh cleanup --all a.rhai` starts over)\n"
        );
    }

    #[test]
    fn failures_come_with_reasons_a_plural_that_agrees_and_a_hint() {
        let summary = Summary {
            done: 2,
            failed: 1,
            done_elsewhere: 1,
            elapsed: Duration::from_secs(200),
            failures: vec![("b".into(), "a.rhai:3:5: boom".into())],
            target: "a.rhai".into(),
            ..Default::default()
        };
        let text = summary.text();
        assert!(
            text.starts_with(
                "2 done, 1 failed, 0 left to others (1 item done by other runs) in 3 min 20 s"
            ),
            "{text}"
        );
        assert!(
            text.contains("\n1 item failed:\n  b: a.rhai:3:5: boom\n"),
            "{text}"
        );
        assert!(text.contains("claimsh status a.rhai"), "{text}");
    }
}
