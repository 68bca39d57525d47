//! The ledger's checks: SQLite's own (`PRAGMA quick_check`: pages, records, NOT NULL and
//! CHECK constraints) and forget's consistency rules, each a named [`Check`] in [`CHECKS`].
//! `forget verify` runs them all and prints a verdict per check; `run` runs them before it
//! trusts a ledger, and the audit commands before they report from one
//! ([`Ledger::ensure_sound`]). To add a check, add an entry to [`CHECKS`].

use std::sync::atomic::{AtomicUsize, Ordering};

use rusqlite::{Connection, ErrorCode};

use super::Ledger;
use super::chain::check as chain;
use crate::error::{Error, Result};

/// How much checking a command does before it trusts a ledger; each grows with the
/// ledger (BENCHMARKS.md, "Ledger safety checks", says how much).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Depth {
    /// Before an audit command (`status`, `report`, `lookup`, `invalid`) answers: the rules
    /// that read each unit's and row's state once (outcomes, counts, gone keys, row kinds
    /// and counts). A damaged page met while answering is refused too (exit 5).
    Report,
    /// Before a run or purge writes: also SQLite's `quick_check` of every page, the
    /// references between tables, one request per unit, transaction ids.
    Run,
    /// `forget verify`: every check, the stored values (the CHECK constraints read back)
    /// too.
    All,
}

/// One check of a ledger.
pub struct Check {
    /// Its name, stable for scripts (`forget verify --json`).
    pub name: &'static str,
    /// What it proves, in words.
    pub about: &'static str,
    /// The least depth that runs it: [`Depth::Report`] for every command, [`Depth::Run`]
    /// before a run too, [`Depth::All`] for `forget verify` alone.
    pub depth: Depth,
    /// The problems it finds: how many, and what they are, in words.
    run: fn(&Connection) -> rusqlite::Result<Problems>,
}

/// What a check found: nothing, or how many problems and what they are.
type Problems = Option<(u64, String)>;

/// A check's verdict.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Verdict {
    pub check: &'static str,
    pub about: &'static str,
    pub ok: bool,
    /// How many things are wrong (rows, units, files, SQLite's messages).
    pub problems: u64,
    /// What is wrong, in words (none when it passed).
    pub detail: Option<String>,
}

impl Verdict {
    /// `name: ok` or `name: FAILED: what and how many`.
    pub fn line(&self) -> String {
        match &self.detail {
            None => format!("{}: ok", self.check),
            Some(detail) => format!("{}: FAILED: {detail}", self.check),
        }
    }
}

/// Every check, in the order they run.
pub const CHECKS: &[Check] = &[
    Check {
        name: "sqlite_quick_check",
        about: "SQLite's check of every page and record (and of the CHECK constraints, but \
                only where the ledger could be opened to write: SQLite skips them read-only)",
        depth: Depth::Run,
        run: quick_check,
    },
    Check {
        name: "stored_values",
        about: "every stored count, status, hash and line is of the type and range forget writes",
        depth: Depth::All,
        run: stored_values,
    },
    Check {
        name: "attempt_values",
        about: "every attempt's latency, status and verdict is of the type and range forget writes",
        depth: Depth::All,
        run: attempt_values,
    },
    Check {
        name: "unit_states",
        about: "every unit has exactly one known state",
        depth: Depth::Report,
        run: unit_states,
    },
    Check {
        name: "outcome_counts",
        about: "the counts per outcome (read from the index) add up to the units (read from the table)",
        depth: Depth::Report,
        run: outcome_counts,
    },
    Check {
        name: "row_kinds",
        about: "every row is a request, duplicate or invalid row; only invalid rows have no unit",
        depth: Depth::Report,
        run: row_kinds,
    },
    Check {
        name: "references",
        about: "every row points at a recorded file and unit, every attempt at a unit and a run",
        depth: Depth::Run,
        run: references,
    },
    Check {
        name: "one_request_per_unit",
        about: "every unit was brought by exactly one request row",
        depth: Depth::Run,
        run: one_request_per_unit,
    },
    Check {
        name: "deleted_have_transaction_id",
        about: "every Webex Campaign key recorded deleted has the transaction id the API gave",
        depth: Depth::Run,
        run: deleted_have_transaction_id,
    },
    Check {
        name: "no_plaintext_when_gone",
        about: "no deleted or not-found unit keeps its plaintext key",
        depth: Depth::Report,
        run: no_plaintext_when_gone,
    },
    Check {
        name: "file_rows",
        about: "every input file's recorded row counts match its rows",
        depth: Depth::Report,
        run: file_rows,
    },
    Check {
        name: "events",
        about: "every resolution and correction names a recorded request (a correction also the \
                row that supersedes it), every resolution has a reason, every detail is JSON",
        depth: Depth::Report,
        run: event_shapes,
    },
    Check {
        name: "attempt_counts",
        about: "the units' attempt counts add up to the attempts recorded",
        depth: Depth::Report,
        run: attempt_counts,
    },
    Check {
        name: "chain",
        about: "every chained record (file, attempt, event, purge) hashes to its link from \
                the one before it, in sequence from the genesis to the head: nothing recorded \
                since the chain began was edited, removed or reordered",
        depth: Depth::All,
        run: chain::links,
    },
    Check {
        name: "chain_coverage",
        about: "every file, attempt, event and purge recorded since the chain began is in it",
        depth: Depth::All,
        run: chain::coverage,
    },
    Check {
        name: "chain_outcomes",
        about: "every unit's outcome is the one its last chained answer (or a chained \
                set-aside) gave it, and the units erased or not held before the chain began \
                are those its genesis pinned",
        depth: Depth::All,
        run: chain::outcomes,
    },
];

