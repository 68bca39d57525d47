//! Answers that say success and failure at once (a transaction id under HTTP 500, or beside
//! a failure code; an Outreach 2xx carrying an error document) are not recorded as
//! deletions: they are retried as ambiguous, and a later answer settles them.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::common::{TOKEN, Workdir, run_bin};
use crate::scripted::Scripted;

/// `first` for the first request, `then` for every later one.
async fn tenant(first: (u16, &'static str), then: (u16, &'static str)) -> Scripted {
    let n = Arc::new(AtomicUsize::new(0));
    Scripted::start(move |_, _| {
        let (status, body) = if n.fetch_add(1, Ordering::SeqCst) == 0 {
            first
        } else {
            then
        };
        (status, body.to_owned())
    })
    .await
}

/// What the ledger says of the run's one unit: outcome, attempts, transaction id,
/// after_ambiguous.
fn unit(wd: &Workdir) -> (String, i64, Option<String>, bool) {
    rusqlite::Connection::open(wd.path("ledger.db"))
        .unwrap()
        .query_row(
            "SELECT outcome, attempts, transaction_id, after_ambiguous FROM units",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap()
}

async fn run_webex(api: &Scripted, want_code: i32) -> Workdir {
    let wd = Workdir::new();
    let csv = wd.write("keys.csv", "key\n+447700900123\n");
    let mut cmd = wd.command();
    cmd.arg("run")
        .arg(&csv)
        .args(["--base-url", &api.url(), "--profile-name", "customers"])
        .args([
            "--no-preflight",
            "--retry-base-ms",
            "1",
            "--state",
            "ledger.db",
        ])
        .env("WEBEX_CAMPAIGN_TOKEN", TOKEN);
    run_bin(cmd, want_code).await;
    wd
}

const NOT_FOUND: (u16, &str) = (
    200,
    r#"{"code":"1020","description":"Contact profile not found"}"#,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_id_under_http_500_is_settled_by_the_next_answer() {
    let api = tenant((500, r#"{"transaction-id":"t-1"}"#), NOT_FOUND).await;
    let wd = run_webex(&api, 0).await;
    assert_eq!(unit(&wd), ("not_found".into(), 2, None, true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_id_beside_code_500_is_settled_by_the_next_answer() {
    let api = tenant(
        (
            200,
            r#"{"transaction-id":"t-1","code":"500","description":"Internal server error"}"#,
        ),
        NOT_FOUND,
    )
    .await;
    let wd = run_webex(&api, 0).await;
    assert_eq!(unit(&wd), ("not_found".into(), 2, None, true));
    // The first attempt is kept as what it was: ambiguous, with its code.
    let first: (String, String) = rusqlite::Connection::open(wd.path("ledger.db"))
        .unwrap()
        .query_row(
            "SELECT verdict, code FROM attempts ORDER BY id LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(first, ("ambiguous".into(), "500".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contradiction_then_a_clean_transaction_id_is_a_deletion() {
    let api = tenant(
        (200, r#"{"transaction-id":"t-1","code":"1020"}"#),
        (200, r#"{"transaction-id":"t-2"}"#),
    )
    .await;
    let wd = run_webex(&api, 0).await;
    assert_eq!(unit(&wd), ("deleted".into(), 2, Some("t-2".into()), true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contradiction_that_never_settles_ends_failed_not_deleted() {
    let api = tenant(
        (500, r#"{"transaction-id":"t-1"}"#),
        (500, r#"{"transaction-id":"t-1"}"#),
    )
    .await;
    let wd = Workdir::new();
    let csv = wd.write("keys.csv", "key\n+447700900123\n");
    let mut cmd = wd.command();
    cmd.arg("run")
        .arg(&csv)
        .args(["--base-url", &api.url(), "--profile-name", "customers"])
        .args([
            "--no-preflight",
            "--retry-base-ms",
            "1",
            "--max-attempts",
            "3",
        ])
        .args(["--state", "ledger.db"])
        .env("WEBEX_CAMPAIGN_TOKEN", TOKEN);
    run_bin(cmd, 4).await;
    assert_eq!(unit(&wd), ("failed".into(), 3, None, true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outreach_success_carrying_an_error_document_is_settled_by_the_next_answer() {
    let api = tenant(
        (
            200,
            r#"{"errors":[{"title":"Conflict","detail":"try again"}]}"#,
        ),
        (
            404,
            r#"{"errors":[{"title":"Not Found","detail":"no such record"}]}"#,
        ),
    )
    .await;
    let wd = Workdir::new();
    let csv = wd.write("ids.csv", "id\n17\n");
    let mut cmd = wd.command();
    cmd.arg("run")
        .arg(&csv)
        .args(["--connector", "outreach", "--resource", "callPurposes"])
        .args(["--base-url", &format!("{}/api/v2", api.url())])
        .args(["--retry-base-ms", "1", "--state", "ledger.db"])
        .env("OUTREACH_TOKEN", TOKEN);
    run_bin(cmd, 0).await;
    assert_eq!(unit(&wd), ("not_found".into(), 2, None, true));
    assert!(api.seen().iter().all(|s| s.method == "DELETE"));
}
