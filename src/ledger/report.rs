//! The facts behind `forget report`: every request row with its unit's fate, streamed in
//! file and line order, and the files, runs and purges a manifest lists.

use rusqlite::params;

use super::requests::{self, STATE, State};
use super::{Ledger, Pairs};
use crate::error::Result;
use crate::keys::mask;

/// One input row and what became of its key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReportRow {
    pub file: String,
    pub line: u64,
    /// `request`, `duplicate` or `invalid`.
    pub kind: String,
    /// The plaintext while the ledger still has it (unfinished units, unpurged invalid
    /// rows). Only `needs-attention.csv` ever writes it.
    pub key: Option<String>,
    pub key_masked: String,
    /// HMAC-SHA256 of the key with the ledger key, hex; none for invalid rows.
    pub key_hash: Option<String>,
    pub connector: Option<String>,
    pub profile_name: Option<String>,
    /// The unit's outcome, or `invalid`.
    pub outcome: String,
    pub http_status: Option<i64>,
    pub code: Option<String>,
    /// The API's description, or why an invalid row is invalid.
    pub description: Option<String>,
    pub transaction_id: Option<String>,
    pub attempts: u64,
    pub first_attempt_at: Option<String>,
    pub last_attempt_at: Option<String>,
    pub finished_at: Option<String>,
    pub received_on: Option<String>,
    pub due_on: Option<String>,
    /// The audit fields sent with the unit's request.
    pub exparams: Pairs,
    /// The audit fields this row carried itself.
    pub row_exparams: Pairs,
    /// The `--keep-column` values of this row.
    pub extra: Pairs,
    /// An access export's document, relative to the `forget access --out-dir` folder.
    pub export_file: Option<String>,
    /// The request's state (see `ledger::requests`): `erased`, `rejected`, `corrected`, ….
    pub state: String,
    /// What ended it, when an event did: `resolved: REASON`, `corrected by FILE:LINE`.
    pub state_detail: Option<String>,
}

impl ReportRow {
    /// Finished for good: the person's data is gone.
    pub fn succeeded(&self) -> bool {
        matches!(self.state.as_str(), "erased" | "not_held")
    }

    fn state(&self) -> State {
        State::parse(&self.state).unwrap_or(State::Pending)
    }

    /// When the request ended, only if it has: a `failed` unit's time of giving up is not an
    /// end (the next run tries it again).
    pub fn finished_at_if_ended(&self) -> Option<&str> {
        (self.succeeded() || self.ended_by_event())
            .then_some(self.finished_at.as_deref())
            .flatten()
    }

    /// Ended by an operator's resolution or a later row's correction.
    pub fn ended_by_event(&self) -> bool {
        matches!(self.state(), State::Resolved | State::Corrected)
    }

    /// Open and someone has to act: a row fed back names it in its `ref` column.
    pub fn needs_attention(&self) -> bool {
        self.state().needs_attention()
    }

    /// The outcome in its connector's words (an access export's `exported`, `no_data`).
    pub fn outcome_shown(&self) -> &str {
        crate::outcome::shown(self.connector.as_deref(), &self.outcome)
    }
}

