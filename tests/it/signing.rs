//! Signed evidence: `forget keygen`, `forget report --sign-key` and
//! `forget verify --manifest`. A signed pack verifies with the expected key and only with it;
//! one byte edited in a report file, an edited manifest, a missing file and another key are
//! each caught by the check that names them; a read-only copy verifies without a write.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;

use serde_json::Value;

use crate::common::{Workdir, text};

const LEDGER: &str = "forget-simulate.db";

/// A ledger made by a simulated run: erased and not-held keys, and one blank key (invalid,
/// so needs-attention.csv has a row).
fn with_ledger() -> Workdir {
    let wd = Workdir::new();
    wd.write(
        "r.csv",
        "key,ticket\n+447700900001,T1\n+447700900002,T2\nann@example.com,T3\n,T4\n",
    );
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
    wd
}

/// `forget keygen FILE`; returns the fingerprint it printed.
fn keygen(wd: &Workdir, file: &str) -> String {
    let out = wd.run(wd.command().args(["keygen", file, "--format", "json"]), 0);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let public = std::fs::read_to_string(wd.path(&format!("{file}.pub"))).unwrap();
    assert_eq!(public.trim_end(), doc["public_key"], "{doc}");
    doc["fingerprint"].as_str().unwrap().to_owned()
}

/// A key pair `s.key`, and a pack in `pack/`: report.csv, the split files, and
/// manifest.json signed with it. Returns the key's fingerprint.
fn signed_pack(wd: &Workdir) -> String {
    let fingerprint = keygen(wd, "s.key");
    std::fs::create_dir(wd.path("pack")).unwrap();
    let out = wd.run(
        wd.command().args([
            "report",
            "--state",
            LEDGER,
            "--output",
            "pack/report.csv",
            "--split",
            "pack/split",
            "--manifest",
            "pack/manifest.json",
            "--sign-key",
            "s.key",
        ]),
        0,
    );
    assert!(text(&out.stderr).contains(&fingerprint), "{out:?}");
    fingerprint
}

fn verify(wd: &Workdir, extra: &[&str], want: i32) -> Output {
    wd.run(
        wd.command()
            .args([
                "verify",
                "--state",
                LEDGER,
                "--manifest",
                "pack/manifest.json",
            ])
            .args(extra),
        want,
    )
}

