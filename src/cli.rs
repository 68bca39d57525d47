//! The command line: clap definitions, their conversion into validated configs, and the one
//! function that reports errors and picks the exit code.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use std::sync::Arc;

use crate::access::{self, Channel, Query, Subject};
use crate::config::{self, Rate, RunConfig};
use crate::connector::webex::Webex;
use crate::connector::webex_access::{self, WebexAccess};
use crate::connector::{Connector, Kind, outreach};
use crate::engine::EngineConfig;
use crate::error::{Error, Result, exit};
use crate::hub;
use crate::input::InputOptions;
use crate::inventory;
use crate::keys::KeyHasher;
use crate::ledger::Ledger;
use crate::ledger::purge::PurgeScope;
use crate::list::{self, ListConfig};
use crate::lookup::{self, KeySource, LookupConfig};
use crate::preflight;
use crate::purge::{PurgeConfig, PurgeResult};
use crate::report::ReportConfig;
use crate::retry::RetryPolicy;
use crate::run::{self, SampleSimulator, Target};
use crate::secret::{self, Token};

const ABOUT: &str = "Carry out GDPR erasure requests in bulk against Webex Campaign and \
Outreach, resumably, and prove what happened to every key.";

const AFTER_HELP: &str = "\
Typical use:
  forget run requests.csv --base-url https://acme.webexcampaign.io --profile-name customers
  forget status
  forget report --out report.csv --manifest manifest.json
  forget lookup -            (then type or pipe keys, one a line)
  forget check --profile-name customers         (proves URL, token and profile first)
  forget inventory --hub-url https://acme.apihub.example
  forget access subjects.csv --out exports --base-url https://acme.webexcampaign.io
Outreach (JSON:API resources by id; token in OUTREACH_TOKEN):
  forget list --connector outreach --resource callPurposes --out ids.csv
  forget run --connector outreach --resource callPurposes ids.csv
Rehearse with no tenant:
  forget run samples/erasure-requests.csv --simulate
Exit codes: 0 all keys deleted or not found; 4 finished, some keys need attention;
3 stopped early (token, URL); 2 usage or input error; 130 interrupted (re-run resumes).";

#[derive(Parser, Debug)]
#[command(name = "forget", version, about = ABOUT, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// More detail on stderr (-v: debug). Keys and tokens are never logged.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Record erasure requests from CSV files and send every unfinished key.
    ///
    /// Every row is recorded in the ledger before anything is sent, so running the same
    /// command again after a crash, Ctrl-C, an expired token or a throttled API continues
    /// where it stopped: deleted, not-found and rejected keys are never sent again.
    Run(RunArgs),
    /// Prove the base URL, token and profile name before a big run; name the tenant.
    ///
    /// Sends one delete for a canary key that cannot exist (`forget-preflight-<uuid>`,
    /// marked exparam10=forget-preflight) and expects "contact profile not found" (1020):
    /// 102 means the profile name is wrong, 401 the token, 404/405 the URL. With --hub-url
    /// it also reads /v1/purposes and names the tenant. Nothing is recorded.
    Check(CheckArgs),
    /// List the tenant's purposes and target groups; flag static uploads holding identifiers.
    ///
    /// A profile deletion does not reach target groups uploaded from files (behaviour S,
    /// source file upload or SFTP) whose headers hold MSISDN, EMAIL, APPDEVICEID or
    /// CUSTOMERID: they are marked REVIEW. Purposes are read from the API hub (--hub-url);
    /// target groups from the hub and/or the base URL.
    Inventory(InventoryArgs),
    /// Export each data subject's last transactions as one JSON document (GDPR Art. 15).
    ///
    /// Reads the last N transactions per key (or customer id) with the same throttled,
    /// retried, resumable engine as `run`, recorded in its own ledger; run it again after
    /// a crash or stop and finished subjects are not fetched again.
    Access(AccessArgs),
    /// Counts per outcome from the ledger (per connector and scope when it holds several).
    Status(StatusArgs),
    /// Write every record of an Outreach collection (id and attributes) as CSV.
    ///
    /// Pages through `GET /{resource}` (JSON:API, `page[size]`, following `links.next` only
    /// on the base URL's host), throttled and retried like `run`. The CSV's `id` column feeds
    /// `forget run --connector outreach` directly; delete the rows you want to keep first.
    List(ListArgs),
    /// List input rows that could not become a request, with file, line and reason.
    Invalid(StateArgs),
    /// Did we erase this person? Look keys up by their keyed hash: outcome, when, transaction
    /// id, request rows and files, audit fields, every attempt.
    Lookup(LookupArgs),
    /// One row per request row, as evidence: CSV, JSON or JSONL; split files; a manifest.
    Report(ReportArgs),
    /// Give up on unfinished keys: drop the plaintext the ledger still holds for them.
    Purge(PurgeArgs),
    /// Run a local simulator of the Webex Campaign and Outreach APIs (for rehearsals and tests).
    Sim(crate::sim::SimArgs),
}

#[derive(Args, Debug, Clone)]
pub struct StateArgs {
    /// The ledger file.
    #[arg(
        long,
        env = "FORGET_STATE",
        default_value = "forget.db",
        value_name = "PATH"
    )]
    pub state: PathBuf,
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    #[command(flatten)]
    pub state: StateArgs,
    /// Print one JSON object: total, deleted, not_found, rejected, failed, pending, invalid,
    /// duplicates (with --deadlines: the deadline summary and every key due soon or overdue).
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

