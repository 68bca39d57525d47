//! Recording a fresh ledger's first file in bulk: without indexes, which are then built
//! once, by sorting.
//!
//! Row by row, the keyed-hash index is what makes recording slow: it is random-ordered, so
//! once it outgrows the page cache nearly every insert rewrites a page of it, and the cost
//! grows with the ledger. Into a ledger with no units yet, every row of the first file is
//! new work, so it is recorded in bulk instead:
//!
//! 1. [`Ledger::begin_bulk`] drops the indexes of `units` and `rows` (the tables hold no
//!    units, so this costs nothing) and leaves a marker naming the file in `meta`.
//! 2. [`Ledger::record_bulk`] appends each chunk in one transaction, as the row-by-row path
//!    does, so a kill loses nothing and the next run continues the same file in bulk. A key
//!    repeated within a chunk is matched in memory; across chunks, it is left for step 3.
//!    A request row that is nothing but its key (nearly all are) is recorded with its unit
//!    (`units.row_file_id`, `row_line`), not in `row_records`: the `rows` view shows both.
//! 3. [`Ledger::finish_bulk`] builds the indexes and removes the marker, in one transaction.
//!    If the unique index meets a key recorded in two chunks, the copies are found (one sort
//!    of the units) and each later one merged into the first before it is built again. A
//!    file that repeats many keys across chunks ends its bulk load early (a sample of the
//!    keys met so far, [`RepeatSample`], tells): the rest of it is recorded row by row.
//!
//! While the marker is present nothing is sent: [`crate::job::ingest`] finishes the bulk
//! load before it returns, or stops with it unfinished, to be continued by the next run.
//!
//! During a bulk load the ledger keeps a rollback journal rather than its write-ahead log
//! ([`Ledger::bulk_journal`]): pages appended to the file are not journaled, so each is
//! written once, where the WAL writes it twice (log, then checkpoint).

use std::collections::hash_map::Entry;

use rusqlite::{OptionalExtension, Statement, ToSql, Transaction, params};
use rustc_hash::FxHashMap;

use super::ingest::{IngestCounts, Prepared, PreparedRow};
use super::{Ledger, configure, schema};
use crate::error::Result;
use crate::keys::KeyHash;

/// The `meta` entry naming the file a bulk load is recording.
const MARKER: &str = "bulk_load_file";

/// Rows per multi-row INSERT: SQLite steps one statement per 32 rows instead of per row,
/// which took a third off the time to append a million rows.
const ROWS_PER_INSERT: usize = 32;

const INSERT_UNITS: &str = "INSERT INTO units
     (id, connector, scope, key_hash, key, key_masked, exparams, due_on, row_file_id, row_line,
      dry_run)";
const UNIT_VALUES: &str = "(?,?,?,?,?,?,?,?,?,?,?)";
const UNIT_COLUMNS: usize = 11;

const INSERT_ROWS: &str = "INSERT INTO row_records
     (file_id, line, kind, unit_id, reason, raw_key, exparams, extra, received_on, due_on)";
const ROW_VALUES: &str = "(?,?,?,?,?,?,?,?,?,?)";
const ROW_COLUMNS: usize = 10;

/// Rows that carry nothing but the key (duplicates; requests are recorded with their unit):
/// fewer columns to bind.
const INSERT_BARE_ROWS: &str = "INSERT INTO row_records (file_id, line, kind, unit_id)";
const BARE_ROW_VALUES: &str = "(?,?,?,?)";
const BARE_ROW_COLUMNS: usize = 4;

const NO_UNIT: u32 = u32::MAX;

/// A chunk's rows grouped into the units a bulk load adds. Worked out on the preparing
/// thread ([`ChunkPlan::of`]), so the ledger's thread only writes.
#[derive(Clone, Debug, Default)]
pub struct ChunkPlan {
    /// Per row, the index of its unit in `units` ([`NO_UNIT`] for an invalid row).
    unit_of_row: Vec<u32>,
    /// Per unit: its first row (the request; later rows of its key are duplicates), and
    /// the row with its earliest due date.
    units: Vec<(u32, u32)>,
    /// Of those units, how many the sample follows, and how many of them it met before.
    sampled: usize,
    repeats: usize,
}

