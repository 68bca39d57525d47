//! Corrections: a request row recorded later supersedes an earlier one that needed
//! attention, by a `corrected` event naming the new row. The earlier request then ends
//! ("corrected by FILE:LINE"); the new row's own fate is what counts from then on.
//!
//! Two ways a row corrects another, both settled once a file's rows are all recorded:
//! - **by key**: a row for the same person (connector and keyed hash) as an earlier request
//!   whose unit was rejected, failed or set aside (e.g. the same key under the right profile);
//! - **by reference**: a `ref` column naming the earlier request as `FILE:LINE`, as
//!   `report --split` writes it in needs-attention.csv (how a fixed blank-key or invalid row
//!   settles the original, which has no key to match).

use super::requests::{Request, State};
use super::{Ledger, events};
use crate::actor::Actor;
use crate::error::Result;

/// What settling a file's corrections did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Settled {
    /// Earlier requests now corrected by rows of the file.
    pub corrected: u64,
    /// `ref` values that named no earlier request needing attention (left alone).
    pub unmatched_refs: u64,
}

impl Ledger {
    /// Record the corrections the rows of file `file_id` make (all of its rows recorded):
    /// first those its `refs` (line, `FILE:LINE`) name, then those by key. One transaction;
    /// running it again records nothing new.
    pub fn settle_corrections(
        &self,
        file_id: i64,
        refs: &[(u64, String)],
        actor: &Actor,
    ) -> Result<Settled> {
        let tx = self.conn.unchecked_transaction()?;
        let mut settled = Settled::default();
        let path: String =
            tx.query_row("SELECT path FROM files WHERE id = ?1", [file_id], |r| {
                r.get(0)
            })?;
        let places: Vec<(String, u64)> = refs
            .iter()
            .filter_map(|(_, r)| parse_ref(r).map(|(p, l)| (p.to_owned(), l)))
            .collect();
        let mut at = self.requests_at_each(&places)?;
        for (line, reference) in refs {
            let candidates = parse_ref(reference)
                .and_then(|(p, l)| at.remove(&(p.to_owned(), l)))
                .unwrap_or_default();
            // The newest recording of that path whose row still needs attention.
            let old = candidates
                .into_iter()
                .filter(|r| r.file_id != file_id && r.state.needs_attention())
                .max_by_key(|r| r.file_id);
            match old {
                Some(old) => {
                    correct(&tx, actor, &old, file_id, &path, *line, "ref")?;
                    settled.corrected += 1;
                }
                None if already_corrected_by(self, reference, file_id, *line)? => {}
                None => settled.unmatched_refs += 1,
            }
        }
        // By key: earlier requests of units that need attention, for a person this file
        // asks for. Most ledgers have none: then the rows are not read at all.
        if !any_unit_needs_attention(&tx)? {
            tx.commit()?;
            return Ok(settled);
        }
        // Driven by the units that need attention, each through an index: never a scan of
        // every row (this runs for every file recorded).
        let units: Vec<(i64, Vec<u8>, String)> = tx
            .prepare(
                "SELECT id, key_hash, connector FROM units WHERE outcome IN ('rejected', 'failed')
                 UNION
                 SELECT u.id, u.key_hash, u.connector FROM units u
                 WHERE u.id IN (SELECT unit_id FROM events WHERE kind = 'set_aside')",
            )?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut new_row = tx.prepare(
            "SELECT min(line) FROM (
               SELECT n.line FROM units un JOIN row_records n ON n.unit_id = un.id
                WHERE un.key_hash = ?1 AND un.connector = ?2 AND n.file_id = ?3
                  AND n.kind <> 'invalid'
               UNION ALL
               SELECT un.row_line FROM units un
                WHERE un.key_hash = ?1 AND un.connector = ?2 AND un.row_file_id = ?3)",
        )?;
        for (unit_id, hash, connector) in units {
            let line: Option<i64> =
                new_row.query_row(rusqlite::params![hash, connector, file_id], |r| r.get(0))?;
            let Some(line) = line else { continue };
            let earlier = self.requests_where(
                "r.unit_id = ?1 AND r.file_id < ?2",
                rusqlite::params![unit_id, file_id],
            )?;
            for old in earlier
                .iter()
                .filter(|r| matches!(r.state, State::Rejected | State::Failed | State::SetAside))
            {
                correct(&tx, actor, old, file_id, &path, line as u64, "key")?;
                settled.corrected += 1;
            }
        }
        drop(new_row);
        tx.commit()?;
        Ok(settled)
    }
}

fn any_unit_needs_attention(conn: &rusqlite::Connection) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM units WHERE outcome IN ('rejected', 'failed'))
             OR EXISTS (SELECT 1 FROM events WHERE kind = 'set_aside')",
        [],
        |r| r.get(0),
    )
}

/// A `corrected` event for `old`, naming the new row.
fn correct(
    conn: &rusqlite::Connection,
    actor: &Actor,
    old: &Request,
    file_id: i64,
    path: &str,
    line: u64,
    matched_by: &str,
) -> rusqlite::Result<i64> {
    events::record(
        conn,
        actor,
        &events::Event {
            kind: events::CORRECTED,
            file_id: Some(old.file_id),
            line: Some(old.line),
            unit_id: old.unit_id,
            reason: None,
            detail: Some(serde_json::json!({
                "file_id": file_id,
                "path": path,
                "line": line,
                "matched_by": matched_by,
                "was": old.state.as_str(),
            })),
        },
    )
}

/// Whether the request `reference` names was already corrected by this very row (a file
/// whose corrections are settled again after an interruption).
fn already_corrected_by(ledger: &Ledger, reference: &str, file_id: i64, line: u64) -> Result<bool> {
    let Some((path, at)) = parse_ref(reference) else {
        return Ok(false);
    };
    Ok(ledger.requests_at(path, at)?.iter().any(|r| {
        r.state == State::Corrected
            && ledger
                .conn
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM events WHERE kind = 'corrected'
                       AND file_id = ?1 AND line = ?2
                       AND json_extract(detail, '$.file_id') = ?3
                       AND json_extract(detail, '$.line') = ?4)",
                    rusqlite::params![r.file_id, r.line as i64, file_id, line as i64],
                    |row| row.get::<_, bool>(0),
                )
                .unwrap_or(false)
    }))
}

/// `FILE:LINE` → (FILE, LINE); the file name may itself hold colons.
pub fn parse_ref(reference: &str) -> Option<(&str, u64)> {
    let (path, line) = reference.trim().rsplit_once(':')?;
    let line = line.trim().parse::<u64>().ok().filter(|l| *l > 0)?;
    (!path.is_empty()).then_some((path, line))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_file_and_line() {
        assert_eq!(parse_ref("a.csv:3"), Some(("a.csv", 3)));
        assert_eq!(parse_ref("c:/x.csv:12"), Some(("c:/x.csv", 12)));
        assert_eq!(parse_ref("a.csv"), None);
        assert_eq!(parse_ref(":3"), None);
        assert_eq!(parse_ref("a.csv:x"), None);
    }
}
