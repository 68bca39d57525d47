//! Argument groups shared by several commands, and the checks that turn flag values into
//! settings. A command's own flags live in its own file; what two commands share lives here,
//! written once.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;

use crate::connector::{Kind, outreach};
use crate::engine::retry::RetryPolicy;
use crate::engine::{EngineConfig, Rate};
use crate::error::{Error, Result};
use crate::input::{EXPARAM_MAX, check_field};
use crate::secret::{self, Token};
use crate::target::{self, SampleTenant, Target};
use crate::tenant::hub;

/// The ledger of the audit commands (`status`, `invalid`, `lookup`, `report`, `purge`).
#[derive(Args, Debug, Clone)]
pub struct LedgerArgs {
    /// The ledger file.
    #[arg(
        long,
        env = "FORGET_STATE",
        default_value = crate::text::DEFAULT_LEDGER,
        value_name = "PATH"
    )]
    pub state: PathBuf,
}

/// Where requests go: a tenant's API at a base URL with its token, or the simulator.
#[derive(Args, Debug, Clone)]
pub struct TargetArgs {
    /// The API's base URL: for Webex Campaign your API domain, e.g.
    /// https://acme.webexcampaign.io (env FORGET_BASE_URL); for Outreach
    /// https://api.outreach.io/api/v2 unless given (env OUTREACH_BASE_URL). The token comes
    /// from WEBEX_CAMPAIGN_TOKEN (Outreach: OUTREACH_TOKEN) or --token-file.
    #[arg(long, value_name = "URL", help_heading = "Connection")]
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

/// What `--base-url` missing means, and how to fix it.
pub const NO_BASE_URL: &str = "no --base-url: give your API domain, e.g. --base-url https://acme.webexcampaign.io (or set FORGET_BASE_URL), or rehearse with --simulate";

/// A tenant's API (base URL and token), or the sample tenant's simulator serving it.
pub enum Api {
    Sample(SampleTenant, Kind),
    Remote {
        kind: Kind,
        url: reqwest::Url,
        token: Token,
    },
}

impl TargetArgs {
    /// The base URL for `kind`: the flag, else the connector's environment variable, else
    /// its public API if it has one; `None` with --simulate.
    pub fn base_url(&self, kind: Kind) -> Result<Option<reqwest::Url>> {
        if self.simulate {
            return Ok(None);
        }
        let given = self.base_url.clone().or_else(|| {
            std::env::var(kind.base_url_env())
                .ok()
                .filter(|v| !v.trim().is_empty())
        });
        given
            .as_deref()
            .or(kind.default_base_url())
            .map(target::parse_base_url)
            .transpose()
    }

    /// The simulator, or `kind`'s API at its base URL with its token; `None` when neither is
    /// given.
    pub async fn api(&self, kind: Kind) -> Result<Option<Api>> {
        if self.simulate {
            return Ok(Some(Api::Sample(SampleTenant::start().await?, kind)));
        }
        let Some(url) = self.base_url(kind)? else {
            return Ok(None);
        };
        let token = secret::load_token(kind.token_env(), self.token_file.as_deref())?;
        Ok(Some(Api::Remote { kind, url, token }))
    }

    /// [`TargetArgs::api`], required.
    pub async fn require_api(&self, kind: Kind) -> Result<Api> {
        self.api(kind)
            .await?
            .ok_or_else(|| Error::usage(NO_BASE_URL))
    }
}

impl Api {
    pub fn url(&self) -> Result<reqwest::Url> {
        match self {
            Api::Sample(sample, kind) => sample.base_url(*kind),
            Api::Remote { url, .. } => Ok(url.clone()),
        }
    }

    pub fn token(&self) -> &Token {
        match self {
            Api::Sample(sample, _) => &sample.token,
            Api::Remote { token, .. } => token,
        }
    }

    /// A target sending through `connector` (keeping a simulator alive with it).
    pub fn into_target(
        self,
        connector: std::sync::Arc<dyn crate::connector::Connector>,
    ) -> Result<Target> {
        match self {
            Api::Sample(sample, kind) => sample.target_with(kind, connector),
            Api::Remote { url, .. } => Ok(Target::new(connector, &url)),
        }
    }

    /// A target sending through this API's own connector.
    pub fn connect(self) -> Result<Target> {
        match self {
            Api::Sample(sample, kind) => sample.target(kind),
            Api::Remote { kind, url, token } => Target::connect(kind, url, token),
        }
    }

