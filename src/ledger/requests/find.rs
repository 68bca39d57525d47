//! Finding requests by where they were asked: a file and a line.

use std::collections::HashMap;

use rusqlite::OptionalExtension;

use super::{Request, State};
use crate::error::Result;
use crate::ledger::Ledger;

impl Ledger {
    /// The state of the request at (`file_id`, `line`), if there is one.
    pub fn request_state(&self, file_id: i64, line: u64) -> Result<Option<State>> {
        let at = rusqlite::params![file_id, line as i64];
        let unit: Option<Option<i64>> = self
            .conn
            .query_row(
                "SELECT unit_id FROM row_records WHERE file_id = ?1 AND line = ?2",
                at,
                |r| r.get(0),
            )
            .optional()?;
        let unit = match unit {
            Some(unit) => unit,
            // Stored with its unit (a bulk load): no index finds it by row.
            None => self
                .conn
                .query_row(
                    "SELECT id FROM units WHERE row_file_id = ?1 AND row_line = ?2",
                    at,
                    |r| r.get(0),
                )
                .optional()?,
        };
        let found = match unit {
            Some(unit) => self.requests_where(
                "r.unit_id = ?1 AND r.file_id = ?2 AND r.line = ?3",
                rusqlite::params![unit, file_id, line as i64],
            )?,
            None => {
                self.requests_where("r.kind = 'invalid' AND r.file_id = ?1 AND r.line = ?2", at)?
            }
        };
        Ok(found.first().map(|r| r.state))
    }

    /// The request at `path:line` (every file recorded under that path: a path names the
    /// file it named when it was recorded, and an edited file is recorded again).
    pub fn requests_at(&self, path: &str, line: u64) -> Result<Vec<Request>> {
        Ok(self
            .requests_at_each(&[(path.to_owned(), line)])?
            .remove(&(path.to_owned(), line))
            .unwrap_or_default())
    }

    /// [`Ledger::requests_at`] for many places at once: a row stored in `row_records` is
    /// found by its key, one stored with its unit (bulk-loaded) by one pass over the units
    /// for them all (no index names a unit by its row).
    pub fn requests_at_each(
        &self,
        places: &[(String, u64)],
    ) -> Result<HashMap<(String, u64), Vec<Request>>> {
        let mut found: HashMap<(String, u64), Vec<Request>> = HashMap::new();
        let mut files = self
            .conn
            .prepare_cached("SELECT id FROM files WHERE path = ?1")?;
        let mut record = self
            .conn
            .prepare_cached("SELECT unit_id FROM row_records WHERE file_id = ?1 AND line = ?2")?;
        let mut bulk: HashMap<(i64, u64), (String, u64)> = HashMap::new();
        for (path, line) in places {
            let ids: Vec<i64> = files
                .query_map([path], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            for file_id in ids {
                let unit: Option<Option<i64>> = record
                    .query_row(rusqlite::params![file_id, *line as i64], |r| r.get(0))
                    .map(Some)
                    .or_else(|e| match e {
                        rusqlite::Error::QueryReturnedNoRows => Ok(None),
                        e => Err(e),
                    })?;
                let requests = match unit {
                    None => {
                        bulk.insert((file_id, *line), (path.clone(), *line));
                        continue;
                    }
                    Some(Some(unit)) => self.requests_where(
                        "r.unit_id = ?1 AND r.file_id = ?2 AND r.line = ?3",
                        rusqlite::params![unit, file_id, *line as i64],
                    )?,
                    Some(None) => self.requests_where(
                        "r.kind = 'invalid' AND r.file_id = ?1 AND r.line = ?2",
                        rusqlite::params![file_id, *line as i64],
                    )?,
                };
                found
                    .entry((path.clone(), *line))
                    .or_default()
                    .extend(requests);
            }
        }
        if !bulk.is_empty() {
            let mut units = self.conn.prepare(
                "SELECT id, row_file_id, row_line FROM units WHERE row_line IS NOT NULL",
            )?;
            let mut rows = units.query([])?;
            let mut hits = Vec::new();
            while let Some(r) = rows.next()? {
                let at = (r.get::<_, i64>(1)?, r.get::<_, i64>(2)? as u64);
                if let Some(place) = bulk.get(&at) {
                    hits.push((r.get::<_, i64>(0)?, place.clone()));
                }
            }
            for (unit, place) in hits {
                let requests = self.requests_where(
                    "r.unit_id = ?1 AND r.line = ?2",
                    rusqlite::params![unit, place.1 as i64],
                )?;
                found.entry(place).or_default().extend(requests);
            }
        }
        for requests in found.values_mut() {
            requests.sort_by_key(|r| r.file_id);
        }
        Ok(found)
    }
}
