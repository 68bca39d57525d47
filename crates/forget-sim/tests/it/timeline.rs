//! The simulator's own arrival log, per second of its clock.

use std::time::Duration;

use crate::common::{Fixture, TOKEN, answer};
use forget_sim::{
    Fault, ManualClock, RateLimitShape, SimConfig, SimStats, TIMELINE_PATH, TimelineSecond,
};

fn keys(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("k{i}")).collect()
}

/// The columns summed over every second: (arrived, admitted, limited, random 429, deleted).
fn totals(rows: &[TimelineSecond]) -> (u64, u64, u64, u64, u64) {
    rows.iter().fold((0, 0, 0, 0, 0), |t, r| {
        (
            t.0 + r.arrived,
            t.1 + r.admitted,
            t.2 + r.limited,
            t.3 + r.random_429,
            t.4 + r.deleted,
        )
    })
}

fn assert_adds_up(rows: &[TimelineSecond], stats: &SimStats) {
    let (arrived, admitted, limited, random_429, deleted) = totals(rows);
    assert_eq!(arrived, stats.requests, "{stats:?}");
    assert_eq!(admitted, arrived - limited - random_429);
    assert_eq!(limited, stats.throttled, "{stats:?}");
    assert_eq!(random_429, stats.random_throttled, "{stats:?}");
    assert_eq!(
        deleted,
        stats.deleted + stats.deleted_then_faulted,
        "{stats:?}"
    );
}

fn row(second: u64, arrived: u64, limited: u64, random_429: u64, deleted: u64) -> TimelineSecond {
    TimelineSecond {
        second,
        arrived,
        admitted: arrived - limited - random_429,
        limited,
        random_429,
        deleted,
        limit: Some(3.0),
    }
}

#[tokio::test]
async fn each_second_counts_what_arrived_and_became_of_it() {
    let clock = ManualClock::new();
    let f = Fixture::new(SimConfig {
        profiles: vec![("customers".to_owned(), keys(20))],
        rate_limit: Some(3.0),
        rate_limit_shape: RateLimitShape::Fixed,
        clock: Some(clock.clone()),
        ..SimConfig::default()
    })
    .await;
    // Second 0: five deletes against a quota of three.
    for i in 0..5 {
        f.delete(&format!("k{i}")).await;
    }
    // Second 1: two random 429s, a deletion whose answer is a 500, a bad token.
    clock.set(Duration::from_millis(1200));
    f.sim.set_faults(vec![(Fault::Code429, 1.0)]);
    f.delete("k5").await;
    f.delete("k6").await;
    f.sim.set_faults(vec![(Fault::Http500AfterDelete, 1.0)]);
    assert_eq!(f.delete("k7").await.0, 500);
    f.sim.set_faults(Vec::new());
    let (status, _) = answer(f.send_raw(Some("wrong"), r#"{"key":"k8"}"#).await.unwrap()).await;
    assert_eq!(status, 401);
    // Nothing in second 2; a body naming no key in second 3.
    clock.set(Duration::from_secs(3));
    let (status, _) = answer(f.send_raw(Some(TOKEN), "{}").await.unwrap()).await;
    assert_eq!(status, 500);

    let rows = f.sim.timeline();
    assert_eq!(
        rows,
        [
            row(0, 5, 2, 0, 3),
            row(1, 4, 0, 2, 1),
            row(2, 0, 0, 0, 0),
            row(3, 1, 0, 0, 0)
        ]
    );
    assert_adds_up(&rows, &f.sim.stats());

    // The same over HTTP; the log is not itself a request.
    let url = format!("{}{TIMELINE_PATH}", f.handle.url());
    let served: Vec<TimelineSecond> = f
        .client
        .get(&url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(served, rows);
    assert_eq!(f.sim.stats().requests, 10);
    let (status, _) = answer(f.client.post(&url).send().await.unwrap()).await;
    assert_eq!(status, 405);
}

#[tokio::test]
async fn the_log_adds_up_to_the_stats_on_the_real_clock() {
    let f = Fixture::new(SimConfig {
        profiles: vec![("customers".to_owned(), keys(300))],
        rate_limit: Some(200.0),
        rate_burst: Some(5),
        faults: vec![(Fault::Code429, 0.1), (Fault::Http500AfterDelete, 0.1)],
        seed: 7,
        ..SimConfig::default()
    })
    .await;
    for i in 0..300 {
        f.delete(&format!("k{i}")).await;
    }
    let stats = f.sim.stats();
    assert!(
        stats.random_throttled > 0 && stats.deleted_then_faulted > 0,
        "{stats:?}"
    );
    let rows = f.sim.timeline();
    assert_adds_up(&rows, &stats);
    assert!(rows.iter().all(|r| r.limit == Some(200.0)));
    assert_eq!(f.sim.history("customers", "k0").len(), 1);
}
