use std::collections::HashSet;

use super::*;
use crate::input::ParsedRow;
use crate::keys::KeyHasher;
use crate::ledger::ingest::Preparer;

const SECRET: &[u8] = b"test secret 1234";

/// Keys repeated within and across chunks, in two scopes, some dated (a later row of a
/// key may be due earlier), some with audit fields, some invalid.
fn input() -> Vec<ParsedRow> {
    (0..300u64)
        .map(|i| {
            let line = i + 2;
            if i % 29 == 11 {
                return ParsedRow::Invalid {
                    line,
                    reason: "not a phone number".into(),
                    raw_key: Some(format!("bad{i}")),
                    extra: vec![("ticket".into(), format!("T{i}"))],
                };
            }
            let received = (i % 3 == 0).then(|| {
                time::Date::from_ordinal_date(2026, 300 - (i % 200) as u16)
                    .unwrap_or(time::Date::MIN)
            });
            ParsedRow::Request {
                line,
                key: format!("+4477009{:05}", (i * 7) % 113),
                scope: if i % 5 == 0 { "b" } else { "a" }.into(),
                exparams: vec![("exparam1".into(), format!("run-{}", i % 2))],
                row_exparams: if i % 4 == 0 {
                    vec![("exparam2".into(), format!("row {i}"))]
                } else {
                    vec![]
                },
                received,
                date_unreadable: None,
                extra: vec![],
            }
        })
        .collect()
}

type Table = Vec<Vec<rusqlite::types::Value>>;
type Snapshot = (Table, Table, Table);

