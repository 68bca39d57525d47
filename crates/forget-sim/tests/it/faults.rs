//! Injected faults over real HTTP.

use std::time::Duration;

use crate::common::{Fixture, TOKEN, answer, config};
use forget_sim::{DELETE_PATH, Fault, RetryAfter, SimConfig};
use serde_json::{Value, json};

#[tokio::test]
async fn drop_closes_without_answer() {
    let f = Fixture::new(SimConfig {
        faults: vec![(Fault::Drop, 1.0)],
        ..config(&["k"])
    })
    .await;
    let err = f.send(json!({"key": "k"})).await.unwrap_err();
    assert!(err.status().is_none(), "{err:?}");
    assert!(!err.is_timeout(), "{err:?}");
    assert!(f.sim.holds("customers", "k"), "faults never delete");

    // Raw socket: the server closes without sending a single byte.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(f.handle.addr())
        .await
        .unwrap();
    let body = r#"{"key":"k"}"#;
    let request = format!(
        "POST {DELETE_PATH} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {TOKEN}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    // The server must close promptly, with a clean EOF or a reset, never data.
    let closed = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buf)).await;
    assert!(closed.is_ok(), "connection left open");
    assert!(buf.is_empty(), "{:?}", String::from_utf8_lossy(&buf));
    assert_eq!(f.sim.stats().faults, 2);
}

