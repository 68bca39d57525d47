//! `forget access`: Art. 15 exports through the engine, against the simulator's
//! last-N-transactions API.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::{Fixture, TOKEN, Workdir, keys, repo_path, run_bin, text};
use forget::access::connector::WebexAccess;
use forget::access::{self, Channel, Exporter, Query, Subject};
use forget::engine::StopReason;
use forget::error::exit;
use forget::input::InputOptions;
use forget::job;
use forget::job::RunConfig;
use forget::keys::KeyHasher;
use forget::outcome::StopCause;
use forget::secret::Token;
use forget::sim::Fault;
use forget::target::Target;
use serde_json::{Value, json};

const MSISDN: &str = "+15550100059";
const EMAIL: &str = "ana.garcia568@example.com";
const DEVICE: &str = "025bafe7-896f-4120-b842-084d6986a624";
const BUSY: &str = "917008926528";

fn config(fx: &Fixture, files: Vec<PathBuf>, query: &Query) -> RunConfig {
    let mut c = fx.config(files);
    c.connector = access::CONNECTOR;
    c.input = InputOptions {
        key_column: query.subject.param().into(),
        profile_default: query.scope(),
        validate_key: access::key_rule(query),
        profile_and_exparam_columns: false,
        ..InputOptions::default()
    };
    c
}

fn target(fx: &Fixture, out: &Path, token: &str) -> Target {
    let exporter = Exporter::new(
        out,
        KeyHasher::new(b"a test ledger key, 32 bytes long"),
        "simulator".into(),
        forget::output::Protected::none(),
    )
    .unwrap();
    let connector = WebexAccess::new(
        &fx.url(),
        access::DEFAULT_PATH,
        &Token::new(token),
        exporter,
    )
    .unwrap();
    Target::new(Arc::new(connector), &fx.url())
}

/// The documents in `out`, by subject.
fn documents(out: &Path) -> Vec<(String, Value)> {
    let mut docs: Vec<(String, Value)> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let doc: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
            let subject = doc["subject"]
                .as_object()
                .unwrap()
                .values()
                .next()
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned();
            (subject, doc)
        })
        .collect();
    docs.sort_by(|a, b| a.0.cmp(&b.0));
    docs
}

fn doc_for<'a>(docs: &'a [(String, Value)], subject: &str) -> &'a Value {
    &docs.iter().find(|(s, _)| s == subject).unwrap().1
}

