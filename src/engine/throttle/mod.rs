//! The send-rate throttle shared by all workers: it paces requests at a rate that follows
//! what the server accepts.
//!
//! A Webex Campaign tenant's quota is unpublished and shared with every other integration of
//! the tenant, so the throttle has to find the limit, keep finding it as others come and go,
//! and not take a stray 429 (a gateway hiccup, a neighbour's burst) for it.
//!
//! **What it estimates.** The limit is the *accepted rate*: requests per second answered with
//! anything but 429. While the server refuses part of what is sent, what it accepts is the
//! limit, whatever was sent. This is BBR's bandwidth estimate (the delivery rate, not the
//! sending rate) and the Google SRE book's client-side throttling (react to accepts, not to
//! refusals). Counts are kept per *period* (one rate, at most a second): every answer is
//! credited, through its ticket, to the period and rate it was sent at, whatever the latency.
//!
//! **When it cuts, and how far.** 429s are congestion only beyond what noise explains (below).
//! - *Heavy*: most answers since the 429s began are 429s (sent far above the limit, or the
//!   limit fell). Every sender pauses for the `Retry-After` (1 s when there is none: a window
//!   limiter that counts refusals forgets them only after its window), then sends, paced, at
//!   the larger of what the refusing rate got through (send rate × accepted share) and what
//!   the last second got through (a window limiter takes its quota in a burst, then refuses
//!   everything), less 2% (in slow start, below, only the latter). Answers still in flight
//!   during the pause refine it downward.
//! - *Light*: a few 429s among accepted answers (a probe above the limit, a neighbour's burst,
//!   or noise). The rate drops to the accepted rate over the last second, and every sender
//!   waits a moment — 100 ms or two latencies, never more than the `Retry-After` — for a
//!   bucket to refill; the refused request itself waits its whole `Retry-After` (engine).
//! - *At `--rate`*: a few 429s there with nearly every answer accepted say the limit is `--rate`
//!   itself (timing jitter puts one request too many in some second). Once the verification
//!   (below) meets not one 429 under it, the throttle cruises 1.5% under `--rate` rather than
//!   going back to it, where it would meet the limit again every few seconds (until 429s there
//!   turn out to be noise).
//!
//! **Slow start.** Within a window (a second) of the first answer, what got through is a burst,
//! not a rate: a bucket's (a tenth of its rate, say) or a window's quota (all of it). Divided by
//! the milliseconds it took, it is ten times the limit or more; counted as a second's worth, it
//! may be a tenth of it. So the first heavy cut takes only the count as its estimate, a floor,
//! and doubles it from the end of the pause, each probe a full window (a window limiter emptied
//! by the pause would let a shorter one through), until a probe meets 429s; the search above
//! the last probe that passed goes on as below. And the episode that tells heavy from light is
//! not closed early in that window: answers to the burst, still arriving out of order, would
//! hide the refusals after it.
//!
//! This is unlike the AWS SDKs' adaptive mode and TCP CUBIC, which the throttle did before:
//! they cut to 70% of what was sent, which is still seven times a limit sent at ten times, and
//! treat every refusal as congestion, so that 1% of random 429s brought `--rate 500` to 36/s.
//!
//! **Noise.** A 429 whose share grows with the send rate is a limit; one whose share does not
//! is noise. A light cut is a test: the next period runs 3–10% under the accepted rate. If the
//! share of 429s stays (and is under 10%), the cut did nothing: noise — provided the test went
//! at least 1.5 times that share under the accepted rate; a shallower one goes again, 10% lower
//! (the accepted rate, measured over less than a window, overstated the limit by a bucket's
//! burst, and the test was still above it). The share is learned, the rate goes back, and from
//! then on 429s within it (binomially: n·p + 3√(n·p) + 1 per period; a lone 429 before
//! anything is learned) are only retried, never cut for. If the share fell, it was the limit,
//! and the share left is the noise. If it rose, the cut was not enough.
//!
//! **Recovery.** Under a known limit it cruises at 98% of the estimate and probes, as BBR does:
//! every 2 s (up to 4 s, or 60 latencies, after probes that failed) it sends 10% above the
//! estimate for a second (longer for smaller gains: a bucket's burst would pass for a higher
//! limit). A probe that met no 429 raises the estimate to what it got through, and the next
//! follows at once with twice the excess (1.1, 1.2, 1.4, 1.8, 2: BBR's startup), so a limit
//! that doubled is found in seconds. A probe that met 429s is a light cut back to the estimate,
//! and a binary search between the two, after a pause of (gain − 1) × the time the probe ran:
//! what it sent too many takes that long to drain at the estimate (a fixed window it filled
//! refuses no longer). `--rate` is never exceeded; with `--rate unlimited`, three probes at
//! twice the estimate that meet nothing unpace the run again.
//!
//! **Pacing.** GCRA on one atomic, as governor does, so that a rate change is one store:
//! governor cannot change a live limiter's rate (governor #273), and swapping limiters fires
//! a burst per swap. The tolerance is 10 ms of sending (burst 1 under-delivers with a 1 ms
//! timer; a second's burst trips window limiters). After a pause the schedule restarts at its
//! end: what waited goes out paced, not in a burst. Unpaced and not paused, a ticket costs three
//! atomic loads and one add: no clock, no lock; an answer adds one count and reads the clock,
//! and tries the lock (never waits for it) at most every 100 ms.

