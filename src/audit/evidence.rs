//! `forget evidence DIR`: one folder an auditor can take away — the per-request report, the
//! split files (needs-attention among them), the run history, the HTML summary, a
//! README.txt saying what each file is and how to verify it, and the manifest listing every
//! one of them with its SHA-256 and the ledger's chain head, signed when a key is given.
//!
//! The pack holds no plaintext key of an erased person: the report masks keys, and
//! needs-attention.csv holds only the keys of requests not erased (so it can be fed back).

use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use super::html;
use super::report::{self, Format, NEEDS_ATTENTION_CSV, RESOLVED_CSV, ReportConfig, SUCCEEDED_CSV};
use crate::csvfile;
use crate::error::{Error, Result};
use crate::ledger::Ledger;
use crate::output::{Output, Overwrite, Protected};
use crate::secret;
use crate::signing::{self, KeyFile};
use time::Date;

pub const REPORT_CSV: &str = "report.csv";
pub const RUNS_CSV: &str = "runs.csv";
pub const SUMMARY_HTML: &str = "summary.html";
pub const README_TXT: &str = "README.txt";
pub const MANIFEST_JSON: &str = "manifest.json";

pub struct EvidenceConfig {
    /// The folder: made if missing; refused unless empty, so it holds only what this pack
    /// lists.
    pub dir: PathBuf,
    pub sign: Option<KeyFile>,
    pub ledger_key_file: Option<PathBuf>,
    /// The kept column holding request ids, for the summary's deadlines.
    pub id_column: Option<String>,
    pub today: Date,
}

/// What was written.
pub struct EvidenceSummary {
    pub report: report::ReportSummary,
    pub dir: PathBuf,
}

/// Write the pack for `ledger` into `config.dir`.
pub fn write(ledger: &Ledger, config: &EvidenceConfig) -> Result<EvidenceSummary> {
    let dir = &config.dir;
    make_empty_folder(dir)?;
    let key_file = config
        .ledger_key_file
        .clone()
        .unwrap_or_else(|| secret::default_key_file(ledger.path()));
    let mut protected = Protected::ledger(ledger.path(), &key_file);
    if let Some(sign) = &config.sign {
        protected.add(&sign.path, "the signing key file");
        protected.add(
            &signing::public_key_path(&sign.path),
            "the signing key's public key file",
        );
    }
    let summary = html::Summary::read(
        ledger,
        ledger.path(),
        config.today,
        config.id_column.as_deref(),
    )?;
    write_whole(
        &dir.join(SUMMARY_HTML),
        html::render(&summary).as_bytes(),
        &protected,
    )?;
    write_runs(ledger, &dir.join(RUNS_CSV), &protected)?;
    let readme = readme(ledger, config);
    write_whole(&dir.join(README_TXT), readme.as_bytes(), &protected)?;
    let report = report::write(
        ledger,
        &ReportConfig {
            format: Format::Csv,
            out: Some(dir.join(REPORT_CSV)),
            main: true,
            outcomes: None,
            overdue_on: None,
            split: Some(dir.clone()),
            manifest: Some(dir.join(MANIFEST_JSON)),
            ledger_key_file: config.ledger_key_file.clone(),
            sign: config.sign.clone(),
            also: vec![
                (dir.join(RUNS_CSV), "runs", "csv"),
                (dir.join(SUMMARY_HTML), "summary", "html"),
                (dir.join(README_TXT), "readme", "text"),
            ],
        },
    )?;
    Ok(EvidenceSummary {
        report,
        dir: dir.clone(),
    })
}

fn make_empty_folder(dir: &Path) -> Result<()> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(Error::usage(format!(
                    "{}: the folder is not empty. An evidence pack goes into a new or empty \
                     folder, so it holds only the files its manifest lists; name another",
                    dir.display()
                )));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e)),
        Err(e) => Err(Error::io(format!("cannot read {}", dir.display()), e)),
    }
}

fn write_whole(path: &Path, bytes: &[u8], protected: &Protected) -> Result<()> {
    crate::output::write_file(path, bytes, protected, Overwrite::Never)
}

