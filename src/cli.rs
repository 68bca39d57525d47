//! The command line: clap definitions, their conversion into validated configs, and the one
//! function that reports errors and picks the exit code.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::config::{self, Rate, RunConfig};
use crate::connector::Kind;
use crate::connector::outreach;
use crate::error::{Error, Result, exit};
use crate::input::InputOptions;
use crate::ledger::Ledger;
use crate::list::{self, ListConfig};
use crate::retry::RetryPolicy;
use crate::run::{self, Target};
use crate::secret;

const ABOUT: &str = "Carry out GDPR erasure requests in bulk against Webex Campaign and \
Outreach, resumably, and prove what happened to every key.";

const AFTER_HELP: &str = "\
Typical use:
  forget run requests.csv --base-url https://acme.webexcampaign.io --profile-name customers
  forget status
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
    /// Print one JSON object: total, deleted, not_found, rejected, failed, pending, invalid, duplicates.
    #[arg(long)]
    pub json: bool,
    /// Counts per connector and scope (Webex profile, Outreach resource), even for a
    /// Webex-only ledger; with --json, a JSON array of objects with `connector` and `scope`.
    #[arg(long)]
    pub by_connector: bool,
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
        Ok(RunConfig {
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
            simulate: target.simulate,
            quiet: self.quiet,
            progress_every: secs("--progress-every", self.progress_every)?,
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
        Command::Status(args) => status(&args),
        Command::List(args) => list_command(&args).await,
        Command::Invalid(args) => invalid(&args),
        Command::Sim(args) => crate::sim::run_cli(&args)
            .await
            .map(|()| exit::OK)
            .map_err(Error::Usage),
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

fn status(args: &StatusArgs) -> Result<i32> {
    let ledger = Ledger::open_existing(&args.state.state)?;
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
    if args.by_connector || run::shows_connectors(&by_scope) {
        println!("by connector and scope:");
        print!("{}", run::render_by_scope(&by_scope));
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
