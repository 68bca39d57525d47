//! The limiter driven by explicit times: no test here sleeps.

use super::*;

const MS: u64 = 1_000_000;

fn limiter(shape: RateLimitShape, rate: f64) -> Limiter {
    limiter_with(LimiterConfig {
        rate: Some(rate),
        shape,
        ..LimiterConfig::default()
    })
}

fn limiter_with(cfg: LimiterConfig) -> Limiter {
    match Limiter::new(&cfg) {
        Some(l) => l,
        None => panic!("no limiter from {cfg:?}"),
    }
}

fn admitted(l: &mut Limiter, at: u64) -> bool {
    l.check(at) == Verdict::Admitted
}

fn wait(l: &mut Limiter, at: u64) -> Duration {
    match l.check(at) {
        Verdict::Limited { wait } => wait,
        Verdict::Admitted => panic!("admitted at {at}"),
    }
}

/// Sends every `step` from `from` until `until`; returns the admitted arrival times.
fn hammer(l: &mut Limiter, from: u64, until: u64, step: u64) -> Vec<u64> {
    (from..until)
        .step_by(usize::try_from(step).unwrap_or(usize::MAX))
        .filter(|&t| admitted(l, t))
        .collect()
}

/// The most admitted arrivals in any interval `[t, t + 1 s)`.
fn densest_second(times: &[u64]) -> usize {
    let mut best = 0;
    for (i, &t) in times.iter().enumerate() {
        let n = times[i..].iter().take_while(|&&u| u < t + SECOND).count();
        best = best.max(n);
    }
    best
}

#[test]
fn no_limit_is_no_limiter() {
    assert!(Limiter::new(&LimiterConfig::default()).is_none());
    let bad = LimiterConfig {
        rate: Some(f64::NAN),
        ..LimiterConfig::default()
    };
    assert!(Limiter::new(&bad).is_none());
}

#[test]
fn bucket_admits_a_burst_then_the_rate() {
    // governor's default burst: a tenth of a second's worth.
    let mut l = limiter(RateLimitShape::Bucket, 100.0);
    let first = hammer(&mut l, 0, 1, 1);
    assert_eq!(first.len(), 1);
    for _ in 1..10 {
        assert!(admitted(&mut l, 0));
    }
    assert_eq!(wait(&mut l, 0), Duration::from_millis(10));
    assert!(admitted(&mut l, 10 * MS));
    // Sustained: the rate plus the burst, within any second.
    let mut l = limiter(RateLimitShape::Bucket, 100.0);
    let times = hammer(&mut l, 0, 10 * SECOND, MS);
    assert_eq!(times.len(), 10 + 100 * 10 - 1);
    assert!(densest_second(&times) <= 110);
}

#[test]
fn fixed_windows_admit_their_quota_from_each_boundary() {
    let mut l = limiter(RateLimitShape::Fixed, 5.0);
    let times = hammer(&mut l, 0, 3 * SECOND, 10 * MS);
    assert_eq!(times.len(), 15);
    assert_eq!(&times[..6], [0, 10 * MS, 20 * MS, 30 * MS, 40 * MS, SECOND]);
    // Across a boundary two windows' quotas can pass within one second.
    let mut l = limiter(RateLimitShape::Fixed, 5.0);
    let late = hammer(&mut l, 900 * MS, 1100 * MS, 10 * MS);
    assert_eq!(late.len(), 10);
    assert_eq!(wait(&mut l, 1500 * MS), Duration::from_millis(500));

    // Fractions are credited window by window.
    let mut l = limiter(RateLimitShape::Fixed, 2.5);
    let per_window: Vec<usize> = (0..4)
        .map(|w| hammer(&mut l, w * SECOND, (w + 1) * SECOND, 50 * MS).len())
        .collect();
    assert_eq!(per_window, [3, 2, 3, 2]);
    let mut l = limiter(RateLimitShape::Fixed, 0.5);
    assert!(admitted(&mut l, 0));
    assert_eq!(wait(&mut l, 100 * MS), Duration::from_millis(1900));
    assert!(!admitted(&mut l, SECOND));
    assert!(admitted(&mut l, 2 * SECOND));
}

