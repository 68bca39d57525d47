//! The checks' rules, one function per entry of [`super::CHECKS`]: each reads the ledger
//! (the units' rules without sorting a row: see BENCHMARKS.md, "The checks on two readers,
//! without sorting") and says what it found.

use std::collections::BTreeMap;

use rusqlite::Connection;
use rusqlite::types::ValueRef;

use super::{Problems, count, found, scalar};
use crate::outcome::Outcome;

/// A stored value to name in a verdict, as text: a damaged one may not be (`(Blob)`).
pub(crate) fn stored_text(value: ValueRef<'_>) -> String {
    match value {
        ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
        other => format!("({})", other.data_type()),
    }
}

pub(super) fn quick_check(conn: &Connection) -> rusqlite::Result<Problems> {
    let mut stmt = conn.prepare("PRAGMA quick_check")?;
    let messages: Vec<String> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    if messages.len() == 1 && messages[0] == "ok" {
        return Ok(None);
    }
    let n = messages.len() as u64;
    let shown: Vec<&str> = messages.iter().take(3).map(String::as_str).collect();
    let more = if n > 3 { ", …" } else { "" };
    Ok(Some((
        n,
        format!(
            "{}: {}{more}",
            count(n, "problem", "problems"),
            shown.join("; ")
        ),
    )))
}

/// The value rules of the schema's CHECK constraints (migration 5), read back: SQLite
/// skips CHECK constraints on a read-only connection, `quick_check` included, and a ledger
/// of schema 4 has none. (Outcomes, row kinds and gone keys have checks of their own.)
pub(super) fn stored_values(conn: &Connection) -> rusqlite::Result<Problems> {
    let int = |column: &str| format!("typeof({column}) != 'integer' OR {column} < 0");
    let tables = [
        (
            "units",
            format!(
                "typeof(key_hash) != 'blob' OR length(key_hash) != 32 OR connector = ''
                 OR {} OR (http_status IS NOT NULL AND typeof(http_status) != 'integer')
                 OR after_ambiguous NOT IN (0, 1)
                 OR (row_line IS NULL) != (row_file_id IS NULL)
                 OR (row_line IS NOT NULL AND (typeof(row_line) != 'integer' OR row_line < 1))",
                int("attempts")
            ),
        ),
        (
            "row_records",
            format!(
                "{} OR line < 1 OR (kind != 'invalid' AND raw_key IS NOT NULL)",
                int("line")
            ),
        ),
        (
            "files",
            format!(
                "(rows IS NOT NULL AND ({})) OR {} OR {} OR connector = ''",
                int("rows"),
                int("recorded_through"),
                int("recorded_rows")
            ),
        ),
        ("purges", format!("{} OR {}", int("units"), int("rows"))),
    ];
    let mut wrong = Vec::new();
    let mut total = 0;
    for (table, bad) in tables {
        let n = scalar(
            conn,
            &format!("SELECT count(*) FROM {table} NOT INDEXED WHERE {bad}"),
        )?;
        if n > 0 {
            total += n;
            wrong.push(format!("{} of {table}", count(n, "row", "rows")));
        }
    }
    Ok(found(total, |_| {
        format!(
            "{} a value forget never writes",
            wrong.join(", ") + if total == 1 { " holds" } else { " hold" }
        )
    }))
}

/// The attempts' part of [`stored_values`]: the largest table, evidence only (a run
/// decides nothing from it), so read by `forget verify` alone.
pub(super) fn attempt_values(conn: &Connection) -> rusqlite::Result<Problems> {
    let n = scalar(
        conn,
        "SELECT count(*) FROM attempts NOT INDEXED
         WHERE typeof(latency_ms) != 'integer' OR latency_ms < 0 OR verdict = ''
            OR (http_status IS NOT NULL AND typeof(http_status) != 'integer')",
    )?;
    Ok(found(n, |n| {
        format!(
            "{} a value forget never writes",
            count(n, "attempt holds", "attempts hold")
        )
    }))
}

