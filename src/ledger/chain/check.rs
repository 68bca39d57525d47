//! Verifying the chain (`forget verify`): the chain's hash recomputed record by record from
//! the genesis, in sequence, and compared with every mark and the head; every record since the genesis chained; every unit's
//! outcome the one its chained answers (or a chained set-aside) gave it, and the units
//! settled before the chain as the genesis pinned them.

use rusqlite::Connection;
use rusqlite::types::{Value, ValueRef};

use super::{Genesis, TABLES, content_columns, genesis, genesis_hash, head, hex, link_hash};

/// How many problems, and the first few in words (`None`: the check passed).
pub type Problems = Option<(u64, String)>;

/// The first problems named in a verdict; the rest are counted.
const NAMED: usize = 3;

/// A chained record, as stored.
struct Stored {
    seq: i64,
    table: &'static str,
    id: i64,
    content: Vec<Value>,
}

struct Found {
    count: u64,
    named: Vec<String>,
}

impl Found {
    fn new() -> Found {
        Found {
            count: 0,
            named: Vec::new(),
        }
    }

    fn add(&mut self, what: impl FnOnce() -> String) {
        self.count += 1;
        if self.named.len() < NAMED {
            self.named.push(what());
        }
    }

    fn problems(self) -> Problems {
        (self.count > 0).then(|| {
            let more = self.count as usize - self.named.len();
            let mut text = self.named.join("; ");
            if more > 0 {
                text.push_str(&format!("; and {more} more"));
            }
            (self.count, text)
        })
    }
}

/// A ledger without a chain fails every chain check with the same explanation.
fn unchained(conn: &Connection) -> rusqlite::Result<Option<(String, Genesis)>> {
    genesis(conn)
}

const NO_CHAIN: &str = "this ledger has no hash chain (its schema is older than the chain, \
     or its genesis is missing or unreadable): a writing command (`forget run`) upgrades an \
     older ledger and begins its chain";

fn singular(table: &str) -> &'static str {
    match table {
        "files" => "file",
        "attempts" => "attempt",
        "events" => "event",
        _ => "purge",
    }
}

fn read_stored(table: &'static str, row: &rusqlite::Row<'_>) -> rusqlite::Result<Stored> {
    let columns = content_columns(table).split(',').count();
    let mut content = Vec::with_capacity(columns);
    for i in 0..columns {
        content.push(row.get::<_, Value>(2 + i)?);
    }
    Ok(Stored {
        seq: row.get(0)?,
        table,
        id: row.get(1)?,
        content,
    })
}

fn select(table: &str) -> String {
    format!(
        "SELECT seq, id, {} FROM {table} WHERE seq IS NOT NULL ORDER BY id",
        content_columns(table)
    )
}

/// The chain recomputed in sequence from the genesis, record by record, and compared with
/// each mark (the hash stored after each transaction) and with the head.
pub fn links(conn: &Connection) -> rusqlite::Result<Problems> {
    let Some((json, _)) = unchained(conn)? else {
        return Ok(Some((1, NO_CHAIN.into())));
    };
    let Some(head) = head(conn)? else {
        return Ok(Some((1, NO_CHAIN.into())));
    };
    // Files, events and purges are few: read them whole, then walk the attempts in order,
    // taking the others as their turn comes.
    let mut others: Vec<Stored> = Vec::new();
    for table in ["files", "events", "purges"] {
        let mut stmt = conn.prepare(&select(table))?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            others.push(read_stored(table, row)?);
        }
    }
    others.sort_by_key(|s| s.seq);
    let mut others = others.into_iter().peekable();
    let mut marks = conn.prepare("SELECT seq, hash FROM chain_marks ORDER BY seq")?;
    let mut marks = marks.query([])?;
    let mut walk = Walk {
        hash: genesis_hash(&json),
        next_seq: 1,
        buf: Vec::with_capacity(256),
        found: Found::new(),
        last_attempt_seq: 0,
        since_mark: None,
        mark: None,
    };
    walk.next_mark(&mut marks)?;
    let mut stmt = conn.prepare(&select("attempts"))?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let attempt = read_stored("attempts", row)?;
        while let Some(other) = others.next_if(|o| o.seq < attempt.seq) {
            walk.step(&other, &mut marks)?;
        }
        if attempt.seq <= walk.last_attempt_seq {
            walk.found.add(|| {
                format!(
                    "attempt {} is out of order (sequence {} after {})",
                    attempt.id, attempt.seq, walk.last_attempt_seq
                )
            });
        }
        walk.last_attempt_seq = attempt.seq;
        walk.step(&attempt, &mut marks)?;
    }
    for other in others {
        walk.step(&other, &mut marks)?;
    }
    let last = walk.next_seq - 1;
    if let Some((seq, _)) = walk.mark {
        walk.found.add(|| {
            format!("a mark of the chain at sequence {seq} is past its last record ({last})")
        });
    }
    if last != head.seq {
        walk.found.add(|| {
            format!(
                "the chain's head says {} records, the ledger holds {last}: records at its end \
                 were removed, or the head was changed",
                head.seq
            )
        });
    } else if hex(&walk.hash) != head.hash {
        walk.found.add(|| {
            "the chain's head does not match its records: a record since the last mark was \
             changed, or the head was"
                .into()
        });
    }
    Ok(walk.found.problems())
}

