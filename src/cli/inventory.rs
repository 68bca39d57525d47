//! `forget inventory`: list the tenant's purposes and target groups, and flag the static
//! uploads a profile deletion does not reach.

use clap::Args;

use super::args::{HubArgs, TargetArgs, TenantReaders};
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
    /// Print one JSON object: tenant, purposes, target_groups (decoded, with review
    /// reasons), not_found.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Print one CSV table of purposes and target groups (a `kind` column tells them apart).
    #[arg(long)]
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
    let printed = if args.json {
        let mut text = serde_json::to_string_pretty(&found)
            .map_err(|e| Error::internal(format!("cannot write JSON: {e}")))?;
        text.push('\n');
        output::print_data(text.as_bytes())
    } else if args.csv {
        output::print_data(inventory::render_csv(&found)?.as_bytes())
    } else {
        output::print(&inventory::render_table(&found))
    };
    drop(api);
    output::decided(found.exit_code(), printed)
}
