//! Access exports (`forget access`) in their own words. Their units carry the erasure
//! outcomes (see [`crate::outcome::shown`]); `status`, `report` and its manifest show them
//! as subjects exported, with no data, rejected or failed.

use std::fmt::Write;
use std::path::Path;

use crate::error::Result;
use crate::ledger::deadlines::DeadlineSummary;
use crate::ledger::{Counts, Ledger};
use crate::outcome::ACCESS_CONNECTOR;
use crate::text::printable;

use super::status::{KeyStatus, render_deadlines, render_key};

/// Under the table of counts per connector, whose columns are the erasure outcomes.
pub const BY_SCOPE_NOTE: &str =
    "  (webex-access, access exports: deleted = exported, not_found = no data)\n";

/// An access ledger's subjects per outcome, in the words of exports.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct AccessCounts {
    pub subjects: u64,
    /// A document with the subject's transactions was saved.
    pub exported: u64,
    /// The API holds no transaction for the subject and query (an empty document was saved).
    pub no_data: u64,
    pub rejected: u64,
    pub failed: u64,
    pub pending: u64,
    pub invalid: u64,
    pub duplicates: u64,
}

impl AccessCounts {
    /// The ledger's access exports, or `None` when it holds none.
    pub fn of(ledger: &Ledger) -> Result<Option<AccessCounts>> {
        let c = Counts::of_connector(&ledger.counts_by_scope()?, ACCESS_CONNECTOR);
        if c.total + c.invalid + c.duplicates == 0 {
            return Ok(None);
        }
        Ok(Some(AccessCounts {
            subjects: c.total,
            exported: c.deleted,
            no_data: c.not_found,
            rejected: c.rejected,
            failed: c.failed,
            pending: c.pending,
            invalid: c.invalid,
            duplicates: c.duplicates,
        }))
    }

    /// Whether these are all the ledger holds (no erasure beside them).
    pub fn whole(&self, all: &Counts) -> bool {
        self.subjects == all.total && self.invalid == all.invalid
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "access exports:");
        for (name, n) in [
            ("subjects", self.subjects),
            ("exported", self.exported),
            ("no data", self.no_data),
            ("rejected", self.rejected),
            ("failed", self.failed),
            ("pending", self.pending),
            ("invalid rows", self.invalid),
            ("duplicate rows", self.duplicates),
        ] {
            let _ = writeln!(out, "  {name:<16}{n:>10}");
        }
        out
    }
}

/// `forget status` of a ledger holding access exports only: as for erasures, with the
/// counts in the words of exports.
pub fn render_status(
    path: &Path,
    counts: &AccessCounts,
    key: &KeyStatus,
    d: &DeadlineSummary,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "ledger: {}", printable(&path.display().to_string()));
    out.push_str(&render_key(key));
    out.push_str(&counts.render());
    if d.dated > 0 {
        // The same labels, padded alike, in the words of exports.
        out.push_str(&render_deadlines(d).replace("erased late     ", "exported late   "));
        if d.overdue + d.erased_late > 0 {
            let _ = writeln!(
                out,
                "  `forget status --deadlines{}` lists them all",
                crate::text::state_flag(path)
            );
        }
    }
    out
}
