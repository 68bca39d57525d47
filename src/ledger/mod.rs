//! The ledger: a SQLite file that proves what happened to every key.
//!
//! - [`schema`]: migrations on `user_version`.
//! - [`ingest`]: recording input rows and units of work before anything is sent.
//! - [`bulk`]: recording a fresh ledger's first file without indexes, built once at the end.
//! - [`writer`]: the single writer thread that records attempts and outcomes in batches.
//! - [`audit`]: what the ledger knows of one key (`forget lookup`).
//! - [`report`]: request rows streamed for `forget report`, and the manifest's facts.
//! - [`purge`]: dropping the plaintext of keys the team gives up on.
//! - [`deadlines`]: overdue and soon-due keys for `forget status`.
//! - this module: opening (0600, WAL, lock, key check) and the queries other commands need.

pub mod audit;
pub mod bulk;
mod counts;
pub mod deadlines;
pub mod ingest;
pub mod purge;
pub mod report;
pub mod schema;
mod send;
pub mod unkey;
pub mod writer;

pub use counts::{Counts, ScopeCounts, render_by_scope, shows_connectors};
pub use send::SendCursor;

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rusqlite::{Connection, OptionalExtension, params};

use crate::actor::Actor;
use crate::error::{Error, Result};
use crate::keys::KeyHasher;

/// Page cache while recording input, KiB (SQLite's default is 2000).
const BULK_CACHE_KIB: i64 = 4 << 10;
/// WAL pages between checkpoints while recording input (default 1000).
const BULK_CHECKPOINT_PAGES: i64 = 32 << 10;

pub struct Ledger {
    conn: Connection,
    path: PathBuf,
}

