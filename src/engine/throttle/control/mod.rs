//! The throttle's controller: what the counts say about the limit, and the rate that follows.
//! It runs under the throttle's lock, on every 429 and at most every 100 ms otherwise.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{SLOTS, TICK, Throttle, Ticket};

/// Never cut below this (requests/s), unless `--rate` is lower.
const MIN_RATE: f64 = 0.5;
/// Cruise this far under the estimated limit.
const MARGIN: f64 = 0.02;
/// ... and this far under `--rate` when `--rate` itself is the limit, known exactly: the
/// pacing's tolerance (10 ms) lets a second hold 1% more than the rate paced, and one request
/// more (the bench: 1% under met a 429 now and then, 1.5% none).
const CEILING_MARGIN: f64 = 0.015;
/// A period's counts are closed after this long (s) at one rate.
const PERIOD: f64 = 1.0;
/// A 429 share above this is never taken for noise: a server refusing more than one request
/// in ten whatever the rate is not throttling, and a limit that just fell can look like it
/// for a moment.
const MAX_NOISE: f64 = 0.1;
/// ... unless it held while the rate was halved; but never above this.
const HELD_NOISE: f64 = 0.5;

/// Pause (s) after a light cut, at least: long enough for a bucket to refill a little.
const LIGHT_PAUSE: f64 = 0.1;
/// Pause (s) after a heavy cut when the server gives no Retry-After: a window limiter that
/// counts refused requests forgets them only after its window, usually a second.
const DEFAULT_PAUSE: f64 = 1.0;
/// A congestion episode is heavy when, after this many answers since it began...
const HEAVY_ANSWERS: u64 = 8;
/// ... at least this share of them are 429s.
const HEAVY_SHARE: f64 = 0.5;
/// An episode that did not turn heavy within this many answers (or a second) is over.
const EPISODE_ANSWERS: u64 = 32;
/// A heavy episode this soon (s) after the last one's pause ended...
const REHEAVY_WITHIN: f64 = 3.0;
/// ... cuts the estimate at least this much.
const REHEAVY_CUT: f64 = 0.75;

/// After a light cut, test this far under the accepted rate whether the 429s go away: twice
/// the share of 429s, within these bounds (a deeper test costs more; the accepted rate can
/// overstate the limit by a bucket's burst).
const VERIFY_DEPTH: (f64, f64) = (0.03, 0.1);
/// The test decides once noise would have shown this many 429s...
const VERIFY_EXPECTED: f64 = 12.0;
/// ... or this many with none seen...
const VERIFY_NONE: f64 = 4.0;
/// ... or after this long (s), for low rates.
const VERIFY_MAX: f64 = 2.0;
/// A share this many times the one before a cut has risen (beyond sampling noise too).
const RISE: f64 = 2.0;

/// The first probe's gain over the estimate; each probe that succeeds doubles the excess.
const PROBE_GAIN: f64 = 1.1;
const PROBE_MAX_GAIN: f64 = 2.0;
/// A binary search after failed probes goes down to this gain.
const SEARCH_GAIN: f64 = 1.025;
/// How long (s) a probe sends above the estimate: a window limiter shows only over a window.
const PROBE_LEN: f64 = 1.0;
/// A token bucket's burst is often about this many seconds of its rate: a probe lasts long
/// enough for its excess to drain that.
const BURST_GUESS: f64 = 0.1;
/// Time (s) between probes; doubled by a probe that fails, up to the max...
const PROBE_EVERY: f64 = 2.0;
const PROBE_EVERY_MAX: f64 = 4.0;
/// ... or this many latencies (a failed probe costs about a latency's worth of 429s).
const PROBE_COST: f64 = 60.0;
/// A heavy episode's accepted share suggests a limit this many times the estimate: ramp.
const RAMP_OVER: f64 = 1.5;
/// A probe while ramping is this long (s): a bucket shows a rate above its own within it.
const RAMP_LEN: f64 = 0.5;
/// Probes at the largest gain with no 429 before `--rate unlimited` is unpaced again.
const UNPACED_AFTER: u32 = 3;

#[derive(Clone, Copy, Debug)]
enum Mode {
    /// At the ceiling (`--rate`, or unpaced): no limit seen, or every probe reached it.
    Free,
    /// Under a known limit, at the estimate less the margin.
    Cruise,
    /// Above the estimate, to see whether the limit has risen.
    Probe {
        base: f64,
        gain: f64,
        since: f64,
        until: f64,
        generation: u64,
    },
    /// After a light cut: do the 429s go away under the accepted rate (a limit) or not
    /// (noise)?
    Verify {
        before: Before,
        since: f64,
        generation: u64,
    },
}

