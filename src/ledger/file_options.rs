//! A file's input options, recorded with it: how its rows were read (key column, default
//! profile, run-wide audit fields, received-date column and layout, kept columns,
//! delimiter, connector). A file is known by its content; reading the same content with
//! other options would record other requests, or silently keep the old reading, so a run
//! that asks for it is refused, naming each difference — unless only a dry run recorded
//! the file, which a later run then replaces.

use rusqlite::params;
use serde::{Deserialize, Serialize};

use super::Ledger;
use super::events::{self, Event};
use crate::actor::Actor;
use crate::error::Result;
use crate::input::{InputFile, InputOptions};

/// How a file's rows were read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileOptions {
    pub connector: String,
    pub key_column: String,
    /// Webex: the `--profile-name` default ('' = the tenant's); Outreach: the resource.
    pub profile_default: String,
    /// `--exparam` defaults, `exparamN` → value.
    pub exparams: Vec<(String, String)>,
    pub received_column: Option<String>,
    /// The `--date-format` of the received column (none without one).
    pub date_format: Option<String>,
    pub keep_columns: Vec<String>,
    /// The delimiter the file was read with (given or detected).
    pub delimiter: String,
    /// Recorded before options were (schema 6 and older): the audit fields, date layout
    /// and delimiter are not known, and not compared.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub legacy: bool,
}

/// What a run does with a file it was given, decided before anything is recorded or sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FilePlan {
    /// Not in the ledger: recorded with these options.
    New,
    /// Recorded with the same options (by a dry run only when `dry_run`).
    Recorded { id: i64, dry_run: bool },
    /// Recorded by a dry run only, with other options: replaced.
    ReplaceDry { id: i64, old: FileOptions },
    /// Recorded (for real) with other options: the run is refused.
    Refuse { old: FileOptions },
}

impl FilePlan {
    /// Whether a real run records the file's rows anew, or for real for the first time: its
    /// default profile is then about to be used.
    pub fn is_new_work(&self) -> bool {
        match self {
            FilePlan::New | FilePlan::ReplaceDry { .. } => true,
            FilePlan::Recorded { dry_run, .. } => *dry_run,
            FilePlan::Refuse { .. } => false,
        }
    }
}

/// Column names as the input matches them.
fn column(name: &str) -> String {
    name.trim().to_ascii_lowercase().replace('_', "-")
}

fn shown(value: Option<&str>) -> String {
    match value {
        None => "(none)".into(),
        Some(v) => format!("{v:?}"),
    }
}

fn delimiter_name(d: u8) -> String {
    match d {
        b'\t' => "\\t".into(),
        d => char::from(d).to_string(),
    }
}

impl FileOptions {
    /// The options `file` is read with in this run.
    pub fn of(connector: &str, file: &InputFile, opts: &InputOptions) -> FileOptions {
        FileOptions {
            connector: connector.to_owned(),
            key_column: opts.key_column.clone(),
            profile_default: opts.profile_default.clone(),
            exparams: opts.exparam_defaults.clone(),
            received_column: opts.received_column.clone(),
            date_format: opts
                .received_column
                .as_ref()
                .map(|_| opts.date_format.name().to_owned()),
            keep_columns: opts.keep_columns.clone(),
            delimiter: delimiter_name(file.delimiter),
            legacy: false,
        }
    }

    fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }

    /// Each way `new` reads the file differently from `self` (the recorded options), as
    /// `--flag: old → new`.
    pub fn differences(&self, new: &FileOptions) -> Vec<String> {
        let mut out = Vec::new();
        let mut differ = |flag: &str, old: String, new: String| {
            if old != new {
                out.push(format!("{flag}: {old} → {new}"));
            }
        };
        differ("--connector", self.connector.clone(), new.connector.clone());
        if column(&self.key_column) != column(&new.key_column) {
            differ(
                "--key-column",
                shown(Some(&self.key_column)),
                shown(Some(&new.key_column)),
            );
        }
        let profile = |p: &str| match p {
            "" => "(the tenant's default)".to_owned(),
            p => format!("{p:?}"),
        };
        differ(
            "--profile-name",
            profile(&self.profile_default),
            profile(&new.profile_default),
        );
        if column(self.received_column.as_deref().unwrap_or_default())
            != column(new.received_column.as_deref().unwrap_or_default())
        {
            differ(
                "--received-column",
                shown(self.received_column.as_deref()),
                shown(new.received_column.as_deref()),
            );
        }
        let keep = |k: &[String]| {
            let mut k: Vec<String> = k.iter().map(|c| column(c)).collect();
            k.sort();
            k
        };
        if keep(&self.keep_columns) != keep(&new.keep_columns) {
            let list = |k: &[String]| match k.is_empty() {
                true => "(none)".to_owned(),
                false => k.join(", "),
            };
            differ(
                "--keep-column",
                list(&self.keep_columns),
                list(&new.keep_columns),
            );
        }
        if self.legacy {
            return out;
        }
        if self.received_column.is_some() && new.received_column.is_some() {
            differ(
                "--date-format",
                shown(self.date_format.as_deref()),
                shown(new.date_format.as_deref()),
            );
        }
        let exparams = |e: &[(String, String)]| {
            let mut e = e.to_vec();
            e.sort();
            match e.is_empty() {
                true => "(none)".to_owned(),
                false => e
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            }
        };
        differ(
            "--exparam",
            exparams(&self.exparams),
            exparams(&new.exparams),
        );
        differ(
            "--delimiter",
            format!("'{}'", self.delimiter),
            format!("'{}'", new.delimiter),
        );
        out
    }

    /// The same reading of the file.
    pub fn same_as(&self, new: &FileOptions) -> bool {
        self.differences(new).is_empty()
    }
}

/// Why a run is refused: the file, what differs, and the ways forward.
pub fn refusal(path: &str, old: &FileOptions, new: &FileOptions) -> String {
    let mut message = format!(
        "{path} is already in the ledger, recorded with other input options; nothing was sent. \
         It differs in:\n"
    );
    for d in old.differences(new) {
        message.push_str(&format!("  {d}\n"));
    }
    message.push_str(
        "A file is known by its content, and its rows were recorded as read then. Either run \
         it with the options it was recorded with; or, to send its rows under another \
         profile or with other columns, put the corrected rows in a new file and run that; \
         or start a new ledger (--state PATH).",
    );
    message
}

