//! Black-box tests of the `forget` binary.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use crate::common::{
    Fixture, TOKEN, Workdir, assert_deleted_by_one_request, assert_sent_until_final_only,
    forget_in, keys, ledger_units, repo_path, text, wait_for,
};

#[test]
fn the_sample_runs_end_to_end_against_the_simulator_and_resumes() {
    let wd = Workdir::new();
    let sample = repo_path("samples/erasure-requests.csv");
    let out = wd.run(
        wd.command()
            .arg("run")
            .arg(&sample)
            .arg("--simulate")
            .args(["--rate", "unlimited", "--concurrency", "16"]),
        4,
    );
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("1 invalid row: `forget invalid --state forget-simulate.db` lists them"),
        "{stdout}"
    );
    let out = wd.run(
        wd.command()
            .args(["status", "--json", "--state", "forget-simulate.db"]),
        4,
    );
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let fields: Vec<&str> = status
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut want = vec![
        "schema_version",
        "command",
        "deadlines",
        "total",
        "deleted",
        "not_found",
        "rejected",
        "failed",
        "pending",
        "invalid",
        "duplicates",
        "requests",
    ];
    want.sort();
    let mut got = fields.clone();
    got.sort();
    assert_eq!(got, want);
    let n = |f: &str| status[f].as_u64().unwrap();
    assert_eq!(n("invalid"), 1);
    assert_eq!(n("duplicates"), 6);
    assert_eq!(n("pending") + n("failed") + n("rejected"), 0);
    assert_eq!(n("deleted") + n("not_found"), n("total"));
    assert!(n("deleted") > 800 && n("not_found") > 50, "{status}");

    // The invalid row is listed with file, line and reason.
    let out = wd.run(
        wd.command()
            .args(["invalid", "--state", "forget-simulate.db"]),
        0,
    );
    assert!(
        text(&out.stdout).contains("erasure-requests.csv:402: blank key"),
        "{}",
        text(&out.stdout)
    );

    // Running again sends nothing.
    let out = wd.run(wd.command().arg("run").arg(&sample).arg("--simulate"), 4);
    assert!(
        text(&out.stdout).contains("sent 0 keys"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn usage_errors_exit_2_with_a_helpful_message() {
    let wd = Workdir::new();
    let csv = wd.write("in.csv", "email\na@example.com\n");
    let out = wd.run(
        wd.command()
            .args(["run", "in.csv", "--base-url", "https://acme.example.com"]),
        2,
    );
    assert!(
        text(&out.stderr).contains("WEBEX_CAMPAIGN_TOKEN"),
        "{}",
        text(&out.stderr)
    );
    let out = wd.run(
        wd.command()
            .args(["run", "in.csv", "--base-url", "http://acme.example.com"])
            .env("WEBEX_CAMPAIGN_TOKEN", "t"),
        2,
    );
    assert!(text(&out.stderr).contains("unencrypted"));
    let out = wd.run(wd.command().arg("run").arg(&csv).arg("--dry-run"), 2);
    assert!(
        text(&out.stderr).contains("no `key` column; the columns found are: `email`"),
        "{}",
        text(&out.stderr)
    );
    let out = wd.run(wd.command().args(["run", "missing.csv", "--dry-run"]), 2);
    assert!(text(&out.stderr).contains("missing.csv: no such file"));
    let out = wd.run(
        wd.command()
            .args(["run", "in.csv", "--dry-run", "--rate", "fast"]),
        2,
    );
    assert!(text(&out.stderr).contains("not a rate"));
    wd.run(wd.command().args(["status", "--state", "nothing.db"]), 2);
}

#[test]
fn dry_run_counts_what_would_be_sent() {
    let wd = Workdir::new();
    wd.write(
        "in.csv",
        "key\na@example.com\nb@example.com\na@example.com\n  \n",
    );
    let out = wd.run(
        wd.command()
            .args(["run", "in.csv", "--dry-run", "--profile-name", "customers"])
            .args(["--exparam", "exparam1=BATCH-7"]),
        0,
    );
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("input: 4 rows recorded (2 new keys, 1 duplicate row, 1 invalid row)"),
        "{stdout}"
    );
    assert!(stdout.contains("would send                  2"), "{stdout}");
    assert!(stdout.contains("invalid rows                1"), "{stdout}");
    // What would be sent: totals per profile, then the first requests, keys masked.
    assert!(
        stdout.contains("would send, per profile:\n  customers"),
        "{stdout}"
    );
    assert!(
        stdout.contains("the first 2 of 2, in sending order (keys masked):")
            && stdout.contains("a***@e***.com  profile customers  exparam1=BATCH-7"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("a@example.com"),
        "a key in plaintext: {stdout}"
    );
}

#[test]
fn the_token_never_reaches_the_ledger_or_the_output() {
    let wd = Workdir::new();
    let sim_out = wd
        .command()
        .args([
            "sim",
            "--listen",
            "127.0.0.1:0",
            "--token",
            "SECRET-TOKEN-abc123",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut sim = KillOnDrop(sim_out);
    let mut line = String::new();
    let mut sim_out = BufReader::new(sim.0.stdout.as_mut().unwrap());
    sim_out.read_line(&mut line).unwrap();
    let url = line.trim().rsplit(' ').next().unwrap().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{line}");
    // The simulator says which token it takes (its own, a rehearsal's), and how to use it.
    let mut second = String::new();
    sim_out.read_line(&mut second).unwrap();
    assert!(
        second.starts_with("token: SECRET-TOKEN-abc123 ") && second.contains(&url),
        "{second}"
    );
    wd.write("in.csv", "key\na@example.com\n");
    wd.write("token", "SECRET-TOKEN-abc123\n");
    let out = wd.run(
        wd.command().args([
            "run",
            "in.csv",
            "--base-url",
            &url,
            "--token-file",
            "token",
            "-vv",
        ]),
        0,
    );
    for p in ["forget.db", "forget.db-wal"] {
        if let Ok(bytes) = std::fs::read(wd.path(p)) {
            assert!(
                !String::from_utf8_lossy(&bytes).contains("SECRET-TOKEN"),
                "{p}"
            );
            assert!(
                !String::from_utf8_lossy(&bytes).contains("a@example.com"),
                "{p} keeps an erased key"
            );
        }
    }
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        !all.contains("SECRET-TOKEN") && !all.contains("a@example.com"),
        "{all}"
    );
    // Log fields read as values, not as Rust's debug forms.
    assert!(
        all.contains("status=200") && !all.contains("Some("),
        "{all}"
    );
}

/// Ctrl-C mid-send: dispatching stops, the requests in flight land and are recorded — every
/// request the simulator answered is an attempt in the ledger — and the run exits 130; the
/// next run finishes the rest, sending no finished key again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupt_exits_130_and_the_next_run_resumes() {
    let held = keys("k", 300);
    let fx = Fixture::new(&held, |c| {
        // Answers take a while, so requests are in flight when the signal comes.
        c.latency = Duration::from_millis(50);
        c.record_bodies = false;
    })
    .await;
    fx.csv("in.csv", &held);
    fx.write("token", TOKEN);
    let url = fx.handle.url();
    let run = || {
        let mut cmd = forget_in(fx.dir.path());
        cmd.args(["run", "in.csv", "--base-url", &url, "--token-file", "token"])
            .args(["--no-preflight", "--rate", "200", "--concurrency", "8"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    };
    let child = run().spawn().unwrap();
    let sim = fx.sim.clone();
    wait_for("40 requests", Duration::from_secs(60), || {
        sim.stats().requests >= 40
    })
    .await;
    let in_flight = held
        .iter()
        .flat_map(|k| fx.sim.history("customers", k))
        .filter(|r| !r.delivered)
        .count();
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
    assert!(in_flight > 0, "no request was in flight at the signal");

    // Every request sent got its answer (none was cut off), and each is in the ledger.
    let requests = fx.sim.stats().requests;
    assert!(requests < 300, "the signal came after the work was done");
    let units = ledger_units(&fx.path("forget.db"), &fx.path("forget.db.key"), &held);
    for k in &held {
        let history = fx.sim.history("customers", k);
        assert!(history.iter().all(|r| r.delivered), "{k}: {history:?}");
        let recorded = units.get(k).map_or(0, |u| u.attempts);
        assert_eq!(recorded, history.len() as i64, "{k}: {history:?}");
    }
    let attempts = rusqlite::Connection::open(fx.path("forget.db"))
        .unwrap()
        .query_row("SELECT count(*) FROM attempts", [], |r| r.get::<_, i64>(0))
        .unwrap();
    assert_eq!(attempts as u64, requests);
    let status = |fx: &Fixture| {
        let out = forget_in(fx.dir.path())
            .args(["status", "--json"])
            .output()
            .unwrap();
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let after_interrupt = status(&fx);
    assert_eq!(after_interrupt["deleted"].as_u64(), Some(requests));
    assert_eq!(
        after_interrupt["pending"].as_u64(),
        Some(300 - requests),
        "{after_interrupt}"
    );

    let mut resume = run();
    let out = tokio::task::spawn_blocking(move || resume.output())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(status(&fx)["pending"].as_u64(), Some(0));
    for k in &held {
        assert_deleted_by_one_request(&fx.sim, k);
    }
    assert_sent_until_final_only(&fx.sim);
}

#[test]
fn help_teaches() {
    let wd = Workdir::new();
    let out = wd.run(wd.command().args(["run", "--help"]), 0);
    let help = text(&out.stdout);
    for want in [
        "--key-column",
        "--exparam",
        "--base-url",
        "--token-file",
        "--rate",
        "--dry-run",
        "--simulate",
        "--retry-rejected",
        "WEBEX_CAMPAIGN_TOKEN",
    ] {
        assert!(help.contains(want), "run --help lacks {want}");
    }
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `--rate 0` once meant "no limit": refused now, and `unlimited` against a tenant needs
/// `--allow-unlimited` (nothing is sent, no ledger made, before the refusal).
#[test]
fn a_flood_must_be_asked_for_by_name() {
    let wd = Workdir::new();
    wd.write("r.csv", "key\n+447700900001\n");
    wd.write("token", "t0ken\n");
    std::fs::set_permissions(
        wd.path("token"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let out = wd.run(
        wd.command()
            .args(["run", "r.csv", "--simulate", "--rate", "0"]),
        2,
    );
    assert!(
        text(&out.stderr).contains("a rate of 0 would send nothing"),
        "{out:?}"
    );
    let out = wd.run(
        wd.command().args([
            "run",
            "r.csv",
            "--rate",
            "unlimited",
            "--base-url",
            "https://tenant.example",
            "--token-file",
            "token",
        ]),
        2,
    );
    assert!(text(&out.stderr).contains("--allow-unlimited"), "{out:?}");
    assert!(
        !wd.path("forget.db").exists(),
        "a refused run made a ledger"
    );
    // Against the simulator on this machine, unlimited is fine.
    wd.run(
        wd.command()
            .args(["run", "r.csv", "--simulate", "--rate", "unlimited"]),
        0,
    );
}

/// `forget list` lists Outreach collections only: that is its default, and Webex is refused
/// with the reason.
#[test]
fn list_needs_no_connector_flag() {
    let wd = Workdir::new();
    let out = wd.run(
        wd.command()
            .args(["list", "--simulate", "--resource", "callPurposes"]),
        0,
    );
    assert!(text(&out.stdout).starts_with("id,"), "{out:?}");
    let out = wd.run(
        wd.command()
            .args(["list", "--simulate", "--connector", "webex"]),
        2,
    );
    assert!(
        text(&out.stderr).contains("Webex Campaign has no API that lists"),
        "{out:?}"
    );
}

/// Every run records who ran it: `--operator`, else `FORGET_OPERATOR`, else the login —
/// never nothing, even with `$USER` unset (as under cron or in a container).
#[test]
fn the_operator_is_recorded_on_every_run() {
    let operator_of = |args: &[&str], env: Option<&str>| {
        let wd = Workdir::new();
        wd.write("r.csv", "key\n+447700900001\n");
        let mut cmd = wd.command();
        cmd.args(["run", "r.csv", "--simulate"]).args(args);
        if let Some(name) = env {
            cmd.env("FORGET_OPERATOR", name);
        }
        wd.run(&mut cmd, 0);
        wd.run(
            wd.command().args([
                "report",
                "--state",
                "forget-simulate.db",
                "--output",
                "r-report.csv",
                "--manifest",
                "m.json",
            ]),
            0,
        );
        let m: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(wd.path("m.json")).unwrap()).unwrap();
        m["runs"][0]["operator"].as_str().map(String::from)
    };
    assert_eq!(
        operator_of(&["--operator", "Jane Doe, DPO office"], None).as_deref(),
        Some("Jane Doe, DPO office")
    );
    assert_eq!(
        operator_of(&[], Some("privacy-ops")).as_deref(),
        Some("privacy-ops")
    );
    let login = operator_of(&[], None).unwrap_or_default();
    assert!(!login.trim().is_empty(), "no operator recorded");

    let wd = Workdir::new();
    let out = wd.run(
        wd.command().args(["status", "--operator", "line\nbreak"]),
        2,
    );
    assert!(text(&out.stderr).contains("control characters"), "{out:?}");
}

/// Progress lines for logs (stderr not a terminal) say how far, how fast and how long.
#[test]
fn progress_lines_when_piped_carry_an_eta() {
    let wd = Workdir::new();
    let keys: Vec<String> = (0..40).map(|i| format!("k-{i}")).collect();
    wd.write("r.csv", format!("key\n{}\n", keys.join("\n")));
    let out = wd.run(
        wd.command().args([
            "run",
            "r.csv",
            "--simulate",
            "--rate",
            "20",
            "--progress-every",
            "0.5",
        ]),
        0,
    );
    let stderr = text(&out.stderr);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("progress: "))
        .unwrap_or_else(|| panic!("no progress line: {stderr}"));
    assert!(
        line.contains("/40 keys (") && line.contains("eta "),
        "{line}"
    );
}

/// One output vocabulary: `-o/--output FILE`, `--out-dir DIR`, `-q`; the old `--out` still
/// works with a note; `list` replaces a file only with `--force`.
#[test]
fn one_output_vocabulary_and_the_old_spelling_with_a_note() {
    let wd = Workdir::new();
    wd.write("r.csv", "key\n+447700900001\n");
    wd.run(wd.command().args(["run", "r.csv", "--simulate"]), 0);
    let state = ["--state", "forget-simulate.db"];
    let out = wd.run(
        wd.command()
            .args(["report", "-o", "new.csv", "-q"])
            .args(state),
        0,
    );
    assert_eq!(text(&out.stderr), "", "-q: nothing on stderr");
    assert!(wd.path("new.csv").is_file());
    let out = wd.run(
        wd.command()
            .args(["report", "--out", "old.csv"])
            .args(state),
        0,
    );
    assert!(wd.path("old.csv").is_file());
    assert!(
        text(&out.stderr).contains("--out is deprecated and will be removed; use --output"),
        "{out:?}"
    );

    let list = ["list", "--resource", "callPurposes", "--simulate"];
    wd.write("ids.csv", "mine\n");
    wd.run(wd.command().args(list).args(["-o", "ids.csv"]), 2);
    assert_eq!(
        std::fs::read_to_string(wd.path("ids.csv")).unwrap(),
        "mine\n"
    );
    let out = wd.run(
        wd.command()
            .args(list)
            .args(["-o", "ids.csv", "--force", "-q"]),
        0,
    );
    assert_eq!(text(&out.stderr), "");
    assert!(
        std::fs::read_to_string(wd.path("ids.csv"))
            .unwrap()
            .starts_with("id,")
    );
}

/// `status --format md`: a paragraph and a table to paste into a ticket; counts, no keys.
#[test]
fn status_as_markdown_for_a_ticket() {
    let wd = Workdir::new();
    wd.write(
        "r.csv",
        "key,ticket\n+447700900001,T1\nnobody@example.com,T2\n,T3\n",
    );
    wd.run(wd.command().args(["run", "r.csv", "--simulate"]), 4);
    let state = ["--state", "forget-simulate.db"];
    let out = wd.run(
        wd.command().args(["status", "--format", "md"]).args(state),
        4,
    );
    let md = text(&out.stdout);
    assert!(
        md.starts_with("### Erasure requests: some need attention\n"),
        "{md}"
    );
    assert!(
        md.contains("3 requests for 2 people arrived in 1 file; forget ran 1 time"),
        "{md}"
    );
    assert!(
        md.contains("| invalid row | 1 |") && md.contains("| **total** | **3** |"),
        "{md}"
    );
    assert!(
        !md.contains("+4477") && !md.contains("nobody@"),
        "a key: {md}"
    );
    wd.run(
        wd.command()
            .args(["resolve", "--outcome", "invalid", "--reason", "blank key"])
            .args(state),
        0,
    );
    let out = wd.run(
        wd.command().args(["status", "--format", "md"]).args(state),
        0,
    );
    assert!(
        text(&out.stdout).starts_with("### Erasure requests: every request has ended\n"),
        "{}",
        text(&out.stdout)
    );
}
