//! The life of a request: corrections fed back settle the rows they correct, `forget
//! resolve` ends the rest with a reason, and run, status, report, lookup and the manifest then
//! agree that every request has ended (exit 0). Through the binary, against `--simulate`.

use std::collections::BTreeMap;

use crate::common::{Workdir, text};

/// Keys the built-in simulator holds in profile `customers` (samples/profiles/customers.txt).
const HELD: [&str; 4] = [
    "+15550100059",
    "+15550100075",
    "+15550100171",
    "+15550100238",
];
const STATE: &str = "forget-simulate.db";

/// Rows 2 and 3 name a profile the tenant lacks (rejected, 102), row 4 has a blank key
/// (invalid), rows 5 and 6 are erased.
fn requests_csv() -> String {
    format!(
        "key,profile-name,ticket\n\
         {},custmers,T-2\n\
         {},custmers,T-3\n\
         ,customers,T-4\n\
         {},customers,T-5\n\
         {},customers,T-6\n",
        HELD[0], HELD[1], HELD[2], HELD[3]
    )
}

fn forget(wd: &Workdir, args: &[&str], code: i32) -> std::process::Output {
    wd.run(wd.command().args(args), code)
}

fn run_sim(wd: &Workdir, file: &str, code: i32) -> String {
    let out = forget(
        wd,
        &[
            "run",
            file,
            "--simulate",
            "--keep-column",
            "ticket",
            "--rate",
            "unlimited",
            "-q",
        ],
        code,
    );
    text(&out.stdout)
}

fn status(wd: &Workdir, code: i32) -> serde_json::Value {
    let out = forget(wd, &["status", "--json", "--state", STATE], code);
    serde_json::from_slice(&out.stdout).unwrap()
}

fn events(wd: &Workdir, kind: &str) -> i64 {
    let conn = rusqlite::Connection::open(wd.path(STATE)).unwrap();
    conn.query_row("SELECT count(*) FROM events WHERE kind = ?1", [kind], |r| {
        r.get(0)
    })
    .unwrap()
}

/// A CSV file's rows as maps of header → cell.
fn csv_rows(path: &std::path::Path) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            header
                .iter()
                .cloned()
                .zip(rec.iter().map(String::from))
                .collect()
        })
        .collect()
}

fn write_csv(path: &std::path::Path, rows: &[BTreeMap<String, String>]) {
    let mut w = csv::Writer::from_path(path).unwrap();
    let header: Vec<&String> = rows[0].keys().collect();
    w.write_record(&header).unwrap();
    for row in rows {
        w.write_record(row.values()).unwrap();
    }
    w.flush().unwrap();
}

