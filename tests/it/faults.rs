//! Faults a run must ride through, and failures that must stop it cleanly.

use std::time::{Duration, Instant};

use crate::common::{Fixture, Workdir, keys, text};
use forget::engine::StopReason;
use forget::error::exit;
use forget::sim::{Fault, RetryAfter};

/// With enough attempts every key ends deleted or not_found, and the counts are exact.
async fn rides_through(faults: Vec<(Fault, f64)>, timeout: Duration) {
    let held = keys("k", 40);
    let fx = Fixture::new(&held, |c| {
        c.faults = faults.clone();
        c.seed = 5;
    })
    .await;
    let mut requested = held.clone();
    requested.extend(keys("absent-", 10));
    let mut config = fx.config(vec![fx.csv("in.csv", &requested)]);
    config.retry.max_attempts = 60;
    config.timeout = timeout;
    let s = fx.run(config).await;
    assert_eq!(s.exit_code(), exit::OK, "{faults:?}: {s:?}");
    // A faulted request never deletes here, so the split is exact.
    assert_eq!(
        (s.ledger.deleted, s.ledger.not_found, s.ledger.total),
        (40, 10, 50),
        "{faults:?}"
    );
    assert!(s.retries > 0, "{faults:?}: the faults never fired");
    let stats = fx.sim.stats();
    assert_eq!(
        (stats.deleted, stats.max_deletes_per_key),
        (40, 1),
        "{faults:?}"
    );
}

#[tokio::test]
async fn http_500() {
    rides_through(vec![(Fault::Http500, 0.3)], Duration::from_secs(5)).await;
}

#[tokio::test]
async fn code_1010_and_499() {
    rides_through(
        vec![(Fault::Code1010, 0.2), (Fault::Code499, 0.2)],
        Duration::from_secs(5),
    )
    .await;
}

#[tokio::test]
async fn answers_slower_than_the_timeout() {
    rides_through(vec![(Fault::Slow, 0.2)], Duration::from_millis(200)).await;
}

#[tokio::test]
async fn dropped_connections() {
    rides_through(vec![(Fault::Drop, 0.3)], Duration::from_secs(5)).await;
}

#[tokio::test]
async fn truncated_empty_and_non_json_bodies() {
    rides_through(
        vec![
            (Fault::Truncated, 0.15),
            (Fault::Empty, 0.15),
            (Fault::NotJson, 0.15),
        ],
        Duration::from_secs(5),
    )
    .await;
}

