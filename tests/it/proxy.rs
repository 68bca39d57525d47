//! Loopback traffic never goes through a proxy: with every proxy variable pointing at a
//! recording fake proxy, runs against a local simulator and `--simulate` rehearsals (delete,
//! canary, hub reads, listings) reach the simulator directly and the proxy sees nothing.
//! (Where a proxy is used — https to a non-loopback host, as a CONNECT tunnel — is decided
//! by `transport::Proxies::route`, unit-tested there: tests send nowhere but 127.0.0.1.)

use std::process::Command;

use crate::common::{Fixture, TOKEN, keys, run_bin, text};
use crate::scripted::Scripted;

const PROXY_VARS: [&str; 6] = [
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_requests_never_go_through_a_proxy() {
    // It records what reaches it and refuses to carry anything.
    let proxy = Scripted::start(|_, _| (502, "{}".into())).await;
    let held = keys("+4477006", 5);
    let fx = Fixture::new(&held, |_| {}).await;
    let csv = fx.csv("keys.csv", &held);
    let unknown = fx.write("unknown.csv", "key\n+447700900999\n");
    let proxied = |args: &[&str]| {
        let mut cmd = crate::common::forget_in(fx.dir.path());
        cmd.args(args);
        for var in PROXY_VARS {
            cmd.env(var, proxy.url());
        }
        cmd
    };
    let mut commands: Vec<(Command, i32)> = Vec::new();
    // A run against a local simulator (its preflight canary included).
    let mut run = proxied(&["run", "--base-url", &fx.handle.url(), "--profile-name"]);
    run.args(["customers", "--state", "ledger.db", "--quiet"])
        .arg(&csv)
        .env("WEBEX_CAMPAIGN_TOKEN", TOKEN);
    commands.push((run, 0));
    // Rehearsals: a run, a check (canary and hub), an inventory, an Outreach listing.
    let mut rehearsal = proxied(&[
        "run",
        "--simulate",
        "--quiet",
        "--profile-name",
        "customers",
    ]);
    rehearsal.arg(&unknown);
    commands.push((rehearsal, 0));
    commands.push((proxied(&["check", "--simulate"]), 0));
    commands.push((proxied(&["inventory", "--simulate"]), 0));
    commands.push((
        proxied(&[
            "list",
            "--connector",
            "outreach",
            "--resource",
            "callPurposes",
            "--simulate",
            "--output",
            "ids.csv",
        ]),
        0,
    ));
    for (cmd, code) in commands {
        let shown = format!("{cmd:?}");
        let out = run_bin(cmd, code).await;
        assert!(
            proxy.seen().is_empty(),
            "{shown} went through the proxy: {:?}\n{}",
            proxy.seen(),
            text(&out.stderr)
        );
    }
    assert_eq!(fx.sim.stats().deleted, held.len() as u64);
}
