//! An API that quotes the token (or the key) back in its answers: neither reaches the
//! ledger, a report, a lookup, the preflight's explanation, `forget check` or the messages
//! of the hub, inventory and listing commands.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::common::{Workdir, run_bin, text};
use crate::scripted::{Scripted, Seen};

const TOKEN: &str = "tok-Echo-5eCr3t-4242";
const KEY: &str = "bob.0@example.org";

/// Every text the commands produced, and the ledger's bytes: none holds the token.
fn assert_no_token(what: &str, bytes: &[u8]) {
    let lower = String::from_utf8_lossy(bytes).to_ascii_lowercase();
    assert!(
        !lower.contains(&TOKEN.to_ascii_lowercase()),
        "{what} holds the token:\n{}",
        String::from_utf8_lossy(bytes)
    );
}

/// The Webex delete API answering with the caller's token (and key) in every failure:
/// the canary is refused (401, 430); a key is not processed (1010), then refused with an
/// unknown code, then, once the run is asked to retry rejected keys, the token is refused.
async fn echoing_tenant() -> Scripted {
    let per_key = Arc::new(AtomicUsize::new(0));
    Scripted::start(move |_, seen: &Seen| {
        let token = seen.token();
        let body = seen.json();
        let key = body["key"].as_str().unwrap_or_default().to_owned();
        let upper = key.to_ascii_uppercase();
        if seen.path.starts_with("/v1/") {
            return (
                401,
                format!(r#"{{"code":"430","description":"token {token} refused"}}"#),
            );
        }
        if seen.path.starts_with("/api/v2/") {
            return (
                400,
                format!(r#"{{"errors":[{{"title":"Bad {token}","detail":"token {token}"}}]}}"#),
            );
        }
        if key.starts_with("forget-preflight-") {
            return (
                401,
                format!(r#"{{"code":"430","description":"invalid token {token}"}}"#),
            );
        }
        match per_key.fetch_add(1, Ordering::SeqCst) {
            0 => (
                200,
                format!(
                    r#"{{"code":"1010","description":"not processed: token {token}, key {upper}"}}"#
                ),
            ),
            1 => (
                200,
                format!(r#"{{"code":"E-{token}","description":"{token} may not delete {upper}"}}"#),
            ),
            _ => (
                401,
                format!(r#"{{"code":"430","description":"invalid token {token} for {key}"}}"#),
            ),
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_quoted_back_by_the_api_is_stored_and_shown_nowhere() {
    let api = echoing_tenant().await;
    let wd = Workdir::new();
    wd.write("token", format!("{TOKEN}\n"));
    let csv = wd.write("keys.csv", format!("key\n{KEY}\n"));
    let url = api.url();
    let command = |args: &[&str]| {
        let mut cmd = wd.command();
        cmd.args(args)
            .args(["--token-file", "token", "--base-url", &url]);
        cmd
    };
    let run = |extra: &[&str]| {
        let mut cmd = command(&["run", "--profile-name", "customers"]);
        cmd.args(["--state", "ledger.db", "--retry-base-ms", "1", "--quiet"])
            .args(extra);
        cmd
    };
    let mut outputs: Vec<(String, Vec<u8>)> = Vec::new();
    let mut keep = |what: &str, out: std::process::Output| {
        outputs.push((format!("{what} stdout"), out.stdout));
        outputs.push((format!("{what} stderr"), out.stderr));
    };

    // The preflight's canary is refused: `check` and `run` explain it, without the token.
    let out = run_bin(command(&["check"]), 3).await;
    assert!(
        text(&out.stdout).contains("invalid token"),
        "{}",
        text(&out.stdout)
    );
    keep("check", out);
    let mut preflight = run(&[]);
    preflight.arg(&csv);
    let out = run_bin(preflight, 3).await;
    assert!(
        text(&out.stderr).contains("preflight failed"),
        "{}",
        text(&out.stderr)
    );
    keep("run (preflight)", out);

    // The key: not processed (retried), then refused with the token as its code...
    let mut first = run(&["--no-preflight"]);
    first.arg(&csv);
    keep("run", run_bin(first, 4).await);
    // ...then, retried, the token is refused: the run stops.
    keep(
        "run --retry-rejected",
        run_bin(run(&["--no-preflight", "--retry-rejected"]), 3).await,
    );
    let ledger = rusqlite::Connection::open(wd.path("ledger.db")).unwrap();
    let (attempts, code, description): (i64, String, String) = ledger
        .query_row(
            "SELECT (SELECT count(*) FROM attempts), code, description FROM units",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(attempts, 3);
    assert_eq!(code, "430");
    assert_eq!(description, "invalid token [token] for b***@e***.org");
    let codes: Vec<String> = ledger
        .prepare("SELECT code FROM attempts ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(codes, ["1010", "E-[token]", "430"]);
    drop(ledger);

    // Reports and lookups read what was stored.
    let mut report = wd.command();
    report.args(["report", "--state", "ledger.db", "--format", "jsonl"]);
    keep("report", run_bin(report, 0).await);
    let mut lookup = wd.command();
    lookup
        .args(["lookup", "--state", "ledger.db", "--file"])
        .arg(&csv);
    keep("lookup", run_bin(lookup, 4).await);

    // The hub (inventory) and an Outreach listing quote the answers in their errors.
    let mut inventory = wd.command();
    inventory
        .args(["inventory", "--hub-url", &url])
        .env("WEBEX_CAMPAIGN_HUB_TOKEN", TOKEN);
    let out = run_bin(inventory, 3).await;
    assert!(
        text(&out.stderr).contains("refused"),
        "{}",
        text(&out.stderr)
    );
    keep("inventory", out);
    let mut list = wd.command();
    list.args([
        "list",
        "--connector",
        "outreach",
        "--resource",
        "callPurposes",
    ])
    .args([
        "--base-url",
        &format!("{url}/api/v2"),
        "--token-file",
        "token",
    ]);
    let out = run_bin(list, 3).await;
    assert!(
        text(&out.stderr).contains("Bad [token]"),
        "{}",
        text(&out.stderr)
    );
    keep("list", out);

    for (what, bytes) in &outputs {
        assert_no_token(what, bytes);
    }
    for file in ["ledger.db", "ledger.db-wal"] {
        if let Ok(bytes) = std::fs::read(wd.path(file)) {
            assert_no_token(file, &bytes);
        }
    }
    // The key was echoed upper-cased: the stored descriptions hold only its mask.
    for (what, bytes) in &outputs {
        let lower = String::from_utf8_lossy(bytes).to_ascii_lowercase();
        assert!(!lower.contains(KEY), "{what} holds the key");
    }
    // (The ledger itself still holds the key: it was never erased, and a re-run needs it.)
    assert!(
        api.seen()
            .iter()
            .all(|s| s.token() == TOKEN && ["GET", "POST"].contains(&s.method.as_str()))
    );
}