    /// A reader of the base URL's GET endpoints with the API token.
    pub fn reader(&self, client: reqwest::Client, timeout: Duration) -> Result<hub::Reader> {
        let source = match self {
            Api::Sample(..) => "the simulator's token",
            Api::Remote { .. } => "WEBEX_CAMPAIGN_TOKEN or --token-file",
        };
        Ok(hub::Reader::new(
            "--base-url",
            self.url()?,
            hub::Credentials::Bearer {
                token: self.token().clone(),
                source,
            },
            client,
            timeout,
        ))
    }
}

/// Which system, for the commands that serve more than one (`run`, `list`).
#[derive(Args, Debug, Clone)]
pub struct ConnectorArgs {
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
}

impl ConnectorArgs {
    /// `--resource`, checked: required (when `required`) by a system whose units are ids in
    /// a collection (Outreach), refused by one whose rows name their profile (Webex).
    pub fn resource(&self, required: bool) -> Result<Option<String>> {
        let kind = self.connector;
        match (kind.reads_profile_columns(), &self.resource) {
            (true, Some(_)) => Err(Error::usage(
                "--resource is for --connector outreach; Webex Campaign profiles are chosen \
                 with --profile-name",
            )),
            (true, None) => Ok(None),
            (false, Some(r)) => {
                outreach::check_resource(r.trim()).map_err(Error::Usage)?;
                Ok(Some(r.trim().to_owned()))
            }
            (false, None) if required => Err(Error::usage(format!(
                "--connector {kind} needs --resource NAME: the JSON:API collection the ids \
                 belong to, e.g. --resource {}",
                outreach::DEFAULT_RESOURCE
            ))),
            (false, None) => Ok(None),
        }
    }
}

/// Pacing and retries: shared by `run`, `access` and `list`.
#[derive(Args, Debug, Clone)]
pub struct PacingArgs {
    /// Requests per second, shared by all workers: a ceiling, under which the rate follows
    /// what the server accepts (429s). `unlimited` is allowed against a simulator on this
    /// machine, and against a tenant only with --allow-unlimited.
    #[arg(
        long,
        default_value = "10",
        value_name = "N",
        help_heading = "Throttle and retries"
    )]
    pub rate: Rate,
    /// Allow `--rate unlimited` against a tenant (it is always allowed against a simulator on
    /// this machine): forget then sends as fast as the server answers, and only 429s slow it.
    #[arg(long, help_heading = "Throttle and retries")]
    pub allow_unlimited: bool,
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
    /// `--rate unlimited` sends as fast as the server answers: allowed against a simulator
    /// on this machine, and against anything else only with `--allow-unlimited`.
    pub fn check_unlimited(&self, url: &reqwest::Url) -> Result<()> {
        if self.rate.0.is_none() && !self.allow_unlimited && !crate::transport::is_loopback(url) {
            return Err(Error::usage(format!(
                "--rate unlimited against {}: forget would send as fast as the tenant answers, \
                 and only its 429s would slow it. Give a rate (the default is 10/s), or add \
                 --allow-unlimited if the tenant's owner agreed",
                url.host_str().unwrap_or("the tenant")
            )));
        }
        Ok(())
    }

    pub fn retry(&self) -> Result<RetryPolicy> {
        if self.max_attempts == 0 {
            return Err(Error::usage("--max-attempts must be at least 1"));
        }
        Ok(RetryPolicy {
            max_attempts: self.max_attempts,
            base: Duration::from_millis(self.retry_base_ms.max(1)),
            cap: secs("--retry-max", self.retry_max)?,
        })
    }

    pub fn timeout(&self) -> Result<Duration> {
        secs("--timeout", self.timeout)
    }
}

/// How a run sends and shows progress: shared by `run` and `access`.
#[derive(Args, Debug, Clone)]
pub struct SendArgs {
    /// Requests in flight at once.
    #[arg(
        long,
        default_value_t = 8,
        value_name = "N",
        help_heading = "Throttle and retries"
    )]
    pub concurrency: usize,
    /// No progress output (the summary is still printed).
    #[arg(short, long)]
    pub quiet: bool,
    /// Seconds between progress lines when stderr is not a terminal.
    #[arg(long, default_value_t = 10.0, value_name = "SECS", hide = true)]
    pub progress_every: f64,
}

impl SendArgs {
    pub fn concurrency(&self) -> Result<usize> {
        if self.concurrency == 0 || self.concurrency > 4096 {
            return Err(Error::usage("--concurrency must be between 1 and 4096"));
        }
        Ok(self.concurrency)
    }

