//! The tenant's rate limiter, in the shapes real APIs use.
//!
//! Webex Campaign publishes no limit, so a client must hold whatever quota it meets; the
//! simulator therefore offers several limiters rather than one. Time is nanoseconds on the
//! simulator's clock, passed in by the caller, so tests can step it without sleeping.
//!
//! Besides the client's requests, the limiter replays a simulated other integration of the
//! same tenant (`background`, R per second): at exactly `j / R` seconds, `j = 1, 2, …`, it
//! takes one request's worth of the quota, whether or not any is left (it retries until it
//! gets through, so over time it consumes R per second): a bucket goes into debt, a fixed
//! window passes the excess to the next windows, a sliding log holds the entry anyway. A
//! client therefore gets at most N − R. Background arrivals and scheduled limit changes are
//! replayed lazily, in time order, before each client request is judged, so the outcome
//! depends only on the client's arrival times.

use std::collections::VecDeque;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

const SECOND: u64 = 1_000_000_000;
/// Token counts are fractions; this absorbs rounding in their refill.
const EPSILON: f64 = 1e-9;

/// How the limiter counts requests against the limit N per second.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RateLimitShape {
    /// A token bucket: holds up to `burst` tokens, refilled at N per second, starting full;
    /// each admitted request takes one.
    #[default]
    Bucket,
    /// Fixed one-second windows on the simulator's clock, each admitting a full window's
    /// quota from its first instant (so up to 2N can pass within one second, across a
    /// boundary). A fractional N is credited window by window: 2.5 admits 3, 2, 3, 2, …
    Fixed,
    /// A sliding log: any one-second interval holds at most N admitted requests (N rounded
    /// down; below 1, one request per 1/N seconds).
    Sliding,
}

impl RateLimitShape {
    pub const ALL: [RateLimitShape; 3] = [
        RateLimitShape::Bucket,
        RateLimitShape::Fixed,
        RateLimitShape::Sliding,
    ];

    /// The name `--rate-limit-shape` takes.
    pub fn name(self) -> &'static str {
        match self {
            RateLimitShape::Bucket => "bucket",
            RateLimitShape::Fixed => "fixed",
            RateLimitShape::Sliding => "sliding",
        }
    }
}

impl fmt::Display for RateLimitShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for RateLimitShape {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim();
        RateLimitShape::ALL
            .into_iter()
            .find(|shape| shape.name().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| format!("unknown shape {wanted:?}; expected bucket, fixed or sliding"))
    }
}

/// What the limiter is built from (the rate fields of [`SimConfig`](crate::SimConfig)).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct LimiterConfig {
    pub rate: Option<f64>,
    pub burst: Option<u32>,
    pub shape: RateLimitShape,
    pub counts_refused: bool,
    pub background: Option<f64>,
    /// `(at, rate)`: from `at` on, the limit is `rate`.
    pub schedule: Vec<(Duration, f64)>,
}

/// A limiter's judgement of one request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Verdict {
    Admitted,
    /// Refused; `wait` is how long until the limiter would admit a request, judged from
    /// its state now (later background arrivals and limit changes may take that slot).
    Limited {
        wait: Duration,
    },
}

enum State {
    /// No limit in force (before the first scheduled one): everything passes.
    Open,
    Bucket {
        tokens: f64,
        at: u64,
    },
    /// `window` is the index of the current second; `left` what it still admits; `credit`
    /// the fraction of a request carried to the next window; `debt` the background's
    /// requests that found no room, taken from the next windows.
    Fixed {
        window: u64,
        left: u64,
        credit: f64,
        debt: u64,
    },
    /// Arrival times still inside the window, oldest first.
    Sliding {
        log: VecDeque<u64>,
    },
}

struct Background {
    /// Nanoseconds between two of its arrivals.
    period: f64,
    /// Arrivals replayed so far.
    done: u64,
}

impl Background {
    fn next_at(&self) -> u64 {
        // Computed from the index, not accumulated, so rounding never drifts.
        (self.period * (self.done + 1) as f64).round() as u64
    }
}

pub(crate) struct Limiter {
    shape: RateLimitShape,
    counts_refused: bool,
    burst: Option<u32>,
    rate: Option<f64>,
    /// Limit changes still to come, in time order.
    changes: VecDeque<(u64, f64)>,
    background: Option<Background>,
    state: State,
    /// The latest time seen: concurrent requests may reach the lock out of their clock
    /// order, and the limiter's state must not run backwards.
    last: u64,
    /// Background requests replayed, and how many of them found no room (taken as debt).
    pub background_requests: u64,
    pub background_over_limit: u64,
}

