//! Deadlines as `forget status` shows them: unfinished keys past or near their legal due date.

use rusqlite::params;
use time::{Date, Duration};

use super::Ledger;
use crate::deadline::{DUE_SOON_DAYS, format_date};
use crate::error::Result;

/// Keys not yet erased: everything but `deleted` and `not_found`.
const UNFINISHED: &str = "outcome NOT IN ('deleted', 'not_found')";

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct DeadlineSummary {
    /// The day the summary was made for (UTC), `yyyy-MM-dd`.
    pub today: String,
    /// Units with a due date (any outcome).
    pub dated: u64,
    /// Unfinished units whose due date has passed.
    pub overdue: u64,
    /// Unfinished units due today or within [`DUE_SOON_DAYS`] days.
    pub due_soon: u64,
    /// Unfinished units without a received date.
    pub undated_unfinished: u64,
    /// Erased units whose erasure came after their due date.
    pub erased_late: u64,
    /// The earliest-due unfinished units among the overdue and due-soon ones.
    pub earliest: Vec<DueUnit>,
}

/// An unfinished unit near or past its deadline, shown by its masked key only.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DueUnit {
    pub due_on: String,
    pub key_masked: String,
    pub profile_name: String,
    pub outcome: String,
}

impl Ledger {
    /// Deadlines as of `today`, listing at most `limit` of the earliest-due unfinished units.
    pub fn deadlines(&self, today: Date, limit: usize) -> Result<DeadlineSummary> {
        let today_s = format_date(today);
        let soon = format_date(today.saturating_add(Duration::days(DUE_SOON_DAYS)));
        let (dated, overdue, due_soon, undated, late): (i64, i64, i64, i64, i64) =
            self.conn.query_row(
                &format!(
                    "SELECT
                       coalesce(sum(due_on IS NOT NULL), 0),
                       coalesce(sum({UNFINISHED} AND due_on < ?1), 0),
                       coalesce(sum({UNFINISHED} AND due_on >= ?1 AND due_on <= ?2), 0),
                       coalesce(sum({UNFINISHED} AND due_on IS NULL), 0),
                       coalesce(sum(NOT ({UNFINISHED}) AND substr(finished_at, 1, 10) > due_on), 0)
                     FROM units"
                ),
                params![today_s, soon],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )?;
        let mut stmt = self.conn.prepare(&format!(
            "SELECT due_on, key_masked, scope, outcome FROM units
             WHERE {UNFINISHED} AND due_on <= ?1 ORDER BY due_on, id LIMIT ?2"
        ))?;
        let earliest = stmt
            .query_map(params![soon, limit as i64], |r| {
                Ok(DueUnit {
                    due_on: r.get(0)?,
                    key_masked: r.get(1)?,
                    profile_name: r.get(2)?,
                    outcome: r.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(DeadlineSummary {
            today: today_s,
            dated: dated as u64,
            overdue: overdue as u64,
            due_soon: due_soon as u64,
            undated_unfinished: undated as u64,
            erased_late: late as u64,
            earliest,
        })
    }
}
