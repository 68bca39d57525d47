//! `forget report`: one row per request row — CSV, JSON or JSONL — streamed from the ledger;
//! optionally split like a bulk loader's success and error files, and sealed by a manifest
//! holding the SHA-256 of every file written.
//!
//! The main report and `succeeded.csv` carry masked keys and keyed hashes only.
//! `needs-attention.csv` carries the plaintext the ledger still has, in the shape `forget run`
//! reads, so it can be fixed and fed straight back.

use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;
use std::time::SystemTime;

mod columns;
mod sink;

use columns::Columns;
use sink::{Shape, Sink, create_private, io_err, seal};

use crate::error::{Error, Result};
use crate::ledger::report::{FileFact, PurgeFact, RunFact};
use crate::ledger::{Counts, Ledger, timestamp};

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