/// Held for the whole of a run: a second run on the same ledger refuses to start.
#[derive(Debug)]
pub struct LedgerLock {
    _file: File,
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
    // 16 KiB pages (SQLite's default is 4): a quarter of the reads, writes and b-tree
    // rebalancing per key. Takes effect only on a new ledger, before its first table.
    conn.pragma_update(None, "page_size", 16384)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // Erased keys must not linger in free pages.
    conn.pragma_update(None, "secure_delete", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    unkey::register(conn)
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
        unkey::register(&conn)?;
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

    /// Settings for recording input, `false` restores the defaults:
    /// - rarer checkpoints: each copies (and syncs) every page written since the last one,
    ///   and each transaction rewrites pages all over the random-ordered hash index;
    /// - a page cache of a few MiB (SQLite's default is 2 MB);
    /// - no foreign-key checks (the bundled SQLite enables them): every `rows` reference is
    ///   the id just returned for its unit, and each check was a random seek into `units`.
    pub fn bulk_load(&self, on: bool) -> Result<()> {
        let (cache_kib, checkpoint_pages) = if on {
            (BULK_CACHE_KIB, BULK_CHECKPOINT_PAGES)
        } else {
            (2000, 1000)
        };
        self.conn.pragma_update(None, "cache_size", -cache_kib)?;
        self.conn
            .pragma_update(None, "wal_autocheckpoint", checkpoint_pages)?;
        self.conn.pragma_update(None, "foreign_keys", !on)?;
        Ok(())
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
        match self.verify_key(hasher)? {
            KeyCheck::Matches => Ok(()),
            KeyCheck::Differs => Err(self.wrong_key()),
            KeyCheck::Unset => {
                self.conn.execute(
                    "INSERT INTO meta (name, value) VALUES ('key_check', ?1)",
                    [key_check_value(hasher)],
                )?;
                Ok(())
            }
        }
    }

    /// Compare `hasher` with the ledger's key check value, writing nothing.
    pub fn verify_key(&self, hasher: &KeyHasher) -> Result<KeyCheck> {
        let stored: Option<String> = self
            .conn
            .query_row("SELECT value FROM meta WHERE name = 'key_check'", [], |r| {
                r.get(0)
            })
            .optional()?;
        Ok(match stored {
            Some(stored) if stored == key_check_value(hasher) => KeyCheck::Matches,
            Some(_) => KeyCheck::Differs,
            None => KeyCheck::Unset,
        })
    }

    pub fn wrong_key(&self) -> Error {
        Error::ledger(
            &self.path,
            "its keys were hashed with a different ledger key: set FORGET_LEDGER_KEY or \
             --ledger-key-file to the key this ledger was made with",
        )
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
                run.by.operator,
                run.by.host,
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
    /// Returns false when another connection kept it from completing (the WAL then still
    /// holds old pages until the next checkpoint).
    pub fn checkpoint(&self) -> Result<bool> {
        let busy: i64 = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
        Ok(busy == 0)
    }

    /// [`Ledger::checkpoint`], warning on stderr when another process kept the WAL from
    /// being emptied (erased keys may linger in it until the next forget command).
    pub fn truncate_wal(&self) -> Result<()> {
        if !self.checkpoint()? {
            eprintln!(
                "warning: another process is reading {}: its write-ahead log could not be emptied \
                 now; the next forget command on it will",
                self.path().display()
            );
        }
        Ok(())
    }

    /// Remember which API this ledger is used against (`label`, for `connector`'s units);
    /// refuse another, so keys finished in one tenant are not skipped in another.
    pub fn bind_target(&self, connector: &str, label: &str) -> Result<()> {
        let name = format!("target:{connector}");
        let stored: Option<String> = self
            .conn
            .query_row("SELECT value FROM meta WHERE name = ?1", [&name], |r| {
                r.get(0)
            })
            .optional()?;
        match stored {
            Some(s) if s == label => Ok(()),
            Some(s) => Err(Error::ledger(
                self.path(),
                format!(
                    "it records erasures sent to {s}; this run targets {label}. Use another --state \
                     for another tenant, so keys finished in one are not skipped in the other"
                ),
            )),
            None => {
                self.conn.execute(
                    "INSERT INTO meta (name, value) VALUES (?1, ?2)",
                    [&name, &label.to_owned()],
                )?;
                Ok(())
            }
        }
    }

    /// Input files whose recording a run left unfinished (it was stopped while reading
    /// them), and whether one of them was being recorded in bulk (its keys repeated across
    /// chunks count more than once until the load is finished).
    pub fn unfinished_files(&self) -> Result<(u64, bool)> {
        let n: i64 =
            self.conn
                .query_row("SELECT count(*) FROM files WHERE rows IS NULL", [], |r| {
                    r.get(0)
                })?;
        Ok((n as u64, self.bulk_file()?.is_some()))
    }

    /// Invalid rows with their reasons, for `forget invalid`.
    pub fn invalid_rows(&self) -> Result<Vec<InvalidRow>> {
        let mut stmt = self.conn.prepare(
            "SELECT f.path, r.line, r.reason FROM row_records r JOIN files f ON f.id = r.file_id
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

/// Mask unit ?1's key, in every form, wherever its rows' own audit fields repeat it. Run
/// before the key is dropped (it reads the key from the unit).
pub(crate) const MASK_KEY_IN_ROW_EXPARAMS: &str = "UPDATE row_records AS r
     SET exparams = forget_unkey(r.exparams, u.key)
     FROM (SELECT key FROM units WHERE id = ?1) AS u
     WHERE r.unit_id = ?1 AND u.key IS NOT NULL AND r.exparams IS NOT NULL
       AND forget_unkey(r.exparams, u.key) IS NOT NULL";

/// Whether a ledger key is the one a ledger's hashes were made with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyCheck {
    Matches,
    Differs,
    /// The ledger has never been used with a key.
    Unset,
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
    pub by: Actor,
}

fn key_check_value(hasher: &KeyHasher) -> String {
    hex::encode(hasher.hash("forget ledger key check"))
}

/// A stored JSON object of names and values, in natural order (`exparam2` before `exparam10`).
pub(crate) fn parse_exparams(json: &str) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> =
        match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(json) {
            Ok(map) => map
                .into_iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k, v.to_owned())))
                .collect(),
            Err(_) => Vec::new(),
        };
    pairs.sort_by_cached_key(|(k, _)| natural_key(k));
    pairs
}

fn natural_key(name: &str) -> (String, u32) {
    let digits = name.len() - name.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let (stem, n) = name.split_at(name.len() - digits);
    (stem.to_owned(), n.parse().unwrap_or(0))
}

/// Names and values (audit fields, kept columns), serialised as a JSON object in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pairs(pub Vec<(String, String)>);

impl Pairs {
    pub fn parse(json: Option<&str>) -> Pairs {
        Pairs(json.map(parse_exparams).unwrap_or_default())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `exparam1=A exparam2=B`, for humans.
    pub fn render(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl serde::Serialize for Pairs {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
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
