//! `forget report`: one row per request row — CSV, JSON or JSONL — streamed from the ledger;
//! optionally split like a bulk loader's success and error files, and sealed by a manifest
//! holding the SHA-256 of every file written.
//!
//! The main report and `succeeded.csv` carry masked keys and keyed hashes only.
//! `needs-attention.csv` carries the plaintext the ledger still has, in the shape `forget run`
//! reads, so it can be fixed and fed straight back.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use sha2::{Digest, Sha256};

use crate::csvfile;
use crate::error::{Error, Result};
use crate::ledger::report::{FileFact, PurgeFact, ReportRow, RunFact};
use crate::ledger::{Counts, Ledger, Pairs, timestamp};

pub const SUCCEEDED_CSV: &str = "succeeded.csv";
pub const NEEDS_ATTENTION_CSV: &str = "needs-attention.csv";

/// Outcomes `--outcome` accepts.
pub const OUTCOMES: [&str; 6] = [
    "deleted",
    "not_found",
    "rejected",
    "failed",
    "pending",
    "invalid",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Csv,
    Json,
    Jsonl,
}

/// Everything `forget report` needs, validated.
#[derive(Clone, Debug)]
pub struct ReportConfig {
    pub format: Format,
    /// The report file; `None`: stdout (unless only `split` is wanted).
    pub out: Option<PathBuf>,
    /// Write the main report at all (`--split` alone writes only the split files).
    pub main: bool,
    pub outcomes: Option<Vec<String>>,
    pub split: Option<PathBuf>,
    pub manifest: Option<PathBuf>,
}

/// Parse `--outcome deleted,not_found` (names as in `forget status`).
pub fn parse_outcomes(list: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if !OUTCOMES.contains(&name) {
            return Err(Error::usage(format!(
                "--outcome {name}: not an outcome; use {}",
                OUTCOMES.join(", ")
            )));
        }
        if !out.iter().any(|o| o == name) {
            out.push(name.to_owned());
        }
    }
    if out.is_empty() {
        return Err(Error::usage(format!(
            "--outcome needs at least one of {}",
            OUTCOMES.join(", ")
        )));
    }
    Ok(out)
}

/// A file written by this invocation, as the manifest records it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct WrittenFile {
    /// The path, or `-` for stdout.
    pub path: String,
    /// `report`, `succeeded` or `needs-attention`.
    pub role: &'static str,
    pub format: &'static str,
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Clone, Debug, Default)]
pub struct ReportSummary {
    pub rows: u64,
    pub files: Vec<WrittenFile>,
    /// Rows in needs-attention.csv without a plaintext key (purged, or a blank key).
    pub attention_without_key: u64,
    pub manifest: Option<PathBuf>,
}

/// Counts bytes and hashes them on their way out.
struct Hashing<W: Write> {
    inner: W,
    sha: Sha256,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

enum Dest {
    Stdout(std::io::Stdout),
    /// Written to `tmp`, renamed to `path` once complete: a report file is never half-written.
    File {
        file: BufWriter<File>,
        path: PathBuf,
        tmp: PathBuf,
    },
}

impl Write for Dest {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Dest::Stdout(s) => s.write(buf),
            Dest::File { file, .. } => file.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Dest::Stdout(s) => s.flush(),
            Dest::File { file, .. } => file.flush(),
        }
    }
}

/// Create `path` for writing, private to its owner: reports hold masked keys, hashes and
/// audit fields, and `needs-attention.csv` plaintext keys.
fn create_private(path: &Path) -> Result<Dest> {
    let mut name = path.as_os_str().to_owned();
    name.push(".partial");
    let tmp = PathBuf::from(name);
    let _ = std::fs::remove_file(&tmp);
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| Error::io(format!("cannot create {}", tmp.display()), e))?;
    Ok(Dest::File {
        file: BufWriter::with_capacity(1 << 16, file),
        path: path.to_owned(),
        tmp,
    })
}