struct Walk {
    /// The chain's hash after the last record walked.
    hash: [u8; 32],
    next_seq: i64,
    buf: Vec<u8>,
    found: Found,
    last_attempt_seq: i64,
    /// The first and last records walked since the last mark, to name them.
    since_mark: Option<(String, String)>,
    /// The next mark not reached yet.
    mark: Option<(i64, Vec<u8>)>,
}

impl Walk {
    fn next_mark(&mut self, marks: &mut rusqlite::Rows<'_>) -> rusqlite::Result<()> {
        self.mark = match marks.next()? {
            Some(row) => Some((row.get(0)?, row.get(1)?)),
            None => None,
        };
        Ok(())
    }

    fn step(&mut self, record: &Stored, marks: &mut rusqlite::Rows<'_>) -> rusqlite::Result<()> {
        let what = format!("{} {}", singular(record.table), record.id);
        if record.seq != self.next_seq {
            if record.seq > self.next_seq {
                let missing = record.seq - self.next_seq;
                self.found.add(|| {
                    format!(
                        "{missing} record(s) before {what} (sequence {}) are missing from the \
                         chain: deleted",
                        record.seq
                    )
                });
            } else {
                self.found
                    .add(|| format!("{what} repeats sequence number {}: inserted", record.seq));
            }
        }
        self.hash = link_hash(
            &self.hash,
            record.seq,
            record.table,
            record.content.iter().map(ValueRef::from),
            &mut self.buf,
        );
        match &mut self.since_mark {
            Some((_, last)) => *last = what,
            None => self.since_mark = Some((what.clone(), what)),
        }
        // Marks left behind (their records removed) are passed; the one here is compared.
        while self.mark.as_ref().is_some_and(|(seq, _)| *seq < record.seq) {
            self.next_mark(marks)?;
        }
        if let Some((seq, hash)) = &self.mark
            && *seq == record.seq
        {
            if hash.as_slice() != self.hash.as_slice() {
                let (first, last) = self.since_mark.clone().unwrap_or_default();
                let span = if first == last {
                    first
                } else {
                    format!("{first} to {last}")
                };
                self.found.add(|| {
                    format!(
                        "{span} (to sequence {seq}) no longer hash to the mark made when they \
                         were recorded: one of them was changed after it was recorded"
                    )
                });
                // Go on from the stored hash: one edited record is one problem.
                if let Ok(stored) = hash.as_slice().try_into() {
                    self.hash = stored;
                }
            }
            self.since_mark = None;
            self.next_mark(marks)?;
        }
        self.next_seq = record.seq.max(self.next_seq - 1) + 1;
        Ok(())
    }
}

