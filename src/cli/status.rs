//! `forget status`: counts per outcome, where the ledger key lives, and deadlines.

use std::path::PathBuf;

use clap::Args;

use super::args::{self, LedgerArgs};
use super::format::{self, Format};
use crate::audit::exports::{self, AccessCounts};
use crate::audit::{deadlines, html, status, status_md};
use crate::deadline;
use crate::error::{Error, Result, exit};
use crate::ledger::requests;
use crate::ledger::verify::Depth;
use crate::ledger::{self, Ledger};
use crate::output::{self, Destination, Overwrite, Protected};

#[derive(Args, Debug)]
pub struct StatusArgs {
    #[command(flatten)]
    pub ledger: LedgerArgs,
    /// text: for people. json: one document with `schema_version`, `command`, total,
    /// deleted, not_found, rejected, failed, pending, invalid, duplicates (units and rows);
    /// `requests`: people, requests, units, and requests per state; `deadlines`: the
    /// deadline counts and the overdue and late requests (with --deadlines: the deadline
    /// fields alone; with --by-connector: `scopes`, one object per connector and scope).
    /// md: a paragraph and a table of requests by state, to paste into a ticket.
    /// html: one self-contained page (no script, nothing fetched; keys masked) with charts —
    /// outcomes per file and connector, requests over time, deadlines with request ids, each
    /// run's calls and 429s, what needs attention and the command that ends it; best with
    /// --output summary.html.
    #[arg(long, value_name = "FORMAT", default_value = "text", value_parser = format::parser(&["text", "json", "md", "html"]))]
    pub format: Format,
    /// Write the summary (--format html or md) to FILE instead of stdout (`-`: stdout). A file
    /// of that name is replaced, whole, once the new one is complete; never the ledger, its
    /// companions or a recorded input file.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// With --format md: name this manifest (of `forget report --manifest` or `forget
    /// evidence`) in the summary — the key that signed it (its fingerprint) and the chain
    /// record it pins, checked against this ledger. `forget verify --manifest` checks the
    /// signature itself.
    #[arg(long, value_name = "FILE", requires = "format")]
    pub manifest: Option<PathBuf>,
    /// Deprecated: `--format json`.
    #[arg(long, hide = true)]
    pub json: bool,
    /// Counts per connector and scope (Webex profile, Outreach resource), even for a
    /// Webex-only ledger; in JSON, `scopes`: objects with `connector` and `scope`.
    #[arg(long)]
    pub by_connector: bool,
    /// Deadlines only: the counts, every unfinished key overdue or due within 7 days, and
    /// every request overdue (still open after its due date) or late (erased after it), with
    /// its request id, file:line, due date and days overdue (masked keys only).
    #[arg(long)]
    pub deadlines: bool,
    /// The kept column (`forget run --keep-column`) holding request ids, shown in the
    /// deadline lists [default: each file's first kept column].
    #[arg(long, value_name = "NAME")]
    pub id_column: Option<String>,
    /// The ledger's HMAC key file [default: the ledger path + .key]; FORGET_LEDGER_KEY
    /// overrides it. Shown, and checked against the ledger.
    #[arg(long, value_name = "PATH")]
    pub ledger_key_file: Option<PathBuf>,
}

