//! The rate limiter over real HTTP, on a clock the tests step: shapes, Retry-After, the
//! schedule and the background integration.

use std::time::{Duration, SystemTime};

use crate::common::Fixture;
use forget_sim::{Fault, ManualClock, RateLimitShape, RetryAfter, RetryAfterStyle, SimConfig};
use serde_json::json;

fn keys(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("k{i}")).collect()
}

/// A simulator on a manual clock holding keys `k0..`, limited as `tweak` says.
async fn limited(tweak: impl FnOnce(&mut SimConfig)) -> (Fixture, ManualClock) {
    let clock = ManualClock::new();
    let mut cfg = SimConfig {
        profiles: vec![("customers".to_owned(), keys(200))],
        clock: Some(clock.clone()),
        ..SimConfig::default()
    };
    tweak(&mut cfg);
    (Fixture::new(cfg).await, clock)
}

/// Sends deletes for `keys` from `from`; returns the HTTP statuses.
async fn statuses(f: &Fixture, from: usize, n: usize) -> Vec<u16> {
    let mut out = Vec::new();
    for i in from..from + n {
        out.push(f.delete(&format!("k{i}")).await.0);
    }
    out
}

fn admitted(statuses: &[u16]) -> usize {
    statuses.iter().filter(|&&s| s == 200).count()
}

#[tokio::test]
async fn a_sliding_window_admits_n_per_second_and_says_when() {
    let (f, clock) = limited(|c| {
        c.rate_limit = Some(3.0);
        c.rate_limit_shape = RateLimitShape::Sliding;
        c.retry_after = RetryAfter::Auto(RetryAfterStyle::Seconds);
    })
    .await;
    assert_eq!(statuses(&f, 0, 3).await, [200, 200, 200]);
    clock.advance(Duration::from_millis(400));
    let resp = f.send(json!({"key": "k3"})).await.unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    // 0.6 s until the first admission leaves the window: rounded up to 1.
    assert_eq!(resp.headers()["retry-after"], "1");
    clock.advance(Duration::from_millis(600));
    assert_eq!(statuses(&f, 3, 4).await, [200, 200, 200, 429]);
    assert_eq!(f.sim.stats().throttled, 2);
}

#[tokio::test]
async fn a_fixed_window_admits_its_quota_at_each_boundary() {
    let (f, clock) = limited(|c| {
        c.rate_limit = Some(4.0);
        c.rate_limit_shape = RateLimitShape::Fixed;
    })
    .await;
    clock.advance(Duration::from_millis(900));
    assert_eq!(admitted(&statuses(&f, 0, 6).await), 4);
    clock.advance(Duration::from_millis(100));
    assert_eq!(
        admitted(&statuses(&f, 6, 6).await),
        4,
        "a full quota at 1 s"
    );
}

#[tokio::test]
async fn refused_requests_can_count_against_the_quota() {
    let run = |counts_refused| async move {
        let (f, clock) = limited(|c| {
            c.rate_limit = Some(2.0);
            c.rate_limit_shape = RateLimitShape::Sliding;
            c.rate_limit_counts_refused = counts_refused;
        })
        .await;
        let mut got = 0;
        // A client knocking every 300 ms.
        for i in 0..10 {
            got += admitted(&statuses(&f, i, 1).await);
            clock.advance(Duration::from_millis(300));
        }
        got
    };
    assert_eq!(run(false).await, 6);
    assert_eq!(run(true).await, 2);
}

