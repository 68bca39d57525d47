//! The life of a request, derived in one place: every command that says what became of a
//! request (status, report, lookup, resolve, a run's summary and exit code) reads its state
//! from here.
//!
//! A request is one input row (file, line) of kind request, duplicate or invalid. It is
//! **open** — pending, or needing attention (its unit rejected, failed or set aside, the row
//! invalid, its received date unreadable) — or **ended**: erased (its unit deleted), not held
//! (its unit not found), resolved (an operator's `resolved` event) or corrected (a
//! `corrected` event naming the later row that supersedes it). Units' outcomes are never
//! rewritten: events supersede a request's open state.

use rusqlite::Connection;

use super::{Ledger, ScopeCounts, events};
use crate::outcome::Outcome;

mod find;
mod hints;
use crate::error::Result;
pub use hints::{DEFAULT_LEDGER, OpenHint, open_hints, render_open, shell_word, state_flag};

/// A request's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    /// Waiting to be sent (or sent again).
    Pending,
    /// Needs attention: the API rejected its unit for good.
    Rejected,
    /// Needs attention: its unit failed every attempt of a run.
    Failed,
    /// Needs attention: the row could not become a request (blank key, …).
    Invalid,
    /// Needs attention: its received date could not be read (even if it was erased).
    DateUnreadable,
    /// Needs attention: its unit was set aside (its profile failed the preflight).
    SetAside,
    /// Ended: its unit was deleted.
    Erased,
    /// Ended: the system does not hold the person (not found).
    NotHeld,
    /// Ended: an operator resolved it, with a reason.
    Resolved,
    /// Ended: a later request row supersedes it.
    Corrected,
}

impl State {
    pub const ALL: [State; 10] = [
        State::Pending,
        State::Rejected,
        State::Failed,
        State::Invalid,
        State::DateUnreadable,
        State::SetAside,
        State::Erased,
        State::NotHeld,
        State::Resolved,
        State::Corrected,
    ];

    /// The states that need attention, in the order summaries list them.
    pub const ATTENTION: [State; 5] = [
        State::Rejected,
        State::Failed,
        State::Invalid,
        State::DateUnreadable,
        State::SetAside,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Rejected => "rejected",
            State::Failed => "failed",
            State::Invalid => "invalid",
            State::DateUnreadable => "date_unreadable",
            State::SetAside => "set_aside",
            State::Erased => "erased",
            State::NotHeld => "not_held",
            State::Resolved => "resolved",
            State::Corrected => "corrected",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|st| st.as_str() == s)
    }

    pub fn is_ended(self) -> bool {
        matches!(
            self,
            State::Erased | State::NotHeld | State::Resolved | State::Corrected
        )
    }

    /// Open, and not merely waiting: someone has to act.
    pub fn needs_attention(self) -> bool {
        !self.is_ended() && self != State::Pending
    }

    /// In words, for people: "rejected", "invalid row", "received date unreadable", ….
    pub fn words(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Rejected => "rejected",
            State::Failed => "failed",
            State::Invalid => "invalid row",
            State::DateUnreadable => "received date unreadable",
            State::SetAside => "set aside (profile failed the preflight)",
            State::Erased => "erased",
            State::NotHeld => "not held",
            State::Resolved => "resolved",
            State::Corrected => "corrected",
        }
    }
}

