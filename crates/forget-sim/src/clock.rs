//! The simulator's clock: real time since it started, or a clock tests set by hand, so
//! that the rate limiter and the arrival log can be driven without sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// A clock tests set by hand (see [`SimConfig::clock`](crate::SimConfig)): the simulator's
/// limiter and arrival log then read it instead of real time. Clones share one time.
#[derive(Clone, Debug, Default)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    pub fn new() -> ManualClock {
        ManualClock::default()
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(nanos(by), Relaxed);
    }

    /// Sets the time since the simulator started (never backwards).
    pub fn set(&self, since_start: Duration) {
        self.0.fetch_max(nanos(since_start), Relaxed);
    }

    /// The time since the simulator started.
    pub fn now(&self) -> Duration {
        Duration::from_nanos(self.0.load(Relaxed))
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

pub(crate) enum Clock {
    Real(Instant),
    Manual(ManualClock),
}

impl Clock {
    /// Nanoseconds since the simulator started.
    pub fn now(&self) -> u64 {
        match self {
            Clock::Real(start) => nanos(start.elapsed()),
            Clock::Manual(clock) => clock.0.load(Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manual_clock_only_moves_forward() {
        let c = ManualClock::new();
        c.advance(Duration::from_millis(1500));
        c.set(Duration::from_secs(1));
        assert_eq!(c.now(), Duration::from_millis(1500));
        assert_eq!(Clock::Manual(c.clone()).now(), 1_500_000_000);
    }
}
