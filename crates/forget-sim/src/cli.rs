//! `forget sim`: command-line arguments and the standalone server.

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use crate::outreach::{self, OutreachCollection};
use crate::{Fault, RetryAfter, Sim, SimConfig, serve};

/// Run a local simulator of the Webex Campaign delete API, the read APIs beside it (OAuth
/// token, purposes, target groups, last-N transactions), and Outreach's JSON:API
/// collections (under /api/v2/: list, get, delete).
///
/// Prints `forget sim listening on http://ADDR` once ready, serves until
/// Ctrl-C, then prints its counters as one JSON line. Outreach clients use
/// `--base-url http://ADDR/api/v2`.
#[derive(clap::Args, Debug, Clone)]
pub struct SimArgs {
    /// Address to listen on. Only loopback addresses are accepted unless
    /// --allow-remote is given. Use port 0 to pick a free port.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: String,

    /// Allow listening on a non-loopback address. The simulator has no TLS
    /// and, by default, a well-known token.
    #[arg(long)]
    pub allow_remote: bool,

    /// Load keys into a profile: FILE has one key per line (blank lines and
    /// lines starting with '#' are skipped). NAME defaults to "customers",
    /// the profile used when a request names none. Repeatable.
    #[arg(long = "profiles", value_name = "[NAME=]FILE")]
    pub profiles: Vec<String>,

    /// Bearer token the simulator accepts.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "FORGET_SIM_TOKEN",
        default_value = "sim-token",
        hide_env_values = true
    )]
    pub token: String,

    /// Accept at most N requests per second (fractions allowed, e.g. 0.5);
    /// the excess is answered HTTP 429 code 429.
    #[arg(long, value_name = "N", value_parser = parse_rate)]
    pub rate_limit: Option<f64>,

    /// Burst allowed by --rate-limit [default: max(1, N/10)].
    #[arg(long, value_name = "N", requires = "rate_limit", value_parser = clap::value_parser!(u32).range(1..))]
    pub rate_burst: Option<u32>,

    /// Send `Retry-After: SECS` with 429 answers (none by default).
    #[arg(long, value_name = "SECS")]
    pub retry_after: Option<u64>,

    /// Send --retry-after as an HTTP-date (SECS from now) instead of seconds.
    #[arg(long, requires = "retry_after", conflicts_with = "retry_after_reset")]
    pub retry_after_date: bool,

    /// Send --retry-after as `X-RateLimit-Reset: <Unix time SECS from now>`, as Outreach
    /// does, instead of a Retry-After header.
    #[arg(long, requires = "retry_after")]
    pub retry_after_reset: bool,

    /// Serve Outreach records: `[RESOURCE=]N` generates N call purposes with ids 1..N;
    /// `[RESOURCE=]FILE` loads a CSV with an `id` column, other columns being attributes
    /// (what `forget list` writes). RESOURCE defaults to callPurposes, which is always
    /// served. Repeatable.
    #[arg(long = "outreach", value_name = "[RESOURCE=]N|FILE")]
    pub outreach: Vec<String>,

    /// Answer a delete of this Outreach record with a 422 error document (the record
    /// stays): `[RESOURCE=]ID`. Repeatable.
    #[arg(long = "outreach-undeletable", value_name = "[RESOURCE=]ID")]
    pub outreach_undeletable: Vec<String>,

    /// Inject a fault with probability PROB (0..1) per request, instead of
    /// processing it. KIND is one of 500, 1010, 429, 499, drop, slow,
    /// truncated, empty, notjson, html502: these delete nothing. Or one of
    /// drop-after-delete, slow-after-delete, 500-after-delete: the delete is
    /// done, then the answer is lost (connection closed, no answer ever, or
    /// HTTP 500), so a correct client retries and reads 1020 (on reads they are
    /// plain drop, slow, 500). Repeatable; e.g. --fault 500=0.05 --fault drop=0.01.
    #[arg(long = "fault", value_name = "KIND=PROB", value_parser = parse_fault)]
    pub faults: Vec<(Fault, f64)>,

    /// Delay every answer by this many milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub latency_ms: u64,

    /// After N requests to the delete and transactions endpoints (Outreach
    /// requests count too), answer them 401: code 498 (token expired), or an
    /// Outreach error document.
    #[arg(long, value_name = "N")]
    pub expire_token_after: Option<u64>,

    /// Seed for fault injection; the same seed gives the same fault sequence.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub seed: u64,

    /// Serve these purposes at /v1/purposes: a JSON array as the Get Purposes document
    /// shows ([] for none) [default: the sample tenant's].
    #[arg(long, value_name = "FILE", help_heading = "Read APIs")]
    pub purposes: Option<std::path::PathBuf>,

    /// Serve these target groups (both /v1/target-groups and
    /// /campaignapi/resources/v3/target-groups): a JSON array [default: the sample tenant's].
    #[arg(long, value_name = "FILE", help_heading = "Read APIs")]
    pub target_groups: Option<std::path::PathBuf>,

    /// Serve these transactions from /campaignapi/resources/v3/transactions: a JSON array of
    /// records with key, customer-id, channel, deployment-date … [default: the sample tenant's].
    #[arg(long, value_name = "FILE", help_heading = "Read APIs")]
    pub transactions: Option<std::path::PathBuf>,

    /// The OAuth client id the token endpoint accepts.
    #[arg(
        long,
        value_name = "ID",
        default_value = "sim-client",
        help_heading = "Read APIs"
    )]
    pub hub_client_id: String,

    /// The OAuth client secret the token endpoint accepts.
    #[arg(
        long,
        value_name = "SECRET",
        env = "FORGET_SIM_CLIENT_SECRET",
        default_value = "sim-secret",
        hide_env_values = true,
        help_heading = "Read APIs"
    )]
    pub hub_client_secret: String,

    /// `expires_in` of issued OAuth tokens, in seconds.
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 3600,
        help_heading = "Read APIs"
    )]
    pub hub_token_expires_in: u64,

    /// An issued OAuth token answers 401 code 498 after N uses.
    #[arg(long, value_name = "N", help_heading = "Read APIs")]
    pub hub_token_uses: Option<u64>,
}