#[derive(Args, Debug)]
#[command(after_help = "\
A key on the command line is visible to other users through `ps` and stays in your shell
history: prefer `forget lookup -` (keys on stdin, one a line) or --file.
Exit code: 0 when every key looked up was erased (deleted or not found), 4 otherwise.")]
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
    pub state: StateArgs,
    /// The ledger's HMAC key file [default: the ledger path + .key]; FORGET_LEDGER_KEY
    /// overrides it. Without it no key can be looked up.
    #[arg(long, value_name = "PATH")]
    pub ledger_key_file: Option<PathBuf>,
}

#[derive(Args, Debug)]
#[command(after_help = "\
Columns: file, line, kind (request/duplicate/invalid), key_masked, key_hash (HMAC-SHA256 hex),
connector, profile-name, outcome, http_status, code, description, transaction_id, attempts,
first_attempt_at, last_attempt_at, finished_at (UTC, RFC 3339), received_on, due_on, the
exparams sent, then the columns kept with `forget run --keep-column`.
--split DIR writes succeeded.csv (deleted, not_found) and needs-attention.csv (everything else,
with plaintext keys while the ledger has them, in the shape `forget run` reads:
key,profile-name,exparam1..,received,...). Files are created 0600.")]
pub struct ReportArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "csv")]
    pub format: crate::report::Format,
    /// Write the report here instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Only rows with these outcomes, e.g. `rejected,failed,invalid` (deleted, not_found,
    /// rejected, failed, pending, invalid).
    #[arg(long, value_name = "LIST")]
    pub outcome: Option<String>,
    /// Also write succeeded.csv and needs-attention.csv into DIR (instead of the report on
    /// stdout, unless --out is given).
    #[arg(long, value_name = "DIR")]
    pub split: Option<PathBuf>,
    /// Write a JSON manifest: tool version, input files with SHA-256 and row counts, every
    /// run, counts per outcome, and the SHA-256 of every file written now.
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
    #[command(flatten)]
    pub state: StateArgs,
}

#[derive(Args, Debug)]
#[command(after_help = "\
Purged keys are never sent again unless a later input file carries the same key (the ledger
recognises it by its keyed hash and takes the plaintext back). The purge is recorded in the
ledger (when, who, which outcomes, how many) and shown in the report manifest.")]
pub struct PurgeArgs {
    /// What to purge: any of rejected, failed, pending (their keys' plaintext) and invalid
    /// (invalid rows' keys as written), comma-separated.
    #[arg(long, value_name = "LIST", required = true)]
    pub outcome: String,
    /// Do not ask for confirmation (needed when stdin is not a terminal).
    #[arg(long)]
    pub yes: bool,
    #[command(flatten)]
    pub state: StateArgs,
}

/// Which system, and how to reach it: shared by `run` and `list`.
#[derive(Args, Debug, Clone)]
pub struct TargetArgs {
    /// The system to erase from: webex (Webex Campaign profiles by key) or outreach
    /// (Outreach JSON:API resources by id).
    #[arg(
        long,
        default_value = "webex",
        value_name = "NAME",
        help_heading = "Connection"
    )]
    pub connector: Kind,
    /// Outreach: the JSON:API collection, e.g. callPurposes or prospects (letters and digits).
    #[arg(long, value_name = "NAME", help_heading = "Connection")]
    pub resource: Option<String>,
    /// The API's base URL. Webex: your API domain, e.g. https://acme.webexcampaign.io (env
    /// FORGET_BASE_URL). Outreach: default https://api.outreach.io/api/v2 (env
    /// OUTREACH_BASE_URL). The token comes from WEBEX_CAMPAIGN_TOKEN or OUTREACH_TOKEN, or
    /// --token-file.
    #[arg(long, value_name = "URL", help_heading = "Connection")]
    pub base_url: Option<String>,
    /// Read the API token from this file (keep it chmod 600).
    #[arg(long, value_name = "PATH", help_heading = "Connection")]
    pub token_file: Option<PathBuf>,
    /// Rehearse: start a built-in simulator loaded with the sample tenant and send there.
    /// `run` uses its own ledger (forget-simulate.db) unless --state is given.
    #[arg(long, help_heading = "Connection")]
    pub simulate: bool,
}

/// Pacing and retries: shared by `run` and `list`.
#[derive(Args, Debug, Clone)]
pub struct PacingArgs {
    /// Requests per second, shared by all workers, or `unlimited`. On 429 answers the rate
    /// is lowered automatically and recovers slowly.
    #[arg(
        long,
        default_value = "10",
        value_name = "N",
        help_heading = "Throttle and retries"
    )]
    pub rate: Rate,
    /// Seconds before a request is given up (and retried).
    #[arg(
        long,
        default_value_t = 30.0,
        value_name = "SECS",
        help_heading = "Throttle and retries"
    )]
    pub timeout: f64,
    /// Attempts per key (or page) per run before it is marked failed (a re-run tries again).
    #[arg(
        long,
        default_value_t = 6,
        value_name = "N",
        help_heading = "Throttle and retries"
    )]
    pub max_attempts: u32,
    /// First retry delay in milliseconds; doubles per retry, with jitter.
    #[arg(
        long,
        default_value_t = 500,
        value_name = "MS",
        help_heading = "Throttle and retries"
    )]
    pub retry_base_ms: u64,
    /// Longest retry delay in seconds (a server's Retry-After may ask for more).
    #[arg(
        long,
        default_value_t = 30.0,
        value_name = "SECS",
        help_heading = "Throttle and retries"
    )]
    pub retry_max: f64,
}

