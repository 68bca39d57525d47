//! `forget sim`: command-line arguments and the standalone server.

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

mod parse;

use crate::outreach::{self, OutreachCollection};
use crate::{
    Fault, RateLimitShape, RetryAfter, RetryAfterStyle, Sim, SimConfig, SimStats, TimelineSecond,
    serve,
};
pub use parse::{RateSchedule, RetryAfterArg, load_profiles};
use parse::{
    check_rate, load_array, parse_fault, parse_rate, parse_retry_after, parse_schedule,
    resource_spec,
};

/// Run a local simulator of the Webex Campaign delete API, the read APIs beside it (OAuth
/// token, purposes, target groups, last-N transactions), and Outreach's JSON:API
/// collections (under /api/v2/: list, get, delete).
///
/// Prints `forget sim listening on http://ADDR` once ready, serves until
/// Ctrl-C, then prints its counters and its arrival log (`timeline`) as one JSON
/// line. While it runs, GET /_sim/stats answers the counters and GET /_sim/timeline
/// the arrival log: per second of its clock, the delete requests that arrived, were
/// admitted, refused by the limiter, answered a random 429, and the keys deleted.
/// Outreach clients use `--base-url http://ADDR/api/v2`.
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

    /// Accept at most N requests per second (fractions allowed, e.g. 0.5); the excess is
    /// answered HTTP 429 code 429. Webex Campaign publishes no limit, so a client must find
    /// and hold whatever it meets. Delete, transactions and Outreach requests share it.
    #[arg(long, value_name = "N", value_parser = parse_rate, help_heading = "Rate limit")]
    pub rate_limit: Option<f64>,

    /// How the limit is counted. bucket: a bucket of --rate-burst tokens refilled at N/s
    /// (a burst, then N/s). fixed: one-second windows of the simulator's clock, each
    /// admitting N from its first instant (2N can pass within a second, across a
    /// boundary). sliding: any one-second interval holds at most N admitted requests (the
    /// strictest: a burst of N shuts the rest of that second out).
    #[arg(
        long,
        value_name = "SHAPE",
        default_value = "bucket",
        help_heading = "Rate limit"
    )]
    pub rate_limit_shape: RateLimitShape,

    /// Tokens of the bucket shape: how many requests may arrive at once after a quiet
    /// spell [default: max(1, N/10)].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..), help_heading = "Rate limit")]
    pub rate_burst: Option<u32>,

    /// Refused (429) requests count against the quota too, as some limiters do: a refusal
    /// takes the part of a bucket's token that had refilled, or stays in the sliding log,
    /// so a client that keeps knocking while refused keeps itself out (no effect on fixed
    /// windows, which refuse only once their quota is used).
    #[arg(long, help_heading = "Rate limit")]
    pub rate_limit_counts_refused: bool,

    /// Change the limit at T seconds after the simulator starts: e.g. 0:200,20:100,40:200
    /// halves it at 20 s and doubles it back at 40 s. --rate-limit holds before the first
    /// T (without it, no limit does). A fixed window takes a new limit at its next boundary.
    #[arg(long, value_name = "T:N[,T:N...]", value_parser = parse_schedule, help_heading = "Rate limit")]
    pub rate_schedule: Option<RateSchedule>,

    /// Simulate another integration of the same tenant taking R requests/s of the quota,
    /// room or not (it retries until it gets through): a client gets at most N - R. It
    /// sends nothing: the limiter replays its arrivals, exactly every 1/R s.
    #[arg(long, value_name = "R", value_parser = parse_rate, help_heading = "Rate limit")]
    pub background_rate: Option<f64>,

    /// Send `Retry-After: SECS` with 429 answers (none by default). auto: the honest delay
    /// until the limiter would admit again, rounded up to whole seconds as real servers do
    /// (e.g. `Retry-After: 1` from a sliding window); injected 429s get the limiter's wait,
    /// at least 1.
    #[arg(long, value_name = "SECS|auto", value_parser = parse_retry_after, help_heading = "Rate limit")]
    pub retry_after: Option<RetryAfterArg>,

    /// Send --retry-after as an HTTP-date (that many seconds from now) instead of seconds.
    #[arg(
        long,
        requires = "retry_after",
        conflicts_with = "retry_after_reset",
        help_heading = "Rate limit"
    )]
    pub retry_after_date: bool,

    /// Send --retry-after as `X-RateLimit-Reset: <Unix time that many seconds from now>`,
    /// as Outreach does, instead of a Retry-After header.
    #[arg(long, requires = "retry_after", help_heading = "Rate limit")]
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
        for (flag, rate) in [
            ("--rate-limit", self.rate_limit),
            ("--background-rate", self.background_rate),
        ] {
            if let Some(rate) = rate {
                check_rate(rate).map_err(|e| format!("{flag}: {e}"))?;
            }
        }
        let schedule = self
            .rate_schedule
            .as_ref()
            .map(|s| s.0.clone())
            .unwrap_or_default();
        if self.rate_limit.is_none() && schedule.is_empty() {
            let needs_limit = [
                ("--rate-burst", self.rate_burst.is_some()),
                (
                    "--rate-limit-shape",
                    self.rate_limit_shape != RateLimitShape::Bucket,
                ),
                (
                    "--rate-limit-counts-refused",
                    self.rate_limit_counts_refused,
                ),
                ("--background-rate", self.background_rate.is_some()),
            ];
            if let Some((flag, _)) = needs_limit.iter().find(|(_, given)| *given) {
                return Err(format!("{flag} needs --rate-limit or --rate-schedule"));
            }
        }
        if self.rate_burst.is_some() && self.rate_limit_shape != RateLimitShape::Bucket {
            return Err(format!(
                "--rate-burst sizes the bucket shape, not {}",
                self.rate_limit_shape
            ));
        }
        let profiles = self
            .profiles
            .iter()
            .map(|spec| load_profiles(spec).map_err(|e| format!("--profiles {spec}: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        let style = match (self.retry_after_date, self.retry_after_reset) {
            (true, _) => RetryAfterStyle::HttpDate,
            (false, true) => RetryAfterStyle::ResetAt,
            (false, false) => RetryAfterStyle::Seconds,
        };
        let retry_after = match (self.retry_after, style) {
            (None, _) => RetryAfter::None,
            (Some(RetryAfterArg::Auto), style) => RetryAfter::Auto(style),
            (Some(RetryAfterArg::Seconds(secs)), RetryAfterStyle::HttpDate) => {
                RetryAfter::HttpDate(secs)
            }
            (Some(RetryAfterArg::Seconds(secs)), RetryAfterStyle::ResetAt) => {
                RetryAfter::ResetAt(secs)
            }
            (Some(RetryAfterArg::Seconds(secs)), RetryAfterStyle::Seconds) => {
                RetryAfter::Seconds(secs)
            }
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
            rate_limit_shape: self.rate_limit_shape,
            rate_limit_counts_refused: self.rate_limit_counts_refused,
            background_rate: self.background_rate,
            rate_schedule: schedule,
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

/// Runs `forget sim`: binds, prints `forget sim listening on http://ADDR` and the
/// token it accepts, serves until Ctrl-C, then prints the stats as one JSON line.
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
    // The token is the simulator's own (a rehearsal's, never a tenant's): shown so the
    // next command can be typed as printed.
    print_line(&format!(
        "token: {token}  (e.g. WEBEX_CAMPAIGN_TOKEN={token} forget run requests.csv \
         --base-url http://{local})",
        token = args.token
    ))?;
    serve(listener, std::sync::Arc::clone(&sim), stop_signal())
        .await
        .map_err(|source| SimError::Io {
            context: "simulator failed",
            source,
        })?;
    print_line(&exit_report(&sim))
}

/// The line `forget sim` prints at exit: the counters, and the arrival log as `timeline`.
fn exit_report(sim: &Sim) -> String {
    #[derive(serde::Serialize)]
    struct Report {
        #[serde(flatten)]
        stats: SimStats,
        timeline: Vec<TimelineSecond>,
    }
    let report = Report {
        stats: sim.stats(),
        timeline: sim.timeline(),
    };
    // Plain numbers and names: encoding cannot fail.
    serde_json::to_string(&report).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn the_exit_line_holds_the_stats_and_the_timeline() {
        let clock = crate::ManualClock::new();
        clock.set(Duration::from_millis(2500));
        let sim = Sim::new(SimConfig {
            clock: Some(clock),
            rate_limit: Some(7.0),
            ..SimConfig::default()
        });
        let line = exit_report(&sim);
        let stats: SimStats = serde_json::from_str(&line).expect("the stats");
        assert_eq!(stats, sim.stats());
        let value: serde_json::Value = serde_json::from_str(&line).expect("JSON");
        let timeline = value["timeline"].as_array().expect("a timeline");
        assert_eq!(timeline.len(), 3);
        assert_eq!(timeline[2]["second"], 2);
        assert_eq!(timeline[2]["limit"], 7.0);
        assert!(!line.contains('\n'));
    }
}
