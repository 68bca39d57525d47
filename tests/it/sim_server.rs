//! Black-box tests of the API simulator over real HTTP.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use clap::Parser;
use forget::sim::{
    self, DELETE_PATH, Fault, RetryAfter, Sim, SimArgs, SimConfig, SimHandle, SimStats,
};
use serde_json::{Value, json};

const TOKEN: &str = "sim-token";

fn config(keys: &[&str]) -> SimConfig {
    SimConfig {
        profiles: vec![(
            "customers".to_owned(),
            keys.iter().map(|k| (*k).to_owned()).collect(),
        )],
        ..SimConfig::default()
    }
}

struct Fixture {
    sim: Arc<Sim>,
    handle: SimHandle,
    client: reqwest::Client,
}

impl Fixture {
    async fn new(cfg: SimConfig) -> Fixture {
        let sim = Sim::new(cfg);
        let handle = sim::spawn(Arc::clone(&sim)).await.unwrap();
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        Fixture {
            sim,
            handle,
            client,
        }
    }

    fn url(&self) -> String {
        format!("{}{DELETE_PATH}", self.handle.url())
    }

    async fn send_raw(
        &self,
        token: Option<&str>,
        body: &str,
    ) -> reqwest::Result<reqwest::Response> {
        let mut req = self
            .client
            .post(self.url())
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send().await
    }

    async fn send(&self, body: Value) -> reqwest::Result<reqwest::Response> {
        self.send_raw(Some(TOKEN), &body.to_string()).await
    }

    /// Sends `body`; returns the HTTP status and the parsed JSON answer.
    async fn call(&self, body: Value) -> (u16, Value) {
        answer(self.send(body).await.unwrap()).await
    }

    async fn delete(&self, key: &str) -> (u16, Value) {
        self.call(json!({ "key": key })).await
    }
}

async fn answer(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text:?}"));
    (status, value)
}

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

#[test]
fn load_profiles_reads_key_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.txt");
    std::fs::write(&path, "\u{feff}# header\na@x\r\n\n  b@x  \n#c@x\n").unwrap();
    let path = path.to_str().unwrap();

    let (name, keys) = sim::load_profiles(path).unwrap();
    assert_eq!(name, "customers");
    assert_eq!(keys, ["a@x", "b@x"]);

    let (name, _) = sim::load_profiles(&format!("vip={path}")).unwrap();
    assert_eq!(name, "vip");
    assert!(sim::load_profiles("vip=/definitely/not/here").is_err());
}

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    sim: SimArgs,
}

#[test]
fn cli_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.txt");
    std::fs::write(&path, "a\nb\n").unwrap();
    let profiles = format!("vip={}", path.display());

    let cli = Cli::try_parse_from([
        "sim",
        "--listen",
        "127.0.0.1:0",
        "--profiles",
        &profiles,
        "--token",
        "t",
        "--rate-limit",
        "2.5",
        "--retry-after",
        "4",
        "--retry-after-date",
        "--fault",
        "500=0.05",
        "--fault",
        "drop=0.01",
        "--latency-ms",
        "3",
        "--expire-token-after",
        "100",
        "--seed",
        "9",
    ])
    .unwrap();
    assert_eq!(cli.sim.listen_addr().unwrap().to_string(), "127.0.0.1:0");
    let cfg = cli.sim.to_config().unwrap();
    assert_eq!(cfg.token, "t");
    assert_eq!(
        cfg.profiles,
        vec![("vip".to_owned(), vec!["a".to_owned(), "b".to_owned()])]
    );
    assert_eq!(cfg.rate_limit, Some(2.5));
    assert_eq!(cfg.retry_after, RetryAfter::HttpDate(4));
    assert_eq!(
        cfg.faults,
        vec![(Fault::Http500, 0.05), (Fault::Drop, 0.01)]
    );
    assert_eq!(cfg.latency, Duration::from_millis(3));
    assert_eq!(cfg.expire_token_after, Some(100));
    assert_eq!(cfg.seed, 9);

    let remote = Cli::try_parse_from(["sim", "--listen", "0.0.0.0:8080"]).unwrap();
    assert!(remote.sim.listen_addr().is_err());
    let allowed =
        Cli::try_parse_from(["sim", "--listen", "0.0.0.0:8080", "--allow-remote"]).unwrap();
    assert!(allowed.sim.listen_addr().is_ok());
    let localhost = Cli::try_parse_from(["sim", "--listen", "localhost:9"]).unwrap();
    assert_eq!(
        localhost.sim.listen_addr().unwrap().to_string(),
        "127.0.0.1:9"
    );

    assert!(Cli::try_parse_from(["sim", "--fault", "bogus=0.1"]).is_err());
    assert!(Cli::try_parse_from(["sim", "--fault", "500=1.5"]).is_err());
    assert!(Cli::try_parse_from(["sim", "--rate-limit", "0"]).is_err());
    assert!(Cli::try_parse_from(["sim", "--retry-after-date"]).is_err());
    let too_many =
        Cli::try_parse_from(["sim", "--fault", "500=0.7", "--fault", "drop=0.7"]).unwrap();
    assert!(too_many.sim.to_config().is_err());
}
