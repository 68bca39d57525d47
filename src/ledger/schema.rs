//! Schema migrations, keyed on `PRAGMA user_version`: migration *i* takes the schema from
//! version *i* to *i + 1*. Append new migrations; never edit a released one.

use rusqlite::{Connection, Transaction, params};

pub const MIGRATIONS: &[&str] = &[
    // 1: the pipeline ledger.
    r#"
    CREATE TABLE meta (
        name  TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID;

    -- One ingestion of one input file. A file is known by its content (SHA-256) and the
    -- profile name its rows defaulted to, so re-running the same file is recognised even
    -- after a rename, and re-running it for another profile is new work.
    CREATE TABLE files (
        id              INTEGER PRIMARY KEY,
        path            TEXT NOT NULL,
        sha256          TEXT NOT NULL,
        profile_default TEXT NOT NULL,
        key_column      TEXT NOT NULL,
        rows            INTEGER,            -- NULL until every row is recorded
        added_at        TEXT NOT NULL,
        UNIQUE (sha256, profile_default)
    );

    -- One unit of work: a distinct (connector, scope, key). Matched by keyed hash; the
    -- plaintext `key` is only kept while a later run may still need to send it.
    CREATE TABLE units (
        id               INTEGER PRIMARY KEY,
        connector        TEXT NOT NULL,
        scope            TEXT NOT NULL,     -- Webex: profile-name ('' = tenant default)
        key_hash         BLOB NOT NULL,     -- HMAC-SHA256(ledger key, key)
        key              TEXT,              -- NULL once the key is gone or purged
        key_masked       TEXT NOT NULL,
        exparams         TEXT,              -- JSON object sent with the request
        outcome          TEXT NOT NULL DEFAULT 'pending',
        attempts         INTEGER NOT NULL DEFAULT 0,
        http_status      INTEGER,
        code             TEXT,
        description      TEXT,
        transaction_id   TEXT,
        after_ambiguous  INTEGER NOT NULL DEFAULT 0,
        first_attempt_at TEXT,
        last_attempt_at  TEXT,
        finished_at      TEXT,
        -- key_hash first: the same index finds a key by hash alone (lookups), and the
        -- ingest hot path maintains one random-order index, not two.
        UNIQUE (key_hash, connector, scope)
    );
    CREATE INDEX units_by_outcome ON units (connector, outcome, id);

    -- Every input row, recorded before anything is sent.
    CREATE TABLE rows (
        file_id   INTEGER NOT NULL REFERENCES files (id),
        line      INTEGER NOT NULL,
        kind      TEXT NOT NULL,            -- request | duplicate | invalid
        unit_id   INTEGER REFERENCES units (id),
        reason    TEXT,                     -- why an invalid row is invalid
        raw_key   TEXT,                     -- invalid rows only, so they can be fixed
        exparams  TEXT,                     -- the row's own audit fields (JSON)
        PRIMARY KEY (file_id, line)
    ) WITHOUT ROWID;
    CREATE INDEX rows_by_unit ON rows (unit_id);

    CREATE TABLE runs (
        id           INTEGER PRIMARY KEY,
        started_at   TEXT NOT NULL,
        ended_at     TEXT,
        connector    TEXT NOT NULL,
        api_host     TEXT,
        rate         TEXT,
        operator     TEXT,
        host         TEXT,
        tool_version TEXT NOT NULL,
        result       TEXT
    );

    -- Every attempt, so the history of a key can be shown, not only its end.
    CREATE TABLE attempts (
        id          INTEGER PRIMARY KEY,
        unit_id     INTEGER NOT NULL REFERENCES units (id),
        run_id      INTEGER NOT NULL REFERENCES runs (id),
        at          TEXT NOT NULL,
        http_status INTEGER,
        code        TEXT,
        verdict     TEXT NOT NULL,
        latency_ms  INTEGER NOT NULL,
        error       TEXT
    );
    CREATE INDEX attempts_by_unit ON attempts (unit_id);
    "#,
    // 2: connectors side by side. A file is recorded for one connector: the same content
    // read for Webex and for Outreach is two ingestions. Units already carry connector and
    // scope (for Outreach the scope is the JSON:API collection, e.g. `callPurposes`).
    r#"
    CREATE TABLE files_v2 (
        id              INTEGER PRIMARY KEY,
        connector       TEXT NOT NULL,
        path            TEXT NOT NULL,
        sha256          TEXT NOT NULL,
        profile_default TEXT NOT NULL,      -- Webex: default profile; Outreach: the resource
        key_column      TEXT NOT NULL,
        rows            INTEGER,            -- NULL until every row is recorded
        added_at        TEXT NOT NULL,
        UNIQUE (connector, sha256, profile_default)
    );
    INSERT INTO files_v2 (id, connector, path, sha256, profile_default, key_column, rows, added_at)
        SELECT id, 'webex', path, sha256, profile_default, key_column, rows, added_at FROM files;
    DROP TABLE files;
    ALTER TABLE files_v2 RENAME TO files;
    "#,
    // 3: audit evidence — deadlines, mapped extra columns, purges.
    r#"
    ALTER TABLE files ADD COLUMN extra_columns TEXT;    -- JSON array of --keep-column names
    ALTER TABLE files ADD COLUMN received_column TEXT;  -- the --received-column name
    ALTER TABLE rows ADD COLUMN extra TEXT;             -- JSON object of the kept columns
    ALTER TABLE rows ADD COLUMN received_on TEXT;       -- yyyy-MM-dd
    ALTER TABLE rows ADD COLUMN due_on TEXT;            -- received_on + 1 month, GDPR Art. 12(3)
    ALTER TABLE units ADD COLUMN due_on TEXT;           -- the earliest due_on of its rows
    ALTER TABLE units ADD COLUMN purged_at TEXT;        -- when `forget purge` dropped its key

    -- The send order: oldest due first, undated last, paged by (due_on, id). Only units
    -- that still hold a key can be sent, and finished units leave the index.
    CREATE INDEX units_to_send ON units (connector, due_on, id) WHERE key IS NOT NULL;

    -- Every `forget purge`: who gave up on which keys, when.
    CREATE TABLE purges (
        id       INTEGER PRIMARY KEY,
        at       TEXT NOT NULL,
        operator TEXT,
        host     TEXT,
        outcomes TEXT NOT NULL,             -- JSON array, e.g. ["rejected","invalid"]
        units    INTEGER NOT NULL,          -- keys whose plaintext was dropped
        rows     INTEGER NOT NULL           -- invalid rows whose raw key was dropped
    );
    "#,
    // 4: the unique key of a unit becomes a named index, so a fresh ledger's first file can
    // be recorded without it and the index built once, by sorting (see `ledger::bulk`). An
    // inline UNIQUE constraint is an index SQLite will not drop; the table is rebuilt (and
    // with it, every index of `units`).
    r#"
    CREATE TABLE units_v4 (
        id               INTEGER PRIMARY KEY,
        connector        TEXT NOT NULL,
        scope            TEXT NOT NULL,
        key_hash         BLOB NOT NULL,
        key              TEXT,
        key_masked       TEXT NOT NULL,
        exparams         TEXT,
        outcome          TEXT NOT NULL DEFAULT 'pending',
        attempts         INTEGER NOT NULL DEFAULT 0,
        http_status      INTEGER,
        code             TEXT,
        description      TEXT,
        transaction_id   TEXT,
        after_ambiguous  INTEGER NOT NULL DEFAULT 0,
        first_attempt_at TEXT,
        last_attempt_at  TEXT,
        finished_at      TEXT,
        due_on           TEXT,
        purged_at        TEXT,
        -- The unit's request row, when it is nothing but the key (see `rows` below).
        row_file_id      INTEGER,
        row_line         INTEGER
    );
    INSERT INTO units_v4
        SELECT id, connector, scope, key_hash, key, key_masked, exparams, outcome, attempts,
               http_status, code, description, transaction_id, after_ambiguous,
               first_attempt_at, last_attempt_at, finished_at, due_on, purged_at, NULL, NULL
        FROM units;
    DROP TABLE units;
    ALTER TABLE units_v4 RENAME TO units;
    CREATE UNIQUE INDEX units_by_key ON units (key_hash, connector, scope);
    -- With the scope (and no longer the id, which no query orders by): the counts per
    -- scope that end every run are read from this index alone, without a sort.
    CREATE INDEX units_by_outcome ON units (connector, outcome, scope);
    -- Dated units only: undated ones are sent in id order, which the table itself is in.
    CREATE INDEX units_to_send ON units (connector, due_on, id) WHERE key IS NOT NULL AND due_on IS NOT NULL;

    -- Most input rows are a key and nothing else, the request that brought a unit: a bulk
    -- load records such a row with its unit (row_file_id, row_line), not as a row of its
    -- own. `rows` becomes the view of both; every other row is in `row_records`.
    ALTER TABLE rows RENAME TO row_records;
    DROP INDEX rows_by_unit;
    CREATE INDEX rows_by_unit ON row_records (unit_id);
    CREATE VIEW rows AS
        SELECT file_id, line, kind, unit_id, reason, raw_key, exparams, extra, received_on, due_on
        FROM row_records
        UNION ALL
        SELECT row_file_id, row_line, 'request', id, NULL, NULL, NULL, NULL, NULL, NULL
        FROM units WHERE row_line IS NOT NULL;

    -- Where the recording of a file stands, kept as it goes.
    ALTER TABLE files ADD COLUMN recorded_through INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE files ADD COLUMN recorded_rows INTEGER NOT NULL DEFAULT 0;
    UPDATE files SET
        recorded_through = (SELECT coalesce(max(line), 0) FROM row_records r WHERE r.file_id = files.id),
        recorded_rows = (SELECT count(*) FROM row_records r WHERE r.file_id = files.id);
    "#,
    // 5: the schema refuses values no forget writes, so a bad write fails and
    // `PRAGMA quick_check` on a writable connection finds a corrupted value: outcomes and row
    // kinds in their sets, counts non-negative, no plaintext on a unit that is gone, a unit
    // for every request or duplicate row and none for an invalid one. Few and cheap: each is
    // evaluated for every row recorded (the `stored_values` check reads back the rest).
    // Each table is rebuilt with its checks (SQLite adds none to a table in place); the
    // indexes come back as `DEFERRED_INDEXES` names them.
    r#"
    DROP VIEW rows;

    CREATE TABLE units_v5 (
        id               INTEGER PRIMARY KEY,
        connector        TEXT NOT NULL,
        scope            TEXT NOT NULL,
        key_hash         BLOB NOT NULL,
        key              TEXT,
        key_masked       TEXT NOT NULL,
        exparams         TEXT,
        outcome          TEXT NOT NULL DEFAULT 'pending'
                         CHECK (outcome IN ('pending', 'deleted', 'not_found', 'rejected', 'failed')),
        attempts         INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        http_status      INTEGER,
        code             TEXT,
        description      TEXT,
        transaction_id   TEXT,
        after_ambiguous  INTEGER NOT NULL DEFAULT 0,
        first_attempt_at TEXT,
        last_attempt_at  TEXT,
        finished_at      TEXT,
        due_on           TEXT,
        purged_at        TEXT,
        row_file_id      INTEGER,
        row_line         INTEGER,
        -- A gone key keeps no plaintext.
        CHECK (outcome NOT IN ('deleted', 'not_found') OR key IS NULL)
    );
    INSERT INTO units_v5
        SELECT id, connector, scope, key_hash, key, key_masked, exparams, outcome, attempts,
               http_status, code, description, transaction_id, after_ambiguous,
               first_attempt_at, last_attempt_at, finished_at, due_on, purged_at,
               row_file_id, row_line
        FROM units;
    DROP TABLE units;
    ALTER TABLE units_v5 RENAME TO units;
    CREATE UNIQUE INDEX units_by_key ON units (key_hash, connector, scope);
    CREATE INDEX units_by_outcome ON units (connector, outcome, scope);
    CREATE INDEX units_to_send ON units (connector, due_on, id) WHERE key IS NOT NULL AND due_on IS NOT NULL;

    CREATE TABLE row_records_v5 (
        file_id     INTEGER NOT NULL REFERENCES files (id),
        line        INTEGER NOT NULL,
        kind        TEXT NOT NULL CHECK (kind IN ('request', 'duplicate', 'invalid')),
        unit_id     INTEGER REFERENCES units (id),
        reason      TEXT,
        raw_key     TEXT,
        exparams    TEXT,
        extra       TEXT,
        received_on TEXT,
        due_on      TEXT,
        PRIMARY KEY (file_id, line),
        CHECK ((kind = 'invalid') = (unit_id IS NULL))
    ) WITHOUT ROWID;
    INSERT INTO row_records_v5
        SELECT file_id, line, kind, unit_id, reason, raw_key, exparams, extra, received_on, due_on
        FROM row_records;
    DROP TABLE row_records;
    ALTER TABLE row_records_v5 RENAME TO row_records;
    CREATE INDEX rows_by_unit ON row_records (unit_id);

    CREATE VIEW rows AS
        SELECT file_id, line, kind, unit_id, reason, raw_key, exparams, extra, received_on, due_on
        FROM row_records
        UNION ALL
        SELECT row_file_id, row_line, 'request', id, NULL, NULL, NULL, NULL, NULL, NULL
        FROM units WHERE row_line IS NOT NULL;

    CREATE TABLE files_v5 (
        id               INTEGER PRIMARY KEY,
        connector        TEXT NOT NULL CHECK (connector <> ''),
        path             TEXT NOT NULL,
        sha256           TEXT NOT NULL,
        profile_default  TEXT NOT NULL,
        key_column       TEXT NOT NULL,
        rows             INTEGER CHECK (rows IS NULL OR (typeof(rows) = 'integer' AND rows >= 0)),
        added_at         TEXT NOT NULL,
        extra_columns    TEXT,
        received_column  TEXT,
        recorded_through INTEGER NOT NULL DEFAULT 0
                         CHECK (typeof(recorded_through) = 'integer' AND recorded_through >= 0),
        recorded_rows    INTEGER NOT NULL DEFAULT 0
                         CHECK (typeof(recorded_rows) = 'integer' AND recorded_rows >= 0),
        UNIQUE (connector, sha256, profile_default)
    );
    INSERT INTO files_v5
        SELECT id, connector, path, sha256, profile_default, key_column, rows, added_at,
               extra_columns, received_column, recorded_through, recorded_rows
        FROM files;
    DROP TABLE files;
    ALTER TABLE files_v5 RENAME TO files;

    CREATE TABLE attempts_v5 (
        id          INTEGER PRIMARY KEY,
        unit_id     INTEGER NOT NULL REFERENCES units (id),
        run_id      INTEGER NOT NULL REFERENCES runs (id),
        at          TEXT NOT NULL,
        http_status INTEGER,
        code        TEXT,
        verdict     TEXT NOT NULL,
        latency_ms  INTEGER NOT NULL CHECK (latency_ms >= 0),
        error       TEXT
    );
    INSERT INTO attempts_v5
        SELECT id, unit_id, run_id, at, http_status, code, verdict, latency_ms, error
        FROM attempts;
    DROP TABLE attempts;
    ALTER TABLE attempts_v5 RENAME TO attempts;
    CREATE INDEX attempts_by_unit ON attempts (unit_id);

    CREATE TABLE purges_v5 (
        id       INTEGER PRIMARY KEY,
        at       TEXT NOT NULL,
        operator TEXT,
        host     TEXT,
        outcomes TEXT NOT NULL,
        units    INTEGER NOT NULL CHECK (typeof(units) = 'integer' AND units >= 0),
        rows     INTEGER NOT NULL CHECK (typeof(rows) = 'integer' AND rows >= 0)
    );
    INSERT INTO purges_v5 SELECT id, at, operator, host, outcomes, units, rows FROM purges;
    DROP TABLE purges;
    ALTER TABLE purges_v5 RENAME TO purges;
    "#,
    // 6: the life of a request — the append-only event log. One row per change of a
    // request's state (an operator's resolution, a correction by a later row, …); never
    // updated or deleted, so it can later be hash-chained. A request (file_id, line) or a
    // unit (unit_id) is named; `detail` is JSON.
    r#"
    CREATE TABLE events (
        id       INTEGER PRIMARY KEY AUTOINCREMENT,
        at       TEXT NOT NULL,
        kind     TEXT NOT NULL CHECK (kind IN ('resolved', 'corrected', 'set_aside',
                     'date_unreadable', 'options_recorded', 'dry_run_replaced', 'exported')),
        file_id  INTEGER REFERENCES files (id),
        line     INTEGER,
        unit_id  INTEGER REFERENCES units (id),
        operator TEXT NOT NULL,
        host     TEXT NOT NULL,
        reason   TEXT,
        detail   TEXT
    );
    CREATE INDEX events_by_row ON events (file_id, line);
    CREATE INDEX events_by_unit ON events (unit_id) WHERE unit_id IS NOT NULL;
    CREATE TRIGGER events_append_only_u BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
    CREATE TRIGGER events_append_only_d BEFORE DELETE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
    "#,
    // 7: a file's input options recorded with it, and what a dry run alone recorded.
    // `options` is the JSON of how the file was read (`ledger::file_options`); a later run
    // of the same content with other options is refused, not recorded twice or silently
    // read the old way. `dry_run` marks a file, and the units it brought, recorded by a
    // `--dry-run` only: never sent, and replaced by a real run that reads the file otherwise.
    r#"
    ALTER TABLE files ADD COLUMN options TEXT;
    ALTER TABLE files ADD COLUMN dry_run INTEGER NOT NULL DEFAULT 0 CHECK (dry_run IN (0, 1));
    ALTER TABLE units ADD COLUMN dry_run INTEGER NOT NULL DEFAULT 0 CHECK (dry_run IN (0, 1));
    "#,
    // 8: where each access export's document was saved, relative to `forget access
    // --out-dir`, so a report maps each request to its document (its name is a keyed hash
    // of the key, which the ledger drops).
    r#"
    CREATE TABLE exports (
        unit_id  INTEGER PRIMARY KEY REFERENCES units (id),
        file     TEXT NOT NULL CHECK (file <> '' AND instr(file, '/') = 0),
        saved_at TEXT NOT NULL
    );
    "#,
    // 9: the hash chain (`ledger::chain`). Files, attempts, events and purges gain their
    // place in it (`seq`); an attempt also keeps the outcome it set on its unit (NULL when it
    // changed none) and the transaction id of its answer, so the chain pins each unit's
    // outcome. `chain_marks` keeps the chain's hash after each transaction that appended to
    // it (a hash per row would add a third to an attempt's row). The genesis (meta
    // `chain_genesis`, `chain_head`) is written by `chain::begin` right after this step: it
    // needs SHA-256.
    r#"
    ALTER TABLE files ADD COLUMN seq INTEGER;
    ALTER TABLE attempts ADD COLUMN outcome TEXT
        CHECK (outcome IS NULL OR outcome IN ('deleted', 'not_found', 'rejected', 'failed'));
    ALTER TABLE attempts ADD COLUMN transaction_id TEXT;
    ALTER TABLE attempts ADD COLUMN seq INTEGER;
    ALTER TABLE events ADD COLUMN seq INTEGER;
    ALTER TABLE purges ADD COLUMN seq INTEGER;
    CREATE TABLE chain_marks (
        seq  INTEGER PRIMARY KEY,
        hash BLOB NOT NULL
    );
    "#,
    // 10: the CHECK constraints that list an outcome's or a row kind's values, written as
    // `=` tests joined by OR (`unroll_checks`, right after this step): SQLite builds a
    // table for an `IN (…)` list of more than two values each time a statement runs, and
    // the writer runs one per answer — a fifth of a run's CPU. The same values pass.
    "-- see unroll_checks",
];

/// The migration after which the CHECK constraints' value lists are unrolled.
pub const CHECKS_UNROLLED: usize = 10;

/// The CHECK constraints [`unroll_checks`] rewrites: table, column, values, as migrations 5
/// and 9 wrote them.
const LISTED_CHECKS: &[(&str, &str, &[&str])] = &[
    (
        "units",
        "outcome",
        &["pending", "deleted", "not_found", "rejected", "failed"],
    ),
    (
        "attempts",
        "outcome",
        &["deleted", "not_found", "rejected", "failed"],
    ),
    ("row_records", "kind", &["request", "duplicate", "invalid"]),
];

/// `column IN ('a', 'b', …)`, as the migrations wrote it.
fn listed(column: &str, values: &[&str]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| format!("'{v}'")).collect();
    format!("{column} IN ({})", quoted.join(", "))
}

