//! What a run records of its input and what it sends (issue 15): a file's input options are
//! recorded with it and another reading of it is refused; a dry run leaves nothing a real
//! run acts on; the preflight sets an invalid profile's keys aside and lets the others go;
//! a received date that cannot be read never stops an erasure.

use std::process::Command;

use crate::common::{Fixture, TOKEN, Workdir, keys, run_bin, text};
use forget::deadline::{due_date, format_date, today};
use forget::error::exit;
use time::Duration;

/// The binary in `wd` against the simulator of `fx`, with its token.
fn forget(wd: &Workdir, fx: &Fixture, args: &[&str]) -> Command {
    let mut cmd = wd.command();
    cmd.args(args)
        .args(["--base-url", &fx.handle.url()])
        .env("WEBEX_CAMPAIGN_TOKEN", TOKEN);
    cmd
}

fn query(wd: &Workdir, sql: &str) -> i64 {
    let db = rusqlite::Connection::open(wd.path("forget.db")).unwrap();
    db.query_row(sql, [], |r| r.get(0)).unwrap()
}

fn canaries(fx: &Fixture) -> Vec<String> {
    fx.sim
        .received()
        .iter()
        .filter(|b| {
            b["key"]
                .as_str()
                .unwrap_or_default()
                .starts_with("forget-preflight-")
        })
        .map(|b| b["profile-name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn a_file_run_again_with_other_options_is_refused_naming_each_difference() {
    let held = keys("k", 3);
    let fx = Fixture::new(&held, |_| {}).await;
    let wd = Workdir::new();
    let mut csv = String::from("key,email,received,request-id\n");
    for (i, k) in held.iter().enumerate() {
        csv.push_str(&format!("{k},x{i}@example.com,2026-01-0{},R-{i}\n", i + 1));
    }
    wd.write("in.csv", &csv);
    let first = ["run", "in.csv", "--profile-name", "customers"];
    run_bin(forget(&wd, &fx, &first), exit::OK).await;
    assert_eq!(fx.sim.remaining(), 0);
    assert_eq!(
        query(
            &wd,
            "SELECT count(*) FROM events WHERE kind = 'options_recorded'"
        ),
        1
    );
    let sent = fx.sim.stats().requests;

    // Every option that changes how the rows are read, changed at once: each is named.
    let out = run_bin(
        forget(
            &wd,
            &fx,
            &[
                "run",
                "in.csv",
                "--profile-name",
                "vip",
                "--key-column",
                "email",
                "--received-column",
                "received",
                "--keep-column",
                "request-id",
                "--exparam",
                "exparam1=GDPR-1",
            ],
        ),
        exit::USAGE,
    )
    .await;
    let err = text(&out.stderr);
    for want in [
        "in.csv is already in the ledger, recorded with other input options; nothing was sent",
        "--key-column: \"key\" → \"email\"",
        "--profile-name: \"customers\" → \"vip\"",
        "--received-column: (none) → \"received\"",
        "--keep-column: (none) → request-id",
        "--exparam: (none) → exparam1=GDPR-1",
        "put the corrected rows in a new file",
        "--state PATH",
    ] {
        assert!(err.contains(want), "{want:?} not in {err}");
    }
    assert!(!err.contains("--delimiter:"), "{err}");
    // Nothing sent (not even a canary), nothing recorded.
    assert_eq!(fx.sim.stats().requests, sent);
    assert_eq!(query(&wd, "SELECT count(*) FROM files"), 1);
    assert_eq!(query(&wd, "SELECT count(*) FROM units"), 3);

    // A dry run with other options is refused the same way; the recorded ones go on.
    let mut dry = wd.command();
    dry.args([
        "run",
        "in.csv",
        "--dry-run",
        "--profile-name",
        "customers",
        "--keep-column",
        "request-id",
    ]);
    let out = run_bin(dry, exit::USAGE).await;
    let err = text(&out.stderr);
    assert!(err.contains("--keep-column: (none) → request-id"), "{err}");
    assert!(!err.contains("--profile-name:"), "{err}");
    let out = run_bin(forget(&wd, &fx, &first), exit::OK).await;
    assert!(
        text(&out.stdout).contains("input: 0 rows recorded"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(query(&wd, "SELECT count(*) FROM files"), 1);

    // A new file given twice in one run is recorded once.
    let mut twice = String::from("key\n");
    twice.push_str(&held[0]);
    twice.push('\n');
    wd.write("twice.csv", &twice);
    let args = [
        "run",
        "twice.csv",
        "twice.csv",
        "--profile-name",
        "customers",
    ];
    run_bin(forget(&wd, &fx, &args), exit::OK).await;
    assert_eq!(query(&wd, "SELECT count(*) FROM files"), 2);
}

#[tokio::test]
async fn a_dry_run_with_a_typo_leaves_nothing_the_real_run_acts_on() {
    let held = keys("k", 20);
    let fx = Fixture::new(&held, |_| {}).await;
    let wd = Workdir::new();
    let mut csv = String::from("key\n");
    for k in &held {
        csv.push_str(&format!("{k}\n"));
    }
    wd.write("in.csv", &csv);
    let mut dry = wd.command();
    dry.args(["run", "in.csv", "--dry-run", "--profile-name", "custmers"]);
    let out = run_bin(dry, exit::OK).await;
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(
            "recorded as a dry run's (never sent): --key-column key --profile-name \"custmers\""
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("with other options it replaces what the dry run recorded"),
        "{stdout}"
    );

    // A real run given no file sends nothing the dry run recorded, nor proves its profile.
    let out = run_bin(forget(&wd, &fx, &["run"]), exit::INCOMPLETE).await;
    assert!(
        text(&out.stdout).contains("20 keys were recorded by a dry run only and are not sent"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(fx.sim.stats().requests, 0);

    // The real run with the right profile replaces the dry run's recording and erases all.
    let out = run_bin(
        forget(&wd, &fx, &["run", "in.csv", "--profile-name", "customers"]),
        exit::OK,
    )
    .await;
    assert_eq!(fx.sim.remaining(), 0, "{}", text(&out.stdout));
    assert_eq!(canaries(&fx), ["customers"]);
    assert_eq!(
        query(&wd, "SELECT count(*) FROM units WHERE scope = 'custmers'"),
        0
    );
    assert_eq!(
        query(&wd, "SELECT count(*) FROM units WHERE outcome = 'deleted'"),
        20
    );
    assert_eq!(query(&wd, "SELECT count(*) FROM files"), 1);
    let db = rusqlite::Connection::open(wd.path("forget.db")).unwrap();
    let detail: String = db
        .query_row(
            "SELECT detail FROM events WHERE kind = 'dry_run_replaced'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let detail: serde_json::Value = serde_json::from_str(&detail).unwrap();
    assert_eq!(detail["old_options"]["profile_default"], "custmers");
    assert_eq!(detail["new_options"]["profile_default"], "customers");
    let verify = wd.run(wd.command().arg("verify"), exit::OK);
    assert!(text(&verify.stdout).contains("ok"));
}

#[tokio::test]
async fn an_invalid_profile_found_by_the_preflight_sets_its_keys_aside_and_the_rest_go_on() {
    let held = keys("k", 30);
    // The token expires after 10 deletes: the first run stops with most keys pending.
    let fx = Fixture::new(&held, |c| c.expire_token_after = Some(10)).await;
    let wd = Workdir::new();
    let mut csv = String::from("key,profile-name\n");
    for k in &held {
        csv.push_str(&format!("{k},\n"));
    }
    csv.push_str("k-misfiled,nosuchprofile\n");
    wd.write("in.csv", &csv);
    let command = ["run", "in.csv", "--profile-name", "customers"];
    let mut first = forget(&wd, &fx, &command);
    first.args(["--no-preflight", "--concurrency", "1"]);
    run_bin(first, exit::STOPPED).await;
    assert_eq!(
        query(
            &wd,
            "SELECT count(*) FROM units WHERE scope = 'nosuchprofile' AND outcome = 'pending'"
        ),
        1
    );
    let before = fx.sim.stats().requests;

    // A new token; the same command again: the preflight finds the profile invalid.
    fx.sim.set_token(TOKEN);
    let out = run_bin(forget(&wd, &fx, &command), exit::INCOMPLETE).await;
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(
            "1 keys set aside, not sent: the preflight found profile \"nosuchprofile\" invalid"
        ),
        "{stdout}"
    );
    assert!(text(&out.stderr).contains("its waiting keys are set aside"));
    assert_eq!(fx.sim.remaining(), 0, "every good key erased");
    // One canary per profile, and never the set-aside key.
    let sent: Vec<serde_json::Value> = fx.sim.received()[before as usize..].to_vec();
    assert!(sent.iter().all(|b| b["key"] != "k-misfiled"));
    let mut proved = canaries(&fx);
    proved.sort();
    assert_eq!(proved, ["customers", "nosuchprofile"]);
    let db = rusqlite::Connection::open(wd.path("forget.db")).unwrap();
    let (outcome, description, attempts): (String, String, i64) = db
        .query_row(
            "SELECT outcome, description, attempts FROM units WHERE scope = 'nosuchprofile'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(outcome, "rejected");
    assert_eq!(
        description,
        "set aside: the preflight found profile \"nosuchprofile\" invalid"
    );
    assert_eq!(attempts, 0);
    let detail: String = db
        .query_row(
            "SELECT detail FROM events WHERE kind = 'set_aside'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let detail: serde_json::Value = serde_json::from_str(&detail).unwrap();
    assert_eq!(
        (detail["scope"].as_str(), detail["units"].as_u64()),
        (Some("nosuchprofile"), Some(1))
    );

    // A new file naming the invalid profile in its rows: proved once recorded, set aside.
    wd.write("more.csv", "key,profile-name\nk-late,nosuchprofile\n");
    let sent = fx.sim.stats().requests;
    let out = run_bin(
        forget(
            &wd,
            &fx,
            &["run", "more.csv", "--profile-name", "customers"],
        ),
        exit::INCOMPLETE,
    )
    .await;
    assert!(
        text(&out.stdout).contains("1 keys set aside, not sent"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(fx.sim.stats().requests, sent + 2, "two canaries, no key");
    assert_eq!(
        query(
            &wd,
            "SELECT count(*) FROM units WHERE scope = 'nosuchprofile' AND outcome = 'rejected'
               AND attempts = 0"
        ),
        2
    );

    // --retry-rejected: the profile is still invalid, so its key is still not sent.
    let mut retry = forget(&wd, &fx, &command);
    retry.arg("--retry-rejected");
    let sent = fx.sim.stats().requests;
    run_bin(retry, exit::INCOMPLETE).await;
    assert_eq!(fx.sim.stats().requests, sent + 1, "one canary, no key");
    let attempts: i64 = db
        .query_row(
            "SELECT max(attempts) FROM units WHERE scope = 'nosuchprofile'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(attempts, 0);

    // A token the API refuses still stops everything before anything is sent.
    fx.sim.set_token("another-token");
    let mut retry = forget(&wd, &fx, &command);
    retry.arg("--retry-rejected");
    let sent = fx.sim.stats().requests;
    let out = run_bin(retry, exit::STOPPED).await;
    assert!(text(&out.stderr).contains("preflight failed, nothing was sent"));
    assert_eq!(fx.sim.stats().requests, sent + 1);
}

/// `dd/MM/yyyy` for a date `n` days ago.
fn european(n: i64) -> String {
    let d = today() - Duration::days(n);
    format!("{:02}/{:02}/{}", d.day(), u8::from(d.month()), d.year())
}

#[tokio::test]
async fn unreadable_received_dates_never_stop_an_erasure_and_the_right_format_reads_them() {
    let held = keys("k", 4);
    let fx = Fixture::new(&held, |_| {}).await;
    let csv = |wd: &Workdir| {
        let mut csv = String::from("key,received\n");
        for (i, k) in held.iter().enumerate() {
            csv.push_str(&format!("{k},{}\n", european(40 + i as i64)));
        }
        wd.write("in.csv", &csv);
    };
    let received = ["run", "in.csv", "--received-column", "received"];

    // Without --date-format: every key erased all the same, each row flagged (exit 4).
    let wd = Workdir::new();
    csv(&wd);
    let out = run_bin(forget(&wd, &fx, &received), exit::INCOMPLETE).await;
    let stdout = text(&out.stdout);
    assert_eq!(fx.sim.remaining(), 0, "{stdout}");
    assert!(
        stdout.contains("4 requests have a received date that cannot be read"),
        "{stdout}"
    );
    assert_eq!(
        query(
            &wd,
            "SELECT count(*) FROM events WHERE kind = 'date_unreadable'"
        ),
        4
    );
    assert_eq!(
        query(&wd, "SELECT count(*) FROM rows WHERE kind = 'invalid'"),
        0
    );
    let listed = text(&wd.run(wd.command().arg("invalid"), exit::OK).stdout);
    assert!(
        listed.contains(&format!(
            "in.csv:2: received date `{}` is not a date as yyyy-MM-dd",
            european(40)
        )),
        "{listed}"
    );

    // A dry run first, without it; then the real run with --date-format dd/MM/yyyy: the
    // dry run's reading is replaced, and the due dates are right.
    let fx = Fixture::new(&held, |_| {}).await;
    let wd = Workdir::new();
    csv(&wd);
    let mut dry = wd.command();
    dry.args(received).arg("--dry-run");
    let out = run_bin(dry, exit::OK).await;
    assert!(text(&out.stdout).contains("4 requests have a received date that cannot be read"));
    let mut real = forget(&wd, &fx, &received);
    real.args(["--date-format", "dd/MM/yyyy"]);
    let out = run_bin(real, exit::OK).await;
    assert_eq!(fx.sim.remaining(), 0, "{}", text(&out.stdout));
    let db = rusqlite::Connection::open(wd.path("forget.db")).unwrap();
    let mut stmt = db
        .prepare("SELECT received_on, due_on FROM rows ORDER BY line")
        .unwrap();
    let dates: Vec<(String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let want: Vec<(String, String)> = (0..4)
        .map(|i| {
            let d = today() - Duration::days(40 + i);
            (format_date(d), format_date(due_date(d)))
        })
        .collect();
    assert_eq!(dates, want);
    let listed = text(&wd.run(wd.command().arg("invalid"), exit::OK).stdout);
    assert!(!listed.contains("received date"), "{listed}");
}

#[test]
fn date_formats_are_listed_in_help_and_an_unknown_one_is_refused() {
    let wd = Workdir::new();
    let help = text(
        &wd.run(wd.command().args(["run", "--help"]), exit::OK)
            .stdout,
    );
    for f in ["yyyy-MM-dd", "dd/MM/yyyy", "MM/dd/yyyy", "dd.MM.yyyy"] {
        assert!(help.contains(f), "{f} not in {help}");
    }
    wd.write("in.csv", "key,received\na@example.com,2026-01-01\n");
    let out = wd.run(
        wd.command().args([
            "run",
            "in.csv",
            "--dry-run",
            "--received-column",
            "received",
            "--date-format",
            "dd-MM-yyyy",
        ]),
        exit::USAGE,
    );
    assert!(
        text(&out.stderr).contains("dd/MM/yyyy"),
        "{}",
        text(&out.stderr)
    );
}
