//! `forget invalid`: the input rows that could not become a request, with file, line and
//! reason; then the requests whose received date could not be read (sent all the same).

use clap::Args;

use super::args::LedgerArgs;
use super::format::{self, Format};
use crate::error::{Result, exit};
use crate::ledger::Ledger;
use crate::ledger::verify::Depth;
use crate::output::TextOut;
use crate::text::printable;

#[derive(Args, Debug)]
pub struct InvalidArgs {
    #[command(flatten)]
    pub ledger: LedgerArgs,
    /// text: `file:line: reason` a line. json: one document (`schema_version`, `command`,
    /// `count`, `rows` and `dates_unreadable`: path, line, reason, ended_by — never the key
    /// as written).
    #[arg(long, value_name = "FORMAT", default_value = "text", value_parser = format::parser(&["text", "json"]))]
    pub format: Format,
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
    if args.format == Format::Json {
        let undated = ledger.unreadable_dates()?;
        let with_end = |rows: Vec<crate::ledger::InvalidRow>| -> Vec<serde_json::Value> {
            rows.into_iter()
                .map(|row| {
                    let end = ended.get(&(row.path.clone(), row.line)).cloned();
                    serde_json::json!({
                        "path": row.path, "line": row.line, "reason": row.reason, "ended_by": end,
                    })
                })
                .collect()
        };
        format::print_json(
            "invalid",
            serde_json::json!({
                "count": rows.len(),
                "rows": with_end(rows),
                "dates_unreadable": with_end(undated),
            }),
        )?;
        return Ok(exit::OK);
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
    let undated = ledger.unreadable_dates()?;
    if !undated.is_empty() {
        out.write(&format!(
            "{} requests have a received date that could not be read (recorded without a due \
             date, and sent all the same):\n",
            undated.len()
        ))?;
    }
    for row in undated {
        out.write(&format!(
            "{}:{}: {}\n",
            printable(&row.path),
            row.line,
            printable(&row.reason)
        ))?;
    }
    out.finish()?;
    Ok(exit::OK)
}