/// The tables a request's state is read from: `r` the row, `f` its file, `u` its unit (none
/// for an invalid row), `ev` its row events, `ee` the event that ended it (if any), `sa` its
/// unit's set-aside mark. A ledger of an older schema (read as it is) has no events.
pub(crate) fn from_clause(conn: &Connection) -> rusqlite::Result<String> {
    let (ev, ee, sa) = if events::available(conn)? {
        (
            format!(
                "SELECT e.file_id, e.line,
                        min(CASE WHEN e.kind IN ('resolved', 'corrected') THEN e.id END) AS end_id,
                        max({}) AS date_bad
                 FROM events e WHERE e.file_id IS NOT NULL AND e.line IS NOT NULL
                 GROUP BY e.file_id, e.line",
                events::DATE_FLAG_STANDS
            ),
            "events",
            "SELECT DISTINCT unit_id FROM events WHERE kind = 'set_aside' AND unit_id IS NOT NULL",
        )
    } else {
        (
            "SELECT NULL AS file_id, NULL AS line, NULL AS end_id, 0 AS date_bad WHERE 0"
                .to_owned(),
            "(SELECT NULL AS id, NULL AS at, NULL AS kind, NULL AS operator, NULL AS host,
                     NULL AS reason, NULL AS detail WHERE 0)",
            "SELECT NULL AS unit_id WHERE 0",
        )
    };
    Ok(format!(
        "rows r JOIN files f ON f.id = r.file_id
         LEFT JOIN units u ON u.id = r.unit_id
         LEFT JOIN ({ev}) ev ON ev.file_id = r.file_id AND ev.line = r.line
         LEFT JOIN {ee} ee ON ee.id = ev.end_id
         LEFT JOIN ({sa}) sa ON sa.unit_id = r.unit_id"
    ))
}

/// The state of the request `r`, as SQL over [`from_clause`]'s tables: [`State::as_str`].
/// A resolution or correction ends a request whatever else is true of it; an invalid row
/// and an unreadable date need attention whatever became of the unit.
pub(crate) const STATE: &str = "CASE
    WHEN ee.kind = 'resolved' THEN 'resolved'
    WHEN ee.kind = 'corrected' THEN 'corrected'
    WHEN r.kind = 'invalid' THEN 'invalid'
    WHEN ev.date_bad THEN 'date_unreadable'
    WHEN u.outcome = 'deleted' THEN 'erased'
    WHEN u.outcome = 'not_found' THEN 'not_held'
    WHEN u.outcome = 'rejected' THEN 'rejected'
    WHEN u.outcome = 'failed' THEN 'failed'
    WHEN sa.unit_id IS NOT NULL THEN 'set_aside'
    ELSE 'pending' END";

/// The state rule, as [`STATE`] says it in SQL (a test checks they agree): `ended_by` the
/// kind of the first resolving or correcting event, `kind` the row's, `date_bad` an
/// unreadable received date, `outcome` its unit's, `set_aside` its unit set aside.
pub fn derive(
    ended_by: Option<&str>,
    kind: &str,
    date_bad: bool,
    outcome: Option<&str>,
    set_aside: bool,
) -> State {
    match (ended_by, kind, outcome) {
        (Some(events::RESOLVED), ..) => State::Resolved,
        (Some(events::CORRECTED), ..) => State::Corrected,
        (_, "invalid", _) => State::Invalid,
        _ if date_bad => State::DateUnreadable,
        (_, _, Some("deleted")) => State::Erased,
        (_, _, Some("not_found")) => State::NotHeld,
        (_, _, Some("rejected")) => State::Rejected,
        (_, _, Some("failed")) => State::Failed,
        _ if set_aside => State::SetAside,
        _ => State::Pending,
    }
}

/// A row an event names: file id, line, kind, its unit's outcome, the unit, the connector.
type EventRow = (i64, i64, String, Option<String>, Option<i64>, String);

/// A row whose events move it from the state its unit gives it.
struct Changed {
    base: State,
    state: State,
}

/// Requests per state, and the people and units they are for: the one way every command
/// counts them.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct RequestCounts {
    /// Distinct keys (keyed hashes) per connector: a person in two profiles is one person.
    pub people: u64,
    /// Request rows (request, duplicate and invalid).
    pub requests: u64,
    /// Units of work (connector, scope, key).
    pub units: u64,
    pub open: u64,
    pub needs_attention: u64,
    pub ended: u64,
    pub pending: u64,
    pub rejected: u64,
    pub failed: u64,
    pub invalid: u64,
    pub date_unreadable: u64,
    pub set_aside: u64,
    pub erased: u64,
    pub not_held: u64,
    pub resolved: u64,
    pub corrected: u64,
}

