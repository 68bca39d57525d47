//! The output vocabulary every command shares: `--format` names what is printed (`text` for
//! people; `json` — one document with a `schema_version` — for scripts; `csv` or `jsonl`
//! where a command has rows). The old spellings (`--json`, `--csv`) still work for one
//! release, with a note on stderr.

use clap::builder::{PossibleValuesParser, TypedValueParser};

use crate::error::{Error, Result};
use crate::output;

/// The version of every JSON document forget prints for scripts. Raised when a field
/// changes meaning or goes away; adding a field does not raise it.
pub const SCHEMA_VERSION: u32 = 1;

/// What a command prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Csv,
    Jsonl,
    /// Markdown, to paste into a ticket.
    Md,
    /// One self-contained HTML page.
    Html,
}

impl Format {
    fn parse(s: &str) -> std::result::Result<Format, String> {
        match s {
            "text" => Ok(Format::Text),
            "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            "jsonl" => Ok(Format::Jsonl),
            "md" => Ok(Format::Md),
            "html" => Ok(Format::Html),
            other => Err(format!("unknown format {other}")),
        }
    }
}

/// A `--format` parser offering exactly `names` (so `--help` lists what this command
/// prints).
pub fn parser(names: &'static [&'static str]) -> impl TypedValueParser<Value = Format> {
    PossibleValuesParser::new(names).try_map(|s| Format::parse(&s))
}

/// The format chosen: `--format`, unless an old flag (`--json`, `--csv`) was given, which
/// still works, with a note.
pub fn chosen(format: Format, old: &[(bool, &str, Format)]) -> Format {
    for (given, flag, meant) in old {
        if *given {
            output::eprint(&format!(
                "note: {flag} is deprecated and will be removed; use --format {}\n",
                name(*meant)
            ));
            return *meant;
        }
    }
    format
}

fn name(format: Format) -> &'static str {
    match format {
        Format::Text => "text",
        Format::Json => "json",
        Format::Csv => "csv",
        Format::Jsonl => "jsonl",
        Format::Md => "md",
        Format::Html => "html",
    }
}

/// `body` (a JSON object) as `command`'s document for scripts: its own fields, with
/// `schema_version` and `command` beside them. Printed on one line with a newline.
pub fn print_json(command: &str, body: impl serde::Serialize) -> Result<()> {
    let body = serde_json::to_value(body).map_err(|e| Error::json("printing JSON", e))?;
    let mut doc = serde_json::Map::new();
    doc.insert("schema_version".into(), SCHEMA_VERSION.into());
    doc.insert("command".into(), command.into());
    match body {
        serde_json::Value::Object(fields) => doc.extend(fields),
        other => {
            return Err(Error::internal(format!(
                "{command}: a JSON document must be an object, not {other}"
            )));
        }
    }
    let mut line = serde_json::to_vec(&doc).map_err(|e| Error::json("printing JSON", e))?;
    line.push(b'\n');
    output::print_data(&line)
}

/// The value of a renamed flag: the new spelling, else the old one (still accepted for one
/// release, with a note naming the new one).
pub fn renamed<'a, T>(
    new: Option<&'a T>,
    old: Option<&'a T>,
    old_flag: &str,
    new_flag: &str,
) -> Option<&'a T> {
    if new.is_none() && old.is_some() {
        output::eprint(&format!(
            "note: {old_flag} is deprecated and will be removed; use {new_flag}\n"
        ));
        return old;
    }
    new
}
