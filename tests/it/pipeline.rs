//! The pipeline end to end against the simulator on 127.0.0.1:0.

use std::time::Duration;

use crate::common::{
    Fixture, TOKEN, assert_deleted_by_one_request, assert_sent_until_final_only, keys,
    ledger_units, resent,
};
use forget::engine::StopReason;
use forget::error::exit;
use forget::outcome::StopCause;
use forget::sim::{Answer, DeleteRequest, Fault, RetryAfter};

#[tokio::test]
async fn happy_path_deletes_held_keys_and_finds_the_rest_missing() {
    let held = keys("held-", 30);
    let fx = Fixture::new(&held, |_| {}).await;
    let mut requested = held.clone();
    requested.extend(keys("absent-", 10));
    let file = fx.csv("in.csv", &requested);
    let s = fx.run(fx.config(vec![file])).await;
    assert_eq!(s.exit_code(), exit::OK, "{s:?}");
    assert_eq!(
        (
            s.ledger.total,
            s.ledger.deleted,
            s.ledger.not_found,
            s.ledger.pending
        ),
        (40, 30, 10, 0)
    );
    // One request per key: each held key deleted by it, each other answered 1020.
    for k in &held {
        assert_deleted_by_one_request(&fx.sim, k);
    }
    for k in &requested[30..] {
        assert_eq!(fx.sim.history("customers", k).len(), 1, "{k}");
    }
    assert_sent_until_final_only(&fx.sim);
    assert_eq!(fx.sim.remaining(), 0);
    // Transaction ids are kept; plaintext keys of gone people are not.
    assert_eq!(
        fx.query_i64(
            "SELECT count(*) FROM units WHERE outcome = 'deleted' AND transaction_id IS NOT NULL"
        ),
        30
    );
    assert_eq!(
        fx.query_i64("SELECT count(*) FROM units WHERE key IS NOT NULL"),
        0
    );
    assert_eq!(fx.query_i64("SELECT count(*) FROM attempts"), 40);
}

#[tokio::test]
async fn duplicates_are_recorded_and_sent_once() {
    let held = keys("k", 3);
    let fx = Fixture::new(&held, |_| {}).await;
    let file = fx.write("in.csv", "key\nk00000\nk00001\nk00000\n k00000 \nk00002\n");
    let s = fx.run(fx.config(vec![file])).await;
    assert_eq!(
        (s.ledger.total, s.ledger.deleted, s.ledger.duplicates),
        (3, 3, 2)
    );
    assert_eq!(fx.sim.stats().requests, 3);
    assert_eq!(
        fx.query_i64("SELECT count(*) FROM rows WHERE kind = 'duplicate' AND unit_id IS NOT NULL"),
        2
    );
}

#[tokio::test]
async fn exparams_and_profile_reach_the_server() {
    let fx = Fixture::new(&keys("k", 2), |_| {}).await;
    let file = fx.write(
        "in.csv",
        "key,exparam1,ticket\nk00000,DSR-1,T-9\nk00001,,T-10\n",
    );
    let mut config = fx.config(vec![file]);
    config.input.exparam_defaults = vec![
        ("exparam1".into(), "RUN".into()),
        ("exparam3".into(), "gdpr".into()),
    ];
    fx.run(config).await;
    let mut bodies = fx.sim.received();
    bodies.sort_by_key(|b| b["key"].as_str().unwrap_or_default().to_owned());
    assert_eq!(
        bodies,
        vec![
            serde_json::json!({"profile-name":"customers","key":"k00000","exparam1":"DSR-1","exparam3":"gdpr"}),
            serde_json::json!({"profile-name":"customers","key":"k00001","exparam1":"RUN","exparam3":"gdpr"}),
        ]
    );
}

#[tokio::test]
async fn retry_after_is_respected() {
    let held = keys("k", 3);
    let fx = Fixture::new(&held, |c| {
        c.rate_limit = Some(1.0);
        c.rate_burst = Some(1);
        c.retry_after = RetryAfter::Seconds(1);
    })
    .await;
    let mut config = fx.config(vec![fx.csv("in.csv", &held)]);
    config.concurrency = 1;
    config.retry.max_attempts = 20;
    let s = fx.run(config).await;
    assert_eq!(s.ledger.deleted, 3, "{s:?}");
    assert!(s.throttled >= 1, "{s:?}");
    // The limiter alone forces the run to take two seconds; what honouring Retry-After
    // changes is how often the client knocks meanwhile: with Retry-After ignored (retrying
    // on the backoff alone) this run collected 5 429s.
    // (The exact wait is checked on the ledger's times, with no limiter: faults::a_429_*.)
    assert!(s.throttled <= 4, "{s:?}");
}