pub(super) fn unit_states(conn: &Connection) -> rusqlite::Result<Problems> {
    // NOT INDEXED: the table's own copy of each outcome, not the index's. A CASE over the
    // known outcomes costs half of `NOT IN (…)` with `typeof`, and finds the same: NULL, a
    // BLOB or a number never equals a known outcome's text.
    let n = scalar(
        conn,
        &format!(
            "SELECT count(*) FROM units NOT INDEXED WHERE CASE outcome {} ELSE 1 END",
            Outcome::ALL
                .iter()
                .map(|o| format!("WHEN '{}' THEN 0", o.as_str()))
                .collect::<Vec<_>>()
                .join(" ")
        ),
    )?;
    Ok(found(n, |n| {
        format!(
            "{} an outcome that is not a known state",
            count(n, "unit has", "units have")
        )
    }))
}

/// Units per outcome, from `sql`'s (outcome, count) rows; an outcome that is not text is
/// named by its type.
pub(super) fn by_outcome(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> rusqlite::Result<BTreeMap<String, i64>> {
    let mut stmt = conn.prepare(sql)?;
    let mut rows = stmt.query(params)?;
    let mut counts = BTreeMap::new();
    while let Some(row) = rows.next()? {
        let outcome = stored_text(row.get_ref(0)?);
        *counts.entry(outcome).or_default() += row.get::<_, i64>(1)?;
    }
    Ok(counts)
}

pub(super) fn outcome_counts(conn: &Connection) -> rusqlite::Result<Problems> {
    // A bulk load drops the index while it records (and builds it at the end).
    let indexed: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'units_by_outcome')",
        [],
        |r| r.get(0),
    )?;
    // Grouped in the index's order (connector, outcome): read from it alone, unsorted.
    let index = match indexed {
        true => by_outcome(
            conn,
            "SELECT outcome, count(*) FROM units INDEXED BY units_by_outcome
             WHERE connector IS NOT NULL GROUP BY connector, outcome",
            [],
        )?,
        false => BTreeMap::new(),
    };
    // The table's copy, counted without sorting most of it: the units of the outcome the
    // index says is the commonest (at the end of a run, `deleted`: every unit) are the
    // table's count less the others', which alone are grouped.
    let commonest = index
        .iter()
        .filter_map(|(o, n)| Outcome::parse(o).map(|o| (o, *n)))
        .max_by_key(|(_, n)| *n)
        .map_or(Outcome::Pending, |(o, _)| o)
        .as_str();
    let mut table = by_outcome(
        conn,
        "SELECT outcome, count(*) FROM units NOT INDEXED WHERE outcome IS NOT ?1 GROUP BY outcome",
        [commonest],
    )?;
    let total: i64 = conn.query_row("SELECT count(*) FROM units NOT INDEXED", [], |r| r.get(0))?;
    let others: i64 = table.values().sum();
    if total > others {
        table.insert(commonest.to_owned(), total - others);
    }
    let mut wrong = Vec::new();
    if indexed {
        let outcomes: std::collections::BTreeSet<&String> =
            table.keys().chain(index.keys()).collect();
        for outcome in outcomes {
            let (t, i) = (
                table.get(outcome).copied().unwrap_or(0),
                index.get(outcome).copied().unwrap_or(0),
            );
            if t != i {
                wrong.push(format!(
                    "`{outcome}`: {t} units in the table, {i} in the index"
                ));
            }
        }
    }
    Ok(found(wrong.len() as u64, |_| wrong.join("; ")))
}

pub(super) fn row_kinds(conn: &Connection) -> rusqlite::Result<Problems> {
    let n = scalar(
        conn,
        "SELECT count(*) FROM row_records
         WHERE kind IS NULL OR kind NOT IN ('request', 'duplicate', 'invalid')
            OR (kind = 'invalid') != (unit_id IS NULL)",
    )?;
    Ok(found(n, |n| {
        format!(
            "{} an unknown kind, or a unit when invalid or none when not",
            count(n, "row has", "rows have")
        )
    }))
}

pub(super) fn references(conn: &Connection) -> rusqlite::Result<Problems> {
    let mut stmt = conn.prepare("SELECT \"table\", parent FROM pragma_foreign_key_check")?;
    let mut by_link: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        *by_link.entry((row.get(0)?, row.get(1)?)).or_default() += 1;
    }
    let n = by_link.values().sum();
    Ok(found(n, |_| {
        by_link
            .iter()
            .map(|((table, parent), n)| {
                format!("{n} {table} rows point at {parent} that are not recorded")
            })
            .collect::<Vec<_>>()
            .join("; ")
    }))
}

