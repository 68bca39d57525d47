use super::*;
use crate::input::ParsedRow;
use crate::keys::KeyHasher;
use crate::ledger::RunRecord;
use crate::ledger::writer::{AttemptRecord, Recorded, Writer, WriterConfig};
use crate::outcome::Outcome;

/// A ledger file with three webex units (one deleted, one not found, one pending), an
/// invalid row and a duplicate; and a connection to it that may break the schema's rules.
fn ledger(dir: &tempfile::TempDir) -> (std::path::PathBuf, Connection) {
    let path = dir.path().join("ledger.db");
    let mut ledger = Ledger::open(&path).expect("test setup");
    let file = ledger
        .begin_file("in.csv", "aaa", "webex", "customers", "key")
        .expect("test setup");
    let request = |line: u64, key: &str| ParsedRow::Request {
        line,
        key: key.into(),
        scope: "customers".into(),
        exparams: vec![],
        row_exparams: vec![],
        received: None,
        date_unreadable: None,
        extra: vec![],
    };
    let rows = [
        request(2, "+447700900001"),
        request(3, "+447700900002"),
        request(4, "+447700900003"),
        request(5, "+447700900001"),
        ParsedRow::Invalid {
            line: 6,
            reason: "blank key".into(),
            raw_key: None,
            extra: vec![],
        },
    ];
    ledger
        .record_rows(
            file.id,
            "webex",
            &KeyHasher::new(b"test secret 1234"),
            &rows,
        )
        .expect("test setup");
    ledger.finish_file(file.id).expect("test setup");
    let run_id = ledger.begin_run(&RunRecord::default()).expect("test setup");
    let config = WriterConfig {
        run_id,
        resend_rejected: false,
    };
    let writer =
        Writer::spawn(&path, config, Arc::new(Recorded::default()), |_| {}).expect("test setup");
    for (unit_id, outcome, tx) in [
        (1, Outcome::Deleted, Some("tx-1")),
        (2, Outcome::NotFound, None),
    ] {
        writer.sender().send(AttemptRecord {
            unit_id,
            at: std::time::SystemTime::now(),
            http_status: Some(200),
            verdict: outcome.as_str(),
            code: None,
            description: None,
            transaction_id: tx.map(Into::into),
            latency_ms: 1,
            error: None,
            finish: Some(outcome),
            after_ambiguous: false,
            kept: None,
        });
    }
    writer.finish().expect("test setup");
    let conn = Connection::open(&path).expect("test setup");
    conn.pragma_update(None, "ignore_check_constraints", true)
        .expect("test setup");
    conn.pragma_update(None, "foreign_keys", false)
        .expect("test setup");
    (path, conn)
}

use std::sync::Arc;

/// The names of the checks that fail.
fn failing(path: &std::path::Path) -> Vec<&'static str> {
    let ledger = Ledger::open_read_only(path).expect("test setup");
    ledger
        .verify(Depth::All)
        .expect("test setup")
        .into_iter()
        .filter(|v| !v.ok)
        .map(|v| v.check)
        .collect()
}

#[test]
fn a_sound_ledger_passes_every_check() {
    let dir = tempfile::tempdir().expect("test setup");
    let (path, _conn) = ledger(&dir);
    let ledger = Ledger::open_read_only(&path).expect("test setup");
    let verdicts = ledger.verify(Depth::All).expect("test setup");
    assert_eq!(verdicts.len(), CHECKS.len());
    assert!(verdicts.iter().all(|v| v.ok), "{verdicts:?}");
    assert!(ledger.ensure_sound(Depth::Report).is_ok());
    assert_eq!(
        ledger.verify(Depth::Report).expect("test setup").len(),
        CHECKS.iter().filter(|c| c.depth == Depth::Report).count()
    );
}