impl PacingArgs {
    fn retry(&self) -> Result<RetryPolicy> {
        if self.max_attempts == 0 {
            return Err(Error::usage("--max-attempts must be at least 1"));
        }
        Ok(RetryPolicy {
            max_attempts: self.max_attempts,
            base: Duration::from_millis(self.retry_base_ms.max(1)),
            cap: secs("--retry-max", self.retry_max)?,
        })
    }
}

impl TargetArgs {
    /// The base URL: the flag, else the connector's environment variable, else (Outreach)
    /// its public API. Each connector has its own variable so that a Webex URL set in the
    /// environment never receives an Outreach token, or the other way round.
    fn base_url(&self) -> Result<Option<reqwest::Url>> {
        if self.simulate {
            return Ok(None);
        }
        let env_name = match self.connector {
            Kind::Webex => "FORGET_BASE_URL",
            Kind::Outreach => outreach::BASE_URL_ENV,
        };
        let given = self.base_url.clone().or_else(|| {
            std::env::var(env_name)
                .ok()
                .filter(|v| !v.trim().is_empty())
        });
        match (given, self.connector) {
            (Some(url), _) => config::parse_base_url(&url).map(Some),
            (None, Kind::Webex) => Ok(None),
            (None, Kind::Outreach) => config::parse_base_url(outreach::DEFAULT_BASE_URL).map(Some),
        }
    }

    /// `--resource`, checked: required for Outreach when `required`, refused for Webex.
    fn resource(&self, required: bool) -> Result<Option<String>> {
        match (self.connector, &self.resource) {
            (Kind::Webex, Some(_)) => Err(Error::usage(
                "--resource is for --connector outreach; Webex Campaign profiles are chosen \
                 with --profile-name",
            )),
            (Kind::Webex, None) => Ok(None),
            (Kind::Outreach, Some(r)) => {
                outreach::check_resource(r.trim()).map_err(Error::Usage)?;
                Ok(Some(r.trim().to_owned()))
            }
            (Kind::Outreach, None) if required => Err(Error::usage(format!(
                "--connector outreach needs --resource NAME: the JSON:API collection the ids \
                 belong to, e.g. --resource {}",
                outreach::DEFAULT_RESOURCE
            ))),
            (Kind::Outreach, None) => Ok(None),
        }
    }
}

#[derive(Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Write the CSV to this file (created 0600 once complete; an existing file is never
    /// overwritten). Without it, the CSV goes to stdout.
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Records per page (`page[size]`), 1 to 1000.
    #[arg(long, default_value_t = outreach::PAGE_SIZE, value_name = "N")]
    pub page_size: u32,
    #[command(flatten)]
    pub pacing: PacingArgs,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// CSV files of erasure requests (header row; a `key` column; optional `profile-name`
    /// and `exparam1`..`exparam10`; for Outreach an `id` column). With none, the ledger's
    /// unfinished keys are resumed.
    #[arg(value_name = "CSV")]
    pub files: Vec<PathBuf>,

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
    /// The column holding the date each request was received (yyyy-MM-dd). Each request is
    /// then due one month later (GDPR Art. 12(3)); the oldest-due keys are sent first.
    #[arg(long, value_name = "NAME", help_heading = "Input")]
    pub received_column: Option<String>,
    /// Keep this extra column of each row (e.g. a ticket id) for `forget report`.
    /// Repeatable. Columns not named here are never stored: do not keep personal data.
    #[arg(long, value_name = "NAME", help_heading = "Input")]
    pub keep_column: Vec<String>,

    #[command(flatten)]
    pub pacing: PacingArgs,
    /// Requests in flight at once.
    #[arg(
        long,
        default_value_t = 8,
        value_name = "N",
        help_heading = "Throttle and retries"
    )]
    pub concurrency: usize,

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
    /// Also send keys the API rejected before (e.g. after fixing --profile-name).
    #[arg(long, help_heading = "Ledger")]
    pub retry_rejected: bool,
    /// Validate and record the input, print what would be sent, send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// No progress output (the summary is still printed).
    #[arg(short, long)]
    pub quiet: bool,
    /// Seconds between progress lines when stderr is not a terminal.
    #[arg(long, default_value_t = 10.0, value_name = "SECS", hide = true)]
    pub progress_every: f64,
}

/// Where the Webex Campaign API is, for `check`, `inventory` and `access` (Webex only).
#[derive(Args, Debug, Clone)]
pub struct ConnectionArgs {
    /// Your Webex Campaign API domain, e.g. https://acme.webexcampaign.io. The token comes
    /// from the WEBEX_CAMPAIGN_TOKEN environment variable or --token-file.
    #[arg(
        long,
        env = "FORGET_BASE_URL",
        value_name = "URL",
        help_heading = "Connection"
    )]
    pub base_url: Option<String>,
    /// Read the API token from this file (keep it chmod 600).
    #[arg(long, value_name = "PATH", help_heading = "Connection")]
    pub token_file: Option<PathBuf>,
    /// Rehearse: start a built-in simulator loaded with the sample tenant and use it instead
    /// of --base-url (and --hub-url). `run` and `access` then keep their own ledger
    /// (forget-simulate.db, forget-access-simulate.db) unless --state is given.
    #[arg(long, help_heading = "Connection")]
    pub simulate: bool,
}

