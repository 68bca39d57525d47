//! Faults a run must ride through, and failures that must stop it cleanly.

use std::time::{Duration, Instant};

use crate::common::{
    Fixture, Workdir, assert_sent_until_final_only, keys, ledger_units, text, wait_for,
};
use forget::engine::StopReason;
use forget::error::exit;
use forget::job::RunSummary;
use forget::sim::{Answer, Fault, RetryAfter, SimStats};

/// With enough attempts every key ends deleted or not_found, and the counts are exact: a
/// faulted request deletes nothing, except an after-delete fault, whose key the retry finds
/// gone (1020). No key is sent again once its fate was answered.
async fn rides_through(faults: Vec<(Fault, f64)>, timeout: Duration) -> (RunSummary, SimStats) {
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
    let stats = fx.sim.stats();
    let lost = stats.deleted_then_faulted;
    assert_eq!(
        (s.ledger.deleted, s.ledger.not_found, s.ledger.total),
        (40 - lost, 10 + lost, 50),
        "{faults:?}"
    );
    assert!(s.retries > 0, "{faults:?}: the faults never fired");
    assert_eq!(stats.deleted + lost, 40, "{faults:?}");
    // Each key deleted by a request whose answer was lost is counted as such.
    assert!(s.after_ambiguous >= lost, "{faults:?}: {s:?}");
    assert_sent_until_final_only(&fx.sim);
    (s, stats)
}

#[tokio::test]
async fn http_500() {
    let (_, stats) = rides_through(
        vec![(Fault::Http500, 0.2), (Fault::Http500AfterDelete, 0.1)],
        Duration::from_secs(5),
    )
    .await;
    assert!(stats.deleted_then_faulted > 0, "{stats:?}");
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
    let (_, stats) = rides_through(
        vec![(Fault::Slow, 0.1), (Fault::SlowAfterDelete, 0.1)],
        Duration::from_millis(200),
    )
    .await;
    assert!(stats.deleted_then_faulted > 0, "{stats:?}");
}

