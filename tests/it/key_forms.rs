//! Once a key is erased, no form of it survives in the ledger: not the key as written, nor
//! in another case, percent-encoded, or (a phone number) with `00`, without `+` or with
//! separators — in the audit fields sent, the rows' own audit fields, or kept columns.

use crate::common::{Fixture, TOKEN, forget_in, run_bin, text};
use forget::sim::outreach::OutreachCollection;

const PHONE: &str = "+447922200000";
const MAIL: &str = "bob.0@example.org";

/// Each row's audit fields (exparam1..6) and kept column hold a form of its key.
const PHONE_FORMS: [&str; 7] = [
    "00447922200000",
    "%2B447922200000",
    "447922200000",
    "+44 7922 200 000",
    "tel:+44-7922-200-000",
    "+447922200000",
    "call 0044.7922.200000",
];
const MAIL_FORMS: [&str; 7] = [
    "BOB.0@EXAMPLE.ORG",
    "from bob.0@example.org",
    "bob.0%40example.org",
    "Bob.0@Example.Org",
    "mailto:bob.0%40EXAMPLE.org",
    "bob.0@example.org",
    "from BOB.0%40example.org",
];

fn csv(rows: &[(&str, [&str; 7])]) -> String {
    let mut s = String::from("key,exparam1,exparam2,exparam3,exparam4,exparam5,exparam6,ticket\n");
    for (key, forms) in rows {
        s.push_str(key);
        for form in forms {
            s.push(',');
            s.push_str(form);
        }
        s.push('\n');
    }
    s
}

/// What of `needles` the ledger file and its write-ahead log hold (ASCII case ignored).
fn found_in_ledger(fx: &Fixture, needles: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for file in ["ledger.db", "ledger.db-wal"] {
        let Ok(bytes) = std::fs::read(fx.path(file)) else {
            continue;
        };
        let haystack = String::from_utf8_lossy(&bytes).to_ascii_lowercase();
        for needle in needles {
            if haystack.contains(&needle.to_ascii_lowercase()) {
                found.push(format!("{file}: {needle}"));
            }
        }
    }
    found
}

/// The strings that would give a key away: every form above, and their digits or address.
fn needles() -> Vec<&'static str> {
    let mut all: Vec<&str> = PHONE_FORMS.iter().chain(&MAIL_FORMS).copied().collect();
    all.extend([
        PHONE,
        "447922200000",
        "7922 200 000",
        "7922-200-000",
        "7922.200000",
        MAIL,
        "bob.0%40example",
        "bob.0@",
    ]);
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_form_of_an_erased_key_survives_in_audit_fields_or_kept_columns() {
    let fx = Fixture::new(&[PHONE.to_owned(), MAIL.to_owned()], |_| {}).await;
    let first = fx.write(
        "first.csv",
        &csv(&[(PHONE, PHONE_FORMS), (MAIL, MAIL_FORMS)]),
    );
    let run = |file: &std::path::Path, extra: &[&str]| {
        let mut cmd = forget_in(fx.dir.path());
        cmd.arg("run")
            .arg(file)
            .args([
                "--base-url",
                &fx.handle.url(),
                "--profile-name",
                "customers",
            ])
            .args(["--keep-column", "ticket", "--state", "ledger.db", "--quiet"])
            .args(["--no-preflight"])
            .args(extra)
            .env("WEBEX_CAMPAIGN_TOKEN", TOKEN);
        cmd
    };

    // Recorded, not sent: kept columns are stored masked from the start.
    run_bin(run(&first, &["--dry-run"]), 0).await;
    let kept: Vec<String> = fx
        .ledger()
        .prepare("SELECT extra FROM row_records ORDER BY line")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        kept,
        [
            r#"{"ticket":"call +44********00"}"#,
            r#"{"ticket":"from b***@e***.org"}"#
        ]
    );

    // Sent as written (audit fields are the tenant's), then erased: nothing is left.
    run_bin(run(&first, &[]), 0).await;
    let sent = fx.sim.received();
    assert_eq!(sent.len(), 2);
    assert!(sent.iter().any(|b| b["exparam2"] == "%2B447922200000"));
    assert_eq!(fx.sim.stats().deleted, 2);
    assert_eq!(found_in_ledger(&fx, &needles()), Vec::<String>::new());

    // Asked again in another file after erasure: the new rows bring no form back.
    let again = fx.write(
        "again.csv",
        &csv(&[(PHONE, PHONE_FORMS), ("BOB.0@example.org ", MAIL_FORMS)]),
    );
    run_bin(run(&again, &[]), 0).await;
    assert_eq!(
        fx.sim.stats().requests,
        3,
        "only the new spelling is a new key"
    );
    let leaks = found_in_ledger(&fx, &needles());
    // "BOB.0@example.org" is a different key to the API (and was not found): it is gone too.
    assert_eq!(leaks, Vec::<String>::new());
}

