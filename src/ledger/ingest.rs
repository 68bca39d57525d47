//! Recording input rows and their units of work, in chunks, before anything is sent.
//!
//! A file is recorded as a prefix of its lines, one transaction per chunk, so a kill during
//! ingest loses nothing and the next run continues after the last recorded line.
//!
//! Rows are [prepared](PreparedRow) (hashed, masked, their JSON built) away from the ledger,
//! so that work overlaps the writing of the previous chunk. Within a chunk, units are
//! inserted in key-hash order: the unique index on the keyed hash is random-ordered, and in
//! file order every row would dirty a random page of it.

use std::sync::Arc;

use rusqlite::{OptionalExtension, params};

use super::events::{self, Event};
use super::{Ledger, parse_exparams, timestamp};
use crate::actor::Actor;
use crate::deadline;
use crate::error::Result;
use crate::input::{ParsedRow, without_key};
use crate::keys::{KeyHash, KeyHasher, mask};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IngestCounts {
    pub rows: u64,
    pub new_units: u64,
    pub duplicates: u64,
    pub invalid: u64,
    /// Requests whose received date could not be read (recorded undated, and sent).
    pub dates_unreadable: u64,
    /// Earlier requests these rows corrected (see `ledger::corrections`).
    pub corrected: u64,
    /// `ref` values naming no earlier request that needed attention.
    pub unmatched_refs: u64,
}

impl IngestCounts {
    pub fn add(&mut self, other: IngestCounts) {
        self.rows += other.rows;
        self.new_units += other.new_units;
        self.duplicates += other.duplicates;
        self.invalid += other.invalid;
        self.dates_unreadable += other.dates_unreadable;
        self.corrected += other.corrected;
        self.unmatched_refs += other.unmatched_refs;
    }
}

/// Where a file's ingestion stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileEntry {
    pub id: i64,
    /// Lines up to and including this one are recorded.
    pub recorded_through: u64,
    /// Every row is recorded (the file's row count is known).
    pub complete: bool,
}

/// A [`ParsedRow`] made ready for the ledger: everything that needs no database (the keyed
/// hash, the masked key, the JSON of its fields, its due date) is done. Compact (about 100
/// bytes and one allocation a row), since a whole chunk of them is held at once.
#[derive(Clone, Debug)]
pub struct PreparedRow {
    pub(super) line: u64,
    pub(super) kind: Prepared,
}

#[derive(Clone, Debug)]
pub(super) enum Prepared {
    Request {
        hash: KeyHash,
        /// The key, then its masked form.
        text: Box<str>,
        key_len: u32,
        /// Shared with the previous row when equal (it nearly always is).
        scope: Arc<str>,
        exparams: Option<Arc<str>>,
        /// What most rows do not carry.
        more: Option<Box<RowFields>>,
    },
    Invalid(Box<InvalidRow>),
}

#[derive(Clone, Debug, Default)]
pub(super) struct RowFields {
    /// The audit fields the row itself carried, as JSON: the same string as the unit's
    /// `exparams` when no run-wide default was added (the pairs are read back from it for
    /// the rare row that needs them).
    pub(super) row_exparams_json: Option<Arc<str>>,
    pub(super) received_on: Option<String>,
    pub(super) due_on: Option<String>,
    pub(super) extra: Option<String>,
    /// Why the received date could not be read: recorded as a `date_unreadable` event.
    pub(super) date_unreadable: Option<String>,
}

#[derive(Clone, Debug)]
pub(super) struct InvalidRow {
    pub(super) reason: String,
    pub(super) raw_key: Option<String>,
    pub(super) extra: Option<String>,
}

impl PreparedRow {
    pub fn line(&self) -> u64 {
        self.line
    }

