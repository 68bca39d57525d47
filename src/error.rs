//! The one error type for failures that end a command.
//!
//! Expected per-key failures (a rejected key, a 429) are *data* — see [`crate::outcome`] —
//! and never reach this type. What does reach it ends the command: something the user must
//! fix before anything is sent (a bad flag, an unreadable file, a ledger that cannot be
//! opened: exit 2), an API that refuses the whole command (exit 3), or a failure after work
//! may have begun (a ledger or output file that cannot be written, an internal failure:
//! exit 1).

use std::path::PathBuf;

/// Exit codes, documented in docs/commands.md.
pub mod exit {
    /// Every key deleted or not found.
    pub const OK: i32 = 0;
    /// Failed in a way that is neither usage nor input: a ledger or output file could not be
    /// written, or an internal failure (a bug). Work may have been done: look before re-running.
    pub const FAILURE: i32 = 1;
    /// Usage, configuration or input error: nothing was sent.
    pub const USAGE: i32 = 2;
    /// The run stopped early, or a command could not start: bad token, expired token, wrong URL.
    pub const STOPPED: i32 = 3;
    /// The run finished but some keys were rejected, failed or invalid.
    pub const INCOMPLETE: i32 = 4;
    /// The ledger fails a check (`forget verify` says which): nothing was read from it as
    /// truth, nor sent.
    pub const LEDGER_CHECK: i32 = 5;
    /// Interrupted by Ctrl-C (SIGTERM exits 143, SIGHUP 129: 128 + the signal's number, see
    /// [`crate::signal`]); the next run resumes.
    pub const INTERRUPTED: i32 = 130;
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A flag or setting is wrong. The message says which and what to do.
    #[error("{0}")]
    Usage(String),

    /// An input file cannot be used at all (as opposed to one bad row in it).
    #[error("{}: {message}", path.display())]
    Input { path: PathBuf, message: String },

    /// The ledger cannot be opened, is locked, is from a newer version, or a write failed.
    #[error("ledger {}: {message}", path.display())]
    Ledger { path: PathBuf, message: String },

    /// The ledger fails its integrity or consistency checks: it cannot be read as evidence.
    #[error("ledger {}: {message}", path.display())]
    Unsound { path: PathBuf, message: String },

    /// A remote API refused the whole command (token, URL, profile): nothing more can be
    /// done until the user fixes what the message names.
    #[error("{0}")]
    Api(String),

    /// SQLite failed; a corrupted page met on the way is [`exit::LEDGER_CHECK`].
    #[error("ledger: {0}{hint}", hint = if is_corruption(.0) { CORRUPTION_HINT } else { "" })]
    Sqlite(#[from] rusqlite::Error),

    /// An output file (a report, a manifest, a listing) could not be written.
    #[error("{}: {source}", path.display())]
    Output {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// Standard output was closed by its reader (`forget report | head -1`): nothing is
    /// wrong, the reader has what it wanted. The command stops writing and exits quietly
    /// (see [`crate::output::decided`] for the exit code).
    #[error("standard output was closed by its reader")]
    ReaderGone,

    /// Something that should not fail did (a thread that could not start or panicked).
    #[error("internal failure: {0}")]
    Internal(String),

    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub fn usage(message: impl Into<String>) -> Self {
        Error::Usage(message.into())
    }

    pub fn input(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Input {
            path: path.into(),
            message: message.into(),
        }
    }

    pub fn ledger(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Ledger {
            path: path.into(),
            message: message.into(),
        }
    }

    pub fn api(message: impl Into<String>) -> Self {
        Error::Api(message.into())
    }

    pub fn output(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Output {
            path: path.into(),
            source,
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Error::Internal(message.into())
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// A failure writing JSON: the writer's I/O error (a full disk, a closed pipe), or a
    /// value that cannot be JSON (a bug).
    pub fn json(context: impl Into<String>, e: serde_json::Error) -> Self {
        if e.io_error_kind().is_some() {
            Error::io(context, std::io::Error::from(e))
        } else {
            Error::internal(format!("{}: {e}", context.into()))
        }
    }

    /// A failure writing CSV: the writer's I/O error, or a record the writer refused (a bug).
    pub fn csv(context: impl Into<String>, e: csv::Error) -> Self {
        match e.into_kind() {
            csv::ErrorKind::Io(e) => Error::io(context, e),
            other => Error::internal(format!("{}: {other:?}", context.into())),
        }
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) | Error::Input { .. } | Error::Ledger { .. } => exit::USAGE,
            Error::Api(_) => exit::STOPPED,
            Error::Unsound { .. } => exit::LEDGER_CHECK,
            Error::Sqlite(e) if is_corruption(e) => exit::LEDGER_CHECK,
            Error::ReaderGone => exit::OK,
            Error::Sqlite(_) | Error::Io { .. } | Error::Output { .. } | Error::Internal(_) => {
                exit::FAILURE
            }
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What to do about a corrupted ledger, after SQLite's words.
pub const CORRUPTION_HINT: &str = ": the ledger is damaged and cannot be trusted as a record; \
    `forget verify` lists its checks; restore it from a backup";

/// Whether SQLite met a corrupted page.
pub fn is_corruption(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseCorrupt)
}
