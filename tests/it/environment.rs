//! The binary starts from a cleared environment: what the shell running the tests holds (a
//! token, a base URL, a proxy, a log filter) never reaches it.
//!
//! A test cannot put variables in its own environment (`std::env::set_var` is unsafe, and
//! other tests run on other threads), so the proof runs this test binary again, filtered to
//! one test, with such variables in the environment of that second process: there, a
//! command from `Workdir::command` must not see them, and the same command given them on
//! purpose (`given`) must, which shows each observation would catch a leak.

use std::ffi::OsString;
use std::process::Command;

use crate::common::{Fixture, TOKEN, Workdir, base_env, run_bin, text};
use crate::scripted::Scripted;
use forget::sim::outreach::{OutreachCollection, sample_call_purposes};

/// Set in the environment of the second process: it is the probe.
const PROBE: &str = "FORGET_IT_ENV_PROBE";

/// The variables through which reqwest (and curl) take a proxy.
const PROXY_VARS: [&str; 6] = [
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
];

#[test]
fn the_command_sets_nothing_but_the_base_environment() {
    // `get_envs` lists what a command sets (or removes) on top of what it starts from; that
    // it starts from nothing is what the next test shows.
    let wd = Workdir::new();
    let mut set: Vec<(OsString, Option<OsString>)> = wd
        .command()
        .get_envs()
        .map(|(k, v)| (k.to_owned(), v.map(|v| v.to_owned())))
        .collect();
    set.sort();
    let mut want: Vec<(OsString, Option<OsString>)> = base_env(wd.dir.path())
        .into_iter()
        .map(|(k, v)| (k.into(), Some(v.to_owned())))
        .collect();
    want.sort();
    assert_eq!(set, want);
}

/// A shell set up for a live tenant (its URL and token for both connectors, a ledger), behind
/// a proxy, with debug logs on: the tenant and the proxy are simulators of this process.
#[tokio::test]
async fn a_shell_environment_does_not_reach_the_binary() {
    if std::env::var_os(PROBE).is_some() {
        return probe().await;
    }
    let tenant = Fixture::new(&[], |c| {
        c.outreach = vec![OutreachCollection::new(
            "callPurposes",
            sample_call_purposes(3),
        )];
    })
    .await;
    // A fake proxy: it records what reaches it and carries nothing.
    let proxy = Scripted::start(|_, _| (502, "{}".into())).await;
    let tenant_url = tenant.handle.url();
    let proxy_url = proxy.url();
    let name = format!(
        "{}::a_shell_environment_does_not_reach_the_binary",
        module_path!().split_once("::").unwrap().1
    );
    let mut probe = Command::new(std::env::current_exe().unwrap());
    probe
        .args([name.as_str(), "--exact", "--test-threads=1"])
        .env(PROBE, "1")
        .env("FORGET_BASE_URL", &tenant_url)
        .env("WEBEX_CAMPAIGN_TOKEN", TOKEN)
        .env("OUTREACH_BASE_URL", format!("{tenant_url}/api/v2"))
        .env("OUTREACH_TOKEN", TOKEN)
        .env("FORGET_STATE", tenant.path("shell.db"))
        .env("FORGET_LOG", "debug")
        // Whatever the shell running the tests excepts from its proxy, this one excepts
        // nothing on 127.0.0.1.
        .env("NO_PROXY", "example.invalid")
        .env("no_proxy", "example.invalid");
    for var in PROXY_VARS {
        probe.env(var, &proxy_url);
    }
    let out = tokio::task::spawn_blocking(move || probe.output().unwrap())
        .await
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "the probe failed or did not run\n--- stdout\n{stdout}\n--- stderr\n{}",
        text(&out.stderr)
    );
    // Only the command given the proxy variables on purpose, for an https tenant, asked the
    // proxy for a tunnel (loopback is never proxied, see tests/it/proxy.rs).
    let seen = proxy.seen();
    assert!(!seen.is_empty());
    assert!(
        seen.iter()
            .all(|s| s.method == "CONNECT" && s.path == "tenant.invalid:443"),
        "{seen:?}"
    );
}

