//! The one rule every file forget writes obeys (`src/output`): never the ledger or its
//! companions, a link, a device or a pipe, however the path is spelt; `-` is standard
//! output; a folder that does not exist is named.

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{Workdir, text};

/// A ledger `l.db` (and its key file) holding one pending key.
fn with_ledger() -> Workdir {
    let wd = Workdir::new();
    wd.write("r.csv", "key,ticket\nk-1,T1\nk-2,T2\n");
    wd.run(
        wd.command().args([
            "run",
            "r.csv",
            "--dry-run",
            "--state",
            "l.db",
            "--keep-column",
            "ticket",
        ]),
        0,
    );
    assert!(wd.path("l.db.key").is_file());
    wd
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success());
}

/// A character device: as root, a copy of /dev/null made here (so a forget that wrongly
/// replaced it could not harm the machine's own); otherwise /dev/null, which a user cannot
/// replace anyway.
fn a_device(wd: &Workdir) -> PathBuf {
    let here = wd.path("null-device");
    let made = Command::new("mknod")
        .arg(&here)
        .args(["c", "1", "3"])
        .output()
        .is_ok_and(|o| o.status.success());
    if made {
        here
    } else {
        PathBuf::from("/dev/null")
    }
}

fn is_fifo(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_fifo())
}

fn is_device(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_char_device())
}

