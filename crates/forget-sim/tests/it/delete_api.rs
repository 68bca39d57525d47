//! The Webex delete endpoint over real HTTP: its answers, tokens, rate limit, latency,
//! statistics and concurrency.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::common::{Fixture, TOKEN, answer, config};
use forget_sim::{RetryAfter, SimConfig, SimStats};
use serde_json::json;

#[tokio::test]
async fn deletes_once_then_not_found() {
    let f = Fixture::new(config(&["a@x", "b@x"])).await;
    let (status, body) = f.delete("a@x").await;
    assert_eq!(status, 200);
    let txn = body["transaction-id"].as_str().unwrap();
    assert!(!txn.is_empty());

    let (status, body) = f.delete("a@x").await;
    assert_eq!(status, 200);
    assert_eq!(body["code"], json!("1020"), "1020 is sent as a string");
    assert_eq!(body["description"], json!("Contact profile not found"));

    let (_, other) = f.delete("b@x").await;
    assert_ne!(
        other["transaction-id"].as_str().unwrap(),
        txn,
        "ids are unique"
    );

    assert_eq!(f.sim.delete_count("customers", "a@x"), 1);
    assert!(!f.sim.holds("customers", "a@x"));
    assert_eq!(f.sim.remaining(), 0);
    assert_eq!(
        f.sim.stats(),
        SimStats {
            requests: 3,
            deleted: 2,
            not_found: 1,
            max_deletes_per_key: 1,
            // a@x was sent again after its deletion was answered.
            max_requests_per_key: 2,
            resent_after_final: 1,
            resent_without_cause: 1,
            ..SimStats::default()
        }
    );
}

#[tokio::test]
async fn named_profiles_and_unknown_profile() {
    let mut cfg = config(&["k"]);
    cfg.profiles.push(("vip".to_owned(), vec!["k".to_owned()]));
    let f = Fixture::new(cfg).await;

    let (status, body) = f.call(json!({"profile-name": "nope", "key": "k"})).await;
    assert_eq!((status, &body["code"]), (200, &json!("102")));
    assert_eq!(body["description"], json!("Invalid profile id"));

    let (status, body) = f.call(json!({"profile-name": "vip", "key": "k"})).await;
    assert_eq!(status, 200);
    assert!(body["transaction-id"].is_string());
    assert!(!f.sim.holds("vip", "k"));
    assert!(f.sim.holds("customers", "k"), "profiles are separate");

    // The default profile can also be named explicitly.
    let (_, body) = f
        .call(json!({"profile-name": "customers", "key": "k", "exparam1": "x"}))
        .await;
    assert!(body["transaction-id"].is_string());
    assert_eq!(f.sim.stats().rejected, 1);
}

