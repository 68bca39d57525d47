//! `forget lookup`: answer "did you erase me?" for one key or many, by hashing each key with
//! the ledger key and reading what the ledger recorded. The key itself is never printed: only
//! its masked form.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::PathBuf;

use crate::error::{Error, Result, exit};
use crate::input::ParsedRow;
use crate::input::{self, InputOptions};
use crate::keys::{KeyHash, KeyHasher, mask, variants};
use crate::ledger::audit::{InvalidMatch, UnitRecord};
use crate::ledger::verify::Depth;
use crate::ledger::{KeyCheck, Ledger, Pairs};
use crate::outcome::{ACCESS_CONNECTOR, shown};
use crate::output;
use crate::secret;
use crate::text::{printable, printable_lines};

/// Where the keys to look up come from.
#[derive(Clone, Debug)]
pub enum KeySource {
    /// Keys given as arguments (visible in `ps`: the command line warns).
    Args(Vec<String>),
    /// One key per line on stdin.
    Stdin,
    /// The key column of a CSV file, read like `forget run` reads it.
    File { path: PathBuf, input: InputOptions },
}

/// Everything `forget lookup` needs, validated.
#[derive(Clone, Debug)]
pub struct LookupConfig {
    pub state: PathBuf,
    pub ledger_key_file: PathBuf,
    pub source: KeySource,
    pub json: bool,
}

/// The answer for one key.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Lookup {
    /// Where the key came from in a `--file` (its line), if it did.
    pub line: Option<u64>,
    pub key_masked: String,
    pub key_hash: String,
    /// `erased`, `partly erased`, `not erased`, `request row invalid, never sent`,
    /// `not in the ledger`, or `invalid input` (the `--file` row itself is unreadable); for
    /// access exports `exported`, `no data`, `partly exported`, `not exported`.
    pub verdict: &'static str,
    pub units: Vec<UnitRecord>,
    /// Invalid input rows whose key, as written, is this key.
    pub invalid_rows: Vec<InvalidMatch>,
    /// Why the `--file` row could not be read as a key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_error: Option<String>,
    /// The spelling the ledger holds, when it is not the one given (masked, with the change
    /// in words): see [`crate::keys::variants`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matched_as: Option<MatchedAs>,
}

/// Which variant of the given key the ledger holds.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct MatchedAs {
    pub key_masked: String,
    pub form: &'static str,
}

impl Lookup {
    /// Every unit of the key ended: erased (or not found), or for access exports exported
    /// (or found to hold no data).
    pub fn erased(&self) -> bool {
        matches!(self.verdict, "erased" | "exported" | "no data")
    }
}

/// The verdict for a key's units: in the words of access exports when they all are.
fn verdict(all_units: &[UnitRecord], invalid_rows: &[InvalidMatch]) -> &'static str {
    // A unit every request of which a later row corrected (e.g. the key under a wrong
    // profile, fed back under the right one) is superseded: the person's fate is that of
    // the units that replaced it.
    let units: Vec<&UnitRecord> = all_units
        .iter()
        .filter(|u| !u.requests.iter().all(|r| r.state == "corrected"))
        .collect();
    let erased = units.iter().filter(|u| u.erased).count();
    let access = !units.is_empty() && units.iter().all(|u| u.connector == ACCESS_CONNECTOR);
    match (units.len(), erased) {
        (0, _) if all_units.is_empty() && !invalid_rows.is_empty() => {
            "request row invalid, never sent"
        }
        (0, _) if all_units.is_empty() => "not in the ledger",
        (0, _) => "not erased",
        (n, e) if n == e && access => {
            if units.iter().all(|u| u.outcome == "not_found") {
                "no data"
            } else {
                "exported"
            }
        }
        (n, e) if n == e => "erased",
        (_, 0) if access => "not exported",
        (_, 0) => "not erased",
        _ if access => "partly exported",
        _ => "partly erased",
    }
}

/// Looks keys up in one ledger with its key.
pub struct Finder<'a> {
    ledger: &'a Ledger,
    hasher: &'a KeyHasher,
    invalid: HashMap<KeyHash, Vec<InvalidMatch>>,
}

