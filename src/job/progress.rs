//! Progress while a run sends: an indicatif bar on a terminal, a plain line every few
//! seconds otherwise (logs, CI), and the summary table at the end.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::engine::Counters;
use crate::outcome::Outcome;
use crate::output;

pub struct Progress {
    bar: Option<ProgressBar>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Progress {
    /// Start reporting on a run that will finish `total` units. `quiet` shows nothing.
    /// `done_word` names a finished success: "deleted", or "exported" for access exports.
    pub fn start(
        total: u64,
        counters: Arc<Counters>,
        quiet: bool,
        every: Duration,
        done_word: &'static str,
    ) -> Progress {
        if quiet {
            return Progress {
                bar: None,
                task: None,
            };
        }
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} keys {rate} eta {eta}\n{msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .with_key("rate", |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{:.0}/s", state.per_sec());
                }),
            );
            let b = bar.clone();
            let task = tokio::spawn(async move {
                loop {
                    b.set_position(counters.finished_total());
                    b.set_message(line_counts(&counters, done_word));
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            });
            Progress {
                bar: Some(bar),
                task: Some(task),
            }
        } else {
            let started = Instant::now();
            let task = tokio::spawn(async move {
                let mut last = (started, 0);
                loop {
                    tokio::time::sleep(every).await;
                    let done = counters.finished_total();
                    let now = Instant::now();
                    let secs = now.duration_since(started).as_secs_f64().max(0.001);
                    // The ETA follows the recent rate: a throttled run's rate moves.
                    let recent = (done.saturating_sub(last.1)) as f64
                        / now.duration_since(last.0).as_secs_f64().max(0.001);
                    last = (now, done);
                    output::eprint(&format!(
                        "progress: {done}/{total} keys ({:.0}/s, {}) {}\n",
                        done as f64 / secs,
                        eta(total.saturating_sub(done), recent),
                        line_counts(&counters, done_word)
                    ));
                }
            });
            Progress {
                bar: None,
                task: Some(task),
            }
        }
    }

    pub fn finish(self) {
        if let Some(task) = self.task {
            task.abort();
        }
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

fn line_counts(c: &Counters, done_word: &str) -> String {
    // An access export's `not_found` is a subject with no data (see `outcome::shown`).
    let absent = if done_word == "exported" {
        "no data"
    } else {
        "not_found"
    };
    format!(
        "{done_word} {} · {absent} {} · rejected {} · failed {} · retries {} · 429s {}",
        c.finished(Outcome::Deleted),
        c.finished(Outcome::NotFound),
        c.finished(Outcome::Rejected),
        c.finished(Outcome::Failed),
        c.retries.load(std::sync::atomic::Ordering::Relaxed),
        c.throttled.load(std::sync::atomic::Ordering::Relaxed),
    )
}

/// "eta 4m05s" for `remaining` keys at `rate` per second; "eta unknown" while nothing moves.
fn eta(remaining: u64, rate: f64) -> String {
    if remaining == 0 {
        return "eta 0s".to_owned();
    }
    if rate.is_nan() || rate <= 0.0 {
        return "eta unknown".to_owned();
    }
    let secs = (remaining as f64 / rate).ceil().min(u64::MAX as f64) as u64;
    match secs {
        s if s < 60 => format!("eta {s}s"),
        s if s < 3600 => format!("eta {}m{:02}s", s / 60, s % 60),
        s => format!("eta {}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::eta;

    #[test]
    fn etas() {
        let case = |remaining: u64, rate: f64, want: &str| {
            assert_eq!(eta(remaining, rate), want, "{remaining} at {rate}/s")
        };
        case(0, 0.0, "eta 0s");
        case(10, 0.0, "eta unknown");
        case(10, f64::NAN, "eta unknown");
        case(10, 3.0, "eta 4s");
        case(245, 1.0, "eta 4m05s");
        case(1_000_000, 100.0, "eta 2h46m");
    }
}
