//! `forget inventory`: list the tenant's purposes and target groups, and flag the static
//! uploads a profile deletion does not reach.

use clap::Args;

use super::args::{HubArgs, TargetArgs, TenantReaders};
use super::format::{self, Format};
use crate::error::{Error, Result};
use crate::output;
use crate::tenant::inventory;

#[derive(Args, Debug)]
pub struct InventoryArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub hub: HubArgs,
    /// Read only this purpose (GET /v1/purposes/ID). Repeatable.
    #[arg(long, value_name = "ID", help_heading = "Selection")]
    pub purpose: Vec<String>,
    /// Read only this target group (GET .../target-groups/ID). Repeatable.
    #[arg(long, value_name = "ID", help_heading = "Selection")]
    pub target_group: Vec<String>,
    /// text: a table for people. json: one document (`schema_version`, `command`, tenant,
    /// purposes, target_groups decoded with review reasons, not_found). csv: one table of
    /// purposes and target groups (a `kind` column tells them apart).
    #[arg(long, value_name = "FORMAT", default_value = "text", value_parser = format::parser(&["text", "json", "csv"]))]
    pub format: Format,
    /// Deprecated: `--format json`.
    #[arg(long, hide = true, conflicts_with = "csv")]
    pub json: bool,
    /// Deprecated: `--format csv`.
    #[arg(long, hide = true)]
    pub csv: bool,
    /// Seconds before a request is given up.
    #[arg(long, default_value_t = 30.0, value_name = "SECS")]
    pub timeout: f64,
}

pub async fn exec(args: &InventoryArgs) -> Result<i32> {
    let TenantReaders {
        engine,
        client,
        api,
        hub,
    } = TenantReaders::new(&args.target, &args.hub, args.timeout).await?;
    let base = api
        .as_ref()
        .map(|a| a.reader(client.clone(), engine.timeout))
        .transpose()?;
    if hub.is_none() && base.is_none() {
        return Err(Error::usage(
            "nothing to read: give --hub-url (purposes and target groups), --base-url (target \
             groups), or --simulate",
        ));
    }
    let selection = inventory::Selection {
        purposes: args.purpose.clone(),
        target_groups: args.target_group.clone(),
    };
    let found = inventory::collect(hub.as_ref(), base.as_ref(), &selection).await?;
    let chosen = format::chosen(
        args.format,
        &[
            (args.json, "--json", Format::Json),
            (args.csv, "--csv", Format::Csv),
        ],
    );
    let printed = match chosen {
        Format::Json => format::print_json("inventory", &found),
        Format::Csv => output::print_data(inventory::render_csv(&found)?.as_bytes()),
        _ => output::print(&inventory::render_table(&found)),
    };
    drop(api);
    output::decided(found.exit_code(), printed)
}