/// What held before a light cut, to go back to if the 429s were noise.
#[derive(Clone, Copy, Debug)]
struct Before {
    free: bool,
    /// Cut at `--rate`, with nearly every answer accepted.
    at_ceiling: bool,
    est: Option<f64>,
    /// The 429 share at the rate just above (updated by each further cut)...
    share: f64,
    answered: u64,
    refused: u64,
    /// ... and the send rate and share before the first cut.
    rate0: f64,
    share0: f64,
}

/// 429s beyond the noise, watched for a while to tell heavy from light.
#[derive(Clone, Copy, Debug)]
struct Episode {
    start: f64,
    generation: u64,
    accepted0: u64,
    refused0: u64,
    /// The send rate when it began.
    sent_rate: f64,
    heavy: bool,
    /// For a heavy episode: what the second before it got through.
    last_second: f64,
    /// The estimate before it: what the last second got through may hold two windows' worth
    /// of a fixed window limiter.
    cap: Option<f64>,
}

pub(super) struct Control {
    ceiling: Option<f64>,
    /// The pacing rate in force; `None` = unpaced.
    rate: Option<f64>,
    /// The estimated limit, once one has been seen.
    est: Option<f64>,
    /// `--rate` itself met the limit: cruise under it rather than at it.
    ceiling_is_limit: bool,
    /// The share of 429s expected at any rate.
    noise: f64,
    mode: Mode,
    periods: VecDeque<Period>,
    /// 429s to tickets older than this were answered by a cut already.
    cut_generation: u64,
    episode: Option<Episode>,
    /// A heavy cut's pause: 429s until then extend it to their `Retry-After`.
    heavy_until: f64,
    probe_every: f64,
    next_probe: f64,
    /// The gain of the next probe.
    next_gain: f64,
    /// Probe in doublings up to this rate, each probe this long (s) (see `ramp_toward`).
    ramp: Option<(f64, f64)>,
    /// When the first answer came (s). Within a window of it, what got through is a burst
    /// (a bucket's, a window's quota), not a rate.
    started: Option<f64>,
    unpaced_probes: u32,
    /// Seconds from a send to its answer (smoothed).
    latency: f64,
}

macro_rules! trace_ctl {
    ($($arg:tt)*) => {
        #[cfg(test)]
        if std::env::var("CTL").is_ok() {
            eprintln!($($arg)*);
        }
    };
}

mod periods;
mod probe;
mod verify;

use periods::{Period, Sums};

fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}

fn ns(secs: f64) -> u64 {
    (secs.max(0.0) * 1e9) as u64
}

/// The most 429s noise alone explains among `answered` answers (mean + 3σ + 1).
fn noise_bound(noise: f64, answered: u64) -> f64 {
    let mean = noise * answered as f64;
    mean + 3.0 * mean.sqrt() + 1.0
}

impl Control {
    pub fn new(ceiling: Option<f64>) -> Control {
        Control {
            ceiling,
            rate: ceiling,
            est: None,
            ceiling_is_limit: false,
            noise: 0.0,
            mode: Mode::Free,
            periods: VecDeque::from([Period {
                generation: 0,
                start: 0.0,
                sent0: 0,
                end: None,
            }]),
            cut_generation: 0,
            episode: None,
            heavy_until: 0.0,
            probe_every: PROBE_EVERY,
            next_probe: 0.0,
            next_gain: PROBE_GAIN,
            ramp: None,
            started: None,
            unpaced_probes: 0,
            latency: 0.0,
        }
    }

    pub fn rate(&self) -> Option<f64> {
        self.rate
    }

    /// The share of 429s taken for noise.
    #[cfg(test)]
    pub fn noise(&self) -> f64 {
        self.noise
    }

    /// A 429 to a ticket of period `generation`.
    pub fn on_429(&mut self, th: &Throttle, ticket: Ticket, ra: Option<Duration>, now: u64) {
        self.latency(ticket, now);
        let generation = ticket.generation;
        let t = secs(now);
        self.started.get_or_insert(t);
        self.watch_episode(th, t, ra, now);
        if generation < self.cut_generation {
            if t < self.heavy_until
                && let Some(ra) = ra
            {
                th.pause_until(now + ra.as_nanos().min(u64::MAX as u128) as u64);
            }
            return;
        }
        if let Mode::Verify {
            before, generation, ..
        } = self.mode
        {
            // Judged by the tick over the whole verification, unless the share went up at
            // the lower rate: the accepted rate overstated the limit (a bucket's burst).
            if self.rose(&before, &self.since(th, t, generation)) {
                self.light(th, t, ra, now);
            }
            return;
        }
        let (accepted, refused) = th.counts(generation);
        if (refused as f64) <= noise_bound(self.noise, accepted + refused) {
            return;
        }
        self.light(th, t, ra, now);
    }

