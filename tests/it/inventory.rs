//! `forget inventory` and the API-hub credentials, against the simulator's read APIs.

use std::time::Duration;

use crate::common::{Fixture, TOKEN, Workdir, run_bin, text};
use forget::error::exit;
use forget::secret::Token;
use forget::tenant::hub::{Credentials, Got};
use forget::tenant::inventory::{self, Selection};

const FLAGGED: [&str; 2] = ["17409112200002", "17409200000003"];

#[tokio::test]
async fn lists_purposes_and_target_groups_from_both_forms() {
    let fx = Fixture::new(&[], |_| {}).await;
    let hub = fx.reader("--hub-url", Fixture::bearer(TOKEN));
    let base = fx.reader("--base-url", Fixture::bearer(TOKEN));
    let inv = inventory::collect(Some(&hub), Some(&base), &Selection::default())
        .await
        .unwrap();
    assert_eq!(inv.tenant, ["acme-sim"]);
    let purposes = inv.purposes.as_ref().unwrap();
    assert_eq!(
        purposes.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        ["582", "581", "579", "590"]
    );
    let groups = inv.target_groups.as_ref().unwrap();
    assert_eq!(groups.len(), 6);
    assert!(groups.iter().all(|g| g.listed_by == ["hub", "base"]));
    let flagged: Vec<&str> = inv.to_review().map(|g| g.id.as_str()).collect();
    assert_eq!(flagged, FLAGGED);
    let sms = &groups[2];
    assert_eq!(
        (
            sms.behaviour.meaning.as_str(),
            sms.load_type.meaning.as_str(),
            sms.source.meaning.as_str(),
            sms.target_state.meaning.as_str()
        ),
        ("Static", "File upload", "File upload", "ready")
    );
    assert_eq!(sms.identifier_headers, ["MSISDN"]);
    assert_eq!(groups[3].source.meaning, "Sftp");
    assert_eq!(groups[3].target_state.meaning, "Inprogress");
    assert_eq!(groups[0].source.meaning, "Dynamic Segment");
    assert_eq!(inv.exit_code(), exit::OK);

    // The base URL alone reads target groups only.
    let inv = inventory::collect(None, Some(&base), &Selection::default())
        .await
        .unwrap();
    assert!(inv.purposes.is_none());
    assert!(
        inv.target_groups
            .unwrap()
            .iter()
            .all(|g| g.listed_by == ["base"])
    );
}

#[tokio::test]
async fn empty_lists_are_empty_not_errors() {
    let fx = Fixture::new(&[], |c| {
        c.purposes = vec![];
        c.target_groups = vec![];
    })
    .await;
    let hub = fx.reader("--hub-url", Fixture::bearer(TOKEN));
    let inv = inventory::collect(Some(&hub), None, &Selection::default())
        .await
        .unwrap();
    assert_eq!(inv.purposes.as_deref().map(<[_]>::len), Some(0));
    assert_eq!(inv.target_groups.as_deref().map(<[_]>::len), Some(0));
    assert!(inv.tenant.is_empty());
    assert_eq!(inv.to_review().count(), 0);
    let table = inventory::render_table(&inv);
    assert!(table.contains("purposes (0)") && table.contains("target groups (0)"));
}

#[tokio::test]
async fn ids_are_read_one_by_one_and_unknown_ids_are_404() {
    let fx = Fixture::new(&[], |_| {}).await;
    let hub = fx.reader("--hub-url", Fixture::bearer(TOKEN));
    let base = fx.reader("--base-url", Fixture::bearer(TOKEN));
    assert_eq!(hub.get("/v1/purposes/999").await.unwrap(), Got::NotFound);
    assert_eq!(
        base.get("/campaignapi/resources/v3/target-groups/123")
            .await
            .unwrap(),
        Got::NotFound
    );
    let selection = Selection {
        purposes: vec!["582".into(), "999".into()],
        target_groups: vec![FLAGGED[0].into(), "123".into()],
    };
    let inv = inventory::collect(Some(&hub), Some(&base), &selection)
        .await
        .unwrap();
    assert_eq!(inv.purposes.unwrap()[0].name.as_deref(), Some("Marketing"));
    let groups = inv.target_groups.unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].listed_by, ["hub", "base"]);
    assert_eq!(inv.not_found, ["purpose 999", "target group 123"]);
    let bad = Selection {
        purposes: vec!["../delete".into()],
        ..Selection::default()
    };
    assert!(inventory::collect(Some(&hub), None, &bad).await.is_err());
}