#[tokio::test]
async fn retryable_faults_are_retried_until_each_key_is_final() {
    let held = keys("k", 60);
    let fx = Fixture::new(&held, |c| {
        c.faults = vec![
            (Fault::Http500, 0.2),
            (Fault::Code1010, 0.1),
            (Fault::Code499, 0.1),
            (Fault::Code429, 0.1),
        ];
        c.seed = 7;
    })
    .await;
    let mut requested = held.clone();
    requested.extend(keys("absent-", 20));
    let mut config = fx.config(vec![fx.csv("in.csv", &requested)]);
    config.retry.max_attempts = 30;
    let s = fx.run(config).await;
    assert_eq!(s.exit_code(), exit::OK, "{s:?}");
    assert_eq!(
        (s.ledger.deleted, s.ledger.not_found, s.ledger.failed),
        (60, 20, 0)
    );
    assert!(s.attempts > 80 && s.retries > 0, "{s:?}");
    // Retried only after retryable answers; each key's last request got its final answer.
    assert_sent_until_final_only(&fx.sim);
    assert_eq!(fx.sim.stats().requests, s.attempts);
}

#[tokio::test]
async fn attempts_run_out_as_failed_and_a_rerun_finishes_them() {
    let held = keys("k", 5);
    let fx = Fixture::new(&held, |c| c.faults = vec![(Fault::Http500, 1.0)]).await;
    let file = fx.csv("in.csv", &held);
    let mut config = fx.config(vec![file.clone()]);
    config.retry.max_attempts = 2;
    let s = fx.run(config.clone()).await;
    assert_eq!((s.ledger.failed, s.exit_code()), (5, exit::INCOMPLETE));
    assert_eq!(fx.sim.stats().requests, 10);
    fx.sim.set_faults(vec![]);
    let s = fx.run(config).await;
    assert_eq!(
        (s.ledger.deleted, s.ledger.failed, s.exit_code()),
        (5, 0, exit::OK)
    );
    assert_eq!(fx.sim.stats().requests, 15);
    assert_sent_until_final_only(&fx.sim);
}

#[tokio::test]
async fn a_bad_token_stops_the_run_and_leaves_keys_pending() {
    let held = keys("k", 50);
    let fx = Fixture::new(&held, |_| {}).await;
    let config = fx.config(vec![fx.csv("in.csv", &held)]);
    let s = forget::job::run(config, Some(fx.target_with("wrong-token")))
        .await
        .unwrap();
    assert_eq!(s.stop, Some(StopReason::Api(StopCause::BadToken)));
    assert_eq!(s.exit_code(), exit::STOPPED);
    assert_eq!(
        (s.ledger.pending, s.ledger.failed, s.ledger.deleted),
        (50, 0, 0)
    );
    // Only the requests already in flight were sent.
    assert!(fx.sim.stats().requests <= 4, "{:?}", fx.sim.stats());
}

#[tokio::test]
async fn an_expired_token_stops_mid_run_and_a_rerun_deletes_each_key_exactly_once() {
    let held = keys("k", 200);
    let fx = Fixture::new(&held, |c| c.expire_token_after = Some(60)).await;
    let mut requested = held.clone();
    requested.extend(keys("absent-", 50));
    let config = fx.config(vec![fx.csv("in.csv", &requested)]);
    let s = fx.run(config.clone()).await;
    assert_eq!(s.stop, Some(StopReason::Api(StopCause::ExpiredToken)));
    assert_eq!(s.exit_code(), exit::STOPPED);
    assert_eq!(s.ledger.failed, 0, "an expired token marks no key failed");
    let done_first = s.ledger.deleted + s.ledger.not_found;
    assert!((50..=60).contains(&done_first), "{s:?}");
    assert_eq!(s.ledger.pending, 250 - done_first);

    // Each fresh token expires again after 60 requests: re-run until done, as a team would.
    let mut s = s;
    for _ in 0..10 {
        if s.exit_code() == exit::OK {
            break;
        }
        assert_eq!(s.exit_code(), exit::STOPPED, "{s:?}");
        assert_eq!(s.ledger.failed, 0);
        fx.sim.set_token(TOKEN);
        s = fx.run(config.clone()).await;
    }
    assert_eq!(s.exit_code(), exit::OK, "{s:?}");
    assert_eq!(
        (s.ledger.deleted, s.ledger.not_found, s.ledger.pending),
        (200, 50, 0)
    );
    // A key may be sent again after a 498 (it left its fate open), never after its answer.
    assert_sent_until_final_only(&fx.sim);
    for k in &held {
        let history = fx.sim.history("customers", k);
        assert_eq!(
            history.iter().filter(|r| r.answer.deleted()).count(),
            1,
            "{k}: {history:?}"
        );
        assert_eq!(
            history.last().map(|r| r.answer),
            Some(Answer::Deleted),
            "{k}"
        );
    }
    assert_eq!(
        s.ledger.deleted + s.ledger.not_found + s.ledger.rejected + s.ledger.failed,
        s.ledger.total
    );
}