impl Ledger {
    /// Run the checks of `depth`, each to its verdict. SQLite's report of a corrupted page
    /// met by a check is that check's verdict; other failures (I/O) are errors.
    ///
    /// Each grows with the ledger (a second at a million keys for SQLite's check alone), so
    /// two readers share them: this connection, which alone runs `quick_check` (a ledger
    /// opened to write has it read its CHECK constraints too), and a second one on the
    /// same file. Each reads in one transaction: a check sees one state of a ledger that
    /// a run is writing.
    pub fn verify(&self, depth: Depth) -> Result<Vec<Verdict>> {
        // A ledger of a schema before the chain, read as it is, has none to check (the
        // next run upgrades it and begins one); `forget verify` says so.
        let chained = super::schema::version(&self.conn)? >= super::schema::CHAIN_BEGINS;
        let checks: Vec<&Check> = CHECKS
            .iter()
            .filter(|c| c.depth <= depth && (chained || !c.name.starts_with("chain")))
            .collect();
        let (first, rest) = match checks.split_first() {
            Some((c, rest)) if c.name == "sqlite_quick_check" => (Some(*c), rest),
            _ => (None, &checks[..]),
        };
        let next = AtomicUsize::new(0);
        let take = |conn: &Connection| -> Vec<(usize, Result<Verdict>)> {
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(check) = rest.get(i) else {
                    return done;
                };
                done.push((i, run_one(conn, check)));
            }
        };
        let (own, other) = std::thread::scope(|scope| {
            let other = self.second_reader().map(|conn| {
                let take = &take;
                scope.spawn(move || in_one_read(&conn, || Ok(take(&conn))))
            });
            let own = in_one_read(&self.conn, || {
                let quick = first.map(|c| run_one(&self.conn, c));
                Ok((quick, take(&self.conn)))
            });
            let other = other.map(|t| {
                t.join()
                    .unwrap_or_else(|_| Err(Error::internal("a ledger check's thread panicked")))
            });
            (own, other)
        });
        let (quick, mut done) = own?;
        if let Some(other) = other {
            done.extend(other?);
        }
        done.sort_by_key(|(i, _)| *i);
        quick
            .into_iter()
            .chain(done.into_iter().map(|(_, v)| v))
            .collect()
    }

    /// Refuse a ledger that fails a check of `depth`, naming the checks and `forget verify`.
    pub fn ensure_sound(&self, depth: Depth) -> Result<()> {
        let failed: Vec<String> = self
            .verify(depth)?
            .iter()
            .filter(|v| !v.ok)
            .map(Verdict::line)
            .collect();
        if failed.is_empty() {
            return Ok(());
        }
        Err(Error::Unsound {
            path: self.path.clone(),
            message: format!(
                "it fails its checks, so it cannot be trusted as a record of what was sent: {}. \
                 `forget verify --state {}` lists every check; restore the ledger from a backup",
                failed.join("; "),
                self.path.display()
            ),
        })
    }
}

/// One check's verdict, read on `conn`.
fn run_one(conn: &Connection, check: &Check) -> Result<Verdict> {
    let began = std::time::Instant::now();
    let found = match (check.run)(conn) {
        Ok(found) => found,
        Err(e) if is_corruption(&e) => Some((1, format!("SQLite reports: {e}"))),
        Err(e) => return Err(e.into()),
    };
    tracing::debug!(
        check = check.name,
        ms = began.elapsed().as_millis() as u64,
        "ledger check"
    );
    Ok(Verdict {
        check: check.name,
        about: check.about,
        ok: found.is_none(),
        problems: found.as_ref().map_or(0, |(n, _)| *n),
        detail: found.map(|(_, what)| what),
    })
}

/// `read` inside one read transaction on `conn`, ended whatever it returns.
fn in_one_read<T>(conn: &Connection, read: impl FnOnce() -> Result<T>) -> Result<T> {
    conn.execute_batch("BEGIN")?;
    let result = read();
    // Nothing was written: ending it cannot lose anything, and a failure to is no verdict.
    let _ = conn.execute_batch("ROLLBACK");
    result
}

fn is_corruption(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseCorrupt) | Some(ErrorCode::NotADatabase)
    )
}

/// `n` of something, singular or plural: "1 unit", "3 units".
fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn scalar(conn: &Connection, sql: &str) -> rusqlite::Result<u64> {
    conn.query_row(sql, [], |r| r.get::<_, i64>(0))
        .map(|n| n.max(0) as u64)
}

/// `Some` when `n` is not zero.
fn found(n: u64, what: impl FnOnce(u64) -> String) -> Problems {
    (n > 0).then(|| (n, what(n)))
}

mod rules;

pub(crate) use rules::stored_text;
use rules::*;

#[cfg(test)]
mod tests;
