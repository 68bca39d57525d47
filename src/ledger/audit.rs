//! What the ledger knows of one key, found by its keyed hash: the answer to "did you erase
//! me?" — whether, when, with which transaction id, from which request rows and files, with
//! which audit fields, after which attempts.

use std::collections::HashMap;

use super::requests::{self, STATE};
use super::{Ledger, Pairs};
use crate::error::Result;
use crate::keys::{KeyHash, KeyHasher};
use crate::outcome::Outcome;
use rusqlite::params;

/// One unit of work (a key in one profile) and its whole history.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct UnitRecord {
    pub connector: String,
    pub profile_name: String,
    pub key_masked: String,
    pub outcome: String,
    /// Deleted or not found: the person's data is gone from the system.
    pub erased: bool,
    pub finished_at: Option<String>,
    pub transaction_id: Option<String>,
    pub http_status: Option<i64>,
    pub code: Option<String>,
    pub description: Option<String>,
    /// "Not found" after a timed-out attempt: that attempt erased the key.
    pub after_ambiguous: bool,
    /// The audit fields sent with the request.
    pub exparams: Pairs,
    pub attempts: u64,
    pub first_attempt_at: Option<String>,
    pub last_attempt_at: Option<String>,
    pub due_on: Option<String>,
    /// When `forget purge` dropped the plaintext of this unfinished key.
    pub purged_at: Option<String>,
    /// An access export's document, relative to the `forget access --out-dir` folder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export_file: Option<String>,
    pub requests: Vec<RequestRow>,
    pub history: Vec<AttemptEvent>,
}

/// An input row that asked for this key.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct RequestRow {
    pub file: String,
    pub file_sha256: String,
    pub line: u64,
    /// `request` (first seen) or `duplicate`.
    pub kind: String,
    pub received_on: Option<String>,
    pub due_on: Option<String>,
    /// The audit fields the row itself carried.
    pub exparams: Pairs,
    /// The `--keep-column` values of the row.
    pub extra: Pairs,
    /// The request's state (see `ledger::requests`): `erased`, `rejected`, `corrected`, ….
    pub state: String,
    /// What ended it, when an event did: `resolved: REASON`, `corrected by FILE:LINE`.
    pub ended_by: Option<String>,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct AttemptEvent {
    pub at: String,
    pub run_id: i64,
    pub http_status: Option<i64>,
    pub code: Option<String>,
    pub verdict: String,
    pub latency_ms: i64,
    pub error: Option<String>,
}

/// An invalid input row whose key, as written, is the key looked up.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct InvalidMatch {
    pub file: String,
    pub file_sha256: String,
    pub line: u64,
    pub reason: String,
}

fn pairs(text: Option<String>) -> Pairs {
    Pairs::parse(text.as_deref())
}

impl Ledger {
    /// Every unit of work whose key has this keyed hash (one per profile name and connector).
    pub fn units_by_hash(&self, hash: &KeyHash) -> Result<Vec<UnitRecord>> {
        let mut units = self.conn.prepare_cached(
            "SELECT id, connector, scope, key_masked, outcome, finished_at, transaction_id,
                    http_status, code, description, after_ambiguous, exparams, attempts,
                    first_attempt_at, last_attempt_at, due_on, purged_at
             FROM units WHERE key_hash = ?1 ORDER BY id",
        )?;
        let found: Vec<(i64, UnitRecord)> = units
            .query_map([&hash[..]], |r| {
                let outcome: String = r.get(4)?;
                Ok((
                    r.get(0)?,
                    UnitRecord {
                        connector: r.get(1)?,
                        profile_name: r.get(2)?,
                        key_masked: r.get(3)?,
                        erased: Outcome::parse(&outcome).is_some_and(Outcome::is_gone),
                        outcome,
                        finished_at: r.get(5)?,
                        transaction_id: r.get(6)?,
                        http_status: r.get(7)?,
                        code: r.get(8)?,
                        description: r.get(9)?,
                        after_ambiguous: r.get(10)?,
                        exparams: pairs(r.get(11)?),
                        attempts: r.get::<_, i64>(12)? as u64,
                        first_attempt_at: r.get(13)?,
                        last_attempt_at: r.get(14)?,
                        due_on: r.get(15)?,
                        purged_at: r.get(16)?,
                        export_file: None,
                        requests: Vec::new(),
                        history: Vec::new(),
                    },
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let mut rows = self.conn.prepare_cached(&format!(
            "SELECT f.path, f.sha256, r.line, r.kind, r.received_on, r.due_on, r.exparams, r.extra,
                    {STATE}, ee.kind, ee.reason, ee.detail
             FROM {}
             WHERE r.unit_id = ?1 ORDER BY r.file_id, r.line",
            requests::from_clause(&self.conn)?
        ))?;
        let mut attempts = self.conn.prepare_cached(
            "SELECT at, run_id, http_status, code, verdict, latency_ms, error
             FROM attempts WHERE unit_id = ?1 ORDER BY id",
        )?;
        let mut out = Vec::with_capacity(found.len());
        for (id, mut unit) in found {
            unit.export_file = self.export_file(id)?;
            unit.requests = rows
                .query_map([id], |r| {
                    Ok(RequestRow {
                        file: r.get(0)?,
                        file_sha256: r.get(1)?,
                        line: r.get::<_, i64>(2)? as u64,
                        kind: r.get(3)?,
                        received_on: r.get(4)?,
                        due_on: r.get(5)?,
                        exparams: pairs(r.get(6)?),
                        extra: pairs(r.get(7)?),
                        state: r.get(8)?,
                        ended_by: r
                            .get::<_, Option<String>>(9)?
                            .map(|kind| -> rusqlite::Result<String> {
                                Ok(requests::describe_end(&kind, r.get(10)?, r.get(11)?))
                            })
                            .transpose()?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            unit.history = attempts
                .query_map(params![id], |r| {
                    Ok(AttemptEvent {
                        at: r.get(0)?,
                        run_id: r.get(1)?,
                        http_status: r.get(2)?,
                        code: r.get(3)?,
                        verdict: r.get(4)?,
                        latency_ms: r.get(5)?,
                        error: r.get(6)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            out.push(unit);
        }
        Ok(out)
    }

    /// Invalid rows that still hold their key as written, indexed by the keyed hash of that
    /// key (trimmed), so a lookup can say "your request row was invalid". Only unpurged
    /// invalid rows can be matched: a purged one keeps no trace of its key.
    pub fn invalid_rows_by_hash(
        &self,
        hasher: &KeyHasher,
    ) -> Result<HashMap<KeyHash, Vec<InvalidMatch>>> {
        let mut stmt = self.conn.prepare(
            "SELECT r.raw_key, f.path, f.sha256, r.line, r.reason
             FROM row_records r JOIN files f ON f.id = r.file_id
             WHERE r.kind = 'invalid' AND r.raw_key IS NOT NULL ORDER BY r.file_id, r.line",
        )?;
        let mut map: HashMap<KeyHash, Vec<InvalidMatch>> = HashMap::new();
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let raw: String = r.get(0)?;
            map.entry(hasher.hash(raw.trim()))
                .or_default()
                .push(InvalidMatch {
                    file: r.get(1)?,
                    file_sha256: r.get(2)?,
                    line: r.get::<_, i64>(3)? as u64,
                    reason: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
                });
        }
        Ok(map)
    }
}
