//! The progress display of a run: a bar on a terminal, a plain line every ten seconds otherwise.

use crate::worker::{ParProgress, Process};
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Items done per second over the last minute, from this process's own samples (its monotonic
/// clock; done counts include other nodes' work).
#[derive(Default)]
struct Rate {
    samples: std::collections::VecDeque<(Instant, u64)>,
}

impl Rate {
    /// Add a sample; the rate over the samples of the last minute, once they span a second.
    fn add(&mut self, done: u64) -> Option<f64> {
        let now = Instant::now();
        self.samples.push_back((now, done));
        while self
            .samples
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) > Duration::from_secs(60))
        {
            self.samples.pop_front();
        }
        let (t0, d0) = *self.samples.front()?;
        let span = now.duration_since(t0).as_secs_f64();
        (span >= 1.0).then(|| done.saturating_sub(d0) as f64 / span)
    }
}

/// `12.3/s eta 40s failed 2 par_map 4200/10000`, the parts that are known.
fn progress_message(c: &claim_core::Counts, rate: Option<f64>, maps: &ParProgress) -> String {
    let mut parts = Vec::new();
    if let Some(rate) = rate {
        parts.push(format!("{rate:.1}/s"));
        if let Some(total) = c.total
            && rate > 0.0
        {
            let pending = total.saturating_sub(c.done + c.failed);
            parts.push(format!("eta {:.0}s", pending as f64 / rate));
        }
    }
    parts.push(format!("failed {}", c.failed));
    let (finished, total) = (
        maps.finished.load(Ordering::Relaxed),
        maps.total.load(Ordering::Relaxed),
    );
    if finished < total {
        parts.push(format!("par_map {finished}/{total}"));
    }
    parts.join(" ")
}

pub struct Progress {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<()>,
}

impl Progress {
    /// Redraw every second on a terminal, print a line every ten seconds otherwise. Polls
    /// [`claim_core::Ledger::counts`] (directory listings only), never the full status, so a
    /// thousand nodes can each draw a bar against one file server.
    pub fn start(process: &Arc<Process>) -> Progress {
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, ledger) = (stop.clone(), process.ledger.clone());
        let maps = process.par_progress.clone();
        let handle = std::thread::spawn(move || {
            let terminal = std::io::stderr().is_terminal();
            let bar = indicatif::ProgressBar::hidden();
            if terminal {
                bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                bar.set_style(
                    indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} items  {msg}")
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                );
            }
            let mut rate = Rate::default();
            let mut tick = 0u64;
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(250));
                tick += 1;
                let period = if terminal { 4 } else { 40 };
                // One early sample, so the first printed line already has a rate.
                let early_sample = tick == 4;
                if !tick.is_multiple_of(period) && !early_sample {
                    continue;
                }
                let Ok(c) = ledger.counts() else { continue };
                let per_second = rate.add(c.done);
                if !tick.is_multiple_of(period) {
                    continue;
                }
                let message = progress_message(&c, per_second, &maps);
                if terminal {
                    bar.set_length(c.total.unwrap_or(c.done + c.claimed));
                    bar.set_position(c.done);
                    bar.set_message(message);
                } else {
                    eprintln!("progress: done {} claimed {} {message}", c.done, c.claimed);
                }
            }
            bar.finish_and_clear();
        });
        Progress { stop, handle }
    }

    pub fn finish(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.handle.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_progress_message_shows_what_is_known() {
        let counts = claim_core::Counts {
            done: 60,
            failed: 2,
            claimed: 4,
            total: Some(100),
        };
        let maps = ParProgress::default();
        assert_eq!(progress_message(&counts, None, &maps), "failed 2");
        assert_eq!(
            progress_message(&counts, Some(2.0), &maps),
            "2.0/s eta 19s failed 2"
        );
        maps.total.store(10, Ordering::Relaxed);
        maps.finished.store(3, Ordering::Relaxed);
        let unknown_total = claim_core::Counts {
            total: None,
            ..counts
        };
        assert_eq!(
            progress_message(&unknown_total, Some(2.0), &maps),
            "2.0/s failed 2 par_map 3/10"
        );
    }
}