/// Every file, attempt, event and purge recorded since the chain began is in it.
pub fn coverage(conn: &Connection) -> rusqlite::Result<Problems> {
    let Some((_, genesis)) = unchained(conn)? else {
        return Ok(Some((1, NO_CHAIN.into())));
    };
    let mut found = Found::new();
    for table in TABLES {
        let n: i64 = conn.query_row(
            &format!("SELECT count(*) FROM {table} WHERE seq IS NULL AND id > ?1"),
            [genesis.before.of(table)],
            |r| r.get(0),
        )?;
        let n = n.max(0) as u64;
        if n > 0 {
            found.count += n - 1;
            found.add(|| {
                format!(
                    "{n} {table} recorded since the chain began are not in it (written by \
                     something other than forget)"
                )
            });
        }
    }
    Ok(found.problems())
}

/// A stored outcome, to name in a verdict: a damaged one may not be text.
fn as_text(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<String> {
    Ok(crate::ledger::verify::stored_text(row.get_ref(i)?))
}

/// Every unit's outcome is the one its last chained answer set (or a chained set-aside, for
/// a rejection); units settled before the chain are those the genesis pinned.
pub fn outcomes(conn: &Connection) -> rusqlite::Result<Problems> {
    let Some((_, genesis)) = unchained(conn)? else {
        return Ok(Some((1, NO_CHAIN.into())));
    };
    let mut found = Found::new();
    // Units whose last chained outcome-setting attempt disagrees with them.
    let mut stmt = conn.prepare(
        "WITH last AS (
             SELECT unit_id, max(id) AS id FROM attempts
             WHERE outcome IS NOT NULL AND seq IS NOT NULL GROUP BY unit_id)
         SELECT u.id, u.outcome, a.outcome, a.transaction_id, u.transaction_id
         FROM last JOIN units u ON u.id = last.unit_id JOIN attempts a ON a.id = last.id
         WHERE (u.outcome <> a.outcome
                AND NOT (u.outcome = 'rejected' AND EXISTS (
                    SELECT 1 FROM events e WHERE e.kind = 'set_aside' AND e.seq > a.seq
                      AND json_extract(e.detail, '$.connector') = u.connector
                      AND json_extract(e.detail, '$.scope') = u.scope)))
            OR (a.transaction_id IS NOT NULL AND u.outcome = a.outcome
                AND u.transaction_id IS NOT a.transaction_id)",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let (unit, now, set) = (row.get::<_, i64>(0)?, as_text(row, 1)?, as_text(row, 2)?);
        found.add(|| {
            if now == set {
                format!("unit {unit}'s transaction id is not the one its answer gave")
            } else {
                format!("unit {unit} says {now}, its last chained answer set {set}")
            }
        });
    }
    // Units with a final outcome since the chain began, and no chained answer for it.
    let mut stmt = conn.prepare(
        "SELECT u.id, u.outcome FROM units u
         WHERE u.id > ?1 AND u.outcome <> 'pending'
           AND NOT EXISTS (SELECT 1 FROM attempts a WHERE a.unit_id = u.id
                           AND a.outcome IS NOT NULL AND a.seq IS NOT NULL)
           AND NOT (u.outcome = 'rejected' AND EXISTS (
               SELECT 1 FROM events e WHERE e.kind = 'set_aside' AND e.seq IS NOT NULL
                 AND json_extract(e.detail, '$.connector') = u.connector
                 AND json_extract(e.detail, '$.scope') = u.scope))",
    )?;
    let mut rows = stmt.query([genesis.before.units])?;
    while let Some(row) = rows.next()? {
        let (unit, now) = (row.get::<_, i64>(0)?, as_text(row, 1)?);
        found.add(|| format!("unit {unit} says {now}, and no chained answer set it"));
    }
    let (n, digest) = super::settled_digest(conn, genesis.before.units)?;
    if hex(&digest) != genesis.settled_sha256 {
        found.add(|| {
            format!(
                "the units erased or not held before the chain began are not those it pinned \
                 ({n} now, {} then): an outcome from before the chain was changed",
                genesis.settled_units
            )
        });
    }
    Ok(found.problems())
}
