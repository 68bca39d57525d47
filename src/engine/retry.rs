//! Retry timing: exponential backoff with jitter (from `backon`). How long a server asks us
//! to wait is read by [`crate::retry_after`].

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};

#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Attempts per key per run (the first send included).
    pub max_attempts: u32,
    /// Delay before the first retry; doubles each time, with jitter.
    pub base: Duration,
    /// No backoff sleeps longer than this.
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base: Duration::from_millis(500),
            cap: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// A fresh backoff sequence for one key.
    pub fn backoff(&self) -> ExponentialBackoff {
        ExponentialBuilder::default()
            .with_min_delay(self.base)
            // backon's jitter adds up to one more delay: halve the cap so no sleep exceeds it.
            .with_max_delay(self.cap / 2)
            .with_factor(2.0)
            .with_jitter()
            .without_max_times()
            .build()
    }
}

/// What one attempt of a sequential call came to (see [`RetryPolicy::run`]).
pub enum Attempt<T, E> {
    /// Done, well or badly: no retry.
    Done(Result<T, E>),
    /// Worth another try, after at least `after` (a server's `Retry-After`); `error` is the
    /// result if no attempt is left.
    Again { after: Option<Duration>, error: E },
}

impl RetryPolicy {
    /// Call `attempt` (with its number, from 1) until it is done or `max_attempts` are
    /// spent, sleeping the backoff between tries (longer if the server asked). The one retry
    /// loop of every sequential call (hub reads, listings, the preflight canary); the engine
    /// schedules its own retries without holding a worker.
    pub async fn run<T, E>(
        &self,
        mut attempt: impl AsyncFnMut(u32) -> Attempt<T, E>,
    ) -> Result<T, E> {
        let mut backoff = self.backoff();
        let mut n = 0;
        loop {
            n += 1;
            match attempt(n).await {
                Attempt::Done(result) => return result,
                Attempt::Again { error, .. } if n >= self.max_attempts => return Err(error),
                Attempt::Again { after, .. } => {
                    let delay = backoff.next().unwrap_or(self.cap);
                    tokio::time::sleep(delay.max(after.unwrap_or_default())).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Paused time: the sleeps between attempts take no real time and are measured exactly.
    #[tokio::test(start_paused = true)]
    async fn run_retries_until_done_or_spent() {
        let policy = RetryPolicy {
            max_attempts: 3,
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
        };
        // Done on the second attempt, after at least the server's 5 s.
        let start = tokio::time::Instant::now();
        let got: Result<u32, &str> = policy
            .run(async |n| match n {
                1 => Attempt::Again {
                    after: Some(Duration::from_secs(5)),
                    error: "busy",
                },
                n => Attempt::Done(Ok(n)),
            })
            .await;
        assert_eq!(got, Ok(2));
        assert!(start.elapsed() >= Duration::from_secs(5));
        // Never done: the last error, after exactly max_attempts tries.
        let mut tries = 0;
        let got: Result<(), String> = policy
            .run(async |n| {
                tries += 1;
                Attempt::Again {
                    after: None,
                    error: format!("try {n}"),
                }
            })
            .await;
        assert_eq!((got, tries), (Err("try 3".to_owned()), 3));
        // A final failure is not retried.
        let mut tries = 0;
        let got: Result<(), &str> = policy
            .run(async |_| {
                tries += 1;
                Attempt::Done(Err("refused"))
            })
            .await;
        assert_eq!((got, tries), (Err("refused"), 1));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let policy = RetryPolicy {
            max_attempts: 6,
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
        };
        let delays: Vec<Duration> = policy.backoff().take(8).collect();
        assert_eq!(delays.len(), 8);
        assert!(delays[0] >= Duration::from_millis(100) && delays[0] < Duration::from_millis(200));
        assert!(delays.iter().all(|d| *d <= Duration::from_secs(1)));
    }
}