/// The API hub (purposes, target groups) and its credentials.
#[derive(Args, Debug, Clone)]
pub struct HubArgs {
    /// Your API-hub domain, e.g. https://acme.apihub.example. Credentials come from
    /// WEBEX_CAMPAIGN_HUB_TOKEN, or FORGET_HUB_CLIENT_ID and FORGET_HUB_CLIENT_SECRET
    /// (exchanged for a token by the OAuth client-credentials call).
    #[arg(
        long,
        env = "FORGET_HUB_URL",
        value_name = "URL",
        help_heading = "API hub"
    )]
    pub hub_url: Option<String>,
    /// The OAuth token endpoint for client credentials [default:
    /// {hub-url}/campaignapi/resources/v3/oauth/token].
    #[arg(
        long,
        env = "FORGET_HUB_TOKEN_URL",
        value_name = "URL",
        help_heading = "API hub"
    )]
    pub hub_token_url: Option<String>,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    #[command(flatten)]
    pub hub: HubArgs,
    /// The profile name to prove (repeatable) [default: the tenant's default profile].
    #[arg(long, value_name = "NAME")]
    pub profile_name: Vec<String>,
    /// Seconds before a request is given up (each check tries up to three times).
    #[arg(long, default_value_t = 30.0, value_name = "SECS")]
    pub timeout: f64,
}

#[derive(Args, Debug)]
pub struct InventoryArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    #[command(flatten)]
    pub hub: HubArgs,
    /// Read only this purpose (GET /v1/purposes/ID). Repeatable.
    #[arg(long, value_name = "ID", help_heading = "Selection")]
    pub purpose: Vec<String>,
    /// Read only this target group (GET .../target-groups/ID). Repeatable.
    #[arg(long, value_name = "ID", help_heading = "Selection")]
    pub target_group: Vec<String>,
    /// Print one JSON object: tenant, purposes, target_groups (decoded, with review
    /// reasons), not_found.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Print one CSV table of purposes and target groups (a `kind` column tells them apart).
    #[arg(long)]
    pub csv: bool,
    /// Seconds before a request is given up.
    #[arg(long, default_value_t = 30.0, value_name = "SECS")]
    pub timeout: f64,
}

#[derive(Args, Debug)]
pub struct AccessArgs {
    /// CSV files of access requests (header row; a `key` column — MSISDN, e-mail or app
    /// device id — or, with --customer-id, a `customer-id` column). With none, the ledger's
    /// unfinished subjects are resumed with the query they were recorded with.
    #[arg(value_name = "CSV")]
    pub files: Vec<PathBuf>,
    /// The folder for the documents: one JSON file per subject, named by a keyed hash
    /// (never the key), created 0600 (the folder 0700).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

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
    pub connection: ConnectionArgs,
    /// The API's path on the base URL (its document does not give one).
    #[arg(long, default_value = access::DEFAULT_PATH, value_name = "PATH", help_heading = "Connection")]
    pub path: String,

    #[command(flatten)]
    pub pacing: PacingArgs,
    /// Requests in flight at once.
    #[arg(
        long,
        default_value_t = 8,
        value_name = "N",
        help_heading = "Throttle and retries"
    )]
    pub concurrency: usize,

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
    /// No progress output (the summary is still printed).
    #[arg(short, long)]
    pub quiet: bool,
    /// Seconds between progress lines when stderr is not a terminal.
    #[arg(long, default_value_t = 10.0, value_name = "SECS", hide = true)]
    pub progress_every: f64,
}

fn secs(flag: &str, v: f64) -> Result<Duration> {
    if v.is_finite() && v > 0.0 {
        Ok(Duration::from_secs_f64(v))
    } else {
        Err(Error::usage(format!(
            "{flag} must be a positive number of seconds"
        )))
    }
}

impl ConnectionArgs {
    /// The validated base URL; `None` with --simulate or when not given.
    fn base_url(&self) -> Result<Option<reqwest::Url>> {
        match (&self.base_url, self.simulate) {
            (Some(u), false) => Ok(Some(config::parse_base_url(u)?)),
            _ => Ok(None),
        }
    }

    /// The simulator, or the tenant at --base-url with its token; `None` when neither is
    /// given.
    async fn endpoint(&self) -> Result<Option<Endpoint>> {
        if self.simulate {
            let sim = SampleSimulator::start().await?;
            let url = sim.base_url(Kind::Webex)?;
            return Ok(Some(Endpoint::Simulated(sim, url)));
        }
        let Some(url) = self.base_url()? else {
            return Ok(None);
        };
        let token = secret::load_token("WEBEX_CAMPAIGN_TOKEN", self.token_file.as_deref())?;
        Ok(Some(Endpoint::Remote { url, token }))
    }
}

const NO_BASE_URL: &str = "no --base-url: give your API domain, e.g. --base-url https://acme.webexcampaign.io (or set FORGET_BASE_URL), or rehearse with --simulate";

/// Where a command calls the Webex Campaign API.
enum Endpoint {
    Simulated(SampleSimulator, reqwest::Url),
    Remote { url: reqwest::Url, token: Token },
}

