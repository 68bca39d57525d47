//! The throttle as it was before issue 16 (70% cut per 429 episode, CUBIC recovery, every
//! `Retry-After` pausing every sender), on a governor clock that reads tokio's clock so the
//! model can run it on paused time. Test-only: the baseline the model's table compares with.

use std::num::NonZeroU32;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use arc_swap::ArcSwapOption;
use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

/// governor's clock on tokio's (paused) time.
#[derive(Clone)]
pub struct TokioClock(Instant);

impl Clock for TokioClock {
    type Instant = Duration;
    fn now(&self) -> Duration {
        Instant::now().duration_since(self.0)
    }
}

type DefaultDirectRateLimiter =
    RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Duration>>;

/// Multiplicative decrease on a 429.
const BETA: f64 = 0.7;
/// Cubic growth constant, in requests/s per s³ scaled by the throttled rate (see `cubic`).
const SCALE: f64 = 0.4;
/// Never go below this rate (requests/s).
const MIN_RATE: f64 = 0.5;
/// The least time between two rate swaps during recovery.
const ADJUST_EVERY: Duration = Duration::from_millis(250);
/// The shortest span, in seconds, a first (early) rate measurement may cover.
const MIN_EARLY_WINDOW: f64 = 0.05;

pub struct OldThrottle {
    /// The configured ceiling; `None` = unlimited.
    ceiling: Option<f64>,
    limiter: ArcSwapOption<DefaultDirectRateLimiter>,
    /// Incremented on every decrease: answers to requests sent before it do not count again.
    generation: AtomicU64,
    sent: AtomicU64,
    state: Mutex<State>,
}

struct State {
    /// The rate in force; `None` = unlimited.
    rate: Option<f64>,
    /// When the last decrease happened and the rate it happened at.
    last_cut: Option<(Instant, f64)>,
    last_adjust: Instant,
    /// Every sender waits until then (a `Retry-After`).
    paused_until: Option<Instant>,
    /// Send-rate measurement: (when, sent counter) at the start of the window.
    window: (Instant, u64),
    measured: Option<f64>,
}

/// A permission to send, tagged with the throttle generation it was granted in.
#[derive(Clone, Copy, Debug)]
pub struct Ticket {
    generation: u64,
}

thread_local! {
    static EPOCH: std::cell::Cell<Option<Instant>> = const { std::cell::Cell::new(None) };
}

fn clock() -> TokioClock {
    TokioClock(EPOCH.with(|e| {
        let at = e.get().unwrap_or_else(Instant::now);
        e.set(Some(at));
        at
    }))
}

fn limiter_for(rate: f64) -> (DefaultDirectRateLimiter, NonZeroU32) {
    let period = Duration::from_secs_f64(1.0 / rate.max(MIN_RATE));
    // Burst ≈ 10 ms of traffic: burst 1 under-delivers with a 1 ms timer, a full second's
    // burst overshoots (governor #16, #39).
    let burst = NonZeroU32::new((rate / 100.0).ceil().max(1.0) as u32).unwrap_or(NonZeroU32::MIN);
    let quota = Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(burst);
    (RateLimiter::direct_with_clock(quota, clock()), burst)
}

/// A limiter for a rate change mid-run: it starts with its burst spent, so a swap does not
/// fire a burst at a server that has just said 429 (which would read as a second 429
/// episode and cut the rate twice).
fn swapped_limiter_for(rate: f64) -> DefaultDirectRateLimiter {
    let (limiter, burst) = limiter_for(rate);
    let _ = limiter.check_n(burst);
    limiter
}

