//! The ledger's single writer: a plain thread fed by a channel, committing attempts and
//! outcomes in batches so SQLite never runs on the async executor and never commits per key.
//!
//! A final outcome is never overwritten: `deleted` and `not_found` stand whatever a later
//! answer says (a 1020 after a deletion is what a repeated delete answers), and `rejected`
//! changes only in a run asked to re-send it. A later answer is still recorded, as an
//! attempt. [`Recorded`] counts what was written, so a run's summary says what the ledger
//! holds.
//!
//! Erased keys leave the database as their outcomes commit, but the write-ahead log and the
//! main file keep the pages that held them until a checkpoint copies the new pages over:
//! the writer truncates the log at most [`CHECKPOINT_EVERY`] after a commit, so a process
//! killed mid-run leaves at most that much of erased plaintext behind.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, params};

use super::chain::Appender;
use super::{configure, timestamp};
use crate::outcome::Outcome;

/// Most records committed in one transaction. Larger batches only delay the commit.
const MAX_BATCH: usize = 4096;
/// How long the first record of a batch waits for others: a kill may lose this much more of
/// the answers received (their keys are sent again by the next run).
const LINGER: Duration = Duration::from_millis(5);
/// The longest the write-ahead log keeps pages of committed outcomes before the writer
/// checkpoints and truncates it (after the next commit, or when idle).
pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// The outcomes a record may still change: unfinished units, and rejected ones in a run that
/// re-sends them (`?2`). Deleted and not-found units are never changed by a later answer.
const MAY_CHANGE: &str = "(outcome IN ('pending', 'failed') OR (outcome = 'rejected' AND ?2))";

/// One attempt at one unit, and, when it ended the unit for this run, its outcome.
#[derive(Clone, Debug)]
pub struct AttemptRecord {
    pub unit_id: i64,
    pub at: SystemTime,
    pub http_status: Option<u16>,
    pub verdict: &'static str,
    pub code: Option<String>,
    pub description: Option<String>,
    pub transaction_id: Option<String>,
    pub latency_ms: u32,
    /// A transport error, in words (never contains the token or the key).
    pub error: Option<String>,
    /// Set when this attempt finished the unit: deleted, not_found, rejected or failed.
    pub finish: Option<Outcome>,
    /// An earlier attempt of this unit may have reached the server (timeout, dropped connection).
    pub after_ambiguous: bool,
    /// Where the connector kept this answer (an access export's document, relative to its
    /// folder), recorded in `exports` when the attempt finishes the unit.
    pub kept: Option<String>,
}