#[tokio::test]
async fn slow_never_answers() {
    let f = Fixture::new(SimConfig {
        faults: vec![(Fault::Slow, 1.0)],
        ..config(&["k"])
    })
    .await;
    let err = f
        .client
        .post(f.url())
        .bearer_auth(TOKEN)
        .timeout(Duration::from_millis(300))
        .body(r#"{"key":"k"}"#)
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(f.sim.holds("customers", "k"));
    assert_eq!(f.sim.stats().faults, 1);
}

async fn fault_answer(fault: Fault) -> (u16, String, String) {
    let f = Fixture::new(SimConfig {
        faults: vec![(fault, 1.0)],
        retry_after: RetryAfter::None,
        ..config(&["k"])
    })
    .await;
    let resp = f.send(json!({"key": "k"})).await.unwrap();
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    assert!(resp.headers().get("retry-after").is_none());
    let text = resp.text().await.unwrap();
    assert!(
        f.sim.holds("customers", "k"),
        "{fault}: faults never delete"
    );
    assert_eq!(f.sim.stats().faults, 1);
    (status, content_type, text)
}

#[tokio::test]
async fn malformed_answers() {
    let (status, ct, text) = fault_answer(Fault::Truncated).await;
    assert_eq!((status, ct.as_str()), (200, "application/json"));
    assert_eq!(text, r#"{"transaction-id":""#);
    assert!(serde_json::from_str::<Value>(&text).is_err());

    let (status, _, text) = fault_answer(Fault::Empty).await;
    assert_eq!((status, text.as_str()), (200, ""));

    let (status, ct, text) = fault_answer(Fault::NotJson).await;
    assert_eq!(
        (status, ct.as_str(), text.as_str()),
        (200, "text/plain", "OK")
    );

    let (status, ct, text) = fault_answer(Fault::Html502).await;
    assert_eq!((status, ct.as_str()), (502, "text/html"));
    assert_eq!(text, "<html><body><h1>502 Bad Gateway</h1></body></html>");
}

#[tokio::test]
async fn coded_faults_use_strings_and_numbers() {
    let cases = [
        (Fault::Http500, 500, json!(500)),
        (Fault::Code1010, 200, json!("1010")),
        (Fault::Code429, 429, json!(429)),
        (Fault::Code499, 499, json!(499)),
    ];
    for (fault, http, code) in cases {
        let (status, _, text) = fault_answer(fault).await;
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!((status, &body["code"]), (http, &code), "{fault}");
        assert!(body["description"].is_string());
    }
}

#[tokio::test]
async fn injected_429_carries_configured_retry_after() {
    let f = Fixture::new(SimConfig {
        faults: vec![(Fault::Code429, 1.0)],
        retry_after: RetryAfter::Seconds(3),
        ..config(&["k"])
    })
    .await;
    let resp = f.send(json!({"key": "k"})).await.unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    assert_eq!(resp.headers()["retry-after"], "3");
    assert_eq!(f.sim.stats().throttled, 0);
    assert_eq!(f.sim.stats().faults, 1);
}

/// The outcome kinds of `n` sequential requests against a fresh simulator.
async fn fault_sequence(seed: u64, n: usize) -> Vec<String> {
    let keys: Vec<String> = (0..n).map(|i| format!("k{i}")).collect();
    let f = Fixture::new(SimConfig {
        seed,
        faults: vec![(Fault::Http500, 0.3), (Fault::Code1010, 0.2)],
        profiles: vec![("customers".to_owned(), keys.clone())],
        ..SimConfig::default()
    })
    .await;
    let mut out = Vec::new();
    for key in &keys {
        let (_, body) = f.delete(key).await;
        out.push(match &body["code"] {
            Value::Null => "ok".to_owned(),
            code => code.to_string(),
        });
    }
    let stats = f.sim.stats();
    assert_eq!(stats.faults + stats.deleted, n as u64);
    assert_eq!(f.sim.remaining() as u64, stats.faults);
    out
}

#[tokio::test]
async fn faults_are_deterministic_per_seed() {
    let a = fault_sequence(42, 60).await;
    let b = fault_sequence(42, 60).await;
    let c = fault_sequence(43, 60).await;
    assert_eq!(a, b);
    assert_ne!(a, c);
    for kind in ["ok", "500", "\"1010\""] {
        assert!(a.iter().any(|k| k == kind), "{kind} missing from {a:?}");
    }
}

#[tokio::test]
async fn faults_can_be_switched_mid_run() {
    let f = Fixture::new(SimConfig {
        faults: vec![(Fault::Http500, 1.0)],
        ..config(&["k"])
    })
    .await;
    assert_eq!(f.delete("k").await.0, 500);
    f.sim.set_faults(Vec::new());
    assert_eq!(f.delete("k").await.0, 200);
    assert_eq!(f.sim.delete_count("customers", "k"), 1);
}

#[tokio::test]
async fn drop_after_delete_deletes_then_closes_without_answer() {
    let f = Fixture::new(SimConfig {
        faults: vec![(Fault::DropAfterDelete, 1.0)],
        ..config(&["k"])
    })
    .await;
    let err = f.send(json!({"key": "k"})).await.unwrap_err();
    assert!(err.status().is_none() && !err.is_timeout(), "{err:?}");
    assert!(
        !f.sim.holds("customers", "k"),
        "deleted before the answer was lost"
    );
    // The retry reads 1020: what the client records as deleted after an ambiguous answer.
    f.sim.set_faults(Vec::new());
    let (status, body) = f.delete("k").await;
    assert_eq!((status, &body["code"]), (200, &json!("1020")));
    let stats = f.sim.stats();
    assert_eq!(
        (stats.faults, stats.deleted_then_faulted, stats.deleted),
        (1, 1, 0)
    );
    assert_eq!((stats.not_found, stats.max_deletes_per_key), (1, 1));
    assert_eq!(f.sim.delete_count("customers", "k"), 1);
}

#[tokio::test]
async fn slow_after_delete_deletes_then_never_answers() {
    let f = Fixture::new(SimConfig {
        faults: vec![(Fault::SlowAfterDelete, 1.0)],
        ..config(&["k"])
    })
    .await;
    let err = f
        .client
        .post(f.url())
        .bearer_auth(TOKEN)
        .timeout(Duration::from_millis(300))
        .body(r#"{"key":"k"}"#)
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(!f.sim.holds("customers", "k"));
    assert_eq!(f.sim.stats().deleted_then_faulted, 1);
}

#[tokio::test]
async fn http_500_after_delete_deletes_then_answers_500() {
    let f = Fixture::new(SimConfig {
        faults: vec![(Fault::Http500AfterDelete, 1.0)],
        ..config(&["k"])
    })
    .await;
    let (status, body) = f.delete("k").await;
    assert_eq!((status, &body["code"]), (500, &json!(500)));
    assert!(!f.sim.holds("customers", "k"));
    // Again: nothing left to delete, the same 500.
    let (status, _) = f.delete("k").await;
    assert_eq!(status, 500);
    // A body naming no key deletes nothing and still gets the fault.
    let (status, _) = answer(f.send_raw(Some(TOKEN), "{}").await.unwrap()).await;
    assert_eq!(status, 500);
    let stats = f.sim.stats();
    assert_eq!((stats.faults, stats.deleted_then_faulted), (3, 1));
    assert_eq!(stats.max_deletes_per_key, 1);
}

#[tokio::test]
async fn injected_429s_are_counted_apart_from_the_limiter() {
    let f = Fixture::new(SimConfig {
        faults: vec![(Fault::Code429, 1.0)],
        ..config(&["k"])
    })
    .await;
    for _ in 0..3 {
        assert_eq!(f.delete("k").await.0, 429);
    }
    let stats = f.sim.stats();
    assert_eq!(
        (stats.random_throttled, stats.faults, stats.throttled),
        (3, 3, 0)
    );
}

#[tokio::test]
async fn after_delete_faults_act_on_outreach_deletes_and_are_plain_on_reads() {
    let mut cfg = config(&[]);
    cfg.outreach = vec![forget_sim::outreach::OutreachCollection::new(
        "callPurposes",
        forget_sim::outreach::sample_call_purposes(3),
    )];
    cfg.faults = vec![(Fault::Http500AfterDelete, 1.0)];
    let f = Fixture::new(cfg).await;
    let record = |id: i64| format!("{}/api/v2/callPurposes/{id}", f.handle.url());
    let resp = f
        .client
        .delete(record(1))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 500);
    let doc: Value = resp.json().await.unwrap();
    assert!(doc["errors"][0]["title"].is_string(), "{doc}");
    assert!(!f.sim.outreach_holds("callPurposes", 1));
    assert_eq!(f.sim.outreach_delete_count("callPurposes", 1), 1);
    // A read has nothing to delete: the plain 500.
    let resp = f
        .client
        .get(record(2))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 500);
    let transactions = format!(
        "{}/campaignapi/resources/v3/transactions?key=x",
        f.handle.url()
    );
    let resp = f
        .client
        .get(transactions)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 500);
    assert!(f.sim.outreach_holds("callPurposes", 2));
    f.sim.set_faults(vec![(Fault::DropAfterDelete, 1.0)]);
    let err = f
        .client
        .get(record(3))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap_err();
    assert!(err.status().is_none(), "{err:?}");
    assert!(f.sim.outreach_holds("callPurposes", 3));
    let stats = f.sim.stats();
    assert_eq!((stats.deleted_then_faulted, stats.deleted), (1, 0));
}