    /// About how many bytes this row holds, itself and on the heap (a string shared with
    /// other rows counted in each): what a chunk of rows costs in memory, whatever the width
    /// of the input's rows.
    pub fn size(&self) -> usize {
        let text = |s: &Option<String>| s.as_ref().map_or(0, |s| s.len() + ALLOCATION);
        let shared = |s: &Option<Arc<str>>| s.as_ref().map_or(0, |s| s.len() + 2 * ALLOCATION);
        std::mem::size_of::<PreparedRow>()
            + match &self.kind {
                Prepared::Request {
                    text: key,
                    exparams,
                    more,
                    ..
                } => {
                    key.len()
                        + ALLOCATION
                        + shared(exparams)
                        + more.as_ref().map_or(0, |m| {
                            std::mem::size_of::<RowFields>()
                                + ALLOCATION
                                + match (&m.row_exparams_json, exparams) {
                                    (Some(own), Some(all)) if Arc::ptr_eq(own, all) => 0,
                                    (own, _) => shared(own),
                                }
                                + text(&m.date_unreadable)
                                + text(&m.received_on)
                                + text(&m.due_on)
                                + text(&m.extra)
                        })
                }
                Prepared::Invalid(invalid) => {
                    std::mem::size_of::<InvalidRow>()
                        + ALLOCATION
                        + invalid.reason.len()
                        + ALLOCATION
                        + text(&invalid.raw_key)
                        + text(&invalid.extra)
                }
            }
    }

    /// The legal due date of a request row that has one.
    pub(super) fn due_on(&self) -> Option<&str> {
        match &self.kind {
            Prepared::Request { more, .. } => more.as_ref().and_then(|m| m.due_on.as_deref()),
            Prepared::Invalid(_) => None,
        }
    }
}

/// What the allocator adds to each allocation, about: its header and rounding.
const ALLOCATION: usize = 16;

/// Turns [`ParsedRow`]s into [`PreparedRow`]s, sharing each row's scope and audit fields
/// with the previous row's when they are the same.
pub struct Preparer<'a> {
    hasher: &'a KeyHasher,
    last_scope: Option<Arc<str>>,
    last_exparams: Option<(String, Arc<str>)>,
}

impl<'a> Preparer<'a> {
    pub fn new(hasher: &'a KeyHasher) -> Self {
        Preparer {
            hasher,
            last_scope: None,
            last_exparams: None,
        }
    }

    fn scope(&mut self, scope: String) -> Arc<str> {
        match &self.last_scope {
            Some(last) if **last == *scope => last.clone(),
            _ => {
                let shared: Arc<str> = scope.into();
                self.last_scope = Some(shared.clone());
                shared
            }
        }
    }

    fn exparams(&mut self, json: Option<String>) -> Option<Arc<str>> {
        let json = json?;
        match &self.last_exparams {
            Some((last, shared)) if *last == json => Some(shared.clone()),
            _ => {
                let shared: Arc<str> = json.as_str().into();
                self.last_exparams = Some((json, shared.clone()));
                Some(shared)
            }
        }
    }

    pub fn prepare(&mut self, row: ParsedRow) -> PreparedRow {
        match row {
            ParsedRow::Request {
                line,
                key,
                scope,
                exparams,
                row_exparams,
                received,
                date_unreadable,
                extra,
            } => {
                // With no run-wide default added (and the columns in their numbers' order),
                // the row's own fields are all of them, and one string serves both.
                let all_own = exparams == row_exparams;
                let exparams = self.exparams(json_pairs(&exparams));
                let row_exparams_json = if all_own {
                    exparams.clone()
                } else {
                    json_pairs(&row_exparams).map(Arc::from)
                };
                let more = RowFields {
                    date_unreadable,
                    row_exparams_json,
                    received_on: received.map(deadline::format_date),
                    due_on: received.map(|r| deadline::format_date(deadline::due_date(r))),
                    extra: json_pairs(&extra),
                };
                let has_more = more.row_exparams_json.is_some()
                    || more.received_on.is_some()
                    || more.date_unreadable.is_some()
                    || more.extra.is_some();
                let mut text = key.clone();
                text.push_str(&mask(&key));
                PreparedRow {
                    line,
                    kind: Prepared::Request {
                        hash: self.hasher.hash(&key),
                        text: text.into_boxed_str(),
                        key_len: key.len() as u32,
                        scope: self.scope(scope),
                        exparams,
                        more: has_more.then(|| Box::new(more)),
                    },
                }
            }
            ParsedRow::Invalid {
                line,
                reason,
                raw_key,
                extra,
            } => PreparedRow {
                line,
                kind: Prepared::Invalid(Box::new(InvalidRow {
                    reason,
                    raw_key,
                    extra: json_pairs(&extra),
                })),
            },
        }
    }
}

