//! `forget evidence DIR`: one folder with the report, the split files, the run history, the
//! HTML summary, a README.txt and a signed manifest of them all; it verifies with forget
//! alone, holds no plaintext key of an erased person, and never mixes with other files.

use std::path::Path;

use crate::common::{Workdir, text};

const LEDGER: &str = "forget-simulate.db";

/// Erased (+4477009000NN, a digits-only 4477009000NN, an e-mail), and one blank key.
fn with_ledger() -> (Workdir, Vec<String>) {
    let wd = Workdir::new();
    let erased: Vec<String> = vec![
        "+447700900001".into(),
        "447700900002".into(),
        "ann.erased@example.com".into(),
    ];
    let mut csv = String::from("key,ticket\n");
    for (i, k) in erased.iter().enumerate() {
        csv.push_str(&format!("{k},T{i}\n"));
    }
    csv.push_str(",T-blank\n");
    wd.write("r.csv", csv);
    wd.run(
        wd.command().args([
            "run",
            "r.csv",
            "--simulate",
            "--rate",
            "unlimited",
            "--keep-column",
            "ticket",
        ]),
        4,
    );
    (wd, erased)
}

const PACK: [&str; 9] = [
    "README.txt",
    "manifest.json",
    "manifest.json.sig",
    "needs-attention.csv",
    "report.csv",
    "resolved.csv",
    "runs.csv",
    "succeeded.csv",
    "summary.html",
];

fn verify(wd: &Workdir, want: i32) -> String {
    let out = wd.run(
        wd.command().args([
            "verify",
            "--state",
            LEDGER,
            "--manifest",
            "pack/manifest.json",
            "--public-key",
            "s.key.pub",
        ]),
        want,
    );
    text(&out.stdout)
}

#[test]
fn a_signed_pack_lists_every_file_verifies_and_holds_no_erased_key() {
    let (wd, erased) = with_ledger();
    wd.run(wd.command().args(["keygen", "s.key"]), 0);
    let out = wd.run(
        wd.command()
            .args(["evidence", "pack", "--state", LEDGER, "--sign-key", "s.key"]),
        0,
    );
    assert!(
        text(&out.stderr).contains("evidence pack written to pack"),
        "{}",
        text(&out.stderr)
    );
    let mut names: Vec<String> = std::fs::read_dir(wd.path("pack"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, PACK);

    // Every file but the manifest and its signature is listed, by its SHA-256.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(wd.path("pack/manifest.json")).unwrap()).unwrap();
    let mut listed: Vec<&str> = manifest["report_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["relative_path"].as_str().unwrap())
        .collect();
    listed.sort();
    let want: Vec<&str> = PACK
        .iter()
        .copied()
        .filter(|n| !n.starts_with("manifest"))
        .collect();
    assert_eq!(listed, want);
    assert!(
        manifest["chain_head"]["seq"].as_i64().unwrap() > 0,
        "{manifest}"
    );
    let verdicts = verify(&wd, 0);
    assert_eq!(verdicts.matches("report_file: ok").count(), 7, "{verdicts}");

    // The README tells the auditor the command, and the key's fingerprint.
    let readme = std::fs::read_to_string(wd.path("pack/README.txt")).unwrap();
    let public = std::fs::read_to_string(wd.path("s.key.pub")).unwrap();
    assert!(readme.contains("forget verify --state LEDGER --manifest manifest.json"));
    assert!(readme.contains("SHA256:"), "{readme}");
    assert!(
        !readme.contains(public.trim()),
        "the README names the key by fingerprint"
    );

    // No erased person's key, in any form, in any file of the pack.
    for name in PACK {
        let bytes = std::fs::read(wd.path("pack").join(name)).unwrap();
        let content = String::from_utf8_lossy(&bytes);
        for key in &erased {
            let digits: String = key.chars().filter(char::is_ascii_digit).collect();
            assert!(!content.contains(key.as_str()), "{name} holds {key}");
            if digits.len() > 6 {
                assert!(!content.contains(&digits), "{name} holds {digits}");
            }
        }
    }

    // The paste-able summary names the key that signed the pack and the chain record it pins.
    let fingerprint = manifest["signer"]["fingerprint"].as_str().unwrap();
    let md = wd.run(
        wd.command().args([
            "status",
            "--state",
            LEDGER,
            "--format",
            "md",
            "--manifest",
            "pack/manifest.json",
        ]),
        4,
    );
    let md = text(&md.stdout);
    assert!(
        md.contains(&format!("signed by key `{fingerprint}`")),
        "{md}"
    );
    assert!(md.contains("(the ledger holds it)"), "{md}");

    // One byte of the summary changed is caught.
    let html = wd.path("pack/summary.html");
    let mut bytes = std::fs::read(&html).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x20;
    std::fs::write(&html, bytes).unwrap();
    let verdicts = verify(&wd, 5);
    assert!(
        verdicts.contains("report_file: FAILED") && verdicts.contains("summary.html"),
        "{verdicts}"
    );
}

#[test]
fn a_pack_goes_only_into_a_new_or_empty_folder_and_never_over_the_ledger() {
    let (wd, _) = with_ledger();
    std::fs::create_dir(wd.path("busy")).unwrap();
    wd.write("busy/notes.txt", "mine");
    let out = wd.run(
        wd.command().args(["evidence", "busy", "--state", LEDGER]),
        2,
    );
    assert!(
        text(&out.stderr).contains("not empty"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(wd.path("busy/notes.txt")).unwrap(),
        "mine"
    );
    // Unsigned: written, and its README says so.
    wd.run(
        wd.command()
            .args(["evidence", "empty/pack", "--state", LEDGER]),
        0,
    );
    let readme = std::fs::read_to_string(wd.path("empty/pack/README.txt")).unwrap();
    assert!(readme.contains("NOT signed"), "{readme}");
    assert!(!Path::new(&wd.path("empty/pack/manifest.json.sig")).exists());
}