#[test]
fn sliding_log_holds_any_second_to_the_limit() {
    let mut l = limiter(RateLimitShape::Sliding, 5.0);
    let times = hammer(&mut l, 0, 10 * SECOND, 7 * MS);
    assert_eq!(densest_second(&times), 5);
    assert!(times.len() >= 48, "{}", times.len());
    // The slot frees exactly one second after the oldest admitted request.
    let mut l = limiter(RateLimitShape::Sliding, 2.0);
    assert!(admitted(&mut l, 0));
    assert!(admitted(&mut l, 100 * MS));
    assert_eq!(wait(&mut l, 300 * MS), Duration::from_millis(700));
    assert!(admitted(&mut l, SECOND));
    assert!(!admitted(&mut l, 1050 * MS));
    assert!(admitted(&mut l, 1100 * MS));
    // Below one per second the window widens to hold one request.
    let mut l = limiter(RateLimitShape::Sliding, 0.5);
    assert!(admitted(&mut l, 0));
    assert_eq!(wait(&mut l, SECOND), Duration::from_secs(1));
    assert!(admitted(&mut l, 2 * SECOND));
}

#[test]
fn the_bucket_stays_within_rate_plus_burst_in_any_second() {
    let mut l = limiter_with(LimiterConfig {
        rate: Some(50.0),
        burst: Some(20),
        ..LimiterConfig::default()
    });
    let times = hammer(&mut l, 0, 5 * SECOND, 3 * MS);
    assert!(densest_second(&times) <= 70, "{}", densest_second(&times));
}

#[test]
fn refused_requests_can_count_against_the_quota() {
    let cfg = |shape, counts_refused| LimiterConfig {
        rate: Some(1.0),
        shape,
        counts_refused,
        ..LimiterConfig::default()
    };
    // Bucket: a refusal takes the part of a token that had refilled.
    let mut strict = limiter_with(cfg(RateLimitShape::Bucket, true));
    let mut lenient = limiter_with(cfg(RateLimitShape::Bucket, false));
    for l in [&mut strict, &mut lenient] {
        assert!(admitted(l, 0));
    }
    assert_eq!(wait(&mut lenient, 500 * MS), Duration::from_millis(500));
    assert_eq!(wait(&mut strict, 500 * MS), Duration::from_secs(1));
    assert!(admitted(&mut lenient, SECOND));
    assert!(!admitted(&mut strict, SECOND));
    assert!(admitted(&mut strict, 2 * SECOND));

    // Sliding: refused arrivals stay in the log, so a client that keeps knocking keeps
    // the window full.
    let cfg = |counts_refused| LimiterConfig {
        rate: Some(2.0),
        shape: RateLimitShape::Sliding,
        counts_refused,
        ..LimiterConfig::default()
    };
    let mut strict = limiter_with(cfg(true));
    let mut lenient = limiter_with(cfg(false));
    for l in [&mut strict, &mut lenient] {
        assert!(admitted(l, 0));
        assert!(admitted(l, 100 * MS));
        assert!(!admitted(l, 200 * MS));
    }
    assert!(admitted(&mut lenient, 1050 * MS));
    assert!(!admitted(&mut strict, 1050 * MS));
    assert_eq!(strict.wait(1050 * MS), Duration::from_millis(150));
    // A client hammering faster than the limit gets nothing once the log is full.
    let mut strict = limiter_with(cfg(true));
    assert_eq!(hammer(&mut strict, 0, 5 * SECOND, 100 * MS).len(), 2);

    // Fixed: a window refuses only once its quota is used, so it changes nothing.
    let mut l = limiter_with(LimiterConfig {
        rate: Some(2.0),
        shape: RateLimitShape::Fixed,
        counts_refused: true,
        ..LimiterConfig::default()
    });
    assert_eq!(hammer(&mut l, 0, 3 * SECOND, 100 * MS).len(), 6);
}