#[test]
fn the_correction_loop_ends_every_request_and_the_evidence_agrees() {
    let wd = Workdir::new();
    wd.write("requests.csv", requests_csv());
    let stdout = run_sim(&wd, "requests.csv", 4);
    assert!(
        stdout.contains("2 rejected: `forget report --state forget-simulate.db --split DIR`"),
        "{stdout}"
    );
    assert!(
        stdout.contains("1 invalid row: `forget invalid --state forget-simulate.db`"),
        "{stdout}"
    );
    let s = status(&wd, 4);
    assert_eq!(s["requests"]["needs_attention"], 3, "{s}");

    // Split, fix the first rejected row's profile and the blank key, leave the other alone.
    forget(&wd, &["report", "--state", STATE, "--split", "out"], 0);
    let mut rows = csv_rows(&wd.path("out/needs-attention.csv"));
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["ref"], "requests.csv:2");
    assert_eq!(rows[2]["ref"], "requests.csv:4");
    rows[0].insert("profile-name".into(), "customers".into());
    rows[2].insert("key".into(), "+447700900999".into());
    let second = rows.remove(1);
    write_csv(&wd.path("fixed.csv"), &rows);
    let stdout = run_sim(&wd, "fixed.csv", 4);
    assert!(
        stdout.contains("2 earlier requests corrected by rows of this run"),
        "{stdout}"
    );
    let s = status(&wd, 4);
    assert_eq!(s["requests"]["corrected"], 2, "{s}");
    assert_eq!(s["requests"]["needs_attention"], 1, "{s}");
    // The corrected key is erased: lookup no longer says "partly erased".
    let out = forget(&wd, &["lookup", "--state", STATE, HELD[0]], 0);
    let lookup = text(&out.stdout);
    assert!(lookup.contains("ERASED"), "{lookup}");
    assert!(!lookup.contains("PARTLY"), "{lookup}");
    assert!(lookup.contains("corrected by fixed.csv:2"), "{lookup}");

    // The rest is resolved by an operator: every request has ended, exit 0 everywhere.
    let out = forget(
        &wd,
        &[
            "resolve",
            "--state",
            STATE,
            "--outcome",
            "rejected",
            "--reason",
            "not a customer of this profile: ticket closed",
        ],
        0,
    );
    assert!(
        text(&out.stdout).contains("resolved 1 request\n"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(second["file"], "requests.csv");
    let s = status(&wd, 0);
    let r = &s["requests"];
    assert_eq!(r["open"], 0, "{s}");
    assert_eq!(
        (
            r["requests"].as_u64(),
            r["people"].as_u64(),
            r["units"].as_u64()
        ),
        (Some(7), Some(5), Some(6)),
        "{s}"
    );
    assert_eq!(
        (r["resolved"].as_u64(), r["corrected"].as_u64()),
        (Some(1), Some(2)),
        "{s}"
    );
    run_sim(&wd, "requests.csv", 0);

    // Report and manifest say the same as status.
    forget(
        &wd,
        &[
            "report",
            "--state",
            STATE,
            "--out",
            "report.csv",
            "--manifest",
            "m.json",
        ],
        0,
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(wd.path("m.json")).unwrap()).unwrap();
    assert_eq!(manifest["requests"], *r, "{manifest}");
    let report = csv_rows(&wd.path("report.csv"));
    assert_eq!(report.len() as u64, r["requests"].as_u64().unwrap());
    let mut by_state: BTreeMap<String, u64> = BTreeMap::new();
    for row in &report {
        *by_state.entry(row["state"].clone()).or_default() += 1;
    }
    for (state, n) in &by_state {
        assert_eq!(r[state].as_u64(), Some(*n), "{state}: {by_state:?} vs {s}");
    }
    let corrected = report
        .iter()
        .find(|row| row["line"] == "2" && row["file"] == "requests.csv")
        .unwrap();
    assert_eq!(corrected["state_detail"], "corrected by fixed.csv:2");
    // The unit's own outcome is never rewritten.
    assert_eq!(corrected["outcome"], "rejected");
}

#[test]
fn events_are_append_only() {
    let wd = Workdir::new();
    wd.write("requests.csv", requests_csv());
    run_sim(&wd, "requests.csv", 4);
    forget(
        &wd,
        &[
            "resolve",
            "--state",
            STATE,
            "--row",
            "requests.csv:4",
            "--reason",
            "blank key",
        ],
        4,
    );
    let conn = rusqlite::Connection::open(wd.path(STATE)).unwrap();
    let update = conn.execute("UPDATE events SET reason = 'changed'", []);
    assert!(update.unwrap_err().to_string().contains("append-only"));
    assert!(conn.execute("DELETE FROM events", []).is_err());
    assert_eq!(events(&wd, "resolved"), 1);
}

#[test]
fn resolve_refuses_an_ended_request_and_says_why() {
    let wd = Workdir::new();
    wd.write("requests.csv", requests_csv());
    run_sim(&wd, "requests.csv", 4);
    let out = forget(
        &wd,
        &[
            "resolve",
            "--state",
            STATE,
            "--row",
            "requests.csv:5",
            "--reason",
            "x",
        ],
        4,
    );
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("NOT RESOLVED: already ended: erased"),
        "{stdout}"
    );
    assert_eq!(events(&wd, "resolved"), 0);
    // A dry run records nothing either; then the blank key is resolved, and not twice.
    forget(
        &wd,
        &[
            "resolve",
            "--state",
            STATE,
            "--outcome",
            "invalid",
            "--reason",
            "blank",
            "--dry-run",
        ],
        4,
    );
    assert_eq!(events(&wd, "resolved"), 0);
    forget(
        &wd,
        &[
            "resolve",
            "--state",
            STATE,
            "--outcome",
            "invalid",
            "--reason",
            "blank",
        ],
        4,
    );
    let out = forget(
        &wd,
        &[
            "resolve",
            "--state",
            STATE,
            "--row",
            "requests.csv:4",
            "--reason",
            "again",
        ],
        4,
    );
    assert!(
        text(&out.stdout).contains("already ended: resolved: blank"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(events(&wd, "resolved"), 1);
    let out = forget(&wd, &["invalid", "--state", STATE], 0);
    assert!(
        text(&out.stdout).contains("requests.csv:4: blank key (resolved: blank)"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn a_reason_that_repeats_the_key_is_stored_masked() {
    let wd = Workdir::new();
    wd.write("requests.csv", requests_csv());
    run_sim(&wd, "requests.csv", 4);
    wd.write("keys.txt", format!("{}\n", HELD[1]));
    let out = forget(
        &wd,
        &[
            "resolve",
            "--state",
            STATE,
            "--from",
            "keys.txt",
            "--reason",
            &format!("called {} back: wrong profile", HELD[1]),
        ],
        4,
    );
    let stderr = text(&out.stderr);
    assert!(stderr.contains("must not hold personal data"), "{stderr}");
    assert!(stderr.contains("stored with the key masked"), "{stderr}");
    let conn = rusqlite::Connection::open(wd.path(STATE)).unwrap();
    let reason: String = conn
        .query_row(
            "SELECT reason FROM events WHERE kind = 'resolved'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(!reason.contains(HELD[1]), "{reason}");
    assert!(reason.contains("+15*******75"), "{reason}");
    // Nowhere in the report either.
    forget(&wd, &["report", "--state", STATE, "--out", "r.csv"], 0);
    let report = std::fs::read_to_string(wd.path("r.csv")).unwrap();
    assert!(!report.contains(HELD[1]), "{report}");
}

/// Every command a summary prints between backticks runs as printed (DIR and "WHY" are the
/// user's to fill in).
#[test]
fn hints_work_as_printed() {
    let wd = Workdir::new();
    wd.write("requests.csv", requests_csv());
    let mut printed = run_sim(&wd, "requests.csv", 4);
    printed.push_str(&text(&status(&wd, 4).to_string().into_bytes()));
    printed.push_str(&text(&forget(&wd, &["status", "--state", STATE], 4).stdout));
    let commands: Vec<String> = printed
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|c| c.starts_with("forget "))
        .map(String::from)
        .collect();
    assert!(commands.len() >= 4, "{printed}");
    assert!(
        commands
            .iter()
            .any(|c| c == "forget invalid --state forget-simulate.db"),
        "{commands:?}"
    );
    for command in &commands {
        let line = command.replace("DIR", "hint-dir").replace("\"WHY\"", "WHY");
        let args: Vec<&str> = line.split_whitespace().skip(1).collect();
        let out = wd.command().args(&args).output().unwrap();
        let code = out.status.code().unwrap_or(-1);
        assert!(
            code == 0 || code == 4,
            "`{command}` exits {code}: {}",
            text(&out.stderr)
        );
    }
}

/// A row recorded in bulk with its unit (nothing but its key) is settled by the fixed row
/// that names it in `ref`, even when the fix changed the key (so no key links the two).
#[test]
fn a_ref_settles_a_request_recorded_with_its_unit() {
    let wd = Workdir::new();
    wd.write(
        "requests.csv",
        format!(
            "key,profile-name\n+15550100058,custmers\n{},customers\n",
            HELD[1]
        ),
    );
    forget(&wd, &["run", "requests.csv", "--simulate", "-q"], 4);
    let conn = rusqlite::Connection::open(wd.path(STATE)).unwrap();
    let bulk: i64 = conn
        .query_row(
            "SELECT count(*) FROM units WHERE row_line IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(bulk, 2, "both rows are stored with their units");
    forget(&wd, &["report", "--state", STATE, "--split", "out"], 0);
    let mut rows = csv_rows(&wd.path("out/needs-attention.csv"));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["ref"], "requests.csv:2");
    rows[0].insert("key".into(), HELD[0].into());
    rows[0].insert("profile-name".into(), "customers".into());
    write_csv(&wd.path("fixed.csv"), &rows);
    let out = forget(&wd, &["run", "fixed.csv", "--simulate", "-q"], 0);
    assert!(
        text(&out.stdout).contains("1 earlier requests corrected"),
        "{}",
        text(&out.stdout)
    );
    let s = status(&wd, 0);
    assert_eq!(
        (
            s["requests"]["corrected"].as_u64(),
            s["requests"]["people"].as_u64()
        ),
        (Some(1), Some(3)),
        "{s}"
    );
}