/// Why the writer stopped: the engine must then stop sending (answers it cannot record
/// would be lost, and their keys sent again by the next run).
#[derive(Debug, thiserror::Error)]
pub enum WriterError {
    #[error("reading the ledger failed: {0}")]
    Read(#[source] rusqlite::Error),
    #[error("writing the ledger failed: {0}")]
    Write(#[source] rusqlite::Error),
    #[error("the ledger writer thread panicked")]
    Panicked,
}

/// What the writer has committed this run, for the summary: finished units per outcome,
/// and answers it kept out of units already final.
#[derive(Default, Debug)]
pub struct Recorded {
    finished: [AtomicU64; 5],
    after_ambiguous: AtomicU64,
    kept_final: AtomicU64,
}

impl Recorded {
    fn index(outcome: Outcome) -> usize {
        match outcome {
            Outcome::Pending => 0,
            Outcome::Deleted => 1,
            Outcome::NotFound => 2,
            Outcome::Rejected => 3,
            Outcome::Failed => 4,
        }
    }

    /// Units this run recorded finished with `outcome`.
    pub fn finished(&self, outcome: Outcome) -> u64 {
        self.finished[Self::index(outcome)].load(Ordering::Relaxed)
    }

    pub fn finished_total(&self) -> u64 {
        Outcome::ALL.iter().map(|o| self.finished(*o)).sum()
    }

    /// Units recorded not found after an attempt that may have erased them.
    pub fn after_ambiguous(&self) -> u64 {
        self.after_ambiguous.load(Ordering::Relaxed)
    }

    /// Final answers for units the ledger had already finished: kept as attempts only.
    pub fn kept_final(&self) -> u64 {
        self.kept_final.load(Ordering::Relaxed)
    }

    fn add(&self, batch: &BatchCounts) {
        for (slot, n) in self.finished.iter().zip(batch.finished) {
            slot.fetch_add(n, Ordering::Relaxed);
        }
        self.after_ambiguous
            .fetch_add(batch.after_ambiguous, Ordering::Relaxed);
        self.kept_final
            .fetch_add(batch.kept_final, Ordering::Relaxed);
    }
}

#[derive(Default)]
struct BatchCounts {
    finished: [u64; 5],
    after_ambiguous: u64,
    kept_final: u64,
}

/// What a writer is for: its run, and whether that run re-sends rejected units.
#[derive(Clone, Copy, Debug)]
pub struct WriterConfig {
    pub run_id: i64,
    pub resend_rejected: bool,
}

pub struct Writer {
    tx: mpsc::Sender<AttemptRecord>,
    handle: JoinHandle<Result<u64, WriterError>>,
}

impl Writer {
    /// Start the writer thread on its own connection to `path`, counting what it commits in
    /// `recorded`. `on_error` is called once, from the writer thread, if a write fails: the
    /// engine must then stop sending.
    pub fn spawn(
        path: &Path,
        config: WriterConfig,
        recorded: Arc<Recorded>,
        on_error: impl FnOnce(&WriterError) + Send + 'static,
    ) -> rusqlite::Result<Writer> {
        let conn = Connection::open(path)?;
        configure(&conn)?;
        let (tx, rx) = mpsc::channel();
        let handle = std::thread::Builder::new()
            .name("ledger-writer".into())
            .spawn(move || {
                let result = write_loop(conn, config, &recorded, &rx);
                // Before the channel closes: a sender that finds it closed must find the
                // reason already told (not only that the writer stopped).
                if let Err(failure) = &result {
                    on_error(failure);
                }
                drop(rx);
                result
            })
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        Ok(Writer { tx, handle })
    }

    pub fn sender(&self) -> WriterSender {
        WriterSender(self.tx.clone())
    }

    /// Flush what is queued and stop. Returns how many records were written. Blocking: call
    /// it from `spawn_blocking` or outside the runtime.
    pub fn finish(self) -> Result<u64, WriterError> {
        drop(self.tx);
        self.handle.join().unwrap_or(Err(WriterError::Panicked))
    }
}

/// A cheap handle the engine's tasks use to queue records (never blocks).
#[derive(Clone)]
pub struct WriterSender(mpsc::Sender<AttemptRecord>);

impl WriterSender {
    /// Queue a record. Returns false when the writer has stopped (after a write failure).
    pub fn send(&self, record: AttemptRecord) -> bool {
        self.0.send(record).is_ok()
    }
}

fn write_loop(
    mut conn: Connection,
    config: WriterConfig,
    recorded: &Recorded,
    rx: &mpsc::Receiver<AttemptRecord>,
) -> Result<u64, WriterError> {
    let mut written = 0u64;
    let mut batch = Vec::with_capacity(MAX_BATCH);
    // Whether any row carries audit fields of its own, where a gone key must be masked.
    // Fixed for the writer's life: rows are recorded before a run sends, under its lock.
    let rows_with_fields: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM row_records WHERE exparams IS NOT NULL)",
            [],
            |r| r.get(0),
        )
        .map_err(WriterError::Read)?;
    // When the log last held no committed page of this writer's (None: it holds none).
    let mut clean_since: Option<Instant> = None;
    loop {
        let first = match clean_since {
            Some(since) => {
                match rx.recv_timeout(CHECKPOINT_EVERY.saturating_sub(since.elapsed())) {
                    Ok(record) => record,
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        clean_since = truncate_log(&conn);
                        continue;
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
            }
            None => match rx.recv() {
                Ok(record) => record,
                Err(_) => break,
            },
        };
        batch.push(first);
        // Let a batch gather before committing: under load a commit per handful of records
        // was half the writer's work (each writes its dirty pages to the WAL). Sleeping,
        // rather than waiting on the channel, also spares the senders a wake-up per record.
        std::thread::sleep(LINGER);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(record) => batch.push(record),
                Err(_) => break,
            }
        }
        let counts =
            write_batch(&mut conn, config, &batch, rows_with_fields).map_err(WriterError::Write)?;
        recorded.add(&counts);
        written += batch.len() as u64;
        batch.clear();
        let since = *clean_since.get_or_insert_with(Instant::now);
        if since.elapsed() >= CHECKPOINT_EVERY {
            clean_since = truncate_log(&conn);
        }
    }
    Ok(written)
}

/// Copy the log into the main file and truncate it, without waiting for readers (a
/// `forget report` reading a snapshot): returns when to try again if it could not, `None`
/// when the log is empty. A failure here loses nothing committed; the run's last checkpoint
/// reports one that persists.
fn truncate_log(conn: &Connection) -> Option<Instant> {
    let busy = conn.busy_timeout(Duration::ZERO).and_then(|()| {
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            r.get::<_, i64>(0)
        })
    });
    let _ = conn.busy_timeout(Duration::from_secs(10));
    match busy {
        Ok(0) => None,
        Ok(_) => Some(Instant::now()),
        Err(e) => {
            tracing::debug!("checkpoint: {e}");
            Some(Instant::now())
        }
    }
}

