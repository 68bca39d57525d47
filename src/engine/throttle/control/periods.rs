//! Counts per period (one rate's run of tickets), and what they add up to.

use super::Control;
use crate::engine::throttle::Throttle;

/// One rate's run of tickets.
#[derive(Clone, Copy, Debug)]
pub(super) struct Period {
    pub(super) generation: u64,
    /// Seconds since the epoch (after any pause that began with it).
    pub(super) start: f64,
    pub(super) sent0: u64,
    /// When it ended and the sent count then.
    pub(super) end: Option<(f64, u64)>,
}

/// Counts over some periods.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Sums {
    pub(super) secs: f64,
    pub(super) sent: u64,
    pub(super) accepted: u64,
    pub(super) refused: u64,
}

impl Sums {
    pub(super) fn answered(&self) -> u64 {
        self.accepted + self.refused
    }

    pub(super) fn share(&self) -> f64 {
        self.refused as f64 / self.answered().max(1) as f64
    }

    pub(super) fn send_rate(&self) -> Option<f64> {
        (self.secs >= 0.005).then(|| self.sent as f64 / self.secs)
    }
}

impl Control {
    /// Counts over the periods from `generation` on.
    pub(super) fn since(&self, th: &Throttle, t: f64, generation: u64) -> Sums {
        self.sum(th, t, |p| p.generation >= generation)
    }

    /// Counts over the periods that ended within the last `span` seconds, and the current.
    pub(super) fn recent(&self, th: &Throttle, t: f64, span: f64) -> Sums {
        self.sum(th, t, |p| p.end.is_none_or(|(end, _)| end > t - span))
    }

    fn sum(&self, th: &Throttle, t: f64, keep: impl Fn(&Period) -> bool) -> Sums {
        let sent_now = th.sent.load(std::sync::atomic::Ordering::Relaxed);
        let mut sums = Sums::default();
        for p in self.periods.iter().filter(|p| keep(p)) {
            let (end, sent) = p.end.unwrap_or((t, sent_now));
            let (accepted, refused) = th.counts(p.generation);
            sums.secs += (end - p.start).max(0.0);
            sums.sent += sent.saturating_sub(p.sent0);
            sums.accepted += accepted;
            sums.refused += refused;
        }
        sums
    }

    /// Accepted answers to requests sent in the last second, per second: what a window
    /// limiter let through, whatever was sent.
    pub(super) fn accepted_last_second(&self, th: &Throttle, t: f64) -> f64 {
        let mut accepted = 0.0;
        for p in &self.periods {
            let end = p.end.map_or(t, |(end, _)| end);
            let overlap = end - p.start.max(t - 1.0);
            if overlap <= 0.0 {
                continue;
            }
            let share = overlap / (end - p.start).max(1e-9);
            accepted += th.counts(p.generation).0 as f64 * share.min(1.0);
        }
        accepted
    }
}
