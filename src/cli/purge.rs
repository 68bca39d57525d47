//! `forget purge`: give up on unfinished keys and drop the plaintext the ledger holds.

use clap::Args;

use super::args::LedgerArgs;
use super::format::{self, Format};
use crate::audit::purge::{self, PurgeConfig, PurgeResult};
use crate::error::{Error, Result, exit};
use crate::ledger::purge::PurgeScope;
use crate::output;

#[derive(Args, Debug)]
#[command(after_help = "\
Purged keys are never sent again unless a later input file carries the same key (the ledger
recognises it by its keyed hash and takes the plaintext back). The purge is recorded in the
ledger (when, who, which outcomes, how many) and shown in the report manifest.")]
pub struct PurgeArgs {
    /// What to purge: any of rejected, failed, pending (their keys' plaintext) and invalid
    /// (invalid rows' keys as written), comma-separated.
    #[arg(long, value_name = "LIST", required = true)]
    pub outcome: String,
    /// Do not ask for confirmation (needed when stdin is not a terminal).
    #[arg(long)]
    pub yes: bool,
    #[command(flatten)]
    pub ledger: LedgerArgs,
    /// text: one sentence. json: one document (`schema_version`, `command`, `result`:
    /// nothing / cancelled / purged, `keys` per outcome, `invalid_rows`).
    #[arg(long, value_name = "FORMAT", default_value = "text", value_parser = format::parser(&["text", "json"]))]
    pub format: Format,
}

impl PurgeArgs {
    pub fn to_config(&self) -> Result<PurgeConfig> {
        Ok(PurgeConfig {
            state: self.ledger.state.clone(),
            scope: PurgeScope::parse(&self.outcome)
                .map_err(|e| Error::usage(format!("--outcome {}: {e}", self.outcome)))?,
            yes: self.yes,
        })
    }
}

pub fn exec(args: &PurgeArgs) -> Result<i32> {
    let config = &args.to_config()?;
    let result = purge::run(config, purge::ask_on_terminal)?;
    if args.format == Format::Json {
        let (word, plan, code) = match &result {
            PurgeResult::Nothing => ("nothing", None, exit::OK),
            PurgeResult::Cancelled(plan) => ("cancelled", Some(plan), exit::USAGE),
            PurgeResult::Purged(plan) => ("purged", Some(plan), exit::OK),
        };
        let keys: serde_json::Map<String, serde_json::Value> = plan
            .map(|p| {
                p.units
                    .iter()
                    .map(|(o, n)| (o.as_str().to_owned(), (*n).into()))
                    .collect()
            })
            .unwrap_or_default();
        let printed = format::print_json(
            "purge",
            serde_json::json!({
                "result": word,
                "keys": keys,
                "invalid_rows": plan.map_or(0, |p| p.invalid_rows),
            }),
        );
        return output::decided(code, printed);
    }
    let (code, text) = match result {
        PurgeResult::Nothing => (
            exit::OK,
            format!(
                "nothing to purge: no {} plaintext left in the ledger\n",
                config.scope.names().join("/")
            ),
        ),
        PurgeResult::Cancelled(_) => (exit::USAGE, "cancelled: nothing was purged\n".into()),
        PurgeResult::Purged(done) => (
            exit::OK,
            format!(
                "purged the plaintext of {}; the purge is recorded in the ledger\n",
                purge::describe(&done)
            ),
        ),
    };
    output::decided(code, output::print(&text))
}