/// Make a finished file durable and move it into place.
fn seal(dest: Dest, display: &str) -> Result<()> {
    if let Dest::File { file, path, tmp } = dest {
        let file = file
            .into_inner()
            .map_err(|e| Error::io(format!("writing {display}"), e.into_error()))?;
        file.sync_all().map_err(io_err(display))?;
        std::fs::rename(&tmp, &path)
            .map_err(|e| Error::io(format!("cannot move {} into place", tmp.display()), e))?;
    }
    Ok(())
}

fn io_err(what: &str) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::io(format!("writing {what}"), e)
}

fn csv_err(what: &str) -> impl Fn(csv::Error) -> Error + '_ {
    move |e| Error::csv(format!("writing {what}"), e)
}

/// Which columns a sink writes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// The evidence: masked key and hash, outcome, times, audit fields.
    Report,
    /// `forget run`'s input shape first (plaintext key), then why it needs attention.
    Attention,
}

enum Encoder {
    Csv(Box<csv::Writer<Hashing<Dest>>>),
    Json { w: Hashing<Dest>, first: bool },
    Jsonl(Hashing<Dest>),
}

struct Sink {
    role: &'static str,
    shape: Shape,
    format: Format,
    display: String,
    encoder: Encoder,
    rows: u64,
}

/// The report's column layout, fixed before the first row is written.
struct Columns {
    exparams: Vec<String>,
    /// Kept column names, and the header each gets (prefixed when it would clash).
    extra: Vec<(String, String)>,
}

const REPORT_FIXED: [&str; 18] = [
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
];

/// The columns after the input-shaped ones in needs-attention.csv.
const ATTENTION_INFO: [&str; 6] = [
    "outcome",
    "code",
    "description",
    "file",
    "line",
    "key_masked",
];

impl Columns {
    fn new(exparams: Vec<String>, kept: Vec<String>) -> Columns {
        let taken = |n: &str| {
            let n = n.to_ascii_lowercase();
            REPORT_FIXED.contains(&n.as_str())
                || ATTENTION_INFO.contains(&n.as_str())
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
        Columns { exparams, extra }
    }

    fn header(&self, shape: Shape) -> Vec<String> {
        let mut h: Vec<String> = Vec::new();
        match shape {
            Shape::Report => {
                h.extend(REPORT_FIXED.iter().map(|s| s.to_string()));
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

    fn record(&self, shape: Shape, row: &ReportRow) -> Vec<String> {
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
                    row.outcome.clone(),
                    row.http_status.map(|s| s.to_string()).unwrap_or_default(),
                    opt(&row.code),
                    opt(&row.description),
                    opt(&row.transaction_id),
                    row.attempts.to_string(),
                    opt(&row.first_attempt_at),
                    opt(&row.last_attempt_at),
                    opt(&row.finished_at),
                    opt(&row.received_on),
                    opt(&row.due_on),
                ]);
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
                row.outcome.clone(),
                opt(&row.code),
                opt(&row.description),
                row.file.clone(),
                row.line.to_string(),
                row.key_masked.clone(),
            ]);
        }
        r
    }
}

/// A report row as JSON, fields in report order.
#[derive(serde::Serialize)]
struct JsonRow<'a> {
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
    finished_at: &'a Option<String>,
    received_on: &'a Option<String>,
    due_on: &'a Option<String>,
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
            outcome: &r.outcome,
            http_status: r.http_status,
            code: &r.code,
            description: &r.description,
            transaction_id: &r.transaction_id,
            attempts: r.attempts,
            first_attempt_at: &r.first_attempt_at,
            last_attempt_at: &r.last_attempt_at,
            finished_at: &r.finished_at,
            received_on: &r.received_on,
            due_on: &r.due_on,
            exparams: &r.exparams,
            extra: &r.extra,
        }
    }
}