pub(super) fn one_request_per_unit(conn: &Connection) -> rusqlite::Result<Problems> {
    // A unit's request row is in `row_records`, or recorded with the unit (bulk loads):
    // wrong are a unit with its row and one in `row_records` too, one with several there,
    // and one with none anywhere — the units without their own row less those with one in
    // `row_records`. Read from the request rows, and one pass over the units (not a join
    // of every unit: a bulk load's million have no row in `row_records`).
    let without_own_row = scalar(
        conn,
        "SELECT count(*) FROM units NOT INDEXED WHERE row_line IS NULL",
    )?;
    let (several, twice, with_one): (i64, i64, i64) = conn.query_row(
        "SELECT count(*) FILTER (WHERE u.row_line IS NULL AND r.n > 1),
                count(*) FILTER (WHERE u.row_line IS NOT NULL),
                count(*) FILTER (WHERE u.row_line IS NULL)
         FROM (SELECT unit_id, count(*) AS n FROM row_records WHERE kind = 'request'
               GROUP BY unit_id) r
         JOIN units u ON u.id = r.unit_id",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let none = without_own_row.saturating_sub(with_one.max(0) as u64);
    let n = several.max(0) as u64 + twice.max(0) as u64 + none;
    Ok(found(n, |n| {
        format!(
            "{} no request row, or more than one",
            count(n, "unit has", "units have")
        )
    }))
}

pub(super) fn deleted_have_transaction_id(conn: &Connection) -> rusqlite::Result<Problems> {
    let n = scalar(
        conn,
        // The table's rows in order, not the index's with a lookup each: at the end of a
        // run every unit is `deleted`.
        "SELECT count(*) FROM units NOT INDEXED
         WHERE coalesce(transaction_id, '') = '' AND outcome = 'deleted' AND connector = 'webex'",
    )?;
    Ok(found(n, |n| {
        format!(
            "{} recorded deleted without a transaction id",
            count(n, "Webex key is", "Webex keys are")
        )
    }))
}

pub(super) fn no_plaintext_when_gone(conn: &Connection) -> rusqlite::Result<Problems> {
    let n = scalar(
        conn,
        "SELECT count(*) FROM units WHERE outcome IN ('deleted', 'not_found') AND key IS NOT NULL",
    )?;
    Ok(found(n, |n| {
        format!(
            "{} deleted or not found still {} a plaintext key",
            count(n, "unit", "units"),
            if n == 1 { "holds" } else { "hold" }
        )
    }))
}

/// Files up to which [`file_rows`] counts each file's units in one pass, unsorted.
pub(super) const FILES_COUNTED_APART: usize = 16;

pub(super) fn file_rows(conn: &Connection) -> rusqlite::Result<Problems> {
    file_rows_counted(conn, FILES_COUNTED_APART)
}

/// [`file_rows`], counting each file's units apart up to `apart` files.
pub(super) fn file_rows_counted(conn: &Connection, apart: usize) -> rusqlite::Result<Problems> {
    // Counted per file from the table's key order, and from the units holding their
    // request row (a bulk load's), rather than through the `rows` view, which sorts.
    let mut counted: BTreeMap<i64, i64> = BTreeMap::new();
    let mut stmt = conn.prepare("SELECT file_id, count(*) FROM row_records GROUP BY file_id")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        *counted.entry(row.get(0)?).or_default() += row.get::<_, i64>(1)?;
    }
    let ids: Vec<i64> = conn
        .prepare("SELECT id FROM files")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    if ids.len() <= apart {
        // A count per file in one pass (grouping sorts every unit: twice the time); what
        // no recorded file holds is the rest of the total.
        let per_file: String = ids
            .iter()
            .map(|id| format!("count(*) FILTER (WHERE row_file_id = {id}), "))
            .collect();
        let sql =
            format!("SELECT {per_file}count(*) FROM units NOT INDEXED WHERE row_line IS NOT NULL");
        let orphans = conn.query_row(&sql, [], |r| {
            let mut held = 0;
            for (i, id) in ids.iter().enumerate() {
                let n: i64 = r.get(i)?;
                held += n;
                *counted.entry(*id).or_default() += n;
            }
            Ok(r.get::<_, i64>(ids.len())? > held)
        })?;
        if orphans {
            let known: Vec<String> = ids.iter().map(i64::to_string).collect();
            count_units_by_file(
                conn,
                &format!("AND coalesce(row_file_id NOT IN ({}), 1)", known.join(", ")),
                &mut counted,
            )?;
        }
    } else {
        count_units_by_file(conn, "", &mut counted)?;
    }
    let mut stmt = conn.prepare("SELECT id, recorded_rows, rows FROM files")?;
    let mut rows = stmt.query([])?;
    let mut wrong = 0;
    while let Some(row) = rows.next()? {
        let (id, recorded, total): (i64, i64, Option<i64>) =
            (row.get(0)?, row.get(1)?, row.get(2)?);
        let found = counted.remove(&id).unwrap_or(0);
        if recorded != found || total.is_some_and(|t| t != recorded) {
            wrong += 1;
        }
    }
    // Rows left over belong to no recorded file.
    let orphans = counted.len() as u64;
    let mut what = Vec::new();
    if wrong > 0 {
        what.push(format!(
            "{} a row count that does not match its rows",
            count(wrong, "file has", "files have")
        ));
    }
    if orphans > 0 {
        what.push(format!(
            "rows of {} that {} not recorded",
            count(orphans, "file", "files"),
            if orphans == 1 { "is" } else { "are" }
        ));
    }
    Ok(found(wrong + orphans, |_| what.join("; ")))
}

