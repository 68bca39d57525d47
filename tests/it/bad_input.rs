//! Bad input through the real binary: a bad file is refused with a message naming the file
//! (and line), before anything is sent; a bad row becomes an `invalid` row and never stops
//! the good ones.

use crate::common::{Fixture, Workdir, keys, text};

#[test]
fn bad_files_are_refused_with_file_and_reason() {
    let wd = Workdir::new();
    std::fs::create_dir(wd.path("folder.csv")).unwrap();
    let exparams: String = (1..=11).map(|i| format!(",exparam{i}")).collect();
    let case = |name: &str, content: Option<&[u8]>, want: &[&str]| {
        if let Some(content) = content {
            wd.write(name, content);
        }
        let out = wd.run(wd.command().args(["run", name, "--dry-run"]), 2);
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(name),
            "{name}: message does not name the file: {stderr}"
        );
        for w in want {
            assert!(stderr.contains(w), "{name}: {stderr:?} lacks {w:?}");
        }
    };
    case("missing.csv", None, &["no such file"]);
    case("folder.csv", None, &["is a directory"]);
    case("empty.csv", Some(b""), &["is empty"]);
    case(
        "header-only.csv",
        Some(b"key,exparam1\r\n"),
        &["header row but no requests"],
    );
    case(
        "no-key.csv",
        Some(b"msisdn,name\n1,2\n"),
        &["line 1", "`msisdn`, `name`", "--key-column"],
    );
    case(
        "semicolon-forced.csv",
        Some(b"msisdn;name\n1;2\n"),
        &["--delimiter"],
    );
    case(
        "gzip.csv",
        Some(b"\x1f\x8b\x08\x00\x00\x00\x00\x00"),
        &["gzip"],
    );
    case(
        "dup-header.csv",
        Some(b"key,name,KEY\na,b,c\n"),
        &["line 1", "appears twice"],
    );
    case(
        "exparam-range.csv",
        Some(b"key,exparam0\na,b\n"),
        &["exparam0", "exparam1 to exparam10"],
    );
    case(
        "eleven-exparams.csv",
        Some(format!("key{exparams}\na{}\n", ",x".repeat(11)).as_bytes()),
        &["exparam11"],
    );
}

#[test]
fn bad_rows_are_recorded_and_listed_with_file_line_and_reason() {
    let wd = Workdir::new();
    let long = "x".repeat(300);
    let content = format!(
        "\u{feff}key,exparam1\r\ngood1,a\r\n,blank\r\n   ,spaces\r\ntoo,many,fields\r\nfew\r\n\"quo,ted\",ok\r\n\"multi\r\nline\",x\r\nnul\u{0}key,x\r\n{long},x\r\n"
    );
    let mut bytes = content.into_bytes();
    bytes.extend_from_slice(b"\xff\xfebad,x\r\ngood2,b\r\n");
    wd.write("rows.csv", &bytes);
    let out = wd.run(wd.command().args(["run", "rows.csv", "--dry-run"]), 0);
    assert!(
        text(&out.stdout).contains("would send                  3"),
        "{}",
        text(&out.stdout)
    );
    let out = wd.run(wd.command().args(["invalid"]), 0);
    let listed = text(&out.stdout);
    let want = [
        "rows.csv:3: blank key",
        "rows.csv:4: blank key",
        "rows.csv:5: has 3 fields, the header has 2",
        "rows.csv:6: has 1 fields, the header has 2",
        "rows.csv:8: key contains control characters",
        "rows.csv:10: key contains control characters",
        "rows.csv:11: key is longer than 256 characters",
        "rows.csv:12: field 1 is not valid UTF-8",
    ];
    for w in want {
        assert!(listed.contains(w), "{listed}\nlacks {w}");
    }
    // Invalid rows are open requests: status exits 4 until they end.
    let out = wd.run(wd.command().args(["status", "--json"]), 4);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (status["invalid"].as_u64(), status["total"].as_u64()),
        (Some(8), Some(3))
    );
    // The invalid-row listing is discoverable from --help.
    let help = text(&wd.run(wd.command().arg("--help"), 0).stdout);
    assert!(
        help.contains("invalid") && help.contains("reason"),
        "{help}"
    );
}

#[tokio::test]
async fn a_bad_file_among_good_ones_stops_everything_before_sending() {
    let held = keys("k", 5);
    let fx = Fixture::new(&held, |_| {}).await;
    let good = fx.csv("good.csv", &held);
    let bad = fx.write("bad.csv", "email\nx@example.com\n");
    let err = forget::job::run(fx.config(vec![good, bad]), Some(fx.target()))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("bad.csv"), "{err}");
    assert_eq!(fx.sim.stats().requests, 0);
}