#[test]
fn each_rule_finds_what_it_is_about() {
    // Values written through SQL keep the indexes in step (a flipped byte does not: see the
    // integration tests); read-only, SQLite does not check CHECK constraints, forget does.
    let cases: &[(&str, &[&str])] = &[
        (
            "UPDATE units SET outcome = 'daleted' WHERE id = 1",
            &["unit_states", "chain_outcomes"],
        ),
        (
            "UPDATE units SET attempts = -1 WHERE id = 1",
            &["stored_values", "attempt_counts"],
        ),
        (
            "UPDATE units SET key_hash = x'01' WHERE id = 3",
            &["stored_values"],
        ),
        (
            "UPDATE units SET key = 'k' WHERE id = 2",
            &["no_plaintext_when_gone"],
        ),
        (
            "UPDATE units SET transaction_id = NULL WHERE id = 1",
            &["deleted_have_transaction_id", "chain_outcomes"],
        ),
        (
            "UPDATE row_records SET kind = 'requets' WHERE line = 5",
            &["row_kinds"],
        ),
        (
            "UPDATE row_records SET unit_id = 99 WHERE line = 5",
            &["references"],
        ),
        (
            "UPDATE row_records SET kind = 'request' WHERE line = 5",
            &["one_request_per_unit"],
        ),
        ("UPDATE files SET rows = 9", &["file_rows"]),
        (
            "DELETE FROM attempts WHERE unit_id = 2",
            &["attempt_counts", "chain", "chain_outcomes"],
        ),
        (
            "UPDATE attempts SET latency_ms = -1",
            &["attempt_values", "chain"],
        ),
        (
            "INSERT INTO events (at, kind, file_id, line, operator, host, reason)
             VALUES ('t', 'resolved', 1, 99, 'o', 'h', 'why')",
            &["events", "chain_coverage"],
        ),
        (
            "INSERT INTO events (at, kind, file_id, line, operator, host, reason)
             VALUES ('t', 'resolved', 1, 6, 'o', 'h', ' ')",
            &["events", "chain_coverage"],
        ),
        (
            "INSERT INTO events (at, kind, file_id, line, operator, host, detail)
             VALUES ('t', 'corrected', 1, 6, 'o', 'h', '{\"file_id\": 1, \"line\": 42}')",
            &["events", "chain_coverage"],
        ),
    ];
    for (sql, want) in cases {
        let dir = tempfile::tempdir().expect("test setup");
        let (path, conn) = ledger(&dir);
        conn.execute_batch(sql).expect("test setup");
        drop(conn);
        assert_eq!(&failing(&path), want, "{sql}");
        let err = Ledger::open_read_only(&path)
            .expect("test setup")
            .ensure_sound(Depth::All)
            .expect_err("it fails");
        assert!(err.to_string().contains("forget verify"), "{err}");
        assert_eq!(err.exit_code(), crate::error::exit::LEDGER_CHECK);
    }
}

#[test]
fn where_it_can_write_sqlite_checks_the_constraints_too() {
    let dir = tempfile::tempdir().expect("test setup");
    let (path, conn) = ledger(&dir);
    conn.execute_batch("UPDATE units SET outcome = 'daleted' WHERE id = 1")
        .expect("test setup");
    drop(conn);
    let verdicts = Ledger::open(&path)
        .expect("test setup")
        .verify(Depth::Run)
        .expect("test setup");
    let failed: Vec<&str> = verdicts.iter().filter(|v| !v.ok).map(|v| v.check).collect();
    assert_eq!(failed, ["sqlite_quick_check", "unit_states"]);
    assert!(
        verdicts[0]
            .detail
            .as_deref()
            .is_some_and(|d| d.contains("CHECK constraint failed in units")),
        "{verdicts:?}"
    );
}

#[test]
fn the_schema_refuses_values_no_forget_writes() {
    let dir = tempfile::tempdir().expect("test setup");
    let (path, _) = ledger(&dir);
    let conn = Connection::open(&path).expect("test setup");
    for sql in [
        "UPDATE units SET outcome = 'daleted' WHERE id = 3",
        "UPDATE units SET attempts = -1 WHERE id = 3",
        "UPDATE units SET key = 'back' WHERE id = 1",
        "UPDATE row_records SET kind = 'other' WHERE line = 5",
        "UPDATE row_records SET unit_id = NULL WHERE line = 5",
        "UPDATE files SET recorded_rows = -3",
        "UPDATE attempts SET latency_ms = -1",
    ] {
        let err = conn.execute_batch(sql).expect_err("it fails");
        assert_eq!(
            err.sqlite_error_code(),
            Some(ErrorCode::ConstraintViolation),
            "{sql}: {err}"
        );
    }
}

/// The fixture with its third unit holding its own request row, as a bulk load records
/// it (sound, like the fixture).
const AS_BULK: &str = "DELETE FROM row_records WHERE line = 4;
     UPDATE units SET row_file_id = 1, row_line = 4 WHERE id = 3;";