#[tokio::test]
async fn a_finished_ledger_sends_nothing_on_rerun_and_a_new_file_appends() {
    let held = keys("k", 10);
    let fx = Fixture::new(&held, |_| {}).await;
    let first = fx.csv("a.csv", &held[..6]);
    fx.run(fx.config(vec![first.clone()])).await;
    let before = fx.sim.stats().requests;
    let s = fx.run(fx.config(vec![first.clone()])).await;
    assert_eq!((s.sent_units, s.exit_code()), (0, exit::OK));
    assert_eq!(fx.sim.stats().requests, before);
    // A second file repeating erased keys and adding new ones: only the new ones are sent.
    let second = fx.csv("b.csv", &held[3..]);
    let s = fx.run(fx.config(vec![first, second])).await;
    assert_eq!(s.sent_units, 4);
    assert_eq!(
        (s.ledger.total, s.ledger.deleted, s.ledger.duplicates),
        (10, 10, 3)
    );
    assert_eq!(fx.sim.stats().requests, before + 4);
}

#[tokio::test]
async fn rejected_keys_are_final_unless_retry_rejected() {
    let fx = Fixture::new(&keys("k", 2), |_| {}).await;
    let file = fx.write(
        "in.csv",
        "key,profile-name\nk00000,nosuchprofile\nk00001,\n",
    );
    let s = fx.run(fx.config(vec![file.clone()])).await;
    assert_eq!(
        (s.ledger.rejected, s.ledger.deleted, s.exit_code()),
        (1, 1, exit::INCOMPLETE)
    );
    assert_eq!(fx.query_i64("SELECT count(*) FROM units WHERE outcome = 'rejected' AND code = '102' AND key IS NOT NULL"), 1);
    let s = fx.run(fx.config(vec![file.clone()])).await;
    assert_eq!(s.sent_units, 0);
    let mut config = fx.config(vec![file]);
    config.retry_rejected = true;
    let s = fx.run(config).await;
    assert_eq!(s.sent_units, 1);
    assert_eq!(fx.sim.stats().rejected, 2);
}

#[tokio::test]
async fn dry_run_records_but_sends_nothing() {
    let fx = Fixture::new(&keys("k", 5), |_| {}).await;
    let file = fx.write("in.csv", "key\nk00000\nk00001\nk00001\n\n,\n");
    let mut config = fx.config(vec![file]);
    config.dry_run = true;
    let s = forget::job::run(config, None).await.unwrap();
    assert_eq!(
        (
            s.to_send,
            s.ledger.duplicates,
            s.ledger.invalid,
            s.exit_code()
        ),
        (2, 1, 1, exit::OK)
    );
    assert_eq!(fx.sim.stats().requests, 0);
}

/// Deleted, then the answer lost: the simulator deletes the key and then drops the
/// connection, never answers, or answers 500. The retry finds the key gone (1020): the ledger
/// says `not_found` flagged `after_ambiguous` (that attempt erased it), the summary counts it,
/// and the simulator deleted it once.
#[tokio::test]
async fn a_delete_whose_answer_was_lost_then_a_1020_counts_as_erased() {
    let held = keys("k", 40);
    let fx = Fixture::new(&held, |c| {
        c.faults = vec![
            (Fault::DropAfterDelete, 0.15),
            (Fault::SlowAfterDelete, 0.1),
            (Fault::Http500AfterDelete, 0.15),
        ];
        c.seed = 3;
    })
    .await;
    let mut config = fx.config(vec![fx.csv("in.csv", &held)]);
    config.timeout = Duration::from_millis(300);
    config.retry.max_attempts = 40;
    let s = fx.run(config).await;
    assert_eq!(
        (s.ledger.deleted + s.ledger.not_found, s.ledger.failed),
        (40, 0),
        "{s:?}"
    );
    assert_eq!(fx.sim.remaining(), 0);
    let units = ledger_units(&fx.path("ledger.db"), &fx.path("ledger.db.key"), &held);
    let answered = |answer| DeleteRequest {
        answer,
        delivered: true,
    };
    let mut lost = 0u64;
    for k in &held {
        let history = fx.sim.history("customers", k);
        let unit = &units[k];
        let deleting: Vec<Answer> = history
            .iter()
            .map(|r| r.answer)
            .filter(|a| a.deleted())
            .collect();
        assert_eq!(deleting.len(), 1, "{k} deleted once: {history:?}");
        if let Answer::FaultAfterDelete(_) = deleting[0] {
            lost += 1;
            assert_eq!(history.last(), Some(&answered(Answer::NotFound)), "{k}");
            assert_eq!(
                (unit.outcome.as_str(), unit.after_ambiguous),
                ("not_found", true),
                "{k}: {history:?}"
            );
        } else {
            assert_eq!(history, [answered(Answer::Deleted)], "{k}");
            assert_eq!(
                (unit.outcome.as_str(), unit.after_ambiguous),
                ("deleted", false)
            );
        }
        // Every request the simulator got is an attempt in the ledger, and no more.
        assert_eq!(unit.attempts, history.len() as i64, "{k}: {history:?}");
    }
    assert!(
        lost >= 5,
        "the after-delete faults fired for {lost} keys only"
    );
    assert_eq!(fx.sim.stats().deleted_then_faulted, lost);
    assert_eq!(
        (s.ledger.not_found, s.after_ambiguous),
        (lost, lost),
        "{s:?}"
    );
    let summary = forget::job::render_summary(&s);
    assert!(
        summary.contains(&format!("{lost} keys answered \"not found\" after")),
        "{summary}"
    );
    assert_sent_until_final_only(&fx.sim);
}

