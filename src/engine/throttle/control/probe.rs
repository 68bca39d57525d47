//! Probing above the estimate: how a limit that rose is found.

use super::{
    BURST_GUESS, CEILING_MARGIN, Control, MARGIN, Mode, PROBE_EVERY, PROBE_GAIN, PROBE_LEN,
    PROBE_MAX_GAIN, RAMP_LEN, RAMP_OVER, UNPACED_AFTER,
};
use crate::engine::throttle::Throttle;

impl Control {
    /// Some answers got through a heavy episode: a token bucket, whose burst made the first
    /// estimate low, and `through` (high: the same burst) bounds the limit from above. Probe
    /// toward it from the end of the pause, in doublings.
    pub(super) fn ramp_toward(&mut self, through: f64) {
        let Some(est) = self.est else { return };
        if through > RAMP_OVER * est {
            self.ramp = Some((through, RAMP_LEN));
            self.next_probe = self.heavy_until;
        }
    }

    /// Back to `--rate`: unpaced or at it, unless `--rate` itself met the limit; then cruise
    /// under it, with nothing above to probe for.
    pub(super) fn back_to_ceiling(&mut self, th: &Throttle, t: f64) {
        match self.ceiling.filter(|_| self.ceiling_is_limit) {
            Some(c) => {
                self.est = Some(c);
                self.mode = Mode::Cruise;
                self.next_probe = f64::INFINITY;
                self.set(th, t, Some(c * (1.0 - CEILING_MARGIN)), false);
            }
            None => {
                self.mode = Mode::Free;
                self.set(th, t, self.ceiling, false);
            }
        }
    }

    pub(super) fn start_probe(&mut self, th: &Throttle, t: f64, gain: f64) {
        self.next_gain = PROBE_GAIN;
        let Some(est) = self.est else {
            self.back_to_ceiling(th, t);
            return;
        };
        if self
            .ceiling
            .is_some_and(|c| est * (1.0 - MARGIN) >= c || (self.ceiling_is_limit && est >= c))
        {
            self.back_to_ceiling(th, t);
            return;
        }
        let (gain, len) = match self.ramp {
            Some((to, len)) if to > est * PROBE_GAIN => {
                (gain.max((to / est).min(PROBE_MAX_GAIN)), len)
            }
            _ => {
                self.ramp = None;
                // Long enough for a small excess to drain a bucket's burst, or it would pass
                // for a higher limit.
                (gain, PROBE_LEN.max(BURST_GUESS / (gain - 1.0)).min(4.0))
            }
        };
        self.set(th, t, Some(est * gain), false);
        self.mode = Mode::Probe {
            base: est,
            gain,
            since: t,
            until: t + len,
            generation: self.current().generation,
        };
    }

    pub(super) fn end_probe(
        &mut self,
        th: &Throttle,
        t: f64,
        base: f64,
        gain: f64,
        generation: u64,
    ) {
        let sums = self.since(th, t, generation);
        let probe_rate = self.rate.unwrap_or(f64::INFINITY);
        let sent = sums.send_rate().unwrap_or(0.0);
        let accepted = sent * (1.0 - sums.share()) / (1.0 - self.noise);
        // Sending could not keep up with the probe's pacing: the pacing is not what limits.
        let app_limited = sent < 0.9 * probe_rate;
        let gained = accepted >= base * (1.0 + (gain - 1.0) / 2.0);
        // Capped by `--rate` and met no limit there.
        let capped = self
            .ceiling
            .is_some_and(|c| probe_rate >= 0.999 * c && base * gain > c);
        trace_ctl!(
            "{t:.3} probe end base {base:.1} gain {gain} sent {sent:.1} accepted {accepted:.1} share {:.3} app_limited {app_limited} gained {gained}",
            sums.share()
        );
        if capped {
            self.back_to_ceiling(th, t);
            return;
        }
        if !(gained || app_limited) {
            self.mode = Mode::Cruise;
            self.next_probe = t + self.probe_every;
            self.set(th, t, Some(base * (1.0 - MARGIN)), false);
            return;
        }
        let est = if app_limited {
            probe_rate
        } else {
            base.max(accepted)
        };
        self.est = Some(est);
        self.probe_every = PROBE_EVERY;
        let at_ceiling = self.ceiling.is_some_and(|c| est * (1.0 - MARGIN) >= c);
        if gain >= PROBE_MAX_GAIN && self.ceiling.is_none() {
            self.unpaced_probes += 1;
        }
        if at_ceiling || self.unpaced_probes >= UNPACED_AFTER {
            tracing::debug!("probes met no limit: back to the configured rate");
            self.unpaced_probes = 0;
            self.back_to_ceiling(th, t);
            return;
        }
        self.start_probe(th, t, (1.0 + 2.0 * (gain - 1.0)).min(PROBE_MAX_GAIN));
    }
}
