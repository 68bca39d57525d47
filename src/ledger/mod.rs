//! The ledger: a SQLite file that proves what happened to every key.
//!
//! - [`schema`]: migrations on `user_version`.
//! - [`ingest`]: recording input rows and units of work before anything is sent.
//! - [`writer`]: the single writer thread that records attempts and outcomes in batches.
//! - this module: opening (0600, WAL, lock, key check) and the queries other commands need.

pub mod ingest;
pub mod schema;
pub mod writer;

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rusqlite::{Connection, OptionalExtension, params};

use crate::connector::Unit;
use crate::error::{Error, Result};
use crate::keys::KeyHasher;
use crate::outcome::Outcome;

pub struct Ledger {
    conn: Connection,
    path: PathBuf,
}

/// Held for the whole of a run: a second run on the same ledger refuses to start.
#[derive(Debug)]
pub struct LedgerLock {
    _file: File,
}

/// Counts per outcome, as `forget status --json` prints them.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub total: u64,
    pub deleted: u64,
    pub not_found: u64,
    pub rejected: u64,
    pub failed: u64,
    pub pending: u64,
    pub invalid: u64,
    pub duplicates: u64,
}

impl Counts {
    pub fn get(&self, outcome: Outcome) -> u64 {
        match outcome {
            Outcome::Pending => self.pending,
            Outcome::Deleted => self.deleted,
            Outcome::NotFound => self.not_found,
            Outcome::Rejected => self.rejected,
            Outcome::Failed => self.failed,
        }
    }

    fn slot(&mut self, outcome: Outcome) -> &mut u64 {
        match outcome {
            Outcome::Pending => &mut self.pending,
            Outcome::Deleted => &mut self.deleted,
            Outcome::NotFound => &mut self.not_found,
            Outcome::Rejected => &mut self.rejected,
            Outcome::Failed => &mut self.failed,
        }
    }
}

/// RFC 3339, UTC, as every timestamp in the ledger is written.
pub fn timestamp(at: SystemTime) -> String {
    let at = time::OffsetDateTime::from(at);
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| at.unix_timestamp().to_string())
}