fn usable(rate: f64) -> bool {
    rate.is_finite() && rate > 0.0
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Limiter {
    /// `None` when no limit is ever in force.
    pub fn new(cfg: &LimiterConfig) -> Option<Limiter> {
        let mut changes: Vec<(u64, f64)> = cfg
            .schedule
            .iter()
            .filter(|(_, rate)| usable(*rate))
            .map(|&(at, rate)| (nanos(at), rate))
            .collect();
        changes.sort_by_key(|c| c.0);
        let rate = cfg.rate.filter(|r| usable(*r));
        if rate.is_none() && changes.is_empty() {
            return None;
        }
        let background = cfg.background.filter(|r| usable(*r)).map(|r| Background {
            period: SECOND as f64 / r,
            done: 0,
        });
        let mut limiter = Limiter {
            shape: cfg.shape,
            counts_refused: cfg.counts_refused,
            burst: cfg.burst,
            rate: None,
            changes: changes.into(),
            background,
            state: State::Open,
            last: 0,
            background_requests: 0,
            background_over_limit: 0,
        };
        if let Some(rate) = rate {
            limiter.set_rate(0, rate);
        }
        Some(limiter)
    }

    /// Judges one client request arriving at `now`.
    pub fn check(&mut self, now: u64) -> Verdict {
        let now = self.catch_up(now);
        self.arrive(now)
    }

    /// How long until a request would be admitted, without taking anything.
    pub fn wait(&mut self, now: u64) -> Duration {
        let now = self.catch_up(now);
        self.wait_at(now)
    }

    /// The limit in force at `now` (`None`: none yet).
    pub fn rate(&mut self, now: u64) -> Option<f64> {
        self.catch_up(now);
        self.rate
    }

    fn capacity(&self, rate: f64) -> f64 {
        match self.burst {
            Some(burst) => f64::from(burst.max(1)),
            // As governor's default did: a tenth of a second's worth, at least one.
            None => (rate / 10.0).floor().max(1.0),
        }
    }

    /// Replays the background arrivals and limit changes due by `now`, then brings the
    /// state to `now`. Returns `now`, never earlier than a time already seen.
    fn catch_up(&mut self, now: u64) -> u64 {
        let now = now.max(self.last);
        loop {
            let change = self.changes.front().map(|c| c.0).filter(|&at| at <= now);
            let arrival = self
                .background
                .as_ref()
                .map(Background::next_at)
                .filter(|&at| at <= now);
            match (change, arrival) {
                // A change at the same instant as an arrival governs that arrival.
                (Some(at), Some(b)) if at <= b => self.apply_change(at),
                (Some(at), None) => self.apply_change(at),
                (_, Some(at)) => {
                    self.settle(at);
                    self.take_background(at);
                    if let Some(b) = self.background.as_mut() {
                        b.done += 1;
                    }
                }
                (None, None) => break,
            }
        }
        self.settle(now);
        self.last = now;
        now
    }

    fn apply_change(&mut self, at: u64) {
        // A change at T must govern the fixed window starting at T: settle to just before.
        self.settle(at.saturating_sub(1));
        if let Some((_, rate)) = self.changes.pop_front() {
            self.set_rate(at, rate);
        }
    }

    fn set_rate(&mut self, at: u64, rate: f64) {
        self.rate = Some(rate);
        let capacity = self.capacity(rate);
        self.state = match std::mem::replace(&mut self.state, State::Open) {
            State::Open => match self.shape {
                RateLimitShape::Bucket => State::Bucket {
                    tokens: capacity,
                    at,
                },
                RateLimitShape::Fixed => {
                    // Rounded to the nearest: a limit below one a second still admits its
                    // first request at once.
                    let mut credit = 0.5;
                    let left = credit_window(&mut credit, rate);
                    State::Fixed {
                        window: at / SECOND,
                        left,
                        credit,
                        debt: 0,
                    }
                }
                RateLimitShape::Sliding => State::Sliding {
                    log: VecDeque::new(),
                },
            },
            State::Bucket { tokens, at } => State::Bucket {
                tokens: tokens.min(capacity),
                at,
            },
            // The new limit is credited from the next window on.
            fixed @ State::Fixed { .. } => fixed,
            // The log is judged against the new limit from now on.
            sliding @ State::Sliding { .. } => sliding,
        };
    }

    /// The sliding window's width in nanoseconds and how many requests it admits.
    fn sliding_window(rate: f64) -> (u64, usize) {
        if rate >= 1.0 {
            (SECOND, (rate + EPSILON).floor() as usize)
        } else {
            ((SECOND as f64 / rate).round() as u64, 1)
        }
    }

    /// Refills the bucket, rolls windows over, forgets arrivals that left the window.
    fn settle(&mut self, now: u64) {
        let Some(rate) = self.rate else { return };
        let capacity = self.capacity(rate);
        match &mut self.state {
            State::Open => {}
            State::Bucket { tokens, at } => {
                if now > *at {
                    let refill = (now - *at) as f64 / SECOND as f64 * rate;
                    *tokens = (*tokens + refill).min(capacity);
                    *at = now;
                }
            }
            State::Fixed {
                window,
                left,
                credit,
                debt,
            } => {
                // One step per second passed; unused quota never carries over, only the
                // fraction of a request does (and the background's debt).
                let current = now / SECOND;
                while *window < current {
                    *window += 1;
                    let whole = credit_window(credit, rate);
                    let paid = whole.min(*debt);
                    *debt -= paid;
                    *left = whole - paid;
                }
            }
            State::Sliding { log } => {
                let (width, _) = Self::sliding_window(rate);
                while log.front().is_some_and(|&t| t + width <= now) {
                    log.pop_front();
                }
            }
        }
    }

    /// The background takes one request's worth of quota at `now`, room or not.
    fn take_background(&mut self, now: u64) {
        self.background_requests += 1;
        let Some(rate) = self.rate else { return };
        let over = match &mut self.state {
            State::Open => false,
            State::Bucket { tokens, .. } => {
                let over = *tokens < 1.0 - EPSILON;
                *tokens -= 1.0;
                over
            }
            State::Fixed { left, debt, .. } => match left.checked_sub(1) {
                Some(l) => {
                    *left = l;
                    false
                }
                None => {
                    *debt += 1;
                    true
                }
            },
            State::Sliding { log } => {
                let over = log.len() >= Self::sliding_window(rate).1;
                log.push_back(now);
                over
            }
        };
        self.background_over_limit += u64::from(over);
    }

    fn arrive(&mut self, now: u64) -> Verdict {
        let Some(rate) = self.rate else {
            return Verdict::Admitted;
        };
        let counts_refused = self.counts_refused;
        match &mut self.state {
            State::Open => Verdict::Admitted,
            State::Bucket { tokens, .. } => {
                if *tokens >= 1.0 - EPSILON {
                    *tokens = (*tokens - 1.0).max(0.0);
                    return Verdict::Admitted;
                }
                if counts_refused {
                    // The refused request takes the part of a token that had refilled
                    // (none if the background left the bucket in debt).
                    *tokens = tokens.min(0.0);
                }
                Verdict::Limited {
                    wait: self.wait_at(now),
                }
            }
            State::Fixed { left, .. } => {
                if *left > 0 {
                    *left -= 1;
                    return Verdict::Admitted;
                }
                Verdict::Limited {
                    wait: self.wait_at(now),
                }
            }
            State::Sliding { log } => {
                let (_, quota) = Self::sliding_window(rate);
                if log.len() < quota {
                    log.push_back(now);
                    return Verdict::Admitted;
                }
                if counts_refused {
                    log.push_back(now);
                }
                Verdict::Limited {
                    wait: self.wait_at(now),
                }
            }
        }
    }

    fn wait_at(&self, now: u64) -> Duration {
        let Some(rate) = self.rate else {
            return Duration::ZERO;
        };
        let nanos = match &self.state {
            State::Open => 0,
            State::Bucket { tokens, .. } => {
                let missing = (1.0 - tokens).max(0.0);
                if missing <= EPSILON {
                    0
                } else {
                    (missing / rate * SECOND as f64).ceil() as u64
                }
            }
            State::Fixed {
                window,
                left,
                credit,
                debt,
            } => {
                if *left > 0 {
                    0
                } else {
                    // The first window with quota left once the background's debt is paid
                    // (a day ahead at most: the answer is only a hint).
                    let (mut credit, mut debt) = (*credit, *debt);
                    let mut ahead = 1;
                    while ahead < 86_400 {
                        let whole = credit_window(&mut credit, rate);
                        if whole > debt {
                            break;
                        }
                        debt -= whole;
                        ahead += 1;
                    }
                    (window + ahead) * SECOND - now
                }
            }
            State::Sliding { log } => {
                let (width, quota) = Self::sliding_window(rate);
                match log.len().checked_sub(quota) {
                    Some(i) => log.get(i).map_or(0, |&t| (t + width).saturating_sub(now)),
                    None => 0,
                }
            }
        };
        Duration::from_nanos(nanos)
    }
}

/// Credits one fixed window with `rate` on top of the carried fraction: the whole requests
/// it admits, the fraction kept for the next one.
fn credit_window(credit: &mut f64, rate: f64) -> u64 {
    *credit += rate;
    let whole = (*credit + EPSILON).floor();
    *credit = (*credit - whole).max(0.0);
    whole as u64
}

/// `wait` as `Retry-After` says it: whole seconds, rounded up, never 0 (a client told 0
/// would come straight back).
pub(crate) fn whole_seconds(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

#[cfg(test)]
mod tests;
