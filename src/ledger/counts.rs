//! Counts per outcome, for the whole ledger and per connector and scope, and the table that
//! shows them side by side.

use std::collections::BTreeMap;

use super::Ledger;
use crate::connector::Kind;
use crate::error::Result;
use crate::outcome::Outcome;

/// Counts per outcome, as `forget status --json` prints them.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub total: u64,
    pub deleted: u64,
    pub not_found: u64,
    pub rejected: u64,
    pub failed: u64,
    pub pending: u64,
    pub invalid: u64,
    pub duplicates: u64,
}

impl Counts {
    pub fn get(&self, outcome: Outcome) -> u64 {
        match outcome {
            Outcome::Pending => self.pending,
            Outcome::Deleted => self.deleted,
            Outcome::NotFound => self.not_found,
            Outcome::Rejected => self.rejected,
            Outcome::Failed => self.failed,
        }
    }

    fn slot(&mut self, outcome: Outcome) -> &mut u64 {
        match outcome {
            Outcome::Pending => &mut self.pending,
            Outcome::Deleted => &mut self.deleted,
            Outcome::NotFound => &mut self.not_found,
            Outcome::Rejected => &mut self.rejected,
            Outcome::Failed => &mut self.failed,
        }
    }
}

/// Counts for one connector and scope (Webex profile, Outreach resource), for
/// `forget status` when a ledger holds more than one system.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ScopeCounts {
    pub connector: String,
    pub scope: String,
    #[serde(flatten)]
    pub counts: Counts,
}

impl Counts {
    /// One connector's counts, from [`Ledger::counts_by_scope`].
    pub fn of_connector(by_scope: &[ScopeCounts], connector: &str) -> Counts {
        let mut counts = Counts::default();
        for group in by_scope.iter().filter(|g| g.connector == connector) {
            counts.add(&group.counts);
        }
        counts
    }

    /// Count `n` more of `outcome` (a stored outcome's name) in the total and its field.
    pub(crate) fn add_outcome(&mut self, outcome: &str, n: u64) {
        if let Some(o) = Outcome::parse(outcome) {
            *self.slot(o) += n;
        }
        self.total += n;
    }

    fn add(&mut self, other: &Counts) {
        self.total += other.total;
        self.deleted += other.deleted;
        self.not_found += other.not_found;
        self.rejected += other.rejected;
        self.failed += other.failed;
        self.pending += other.pending;
        self.invalid += other.invalid;
        self.duplicates += other.duplicates;
    }
}

impl Ledger {
    pub fn counts(&self) -> Result<Counts> {
        let mut counts = Counts::default();
        let mut stmt = self
            .conn
            // Grouped in the order of `units_by_outcome`, which then answers alone, unsorted.
            .prepare("SELECT outcome, count(*) FROM units GROUP BY connector, outcome")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let outcome: String = row.get(0)?;
            let n: i64 = row.get(1)?;
            if let Some(o) = Outcome::parse(&outcome) {
                *counts.slot(o) += n as u64;
            }
            counts.total += n as u64;
        }
        let (invalid, duplicates): (i64, i64) = self.conn.query_row(
            "SELECT coalesce(sum(kind = 'invalid'), 0), coalesce(sum(kind = 'duplicate'), 0)
             FROM row_records",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        counts.invalid = invalid as u64;
        counts.duplicates = duplicates as u64;
        Ok(counts)
    }

    /// Counts per (connector, scope), in that order. Invalid rows have no unit: they count
    /// under the connector and default scope their file was read for.
    pub fn counts_by_scope(&self) -> Result<Vec<ScopeCounts>> {
        let mut groups: BTreeMap<(String, String), Counts> = BTreeMap::new();
        let mut stmt = self
            .conn
            // In the order of `units_by_outcome`, which then answers alone.
            .prepare(
                "SELECT connector, scope, outcome, count(*) FROM units
                 GROUP BY connector, outcome, scope",
            )?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let c = groups.entry((row.get(0)?, row.get(1)?)).or_default();
            let outcome: String = row.get(2)?;
            let n = row.get::<_, i64>(3)? as u64;
            if let Some(o) = Outcome::parse(&outcome) {
                *c.slot(o) += n;
            }
            c.total += n;
        }
        // (connector, scope, count) rows, each count added to one field of its group.
        let mut add = |sql: &str, field: fn(&mut Counts) -> &mut u64| -> Result<()> {
            let mut stmt = self.conn.prepare(sql)?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                let group = groups.entry((row.get(0)?, row.get(1)?)).or_default();
                *field(group) += row.get::<_, i64>(2)? as u64;
            }
            Ok(())
        };
        add(
            "SELECT u.connector, u.scope, count(*) FROM row_records r JOIN units u ON u.id = r.unit_id
             WHERE r.kind = 'duplicate' GROUP BY 1, 2",
            |c| &mut c.duplicates,
        )?;
        add(
            "SELECT f.connector, f.profile_default, count(*) FROM row_records r
             JOIN files f ON f.id = r.file_id WHERE r.kind = 'invalid' GROUP BY 1, 2",
            |c| &mut c.invalid,
        )?;
        Ok(groups
            .into_iter()
            .map(|((connector, scope), counts)| ScopeCounts {
                connector,
                scope,
                counts,
            })
            .collect())
    }
}

/// Whether a ledger's counts need the per-connector table: it holds another system than
/// Webex Campaign (a Webex-only ledger keeps its familiar one-table summary).
pub fn shows_connectors(by_scope: &[ScopeCounts]) -> bool {
    by_scope.iter().any(|g| g.connector != Kind::Webex.name())
}

/// One line per connector and scope: keys per outcome, and invalid and duplicate rows.
pub fn render_by_scope(by_scope: &[ScopeCounts]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let width = by_scope
        .iter()
        .map(|g| g.scope.chars().count())
        .chain([9])
        .max()
        .unwrap_or(9)
        .min(40);
    let _ = writeln!(
        out,
        "  {:<10} {:<width$} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10}",
        "connector",
        "scope",
        "keys",
        "deleted",
        "not_found",
        "rejected",
        "failed",
        "pending",
        "invalid",
        "duplicates"
    );
    for g in by_scope {
        let c = &g.counts;
        let scope = if g.scope.is_empty() {
            "(default)".to_owned()
        } else {
            g.scope.chars().take(width).collect()
        };
        let _ = writeln!(
            out,
            "  {:<10} {:<width$} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10}",
            g.connector,
            scope,
            c.total,
            c.deleted,
            c.not_found,
            c.rejected,
            c.failed,
            c.pending,
            c.invalid,
            c.duplicates
        );
    }
    out
}