impl<'a> Finder<'a> {
    pub fn new(ledger: &'a Ledger, hasher: &'a KeyHasher) -> Result<Finder<'a>> {
        Ok(Finder {
            ledger,
            hasher,
            invalid: ledger.invalid_rows_by_hash(hasher)?,
        })
    }

    /// Look `key` up as given (trimmed), else as the first of its obvious variants the
    /// ledger holds (see [`crate::keys::variants`]).
    pub fn find(&self, key: &str, line: Option<u64>) -> Result<Lookup> {
        let key = key.trim();
        let mut found = None;
        // A cell copied from a CSV forget wrote for people (`'447700900123`, `'+44…`) is
        // looked up as forget wrote it after the key as typed.
        let cell = crate::csvfile::unescape_cell(key);
        let spellings = std::iter::once(key).chain((cell != key).then_some(cell));
        for variant in spellings.flat_map(variants) {
            let hash = self.hasher.hash(&variant.key);
            let units = self.ledger.units_by_hash(&hash)?;
            let invalid_rows = self.invalid.get(&hash).cloned().unwrap_or_default();
            let hit = !units.is_empty() || !invalid_rows.is_empty();
            if hit || found.is_none() {
                let matched_as = variant.form.map(|form| MatchedAs {
                    key_masked: mask(&variant.key),
                    form,
                });
                found = Some((hash, units, invalid_rows, matched_as));
            }
            if hit {
                break;
            }
        }
        let Some((hash, units, invalid_rows, matched_as)) = found else {
            return Err(Error::internal("a key has at least one spelling"));
        };
        let matched_as = if units.is_empty() && invalid_rows.is_empty() {
            None
        } else {
            matched_as
        };
        let verdict = verdict(&units, &invalid_rows);
        Ok(Lookup {
            line,
            key_masked: mask(key),
            key_hash: hex::encode(hash),
            verdict,
            units,
            invalid_rows,
            input_error: None,
            matched_as,
        })
    }
}

/// `forget lookup`: open the ledger with its key and print an answer per key to `out`.
pub fn run(config: &LookupConfig, out: impl Write) -> Result<Tally> {
    let ledger = Ledger::open_read_only(&config.state)?;
    ledger.ensure_sound(Depth::Report)?;
    let (key, _) = secret::load_ledger_key(&config.ledger_key_file, false)?;
    let hasher = KeyHasher::new(&key);
    if ledger.verify_key(&hasher)? == KeyCheck::Differs {
        // Every key would look "not in the ledger": a false answer, so refuse.
        return Err(ledger.wrong_key());
    }
    let finder = Finder::new(&ledger, &hasher)?;
    let mut printer = Printer::new(out, config.json);
    for_each(&finder, &config.source, |l| printer.print(l))?;
    printer.finish()
}

/// Look up every key from `source`, handing each answer to `each` as it is found.
pub fn for_each(
    finder: &Finder<'_>,
    source: &KeySource,
    mut each: impl FnMut(Lookup) -> Result<()>,
) -> Result<()> {
    match source {
        KeySource::Args(keys) => {
            for key in keys {
                each(finder.find(key, None)?)?;
            }
        }
        KeySource::Stdin => {
            for (i, line) in std::io::stdin().lock().lines().enumerate() {
                let line = line.map_err(|e| Error::io("reading keys from stdin", e))?;
                if !line.trim().is_empty() {
                    each(finder.find(&line, Some(i as u64 + 1))?)?;
                }
            }
        }
        KeySource::File { path, input } => {
            let file = input::inspect(path, input)?;
            let mut rows = file.rows(input)?;
            while let Some(row) = rows.next_row()? {
                match row {
                    ParsedRow::Request { line, key, .. } => each(finder.find(&key, Some(line))?)?,
                    ParsedRow::Invalid { line, reason, .. } => each(Lookup {
                        line: Some(line),
                        key_masked: String::new(),
                        key_hash: String::new(),
                        verdict: "invalid input",
                        units: Vec::new(),
                        invalid_rows: Vec::new(),
                        input_error: Some(reason),
                        matched_as: None,
                    })?,
                }
            }
        }
    }
    Ok(())
}

