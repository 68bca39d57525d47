//! `forget purge`: give up on unfinished keys and drop their plaintext from the ledger, after
//! a confirmation (on a terminal) or `--yes` (scripts). See [`crate::ledger::purge`].

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

use crate::actor::Actor;
use crate::error::{Error, Result};
use crate::ledger::Ledger;
use crate::ledger::purge::{PurgePlan, PurgeScope};
use crate::ledger::verify::Depth;
use crate::output;

#[derive(Clone, Debug)]
pub struct PurgeConfig {
    pub state: PathBuf,
    pub scope: PurgeScope,
    /// Skip the confirmation.
    pub yes: bool,
}

/// What a purge did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PurgeResult {
    Nothing,
    Cancelled(PurgePlan),
    Purged(PurgePlan),
}

pub fn describe(plan: &PurgePlan) -> String {
    let mut parts: Vec<String> = plan
        .units
        .iter()
        .map(|(o, n)| format!("{n} {} keys", o.as_str()))
        .collect();
    if plan.invalid_rows > 0 || parts.is_empty() {
        parts.push(format!("{} invalid rows", plan.invalid_rows));
    }
    parts.join(", ")
}

/// Purge under the run lock (a run in progress must not lose a key it is sending).
/// `confirm` is asked, with the plan, unless `config.yes`.
pub fn run(
    config: &PurgeConfig,
    confirm: impl FnOnce(&PurgePlan) -> Result<bool>,
) -> Result<PurgeResult> {
    if !config.state.is_file() {
        // Before the lock, which would make an empty ledger file.
        return Err(Error::ledger(
            &config.state,
            "no ledger here: `forget run` creates it (or pass --state PATH)",
        ));
    }
    // Declared first, dropped last: after the connection to the ledger is closed.
    let _lock = Ledger::lock(&config.state)?;
    let mut ledger = Ledger::open_existing(&config.state)?;
    // Read-only, as before a run (see `job::run`).
    Ledger::open_read_only(&config.state)?.ensure_sound(Depth::Run)?;
    let plan = ledger.purge_plan(&config.scope)?;
    if plan.total() == 0 {
        return Ok(PurgeResult::Nothing);
    }
    if !config.yes && !confirm(&plan)? {
        return Ok(PurgeResult::Cancelled(plan));
    }
    let done = ledger.purge(&config.scope, &Actor::here())?;
    ledger.truncate_wal()?;
    Ok(PurgeResult::Purged(done))
}

/// Ask on the terminal; refuse outright when stdin is not one (a script must say `--yes`).
pub fn ask_on_terminal(plan: &PurgePlan) -> Result<bool> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(Error::usage(
            "forget purge drops plaintext for good: confirm on a terminal, or pass --yes",
        ));
    }
    output::eprint(&format!(
        "Purge the plaintext of {}?\nThey will not be sent again unless a later input file \
         carries the same key, and the ledger can no longer show them unmasked.\n\
         Type yes to purge: ",
        describe(plan)
    ));
    let mut answer = String::new();
    stdin
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Error::io("reading the confirmation", e))?;
    Ok(answer.trim().eq_ignore_ascii_case("yes"))
}
