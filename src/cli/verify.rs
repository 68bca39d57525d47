//! `forget verify`: every check of a ledger, one verdict a line (or JSON), and with
//! `--manifest` the checks of the evidence it seals; exit 0 only when all pass.

use std::path::PathBuf;

use clap::Args;

use super::args::LedgerArgs;
use super::format::{self, Format};
use crate::audit::manifest_check::{self, Request};
use crate::error::{Error, Result, exit};
use crate::ledger::Ledger;
use crate::ledger::verify::{Depth, Verdict};
use crate::output;
use crate::signing::Expected;

#[derive(Args, Debug)]
#[command(after_help = "\
Checks: SQLite's quick_check (every page and record), then forget's rules: every stored value
of the type and range forget writes, every unit in one known state, counts per outcome adding
up, row kinds, every row and attempt pointing at what it names, one request row per unit, a
transaction id for every Webex deletion, no plaintext key on an erased unit, files' row
counts, attempt counts; and the hash chain: every chained record (file, attempt, event,
purge) hashes to its link from the one before it, from the genesis to the head (`chain`),
nothing recorded since the chain began is outside it (`chain_coverage`), every unit's
outcome and transaction id are those its last chained answer gave (`chain_outcomes`).
`--format json` names them (field `check`).
With --manifest (a manifest of `forget report`, signed with --sign-key), also:
manifest_format (it reads as a forget manifest), manifest_signature (the signature in
MANIFEST.sig is valid for the manifest's exact bytes), manifest_signer (it was made with the
key given by --public-key: without it this check fails, since a key named by the evidence
itself proves integrity, not origin), report_file (one per listed file, found from the
manifest's folder: it exists and has the SHA-256 listed), manifest_chain_head (the ledger
still holds the history up to the chain head the manifest pinned), manifest_counts (the
ledger's counts per outcome are the manifest's, unless the chain shows it grew since).
  forget verify --state forget.db --manifest pack/manifest.json --public-key signing.key.pub
The ledger is opened read-only and nothing is written: a copy on read-only storage can be
verified.
Exit code: 0 when every check passes, 5 when one fails (2: no ledger, or not one; no
manifest, a --signature that is not there, or a --public-key that is not a key).")]
pub struct VerifyArgs {
    #[command(flatten)]
    pub ledger: LedgerArgs,
    /// Also check this manifest (`forget report --manifest`): its signature, the files it
    /// lists, and that the ledger still holds the history it pinned.
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
    /// The manifest's signature file [default: the manifest's path + .sig].
    #[arg(long, value_name = "FILE", requires = "manifest")]
    pub signature: Option<PathBuf>,
    /// The signer's public key, as you received it apart from the evidence: the FILE.pub
    /// `forget keygen` wrote, its line, or its fingerprint (SHA256:…).
    #[arg(long, value_name = "KEY", requires = "manifest")]
    pub public_key: Option<String>,
    /// text: one verdict a line. json: one document (`schema_version`, `command`, `ledger`,
    /// `ok`, `checks`: one object per check with check, about, ok, problems, detail; and with
    /// --manifest, `manifest`: what it says of itself).
    #[arg(long, value_name = "FORMAT", default_value = "text", value_parser = format::parser(&["text", "json"]))]
    pub format: Format,
    /// Deprecated: `--format json`.
    #[arg(long, hide = true)]
    pub json: bool,
}

pub fn exec(args: &VerifyArgs) -> Result<i32> {
    let expected = args
        .public_key
        .as_deref()
        .map(Expected::from_arg)
        .transpose()?;
    let (ledger, verdicts) = match Ledger::open_read_only(&args.ledger.state) {
        Ok(ledger) => {
            let verdicts = ledger.verify(Depth::All)?;
            (Some(ledger), verdicts)
        }
        // Damaged where SQLite reads first (its schema): the one verdict there is.
        Err(Error::Unsound { message, .. }) => (
            None,
            vec![Verdict {
                check: "sqlite_open",
                about: "SQLite can open the ledger and read its schema",
                ok: false,
                problems: 1,
                detail: Some(message),
            }],
        ),
        Err(e) => return Err(e),
    };
    let manifest = match &args.manifest {
        Some(path) => {
            let request = Request {
                manifest: path,
                signature: args.signature.as_deref(),
                expected: expected.as_ref(),
            };
            Some(manifest_check::check(&request, ledger.as_ref())?)
        }
        None => None,
    };
    print(args, verdicts, manifest)
}

fn print(
    args: &VerifyArgs,
    ledger_verdicts: Vec<Verdict>,
    manifest: Option<(manifest_check::About, Vec<Verdict>)>,
) -> Result<i32> {
    if !ledger_verdicts.iter().any(|v| v.check == "chain") && ledger_verdicts.len() > 1 {
        output::eprint(
            "note: this ledger has no hash chain (its schema is older than the chain): the \
             chain checks were not run; the next `forget run` on it upgrades it and begins one\n",
        );
    }
    let ledger_failed = ledger_verdicts.iter().filter(|v| !v.ok).count();
    let (about, manifest_verdicts) = match manifest {
        Some((about, verdicts)) => (Some(about), verdicts),
        None => (None, Vec::new()),
    };
    let manifest_failed = manifest_verdicts.iter().filter(|v| !v.ok).count();
    let failed = ledger_failed + manifest_failed;
    let printed = match format::chosen(args.format, &[(args.json, "--json", Format::Json)]) {
        Format::Json => {
            let checks: Vec<&Verdict> = ledger_verdicts.iter().chain(&manifest_verdicts).collect();
            let mut doc = serde_json::json!({
                "ledger": args.ledger.state.display().to_string(),
                "ok": failed == 0,
                "checks": checks,
            });
            if let Some(about) = &about {
                doc["manifest"] = serde_json::to_value(about)
                    .map_err(|e| Error::json("printing the manifest", e))?;
            }
            format::print_json("verify", doc)
        }
        _ => {
            let mut lines: String = ledger_verdicts
                .iter()
                .map(|v| format!("{}\n", v.line()))
                .collect();
            if let Some(about) = &about {
                lines.push_str(&about.line());
                lines.push('\n');
            }
            for v in &manifest_verdicts {
                lines.push_str(&line(v));
                lines.push('\n');
            }
            output::print(&lines)
        }
    };
    if ledger_failed > 0 {
        output::eprint(&format!(
            "ledger {}: {ledger_failed} of {} checks FAILED: do not trust it as evidence; restore \
             it from a backup\n",
            args.ledger.state.display(),
            ledger_verdicts.len()
        ));
    }
    if let (Some(about), true) = (&about, manifest_failed > 0) {
        output::eprint(&format!(
            "manifest {}: {manifest_failed} of {} checks FAILED: the evidence is not shown to be \
             what the key's holder sealed\n",
            about.path,
            manifest_verdicts.len()
        ));
    }
    let code = match failed {
        0 => exit::OK,
        _ => exit::LEDGER_CHECK,
    };
    output::decided(code, printed)
}

/// `check: ok`, `check: ok: what was found`, or `check: FAILED: what is wrong`.
fn line(v: &Verdict) -> String {
    match (&v.detail, v.ok) {
        (Some(detail), true) => format!("{}: ok: {detail}", v.check),
        _ => v.line(),
    }
}
