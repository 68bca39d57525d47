//! `forget report`: one row per request row, in CSV, JSON or JSONL; split files a run can
//! take back; a manifest sealing every file with its SHA-256.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::common::{
    Fixture, Workdir, assert_deleted_by_one_request, assert_sent_until_final_only, keys, text,
};
use forget::audit::report::{self, Format, ReportConfig};
use forget::error::exit;
use forget::ledger::Ledger;
use sha2::{Digest, Sha256};

struct Setup {
    fx: Fixture,
    held: Vec<String>,
    /// Held in "customers", but requested for a profile that does not exist.
    misfiled: Vec<String>,
    input: PathBuf,
}

/// 6 held keys (one asked twice), 2 absent, 2 rejected for a wrong profile, 2 invalid rows.
async fn setup() -> Setup {
    let held = keys("held-", 6);
    let misfiled = keys("misfiled-", 2);
    let fx = Fixture::new(&[held.clone(), misfiled.clone()].concat(), |_| {}).await;
    let mut csv = String::from("ticket,key,profile-name,exparam1,received,note\n");
    for (i, k) in held.iter().enumerate() {
        csv.push_str(&format!("T-{i},{k},,DSR-{i},2020-03-31,private note\n"));
    }
    csv.push_str(&format!("T-dup,{},,DSR-dup,2020-03-01,x\n", held[0]));
    csv.push_str("T-a1,absent-1,,,2020-01-31,x\nT-a2,absent-2,,,,x\n");
    for (i, k) in misfiled.iter().enumerate() {
        csv.push_str(&format!("T-m{i},{k},nosuchprofile,DSR-m{i},2020-02-29,x\n"));
    }
    csv.push_str("T-bad,bad\u{7}key,,,,x\n");
    // (A received date that cannot be read no longer makes a row invalid: an audit field
    // over 256 characters does.)
    csv.push_str(&format!(
        "T-long,long-field-key,,{},2020-02-28,x\n",
        "x".repeat(300)
    ));
    let input = fx.write("requests.csv", &csv);
    let mut config = fx.config(vec![input.clone()]);
    config.input.received_column = Some("received".into());
    config.input.keep_columns = vec!["ticket".into()];
    let s = fx.run(config).await;
    assert_eq!(
        (
            s.ledger.deleted,
            s.ledger.not_found,
            s.ledger.rejected,
            s.ledger.invalid,
            s.ledger.duplicates
        ),
        (6, 2, 2, 2, 1),
        "{s:?}"
    );
    Setup {
        fx,
        held,
        misfiled,
        input,
    }
}

fn config(out: Option<PathBuf>, format: Format) -> ReportConfig {
    ReportConfig {
        format,
        main: true,
        out,
        outcomes: None,
        overdue_on: None,
        split: None,
        manifest: None,
        ledger_key_file: None,
        sign: None,
        also: Vec::new(),
    }
}

fn read_csv(path: &Path) -> (Vec<String>, Vec<HashMap<String, String>>) {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|rec| {
            header
                .iter()
                .cloned()
                .zip(rec.unwrap().iter().map(String::from))
                .collect()
        })
        .collect();
    (header, rows)
}

