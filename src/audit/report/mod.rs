//! `forget report`: one row per request row — CSV, JSON or JSONL — streamed from the ledger;
//! optionally split like a bulk loader's success and error files, and sealed by a manifest
//! holding the SHA-256 of every file written.
//!
//! The main report and `succeeded.csv` carry masked keys and keyed hashes only.
//! `needs-attention.csv` carries the plaintext the ledger still has, in the shape `forget run`
//! reads, so it can be fixed and fed straight back.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

mod columns;
mod seal;
mod select;
mod sink;

pub use select::Selection;

use columns::Columns;
use sink::{Shape, Sink};

use crate::audit::exports::AccessCounts;
use crate::error::{Error, Result};
use crate::ledger::chain::Head;
use crate::ledger::report::{FileFact, PurgeFact, RunFact};
use crate::ledger::requests::RequestCounts;
use crate::ledger::{Counts, Ledger, timestamp};
use crate::output::{Destination, Output, Overwrite, Protected};
use crate::secret;
use crate::signing::{self, KeyFile, Signer};

pub const SUCCEEDED_CSV: &str = "succeeded.csv";
pub const NEEDS_ATTENTION_CSV: &str = "needs-attention.csv";
/// Requests ended by an operator's resolution or a later row's correction: neither
/// succeeded nor open.
pub const RESOLVED_CSV: &str = "resolved.csv";

/// Outcomes `--outcome` accepts: the stored ones, an access export's words for its own
/// (`exported`, `no_data`), and `late`: erased (or not found) after the due date.
pub const OUTCOMES: [&str; 9] = [
    "deleted",
    "not_found",
    "rejected",
    "failed",
    "pending",
    "invalid",
    "exported",
    "no_data",
    "late",
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
    /// The report file; `None` or `-`: stdout (unless only `split` is wanted).
    pub out: Option<PathBuf>,
    /// Write the main report at all (`--split` alone writes only the split files).
    pub main: bool,
    pub outcomes: Option<Vec<String>>,
    /// `--overdue`: only requests still open after their due date, as of this day.
    pub overdue_on: Option<String>,
    pub split: Option<PathBuf>,
    /// The manifest file (`-`: stdout, when the report is not there).
    pub manifest: Option<PathBuf>,
    /// Files already written beside the report that the manifest lists too (an evidence
    /// pack's run history, summary, README): path, role, format.
    pub also: Vec<(PathBuf, &'static str, &'static str)>,
    /// The ledger's key file, never to be written over [default: the ledger path + .key].
    pub ledger_key_file: Option<PathBuf>,
    /// Sign the manifest with this key: its signature goes beside it (`MANIFEST.sig`).
    pub sign: Option<KeyFile>,
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
    /// `report`, `succeeded`, `needs-attention` or `resolved`.
    pub role: &'static str,
    pub format: &'static str,
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
    /// The path from the manifest's folder, `/`-separated: where `forget verify` finds the
    /// file beside the manifest, wherever the pack is copied (absent: no manifest file, or
    /// the report went to standard output).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relative_path: Option<String>,
    /// Where it was written, resolved.
    #[serde(skip)]
    pub place: Option<PathBuf>,
}

#[derive(Clone, Debug, Default)]
pub struct ReportSummary {
    pub rows: u64,
    pub files: Vec<WrittenFile>,
    /// Rows in needs-attention.csv without a plaintext key (purged, or a blank key).
    pub attention_without_key: u64,
    pub manifest: Option<PathBuf>,
    /// The manifest's signature file and the fingerprint of the key that made it.
    pub signature: Option<(PathBuf, String)>,
    /// The ledger's requests by state, as `forget status` counts them.
    pub requests: RequestCounts,
}