#[test]
fn the_schedule_changes_the_limit_at_its_times() {
    let schedule = vec![
        (Duration::ZERO, 10.0),
        (Duration::from_secs(2), 5.0),
        (Duration::from_secs(4), 10.0),
    ];
    for shape in RateLimitShape::ALL {
        let mut l = limiter_with(LimiterConfig {
            rate: None,
            shape,
            burst: Some(1),
            schedule: schedule.clone(),
            ..LimiterConfig::default()
        });
        let per_second: Vec<usize> = (0..6)
            .map(|s| hammer(&mut l, s * SECOND, (s + 1) * SECOND, 10 * MS).len())
            .collect();
        // The bucket refills at the new rate from the change on; the windows count the
        // new quota from the window starting at the change.
        match shape {
            RateLimitShape::Fixed | RateLimitShape::Sliding => {
                assert_eq!(per_second, [10, 10, 5, 5, 10, 10], "{shape}");
            }
            RateLimitShape::Bucket => {
                for (s, (&n, want)) in per_second.iter().zip([10, 10, 5, 5, 10, 10]).enumerate() {
                    assert!(n.abs_diff(want) <= 1, "{shape} second {s}: {per_second:?}");
                }
            }
        }
        assert_eq!(
            l.rate(3 * SECOND),
            Some(10.0),
            "{shape}: clock past 4 s already"
        );
    }
    // No limit until the schedule's first entry.
    let mut l = limiter_with(LimiterConfig {
        schedule: vec![(Duration::from_secs(1), 1.0)],
        ..LimiterConfig::default()
    });
    assert_eq!(hammer(&mut l, 0, SECOND, 100 * MS).len(), 10);
    assert_eq!(l.rate(SECOND), Some(1.0));
    assert_eq!(hammer(&mut l, SECOND, 2 * SECOND, 100 * MS).len(), 1);
}

#[test]
fn the_background_integration_takes_its_share() {
    for shape in RateLimitShape::ALL {
        let run = |background| {
            let mut l = limiter_with(LimiterConfig {
                rate: Some(10.0),
                burst: Some(1),
                shape,
                background,
                ..LimiterConfig::default()
            });
            let got = hammer(&mut l, 0, 10 * SECOND, MS).len();
            (got, l.background_requests, l.background_over_limit)
        };
        let (alone, requests, _) = run(None);
        assert!((99..=101).contains(&alone), "{shape}: {alone}");
        assert_eq!(requests, 0);
        // The background takes 4 a second, room or not: the client gets about 6.
        let (shared, requests, over) = run(Some(4.0));
        assert_eq!(
            requests, 39,
            "{shape}: arrivals at 0.25 s, 0.5 s, … before 10 s"
        );
        assert!(over > 0, "{shape}: the greedy client left it no room");
        assert!((58..=65).contains(&shared), "{shape}: {shared}");
    }
    // At or above the limit, it leaves the client nothing.
    let mut l = limiter_with(LimiterConfig {
        rate: Some(10.0),
        background: Some(10.0),
        ..LimiterConfig::default()
    });
    assert!(hammer(&mut l, 2 * SECOND, 5 * SECOND, 10 * MS).is_empty());
}

#[test]
fn waits_are_honest_and_round_up_to_whole_seconds() {
    let mut l = limiter_with(LimiterConfig {
        rate: Some(0.1),
        burst: Some(1),
        ..LimiterConfig::default()
    });
    assert!(admitted(&mut l, 0));
    let w = wait(&mut l, 500 * MS);
    assert_eq!(w, Duration::from_millis(9500));
    assert_eq!(whole_seconds(w), 10);
    assert_eq!(whole_seconds(Duration::ZERO), 1);
    assert_eq!(whole_seconds(Duration::from_secs(1)), 1);
    assert_eq!(whole_seconds(Duration::from_nanos(1_000_000_001)), 2);
    // A sliding window's wait is under a second: `Retry-After: 1`.
    let mut l = limiter(RateLimitShape::Sliding, 100.0);
    hammer(&mut l, 0, 100, 1);
    assert_eq!(whole_seconds(wait(&mut l, 300 * MS)), 1);
    // Peeking takes nothing.
    let mut l = limiter(RateLimitShape::Bucket, 1.0);
    assert_eq!(l.wait(0), Duration::ZERO);
    assert!(admitted(&mut l, 0));
}

#[test]
fn requests_reaching_the_lock_late_do_not_turn_the_clock_back() {
    let mut l = limiter(RateLimitShape::Sliding, 1.0);
    assert!(admitted(&mut l, 5 * SECOND));
    assert!(!admitted(&mut l, SECOND), "judged at 5 s");
    assert!(admitted(&mut l, 6 * SECOND));
}

#[test]
fn shapes_parse_by_name() {
    for shape in RateLimitShape::ALL {
        assert_eq!(shape.name().parse::<RateLimitShape>(), Ok(shape));
    }
    assert_eq!(" Sliding ".parse(), Ok(RateLimitShape::Sliding));
    assert!("leaky".parse::<RateLimitShape>().is_err());
}