    pub fn progress_every(&self) -> Result<Duration> {
        secs("--progress-every", self.progress_every)
    }
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

/// What the tenant-reading commands (`check`, `inventory`) start from: a light engine
/// configuration, an HTTP client, the API at --base-url (or the simulator) and the hub.
pub struct TenantReaders {
    pub engine: EngineConfig,
    pub client: reqwest::Client,
    pub api: Option<Api>,
    pub hub: Option<hub::Reader>,
}

impl TenantReaders {
    pub async fn new(target: &TargetArgs, hub: &HubArgs, timeout: f64) -> Result<TenantReaders> {
        // A few sequential reads or canaries: one at a time, each tried up to three times
        // (`forget check` has no --max-attempts; a run's preflight follows the run's).
        let engine = EngineConfig {
            concurrency: 1,
            timeout: secs("--timeout", timeout)?,
            retry: RetryPolicy {
                max_attempts: 3,
                ..RetryPolicy::default()
            },
        };
        let client = engine.http_client()?;
        let api = target.api(Kind::Webex).await?;
        let hub = hub.reader(api.as_ref(), client.clone(), engine.timeout)?;
        Ok(TenantReaders {
            engine,
            client,
            api,
            hub,
        })
    }
}

impl HubArgs {
    /// The hub reader: the simulator's with --simulate, else --hub-url's (if given) with
    /// credentials from the environment.
    pub fn reader(
        &self,
        api: Option<&Api>,
        client: reqwest::Client,
        timeout: Duration,
    ) -> Result<Option<hub::Reader>> {
        if let Some(api @ Api::Sample(..)) = api {
            let mut reader = api.reader(client, timeout)?;
            reader.set_flag("--hub-url");
            return Ok(Some(reader));
        }
        let Some(hub_url) = &self.hub_url else {
            return Ok(None);
        };
        let url = target::parse_url("--hub-url", hub_url)?;
        let token_url = match &self.hub_token_url {
            Some(t) => target::parse_url("--hub-token-url", t)?,
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

/// A positive number of seconds.
pub fn secs(flag: &str, v: f64) -> Result<Duration> {
    if v.is_finite() && v > 0.0 {
        Ok(Duration::from_secs_f64(v))
    } else {
        Err(Error::usage(format!(
            "{flag} must be a positive number of seconds"
        )))
    }
}

/// `--delimiter`: one character, or `tab`; `None` detects it from the header.
pub fn delimiter(delimiter: Option<&str>) -> Result<Option<u8>> {
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

/// `--exparam exparamN=VALUE`.
pub fn exparam(s: &str) -> Result<(String, String)> {
    let (name, value) = s.split_once('=').ok_or_else(|| {
        Error::usage(format!(
            "--exparam {s}: expected exparamN=VALUE, e.g. --exparam exparam1=GDPR-2026-11"
        ))
    })?;
    let n = name
        .trim()
        .to_ascii_lowercase()
        .strip_prefix("exparam")
        .and_then(|n| n.parse::<u8>().ok())
        .filter(|n| (1..=EXPARAM_MAX).contains(n))
        .ok_or_else(|| {
            Error::usage(format!(
                "--exparam {s}: the name must be exparam1 to exparam10"
            ))
        })?;
    let name = format!("exparam{n}");
    // Named, never quoted: the value may be long, or hold what a terminal should not print.
    check_field(&format!("--exparam {name}"), value).map_err(Error::Usage)?;
    Ok((name, value.to_owned()))
}

/// `--profile-name NAME`, trimmed and checked as a row's `profile-name` is.
pub fn profile_name(name: &str) -> Result<String> {
    let name = name.trim();
    check_field("--profile-name", name).map_err(Error::Usage)?;
    Ok(name.to_owned())
}

/// The ledger a job keeps: `--state`, else `{stem}.db`, or `{stem}-simulate.db` when
/// rehearsing (a rehearsal never mixes with the real ledger).
pub fn job_ledger(given: Option<&Path>, stem: &str, simulate: bool) -> PathBuf {
    match given {
        Some(path) => path.to_owned(),
        None if simulate => PathBuf::from(format!("{stem}-simulate.db")),
        None => PathBuf::from(format!("{stem}.db")),
    }
}

/// `--ledger-key-file`, else the ledger's path + `.key`.
pub fn key_file(given: Option<&Path>, ledger: &Path) -> PathBuf {
    given
        .map(Path::to_owned)
        .unwrap_or_else(|| secret::default_key_file(ledger))
}

/// `--date-format`: one of the layouts [`crate::deadline::DateFormat`] reads.
pub fn date_format(value: &str) -> std::result::Result<crate::deadline::DateFormat, String> {
    crate::deadline::DateFormat::from_name(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exparams() {
        let case = |s: &str, want: Option<(&str, &str)>| {
            assert_eq!(
                exparam(s).ok(),
                want.map(|(a, b)| (a.to_string(), b.to_string())),
                "{s}"
            )
        };
        case("exparam1=GDPR", Some(("exparam1", "GDPR")));
        case("EXPARAM10=a=b", Some(("exparam10", "a=b")));
        case("exparam11=x", None);
        case("exparam0=x", None);
        case("exparam1", None);
        case("other=x", None);
        case(
            &format!("exparam1={}", "x".repeat(256)),
            Some(("exparam1", &"x".repeat(256))),
        );
        case(&format!("exparam1={}", "x".repeat(257)), None);
        case("exparam2=a\u{1}b", None);
        case("exparam2=a\nb", None);
        let refused = |s: &str| exparam(s).err().map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(
            refused(&format!("exparam3={}", "y".repeat(300))),
            "--exparam exparam3 is longer than 256 characters"
        );
        assert_eq!(
            refused("exparam3=a\tb"),
            "--exparam exparam3 contains control characters"
        );
    }

    #[test]
    fn job_ledgers() {
        let case = |given: Option<&str>, simulate: bool, want: &str| {
            assert_eq!(
                job_ledger(given.map(Path::new), "forget", simulate),
                PathBuf::from(want)
            )
        };
        case(None, false, "forget.db");
        case(None, true, "forget-simulate.db");
        case(Some("x.db"), true, "x.db");
    }
}
