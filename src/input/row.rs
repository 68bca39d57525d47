//! Rows of an inspected file, parsed and checked one at a time: a bad row becomes
//! [`ParsedRow::Invalid`] with its reason and never stops the good rows.

use std::fs::File;
use std::io::BufReader;

use super::{InputFile, InputOptions, Layout, MAX_KEY_LEN, check_field, open};
use crate::csvfile;
use crate::deadline;
use crate::error::{Error, Result};
use crate::keys::redact;

/// An input row, parsed and validated .
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParsedRow {
    Request {
        line: u64,
        key: String,
        /// Profile name (Webex) or resource: part of the unit's identity.
        scope: String,
        /// Audit fields sent with the request: the row's own, then run-wide defaults.
        exparams: Vec<(String, String)>,
        /// The audit fields the row itself carried (kept per row for the report).
        row_exparams: Vec<(String, String)>,
        /// When the request was received (`--received-column`): sets its legal due date.
        received: Option<time::Date>,
        /// Why the received date could not be read (it is then `None`): the request is
        /// still recorded and sent, and the row flagged for attention.
        date_unreadable: Option<String>,
        /// Values of the `--keep-column` columns (e.g. a ticket id).
        extra: Vec<(String, String)>,
    },
    Invalid {
        line: u64,
        reason: String,
        /// The key as written, so the row can be fixed; the only plaintext a row keeps,
        /// until `forget purge --outcome invalid`.
        raw_key: Option<String>,
        extra: Vec<(String, String)>,
    },
}

/// `pairs` with `key` masked in every value. Kept columns are never sent and outlive the
/// key, so they are stored this way from the start (a ticket titled with the e-mail address
/// keeps only its masked form); audit fields are, once their key is gone.
pub fn without_key(pairs: &[(String, String)], key: &str) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.clone(), redact(v, key).into_owned()))
        .collect()
}

/// Streams the rows of an inspected file as [`ParsedRow`]s.
pub struct RowReader<'a> {
    reader: csv::Reader<BufReader<File>>,
    record: csv::ByteRecord,
    file: &'a InputFile,
    opts: &'a InputOptions,
}

impl InputFile {
    pub fn rows<'a>(&'a self, opts: &'a InputOptions) -> Result<RowReader<'a>> {
        let reader = csvfile::reader_builder(self.delimiter)
            .from_reader(BufReader::with_capacity(1 << 16, open(&self.path)?));
        Ok(RowReader {
            reader,
            record: csv::ByteRecord::new(),
            file: self,
            opts,
        })
    }
}

impl RowReader<'_> {
    /// The next row, or `None` at the end. An `Err` is a read failure of the file itself.
    pub fn next_row(&mut self) -> Result<Option<ParsedRow>> {
        match self.reader.read_byte_record(&mut self.record) {
            Ok(false) => Ok(None),
            Ok(true) => {
                let line =
                    self.record.position().map(|p| p.line()).unwrap_or(0) + self.file.line_offset;
                Ok(Some(parse_record(
                    &self.record,
                    line,
                    &self.file.layout,
                    self.opts,
                )))
            }
            Err(e) => match e.kind() {
                csv::ErrorKind::Io(_) => Err(Error::input(
                    &self.file.path,
                    format!("cannot read it: {e}"),
                )),
                _ => {
                    // The csv reader recovers at the next record; report this one as invalid.
                    let line = e.position().map(|p| p.line()).unwrap_or(0) + self.file.line_offset;
                    Ok(Some(ParsedRow::Invalid {
                        line,
                        reason: format!("unreadable CSV: {e}"),
                        raw_key: None,
                        extra: Vec::new(),
                    }))
                }
            },
        }
    }
}

/// A free-text cell (an audit field, a kept column) as read: spaces around it dropped, and
/// the spreadsheet escape forget writes undone ([`csvfile::unescape_cell`]), so a file
/// forget wrote reads back as what was written. Only spaces are trimmed: a tab or any other
/// control character left in the cell makes the row invalid ([`check_field`]), rather than
/// being trimmed into a different value (`\t=1+2` into the formula `=1+2`).
fn text_cell(raw: &str) -> &str {
    csvfile::unescape_cell(raw.trim_matches(' '))
}

/// An identifier cell (a key, a profile name) as read: trimmed of any whitespace, then
/// un-escaped. Control characters left inside make the row invalid.
fn id_cell(raw: &str) -> &str {
    csvfile::unescape_cell(raw.trim())
}

