//! The preflight: `forget check`, and the canary `forget run` sends before real keys.

use crate::common::{Fixture, TOKEN, Workdir, keys, run_bin, text};
use forget::connector::webex::{self, Webex};
use forget::connector::{Answer, Connector, Unit};
use forget::engine::EngineConfig;
use forget::engine::preflight::{self, Finding};
use forget::engine::retry::RetryPolicy;
use forget::error::{Error, exit};
use forget::outcome::{StopCause, Verdict};
use forget::secret::Token;
use forget::sim::Fault;

fn engine() -> EngineConfig {
    EngineConfig {
        concurrency: 1,
        timeout: std::time::Duration::from_secs(5),
        retry: RetryPolicy {
            max_attempts: 3,
            base: std::time::Duration::from_millis(5),
            cap: std::time::Duration::from_millis(20),
        },
    }
}

async fn canary_with(connector: &dyn Connector, scope: &str) -> preflight::ProfileCheck {
    let transport = engine().transport().unwrap();
    preflight::canary(connector, &transport, &engine(), scope).await
}

#[tokio::test]
async fn the_canary_reads_every_documented_answer() {
    let fx = Fixture::new(&keys("k", 1), |c| c.profiles.push(("vip".into(), vec![]))).await;
    let good = Webex::new(&fx.url(), &Token::new(TOKEN)).unwrap();
    let case = |check: preflight::ProfileCheck, want: Finding| {
        assert_eq!(check.finding, want, "{}", check.explain());
    };
    case(canary_with(&good, "").await, Finding::Ok);
    case(canary_with(&good, "customers").await, Finding::Ok);
    case(canary_with(&good, "vip").await, Finding::Ok);
    let wrong_profile = canary_with(&good, "custmers").await;
    assert_eq!(wrong_profile.code.as_deref(), Some("102"));
    case(wrong_profile, Finding::WrongProfile);
    let bad_token = Webex::new(&fx.url(), &Token::new("nope")).unwrap();
    case(
        canary_with(&bad_token, "").await,
        Finding::Token(StopCause::BadToken),
    );
    let elsewhere = reqwest::Url::parse(&format!("{}/api", fx.handle.url())).unwrap();
    let wrong_url = Webex::new(&elsewhere, &Token::new(TOKEN)).unwrap();
    let check = canary_with(&wrong_url, "").await;
    assert_eq!(check.http_status, Some(404));
    case(check, Finding::WrongUrl);
    let check = canary_with(
        &GetInsteadOfPost(Webex::new(&fx.url(), &Token::new(TOKEN)).unwrap()),
        "",
    )
    .await;
    assert_eq!(check.http_status, Some(405));
    case(check, Finding::WrongUrl);
    // Canaries are never deletions: the tenant is untouched.
    assert_eq!(fx.sim.remaining(), 1);
    let bodies = fx.sim.received();
    assert!(bodies.iter().all(|b| {
        b["key"].as_str().unwrap().starts_with("forget-preflight-")
            && b["exparam10"] == "forget-preflight"
    }));
}

/// A connector that asks with the wrong method: what a misrouted proxy looks like (405).
struct GetInsteadOfPost(Webex);

impl Connector for GetInsteadOfPost {
    fn name(&self) -> &'static str {
        "webex"
    }
    fn token(&self) -> &str {
        self.0.token()
    }
    fn request(
        &self,
        _unit: &Unit,
    ) -> Result<forget::connector::Request, forget::connector::Unsendable> {
        Ok(forget::connector::request(
            http::Method::GET,
            forget::connector::uri(self.0.url())?,
            &http::HeaderMap::new(),
            bytes::Bytes::new(),
        ))
    }
    fn classify(&self, answer: &Answer<'_>) -> Verdict {
        webex::classify(answer)
    }
}

#[tokio::test]
async fn an_expired_token_and_a_server_that_never_answers_well_fail_the_check() {
    let fx = Fixture::new(&[], |c| c.expire_token_after = Some(0)).await;
    let webex = Webex::new(&fx.url(), &Token::new(TOKEN)).unwrap();
    let check = canary_with(&webex, "").await;
    assert_eq!(check.finding, Finding::Token(StopCause::ExpiredToken));
    assert_eq!(check.finding.exit_code(), exit::STOPPED);

    let fx = Fixture::new(&[], |c| c.faults = vec![(Fault::Http500, 1.0)]).await;
    let webex = Webex::new(&fx.url(), &Token::new(TOKEN)).unwrap();
    let check = canary_with(&webex, "").await;
    assert!(
        matches!(check.finding, Finding::Inconclusive(_)),
        "{check:?}"
    );
    assert_eq!(fx.sim.stats().requests, 3, "three attempts, then a verdict");
    assert_eq!(check.finding.exit_code(), exit::STOPPED);
}

