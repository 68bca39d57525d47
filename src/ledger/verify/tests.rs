use super::*;
use crate::input::ParsedRow;
use crate::keys::KeyHasher;
use crate::ledger::RunRecord;
use crate::ledger::writer::{AttemptRecord, Recorded, Writer, WriterConfig};

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