impl Endpoint {
    fn url(&self) -> &reqwest::Url {
        match self {
            Endpoint::Simulated(_, url) => url,
            Endpoint::Remote { url, .. } => url,
        }
    }

    fn token(&self) -> &Token {
        match self {
            Endpoint::Simulated(sim, _) => &sim.token,
            Endpoint::Remote { token, .. } => token,
        }
    }

    /// A target sending through `connector` (keeping a simulator alive with it).
    fn into_target(self, connector: Arc<dyn Connector>) -> Result<Target> {
        match self {
            Endpoint::Simulated(sim, _) => sim.into_target(Kind::Webex, connector),
            Endpoint::Remote { url, .. } => Ok(Target::new(connector, &url)),
        }
    }

    /// A reader of the base URL's GET endpoints with the API token.
    fn reader(&self, client: reqwest::Client, timeout: Duration) -> hub::Reader {
        let source = match self {
            Endpoint::Simulated(..) => "the simulator's token",
            Endpoint::Remote { .. } => "WEBEX_CAMPAIGN_TOKEN or --token-file",
        };
        hub::Reader::new(
            "--base-url",
            self.url().clone(),
            hub::Credentials::Bearer {
                token: self.token().clone(),
                source,
            },
            client,
            timeout,
        )
    }
}

impl HubArgs {
    /// The hub reader: the simulator's with --simulate, else --hub-url's (if given) with
    /// credentials from the environment.
    fn reader(
        &self,
        sim: Option<&Endpoint>,
        client: reqwest::Client,
        timeout: Duration,
    ) -> Result<Option<hub::Reader>> {
        if let Some(endpoint @ Endpoint::Simulated(..)) = sim {
            let mut reader = endpoint.reader(client, timeout);
            reader.set_flag("--hub-url");
            return Ok(Some(reader));
        }
        let Some(hub_url) = &self.hub_url else {
            return Ok(None);
        };
        let url = config::parse_url("--hub-url", hub_url)?;
        let token_url = match &self.hub_token_url {
            Some(t) => config::parse_url("--hub-token-url", t)?,
            None => hub::default_token_url(&url)?,
        };
        let credentials = hub::Credentials::from_env(token_url)?;
        Ok(Some(hub::Reader::new(
            "--hub-url",
            url,
            credentials,
            client,
            timeout,
        )))
    }
}

/// An engine configuration for a few sequential reads or canaries.
fn light_engine(timeout: f64) -> Result<EngineConfig> {
    Ok(EngineConfig {
        concurrency: 1,
        timeout: secs("--timeout", timeout)?,
        retry: RetryPolicy::default(),
    })
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
        webex_access::api_url(
            &reqwest::Url::parse("https://example.invalid")
                .map_err(|e| Error::usage(e.to_string()))?,
            &self.path,
        )?;
        if self.concurrency == 0 || self.concurrency > 4096 {
            return Err(Error::usage("--concurrency must be between 1 and 4096"));
        }
        let timeout = secs("--timeout", self.pacing.timeout)?;
        let retry = self.pacing.retry()?;
        let simulate = self.connection.simulate;
        let state = self.state.clone().unwrap_or_else(|| {
            PathBuf::from(if simulate {
                "forget-access-simulate.db"
            } else {
                "forget-access.db"
            })
        });
        let ledger_key_file = self
            .ledger_key_file
            .clone()
            .unwrap_or_else(|| secret::default_key_file(&state));
        let key_column = self
            .key_column
            .clone()
            .unwrap_or_else(|| query.subject.param().to_owned());
        let config = RunConfig {
            connector: access::CONNECTOR,
            files: self.files.clone(),
            input: InputOptions {
                key_column,
                delimiter: parse_delimiter(self.delimiter.as_deref())?,
                profile_default: query.scope(),
                validate_key: access::key_rule(&query),
                profile_and_exparam_columns: false,
                ..InputOptions::default()
            },
            base_url: self.connection.base_url()?,
            token_file: self.connection.token_file.clone(),
            rate: self.pacing.rate,
            concurrency: self.concurrency,
            timeout,
            retry,
            state,
            ledger_key_file,
            retry_rejected: self.retry_rejected,
            dry_run: self.dry_run,
            preflight: false,
            simulate,
            quiet: self.quiet,
            progress_every: secs("--progress-every", self.progress_every)?,
        };
        Ok((config, query))
    }
}

fn parse_delimiter(delimiter: Option<&str>) -> Result<Option<u8>> {
    Ok(match delimiter {
        None => None,
        Some("\\t") | Some("tab") | Some("\t") => Some(b'\t'),
        Some(d) if d.len() == 1 && d.is_ascii() => Some(d.as_bytes()[0]),
        Some(d) => {
            return Err(Error::usage(format!(
                "--delimiter {d:?}: give one character, e.g. ';' or '\\t'"
            )));
        }
    })
}