/// How a request row of a chunk was matched to its unit.
struct Matched {
    unit_id: i64,
    duplicate: bool,
    /// The row's audit fields with the key masked: it repeats a key already gone.
    redacted_exparams: Option<Option<String>>,
}

/// Move a file's recorded prefix past a chunk of `rows`, `recorded` of them new; in the
/// chunk's transaction.
pub(super) fn recorded_in_file(
    tx: &rusqlite::Transaction<'_>,
    file_id: i64,
    rows: &[PreparedRow],
    recorded: usize,
) -> rusqlite::Result<()> {
    let last = rows.iter().map(|r| r.line).max().unwrap_or(0);
    tx.execute(
        "UPDATE files SET recorded_through = max(recorded_through, ?2),
                          recorded_rows = recorded_rows + ?3
         WHERE id = ?1",
        params![file_id, last as i64, recorded as i64],
    )?;
    Ok(())
}

/// Whether `file_id` is recorded by a dry run alone: the units its rows add are marked so
/// as they are inserted (never sent until a real run adopts the file).
pub(super) fn recorded_dry(tx: &rusqlite::Transaction<'_>, file_id: i64) -> rusqlite::Result<bool> {
    tx.query_row("SELECT dry_run FROM files WHERE id = ?1", [file_id], |r| {
        r.get(0)
    })
}

/// What a chunk's transaction records beside its rows: each request whose received date
/// could not be read gets a `date_unreadable` event.
pub(super) fn chunk_marks(
    tx: &rusqlite::Transaction<'_>,
    file_id: i64,
    rows: &[PreparedRow],
) -> rusqlite::Result<u64> {
    let mut actor = None;
    let mut flagged = 0;
    for row in rows {
        let Prepared::Request {
            more: Some(more), ..
        } = &row.kind
        else {
            continue;
        };
        let Some(reason) = &more.date_unreadable else {
            continue;
        };
        let actor = actor.get_or_insert_with(Actor::here);
        events::record(
            tx,
            actor,
            &Event {
                kind: "date_unreadable",
                file_id: Some(file_id),
                line: Some(row.line),
                unit_id: None,
                reason: Some(reason),
                detail: None,
            },
        )?;
        flagged += 1;
    }
    Ok(flagged)
}

/// Whether rows recorded in `file_id` make the dry-run units they repeat real: a real
/// file's, while some file is recorded by a dry run only.
fn undries(tx: &rusqlite::Transaction<'_>, file_id: i64) -> rusqlite::Result<bool> {
    tx.query_row(
        "SELECT NOT (SELECT dry_run FROM files WHERE id = ?1)
                AND EXISTS (SELECT 1 FROM files WHERE dry_run = 1)",
        [file_id],
        |r| r.get(0),
    )
}

fn json_pairs(pairs: &[(String, String)]) -> Option<String> {
    if pairs.is_empty() {
        return None;
    }
    let map: serde_json::Map<String, serde_json::Value> = pairs
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    Some(serde_json::Value::Object(map).to_string())
}