impl ChunkPlan {
    /// Group `rows` by unit, and count how many of the units `sample` met in an earlier
    /// chunk.
    pub fn of(rows: &[PreparedRow], sample: &mut RepeatSample) -> ChunkPlan {
        let mut plan = ChunkPlan {
            unit_of_row: Vec::with_capacity(rows.len()),
            units: Vec::new(),
            sampled: 0,
            repeats: 0,
        };
        let mut by_key: FxHashMap<(&KeyHash, &str), u32> =
            FxHashMap::with_capacity_and_hasher(rows.len(), Default::default());
        let due = |i: u32| rows[i as usize].due_on();
        for (i, row) in rows.iter().enumerate() {
            let i = i as u32;
            let Prepared::Request { hash, scope, .. } = &row.kind else {
                plan.unit_of_row.push(NO_UNIT);
                continue;
            };
            let unit = match by_key.entry((hash, &**scope)) {
                Entry::Occupied(e) => {
                    let unit = &mut plan.units[*e.get() as usize];
                    if due(i).is_some_and(|d| due(unit.1).is_none_or(|u| d < u)) {
                        unit.1 = i;
                    }
                    *e.get()
                }
                Entry::Vacant(e) => {
                    plan.units.push((i, i));
                    if let Some(met) = sample.meet(hash) {
                        plan.sampled += 1;
                        plan.repeats += usize::from(met);
                    }
                    *e.insert(plan.units.len() as u32 - 1)
                }
            };
            plan.unit_of_row.push(unit);
        }
        plan
    }

    /// Whether so many of this chunk's keys repeat earlier ones (over 5% of the sample, and
    /// enough of them to say so) that a bulk load should stop here: each repeat is a unit to
    /// merge at the end, where recording row by row (with the unique index) matches it on
    /// the way in.
    pub fn mostly_repeats(&self) -> bool {
        self.repeats >= 8 && self.repeats * 20 > self.sampled
    }
}

/// A unit first seen in this chunk.
struct NewUnit<'a> {
    id: i64,
    hash: &'a KeyHash,
    key: &'a str,
    masked: &'a str,
    scope: &'a str,
    exparams: Option<&'a str>,
    /// The earliest due date of its rows in the chunk.
    due_on: Option<&'a str>,
    /// Its request row, recorded with it (it is nothing but the key).
    row_file_id: Option<i64>,
    row_line: Option<i64>,
}

/// An input row as `rows` records it.
struct RowRecord<'a> {
    line: u64,
    kind: &'static str,
    unit_id: Option<i64>,
    reason: Option<&'a str>,
    raw_key: Option<&'a str>,
    exparams: Option<&'a str>,
    extra: Option<&'a str>,
    received_on: Option<&'a str>,
    due_on: Option<&'a str>,
}

impl RowRecord<'_> {
    fn is_bare(&self) -> bool {
        self.reason.is_none()
            && self.raw_key.is_none()
            && self.exparams.is_none()
            && self.extra.is_none()
            && self.received_on.is_none()
            && self.due_on.is_none()
    }
}

impl Ledger {
    /// The file a bulk load is recording, if one is under way or was interrupted.
    pub fn bulk_file(&self) -> Result<Option<i64>> {
        let value: Option<String> = self
            .conn
            .query_row("SELECT value FROM meta WHERE name = ?1", [MARKER], |r| {
                r.get(0)
            })
            .optional()?;
        // An unreadable marker names no file: the load is finished, not continued.
        Ok(value.map(|v| v.parse().unwrap_or(0)))
    }

    /// Whether the next file can be recorded in bulk: the ledger holds no unit yet.
    pub fn can_bulk_load(&self) -> Result<bool> {
        let any: bool = self
            .conn
            .query_row("SELECT EXISTS (SELECT 1 FROM units)", [], |r| r.get(0))?;
        Ok(!any)
    }

    /// The id the next unit recorded will get.
    pub fn next_unit_id(&self) -> Result<i64> {
        Ok(next_unit_id(&self.conn)?)
    }

