//! After a light cut: was it a limit, or noise?

use super::periods::Sums;
use super::{
    Before, Control, HEAVY_ANSWERS, HELD_NOISE, MARGIN, MAX_NOISE, Mode, RISE, VERIFY_DEPTH,
    VERIFY_EXPECTED, VERIFY_MAX, VERIFY_NONE, noise_bound, secs,
};
use crate::engine::throttle::Throttle;

impl Control {
    /// After a light cut: noise if the 429s kept their share at the lower rate.
    pub(super) fn verify(
        &mut self,
        th: &Throttle,
        now: u64,
        before: Before,
        since: f64,
        generation: u64,
    ) {
        let t = secs(now);
        let sums = self.since(th, t, generation);
        let expected = before.share * sums.answered() as f64;
        // None at all where noise would have shown a few is enough to call it a limit (a
        // wrong call costs a probe).
        let none_yet = sums.refused == 0 && expected >= VERIFY_NONE;
        if expected < VERIFY_EXPECTED && !none_yet && t - since < VERIFY_MAX {
            return;
        }
        let refused = sums.refused as f64;
        let share = sums.share();
        trace_ctl!(
            "{t:.3} verify before {:.3} now {}/{} expected {expected:.1}",
            before.share,
            sums.refused,
            sums.answered()
        );
        if self.rose(&before, &sums) {
            self.light(th, t, None, now);
            return;
        }
        let combined = (before.refused + sums.refused) as f64
            / (before.answered + sums.answered()).max(1) as f64;
        if refused >= 3.0 && refused >= 0.5 * expected {
            // A share that held while the rate halved is noise at any level (under a limit,
            // the accepted share would have doubled); otherwise a large one may be a limit
            // that the accepted rate overstated: lower again.
            let held = self.rate.is_some_and(|r| r <= 0.5 * before.rate0)
                && (0.5 * before.share0..=2.0 * before.share0).contains(&share)
                && 1.0 - share <= 1.25 * (1.0 - before.share0);
            // Under a limit that the accepted rate overstated (a bucket's burst hides in a
            // short span), a test only a few percent under it is still above it: the 429s
            // keep a share, smaller but not gone, and pass for noise. Noise keeps its share
            // however deep the test; a test shallower than 1.5 times the share it met goes
            // again, deeper (the share of a limit overstated by as much as the depth).
            let depth = self.rate.zip(self.est).map_or(1.0, |(r, e)| 1.0 - r / e);
            let shallow = depth < (1.5 * share).min(VERIFY_DEPTH.1) - 0.005;
            if (combined > MAX_NOISE && !held) || shallow {
                self.light(th, t, None, now);
                return;
            }
            self.noise = self.noise.max(combined).min(HELD_NOISE);
            tracing::info!(
                share = format!("{:.3}", self.noise),
                "429s at the same share at a lower rate: noise, not a limit"
            );
            // The 429s once met at `--rate` may have been this noise too.
            self.ceiling_is_limit = false;
            self.est = before.est;
            if before.free {
                self.mode = Mode::Free;
                self.set(th, t, self.ceiling, false);
            } else {
                self.mode = Mode::Cruise;
                self.next_probe = t + self.probe_every;
                let rate = before.est.map(|e| e * (1.0 - MARGIN)).or(self.ceiling);
                self.set(th, t, rate, false);
            }
        } else {
            // Under the limit, what is left is the noise (at most: one more 429 would have
            // been possible).
            let answered = sums.answered();
            let left = if answered >= 100 {
                share
            } else {
                (sums.refused + 1) as f64 / (answered + 1) as f64
            };
            self.noise = self.noise.min(left);
            // Not one 429 under `--rate`: `--rate` itself was the limit. (Noise would have
            // shown a few; a cluster of it at `--rate` must not keep the run under it.)
            if before.at_ceiling && sums.refused == 0 {
                self.ceiling_is_limit = true;
                self.back_to_ceiling(th, t);
                return;
            }
            self.mode = Mode::Cruise;
            self.next_probe = t + self.probe_every;
            let rate = self.est.map(|e| e * (1.0 - MARGIN)).or(self.ceiling);
            self.set(th, t, rate, false);
        }
    }

    /// Whether the 429 share rose since `before`, though the rate fell.
    pub(super) fn rose(&self, before: &Before, sums: &Sums) -> bool {
        let bound = noise_bound(RISE * before.share.max(self.noise), sums.answered());
        sums.answered() >= HEAVY_ANSWERS && sums.refused as f64 > bound
    }
}