impl RunArgs {
    /// The one place flags become a validated configuration.
    pub fn to_config(&self) -> Result<RunConfig> {
        let delimiter = parse_delimiter(self.delimiter.as_deref())?;
        let exparam_defaults = self
            .exparam
            .iter()
            .map(|e| config::parse_exparam(e))
            .collect::<Result<Vec<_>>>()?;
        if self.concurrency == 0 || self.concurrency > 4096 {
            return Err(Error::usage("--concurrency must be between 1 and 4096"));
        }
        let retry = self.pacing.retry()?;
        let target = &self.target;
        let input = match target.connector {
            Kind::Webex => {
                target.resource(false)?;
                InputOptions {
                    key_column: self.key_column.clone().unwrap_or_else(|| "key".into()),
                    delimiter,
                    profile_default: self
                        .profile_name
                        .clone()
                        .unwrap_or_default()
                        .trim()
                        .to_owned(),
                    exparam_defaults,
                    ..InputOptions::default()
                }
            }
            Kind::Outreach => {
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
                let resource = target.resource(!self.files.is_empty())?;
                let mut input = outreach::input_options(&resource.unwrap_or_default());
                if let Some(column) = &self.key_column {
                    input.key_column = column.clone();
                }
                input.delimiter = delimiter;
                input
            }
        };
        let input = InputOptions {
            received_column: self.received_column.as_ref().map(|c| c.trim().to_owned()),
            keep_columns: self
                .keep_column
                .iter()
                .map(|c| c.trim().to_owned())
                .collect(),
            ..input
        };
        let state = self.state.clone().unwrap_or_else(|| {
            PathBuf::from(if target.simulate {
                "forget-simulate.db"
            } else {
                "forget.db"
            })
        });
        let ledger_key_file = self
            .ledger_key_file
            .clone()
            .unwrap_or_else(|| secret::default_key_file(&state));
        let config = RunConfig {
            connector: target.connector.name(),
            files: self.files.clone(),
            input,
            base_url: target.base_url()?,
            token_file: target.token_file.clone(),
            rate: self.pacing.rate,
            concurrency: self.concurrency,
            timeout: secs("--timeout", self.pacing.timeout)?,
            retry,
            state,
            ledger_key_file,
            retry_rejected: self.retry_rejected,
            dry_run: self.dry_run,
            preflight: !self.no_preflight && target.connector == Kind::Webex,
            simulate: target.simulate,
            quiet: self.quiet,
            progress_every: secs("--progress-every", self.progress_every)?,
        };
        config.input.check_mapping()?;
        Ok(config)
    }
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
                    delimiter: parse_delimiter(self.delimiter.as_deref())?,
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
            ledger_key_file: self
                .ledger_key_file
                .clone()
                .unwrap_or_else(|| secret::default_key_file(&self.state.state)),
            state: self.state.state.clone(),
            source,
            json: self.json,
        })
    }
}

impl ReportArgs {
    pub fn to_config(&self) -> Result<ReportConfig> {
        if let (Some(out), Some(manifest)) = (&self.out, &self.manifest)
            && out == manifest
        {
            return Err(Error::usage("--out and --manifest must be different files"));
        }
        Ok(ReportConfig {
            format: self.format,
            out: self.out.clone(),
            main: self.out.is_some() || self.split.is_none(),
            outcomes: self
                .outcome
                .as_deref()
                .map(crate::report::parse_outcomes)
                .transpose()?,
            split: self.split.clone(),
            manifest: self.manifest.clone(),
        })
    }
}

impl PurgeArgs {
    pub fn to_config(&self) -> Result<PurgeConfig> {
        Ok(PurgeConfig {
            state: self.state.state.clone(),
            scope: PurgeScope::parse(&self.outcome)
                .map_err(|e| Error::usage(format!("--outcome {}: {e}", self.outcome)))?,
            yes: self.yes,
        })
    }
}

impl ListArgs {
    pub fn to_config(&self) -> Result<ListConfig> {
        if self.target.connector != Kind::Outreach {
            return Err(Error::usage(
                "forget list reads Outreach collections: use --connector outreach \
                 (Webex Campaign has no API that lists profiles)",
            ));
        }
        if !(1..=outreach::MAX_PAGE_SIZE).contains(&self.page_size) {
            return Err(Error::usage(format!(
                "--page-size must be between 1 and {}",
                outreach::MAX_PAGE_SIZE
            )));
        }
        let resource = self
            .target
            .resource(true)?
            .unwrap_or_else(|| outreach::DEFAULT_RESOURCE.to_owned());
        Ok(ListConfig {
            resource,
            page_size: self.page_size,
            timeout: secs("--timeout", self.pacing.timeout)?,
            retry: self.pacing.retry()?,
        })
    }
}

/// Parse arguments, run the command, report any error, and return the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    exit::OK
                }
                _ => exit::USAGE,
            };
        }
    };
    init_tracing(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return exit::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli.command)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
}

