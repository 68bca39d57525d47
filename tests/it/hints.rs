//! Every command a hint of `access`, `status` and the audit commands prints works as
//! printed: it names the ledger (`--state`) when it is not the default one.

use crate::common::{Workdir, repo_path, text};
use forget::error::exit;

/// The `forget …` commands quoted in `out` (between backticks).
fn hinted(out: &str) -> Vec<Vec<String>> {
    out.split('`')
        .skip(1)
        .step_by(2)
        .filter(|s| s.starts_with("forget "))
        .map(|s| s.split_whitespace().skip(1).map(String::from).collect())
        .collect()
}

/// Run each hinted command as printed: none may be refused or find no ledger.
fn run_each(wd: &Workdir, out: &str, want: usize) {
    let commands = hinted(out);
    assert_eq!(commands.len(), want, "{commands:?} in {out}");
    for args in commands {
        let done = wd.command().args(&args).output().unwrap();
        let code = done.status.code();
        assert!(
            matches!(code, Some(0) | Some(4)),
            "`forget {}` exit {code:?}: {}",
            args.join(" "),
            text(&done.stderr)
        );
        assert!(!text(&done.stderr).contains("no ledger here"), "{args:?}");
    }
}

#[test]
fn access_and_status_hints_work_as_printed() {
    let wd = Workdir::new();
    let sample = repo_path("samples/access-requests.csv");
    let out = wd.run(
        wd.command().arg("access").arg(&sample).args([
            "--out-dir",
            "exports",
            "--simulate",
            "--rate",
            "unlimited",
            "--received-column",
            "received",
        ]),
        exit::INCOMPLETE,
    );
    // The documents (report) and the invalid row (invalid).
    run_each(&wd, &text(&out.stdout), 2);
    // The sample's requests were received in April: all exported late.
    let out = wd.run(
        wd.command()
            .args(["status", "--state", "forget-access-simulate.db"]),
        exit::INCOMPLETE,
    );
    // The deadlines list, and the three ways to end the open invalid row (list it, fix
    // and feed it back, resolve it).
    run_each(&wd, &text(&out.stdout), 4);

    wd.write(
        "in.csv",
        "key,received\nold.person@example.com,2020-01-10\n",
    );
    wd.run(
        wd.command().args([
            "run",
            "in.csv",
            "--simulate",
            "--received-column",
            "received",
        ]),
        exit::OK,
    );
    let out = wd.run(
        wd.command()
            .args(["status", "--state", "forget-simulate.db"]),
        exit::OK,
    );
    run_each(&wd, &text(&out.stdout), 1);
    let out = wd.run(
        wd.command().args([
            "lookup",
            "old.person@example.com",
            "--state",
            "forget-simulate.db",
        ]),
        exit::OK,
    );
    run_each(&wd, &text(&out.stderr), 1);
}

#[test]
fn a_missing_ledger_names_the_ones_beside_it() {
    let wd = Workdir::new();
    wd.write("in.csv", "key,ticket\n,T-1\n");
    wd.run(
        wd.command().args(["run", "in.csv", "--simulate"]),
        exit::INCOMPLETE,
    );
    let out = wd.run(wd.command().arg("invalid"), exit::USAGE);
    let err = text(&out.stderr);
    assert!(err.contains("--state forget-simulate.db"), "{err}");
    let out = wd.run(
        wd.command()
            .args(["invalid", "--state", "forget-simulate.db"]),
        exit::OK,
    );
    assert!(
        text(&out.stdout).contains("in.csv:2"),
        "{}",
        text(&out.stdout)
    );
}
