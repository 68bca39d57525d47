//! Reading erasure requests from CSV: the one place that knows the file format.
//!
//! A bad *file* (missing, gzip, no key column, …) is an [`Error`] and stops the command
//! before anything is sent. A bad *row* becomes [`ParsedRow::Invalid`] with a reason and
//! never stops the good rows.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

mod refs;
mod row;

pub use refs::REF_COLUMN;
pub use row::{ParsedRow, RowReader, without_key};

use crate::connector::Kind;
use crate::csvfile;
use crate::deadline;
use crate::error::{Error, Result};
use crate::output;
use crate::text::printable;

/// Longer keys are invalid rows: no identifier is this long, and a runaway field (a missing
/// quote swallowing the rest of the file) should not become a request.
pub const MAX_KEY_LEN: usize = 256;
pub const EXPARAM_MAX: u8 = 10;
/// Longest audit field (`exparamN`), profile name or kept column value, in characters. The
/// API documents no limit; these are references (a ticket id, a batch name, a profile),
/// sent with every request and stored with every row, and 256 holds any of them. A longer
/// one is a runaway field (a missing quote swallowing the lines after it) or a document
/// pasted in by mistake: refused rather than sent to the API and kept in the ledger.
pub const MAX_FIELD_LEN: usize = 256;

/// Why `value` cannot be sent or stored as `what` (a column or flag name): control
/// characters (a line break, a tab, an escape sequence for the terminal that shows it) or
/// more than [`MAX_FIELD_LEN`] characters. The reason names `what`, never the value.
pub fn check_field(what: &str, value: &str) -> std::result::Result<(), String> {
    if value.chars().any(char::is_control) {
        return Err(format!("{what} contains control characters"));
    }
    if value.chars().count() > MAX_FIELD_LEN {
        return Err(format!("{what} is longer than {MAX_FIELD_LEN} characters"));
    }
    Ok(())
}

/// How input rows are read. Built once from the command line (see `config`).
#[derive(Clone, Debug)]
pub struct InputOptions {
    pub key_column: String,
    /// `None`: detect comma, semicolon or tab from the header line.
    pub delimiter: Option<u8>,
    /// Profile name for rows without one ('' = the tenant's default).
    pub profile_default: String,
    /// Run-wide audit fields for rows that do not carry their own.
    pub exparam_defaults: Vec<(String, String)>,
    /// Connector-specific key rule (e.g. Outreach ids are integers).
    pub validate_key: fn(&str) -> std::result::Result<(), String>,
    /// Read `profile-name` and `exparamN` columns (Webex). When false (Outreach) they are
    /// ordinary columns, ignored like any other, and every row takes `profile_default`.
    pub profile_and_exparam_columns: bool,
    /// The column holding the date each request was received, if any.
    pub received_column: Option<String>,
    /// How that column writes its dates (`--date-format`).
    pub date_format: deadline::DateFormat,
    /// Extra columns kept per row for the report (e.g. a ticket id). Nothing else is stored.
    pub keep_columns: Vec<String>,
    /// Received dates after this day (+1) are typos.
    pub today: time::Date,
}

impl Default for InputOptions {
    fn default() -> Self {
        InputOptions {
            key_column: "key".into(),
            delimiter: None,
            profile_default: String::new(),
            exparam_defaults: Vec::new(),
            validate_key: |_| Ok(()),
            profile_and_exparam_columns: true,
            received_column: None,
            date_format: deadline::DateFormat::default(),
            keep_columns: Vec::new(),
            today: deadline::today(),
        }
    }
}

impl InputOptions {
    /// How `kind`'s input is read, every row defaulting to `scope` (a Webex profile name, an
    /// Outreach resource).
    pub fn for_kind(kind: Kind, scope: &str) -> InputOptions {
        InputOptions {
            key_column: kind.key_column().into(),
            profile_default: scope.to_owned(),
            validate_key: kind.key_rule(),
            profile_and_exparam_columns: kind.reads_profile_columns(),
            ..InputOptions::default()
        }
    }

