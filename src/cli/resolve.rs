//! `forget resolve`: end requests that need attention, with a reason (see
//! [`crate::audit::resolve`]).

use std::io::BufRead;
use std::path::PathBuf;

use clap::Args;

use super::args::{self, LedgerArgs};
use super::format::{self, Format};
use crate::audit::resolve::{self, RESOLVABLE, ResolveConfig, Selector};
use crate::error::{Error, Result, exit};
use crate::ledger::corrections::parse_ref;
use crate::ledger::requests::{self, State};
use crate::output;

#[derive(Args, Debug)]
#[command(after_help = "\
Each request resolved gets one `resolved` event in the ledger (when, operator, host, reason);
its unit's outcome is never rewritten. An ended request (erased, not held, resolved,
corrected) is refused, with the reason. The reason is free text kept in the ledger and shown
in reports: it must not hold personal data; a key it repeats is stored masked.
Exit code: 0 when every request in the ledger has ended, 4 when some still need attention.")]
pub struct ResolveArgs {
    /// text: one line per request, then what is still open. json: one document
    /// (`schema_version`, `command`, `dry_run`, `requests`: at, key_masked, was, resolved,
    /// refused, reason; `unmatched`; `counts`: every request by state afterwards).
    #[arg(long, value_name = "FORMAT", default_value = "text", value_parser = format::parser(&["text", "json"]))]
    pub format: Format,
    /// Why these requests end, e.g. "blank key: ticket returned to the requester" (free text,
    /// no personal data).
    #[arg(long, value_name = "TEXT", required = true)]
    pub reason: String,
    /// Every request for this key (matched by keyed hash, as lookup does). Repeatable.
    /// Visible to other users through `ps`: prefer --from.
    #[arg(long, value_name = "KEY")]
    pub key: Vec<String>,
    /// The request at FILE:LINE (as `forget report` and `forget invalid` name it). Repeatable.
    #[arg(long, value_name = "FILE:LINE")]
    pub row: Vec<String>,
    /// Every request in these states, comma-separated: rejected, failed, invalid,
    /// date_unreadable, set_aside, pending.
    #[arg(long, value_name = "LIST")]
    pub outcome: Option<String>,
    /// Requests listed in a file, one key or FILE:LINE a line (`-`: stdin).
    #[arg(long, value_name = "FILE")]
    pub from: Option<PathBuf>,
    /// Show what would be resolved; record nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub ledger: LedgerArgs,
    /// The ledger's HMAC key file, to match --key [default: the ledger path + .key];
    /// FORGET_LEDGER_KEY overrides it.
    #[arg(long, value_name = "PATH")]
    pub ledger_key_file: Option<PathBuf>,
}

impl ResolveArgs {
    pub fn to_config(&self) -> Result<ResolveConfig> {
        let mut selectors: Vec<Selector> = self.key.iter().cloned().map(Selector::Key).collect();
        for row in &self.row {
            let (path, line) = parse_ref(row).ok_or_else(|| {
                Error::usage(format!(
                    "--row {row}: expected FILE:LINE, e.g. --row requests.csv:12"
                ))
            })?;
            selectors.push(Selector::Row {
                path: path.to_owned(),
                line,
            });
        }
        if let Some(list) = &self.outcome {
            for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                let state = State::parse(name)
                    .filter(|s| RESOLVABLE.contains(s))
                    .ok_or_else(|| {
                        Error::usage(format!(
                            "--outcome {name}: not a state that can be resolved; use {}",
                            RESOLVABLE.map(State::as_str).join(", ")
                        ))
                    })?;
                selectors.push(Selector::State(state));
            }
        }
        if let Some(from) = &self.from {
            selectors.extend(read_from(from)?.into_iter().map(Selector::Line));
        }
        if selectors.is_empty() {
            return Err(Error::usage(
                "say which requests: --key KEY, --row FILE:LINE, --outcome rejected|failed|invalid, \
                 or --from FILE",
            ));
        }
        Ok(ResolveConfig {
            ledger_key_file: args::key_file(self.ledger_key_file.as_deref(), &self.ledger.state),
            state: self.ledger.state.clone(),
            selectors,
            reason: self.reason.clone(),
            dry_run: self.dry_run,
        })
    }
}

/// The non-blank lines of `--from` (`#` starts a comment line).
fn read_from(path: &PathBuf) -> Result<Vec<String>> {
    let lines: Vec<String> = if path.as_os_str() == "-" {
        std::io::stdin()
            .lock()
            .lines()
            .collect::<std::io::Result<_>>()
            .map_err(|e| Error::io("reading --from on stdin", e))?
    } else {
        std::fs::read_to_string(path)
            .map_err(|e| Error::input(path, format!("cannot read it: {e}")))?
            .lines()
            .map(str::to_owned)
            .collect()
    };
    Ok(lines
        .into_iter()
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect())
}

pub fn exec(args: &ResolveArgs) -> Result<i32> {
    let config = &args.to_config()?;
    if !args.key.is_empty() {
        output::eprint(
            "warning: keys on the command line are visible to other users (ps) and stay in your \
             shell history; prefer --from FILE (or --from - for stdin)\n",
        );
    }
    output::eprint(
        "note: the reason is free text kept in the ledger and shown in reports: it must not \
         hold personal data (names, addresses, keys)\n",
    );
    let report = resolve::run(config)?;
    if report.masked {
        output::eprint("note: the reason repeated a key: it is stored with the key masked\n");
    }
    let code = if report.counts.all_ended() {
        exit::OK
    } else {
        exit::INCOMPLETE
    };
    if args.format == Format::Json {
        let requests: Vec<serde_json::Value> = report
            .picked
            .iter()
            .map(|p| {
                serde_json::json!({
                    "at": p.at,
                    "key_masked": p.key_masked,
                    "was": p.was.as_str(),
                    "resolved": p.refused.is_none() && !config.dry_run,
                    "refused": p.refused,
                    "reason": p.reason,
                })
            })
            .collect();
        let printed = format::print_json(
            "resolve",
            serde_json::json!({
                "dry_run": config.dry_run,
                "requests": requests,
                "unmatched": report.unmatched,
                "counts": report.counts,
            }),
        );
        return output::decided(code, printed);
    }
    let mut text = resolve::render(&report, config.dry_run);
    text.push_str(&requests::render_open(
        &report.counts,
        &config.state,
        "run forget run again with the settings of the first run (no files needed)",
    ));
    output::decided(code, output::print(&text))
}