#[tokio::test]
async fn invalid_input_is_1001() {
    let f = Fixture::new(config(&["k"])).await;
    let big = format!(r#"{{"key":"{}"}}"#, "x".repeat(70 * 1024));
    for body in [
        "not json",
        "{\"key\":",
        "{}",
        r#"{"key":""}"#,
        r#"{"key":"   "}"#,
        r#"{"key":5}"#,
        r#"{"key":"k","profile-name":7}"#,
        r#"{"key":"k","exparam3":[1]}"#,
        r#"["customers","k"]"#,
        "",
        &big,
    ] {
        let (status, answer) = answer(f.send_raw(Some(TOKEN), body).await.unwrap()).await;
        assert_eq!(status, 500, "{body:.40}");
        assert_eq!(answer["code"], json!("1001"), "{body:.40}");
        assert_eq!(answer["description"], json!("Invalid input JSON"));
    }
    assert!(f.sim.holds("customers", "k"));
    assert_eq!(f.sim.stats().rejected, 11);
}

#[tokio::test]
async fn bad_or_missing_token_is_430() {
    let f = Fixture::new(config(&["k"])).await;
    for token in [Some("wrong"), None] {
        let (status, body) = answer(f.send_raw(token, r#"{"key":"k"}"#).await.unwrap()).await;
        assert_eq!(status, 401);
        assert_eq!(body["code"], json!(430), "430 is sent as a number");
    }
    assert!(f.sim.holds("customers", "k"));
    assert_eq!(f.sim.stats().unauthorized, 2);
}

#[tokio::test]
async fn token_expires_and_rotates() {
    let f = Fixture::new(SimConfig {
        expire_token_after: Some(2),
        ..config(&["a", "b", "c", "d"])
    })
    .await;
    assert_eq!(f.delete("a").await.0, 200);
    assert_eq!(f.delete("zzz").await.1["code"], json!("1020"));
    for key in ["b", "c"] {
        let (status, body) = f.delete(key).await;
        assert_eq!(status, 401);
        assert_eq!(body["code"], json!(498));
        assert_eq!(
            body["description"],
            json!("Invalid token or Access token expired")
        );
    }
    assert!(f.sim.holds("customers", "b"));

    f.sim.set_token("fresh");
    let (status, body) = f.delete("b").await;
    assert_eq!(
        (status, &body["code"]),
        (401, &json!(430)),
        "old token refused"
    );
    let (status, body) = answer(f.send_raw(Some("fresh"), r#"{"key":"b"}"#).await.unwrap()).await;
    assert_eq!(status, 200);
    assert!(body["transaction-id"].is_string());
    // The fresh token does not expire...
    for key in ["c", "d"] {
        let (status, _) = answer(
            f.send_raw(Some("fresh"), &json!({"key": key}).to_string())
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 200);
    }
    // ...unless re-armed.
    f.sim.set_token_expiry(Some(1));
    assert_eq!(f.delete("zzz").await.0, 401, "still the old token");
    let (status, body) = answer(f.send_raw(Some("fresh"), r#"{"key":"zzz"}"#).await.unwrap()).await;
    assert_eq!((status, &body["code"]), (401, &json!(498)));
    assert_eq!(f.sim.stats().unauthorized, 5);
}

#[tokio::test]
async fn wrong_method_and_path() {
    let f = Fixture::new(config(&["k"])).await;
    let (status, body) = answer(f.client.get(f.url()).send().await.unwrap()).await;
    assert_eq!((status, &body["code"]), (405, &json!(405)));
    assert_eq!(body["description"], json!("Method not supported"));

    let (status, body) = answer(
        f.client
            .put(f.url())
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, &body["code"]), (405, &json!(405)));

    let other = format!("{}/campaignapi/resources/v3/deletes", f.handle.url());
    let (status, body) = answer(f.client.post(other).send().await.unwrap()).await;
    assert_eq!((status, &body["code"]), (404, &json!(404)));
    assert_eq!(f.sim.stats().rejected, 3);
}

#[tokio::test]
async fn rate_limit_with_retry_after_seconds() {
    let f = Fixture::new(SimConfig {
        rate_limit: Some(0.1),
        rate_burst: Some(1),
        retry_after: RetryAfter::Seconds(7),
        ..config(&["a", "b"])
    })
    .await;
    assert_eq!(f.delete("a").await.0, 200);
    let resp = f.send(json!({"key": "b"})).await.unwrap();
    assert_eq!(resp.headers()["retry-after"], "7");
    let (status, body) = answer(resp).await;
    assert_eq!((status, &body["code"]), (429, &json!(429)));
    assert!(f.sim.holds("customers", "b"));
    assert_eq!(f.sim.stats().throttled, 1);
}

#[tokio::test]
async fn rate_limit_with_retry_after_date() {
    let f = Fixture::new(SimConfig {
        rate_limit: Some(0.1),
        rate_burst: Some(1),
        retry_after: RetryAfter::HttpDate(30),
        ..config(&["a", "b"])
    })
    .await;
    let before = SystemTime::now();
    assert_eq!(f.delete("a").await.0, 200);
    let resp = f.send(json!({"key": "b"})).await.unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    let date = resp.headers()["retry-after"].to_str().unwrap();
    let when = httpdate::parse_http_date(date).unwrap();
    // HTTP-dates have one-second resolution.
    assert!(when >= before + Duration::from_secs(29), "{date}");
    assert!(
        when <= SystemTime::now() + Duration::from_secs(31),
        "{date}"
    );
}

#[tokio::test]
async fn latency_delays_answers() {
    let f = Fixture::new(SimConfig {
        latency: Duration::from_millis(150),
        ..config(&["k"])
    })
    .await;
    let start = std::time::Instant::now();
    assert_eq!(f.delete("k").await.0, 200);
    assert!(start.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn records_bodies_and_serves_stats() {
    let f = Fixture::new(SimConfig {
        record_bodies: true,
        ..config(&["k"])
    })
    .await;
    let sent = json!({"key": "k", "exparam1": "ticket-1", "exparam10": "z"});
    f.call(sent.clone()).await;
    f.send_raw(Some(TOKEN), "oops").await.unwrap();
    assert_eq!(f.sim.received(), vec![sent, json!("oops")]);

    let stats_url = format!("{}/_sim/stats", f.handle.url());
    let stats: SimStats = f
        .client
        .get(stats_url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats, f.sim.stats());
    assert_eq!((stats.requests, stats.deleted, stats.rejected), (2, 1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_deletes_happen_exactly_once() {
    let keys: Vec<String> = (0..400).map(|i| format!("user{i}@example.com")).collect();
    let f = Arc::new(
        Fixture::new(SimConfig {
            profiles: vec![("customers".to_owned(), keys.clone())],
            ..SimConfig::default()
        })
        .await,
    );
    // Every key is sent twice, by different tasks.
    let mut tasks = Vec::new();
    for t in 0..8 {
        let f = Arc::clone(&f);
        let keys = keys.clone();
        tasks.push(tokio::spawn(async move {
            for key in keys.iter().skip(t % 4).step_by(4) {
                f.delete(key).await;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let stats = f.sim.stats();
    assert_eq!((stats.deleted, stats.not_found), (400, 400));
    assert_eq!(stats.max_deletes_per_key, 1);
    assert_eq!(f.sim.remaining(), 0);
    assert!(keys.iter().all(|k| f.sim.delete_count("customers", k) == 1));
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let f = Fixture::new(config(&["k"])).await;
    let addr = f.handle.addr();
    f.handle.shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