impl Ledger {
    /// Find or start the ingestion of a file: known by its content, the connector it is read
    /// for and its default scope (Webex profile, Outreach resource).
    pub fn begin_file(
        &self,
        path: &str,
        sha256: &str,
        connector: &str,
        profile_default: &str,
        key_column: &str,
    ) -> Result<FileEntry> {
        let found: Option<(i64, Option<i64>)> = self
            .conn
            .query_row(
                "SELECT id, rows FROM files
                 WHERE connector = ?1 AND sha256 = ?2 AND profile_default = ?3",
                params![connector, sha256, profile_default],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let id = match found {
            Some((id, _)) => id,
            None => {
                // The file and its link in the chain are one change.
                let tx = self.conn.unchecked_transaction()?;
                tx.execute(
                    "INSERT INTO files (connector, path, sha256, profile_default, key_column, added_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        connector,
                        path,
                        sha256,
                        profile_default,
                        key_column,
                        timestamp(std::time::SystemTime::now())
                    ],
                )?;
                let id = tx.last_insert_rowid();
                super::chain::append_file(&tx, id)?;
                tx.commit()?;
                id
            }
        };
        let recorded_through: i64 = self.conn.query_row(
            "SELECT recorded_through FROM files WHERE id = ?1",
            [id],
            |r| r.get(0),
        )?;
        Ok(FileEntry {
            id,
            recorded_through: recorded_through as u64,
            complete: matches!(found, Some((_, Some(_)))),
        })
    }

    /// Record a batch of rows in one transaction (preparing them here: tests and small
    /// callers; the ingest prepares on another thread and calls [`Ledger::record_prepared`]).
    pub fn record_rows(
        &mut self,
        file_id: i64,
        connector: &str,
        hasher: &KeyHasher,
        rows: &[ParsedRow],
    ) -> Result<IngestCounts> {
        let mut preparer = Preparer::new(hasher);
        let prepared: Vec<PreparedRow> = rows.iter().map(|r| preparer.prepare(r.clone())).collect();
        self.record_prepared(file_id, connector, &prepared)
    }