pub fn exec(args: &StatusArgs) -> Result<i32> {
    let json = format::chosen(args.format, &[(args.json, "--json", Format::Json)]) == Format::Json;
    let path = &args.ledger.state;
    let summary = matches!(args.format, Format::Html | Format::Md) && !json;
    if args.output.is_some() && !summary {
        return Err(Error::usage(
            "--output writes the summary of --format html or md; the other formats print to stdout",
        ));
    }
    if args.manifest.is_some() && (args.format != Format::Md || json) {
        return Err(Error::usage(
            "--manifest names a manifest in the summary of --format md",
        ));
    }
    let ledger = Ledger::open_read_only(path)?;
    ledger.ensure_sound(Depth::Report)?;
    let today = deadline::today();
    if args.format == Format::Html && !json {
        let page = html::Summary::read(&ledger, path, today, args.id_column.as_deref())?;
        let code = exit_code(&page.requests);
        return write_summary(args, &ledger, &html::render(&page), code);
    }
    if args.deadlines {
        let d = deadlines::lists(&ledger, today, args.id_column.as_deref())?;
        if json {
            format::print_json("status", &d)?;
        } else {
            let mut text = status::render_deadlines(&d.summary);
            text.push_str(&deadlines::render_lists(&d));
            output::print(&text)?;
        }
        return Ok(exit::OK);
    }
    let counts = ledger.counts()?;
    let by_scope = ledger.counts_by_scope()?;
    let requests = ledger.request_counts_with(None, &by_scope)?;
    let code = exit_code(&requests);
    if args.format == Format::Md && !json {
        let seal = status_md::Seal {
            chain: ledger.chain_head()?,
            manifest: args
                .manifest
                .as_deref()
                .map(|m| manifest_seal(&ledger, m))
                .transpose()?,
        };
        let md = status_md::render(
            &path.display().to_string(),
            &ledger.file_facts()?,
            &ledger.run_facts()?,
            &requests,
            &seal,
        );
        return write_summary(args, &ledger, &md, code);
    }
    if json {
        if args.by_connector {
            format::print_json("status", serde_json::json!({ "scopes": by_scope }))?;
        } else {
            let deadlines = deadlines::lists(&ledger, today, args.id_column.as_deref())?;
            let access_exports = AccessCounts::of(&ledger)?;
            format::print_json(
                "status",
                StatusJson {
                    counts,
                    requests: requests.clone(),
                    access_exports,
                    deadlines,
                },
            )?;
        }
        return Ok(code);
    }
    let key_file = args::key_file(args.ledger_key_file.as_deref(), path);
    let key = status::key_status(&ledger, &key_file)?;
    let deadlines = ledger.deadlines(today, status::EARLIEST_SHOWN)?;
    let access = AccessCounts::of(&ledger)?;
    let mut text = match &access {
        Some(a) if a.whole(&counts) => exports::render_status(path, a, &key, &deadlines),
        _ => status::render(path, &counts, &key, &deadlines),
    };
    // A ledger of access exports alone has said it all in the words of exports.
    let access_only = access.as_ref().is_some_and(|a| a.whole(&counts));
    if args.by_connector || (ledger::shows_connectors(&by_scope) && !access_only) {
        text.push_str("by connector and scope:\n");
        text.push_str(&ledger::render_by_scope(&by_scope));
        if access.is_some() {
            text.push_str(exports::BY_SCOPE_NOTE);
        }
    }
    if let Some(a) = access.as_ref().filter(|a| !a.whole(&counts)) {
        text.push_str(&a.render());
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
    if matches!(key.check, Ok(ledger::KeyCheck::Differs)) {
        // Printed above, but a script reads the exit code: with the wrong key no key can be
        // looked up, resumed or reported by its plaintext.
        output::eprint(&format!(
            "error: the ledger key {} does not match {}: give the right one with \
             --ledger-key-file or FORGET_LEDGER_KEY\n",
            key.source,
            path.display()
        ));
        return Ok(exit::USAGE);
    }
    Ok(code)
}

/// `status --json`: the counts, the requests by state, and the deadlines beside them.
#[derive(serde::Serialize)]
struct StatusJson {
    #[serde(flatten)]
    counts: ledger::Counts,
    requests: requests::RequestCounts,
    /// A ledger holding access exports: them in their own words.
    #[serde(skip_serializing_if = "Option::is_none")]
    access_exports: Option<AccessCounts>,
    deadlines: deadlines::DeadlineLists,
}

/// 0 only when every request has ended, as for `run` and `resolve`.
fn exit_code(requests: &requests::RequestCounts) -> i32 {
    if requests.all_ended() {
        exit::OK
    } else {
        exit::INCOMPLETE
    }
}

/// A summary (HTML or Markdown) to --output under the output rule (never the ledger, its
/// companions or an input file it recorded; replaced whole), or to stdout. Its exit code was
/// decided before: a reader gone away does not change it.
fn write_summary(args: &StatusArgs, ledger: &Ledger, text: &str, code: i32) -> Result<i32> {
    match Destination::from_arg(args.output.as_deref()) {
        Destination::Stdout => output::decided(
            code,
            if args.format == Format::Html {
                // Escaped for HTML already; a terminal's escapes are not an HTML page's.
                output::print_data(text.as_bytes())
            } else {
                output::print(text)
            },
        ),
        Destination::File(file) => {
            let path = &args.ledger.state;
            let key_file = args::key_file(args.ledger_key_file.as_deref(), path);
            let mut protected = Protected::ledger(path, &key_file);
            for input in ledger.file_facts()? {
                protected.add_contents(
                    &input.sha256,
                    format!("the input file {} recorded in this ledger", input.path),
                );
            }
            let text = match args.format {
                Format::Html => text.into(),
                _ => crate::text::printable_lines(text),
            };
            output::write_file(&file, text.as_bytes(), &protected, Overwrite::Replace)?;
            Ok(code)
        }
    }
}

/// What a manifest says of its seal, for `--format md --manifest`: the key that signed it
/// and the chain record it pins, checked against this ledger's chain. (`forget verify
/// --manifest` checks the signature itself.)
fn manifest_seal(ledger: &Ledger, path: &std::path::Path) -> Result<status_md::ManifestSeal> {
    let bytes = std::fs::read(path).map_err(|e| {
        Error::usage(format!(
            "--manifest {}: cannot read it: {e}",
            path.display()
        ))
    })?;
    let doc: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
        Error::usage(format!(
            "--manifest {}: not a forget manifest: {e}",
            path.display()
        ))
    })?;
    let pinned = doc["chain_head"]["seq"].as_i64();
    let pinned_hash = doc["chain_head"]["hash"].as_str();
    let holds_pin = match (pinned, pinned_hash) {
        (Some(seq), Some(hash)) => {
            ledger::chain::hash_at(ledger.conn(), seq)?.as_deref() == Some(hash)
        }
        _ => false,
    };
    Ok(status_md::ManifestSeal {
        path: path.display().to_string(),
        fingerprint: doc["signer"]["fingerprint"].as_str().map(str::to_owned),
        pinned,
        holds_pin,
    })
}