#[tokio::test]
async fn run_sends_one_canary_first_and_never_records_it() {
    let held = keys("held-", 5);
    let fx = Fixture::new(&held, |_| {}).await;
    let mut config = fx.config(vec![fx.csv("in.csv", &held)]);
    config.preflight = true;
    let s = fx.run(config.clone()).await;
    assert_eq!(s.exit_code(), exit::OK, "{s:?}");
    assert_eq!(s.ledger.deleted, 5);
    let stats = fx.sim.stats();
    assert_eq!((stats.requests, stats.not_found), (6, 1), "{stats:?}");
    let first = &fx.sim.received()[0];
    assert!(
        first["key"]
            .as_str()
            .unwrap()
            .starts_with("forget-preflight-")
    );
    assert_eq!(first["profile-name"], "customers");
    assert_eq!(fx.query_i64("SELECT count(*) FROM units"), 5);
    assert_eq!(fx.query_i64("SELECT count(*) FROM attempts"), 5);

    // Nothing left to send: no canary either. Nor for a dry run.
    let s = fx.run(config.clone()).await;
    assert_eq!(s.sent_units, 0);
    config.dry_run = true;
    forget::job::run(config, None).await.unwrap();
    assert_eq!(fx.sim.stats().requests, 6);
}

#[tokio::test]
async fn each_waiting_profile_is_proved() {
    let fx = Fixture::new(&keys("k", 2), |c| c.profiles.push(("vip".into(), vec![]))).await;
    let file = fx.write("in.csv", "key,profile-name\nk00000,\nk00001,vip\n");
    let mut config = fx.config(vec![file]);
    config.dry_run = true;
    forget::job::run(config.clone(), None).await.unwrap();
    config.dry_run = false;
    config.preflight = true;
    let s = fx.run(config).await;
    assert_eq!(s.ledger.deleted + s.ledger.not_found, 2, "{s:?}");
    let canaries: Vec<String> = fx
        .sim
        .received()
        .iter()
        .filter(|b| b["key"].as_str().unwrap().starts_with("forget-preflight-"))
        .map(|b| b["profile-name"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(canaries, ["customers", "vip"]);
}

#[tokio::test]
async fn a_failed_preflight_refuses_the_run_and_records_nothing() {
    let held = keys("held-", 3);
    let fx = Fixture::new(&held, |_| {}).await;
    let file = fx.csv("in.csv", &held);
    let case = |profile: &str, token: &str, want_exit: i32, want_words: &str| {
        let mut config = fx.config(vec![file.clone()]);
        config.preflight = true;
        config.input.profile_default = profile.into();
        let target = fx.target_with(token);
        let want_words = want_words.to_owned();
        async move {
            let error: Error = forget::job::run(config, Some(target)).await.unwrap_err();
            assert_eq!(error.exit_code(), want_exit, "{error}");
            let message = error.to_string();
            assert!(message.contains(&want_words), "{message}");
            assert!(message.contains("--no-preflight"), "{message}");
        }
    };
    case("custmers", TOKEN, exit::USAGE, "profile name is wrong").await;
    case("customers", "wrong", exit::STOPPED, "WEBEX_CAMPAIGN_TOKEN").await;
    assert_eq!(fx.query_i64("SELECT count(*) FROM units"), 0);
    assert_eq!(fx.query_i64("SELECT count(*) FROM runs"), 0);
    assert_eq!(fx.sim.stats().requests, 2);
    assert_eq!(fx.sim.remaining(), 3);
}

#[tokio::test]
async fn check_and_run_on_the_command_line() {
    let fx = Fixture::new(&keys("k", 2), |_| {}).await;
    let wd = Workdir::new();
    let url = fx.handle.url();
    let cmd = |args: &[&str]| {
        let mut c = wd.command();
        c.args(args).env("WEBEX_CAMPAIGN_TOKEN", TOKEN);
        c
    };

    let out = run_bin(cmd(&["check", "--base-url", &url]), 0).await;
    let stdout = text(&out.stdout);
    assert!(stdout.contains("all checks passed"), "{stdout}");
    assert!(stdout.contains("not checked (no --hub-url)"), "{stdout}");

    let out = run_bin(
        cmd(&["check", "--base-url", &url, "--profile-name", "custmers"]),
        2,
    )
    .await;
    assert!(text(&out.stdout).contains("profile name is wrong"));

    let mut bad = cmd(&["check", "--base-url", &url]);
    bad.env("WEBEX_CAMPAIGN_TOKEN", "wrong");
    let out = run_bin(bad, 3).await;
    assert!(text(&out.stdout).contains("refused the token"));

    let out = run_bin(cmd(&["check", "--base-url", &format!("{url}/x")]), 3).await;
    assert!(text(&out.stdout).contains("check --base-url"));

    // With the hub: the tenant is named; a wrong hub token fails the check.
    let mut hub = cmd(&["check", "--base-url", &url, "--hub-url", &url]);
    hub.env("WEBEX_CAMPAIGN_HUB_TOKEN", TOKEN);
    let out = run_bin(hub, 0).await;
    assert!(text(&out.stdout).contains("tenant \"acme-sim\" (4 purposes)"));
    let mut hub = cmd(&["check", "--hub-url", &url]);
    hub.env("FORGET_HUB_CLIENT_ID", "sim-client")
        .env("FORGET_HUB_CLIENT_SECRET", "wrong");
    let out = run_bin(hub, 3).await;
    assert!(
        text(&out.stdout).contains("refused the client credentials"),
        "{}",
        text(&out.stdout)
    );
    run_bin(cmd(&["check"]), 2).await;

    // `run` refuses on a failed preflight, and goes with --no-preflight.
    wd.write("in.csv", "key\nk00000\nk00001\n");
    let out = run_bin(
        cmd(&[
            "run",
            "in.csv",
            "--base-url",
            &url,
            "--profile-name",
            "nope",
        ]),
        2,
    )
    .await;
    assert!(text(&out.stderr).contains("preflight failed, nothing was sent"));
    let before = fx.sim.stats().requests;
    let out = run_bin(
        cmd(&[
            "run",
            "in.csv",
            "--base-url",
            &url,
            "--profile-name",
            "nope",
            "--no-preflight",
        ]),
        4,
    )
    .await;
    assert!(text(&out.stdout).contains("2 rejected: `forget report"));
    assert_eq!(fx.sim.stats().requests, before + 2);
    // The same file under another profile is refused, naming the difference.
    let out = run_bin(cmd(&["run", "in.csv", "--base-url", &url]), 2).await;
    assert!(
        text(&out.stderr).contains("--profile-name: \"nope\" → (the tenant's default)"),
        "{}",
        text(&out.stderr)
    );
    // The two rejected under "nope" stay in the ledger as they were answered; the rows,
    // fixed in a new file, erase, and correct the rejected requests: every request ended.
    wd.write("fixed.csv", "key,profile-name\nk00000,\nk00001,\n");
    let out = run_bin(cmd(&["run", "fixed.csv", "--base-url", &url]), 0).await;
    assert!(
        text(&out.stdout).contains("2 earlier requests corrected"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stderr).contains("preflight: the tenant's default profile: ok"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(fx.sim.remaining(), 0);
}

/// The canary is retried as the run retries a key: `--max-attempts`, `--retry-base-ms`,
/// `--retry-max`. A tenant failing its first four requests fails a canary allowed three
/// tries, which would stop a run that six tries get through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_preflight_honours_max_attempts() {
    let flaky = || async {
        crate::scripted::Scripted::start(|n, seen| {
            let key = seen.json()["key"].as_str().unwrap_or_default().to_owned();
            if n < 4 {
                (
                    500,
                    r#"{"code":500,"description":"Internal server error"}"#.into(),
                )
            } else if key.starts_with("forget-preflight-") {
                (
                    200,
                    r#"{"code":"1020","description":"Contact profile not found"}"#.into(),
                )
            } else {
                (200, format!(r#"{{"transaction-id":"t-{n}"}}"#))
            }
        })
        .await
    };
    let run = |url: String, attempts: &str| {
        let wd = Workdir::new();
        let csv = wd.write("keys.csv", "key\n+447700900123\n+447700900124\n");
        let mut cmd = wd.command();
        cmd.arg("run")
            .arg(&csv)
            .args(["--base-url", &url, "--profile-name", "customers"])
            .args([
                "--max-attempts",
                attempts,
                "--retry-base-ms",
                "1",
                "--retry-max",
                "0.01",
            ])
            .env("WEBEX_CAMPAIGN_TOKEN", TOKEN);
        (wd, cmd)
    };
    let api = flaky().await;
    let (_wd, cmd) = run(api.url(), "6");
    let out = run_bin(cmd, 0).await;
    assert!(text(&out.stderr).contains("preflight: profile \"customers\": ok"));
    // Five canaries (four failed), then the two keys.
    assert_eq!(api.seen().len(), 7);

    // Fewer attempts than failures: the preflight gives up, saying after how many.
    let api = flaky().await;
    let (_wd, cmd) = run(api.url(), "2");
    let out = run_bin(cmd, 3).await;
    assert!(
        text(&out.stderr).contains("no usable answer after 2 attempts"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(api.seen().len(), 2);
}