/// `(column = 'a' OR column = 'b' OR …)`: the same test, with no table to build.
pub(crate) fn unrolled(column: &str, values: &[&str]) -> String {
    let tests: Vec<String> = values.iter().map(|v| format!("{column} = '{v}'")).collect();
    format!("({})", tests.join(" OR "))
}

/// Rewrite each of [`LISTED_CHECKS`] in the schema itself, as SQLite documents for a change
/// that leaves every stored row valid (its "other kinds of table schema changes"): the
/// table's text in `sqlite_schema` edited, the schema's version raised so every connection
/// reads it again. No row is rewritten; a table whose text does not hold the list (written
/// otherwise) is left as it is.
fn unroll_checks(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    let schema_version: i64 = tx.query_row("PRAGMA schema_version", [], |r| r.get(0))?;
    tx.pragma_update(None, "writable_schema", true)?;
    let rewritten = (|| {
        for (table, column, values) in LISTED_CHECKS {
            tx.execute(
                "UPDATE sqlite_schema SET sql = replace(sql, ?1, ?2)
                 WHERE type = 'table' AND name = ?3",
                params![listed(column, values), unrolled(column, values), table],
            )?;
        }
        tx.pragma_update(None, "schema_version", schema_version + 1)
    })();
    tx.pragma_update(None, "writable_schema", false)?;
    rewritten
}