    /// Refuse a mapping that would store what must not be stored, or read one column twice.
    pub fn check_mapping(&self) -> Result<()> {
        let key = normalise(&self.key_column);
        let received = self.received_column.as_deref().map(normalise);
        for (i, name) in self.keep_columns.iter().enumerate() {
            let n = normalise(name);
            if n.is_empty() {
                return Err(Error::usage("--keep-column needs a column name"));
            }
            if n == key {
                return Err(Error::usage(format!(
                    "--keep-column {name}: that is the key column; the ledger keeps no copy of keys \
                     beyond their erasure"
                )));
            }
            if n == "profile-name" || n.starts_with("exparam") || Some(&n) == received.as_ref() {
                return Err(Error::usage(format!(
                    "--keep-column {name}: that column is already recorded; keep only other columns"
                )));
            }
            if self.keep_columns[..i].iter().any(|o| normalise(o) == n) {
                return Err(Error::usage(format!("--keep-column {name} is given twice")));
            }
        }
        if received.as_ref() == Some(&key) {
            return Err(Error::usage("--received-column cannot be the key column"));
        }
        Ok(())
    }
}

/// An input file that passed the file-level checks.
#[derive(Clone, Debug)]
pub struct InputFile {
    pub path: PathBuf,
    pub sha256: String,
    pub delimiter: u8,
    /// csv reports a record after a CRLF as starting on the line of that CRLF's `\n`.
    line_offset: u64,
    layout: Layout,
}

#[derive(Clone, Debug)]
struct Layout {
    columns: usize,
    key: usize,
    profile: Option<usize>,
    exparams: Vec<(usize, String)>,
    received: Option<usize>,
    /// Kept columns: index and the name given with --keep-column.
    keep: Vec<(usize, String)>,
}

/// Check a file and hash it: everything that would make the whole file unusable is found
/// here, before any row is recorded or any key sent.
pub fn inspect(path: &Path, opts: &InputOptions) -> Result<InputFile> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::input(path, "no such file"),
        _ => Error::input(path, format!("cannot read it: {e}")),
    })?;
    if meta.is_dir() {
        return Err(Error::input(path, "is a directory, not a CSV file"));
    }
    if meta.len() == 0 {
        return Err(Error::input(
            path,
            format!(
                "is empty: expected a header row with a `{}` column, then one row per request",
                opts.key_column
            ),
        ));
    }
    let (sha256, head) = hash_file(path)?;
    if head.starts_with(&[0x1f, 0x8b]) {
        return Err(Error::input(
            path,
            "is gzip-compressed: decompress it first (gunzip)",
        ));
    }
    if head.starts_with(b"PK\x03\x04") {
        return Err(Error::input(
            path,
            "is a zip file (perhaps a spreadsheet): export it as CSV",
        ));
    }
    let delimiter = match opts.delimiter {
        Some(d) => d,
        None => {
            let d = sniff_delimiter(&head);
            if d != b',' {
                output::eprint(&format!(
                    "note: {} looks {}-separated; reading it that way (--delimiter to choose)\n",
                    path.display(),
                    if d == b'\t' { "tab" } else { "semicolon" }
                ));
            }
            d
        }
    };
    let layout = read_layout(path, delimiter, opts)?;
    let first_line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    let crlf = first_line.len() < head.len() && first_line.ends_with(b"\r");
    Ok(InputFile {
        path: path.to_owned(),
        sha256,
        delimiter,
        line_offset: u64::from(crlf),
        layout,
    })
}

fn open(path: &Path) -> Result<File> {
    File::open(path).map_err(|e| Error::input(path, format!("cannot open it: {e}")))
}

/// SHA-256 of the whole file, and its first few KiB for sniffing.
fn hash_file(path: &Path) -> Result<(String, Vec<u8>)> {
    let mut file = open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut head = Vec::new();
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| Error::input(path, format!("cannot read it: {e}")))?;
        if n == 0 {
            break;
        }
        if head.len() < 4096 {
            head.extend_from_slice(&buf[..n.min(4096 - head.len())]);
        }
        hasher.update(&buf[..n]);
    }
    Ok((hex::encode(hasher.finalize()), head))
}

/// Pick the delimiter that splits the header line, preferring comma.
fn sniff_delimiter(head: &[u8]) -> u8 {
    let line = head.split(|b| *b == b'\n').next().unwrap_or(head);
    let count = |d: u8| line.iter().filter(|b| **b == d).count();
    let (commas, semis, tabs) = (count(b','), count(b';'), count(b'\t'));
    if commas == 0 && (semis > 0 || tabs > 0) {
        if tabs >= semis { b'\t' } else { b';' }
    } else {
        b','
    }
}