impl OldThrottle {
    /// `rate`: requests per second, `None` for unlimited.
    pub fn new(rate: Option<f64>) -> Self {
        let now = Instant::now();
        OldThrottle {
            ceiling: rate,
            limiter: ArcSwapOption::from_pointee(rate.map(|r| limiter_for(r).0)),
            generation: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            state: Mutex::new(State {
                rate,
                last_cut: None,
                last_adjust: now,
                paused_until: None,
                window: (now, 0),
                measured: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the numbers inconsistent enough to
        // matter; keep throttling rather than poison the run.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Permission to send one request now, if there is some without waiting.
    pub fn try_ready(&self) -> Option<Ticket> {
        if self
            .lock()
            .paused_until
            .is_some_and(|until| until > Instant::now())
        {
            return None;
        }
        let generation = self.generation.load(Ordering::Acquire);
        if let Some(limiter) = self.limiter.load_full() {
            limiter.check().ok()?;
        }
        self.sent.fetch_add(1, Ordering::Relaxed);
        Some(Ticket { generation })
    }

    /// Wait for permission to send one request.
    pub async fn until_ready(&self) -> Ticket {
        loop {
            let paused = self.lock().paused_until;
            match paused {
                Some(until) if until > Instant::now() => {
                    tokio::time::sleep_until(until).await;
                    continue;
                }
                _ => {}
            }
            let generation = self.generation.load(Ordering::Acquire);
            if let Some(limiter) = self.limiter.load_full() {
                while let Err(not_until) = limiter.check() {
                    let wait = not_until.wait_time_from(clock().now());
                    tokio::time::sleep(wait.max(Duration::from_micros(100))).await;
                }
            }
            // A decrease while we waited: wait again under the new limiter.
            if self.generation.load(Ordering::Acquire) != generation {
                continue;
            }
            self.sent.fetch_add(1, Ordering::Relaxed);
            return Ticket { generation };
        }
    }

    /// The server said 429 to a request sent with `ticket`.
    pub fn throttled(&self, ticket: Ticket, retry_after: Option<Duration>) {
        let now = Instant::now();
        let mut st = self.lock();
        if let Some(delay) = retry_after {
            let until = now + delay;
            if st.paused_until.is_none_or(|p| p < until) {
                st.paused_until = Some(until);
            }
        }
        if ticket.generation != self.generation.load(Ordering::Acquire) {
            return; // already slowed down for this episode
        }
        self.measure(&mut st, now);
        // Cut from what was actually being sent, not from a ceiling never reached.
        let from = match (st.rate, st.measured) {
            (Some(r), Some(m)) => r.min(m.max(MIN_RATE)),
            (Some(r), None) => r,
            (None, Some(m)) => m.max(MIN_RATE),
            (None, None) => 100.0,
        };
        let new = (from * BETA).max(MIN_RATE);
        tracing::info!(
            from = format!("{from:.1}"),
            to = format!("{new:.1}"),
            ?retry_after,
            "429: lowering the send rate"
        );
        st.last_cut = Some((now, from));
        st.last_adjust = now;
        self.set_rate(&mut st, Some(new));
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// An answer that was not a 429: maybe raise the rate again.
    pub fn succeeded(&self) {
        let now = Instant::now();
        let mut st = match self.state.try_lock() {
            Ok(st) => st,
            Err(_) => return, // someone else is adjusting; this answer adds nothing
        };
        if now.duration_since(st.last_adjust) < ADJUST_EVERY {
            return;
        }
        st.last_adjust = now;
        self.measure(&mut st, now);
        let Some((cut_at, w_max)) = st.last_cut else {
            return; // never throttled: the configured rate stands
        };
        let target = cubic(w_max, now.duration_since(cut_at).as_secs_f64());
        let target = match self.ceiling {
            Some(c) => target.min(c),
            None => target,
        };
        let changed = st.rate.is_none_or(|r| (target - r).abs() / r > 0.02);
        if changed {
            tracing::debug!(rate = format!("{target:.1}"), "recovering the send rate");
            if self.ceiling.is_none() && target > w_max * 4.0 {
                // Far past anything that was throttled: back to unlimited.
                st.last_cut = None;
                self.set_rate(&mut st, None);
            } else {
                self.set_rate(&mut st, Some(target));
            }
        }
    }

    fn set_rate(&self, st: &mut State, rate: Option<f64>) {
        st.rate = rate;
        self.limiter
            .store(rate.map(|r| std::sync::Arc::new(swapped_limiter_for(r))));
    }

    /// The send rate, over windows of at least 200 ms, smoothed; before the first window
    /// closes, whatever has been sent since the start.
    fn measure(&self, st: &mut State, now: Instant) {
        let elapsed = now.duration_since(st.window.0).as_secs_f64();
        let sent = self.sent.load(Ordering::Relaxed);
        let rate = (sent - st.window.1) as f64 / elapsed.max(0.001);
        if elapsed >= 0.2 {
            st.measured = Some(match st.measured {
                Some(m) => 0.5 * m + 0.5 * rate,
                None => rate,
            });
            st.window = (now, sent);
        } else if st.measured.is_none() && sent > 0 && elapsed >= MIN_EARLY_WINDOW {
            // A few requests over a few milliseconds say nothing about the rate: a slow
            // scheduler tick would read as a low rate and cut far below it.
            st.measured = Some(rate);
        }
    }
}

/// The rate `t` seconds after a cut from `w_max`: W(t) = C·(t − K)³ + W_max with
/// K = ∛(W_max·(1 − β)/C), so W(0) = β·W_max. C scales with W_max so that recovery takes
/// about the same time at any rate (≈ 2.5 s to regain W_max, then a slow probe above it).
pub fn cubic(w_max: f64, t: f64) -> f64 {
    let c = SCALE * w_max / 10.0;
    let k = (w_max * (1.0 - BETA) / c).cbrt();
    (c * (t - k).powi(3) + w_max).max(MIN_RATE)
}

impl super::model::Pacer for OldThrottle {
    type Ticket = Ticket;
    fn try_ready(&self) -> Option<Ticket> {
        OldThrottle::try_ready(self)
    }
    fn until_ready(&self) -> impl std::future::Future<Output = Ticket> + Send {
        OldThrottle::until_ready(self)
    }
    fn throttled(&self, ticket: Ticket, retry_after: Option<Duration>) {
        OldThrottle::throttled(self, ticket, retry_after)
    }
    fn answered(&self, _ticket: Ticket) {
        self.succeeded()
    }
}