/// The migration after which the chain begins (`chain::begin`).
pub const CHAIN_BEGINS: usize = 9;

/// The oldest schema the reading commands understand as it is (a read-only ledger is
/// never migrated): migration 5 only added checks.
pub const READABLE_FROM: usize = 4;

pub const ROWS_BY_UNIT: &str = "CREATE INDEX rows_by_unit ON row_records (unit_id)";
pub const UNITS_BY_KEY: &str =
    "CREATE UNIQUE INDEX units_by_key ON units (key_hash, connector, scope)";
pub const UNITS_BY_OUTCOME: &str =
    "CREATE INDEX units_by_outcome ON units (connector, outcome, scope)";
pub const UNITS_TO_SEND: &str = "CREATE INDEX units_to_send ON units (connector, due_on, id) WHERE key IS NOT NULL AND due_on IS NOT NULL";

/// The indexes a bulk load drops and builds again (`ledger::bulk`), as the migrations
/// above create them: the same text, so a ledger loaded in bulk has the same schema (a
/// test checks it).
pub const DEFERRED_INDEXES: &[(&str, &str)] = &[
    ("rows_by_unit", ROWS_BY_UNIT),
    ("units_by_key", UNITS_BY_KEY),
    ("units_by_outcome", UNITS_BY_OUTCOME),
    ("units_to_send", UNITS_TO_SEND),
];
pub fn version(conn: &Connection) -> rusqlite::Result<usize> {
    conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
        .map(|v| v.max(0) as usize)
}

