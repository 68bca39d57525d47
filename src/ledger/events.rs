//! The append-only event log (table `events`, migration 6): one row per change of a request's state.

use rusqlite::params;

use super::timestamp;

pub struct Event<'a> {
    pub kind: &'a str,
    pub file_id: Option<i64>,
    pub line: Option<u64>,
    pub unit_id: Option<i64>,
    pub reason: Option<&'a str>,
    pub detail: Option<serde_json::Value>,
}

/// Append `e`, by `actor`, now. Returns its id.
pub fn record(
    conn: &rusqlite::Connection,
    actor: &crate::actor::Actor,
    e: &Event<'_>,
) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        "INSERT INTO events (at, kind, file_id, line, unit_id, operator, host, reason, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        timestamp(std::time::SystemTime::now()),
        e.kind,
        e.file_id,
        e.line.map(|l| l as i64),
        e.unit_id,
        actor.operator.as_deref().unwrap_or(""),
        actor.host.as_deref().unwrap_or(""),
        e.reason,
        e.detail.as_ref().map(|d| d.to_string()),
    ])?;
    Ok(conn.last_insert_rowid())
}
