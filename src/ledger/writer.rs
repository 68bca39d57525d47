//! The ledger's single writer: a plain thread fed by a channel, committing attempts and
//! outcomes in batches so SQLite never runs on the async executor and never commits per key.

use std::path::Path;
use std::thread::JoinHandle;
use std::time::SystemTime;

use rusqlite::{Connection, params};
use tokio::sync::mpsc;

use super::{configure, timestamp};
use crate::outcome::Outcome;

/// Most records committed in one transaction. Larger batches only delay the commit.
const MAX_BATCH: usize = 4096;
/// How long the first record of a batch waits for others: a kill may lose this much more of
/// the answers received (their keys are sent again by the next run).
const LINGER: std::time::Duration = std::time::Duration::from_millis(5);

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

pub struct Writer {
    tx: mpsc::UnboundedSender<AttemptRecord>,
    handle: JoinHandle<Result<u64, WriterError>>,
}

impl Writer {
    /// Start the writer thread on its own connection to `path`. `on_error` is called once,
    /// from the writer thread, if a write fails: the engine must then stop sending.
    pub fn spawn(
        path: &Path,
        run_id: i64,
        on_error: impl FnOnce(&WriterError) + Send + 'static,
    ) -> rusqlite::Result<Writer> {
        let conn = Connection::open(path)?;
        configure(&conn)?;
        let (tx, rx) = mpsc::unbounded_channel();
        let handle = std::thread::Builder::new()
            .name("ledger-writer".into())
            .spawn(move || {
                let result = write_loop(conn, run_id, rx);
                if let Err(failure) = &result {
                    on_error(failure);
                }
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

/// A cheap handle the engine's tasks use to queue records.
#[derive(Clone)]
pub struct WriterSender(mpsc::UnboundedSender<AttemptRecord>);

impl WriterSender {
    /// Queue a record. Returns false when the writer has stopped (after a write failure).
    pub fn send(&self, record: AttemptRecord) -> bool {
        self.0.send(record).is_ok()
    }
}

fn write_loop(
    mut conn: Connection,
    run_id: i64,
    mut rx: mpsc::UnboundedReceiver<AttemptRecord>,
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
    while let Some(first) = rx.blocking_recv() {
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
        write_batch(&mut conn, run_id, &batch, rows_with_fields).map_err(WriterError::Write)?;
        written += batch.len() as u64;
        batch.clear();
    }
    Ok(written)
}

fn write_batch(
    conn: &mut Connection,
    run_id: i64,
    batch: &[AttemptRecord],
    rows_with_fields: bool,
) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    {
        let mut attempt = tx.prepare_cached(
            "INSERT INTO attempts (unit_id, run_id, at, http_status, code, verdict, latency_ms, error)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        let mut progress = tx.prepare_cached(
            "UPDATE units SET attempts = attempts + 1,
                 first_attempt_at = coalesce(first_attempt_at, ?2), last_attempt_at = ?2,
                 http_status = ?3, code = ?4, description = ?5
             WHERE id = ?1",
        )?;
        let mut forget_rows = tx.prepare_cached(super::MASK_KEY_IN_ROW_EXPARAMS)?;
        // Most attempts finish their unit: one UPDATE then, not two.
        let mut finish = tx.prepare_cached(
            "UPDATE units SET attempts = attempts + 1,
                 first_attempt_at = coalesce(first_attempt_at, ?2), last_attempt_at = ?2,
                 http_status = ?3, code = ?4, description = ?5,
                 outcome = ?6, transaction_id = coalesce(?7, transaction_id),
                 after_ambiguous = ?8, finished_at = ?2,
                 exparams = CASE WHEN ?9 AND key IS NOT NULL AND exparams IS NOT NULL
                                 THEN coalesce(forget_unkey(exparams, key), exparams)
                                 ELSE exparams END,
                 key = CASE WHEN ?9 THEN NULL ELSE key END
             WHERE id = ?1",
        )?;
        for r in batch {
            let at = timestamp(r.at);
            attempt.execute(params![
                r.unit_id,
                run_id,
                at,
                r.http_status,
                r.code,
                r.verdict,
                r.latency_ms,
                r.error
            ])?;
            // A gone key keeps no plaintext: only its keyed hash and masked form remain,
            // also where an audit field repeated it.
            if rows_with_fields && r.finish.is_some_and(|o| o.is_gone()) {
                forget_rows.execute([r.unit_id])?;
            }
            match r.finish {
                Some(outcome) => finish.execute(params![
                    r.unit_id,
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
                    at,
                    r.http_status,
                    r.code,
                    r.description
                ])?,
            };
        }
    }
    tx.commit()
}
