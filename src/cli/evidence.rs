//! `forget evidence DIR`: the evidence pack — report, split files, run history, HTML
//! summary, README.txt and a manifest of them all, signed with --sign-key.

use std::path::PathBuf;

use clap::Args;

use super::args::LedgerArgs;
use crate::audit::evidence::{self, EvidenceConfig};
use crate::audit::report;
use crate::deadline;
use crate::error::{Result, exit};
use crate::ledger::Ledger;
use crate::ledger::verify::Depth;
use crate::output;
use crate::signing::SigningKey;

#[derive(Args, Debug)]
#[command(after_help = "\
Writes into DIR (made if missing; refused unless empty, so it holds only what its manifest
lists): report.csv (one row per request row, keys masked), succeeded.csv, needs-attention.csv
(requests still open, keys in clear only for people not erased, to fix and run again),
resolved.csv, runs.csv (every run: when, who, where, rate, result), summary.html (the same at
a glance, self-contained), README.txt (what each file is and how to verify it), and
manifest.json (every file's SHA-256, the counts, the input files' SHA-256 and the ledger's
hash-chain head), with manifest.json.sig when --sign-key is given.
  forget keygen signing.key                       (once; signing.key.pub goes to the auditor)
  forget evidence pack --sign-key signing.key
  forget verify --manifest pack/manifest.json --public-key signing.key.pub   (the auditor)
The ledger is opened read-only: a copy on read-only storage can be packed.
Exit code: 0 when written; 2 when DIR is not empty or an argument is wrong; 5 when the ledger
fails its checks.")]
pub struct EvidenceArgs {
    /// The folder to write the pack into: new, or empty.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    #[command(flatten)]
    pub ledger: LedgerArgs,
    /// Sign the manifest with this secret key (made by `forget keygen`): manifest.json.sig.
    #[arg(long, value_name = "FILE")]
    pub sign_key: Option<PathBuf>,
    /// The kept column (`forget run --keep-column`) holding request ids, shown in the
    /// summary's deadline lists [default: each file's first kept column].
    #[arg(long, value_name = "NAME")]
    pub id_column: Option<String>,
    /// The ledger's HMAC key file, never written over [default: the ledger path + .key].
    #[arg(long, value_name = "PATH")]
    pub ledger_key_file: Option<PathBuf>,
    /// Print nothing on success.
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn exec(args: &EvidenceArgs) -> Result<i32> {
    let config = EvidenceConfig {
        dir: args.dir.clone(),
        sign: args.sign_key.as_deref().map(SigningKey::load).transpose()?,
        ledger_key_file: args.ledger_key_file.clone(),
        id_column: args.id_column.clone(),
        today: deadline::today(),
    };
    let ledger = Ledger::open_read_only(&args.ledger.state)?;
    ledger.ensure_sound(Depth::Report)?;
    let written = evidence::write(&ledger, &config)?;
    if !args.quiet {
        let mut text = report::render_summary(&written.report);
        text.push_str(&format!(
            "evidence pack written to {}: README.txt there says what each file is and how to \
             verify it\n",
            written.dir.display()
        ));
        output::eprint(&text);
    }
    Ok(exit::OK)
}