#[test]
fn request_rows_are_counted_wherever_they_are_kept() {
    // (damage after AS_BULK, the checks that fail)
    let cases: &[(&str, &[&str])] = &[
        ("", &[]),
        // Its own row, and one in `row_records` too.
        (
            "INSERT INTO row_records (file_id, line, kind, unit_id) VALUES (1, 7, 'request', 3)",
            &["one_request_per_unit", "file_rows"],
        ),
        // Two in `row_records` (and none left for unit 2).
        (
            "UPDATE row_records SET unit_id = 1 WHERE line = 3",
            &["one_request_per_unit"],
        ),
        // None anywhere.
        (
            "UPDATE units SET row_file_id = NULL, row_line = NULL WHERE id = 3",
            &["one_request_per_unit", "file_rows"],
        ),
        (
            "DELETE FROM row_records WHERE line = 2",
            &["one_request_per_unit", "file_rows"],
        ),
        // A row of a file not recorded.
        (
            "UPDATE units SET row_file_id = 7 WHERE id = 3",
            &["file_rows"],
        ),
        ("UPDATE units SET row_line = 40 WHERE id = 3", &[]),
    ];
    for (damage, want) in cases {
        let dir = tempfile::tempdir().expect("test setup");
        let (path, conn) = ledger(&dir);
        conn.execute_batch(AS_BULK).expect("test setup");
        conn.execute_batch(damage).expect("test setup");
        let failed: Vec<&str> = failing(&path)
            .into_iter()
            .filter(|c| !c.starts_with("chain"))
            .collect();
        assert_eq!(&failed, want, "{damage}");
        // Counted file by file, or grouped (past FILES_COUNTED_APART files): one verdict.
        assert_eq!(
            file_rows_counted(&conn, 0).expect("test setup"),
            file_rows_counted(&conn, FILES_COUNTED_APART).expect("test setup"),
            "{damage}"
        );
    }
}

#[test]
fn an_index_that_lost_a_unit_is_found_whichever_outcome_is_commonest() {
    // An index built without one unit, then declared whole: what a damaged page of it
    // reads as. Each unit in turn, its outcome then the commonest or not.
    for (unit, outcome) in [(1, "deleted"), (2, "not_found"), (3, "pending")] {
        for extra_deleted in [0, 3] {
            let dir = tempfile::tempdir().expect("test setup");
            let (path, conn) = ledger(&dir);
            for i in 0..extra_deleted {
                conn.execute(
                    "INSERT INTO units (connector, scope, key_hash, key_masked, outcome,
                                        transaction_id, row_file_id, row_line)
                     VALUES ('webex', 'customers', randomblob(32), 'x', 'deleted', 't', 1, ?1)",
                    [100 + i],
                )
                .expect("test setup");
            }
            conn.execute_batch(&format!(
                "DROP INDEX units_by_outcome;
                 CREATE INDEX units_by_outcome ON units (connector, outcome, scope) WHERE id != {unit};
                 PRAGMA writable_schema = ON;
                 UPDATE sqlite_master SET sql = 'CREATE INDEX units_by_outcome ON units (connector, outcome, scope)'
                   WHERE name = 'units_by_outcome';"
            ))
            .expect("test setup");
            drop(conn);
            let ledger = Ledger::open_read_only(&path).expect("test setup");
            let verdicts = ledger.verify(Depth::Report).expect("test setup");
            let counts = verdicts
                .iter()
                .find(|v| v.check == "outcome_counts")
                .expect("it runs");
            let detail = counts.detail.as_deref().unwrap_or_default();
            assert!(
                detail.contains(&format!("`{outcome}`: ")) && detail.contains(" in the index"),
                "unit {unit}, {extra_deleted} more deleted: {verdicts:?}"
            );
        }
    }
}

#[test]
fn a_blob_or_number_outcome_is_not_a_state() {
    for value in ["CAST('pending' AS BLOB)", "7"] {
        let dir = tempfile::tempdir().expect("test setup");
        let (path, conn) = ledger(&dir);
        conn.execute_batch(&format!("UPDATE units SET outcome = {value} WHERE id = 3"))
            .expect("test setup");
        drop(conn);
        let failed = failing(&path);
        assert!(failed.contains(&"unit_states"), "{value}: {failed:?}");
    }
}

#[test]
fn the_checks_read_side_by_side_in_a_fixed_order() {
    let dir = tempfile::tempdir().expect("test setup");
    let (path, _conn) = ledger(&dir);
    let ledger = Ledger::open_read_only(&path).expect("test setup");
    assert!(ledger.second_reader().is_some());
    let names: Vec<&str> = CHECKS.iter().map(|c| c.name).collect();
    for _ in 0..5 {
        let got: Vec<&str> = ledger
            .verify(Depth::All)
            .expect("test setup")
            .iter()
            .map(|v| v.check)
            .collect();
        assert_eq!(got, names);
    }
    // In memory there is no second reader: the same checks, one after the other.
    let memory = Ledger::open_in_memory().expect("test setup");
    assert!(memory.second_reader().is_none());
    assert!(
        memory
            .verify(Depth::All)
            .expect("test setup")
            .iter()
            .all(|v| v.ok)
    );
}
