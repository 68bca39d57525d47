//! `forget run`: record erasure requests from CSV files and send every unfinished key.

use std::path::PathBuf;

use clap::Args;

use super::args::{self, ConnectorArgs, PacingArgs, SendArgs, TargetArgs};
use super::format::{self, Format};
use crate::connector::Kind;
use crate::deadline::DateFormat;
use crate::error::{Error, Result};
use crate::input::InputOptions;
use crate::job::{self, RunConfig};
use crate::output;

#[derive(Args, Debug)]
pub struct RunArgs {
    /// CSV files of erasure requests (header row; a `key` column; optional `profile-name`
    /// and `exparam1`..`exparam10`; for Outreach an `id` column). With none, the ledger's
    /// unfinished keys are resumed.
    #[arg(value_name = "CSV")]
    pub files: Vec<PathBuf>,
    /// The summary printed at the end: text for people, or json — one document with
    /// `schema_version`, `command`, `input`, `sent`, `this_run`, `ledger`, `requests`,
    /// `exit_code`, and with --dry-run `would_send`.
    #[arg(long, value_name = "FORMAT", default_value = "text", value_parser = format::parser(&["text", "json"]))]
    pub format: Format,

    #[command(flatten)]
    pub connector: ConnectorArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Skip the preflight: by default one canary delete (a key that cannot exist) proves the
    /// URL, token and profile name before any real Webex key is sent.
    #[arg(long, help_heading = "Connection")]
    pub no_preflight: bool,

    /// The column holding the key: MSISDN, e-mail or app device id (Webex), or the record id
    /// (Outreach) [default: key; id with --connector outreach].
    #[arg(long, value_name = "NAME", help_heading = "Input")]
    pub key_column: Option<String>,
    /// Field delimiter; detected from the header when not given (comma, semicolon, tab).
    #[arg(long, value_name = "CHAR", help_heading = "Input")]
    pub delimiter: Option<String>,
    /// Profile name for rows without a `profile-name` value (none: the tenant default).
    #[arg(long, value_name = "NAME", help_heading = "Input")]
    pub profile_name: Option<String>,
    /// A run-wide audit field for rows that do not carry their own, e.g.
    /// `--exparam exparam1=GDPR-REQ-2026-11`. Repeatable; N is 1 to 10.
    #[arg(long, value_name = "exparamN=VALUE", help_heading = "Input")]
    pub exparam: Vec<String>,
    /// The column holding the date each request was received (see --date-format). Each
    /// request is then due one month later (GDPR Art. 12(3)); the oldest-due keys are sent
    /// first. A date that cannot be read leaves its request undated and flagged, still sent.
    #[arg(long, value_name = "NAME", help_heading = "Input")]
    pub received_column: Option<String>,
    /// How the received dates are written: yyyy-MM-dd (ISO; also ISO date-times such as
    /// 2026-11-02T10:00:00Z), dd/MM/yyyy, MM/dd/yyyy or dd.MM.yyyy.
    #[arg(long, value_name = "FORMAT", default_value = "yyyy-MM-dd", value_parser = args::date_format, help_heading = "Input")]
    pub date_format: DateFormat,
    /// Keep this extra column of each row (e.g. a ticket id) for `forget report`.
    /// Repeatable. Columns not named here are never stored: do not keep personal data.
    #[arg(long, value_name = "NAME", help_heading = "Input")]
    pub keep_column: Vec<String>,

    #[command(flatten)]
    pub pacing: PacingArgs,
    #[command(flatten)]
    pub send: SendArgs,

    /// The ledger file [default: forget.db; forget-simulate.db with --simulate].
    #[arg(
        long,
        env = "FORGET_STATE",
        value_name = "PATH",
        help_heading = "Ledger"
    )]
    pub state: Option<PathBuf>,
    /// The ledger's secret HMAC key file (created 0600 on first use) [default: the ledger
    /// path + .key]. FORGET_LEDGER_KEY overrides it.
    #[arg(long, value_name = "PATH", help_heading = "Ledger")]
    pub ledger_key_file: Option<PathBuf>,
    /// Also send keys the API rejected before, under the profile they were recorded with
    /// (a wrong profile name is fixed in a new file, not here).
    #[arg(long, help_heading = "Ledger")]
    pub retry_rejected: bool,
    /// Validate and record the input (marked as a dry run's: never sent, and replaced by a
    /// real run of the same file with other options), print what would be sent, send nothing.
    #[arg(long)]
    pub dry_run: bool,
}

