//! The simulator's own log of delete requests, per second of its clock.
//!
//! A throttle benchmark must judge the client by what the server saw, not by the client's
//! records: the log counts, per second since the simulator started, the delete requests
//! (Webex `POST …/delete`, Outreach `DELETE /api/v2/{resource}/{id}`) that arrived and what
//! became of them. For Webex deletes alone the columns add up to [`SimStats`]: `limited` to
//! `throttled`, `random_429` to `random_throttled`, `deleted` to `deleted +
//! deleted_then_faulted` (Outreach reads refused by the limiter count in `throttled` only).
//!
//! [`SimStats`]: crate::SimStats

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// One second of the arrival log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TimelineSecond {
    /// Seconds since the simulator started: this row covers `[second, second + 1)`.
    pub second: u64,
    /// Delete requests that arrived (every answer, 401 and bad bodies included).
    pub arrived: u64,
    /// Arrived and not answered 429: `arrived - limited - random_429`.
    pub admitted: u64,
    /// Answered 429 by the rate limiter.
    pub limited: u64,
    /// Answered 429 by the injected `429` fault, whatever the limiter's state.
    pub random_429: u64,
    /// Keys deleted by requests arriving in this second (after-delete faults included).
    pub deleted: u64,
    /// The rate limit in force at the start of this second (`null`: none), as
    /// `rate_limit` and `rate_schedule` set it.
    pub limit: Option<f64>,
}

#[derive(Default)]
struct Second {
    arrived: AtomicU64,
    limited: AtomicU64,
    random_429: AtomicU64,
    deleted: AtomicU64,
}

/// Which count of a second to bump.
#[derive(Clone, Copy)]
pub(crate) enum Column {
    Arrived,
    Limited,
    Random429,
    Deleted,
}

const CHUNK: usize = 1024;
/// 4096 chunks of 1024 seconds: 48 days; later requests count in the last second.
const CHUNKS: usize = 4096;

/// Per-second counters, allocated a chunk of seconds at a time as the clock reaches them:
/// memory grows with running time, never per request, and counting takes no lock.
pub(crate) struct Timeline {
    chunks: Box<[OnceLock<Box<[Second]>>]>,
    /// The limit before any scheduled change, and the changes in time order.
    limit: Option<f64>,
    schedule: Vec<(Duration, f64)>,
}

impl Timeline {
    pub fn new(limit: Option<f64>, schedule: &[(Duration, f64)]) -> Timeline {
        let usable = |r: &f64| r.is_finite() && *r > 0.0;
        let mut schedule: Vec<(Duration, f64)> = schedule
            .iter()
            .copied()
            .filter(|(_, r)| usable(r))
            .collect();
        schedule.sort_by_key(|c| c.0);
        Timeline {
            chunks: (0..CHUNKS).map(|_| OnceLock::new()).collect(),
            limit: limit.filter(usable),
            schedule,
        }
    }

    fn limit_at(&self, second: u64) -> Option<f64> {
        let at = Duration::from_secs(second);
        self.schedule
            .iter()
            .rev()
            .find(|(from, _)| *from <= at)
            .map(|&(_, rate)| rate)
            .or(self.limit)
    }

    fn index(second: u64) -> (usize, usize) {
        let last = (CHUNK * CHUNKS - 1) as u64;
        let s = usize::try_from(second.min(last)).unwrap_or(CHUNK * CHUNKS - 1);
        (s / CHUNK, s % CHUNK)
    }

    /// Counts one event at `now` (nanoseconds on the simulator's clock).
    pub fn count(&self, now: u64, column: Column) {
        let (chunk, offset) = Self::index(now / 1_000_000_000);
        let Some(slot) = self.chunks.get(chunk) else {
            return;
        };
        let seconds = slot.get_or_init(|| (0..CHUNK).map(|_| Second::default()).collect());
        let Some(s) = seconds.get(offset) else { return };
        let counter = match column {
            Column::Arrived => &s.arrived,
            Column::Limited => &s.limited,
            Column::Random429 => &s.random_429,
            Column::Deleted => &s.deleted,
        };
        counter.fetch_add(1, Relaxed);
    }

    /// Every second from 0 through the one holding `now`, the last one still counting.
    pub fn rows(&self, now: u64) -> Vec<TimelineSecond> {
        let (last_chunk, last_offset) = Self::index(now / 1_000_000_000);
        let mut rows = Vec::with_capacity(last_chunk * CHUNK + last_offset + 1);
        for (c, slot) in self.chunks.iter().enumerate().take(last_chunk + 1) {
            let upto = if c == last_chunk {
                last_offset + 1
            } else {
                CHUNK
            };
            for offset in 0..upto {
                let second = (c * CHUNK + offset) as u64;
                let limit = self.limit_at(second);
                let row = match slot.get().and_then(|s| s.get(offset)) {
                    None => TimelineSecond {
                        second,
                        limit,
                        ..TimelineSecond::default()
                    },
                    Some(s) => {
                        let arrived = s.arrived.load(Relaxed);
                        let limited = s.limited.load(Relaxed);
                        let random_429 = s.random_429.load(Relaxed);
                        TimelineSecond {
                            second,
                            arrived,
                            admitted: arrived.saturating_sub(limited + random_429),
                            limited,
                            random_429,
                            deleted: s.deleted.load(Relaxed),
                            limit,
                        }
                    }
                };
                rows.push(row);
            }
        }
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_fill_in_as_the_clock_runs() {
        let t = Timeline::new(None, &[]);
        let s = 1_000_000_000;
        t.count(0, Column::Arrived);
        t.count(s / 2, Column::Arrived);
        t.count(s / 2, Column::Limited);
        t.count(3 * s + 1, Column::Arrived);
        t.count(3 * s + 1, Column::Deleted);
        t.count(2000 * s, Column::Arrived);
        let rows = t.rows(3 * s + 5);
        assert_eq!(rows.len(), 4);
        assert_eq!(
            (rows[0].arrived, rows[0].admitted, rows[0].limited),
            (2, 1, 1)
        );
        assert_eq!(
            rows[1],
            TimelineSecond {
                second: 1,
                ..TimelineSecond::default()
            }
        );
        assert_eq!((rows[3].second, rows[3].deleted), (3, 1));
        let rows = t.rows(2000 * s);
        assert_eq!(rows.len(), 2001);
        assert_eq!(rows[2000].arrived, 1);
    }

    #[test]
    fn each_second_shows_the_limit_in_force() {
        let t = Timeline::new(
            Some(5.0),
            &[
                (Duration::from_secs(2), 3.0),
                (Duration::from_millis(3500), 7.0),
            ],
        );
        let limits: Vec<Option<f64>> = t.rows(5_000_000_000).iter().map(|r| r.limit).collect();
        assert_eq!(
            limits,
            [
                Some(5.0),
                Some(5.0),
                Some(3.0),
                Some(3.0),
                Some(7.0),
                Some(7.0)
            ]
        );
        let none = Timeline::new(None, &[(Duration::from_secs(1), 2.0)]);
        let limits: Vec<Option<f64>> = none.rows(1_000_000_000).iter().map(|r| r.limit).collect();
        assert_eq!(limits, [None, Some(2.0)]);
    }

    #[test]
    fn the_last_second_takes_what_comes_after_48_days() {
        let t = Timeline::new(None, &[]);
        t.count(u64::MAX, Column::Arrived);
        let (chunk, offset) = Timeline::index(u64::MAX / 1_000_000_000);
        assert_eq!((chunk, offset), (CHUNKS - 1, CHUNK - 1));
    }
}
