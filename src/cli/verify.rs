//! `forget verify`: every check of a ledger, one verdict a line (or JSON); exit 0 only when
//! all pass.

use clap::Args;

use super::args::LedgerArgs;
use super::format::{self, Format};
use crate::error::{Error, Result, exit};
use crate::ledger::Ledger;
use crate::ledger::verify::{Depth, Verdict};
use crate::output;

#[derive(Args, Debug)]
#[command(after_help = "\
Checks: SQLite's quick_check (every page and record), then forget's rules: every stored value
of the type and range forget writes, every unit in one known state, counts per outcome adding
up, row kinds, every row and attempt pointing at what it names, one request row per unit, a
transaction id for every Webex deletion, no plaintext key on an erased unit, files' row
counts, attempt counts; and the hash chain: every chained record (file, attempt, event,
purge) hashes to its link from the one before it, from the genesis to the head (`chain`),
nothing recorded since the chain began is outside it (`chain_coverage`), every unit's
outcome and transaction id are those its last chained answer gave (`chain_outcomes`).
`--format json` names them (field `check`).
The ledger is opened read-only: a copy on read-only storage can be verified.
Exit code: 0 when every check passes, 5 when one fails (2: no ledger, or not one).")]
pub struct VerifyArgs {
    #[command(flatten)]
    pub ledger: LedgerArgs,
    /// text: one verdict a line. json: one document (`schema_version`, `command`, `ledger`,
    /// `ok`, and `checks`: one object per check with check, about, ok, problems, detail).
    #[arg(long, value_name = "FORMAT", default_value = "text", value_parser = format::parser(&["text", "json"]))]
    pub format: Format,
    /// Deprecated: `--format json`.
    #[arg(long, hide = true)]
    pub json: bool,
}

pub fn exec(args: &VerifyArgs) -> Result<i32> {
    let verdicts = match Ledger::open_read_only(&args.ledger.state) {
        Ok(ledger) => ledger.verify(Depth::All)?,
        // Damaged where SQLite reads first (its schema): the one verdict there is.
        Err(Error::Unsound { message, .. }) => vec![Verdict {
            check: "sqlite_open",
            about: "SQLite can open the ledger and read its schema",
            ok: false,
            problems: 1,
            detail: Some(message),
        }],
        Err(e) => return Err(e),
    };
    if !verdicts.iter().any(|v| v.check == "chain") && verdicts.len() > 1 {
        output::eprint(
            "note: this ledger has no hash chain (its schema is older than the chain): the \
             chain checks were not run; the next `forget run` on it upgrades it and begins one\n",
        );
    }
    let failed = verdicts.iter().filter(|v| !v.ok).count();
    let printed = match format::chosen(args.format, &[(args.json, "--json", Format::Json)]) {
        Format::Json => format::print_json(
            "verify",
            serde_json::json!({
                "ledger": args.ledger.state.display().to_string(),
                "ok": failed == 0,
                "checks": verdicts,
            }),
        ),
        _ => {
            let lines: String = verdicts.iter().map(|v| format!("{}\n", v.line())).collect();
            output::print(&lines)
        }
    };
    let code = if failed > 0 {
        output::eprint(&format!(
            "ledger {}: {failed} of {} checks FAILED: do not trust it as evidence; restore it \
             from a backup\n",
            args.ledger.state.display(),
            verdicts.len()
        ));
        exit::LEDGER_CHECK
    } else {
        exit::OK
    };
    output::decided(code, printed)
}