/// A key given up on (`forget purge`) loses its forms from the audit fields too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_form_of_a_purged_key_survives_in_audit_fields() {
    let fx = Fixture::new(&[], |_| {}).await;
    // A profile the tenant does not have: the key is rejected (102), and kept until purged.
    let file = fx.write("rejected.csv", &csv(&[(MAIL, MAIL_FORMS)]));
    let mut run = forget_in(fx.dir.path());
    run.arg("run")
        .arg(&file)
        .args(["--base-url", &fx.handle.url(), "--profile-name", "nosuch"])
        .args(["--keep-column", "ticket", "--state", "ledger.db", "--quiet"])
        .args(["--no-preflight"])
        .env("WEBEX_CAMPAIGN_TOKEN", TOKEN);
    run_bin(run, 4).await;
    assert_eq!(
        fx.query_i64("SELECT count(*) FROM units WHERE outcome = 'rejected'"),
        1
    );
    let mut purge = forget_in(fx.dir.path());
    purge.args([
        "purge",
        "--outcome",
        "rejected",
        "--yes",
        "--state",
        "ledger.db",
    ]);
    run_bin(purge, 0).await;
    let mail_needles: Vec<&str> = needles()
        .into_iter()
        .filter(|n| !n.contains("79"))
        .collect();
    assert_eq!(found_in_ledger(&fx, &mail_needles), Vec::<String>::new());
}

/// An Outreach id is a short key: masked so the team can tell ids apart without it being
/// given away (`12345` → `****5`, `9` → `*`), and the answers naming it — a 422 "callPurpose
/// 9 is in use", a 404 "Could not find … with ID '77777'" — are stored with it masked the
/// same way, so the report, `lookup` and `status` show no id in clear beside its mask.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outreach_ids_are_masked_alike_in_keys_and_the_answers_naming_them() {
    let records = vec![(9, serde_json::json!({})), (12345, serde_json::json!({}))];
    let mut collection = OutreachCollection::new("callPurposes", records);
    collection.undeletable = vec![9, 12345];
    let fx = Fixture::new(&[], |c| c.outreach = vec![collection]).await;
    let file = fx.write(
        "ids.csv",
        "id,received\n9,2020-01-02\n12345,2020-01-02\n77777,2020-01-02\n",
    );
    let base = format!("{}/api/v2", fx.handle.url());
    let forget = |args: &[&str]| {
        let mut cmd = forget_in(fx.dir.path());
        cmd.args(args).args(["--state", "ledger.db"]);
        cmd
    };
    let mut run = forget(&[
        "run",
        "--connector",
        "outreach",
        "--resource",
        "callPurposes",
    ]);
    run.arg(&file)
        .args(["--base-url", &base, "--received-column", "received"])
        .args(["--rate", "unlimited", "--quiet"])
        .env("OUTREACH_TOKEN", TOKEN);
    run_bin(run, 4).await;

    let out = run_bin(forget(&["report", "--format", "jsonl"]), 0).await;
    let rows: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let shown: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or_default();
            (s("key_masked"), s("outcome"), s("description"))
        })
        .collect();
    assert_eq!(
        shown,
        [
            (
                "*",
                "rejected",
                "callPurpose * is in use and cannot be deleted."
            ),
            (
                "****5",
                "rejected",
                "callPurpose ****5 is in use and cannot be deleted."
            ),
            (
                "****7",
                "not_found",
                "Could not find 'callPurpose' with ID '****7'."
            ),
        ]
    );
    // The CSV for people: the mask as it is (not a number, nothing to escape).
    let out = run_bin(forget(&["report"]), 0).await;
    let csv = text(&out.stdout);
    assert!(
        csv.contains(",****5,") && csv.contains("callPurpose ****5 is in use"),
        "{csv}"
    );

    // lookup: each key by its mask, its answers with the id masked.
    let out = run_bin(forget(&["lookup", "9", "12345", "77777"]), 4).await;
    let lookup = text(&out.stdout);
    for line in lookup.lines() {
        let answer = line.contains("last answer") || line.contains("attempt");
        assert!(
            !(answer && (line.contains("12345") || line.contains("77777") || line.contains(" 9 "))),
            "{line}\n{lookup}"
        );
    }
    for want in [
        "callPurpose * is in use",
        "****5  NOT ERASED",
        "callPurpose ****5 is in use",
        "****7  ",
        "with ID '****7'",
    ] {
        assert!(lookup.contains(want), "{want}: {lookup}");
    }

    // status: the requests past their deadline, by the same masks.
    let out = run_bin(forget(&["status", "--deadlines"]), 0).await;
    let status = text(&out.stdout);
    let listed: Vec<&str> = status.lines().filter(|l| l.contains("ids.csv:")).collect();
    assert_eq!(listed.len(), 3, "{status}");
    for line in &listed {
        assert!(!line.contains("12345"), "{line}\n{status}");
    }
    assert!(
        listed.iter().any(|l| l.contains("****5")) && listed.iter().any(|l| l.contains("  *  ")),
        "{status}"
    );
}