fn sha256(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

#[tokio::test]
async fn one_csv_row_per_request_row_with_masked_keys_hashes_and_times() {
    let s = setup().await;
    let ledger = Ledger::open_existing(&s.fx.path("ledger.db")).unwrap();
    let out = s.fx.path("report.csv");
    let summary = report::write(&ledger, &config(Some(out.clone()), Format::Csv)).unwrap();
    assert_eq!(summary.rows, 13);
    let (header, rows) = read_csv(&out);
    assert_eq!(
        header,
        [
            "file",
            "line",
            "kind",
            "key_masked",
            "key_hash",
            "connector",
            "profile-name",
            "outcome",
            "http_status",
            "code",
            "description",
            "transaction_id",
            "attempts",
            "first_attempt_at",
            "last_attempt_at",
            "finished_at",
            "received_on",
            "due_on",
            "state",
            "state_detail",
            "exparam1",
            "ticket",
        ]
    );
    assert_eq!(rows.len(), 13);
    let by_line = |line: &str| rows.iter().find(|r| r["line"] == line).unwrap();
    let first = by_line("2");
    assert_eq!(first["kind"], "request");
    assert_eq!(first["outcome"], "deleted");
    assert_eq!(first["key_masked"], forget::keys::mask(&s.held[0]));
    assert_eq!(first["key_hash"].len(), 64);
    assert_eq!(first["profile-name"], "customers");
    assert!(!first["transaction_id"].is_empty());
    assert_eq!(first["attempts"], "1");
    // UTC to the second, as spreadsheets read a date-time (the JSON forms keep RFC 3339).
    let spreadsheet =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    for t in ["first_attempt_at", "last_attempt_at", "finished_at"] {
        time::PrimitiveDateTime::parse(&first[t], &spreadsheet)
            .unwrap_or_else(|e| panic!("{t} {}: {e}", first[t]));
    }
    assert_eq!(
        (
            first["received_on"].as_str(),
            first["due_on"].as_str(),
            first["exparam1"].as_str(),
            first["ticket"].as_str()
        ),
        ("2020-03-31", "2020-04-30", "DSR-0", "T-0")
    );
    let dup = by_line("8");
    assert_eq!(
        (
            dup["kind"].as_str(),
            dup["outcome"].as_str(),
            dup["ticket"].as_str()
        ),
        ("duplicate", "deleted", "T-dup")
    );
    assert_eq!(dup["key_hash"], first["key_hash"]);
    // The exparam a duplicate row carries is not what was sent: the report shows what was.
    assert_eq!(dup["exparam1"], "DSR-0");
    assert_eq!(by_line("9")["outcome"], "not_found");
    // A code of digits is text to a spreadsheet (`'`), as it is a string in JSON.
    assert_eq!(by_line("9")["code"], "'1020");
    let rejected = by_line("11");
    assert_eq!(
        (rejected["outcome"].as_str(), rejected["code"].as_str()),
        ("rejected", "'102")
    );
    let invalid = by_line("14");
    assert_eq!(
        (invalid["kind"].as_str(), invalid["outcome"].as_str()),
        ("invalid", "invalid")
    );
    assert!(invalid["description"].contains("longer than 256"));
    assert_eq!(invalid["key_masked"], forget::keys::mask("long-field-key"));
    assert_eq!(invalid["key_hash"], "");
    // The evidence holds no plaintext key, even of unfinished keys, and no unmapped column.
    let bytes = std::fs::read_to_string(&out).unwrap();
    for k in s.held.iter().chain(&s.misfiled) {
        assert!(!bytes.contains(k.as_str()), "{k}");
    }
    assert!(!bytes.contains("long-field-key") && !bytes.contains("private note"));
    let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[tokio::test]
async fn json_and_jsonl_carry_the_same_rows_and_outcome_filters() {
    let s = setup().await;
    let ledger = Ledger::open_existing(&s.fx.path("ledger.db")).unwrap();
    let json_path = s.fx.path("r.json");
    report::write(&ledger, &config(Some(json_path.clone()), Format::Json)).unwrap();
    let all: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json_path).unwrap()).unwrap();
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 13);
    assert_eq!(all[0]["exparams"]["exparam1"], "DSR-0");
    assert_eq!(all[0]["extra"]["ticket"], "T-0");
    assert_eq!(all[0]["due_on"], "2020-04-30");
    assert_eq!(all[0]["attempts"], 1);

    let mut filtered = config(Some(s.fx.path("r.jsonl")), Format::Jsonl);
    filtered.outcomes = Some(report::parse_outcomes("rejected,invalid").unwrap());
    let summary = report::write(&ledger, &filtered).unwrap();
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(s.fx.path("r.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!((lines.len(), summary.rows), (4, 4));
    let outcomes: Vec<&str> = lines
        .iter()
        .map(|l| l["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["rejected", "rejected", "invalid", "invalid"]);

    // An empty result is still a valid document.
    let mut none = config(Some(s.fx.path("none.json")), Format::Json);
    none.outcomes = Some(vec!["pending".into()]);
    report::write(&ledger, &none).unwrap();
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(s.fx.path("none.json")).unwrap()).unwrap();
    assert_eq!(v, serde_json::json!([]));
}

#[tokio::test]
async fn split_files_feed_straight_back_into_a_run_and_the_manifest_seals_them() {
    let s = setup().await;
    let ledger = Ledger::open_existing(&s.fx.path("ledger.db")).unwrap();
    let dir = s.fx.path("out");
    let manifest = s.fx.path("manifest.json");
    let report_path = s.fx.path("all.csv");
    let summary = report::write(
        &ledger,
        &ReportConfig {
            split: Some(dir.clone()),
            manifest: Some(manifest.clone()),
            ..config(Some(report_path.clone()), Format::Csv)
        },
    )
    .unwrap();
    assert_eq!(summary.files.len(), 4);
    assert_eq!(summary.attention_without_key, 0);

    let (_, ok) = read_csv(&dir.join("succeeded.csv"));
    assert_eq!(ok.len(), 9);
    assert!(
        ok.iter()
            .all(|r| r["outcome"] == "deleted" || r["outcome"] == "not_found")
    );
    let (header, attention) = read_csv(&dir.join("needs-attention.csv"));
    assert_eq!(
        &header[..5],
        ["key", "profile-name", "exparam1", "received", "ticket"]
    );
    let keys: Vec<&str> = attention.iter().map(|r| r["key"].as_str()).collect();
    assert_eq!(
        keys,
        [
            s.misfiled[0].as_str(),
            s.misfiled[1].as_str(),
            "bad\u{7}key",
            "long-field-key"
        ]
    );
    assert_eq!(attention[0]["profile-name"], "nosuchprofile");
    assert_eq!(attention[0]["exparam1"], "DSR-m0");
    assert_eq!(attention[0]["ticket"], "T-m0");
    assert_eq!(attention[0]["received"], "2020-02-29");
    assert_eq!(attention[0]["outcome"], "rejected");
    let mode = std::fs::metadata(dir.join("needs-attention.csv"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "needs-attention.csv holds plaintext keys");

    // The manifest: tool, inputs with hashes and counts, runs, counts, every file's hash.
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
    assert_eq!(m["tool_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(m["input_files"][0]["sha256"], sha256(&s.input));
    assert_eq!(m["input_files"][0]["rows"], 13);
    assert_eq!(m["input_files"][0]["invalid"], 2);
    assert_eq!(
        m["input_files"][0]["kept_columns"],
        serde_json::json!(["ticket"])
    );
    assert_eq!(m["input_files"][0]["received_column"], "received");
    let run = &m["runs"][0];
    assert_eq!(run["result"], "finished");
    assert_eq!(run["api_host"], "127.0.0.1");
    assert!(run["started_at"].is_string() && run["ended_at"].is_string());
    assert_eq!(run["rate"], "unlimited");
    assert_eq!(m["counts"]["deleted"], 6);
    assert_eq!(m["counts"]["invalid"], 2);
    let files = m["report_files"].as_array().unwrap();
    assert_eq!(files.len(), 4, "the report and the three split files");
    for f in files {
        let path = PathBuf::from(f["path"].as_str().unwrap());
        assert_eq!(f["sha256"], sha256(&path), "{}", path.display());
        assert_eq!(f["bytes"], std::fs::metadata(&path).unwrap().len());
    }
    assert_eq!(files[0]["rows"], 13);

    // Fix the profile name and run the file as it is: the rejected keys are erased, and the
    // row whose key had a control character is an invalid row again (still needs a person).
    let fixed = std::fs::read_to_string(dir.join("needs-attention.csv"))
        .unwrap()
        .replace("nosuchprofile", "customers");
    let fixed = s.fx.write("fixed.csv", &fixed);
    let mut again = s.fx.config(vec![fixed]);
    again.input.received_column = Some("received".into());
    again.input.keep_columns = vec!["ticket".into()];
    let r = s.fx.run(again).await;
    assert_eq!(r.sent_units, 3, "{r:?}");
    assert_eq!(r.ledger.deleted, 8);
    assert_eq!(r.ledger.not_found, 3, "long-field-key, now with a good row");
    assert_eq!(r.ingested.invalid, 1);
    // Each row fed back names the request it fixes (`ref`): all four are corrected, and
    // what is left open is the new invalid row alone.
    assert_eq!(r.ingested.corrected, 4, "{r:?}");
    assert_eq!(
        (r.requests.needs_attention, r.requests.corrected),
        (1, 4),
        "{r:?}"
    );
    for k in &s.misfiled {
        assert_deleted_by_one_request(&s.fx.sim, k);
    }
    assert_sent_until_final_only(&s.fx.sim);
}

#[tokio::test]
async fn report_on_the_command_line() {
    let s = setup().await;
    let wd = Workdir::new();
    let state = s.fx.path("ledger.db");
    let report = |args: &[&str], code: i32| {
        wd.run(
            wd.command()
                .arg("report")
                .args(args)
                .arg("--state")
                .arg(&state),
            code,
        )
    };
    // Default: CSV on stdout.
    let out = report(&[], exit::OK);
    assert_eq!(text(&out.stdout).lines().count(), 14);
    let out = report(&["--format", "jsonl", "--outcome", "not_found"], exit::OK);
    assert_eq!(text(&out.stdout).lines().count(), 2);
    // --split alone writes the split files and nothing on stdout.
    let out = report(&["--split", "split", "--manifest", "m.json"], exit::OK);
    assert!(out.stdout.is_empty());
    assert!(text(&out.stderr).contains("needs-attention.csv (4 rows, sha256 "));
    assert!(wd.path("split/succeeded.csv").is_file() && wd.path("m.json").is_file());
    let out = report(&["--outcome", "gone"], exit::USAGE);
    assert!(text(&out.stderr).contains("not an outcome"));
    report(&["--format", "xml"], exit::USAGE);
    report(
        &["--output", "same.json", "--manifest", "same.json"],
        exit::USAGE,
    );
}

/// A key the run gave up on (every attempt a dropped connection) says why in the report,
/// and has no `finished_at`: failing is not an end, the next run tries it again.
#[tokio::test]
async fn a_failed_row_says_why_and_has_not_finished() {
    let held = keys("k", 2);
    let fx = Fixture::new(&held, |c| {
        c.faults = vec![(forget::sim::Fault::Drop, 1.0)];
    })
    .await;
    let mut config = fx.config(vec![fx.csv("in.csv", &held)]);
    config.retry.max_attempts = 2;
    config.retry.base = std::time::Duration::from_millis(1);
    let s = fx.run(config).await;
    assert_eq!(s.ledger.failed, 2, "{s:?}");
    let wd = Workdir::new();
    let out = wd.run(
        wd.command()
            .arg("report")
            .arg("--state")
            .arg(fx.path("ledger.db")),
        0,
    );
    let mut csv = csv::Reader::from_reader(&out.stdout[..]);
    let rows: Vec<HashMap<String, String>> = csv.deserialize().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 2);
    for row in rows {
        assert_eq!(row["outcome"], "failed");
        assert!(row["description"].starts_with("no answer: "), "{row:?}");
        assert_eq!(row["finished_at"], "", "{row:?}");
        assert!(!row["last_attempt_at"].is_empty(), "{row:?}");
    }
}
