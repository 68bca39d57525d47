//! Every delete request per key, whatever the answer: what "exactly once" is proven with.

use std::time::Duration;

use crate::common::{Fixture, TOKEN, answer, config};
use forget_sim::outreach::{OutreachCollection, sample_call_purposes};
use forget_sim::{Answer, DeleteRequest, Fault, RetryAfter, SimConfig};
use serde_json::json;

fn got(answer: Answer) -> DeleteRequest {
    DeleteRequest {
        answer,
        delivered: true,
    }
}

fn lost(answer: Answer) -> DeleteRequest {
    DeleteRequest {
        answer,
        delivered: false,
    }
}

#[tokio::test]
async fn every_answer_is_kept_in_order() {
    let f = Fixture::new(config(&["k"])).await;
    f.sim.set_faults(vec![(Fault::Http500, 1.0)]);
    assert_eq!(f.delete("k").await.0, 500);
    f.sim.set_faults(vec![(Fault::Drop, 1.0)]);
    assert!(f.send(json!({"key": "k"})).await.is_err());
    f.sim.set_faults(Vec::new());
    assert_eq!(f.delete("k").await.0, 200);
    assert_eq!(f.delete("k").await.1["code"], json!("1020"));
    assert_eq!(
        f.sim.history("customers", "k"),
        [
            got(Answer::Fault(Fault::Http500)),
            lost(Answer::Fault(Fault::Drop)),
            got(Answer::Deleted),
            got(Answer::NotFound),
        ]
    );
    let stats = f.sim.stats();
    assert_eq!(stats.max_requests_per_key, 4);
    assert_eq!(
        (stats.resent_after_final, stats.resent_without_cause),
        (1, 1)
    );
    assert_eq!(stats.max_deletes_per_key, 1);
    assert_eq!(
        f.sim.keys_resent_without_cause(),
        [("customers".to_owned(), "k".to_owned())]
    );
}

#[tokio::test]
async fn a_retry_after_a_lost_answer_has_cause() {
    let f = Fixture::new(SimConfig {
        faults: vec![(Fault::DropAfterDelete, 1.0)],
        ..config(&["k"])
    })
    .await;
    assert!(f.send(json!({"key": "k"})).await.is_err());
    f.sim.set_faults(Vec::new());
    assert_eq!(f.delete("k").await.1["code"], json!("1020"));
    assert_eq!(
        f.sim.history("customers", "k"),
        [
            lost(Answer::FaultAfterDelete(Fault::DropAfterDelete)),
            got(Answer::NotFound),
        ]
    );
    let stats = f.sim.stats();
    assert_eq!(
        (stats.resent_after_final, stats.resent_without_cause),
        (0, 0)
    );
    assert_eq!(stats.max_requests_per_key, 2);
    assert!(f.sim.keys_resent_without_cause().is_empty());
}

