//! Deadlines to act on: the requests overdue (still open after their due date) and late
//! (erased after it), with request id, file:line, due date and days overdue — in
//! `status --deadlines`, `status --json`, and `report --overdue` / `--outcome late`.

use crate::common::{Workdir, text};
use forget::deadline::{due_date, format_date, today};
use forget::error::exit;
use serde_json::Value;
use time::Duration;

const LEDGER: &str = "forget-simulate.db";

/// One request erased late (line 2), one on time (line 3), one rejected and overdue (line 4,
/// a profile the tenant does not have).
fn recorded(wd: &Workdir) -> (String, i64) {
    let received = today() - Duration::days(60);
    let csv = format!(
        "key,profile-name,received,ticket\n\
         late.person@example.com,,{old},T-1\n\
         ontime.person@example.com,,{new},T-2\n\
         overdue.person@example.com,nosuchprofile,{old},T-3\n",
        old = format_date(received),
        new = format_date(today() - Duration::days(5)),
    );
    wd.write("in.csv", csv);
    wd.run(
        wd.command().args([
            "run",
            "in.csv",
            "--simulate",
            "--rate",
            "unlimited",
            "--received-column",
            "received",
            "--keep-column",
            "ticket",
        ]),
        exit::INCOMPLETE,
    );
    let due = due_date(received);
    (format_date(due), (today() - due).whole_days())
}

#[test]
fn status_lists_overdue_and_late_requests_with_id_file_line_and_days() {
    let wd = Workdir::new();
    let (due, days) = recorded(&wd);

    let out = wd.run(
        wd.command()
            .args(["status", "--deadlines", "--state", LEDGER]),
        exit::OK,
    );
    let s = text(&out.stdout);
    assert!(
        s.contains("overdue requests (still open after their due date): 1"),
        "{s}"
    );
    assert!(
        s.contains("late requests (erased after their due date): 1"),
        "{s}"
    );
    let line = |id: &str| {
        s.lines()
            .find(|l| l.split_whitespace().any(|w| w == id))
            .unwrap_or_else(|| panic!("no {id} in {s}"))
            .split_whitespace()
            .map(String::from)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        line("T-3"),
        [
            &due,
            &days.to_string(),
            "T-3",
            "in.csv:4",
            "o***@e***.com",
            "rejected"
        ]
    );
    assert_eq!(
        line("T-1"),
        [
            &due,
            &days.to_string(),
            "T-1",
            "in.csv:2",
            "l***@e***.com",
            "not_found"
        ]
    );
    assert!(!s.contains("T-2"), "on time: {s}");
    assert!(!s.contains("@example.com"), "no plaintext: {s}");

    // The plain status names the list with the ledger it read.
    let out = wd.run(
        wd.command().args(["status", "--state", LEDGER]),
        exit::INCOMPLETE,
    );
    assert!(
        text(&out.stdout)
            .contains("`forget status --deadlines --state forget-simulate.db` lists them all"),
        "{}",
        text(&out.stdout)
    );

    // --id-column names the kept column; one not kept is refused.
    wd.run(
        wd.command().args([
            "status",
            "--deadlines",
            "--state",
            LEDGER,
            "--id-column",
            "ticket",
        ]),
        exit::OK,
    );
    let out = wd.run(
        wd.command().args([
            "status",
            "--deadlines",
            "--state",
            LEDGER,
            "--id-column",
            "nope",
        ]),
        exit::USAGE,
    );
    assert!(
        text(&out.stderr)
            .contains("--id-column nope: not a kept column; the kept columns are: ticket"),
        "{}",
        text(&out.stderr)
    );

    // status --json carries the counts and both lists.
    let out = wd.run(
        wd.command().args(["status", "--json", "--state", LEDGER]),
        exit::INCOMPLETE,
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let d = &v["deadlines"];
    assert_eq!(
        (d["overdue"].as_u64(), d["erased_late"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(d["overdue_requests"][0]["request_id"], "T-3");
    assert_eq!(d["overdue_requests"][0]["file"], "in.csv");
    assert_eq!(d["overdue_requests"][0]["line"], 4);
    assert_eq!(d["overdue_requests"][0]["due_on"], due.as_str());
    assert_eq!(d["overdue_requests"][0]["days_overdue"], days);
    assert_eq!(d["late_requests"][0]["request_id"], "T-1");
    assert_eq!(d["late_requests"].as_array().unwrap().len(), 1);
    assert_eq!(v["total"], 3, "the counts are still there");
}

#[test]
fn report_lists_late_and_overdue_requests() {
    let wd = Workdir::new();
    recorded(&wd);
    let lines = |args: &[&str]| -> Vec<Value> {
        let out = wd.run(
            wd.command()
                .args(["report", "--state", LEDGER, "--format", "jsonl"])
                .args(args),
            exit::OK,
        );
        text(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let late = lines(&["--outcome", "late"]);
    assert_eq!(late.len(), 1, "{late:?}");
    assert_eq!(
        (late[0]["line"].as_u64(), &late[0]["extra"]["ticket"]),
        (Some(2), &Value::from("T-1"))
    );
    let overdue = lines(&["--overdue"]);
    assert_eq!(overdue.len(), 1, "{overdue:?}");
    assert_eq!(overdue[0]["line"], 4);
    assert_eq!(overdue[0]["outcome"], "rejected");
    assert!(lines(&["--overdue", "--outcome", "pending"]).is_empty());
    assert_eq!(lines(&["--outcome", "late,rejected"]).len(), 2);
}
