//! The send order: oldest due first, undated last, paged by (due date, id) on an index.

use crate::common::{self, Fixture};
use forget::ledger::{Ledger, SendCursor};
use forget::outcome::Outcome;

const SEND: [Outcome; 2] = [Outcome::Pending, Outcome::Failed];

/// Fill a ledger with `n` units straight through SQL: every 3rd undated, the rest due on one
/// of 90 days; every 4th already deleted (no key); every 10th rejected.
fn fill(path: &std::path::Path, n: i64) {
    Ledger::open(path).unwrap();
    let mut conn = rusqlite::Connection::open(path).unwrap();
    let tx = conn.transaction().unwrap();
    {
        let mut insert = tx
            .prepare(
                "INSERT INTO units (id, connector, scope, key_hash, key, key_masked, outcome, due_on)
                 VALUES (?1, 'webex', 'customers', ?2, ?3, 'x', ?4, ?5)",
            )
            .unwrap();
        for id in 1..=n {
            let (key, outcome) = match id {
                _ if id % 4 == 0 => (None, "deleted"),
                _ if id % 10 == 0 => (Some(format!("k{id}")), "rejected"),
                _ if id % 7 == 0 => (Some(format!("k{id}")), "failed"),
                _ => (Some(format!("k{id}")), "pending"),
            };
            // Scatter due dates so id order and due order disagree.
            let due = (id % 3 != 0).then(|| {
                format!(
                    "2026-{:02}-{:02}",
                    9 + (id * 7919) % 3,
                    1 + (id * 104729) % 28
                )
            });
            insert
                .execute(rusqlite::params![
                    id,
                    // A keyed hash is 32 bytes (the schema checks it); unique per id.
                    [id.to_le_bytes(), [0; 8], [0; 8], [0; 8]].concat(),
                    key,
                    outcome,
                    due
                ])
                .unwrap();
        }
    }
    tx.commit().unwrap();
}

/// Every unit a run would send, page by page, with the (due, id) of each.
fn drain(ledger: &Ledger, page: usize) -> Vec<(Option<String>, i64)> {
    let due_of = |id: i64| -> Option<String> {
        ledger
            .conn()
            .query_row("SELECT due_on FROM units WHERE id = ?1", [id], |r| r.get(0))
            .unwrap()
    };
    let mut cursor = SendCursor::default();
    let mut out = Vec::new();
    loop {
        let units = ledger
            .next_units("webex", &SEND, &mut cursor, page)
            .unwrap();
        if units.is_empty() {
            return out;
        }
        out.extend(units.iter().map(|u| (due_of(u.id), u.id)));
    }
}

#[test]
fn pages_run_oldest_due_first_then_undated_by_id_and_skip_nothing() {
    let fx = tempfile::tempdir().unwrap();
    let path = fx.path().join("ledger.db");
    fill(&path, 500);
    let ledger = Ledger::open_existing(&path).unwrap();
    let got = drain(&ledger, 7);
    let mut want: Vec<(Option<String>, i64)> = {
        let mut stmt = ledger
            .conn()
            .prepare(
                "SELECT due_on, id FROM units
                 WHERE key IS NOT NULL AND outcome IN ('pending', 'failed')",
            )
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    };
    // Dated by (due, id), then undated by id.
    want.sort_by(|a, b| (a.0.is_none(), &a.0, a.1).cmp(&(b.0.is_none(), &b.0, b.1)));
    assert_eq!(got, want);
    assert!(got.first().unwrap().0.is_some() && got.last().unwrap().0.is_none());
}

#[test]
fn units_finishing_while_paging_are_not_sent_twice_nor_skipped() {
    let fx = tempfile::tempdir().unwrap();
    let path = fx.path().join("ledger.db");
    fill(&path, 200);
    let ledger = Ledger::open_existing(&path).unwrap();
    let writer = rusqlite::Connection::open(&path).unwrap();
    let mut cursor = SendCursor::default();
    let mut seen = Vec::new();
    loop {
        let units = ledger.next_units("webex", &SEND, &mut cursor, 10).unwrap();
        if units.is_empty() {
            break;
        }
        // The writer finishes what was handed out (dropping the key), as during a run.
        for u in &units {
            writer
                .execute(
                    "UPDATE units SET outcome = 'deleted', key = NULL WHERE id = ?1",
                    [u.id],
                )
                .unwrap();
        }
        seen.extend(units.iter().map(|u| u.id));
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), seen.len(), "a unit was handed out twice");
    let left: i64 = writer
        .query_row(
            "SELECT count(*) FROM units WHERE key IS NOT NULL AND outcome IN ('pending','failed')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(left, 0);
}

#[tokio::test]
async fn a_run_sends_the_oldest_due_keys_first() {
    let keys = common::keys("k", 6);
    let fx = Fixture::new(&keys, |_| {}).await;
    let file = fx.write(
        "in.csv",
        "key,received\nk00000,2020-10-20\nk00001,\nk00002,2020-10-01\nk00003,2020-10-31\nk00004,2020-10-10\nk00005,2020-09-30\n",
    );
    let mut config = fx.config(vec![file]);
    config.concurrency = 1;
    config.input.received_column = Some("received".into());
    fx.run(config).await;
    let order: Vec<String> = fx
        .sim
        .received()
        .iter()
        .map(|b| b["key"].as_str().unwrap().to_owned())
        .collect();
    // 09-30 → 10-30, 10-01 → 11-01, 10-10, 10-20, 10-31 → 11-30; undated last.
    assert_eq!(
        order,
        ["k00005", "k00002", "k00004", "k00000", "k00003", "k00001"]
    );
}
