//! The report's columns: the fixed ones, the exparams and kept columns a ledger holds, and
//! the input-shaped layout of `needs-attention.csv` that `forget run` reads back.

use super::sink::Shape;
use crate::ledger::Pairs;
use crate::ledger::report::ReportRow;

/// The report's column layout, fixed before the first row is written.
pub(super) struct Columns {
    exparams: Vec<String>,
    /// An `export_file` column (a ledger of access exports).
    export_file: bool,
    /// Kept column names, and the header each gets (prefixed when it would clash).
    extra: Vec<(String, String)>,
}

pub(super) const REPORT_FIXED: [&str; 20] = [
    "file",
    "line",
    "kind",
    "key_masked",
    "key_hash",
    "connector",
    "profile-name",
    "outcome",
    "http_status",
    "code",
    "description",
    "transaction_id",
    "attempts",
    "first_attempt_at",
    "last_attempt_at",
    "finished_at",
    "received_on",
    "due_on",
    "state",
    "state_detail",
];

/// The columns that are numbers in the JSON forms, and stay numbers in a spreadsheet. Every
/// other cell of digits (a key, a transaction id, a code, an audit field, a request id) is
/// written as text, so a spreadsheet keeps every digit (see [`crate::csvfile`]).
pub(super) const NUMBERS: [&str; 3] = ["line", "http_status", "attempts"];

/// The column of an access export's document (a ledger of `forget access`).
pub(super) const EXPORT_FILE: &str = "export_file";

/// The columns after the input-shaped ones in needs-attention.csv. `ref` (FILE:LINE of a
/// request that needs attention) is read back by `forget run`: the row fed back corrects it.
pub(super) const ATTENTION_INFO: [&str; 8] = [
    "outcome",
    "code",
    "description",
    "file",
    "line",
    "key_masked",
    "state",
    crate::input::REF_COLUMN,
];

impl Columns {
    pub(super) fn new(exparams: Vec<String>, kept: Vec<String>) -> Columns {
        let taken = |n: &str| {
            let n = n.to_ascii_lowercase();
            REPORT_FIXED.contains(&n.as_str())
                || ATTENTION_INFO.contains(&n.as_str())
                || n == EXPORT_FILE
                || n == "key"
                || n == "received"
                || n.starts_with("exparam")
        };
        let extra = kept
            .into_iter()
            .map(|name| {
                let header = if taken(&name) {
                    format!("extra:{name}")
                } else {
                    name.clone()
                };
                (name, header)
            })
            .collect();
        Columns {
            exparams,
            export_file: false,
            extra,
        }
    }

    /// With an `export_file` column after the fixed ones: each request's document.
    pub(super) fn with_export_file(mut self, yes: bool) -> Columns {
        self.export_file = yes;
        self
    }

    pub(super) fn header(&self, shape: Shape) -> Vec<String> {
        let mut h: Vec<String> = Vec::new();
        match shape {
            Shape::Report => {
                h.extend(REPORT_FIXED.iter().map(|s| s.to_string()));
                if self.export_file {
                    h.push(EXPORT_FILE.into());
                }
                h.extend(self.exparams.iter().cloned());
            }
            Shape::Attention => {
                h.push("key".into());
                h.push("profile-name".into());
                h.extend(self.exparams.iter().cloned());
                h.push("received".into());
            }
        }
        h.extend(self.extra.iter().map(|(_, header)| header.clone()));
        if shape == Shape::Attention {
            h.extend(ATTENTION_INFO.iter().map(|s| s.to_string()));
        }
        h
    }