    /// Start recording `file_id` in bulk: drop the indexes, leave the marker.
    pub fn begin_bulk(&mut self, file_id: i64) -> Result<()> {
        let tx = self.conn.transaction()?;
        for (name, _) in schema::DEFERRED_INDEXES {
            tx.execute_batch(&format!("DROP INDEX IF EXISTS {name}"))?;
        }
        tx.execute(
            "INSERT OR REPLACE INTO meta (name, value) VALUES (?1, ?2)",
            params![MARKER, file_id.to_string()],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The journal and sorter settings for a bulk load (`true`), or the usual ones.
    pub fn bulk_journal(&self, on: bool) -> Result<()> {
        if on {
            // Refused while another process has the ledger open (a `forget status`): the
            // load then goes through the WAL, slower and just as safe.
            let mode = self
                .conn
                .pragma_update_and_check(None, "journal_mode", "TRUNCATE", |r| {
                    r.get::<_, String>(0)
                });
            tracing::debug!(?mode, "journal for the bulk load");
            // A rollback journal is only safe from power loss with FULL (WAL is with NORMAL).
            self.conn.pragma_update(None, "synchronous", "FULL")?;
            // Worker threads for the sorts that build the indexes.
            self.conn.pragma_update(None, "threads", 2)?;
            // A bulk load appends new units and their rows, every checked column forget's
            // constant or default (a unit `pending`, no attempts, its key kept): SQLite
            // evaluating the schema's CHECK constraints on each was a fifth of the load's
            // CPU. `forget verify` reads them all back (`stored_values`, `unit_states`).
            self.conn
                .pragma_update(None, "ignore_check_constraints", true)?;
        } else {
            self.conn
                .pragma_update(None, "ignore_check_constraints", false)?;
            self.conn.pragma_update(None, "threads", 0)?;
            configure(&self.conn)?;
        }
        Ok(())
    }

    /// Append a chunk of a bulk load in one transaction. Returns its counts, as if each key
    /// seen in an earlier chunk were new: [`Ledger::finish_bulk`] says how many were not.
    pub fn record_bulk(
        &mut self,
        file_id: i64,
        connector: &str,
        rows: &[PreparedRow],
        plan: &ChunkPlan,
    ) -> Result<IngestCounts> {
        let tx = self.conn.transaction()?;
        let first_id = next_unit_id(&tx)?;
        let dry = super::ingest::recorded_dry(&tx, file_id)?;
        let mut counts = IngestCounts {
            rows: rows.len() as u64,
            ..IngestCounts::default()
        };
        // Per unit, the line of its request row when that row is recorded with it.
        let mut with_unit: Vec<Option<i64>> = vec![None; plan.units.len()];
        for (i, row) in rows.iter().enumerate() {
            let (record, unit) = row_record(plan, first_id, i, row);
            match record.kind {
                "invalid" => counts.invalid += 1,
                "duplicate" => counts.duplicates += 1,
                _ => counts.new_units += 1,
            }
            if let Some(slot) = unit.and_then(|u| with_unit.get_mut(u as usize)) {
                *slot = Some(row.line as i64);
            }
        }
        // Units and rows are streamed into the INSERTs, not gathered first: a chunk's rows
        // are the only copy of it in memory.
        let units = plan
            .units
            .iter()
            .enumerate()
            .filter_map(|(n, &(first, earliest))| {
                let Some(Prepared::Request {
                    hash,
                    text,
                    key_len,
                    scope,
                    exparams,
                    ..
                }) = rows.get(first as usize).map(|r| &r.kind)
                else {
                    return None;
                };
                let (key, masked) = text.split_at(*key_len as usize);
                let row_line = with_unit.get(n).copied().flatten();
                Some(NewUnit {
                    id: first_id + n as i64,
                    hash,
                    key,
                    masked,
                    scope,
                    exparams: exparams.as_deref(),
                    due_on: rows.get(earliest as usize).and_then(PreparedRow::due_on),
                    row_file_id: row_line.map(|_| file_id),
                    row_line,
                })
            });
        insert_many(
            &tx,
            (INSERT_UNITS, UNIT_VALUES, UNIT_COLUMNS),
            units,
            |stmt, at, unit| {
                bind(
                    stmt,
                    at,
                    &[
                        &unit.id,
                        &connector,
                        &unit.scope,
                        &&unit.hash[..],
                        &unit.key,
                        &unit.masked,
                        &unit.exparams,
                        &unit.due_on,
                        &unit.row_file_id,
                        &unit.row_line,
                        &dry,
                    ],
                )
            },
        )?;
        // The rows not recorded with their unit: bare ones first (the rest are usually
        // none, or all).
        let records = |bare: bool| {
            rows.iter().enumerate().filter_map(move |(i, row)| {
                let (record, unit) = row_record(plan, first_id, i, row);
                (unit.is_none() && record.is_bare() == bare).then_some(record)
            })
        };
        insert_many(
            &tx,
            (INSERT_BARE_ROWS, BARE_ROW_VALUES, BARE_ROW_COLUMNS),
            records(true),
            |stmt, at, row| {
                bind(
                    stmt,
                    at,
                    &[&file_id, &(row.line as i64), &row.kind, &row.unit_id],
                )
            },
        )?;
        insert_many(
            &tx,
            (INSERT_ROWS, ROW_VALUES, ROW_COLUMNS),
            records(false),
            |stmt, at, row| {
                bind(
                    stmt,
                    at,
                    &[
                        &file_id,
                        &(row.line as i64),
                        &row.kind,
                        &row.unit_id,
                        &row.reason,
                        &row.raw_key,
                        &row.exparams,
                        &row.extra,
                        &row.received_on,
                        &row.due_on,
                    ],
                )
            },
        )?;
        super::ingest::recorded_in_file(&tx, file_id, rows, rows.len())?;
        counts.dates_unreadable = super::ingest::chunk_marks(&tx, file_id, rows)?;
        tx.commit()?;
        Ok(counts)
    }

    /// End a bulk load: merge every key recorded in two chunks into its first unit (its
    /// rows become duplicates of it), build the indexes, remove the marker; one
    /// transaction. Returns how many of the merged units have an id of at least
    /// `counted_from`: those this run counted as new keys.
    pub fn finish_bulk(&mut self, counted_from: i64) -> Result<u64> {
        let tx = self.conn.transaction()?;
        tx.execute_batch(schema::ROWS_BY_UNIT)?;
        // Most loads repeat no key across chunks: build the unique index straight away, and
        // only if it meets a key twice (the failed statement is undone, the transaction
        // goes on), find the copies, merge them and build it again.
        let counted = match tx.execute_batch(schema::UNITS_BY_KEY) {
            Ok(()) => 0,
            Err(e) if is_unique_violation(&e) => {
                let counted = merge_copies(&tx, counted_from)?;
                tx.execute_batch(schema::UNITS_BY_KEY)?;
                counted
            }
            Err(e) => return Err(e.into()),
        };
        tx.execute_batch(schema::UNITS_BY_OUTCOME)?;
        tx.execute_batch(schema::UNITS_TO_SEND)?;
        tx.execute("DELETE FROM meta WHERE name = ?1", [MARKER])?;
        tx.commit()?;
        Ok(counted)
    }
}

/// Row `i` of a chunk as `rows` records it, and the index of its unit when it is instead
/// recorded with that unit (a request that is nothing but its key).
fn row_record<'a>(
    plan: &ChunkPlan,
    first_id: i64,
    i: usize,
    row: &'a PreparedRow,
) -> (RowRecord<'a>, Option<u32>) {
    match &row.kind {
        Prepared::Request { more, .. } => {
            let more = more.as_deref();
            let unit = plan.unit_of_row.get(i).copied().unwrap_or(NO_UNIT);
            let duplicate = plan.units.get(unit as usize).map(|u| u.0) != Some(i as u32);
            let record = RowRecord {
                line: row.line,
                kind: if duplicate { "duplicate" } else { "request" },
                unit_id: Some(first_id + i64::from(unit)),
                reason: None,
                raw_key: None,
                exparams: more.and_then(|m| m.row_exparams_json.as_deref()),
                extra: more.and_then(|m| m.extra.as_deref()),
                received_on: more.and_then(|m| m.received_on.as_deref()),
                due_on: row.due_on(),
            };
            let with_unit = !duplicate && record.is_bare() && (unit as usize) < plan.units.len();
            (record, with_unit.then_some(unit))
        }
        Prepared::Invalid(invalid) => (
            RowRecord {
                line: row.line,
                kind: "invalid",
                unit_id: None,
                reason: Some(&invalid.reason),
                raw_key: invalid.raw_key.as_deref(),
                exparams: None,
                extra: invalid.extra.as_deref(),
                received_on: None,
                due_on: None,
            },
            None,
        ),
    }
}

pub(super) fn next_unit_id(conn: &rusqlite::Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT coalesce(max(id), 0) + 1 FROM units", [], |r| {
        r.get(0)
    })
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE)
}