#[tokio::test]
async fn refusals_and_unknown_keys_have_histories_too() {
    let f = Fixture::new(SimConfig {
        rate_limit: Some(0.1),
        rate_burst: Some(1),
        retry_after: RetryAfter::None,
        ..config(&["k"])
    })
    .await;
    let (status, _) = answer(f.send_raw(Some("wrong"), r#"{"key":"k"}"#).await.unwrap()).await;
    assert_eq!(status, 401);
    assert_eq!(f.delete("never-held").await.1["code"], json!("1020"));
    assert_eq!(f.delete("k").await.0, 429);
    let (_, body) = f.call(json!({"profile-name": "nope", "key": "k"})).await;
    assert_eq!(
        body["code"],
        json!(429),
        "the limiter comes before the profile"
    );
    assert_eq!(
        f.sim.history("customers", "k"),
        [got(Answer::Unauthorized), got(Answer::Throttled)]
    );
    assert_eq!(
        f.sim.history("customers", "never-held"),
        [got(Answer::NotFound)]
    );
    assert_eq!(f.sim.history("nope", "k"), [got(Answer::Throttled)]);
    assert!(f.sim.history("customers", "other").is_empty());
    // A body naming no key has no history to go into.
    let (status, _) = answer(f.send_raw(Some(TOKEN), "{}").await.unwrap()).await;
    assert_eq!(status, 429);
    assert_eq!(f.sim.stats().max_requests_per_key, 2);
}

#[tokio::test]
async fn a_permanent_refusal_is_final() {
    let f = Fixture::new(config(&[])).await;
    for _ in 0..2 {
        let (_, body) = f.call(json!({"profile-name": "nope", "key": "k"})).await;
        assert_eq!(body["code"], json!("102"));
    }
    assert_eq!(
        f.sim.history("nope", "k"),
        [got(Answer::Rejected), got(Answer::Rejected)]
    );
    assert_eq!(
        f.sim.keys_resent_without_cause(),
        [("nope".to_owned(), "k".to_owned())]
    );
}

#[tokio::test]
async fn an_answer_is_delivered_only_once_the_latency_has_run() {
    let f = Fixture::new(SimConfig {
        latency: Duration::from_millis(20),
        ..config(&["a", "b"])
    })
    .await;
    assert_eq!(f.delete("a").await.0, 200);
    assert_eq!(f.sim.history("customers", "a"), [got(Answer::Deleted)]);

    // An answer still waiting when the connection closes was never delivered.
    f.sim.set_latency(Duration::from_secs(60));
    let request = {
        let client = f.client.clone();
        let url = f.url();
        tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(TOKEN)
                .body(r#"{"key":"b"}"#)
                .send()
                .await
        })
    };
    // Wait (bounded) until the simulator has decided, then close every connection.
    let mut decided = false;
    for _ in 0..500 {
        if !f.sim.history("customers", "b").is_empty() {
            decided = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(decided, "the request never reached the simulator");
    let sim = std::sync::Arc::clone(&f.sim);
    f.handle.shutdown().await;
    assert!(request.await.unwrap().is_err());
    assert_eq!(sim.history("customers", "b"), [lost(Answer::Deleted)]);
    assert!(!sim.holds("customers", "b"));
}

#[tokio::test]
async fn outreach_deletes_have_histories() {
    let mut cfg = config(&[]);
    cfg.outreach = vec![OutreachCollection::new(
        "callPurposes",
        sample_call_purposes(2),
    )];
    let f = Fixture::new(cfg).await;
    let record = |id: i64| format!("{}/api/v2/callPurposes/{id}", f.handle.url());
    let delete = |id| f.client.delete(record(id)).bearer_auth(TOKEN).send();
    assert_eq!(delete(1).await.unwrap().status().as_u16(), 204);
    assert_eq!(delete(1).await.unwrap().status().as_u16(), 404);
    assert_eq!(delete(7).await.unwrap().status().as_u16(), 404);
    // Reads are not deletes.
    let read = f.client.get(record(2)).bearer_auth(TOKEN).send().await;
    assert_eq!(read.unwrap().status().as_u16(), 200);
    assert_eq!(
        f.sim.outreach_history("callPurposes", 1),
        [got(Answer::Deleted), got(Answer::NotFound)]
    );
    assert_eq!(
        f.sim.outreach_history("callPurposes", 7),
        [got(Answer::NotFound)]
    );
    assert!(f.sim.outreach_history("callPurposes", 2).is_empty());
    assert_eq!(f.sim.outreach_remaining("callPurposes"), 1);
    assert_eq!(
        f.sim.keys_resent_without_cause(),
        [("/api/v2/callPurposes".to_owned(), "1".to_owned())]
    );
    assert_eq!(f.sim.stats().max_requests_per_key, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_sent_twice_at_once_are_caught() {
    let keys: Vec<String> = (0..100).map(|i| format!("user{i}")).collect();
    let f = std::sync::Arc::new(
        Fixture::new(SimConfig {
            profiles: vec![("customers".to_owned(), keys.clone())],
            ..SimConfig::default()
        })
        .await,
    );
    let mut tasks = Vec::new();
    for _ in 0..2 {
        let (f, keys) = (std::sync::Arc::clone(&f), keys.clone());
        tasks.push(tokio::spawn(async move {
            for key in &keys {
                f.delete(key).await;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let stats = f.sim.stats();
    // The old count cannot see it; the new ones do.
    assert_eq!(stats.max_deletes_per_key, 1);
    assert_eq!(stats.max_requests_per_key, 2);
    assert_eq!(
        (stats.resent_after_final, stats.resent_without_cause),
        (100, 100)
    );
    assert_eq!(f.sim.keys_resent_without_cause().len(), 100);
}