/// Reads a JSON array from `path`.
fn load_array(flag: &str, path: &Path) -> Result<Vec<serde_json::Value>, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("{flag} {}: {e}", path.display()))?;
    serde_json::from_str(text.trim_start_matches('\u{feff}'))
        .map_err(|e| format!("{flag} {}: not a JSON array: {e}", path.display()))
}

fn parse_rate(s: &str) -> Result<f64, String> {
    let rate: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number"))?;
    check_rate(rate)
}

fn check_rate(rate: f64) -> Result<f64, String> {
    if rate.is_finite() && rate > 0.0 {
        Ok(rate)
    } else {
        Err("the rate must be a positive number".to_owned())
    }
}

fn parse_fault(s: &str) -> Result<(Fault, f64), String> {
    let (kind, prob) = s
        .split_once('=')
        .ok_or_else(|| format!("expected KIND=PROB, got {s:?}"))?;
    let fault: Fault = kind.parse()?;
    let prob: f64 = prob
        .trim()
        .parse()
        .map_err(|_| format!("probability {prob:?} is not a number"))?;
    if !(0.0..=1.0).contains(&prob) {
        return Err(format!("probability {prob} is not between 0 and 1"));
    }
    Ok((fault, prob))
}

impl SimArgs {
    /// Builds the simulator configuration, loading the profile files.
    pub fn to_config(&self) -> Result<SimConfig, String> {
        let mut faults = Vec::with_capacity(self.faults.len());
        let mut total = 0.0;
        for &(fault, prob) in &self.faults {
            // Values given programmatically bypass the clap parser.
            if !(0.0..=1.0).contains(&prob) {
                return Err(format!(
                    "fault {fault}: probability {prob} is not between 0 and 1"
                ));
            }
            total += prob;
            faults.push((fault, prob));
        }
        if total > 1.0 + 1e-9 {
            return Err(format!(
                "fault probabilities add up to {total}, more than 1"
            ));
        }
        if let Some(rate) = self.rate_limit {
            check_rate(rate).map_err(|e| format!("--rate-limit: {e}"))?;
        }
        let profiles = self
            .profiles
            .iter()
            .map(|spec| load_profiles(spec).map_err(|e| format!("--profiles {spec}: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        let retry_after = match (
            self.retry_after,
            self.retry_after_date,
            self.retry_after_reset,
        ) {
            (None, _, _) => RetryAfter::None,
            (Some(secs), true, _) => RetryAfter::HttpDate(secs),
            (Some(secs), false, true) => RetryAfter::ResetAt(secs),
            (Some(secs), false, false) => RetryAfter::Seconds(secs),
        };
        let mut collections: Vec<OutreachCollection> = Vec::new();
        for spec in &self.outreach {
            let (resource, source) = resource_spec(spec);
            let records = match source.trim().parse::<usize>() {
                Ok(n) => outreach::sample_call_purposes(n),
                Err(_) => outreach::read_records(Path::new(source))
                    .map_err(|e| format!("--outreach {spec}: {e}"))?,
            };
            match collections.iter_mut().find(|c| c.resource == resource) {
                Some(c) => c.records.extend(records),
                None => collections.push(OutreachCollection::new(resource, records)),
            }
        }
        for spec in &self.outreach_undeletable {
            let (resource, id) = resource_spec(spec);
            let id: i64 = id
                .trim()
                .parse()
                .map_err(|_| format!("--outreach-undeletable {spec}: the id is not an integer"))?;
            match collections.iter_mut().find(|c| c.resource == resource) {
                Some(c) => c.undeletable.push(id),
                None => {
                    let mut c = OutreachCollection::new(resource, Vec::new());
                    c.undeletable.push(id);
                    collections.push(c);
                }
            }
        }
        let defaults = SimConfig::default();
        let data = |flag: &str, path: &Option<std::path::PathBuf>, default| match path {
            Some(path) => load_array(flag, path),
            None => Ok(default),
        };
        Ok(SimConfig {
            purposes: data("--purposes", &self.purposes, defaults.purposes)?,
            target_groups: data(
                "--target-groups",
                &self.target_groups,
                defaults.target_groups,
            )?,
            transactions: data("--transactions", &self.transactions, defaults.transactions)?,
            hub_client: Some((self.hub_client_id.clone(), self.hub_client_secret.clone())),
            hub_token_expires_in: Some(self.hub_token_expires_in),
            hub_token_uses: self.hub_token_uses,
            token: self.token.clone(),
            profiles,
            rate_limit: self.rate_limit,
            rate_burst: self.rate_burst,
            retry_after,
            faults,
            latency: Duration::from_millis(self.latency_ms),
            expire_token_after: self.expire_token_after,
            seed: self.seed,
            outreach: collections,
            ..defaults
        })
    }

    /// The address to listen on; non-loopback addresses need `--allow-remote`.
    /// `localhost:PORT` means `127.0.0.1:PORT`.
    pub fn listen_addr(&self) -> Result<SocketAddr, String> {
        let text = self.listen.trim();
        let addr = match text.strip_prefix("localhost:") {
            Some(port) => port
                .parse::<u16>()
                .map(|port| SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port))
                .map_err(|_| format!("--listen {text:?}: bad port")),
            None => text
                .parse::<SocketAddr>()
                .map_err(|_| format!("--listen {text:?}: expected IP:PORT, e.g. 127.0.0.1:8080")),
        }?;
        if !addr.ip().is_loopback() && !self.allow_remote {
            return Err(format!(
                "--listen {addr}: refusing a non-loopback address without --allow-remote"
            ));
        }
        Ok(addr)
    }
}

/// Splits `[RESOURCE=]VALUE`; RESOURCE defaults to callPurposes. A `=` after a path
/// separator belongs to a file name.
fn resource_spec(spec: &str) -> (String, &str) {
    match spec.split_once('=') {
        Some((name, value)) if !name.is_empty() && !name.contains(['/', '\\']) => {
            (name.trim().to_owned(), value)
        }
        _ => (outreach::DEFAULT_RESOURCE.to_owned(), spec),
    }
}

/// Parses a `[NAME=]FILE` spec and reads the keys of FILE: one key per line,
/// trimmed; blank lines and lines starting with `#` are skipped. NAME
/// defaults to `customers`.
pub fn load_profiles(spec: &str) -> std::io::Result<(String, Vec<String>)> {
    let (name, file) = match spec.split_once('=') {
        // A '=' inside a path (after a separator) is part of the file name.
        Some((name, file)) if !name.is_empty() && !name.contains(['/', '\\']) => {
            (name.to_owned(), file)
        }
        _ => ("customers".to_owned(), spec),
    };
    let text = std::fs::read_to_string(Path::new(file))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let keys = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_owned)
        .collect();
    Ok((name, keys))
}