mod control;

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use control::Control;

/// Pacing tolerance: sends may come this early, so timer lateness is not lost throughput.
const TOLERANCE: u64 = 10_000_000;
/// The controller looks at the counts this often (ns) when answers come in.
const TICK: u64 = 100_000_000;
/// Per-period counts kept: enough for a second or so of history after a flurry of changes.
const SLOTS: usize = 8;

pub struct Throttle {
    epoch: Instant,
    /// Nanoseconds between sends; 0 = unpaced.
    interval: AtomicU64,
    /// GCRA's theoretical arrival time of the next send (ns since `epoch`).
    tat: AtomicU64,
    /// Nothing is sent before this (ns since `epoch`); 0 = no pause.
    paused_until: AtomicU64,
    /// The period tickets are issued in.
    generation: AtomicU64,
    sent: AtomicU64,
    periods: [Slot; SLOTS],
    next_tick: AtomicU64,
    control: Mutex<Control>,
}

/// Answers to one period's tickets.
#[derive(Default)]
struct Slot {
    generation: AtomicU64,
    accepted: AtomicU64,
    refused: AtomicU64,
}

/// A permission to send, tagged with the period it was issued in.
#[derive(Clone, Copy, Debug)]
pub struct Ticket {
    generation: u64,
    /// When it was issued (ns since the epoch); 0 when unpaced (no clock read).
    sent: u64,
}

impl Throttle {
    /// `rate`: requests per second, `None` for unlimited.
    pub fn new(rate: Option<f64>) -> Self {
        let rate = rate.filter(|r| r.is_finite() && *r > 0.0);
        Throttle {
            epoch: Instant::now(),
            interval: AtomicU64::new(interval_for(rate)),
            tat: AtomicU64::new(0),
            paused_until: AtomicU64::new(0),
            generation: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            periods: Default::default(),
            // The first answer ticks at once: the controller notes when answers began.
            next_tick: AtomicU64::new(0),
            control: Mutex::new(Control::new(rate)),
        }
    }