/// Tallies for the closing line and the exit code.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub keys: u64,
    /// Distinct keys per connector found (a person in two profiles is one person).
    pub people: u64,
    pub requests: u64,
    pub units: u64,
    pub erased: u64,
    /// Access exports: exported, or found to hold no data.
    pub exported: u64,
    pub not_erased: u64,
    pub unknown: u64,
    pub invalid: u64,
}

impl Tally {
    pub fn add(&mut self, l: &Lookup) {
        self.keys += 1;
        let mut connectors: Vec<&str> = l.units.iter().map(|u| u.connector.as_str()).collect();
        connectors.sort_unstable();
        connectors.dedup();
        self.people += connectors.len() as u64;
        self.units += l.units.len() as u64;
        self.requests += l.units.iter().map(|u| u.requests.len() as u64).sum::<u64>()
            + l.invalid_rows.len() as u64;
        match l.verdict {
            "erased" => self.erased += 1,
            "exported" | "no data" => self.exported += 1,
            "not in the ledger" => self.unknown += 1,
            "invalid input" => self.invalid += 1,
            _ => self.not_erased += 1,
        }
    }

    /// 0 when every key looked up was erased; 4 otherwise.
    pub fn exit_code(&self) -> i32 {
        if self.keys > 0 && self.erased + self.exported == self.keys {
            exit::OK
        } else {
            exit::INCOMPLETE
        }
    }

    pub fn render(&self) -> String {
        let (done, not) = if self.exported > 0 {
            (
                format!(
                    "{} erased, {} exported (or no data)",
                    self.erased, self.exported
                ),
                "done",
            )
        } else {
            (format!("{} erased", self.erased), "erased")
        };
        format!(
            "{} keys looked up: {done}, {} not (or not fully) {not}, {} not in the ledger{} \
             ({} people, {} requests, {} units)\n",
            self.keys,
            self.not_erased,
            self.unknown,
            if self.invalid > 0 {
                format!(", {} unreadable input rows", self.invalid)
            } else {
                String::new()
            },
            self.people,
            self.requests,
            self.units,
        )
    }
}

/// A value from the input or the API, shown (escaped) or `-`.
fn or_dash(v: &Option<String>) -> Cow<'_, str> {
    v.as_deref().map_or(Cow::Borrowed("-"), printable)
}