/// The verdict lines of `check`, from `forget verify`'s text.
fn lines<'a>(out: &'a str, check: &str) -> Vec<&'a str> {
    out.lines()
        .filter(|l| l.starts_with(&format!("{check}: ")))
        .collect()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn keygen_writes_a_private_key_pair_and_never_over_a_key_or_the_ledger() {
    let wd = with_ledger();
    let fingerprint = keygen(&wd, "s.key");
    assert!(fingerprint.starts_with("SHA256:"), "{fingerprint}");
    assert_eq!(mode(&wd.path("s.key")), 0o600);
    let secret = std::fs::read(wd.path("s.key")).unwrap();
    let public = std::fs::read(wd.path("s.key.pub")).unwrap();
    assert!(secret.starts_with(b"forget-ed25519-secret-key v1 "));
    assert!(public.starts_with(b"forget-ed25519-public-key v1 "));
    let out = wd.run(wd.command().args(["keygen", "t.key"]), 0);
    let said = text(&out.stdout);
    assert!(said.contains("fingerprint:  SHA256:"), "{said}");
    assert!(
        said.contains("public key:   forget-ed25519-public-key v1 "),
        "{said}"
    );

    // Never over an existing key, nor beside a public key left alone.
    let out = wd.run(wd.command().args(["keygen", "s.key"]), 2);
    assert!(
        text(&out.stderr).contains("never replaces a key"),
        "{out:?}"
    );
    std::fs::rename(wd.path("t.key"), wd.path("t-moved.key")).unwrap();
    wd.run(wd.command().args(["keygen", "t.key"]), 2);
    assert!(!wd.path("t.key").exists());
    assert_eq!(std::fs::read(wd.path("s.key")).unwrap(), secret);
    assert_eq!(std::fs::read(wd.path("s.key.pub")).unwrap(), public);
    // A secret key others can read is used, with a warning, as the ledger's key file is.
    std::fs::set_permissions(wd.path("s.key"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = wd.run(
        wd.command()
            .args(["report", "--state", LEDGER, "--output", "out.csv"])
            .args(["--manifest", "m.json", "--sign-key", "s.key"]),
        0,
    );
    assert!(
        text(&out.stderr).contains("the signing key file s.key can be read by other users"),
        "{out:?}"
    );
    assert!(wd.path("m.json.sig").is_file());
    let replaced = keygen_forced(&wd, "s.key");
    assert_ne!(replaced, fingerprint);
    assert_ne!(std::fs::read(wd.path("s.key")).unwrap(), secret);

    // Never over the ledger, its companions or its key file, even with --force.
    let ledger_key = std::fs::read(wd.path(&format!("{LEDGER}.key"))).unwrap();
    for (file, what) in [
        (format!("{LEDGER}.key"), "the ledger's key file"),
        (LEDGER.to_owned(), "is the ledger"),
        (format!("{LEDGER}-wal"), "write-ahead log"),
    ] {
        let out = wd.run(
            wd.command()
                .args(["keygen", &file, "--force", "--state", LEDGER]),
            2,
        );
        assert!(text(&out.stderr).contains(what), "{file}: {out:?}");
    }
    assert_eq!(
        std::fs::read(wd.path(&format!("{LEDGER}.key"))).unwrap(),
        ledger_key
    );
    wd.run(wd.command().args(["status", "--state", LEDGER]), 4);
}

fn keygen_forced(wd: &Workdir, file: &str) -> String {
    let out = wd.run(
        wd.command()
            .args(["keygen", file, "--force", "--format", "json"]),
        0,
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    doc["fingerprint"].as_str().unwrap().to_owned()
}

#[test]
fn a_signed_manifest_verifies_with_the_expected_key_and_only_with_it() {
    let wd = with_ledger();
    let fingerprint = signed_pack(&wd);
    let sig = std::fs::read_to_string(wd.path("pack/manifest.json.sig")).unwrap();
    assert!(
        sig.starts_with(&format!("forget-ed25519-signature v1 {fingerprint} ")),
        "{sig}"
    );
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(wd.path("pack/manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["signer"]["fingerprint"], fingerprint.as_str());
    assert!(manifest.get("chain_head").is_some(), "{manifest}");
    let files = manifest["report_files"].as_array().unwrap();
    assert_eq!(files.len(), 4);
    assert_eq!(files[1]["relative_path"], "split/succeeded.csv");

    // With the public key file, or its fingerprint: every check passes.
    for key in ["s.key.pub", fingerprint.as_str()] {
        let out = verify(&wd, &["--public-key", key], 0);
        let said = text(&out.stdout);
        assert_eq!(lines(&said, "report_file").len(), 4, "{said}");
        assert!(!said.contains("FAILED"), "{said}");
        assert!(
            said.contains(&format!(
                "manifest_signer: ok: the key you expect, {fingerprint}"
            )),
            "{said}"
        );
    }
    let out = verify(&wd, &["--public-key", "s.key.pub", "--format", "json"], 0);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["ok"], true);
    assert_eq!(doc["manifest"]["signer"], fingerprint.as_str());
    let checks: Vec<&str> = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["check"].as_str().unwrap())
        .collect();
    for want in [
        "sqlite_quick_check",
        "manifest_signature",
        "manifest_signer",
        "report_file",
        "manifest_chain_head",
        "manifest_counts",
    ] {
        assert!(checks.contains(&want), "{want}: {checks:?}");
    }

    // Without a key of the auditor's own, the signature shows integrity only: not a pass.
    let out = verify(&wd, &[], 5);
    let said = text(&out.stdout);
    assert!(
        lines(&said, "manifest_signature")[0].contains(": ok: "),
        "{said}"
    );
    let signer = lines(&said, "manifest_signer")[0];
    assert!(signer.contains("FAILED: not checked"), "{said}");
    assert!(signer.contains("integrity"), "{signer}");

    // Another key, as a file or a fingerprint, fails.
    let other = keygen(&wd, "other.key");
    let out = verify(&wd, &["--public-key", "other.key.pub"], 5);
    let said = text(&out.stdout);
    assert!(
        lines(&said, "manifest_signature")[0].contains("FAILED"),
        "{said}"
    );
    assert!(
        lines(&said, "manifest_signer")[0].contains("FAILED"),
        "{said}"
    );
    let out = verify(&wd, &["--public-key", &other], 5);
    let said = text(&out.stdout);
    assert!(
        lines(&said, "manifest_signer")[0].contains(&format!("not by the key you expect, {other}")),
        "{said}"
    );

    // A wrong file for a key is refused by name; --sign-key needs --manifest.
    let out = wd.run(
        wd.command()
            .args([
                "verify",
                "--state",
                LEDGER,
                "--manifest",
                "pack/manifest.json",
            ])
            .args(["--public-key", "s.key"]),
        2,
    );
    assert!(
        text(&out.stderr).contains("is a forget secret signing key, not a forget public key"),
        "{out:?}"
    );
    let out = wd.run(
        wd.command()
            .args(["report", "--state", LEDGER, "--output", "x.csv"])
            .args(["--sign-key", "s.key.pub", "--manifest", "x.json"]),
        2,
    );
    assert!(
        text(&out.stderr).contains("is a forget public key"),
        "{out:?}"
    );
    wd.run(
        wd.command()
            .args(["report", "--state", LEDGER, "--sign-key", "s.key"]),
        2,
    );
    assert!(!wd.path("x.csv").exists() && !wd.path("x.json").exists());
}

#[test]
fn one_byte_edited_in_a_report_file_is_caught_by_its_hash() {
    let wd = with_ledger();
    signed_pack(&wd);
    let path = wd.path("pack/split/needs-attention.csv");
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 2;
    bytes[last] ^= 0x01;
    std::fs::write(&path, bytes).unwrap();
    let out = verify(&wd, &["--public-key", "s.key.pub"], 5);
    let said = text(&out.stdout);
    let files = lines(&said, "report_file");
    let failed: Vec<&&str> = files.iter().filter(|l| l.contains("FAILED")).collect();
    assert_eq!(failed.len(), 1, "{said}");
    assert!(
        failed[0].contains("split/needs-attention.csv: its SHA-256 is"),
        "{said}"
    );
    // The manifest itself is intact: its signature still holds.
    assert!(
        lines(&said, "manifest_signature")[0].contains(": ok"),
        "{said}"
    );
}

#[test]
fn an_edited_manifest_is_caught_by_the_signature() {
    let wd = with_ledger();
    signed_pack(&wd);
    // A report file changed, and the manifest's hash changed to match: the files agree
    // with the manifest, but the manifest is no longer the one signed.
    let report = wd.path("pack/report.csv");
    let old = sha256_hex(&std::fs::read(&report).unwrap());
    let mut edited = std::fs::read(&report).unwrap();
    edited.extend_from_slice(b"extra,row\n");
    std::fs::write(&report, &edited).unwrap();
    let manifest = wd.path("pack/manifest.json");
    let text_before = std::fs::read_to_string(&manifest).unwrap();
    let forged = text_before.replace(&old, &sha256_hex(&edited));
    assert_ne!(forged, text_before);
    std::fs::write(&manifest, forged).unwrap();
    let out = verify(&wd, &["--public-key", "s.key.pub"], 5);
    let said = text(&out.stdout);
    assert!(
        lines(&said, "manifest_signature")[0].contains("FAILED: the signature is not valid"),
        "{said}"
    );
    assert!(
        lines(&said, "manifest_signer")[0].contains("FAILED"),
        "{said}"
    );
    assert!(
        !lines(&said, "report_file")
            .iter()
            .any(|l| l.contains("FAILED")),
        "{said}"
    );
}

#[test]
fn a_missing_listed_file_fails() {
    let wd = with_ledger();
    signed_pack(&wd);
    std::fs::remove_file(wd.path("pack/split/resolved.csv")).unwrap();
    let out = verify(&wd, &["--public-key", "s.key.pub"], 5);
    let said = text(&out.stdout);
    let failed: Vec<&str> = lines(&said, "report_file")
        .into_iter()
        .filter(|l| l.contains("FAILED"))
        .collect();
    assert_eq!(failed.len(), 1, "{said}");
    assert!(failed[0].contains("split/resolved.csv: missing"), "{said}");
}

#[test]
fn a_signed_pack_verifies_on_a_read_only_copy() {
    let wd = with_ledger();
    signed_pack(&wd);
    // The auditor's copy: the pack and the ledger in one folder, every write bit off.
    let copy = wd.path("copy");
    std::fs::create_dir(&copy).unwrap();
    // The ledger whole in its one file, as a backup copies it.
    rusqlite::Connection::open(wd.path(LEDGER))
        .unwrap()
        .pragma_update(None, "wal_checkpoint", "TRUNCATE")
        .unwrap();
    copy_tree(&wd.path("pack"), &copy.join("pack"));
    std::fs::copy(wd.path(LEDGER), copy.join(LEDGER)).unwrap();
    std::fs::copy(wd.path("s.key.pub"), copy.join("s.key.pub")).unwrap();
    let before = listing(&copy);
    set_modes(&copy, 0o555, 0o444);
    let out = wd.run(
        wd.command().current_dir(&copy).args([
            "verify",
            "--state",
            LEDGER,
            "--manifest",
            "pack/manifest.json",
            "--public-key",
            "s.key.pub",
        ]),
        0,
    );
    set_modes(&copy, 0o755, 0o644);
    assert!(!text(&out.stdout).contains("FAILED"), "{out:?}");
    // Nothing written: every file as it was. As root, where the bits stop nothing, SQLite may
    // still make the ledger's -wal and -shm to read it; nothing else may appear.
    let after: Vec<(String, Vec<u8>)> = listing(&copy)
        .into_iter()
        .filter(|(name, _)| !name.ends_with("-wal") && !name.ends_with("-shm"))
        .collect();
    assert_eq!(after, before);
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}

/// Every file under `dir` (relative name, contents), sorted.
fn listing(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let name = path.strip_prefix(dir).unwrap().display().to_string();
                out.push((name, std::fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// Folders to `dirs`, files to `files`, the folders last going down and first coming up.
fn set_modes(dir: &Path, dirs: u32, files: u32) {
    let set =
        |p: &Path, m: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    if dirs & 0o200 != 0 {
        set(dir, dirs);
    }
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            set_modes(&path, dirs, files);
        } else {
            set(&path, files);
        }
    }
    if dirs & 0o200 == 0 {
        set(dir, dirs);
    }
}

/// Run `edit` on the ledger (a chain record altered, its head removed).
fn edit_chain(db: &Path, edit: &str) {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.execute_batch(edit).unwrap();
}

#[test]
fn the_manifest_pins_the_chain_head_and_verify_holds_the_ledger_to_it() {
    let wd = with_ledger();
    signed_pack(&wd);
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(wd.path("pack/manifest.json")).unwrap()).unwrap();
    let seq = manifest["chain_head"]["seq"]
        .as_i64()
        .expect("a pinned head");
    assert_eq!(
        manifest["chain_head"]["hash"].as_str().map(str::len),
        Some(64),
        "{manifest}"
    );
    let out = verify(&wd, &["--public-key", "s.key.pub"], 0);
    let said = text(&out.stdout);
    assert!(
        lines(&said, "manifest_chain_head")[0]
            .contains(&format!("ok: record {seq} is the one pinned")),
        "{said}"
    );

    // The record the manifest pinned hashes otherwise: history was changed.
    let set = format!("UPDATE chain_marks SET hash = zeroblob(32) WHERE seq = {seq};");
    edit_chain(&wd.path(LEDGER), &set);
    let out = verify(&wd, &["--public-key", "s.key.pub"], 5);
    let said = text(&out.stdout);
    assert!(
        lines(&said, "manifest_chain_head")[0].contains("history was changed"),
        "{said}"
    );

    // No chain at all: a ledger that cannot be checked against the pinned head fails.
    edit_chain(
        &wd.path(LEDGER),
        "DELETE FROM meta WHERE name = 'chain_head';",
    );
    let out = verify(&wd, &["--public-key", "s.key.pub"], 5);
    let said = text(&out.stdout);
    assert!(
        lines(&said, "manifest_chain_head")[0].contains("FAILED: the manifest pins record"),
        "{said}"
    );
}

#[test]
fn counts_that_no_longer_match_the_ledger_are_named() {
    let wd = with_ledger();
    signed_pack(&wd);
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(wd.path("pack/manifest.json")).unwrap()).unwrap();
    wd.write("more.csv", "key\n+447700900099\n");
    wd.run(
        wd.command()
            .args(["run", "more.csv", "--simulate", "--rate", "unlimited"]),
        4,
    );
    if manifest["chain_head"].is_null() {
        // Nothing shows the ledger only grew: its counts are not the manifest's.
        let out = verify(&wd, &["--public-key", "s.key.pub"], 5);
        let said = text(&out.stdout);
        let counts = lines(&said, "manifest_counts")[0];
        assert!(counts.contains("FAILED"), "{said}");
        assert!(counts.contains("total 3 then, 4 now"), "{counts}");
    } else {
        // The chain shows the ledger grew past the pinned head: the new counts are named.
        let out = verify(&wd, &["--public-key", "s.key.pub"], 0);
        assert!(text(&out.stdout).contains("the ledger grew by"), "{out:?}");
    }
}
