//! `forget access`: export each data subject's last transactions as one JSON document
//! (GDPR Art. 15), with the same resumable engine as `run`.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;

use super::args::{self, PacingArgs, SendArgs, TargetArgs};
use super::format;
use crate::access::connector::{self as webex_access, WebexAccess};
use crate::access::{self, Channel, Query, Subject};
use crate::connector::Kind;
use crate::error::{Error, Result};
use crate::input::InputOptions;
use crate::job::{self, RunConfig};
use crate::keys::KeyHasher;
use crate::ledger;
use crate::output::{self, Protected};

#[derive(Args, Debug)]
pub struct AccessArgs {
    /// CSV files of access requests (header row; a `key` column — MSISDN, e-mail or app
    /// device id — or, with --customer-id, a `customer-id` column). With none, the ledger's
    /// unfinished subjects are resumed with the query they were recorded with.
    #[arg(value_name = "CSV")]
    pub files: Vec<PathBuf>,
    /// The folder for the documents: one JSON file per subject, named by a keyed hash
    /// (never the key), created 0600 (the folder 0700).
    #[arg(long, value_name = "DIR", required_unless_present = "out")]
    pub out_dir: Option<PathBuf>,
    /// Deprecated: `--out-dir`.
    #[arg(long, value_name = "DIR", hide = true, conflicts_with = "out_dir")]
    pub out: Option<PathBuf>,

    /// The column holding the subject [default: key; customer-id with --customer-id].
    #[arg(long, value_name = "NAME", help_heading = "Input")]
    pub key_column: Option<String>,
    /// The subjects are customer ids (sent as customer-id=…), not MSISDNs, e-mails or app
    /// device ids.
    #[arg(long, help_heading = "Input")]
    pub customer_id: bool,
    /// Field delimiter; detected from the header when not given (comma, semicolon, tab).
    #[arg(long, value_name = "CHAR", help_heading = "Input")]
    pub delimiter: Option<String>,
    /// The column holding the date each request was received (yyyy-MM-dd): each is then due
    /// one month later (GDPR Art. 12(3)), and `forget status` shows the deadlines.
    #[arg(long, value_name = "NAME", help_heading = "Input")]
    pub received_column: Option<String>,
    /// Keep this extra column of each row (e.g. a request id) for `forget report`, which
    /// maps each request to its document. Repeatable. Columns not named here are never
    /// stored: do not keep personal data.
    #[arg(long, value_name = "NAME", help_heading = "Input")]
    pub keep_column: Vec<String>,

    /// Transactions per subject: the most recent N, 1 to 50 (the API's maximum).
    #[arg(long, default_value_t = 50, value_name = "N", help_heading = "Query")]
    pub count: u32,
    /// Only transactions on or after this day (yyyy-MM-dd).
    #[arg(long, value_name = "DATE", help_heading = "Query")]
    pub from: Option<String>,
    /// Only transactions on or before this day (yyyy-MM-dd).
    #[arg(long, value_name = "DATE", help_heading = "Query")]
    pub to: Option<String>,
    /// Only one channel: SMS, MMS, USSD, OBD, APP or EMAIL. Rows the API cannot answer
    /// (an e-mail key with SMS/MMS, an MSISDN with EMAIL) are recorded as invalid.
    #[arg(long, value_name = "CHANNEL", help_heading = "Query")]
    pub channel: Option<Channel>,
    /// Include message preview URLs (SMS, e-mail and app push transactions).
    #[arg(long, help_heading = "Query")]
    pub message_preview: bool,

    #[command(flatten)]
    pub target: TargetArgs,
    /// The API's path on the base URL (its document does not give one).
    #[arg(long, default_value = access::DEFAULT_PATH, value_name = "PATH", help_heading = "Connection")]
    pub path: String,

    #[command(flatten)]
    pub pacing: PacingArgs,
    #[command(flatten)]
    pub send: SendArgs,

    /// The ledger file [default: forget-access.db; forget-access-simulate.db with
    /// --simulate]. Keep it apart from the erasure ledger.
    #[arg(long, value_name = "PATH", help_heading = "Ledger")]
    pub state: Option<PathBuf>,
    /// The ledger's secret HMAC key file (created 0600 on first use; it also names the
    /// documents) [default: the ledger path + .key]. FORGET_LEDGER_KEY overrides it.
    #[arg(long, value_name = "PATH", help_heading = "Ledger")]
    pub ledger_key_file: Option<PathBuf>,
    /// Also ask again for subjects the API rejected before.
    #[arg(long, help_heading = "Ledger")]
    pub retry_rejected: bool,
    /// Validate and record the input, print what would be fetched, fetch nothing.
    #[arg(long)]
    pub dry_run: bool,
}

