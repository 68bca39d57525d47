//! Opening a ledger to read it only, for the audit commands: never migrated, checkpointed or
//! written, and readable on read-only storage.

use std::path::{Path, PathBuf};

use rusqlite::Connection;

use super::{Ledger, explain_open_error, schema};
use crate::error::{Error, Result};
use crate::output;

impl Ledger {
    /// Open an existing ledger to read it only (`status`, `report`, `lookup`, `invalid`,
    /// `verify`): never migrated, checkpointed or written. SQLite opens it with
    /// `mode=ro`; where it cannot (a read-only folder or medium, where it cannot make the
    /// `-shm` file a WAL database needs), it is read as immutable, without locking, and
    /// stderr says so. A ledger of an older schema that the audit queries still understand
    /// is read as it is (not upgraded); an older one is refused.
    pub fn open_read_only(path: &Path) -> Result<Ledger> {
        if !path.is_file() {
            return Err(Error::ledger(path, no_ledger_here(path)));
        }
        let (conn, tables, reader) = match read_only_connection(path, READ) {
            Ok((conn, tables)) => (conn, tables, READ),
            Err(e) if on_read_only_storage(&e) => {
                let wal = sidecar(path, "-wal");
                if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
                    return Err(Error::ledger(
                        path,
                        format!(
                            "it cannot be read here: its write-ahead log {} holds commits, and \
                             on read-only storage SQLite cannot read them (it needs to write \
                             the -shm file beside it). Copy the ledger with its -wal file to \
                             writable storage and read the copy",
                            wal.display()
                        ),
                    ));
                }
                output::eprint(&format!(
                    "note: {} is on read-only storage: reading it as immutable (no locking), \
                     which is only right while nothing writes to it\n",
                    path.display()
                ));
                let (conn, tables) = read_only_connection(path, IMMUTABLE)
                    .map_err(|e| explain_open_error(path, e))?;
                (conn, tables, IMMUTABLE)
            }
            Err(e) => return Err(explain_open_error(path, e)),
        };
        let version = schema::version(&conn).map_err(|e| explain_open_error(path, e))?;
        match version {
            0 if tables > 0 => Err(Error::ledger(
                path,
                "this SQLite file is not a forget ledger",
            )),
            0 => Err(Error::ledger(
                path,
                "it is empty: no run has recorded anything in it yet",
            )),
            v if v > schema::MIGRATIONS.len() => Err(Error::ledger(
                path,
                schema::MigrateError::TooNew {
                    found: v,
                    known: schema::MIGRATIONS.len(),
                }
                .to_string(),
            )),
            v if v < schema::READABLE_FROM => Err(Error::ledger(
                path,
                format!(
                    "it was written by an older forget (schema {v}), which reading commands do \
                     not change: a `forget run` on it upgrades it (with no files it only \
                     resumes unfinished keys), or read it with the forget that wrote it"
                ),
            )),
            v => {
                if v < schema::MIGRATIONS.len() {
                    output::eprint(&format!(
                        "note: {} has schema {v}, from an older forget: read as it is, not \
                         upgraded (the next `forget run` on it upgrades it)\n",
                        path.display()
                    ));
                }
                Ok(Ledger {
                    conn,
                    path: path.to_owned(),
                    reader: Some(reader),
                })
            }
        }
    }
}

/// The URI parameters of a reader of a ledger: while others may write it, or (on read-only
/// storage) as a file nothing writes.
pub(super) const READ: &str = "mode=ro";
const IMMUTABLE: &str = "immutable=1";

impl Ledger {
    /// A second reader of this ledger's file, opened as this one was read (or, for a ledger
    /// opened to write, read-only): `None` in memory, or when it cannot be opened.
    pub(super) fn second_reader(&self) -> Option<Connection> {
        read_only_connection(&self.path, self.reader?)
            .ok()
            .map(|(conn, _)| conn)
    }
}

/// `PATH` + `suffix`: SQLite's `-wal` and `-shm` files beside a ledger.
pub fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The ledgers `run --simulate`, `access` and `access --simulate` make by default: when one
/// of them is beside a missing ledger, the message names it.
const OTHER_LEDGERS: [&str; 3] = [
    "forget-simulate.db",
    "forget-access.db",
    "forget-access-simulate.db",
];

/// Why there is nothing to read, and the ledgers beside it that could be meant.
fn no_ledger_here(path: &Path) -> String {
    let folder = path.parent().unwrap_or(Path::new(""));
    let found: Vec<String> = OTHER_LEDGERS
        .iter()
        .map(|name| folder.join(name))
        .filter(|p| p.is_file() && p != path)
        .map(|p| format!("--state {}", crate::text::shell_word(&p.to_string_lossy())))
        .collect();
    if found.is_empty() {
        "no ledger here: `forget run` creates it (or pass --state PATH)".to_owned()
    } else {
        format!(
            "no ledger here: `forget run` creates it; to read another ledger pass --state PATH, \
             e.g. the one beside it: {}",
            found.join(", ")
        )
    }
}

/// A read-only connection to `path` with these URI parameters, and how many schema
/// entries it holds. SQLite opens lazily: the count is the first read, where a read-only
/// medium shows.
fn read_only_connection(path: &Path, params: &str) -> rusqlite::Result<(Connection, i64)> {
    use rusqlite::OpenFlags;
    let conn = Connection::open_with_flags(
        format!("file:{}?{params}", uri_path(path)),
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "query_only", true)?;
    let tables = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
    Ok((conn, tables))
}

/// A path as the path of a `file:` URI: every byte but unreserved ones percent-encoded.
fn uri_path(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut out = String::new();
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"/-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// SQLite's answer when a WAL database is read where its `-shm` cannot be made.
fn on_read_only_storage(e: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode;
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::ReadOnly) | Some(ErrorCode::CannotOpen)
    )
}
