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
//! - [`file_options`]: the input options a file was recorded with.
//! - [`events`]: the append-only event log; [`requests`]: each request's state, derived
//!   from rows, units and events; [`corrections`]: later rows that supersede earlier ones.
//! - [`chain`]: the hash chain over files, attempts, events and purges, and its head.
//! - [`timeline`]: requests and calls over time, binned in SQL.
//! - [`verify`]: the ledger's checks (`forget verify`, and before anything is read or sent).
//! - this module: opening (0600, WAL, lock, key check; read-only for the audit commands) and
//!   the queries other commands need.

pub mod audit;
pub mod bulk;
pub mod chain;
pub mod corrections;
mod counts;
pub mod deadlines;
pub mod events;
mod exports;
pub mod file_options;
pub mod ingest;
pub mod purge;
mod read_only;
pub mod report;
pub mod requests;
pub mod schema;
mod send;
pub mod timeline;
pub mod unkey;
pub mod verify;
pub mod writer;

pub use counts::{Counts, ScopeCounts, render_by_scope, shows_connectors};
pub use read_only::sidecar;
pub use send::{PreviewUnit, SendCursor, SendPreview};

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rusqlite::{Connection, OptionalExtension, params};

use crate::actor::Actor;
use crate::error::{Error, Result};
use crate::keys::KeyHasher;
use crate::output;
use crate::secret::{self, SecretSource};

/// Page cache while recording input, KiB (SQLite's default is 2000).
const BULK_CACHE_KIB: i64 = 4 << 10;
/// WAL pages between checkpoints while recording input (default 1000).
const BULK_CHECKPOINT_PAGES: i64 = 32 << 10;

pub struct Ledger {
    conn: Connection,
    path: PathBuf,
    /// How a second, read-only connection to the same file opens (its URI parameters), so
    /// that the checks run on two cores; none for a ledger in memory.
    reader: Option<&'static str>,
}

/// Held by every command that writes the ledger (run, access, purge) for as long as it
/// does: a second one on the same file refuses to start. An advisory lock (`flock`) on the
/// ledger file itself, so it follows the file whatever path, link or working directory
/// names it, and the OS releases it if the process dies.
#[derive(Debug)]
pub struct LedgerLock {
    file: File,
}

