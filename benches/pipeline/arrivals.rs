//! Rates and 429s as the server saw them: the simulator's own arrival log (`GET
//! /_sim/timeline`), one entry per second of its clock. The ledger's attempt times are
//! stamped when forget's throttle releases a call, not when the server receives it, and its
//! 429 labels are forget's reading of the answers; neither is evidence of what the server
//! saw.

use std::path::Path;

use crate::R;
use crate::sim::Second;

/// Keep a run's arrival log in `dir/timeline-NAME.txt`, one line per second, for a closer
/// look at a figure.
pub fn keep(dir: &Path, name: &str, seconds: &[Second]) -> R<()> {
    let text: String = seconds
        .iter()
        .map(|s| {
            format!(
                "{} arrived {} admitted {} limited {} random {} limit {:?}\n",
                s.second, s.arrived, s.admitted, s.limited, s.random_429, s.limit
            )
        })
        .collect();
    let name = name.replace(['/', '%'], "-");
    std::fs::write(dir.join(format!("timeline-{name}.txt")), text)?;
    Ok(())
}

/// The arrival log of one run, from the simulator's start to when it was read.
pub struct Arrivals {
    seconds: Vec<Second>,
    /// The first and the last second of the simulator's clock in which a delete arrived:
    /// the run's first and last seconds, both partial.
    pub first: u64,
    pub last: u64,
}

/// The share of the available rate a run's goodput must hold to have converged.
pub const CONVERGED: f64 = 0.9;
/// Seconds over which goodput is averaged when judging convergence.
pub const SMOOTHING: usize = 5;

impl Arrivals {
    pub fn of(seconds: Vec<Second>) -> R<Arrivals> {
        let mut with = seconds.iter().filter(|s| s.arrived > 0).map(|s| s.second);
        let first = with
            .next()
            .ok_or("no delete request reached the simulator")?;
        let last = with.next_back().unwrap_or(first);
        Ok(Arrivals {
            seconds,
            first,
            last,
        })
    }

    /// Seconds `[from, to)` of the simulator's clock.
    fn span(&self, from: u64, to: u64) -> impl Iterator<Item = &Second> {
        self.seconds
            .iter()
            .filter(move |s| s.second >= from && s.second < to)
    }

    /// Second `s` of the simulator's clock, if the log reaches it.
    pub fn second(&self, s: u64) -> Option<&Second> {
        self.seconds.iter().find(|x| x.second == s)
    }

    /// Delete requests that arrived in `[from, to)`.
    pub fn calls(&self, from: u64, to: u64) -> u64 {
        self.span(from, to).map(|s| s.arrived).sum()
    }

    /// Of those, answered 429 (by the limiter or an injected fault).
    pub fn refused(&self, from: u64, to: u64) -> u64 {
        self.span(from, to).map(|s| s.limited + s.random_429).sum()
    }

    /// Refused ÷ calls in `[from, to)`.
    pub fn refused_share(&self, from: u64, to: u64) -> f64 {
        self.refused(from, to) as f64 / self.calls(from, to).max(1) as f64
    }

    /// Requests not answered 429 per second, over `[from, to)`.
    pub fn goodput(&self, from: u64, to: u64) -> f64 {
        let admitted: u64 = self.span(from, to).map(|s| s.admitted).sum();
        admitted as f64 / to.saturating_sub(from).max(1) as f64
    }

    /// Delete requests per second over the run's whole seconds (its first and last are
    /// partial), and how many whole seconds there were.
    pub fn steady_rate(&self) -> (f64, u64) {
        let (from, to) = (self.first + 1, self.last);
        if to <= from {
            // Too short to have a whole second: the best there is.
            let n = self.last - self.first + 1;
            return (self.calls(self.first, self.last + 1) as f64 / n as f64, 0);
        }
        (self.calls(from, to) as f64 / (to - from) as f64, to - from)
    }

    /// The end of a window of `secs` from the run's first second, ended earlier by the
    /// run's last (partial) second.
    pub fn window_end(&self, secs: u64) -> u64 {
        (self.first + secs).min(self.last)
    }

    /// How many seconds after `from` the run converged: from then until `to`, goodput over
    /// every [`SMOOTHING`] seconds was at least [`CONVERGED`] × the rate available in them
    /// (`available`, per second). `None` if the last such stretch before `to` is still
    /// below. Averaged over a few seconds, because a probe above the limit and the cut
    /// after it cost one second a share of its goodput by design; a pause of a whole second
    /// still shows.
    pub fn converged(&self, from: u64, to: u64, available: impl Fn(&Second) -> f64) -> Option<u64> {
        let seconds: Vec<&Second> = self.span(from, to).collect();
        let mut since = None;
        for (i, w) in seconds.windows(SMOOTHING).enumerate() {
            let admitted: u64 = w.iter().map(|s| s.admitted).sum();
            let room: f64 = w.iter().map(|s| available(s)).sum();
            if (admitted as f64) < CONVERGED * room {
                since = None;
            } else if since.is_none() {
                since = Some(seconds[i].second);
            }
        }
        since.map(|s| s - from)
    }
}