#[tokio::test]
async fn a_second_run_on_a_locked_ledger_refuses() {
    let fx = Fixture::new(&keys("k", 1), |_| {}).await;
    let config = fx.config(vec![fx.csv("in.csv", &keys("k", 1))]);
    let _held = forget::ledger::Ledger::lock(&config.state).unwrap();
    let err = forget::job::run(config, Some(fx.target()))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("another forget run is using this ledger"),
        "{err}"
    );
    assert_eq!(err.exit_code(), exit::USAGE);
    assert_eq!(fx.sim.stats().requests, 0);
}

#[tokio::test]
async fn the_ledger_and_its_key_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let fx = Fixture::new(&keys("k", 1), |_| {}).await;
    let config = fx.config(vec![fx.csv("in.csv", &keys("k", 1))]);
    fx.run(config.clone()).await;
    for p in [&config.state, &config.ledger_key_file] {
        let mode = std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", p.display());
    }
}

#[tokio::test]
async fn a_ledger_used_with_another_ledger_key_or_tenant_refuses() {
    let fx = Fixture::new(&keys("k", 1), |_| {}).await;
    let config = fx.config(vec![fx.csv("in.csv", &keys("k", 1))]);
    fx.run(config.clone()).await;
    let mut other_key = config.clone();
    other_key.ledger_key_file = fx.write("other.key", "fedcba9876543210fedcba9876543210\n");
    let err = forget::job::run(other_key, Some(fx.target()))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("different ledger key"), "{err}");
    let other_tenant = forget::target::Target::connect(
        forget::connector::Kind::Webex,
        reqwest::Url::parse("https://acme.example.com").unwrap(),
        forget::secret::Token::new("t"),
    )
    .unwrap();
    let err = forget::job::run(config, Some(other_tenant))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("Use another --state"), "{err}");
}

/// The "sent once" checks can fail: a client that sends a finished key again is caught; one
/// that sends a key again after a 429 is not.
#[tokio::test]
async fn a_key_sent_again_after_its_final_answer_is_caught() {
    let held = keys("k", 2);
    let fx = Fixture::new(&held, |_| {}).await;
    let client = reqwest::Client::new();
    let url = format!("{}{}", fx.handle.url(), forget::sim::DELETE_PATH);
    let send = |key: &str| {
        client
            .post(&url)
            .bearer_auth(TOKEN)
            .json(&serde_json::json!({ "key": key }))
            .send()
    };
    fx.sim.set_faults(vec![(Fault::Code429, 1.0)]);
    assert_eq!(send("k00000").await.unwrap().status(), 429);
    fx.sim.set_faults(vec![]);
    assert_eq!(send("k00000").await.unwrap().status(), 200);
    assert_eq!(resent(&fx.sim), None);
    assert_sent_until_final_only(&fx.sim);

    // Deleted, then sent again: answered 1020, and flagged.
    send("k00001").await.unwrap().text().await.unwrap();
    let again = send("k00001").await.unwrap().text().await.unwrap();
    assert!(again.contains("1020"), "{again}");
    let stats = fx.sim.stats();
    assert_eq!(
        (stats.resent_after_final, stats.resent_without_cause),
        (1, 1)
    );
    assert_eq!(
        fx.sim.keys_resent_without_cause(),
        [("customers".to_owned(), "k00001".to_owned())]
    );
    // The deletion count cannot tell: it is 1 either way.
    assert_eq!(stats.max_deletes_per_key, 1);
    assert!(resent(&fx.sim).is_some_and(|found| found.contains("k00001")));
    let sim = fx.sim.clone();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        assert_sent_until_final_only(&sim)
    }));
    assert!(caught.is_err(), "the assertion let a re-sent key through");
}
