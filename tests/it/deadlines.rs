//! Deadlines (GDPR Art. 12(3): one month from receipt) and what `forget status` shows.

use crate::common::{Workdir, text};
use forget::deadline::{due_date, format_date, today};
use forget::error::exit;
use time::Duration;

fn days_ago(n: i64) -> String {
    format_date(today() - Duration::days(n))
}

/// A file with one request overdue, one due within 7 days, one due later, one undated, and
/// two bad dates (requests all the same, undated and flagged). Recorded with --dry-run:
/// everything stays pending.
fn recorded(wd: &Workdir) {
    let csv = format!(
        "key,received\n\
         overdue@example.com,{}\n\
         soon@example.com,{}\n\
         later@example.com,{}\n\
         undated@example.com,\n\
         typo@example.com,2026-1-5\n\
         future@example.com,{}\n",
        days_ago(60),
        days_ago(28),
        days_ago(5),
        format_date(today() + Duration::days(10)),
    );
    wd.write("in.csv", csv);
    wd.run(
        wd.command().args([
            "run",
            "in.csv",
            "--dry-run",
            "--received-column",
            "received",
        ]),
        exit::OK,
    );
}

#[test]
fn status_shows_overdue_and_soon_due_keys_masked_and_the_key_file() {
    let wd = Workdir::new();
    recorded(&wd);
    let out = wd.run(wd.command().arg("status"), exit::INCOMPLETE);
    let s = text(&out.stdout);
    assert!(
        s.contains("ledger key: forget.db.key (matches this ledger)"),
        "{s}"
    );
    let line = |name: &str| {
        s.lines()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap_or_else(|| panic!("no {name} in {s}"))
            .split_whitespace()
            .last()
            .unwrap()
            .to_owned()
    };
    assert_eq!(line("overdue"), "1");
    assert_eq!(line("due within 7d"), "1");
    assert_eq!(line("undated, open"), "3");
    assert_eq!(line("invalid rows"), "0");
    let overdue_due = format_date(due_date(today() - Duration::days(60)));
    assert!(
        s.contains(&format!("{overdue_due}  o***@e***.com")) && s.contains("OVERDUE"),
        "{s}"
    );
    assert!(s.contains("s***@e***.com"), "{s}");
    assert!(!s.contains("l***@e***.com"), "not due soon: {s}");
    assert!(!s.contains("@example.com"), "no plaintext: {s}");

    // The JSON for scripts: the counts, the requests, and the deadlines beside them.
    let out = wd.run(wd.command().args(["status", "--json"]), exit::INCOMPLETE);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut fields: Vec<&String> = v.as_object().unwrap().keys().collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "command",
            "deadlines",
            "deleted",
            "duplicates",
            "failed",
            "invalid",
            "not_found",
            "pending",
            "rejected",
            "requests",
            "schema_version",
            "total"
        ]
    );
    let out = wd.run(
        wd.command().args(["status", "--deadlines", "--json"]),
        exit::OK,
    );
    let d: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (d["overdue"].as_u64(), d["due_soon"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(d["dated"], 3);
    assert_eq!(d["today"], format_date(today()));
    assert_eq!(d["earliest"].as_array().unwrap().len(), 2);
    assert_eq!(d["earliest"][0]["key_masked"], "o***@e***.com");
    let out = wd.run(wd.command().args(["status", "--deadlines"]), exit::OK);
    assert!(text(&out.stdout).contains("OVERDUE"));

    // Bad dates leave their requests undated, listed with file, line and reason.
    let out = wd.run(wd.command().arg("invalid"), exit::OK);
    let s = text(&out.stdout);
    assert!(s.contains("no invalid rows"), "{s}");
    assert!(
        s.contains("2 requests have a received date that could not be read"),
        "{s}"
    );
    assert!(
        s.contains("in.csv:6: received date `2026-1-5` is not a date as yyyy-MM-dd"),
        "{s}"
    );
    assert!(
        s.contains("in.csv:7: received date") && s.contains("is in the future"),
        "{s}"
    );
}

#[test]
fn status_says_when_the_ledger_key_is_missing_or_another_one() {
    let wd = Workdir::new();
    recorded(&wd);
    let out = wd.run(
        wd.command()
            .args(["status"])
            .env("FORGET_LEDGER_KEY", "another key, long enough to use"),
        exit::USAGE,
    );
    assert!(
        text(&out.stdout)
            .contains("ledger key: environment variable FORGET_LEDGER_KEY (DOES NOT MATCH"),
        "{}",
        text(&out.stdout)
    );
    // A script reads the exit code: the wrong key is an error (exit 2), said on stderr too.
    assert!(text(&out.stderr).contains("does not match"), "{out:?}");
    let out = wd.run(
        wd.command()
            .args(["status", "--ledger-key-file", "elsewhere.key"]),
        exit::INCOMPLETE,
    );
    assert!(
        text(&out.stdout).contains("ledger key: elsewhere.key (UNAVAILABLE"),
        "{}",
        text(&out.stdout)
    );
    assert!(!wd.path("elsewhere.key").exists(), "status creates no key");
}

#[test]
fn keys_erased_after_their_due_date_are_counted_late() {
    let wd = Workdir::new();
    wd.write(
        "in.csv",
        format!(
            "key,received\nold@example.com,2020-01-10\nnew@example.com,{}\n",
            days_ago(1)
        ),
    );
    wd.run(
        wd.command().args([
            "run",
            "in.csv",
            "--simulate",
            "--received-column",
            "received",
        ]),
        exit::OK,
    );
    let out = wd.run(
        wd.command().args([
            "status",
            "--deadlines",
            "--json",
            "--state",
            "forget-simulate.db",
        ]),
        exit::OK,
    );
    let d: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (
            d["overdue"].as_u64(),
            d["erased_late"].as_u64(),
            d["dated"].as_u64()
        ),
        (Some(0), Some(1), Some(2))
    );
}