#[tokio::test]
async fn refusals_name_what_to_fix() {
    let fx = Fixture::new(&[], |_| {}).await;
    let case = |credentials: Credentials, base: String, want: &'static str| {
        let reader = forget::tenant::hub::Reader::new(
            "--hub-url",
            reqwest::Url::parse(&base).unwrap(),
            credentials,
            reqwest::Client::new(),
            Duration::from_secs(5),
        );
        async move {
            let error = reader.list("/v1/purposes").await.unwrap_err();
            assert_eq!(error.exit_code(), exit::STOPPED, "{error}");
            assert!(error.to_string().contains(want), "{error}");
            let message = error.to_string();
            assert!(!message.contains(TOKEN) && !message.contains("sim-secret"));
        }
    };
    let url = fx.handle.url();
    case(
        Credentials::Bearer {
            token: Token::new("wrong"),
            source: "WEBEX_CAMPAIGN_HUB_TOKEN",
        },
        url.clone(),
        "refused (401, code 430",
    )
    .await;
    case(
        Fixture::bearer(TOKEN),
        format!("{url}/elsewhere"),
        "(404): check --hub-url",
    )
    .await;
    case(
        fx.client_credentials("wrong"),
        url.clone(),
        "refused the client credentials",
    )
    .await;
    let mut wrong_token_url = fx.client_credentials("sim-secret");
    if let Credentials::Client { token_url, .. } = &mut wrong_token_url {
        *token_url = reqwest::Url::parse(&format!("{url}/v1/purposes")).unwrap();
    }
    case(wrong_token_url, url.clone(), "no token endpoint").await;
    // A fixed token that expires cannot be renewed here.
    let expired = Fixture::new(&[], |c| c.hub_token_uses = Some(0)).await;
    let issued = {
        let reader = expired.reader("--hub-url", expired.client_credentials("sim-secret"));
        // Exchanged tokens are replaced on 498; twice in a row is an error.
        let error = reader.list("/v1/purposes").await.unwrap_err();
        assert!(
            error.to_string().contains("right after it was issued"),
            "{error}"
        );
        expired.sim.stats().tokens_issued
    };
    assert_eq!(issued, 2);
}

#[tokio::test]
async fn client_credentials_are_exchanged_once_and_cached() {
    let fx = Fixture::new(&[], |_| {}).await;
    let hub = fx.reader("--hub-url", fx.client_credentials("sim-secret"));
    for _ in 0..3 {
        assert_eq!(hub.list("/v1/purposes").await.unwrap().len(), 4);
    }
    assert_eq!(hub.token_fetches(), 1);
    assert_eq!(fx.sim.stats().tokens_issued, 1);
}

#[tokio::test]
async fn a_498_fetches_a_new_token_and_the_call_succeeds() {
    let fx = Fixture::new(&[], |c| c.hub_token_uses = Some(2)).await;
    let hub = fx.reader("--hub-url", fx.client_credentials("sim-secret"));
    for _ in 0..5 {
        assert_eq!(hub.list("/v1/target-groups").await.unwrap().len(), 6);
    }
    // Uses 1, 2 on the first token; the third call meets 498 and gets a second token…
    assert_eq!(hub.token_fetches(), 3);
    assert_eq!(fx.sim.stats().tokens_issued, 3);
}

#[tokio::test]
async fn a_token_is_renewed_when_expires_in_says_so() {
    let fx = Fixture::new(&[], |c| c.hub_token_expires_in = Some(1)).await;
    let hub = fx.reader("--hub-url", fx.client_credentials("sim-secret"));
    hub.list("/v1/purposes").await.unwrap();
    hub.list("/v1/purposes").await.unwrap();
    assert_eq!(hub.token_fetches(), 1);
    // Well past the one-second lifetime (renewed early by a tenth of it).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    hub.list("/v1/purposes").await.unwrap();
    assert_eq!(hub.token_fetches(), 2);
}