    /// The rate in force now (`None` = unlimited).
    pub fn rate(&self) -> Option<f64> {
        self.lock().rate()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Control> {
        // A panic while holding this lock cannot leave the numbers inconsistent enough to
        // matter; keep throttling rather than poison the run.
        self.control.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn now(&self) -> u64 {
        Instant::now()
            .duration_since(self.epoch)
            .as_nanos()
            .min(u64::MAX as u128) as u64
    }

    /// Permission to send one request now, if there is some without waiting.
    pub fn try_ready(&self) -> Option<Ticket> {
        let generation = self.generation.load(Ordering::Acquire);
        let paused = self.paused_until.load(Ordering::Acquire);
        let interval = self.interval.load(Ordering::Acquire);
        // Unpaced and not paused: no clock read, no lock.
        let mut sent = 0;
        if paused != 0 || interval != 0 {
            sent = self.now();
            if sent < paused || self.take(sent, interval).is_err() {
                return None;
            }
        }
        Some(self.issue(generation, sent))
    }

    /// Wait for permission to send one request.
    pub async fn until_ready(&self) -> Ticket {
        loop {
            let generation = self.generation.load(Ordering::Acquire);
            let paused = self.paused_until.load(Ordering::Acquire);
            let now = self.now();
            if now < paused {
                tokio::time::sleep_until(self.at(paused)).await;
                continue;
            }
            match self.take(now, self.interval.load(Ordering::Acquire)) {
                Ok(()) => return self.issue(generation, now),
                // Woken early by a rate change, or late by the timer: either way, look again.
                Err(wait) => tokio::time::sleep(Duration::from_nanos(wait)).await,
            }
        }
    }

    fn issue(&self, generation: u64, sent: u64) -> Ticket {
        self.sent.fetch_add(1, Ordering::Relaxed);
        Ticket { generation, sent }
    }

    fn at(&self, ns: u64) -> Instant {
        self.epoch + Duration::from_nanos(ns)
    }

    /// GCRA: one send if the schedule allows it at `now`; else how long until it does.
    fn take(&self, now: u64, interval: u64) -> Result<(), u64> {
        if interval == 0 {
            return Ok(());
        }
        let mut tat = self.tat.load(Ordering::Acquire);
        loop {
            if tat > now + TOLERANCE {
                return Err(tat - now - TOLERANCE);
            }
            let next = tat.max(now) + interval;
            match self
                .tat
                .compare_exchange_weak(tat, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return Ok(()),
                Err(current) => tat = current,
            }
        }
    }

    /// The server said 429 to a request sent with `ticket`; it asked to wait `retry_after`.
    pub fn throttled(&self, ticket: Ticket, retry_after: Option<Duration>) {
        let slot = self.slot(ticket.generation);
        if slot.generation.load(Ordering::Acquire) == ticket.generation {
            slot.refused.fetch_add(1, Ordering::Relaxed);
        }
        let now = self.now();
        self.lock().on_429(self, ticket, retry_after, now);
    }

    /// An answer other than 429 to a request sent with `ticket`.
    pub fn answered(&self, ticket: Ticket) {
        let slot = self.slot(ticket.generation);
        // A slot reused for a newer period between these two lines takes one stray count:
        // not worth a lock on every answer.
        if slot.generation.load(Ordering::Acquire) == ticket.generation {
            slot.accepted.fetch_add(1, Ordering::Relaxed);
        }
        let now = self.now();
        if now >= self.next_tick.load(Ordering::Relaxed)
            && let Ok(mut control) = self.control.try_lock()
        {
            // Someone else holding the lock is adjusting already; this answer adds nothing.
            control.latency(ticket, now);
            control.tick(self, now);
        }
    }

    /// An answer other than 429, to a request whose ticket was not kept: it is credited to
    /// the current period.
    pub fn succeeded(&self) {
        self.answered(Ticket {
            generation: self.generation.load(Ordering::Acquire),
            sent: 0,
        })
    }

    fn slot(&self, generation: u64) -> &Slot {
        &self.periods[(generation % SLOTS as u64) as usize]
    }

    /// Counts of a period's answers so far: (accepted, refused).
    fn counts(&self, generation: u64) -> (u64, u64) {
        let slot = self.slot(generation);
        if slot.generation.load(Ordering::Acquire) != generation {
            return (0, 0);
        }
        (
            slot.accepted.load(Ordering::Relaxed),
            slot.refused.load(Ordering::Relaxed),
        )
    }

    /// Start a new period at `rate`; returns its generation. Called under the control lock.
    fn start_period(&self, rate: Option<f64>) -> u64 {
        let generation = self.generation.load(Ordering::Acquire) + 1;
        let slot = self.slot(generation);
        slot.accepted.store(0, Ordering::Relaxed);
        slot.refused.store(0, Ordering::Relaxed);
        slot.generation.store(generation, Ordering::Release);
        self.interval.store(interval_for(rate), Ordering::Release);
        self.generation.store(generation, Ordering::Release);
        generation
    }

    /// Nothing is sent before `until` (ns since the epoch); the schedule restarts then.
    fn pause_until(&self, until: u64) {
        if self.paused_until.fetch_max(until, Ordering::AcqRel) < until {
            self.tat.fetch_max(until, Ordering::AcqRel);
        }
    }
}

fn interval_for(rate: Option<f64>) -> u64 {
    match rate {
        // A `--rate` under the controller's floor stands: the floor is for its own cuts.
        Some(r) if r > 0.0 => (1e9 / r).round().clamp(1.0, u64::MAX as f64) as u64,
        _ => 0,
    }
}

#[cfg(test)]
mod baseline;
#[cfg(test)]
mod model;
#[cfg(test)]
mod scenarios;
#[cfg(test)]
mod tests;
