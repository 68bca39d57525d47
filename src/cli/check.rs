//! `forget check`: prove the base URL, token and profile names before a big run, and name
//! the tenant from the API hub.

use std::sync::Arc;

use clap::Args;

use super::args::{HubArgs, TargetArgs, TenantReaders};
use super::format::{self, Format};
use crate::connector::webex::Webex;
use crate::engine::preflight;
use crate::error::{Error, Result};
use crate::output;
use crate::tenant::check::{self, CheckReport};

#[derive(Args, Debug)]
pub struct CheckArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub hub: HubArgs,
    /// The profile name to prove (repeatable) [default: the tenant's default profile].
    #[arg(long, value_name = "NAME")]
    pub profile_name: Vec<String>,
    /// Seconds before a request is given up (each check tries up to three times).
    #[arg(long, default_value_t = 30.0, value_name = "SECS")]
    pub timeout: f64,
    /// text: a verdict a line for people. json: one document (`schema_version`, `command`,
    /// `ok`, `exit_code`, `delete` with one object per profile name, `hub`).
    #[arg(long, value_name = "FORMAT", default_value = "text", value_parser = format::parser(&["text", "json"]))]
    pub format: Format,
}

pub async fn exec(args: &CheckArgs) -> Result<i32> {
    let mut scopes: Vec<String> = args
        .profile_name
        .iter()
        .map(|p| super::args::profile_name(p))
        .collect::<Result<_>>()?;
    let TenantReaders {
        engine, api, hub, ..
    } = TenantReaders::new(&args.target, &args.hub, args.timeout).await?;
    if api.is_none() && hub.is_none() {
        return Err(Error::usage(
            "nothing to check: give --base-url (with WEBEX_CAMPAIGN_TOKEN or --token-file), \
             --hub-url, or --simulate",
        ));
    }
    if scopes.is_empty() {
        scopes.push(String::new());
    }
    // Kept alive to the end: with --simulate it holds the simulator the hub check uses too.
    let mut target = None;
    let mut delete = None;
    if let Some(api) = api {
        let connector = Arc::new(Webex::new(&api.url()?, api.token())?);
        let url = connector.url().to_string();
        let t = api.into_target(connector)?;
        let mut checks = Vec::new();
        let transport = engine.transport()?;
        for scope in &scopes {
            checks.push(preflight::canary(&*t.connector, &transport, &engine, scope).await);
        }
        delete = Some((url, checks));
        target = Some(t);
    }
    let hub = match &hub {
        Some(reader) => Some((reader.base().to_string(), check::hub_check(reader).await)),
        None => None,
    };
    let report = CheckReport { delete, hub };
    let printed = match args.format {
        Format::Json => format::print_json("check", report.to_json()),
        _ => output::print(&report.render()),
    };
    drop(target);
    output::decided(report.exit_code(), printed)
}