impl Ledger {
    /// What a run does with a file of this content read with `options` (see [`FilePlan`]).
    pub fn file_plan(&self, sha256: &str, options: &FileOptions) -> Result<FilePlan> {
        let mut stmt = self.conn.prepare(
            "SELECT id, options, dry_run, profile_default, key_column, extra_columns,
                    received_column
             FROM files WHERE connector = ?1 AND sha256 = ?2 ORDER BY id",
        )?;
        let recorded = stmt
            .query_map(params![options.connector, sha256], |r| {
                let options: Option<String> = r.get(1)?;
                let legacy = || FileOptions {
                    connector: String::new(),
                    key_column: String::new(),
                    profile_default: String::new(),
                    exparams: Vec::new(),
                    received_column: None,
                    date_format: None,
                    keep_columns: Vec::new(),
                    delimiter: String::new(),
                    legacy: true,
                };
                let mut found = options
                    .and_then(|o| serde_json::from_str::<FileOptions>(&o).ok())
                    .unwrap_or_else(legacy);
                if found.legacy {
                    let keep: Option<String> = r.get(5)?;
                    found.profile_default = r.get(3)?;
                    found.key_column = r.get(4)?;
                    found.keep_columns = keep
                        .and_then(|k| serde_json::from_str(&k).ok())
                        .unwrap_or_default();
                    found.received_column = r.get(6)?;
                }
                Ok((r.get::<_, i64>(0)?, found, r.get::<_, bool>(2)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let Some(first) = recorded.first() else {
            return Ok(FilePlan::New);
        };
        let mut first = first.clone();
        first.1.connector = options.connector.clone();
        if let Some((id, _, dry_run)) = recorded.iter().find(|(_, old, _)| {
            let mut old = old.clone();
            old.connector = options.connector.clone();
            old.same_as(options)
        }) {
            return Ok(FilePlan::Recorded {
                id: *id,
                dry_run: *dry_run,
            });
        }
        let (id, old, dry_run) = first;
        Ok(match (dry_run, recorded.len()) {
            (true, 1) => FilePlan::ReplaceDry { id, old },
            _ => FilePlan::Refuse { old },
        })
    }

    /// Record a new file read with `options`: its entry, and an `options_recorded` event.
    pub fn record_new_file(
        &mut self,
        path: &str,
        sha256: &str,
        options: &FileOptions,
        dry_run: bool,
        actor: &Actor,
    ) -> Result<i64> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO files (connector, path, sha256, profile_default, key_column, added_at,
                                extra_columns, received_column, options, dry_run)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                options.connector,
                path,
                sha256,
                options.profile_default,
                options.key_column,
                super::timestamp(std::time::SystemTime::now()),
                keep_json(&options.keep_columns),
                options.received_column,
                options.to_json(),
                dry_run,
            ],
        )?;
        let id = tx.last_insert_rowid();
        super::chain::append_file(&tx, id)?;
        options_event(&tx, actor, id, options, dry_run, None)?;
        tx.commit()?;
        Ok(id)
    }

    /// A file a dry run recorded, now given to a real run with the same options: from
    /// here on it, and the units it brought, are the real run's.
    pub fn adopt_dry_file(&mut self, id: i64, options: &FileOptions, actor: &Actor) -> Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute("UPDATE files SET dry_run = 0 WHERE id = ?1", [id])?;
        tx.execute(
            "UPDATE units SET dry_run = 0 WHERE dry_run = 1
               AND (row_file_id = ?1 OR id IN (SELECT unit_id FROM row_records WHERE file_id = ?1))",
            [id],
        )?;
        options_event(
            &tx,
            actor,
            id,
            options,
            false,
            Some("recorded by a dry run"),
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Replace a file only a dry run recorded (read then with `old`): its rows are dropped,
    /// and the units only they brought (never sent: a dry run's units are not), and the
    /// file is recorded again from its first line with `new`. A `dry_run_replaced` event
    /// keeps the old options.
    pub fn replace_dry_file(
        &mut self,
        id: i64,
        old: &FileOptions,
        new: &FileOptions,
        dry_run: bool,
        actor: &Actor,
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        // The units the file's rows point at, before the rows go.
        tx.execute_batch(
            "CREATE TEMP TABLE IF NOT EXISTS replaced_units (id INTEGER PRIMARY KEY);
             DELETE FROM temp.replaced_units;",
        )?;
        tx.execute(
            "INSERT OR IGNORE INTO temp.replaced_units
               SELECT unit_id FROM row_records WHERE file_id = ?1 AND unit_id IS NOT NULL
               UNION SELECT id FROM units WHERE row_file_id = ?1",
            [id],
        )?;
        let rows: i64 = tx.query_row(
            "SELECT (SELECT count(*) FROM row_records WHERE file_id = ?1)
                  + (SELECT count(*) FROM units WHERE row_file_id = ?1)",
            [id],
            |r| r.get(0),
        )?;
        tx.execute("DELETE FROM row_records WHERE file_id = ?1", [id])?;
        tx.execute(
            "UPDATE units SET row_file_id = NULL, row_line = NULL WHERE row_file_id = ?1",
            [id],
        )?;
        // Units left with no row at all were this file's alone: never sent, they go.
        let dropped = tx.execute(
            "DELETE FROM units WHERE id IN (SELECT id FROM temp.replaced_units)
               AND attempts = 0 AND row_line IS NULL
               AND NOT EXISTS (SELECT 1 FROM row_records r WHERE r.unit_id = units.id)",
            [],
        )?;
        // A unit whose request row was in the file and which other rows still repeat: the
        // first of those becomes its request.
        tx.execute(
            "UPDATE row_records SET kind = 'request'
             WHERE kind = 'duplicate' AND (file_id, line) IN (
               SELECT (SELECT r.file_id FROM row_records r WHERE r.unit_id = u.id
                       ORDER BY r.file_id, r.line LIMIT 1),
                      (SELECT r.line FROM row_records r WHERE r.unit_id = u.id
                       ORDER BY r.file_id, r.line LIMIT 1)
               FROM units u WHERE u.id IN (SELECT id FROM temp.replaced_units)
                 AND u.row_line IS NULL
                 AND NOT EXISTS (SELECT 1 FROM row_records r
                                 WHERE r.unit_id = u.id AND r.kind = 'request'))",
            [],
        )?;
        // Their due dates are those of the rows they keep.
        tx.execute(
            "UPDATE units SET due_on = (SELECT min(r.due_on) FROM row_records r
                                        WHERE r.unit_id = units.id)
             WHERE id IN (SELECT id FROM temp.replaced_units)",
            [],
        )?;
        tx.execute(
            "UPDATE files SET profile_default = ?2, key_column = ?3, extra_columns = ?4,
                    received_column = ?5, options = ?6, dry_run = ?7, rows = NULL,
                    recorded_through = 0, recorded_rows = 0
             WHERE id = ?1",
            params![
                id,
                new.profile_default,
                new.key_column,
                keep_json(&new.keep_columns),
                new.received_column,
                new.to_json(),
                dry_run,
            ],
        )?;
        events::record(
            &tx,
            actor,
            &Event {
                kind: "dry_run_replaced",
                file_id: Some(id),
                line: None,
                unit_id: None,
                reason: Some("recorded by a dry run only, now read with other options"),
                detail: Some(serde_json::json!({
                    "old_options": old,
                    "new_options": new,
                    "rows_dropped": rows,
                    "units_dropped": dropped,
                })),
            },
        )?;
        options_event(&tx, actor, id, new, dry_run, None)?;
        tx.commit()?;
        Ok(())
    }

    /// Keys recorded by a dry run only: not sent until a real run is given their file.
    pub fn dry_run_units(&self, connector: &str) -> Result<u64> {
        let n: i64 = self.conn.query_row(
            // Dry-run units exist only while a file is recorded by a dry run alone (a real
            // run adopts the file, and its units, or a real file's rows make them real):
            // without one, the table is not read.
            "SELECT CASE WHEN EXISTS (SELECT 1 FROM files WHERE dry_run = 1)
                    THEN (SELECT count(*) FROM units WHERE connector = ?1 AND dry_run = 1)
                    ELSE 0 END",
            [connector],
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }
}

fn keep_json(keep: &[String]) -> Option<String> {
    (!keep.is_empty()).then(|| serde_json::to_string(keep).unwrap_or_else(|_| "[]".into()))
}

fn options_event(
    tx: &rusqlite::Transaction<'_>,
    actor: &Actor,
    file_id: i64,
    options: &FileOptions,
    dry_run: bool,
    was: Option<&str>,
) -> rusqlite::Result<i64> {
    let mut detail = serde_json::json!({ "options": options, "dry_run": dry_run });
    if let Some(was) = was {
        detail["was"] = serde_json::Value::String(was.to_owned());
    }
    events::record(
        tx,
        actor,
        &Event {
            kind: "options_recorded",
            file_id: Some(file_id),
            line: None,
            unit_id: None,
            reason: None,
            detail: Some(detail),
        },
    )
}

#[cfg(test)]
mod tests;
