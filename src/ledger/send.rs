//! The send queue: the units a run sends, oldest due date first and undated ones last, read
//! page by page with keyset paging so every page is as cheap as the first.

use std::collections::BTreeMap;

use rusqlite::params;

use super::events::{self, Event};
use super::{Ledger, parse_exparams};
use crate::actor::Actor;
use crate::connector::Unit;
use crate::error::Result;
use crate::outcome::Outcome;

impl Ledger {
    /// The next page of units to send, oldest due date first, undated ones last (each in id
    /// order), after `cursor`, which is moved past the page. Keyset paging (on the
    /// `units_to_send` index, then on the table's ids) keeps every page as cheap as the first,
    /// however large the ledger.
    pub fn next_units(
        &self,
        connector: &str,
        include: &[Outcome],
        cursor: &mut SendCursor,
        limit: usize,
    ) -> Result<Vec<Unit>> {
        let outcomes: Vec<&str> = include.iter().map(|o| o.as_str()).collect();
        let include_json = serde_json::to_string(&outcomes).unwrap_or_else(|_| "[]".into());
        let read = |r: &rusqlite::Row<'_>| -> rusqlite::Result<(Unit, Option<String>)> {
            let exparams: Option<String> = r.get(3)?;
            Ok((
                Unit {
                    id: r.get(0)?,
                    scope: r.get(1)?,
                    key: r.get(2)?,
                    exparams: exparams.as_deref().map(parse_exparams).unwrap_or_default(),
                },
                r.get(4)?,
            ))
        };
        loop {
            let page: Vec<(Unit, Option<String>)> = match cursor {
                SendCursor::Dated { due, id } => {
                    // The rest of this due date, then the dates after it: two seeks on the
                    // index. One `(due_on, id) > (?, ?)` seeks on the date alone and walks
                    // its units from the first again on every page.
                    let mut stmt = self.conn.prepare_cached(NEXT_SAME_DUE)?;
                    let mut page: Vec<(Unit, Option<String>)> = stmt
                        .query_map(
                            params![connector, due.as_str(), *id, include_json, limit as i64],
                            read,
                        )?
                        .collect::<rusqlite::Result<_>>()?;
                    if page.len() < limit {
                        let mut stmt = self.conn.prepare_cached(NEXT_LATER_DUE)?;
                        let rest = (limit - page.len()) as i64;
                        let later = stmt.query_map(
                            params![connector, due.as_str(), include_json, rest],
                            read,
                        )?;
                        for unit in later {
                            page.push(unit?);
                        }
                    }
                    page
                }
                SendCursor::Undated { id } => {
                    let mut stmt = self.conn.prepare_cached(NEXT_UNDATED)?;
                    stmt.query_map(params![connector, *id, include_json, limit as i64], read)?
                        .collect::<rusqlite::Result<_>>()?
                }
            };
            match (page.last(), &cursor) {
                (Some((unit, Some(due))), _) => {
                    *cursor = SendCursor::Dated {
                        due: due.clone(),
                        id: unit.id,
                    }
                }
                (Some((unit, None)), _) => *cursor = SendCursor::Undated { id: unit.id },
                (None, SendCursor::Dated { .. }) => {
                    *cursor = SendCursor::Undated { id: 0 };
                    continue;
                }
                (None, SendCursor::Undated { .. }) => {}
            }
            return Ok(page.into_iter().map(|(unit, _)| unit).collect());
        }
    }

    /// How many units a run would send; with `dry_run`, also those a dry run alone
    /// recorded (which a dry run shows, and a real run does not send).
    pub fn count_units(&self, connector: &str, include: &[Outcome], dry_run: bool) -> Result<u64> {
        let outcomes: Vec<&str> = include.iter().map(|o| o.as_str()).collect();
        let include_json = serde_json::to_string(&outcomes).unwrap_or_else(|_| "[]".into());
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM units WHERE connector = ?1
               AND outcome IN (SELECT value FROM json_each(?2)) AND key IS NOT NULL
               AND dry_run <= ?3",
            params![connector, include_json, dry_run],
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }

    /// What a dry run would send: the units per scope, and the first `first` of them in
    /// sending order (masked keys and audit fields; never a plaintext key).
    pub fn preview(
        &self,
        connector: &str,
        include: &[Outcome],
        first: usize,
    ) -> Result<SendPreview> {
        let outcomes: Vec<&str> = include.iter().map(|o| o.as_str()).collect();
        let include_json = serde_json::to_string(&outcomes).unwrap_or_else(|_| "[]".into());
        // Per scope: the units of those outcomes, read from `units_by_outcome` alone in its
        // order, less the few whose key was purged (one pass over the table, nothing to
        // sort). Asking the index for the units with a key read the table once per unit.
        let mut per_scope: BTreeMap<String, i64> = BTreeMap::new();
        for (sql, sign) in [
            (
                "SELECT scope, count(*) FROM units
                 WHERE connector = ?1 AND outcome IN (SELECT value FROM json_each(?2))
                 GROUP BY outcome, scope",
                1,
            ),
            (
                "SELECT scope, count(*) FROM units NOT INDEXED
                 WHERE key IS NULL AND connector = ?1
                   AND outcome IN (SELECT value FROM json_each(?2))
                 GROUP BY scope",
                -1,
            ),
        ] {
            let mut stmt = self.conn.prepare(sql)?;
            let mut rows = stmt.query(params![connector, include_json])?;
            while let Some(row) = rows.next()? {
                *per_scope.entry(row.get(0)?).or_default() += sign * row.get::<_, i64>(1)?;
            }
        }
        let per_scope = per_scope
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(scope, n)| (scope, n as u64))
            .collect();
        // In sending order: the dated units along `units_to_send`, then the undated ones
        // in id order (one `ORDER BY` over both sorted every unit to show twenty).
        let mut first_units = Vec::new();
        for sql in [
            "SELECT scope, key_masked, exparams FROM units WHERE connector = ?1
               AND key IS NOT NULL AND due_on IS NOT NULL
               AND outcome IN (SELECT value FROM json_each(?2))
             ORDER BY due_on, id LIMIT ?3",
            "SELECT scope, key_masked, exparams FROM units NOT INDEXED WHERE connector = ?1
               AND key IS NOT NULL AND due_on IS NULL
               AND outcome IN (SELECT value FROM json_each(?2))
             ORDER BY id LIMIT ?3",
        ] {
            let left = first.saturating_sub(first_units.len());
            if left == 0 {
                break;
            }
            let mut stmt = self.conn.prepare(sql)?;
            let rows = stmt.query_map(params![connector, include_json, left as i64], |r| {
                let exparams: Option<String> = r.get(2)?;
                Ok(PreviewUnit {
                    scope: r.get(0)?,
                    key_masked: r.get(1)?,
                    exparams: exparams.as_deref().map(parse_exparams).unwrap_or_default(),
                })
            })?;
            for unit in rows {
                first_units.push(unit?);
            }
        }
        let first = first_units;
        Ok(SendPreview { per_scope, first })
    }

    /// Distinct scopes (profile names) of the units a run would send, at most `limit`.
    pub fn scopes_to_send(
        &self,
        connector: &str,
        include: &[Outcome],
        limit: usize,
    ) -> Result<Vec<String>> {
        let outcomes: Vec<&str> = include.iter().map(|o| o.as_str()).collect();
        let include_json = serde_json::to_string(&outcomes).unwrap_or_else(|_| "[]".into());
        let mut stmt = self.conn.prepare(
            "SELECT DISTINCT scope FROM units WHERE connector = ?1
               AND outcome IN (SELECT value FROM json_each(?2)) AND key IS NOT NULL
               AND dry_run = 0
             ORDER BY scope LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![connector, include_json, limit as i64], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

impl Ledger {
    /// Set aside the keys waiting under `scope` (of `include`'s outcomes) without sending
    /// them: the preflight found the profile invalid, so each would be rejected (102). They
    /// are recorded rejected, with the reason, and one `set_aside` event says how many and
    /// why. Returns how many. Keys the API rejected before keep that answer (the run does not
    /// send them either, see `job::source`).
    pub fn set_aside(
        &mut self,
        connector: &str,
        scope: &str,
        include: &[Outcome],
        answer: &str,
        actor: &Actor,
    ) -> Result<u64> {
        let outcomes: Vec<&str> = include.iter().map(|o| o.as_str()).collect();
        let include_json = serde_json::to_string(&outcomes).unwrap_or_else(|_| "[]".into());
        let reason = format!("set aside: the preflight found profile {scope:?} invalid");
        let tx = self.conn.transaction()?;
        let n = tx.execute(
            // No code or status: no answer came for these keys; the description says why.
            "UPDATE units SET outcome = 'rejected', description = ?4, finished_at = ?5
             WHERE connector = ?1 AND scope = ?2 AND key IS NOT NULL AND dry_run = 0
               AND outcome IN (SELECT value FROM json_each(?3)) AND outcome <> 'rejected'",
            params![
                connector,
                scope,
                include_json,
                reason,
                super::timestamp(std::time::SystemTime::now())
            ],
        )? as u64;
        if n > 0 {
            events::record(
                &tx,
                actor,
                &Event {
                    kind: "set_aside",
                    file_id: None,
                    line: None,
                    unit_id: None,
                    reason: Some(&reason),
                    detail: Some(serde_json::json!({
                        "connector": connector,
                        "scope": scope,
                        "units": n,
                        "outcomes_before": outcomes,
                        "preflight_answer": answer,
                    })),
                },
            )?;
        }
        tx.commit()?;
        Ok(n)
    }
}

/// A page of units due on a date, after an id; walks the `units_to_send` index from there.
const NEXT_SAME_DUE: &str = "SELECT id, scope, key, exparams, due_on FROM units
     WHERE connector = ?1 AND key IS NOT NULL AND due_on = ?2 AND id > ?3
       AND outcome IN (SELECT value FROM json_each(?4)) AND dry_run = 0
     ORDER BY id LIMIT ?5";

/// A page of units due after a date; walks the `units_to_send` index from there.
const NEXT_LATER_DUE: &str = "SELECT id, scope, key, exparams, due_on FROM units
     WHERE connector = ?1 AND key IS NOT NULL AND due_on > ?2
       AND outcome IN (SELECT value FROM json_each(?3)) AND dry_run = 0
     ORDER BY due_on, id LIMIT ?4";

/// A page of undated units to send, after id: a walk of the table itself, in id order
/// (an index would only repeat that order; `units_by_outcome` would need a sort).
const NEXT_UNDATED: &str = "SELECT id, scope, key, exparams, due_on FROM units NOT INDEXED
     WHERE connector = ?1 AND key IS NOT NULL AND due_on IS NULL AND id > ?2
       AND outcome IN (SELECT value FROM json_each(?3)) AND dry_run = 0
     ORDER BY id LIMIT ?4";

/// Where [`Ledger::next_units`] continues: first the dated units by (due date, id), then
/// the undated ones by id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendCursor {
    Dated { due: String, id: i64 },
    Undated { id: i64 },
}

impl Default for SendCursor {
    fn default() -> Self {
        SendCursor::Dated {
            due: String::new(),
            id: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(ledger: &Ledger, sql: &str) -> Result<String> {
        let mut stmt = ledger
            .conn()
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
        let n = stmt.parameter_count();
        let args: Vec<rusqlite::types::Value> = (0..n)
            .map(|_| rusqlite::types::Value::Text("x".into()))
            .collect();
        let rows = stmt.query_map(rusqlite::params_from_iter(args), |r| r.get::<_, String>(3))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?.join("\n"))
    }

    /// Keyset paging in numbers: every page of a large ledger costs what the first page of
    /// its kind did (SQLite counts each statement's virtual-machine steps), where paging by
    /// OFFSET, or a seek the planner cannot use, would walk everything before it again.
    #[test]
    fn every_page_costs_what_the_first_did() -> Result<()> {
        const UNITS: i64 = 30_000;
        const PAGE: usize = 100;
        let ledger = Ledger::open_in_memory()?;
        let conn = ledger.conn();
        let tx = conn.unchecked_transaction()?;
        {
            let mut insert = tx.prepare(
                "INSERT INTO units (id, connector, scope, key_hash, key, key_masked, outcome, due_on)
                 VALUES (?1, 'webex', 'customers', ?2, ?3, 'x', ?4, ?5)",
            )?;
            for id in 1..=UNITS {
                // Every 4th deleted (no key), every 10th rejected, every 3rd undated; due
                // dates scattered so that id order and due order disagree.
                let (key, outcome) = match id {
                    _ if id % 4 == 0 => (None, "deleted"),
                    _ if id % 10 == 0 => (Some(format!("k{id}")), "rejected"),
                    _ => (Some(format!("k{id}")), "pending"),
                };
                let due = (id % 3 != 0).then(|| format!("2026-10-{:02}", 1 + (id * 7919) % 28));
                let hash = [id.to_le_bytes(), [0; 8], [0; 8], [0; 8]].concat();
                insert.execute(params![id, hash, key, outcome, due])?;
            }
        }
        tx.commit()?;
        let steps = |sql: &str| -> Result<i64> {
            let stmt = conn.prepare_cached(sql)?;
            Ok(i64::from(
                stmt.reset_status(rusqlite::StatementStatus::VmStep),
            ))
        };
        // Steps per full page, dated pages and undated ones apart (they walk differently).
        let (mut dated, mut undated) = (Vec::new(), Vec::new());
        let mut cursor = SendCursor::default();
        let mut sent = 0;
        loop {
            let page = ledger.next_units("webex", &[Outcome::Pending], &mut cursor, PAGE)?;
            let cost = steps(NEXT_SAME_DUE)? + steps(NEXT_LATER_DUE)? + steps(NEXT_UNDATED)?;
            sent += page.len();
            if page.len() < PAGE {
                if page.is_empty() {
                    break;
                }
                continue;
            }
            match cursor {
                SendCursor::Dated { .. } => dated.push(cost),
                SendCursor::Undated { .. } => undated.push(cost),
            }
        }
        let pending = (1..=UNITS).filter(|id| id % 4 != 0 && id % 10 != 0).count();
        assert_eq!(sent, pending);
        for (kind, costs) in [("dated", &dated), ("undated", &undated)] {
            assert!(costs.len() >= 40, "{kind}: {} pages", costs.len());
            let (first, most) = (costs[0], costs.iter().copied().max().unwrap_or(0));
            assert!(
                most <= first * 3 / 2,
                "{kind} pages cost {first} steps at first, up to {most} later: {costs:?}"
            );
        }
        Ok(())
    }

    #[test]
    fn send_pages_walk_the_index_without_sorting() -> Result<()> {
        let ledger = Ledger::open_in_memory()?;
        for (sql, walks) in [
            (
                NEXT_SAME_DUE,
                "USING INDEX units_to_send (connector=? AND due_on=? AND id>?)",
            ),
            (
                NEXT_LATER_DUE,
                "USING INDEX units_to_send (connector=? AND due_on>?)",
            ),
            (NEXT_UNDATED, "USING INTEGER PRIMARY KEY"),
        ] {
            let plan = plan(&ledger, sql)?;
            assert!(plan.contains(walks), "{plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{plan}");
        }
        Ok(())
    }

    /// A dry run's preview is what one sorting query over every unit gave: the units per
    /// scope that have a key, and the first ones dated first by (due, id), then by id.
    #[test]
    fn the_preview_counts_and_orders_as_one_sorted_query_did() -> Result<()> {
        let ledger = Ledger::open_in_memory()?;
        let conn = ledger.conn();
        {
            let mut insert = conn.prepare(
                "INSERT INTO units (id, connector, scope, key_hash, key, key_masked, outcome, due_on)
                 VALUES (?1, 'webex', ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for id in 1..=300i64 {
                let scope = ["", "vip", "customers"][(id % 3) as usize];
                // Purged (no key, still pending) every 7th, deleted every 5th, rejected
                // every 11th; dated every other one, in an order that is not the ids'.
                let (key, outcome) = match id {
                    _ if id % 5 == 0 => (None, "deleted"),
                    _ if id % 7 == 0 => (None, "pending"),
                    _ if id % 11 == 0 => (Some(format!("k{id}")), "rejected"),
                    _ => (Some(format!("k{id}")), "pending"),
                };
                let due = (id % 2 == 0).then(|| format!("2026-10-{:02}", 1 + (id * 13) % 28));
                let hash = [id.to_le_bytes(), [0; 8], [0; 8], [0; 8]].concat();
                insert.execute(params![
                    id,
                    scope,
                    hash,
                    key,
                    format!("m{id}"),
                    outcome,
                    due
                ])?;
            }
        }
        for (include, first) in [
            (&[Outcome::Pending, Outcome::Failed][..], 20),
            (
                &[Outcome::Pending, Outcome::Failed, Outcome::Rejected][..],
                200,
            ),
            (&[Outcome::Rejected][..], 500),
        ] {
            let preview = ledger.preview("webex", include, first)?;
            let include_json =
                serde_json::to_string(&include.iter().map(|o| o.as_str()).collect::<Vec<_>>())
                    .unwrap_or_default();
            let per_scope: Vec<(String, u64)> = conn
                .prepare(
                    "SELECT scope, count(*) FROM units WHERE connector = 'webex'
                       AND outcome IN (SELECT value FROM json_each(?1)) AND key IS NOT NULL
                     GROUP BY scope ORDER BY scope",
                )?
                .query_map([&include_json], |r| {
                    Ok((r.get(0)?, r.get::<_, i64>(1)? as u64))
                })?
                .collect::<rusqlite::Result<_>>()?;
            let masked: Vec<String> = conn
                .prepare(
                    "SELECT key_masked FROM units WHERE connector = 'webex'
                       AND outcome IN (SELECT value FROM json_each(?1)) AND key IS NOT NULL
                     ORDER BY due_on IS NULL, due_on, id LIMIT ?2",
                )?
                .query_map(params![include_json, first as i64], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            assert_eq!(preview.per_scope, per_scope, "{include:?}");
            let shown: Vec<&str> = preview
                .first
                .iter()
                .map(|u| u.key_masked.as_str())
                .collect();
            assert_eq!(shown, masked, "{include:?}");
        }
        Ok(())
    }
}

/// What a dry run would send (see [`Ledger::preview`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SendPreview {
    /// Units to send per scope (profile name; '' = the tenant's default).
    pub per_scope: Vec<(String, u64)>,
    /// The first units in sending order.
    pub first: Vec<PreviewUnit>,
}

/// One request a run would send, as it may be shown: the key masked.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PreviewUnit {
    pub scope: String,
    pub key_masked: String,
    pub exparams: Vec<(String, String)>,
}