/// The kept columns of a record that has them, so even an invalid row can be traced back to
/// its ticket. They are never sent, but stored and shown back: a value with control
/// characters or too long is left out, and the reason it breaks the row returned.
fn kept(record: &csv::ByteRecord, layout: &Layout) -> (Vec<(String, String)>, Option<String>) {
    let mut values = Vec::new();
    let mut broken = None;
    for (i, name) in &layout.keep {
        let Some(raw) = record.get(*i) else { continue };
        let value = text_cell(&String::from_utf8_lossy(raw)).to_owned();
        if value.is_empty() {
            continue;
        }
        match check_field(&format!("column {name}"), &value) {
            Ok(()) => values.push((name.clone(), value)),
            Err(reason) => {
                broken.get_or_insert(reason);
            }
        }
    }
    (values, broken)
}

fn parse_record(
    record: &csv::ByteRecord,
    line: u64,
    layout: &Layout,
    opts: &InputOptions,
) -> ParsedRow {
    let raw_key = record.get(layout.key);
    let (extra, broken_extra) = kept(record, layout);
    let invalid = |line: u64, reason: String, raw_key: Option<&[u8]>| {
        let raw_key: Option<String> = raw_key.map(|k| {
            let text = String::from_utf8_lossy(k);
            text.chars().take(MAX_KEY_LEN).collect()
        });
        let trimmed = raw_key.as_deref().unwrap_or_default().trim();
        ParsedRow::Invalid {
            line,
            reason,
            extra: without_key(&extra, trimmed),
            raw_key,
        }
    };
    if record.len() != layout.columns {
        return invalid(
            line,
            format!(
                "has {} fields, the header has {}",
                record.len(),
                layout.columns
            ),
            raw_key,
        );
    }
    let field = |i: usize| -> std::result::Result<&str, String> {
        let raw = record.get(i).unwrap_or_default();
        std::str::from_utf8(raw).map_err(|_| format!("field {} is not valid UTF-8", i + 1))
    };
    let key = match field(layout.key) {
        Ok(k) => id_cell(k),
        Err(reason) => return invalid(line, reason, raw_key),
    };
    if key.is_empty() {
        return invalid(line, "blank key".into(), None);
    }
    if key.chars().any(char::is_control) {
        return invalid(line, "key contains control characters".into(), raw_key);
    }
    if key.chars().count() > MAX_KEY_LEN {
        return invalid(
            line,
            format!("key is longer than {MAX_KEY_LEN} characters"),
            raw_key,
        );
    }
    if let Err(reason) = (opts.validate_key)(key) {
        return invalid(line, reason, raw_key);
    }
    let scope = match layout.profile.map(field).transpose() {
        Ok(Some(p)) if !id_cell(p).is_empty() => id_cell(p).to_owned(),
        Ok(_) => opts.profile_default.clone(),
        Err(reason) => return invalid(line, reason, raw_key),
    };
    if let Err(reason) = check_field("profile-name", &scope) {
        return invalid(line, reason, raw_key);
    }
    let mut row_exparams = Vec::new();
    for (i, name) in &layout.exparams {
        match field(*i) {
            Ok(v) if !text_cell(v).is_empty() => {
                let value = text_cell(v);
                if let Err(reason) = check_field(name, value) {
                    return invalid(line, reason, raw_key);
                }
                row_exparams.push((name.clone(), value.to_owned()));
            }
            Ok(_) => {}
            Err(reason) => return invalid(line, reason, raw_key),
        }
    }
    if let Some(reason) = broken_extra {
        return invalid(line, reason, raw_key);
    }
    let mut exparams = row_exparams.clone();
    for (name, value) in &opts.exparam_defaults {
        if !exparams.iter().any(|(n, _)| n == name) {
            exparams.push((name.clone(), value.clone()));
        }
    }
    exparams.sort_by_key(|(n, _)| n.trim_start_matches("exparam").parse::<u8>().unwrap_or(0));
    // Erasing the person matters more than the deadline bookkeeping: a date that cannot be
    // read (or lies in the future, a typo) leaves the request undated and flagged.
    let (received, date_unreadable) = match layout.received.map(field).transpose() {
        Ok(Some(text)) if !text.trim().is_empty() => {
            match deadline::parse_date_as(text, opts.date_format)
                .and_then(|d| deadline::check_not_future(d, opts.today).map(|()| d))
            {
                Ok(date) => (Some(date), None),
                Err(reason) => (None, Some(reason)),
            }
        }
        Ok(_) => (None, None),
        Err(reason) => (None, Some(format!("received date: {reason}"))),
    };
    ParsedRow::Request {
        line,
        extra: without_key(&extra, key),
        key: key.to_owned(),
        scope,
        exparams,
        row_exparams,
        received,
        date_unreadable,
    }
}