#[tokio::test]
async fn an_html_502_from_a_proxy() {
    rides_through(vec![(Fault::Html502, 0.3)], Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_burst_of_429s_without_retry_after() {
    rides_through(vec![(Fault::Code429, 0.3)], Duration::from_secs(5)).await;
}

async fn rate_limited(retry_after: RetryAfter) -> (forget::job::RunSummary, Duration) {
    let held = keys("k", 4);
    let fx = Fixture::new(&held, |c| {
        c.rate_limit = Some(2.0);
        c.rate_burst = Some(1);
        c.retry_after = retry_after;
    })
    .await;
    let mut config = fx.config(vec![fx.csv("in.csv", &held)]);
    config.concurrency = 2;
    config.retry.max_attempts = 50;
    let started = Instant::now();
    let s = fx.run(config).await;
    assert_eq!((s.ledger.deleted, s.exit_code()), (4, exit::OK), "{s:?}");
    assert!(s.throttled >= 1, "{s:?}");
    (s, started.elapsed())
}

#[tokio::test]
async fn a_429_with_retry_after_in_seconds() {
    let (_, elapsed) = rate_limited(RetryAfter::Seconds(1)).await;
    assert!(elapsed >= Duration::from_secs(1), "{elapsed:?}");
}

#[tokio::test]
async fn a_429_with_retry_after_as_an_http_date() {
    // An HTTP date has one-second resolution: "2 s from now" waits at least one second.
    let (_, elapsed) = rate_limited(RetryAfter::HttpDate(2)).await;
    assert!(elapsed >= Duration::from_secs(1), "{elapsed:?}");
}

#[tokio::test]
async fn a_token_rejected_at_the_start_stops_on_the_first_answer() {
    let held = keys("k", 100);
    let fx = Fixture::new(&held, |_| {}).await;
    let mut config = fx.config(vec![fx.csv("in.csv", &held)]);
    config.concurrency = 1;
    let s = forget::job::run(config, Some(fx.target_with("bad")))
        .await
        .unwrap();
    assert_eq!(s.exit_code(), exit::STOPPED);
    assert_eq!(
        fx.sim.stats().requests,
        1,
        "nothing is sent after the first 401"
    );
    assert_eq!(s.ledger.pending, 100);
}

#[tokio::test]
async fn an_expired_token_stops_within_one_request_timeout() {
    let held = keys("k", 500);
    let fx = Fixture::new(&held, |c| {
        c.expire_token_after = Some(100);
        c.latency = Duration::from_millis(5);
    })
    .await;
    let mut config = fx.config(vec![fx.csv("in.csv", &held)]);
    config.timeout = Duration::from_secs(2);
    let started = Instant::now();
    let s = fx.run(config).await;
    assert_eq!(
        s.stop,
        Some(StopReason::Api(forget::outcome::StopCause::ExpiredToken))
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(s.ledger.failed, 0);
    // At most the requests in flight when the 498 came back were sent after it.
    assert!(fx.sim.stats().requests <= 100 + 4, "{:?}", fx.sim.stats());
}

#[tokio::test]
async fn a_ledger_write_failure_stops_sending_and_keeps_keys_pending() {
    let held = keys("k", 400);
    let fx = Fixture::new(&held, |_| {}).await;
    let file = fx.csv("in.csv", &held);
    // Record the input, then make the ledger fail as a full disk does, after some writes.
    let mut dry = fx.config(vec![file.clone()]);
    dry.dry_run = true;
    forget::job::run(dry, None).await.unwrap();
    fx.ledger()
        .execute_batch(
            "CREATE TRIGGER disk_full BEFORE INSERT ON attempts
             WHEN (SELECT count(*) FROM attempts) >= 50
             BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;",
        )
        .unwrap();
    let mut config = fx.config(vec![file.clone()]);
    config.rate = forget::engine::Rate(Some(400.0));
    let s = fx.run(config.clone()).await;
    assert!(
        matches!(s.stop, Some(StopReason::Ledger(ref m)) if m.contains("disk is full")),
        "{:?}",
        s.stop
    );
    assert_eq!(s.exit_code(), exit::FAILURE);
    let sent = fx.sim.stats().requests;
    assert!(
        sent < 400,
        "sending went on after the ledger failed: {sent}"
    );
    assert!(s.ledger.pending >= 400 - 50, "{s:?}");
    // Space is back: the rerun finishes, and keys deleted but not recorded come back 1020.
    fx.ledger().execute_batch("DROP TRIGGER disk_full").unwrap();
    let s = fx.run(config).await;
    assert_eq!(
        (
            s.exit_code(),
            s.ledger.deleted + s.ledger.not_found,
            s.ledger.pending
        ),
        (exit::OK, 400, 0)
    );
    assert_eq!(fx.sim.stats().max_deletes_per_key, 1);
}

#[test]
fn a_ledger_from_a_newer_version_or_corrupted_is_refused() {
    let wd = Workdir::new();
    wd.write("in.csv", "key\na@example.com\n");
    wd.run(wd.command().args(["run", "in.csv", "--dry-run"]), 0);
    let conn = rusqlite::Connection::open(wd.path("forget.db")).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let out = wd.run(wd.command().args(["run", "in.csv", "--dry-run"]), 2);
    assert!(
        text(&out.stderr).contains("newer version of forget"),
        "{}",
        text(&out.stderr)
    );

    let garbage = vec![0x5au8; 8192];
    wd.write("broken.db", &garbage);
    let out = wd.run(
        wd.command()
            .args(["run", "in.csv", "--dry-run", "--state", "broken.db"]),
        2,
    );
    assert!(
        text(&out.stderr).contains("corrupted"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        std::fs::read(wd.path("broken.db")).unwrap(),
        garbage,
        "the file was left alone"
    );

    let other = rusqlite::Connection::open(wd.path("other.db")).unwrap();
    other.execute_batch("CREATE TABLE photos (x)").unwrap();
    drop(other);
    let out = wd.run(
        wd.command()
            .args(["run", "in.csv", "--dry-run", "--state", "other.db"]),
        2,
    );
    assert!(
        text(&out.stderr).contains("not a forget ledger"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test]
async fn an_unreachable_host_stops_the_run_instead_of_failing_every_key() {
    let held = keys("k", 300);
    let fx = Fixture::new(&held, |_| {}).await;
    // A port nothing listens on: bind one, note it, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let target = forget::target::Target::connect(
        forget::connector::Kind::Webex,
        reqwest::Url::parse(&format!("http://127.0.0.1:{port}")).unwrap(),
        forget::secret::Token::new("t"),
    )
    .unwrap();
    let mut config = fx.config(vec![fx.csv("in.csv", &held)]);
    // Retries wait longer than fifty refused connections take, so no key runs out first.
    config.retry.base = Duration::from_millis(500);
    let s = forget::job::run(config, Some(target)).await.unwrap();
    assert_eq!(
        s.stop,
        Some(StopReason::Api(forget::outcome::StopCause::Unreachable))
    );
    assert_eq!(s.exit_code(), exit::STOPPED);
    assert_eq!((s.ledger.failed, s.ledger.pending), (0, 300), "{s:?}");
}