/// Bring the schema up to date in one transaction. Returns the version found.
/// A ledger newer than this build is an error for the caller to report.
///
/// Foreign keys are off while migrating and checked before the commit, as SQLite documents
/// for rebuilding a table (a rebuild drops the table other tables refer to).
pub fn migrate(conn: &mut Connection) -> Result<usize, MigrateError> {
    let enforced: bool = conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0))?;
    conn.pragma_update(None, "foreign_keys", false)?;
    let result = migrate_in_transaction(conn);
    conn.pragma_update(None, "foreign_keys", enforced)?;
    result
}

fn migrate_in_transaction(conn: &mut Connection) -> Result<usize, MigrateError> {
    let tx = conn.transaction()?;
    let found = version(&tx)?;
    if found > MIGRATIONS.len() {
        return Err(MigrateError::TooNew {
            found,
            known: MIGRATIONS.len(),
        });
    }
    if found == MIGRATIONS.len() {
        return Ok(found);
    }
    apply(&tx, found)?;
    let broken: i64 = tx.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
        r.get(0)
    })?;
    if broken > 0 {
        return Err(MigrateError::Sqlite(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY),
            Some(format!(
                "{broken} rows refer to missing rows after the migration"
            )),
        )));
    }
    tx.commit()?;
    Ok(found)
}

fn apply(tx: &Transaction<'_>, from: usize) -> rusqlite::Result<()> {
    apply_to(tx, from, MIGRATIONS.len())
}

/// The migrations after `from` up to schema `to`.
fn apply_to(tx: &Transaction<'_>, from: usize, to: usize) -> rusqlite::Result<()> {
    for (i, sql) in MIGRATIONS.iter().enumerate().take(to).skip(from) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        if i + 1 == CHAIN_BEGINS {
            super::chain::begin(tx, from)?;
        }
        if i + 1 == CHECKS_UNROLLED {
            unroll_checks(tx)?;
        }
    }
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(
        "it was written by a newer version of forget (schema {found}, this build knows {known}): upgrade forget"
    )]
    TooNew { found: usize, known: usize },
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}

#[cfg(test)]
mod tests;