fn write_batch(
    conn: &mut Connection,
    config: WriterConfig,
    batch: &[AttemptRecord],
    rows_with_fields: bool,
) -> rusqlite::Result<BatchCounts> {
    let mut counts = BatchCounts::default();
    // IMMEDIATE: the chain's head is read first, and no other writer may append between
    // that read and this commit.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    {
        let mut chain = Appender::load(&tx)?;
        let mut attempt = tx.prepare_cached(
            "INSERT INTO attempts (unit_id, run_id, at, http_status, code, verdict, latency_ms,
                                   error, outcome, transaction_id, seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )?;
        let mut progress = tx.prepare_cached(&format!(
            "UPDATE units SET attempts = attempts + 1,
                 first_attempt_at = coalesce(first_attempt_at, ?3), last_attempt_at = ?3,
                 http_status = ?4, code = ?5, description = ?6
             WHERE id = ?1 AND {MAY_CHANGE}"
        ))?;
        // A unit already final keeps its outcome, status and transaction id: a later answer
        // only counts as an attempt.
        let mut late = tx.prepare_cached(
            "UPDATE units SET attempts = attempts + 1,
                 first_attempt_at = coalesce(first_attempt_at, ?2), last_attempt_at = ?2
             WHERE id = ?1",
        )?;
        // Mask the unit's key, in every form, wherever its rows' own audit fields repeat it;
        // before the key is dropped (it is read from the unit).
        let mut forget_rows = tx.prepare_cached(&format!(
            "UPDATE row_records AS r
             SET exparams = forget_unkey(r.exparams, u.key)
             FROM (SELECT key FROM units WHERE id = ?1 AND {MAY_CHANGE}) AS u
             WHERE r.unit_id = ?1 AND u.key IS NOT NULL AND r.exparams IS NOT NULL
               AND forget_unkey(r.exparams, u.key) IS NOT NULL"
        ))?;
        // Most attempts finish their unit: one UPDATE then, not two.
        let mut finish = tx.prepare_cached(&format!(
            "UPDATE units SET attempts = attempts + 1,
                 first_attempt_at = coalesce(first_attempt_at, ?3), last_attempt_at = ?3,
                 http_status = ?4, code = ?5, description = ?6,
                 outcome = ?7, transaction_id = coalesce(?8, transaction_id),
                 after_ambiguous = ?9, finished_at = ?3,
                 exparams = CASE WHEN ?10 AND key IS NOT NULL AND exparams IS NOT NULL
                                 THEN coalesce(forget_unkey(exparams, key), exparams)
                                 ELSE exparams END,
                 key = CASE WHEN ?10 THEN NULL ELSE key END
             WHERE id = ?1 AND {MAY_CHANGE}"
        ))?;
        let rejected = config.resend_rejected;
        for r in batch {
            let at = timestamp(r.at);
            // A gone key keeps no plaintext: only its keyed hash and masked form remain,
            // also where an audit field repeated it.
            if rows_with_fields && r.finish.is_some_and(|o| o.is_gone()) {
                forget_rows.execute(params![r.unit_id, rejected])?;
            }
            let changed = match r.finish {
                Some(outcome) => finish.execute(params![
                    r.unit_id,
                    rejected,
                    at,
                    r.http_status,
                    r.code,
                    r.description,
                    outcome.as_str(),
                    r.transaction_id,
                    r.after_ambiguous,
                    outcome.is_gone()
                ])?,
                None => progress.execute(params![
                    r.unit_id,
                    rejected,
                    at,
                    r.http_status,
                    r.code,
                    r.description
                ])?,
            };
            // The attempt keeps the outcome it set, so the chain pins every unit's outcome.
            let set = r.finish.filter(|_| changed > 0);
            let outcome_set = set.map(|o| o.as_str());
            let seq = chain.link_refs(
                "attempts",
                [
                    ValueRef::Integer(r.unit_id),
                    ValueRef::Integer(config.run_id),
                    ValueRef::Text(at.as_bytes()),
                    r.http_status
                        .map_or(ValueRef::Null, |s| ValueRef::Integer(i64::from(s))),
                    text(r.code.as_deref()),
                    ValueRef::Text(r.verdict.as_bytes()),
                    ValueRef::Integer(i64::from(r.latency_ms)),
                    text(r.error.as_deref()),
                    text(outcome_set),
                    text(r.transaction_id.as_deref()),
                ],
            );
            attempt.execute(params![
                r.unit_id,
                config.run_id,
                at,
                r.http_status,
                r.code,
                r.verdict,
                r.latency_ms,
                r.error,
                outcome_set,
                r.transaction_id,
                seq
            ])?;
            match (changed, r.finish) {
                (0, finish) => {
                    late.execute(params![r.unit_id, at])?;
                    if finish.is_some() {
                        counts.kept_final += 1;
                    }
                }
                (_, Some(outcome)) => {
                    if let Some(file) = &r.kept {
                        tx.prepare_cached(
                            "INSERT OR REPLACE INTO exports (unit_id, file, saved_at)
                             VALUES (?1, ?2, ?3)",
                        )?
                        .execute(params![r.unit_id, file, at])?;
                    }
                    counts.finished[Recorded::index(outcome)] += 1;
                    if r.after_ambiguous && outcome == Outcome::NotFound {
                        counts.after_ambiguous += 1;
                    }
                }
                (_, None) => {}
            }
        }
        chain.save(&tx)?;
    }
    tx.commit()?;
    Ok(counts)
}

/// A text column's value as the chain hashes it: NULL when absent.
fn text(t: Option<&str>) -> ValueRef<'_> {
    t.map_or(ValueRef::Null, |t| ValueRef::Text(t.as_bytes()))
}

#[cfg(test)]
mod tests;
