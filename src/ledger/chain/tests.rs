use rusqlite::Connection;
use rusqlite::types::Value;

use super::check::{coverage, links, outcomes};
use super::*;
use crate::ledger::schema::{MIGRATIONS, migrate};

fn hash_of(content: &[Value]) -> [u8; 32] {
    let mut buf = Vec::new();
    link_hash(
        &[0; 32],
        1,
        "events",
        content.iter().map(ValueRef::from),
        &mut buf,
    )
}

#[test]
fn no_two_contents_hash_alike_by_moving_a_boundary_or_a_type() {
    let text = |s: &str| Value::Text(s.into());
    let cases = [
        vec![text("ab"), text("c")],
        vec![text("a"), text("bc")],
        vec![text("abc")],
        vec![text("abc"), Value::Null],
        vec![Value::Integer(1)],
        vec![text("1")],
        vec![Value::Blob(b"1".to_vec())],
        vec![Value::Null],
        vec![],
    ];
    let hashes: std::collections::BTreeSet<[u8; 32]> = cases.iter().map(|c| hash_of(c)).collect();
    assert_eq!(hashes.len(), cases.len());
}

/// A schema-8 ledger (before the chain) with one erased, one not-held and one pending unit.
fn schema_8() -> Connection {
    let conn = Connection::open_in_memory().expect("test setup");
    for sql in &MIGRATIONS[..8] {
        conn.execute_batch(sql).expect("test setup");
    }
    conn.execute_batch(
        "PRAGMA user_version = 8;
         INSERT INTO units (connector, scope, key_hash, key, key_masked, outcome)
           VALUES ('webex', 'c', x'01', NULL, '+4*', 'deleted'),
                  ('webex', 'c', x'02', NULL, '+4*', 'not_found'),
                  ('webex', 'c', x'03', '+443', '+4*', 'pending');",
    )
    .expect("test setup");
    conn
}

fn verdicts(conn: &Connection) -> [Option<(u64, String)>; 3] {
    [
        links(conn).expect("reads"),
        coverage(conn).expect("reads"),
        outcomes(conn).expect("reads"),
    ]
}

#[test]
fn a_new_ledger_begins_its_chain_with_it() {
    let mut conn = Connection::open_in_memory().expect("test setup");
    migrate(&mut conn).expect("migrates");
    let (json, g) = genesis(&conn).expect("reads").expect("a genesis");
    assert_eq!(g.schema_before, 0);
    assert!(g.note.contains("began with the ledger"), "{}", g.note);
    let head = head(&conn).expect("reads").expect("a head");
    assert_eq!(head.seq, 0);
    assert_eq!(head.hash, hex(&genesis_hash(&json)));
    assert_eq!(hash_at(&conn, 0).expect("reads"), Some(head.hash));
    assert_eq!(verdicts(&conn), [None, None, None]);
}

#[test]
fn a_migrated_ledger_says_where_its_chain_began_and_pins_what_was_settled() {
    let mut conn = schema_8();
    assert_eq!(migrate(&mut conn).expect("migrates"), 8);
    let (_, g) = genesis(&conn).expect("reads").expect("a genesis");
    assert_eq!(g.schema_before, 8);
    assert!(g.note.contains("upgraded from schema 8"), "{}", g.note);
    assert_eq!((g.before.units, g.settled_units), (3, 2));
    assert_eq!(verdicts(&conn), [None, None, None]);

    // An outcome from before the chain, changed either way, is seen.
    for sql in [
        "UPDATE units SET outcome = 'failed' WHERE id = 1",
        "UPDATE units SET outcome = 'deleted', key = NULL WHERE id = 3",
        "UPDATE units SET outcome = 'not_found' WHERE id = 1",
    ] {
        let tx = conn.transaction().expect("test setup");
        tx.execute_batch(sql).expect("test setup");
        let [l, c, o] = verdicts(&tx);
        assert_eq!((l, c), (None, None), "{sql}");
        let (n, what) = o.expect("the outcome check fails");
        assert_eq!(n, 1, "{sql}");
        assert!(what.contains("before the chain began"), "{sql}: {what}");
        drop(tx);
    }
}

#[test]
fn records_appended_link_in_order_and_an_edit_a_removal_or_a_swap_is_seen() {
    let mut conn = Connection::open_in_memory().expect("test setup");
    migrate(&mut conn).expect("migrates");
    let actor = crate::actor::Actor {
        operator: Some("op".into()),
        host: Some("host".into()),
    };
    let tx = conn.transaction().expect("test setup");
    for reason in ["one", "two", "three"] {
        crate::ledger::events::record(
            &tx,
            &actor,
            &crate::ledger::events::Event {
                kind: "resolved",
                file_id: None,
                line: None,
                unit_id: None,
                reason: Some(reason),
                detail: None,
            },
        )
        .expect("records");
    }
    tx.commit().expect("test setup");
    let head = head(&conn).expect("reads").expect("a head");
    assert_eq!(head.seq, 3);
    assert_eq!(hash_at(&conn, 3).expect("reads"), Some(head.hash));
    assert_eq!(verdicts(&conn), [None, None, None]);

    let cases = [
        ("UPDATE events SET reason = 'TWO' WHERE id = 2", "changed"),
        ("DELETE FROM events WHERE id = 2", "missing"),
        ("DELETE FROM events WHERE id = 3", "head says 3"),
        // Two records swapped: each is now where the other's hash was.
        (
            "UPDATE events SET reason = CASE id WHEN 1 THEN 'three' ELSE 'one' END
             WHERE id IN (1, 3)",
            "changed",
        ),
    ];
    for (sql, want) in cases {
        let tx = conn.transaction().expect("test setup");
        tx.execute_batch("DROP TRIGGER events_append_only_u; DROP TRIGGER events_append_only_d;")
            .expect("test setup");
        tx.execute_batch(sql).expect("test setup");
        let (_, what) = links(&tx).expect("reads").expect("the chain check fails");
        assert!(what.contains(want), "{sql}: {what}");
        drop(tx);
    }
}