/// Add the units holding their request row (a bulk load's) per file, of those `and` keeps,
/// to `counted`; a unit that names no file under -1, which no file has.
pub(super) fn count_units_by_file(
    conn: &Connection,
    and: &str,
    counted: &mut BTreeMap<i64, i64>,
) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare(&format!(
        "SELECT row_file_id, count(*) FROM units NOT INDEXED WHERE row_line IS NOT NULL {and}
         GROUP BY row_file_id"
    ))?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let file: Option<i64> = row.get(0)?;
        *counted.entry(file.unwrap_or(-1)).or_default() += row.get::<_, i64>(1)?;
    }
    Ok(())
}

pub(super) fn attempt_counts(conn: &Connection) -> rusqlite::Result<Problems> {
    // Each attempt adds one to its unit's count: the sums agree (a count per unit would
    // cost a join of the two largest tables).
    let (counted, recorded): (i64, i64) = conn.query_row(
        "SELECT (SELECT coalesce(sum(attempts), 0) FROM units NOT INDEXED),
                (SELECT count(*) FROM attempts)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok(found(counted.abs_diff(recorded), |_| {
        format!("the units count {counted} attempts, the attempts recorded are {recorded}")
    }))
}

pub(super) fn event_shapes(conn: &Connection) -> rusqlite::Result<Problems> {
    if !crate::ledger::events::available(conn)? {
        return Ok(None);
    }
    // Few events, each read once; a row is found by its primary key (or its unit's row).
    let recorded = |file: &str, line: &str| {
        format!("EXISTS (SELECT 1 FROM rows r WHERE r.file_id = {file} AND r.line = {line})")
    };
    let n = scalar(
        conn,
        &format!(
            "SELECT count(*) FROM events e WHERE
               (e.detail IS NOT NULL AND NOT json_valid(e.detail))
               OR (e.kind IN ('resolved', 'corrected') AND NOT {})
               OR (e.kind = 'resolved' AND trim(coalesce(e.reason, '')) = '')
               OR (e.kind = 'corrected' AND (NOT json_valid(e.detail) OR NOT {}))",
            recorded("e.file_id", "e.line"),
            recorded(
                "json_extract(e.detail, '$.file_id')",
                "json_extract(e.detail, '$.line')"
            ),
        ),
    )?;
    Ok(found(n, |n| {
        format!(
            "{} a request that is not recorded, no reason, or a detail that is not JSON",
            count(n, "event names", "events name")
        )
    }))
}