/// Write the report (and split files, and manifest) from one consistent snapshot of the ledger.
/// Every file is opened under the output rule before the first row is read (never the
/// ledger, its companions, or another file of this report; replaced only once complete).
pub fn write(ledger: &Ledger, config: &ReportConfig) -> Result<ReportSummary> {
    let key_file = config
        .ledger_key_file
        .clone()
        .unwrap_or_else(|| secret::default_key_file(ledger.path()));
    let mut protected = Protected::ledger(ledger.path(), &key_file);
    if let Some(sign) = &config.sign {
        protected.add(&sign.path, "the signing key file");
        let public = signing::public_key_path(&sign.path);
        protected.add(&public, "the signing key's public key file");
    }
    // The request files are the evidence of what was asked: never replaced by a report,
    // whatever path names them now.
    for file in ledger.file_facts()? {
        protected.add_contents(
            &file.sha256,
            format!("the input file {} recorded in this ledger", file.path),
        );
    }
    let mut outputs = Outputs {
        protected,
        stdout: false,
    };
    // Every destination is checked before anything is written, even a header on stdout.
    let main_out = match config.main {
        true => Some(outputs.open("--output", &Destination::from_arg(config.out.as_deref()))?),
        false => None,
    };
    let manifest_out = match &config.manifest {
        Some(path) => Some(outputs.open("--manifest", &Destination::from_arg(Some(path)))?),
        None => None,
    };
    let signature_out = seal::open_signature(&mut outputs, config, manifest_out.as_ref())?;
    let split_out = match &config.split {
        Some(dir) => {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
            let mut file = |name: &str| outputs.open("--split", &Destination::File(dir.join(name)));
            Some((
                file(SUCCEEDED_CSV)?,
                file(NEEDS_ATTENTION_CSV)?,
                file(RESOLVED_CSV)?,
            ))
        }
        None => None,
    };
    let snapshot = ledger.conn().unchecked_transaction()?;
    let columns = Columns::new(ledger.exparam_names()?, ledger.kept_column_names()?)
        .with_export_file(ledger.holds_access_units()?);
    let selection = Selection {
        names: config.outcomes.clone(),
        overdue_on: config.overdue_on.clone(),
    };
    let mut main = main_out
        .map(|out| Sink::open("report", Shape::Report, config.format, out, &columns))
        .transpose()?;
    let mut split = match split_out {
        Some((succeeded, attention, resolved)) => Some((
            Sink::open("succeeded", Shape::Report, Format::Csv, succeeded, &columns)?,
            Sink::open(
                "needs-attention",
                Shape::Attention,
                Format::Csv,
                attention,
                &columns,
            )?,
            Sink::open("resolved", Shape::Report, Format::Csv, resolved, &columns)?,
        )),
        None => None,
    };
    let mut summary = ReportSummary::default();
    ledger.for_each_report_row(selection.stored_outcomes().as_deref(), |row| {
        if !selection.keeps(&row) {
            return Ok(());
        }
        summary.rows += 1;
        if let Some(sink) = &mut main {
            sink.write(&columns, &row)?;
        }
        if let Some((succeeded, attention, resolved)) = &mut split {
            if row.succeeded() {
                succeeded.write(&columns, &row)?;
            } else if row.ended_by_event() {
                resolved.write(&columns, &row)?;
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
    if let Some((succeeded, attention, resolved)) = split {
        summary.files.push(succeeded.finish()?);
        summary.files.push(attention.finish()?);
        summary.files.push(resolved.finish()?);
    }
    for (path, role, format) in &config.also {
        summary.files.push(seal::listed(path, role, format)?);
    }
    if let (Some(out), Some(path)) = (manifest_out, &config.manifest) {
        seal::relate(&mut summary.files, out.place());
        let manifest = manifest(ledger, config, &summary.files)?;
        let stdout = out.name().is_stdout();
        summary.signature = seal::write(&manifest, out, signature_out, config.sign.as_ref())?;
        if !stdout {
            summary.manifest = Some(path.clone());
        }
    }
    summary.requests = ledger.request_counts(None)?;
    drop(snapshot);
    Ok(summary)
}

/// The outputs of one report: each checked against the rule and against the others.
struct Outputs {
    protected: Protected,
    /// Standard output is taken (by the report or the manifest).
    stdout: bool,
}

impl Outputs {
    fn open(&mut self, flag: &str, dest: &Destination) -> Result<Output> {
        if *dest == Destination::Stdout {
            if std::mem::replace(&mut self.stdout, true) {
                return Err(Error::usage(format!(
                    "{flag} -: standard output already carries the report; give a file"
                )));
            }
            return Ok(Output::stdout());
        }
        let out = Output::open(dest, &self.protected, Overwrite::Replace)?;
        if let Some(place) = out.place() {
            let place: &Path = place;
            self.protected
                .add(place, format!("another file this report writes ({flag})"));
        }
        Ok(out)
    }
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
    /// `--overdue`: the day the report listed the requests open after their due date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overdue_on: Option<String>,
    /// Units per outcome, and invalid and duplicate rows.
    pub counts: Counts,
    /// People, requests and units, and requests per state (as `forget status` counts them).
    pub requests: RequestCounts,
    /// A ledger of access exports: its subjects in their own words (exported, no data).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_exports: Option<AccessCounts>,
    pub input_files: Vec<FileFact>,
    pub runs: Vec<RunFact>,
    pub purges: Vec<PurgeFact>,
    pub report_files: Vec<WrittenFile>,
    /// The ledger's chain head when the report was made (null: a ledger without a chain):
    /// `forget verify --manifest` checks that the ledger still holds this history.
    pub chain_head: Option<Head>,
    /// The key that signed the manifest (null: not signed); the signature is in the file
    /// beside it, `MANIFEST.sig`.
    pub signer: Option<Signer>,
}

pub fn manifest(ledger: &Ledger, config: &ReportConfig, files: &[WrittenFile]) -> Result<Manifest> {
    Ok(Manifest {
        tool: "forget",
        tool_version: env!("CARGO_PKG_VERSION"),
        generated_at: timestamp(SystemTime::now()),
        ledger: ledger.path().display().to_string(),
        outcome_filter: config.outcomes.clone(),
        overdue_on: config.overdue_on.clone(),
        counts: ledger.counts()?,
        access_exports: AccessCounts::of(ledger)?,
        requests: ledger.request_counts(None)?,
        input_files: ledger.file_facts()?,
        runs: ledger.run_facts()?,
        purges: ledger.purge_facts()?,
        report_files: files.to_vec(),
        chain_head: ledger.chain_head()?,
        signer: config.sign.as_ref().map(|k| k.key.public().signer()),
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
    if let (Some((sig, fingerprint)), Some(m)) = (&summary.signature, &summary.manifest) {
        let _ = writeln!(
            out,
            "wrote signature {} (key {fingerprint}): the auditor checks it with forget verify \
             --manifest {} --public-key KEY.pub, the public key given to them apart from the \
             evidence",
            sig.display(),
            m.display()
        );
    }
    out.push_str(&summary.requests.render_line());
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