fn init_tracing(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("FORGET_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("forget={level}")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}

async fn dispatch(command: Command) -> Result<i32> {
    match command {
        Command::Run(args) => run_command(&args).await,
        Command::Check(args) => check_command(&args).await,
        Command::Inventory(args) => inventory_command(&args).await,
        Command::Access(args) => access_command(&args).await,
        Command::Status(args) => status(&args),
        Command::List(args) => list_command(&args).await,
        Command::Invalid(args) => invalid(&args),
        Command::Lookup(args) => lookup_command(&args.to_config()?),
        Command::Report(args) => report_command(&args.state.state, &args.to_config()?),
        Command::Purge(args) => purge_command(&args.to_config()?),
        Command::Sim(args) => crate::sim::run_cli(&args)
            .await
            .map(|()| exit::OK)
            .map_err(|e| match e {
                crate::sim::SimError::Io { context, source } => Error::io(context, source),
                usage => Error::Usage(usage.to_string()),
            }),
    }
}

/// The target `args` name: the built-in simulator, or the API with its token.
async fn connect(args: &TargetArgs, base_url: Option<reqwest::Url>) -> Result<Target> {
    let kind = args.connector;
    if args.simulate {
        return Target::simulator_for(kind).await;
    }
    let base_url = base_url.ok_or_else(|| {
        Error::usage("no --base-url: give your API domain, e.g. --base-url https://acme.webexcampaign.io (or set FORGET_BASE_URL), or rehearse with --simulate")
    })?;
    let token = secret::load_token(kind.token_env(), args.token_file.as_deref())?;
    Target::connect(kind, base_url, token)
}

async fn run_command(args: &RunArgs) -> Result<i32> {
    let config = args.to_config()?;
    let target = if config.dry_run {
        None
    } else {
        Some(connect(&args.target, config.base_url.clone()).await?)
    };
    if config.files.is_empty() && !config.state.exists() {
        return Err(Error::usage(
            "no CSV files given and no ledger to resume: forget run requests.csv",
        ));
    }
    let summary = run::run(config, target).await?;
    print!("{}", run::render_summary(&summary));
    Ok(summary.exit_code())
}

async fn check_command(args: &CheckArgs) -> Result<i32> {
    let engine = light_engine(args.timeout)?;
    let client = run::http_client(&engine)?;
    let endpoint = args.connection.endpoint().await?;
    let hub = args
        .hub
        .reader(endpoint.as_ref(), client.clone(), engine.timeout)?;
    if endpoint.is_none() && hub.is_none() {
        return Err(Error::usage(
            "nothing to check: give --base-url (with WEBEX_CAMPAIGN_TOKEN or --token-file),              --hub-url, or --simulate",
        ));
    }
    let mut scopes: Vec<String> = args
        .profile_name
        .iter()
        .map(|p| p.trim().to_owned())
        .collect();
    if scopes.is_empty() {
        scopes.push(String::new());
    }
    // Kept alive to the end: with --simulate it holds the simulator the hub check uses too.
    let mut target = None;
    let mut delete = None;
    if let Some(endpoint) = endpoint {
        let connector = Arc::new(Webex::new(endpoint.url(), endpoint.token())?);
        let url = connector.url().to_string();
        let t = endpoint.into_target(connector)?;
        let mut checks = Vec::new();
        let transport = run::transport(&engine)?;
        for scope in &scopes {
            checks.push(preflight::canary(&*t.connector, &transport, &engine, scope).await);
        }
        delete = Some((url, checks));
        target = Some(t);
    }
    let hub = match &hub {
        Some(reader) => Some((
            reader.base().to_string(),
            preflight::hub_check(reader).await,
        )),
        None => None,
    };
    let report = preflight::CheckReport { delete, hub };
    print!("{}", report.render());
    drop(target);
    Ok(report.exit_code())
}

async fn inventory_command(args: &InventoryArgs) -> Result<i32> {
    let engine = light_engine(args.timeout)?;
    let client = run::http_client(&engine)?;
    let endpoint = args.connection.endpoint().await?;
    let hub = args
        .hub
        .reader(endpoint.as_ref(), client.clone(), engine.timeout)?;
    let base = endpoint
        .as_ref()
        .map(|e| e.reader(client.clone(), engine.timeout));
    if hub.is_none() && base.is_none() {
        return Err(Error::usage(
            "nothing to read: give --hub-url (purposes and target groups), --base-url (target              groups), or --simulate",
        ));
    }
    let selection = inventory::Selection {
        purposes: args.purpose.clone(),
        target_groups: args.target_group.clone(),
    };
    let found = inventory::collect(hub.as_ref(), base.as_ref(), &selection).await?;
    if args.json {
        let text = serde_json::to_string_pretty(&found)
            .map_err(|e| Error::usage(format!("cannot write JSON: {e}")))?;
        println!("{text}");
    } else if args.csv {
        print!("{}", inventory::render_csv(&found)?);
    } else {
        print!("{}", inventory::render_table(&found));
    }
    drop(endpoint);
    Ok(found.exit_code())
}

async fn access_command(args: &AccessArgs) -> Result<i32> {
    let (config, _query) = args.to_config()?;
    if config.files.is_empty() && !config.state.exists() {
        return Err(Error::usage(
            "no CSV files given and no ledger to resume: forget access requests.csv --out DIR",
        ));
    }
    let target = if config.dry_run {
        None
    } else {
        let endpoint = args
            .connection
            .endpoint()
            .await?
            .ok_or_else(|| Error::usage(NO_BASE_URL))?;
        let (secret, _) = secret::load_ledger_key(&config.ledger_key_file, true)?;
        let source = webex_access::api_url(endpoint.url(), &args.path)?;
        let exporter =
            access::Exporter::new(&args.out, KeyHasher::new(&secret), source.to_string())?;
        let connector = WebexAccess::new(endpoint.url(), &args.path, endpoint.token(), exporter)?;
        Some(endpoint.into_target(Arc::new(connector))?)
    };
    let state = config.state.clone();
    let summary = run::run(config, target).await?;
    print!("{}", access::render_summary(&summary, &args.out, &state));
    Ok(summary.exit_code())
}

fn status(args: &StatusArgs) -> Result<i32> {
    let path = &args.state.state;
    let ledger = Ledger::open_existing(path)?;
    let today = crate::deadline::today();
    if args.deadlines {
        let d = ledger.deadlines(today, usize::MAX >> 1)?;
        if args.json {
            println!("{}", serde_json::to_string(&d).unwrap_or_default());
        } else {
            print!("{}", crate::status::render_deadlines(&d));
        }
        return Ok(exit::OK);
    }
    let counts = ledger.counts()?;
    let by_scope = ledger.counts_by_scope()?;
    if args.json {
        let line = if args.by_connector {
            serde_json::to_string(&by_scope)
        } else {
            serde_json::to_string(&counts)
        };
        println!("{}", line.unwrap_or_default());
        return Ok(exit::OK);
    }
    let key_file = args
        .ledger_key_file
        .clone()
        .unwrap_or_else(|| secret::default_key_file(path));
    let key = crate::status::key_status(&ledger, &key_file)?;
    let deadlines = ledger.deadlines(today, crate::status::EARLIEST_SHOWN)?;
    print!("{}", crate::status::render(path, &counts, &key, &deadlines));
    if args.by_connector || run::shows_connectors(&by_scope) {
        println!("by connector and scope:");
        print!("{}", run::render_by_scope(&by_scope));
    }
    let unfinished = ledger.unfinished_files()?;
    if let Some(note) = crate::status::render_unfinished(unfinished) {
        print!("{note}");
    }
    Ok(exit::OK)
}

async fn list_command(args: &ListArgs) -> Result<i32> {
    let config = args.to_config()?;
    if let Some(out) = &args.out
        && (out.exists() || out.is_symlink())
    {
        return Err(Error::usage(format!(
            "--out {}: the file exists; remove it or choose another name (forget list never \
             overwrites a file)",
            out.display()
        )));
    }
    let spool_dir = match &args.out {
        Some(out) => list::output_dir(out),
        None => std::env::temp_dir(),
    };
    // The simulator (when rehearsing) lives until the listing is written.
    let (outreach, _sim) = if args.target.simulate {
        let sample = run::SampleSimulator::start().await?;
        let base = sample.base_url(Kind::Outreach)?;
        (outreach::Outreach::new(&base, &sample.token)?, Some(sample))
    } else {
        let base = args
            .target
            .base_url()?
            .ok_or_else(|| Error::usage("no --base-url"))?;
        let token = secret::load_token(
            Kind::Outreach.token_env(),
            args.target.token_file.as_deref(),
        )?;
        (outreach::Outreach::new(&base, &token)?, None)
    };
    let client = run::http_client(&crate::engine::EngineConfig {
        concurrency: 1,
        timeout: config.timeout,
        retry: config.retry,
    })?;
    let throttle = crate::throttle::Throttle::new(args.pacing.rate.0);
    let mut spool = list::Spool::create(&spool_dir)?;
    let listing = list::list(&outreach, &client, &throttle, &config, &mut spool);
    let summary = tokio::select! {
        summary = listing => summary?,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("interrupted: nothing written");
            return Ok(exit::INTERRUPTED);
        }
    };
    let line = format!(
        "{} {} records in {} pages ({} requests, {} retries, {} throttled)",
        config.resource,
        summary.records,
        summary.pages,
        summary.attempts,
        summary.retries,
        summary.throttled
    );
    if let Some(stop) = &summary.stop {
        eprintln!("STOPPED after {line}: {stop}. Nothing was written; run again to list afresh.");
        return Ok(exit::STOPPED);
    }
    list::write_output(&mut spool, args.out.as_deref())?;
    match &args.out {
        Some(out) => eprintln!("listed {line} into {}", out.display()),
        None => eprintln!("listed {line}"),
    }
    Ok(exit::OK)
}

fn lookup_command(config: &LookupConfig) -> Result<i32> {
    if matches!(config.source, KeySource::Args(_)) {
        eprintln!(
            "warning: keys on the command line are visible to other users (ps) and stay in your \
             shell history; prefer `forget lookup -` (keys on stdin) or --file"
        );
    }
    let tally = lookup::run(config, std::io::stdout().lock())?;
    Ok(tally.exit_code())
}

fn report_command(state: &std::path::Path, config: &ReportConfig) -> Result<i32> {
    let ledger = Ledger::open_existing(state)?;
    let summary = crate::report::write(&ledger, config)?;
    eprint!("{}", crate::report::render_summary(&summary));
    Ok(exit::OK)
}

fn purge_command(config: &PurgeConfig) -> Result<i32> {
    match crate::purge::run(config, crate::purge::ask_on_terminal)? {
        PurgeResult::Nothing => {
            println!(
                "nothing to purge: no {} plaintext left in the ledger",
                config.scope.names().join("/")
            );
            Ok(exit::OK)
        }
        PurgeResult::Cancelled(_) => {
            println!("cancelled: nothing was purged");
            Ok(exit::USAGE)
        }
        PurgeResult::Purged(done) => {
            println!(
                "purged the plaintext of {}; the purge is recorded in the ledger",
                crate::purge::describe(&done)
            );
            Ok(exit::OK)
        }
    }
}

fn invalid(args: &StateArgs) -> Result<i32> {
    let ledger = Ledger::open_existing(&args.state)?;
    let rows = ledger.invalid_rows()?;
    if rows.is_empty() {
        println!("no invalid rows");
    }
    for row in rows {
        println!("{}:{}: {}", row.path, row.line, row.reason);
    }
    Ok(exit::OK)
}