/// An input file, as the manifest lists it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FileFact {
    pub path: String,
    pub sha256: String,
    /// Data rows recorded (none while its recording is unfinished).
    pub rows: Option<u64>,
    pub requests: u64,
    pub duplicates: u64,
    pub invalid: u64,
    pub added_at: String,
    pub profile_default: String,
    pub key_column: String,
    pub received_column: Option<String>,
    pub kept_columns: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RunFact {
    pub id: i64,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub connector: String,
    pub api_host: Option<String>,
    pub rate: Option<String>,
    pub operator: Option<String>,
    pub host: Option<String>,
    pub tool_version: String,
    pub result: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PurgeFact {
    pub at: String,
    pub operator: Option<String>,
    pub host: Option<String>,
    pub outcomes: Vec<String>,
    pub units: u64,
    pub rows: u64,
}

fn json_list(text: Option<String>) -> Vec<String> {
    text.and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

impl Ledger {
    /// Call `each` for every input row whose outcome is in `outcomes` (all when `None`), in
    /// file and line order, one row in memory at a time. Returns how many were passed.
    pub fn for_each_report_row(
        &self,
        outcomes: Option<&[String]>,
        mut each: impl FnMut(ReportRow) -> Result<()>,
    ) -> Result<u64> {
        let filter = outcomes.map(|o| serde_json::to_string(o).unwrap_or_else(|_| "[]".into()));
        let export_file = self.export_file_sql()?;
        let mut stmt = self.conn.prepare(&format!(
            "SELECT f.path, r.line, r.kind, u.key, r.raw_key, u.key_masked, u.key_hash,
                    u.connector, u.scope, coalesce(u.outcome, 'invalid'), u.http_status, u.code,
                    coalesce(u.description, r.reason,
                        -- No answer to show (a timeout, a dropped connection): say so.
                        CASE WHEN u.outcome NOT IN ('deleted', 'not_found') THEN
                            (SELECT 'no answer: ' || a.error FROM attempts a
                             WHERE a.unit_id = u.id AND a.error IS NOT NULL
                             ORDER BY a.id DESC LIMIT 1) END),
                     u.transaction_id, coalesce(u.attempts, 0),
                    u.first_attempt_at, u.last_attempt_at, u.finished_at, r.received_on,
                    r.due_on, u.exparams, r.exparams, r.extra, {export_file}, {STATE}, ee.kind,
                    ee.reason, ee.detail
             FROM {}
             WHERE ?1 IS NULL OR coalesce(u.outcome, 'invalid') IN (SELECT value FROM json_each(?1))
             ORDER BY r.file_id, r.line",
            requests::from_clause(&self.conn)?
        ))?;
        let mut rows = stmt.query(params![filter])?;
        let mut n = 0;
        while let Some(r) = rows.next()? {
            let unit_key: Option<String> = r.get(3)?;
            let raw_key: Option<String> = r.get(4)?;
            let raw_key = raw_key
                .map(|k| k.trim().to_owned())
                .filter(|k| !k.is_empty());
            let key_masked: Option<String> = r.get(5)?;
            let pairs = |text: Option<String>| Pairs::parse(text.as_deref());
            each(ReportRow {
                file: r.get(0)?,
                line: r.get::<_, i64>(1)? as u64,
                kind: r.get(2)?,
                key_masked: key_masked
                    .or_else(|| raw_key.as_deref().map(mask))
                    .unwrap_or_default(),
                key: unit_key.or(raw_key),
                key_hash: r.get::<_, Option<Vec<u8>>>(6)?.map(hex::encode),
                connector: r.get(7)?,
                profile_name: r.get(8)?,
                outcome: r.get(9)?,
                http_status: r.get(10)?,
                code: r.get(11)?,
                description: r.get(12)?,
                transaction_id: r.get(13)?,
                attempts: r.get::<_, i64>(14)? as u64,
                first_attempt_at: r.get(15)?,
                last_attempt_at: r.get(16)?,
                finished_at: r.get(17)?,
                received_on: r.get(18)?,
                due_on: r.get(19)?,
                exparams: pairs(r.get(20)?),
                row_exparams: pairs(r.get(21)?),
                extra: pairs(r.get(22)?),
                export_file: r.get(23)?,
                state: r.get(24)?,
                state_detail: r
                    .get::<_, Option<String>>(25)?
                    .map(|kind| -> rusqlite::Result<String> {
                        Ok(requests::describe_end(&kind, r.get(26)?, r.get(27)?))
                    })
                    .transpose()?,
            })?;
            n += 1;
        }
        Ok(n)
    }

    /// Whether the ledger holds access exports (its report then maps them to documents).
    pub fn holds_access_units(&self) -> Result<bool> {
        Ok(self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM units WHERE connector = ?1)",
            [crate::outcome::ACCESS_CONNECTOR],
            |r| r.get(0),
        )?)
    }

    /// The exparam names used anywhere, in numeric order: the report's exparam columns.
    pub fn exparam_names(&self) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare(
            "SELECT DISTINCT j.key FROM units u, json_each(u.exparams) j WHERE u.exparams IS NOT NULL
             UNION
             SELECT DISTINCT j.key FROM row_records r, json_each(r.exparams) j WHERE r.exparams IS NOT NULL",
        )?;
        let mut names: Vec<String> = stmt
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        names.sort_by_key(|n| {
            n.trim_start_matches("exparam")
                .parse::<u8>()
                .unwrap_or(u8::MAX)
        });
        Ok(names)
    }

    /// The `--keep-column` names of every file, in the order first used.
    pub fn kept_column_names(&self) -> Result<Vec<String>> {
        let mut names = Vec::new();
        for file in self.file_facts()? {
            for name in file.kept_columns {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        Ok(names)
    }

    pub fn file_facts(&self) -> Result<Vec<FileFact>> {
        let mut stmt = self.conn.prepare(
            "SELECT f.path, f.sha256, f.rows, f.added_at, f.profile_default, f.key_column,
                    f.received_column, f.extra_columns,
                    (SELECT count(*) FROM row_records r WHERE r.file_id = f.id AND r.kind = 'request')
                      + (SELECT count(*) FROM units u WHERE u.row_file_id = f.id),
                    (SELECT count(*) FROM row_records r WHERE r.file_id = f.id AND r.kind = 'duplicate'),
                    (SELECT count(*) FROM row_records r WHERE r.file_id = f.id AND r.kind = 'invalid')
             FROM files f ORDER BY f.id",
        )?;
        let files = stmt
            .query_map([], |r| {
                Ok(FileFact {
                    path: r.get(0)?,
                    sha256: r.get(1)?,
                    rows: r.get::<_, Option<i64>>(2)?.map(|n| n as u64),
                    added_at: r.get(3)?,
                    profile_default: r.get(4)?,
                    key_column: r.get(5)?,
                    received_column: r.get(6)?,
                    kept_columns: json_list(r.get(7)?),
                    requests: r.get::<_, i64>(8)? as u64,
                    duplicates: r.get::<_, i64>(9)? as u64,
                    invalid: r.get::<_, i64>(10)? as u64,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(files)
    }

    pub fn run_facts(&self) -> Result<Vec<RunFact>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, started_at, ended_at, connector, api_host, rate, operator, host,
                    tool_version, result
             FROM runs ORDER BY id",
        )?;
        let runs = stmt
            .query_map([], |r| {
                Ok(RunFact {
                    id: r.get(0)?,
                    started_at: r.get(1)?,
                    ended_at: r.get(2)?,
                    connector: r.get(3)?,
                    api_host: r.get(4)?,
                    rate: r.get(5)?,
                    operator: r.get(6)?,
                    host: r.get(7)?,
                    tool_version: r.get(8)?,
                    result: r.get(9)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(runs)
    }

    pub fn purge_facts(&self) -> Result<Vec<PurgeFact>> {
        let mut stmt = self
            .conn
            .prepare("SELECT at, operator, host, outcomes, units, rows FROM purges ORDER BY id")?;
        let purges = stmt
            .query_map([], |r| {
                Ok(PurgeFact {
                    at: r.get(0)?,
                    operator: r.get(1)?,
                    host: r.get(2)?,
                    outcomes: json_list(r.get(3)?),
                    units: r.get::<_, i64>(4)? as u64,
                    rows: r.get::<_, i64>(5)? as u64,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(purges)
    }
}