/// In the second process, whose environment holds all of the above.
async fn probe() {
    let var = |name: &str| std::env::var(name).unwrap();
    let tenant_url = var("FORGET_BASE_URL");
    assert_eq!(var("WEBEX_CAMPAIGN_TOKEN"), TOKEN);
    assert!(var("HTTPS_PROXY").starts_with("http://127.0.0.1:"));
    let wd = Workdir::new();
    wd.write("token", format!("{TOKEN}\n"));
    // `Workdir::command` with `names` from this process's environment, on purpose.
    let given = |names: &[&str]| {
        let mut cmd = wd.command();
        for name in names {
            cmd.env(name, var(name));
        }
        cmd
    };

    // A base URL and a token: nothing to check, nothing sent...
    let mut check = wd.command();
    check.arg("check");
    let out = run_bin(check, 2).await;
    assert!(
        text(&out.stderr).contains("nothing to check"),
        "{}",
        text(&out.stderr)
    );
    // ...where the shell's would have checked the tenant.
    let mut check = given(&["FORGET_BASE_URL", "WEBEX_CAMPAIGN_TOKEN"]);
    check.arg("check");
    let out = run_bin(check, 0).await;
    assert!(text(&out.stdout).contains("all checks passed"));

    // The Outreach token: none...
    let list = |mut cmd: Command| {
        cmd.args([
            "list",
            "--connector",
            "outreach",
            "--resource",
            "callPurposes",
        ])
        .args(["--base-url", &var("OUTREACH_BASE_URL")]);
        cmd
    };
    let out = run_bin(list(wd.command()), 2).await;
    assert!(
        text(&out.stderr).contains("no API token: set OUTREACH_TOKEN"),
        "{}",
        text(&out.stderr)
    );
    // ...where the shell's would have listed the tenant's records.
    let out = run_bin(list(given(&["OUTREACH_TOKEN"])), 0).await;
    assert_eq!(text(&out.stdout).lines().count(), 4, "a header and 3 ids");

    // The ledger: the default one...
    let mut status = wd.command();
    status.arg("status");
    let out = run_bin(status, 2).await;
    assert!(
        text(&out.stderr).contains("ledger forget.db: no ledger here"),
        "{}",
        text(&out.stderr)
    );
    // ...not the shell's.
    let mut status = given(&["FORGET_STATE"]);
    status.arg("status");
    let out = run_bin(status, 2).await;
    assert!(text(&out.stderr).contains("shell.db: no ledger here"));

    // The log filter: quiet...
    let check = |mut cmd: Command, url: &str| {
        cmd.args(["check", "--base-url", url, "--token-file", "token"]);
        cmd
    };
    let out = run_bin(check(wd.command(), &tenant_url), 0).await;
    assert!(text(&out.stdout).contains("all checks passed"));
    assert!(
        !text(&out.stderr).contains("DEBUG"),
        "{}",
        text(&out.stderr)
    );
    // ...where with the shell's it logs.
    let mut names = PROXY_VARS.to_vec();
    names.extend(["NO_PROXY", "no_proxy", "FORGET_LOG"]);
    let out = run_bin(check(given(&names), &tenant_url), 0).await;
    assert!(text(&out.stderr).contains("DEBUG"));
    // The proxy: the shell's would carry an https tenant's requests (a tunnel through it,
    // which this one refuses). Without it, the same command would look the host up and
    // connect to it, which a test must not do: the cleared environment is shown for the
    // proxy by `the_command_sets_nothing_but_the_base_environment`, and for loopback,
    // which is never proxied, by the outer test's proxy seeing no other request.
    // (A host the shell's NO_PROXY does not name: one it names would be looked up.)
    let out = run_bin(check(given(&names), "https://tenant.invalid"), 3).await;
    assert!(
        text(&out.stdout).contains("no usable answer"),
        "{}",
        text(&out.stdout)
    );
}