impl Sink {
    fn open(
        role: &'static str,
        shape: Shape,
        format: Format,
        path: Option<&Path>,
        columns: &Columns,
    ) -> Result<Sink> {
        let dest = match path {
            Some(p) => create_private(p)?,
            None => Dest::Stdout(std::io::stdout()),
        };
        let display = path.map_or("-".to_owned(), |p| p.display().to_string());
        let w = Hashing {
            inner: dest,
            sha: Sha256::new(),
            bytes: 0,
        };
        let encoder = match format {
            Format::Csv => {
                let mut csv = csvfile::writer_builder().from_writer(w);
                csv.write_record(columns.header(shape))
                    .map_err(csv_err(&display))?;
                Encoder::Csv(Box::new(csv))
            }
            Format::Json => {
                let mut w = w;
                w.write_all(b"[").map_err(io_err(&display))?;
                Encoder::Json { w, first: true }
            }
            Format::Jsonl => Encoder::Jsonl(w),
        };
        Ok(Sink {
            role,
            shape,
            format,
            display,
            encoder,
            rows: 0,
        })
    }

    fn write(&mut self, columns: &Columns, row: &ReportRow) -> Result<()> {
        let display = &self.display;
        match &mut self.encoder {
            Encoder::Csv(csv) => csv
                .write_record(columns.record(self.shape, row))
                .map_err(csv_err(display))?,
            Encoder::Json { w, first } => {
                let sep: &[u8] = if *first { b"\n" } else { b",\n" };
                *first = false;
                w.write_all(sep).map_err(io_err(display))?;
                serde_json::to_writer(&mut *w, &JsonRow::from(row))
                    .map_err(|e| Error::json(format!("writing {display}"), e))?;
            }
            Encoder::Jsonl(w) => {
                serde_json::to_writer(&mut *w, &JsonRow::from(row))
                    .map_err(|e| Error::json(format!("writing {display}"), e))?;
                w.write_all(b"\n").map_err(io_err(display))?;
            }
        }
        self.rows += 1;
        Ok(())
    }

    /// Flush, seal (fsync and rename into place) and describe what was written.
    fn finish(self) -> Result<WrittenFile> {
        let display = self.display;
        let mut w = match self.encoder {
            Encoder::Csv(csv) => csv.into_inner().map_err(|e| {
                Error::io(
                    format!("writing {display}"),
                    std::io::Error::other(e.to_string()),
                )
            })?,
            Encoder::Json { mut w, .. } => {
                w.write_all(b"\n]\n").map_err(io_err(&display))?;
                w
            }
            Encoder::Jsonl(w) => w,
        };
        w.flush().map_err(io_err(&display))?;
        let Hashing { inner, sha, bytes } = w;
        seal(inner, &display)?;
        Ok(WrittenFile {
            path: display,
            role: self.role,
            format: match self.format {
                Format::Csv => "csv",
                Format::Json => "json",
                Format::Jsonl => "jsonl",
            },
            rows: self.rows,
            bytes,
            sha256: hex::encode(sha.finalize()),
        })
    }
}

