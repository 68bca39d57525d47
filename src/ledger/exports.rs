//! Where access exports' documents were saved (table `exports`): the file name, relative to
//! `forget access --out-dir`, of each exported subject's document.

use rusqlite::OptionalExtension;

use super::Ledger;
use crate::error::Result;

impl Ledger {
    /// Whether this ledger records export files: one read as it is (an audit command never
    /// upgrades a ledger) may have been written before it did.
    pub fn records_exports(&self) -> Result<bool> {
        // Cached: `lookup` asks once per unit it shows.
        Ok(self
            .conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'exports')",
            )?
            .query_row([], |r| r.get(0))?)
    }

    /// An SQL expression for the export file of the unit aliased `u`, or `NULL` when the
    /// ledger records none.
    pub fn export_file_sql(&self) -> Result<&'static str> {
        Ok(if self.records_exports()? {
            "(SELECT e.file FROM exports e WHERE e.unit_id = u.id)"
        } else {
            "NULL"
        })
    }

    /// The document saved for unit `id`, if any.
    pub fn export_file(&self, id: i64) -> Result<Option<String>> {
        if !self.records_exports()? {
            return Ok(None);
        }
        Ok(self
            .conn
            .prepare_cached("SELECT file FROM exports WHERE unit_id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?)
    }
}