    /// Record a chunk of prepared rows in one transaction: units first, in key-hash order,
    /// then the rows, in line order.
    pub fn record_prepared(
        &mut self,
        file_id: i64,
        connector: &str,
        rows: &[PreparedRow],
    ) -> Result<IngestCounts> {
        let tx = self.conn.transaction()?;
        let undry = undries(&tx, file_id)?;
        let dry = recorded_dry(&tx, file_id)?;
        let mut counts = IngestCounts {
            rows: rows.len() as u64,
            ..IngestCounts::default()
        };
        let mut matched: Vec<Option<Matched>> = Vec::with_capacity(rows.len());
        matched.resize_with(rows.len(), || None);
        {
            let mut insert_unit = tx.prepare_cached(
                "INSERT INTO units (connector, scope, key_hash, key, key_masked, exparams, due_on,
                                    dry_run)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (key_hash, connector, scope) DO NOTHING",
            )?;
            let mut find_unit = tx.prepare_cached(
                "SELECT id, key IS NULL AND outcome NOT IN ('deleted', 'not_found'),
                        outcome IN ('deleted', 'not_found')
                 FROM units WHERE key_hash = ?3 AND connector = ?1 AND scope = ?2",
            )?;
            let mut restore_key =
                tx.prepare_cached("UPDATE units SET key = ?1, purged_at = NULL WHERE id = ?2")?;
            // A key a dry run alone recorded, asked for by a real file: it is sent now.
            let mut make_real =
                tx.prepare_cached("UPDATE units SET dry_run = 0 WHERE id = ?1 AND dry_run = 1")?;
            // A unit is due when the earliest of its requests is.
            let mut earlier_due = tx.prepare_cached(
                "UPDATE units SET due_on = ?1 WHERE id = ?2 AND (due_on IS NULL OR due_on > ?1)",
            )?;
            // Stable: rows of one key keep their line order, so the first is the request.
            let mut order: Vec<(&KeyHash, usize)> = rows
                .iter()
                .enumerate()
                .filter_map(|(i, r)| match &r.kind {
                    Prepared::Request { hash, .. } => Some((hash, i)),
                    Prepared::Invalid(_) => None,
                })
                .collect();
            order.sort_by_key(|&(hash, _)| hash);
            for (_, i) in order {
                let Prepared::Request {
                    hash,
                    text,
                    key_len,
                    scope,
                    exparams,
                    more,
                } = &rows[i].kind
                else {
                    continue;
                };
                let (key, masked) = text.split_at(*key_len as usize);
                let due_on = more.as_ref().and_then(|m| m.due_on.as_deref());
                let inserted = insert_unit.execute(params![
                    connector,
                    &**scope,
                    &hash[..],
                    key,
                    masked,
                    exparams.as_deref(),
                    due_on,
                    dry,
                ])?;
                matched[i] = Some(if inserted == 1 {
                    counts.new_units += 1;
                    Matched {
                        unit_id: tx.last_insert_rowid(),
                        duplicate: false,
                        redacted_exparams: None,
                    }
                } else {
                    let (id, purged, gone): (i64, bool, bool) = find_unit
                        .query_row(params![connector, &**scope, &hash[..]], |r| {
                            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                        })?;
                    if purged {
                        // Given up on earlier, asked for again: it can be sent again.
                        restore_key.execute(params![key, id])?;
                    }
                    if let Some(due) = due_on {
                        earlier_due.execute(params![due, id])?;
                    }
                    if undry {
                        make_real.execute([id])?;
                    }
                    counts.duplicates += 1;
                    Matched {
                        unit_id: id,
                        duplicate: true,
                        // Asked again after erasure: this row must not bring the key back,
                        // even inside an audit field.
                        redacted_exparams: gone.then(|| {
                            more.as_ref()
                                .and_then(|m| m.row_exparams_json.as_deref())
                                .and_then(|json| {
                                    json_pairs(&without_key(&parse_exparams(json), key))
                                })
                        }),
                    }
                });
            }
            let mut insert_row = tx.prepare_cached(
                "INSERT OR IGNORE INTO row_records
                   (file_id, line, kind, unit_id, reason, raw_key, exparams, extra, received_on, due_on)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?;
            let mut recorded = 0;
            for (row, matched) in rows.iter().zip(&matched) {
                match (&row.kind, matched) {
                    (Prepared::Request { more, .. }, Some(m)) => {
                        let more = more.as_deref();
                        let own_exparams = match &m.redacted_exparams {
                            Some(redacted) => redacted.as_deref(),
                            None => more.and_then(|m| m.row_exparams_json.as_deref()),
                        };
                        recorded += insert_row.execute(params![
                            file_id,
                            row.line as i64,
                            if m.duplicate { "duplicate" } else { "request" },
                            m.unit_id,
                            None::<String>,
                            None::<String>,
                            own_exparams,
                            more.and_then(|m| m.extra.as_deref()),
                            more.and_then(|m| m.received_on.as_deref()),
                            more.and_then(|m| m.due_on.as_deref()),
                        ])?;
                    }
                    (Prepared::Invalid(invalid), _) => {
                        counts.invalid += 1;
                        recorded += insert_row.execute(params![
                            file_id,
                            row.line as i64,
                            "invalid",
                            None::<i64>,
                            invalid.reason,
                            invalid.raw_key,
                            None::<String>,
                            invalid.extra,
                            None::<String>,
                            None::<String>,
                        ])?;
                    }
                    // Every request was matched above.
                    (Prepared::Request { .. }, None) => {}
                }
            }
            recorded_in_file(&tx, file_id, rows, recorded)?;
        }
        counts.dates_unreadable = chunk_marks(&tx, file_id, rows)?;
        tx.commit()?;
        Ok(counts)
    }

    /// Mark every row of a file recorded; returns how many there are.
    pub fn finish_file(&self, file_id: i64) -> Result<u64> {
        let rows: i64 = self.conn.query_row(
            "UPDATE files SET rows = recorded_rows WHERE id = ?1 RETURNING rows",
            [file_id],
            |r| r.get(0),
        )?;
        Ok(rows as u64)
    }
}

#[cfg(test)]
mod tests;