    /// A sample of the time from a send to its answer.
    pub fn latency(&mut self, ticket: Ticket, now: u64) {
        if ticket.sent != 0 && now > ticket.sent {
            self.latency += (secs(now - ticket.sent) - self.latency) / 8.0;
        }
    }

    /// Housekeeping and the decisions that wait for counts: called about every [`TICK`].
    pub fn tick(&mut self, th: &Throttle, now: u64) {
        th.next_tick.store(now + TICK, Ordering::Relaxed);
        let paused = th.paused_until.load(Ordering::Acquire);
        if paused != 0 && now >= paused {
            // Back on the fast path (no clock read) when nothing is paced.
            let _ =
                th.paused_until
                    .compare_exchange(paused, 0, Ordering::AcqRel, Ordering::Relaxed);
        }
        let t = secs(now);
        self.started.get_or_insert(t);
        if let Some(ep) = self.episode {
            if ep.heavy && t < self.heavy_until {
                self.watch_episode(th, t, None, now);
            } else if t - ep.start > 1.0 {
                self.episode = None;
            }
        }
        match self.mode {
            Mode::Verify {
                before,
                since,
                generation,
            } => self.verify(th, now, before, since, generation),
            Mode::Probe {
                base,
                gain,
                until,
                generation,
                ..
            } if t >= until => self.end_probe(th, t, base, gain, generation),
            Mode::Cruise if t >= self.next_probe => self.start_probe(th, t, self.next_gain),
            _ => {}
        }
        let current = self.current();
        if t - current.start >= PERIOD {
            self.set(th, t, self.rate, false);
        }
    }

    fn current(&self) -> Period {
        self.periods.back().copied().unwrap_or(Period {
            generation: 0,
            start: 0.0,
            sent0: 0,
            end: None,
        })
    }

    /// Pace at `rate` from now, in a new period; `cut`: 429s to earlier tickets are answered.
    fn set(&mut self, th: &Throttle, t: f64, rate: Option<f64>, cut: bool) {
        let rate = rate.map(|r| {
            let r = r.max(MIN_RATE);
            self.ceiling.map_or(r, |c| r.min(c))
        });
        self.rate = rate;
        let sent = th.sent.load(Ordering::Relaxed);
        if let Some(last) = self.periods.back_mut() {
            last.end = Some((t.max(last.start), sent));
        }
        let generation = th.start_period(rate);
        let paused = secs(th.paused_until.load(Ordering::Acquire));
        self.periods.push_back(Period {
            generation,
            start: t.max(paused),
            sent0: sent,
            end: None,
        });
        while self.periods.len() > SLOTS {
            self.periods.pop_front();
        }
        if cut {
            self.cut_generation = generation;
        }
    }

