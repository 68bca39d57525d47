//! `forget report`: one row per request row, as evidence; split files; a manifest.

use std::path::PathBuf;

use clap::Args;

use super::args::LedgerArgs;
use super::format;
use crate::audit::report::{self, ReportConfig};
use crate::deadline;
use crate::error::{Error, Result, exit};
use crate::ledger::Ledger;
use crate::ledger::verify::Depth;
use crate::output;
use crate::signing::SigningKey;

#[derive(Args, Debug)]
#[command(after_help = "\
Columns: file, line, kind (request/duplicate/invalid), key_masked, key_hash (HMAC-SHA256 hex),
connector, profile-name, outcome, http_status, code, description, transaction_id, attempts,
first_attempt_at, last_attempt_at, finished_at (UTC; CSV `2026-11-30 03:59:14`, JSON RFC 3339;
finished_at only once the request ended), received_on, due_on, the
exparams sent, then the columns kept with `forget run --keep-column`. A ledger of access
exports (`forget access`) has outcomes exported and no_data, and an export_file column (after
due_on): each request's document, relative to the `forget access --out-dir` folder.
--split DIR writes succeeded.csv (deleted, not_found) and needs-attention.csv (everything else,
with plaintext keys while the ledger has them, in the shape `forget run` reads:
key,profile-name,exparam1..,received,...). Files are created 0600, written whole and renamed
into place; the ledger, its -wal/-shm/-journal, lock and key files, links, devices and pipes are
never written over. CSV cells a spreadsheet would run (=, +, -, @, tab, CR), or turn into a
number (digits only: keys, ids, codes; not line, attempts, http_status), start with ', which
`forget run` takes off when it reads needs-attention.csv back.
Signed evidence for an auditor (docs/reports.md, \"Signed manifests and verifying evidence\"):
  forget keygen signing.key          (once; signing.key.pub goes to the auditor)
  forget report --output report.csv --manifest manifest.json --sign-key signing.key
  forget verify --manifest manifest.json --public-key signing.key.pub   (the auditor)")]
pub struct ReportArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "csv")]
    pub format: report::Format,
    /// Write the report here instead of stdout (`-`: stdout). A file of the same name is
    /// replaced, whole, once the new one is complete (a report is regenerated from the ledger).
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Deprecated: `--output`.
    #[arg(long, value_name = "FILE", hide = true, conflicts_with = "output")]
    pub out: Option<PathBuf>,
    /// Only rows with these outcomes, e.g. `rejected,failed,invalid` (deleted, not_found,
    /// rejected, failed, pending, invalid; access exports: exported, no_data), or `late`:
    /// erased after their due date.
    #[arg(long, value_name = "LIST")]
    pub outcome: Option<String>,
    /// Only requests still open (not erased) after their due date, as of today (UTC).
    #[arg(long)]
    pub overdue: bool,
    /// Also write succeeded.csv and needs-attention.csv into DIR (instead of the report on
    /// stdout, unless --output is given).
    #[arg(long, value_name = "DIR")]
    pub split: Option<PathBuf>,
    /// Write a JSON manifest: tool version, input files with SHA-256 and row counts, every
    /// run, counts per outcome, and the SHA-256 of every file written now (`-`: stdout, when
    /// the report goes to a file).
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
    /// Sign the manifest with this secret key (made by `forget keygen`): the signature, over
    /// the manifest's exact bytes, is written beside it as FILE.sig, and the manifest names
    /// the key's fingerprint. Give the auditor the public key (KEY.pub) apart from the
    /// evidence; `forget verify --manifest FILE --public-key KEY.pub` checks it all.
    #[arg(long, value_name = "KEY", requires = "manifest")]
    pub sign_key: Option<PathBuf>,
    #[command(flatten)]
    pub ledger: LedgerArgs,
    /// The ledger's key file, if not the ledger path + .key: no report is ever written
    /// over it.
    #[arg(long, value_name = "PATH")]
    pub ledger_key_file: Option<PathBuf>,
    /// Print nothing on stderr but errors (no summary of what was written).
    #[arg(short, long)]
    pub quiet: bool,
}

impl ReportArgs {
    pub fn to_config(&self) -> Result<ReportConfig> {
        let output = format::renamed(self.output.as_ref(), self.out.as_ref(), "--out", "--output");
        Ok(ReportConfig {
            format: self.format,
            out: output.cloned(),
            main: output.is_some() || self.split.is_none(),
            outcomes: self
                .outcome
                .as_deref()
                .map(report::parse_outcomes)
                .transpose()?,
            overdue_on: self
                .overdue
                .then(|| deadline::format_date(deadline::today())),
            split: self.split.clone(),
            manifest: self.manifest.clone(),
            ledger_key_file: self.ledger_key_file.clone(),
            also: Vec::new(),
            sign: match &self.sign_key {
                Some(_)
                    if self
                        .manifest
                        .as_deref()
                        .is_some_and(|m| m.as_os_str() == "-") =>
                {
                    return Err(Error::usage(
                        "--sign-key writes the signature beside the manifest: give --manifest \
                         a file, not -",
                    ));
                }
                Some(path) => Some(SigningKey::load(path)?),
                None => None,
            },
        })
    }
}

pub fn exec(args: &ReportArgs) -> Result<i32> {
    let config = args.to_config()?;
    let ledger = Ledger::open_read_only(&args.ledger.state)?;
    ledger.ensure_sound(Depth::Report)?;
    let summary = report::write(&ledger, &config)?;
    if !args.quiet {
        output::eprint(&report::render_summary(&summary));
    }
    Ok(exit::OK)
}