impl RequestCounts {
    pub fn get(&self, state: State) -> u64 {
        match state {
            State::Pending => self.pending,
            State::Rejected => self.rejected,
            State::Failed => self.failed,
            State::Invalid => self.invalid,
            State::DateUnreadable => self.date_unreadable,
            State::SetAside => self.set_aside,
            State::Erased => self.erased,
            State::NotHeld => self.not_held,
            State::Resolved => self.resolved,
            State::Corrected => self.corrected,
        }
    }

    fn slot(&mut self, state: State) -> &mut u64 {
        match state {
            State::Pending => &mut self.pending,
            State::Rejected => &mut self.rejected,
            State::Failed => &mut self.failed,
            State::Invalid => &mut self.invalid,
            State::DateUnreadable => &mut self.date_unreadable,
            State::SetAside => &mut self.set_aside,
            State::Erased => &mut self.erased,
            State::NotHeld => &mut self.not_held,
            State::Resolved => &mut self.resolved,
            State::Corrected => &mut self.corrected,
        }
    }

    /// People, requests and units, and the requests by state, in one line: the same words
    /// in every command's summary.
    pub fn render_line(&self) -> String {
        format!(
            "requests: {} for {} people ({} units); {} ended ({} erased, {} not held, {} resolved, \
             {} corrected), {} open ({} pending, {} need attention)\n",
            self.requests,
            self.people,
            self.units,
            self.ended,
            self.erased,
            self.not_held,
            self.resolved,
            self.corrected,
            self.open,
            self.pending,
            self.needs_attention
        )
    }

    /// Every request has ended: the exit code 0 of run, status and resolve.
    pub fn all_ended(&self) -> bool {
        self.open == 0
    }
}

/// One request and its state, for the commands that act on requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub file_id: i64,
    pub path: String,
    pub line: u64,
    /// `request`, `duplicate` or `invalid`.
    pub kind: String,
    pub unit_id: Option<i64>,
    pub connector: String,
    pub state: State,
    /// The plaintext the ledger still holds for it (an unfinished unit's key, an invalid
    /// row's key as written), to mask it wherever it is repeated.
    pub key: Option<String>,
    pub key_masked: Option<String>,
    /// The keyed hash of its unit's key (none for an invalid row).
    pub key_hash: Option<Vec<u8>>,
}

impl Ledger {
    /// Requests per state (of one connector's requests, or all), with people and units.
    ///
    /// Read without joining every row to the events (that costs seconds on a large
    /// ledger, and this ends every run): each row is counted in the state its unit gives it,
    /// then the few rows events name (or whose unit was set aside) are moved to the state
    /// [`derive`] gives them.
    pub fn request_counts(&self, connector: Option<&str>) -> Result<RequestCounts> {
        self.request_counts_with(connector, &self.counts_by_scope()?)
    }