#[tokio::test]
async fn the_token_endpoint_is_as_documented() {
    let fx = Fixture::new(&[], |_| {}).await;
    let url = format!(
        "{}/campaignapi/resources/v3/oauth/token?grant_type=client_credentials",
        fx.handle.url()
    );
    let client = reqwest::Client::new();
    let basic = forget::tenant::hub::basic_authorization("sim-client", "sim-secret");
    let call = |golden: bool, auth: &str, url: &str| {
        let mut req = client.post(url).header("Authorization", auth);
        if golden {
            req = req.header("isGoldenAuthkey", "true");
        }
        async move {
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            (status, resp.json::<serde_json::Value>().await.unwrap())
        }
    };
    let (status, body) = call(true, &basic, &url).await;
    assert_eq!(status, 200);
    assert!(
        body["access_token"]
            .as_str()
            .unwrap()
            .starts_with("sim-oauth-")
    );
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(call(false, &basic, &url).await.0, 400);
    assert_eq!(call(true, "Basic eDp5", &url).await.0, 401);
    let no_grant = url.replace("client_credentials", "password");
    assert_eq!(call(true, &basic, &no_grant).await.0, 400);
    let token = body["access_token"].as_str().unwrap();
    let purposes = client
        .get(format!("{}/v1/purposes/582", fx.handle.url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(purposes.status().as_u16(), 200);
    let get_token = client.get(&url).send().await.unwrap();
    assert_eq!(get_token.status().as_u16(), 405);
}

#[tokio::test]
async fn inventory_on_the_command_line() {
    let fx = Fixture::new(&[], |_| {}).await;
    let wd = Workdir::new();
    let url = fx.handle.url();

    let mut table = wd.command();
    table
        .args(["inventory", "--hub-url", &url])
        .env("WEBEX_CAMPAIGN_HUB_TOKEN", TOKEN);
    let out = run_bin(table, 0).await;
    let stdout = text(&out.stdout);
    assert!(stdout.contains("tenant: acme-sim"), "{stdout}");
    assert!(stdout.contains("REVIEW: 2 target group(s)"), "{stdout}");
    for id in FLAGGED {
        assert!(stdout.contains(&format!("  {id} ")), "{stdout}");
    }

    let mut json = wd.command();
    json.args(["inventory", "--hub-url", &url, "--base-url", &url, "--json"])
        .env("FORGET_HUB_CLIENT_ID", "sim-client")
        .env("FORGET_HUB_CLIENT_SECRET", "sim-secret")
        .env("WEBEX_CAMPAIGN_TOKEN", TOKEN);
    let out = run_bin(json, 0).await;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["purposes"].as_array().unwrap().len(), 4);
    assert_eq!(v["target_groups"][2]["behaviour"]["meaning"], "Static");
    assert_eq!(
        v["target_groups"][2]["listed_by"],
        serde_json::json!(["hub", "base"])
    );
    assert_eq!(fx.sim.stats().tokens_issued, 1);

    let mut csv = wd.command();
    csv.args(["inventory", "--base-url", &url, "--csv"])
        .env("WEBEX_CAMPAIGN_TOKEN", TOKEN);
    let out = run_bin(csv, 0).await;
    let mut reader = csv::Reader::from_reader(&out.stdout[..]);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 6, "target groups only: purposes need the hub");
    let review = reader
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "review")
        .unwrap();
    assert_eq!(rows.iter().filter(|r| !r[review].is_empty()).count(), 2);

    let mut missing = wd.command();
    missing
        .args(["inventory", "--hub-url", &url, "--target-group", "404404"])
        .env("WEBEX_CAMPAIGN_HUB_TOKEN", TOKEN);
    let out = run_bin(missing, exit::INCOMPLETE).await;
    assert!(text(&out.stdout).contains("not found: target group 404404 (404)"));

    let mut refused = wd.command();
    refused
        .args(["inventory", "--hub-url", &url])
        .env("WEBEX_CAMPAIGN_HUB_TOKEN", "wrong");
    let out = run_bin(refused, exit::STOPPED).await;
    assert!(text(&out.stderr).contains("WEBEX_CAMPAIGN_HUB_TOKEN"));

    let mut no_credentials = wd.command();
    no_credentials.args(["inventory", "--hub-url", &url]);
    let out = run_bin(no_credentials, exit::USAGE).await;
    assert!(text(&out.stderr).contains("FORGET_HUB_CLIENT_ID"));
    let mut nothing = wd.command();
    nothing.arg("inventory");
    run_bin(nothing, exit::USAGE).await;
    let mut plain_http = wd.command();
    plain_http
        .args(["inventory", "--hub-url", "http://hub.example.com"])
        .env("WEBEX_CAMPAIGN_HUB_TOKEN", TOKEN);
    let out = run_bin(plain_http, exit::USAGE).await;
    assert!(
        text(&out.stderr).contains("--hub-url"),
        "{}",
        text(&out.stderr)
    );
}