/// The run history: one row per run, for people.
fn write_runs(ledger: &Ledger, path: &Path, protected: &Protected) -> Result<()> {
    let out = Output::create(path, protected, Overwrite::Never)?;
    let name = out.name().clone();
    let mut csv = csvfile::Writer::for_people(out, &["run"]);
    let header = [
        "run",
        "started_at",
        "ended_at",
        "result",
        "connector",
        "api_host",
        "rate",
        "operator",
        "host",
        "tool_version",
    ];
    csv.write_record(header).map_err(|e| name.csv_error(e))?;
    for run in ledger.run_facts()? {
        let cell = |v: &Option<String>| v.clone().unwrap_or_default();
        csv.write_record([
            run.id.to_string(),
            run.started_at.clone(),
            cell(&run.ended_at),
            cell(&run.result),
            run.connector.clone(),
            cell(&run.api_host),
            cell(&run.rate),
            cell(&run.operator),
            cell(&run.host),
            run.tool_version.clone(),
        ])
        .map_err(|e| name.csv_error(e))?;
    }
    let mut out = csv.into_inner().map_err(|e| name.error(e))?;
    out.flush().map_err(|e| name.error(e))?;
    out.finish()
}

/// README.txt: what each file is, and how to check the pack with forget alone.
fn readme(ledger: &Ledger, config: &EvidenceConfig) -> String {
    let ledger_path = ledger.path().display();
    let signed = match &config.sign {
        Some(key) => format!(
            "The manifest is signed: {MANIFEST_JSON}.sig holds an Ed25519 signature over its\n\
             exact bytes, by the key with fingerprint\n\n    {}\n\n\
             The public key (a .pub file made by `forget keygen`) must reach you apart from\n\
             this folder (or its fingerprint read to you): a key that came inside the\n\
             evidence proves the files are unchanged since signing, not who signed them.\n",
            key.key.public().fingerprint()
        ),
        None => "The manifest is NOT signed (no --sign-key was given): it proves the files\n\
                 match it, but anyone who can edit the files can edit it too. Ask for a\n\
                 signed pack (`forget keygen`, then `forget evidence DIR --sign-key KEY`).\n"
            .to_owned(),
    };
    format!(
        "forget evidence pack\n\
         ====================\n\n\
         Made by forget {version} from the ledger {ledger_path}.\n\
         It records GDPR erasure requests and what the API answered for each.\n\n\
         Files\n\
         -----\n\
         {REPORT_CSV}            one row per request row of every input file: the person's key\n\
         \x20                     (masked), the outcome (erased, not held, rejected, failed,\n\
         \x20                     pending, resolved), the API's answer, its transaction id, when.\n\
         {SUCCEEDED_CSV}         the requests that ended erased or not held.\n\
         {NEEDS_ATTENTION_CSV}   the requests still open, with the reason and the key in\n\
         \x20                     clear (only of people not erased), so the team can fix and\n\
         \x20                     run them again.\n\
         {RESOLVED_CSV}          requests an operator ended by hand, with the reason given.\n\
         {RUNS_CSV}              every run: when, by whom, from which host, against which API\n\
         \x20                     host, at what rate, how it ended.\n\
         {SUMMARY_HTML}          the same, at a glance: open it in any browser (self-contained,\n\
         \x20                     nothing is fetched).\n\
         {MANIFEST_JSON}         the SHA-256 of each file above, the counts, the input files'\n\
         \x20                     SHA-256, and the ledger's chain head: the hash that pins every\n\
         \x20                     answer, outcome, resolution and purge recorded until now.\n\
         {MANIFEST_JSON}.sig     its signature, when signed.\n\
         {README_TXT}            this file.\n\n\
         Keys in CSV cells that are digits only start with ' so spreadsheets keep them as\n\
         text; times are UTC.\n\n\
         Signature\n\
         ---------\n\
         {signed}\n\
         How to verify\n\
         -------------\n\
         With forget alone, given the ledger and the public key:\n\n\
         \x20   forget verify --state LEDGER --manifest {MANIFEST_JSON} --public-key KEY.pub\n\n\
         run in this folder (or name the manifest by its path). It checks, one verdict per\n\
         line: the ledger's SQLite integrity and forget's consistency rules; its hash chain\n\
         (no recorded answer, outcome, event or purge was edited, removed or reordered);\n\
         the signature and that the key is the one you expect; every file listed, by its\n\
         SHA-256; that the ledger still holds the chain head the manifest pinned; and that\n\
         its counts are the manifest's. Exit status 0 only when every check passes.\n\n\
         What it proves, and what it does not\n\
         ------------------------------------\n\
         It proves these files are the ones the holder of the key sealed, and that the\n\
         ledger's history up to the pinned head is unchanged since. It does not prove that\n\
         the API did more than it answered (an erasure is the API's answer with its\n\
         transaction id), nor who held the signing key, nor anything about records made\n\
         before the ledger's chain began (`forget verify` says when that was).\n",
        version = env!("CARGO_PKG_VERSION"),
    )
}