pub(crate) fn configure(conn: &Connection) -> rusqlite::Result<()> {
    // WAL + NORMAL: a killed process loses nothing committed; only power loss can drop the
    // last batches, which the next run then simply re-sends (deletes are idempotent).
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // Erased keys must not linger in free pages.
    conn.pragma_update(None, "secure_delete", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(())
}

impl Ledger {
    /// Open (creating it 0600 if needed) and migrate the ledger at `path`.
    pub fn open(path: &Path) -> Result<Ledger> {
        if !path.exists() {
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| Error::ledger(path, format!("cannot create it: {e}")))?;
        }
        Self::open_file(path)
    }

    /// Open a ledger that must already exist (for `status` and other readers).
    pub fn open_existing(path: &Path) -> Result<Ledger> {
        if !path.is_file() {
            return Err(Error::ledger(
                path,
                "no ledger here: `forget run` creates it (or pass --state PATH)",
            ));
        }
        Self::open_file(path)
    }

    fn open_file(path: &Path) -> Result<Ledger> {
        let mut conn = Connection::open(path).map_err(|e| explain_open_error(path, e))?;
        configure(&conn).map_err(|e| explain_open_error(path, e))?;
        let foreign: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .map_err(|e| explain_open_error(path, e))?;
        if schema::version(&conn)? == 0 && foreign > 0 {
            return Err(Error::ledger(
                path,
                "this SQLite file is not a forget ledger; refusing to write into it",
            ));
        }
        schema::migrate(&mut conn).map_err(|e| match e {
            schema::MigrateError::Sqlite(e) => explain_open_error(path, e),
            e => Error::ledger(path, e.to_string()),
        })?;
        Ok(Ledger {
            conn,
            path: path.to_owned(),
        })
    }

    #[cfg(test)]
    pub fn open_in_memory() -> Result<Ledger> {
        let mut conn = Connection::open_in_memory()?;
        schema::migrate(&mut conn).map_err(|e| Error::ledger(":memory:", e.to_string()))?;
        Ok(Ledger {
            conn,
            path: PathBuf::from(":memory:"),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Take the run lock (a sidecar `.lock` file, released by the OS if the process dies).
    pub fn lock(path: &Path) -> Result<LedgerLock> {
        let mut name = path.as_os_str().to_owned();
        name.push(".lock");
        let lock_path = PathBuf::from(name);
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&lock_path)
            .map_err(|e| Error::ledger(path, format!("cannot create its lock file: {e}")))?;
        match file.try_lock() {
            Ok(()) => Ok(LedgerLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(Error::ledger(
                path,
                "another forget run is using this ledger; wait for it to finish \
                 (two runs on one ledger could send keys twice)",
            )),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(Error::ledger(path, format!("cannot lock it: {e}")))
            }
        }
    }

    /// Make sure `hasher` is the key this ledger's hashes were made with: with another key no
    /// row would match and every erased key would be sent again.
    pub fn check_key(&self, hasher: &KeyHasher) -> Result<()> {
        let check = hex::encode(hasher.hash("forget ledger key check"));
        let stored: Option<String> = self
            .conn
            .query_row("SELECT value FROM meta WHERE name = 'key_check'", [], |r| {
                r.get(0)
            })
            .optional()?;
        match stored {
            Some(stored) if stored == check => Ok(()),
            Some(_) => Err(Error::ledger(
                &self.path,
                "its keys were hashed with a different ledger key: set FORGET_LEDGER_KEY or \
                 --ledger-key-file to the key this ledger was made with",
            )),
            None => {
                self.conn.execute(
                    "INSERT INTO meta (name, value) VALUES ('key_check', ?1)",
                    [check],
                )?;
                Ok(())
            }
        }
    }

    pub fn counts(&self) -> Result<Counts> {
        let mut counts = Counts::default();
        let mut stmt = self
            .conn
            .prepare("SELECT outcome, count(*) FROM units GROUP BY outcome")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let outcome: String = row.get(0)?;
            let n: i64 = row.get(1)?;
            if let Some(o) = Outcome::parse(&outcome) {
                *counts.slot(o) += n as u64;
            }
            counts.total += n as u64;
        }
        let (invalid, duplicates): (i64, i64) = self.conn.query_row(
            "SELECT coalesce(sum(kind = 'invalid'), 0), coalesce(sum(kind = 'duplicate'), 0) FROM rows",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        counts.invalid = invalid as u64;
        counts.duplicates = duplicates as u64;
        Ok(counts)
    }

    /// Units still to send, in id order, after `after_id`.
    pub fn next_units(
        &self,
        connector: &str,
        include: &[Outcome],
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<Unit>> {
        let outcomes: Vec<&str> = include.iter().map(|o| o.as_str()).collect();
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, scope, key, exparams FROM units
             WHERE connector = ?1 AND outcome IN (SELECT value FROM json_each(?2))
               AND id > ?3 AND key IS NOT NULL
             ORDER BY id LIMIT ?4",
        )?;
        let include_json = serde_json::to_string(&outcomes).unwrap_or_else(|_| "[]".into());
        let rows = stmt.query_map(
            params![connector, include_json, after_id, limit as i64],
            |r| {
                let exparams: Option<String> = r.get(3)?;
                Ok(Unit {
                    id: r.get(0)?,
                    scope: r.get(1)?,
                    key: r.get(2)?,
                    exparams: exparams.as_deref().map(parse_exparams).unwrap_or_default(),
                })
            },
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// How many units a run would send.
    pub fn count_units(&self, connector: &str, include: &[Outcome]) -> Result<u64> {
        let outcomes: Vec<&str> = include.iter().map(|o| o.as_str()).collect();
        let include_json = serde_json::to_string(&outcomes).unwrap_or_else(|_| "[]".into());
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM units WHERE connector = ?1
               AND outcome IN (SELECT value FROM json_each(?2)) AND key IS NOT NULL",
            params![connector, include_json],
            |r| r.get(0),
        )?;
        Ok(n as u64)
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
             ORDER BY scope LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![connector, include_json, limit as i64], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Whether every row of the file with this content, read with this profile default, is
    /// already recorded (so ingesting it again adds nothing).
    pub fn file_recorded(&self, sha256: &str, profile_default: &str) -> Result<bool> {
        let rows: Option<Option<i64>> = self
            .conn
            .query_row(
                "SELECT rows FROM files WHERE sha256 = ?1 AND profile_default = ?2",
                params![sha256, profile_default],
                |r| r.get(0),
            )
            .optional()?;
        Ok(matches!(rows, Some(Some(_))))
    }

    pub fn begin_run(&self, run: &RunRecord) -> Result<i64> {
        self.conn.execute(
            "INSERT INTO runs (started_at, connector, api_host, rate, operator, host, tool_version)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                timestamp(SystemTime::now()),
                run.connector,
                run.api_host,
                run.rate,
                run.operator,
                run.host,
                env!("CARGO_PKG_VERSION"),
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    pub fn end_run(&self, run_id: i64, result: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE runs SET ended_at = ?1, result = ?2 WHERE id = ?3",
            params![timestamp(SystemTime::now()), result, run_id],
        )?;
        Ok(())
    }

    /// Fold the WAL back into the main file and truncate it, so nothing erased lingers there.
    pub fn checkpoint(&self) -> Result<()> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// Invalid rows with their reasons, for `forget invalid`.
    pub fn invalid_rows(&self) -> Result<Vec<InvalidRow>> {
        let mut stmt = self.conn.prepare(
            "SELECT f.path, r.line, r.reason FROM rows r JOIN files f ON f.id = r.file_id
             WHERE r.kind = 'invalid' ORDER BY r.file_id, r.line",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(InvalidRow {
                path: r.get(0)?,
                line: r.get::<_, i64>(1)? as u64,
                reason: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct InvalidRow {
    pub path: String,
    pub line: u64,
    pub reason: String,
}

/// What a run records about itself.
#[derive(Clone, Debug, Default)]
pub struct RunRecord {
    pub connector: String,
    pub api_host: Option<String>,
    pub rate: String,
    pub operator: Option<String>,
    pub host: Option<String>,
}

pub(crate) fn parse_exparams(json: &str) -> Vec<(String, String)> {
    match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(json) {
        Ok(map) => map
            .into_iter()
            .filter_map(|(k, v)| v.as_str().map(|v| (k, v.to_owned())))
            .collect(),
        Err(_) => Vec::new(),
    }
}

fn explain_open_error(path: &Path, e: rusqlite::Error) -> Error {
    use rusqlite::ErrorCode;
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) | Some(ErrorCode::DatabaseCorrupt) => Error::ledger(
            path,
            "the file is corrupted or is not a SQLite database; refusing to start over \
             (move it aside to begin a new ledger, or restore it from a backup)",
        ),
        Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => Error::ledger(
            path,
            "the database is busy: another process is writing to it",
        ),
        Some(ErrorCode::ReadOnly)
        | Some(ErrorCode::CannotOpen)
        | Some(ErrorCode::PermissionDenied) => {
            Error::ledger(path, format!("cannot open it for writing: {e}"))
        }
        _ => Error::Sqlite(e),
    }
}
