//! SIGTERM (what containers, systemd and CI send) and SIGHUP (a closed terminal) stop a run
//! as Ctrl-C does: nothing new is sent, requests in flight land and are recorded, and the
//! run exits 128 + the signal's number; a second signal quits at once.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Fixture, TOKEN, forget_in, keys, text};

/// `forget run` of `fx`'s keys, sent 8 at a time to its (slow) simulator.
fn run_command(fx: &Fixture, csv: &std::path::Path) -> Command {
    let mut cmd = forget_in(fx.dir.path());
    cmd.arg("run")
        .arg(csv)
        .args([
            "--base-url",
            &fx.handle.url(),
            "--profile-name",
            "customers",
        ])
        .args([
            "--no-preflight",
            "--rate",
            "unlimited",
            "--concurrency",
            "8",
        ])
        .args(["--state", "ledger.db", "--quiet"])
        .env("WEBEX_CAMPAIGN_TOKEN", TOKEN);
    cmd
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name}");
}

/// Wait (polling, up to a minute) until `done` holds.
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn wait(child: Child) -> (i32, String) {
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    (out.status.code().unwrap_or(-1), text(&out.stderr))
}

/// Stop a run with `name` once the simulator has answered some requests (so others are in
/// flight), check the ledger holds every answer, then resume it to the end.
async fn stop_and_resume(name: &str, want_code: i32) {
    let held = keys("+4477009", 160);
    // Every answer takes 100 ms: with 8 in flight, a signal always finds requests in flight.
    let fx = Fixture::new(&held, |c| c.latency = Duration::from_millis(100)).await;
    let csv = fx.csv("keys.csv", &held);
    let mut cmd = run_command(&fx, &csv);
    let child = cmd.stderr(Stdio::piped()).spawn().unwrap();
    until("24 deletions", || fx.sim.stats().deleted >= 24).await;
    signal(&child, name);
    let (code, stderr) = wait(child).await;
    assert_eq!(code, want_code, "{stderr}");
    assert!(
        stderr.contains("letting requests in flight land"),
        "{stderr}"
    );

    // Every request the simulator received was answered and recorded: none was lost.
    let stats = fx.sim.stats();
    assert!(
        stats.deleted < held.len() as u64,
        "the run was not stopped early"
    );
    assert_eq!(
        fx.query_i64("SELECT count(*) FROM attempts") as u64,
        stats.requests
    );
    assert_eq!(
        fx.query_i64("SELECT count(*) FROM units WHERE outcome = 'deleted'") as u64,
        stats.deleted
    );
    let result: String = fx
        .ledger()
        .query_row("SELECT result FROM runs", [], |r| r.get(0))
        .unwrap();
    assert!(result.starts_with("interrupted"), "{result}");

    // The next run finishes: every key deleted exactly once, with its transaction id; none
    // became "not found" because an earlier answer was lost.
    let out = run_command(&fx, &csv).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stats = fx.sim.stats();
    assert_eq!(stats.deleted, held.len() as u64);
    assert_eq!((stats.not_found, stats.max_deletes_per_key), (0, 1));
    assert_eq!(
        fx.query_i64(
            "SELECT count(*) FROM units WHERE outcome = 'deleted' AND transaction_id IS NOT NULL"
        ),
        held.len() as i64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lands_the_requests_in_flight_and_exits_143() {
    stop_and_resume("TERM", 143).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_lands_the_requests_in_flight_and_exits_129() {
    stop_and_resume("HUP", 129).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_lands_the_requests_in_flight_and_exits_130() {
    stop_and_resume("INT", 130).await;
}

/// A second signal does not wait for the requests in flight.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_quits_at_once() {
    let held = keys("+4477008", 40);
    // Answers take ten minutes: only a quit that does not wait for them ends this run.
    let fx = Fixture::new(&held, |c| c.latency = Duration::from_secs(600)).await;
    let csv = fx.csv("keys.csv", &held);
    let log = fx.path("stderr.log");
    let mut cmd = run_command(&fx, &csv);
    let child = cmd
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    until("8 requests in flight", || fx.sim.stats().requests >= 8).await;
    signal(&child, "TERM");
    until("the first signal's message", || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("letting requests in flight land")
    })
    .await;
    signal(&child, "TERM");
    let (code, _) = wait(child).await;
    let stderr = std::fs::read_to_string(&log).unwrap();
    assert_eq!(code, 143, "{stderr}");
    assert!(
        stderr.contains("stopping now: answers in flight are lost; the next run retries them"),
        "{stderr}"
    );
}