/// Fold every unit that repeats an earlier one's (key, connector, scope) into the first:
/// its rows become duplicates of the first (the request row recorded with it too), the
/// first takes the earlier due date, the copy goes. Set-based, through a temporary table of
/// the copies found by one sort of the units (SQLite's sorter: memory stays bounded however
/// many there are). Returns how many copies have an id of at least `counted_from`.
fn merge_copies(tx: &Transaction<'_>, counted_from: i64) -> rusqlite::Result<u64> {
    tx.execute_batch(
        "CREATE TEMP TABLE bulk_copies (id INTEGER PRIMARY KEY, first INTEGER NOT NULL, due_on TEXT);
         INSERT INTO temp.bulk_copies (id, first, due_on)
           SELECT id, first, due_on FROM (
             SELECT id, due_on,
                    min(id) OVER (PARTITION BY key_hash, connector, scope) AS first
             FROM units)
           WHERE id != first;",
    )?;
    let counted: i64 = tx.query_row(
        "SELECT count(*) FROM temp.bulk_copies WHERE id >= ?1",
        [counted_from],
        |r| r.get(0),
    )?;
    tx.execute_batch(
        "UPDATE row_records SET kind = 'duplicate', unit_id = c.first
           FROM temp.bulk_copies c WHERE row_records.unit_id = c.id;
         INSERT INTO row_records (file_id, line, kind, unit_id)
           SELECT u.row_file_id, u.row_line, 'duplicate', c.first
           FROM temp.bulk_copies c JOIN units u ON u.id = c.id
           WHERE u.row_line IS NOT NULL ORDER BY 1, 2;
         UPDATE units SET due_on = m.due
           FROM (SELECT first, min(due_on) AS due FROM temp.bulk_copies
                 WHERE due_on IS NOT NULL GROUP BY first) AS m
           WHERE units.id = m.first AND (units.due_on IS NULL OR units.due_on > m.due);
         DELETE FROM units WHERE id IN (SELECT id FROM temp.bulk_copies);
         DROP TABLE temp.bulk_copies;",
    )?;
    Ok(counted as u64)
}

