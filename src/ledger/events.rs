//! The append-only event log (table `events`, migration 6): one row per change of a request's state.
//!
//! An event is never updated or deleted (triggers refuse it): a later event supersedes an
//! earlier state and says so. Each row holds everything that describes the change — when,
//! which request (file id and line) or unit, who, where, why, and a JSON `detail` — so a
//! each is linked into the ledger's hash chain (`ledger::chain`).

use std::time::SystemTime;

use rusqlite::Connection;
use rusqlite::types::Value;

use super::chain::Appender;

use crate::actor::Actor;

/// A resolution by an operator: ends a request that needed attention, with a reason.
pub const RESOLVED: &str = "resolved";
/// A later request row supersedes this one (`detail`: the new row's file id and line).
pub const CORRECTED: &str = "corrected";
/// A unit set aside (its profile failed the preflight): needs attention as a rejection.
pub const SET_ASIDE: &str = "set_aside";
/// A request row whose received date could not be read: needs attention until resolved.
pub const DATE_UNREADABLE: &str = "date_unreadable";

/// Every kind the table accepts (its CHECK constraint holds the same list).
pub const KINDS: [&str; 7] = [
    RESOLVED,
    CORRECTED,
    SET_ASIDE,
    DATE_UNREADABLE,
    "options_recorded",
    "dry_run_replaced",
    "exported",
];

/// One change, as recorded.
pub struct Event<'a> {
    pub kind: &'a str,
    pub file_id: Option<i64>,
    pub line: Option<u64>,
    pub unit_id: Option<i64>,
    pub reason: Option<&'a str>,
    pub detail: Option<serde_json::Value>,
}

/// SQL: the event `e` is a `date_unreadable` flag that still stands — not one of a dry
/// run's reading that a later run of the file replaced (its rows went with it).
pub(crate) const DATE_FLAG_STANDS: &str = "e.kind = 'date_unreadable'
     AND NOT EXISTS (SELECT 1 FROM events x WHERE x.kind = 'dry_run_replaced'
                     AND x.file_id = e.file_id AND x.id > e.id)";

/// Who an event names when the environment does not say.
const UNKNOWN: &str = "unknown";

/// Append `e`, by `actor`, now, linked into the hash chain; returns its id. Call it inside
/// the transaction that makes the change it records (after its first write), so the two
/// are committed together.
pub fn record(conn: &Connection, actor: &Actor, e: &Event<'_>) -> rusqlite::Result<i64> {
    let content = [
        Value::Text(super::timestamp(SystemTime::now())),
        Value::Text(e.kind.to_owned()),
        e.file_id.map_or(Value::Null, Value::Integer),
        e.line.map_or(Value::Null, |l| Value::Integer(l as i64)),
        e.unit_id.map_or(Value::Null, Value::Integer),
        Value::Text(actor.operator.as_deref().unwrap_or(UNKNOWN).to_owned()),
        Value::Text(actor.host.as_deref().unwrap_or(UNKNOWN).to_owned()),
        e.reason.map_or(Value::Null, |r| Value::Text(r.to_owned())),
        e.detail
            .as_ref()
            .map_or(Value::Null, |d| Value::Text(d.to_string())),
    ];
    let mut chain = Appender::load(conn)?;
    let seq = chain.link("events", &content);
    conn.execute(
        "INSERT INTO events (at, kind, file_id, line, unit_id, operator, host, reason, detail,
                             seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        rusqlite::params_from_iter(content.into_iter().chain([Value::Integer(seq)])),
    )?;
    chain.save(conn)?;
    Ok(conn.last_insert_rowid())
}

/// Whether this ledger has the event log (a ledger of an older schema read as it is has
/// none: no request of it was ever resolved or corrected).
pub fn available(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events')",
        [],
        |r| r.get(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::Ledger;

    fn actor() -> Actor {
        Actor {
            operator: Some("ops".into()),
            host: None,
        }
    }

    #[test]
    fn events_are_appended_and_never_changed() -> crate::Result<()> {
        let ledger = Ledger::open_in_memory()?;
        let conn = ledger.conn();
        let id = record(
            conn,
            &actor(),
            &Event {
                kind: RESOLVED,
                file_id: None,
                line: None,
                unit_id: None,
                reason: Some("ticket returned"),
                detail: Some(serde_json::json!({"selected_by": "row"})),
            },
        )?;
        let next = record(
            conn,
            &actor(),
            &Event {
                kind: CORRECTED,
                file_id: None,
                line: None,
                unit_id: None,
                reason: None,
                detail: None,
            },
        )?;
        assert!(next > id);
        let (operator, host): (String, String) = conn.query_row(
            "SELECT operator, host FROM events WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        assert_eq!((operator.as_str(), host.as_str()), ("ops", UNKNOWN));
        let update = conn.execute("UPDATE events SET reason = 'x'", []);
        assert!(
            update.is_err_and(|e| e.to_string().contains("append-only")),
            "an update must be refused"
        );
        assert!(conn.execute("DELETE FROM events", []).is_err());
        let unknown = conn.execute(
            "INSERT INTO events (at, kind, operator, host) VALUES ('x', 'erased', 'a', 'b')",
            [],
        );
        assert!(unknown.is_err(), "a kind outside the list is refused");
        Ok(())
    }
}
