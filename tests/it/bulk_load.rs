//! A fresh ledger's first file is recorded in bulk (`ledger::bulk`): an interrupted bulk
//! load is continued by the next run, or settled before another file is recorded, and
//! either way the ledger ends as a straight ingest would leave it.

use std::path::Path;

use crate::common::forget_in;
use forget::engine::{Stop, StopReason};
use forget::input::{InputOptions, inspect};
use forget::job::ingest;
use forget::keys::KeyHasher;
use forget::ledger::Ledger;
use forget::ledger::ingest::IngestCounts;

/// More rows than one ingest chunk (32k), keys repeated across chunks.
const ROWS: u64 = 40_000;

fn keys(rows: u64, offset: u64) -> Vec<String> {
    (0..rows)
        .map(|i| {
            // Every 1000th row repeats a key from the start of the file (another chunk).
            let n = if i % 1000 == 999 { i / 1000 } else { i } + offset;
            format!("+4477{n:08}")
        })
        .collect()
}

fn write_csv(path: &Path, rows: u64, offset: u64) {
    let text: String = keys(rows, offset)
        .iter()
        .map(|k| format!("{k}\n"))
        .collect();
    std::fs::write(path, format!("key\n{text}")).unwrap();
}

fn ingest_files(db: &Path, paths: &[&Path], stop_after_a_chunk: bool) -> IngestCounts {
    let opts = InputOptions::default();
    let files: Vec<_> = paths.iter().map(|p| inspect(p, &opts).unwrap()).collect();
    let mut ledger = Ledger::open(db).unwrap();
    let stop = Stop::new();
    if stop_after_a_chunk {
        // Checked after each chunk: the first one is recorded, then the ingest stops.
        stop.trigger(StopReason::Interrupted(forget::signal::Signal::Interrupt));
    }
    let hasher = KeyHasher::new(b"bulk load test key");
    ingest(&mut ledger, &files, &opts, "webex", &hasher, &stop, false).unwrap()
}

/// (units, pending, duplicate rows, rows, indexes on units, bulk load under way)
fn state(db: &Path) -> (i64, i64, i64, i64, i64, bool) {
    let ledger = Ledger::open_existing(db).unwrap();
    let c = ledger.counts().unwrap();
    let rows: i64 = ledger
        .conn()
        .query_row("SELECT count(*) FROM rows", [], |r| r.get(0))
        .unwrap();
    let indexes: i64 = ledger
        .conn()
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'units'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    (
        c.total as i64,
        c.pending as i64,
        c.duplicates as i64,
        rows,
        indexes,
        ledger.bulk_file().unwrap().is_some(),
    )
}

#[test]
fn an_interrupted_bulk_load_is_continued_by_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("a.csv");
    write_csv(&csv, ROWS, 0);
    let straight = dir.path().join("straight.db");
    let counts = ingest_files(&straight, &[&csv], false);
    assert_eq!((counts.new_units, counts.duplicates), (ROWS - 40, 40));
    let expected = state(&straight);
    assert_eq!(
        expected,
        (
            ROWS as i64 - 40,
            ROWS as i64 - 40,
            40,
            ROWS as i64,
            3,
            false
        )
    );

    let interrupted = dir.path().join("interrupted.db");
    let first = ingest_files(&interrupted, &[&csv], true);
    assert!(first.rows > 0 && first.rows < ROWS, "{first:?}");
    let (_, _, _, rows, indexes, under_way) = state(&interrupted);
    assert_eq!((rows as u64, indexes, under_way), (first.rows, 0, true));
    // `forget status` says its counts are partial until a run continues the file.
    let status = |db: &Path| -> String {
        let out = forget_in(dir.path())
            .args(["status", "--state"])
            .arg(db)
            .output()
            .unwrap();
        // Pending requests are open: exit 4.
        assert_eq!(out.status.code(), Some(4), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let said = status(&interrupted);
    assert!(
        said.contains("1 input file is only partly recorded"),
        "{said}"
    );
    assert!(said.contains("may be counted twice"), "{said}");
    let rest = ingest_files(&interrupted, &[&csv], false);
    assert_eq!(first.rows + rest.rows, ROWS);
    assert_eq!(first.new_units + rest.new_units, ROWS - 40);
    assert_eq!(state(&interrupted), expected);
    assert!(!status(&interrupted).contains("partly recorded"));
}

#[test]
fn an_interrupted_bulk_load_is_settled_before_another_file() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
    write_csv(&a, ROWS, 0);
    // Half of b's keys are a's.
    write_csv(&b, 2_000, ROWS - 1_000);
    let db = dir.path().join("ledger.db");
    let first = ingest_files(&db, &[&a], true);
    assert!(state(&db).5);
    // A run given only b settles a's bulk load (indexes back), then records b row by row.
    let second = ingest_files(&db, &[&b], false);
    assert_eq!(second.rows, 2_000);
    let (units, _, _, rows, indexes, under_way) = state(&db);
    assert_eq!((indexes, under_way), (3, false));
    assert_eq!(rows as u64, first.rows + 2_000);
    // Then a, given again, is finished row by row: the ledger holds each key once.
    ingest_files(&db, &[&a], false);
    let (units_after, pending, duplicates, rows, _, _) = state(&db);
    assert!(units_after > units);
    let distinct = keys(ROWS, 0)
        .into_iter()
        .chain(keys(2_000, ROWS - 1_000))
        .collect::<std::collections::HashSet<_>>()
        .len() as u64;
    assert_eq!((units_after as u64, pending as u64), (distinct, distinct));
    assert_eq!(rows as u64, ROWS + 2_000);
    assert_eq!(duplicates as u64, ROWS + 2_000 - distinct);
}

#[test]
fn a_file_that_repeats_its_keys_a_lot_ends_its_bulk_load_early() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("repeats.csv");
    // 8,000 keys, 8,000 rows apart, then 4,000 new ones: the second chunk repeats many.
    let text: String = (0..ROWS)
        .map(|i| {
            let n = if i < ROWS - 4_000 {
                i % 8_000
            } else {
                100_000 + i
            };
            format!("+4477{n:08}\n")
        })
        .collect();
    std::fs::write(&csv, format!("key\n{text}")).unwrap();
    let db = dir.path().join("ledger.db");
    let counts = ingest_files(&db, &[&csv], false);
    let units = 12_000;
    assert_eq!(
        (counts.rows, counts.new_units, counts.duplicates),
        (ROWS, units, ROWS - units)
    );
    assert_eq!(
        state(&db),
        (
            units as i64,
            units as i64,
            (ROWS - units) as i64,
            ROWS as i64,
            3,
            false
        )
    );
    let ledger = Ledger::open_existing(&db).unwrap();
    let count = |sql: &str| -> i64 { ledger.conn().query_row(sql, [], |r| r.get(0)).unwrap() };
    // Each key's request is its first row, every later row a duplicate of it.
    assert_eq!(
        count("SELECT count(*) FROM rows WHERE kind = 'request' AND line > 8001 AND line <= 36001"),
        0
    );
    // The second chunk went row by row: its new keys' requests are rows of their own.
    assert_eq!(
        count("SELECT count(*) FROM row_records WHERE kind = 'request'"),
        4_000
    );
    assert_eq!(
        count("SELECT count(*) FROM units WHERE row_line IS NOT NULL"),
        8_000
    );
}