impl Drop for LedgerLock {
    fn drop(&mut self) {
        // A child forked by this process and not yet exec'd holds a copy of the descriptor,
        // which would keep the lock: release it explicitly, not by closing.
        let _ = self.file.unlock();
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
            reader: Some(read_only::READ),
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
            reader: None,
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

    /// Take the ledger's lock (see [`LedgerLock`]), creating the ledger file (0600, empty)
    /// if there is none yet. Take it before opening the ledger to write, and let it go only
    /// after every connection this process opened to the ledger is closed: closing any
    /// descriptor of a file drops the POSIX locks SQLite holds on it in this process.
    ///
    /// `flock` locks and SQLite's `fcntl` locks do not interact on a local filesystem. On
    /// NFS, Linux turns `flock` into an `fcntl` lock: keep ledgers on local disks.
    pub fn lock(path: &Path) -> Result<LedgerLock> {
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(Error::ledger(path, format!("cannot create it: {e}"))),
        }
        // Read access is enough to lock, and a read-only ledger then gets the clearer
        // "cannot open it for writing" from SQLite.
        let file = File::open(path)
            .map_err(|e| Error::ledger(path, format!("cannot open it to lock it: {e}")))?;
        match file.try_lock() {
            Ok(()) => Ok(LedgerLock { file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(Error::ledger(
                path,
                "another forget run is using this ledger: another forget command (run, access \
                 or purge) holds its lock, through this path or another name for the same file \
                 (a link). Wait for it to finish: two runs on one ledger could send keys twice",
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

    /// Whether anything in this ledger was recorded with a ledger key (units, rows, or the
    /// key check value): then only that key will do, and no new one may be made.
    pub fn holds_hashes(&self) -> Result<bool> {
        Ok(self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM units) OR EXISTS (SELECT 1 FROM row_records)
                 OR EXISTS (SELECT 1 FROM meta WHERE name = 'key_check')",
            [],
            |r| r.get(0),
        )?)
    }

    /// The ledger key for a command that writes this ledger: `FORGET_LEDGER_KEY`, or
    /// `key_file`, made (0600, random) only when the ledger has recorded nothing yet. A
    /// missing key for a ledger with records is refused, and nothing is made: a new key
    /// would match none of them.
    pub fn load_key(&self, key_file: &Path) -> Result<(Vec<u8>, SecretSource)> {
        let fresh = !self.holds_hashes()?;
        load_key_file(&self.path, key_file, fresh)
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
            output::eprint(&format!(
                "warning: another process is reading {}: its write-ahead log could not be emptied \
                 now; the next forget command on it will\n",
                self.path().display()
            ));
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

/// The `date_unreadable` events that still stand: those of a dry run's recording that a
/// later run replaced went with its rows.
fn standing_date_events() -> String {
    format!(
        "FROM events e JOIN files f ON f.id = e.file_id WHERE {}",
        events::DATE_FLAG_STANDS
    )
}

impl Ledger {
    /// Request rows whose received date could not be read (each has a `date_unreadable`
    /// event), for `forget invalid`. None in a ledger older than the event log.
    pub fn unreadable_dates(&self) -> Result<Vec<InvalidRow>> {
        if !events::available(&self.conn)? {
            return Ok(Vec::new());
        }
        let mut stmt = self.conn.prepare(&format!(
            "SELECT f.path, e.line, e.reason {} ORDER BY e.file_id, e.line",
            standing_date_events()
        ))?;
        let rows = stmt.query_map([], |r| {
            Ok(InvalidRow {
                path: r.get(0)?,
                line: r.get::<_, i64>(1)? as u64,
                reason: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// How many requests of `connector`'s files have a received date that could not be read.
    pub fn count_unreadable_dates(&self, connector: &str) -> Result<u64> {
        if !events::available(&self.conn)? {
            return Ok(0);
        }
        let n: i64 = self.conn.query_row(
            &format!(
                "SELECT count(*) {} AND f.connector = ?1",
                standing_date_events()
            ),
            [connector],
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }
}

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

/// [`Ledger::load_key`] before the ledger is opened to write (`forget access` needs the key
/// first): a ledger that exists and cannot be read counts as one with records.
pub fn load_key_for(state: &Path, key_file: &Path) -> Result<(Vec<u8>, SecretSource)> {
    let fresh = match std::fs::metadata(state) {
        Err(_) => true,
        Ok(m) if m.len() == 0 => true,
        Ok(_) => Ledger::open_read_only(state)
            .and_then(|l| l.holds_hashes())
            .is_ok_and(|held| !held),
    };
    load_key_file(state, key_file, fresh)
}

fn load_key_file(state: &Path, key_file: &Path, fresh: bool) -> Result<(Vec<u8>, SecretSource)> {
    if !fresh && std::env::var_os(secret::LEDGER_KEY_ENV).is_none() && !key_file.exists() {
        return Err(Error::ledger(
            state,
            format!(
                "its ledger key is missing: {} is not set and there is no key file at {} \
                 (--ledger-key-file PATH names another; the default is {}). Its records were \
                 hashed with that key, so give the same key back; a new one would match none \
                 of them, and nothing was made",
                secret::LEDGER_KEY_ENV,
                key_file.display(),
                secret::default_key_file(state).display()
            ),
        ));
    }
    secret::load_ledger_key(key_file, fresh)
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

pub(crate) fn explain_open_error(path: &Path, e: rusqlite::Error) -> Error {
    use rusqlite::ErrorCode;
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseCorrupt) => Error::Unsound {
            path: path.to_owned(),
            message: format!("SQLite reports: {e}{}", crate::error::CORRUPTION_HINT),
        },
        Some(ErrorCode::NotADatabase) => Error::ledger(
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
