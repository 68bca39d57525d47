//! `forget lookup`: did we erase this person? Keys looked up by their keyed hash.

use std::path::PathBuf;

use clap::Args;

use super::args::{self, LedgerArgs};
use crate::audit::lookup::{self, KeySource, LookupConfig};
use crate::error::{Error, Result};
use crate::input::InputOptions;
use crate::{output, text};

#[derive(Args, Debug)]
#[command(after_help = "\
A key on the command line is visible to other users through `ps` and stays in your shell
history: prefer `forget lookup -` (keys on stdin, one a line) or --file.
A key the ledger does not hold as given is tried as its obvious spellings (an e-mail address in
lower case; a phone number without separators, with +, 00 or no prefix); the answer says which
matched, masked.
Exit code: 0 when every key looked up was erased (deleted or not found; access exports:
exported or no data), 4 otherwise.")]
pub struct LookupArgs {
    /// Keys to look up; `-` reads keys from stdin, one a line.
    #[arg(value_name = "KEY")]
    pub keys: Vec<String>,
    /// Look up every key of a CSV file (its `key` column, or --key-column).
    #[arg(long, value_name = "CSV")]
    pub file: Option<PathBuf>,
    /// The key column of --file.
    #[arg(long, default_value = "key", value_name = "NAME")]
    pub key_column: String,
    /// Field delimiter of --file; detected when not given.
    #[arg(long, value_name = "CHAR")]
    pub delimiter: Option<String>,
    /// Print a JSON array, one object per key, with every unit, request row and attempt.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub ledger: LedgerArgs,
    /// The ledger's HMAC key file [default: the ledger path + .key]; FORGET_LEDGER_KEY
    /// overrides it. Without it no key can be looked up.
    #[arg(long, value_name = "PATH")]
    pub ledger_key_file: Option<PathBuf>,
}

impl LookupArgs {
    pub fn to_config(&self) -> Result<LookupConfig> {
        let source = match (&self.file, self.keys.as_slice()) {
            (Some(_), [_, ..]) => {
                return Err(Error::usage(
                    "give keys or --file, not both (`forget lookup --file keys.csv`)",
                ));
            }
            (Some(path), []) => KeySource::File {
                path: path.clone(),
                input: InputOptions {
                    key_column: self.key_column.clone(),
                    delimiter: args::delimiter(self.delimiter.as_deref())?,
                    ..InputOptions::default()
                },
            },
            (None, []) => {
                return Err(Error::usage(
                    "give a key to look up: `forget lookup -` reads keys from stdin, one a line; \
                     --file CSV reads a file's key column",
                ));
            }
            (None, [dash]) if dash == "-" => KeySource::Stdin,
            (None, keys) if keys.iter().any(|k| k == "-") => {
                return Err(Error::usage("`-` (stdin) cannot be mixed with other keys"));
            }
            (None, keys) => KeySource::Args(keys.to_vec()),
        };
        Ok(LookupConfig {
            ledger_key_file: args::key_file(self.ledger_key_file.as_deref(), &self.ledger.state),
            state: self.ledger.state.clone(),
            source,
            json: self.json,
        })
    }
}

pub fn exec(args: &LookupArgs) -> Result<i32> {
    let config = &args.to_config()?;
    if matches!(config.source, KeySource::Args(_)) {
        output::eprint(&format!(
            "warning: keys on the command line are visible to other users (ps) and stay in your \
             shell history; prefer `forget lookup -{}` (keys on stdin) or --file\n",
            text::state_flag(&config.state)
        ));
    }
    let tally = lookup::run(config, std::io::stdout().lock())?;
    Ok(tally.exit_code())
}