    /// [`Ledger::request_counts`], given the ledger's [`Ledger::counts_by_scope`] (a pass
    /// over the outcome index, which a run's summary has read already).
    pub fn request_counts_with(
        &self,
        connector: Option<&str>,
        by_scope: &[ScopeCounts],
    ) -> Result<RequestCounts> {
        let mut counts = RequestCounts::default();
        // Every unit has exactly one request row (the `one_request_per_unit` check): the
        // rows of an outcome are its units and their duplicate rows; invalid rows have no
        // unit.
        let groups: Vec<&ScopeCounts> = by_scope
            .iter()
            .filter(|g| connector.is_none_or(|c| g.connector == c) && g.counts.total > 0)
            .collect();
        for group in &groups {
            for outcome in Outcome::ALL {
                let n = group.counts.get(outcome);
                *counts.slot(derive(
                    None,
                    "request",
                    false,
                    Some(outcome.as_str()),
                    false,
                )) += n;
            }
        }
        let mut stmt = self.conn.prepare(
            "SELECT 'duplicate', u.outcome, count(*) FROM row_records r
               JOIN units u ON u.id = r.unit_id
               WHERE r.kind = 'duplicate' AND (?1 IS NULL OR u.connector = ?1) GROUP BY 2
             UNION ALL
             SELECT 'invalid', NULL, count(*) FROM row_records r JOIN files f ON f.id = r.file_id
               WHERE r.kind = 'invalid' AND (?1 IS NULL OR f.connector = ?1)",
        )?;
        let mut rows = stmt.query([connector])?;
        while let Some(row) = rows.next()? {
            let kind: String = row.get(0)?;
            let outcome: Option<String> = row.get(1)?;
            let n = row.get::<_, i64>(2)? as u64;
            *counts.slot(derive(None, &kind, false, outcome.as_deref(), false)) += n;
        }
        if events::available(&self.conn)? {
            for special in self.rows_events_change(connector)? {
                let base = counts.slot(special.base);
                *base = base.saturating_sub(1);
                *counts.slot(special.state) += 1;
            }
        }
        for s in State::ALL {
            let n = counts.get(s);
            counts.requests += n;
            if s.is_ended() {
                counts.ended += n;
            } else {
                counts.open += n;
                if s.needs_attention() {
                    counts.needs_attention += n;
                }
            }
        }
        // A key is one person however many profiles hold it. With one scope per connector
        // (most ledgers) every unit is a person, and the hashes need not be read.
        let units: u64 = groups.iter().map(|g| g.counts.total).sum();
        let several_scopes = groups
            .windows(2)
            .any(|pair| pair[0].connector == pair[1].connector);
        counts.units = units;
        counts.people = if several_scopes {
            self.conn.query_row(
                "SELECT count(*) FROM (SELECT DISTINCT connector, key_hash FROM units
                                       WHERE ?1 IS NULL OR connector = ?1)",
                [connector],
                |r| r.get::<_, i64>(0),
            )? as u64
        } else {
            counts.units
        };
        Ok(counts)
    }

    /// The rows whose state an event changes: named by an event (file and line), or of a
    /// unit set aside; each with the state its unit alone gives it and its real one.
    fn rows_events_change(&self, connector: Option<&str>) -> Result<Vec<Changed>> {
        // Each part is driven by the (few) events, through an index.
        let mut stmt = self.conn.prepare(
            "SELECT r.file_id, r.line, r.kind, u.outcome, r.unit_id,
                    coalesce(u.connector, f.connector)
               FROM (SELECT DISTINCT file_id, line FROM events
                     WHERE file_id IS NOT NULL AND line IS NOT NULL) e
               JOIN row_records r ON r.file_id = e.file_id AND r.line = e.line
               JOIN files f ON f.id = r.file_id LEFT JOIN units u ON u.id = r.unit_id
             UNION
             SELECT r.file_id, r.line, r.kind, u.outcome, r.unit_id, u.connector
               FROM (SELECT DISTINCT unit_id FROM events WHERE kind = 'set_aside') e
               JOIN row_records r ON r.unit_id = e.unit_id JOIN units u ON u.id = r.unit_id
             UNION
             SELECT u.row_file_id, u.row_line, 'request', u.outcome, u.id, u.connector
               FROM (SELECT DISTINCT unit_id FROM events WHERE unit_id IS NOT NULL) e
               JOIN units u ON u.id = e.unit_id
               WHERE u.row_line IS NOT NULL
                 AND EXISTS (SELECT 1 FROM events x WHERE (x.unit_id = u.id AND x.kind = 'set_aside')
                             OR (x.file_id = u.row_file_id AND x.line = u.row_line))
             UNION
             -- An event naming a row stored with its unit, without the unit: rare, so the
             -- scan runs only when there is one.
             SELECT u.row_file_id, u.row_line, 'request', u.outcome, u.id, u.connector
               FROM units u
               WHERE EXISTS (SELECT 1 FROM events e WHERE e.unit_id IS NULL AND e.line IS NOT NULL
                               AND NOT EXISTS (SELECT 1 FROM row_records r
                                               WHERE r.file_id = e.file_id AND r.line = e.line))
                 AND u.row_line IS NOT NULL
                 AND EXISTS (SELECT 1 FROM events x
                             WHERE x.file_id = u.row_file_id AND x.line = u.row_line)",
        )?;
        let found: Vec<EventRow> = stmt
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let mut row_events = self.conn.prepare_cached(&format!(
            "SELECT (SELECT kind FROM events WHERE file_id = ?1 AND line = ?2
                       AND kind IN ('resolved', 'corrected') ORDER BY id LIMIT 1),
                    EXISTS (SELECT 1 FROM events e WHERE e.file_id = ?1 AND e.line = ?2
                              AND {}),
                    EXISTS (SELECT 1 FROM events WHERE unit_id = ?3 AND kind = 'set_aside')",
            events::DATE_FLAG_STANDS
        ))?;
        let mut changed = Vec::new();
        for (file_id, line, kind, outcome, unit_id, row_connector) in found {
            if connector.is_some_and(|c| c != row_connector) {
                continue;
            }
            let (ended, date_bad, set_aside): (Option<String>, bool, bool) = row_events
                .query_row(rusqlite::params![file_id, line, unit_id], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?;
            let outcome = outcome.as_deref();
            changed.push(Changed {
                base: derive(None, &kind, false, outcome, false),
                state: derive(ended.as_deref(), &kind, date_bad, outcome, set_aside),
            });
        }
        Ok(changed)
    }

    /// The requests that satisfy `condition` (SQL over [`from_clause`]'s tables, with its
    /// parameters), in file and line order.
    pub(crate) fn requests_where(
        &self,
        condition: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<Request>> {
        let sql = format!(
            "SELECT r.file_id, f.path, r.line, r.kind, r.unit_id,
                    coalesce(u.connector, f.connector), {STATE},
                    coalesce(u.key, nullif(trim(r.raw_key), '')), u.key_masked, u.key_hash
             FROM {} WHERE {condition} ORDER BY r.file_id, r.line",
            from_clause(&self.conn)?
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let found = stmt
            .query_map(params, |r| {
                let state: String = r.get(6)?;
                Ok(Request {
                    file_id: r.get(0)?,
                    path: r.get(1)?,
                    line: r.get::<_, i64>(2)? as u64,
                    kind: r.get(3)?,
                    unit_id: r.get(4)?,
                    connector: r.get(5)?,
                    state: State::parse(&state).unwrap_or(State::Pending),
                    key: r.get(7)?,
                    key_masked: r.get(8)?,
                    key_hash: r.get(9)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(found)
    }

    /// What ended a request by an event: `resolved: REASON` or `corrected by PATH:LINE`.
    pub fn ended_by(&self, file_id: i64, line: u64) -> Result<Option<String>> {
        if !events::available(&self.conn)? {
            return Ok(None);
        }
        let found: Option<(String, Option<String>, Option<String>)> = self
            .conn
            .query_row(
                "SELECT kind, reason, detail FROM events
                 WHERE file_id = ?1 AND line = ?2 AND kind IN ('resolved', 'corrected')
                 ORDER BY id LIMIT 1",
                rusqlite::params![file_id, line as i64],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })?;
        Ok(found.map(|(kind, reason, detail)| describe_end(&kind, reason, detail)))
    }
}

/// What ended a request, from its ending event: `resolved: REASON` or
/// `corrected by PATH:LINE`.
pub fn describe_end(kind: &str, reason: Option<String>, detail: Option<String>) -> String {
    match kind {
        events::CORRECTED => {
            let by = detail
                .and_then(|d| serde_json::from_str::<serde_json::Value>(&d).ok())
                .map(|d| {
                    format!(
                        "{}:{}",
                        d["path"].as_str().unwrap_or("?"),
                        d["line"].as_u64().unwrap_or(0)
                    )
                })
                .unwrap_or_else(|| "a later row".into());
            format!("corrected by {by}")
        }
        _ => format!("resolved: {}", reason.unwrap_or_default()),
    }
}

#[cfg(test)]
mod tests;