#[test]
fn reports_never_write_over_the_ledger_its_companions_links_devices_or_pipes() {
    let wd = with_ledger();
    let key = std::fs::read(wd.path("l.db.key")).unwrap();
    wd.write("target.csv", "keep me\n");
    std::os::unix::fs::symlink("target.csv", wd.path("link.csv")).unwrap();
    mkfifo(&wd.path("fifo"));
    std::fs::hard_link(wd.path("l.db"), wd.path("alias.db")).unwrap();
    std::fs::create_dir(wd.path("sub")).unwrap();
    let device = a_device(&wd);
    let device = device.to_str().unwrap();
    let cases = [
        ("l.db", "is the ledger"),
        ("./l.db", "is the ledger"),
        ("alias.db", "is the ledger"),
        ("l.db-wal", "write-ahead log"),
        ("sub/../l.db-wal", "write-ahead log"),
        ("l.db-shm", "shared-memory file"),
        ("l.db-journal", "journal"),
        ("l.db.key", "key file"),
        ("l.db.lock", "lock file"),
        ("link.csv", "symbolic link"),
        ("fifo", "named pipe"),
        (device, "a device"),
    ];
    for (target, why) in cases {
        for flags in [
            vec!["--output", target],
            vec!["--output", "report.csv", "--manifest", target],
        ] {
            let out = wd.run(
                wd.command()
                    .args(["report", "--state", "l.db"])
                    .args(&flags),
                2,
            );
            let stderr = text(&out.stderr);
            assert!(
                stderr.contains(target) && stderr.contains(why),
                "{flags:?}: {stderr}"
            );
        }
    }
    // The same place named twice in one report: the manifest would replace the report.
    let out = wd.run(
        wd.command()
            .args(["report", "--state", "l.db", "--output", "report.csv"])
            .args(["--manifest", "sub/../report.csv"]),
        2,
    );
    assert!(text(&out.stderr).contains("another file this report writes"));
    // A ledger whose name is a split file's: --split refuses it too.
    wd.run(
        wd.command().args([
            "run",
            "r.csv",
            "--dry-run",
            "--state",
            "needs-attention.csv",
        ]),
        0,
    );
    let out = wd.run(
        wd.command()
            .args(["report", "--state", "needs-attention.csv", "--split", "."]),
        2,
    );
    assert!(text(&out.stderr).contains("is the ledger"), "{out:?}");

    // Everything is as it was, and no report file or leftover appeared.
    assert_eq!(std::fs::read(wd.path("l.db.key")).unwrap(), key);
    let status = wd.run(wd.command().args(["status", "--state", "l.db"]), 4);
    assert!(text(&status.stdout).contains("matches this ledger"));
    // A read-only reader may leave an empty write-ahead log and its index behind (SQLite
    // makes them to read a WAL ledger); nothing may be written into either.
    assert!(std::fs::metadata(wd.path("l.db-wal")).map_or(true, |m| m.len() == 0));
    for gone in ["l.db-journal", "report.csv", "succeeded.csv"] {
        assert!(!wd.path(gone).exists(), "{gone} was created");
    }
    assert!(std::fs::symlink_metadata(wd.path("link.csv")).is_ok_and(|m| m.is_symlink()));
    assert_eq!(
        std::fs::read_to_string(wd.path("target.csv")).unwrap(),
        "keep me\n"
    );
    assert!(is_fifo(&wd.path("fifo")), "the FIFO was replaced");
    assert!(is_device(Path::new(device)), "the device was replaced");
    let leftovers: Vec<String> = std::fs::read_dir(wd.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn dash_is_standard_output_and_a_missing_folder_is_named() {
    let wd = with_ledger();
    let out = wd.run(
        wd.command()
            .args(["report", "--state", "l.db", "--output", "-"]),
        0,
    );
    assert!(text(&out.stdout).starts_with("file,line,kind,"));
    assert!(!wd.path("-").exists(), "a file named - was written");

    let out = wd.run(
        wd.command()
            .args(["report", "--state", "l.db", "--output", "report.csv"])
            .args(["--manifest", "-"]),
        0,
    );
    let manifest: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(manifest["report_files"][0]["path"], "report.csv");
    assert!(wd.path("report.csv").is_file() && !wd.path("-").exists());
    // A regular file of its own is replaced by a new report, whole.
    wd.run(
        wd.command()
            .args(["report", "--state", "l.db", "--output", "report.csv"]),
        0,
    );

    let out = wd.run(
        wd.command().args([
            "report",
            "--state",
            "l.db",
            "--output",
            "-",
            "--manifest",
            "-",
        ]),
        2,
    );
    assert!(text(&out.stderr).contains("standard output already carries"));

    let out = wd.run(
        wd.command()
            .args(["report", "--state", "l.db", "--output", "nowhere/r.csv"]),
        2,
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("the folder nowhere does not exist"),
        "{stderr}"
    );
    assert!(!wd.path("nowhere").exists());
}

#[test]
fn list_follows_the_same_rule_and_never_replaces_a_file() {
    let wd = Workdir::new();
    let list = [
        "list",
        "--connector",
        "outreach",
        "--resource",
        "callPurposes",
    ];
    let out = wd.run(
        wd.command()
            .args(list)
            .args(["--simulate", "--output", "-"]),
        0,
    );
    assert!(text(&out.stdout).starts_with("id,"), "{out:?}");
    assert!(!wd.path("-").exists(), "a file named - was written");

    wd.write("ids.csv", "mine\n");
    mkfifo(&wd.path("fifo"));
    for (target, why) in [
        ("ids.csv", "the file exists"),
        ("fifo", "named pipe"),
        ("missing/ids.csv", "the folder missing does not exist"),
    ] {
        let out = wd.run(
            wd.command()
                .args(list)
                .args(["--simulate", "--output", target]),
            2,
        );
        let stderr = text(&out.stderr);
        assert!(stderr.contains(why), "{target}: {stderr}");
    }
    assert_eq!(
        std::fs::read_to_string(wd.path("ids.csv")).unwrap(),
        "mine\n"
    );
    assert!(is_fifo(&wd.path("fifo")));
}

/// The request files a ledger recorded are evidence: a report never replaces one, by the
/// path it was read from, by another name for a copy, or as a split file — the corrected
/// `needs-attention.csv` fed back to `forget run` is the usual case.
#[test]
fn reports_never_write_over_an_input_file_the_ledger_recorded() {
    let wd = Workdir::new();
    let first = "key,ticket\nk-1,T1\nk-2,T2\n";
    wd.write("r.csv", first);
    std::fs::create_dir(wd.path("out")).unwrap();
    let fed_back = "key,ticket\nk-3,T3\n";
    wd.write("out/needs-attention.csv", fed_back);
    for file in ["r.csv", "out/needs-attention.csv"] {
        wd.run(
            wd.command()
                .args(["run", file, "--dry-run", "--state", "l.db"]),
            0,
        );
    }
    std::fs::copy(wd.path("r.csv"), wd.path("copy.csv")).unwrap();
    for flags in [
        &["--output", "r.csv"][..],
        &["--output", "copy.csv"],
        &["--manifest", "r.csv"],
        &["--split", "out"],
    ] {
        let out = wd.run(
            wd.command().args(["report", "--state", "l.db"]).args(flags),
            2,
        );
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("recorded in this ledger"),
            "{flags:?}: {stderr}"
        );
    }
    assert_eq!(std::fs::read_to_string(wd.path("r.csv")).unwrap(), first);
    assert_eq!(std::fs::read_to_string(wd.path("copy.csv")).unwrap(), first);
    assert_eq!(
        std::fs::read_to_string(wd.path("out/needs-attention.csv")).unwrap(),
        fed_back
    );
    // Any other existing file is replaced as before.
    wd.write("old-report.csv", "stale\n");
    wd.run(
        wd.command()
            .args(["report", "--state", "l.db", "--output", "old-report.csv"]),
        0,
    );
    assert!(
        std::fs::read_to_string(wd.path("old-report.csv"))
            .unwrap()
            .starts_with("file,")
    );
}
