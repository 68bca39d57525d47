//! Every command that reports something can print one JSON document for scripts, with
//! `schema_version` and `command`; old spellings (`--json`, `--csv`) still work, with a note.

use crate::common::{Workdir, text};

fn document(out: &std::process::Output, command: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{command}: not one JSON document ({e}): {out:?}"));
    assert_eq!(v["schema_version"], 1, "{command}: {v}");
    assert_eq!(v["command"], command, "{v}");
    v
}

#[test]
fn reporting_commands_print_one_versioned_document() {
    let wd = Workdir::new();
    wd.write(
        "r.csv",
        "key,profile-name\n+447700900001,customers\n,customers\n",
    );
    let state = ["--state", "l.db"];
    wd.run(
        wd.command().args(["run", "r.csv", "--dry-run"]).args(state),
        0,
    );

    let out = wd.run(
        wd.command()
            .args(["invalid", "--format", "json"])
            .args(state),
        0,
    );
    let v = document(&out, "invalid");
    assert_eq!(v["count"], 1);
    assert_eq!(v["rows"][0]["line"], 3);
    assert_eq!(v["rows"][0]["path"], "r.csv");

    let out = wd.run(
        wd.command()
            .args(["verify", "--format", "json"])
            .args(state),
        0,
    );
    let v = document(&out, "verify");
    assert_eq!(v["ok"], true);
    assert!(v["checks"].as_array().is_some_and(|c| c.len() > 5), "{v}");

    let out = wd.run(
        wd.command()
            .args(["purge", "--outcome", "pending", "--yes", "--format", "json"])
            .args(state),
        0,
    );
    let v = document(&out, "purge");
    assert_eq!(
        (&v["result"], &v["keys"]["pending"]),
        (&"purged".into(), &1.into())
    );

    let out = wd.run(
        wd.command()
            .args(["check", "--simulate", "--profile-name", "customers"])
            .args(["--format", "json"]),
        0,
    );
    let v = document(&out, "check");
    assert_eq!(v["ok"], true);
    assert_eq!(v["delete"]["profiles"][0]["profile_name"], "customers");

    let out = wd.run(
        wd.command()
            .args(["check", "--simulate", "--profile-name", "nosuchprofile"])
            .args(["--format", "json"]),
        2,
    );
    assert_eq!(
        document(&out, "check")["delete"]["profiles"][0]["ok"],
        false
    );

    let out = wd
        .command()
        .args([
            "resolve",
            "--outcome",
            "invalid",
            "--reason",
            "blank key: returned",
        ])
        .args(["--format", "json"])
        .args(state)
        .output()
        .unwrap();
    let v = document(&out, "resolve");
    assert_eq!(
        (&v["requests"][0]["was"], &v["requests"][0]["resolved"]),
        (&"invalid".into(), &true.into()),
        "{v}"
    );
    assert_eq!(v["counts"]["resolved"], 1, "{v}");

    // The old spelling still works, and says what replaces it.
    let out = wd.run(wd.command().args(["verify", "--json"]).args(state), 0);
    document(&out, "verify");
    assert!(
        text(&out.stderr).contains("--json is deprecated")
            && text(&out.stderr).contains("--format json"),
        "{out:?}"
    );
    // A format a command does not print is refused, naming the ones it does.
    let out = wd.run(
        wd.command()
            .args(["invalid", "--format", "csv"])
            .args(state),
        2,
    );
    assert!(text(&out.stderr).contains("text, json"), "{out:?}");
}

#[test]
fn a_run_prints_its_summary_as_one_document() {
    let wd = Workdir::new();
    wd.write("r.csv", "key\n+447700900001\n+447700900002\n\n");
    let out = wd.run(
        wd.command()
            .args(["run", "r.csv", "--dry-run", "--format", "json"]),
        0,
    );
    let v = document(&out, "run");
    assert_eq!((&v["dry_run"], &v["to_send"]), (&true.into(), &2.into()));
    assert_eq!(v["input"]["rows"], 2);
    assert_eq!(v["would_send"]["per_scope"][0][1], 2);
    assert!(
        !text(&out.stdout).contains("+447700900001"),
        "a plaintext key"
    );

    let out = wd.run(
        wd.command()
            .args(["run", "r.csv", "--simulate", "--format", "json"]),
        0,
    );
    let v = document(&out, "run");
    assert_eq!(
        (&v["this_run"]["deleted"], &v["exit_code"]),
        (&2.into(), &0.into())
    );
    assert_eq!(v["requests"]["people"], 2);
}