#[tokio::test]
async fn one_decoded_document_per_subject_named_without_the_key() {
    let fx = Fixture::new(&[], |_| {}).await;
    let file = fx.csv(
        "in.csv",
        &[MSISDN, EMAIL, DEVICE, BUSY, "+447700900999", MSISDN].map(String::from),
    );
    let out = fx.path("out");
    let query = Query::default();
    let s = job::run(
        config(&fx, vec![file], &query),
        Some(target(&fx, &out, TOKEN)),
    )
    .await
    .unwrap();
    assert_eq!(s.exit_code(), exit::OK, "{s:?}");
    // Exported, and one subject the API holds nothing for: no data (its document is empty).
    assert_eq!(
        (s.ledger.deleted, s.ledger.not_found, s.ledger.duplicates),
        (4, 1, 1)
    );

    let docs = documents(&out);
    assert_eq!(docs.len(), 5);
    for entry in std::fs::read_dir(&out).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        assert!(
            [MSISDN, EMAIL, DEVICE, BUSY, "447700900"]
                .iter()
                .all(|k| !name.contains(k.trim_start_matches('+'))),
            "{name}"
        );
        assert_eq!(
            entry.metadata().unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let m = doc_for(&docs, MSISDN);
    assert_eq!(m["transaction_count"], 6);
    let decoded: Vec<&Value> = m["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| &t["decoded"]["channel"])
        .collect();
    assert_eq!(
        decoded,
        [
            &json!("SMS"),
            &json!("SMS"),
            &json!("SMS"),
            &json!("OBD"),
            &json!("USSD"),
            &json!("SMS")
        ]
    );
    assert_eq!(m["transactions"][2]["decoded"]["status"], "not sent");
    assert!(m["transactions"][0].get("msg_preview_url").is_none());
    assert!(m.get("note").is_none());
    let e = doc_for(&docs, EMAIL);
    assert_eq!(
        e["transactions"][1]["decoded"]["status_meaning"],
        "e-mail opened"
    );
    let busy = doc_for(&docs, BUSY);
    assert_eq!(busy["transaction_count"], 50, "the API's cap");
    assert!(
        busy["note"]
            .as_str()
            .unwrap()
            .contains("older ones may exist")
    );
    let nobody = doc_for(&docs, "+447700900999");
    assert_eq!(nobody["transactions"], json!([]));

    // The ledger keeps no plaintext of exported subjects, and deletions are not confused.
    assert_eq!(
        fx.query_i64("SELECT count(*) FROM units WHERE key IS NOT NULL"),
        0
    );
    assert_eq!(
        fx.query_i64("SELECT count(*) FROM units WHERE connector = 'webex-access'"),
        5
    );
    assert_eq!(fx.sim.stats().transaction_lists, 5);
}

#[tokio::test]
async fn the_query_reaches_the_api_and_impossible_rows_are_invalid() {
    let fx = Fixture::new(&[], |_| {}).await;
    let file = fx.csv("in.csv", &[MSISDN, EMAIL, BUSY].map(String::from));
    let out = fx.path("out");
    let query = Query {
        count: 3,
        channel: Some(Channel::Sms),
        message_preview: true,
        ..Query::default()
    };
    let s = job::run(
        config(&fx, vec![file], &query),
        Some(target(&fx, &out, TOKEN)),
    )
    .await
    .unwrap();
    assert_eq!((s.ledger.deleted, s.ledger.invalid), (2, 1), "{s:?}");
    assert_eq!(s.exit_code(), exit::INCOMPLETE);
    let ledger = forget::ledger::Ledger::open_existing(&fx.path("ledger.db")).unwrap();
    let invalid = ledger.invalid_rows().unwrap();
    assert_eq!(invalid[0].line, 3);
    assert!(
        invalid[0].reason.contains("cannot fetch SMS"),
        "{:?}",
        invalid[0]
    );
    assert_eq!(fx.sim.transaction_fetches(EMAIL), 0, "never sent");

    let docs = documents(&out);
    let busy = doc_for(&docs, BUSY);
    assert_eq!(busy["transaction_count"], 3);
    assert_eq!(
        busy["query"],
        json!({"by": "key", "count": 3, "channel": "SMS", "message_preview": true})
    );
    let txs = busy["transactions"].as_array().unwrap();
    assert!(
        txs.iter()
            .all(|t| t["channel"] == "0" && t["msg_preview_url"].is_string())
    );
    // The last three, oldest first.
    let dates: Vec<&str> = txs
        .iter()
        .map(|t| t["deployment-date"].as_str().unwrap())
        .collect();
    let mut sorted = dates.clone();
    sorted.sort();
    assert_eq!(dates, sorted);
    assert!(dates[0] >= "2026-02-26");
}

#[tokio::test]
async fn customer_ids_and_date_windows() {
    let fx = Fixture::new(&[], |_| {}).await;
    let file = fx.write("in.csv", "customer-id\nCID-100059\nCID-100568\n");
    let out = fx.path("out");
    let query = Query {
        subject: Subject::CustomerId,
        from: Some("2026-03-01".into()),
        to: Some("2026-03-31".into()),
        ..Query::default()
    };
    let s = job::run(
        config(&fx, vec![file], &query),
        Some(target(&fx, &out, TOKEN)),
    )
    .await
    .unwrap();
    assert_eq!(s.ledger.deleted, 2, "{s:?}");
    let docs = documents(&out);
    let both = doc_for(&docs, "CID-100059");
    // March only: the MSISDN's three SMS, the survey call and USSD, and the app's two.
    assert_eq!(both["transaction_count"], 7);
    assert_eq!(both["subject"], json!({"customer-id": "CID-100059"}));
    assert_eq!(doc_for(&docs, "CID-100568")["transaction_count"], 1);
}

#[tokio::test]
async fn retryable_answers_are_retried_until_every_subject_is_exported() {
    let fx = Fixture::new(&[], |c| {
        c.seed = 6;
        c.faults = vec![
            (Fault::Code1010, 0.15),
            (Fault::Code429, 0.1),
            (Fault::Code499, 0.1),
            (Fault::Http500, 0.1),
            (Fault::Truncated, 0.05),
        ];
    })
    .await;
    let subjects = keys("+4477009", 30);
    let file = fx.csv("in.csv", &subjects);
    let out = fx.path("out");
    let mut c = config(&fx, vec![file], &Query::default());
    c.retry.max_attempts = 30;
    let s = job::run(c, Some(target(&fx, &out, TOKEN))).await.unwrap();
    // Subjects with no transactions: no data, each with its (empty) document.
    assert_eq!(s.ledger.deleted + s.ledger.not_found, 30, "{s:?}");
    assert!(s.retries > 0 && s.throttled > 0, "{s:?}");
    assert_eq!(documents(&out).len(), 30);
    for k in &subjects {
        assert_eq!(fx.sim.transaction_fetches(k), 1, "{k}");
    }
}

#[tokio::test]
async fn a_refused_token_stops_and_exports_nothing() {
    let fx = Fixture::new(&[], |_| {}).await;
    let file = fx.csv("in.csv", &[MSISDN, EMAIL].map(String::from));
    let out = fx.path("out");
    let s = job::run(
        config(&fx, vec![file], &Query::default()),
        Some(target(&fx, &out, "wrong")),
    )
    .await
    .unwrap();
    assert_eq!(s.stop, Some(StopReason::Api(StopCause::BadToken)));
    assert_eq!(s.exit_code(), exit::STOPPED);
    assert_eq!(s.ledger.pending, 2);
    assert!(documents(&out).is_empty());
}

#[tokio::test]
async fn a_stopped_export_resumes_without_fetching_finished_subjects() {
    let fx = Fixture::new(&[], |c| c.expire_token_after = Some(3)).await;
    let subjects = keys("+4477009", 8);
    let file = fx.csv("in.csv", &subjects);
    let out = fx.path("out");
    let mut c = config(&fx, vec![file], &Query::default());
    c.concurrency = 1;
    let s = job::run(c.clone(), Some(target(&fx, &out, TOKEN)))
        .await
        .unwrap();
    assert_eq!(s.stop, Some(StopReason::Api(StopCause::ExpiredToken)));
    assert_eq!(
        (s.ledger.deleted + s.ledger.not_found, s.ledger.pending),
        (3, 5),
        "{s:?}"
    );
    assert_eq!(documents(&out).len(), 3);

    fx.sim.set_token("fresh-token");
    let s = job::run(c, Some(target(&fx, &out, "fresh-token")))
        .await
        .unwrap();
    assert_eq!(s.exit_code(), exit::OK, "{s:?}");
    assert_eq!(s.sent_units, 5);
    assert_eq!(documents(&out).len(), 8);
    for k in &subjects {
        assert_eq!(fx.sim.transaction_fetches(k), 1, "{k}");
    }
}

#[tokio::test]
async fn a_document_that_cannot_be_saved_keeps_its_subject_pending() {
    let fx = Fixture::new(&[], |_| {}).await;
    let file = fx.csv("in.csv", &[MSISDN, EMAIL, DEVICE].map(String::from));
    let out = fx.path("out");
    let t = target(&fx, &out, TOKEN);
    std::fs::remove_dir(&out).unwrap();
    let mut c = config(&fx, vec![file], &Query::default());
    c.concurrency = 1;
    let s = job::run(c.clone(), Some(t)).await.unwrap();
    assert!(
        matches!(&s.stop, Some(StopReason::Output(m)) if m.contains("cannot save")),
        "{s:?}"
    );
    assert_eq!(s.exit_code(), exit::FAILURE);
    assert_eq!(s.ledger.deleted, 0);
    assert_eq!(s.ledger.pending, 3);
    let s = job::run(c, Some(target(&fx, &out, TOKEN))).await.unwrap();
    assert_eq!(s.ledger.deleted, 3, "{s:?}");
    assert_eq!(documents(&out).len(), 3);
}

async fn raw(fx: &Fixture, query: &str, token: Option<&str>) -> (u16, Value) {
    let url = format!("{}{}?{query}", fx.handle.url(), access::DEFAULT_PATH);
    let mut req = reqwest::Client::new().get(url);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

#[tokio::test]
async fn the_transactions_api_is_as_documented() {
    let fx = Fixture::new(&[], |_| {}).await;
    let t = Some(TOKEN);
    let (status, body) = raw(&fx, "count=5", t).await;
    assert_eq!((status, &body["code"]), (200, &json!("1002")));
    let (status, body) = raw(&fx, &format!("key={BUSY}&count=500"), t).await;
    assert_eq!((status, body.as_array().unwrap().len()), (200, 50));
    let (_, body) = raw(&fx, &format!("key={BUSY}"), t).await;
    assert_eq!(body.as_array().unwrap().len(), 10, "the default count");
    let (_, body) = raw(&fx, &format!("key={BUSY}&count=50&channel=MMS"), t).await;
    assert_eq!(body.as_array().unwrap().len(), 1);
    let (_, body) = raw(&fx, "key=nobody@example.com", t).await;
    assert_eq!(body, json!([]));
    let (_, body) = raw(&fx, &format!("key={EMAIL}&message_preview=true"), t).await;
    assert!(
        body.as_array()
            .unwrap()
            .iter()
            .all(|t| t["msg_preview_url"].is_string())
    );
    let msisdn = MSISDN.replace('+', "%2B");
    let (_, body) = raw(
        &fx,
        &format!("key={msisdn}&count=50&message_preview=true"),
        t,
    )
    .await;
    let obd = body
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["channel"] == "6")
        .unwrap();
    assert!(obd.get("msg_preview_url").is_none(), "no preview for calls");
    let (status, body) = raw(&fx, &format!("key={BUSY}&from-date=2026-02-30"), t).await;
    assert_eq!((status, &body["code"]), (500, &json!("1001")));
    let (status, body) = raw(&fx, &format!("key={BUSY}"), None).await;
    assert_eq!((status, &body["code"]), (401, &json!(430)));
    let post = reqwest::Client::new()
        .post(format!("{}{}", fx.handle.url(), access::DEFAULT_PATH))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status().as_u16(), 405);
}

#[tokio::test]
async fn access_on_the_command_line() {
    let wd = Workdir::new();
    let sample = repo_path("samples/access-requests.csv");
    let out = wd.run(
        wd.command().arg("access").arg(&sample).args([
            "--out-dir",
            "exports",
            "--simulate",
            "--rate",
            "unlimited",
        ]),
        exit::INCOMPLETE,
    );
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("exported                 4         4")
            && stdout.contains("no data                  1         1"),
        "{stdout}"
    );
    assert!(
        stdout.contains("forget invalid --state forget-access-simulate.db"),
        "{stdout}"
    );
    assert_eq!(documents(&wd.path("exports")).len(), 5);
    let out = wd.run(
        wd.command()
            .arg("access")
            .arg(&sample)
            .args(["--out-dir", "exports", "--simulate"]),
        exit::INCOMPLETE,
    );
    assert!(text(&out.stdout).contains("fetched 0 subjects"));

    for (args, want) in [
        (&["--count", "51"][..], "at most 50"),
        (&["--count", "0"][..], "at least 1"),
        (&["--from", "2026-02-30"][..], "yyyy-MM-dd"),
        (
            &["--from", "2026-03-01", "--to", "2026-02-01"][..],
            "is after",
        ),
        (&["--channel", "FAX"][..], "not a channel"),
        (&["--path", "transactions"][..], "starting with /"),
    ] {
        let out = wd.run(
            wd.command()
                .arg("access")
                .arg(&sample)
                .args(["--out-dir", "x", "--simulate"])
                .args(args),
            exit::USAGE,
        );
        assert!(
            text(&out.stderr).contains(want),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    assert!(
        !wd.path("x").exists(),
        "refused before anything was written"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_export_resumes_without_refetching_recorded_subjects() {
    let fx = Fixture::new(&[], |c| c.latency = Duration::from_millis(40)).await;
    let wd = Workdir::new();
    // Long enough that masks stay distinct: the ledger keeps only masks of exported keys.
    let subjects: Vec<String> = (0..40).map(|i| format!("subject-number-{i:02}")).collect();
    let mut csv = String::from("key\n");
    for s in &subjects {
        csv.push_str(s);
        csv.push('\n');
    }
    wd.write("in.csv", csv);
    let url = fx.handle.url();
    let command = || {
        let mut c = wd.command();
        c.args([
            "access",
            "in.csv",
            "--out-dir",
            "out",
            "--base-url",
            &url,
            "--concurrency",
            "1",
            "--rate",
            "unlimited",
            "--quiet",
        ])
        .env("WEBEX_CAMPAIGN_TOKEN", TOKEN);
        c
    };
    let mut child = command()
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::read_dir(wd.path("out")).map_or(0, |d| d.count()) < 5 {
        assert!(Instant::now() < deadline, "no documents appeared");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().unwrap();
    tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();

    let recorded: Vec<String> = {
        let conn = rusqlite::Connection::open(wd.path("forget-access.db")).unwrap();
        let mut stmt = conn
            .prepare("SELECT key_masked FROM units WHERE outcome = 'deleted'")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert!(
        recorded.len() < subjects.len(),
        "the kill came too late to test anything"
    );
    run_bin(command(), exit::OK).await;
    assert_eq!(documents(&wd.path("out")).len(), subjects.len());
    for s in &subjects {
        let masked = forget::keys::mask(s);
        let fetched = fx.sim.transaction_fetches(s);
        if recorded.contains(&masked) {
            assert_eq!(fetched, 1, "{s} was recorded exported, yet fetched again");
        } else {
            assert!((1..=2).contains(&fetched), "{s}: {fetched}");
        }
    }
}
