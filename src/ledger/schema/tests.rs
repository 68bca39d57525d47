use super::*;

#[test]
fn migrates_an_empty_database_to_the_latest_version() -> Result<(), MigrateError> {
    let mut conn = Connection::open_in_memory()?;
    assert_eq!(migrate(&mut conn)?, 0);
    assert_eq!(version(&conn)?, MIGRATIONS.len());
    // Running again is a no-op.
    assert_eq!(migrate(&mut conn)?, MIGRATIONS.len());
    let tables: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('units','row_records','files','attempts','runs','meta')",
        [],
        |r| r.get(0),
    )?;
    assert_eq!(tables, 6);
    Ok(())
}

#[test]
fn files_of_a_version_1_ledger_become_webex_files() -> Result<(), MigrateError> {
    let mut conn = Connection::open_in_memory()?;
    conn.execute_batch(MIGRATIONS[0])?;
    conn.pragma_update(None, "user_version", 1)?;
    conn.execute(
        "INSERT INTO files (path, sha256, profile_default, key_column, rows, added_at)
         VALUES ('a.csv', 'aaa', 'customers', 'key', 3, 'now')",
        [],
    )?;
    conn.execute(
        "INSERT INTO rows (file_id, line, kind) VALUES (1, 2, 'invalid')",
        [],
    )?;
    assert_eq!(migrate(&mut conn)?, 1);
    let (connector, rows): (String, i64) =
        conn.query_row("SELECT connector, rows FROM files WHERE id = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    assert_eq!((connector.as_str(), rows), ("webex", 3));
    let joined: i64 = conn.query_row(
        "SELECT count(*) FROM rows r JOIN files f ON f.id = r.file_id",
        [],
        |r| r.get(0),
    )?;
    assert_eq!(joined, 1);
    assert_eq!(version(&conn)?, MIGRATIONS.len());
    Ok(())
}

#[test]
fn migrates_a_v1_ledger_with_data_to_the_latest_version() -> Result<(), MigrateError> {
    let mut conn = Connection::open_in_memory()?;
    conn.execute_batch(MIGRATIONS[0])?;
    conn.pragma_update(None, "user_version", 1)?;
    conn.execute_batch(
        "INSERT INTO files (id, path, sha256, profile_default, key_column, rows, added_at)
           VALUES (1, 'a.csv', 'aaa', '', 'key', 3, '2026-01-01T00:00:00Z');
         INSERT INTO units (id, connector, scope, key_hash, key, key_masked, outcome)
           VALUES (1, 'webex', '', randomblob(32), NULL, 'a***', 'deleted'),
                  (2, 'webex', '', randomblob(32), 'k2', 'k*', 'pending');
         INSERT INTO rows (file_id, line, kind, unit_id, exparams)
           VALUES (1, 2, 'request', 1, '{\"exparam1\":\"T\"}'), (1, 3, 'request', 2, NULL);
         INSERT INTO rows (file_id, line, kind, reason, raw_key)
           VALUES (1, 4, 'invalid', 'blank key', NULL);
         INSERT INTO runs (id, started_at, connector, tool_version) VALUES (1, 'x', 'webex', '0.1.0');
         INSERT INTO attempts (unit_id, run_id, at, verdict, latency_ms)
           VALUES (1, 1, 'x', 'deleted', 5);",
    )?;
    assert_eq!(migrate(&mut conn)?, 1);
    assert_eq!(version(&conn)?, MIGRATIONS.len());
    let kept: (i64, i64, i64, i64) = conn.query_row(
        "SELECT (SELECT count(*) FROM units), (SELECT count(*) FROM rows),
                (SELECT count(*) FROM attempts), (SELECT count(*) FROM purges)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?;
    assert_eq!(kept, (2, 3, 1, 0));
    // The new columns start empty: old rows have no dates and no kept columns.
    let empty: i64 = conn.query_row(
        "SELECT count(*) FROM rows WHERE extra IS NULL AND received_on IS NULL AND due_on IS NULL",
        [],
        |r| r.get(0),
    )?;
    assert_eq!(empty, 3);
    // The send index holds exactly the dated units that can still be sent: none here
    // (the one unit that can is undated, sent in id order without it).
    let (indexed, undated): (i64, i64) = conn.query_row(
        "SELECT (SELECT count(*) FROM units INDEXED BY units_to_send
                 WHERE connector = 'webex' AND key IS NOT NULL AND due_on IS NOT NULL),
                (SELECT count(*) FROM units WHERE key IS NOT NULL AND due_on IS NULL)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    assert_eq!((indexed, undated), (0, 1));
    Ok(())
}

#[test]
fn the_deferred_indexes_are_the_ones_the_migrations_create() -> Result<(), MigrateError> {
    let mut conn = Connection::open_in_memory()?;
    migrate(&mut conn)?;
    for (name, sql) in DEFERRED_INDEXES {
        let created: String = conn.query_row(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?1",
            [name],
            |r| r.get(0),
        )?;
        let normalise = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        assert_eq!(normalise(&created), normalise(sql), "{name}");
    }
    // No other index on units or rows: a bulk load drops every one of them.
    let others: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'index'
           AND tbl_name IN ('units', 'row_records') AND sql IS NOT NULL",
        [],
        |r| r.get(0),
    )?;
    assert_eq!(others as usize, DEFERRED_INDEXES.len());
    Ok(())
}

#[test]
fn export_files_are_names_in_their_folder() -> Result<(), MigrateError> {
    let mut conn = Connection::open_in_memory()?;
    migrate(&mut conn)?;
    conn.execute_batch(
        "INSERT INTO units (id, connector, scope, key_hash, key_masked, outcome)
           VALUES (1, 'webex-access', 'key?count=50', randomblob(32), 'a***', 'pending')",
    )?;
    let insert = |file: &str| {
        conn.execute(
            "INSERT OR REPLACE INTO exports (unit_id, file, saved_at) VALUES (1, ?1, 'x')",
            [file],
        )
    };
    assert!(insert("0123abcd.json").is_ok());
    assert!(insert("../elsewhere.json").is_err());
    assert!(insert("").is_err());
    Ok(())
}

#[test]
fn files_recorded_before_options_are_real_and_events_are_append_only() -> Result<(), MigrateError> {
    let mut conn = Connection::open_in_memory()?;
    // A schema 5 ledger, with a file recorded then: migrations 6 and 7 find it.
    for sql in &MIGRATIONS[..5] {
        conn.execute_batch(sql)?;
    }
    conn.execute_batch(
        "INSERT INTO files (connector, path, sha256, profile_default, key_column, added_at)
           VALUES ('webex', 'a.csv', 'aaa', 'customers', 'key', 'now');",
    )?;
    conn.pragma_update(None, "user_version", 5)?;
    assert_eq!(migrate(&mut conn)?, 5);
    let (options, dry): (Option<String>, i64) =
        conn.query_row("SELECT options, dry_run FROM files", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    assert_eq!((options, dry), (None, 0));
    conn.execute(
        "INSERT INTO events (at, kind, file_id, operator, host) VALUES ('now', 'options_recorded', 1, 'op', 'host')",
        [],
    )?;
    assert!(conn.execute("UPDATE events SET reason = 'x'", []).is_err());
    assert!(conn.execute("DELETE FROM events", []).is_err());
    assert!(
        conn.execute(
            "INSERT INTO events (at, kind, operator, host) VALUES ('now', 'made_up', 'op', 'host')",
            [],
        )
        .is_err()
    );
    Ok(())
}

#[test]
fn refuses_a_newer_schema() -> Result<(), MigrateError> {
    let mut conn = Connection::open_in_memory()?;
    conn.pragma_update(None, "user_version", 999)?;
    assert!(matches!(
        migrate(&mut conn),
        Err(MigrateError::TooNew { found: 999, .. })
    ));
    Ok(())
}

#[test]
fn a_failed_migration_leaves_the_version_alone() -> Result<(), MigrateError> {
    let mut conn = Connection::open_in_memory()?;
    // A table a migration wants to create already exists: the transaction rolls back.
    conn.execute_batch("CREATE TABLE units (x)")?;
    assert!(migrate(&mut conn).is_err());
    assert_eq!(version(&conn)?, 0);
    Ok(())
}

/// Whether SQLite builds a table for a value list each time `sql` runs.
fn builds_a_list_table(conn: &Connection, sql: &str) -> rusqlite::Result<bool> {
    let mut stmt = conn.prepare(&format!("EXPLAIN {sql}"))?;
    let ops: Vec<String> = stmt
        .query_map([], |r| r.get(1))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(ops.iter().any(|op| op == "OpenEphemeral"))
}

#[test]
fn the_checks_a_writer_meets_build_no_table_per_statement() -> Result<(), MigrateError> {
    // What the writer runs per answer, and the row-by-row ingest per row.
    let statements = [
        "UPDATE units SET outcome = 'deleted', key = NULL WHERE id = 1",
        "INSERT INTO attempts (unit_id, run_id, at, verdict, latency_ms, outcome)
         VALUES (1, 1, 't', 'deleted', 1, 'deleted')",
        "INSERT INTO row_records (file_id, line, kind, unit_id) VALUES (1, 2, 'duplicate', 1)",
    ];
    // A new ledger, and one of schema 9 upgraded.
    let mut fresh = Connection::open_in_memory()?;
    migrate(&mut fresh)?;
    let mut upgraded = Connection::open_in_memory()?;
    {
        let tx = upgraded.transaction()?;
        apply_to(&tx, 0, CHECKS_UNROLLED - 1)?;
        tx.commit()?;
    }
    for sql in statements {
        assert!(builds_a_list_table(&upgraded, sql)?, "schema 9 did: {sql}");
    }
    migrate(&mut upgraded)?;
    for conn in [&fresh, &upgraded] {
        for sql in statements {
            assert!(!builds_a_list_table(conn, sql)?, "{sql}");
        }
        // The same values pass, and the same are refused.
        let checks: Vec<String> = conn
            .prepare(
                "SELECT sql FROM sqlite_schema WHERE name IN ('units', 'attempts', 'row_records')",
            )?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        assert!(
            checks
                .iter()
                .all(|sql| !sql.contains("outcome IN (") && !sql.contains("kind IN (")),
            "{checks:?}"
        );
        let integrity: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        assert_eq!(integrity, "ok");
    }
    Ok(())
}
