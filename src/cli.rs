//! The command line: clap definitions, their conversion into validated configs, and the one
//! function that reports errors and picks the exit code.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::config::{self, Rate, RunConfig};
use crate::error::{Error, Result, exit};
use crate::input::InputOptions;
use crate::ledger::Ledger;
use crate::retry::RetryPolicy;
use crate::run::{self, Target};
use crate::secret;

const ABOUT: &str = "Carry out GDPR erasure requests in bulk against Webex Campaign, \
resumably, and prove what happened to every key.";

const AFTER_HELP: &str = "\
Typical use:
  forget run requests.csv --base-url https://acme.webexcampaign.io --profile-name customers
  forget status
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
    /// Counts per outcome from the ledger.
    Status(StatusArgs),
    /// List input rows that could not become a request, with file, line and reason.
    Invalid(StateArgs),
    /// Run a local simulator of the Webex Campaign delete API (for rehearsals and tests).
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
    /// Print one JSON object: total, deleted, not_found, rejected, failed, pending, invalid, duplicates.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// CSV files of erasure requests (header row; a `key` column; optional `profile-name`
    /// and `exparam1`..`exparam10`). With none, the ledger's unfinished keys are resumed.
    #[arg(value_name = "CSV")]
    pub files: Vec<PathBuf>,

    /// The column holding the key (MSISDN, e-mail or app device id).
    #[arg(
        long,
        default_value = "key",
        value_name = "NAME",
        help_heading = "Input"
    )]
    pub key_column: String,
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
    /// Rehearse: start a built-in simulator loaded with the sample tenant and send there.
    /// Uses its own ledger (forget-simulate.db) unless --state is given.
    #[arg(long, help_heading = "Connection")]
    pub simulate: bool,

    /// Requests per second, shared by all workers, or `unlimited`. On 429 answers the rate
    /// is lowered automatically and recovers slowly.
    #[arg(
        long,
        default_value = "10",
        value_name = "N",
        help_heading = "Throttle and retries"
    )]
    pub rate: Rate,
    /// Requests in flight at once.
    #[arg(
        long,
        default_value_t = 8,
        value_name = "N",
        help_heading = "Throttle and retries"
    )]
    pub concurrency: usize,
    /// Seconds before a request is given up (and retried).
    #[arg(
        long,
        default_value_t = 30.0,
        value_name = "SECS",
        help_heading = "Throttle and retries"
    )]
    pub timeout: f64,
    /// Attempts per key per run before it is marked failed (a re-run tries again).
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

fn secs(flag: &str, v: f64) -> Result<Duration> {
    if v.is_finite() && v > 0.0 {
        Ok(Duration::from_secs_f64(v))
    } else {
        Err(Error::usage(format!(
            "{flag} must be a positive number of seconds"
        )))
    }
}

impl RunArgs {
    /// The one place flags become a validated configuration.
    pub fn to_config(&self) -> Result<RunConfig> {
        let delimiter = match self.delimiter.as_deref() {
            None => None,
            Some("\\t") | Some("tab") | Some("\t") => Some(b'\t'),
            Some(d) if d.len() == 1 && d.is_ascii() => Some(d.as_bytes()[0]),
            Some(d) => {
                return Err(Error::usage(format!(
                    "--delimiter {d:?}: give one character, e.g. ';' or '\\t'"
                )));
            }
        };
        let exparam_defaults = self
            .exparam
            .iter()
            .map(|e| config::parse_exparam(e))
            .collect::<Result<Vec<_>>>()?;
        if self.concurrency == 0 || self.concurrency > 4096 {
            return Err(Error::usage("--concurrency must be between 1 and 4096"));
        }
        if self.max_attempts == 0 {
            return Err(Error::usage("--max-attempts must be at least 1"));
        }
        let base_url = match (&self.base_url, self.simulate) {
            (_, true) => None,
            (Some(u), false) => Some(config::parse_base_url(u)?),
            (None, false) => None,
        };
        let state = self.state.clone().unwrap_or_else(|| {
            PathBuf::from(if self.simulate {
                "forget-simulate.db"
            } else {
                "forget.db"
            })
        });
        let ledger_key_file = self
            .ledger_key_file
            .clone()
            .unwrap_or_else(|| secret::default_key_file(&state));
        Ok(RunConfig {
            connector: "webex",
            files: self.files.clone(),
            input: InputOptions {
                key_column: self.key_column.clone(),
                delimiter,
                profile_default: self
                    .profile_name
                    .clone()
                    .unwrap_or_default()
                    .trim()
                    .to_owned(),
                exparam_defaults,
                ..InputOptions::default()
            },
            base_url,
            token_file: self.token_file.clone(),
            rate: self.rate,
            concurrency: self.concurrency,
            timeout: secs("--timeout", self.timeout)?,
            retry: RetryPolicy {
                max_attempts: self.max_attempts,
                base: Duration::from_millis(self.retry_base_ms.max(1)),
                cap: secs("--retry-max", self.retry_max)?,
            },
            state,
            ledger_key_file,
            retry_rejected: self.retry_rejected,
            dry_run: self.dry_run,
            simulate: self.simulate,
            quiet: self.quiet,
            progress_every: secs("--progress-every", self.progress_every)?,
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
        Command::Status(args) => status(&args),
        Command::Invalid(args) => invalid(&args),
        Command::Sim(args) => crate::sim::run_cli(&args)
            .await
            .map(|()| exit::OK)
            .map_err(Error::Usage),
    }
}

async fn run_command(args: &RunArgs) -> Result<i32> {
    let config = args.to_config()?;
    let target = if config.dry_run {
        None
    } else if config.simulate {
        Some(Target::simulator().await?)
    } else {
        let base_url = config.base_url.clone().ok_or_else(|| {
            Error::usage("no --base-url: give your API domain, e.g. --base-url https://acme.webexcampaign.io (or set FORGET_BASE_URL), or rehearse with --simulate")
        })?;
        let token = secret::load_token("WEBEX_CAMPAIGN_TOKEN", config.token_file.as_deref())?;
        Some(Target::remote(base_url, token)?)
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

fn status(args: &StatusArgs) -> Result<i32> {
    let ledger = Ledger::open_existing(&args.state.state)?;
    let counts = ledger.counts()?;
    if args.json {
        println!("{}", serde_json::to_string(&counts).unwrap_or_default());
        return Ok(exit::OK);
    }
    println!("ledger: {}", args.state.state.display());
    for (name, n) in [
        ("total keys", counts.total),
        ("deleted", counts.deleted),
        ("not_found", counts.not_found),
        ("rejected", counts.rejected),
        ("failed", counts.failed),
        ("pending", counts.pending),
        ("invalid rows", counts.invalid),
        ("duplicate rows", counts.duplicates),
    ] {
        println!("  {name:<16}{n:>10}");
    }
    Ok(exit::OK)
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