impl RunArgs {
    /// The one place these flags become a validated configuration.
    pub fn to_config(&self) -> Result<RunConfig> {
        let kind = self.connector.connector;
        let delimiter = args::delimiter(self.delimiter.as_deref())?;
        let concurrency = self.send.concurrency()?;
        let retry = self.pacing.retry()?;
        // Webex Campaign's rows name their profile and carry audit fields; other systems'
        // rows are ids in one collection (`--resource`).
        let input = match kind.reads_profile_columns() {
            true => {
                self.connector.resource(false)?;
                InputOptions {
                    key_column: self.key_column.clone().unwrap_or_else(|| "key".into()),
                    delimiter,
                    profile_default: args::profile_name(
                        self.profile_name.as_deref().unwrap_or_default(),
                    )?,
                    exparam_defaults: self
                        .exparam
                        .iter()
                        .map(|e| args::exparam(e))
                        .collect::<Result<Vec<_>>>()?,
                    ..InputOptions::default()
                }
            }
            false => {
                for (given, flag) in [
                    (self.profile_name.is_some(), "--profile-name"),
                    (!self.exparam.is_empty(), "--exparam"),
                ] {
                    if given {
                        return Err(Error::usage(format!(
                            "{flag} is a Webex Campaign setting and means nothing to Outreach: \
                             remove it (--resource names the collection the ids belong to)"
                        )));
                    }
                }
                // Resuming (no files) needs no resource: each unit carries its own.
                let resource = self.connector.resource(!self.files.is_empty())?;
                let mut input = InputOptions::for_kind(kind, &resource.unwrap_or_default());
                if let Some(column) = &self.key_column {
                    input.key_column = column.clone();
                }
                input.delimiter = delimiter;
                input
            }
        };
        let input = InputOptions {
            received_column: self.received_column.as_ref().map(|c| c.trim().to_owned()),
            date_format: self.date_format,
            keep_columns: self
                .keep_column
                .iter()
                .map(|c| c.trim().to_owned())
                .collect(),
            ..input
        };
        // Checked here, before anything runs: a bad URL is a usage error even for a dry run.
        self.target.base_url(kind)?;
        let state = args::job_ledger(self.state.as_deref(), "forget", self.target.simulate);
        let config = RunConfig {
            connector: kind.name(),
            files: self.files.clone(),
            input,
            rate: self.pacing.rate,
            concurrency,
            timeout: self.pacing.timeout()?,
            retry,
            ledger_key_file: args::key_file(self.ledger_key_file.as_deref(), &state),
            state,
            retry_rejected: self.retry_rejected,
            dry_run: self.dry_run,
            preflight: !self.no_preflight && kind == Kind::Webex,
            quiet: self.send.quiet,
            progress_every: self.send.progress_every()?,
        };
        config.input.check_mapping()?;
        Ok(config)
    }
}

pub async fn exec(args: &RunArgs) -> Result<i32> {
    let config = args.to_config()?;
    let target = if config.dry_run {
        None
    } else {
        let api = args.target.require_api(args.connector.connector).await?;
        args.pacing.check_unlimited(&api.url()?)?;
        Some(api.connect()?)
    };
    if config.files.is_empty() && !config.state.exists() {
        return Err(Error::usage(
            "no CSV files given and no ledger to resume: forget run requests.csv",
        ));
    }
    let summary = job::run(config, target).await?;
    let printed = match args.format {
        Format::Json => format::print_json("run", summary.to_json()),
        _ => output::print(&job::render_summary(&summary)),
    };
    output::decided(summary.exit_code(), printed)
}
