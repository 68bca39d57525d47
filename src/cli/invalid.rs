//! `forget invalid`: the input rows that could not become a request, with file, line and
//! reason.

use clap::Args;

use super::args::LedgerArgs;
use crate::error::{Result, exit};
use crate::ledger::Ledger;
use crate::ledger::verify::Depth;
use crate::output::TextOut;
use crate::text::printable;

#[derive(Args, Debug)]
pub struct InvalidArgs {
    #[command(flatten)]
    pub ledger: LedgerArgs,
}

pub fn exec(args: &InvalidArgs) -> Result<i32> {
    let ledger = Ledger::open_read_only(&args.ledger.state)?;
    ledger.ensure_sound(Depth::Report)?;
    let rows = ledger.invalid_rows()?;
    // An invalid row resolved or corrected has ended: said beside it.
    let mut ended = std::collections::HashMap::new();
    for r in ledger.requests_where("r.kind = 'invalid'", [])? {
        if r.state.is_ended()
            && let Some(by) = ledger.ended_by(r.file_id, r.line)?
        {
            ended.insert((r.path, r.line), by);
        }
    }
    let mut out = TextOut::stdout();
    if rows.is_empty() {
        out.write("no invalid rows\n")?;
    }
    for row in rows {
        let end = ended
            .get(&(row.path.clone(), row.line))
            .map(|by| format!(" ({})", printable(by)))
            .unwrap_or_default();
        out.write(&format!(
            "{}:{}: {}{end}\n",
            printable(&row.path),
            row.line,
            printable(&row.reason)
        ))?;
    }
    out.finish()?;
    Ok(exit::OK)
}