/// Insert `items` with multi-row INSERTs of [`ROWS_PER_INSERT`], the remainder one at a
/// time, holding no more than one INSERT's worth of them. `bind` binds one item's columns
/// from the (1-based) parameter index it is given and says how many it bound.
fn insert_many<T>(
    tx: &Transaction<'_>,
    (insert, values, columns): (&str, &str, usize),
    items: impl Iterator<Item = T>,
    bind: impl Fn(&mut Statement<'_>, usize, &T) -> rusqlite::Result<usize>,
) -> rusqlite::Result<()> {
    let bind = |stmt: &mut Statement<'_>, at: usize, item: &T| match bind(stmt, at, item)? {
        n if n == columns => Ok(()),
        n => Err(rusqlite::Error::InvalidParameterCount(n, columns)),
    };
    let sql = |n: usize| format!("{insert} VALUES {}", vec![values; n].join(","));
    let mut many = tx.prepare_cached(&sql(ROWS_PER_INSERT))?;
    let mut one = tx.prepare_cached(&sql(1))?;
    let mut batch = Vec::with_capacity(ROWS_PER_INSERT);
    for item in items {
        batch.push(item);
        if batch.len() == ROWS_PER_INSERT {
            for (i, item) in batch.iter().enumerate() {
                bind(&mut many, i * columns + 1, item)?;
            }
            many.raw_execute()?;
            batch.clear();
        }
    }
    for item in &batch {
        bind(&mut one, 1, item)?;
        one.raw_execute()?;
    }
    Ok(())
}

fn bind(stmt: &mut Statement<'_>, at: usize, values: &[&dyn ToSql]) -> rusqlite::Result<usize> {
    for (i, value) in values.iter().enumerate() {
        stmt.raw_bind_parameter(at + i, value)?;
    }
    Ok(values.len())
}

/// Which keys a bulk load has met, on a sample: a key is followed when its keyed hash
/// starts with a zero byte (one in 256, evenly spread, since the hashes are HMAC outputs),
/// so the share of a chunk's keys met before is estimated in flat memory whatever the size
/// of the file: at most [`RepeatSample::MAX`] hashes of 8 bytes.
#[derive(Default)]
pub struct RepeatSample {
    met: rustc_hash::FxHashSet<u64>,
}

impl RepeatSample {
    const MAX: usize = 1 << 16;

    /// Whether `hash` is followed; if so, whether it was met before (it is now).
    fn meet(&mut self, hash: &KeyHash) -> Option<bool> {
        if hash[0] != 0 {
            return None;
        }
        let mut word = [0u8; 8];
        word.copy_from_slice(&hash[1..9]);
        let word = u64::from_le_bytes(word);
        if self.met.contains(&word) {
            return Some(true);
        }
        if self.met.len() < Self::MAX {
            self.met.insert(word);
        }
        Some(false)
    }
}

#[cfg(test)]
mod tests;