/// Write the report (and split files, and manifest) from one consistent snapshot of the ledger.
pub fn write(ledger: &Ledger, config: &ReportConfig) -> Result<ReportSummary> {
    let snapshot = ledger.conn().unchecked_transaction()?;
    let columns = Columns::new(ledger.exparam_names()?, ledger.kept_column_names()?);
    let mut main = match config.main {
        true => Some(Sink::open(
            "report",
            Shape::Report,
            config.format,
            config.out.as_deref(),
            &columns,
        )?),
        false => None,
    };
    let mut split = match &config.split {
        Some(dir) => {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
            Some((
                Sink::open(
                    "succeeded",
                    Shape::Report,
                    Format::Csv,
                    Some(&dir.join(SUCCEEDED_CSV)),
                    &columns,
                )?,
                Sink::open(
                    "needs-attention",
                    Shape::Attention,
                    Format::Csv,
                    Some(&dir.join(NEEDS_ATTENTION_CSV)),
                    &columns,
                )?,
            ))
        }
        None => None,
    };
    let mut summary = ReportSummary::default();
    summary.rows = ledger.for_each_report_row(config.outcomes.as_deref(), |row| {
        if let Some(sink) = &mut main {
            sink.write(&columns, &row)?;
        }
        if let Some((succeeded, attention)) = &mut split {
            if row.succeeded() {
                succeeded.write(&columns, &row)?;
            } else {
                if row.key.is_none() {
                    summary.attention_without_key += 1;
                }
                attention.write(&columns, &row)?;
            }
        }
        Ok(())
    })?;
    if let Some(sink) = main {
        summary.files.push(sink.finish()?);
    }
    if let Some((succeeded, attention)) = split {
        summary.files.push(succeeded.finish()?);
        summary.files.push(attention.finish()?);
    }
    if let Some(path) = &config.manifest {
        let manifest = manifest(ledger, config, &summary.files)?;
        let text = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| Error::json("writing the manifest", e))?;
        let mut dest = create_private(path)?;
        dest.write_all(&text)
            .and_then(|()| dest.write_all(b"\n"))
            .map_err(io_err(&path.display().to_string()))?;
        seal(dest, &path.display().to_string())?;
        summary.manifest = Some(path.clone());
    }
    drop(snapshot);
    Ok(summary)
}

/// The manifest: what was run, on which input, with what result, and the SHA-256 of every
/// report file written now, so an auditor can tell the evidence was not edited.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Manifest {
    pub tool: &'static str,
    pub tool_version: &'static str,
    pub generated_at: String,
    pub ledger: String,
    pub outcome_filter: Option<Vec<String>>,
    pub counts: Counts,
    pub input_files: Vec<FileFact>,
    pub runs: Vec<RunFact>,
    pub purges: Vec<PurgeFact>,
    pub report_files: Vec<WrittenFile>,
}

pub fn manifest(ledger: &Ledger, config: &ReportConfig, files: &[WrittenFile]) -> Result<Manifest> {
    Ok(Manifest {
        tool: "forget",
        tool_version: env!("CARGO_PKG_VERSION"),
        generated_at: timestamp(SystemTime::now()),
        ledger: ledger.path().display().to_string(),
        outcome_filter: config.outcomes.clone(),
        counts: ledger.counts()?,
        input_files: ledger.file_facts()?,
        runs: ledger.run_facts()?,
        purges: ledger.purge_facts()?,
        report_files: files.to_vec(),
    })
}

/// What `forget report` tells the user on stderr (stdout may be the report itself).
pub fn render_summary(summary: &ReportSummary) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for f in summary.files.iter().filter(|f| f.path != "-") {
        let _ = writeln!(
            out,
            "wrote {} ({} rows, sha256 {})",
            f.path, f.rows, f.sha256
        );
    }
    if summary.attention_without_key > 0 {
        let _ = writeln!(
            out,
            "note: {} rows of {NEEDS_ATTENTION_CSV} have no plaintext key (purged, or blank in the \
             input): fill in their key column before running the file again",
            summary.attention_without_key
        );
    }
    if let Some(m) = &summary.manifest {
        let _ = writeln!(out, "wrote manifest {}", m.display());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_lists() {
        let case = |s: &str, ok: bool| assert_eq!(parse_outcomes(s).is_ok(), ok, "{s}");
        case("deleted,not_found", true);
        case("invalid", true);
        case(" rejected , failed ", true);
        case("gone", false);
        case("", false);
    }

    #[test]
    fn kept_columns_that_clash_are_prefixed() {
        let c = Columns::new(
            vec!["exparam1".into()],
            vec!["ticket".into(), "Outcome".into()],
        );
        let h = c.header(Shape::Attention);
        assert_eq!(
            &h[..5],
            ["key", "profile-name", "exparam1", "received", "ticket"]
        );
        assert!(h.contains(&"extra:Outcome".to_string()), "{h:?}");
    }
}