fn pairs(p: &Pairs) -> String {
    if p.is_empty() {
        "-".into()
    } else {
        printable(&p.render()).into_owned()
    }
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

/// A lookup for a human: verdict first, then the evidence. Every value that came from an
/// input file or the API is escaped ([`printable`]): it cannot move the cursor, retitle the
/// terminal or start a line of its own.
pub fn render(l: &Lookup) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let at = l.line.map(|n| format!("line {n}: ")).unwrap_or_default();
    if let Some(reason) = &l.input_error {
        let _ = writeln!(out, "{at}unreadable input row: {}", printable(reason));
        return out;
    }
    let _ = writeln!(
        out,
        "{at}{}  {}  (key hash {})",
        printable(&l.key_masked),
        l.verdict.to_uppercase(),
        short(&l.key_hash)
    );
    if let Some(m) = &l.matched_as {
        let _ = writeln!(
            out,
            "  matched as {} ({})",
            printable(&m.key_masked),
            m.form
        );
    }
    for u in &l.units {
        let scope = if u.profile_name.is_empty() {
            Cow::Borrowed("(tenant default profile)")
        } else {
            printable(&u.profile_name)
        };
        let when = match (&u.finished_at, u.erased) {
            (Some(at), true) => format!(" on {at}"),
            _ => String::new(),
        };
        let what = if u.connector == ACCESS_CONNECTOR {
            "query"
        } else {
            "profile"
        };
        let _ = writeln!(
            out,
            "  {} {what} {scope}: {}{when}",
            u.connector,
            match shown(Some(&u.connector), &u.outcome) {
                "no_data" => "no data",
                word => word,
            }
        );
        if let Some(file) = &u.export_file {
            let _ = writeln!(
                out,
                "    document         {} (in the `forget access --out-dir` folder)",
                printable(file)
            );
        }
        if let Some(tx) = &u.transaction_id {
            let _ = writeln!(out, "    transaction id   {}", printable(tx));
        }
        if u.code.is_some() || u.description.is_some() {
            let _ = writeln!(
                out,
                "    last answer      HTTP {} code {} {}",
                u.http_status.map_or("-".into(), |s| s.to_string()),
                or_dash(&u.code),
                or_dash(&u.description)
            );
        }
        if u.after_ambiguous {
            let _ = writeln!(
                out,
                "    note             not found after a timed-out attempt: that attempt erased it"
            );
        }
        let _ = writeln!(out, "    audit fields     {}", pairs(&u.exparams));
        if let Some(due) = &u.due_on {
            let _ = writeln!(out, "    due              {due}");
        }
        if let Some(p) = &u.purged_at {
            let _ = writeln!(
                out,
                "    purged           {p} (given up on: the ledger no longer holds the key)"
            );
        }
        for r in &u.requests {
            let received = r
                .received_on
                .as_deref()
                .map(|d| format!(", received {d}"))
                .unwrap_or_default();
            let extra = match pairs(&r.extra).as_str() {
                "-" => String::new(),
                p => format!(", {p}"),
            };
            let state = match &r.ended_by {
                Some(by) => printable(by).into_owned(),
                None => r.state.replace('_', " "),
            };
            let _ = writeln!(
                out,
                "    requested in     {}:{} (sha256 {}…) {}{received}{extra}: {state}",
                printable(&r.file),
                r.line,
                short(&r.file_sha256),
                r.kind
            );
        }
        for a in &u.history {
            let _ = writeln!(
                out,
                "    attempt          {}  run {}  HTTP {}  code {}  {}  {} ms{}",
                a.at,
                a.run_id,
                a.http_status.map_or("-".into(), |s| s.to_string()),
                or_dash(&a.code),
                shown(Some(&u.connector), &a.verdict),
                a.latency_ms,
                a.error
                    .as_deref()
                    .map(|e| format!("  ({})", printable(e)))
                    .unwrap_or_default()
            );
        }
    }
    for r in &l.invalid_rows {
        let _ = writeln!(
            out,
            "  invalid input row {}:{} (sha256 {}…): {} — never sent",
            printable(&r.file),
            r.line,
            short(&r.file_sha256),
            printable(&r.reason)
        );
    }
    out
}

/// Write lookups as they come to standard output (its failures read as such: a reader that
/// went away ends the lookup quietly): a JSON array (`json`) or human text.
pub struct Printer<W: Write> {
    out: W,
    json: bool,
    first: bool,
    pub tally: Tally,
}

impl<W: Write> Printer<W> {
    pub fn new(out: W, json: bool) -> Printer<W> {
        Printer {
            out,
            json,
            first: true,
            tally: Tally::default(),
        }
    }

    pub fn print(&mut self, l: Lookup) -> Result<()> {
        self.tally.add(&l);
        let io = output::stdout_error;
        if self.json {
            let sep: &[u8] = if self.first { b"[\n" } else { b",\n" };
            self.out.write_all(sep).map_err(io)?;
            serde_json::to_writer(&mut self.out, &l).map_err(|e| match e.io_error_kind() {
                Some(_) => io(std::io::Error::from(e)),
                None => Error::internal(format!("writing the lookup: {e}")),
            })?;
        } else {
            let text = render(&l);
            self.out
                .write_all(printable_lines(&text).as_bytes())
                .map_err(io)?;
        }
        self.first = false;
        Ok(())
    }

    pub fn finish(mut self) -> Result<Tally> {
        let io = output::stdout_error;
        if self.json {
            let end: &[u8] = if self.first { b"[]\n" } else { b"\n]\n" };
            self.out.write_all(end).map_err(io)?;
        } else {
            self.out
                .write_all(self.tally.render().as_bytes())
                .map_err(io)?;
        }
        self.out.flush().map_err(io)?;
        Ok(self.tally)
    }
}
