//! Deadlines as `forget status` shows them: unfinished keys past or near their legal due date,
//! and the requests overdue (still open) or erased late, one by one.

use rusqlite::params;
use time::{Date, Duration};

use super::{Ledger, Pairs};
use crate::deadline::{DUE_SOON_DAYS, format_date, parse_date};
use crate::error::Result;
use crate::keys::mask;

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
                    // `count(*) FILTER`, not `sum(test)`: the aggregate is called for the
                    // units that count alone, not for every unit (a third of the time);
                    // the due date is tested first, as most units have none.
                    "SELECT
                       count(*) FILTER (WHERE due_on IS NOT NULL),
                       count(*) FILTER (WHERE due_on < ?1 AND {UNFINISHED}),
                       count(*) FILTER (WHERE due_on >= ?1 AND due_on <= ?2 AND {UNFINISHED}),
                       count(*) FILTER (WHERE due_on IS NULL AND {UNFINISHED}),
                       count(*) FILTER (WHERE due_on IS NOT NULL AND NOT ({UNFINISHED})
                                          AND substr(finished_at, 1, 10) > due_on)
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

/// A request (one input row) past its due date: still open (overdue), or erased after it
/// (late). Shown by its masked key, file and line, and its request id.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LateRequest {
    pub file: String,
    pub line: u64,
    /// The row's request id: its `--id-column` value, else its file's first kept column.
    pub request_id: Option<String>,
    /// The kept column the request id came from.
    pub id_column: Option<String>,
    pub key_masked: String,
    pub connector: Option<String>,
    pub profile_name: Option<String>,
    /// The unit's outcome, or `invalid`.
    pub outcome: String,
    pub received_on: Option<String>,
    pub due_on: String,
    /// When its unit ended (late requests only).
    pub finished_at: Option<String>,
    /// Overdue: days from the due date to today; late: to the day it was erased; due soon:
    /// the days left, negative (0 on the day it is due).
    pub days_overdue: i64,
}

/// Which requests [`Ledger::late_requests`] lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lateness {
    /// Open (not erased, not found) past its due date.
    Overdue,
    /// Erased (or not found) after its due date.
    Late,
    /// Open, due today or within [`DUE_SOON_DAYS`] days.
    DueSoon,
}

impl Lateness {
    /// The SQL that picks these requests, over `r` (the row), `u` (its unit) and `t` (today
    /// and the last day due soon).
    fn condition(self) -> &'static str {
        match self {
            Lateness::Overdue => {
                "r.due_on < t.today AND (u.id IS NULL OR u.outcome NOT IN ('deleted', 'not_found'))"
            }
            Lateness::Late => {
                "u.outcome IN ('deleted', 'not_found') AND substr(u.finished_at, 1, 10) > r.due_on"
            }
            Lateness::DueSoon => {
                "r.due_on >= t.today AND r.due_on <= t.soon
                 AND (u.id IS NULL OR u.outcome NOT IN ('deleted', 'not_found'))"
            }
        }
    }
}

/// Today and the last day due soon, as the `t` of [`Lateness::condition`].
const TODAY: &str = "(SELECT ?1 AS today, ?2 AS soon) t";

impl Ledger {
    /// Every request `which` as of `today`, earliest due first. `id_column` names the kept
    /// column holding the request id (default: the first one its file kept).
    pub fn late_requests(
        &self,
        which: Lateness,
        today: Date,
        id_column: Option<&str>,
    ) -> Result<Vec<LateRequest>> {
        self.late_requests_first(which, today, id_column, None)
    }

    /// How many requests are `which` as of `today`.
    pub fn late_request_count(&self, which: Lateness, today: Date) -> Result<u64> {
        let n: i64 = self.conn.query_row(
            &format!(
                "SELECT count(*) FROM rows r LEFT JOIN units u ON u.id = r.unit_id, {TODAY}
                 WHERE r.due_on IS NOT NULL AND {}",
                which.condition()
            ),
            params![format_date(today), soon(today)],
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }

    /// [`Ledger::late_requests`], the first `limit` of them (all when `None`).
    pub fn late_requests_first(
        &self,
        which: Lateness,
        today: Date,
        id_column: Option<&str>,
        limit: Option<usize>,
    ) -> Result<Vec<LateRequest>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT f.path, r.line, r.extra, f.extra_columns, u.key_masked, r.raw_key,
                    u.connector, u.scope, coalesce(u.outcome, 'invalid'), r.received_on,
                    r.due_on, u.finished_at
             FROM rows r JOIN files f ON f.id = r.file_id LEFT JOIN units u ON u.id = r.unit_id,
                  {TODAY}
             WHERE r.due_on IS NOT NULL AND {}
             ORDER BY r.due_on, r.file_id, r.line LIMIT ?3",
            which.condition()
        ))?;
        let today_s = format_date(today);
        let limit = limit.map_or(-1, |n| n.min(i64::MAX as usize) as i64);
        let mut rows = stmt.query(params![today_s, soon(today), limit])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let extra = Pairs::parse(r.get::<_, Option<String>>(2)?.as_deref());
            let kept: Vec<String> = r
                .get::<_, Option<String>>(3)?
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or_default();
            let id_column = id_column
                .map(str::to_owned)
                .or_else(|| kept.first().cloned());
            let request_id = id_column
                .as_deref()
                .and_then(|c| extra.get(c))
                .map(str::to_owned);
            let raw_key: Option<String> = r.get(5)?;
            let due_on: String = r.get(10)?;
            let finished_at: Option<String> = r.get(11)?;
            let until = match which {
                Lateness::Overdue | Lateness::DueSoon => Some(today),
                Lateness::Late => finished_at
                    .as_deref()
                    .and_then(|t| t.get(..10))
                    .and_then(|d| parse_date(d).ok()),
            };
            let days_overdue = match (parse_date(&due_on), until) {
                (Ok(due), Some(until)) => (until - due).whole_days(),
                _ => 0,
            };
            out.push(LateRequest {
                file: r.get(0)?,
                line: r.get::<_, i64>(1)? as u64,
                request_id,
                id_column,
                key_masked: r
                    .get::<_, Option<String>>(4)?
                    .or_else(|| raw_key.as_deref().map(|k| mask(k.trim())))
                    .unwrap_or_default(),
                connector: r.get(6)?,
                profile_name: r.get(7)?,
                outcome: r.get(8)?,
                received_on: r.get(9)?,
                due_on,
                finished_at,
                days_overdue,
            });
        }
        Ok(out)
    }
}

/// The last day [`Lateness::DueSoon`] counts, as the summary's `due_soon` does.
fn soon(today: Date) -> String {
    format_date(today.saturating_add(Duration::days(DUE_SOON_DAYS)))
}