    pub(super) fn record(&self, shape: Shape, row: &ReportRow) -> Vec<String> {
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        let pick = |pairs: &Pairs, name: &str| pairs.get(name).unwrap_or_default().to_owned();
        let mut r = Vec::with_capacity(32);
        match shape {
            Shape::Report => {
                r.extend([
                    row.file.clone(),
                    row.line.to_string(),
                    row.kind.clone(),
                    row.key_masked.clone(),
                    opt(&row.key_hash),
                    opt(&row.connector),
                    opt(&row.profile_name),
                    row.outcome_shown().to_owned(),
                    row.http_status.map(|s| s.to_string()).unwrap_or_default(),
                    opt(&row.code),
                    opt(&row.description),
                    opt(&row.transaction_id),
                    row.attempts.to_string(),
                    // Read as date-times by spreadsheets; the JSON forms keep the precision.
                    spreadsheet_time(row.first_attempt_at.as_deref()),
                    spreadsheet_time(row.last_attempt_at.as_deref()),
                    spreadsheet_time(row.finished_at_if_ended()),
                    opt(&row.received_on),
                    opt(&row.due_on),
                    row.state.clone(),
                    opt(&row.state_detail),
                ]);
                if self.export_file {
                    r.push(opt(&row.export_file));
                }
                r.extend(self.exparams.iter().map(|n| pick(&row.exparams, n)));
            }
            Shape::Attention => {
                r.push(opt(&row.key));
                r.push(opt(&row.profile_name));
                // What this row would send again: its own fields, then those its unit sent.
                r.extend(self.exparams.iter().map(|n| {
                    let own = pick(&row.row_exparams, n);
                    if own.is_empty() {
                        pick(&row.exparams, n)
                    } else {
                        own
                    }
                }));
                r.push(opt(&row.received_on));
            }
        }
        r.extend(self.extra.iter().map(|(name, _)| pick(&row.extra, name)));
        if shape == Shape::Attention {
            r.extend([
                row.outcome_shown().to_owned(),
                opt(&row.code),
                opt(&row.description),
                row.file.clone(),
                row.line.to_string(),
                row.key_masked.clone(),
                row.state.clone(),
                match row.needs_attention() {
                    true => format!("{}:{}", row.file, row.line),
                    false => String::new(),
                },
            ]);
        }
        r
    }
}

/// A report row as JSON, fields in report order.
#[derive(serde::Serialize)]
pub(super) struct JsonRow<'a> {
    file: &'a str,
    line: u64,
    kind: &'a str,
    key_masked: &'a str,
    key_hash: &'a Option<String>,
    connector: &'a Option<String>,
    profile_name: &'a Option<String>,
    outcome: &'a str,
    http_status: Option<i64>,
    code: &'a Option<String>,
    description: &'a Option<String>,
    transaction_id: &'a Option<String>,
    attempts: u64,
    first_attempt_at: &'a Option<String>,
    last_attempt_at: &'a Option<String>,
    finished_at: Option<&'a str>,
    received_on: &'a Option<String>,
    due_on: &'a Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    export_file: &'a Option<String>,
    state: &'a str,
    state_detail: &'a Option<String>,
    exparams: &'a Pairs,
    extra: &'a Pairs,
}

impl<'a> From<&'a ReportRow> for JsonRow<'a> {
    fn from(r: &'a ReportRow) -> Self {
        JsonRow {
            file: &r.file,
            line: r.line,
            kind: &r.kind,
            key_masked: &r.key_masked,
            key_hash: &r.key_hash,
            connector: &r.connector,
            profile_name: &r.profile_name,
            outcome: r.outcome_shown(),
            http_status: r.http_status,
            code: &r.code,
            description: &r.description,
            transaction_id: &r.transaction_id,
            attempts: r.attempts,
            first_attempt_at: &r.first_attempt_at,
            last_attempt_at: &r.last_attempt_at,
            finished_at: r.finished_at_if_ended(),
            received_on: &r.received_on,
            due_on: &r.due_on,
            export_file: &r.export_file,
            state: &r.state,
            state_detail: &r.state_detail,
            exparams: &r.exparams,
            extra: &r.extra,
        }
    }
}

/// An RFC 3339 UTC time as spreadsheets read a date-time: `2026-11-30 03:59:14` (UTC, to the
/// second). Anything else is passed through.
fn spreadsheet_time(t: Option<&str>) -> String {
    let Some(t) = t else { return String::new() };
    match (t.get(..10), t.get(10..11), t.get(11..19)) {
        (Some(date), Some("T"), Some(time)) if t.ends_with('Z') => format!("{date} {time}"),
        _ => t.to_owned(),
    }
}
