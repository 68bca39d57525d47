//! Access exports in their own words everywhere — exported, no data, failed — and each
//! request mapped to its document by the report.

use std::collections::HashMap;

use crate::common::{Workdir, repo_path, text};
use crate::lookup_variants::lookup_stdin;
use forget::error::exit;
use forget::keys::mask;
use serde_json::Value;

const LEDGER: &str = "forget-access-simulate.db";

fn exported(wd: &Workdir) {
    let sample = repo_path("samples/access-requests.csv");
    let out = wd.run(
        wd.command().arg("access").arg(&sample).args([
            "--out-dir",
            "exports",
            "--simulate",
            "--rate",
            "unlimited",
            "--keep-column",
            "request-id",
            "--received-column",
            "received",
        ]),
        exit::INCOMPLETE,
    );
    let s = text(&out.stdout);
    assert!(s.contains("exported                 4         4"), "{s}");
    assert!(s.contains("no data                  1         1"), "{s}");
}

#[test]
fn status_report_manifest_and_lookup_say_exported_and_no_data() {
    let wd = Workdir::new();
    exported(&wd);

    let out = wd.run(
        wd.command().args(["status", "--state", LEDGER]),
        exit::INCOMPLETE,
    );
    let s = text(&out.stdout);
    let count = |name: &str| {
        s.lines()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap_or_else(|| panic!("no {name} in {s}"))
            .split_whitespace()
            .last()
            .unwrap()
            .to_owned()
    };
    assert!(s.contains("access exports:"), "{s}");
    assert_eq!(count("subjects"), "5");
    assert_eq!(count("exported"), "4");
    assert_eq!(count("no data"), "1");
    assert_eq!(count("invalid rows"), "1");
    assert!(!s.contains("deleted") && !s.contains("not_found"), "{s}");
    // Received in April: every request was exported after its due date.
    assert_eq!(count("exported late"), "5");

    let out = wd.run(
        wd.command().args(["status", "--json", "--state", LEDGER]),
        exit::INCOMPLETE,
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["access_exports"]["exported"], 4);
    assert_eq!(v["access_exports"]["no_data"], 1);

    // The report: outcomes in the words of exports, each request's document beside its
    // kept columns, and the manifest counting the same way.
    wd.run(
        wd.command().args([
            "report",
            "--state",
            LEDGER,
            "--output",
            "report.csv",
            "--manifest",
            "manifest.json",
        ]),
        exit::OK,
    );
    let mut csv = csv::Reader::from_path(wd.path("report.csv")).unwrap();
    let header: Vec<String> = csv.headers().unwrap().iter().map(String::from).collect();
    assert!(header.contains(&"export_file".to_owned()), "{header:?}");
    let rows: Vec<HashMap<String, String>> = csv
        .records()
        .map(|r| {
            header
                .iter()
                .cloned()
                .zip(r.unwrap().iter().map(String::from))
                .collect()
        })
        .collect();
    let outcomes: Vec<&str> = rows.iter().map(|r| r["outcome"].as_str()).collect();
    assert_eq!(
        outcomes,
        [
            "exported", "exported", "exported", "exported", "no_data", "invalid"
        ]
    );
    for row in &rows[..5] {
        let file = &row["export_file"];
        assert!(!file.is_empty() && !file.contains('/'), "{row:?}");
        let doc: Value =
            serde_json::from_slice(&std::fs::read(wd.path("exports").join(file)).unwrap()).unwrap();
        let subject = doc["subject"]["key"].as_str().unwrap();
        // A spreadsheet would run `+15…`: the report writes it `'+15…`.
        let masked = row["key_masked"].trim_start_matches('\'');
        assert_eq!(mask(subject), masked, "{row:?}");
        assert!(row["request-id"].starts_with("SAR-2026-000"), "{row:?}");
    }
    assert_eq!(rows[4]["request-id"], "SAR-2026-0005");
    assert_eq!(rows[5]["export_file"], "", "an invalid row has no document");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(wd.path("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["access_exports"]["exported"], 4);
    assert_eq!(manifest["access_exports"]["no_data"], 1);

    // `--outcome` takes the words of exports.
    let out = wd.run(
        wd.command().args([
            "report",
            "--state",
            LEDGER,
            "--outcome",
            "no_data",
            "--format",
            "jsonl",
        ]),
        exit::OK,
    );
    let lines: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["outcome"], "no_data");
    assert_eq!(lines[0]["export_file"], rows[4]["export_file"].as_str());

    // Lookup: exported, or no data, with the document — never "erased … deleted".
    let out = lookup_stdin(&wd, LEDGER, "+15550100059\n+447700900999\n", exit::OK);
    assert!(out.contains("EXPORTED") && out.contains("NO DATA"), "{out}");
    assert!(
        out.contains("webex-access query key?count=50: exported on "),
        "{out}"
    );
    assert!(
        out.contains("webex-access query key?count=50: no data on "),
        "{out}"
    );
    assert!(
        out.contains(&format!("document         {}", rows[0]["export_file"])),
        "{out}"
    );
    assert!(!out.contains("ERASED") && !out.contains("deleted"), "{out}");
    assert!(out.contains("2 exported (or no data)"), "{out}");
}
