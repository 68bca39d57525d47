use std::path::PathBuf;

use super::*;
use crate::error::Result;
use crate::input::ParsedRow;
use crate::keys::KeyHasher;
use crate::ledger::{Ledger, RunRecord};

/// A ledger file holding `keys` as pending units (ids 1..), and a run to write for.
fn ledger(dir: &tempfile::TempDir, keys: &[&str]) -> Result<(PathBuf, i64)> {
    let path = dir.path().join("ledger.db");
    let mut ledger = Ledger::open(&path)?;
    let file = ledger.begin_file("in.csv", "aaa", "webex", "customers", "key")?;
    let rows: Vec<ParsedRow> = keys
        .iter()
        .enumerate()
        .map(|(i, key)| ParsedRow::Request {
            line: i as u64 + 2,
            key: (*key).into(),
            scope: "customers".into(),
            exparams: vec![],
            row_exparams: vec![],
            received: None,
            date_unreadable: None,
            extra: vec![],
        })
        .collect();
    ledger.record_rows(
        file.id,
        "webex",
        &KeyHasher::new(b"test secret 1234"),
        &rows,
    )?;
    ledger.finish_file(file.id)?;
    let run = ledger.begin_run(&RunRecord::default())?;
    Ok((path, run))
}

fn answer(unit_id: i64, finish: Option<Outcome>, transaction_id: Option<&str>) -> AttemptRecord {
    AttemptRecord {
        unit_id,
        at: SystemTime::now(),
        http_status: Some(200),
        verdict: finish.map_or("retry", Outcome::as_str),
        code: finish
            .filter(|o| *o == Outcome::NotFound)
            .map(|_| "1020".into()),
        description: None,
        transaction_id: transaction_id.map(Into::into),
        latency_ms: 3,
        error: None,
        finish,
        after_ambiguous: false,
        kept: None,
    }
}

/// Write `records` in one writer's life; what it recorded.
fn write(
    path: &Path,
    run_id: i64,
    resend_rejected: bool,
    records: &[AttemptRecord],
) -> Arc<Recorded> {
    let recorded = Arc::new(Recorded::default());
    let config = WriterConfig {
        run_id,
        resend_rejected,
    };
    let writer = Writer::spawn(path, config, recorded.clone(), |_| {}).expect("test setup");
    let sender = writer.sender();
    for r in records {
        assert!(sender.send(r.clone()));
    }
    drop(sender);
    assert_eq!(writer.finish().expect("test setup"), records.len() as u64);
    recorded
}

/// (outcome, transaction id, code, attempts) of unit `id`, and its attempts recorded.
fn unit(path: &Path, id: i64) -> ((String, Option<String>, Option<String>, i64), i64) {
    let conn = Connection::open(path).expect("test setup");
    let unit = conn
        .query_row(
            "SELECT outcome, transaction_id, code, attempts FROM units WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .expect("test setup");
    let attempts = conn
        .query_row(
            "SELECT count(*) FROM attempts WHERE unit_id = ?1",
            [id],
            |r| r.get(0),
        )
        .expect("test setup");
    (unit, attempts)
}

#[test]
fn a_later_answer_never_overwrites_a_deletion() -> Result<()> {
    let dir = tempfile::tempdir().expect("test setup");
    let (path, run) = ledger(&dir, &["+447700900001", "+447700900002"])?;
    let recorded = write(
        &path,
        run,
        false,
        &[answer(1, Some(Outcome::Deleted), Some("tx-1"))],
    );
    assert_eq!(recorded.finished(Outcome::Deleted), 1);
    // Later answers for the same key, e.g. from a second run that read it pending: a 1020,
    // a retry, attempts used up, even a rejection. Each is an attempt; the deletion stands.
    let recorded = write(
        &path,
        run,
        true,
        &[
            answer(1, Some(Outcome::NotFound), None),
            answer(1, None, None),
            answer(1, Some(Outcome::Failed), None),
            answer(1, Some(Outcome::Rejected), None),
            answer(2, Some(Outcome::NotFound), None),
        ],
    );
    assert_eq!(
        unit(&path, 1),
        (("deleted".into(), Some("tx-1".into()), None, 5), 5)
    );
    assert_eq!(
        unit(&path, 2),
        (("not_found".into(), None, Some("1020".into()), 1), 1)
    );
    // The run's counts are what was recorded: one not_found, three answers kept out.
    assert_eq!(Outcome::ALL.map(|o| recorded.finished(o)), [0, 0, 1, 0, 0],);
    assert_eq!(recorded.kept_final(), 3);
    // And the ledger still passes every check.
    let ledger = Ledger::open_read_only(&path)?;
    assert!(
        ledger
            .verify(crate::ledger::verify::Depth::All)?
            .iter()
            .all(|v| v.ok)
    );
    Ok(())
}

#[test]
fn a_rejection_changes_only_in_a_run_that_resends_it() -> Result<()> {
    let dir = tempfile::tempdir().expect("test setup");
    let (path, run) = ledger(&dir, &["+447700900001"])?;
    write(
        &path,
        run,
        false,
        &[answer(1, Some(Outcome::Rejected), None)],
    );
    let recorded = write(
        &path,
        run,
        false,
        &[answer(1, Some(Outcome::Deleted), Some("tx"))],
    );
    assert_eq!(unit(&path, 1).0.0, "rejected");
    assert_eq!((recorded.finished_total(), recorded.kept_final()), (0, 1));
    let recorded = write(
        &path,
        run,
        true,
        &[answer(1, Some(Outcome::Deleted), Some("tx"))],
    );
    assert_eq!(
        unit(&path, 1).0,
        ("deleted".into(), Some("tx".into()), None, 3)
    );
    assert_eq!(
        (recorded.finished(Outcome::Deleted), recorded.kept_final()),
        (1, 0)
    );
    Ok(())
}

#[test]
fn the_log_is_truncated_while_the_writer_runs() -> Result<()> {
    let dir = tempfile::tempdir().expect("test setup");
    let (path, run) = ledger(&dir, &["+447700900001"])?;
    let wal = crate::ledger::sidecar(&path, "-wal");
    // Another connection keeps the log from being removed when the writer closes.
    let pin = Connection::open(&path).expect("test setup");
    pin.query_row("SELECT count(*) FROM units", [], |r| r.get::<_, i64>(0))
        .expect("test setup");
    let recorded = Arc::new(Recorded::default());
    let config = WriterConfig {
        run_id: run,
        resend_rejected: false,
    };
    let writer = Writer::spawn(&path, config, recorded.clone(), |_| {}).expect("test setup");
    assert!(
        writer
            .sender()
            .send(answer(1, Some(Outcome::Deleted), Some("tx")))
    );
    // Idle after its commit, the writer checkpoints within CHECKPOINT_EVERY.
    let deadline = Instant::now() + Duration::from_secs(60);
    while recorded.finished_total() == 0 || std::fs::metadata(&wal).map_or(1, |m| m.len()) > 0 {
        assert!(Instant::now() < deadline, "the log was never truncated");
        std::thread::sleep(Duration::from_millis(20));
    }
    writer.finish().expect("test setup");
    Ok(())
}
