//! `forget status --deadlines`: the requests to act on — open past their due date
//! (overdue), and erased after it (late) — each with its request id, file and line, due
//! date and days overdue, by masked key only.

use std::fmt::Write;

use time::Date;

use crate::error::{Error, Result};
use crate::ledger::Ledger;
use crate::ledger::deadlines::{DeadlineSummary, LateRequest, Lateness};
use crate::outcome::shown;
use crate::text::printable;

/// The deadline counts and both lists, as `status --json` and `status --deadlines` give them.
#[derive(Clone, Debug, serde::Serialize)]
pub struct DeadlineLists {
    #[serde(flatten)]
    pub summary: DeadlineSummary,
    /// Requests still open after their due date, earliest due first.
    pub overdue_requests: Vec<LateRequest>,
    /// Requests erased (or found not held) after their due date.
    pub late_requests: Vec<LateRequest>,
}

/// The counts and lists as of `today`. `id_column` names the kept column holding request
/// ids; it must be one the ledger kept.
pub fn lists(ledger: &Ledger, today: Date, id_column: Option<&str>) -> Result<DeadlineLists> {
    check_id_column(ledger, id_column)?;
    Ok(DeadlineLists {
        summary: ledger.deadlines(today, usize::MAX >> 1)?,
        overdue_requests: ledger.late_requests(Lateness::Overdue, today, id_column)?,
        late_requests: ledger.late_requests(Lateness::Late, today, id_column)?,
    })
}

/// `--id-column NAME` must name a column the ledger kept.
pub fn check_id_column(ledger: &Ledger, id_column: Option<&str>) -> Result<()> {
    if let Some(name) = id_column {
        let kept = ledger.kept_column_names()?;
        if !kept.iter().any(|k| k == name) {
            let found = if kept.is_empty() {
                "none was kept (`forget run --keep-column NAME` keeps one)".to_owned()
            } else {
                format!("the kept columns are: {}", kept.join(", "))
            };
            return Err(Error::usage(format!(
                "--id-column {}: not a kept column; {found}",
                printable(name)
            )));
        }
    }
    Ok(())
}

/// Both lists for a human, one request a line.
pub fn render_lists(l: &DeadlineLists) -> String {
    let mut out = String::new();
    for (title, list, days) in [
        (
            "overdue requests (still open after their due date)",
            &l.overdue_requests,
            "days overdue",
        ),
        (
            "late requests (erased after their due date)",
            &l.late_requests,
            "days late",
        ),
    ] {
        let _ = writeln!(out, "{title}: {}", list.len());
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "  {:<10} {:>5}  {:<20} {:<28} {:<24} outcome",
            "due", days, "request id", "file:line", "key"
        );
        for r in list.iter() {
            let id = r.request_id.as_deref().map_or("-".into(), printable);
            let at = format!("{}:{}", printable(&r.file), r.line);
            let _ = writeln!(
                out,
                "  {:<10} {:>5}  {:<20} {:<28} {:<24} {}",
                r.due_on,
                r.days_overdue,
                id,
                at,
                printable(&r.key_masked),
                printable(shown(r.connector.as_deref(), &r.outcome))
            );
        }
    }
    out
}