/// Everything recorded, without ids (the two ways number units differently).
fn snapshot(ledger: &Ledger) -> Result<Snapshot> {
    let all = |sql: &str| -> Result<Table> {
        let mut stmt = ledger.conn().prepare(sql)?;
        let n = stmt.column_count();
        let rows = stmt.query_map([], |r| {
            (0..n)
                .map(|i| r.get::<_, rusqlite::types::Value>(i))
                .collect()
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    };
    Ok((
        all(
            "SELECT connector, scope, key, key_masked, exparams, outcome, due_on FROM units
             ORDER BY scope, key",
        )?,
        all(
            "SELECT r.line, r.kind, u.scope, u.key, r.reason, r.raw_key, r.exparams, r.extra,
                    r.received_on, r.due_on
             FROM rows r LEFT JOIN units u ON u.id = r.unit_id ORDER BY r.file_id, r.line",
        )?,
        all("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name")?,
    ))
}

fn row_by_row(rows: &[ParsedRow], chunk: usize) -> Result<(Ledger, IngestCounts)> {
    let hasher = KeyHasher::new(SECRET);
    let mut ledger = Ledger::open_in_memory()?;
    let f = ledger.begin_file("a.csv", "aaa", "webex", "a", "key")?;
    let mut counts = IngestCounts::default();
    for part in rows.chunks(chunk) {
        counts.add(ledger.record_rows(f.id, "webex", &hasher, part)?);
    }
    Ok((ledger, counts))
}

fn record_in_bulk(ledger: &mut Ledger, file_id: i64, rows: &[ParsedRow]) -> Result<IngestCounts> {
    let hasher = KeyHasher::new(SECRET);
    let mut preparer = Preparer::new(&hasher);
    let prepared: Vec<PreparedRow> = rows.iter().map(|r| preparer.prepare(r.clone())).collect();
    let plan = ChunkPlan::of(&prepared, &mut RepeatSample::default());
    ledger.record_bulk(file_id, "webex", &prepared, &plan)
}

fn in_bulk(rows: &[ParsedRow], chunk: usize) -> Result<(Ledger, IngestCounts)> {
    let mut ledger = Ledger::open_in_memory()?;
    let f = ledger.begin_file("a.csv", "aaa", "webex", "a", "key")?;
    assert!(ledger.can_bulk_load()?);
    ledger.begin_bulk(f.id)?;
    assert_eq!(ledger.bulk_file()?, Some(f.id));
    let mut counts = IngestCounts::default();
    for part in rows.chunks(chunk) {
        counts.add(record_in_bulk(&mut ledger, f.id, part)?);
    }
    let merged = ledger.finish_bulk(1)?;
    counts.new_units -= merged;
    counts.duplicates += merged;
    assert_eq!(ledger.bulk_file()?, None);
    Ok((ledger, counts))
}

#[test]
fn a_bulk_load_records_what_row_by_row_recording_does() -> Result<()> {
    let rows = input();
    let (expected, expected_counts) = row_by_row(&rows, 64)?;
    let expected = snapshot(&expected)?;
    // Chunks: many (keys repeat across them, so the unique index first fails), and one.
    for chunk in [1, 7, 64, 1000] {
        let (ledger, counts) = in_bulk(&rows, chunk)?;
        assert_eq!(counts, expected_counts, "chunks of {chunk}");
        let got = snapshot(&ledger)?;
        assert_eq!(got.0, expected.0, "units, chunks of {chunk}");
        assert_eq!(got.1, expected.1, "rows, chunks of {chunk}");
        assert_eq!(got.2, expected.2, "schema, chunks of {chunk}");
    }
    Ok(())
}

#[test]
fn the_counts_of_a_resumed_load_are_of_its_own_rows() -> Result<()> {
    let rows = input();
    let mut ledger = Ledger::open_in_memory()?;
    let f = ledger.begin_file("a.csv", "aaa", "webex", "a", "key")?;
    ledger.begin_bulk(f.id)?;
    let (first, rest) = rows.split_at(100);
    record_in_bulk(&mut ledger, f.id, first)?;
    // A second run continues: what it counted as new keys but was recorded earlier.
    let from = ledger.next_unit_id()?;
    let counts = record_in_bulk(&mut ledger, f.id, rest)?;
    let merged = ledger.finish_bulk(from)?;
    let new_in_rest: u64 = {
        let seen: HashSet<&str> = first
            .iter()
            .filter_map(|r| match r {
                ParsedRow::Request { key, scope, .. } if scope == "a" => Some(key.as_str()),
                _ => None,
            })
            .collect();
        let mut later: HashSet<&str> = HashSet::new();
        rest.iter()
            .filter(|r| {
                matches!(r, ParsedRow::Request { key, scope, .. }
                if scope == "a" && !seen.contains(key.as_str()) && later.insert(key.as_str()))
            })
            .count() as u64
    };
    let b_units: i64 = ledger.conn().query_row(
        "SELECT count(*) FROM units WHERE scope = 'b' AND id >= ?1",
        [from],
        |r| r.get(0),
    )?;
    assert_eq!(counts.new_units - merged, new_in_rest + b_units as u64);
    Ok(())
}

#[test]
fn a_load_without_repeats_builds_its_indexes_at_once() -> Result<()> {
    let rows: Vec<ParsedRow> = input()
        .into_iter()
        .enumerate()
        .map(|(i, row)| match row {
            ParsedRow::Request {
                line,
                scope,
                exparams,
                row_exparams,
                received,
                extra,
                ..
            } => ParsedRow::Request {
                line,
                key: format!("+4477008{i:05}"),
                scope,
                exparams,
                row_exparams,
                received,
                date_unreadable: None,
                extra,
            },
            invalid => invalid,
        })
        .collect();
    let (expected, _) = row_by_row(&rows, 50)?;
    let (ledger, counts) = in_bulk(&rows, 50)?;
    assert_eq!(counts.duplicates, 0);
    assert_eq!(snapshot(&ledger)?, snapshot(&expected)?);
    Ok(())
}

#[test]
fn a_chunk_of_keys_met_before_is_mostly_repeats() {
    let hasher = KeyHasher::new(SECRET);
    let mut preparer = Preparer::new(&hasher);
    let mut chunk = |from: u64| -> Vec<PreparedRow> {
        (from..from + 20_000)
            .map(|i| preparer.prepare(request_row(i + 2, &format!("k{}", i % 30_000))))
            .collect()
    };
    let mut sample = RepeatSample::default();
    let (first, second, third) = (chunk(0), chunk(20_000), chunk(40_000));
    let plan = ChunkPlan::of(&first, &mut sample);
    assert!(!plan.mostly_repeats());
    // About one key in 256 is followed.
    assert!((40..120).contains(&plan.sampled), "{}", plan.sampled);
    // k20000..k29999 are new, k0..k9999 come back: half the chunk.
    let plan = ChunkPlan::of(&second, &mut sample);
    assert!(plan.mostly_repeats());
    assert!(
        plan.repeats * 3 > plan.sampled && plan.repeats * 3 < plan.sampled * 2,
        "{} of {}",
        plan.repeats,
        plan.sampled
    );
    // k10000..k29999 again: all of it.
    let plan = ChunkPlan::of(&third, &mut sample);
    assert_eq!(plan.repeats, plan.sampled);
}

fn request_row(line: u64, key: &str) -> ParsedRow {
    ParsedRow::Request {
        line,
        key: key.into(),
        scope: "a".into(),
        exparams: vec![],
        row_exparams: vec![],
        received: None,
        date_unreadable: None,
        extra: vec![],
    }
}

#[test]
fn after_a_bulk_load_the_schema_checks_values_again() -> Result<()> {
    let (ledger, _) = in_bulk(&input(), 3)?;
    let attempts_of_one = |n: i64| {
        ledger
            .conn()
            .execute("UPDATE units SET attempts = ?1 WHERE id = 1", [n])
    };
    // While a load goes on, SQLite does not evaluate the CHECK constraints…
    ledger.bulk_journal(true)?;
    assert!(attempts_of_one(-1).is_ok());
    // …and once it ends, it does again.
    ledger.bulk_journal(false)?;
    let err = attempts_of_one(-2).expect_err("refused");
    assert_eq!(
        err.sqlite_error_code(),
        Some(rusqlite::ErrorCode::ConstraintViolation),
        "{err}"
    );
    Ok(())
}
