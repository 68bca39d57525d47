//! `forget status`: counts per outcome, where the ledger key lives, and deadlines.

use std::path::PathBuf;

use clap::Args;

use super::args::{self, LedgerArgs};
use crate::audit::status;
use crate::deadline;
use crate::error::{Error, Result, exit};
use crate::ledger::requests;
use crate::ledger::verify::Depth;
use crate::ledger::{self, Ledger};
use crate::output;

#[derive(Args, Debug)]
pub struct StatusArgs {
    #[command(flatten)]
    pub ledger: LedgerArgs,
    /// Print one JSON object: total, deleted, not_found, rejected, failed, pending, invalid,
    /// duplicates (units and rows), and `requests`: people, requests, units, and requests
    /// per state (with --deadlines: the deadline summary and every key due soon or overdue).
    #[arg(long)]
    pub json: bool,
    /// Counts per connector and scope (Webex profile, Outreach resource), even for a
    /// Webex-only ledger; with --json, a JSON array of objects with `connector` and `scope`.
    #[arg(long)]
    pub by_connector: bool,
    /// Deadlines only: every unfinished key overdue or due within 7 days (masked keys).
    #[arg(long)]
    pub deadlines: bool,
    /// The ledger's HMAC key file [default: the ledger path + .key]; FORGET_LEDGER_KEY
    /// overrides it. Shown, and checked against the ledger.
    #[arg(long, value_name = "PATH")]
    pub ledger_key_file: Option<PathBuf>,
}

pub fn exec(args: &StatusArgs) -> Result<i32> {
    let path = &args.ledger.state;
    let ledger = Ledger::open_read_only(path)?;
    ledger.ensure_sound(Depth::Report)?;
    let today = deadline::today();
    if args.deadlines {
        let d = ledger.deadlines(today, usize::MAX >> 1)?;
        if args.json {
            print_json(&d)?;
        } else {
            output::print(&status::render_deadlines(&d))?;
        }
        return Ok(exit::OK);
    }
    let counts = ledger.counts()?;
    let by_scope = ledger.counts_by_scope()?;
    let requests = ledger.request_counts(None)?;
    // 0 only when every request has ended, as for `run` and `resolve`.
    let code = if requests.all_ended() {
        exit::OK
    } else {
        exit::INCOMPLETE
    };
    if args.json {
        if args.by_connector {
            print_json(&by_scope)?;
        } else {
            print_json(&status::JsonStatus {
                counts: &counts,
                requests: &requests,
            })?;
        }
        return Ok(code);
    }
    let key_file = args::key_file(args.ledger_key_file.as_deref(), path);
    let key = status::key_status(&ledger, &key_file)?;
    let deadlines = ledger.deadlines(today, status::EARLIEST_SHOWN)?;
    let mut text = status::render(path, &counts, &key, &deadlines);
    if args.by_connector || ledger::shows_connectors(&by_scope) {
        text.push_str("by connector and scope:\n");
        text.push_str(&ledger::render_by_scope(&by_scope));
    }
    let unfinished = ledger.unfinished_files()?;
    if let Some(note) = status::render_unfinished(unfinished) {
        text.push_str(&note);
    }
    text.push_str(&requests.render_line());
    text.push_str(&requests::render_open(
        &requests,
        path,
        "run forget run again with the settings of the first run (no files needed)",
    ));
    output::print(&text)?;
    Ok(code)
}

/// One JSON line on stdout.
fn print_json(value: &impl serde::Serialize) -> Result<()> {
    let mut line =
        serde_json::to_vec(value).map_err(|e| Error::internal(format!("writing JSON: {e}")))?;
    line.push(b'\n');
    output::print_data(&line)
}