    /// A few 429s beyond the noise: back to the accepted rate, briefly paused.
    fn light(&mut self, th: &Throttle, t: f64, ra: Option<Duration>, now: u64) {
        let recent = match self.mode {
            Mode::Verify { generation, .. } => self.since(th, t, generation),
            _ => self.recent(th, t, 1.0),
        };
        // Over a short span, the pacing's tolerance (and a start with every worker free)
        // reads as more than the rate paced.
        let send_rate = match (recent.send_rate(), self.rate) {
            (Some(sent), Some(rate)) => sent.min(rate),
            (sent, rate) => sent.or(rate).unwrap_or(recent.sent as f64),
        };
        // Most answers refused is for the heavy cut to judge, with more answers.
        let share = recent.share().min(HEAVY_SHARE);
        let accepted = send_rate * (1.0 - share) / (1.0 - self.noise);
        // Long enough for a bucket to refill a little; after a probe, for a window limiter
        // to get over the probe's excess: sent for (gain − 1) × the time it lasted, at the
        // estimate (a fixed window that it filled refuses for no longer than that).
        // Also two latencies: what was in flight was refused too, and a limiter that counts
        // refusals has to make up for them.
        let pause = match self.mode {
            Mode::Probe { gain, since, .. } => LIGHT_PAUSE.max((gain - 1.0) * (t - since)),
            _ => LIGHT_PAUSE,
        }
        .max(2.0 * self.latency);
        let pause = ra.map_or(pause, |d| d.as_secs_f64().min(pause));
        th.pause_until(now + ns(pause));
        trace_ctl!(
            "{t:.3} light from {send_rate:.1} accepted {accepted:.1} share {:.3} mode {:?} noise {:.3}",
            recent.share(),
            self.mode,
            self.noise
        );
        tracing::info!(
            from = format!("{send_rate:.1}"),
            accepted = format!("{accepted:.1}"),
            "429: lowering the send rate to what the server accepts"
        );
        let cap = match self.mode {
            Mode::Probe { base, .. } => Some(base),
            _ => self.est,
        };
        // Which answers tell heavy from light: with no estimate yet, every answer from now
        // (we may be sending at ten times the limit); with one, only answers to what is sent
        // after the cut (those in flight were sent above the limit, and are refused as
        // expected).
        let before_cut = self.current().generation;
        let before_sums = self.since(th, t, before_cut);
        match self.mode {
            Mode::Probe { base, gain, .. } => {
                // The limit is under the probe's rate. (Not necessarily near what got through:
                // a token bucket's burst went through too.) A large gain leaves room between
                // the estimate and the probe: try half of it soon (a binary search); a small
                // one found the limit: probe less often.
                let est = base.min(accepted);
                self.est = Some(est);
                self.mode = Mode::Cruise;
                self.ramp = None;
                self.unpaced_probes = 0;
                if gain > SEARCH_GAIN * 1.01 {
                    self.next_gain = (1.0 + (gain - 1.0) / 2.0).max(SEARCH_GAIN);
                    self.next_probe = t + pause + PROBE_LEN;
                } else {
                    self.next_gain = PROBE_GAIN;
                    // A failed probe costs about a latency's worth of 429s.
                    let most = PROBE_EVERY_MAX.max(PROBE_COST * self.latency);
                    self.probe_every = (self.probe_every * 2.0).min(most);
                    self.next_probe = t + pause + self.probe_every;
                }
                self.set(th, t, Some(est * (1.0 - MARGIN)), true);
            }
            Mode::Free | Mode::Cruise => {
                let free = matches!(self.mode, Mode::Free);
                // A few 429s at `--rate`, nearly all accepted: the limit is `--rate` itself
                // (timing jitter puts one request too many in some second), not the accepted
                // rate, which the cut and its pause pull down.
                let at_ceiling = self
                    .ceiling
                    .filter(|c| free && accepted >= c * (1.0 - VERIFY_DEPTH.0));
                let before = Before {
                    free,
                    at_ceiling: at_ceiling.is_some(),
                    est: self.est,
                    share: recent.share(),
                    answered: recent.answered(),
                    refused: recent.refused,
                    rate0: send_rate,
                    share0: recent.share(),
                };
                let accepted = at_ceiling.unwrap_or(accepted);
                self.est = Some(accepted);
                let depth = (2.0 * before.share).clamp(VERIFY_DEPTH.0, VERIFY_DEPTH.1);
                self.set(th, t, Some(accepted * (1.0 - depth)), true);
                self.mode = Mode::Verify {
                    before,
                    since: t,
                    generation: self.current().generation,
                };
            }
            Mode::Verify { before, .. } => {
                // Still above the limit: lower again, and compare the next share with this
                // one (noise would keep it).
                let est = self.est.map_or(accepted, |e| e.min(accepted));
                self.est = Some(est);
                self.set(th, t, Some(est * (1.0 - VERIFY_DEPTH.1)), true);
                self.mode = Mode::Verify {
                    before: Before {
                        share: recent.share(),
                        answered: recent.answered(),
                        refused: recent.refused,
                        ..before
                    },
                    since: t,
                    generation: self.current().generation,
                };
            }
        }
        // An episode already open goes on, to judge its answers together.
        if self.episode.is_none_or(|ep| ep.heavy) {
            let (generation, base) = match cap {
                None => (before_cut, before_sums),
                Some(_) => (self.current().generation, Sums::default()),
            };
            self.episode = Some(Episode {
                start: t,
                generation,
                accepted0: base.accepted,
                refused0: base.refused,
                sent_rate: send_rate,
                heavy: false,
                last_second: 0.0,
                cap,
            });
        }
    }

