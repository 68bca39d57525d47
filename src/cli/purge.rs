//! `forget purge`: give up on unfinished keys and drop the plaintext the ledger holds.

use clap::Args;

use super::args::LedgerArgs;
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
    let (code, text) = match purge::run(config, purge::ask_on_terminal)? {
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
