//! Standard output closed by its reader (`forget invalid | head -1`) or full (`>/dev/full`):
//! a closed pipe ends the command quietly, a full disk is exit 1 naming standard output;
//! never a panic.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::common::{Workdir, text};

/// `n` keys and `n` invalid rows (blank keys), recorded by a dry run into `l.db`; `keys.txt`
/// holds the keys, one a line, for `lookup -`.
fn with_ledger(n: usize) -> Workdir {
    let wd = Workdir::new();
    let mut csv = String::from("key,note\n");
    let mut keys = String::new();
    for i in 0..n {
        csv.push_str(&format!("key-{i:06},x\n,blank {i}\n"));
        keys.push_str(&format!("key-{i:06}\n"));
    }
    wd.write("r.csv", csv);
    wd.write("keys.txt", keys);
    wd.write("subjects.csv", "key\n+447700900123\n");
    let out = wd
        .command()
        .args(["run", "r.csv", "--dry-run", "--state", "l.db"])
        .output()
        .unwrap();
    assert!(out.status.code().is_some(), "{out:?}");
    wd
}

/// A pipe whose reader is already gone: the first write gets EPIPE.
fn closed_pipe() -> Stdio {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    Stdio::from(writer)
}

/// The commands that print, as run against `with_ledger`'s work directory.
fn printing_commands(wd: &Workdir) -> Vec<(&'static str, Command)> {
    let ledger = ["--state", "l.db"];
    let mut cmds = Vec::new();
    let mut add = |name, args: &[&str], stdin: Option<&str>| {
        let mut cmd = wd.command();
        cmd.args(args);
        if let Some(file) = stdin {
            cmd.stdin(std::fs::File::open(wd.path(file)).unwrap());
        }
        cmds.push((name, cmd));
    };
    add("status", &[&["status"][..], &ledger].concat(), None);
    add("invalid", &[&["invalid"][..], &ledger].concat(), None);
    add("report", &[&["report"][..], &ledger].concat(), None);
    add(
        "lookup",
        &[&["lookup", "-"][..], &ledger].concat(),
        Some("keys.txt"),
    );
    add(
        "run",
        &[&["run", "r.csv", "--dry-run"][..], &ledger].concat(),
        None,
    );
    add(
        "purge",
        &[&["purge", "--outcome", "invalid", "--yes"][..], &ledger].concat(),
        None,
    );
    add("check", &["check", "--simulate"], None);
    add("inventory", &["inventory", "--simulate"], None);
    add(
        "list",
        &[
            "list",
            "--connector",
            "outreach",
            "--resource",
            "callPurposes",
            "--simulate",
        ],
        None,
    );
    add(
        "access",
        &[
            "access",
            "subjects.csv",
            "--out-dir",
            "exports",
            "--dry-run",
        ],
        None,
    );
    cmds
}

#[test]
fn a_closed_stdout_ends_a_command_quietly() {
    let wd = with_ledger(20_000);
    // Closed before the command writes anything.
    for (name, mut cmd) in printing_commands(&wd) {
        if !["status", "invalid", "report", "lookup"].contains(&name) {
            continue;
        }
        let out = cmd.stdout(closed_pipe()).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{name}: {out:?}");
        assert_eq!(text(&out.stderr), "", "{name}: nothing to say");
    }
    // Closed after one line, while the command streams megabytes.
    for (name, mut cmd) in printing_commands(&wd) {
        if !["invalid", "report", "lookup"].contains(&name) {
            continue;
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        assert!(!first.is_empty(), "{name}");
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{name}: {out:?}");
        assert_eq!(text(&out.stderr), "", "{name}: nothing to say");
    }
    // A command that has decided its exit code before it prints keeps it: an id no
    // endpoint knows makes `inventory` exit 4.
    let out = wd
        .command()
        .args(["inventory", "--simulate", "--target-group", "no-such-group"])
        .stdout(closed_pipe())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    assert_eq!(text(&out.stderr), "");
}

#[test]
fn a_full_stdout_is_exit_1_naming_it_never_a_panic() {
    let wd = with_ledger(3);
    for (name, mut cmd) in printing_commands(&wd) {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let out = cmd.stdout(full).output().unwrap();
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        assert!(
            stderr.contains("standard output: ") && !stderr.contains("panicked"),
            "{name}: {stderr}"
        );
    }
}