fn normalise(name: &str) -> String {
    name.trim().to_ascii_lowercase().replace('_', "-")
}

fn read_layout(path: &Path, delimiter: u8, opts: &InputOptions) -> Result<Layout> {
    let mut reader = csvfile::reader_builder(delimiter).from_reader(BufReader::new(open(path)?));
    let headers = reader
        .byte_headers()
        .map_err(|e| Error::input(path, format!("cannot read the header row: {e}")))?
        .clone();
    let mut names = Vec::with_capacity(headers.len());
    for (i, raw) in headers.iter().enumerate() {
        let name = std::str::from_utf8(raw).map_err(|_| {
            Error::input(
                path,
                format!("line 1: header column {} is not valid UTF-8", i + 1),
            )
        })?;
        let name = name.trim_start_matches('\u{feff}').trim();
        names.push(csvfile::unescape_cell(name).to_owned());
    }
    for (i, name) in names.iter().enumerate() {
        if let Some(j) = names[..i]
            .iter()
            .position(|n| normalise(n) == normalise(name))
        {
            return Err(Error::input(
                path,
                format!(
                    "line 1: column `{}` appears twice in the header (columns {} and {})",
                    printable(name),
                    j + 1,
                    i + 1
                ),
            ));
        }
    }
    let find = |want: &str| names.iter().position(|n| normalise(n) == normalise(want));
    // Header names are the file's text: shown escaped, never obeyed by the terminal.
    let found = names
        .iter()
        .map(|n| format!("`{}`", printable(n)))
        .collect::<Vec<_>>()
        .join(", ");
    let Some(key) = find(&opts.key_column) else {
        let mut message = format!(
            "line 1: no `{}` column; the columns found are: {found}. Pass --key-column NAME to use another column",
            opts.key_column,
        );
        if names.len() == 1 && (names[0].contains(';') || names[0].contains('\t')) {
            message.push_str(", or --delimiter ';' (or '\\t') if the file is not comma-separated");
        }
        return Err(Error::input(path, message));
    };
    let require = |flag: &str, name: &str| {
        find(name).ok_or_else(|| {
            Error::input(
                path,
                format!("line 1: no `{name}` column for {flag}; the columns found are: {found}"),
            )
        })
    };
    let received = opts
        .received_column
        .as_deref()
        .map(|name| require("--received-column", name))
        .transpose()?;
    let keep = opts
        .keep_columns
        .iter()
        .map(|name| Ok((require("--keep-column", name)?, name.clone())))
        .collect::<Result<Vec<_>>>()?;
    let mapped = Mapped { received, keep };
    if !opts.profile_and_exparam_columns {
        return finish_layout(path, reader, names.len(), key, None, Vec::new(), mapped);
    }
    let profile = find("profile-name");
    let mut exparams = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let lower = normalise(name);
        if let Some(n) = lower.strip_prefix("exparam") {
            match n.parse::<u8>() {
                Ok(n) if (1..=EXPARAM_MAX).contains(&n) => {
                    exparams.push((i, format!("exparam{n}")))
                }
                _ => {
                    return Err(Error::input(
                        path,
                        format!(
                            "line 1: column `{}`: the API takes exparam1 to exparam10 only",
                            printable(name)
                        ),
                    ));
                }
            }
        }
    }
    finish_layout(path, reader, names.len(), key, profile, exparams, mapped)
}

/// Columns the team asked to keep: the received date, and extra columns for the report.
struct Mapped {
    received: Option<usize>,
    keep: Vec<(usize, String)>,
}

/// The layout, once the file is known to hold at least one row after its header.
fn finish_layout(
    path: &Path,
    mut reader: csv::Reader<BufReader<File>>,
    columns: usize,
    key: usize,
    profile: Option<usize>,
    exparams: Vec<(usize, String)>,
    Mapped { received, keep }: Mapped,
) -> Result<Layout> {
    let mut records = reader.byte_records();
    match records.next() {
        None => {
            return Err(Error::input(path, "has a header row but no requests"));
        }
        Some(Err(e)) => return Err(Error::input(path, format!("cannot read it: {e}"))),
        Some(Ok(_)) => {}
    }
    Ok(Layout {
        columns,
        key,
        profile,
        exparams,
        received,
        keep,
    })
}

#[cfg(test)]
mod tests;