/// Resolves on Ctrl-C (and, on Unix, SIGTERM).
async fn stop_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "simulator: cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    () = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => ctrl_c.await,
        }
    }
    #[cfg(not(unix))]
    ctrl_c.await;
}

/// Why `forget sim` stopped.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A flag, or a file a flag names, is wrong: nothing was served.
    #[error("{0}")]
    Usage(String),
    /// The address cannot be listened on (in use, not local, no permission).
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// Serving failed, or the standard output could not be written.
    #[error("{context}: {source}")]
    Io {
        context: &'static str,
        #[source]
        source: std::io::Error,
    },
}

fn print_line(line: &str) -> Result<(), SimError> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(|source| SimError::Io {
            context: "cannot write to stdout",
            source,
        })
}

/// Runs `forget sim`: binds, prints `forget sim listening on http://ADDR`,
/// serves until Ctrl-C, then prints the stats as one JSON line.
pub async fn run_cli(args: &SimArgs) -> Result<(), SimError> {
    let addr = args.listen_addr().map_err(SimError::Usage)?;
    let sim = Sim::new(args.to_config().map_err(SimError::Usage)?);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| SimError::Listen { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| SimError::Listen { addr, source })?;
    print_line(&format!("forget sim listening on http://{local}"))?;
    serve(listener, std::sync::Arc::clone(&sim), stop_signal())
        .await
        .map_err(|source| SimError::Io {
            context: "simulator failed",
            source,
        })?;
    // SimStats is plain numbers: encoding it cannot fail.
    let stats = serde_json::to_string(&sim.stats()).unwrap_or_default();
    print_line(&stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_specs() {
        assert_eq!(parse_fault("500=0.05"), Ok((Fault::Http500, 0.05)));
        assert_eq!(parse_fault("drop=1"), Ok((Fault::Drop, 1.0)));
        assert!(parse_fault("drop").is_err());
        assert!(parse_fault("drop=2").is_err());
        assert!(parse_fault("nope=0.1").is_err());
    }

    #[test]
    fn outreach_specs() {
        let args = |extra: &[&str]| {
            use clap::Parser;
            #[derive(clap::Parser)]
            struct Wrap {
                #[command(flatten)]
                sim: SimArgs,
            }
            let argv = std::iter::once("sim").chain(extra.iter().copied());
            Wrap::try_parse_from(argv).map(|w| w.sim.to_config())
        };
        let config = match args(&[
            "--outreach",
            "3",
            "--outreach",
            "prospects=2",
            "--outreach-undeletable",
            "2",
        ]) {
            Ok(Ok(c)) => c,
            other => panic!("{:?}", other.map(|r| r.map(|_| ()))),
        };
        let summary: Vec<(String, usize, Vec<i64>)> = config
            .outreach
            .iter()
            .map(|c| (c.resource.clone(), c.records.len(), c.undeletable.clone()))
            .collect();
        assert_eq!(
            summary,
            [
                ("callPurposes".to_owned(), 3, vec![2]),
                ("prospects".to_owned(), 2, vec![])
            ]
        );
        assert!(matches!(
            args(&["--outreach", "/nonexistent.csv"]),
            Ok(Err(_))
        ));
        assert!(matches!(args(&["--outreach-undeletable", "x"]), Ok(Err(_))));
        let reset = args(&["--retry-after", "2", "--retry-after-reset"]);
        assert!(matches!(reset, Ok(Ok(c)) if c.retry_after == RetryAfter::ResetAt(2)));
    }

    #[test]
    fn rates() {
        assert_eq!(parse_rate("0.5"), Ok(0.5));
        assert!(parse_rate("0").is_err());
        assert!(parse_rate("-1").is_err());
        assert!(parse_rate("inf").is_err());
    }
}