    /// Whether the answers since an episode began are mostly 429s: then cut hard and pause.
    /// During the pause, the answers still in flight refine the estimate.
    fn watch_episode(&mut self, th: &Throttle, t: f64, ra: Option<Duration>, now: u64) {
        let Some(ep) = self.episode else { return };
        let sums = self.since(th, t, ep.generation);
        let refused = sums.refused.saturating_sub(ep.refused0);
        let answered = sums.answered().saturating_sub(ep.accepted0 + ep.refused0);
        if answered < HEAVY_ANSWERS {
            return;
        }
        let share = refused as f64 / answered as f64;
        if ep.heavy {
            if t < self.heavy_until {
                // Down only: answers to requests sent while a bucket refilled (fewer workers
                // than the rate needs) would read as a higher limit.
                let est = self.heavy_estimate(&ep, share);
                if !self.slow_start(&ep) {
                    self.ramp_toward(ep.sent_rate * (1.0 - share));
                }
                if self.est.is_none_or(|e| est < 0.98 * e) {
                    trace_ctl!(
                        "{t:.3} heavy refined {answered} answers share {share:.3} est {est:.1}"
                    );
                    self.est = Some(est);
                    self.set(th, t, Some(est * (1.0 - MARGIN)), true);
                }
            }
            return;
        }
        if share < HEAVY_SHARE {
            // In the first window, answers to the burst that got through are still coming in
            // (out of order): they would hide the refusals after it.
            if answered >= EPISODE_ANSWERS && !self.slow_start(&ep) {
                self.episode = None;
            }
            return;
        }
        let ep = Episode {
            heavy: true,
            last_second: self.accepted_last_second(th, t),
            ..ep
        };
        let mut est = self.heavy_estimate(&ep, share);
        if t < self.heavy_until + REHEAVY_WITHIN {
            // Heavy again right after resuming: the last second held more than one window of
            // a fixed window limiter. Cut multiplicatively instead.
            est = est.min(self.est.unwrap_or(est) * REHEAVY_CUT);
        }
        let pause = ra.map_or(DEFAULT_PAUSE, |d| d.as_secs_f64());
        trace_ctl!(
            "{t:.3} HEAVY sent {:.1} share {share:.3} last_second {:.1} est {est:.1} pause {pause:.2}",
            ep.sent_rate,
            ep.last_second
        );
        tracing::info!(
            from = format!("{:.1}", ep.sent_rate),
            to = format!("{est:.1}"),
            pause = format!("{pause:.1}"),
            "429s: most requests refused; pausing, then sending at what the server accepts"
        );
        th.pause_until(now + ns(pause));
        self.heavy_until = t + pause;
        self.episode = Some(ep);
        self.est = Some(est);
        self.mode = Mode::Cruise;
        // The estimate is from a fraction of a second, and a token bucket's burst hides in
        // it: probe upward soon, but after a full second of sending (a fixed window that
        // was partly paused through would let a probe through).
        self.probe_every = PROBE_EVERY;
        self.next_probe = t + pause + PROBE_LEN;
        self.next_gain = PROBE_GAIN;
        self.set(th, t, Some(est * (1.0 - MARGIN)), true);
        self.ramp = None;
        if self.slow_start(&ep) {
            // What got through is all the limiter let through so far, a floor of its rate
            // (a window's quota is its rate; a bucket's burst is a fraction of it): double
            // from there from the end of the pause, each probe a full window (a window
            // limiter, emptied by the pause, would let a shorter one through).
            self.ramp = Some((ep.sent_rate, PROBE_LEN));
            self.next_probe = self.heavy_until;
        } else {
            self.ramp_toward(ep.sent_rate * (1.0 - share));
        }
    }

    /// Whether an episode began within a window of the first answer, with nothing known.
    fn slow_start(&self, ep: &Episode) -> bool {
        ep.cap.is_none() && self.started.is_some_and(|s| ep.start - s < PERIOD)
    }

    /// What the refusing rate got through, or what the last second got through (a window
    /// limiter takes its whole quota in a burst, then refuses everything). In slow start only
    /// the latter: the share refused over a few answers, some still to the burst, says little.
    fn heavy_estimate(&self, ep: &Episode, share: f64) -> f64 {
        let through = if self.slow_start(ep) {
            0.0
        } else {
            ep.sent_rate * (1.0 - share)
        };
        let est = through.max(ep.last_second) / (1.0 - self.noise);
        ep.cap.map_or(est, |cap| est.min(cap)).max(MIN_RATE)
    }
}