#[tokio::test]
async fn dropped_connections() {
    let (_, stats) = rides_through(
        vec![(Fault::Drop, 0.2), (Fault::DropAfterDelete, 0.1)],
        Duration::from_secs(5),
    )
    .await;
    assert!(stats.deleted_then_faulted > 0, "{stats:?}");
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

/// One attempt as the ledger recorded it: its unit, when it was sent and when its answer was
/// read (Unix seconds), and its verdict.
struct Attempt {
    unit: i64,
    sent: f64,
    answered: f64,
    verdict: String,
}

fn attempts(fx: &Fixture) -> Vec<Attempt> {
    let conn = fx.ledger();
    let mut stmt = conn
        .prepare("SELECT unit_id, at, latency_ms, verdict FROM attempts ORDER BY at")
        .unwrap();
    stmt.query_map([], |r| {
        let at: String = r.get(1)?;
        let at = time::OffsetDateTime::parse(&at, &time::format_description::well_known::Rfc3339)
            .unwrap();
        let sent = at.unix_timestamp_nanos() as f64 / 1e9;
        Ok(Attempt {
            unit: r.get(0)?,
            sent,
            answered: sent + r.get::<_, f64>(2)? / 1e3,
            verdict: r.get(3)?,
        })
    })
    .unwrap()
    .collect::<rusqlite::Result<_>>()
    .unwrap()
}

/// The simulator answers the first request of each of four keys 429 with `retry_after`, and
/// has no rate limiter: only the client's own wait keeps it from sending the throttled keys
/// again at once. Returns what the ledger recorded.
async fn first_requests_throttled(retry_after: RetryAfter) -> Vec<Attempt> {
    let held = keys("k", 8);
    let fx = Fixture::new(&held, |c| {
        c.faults = vec![(Fault::Code429, 1.0)];
        c.retry_after = retry_after;
        // The first four requests are all out before the first 429 comes back.
        c.latency = Duration::from_millis(20);
    })
    .await;
    let mut config = fx.config(vec![fx.csv("in.csv", &held)]);
    config.concurrency = 4;
    config.retry.max_attempts = 10;
    let sim = fx.sim.clone();
    let first_requests = async {
        wait_for("four 429s", Duration::from_secs(60), || {
            sim.stats().random_throttled >= 4
        })
        .await;
        sim.set_faults(vec![]);
    };
    let (s, ()) = tokio::join!(fx.run(config), first_requests);
    assert_eq!((s.ledger.deleted, s.exit_code()), (8, exit::OK), "{s:?}");
    let throttled = Answer::Fault(Fault::Code429);
    let (mut first_throttled, mut first_deleted) = (0, 0);
    for k in &held {
        let answers: Vec<Answer> = fx
            .sim
            .history("customers", k)
            .iter()
            .map(|r| r.answer)
            .collect();
        if answers == [throttled, Answer::Deleted] {
            first_throttled += 1;
        } else {
            assert_eq!(answers, [Answer::Deleted], "{k}");
            first_deleted += 1;
        }
    }
    assert_eq!((first_throttled, first_deleted, s.throttled), (4, 4, 4));
    assert_sent_until_final_only(&fx.sim);
    let attempts = attempts(&fx);
    assert_eq!(attempts.len(), 12);
    attempts
}

/// After each 429, its key was not sent again before `resume(attempt)`: the refused request
/// waits its whole Retry-After. (Other keys wait for it only when most answers are 429s, a
/// heavy episode: a lone 429 among accepted answers is noise, and pausing every sender for
/// it would starve a run under random 429s; see the throttle's tests and docs/running.md, Throttle.)
fn assert_paused_until(attempts: &[Attempt], resume: impl Fn(&Attempt) -> f64) {
    // The clock of `at` and the one the client waits on may differ by a hair.
    const SLACK: f64 = 0.002;
    let throttled: Vec<&Attempt> = attempts
        .iter()
        .filter(|a| a.verdict == "throttled")
        .collect();
    assert_eq!(throttled.len(), 4);
    for throttled in throttled {
        let until = resume(throttled);
        let next_of_key = attempts
            .iter()
            .find(|a| a.unit == throttled.unit && a.sent > throttled.sent)
            .expect("the key was sent again");
        assert!(
            next_of_key.sent >= until - SLACK,
            "unit {} sent again {:.3} s after its 429, before {:.3} s",
            throttled.unit,
            next_of_key.sent - throttled.answered,
            until - throttled.answered
        );
    }
}

#[tokio::test]
async fn a_429_with_retry_after_in_seconds() {
    let attempts = first_requests_throttled(RetryAfter::Seconds(2)).await;
    assert_paused_until(&attempts, |a| a.answered + 2.0);
}

#[tokio::test]
async fn a_429_with_retry_after_as_an_http_date() {
    let attempts = first_requests_throttled(RetryAfter::HttpDate(2)).await;
    // The date is 2 s after the simulator read the request, in whole seconds (rounded down):
    // no earlier than 2 s after the second the request was sent in.
    assert_paused_until(&attempts, |a| a.sent.floor() + 2.0);
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

/// After a 498 nothing more is sent, the requests in flight land — each within its timeout,
/// however slow — and the run ends.
#[tokio::test]
async fn an_expired_token_stops_within_one_request_timeout() {
    let held = keys("k", 500);
    let fx = Fixture::new(&held, |c| {
        c.expire_token_after = Some(100);
        c.latency = Duration::from_millis(10);
    })
    .await;
    let mut config = fx.config(vec![fx.csv("in.csv", &held)]);
    let timeout = Duration::from_secs(1);
    config.timeout = timeout;
    // A couple of requests hang shortly before the token expires: still in flight at the 498.
    let sim = fx.sim.clone();
    let watch = async {
        let wait = Duration::from_secs(60);
        wait_for("80 requests", wait, || sim.stats().requests >= 80).await;
        sim.set_faults(vec![(Fault::Slow, 1.0)]);
        wait_for("hanging requests", wait, || sim.stats().faults >= 2).await;
        let hanging_since = Instant::now();
        sim.set_faults(vec![]);
        wait_for("the 498", wait, || sim.stats().unauthorized >= 1).await;
        (hanging_since, Instant::now())
    };
    let (s, (hanging_since, expired)) = tokio::join!(fx.run(config), watch);
    let ended = Instant::now();
    assert_eq!(
        s.stop,
        Some(StopReason::Api(forget::outcome::StopCause::ExpiredToken))
    );
    assert_eq!(s.ledger.failed, 0);
    // The hanging requests were let land (they time out; a few ms of polling aside)...
    assert!(
        ended + Duration::from_millis(50) >= hanging_since + timeout,
        "the run ended {:?} after requests hung, before their timeout",
        ended - hanging_since
    );
    assert!(
        fx.query_i64("SELECT count(*) FROM attempts WHERE error = 'timeout'") >= 2,
        "the hanging requests are recorded"
    );
    // ... and the run ended within one request timeout of the 498 (plus a second for a busy
    // machine to write the ledger and the summary).
    assert!(
        ended - expired < timeout + Duration::from_secs(1),
        "stopped {:?} after the 498",
        ended - expired
    );
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
    // Space is back: the rerun finishes. Keys deleted whose answers the failed writer could
    // not keep are pending: they are sent again, and come back 1020. No other key is.
    fx.ledger().execute_batch("DROP TRIGGER disk_full").unwrap();
    let units = ledger_units(&config.state, &config.ledger_key_file, &held);
    let asked_before: Vec<usize> = held
        .iter()
        .map(|k| fx.sim.history("customers", k).len())
        .collect();
    let mut lost: Vec<String> = held
        .iter()
        .filter(|k| {
            let answered = fx.sim.history("customers", k).last().copied();
            answered.is_some_and(|r| r.delivered && r.answer.is_final())
                && units[*k].outcome == "pending"
        })
        .cloned()
        .collect();
    assert!(
        !lost.is_empty(),
        "the failure lost no answer: nothing tested"
    );
    let s = fx.run(config.clone()).await;
    assert_eq!(
        (
            s.exit_code(),
            s.ledger.deleted + s.ledger.not_found,
            s.ledger.pending
        ),
        (exit::OK, 400, 0)
    );
    for (k, before) in held.iter().zip(asked_before) {
        if fx.sim.history("customers", k).len() > before {
            assert_eq!(units[k].outcome, "pending", "{k}: finished, yet sent again");
        }
    }
    let mut resent: Vec<String> = fx
        .sim
        .keys_resent_without_cause()
        .into_iter()
        .map(|(_, k)| k)
        .collect();
    resent.sort();
    lost.sort();
    assert_eq!(resent, lost, "sent again after a final answer");
    let after = ledger_units(&config.state, &config.ledger_key_file, &lost);
    assert!(lost.iter().all(|k| after[k].outcome == "not_found"));
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