#[tokio::test]
async fn retry_after_auto_is_honest_in_each_style() {
    for style in [
        RetryAfterStyle::Seconds,
        RetryAfterStyle::HttpDate,
        RetryAfterStyle::ResetAt,
    ] {
        let (f, clock) = limited(|c| {
            c.rate_limit = Some(0.1);
            c.rate_burst = Some(1);
            c.retry_after = RetryAfter::Auto(style);
        })
        .await;
        assert_eq!(f.delete("k0").await.0, 200);
        clock.advance(Duration::from_millis(500));
        let before = SystemTime::now();
        let resp = f.send(json!({"key": "k1"})).await.unwrap();
        assert_eq!(resp.status().as_u16(), 429);
        let headers = resp.headers();
        match style {
            // 9.5 s until the bucket holds a token again.
            RetryAfterStyle::Seconds => assert_eq!(headers["retry-after"], "10"),
            RetryAfterStyle::HttpDate => {
                let date = headers["retry-after"].to_str().unwrap();
                let when = httpdate::parse_http_date(date).unwrap();
                let honest = before + Duration::from_millis(9500);
                assert!(when >= honest - Duration::from_millis(1), "{date}");
                assert!(
                    when <= SystemTime::now() + Duration::from_secs(11),
                    "{date}"
                );
            }
            RetryAfterStyle::ResetAt => {
                assert!(headers.get("retry-after").is_none());
                let reset: u64 = headers["x-ratelimit-reset"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                let epoch = |t: SystemTime| {
                    t.duration_since(SystemTime::UNIX_EPOCH)
                        .unwrap()
                        .as_secs_f64()
                };
                assert!(reset as f64 >= epoch(before) + 9.5 - 0.001, "{reset}");
                assert!(reset as f64 <= epoch(SystemTime::now()) + 11.0, "{reset}");
            }
        }
    }
}

#[tokio::test]
async fn an_injected_429_says_at_least_one_second() {
    let (f, _clock) = limited(|c| {
        c.rate_limit = Some(100.0);
        c.faults = vec![(Fault::Code429, 1.0)];
        c.retry_after = RetryAfter::Auto(RetryAfterStyle::Seconds);
    })
    .await;
    let resp = f.send(json!({"key": "k0"})).await.unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    assert_eq!(resp.headers()["retry-after"], "1");
    let stats = f.sim.stats();
    assert_eq!((stats.random_throttled, stats.throttled), (1, 0));
}

#[tokio::test]
async fn the_schedule_changes_the_limit_at_its_times() {
    let (f, clock) = limited(|c| {
        c.rate_limit_shape = RateLimitShape::Fixed;
        c.rate_schedule = vec![
            (Duration::ZERO, 4.0),
            (Duration::from_secs(20), 2.0),
            (Duration::from_secs(40), 4.0),
        ];
    })
    .await;
    let mut per_window = Vec::new();
    let mut next = 0;
    for at in [0, 19, 20, 39, 40] {
        clock.set(Duration::from_secs(at));
        per_window.push((
            at,
            f.sim.rate_limit_now(),
            admitted(&statuses(&f, next, 6).await),
        ));
        next += 6;
    }
    assert_eq!(
        per_window,
        [
            (0, Some(4.0), 4),
            (19, Some(4.0), 4),
            (20, Some(2.0), 2),
            (39, Some(2.0), 2),
            (40, Some(4.0), 4),
        ]
    );
}

#[tokio::test]
async fn the_background_integration_leaves_the_client_less() {
    let run = |background| async move {
        let (f, clock) = limited(|c| {
            c.rate_limit = Some(10.0);
            c.rate_limit_shape = RateLimitShape::Fixed;
            c.background_rate = background;
        })
        .await;
        let mut got = 0;
        let mut next = 0;
        for second in 1..=5 {
            clock.set(Duration::from_secs(second));
            got += admitted(&statuses(&f, next, 12).await);
            next += 12;
        }
        (got, f.sim.stats().background_requests)
    };
    assert_eq!(run(None).await, (50, 0));
    // 4 a second, at 0.25 s, 0.5 s, …: the client, first in each window, gets 10 - 1 at
    // 1 s (the rest of that second's share comes after it, as debt), then 10 - 4.
    assert_eq!(run(Some(4.0)).await, (9 + 4 * 6, 20));
}