impl AccessArgs {
    /// Flags → the run configuration of an access export, and its query.
    pub fn to_config(&self) -> Result<(RunConfig, Query)> {
        let query = Query {
            subject: if self.customer_id {
                Subject::CustomerId
            } else {
                Subject::Key
            },
            count: u8::try_from(self.count).unwrap_or(u8::MAX),
            from: self
                .from
                .as_deref()
                .map(|d| access::parse_date("--from", d))
                .transpose()?,
            to: self
                .to
                .as_deref()
                .map(|d| access::parse_date("--to", d))
                .transpose()?,
            channel: self.channel,
            message_preview: self.message_preview,
        };
        if self.count > u32::from(access::MAX_COUNT) {
            return Err(Error::usage(format!(
                "--count {}: the API returns at most {} transactions per subject; give 1 to {}",
                self.count,
                access::MAX_COUNT,
                access::MAX_COUNT
            )));
        }
        query.validate()?;
        webex_access::check_path(&self.path)?;
        let concurrency = self.send.concurrency()?;
        let timeout = self.pacing.timeout()?;
        let retry = self.pacing.retry()?;
        self.target.base_url(Kind::Webex)?;
        let state = args::job_ledger(self.state.as_deref(), "forget-access", self.target.simulate);
        let key_column = self
            .key_column
            .clone()
            .unwrap_or_else(|| query.subject.param().to_owned());
        let config = RunConfig {
            connector: access::CONNECTOR,
            files: self.files.clone(),
            input: InputOptions {
                key_column,
                delimiter: args::delimiter(self.delimiter.as_deref())?,
                profile_default: query.scope(),
                validate_key: access::key_rule(&query),
                profile_and_exparam_columns: false,
                received_column: self.received_column.as_ref().map(|c| c.trim().to_owned()),
                keep_columns: self
                    .keep_column
                    .iter()
                    .map(|c| c.trim().to_owned())
                    .collect(),
                ..InputOptions::default()
            },
            rate: self.pacing.rate,
            concurrency,
            timeout,
            retry,
            ledger_key_file: args::key_file(self.ledger_key_file.as_deref(), &state),
            state,
            retry_rejected: self.retry_rejected,
            dry_run: self.dry_run,
            preflight: false,
            quiet: self.send.quiet,
            progress_every: self.send.progress_every()?,
        };
        Ok((config, query))
    }
}

pub async fn exec(args: &AccessArgs) -> Result<i32> {
    let (config, _query) = args.to_config()?;
    if config.files.is_empty() && !config.state.exists() {
        return Err(Error::usage(
            "no CSV files given and no ledger to resume: forget access requests.csv --out-dir DIR",
        ));
    }
    let out_dir = format::renamed(
        args.out_dir.as_ref(),
        args.out.as_ref(),
        "--out",
        "--out-dir",
    )
    .ok_or_else(|| Error::usage("give the folder for the documents: --out-dir DIR"))?
    .clone();
    let target = if config.dry_run {
        None
    } else {
        let api = args.target.require_api(Kind::Webex).await?;
        args.pacing.check_unlimited(&api.url()?)?;
        // Made only for a ledger with no records: see `Ledger::load_key`.
        let (secret, _) = ledger::load_key_for(&config.state, &config.ledger_key_file)?;
        let url = api.url()?;
        let source = webex_access::api_url(&url, &args.path)?;
        let protected = Protected::ledger(&config.state, &config.ledger_key_file);
        let exporter = access::Exporter::new(
            &out_dir,
            KeyHasher::new(&secret),
            source.to_string(),
            protected,
        )?;
        let connector = WebexAccess::new(&url, &args.path, api.token(), exporter)?;
        Some(api.into_target(Arc::new(connector))?)
    };
    let state = config.state.clone();
    let summary = job::run(config, target).await?;
    let printed = output::print(&access::render_summary(&summary, &out_dir, &state));
    output::decided(summary.exit_code(), printed)
}