#[test]
fn input_mapping_errors_are_usage_errors() {
    let wd = Workdir::new();
    wd.write("in.csv", "key,ticket\na@example.com,T-1\n");
    let case = |args: &[&str], want: &str| {
        let out = wd.run(
            wd.command().args(["run", "in.csv", "--dry-run"]).args(args),
            exit::USAGE,
        );
        assert!(text(&out.stderr).contains(want), "{}", text(&out.stderr));
    };
    case(&["--keep-column", "key"], "that is the key column");
    case(&["--keep-column", "Key"], "that is the key column");
    case(&["--keep-column", "exparam1"], "already recorded");
    case(
        &["--keep-column", "ticket", "--keep-column", "ticket"],
        "given twice",
    );
    case(
        &["--keep-column", "nope"],
        "no `nope` column for --keep-column; the columns found are: `key`, `ticket`",
    );
    case(&["--received-column", "received"], "no `received` column");
    wd.run(
        wd.command()
            .args(["run", "in.csv", "--dry-run", "--keep-column", "ticket"]),
        exit::OK,
    );
}

#[test]
fn help_names_the_audit_commands_and_flags() {
    let wd = Workdir::new();
    let out = wd.run(wd.command().arg("--help"), exit::OK);
    for want in ["lookup", "report", "purge"] {
        assert!(text(&out.stdout).contains(want), "--help lacks {want}");
    }
    let out = wd.run(wd.command().args(["run", "--help"]), exit::OK);
    for want in ["--received-column", "--keep-column"] {
        assert!(text(&out.stdout).contains(want), "run --help lacks {want}");
    }
    let out = wd.run(wd.command().args(["lookup", "--help"]), exit::OK);
    assert!(text(&out.stdout).contains("forget lookup -"));
    let out = wd.run(wd.command().args(["report", "--help"]), exit::OK);
    for want in ["--split", "--manifest", "needs-attention.csv", "jsonl"] {
        assert!(
            text(&out.stdout).contains(want),
            "report --help lacks {want}"
        );
    }
}
