//! A local, in-process simulator of the Webex Campaign "delete profile" API, of the
//! read APIs `forget` uses beside it (see [`hub`](self::hub): OAuth token, purposes,
//! target groups, last-N transactions), and of Outreach's JSON:API collections (see
//! [`outreach`]: list, get, delete under `/api/v2/`).
//!
//! The simulator exists so that `forget` can be exercised end to end without
//! touching a real tenant: integration tests, `forget run --simulate`, and
//! `forget sim` (a standalone server for manual experiments) all use it.
//!
//! It speaks the vendor's wire format (`POST /campaignapi/resources/v3/delete`
//! with a bearer token and a JSON body) and reproduces the behaviours a robust
//! client must cope with:
//!
//! * every documented answer (`transaction-id`, codes 102, 1001, 1010, 1020,
//!   430, 498, 405, 429, 499, 500), with `code` sent sometimes as a JSON string
//!   and sometimes as a number, as real servers do;
//! * rate limiting in the shapes real limiters have (token bucket, fixed window, sliding
//!   log), a limit that changes on a schedule, another integration using part of the quota,
//!   and `Retry-After` fixed or honest (seconds, HTTP-date, or `X-RateLimit-Reset`);
//! * token expiry after a number of requests, and token rotation;
//! * injected faults drawn from a seeded generator: dropped connections,
//!   requests that never get an answer, truncated/empty/non-JSON bodies and
//!   HTML gateway errors (none of these deletes anything), and faults after the delete
//!   (deleted, then the answer lost);
//! * a history of every delete request per key, so tests can prove that a client never
//!   sends a key again once its fate was answered.
//!
//! The server is a hand-written accept loop over hyper's HTTP/1 connection
//! driver (so that a handler can close the connection without answering) and
//! is built to be fast: no per-request logging, no lock held across awaits.

mod cli;
mod clock;
mod fault;
mod handler;
mod history;
mod hub;
mod limiter;
pub mod outreach;
mod profiles;
mod reply;
mod server;
mod state;
mod timeline;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use cli::{RateSchedule, RetryAfterArg, SimArgs, SimError, load_profiles, run_cli};
pub use clock::ManualClock;
pub use fault::Fault;
pub use history::{Answer, DeleteRequest};
pub use limiter::RateLimitShape;
pub use server::serve;
pub use state::{Sim, SimStats};
pub use timeline::TimelineSecond;

// Paths and header names are written here from the API documents, not taken from the
// client (this crate cannot see it): a client that gets one wrong meets a 404 or a 401
// here, as it would at the vendor. The client may use these paths to find the simulator.

/// Path of the simulated delete endpoint.
pub const DELETE_PATH: &str = "/campaignapi/resources/v3/delete";
/// Paths of the read APIs.
pub use hub::{
    PURPOSES_PATH, TARGET_GROUPS_HUB_PATH, TARGET_GROUPS_PATH, TOKEN_PATH, TRANSACTIONS_PATH,
};
/// Path of the (unauthenticated) statistics endpoint.
pub const STATS_PATH: &str = "/_sim/stats";
/// Path of the (unauthenticated) arrival log: a JSON array of [`TimelineSecond`]s.
pub const TIMELINE_PATH: &str = "/_sim/timeline";

/// Which `Retry-After` header a 429 answer carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryAfter {
    /// No `Retry-After` header.
    None,
    /// `Retry-After: N` (delta seconds).
    Seconds(u64),
    /// `Retry-After: <HTTP-date>` that many seconds in the future.
    HttpDate(u64),
    /// No `Retry-After`, but `X-RateLimit-Reset: <Unix time>` that many seconds in the
    /// future (as Outreach sends).
    ResetAt(u64),
    /// The honest delay: how long until the limiter would admit a request, judged from its
    /// state at the refusal, rounded up to whole seconds (never 0), in the given style. An
    /// injected 429 says how long the limiter's own wait is then, at least 1 s.
    Auto(RetryAfterStyle),
}

/// How a [`RetryAfter::Auto`] delay is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryAfterStyle {
    /// `Retry-After: N`.
    Seconds,
    /// `Retry-After: <HTTP-date>`.
    HttpDate,
    /// `X-RateLimit-Reset: <Unix time>`.
    ResetAt,
}

/// Configuration of a [`Sim`].
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// The bearer token the simulator accepts.
    pub token: String,
    /// Profile name -> keys it holds.
    pub profiles: Vec<(String, Vec<String>)>,
    /// Profile used when a request carries no `profile-name`.
    pub default_profile: String,
    /// Requests per second accepted; the excess is answered 429. The limiter is shared by
    /// the delete, transactions and Outreach endpoints. Values that are not finite and
    /// positive disable the limit.
    pub rate_limit: Option<f64>,
    /// Burst for the `Bucket` shape; default `max(1, rate / 10)`.
    pub rate_burst: Option<u32>,
    /// How the limiter counts (see [`RateLimitShape`]).
    pub rate_limit_shape: RateLimitShape,
    /// Refused requests count against the quota too: a refused request takes the part of
    /// a token that had refilled (bucket) or stays in the log (sliding), so a client that
    /// keeps knocking keeps itself out. A fixed window refuses only once its quota is used,
    /// so it changes nothing there.
    pub rate_limit_counts_refused: bool,
    /// Another integration of the same tenant taking R requests per second of the quota,
    /// room or not (it retries until it gets through): a client gets at most N − R. No
    /// requests are sent; the limiter replays its arrivals at exactly `j / R` seconds.
    pub background_rate: Option<f64>,
    /// `(at, rate)`: from `at` after the simulator started, the limit is `rate`
    /// (`rate_limit` holds before the first entry; without it, no limit does).
    pub rate_schedule: Vec<(Duration, f64)>,
    /// Which `Retry-After` header 429 answers carry.
    pub retry_after: RetryAfter,
    /// The clock the limiter (and the arrival log) read; `None`: real time since
    /// [`Sim::new`]. Tests step a [`ManualClock`] instead of sleeping.
    pub clock: Option<ManualClock>,
    /// For each request: with probability `p`, answer with this fault instead.
    pub faults: Vec<(Fault, f64)>,
    /// Added before every answer.
    pub latency: Duration,
    /// After this many requests to the delete and transactions paths (and Outreach's
    /// paths), every such request answers 401 (Webex: code 498; Outreach: an error
    /// document), until [`Sim::set_token`] installs a fresh token.
    pub expire_token_after: Option<u64>,
    /// Seed of the fault generator.
    pub seed: u64,
    /// Keep every received request body (see [`Sim::received`]).
    pub record_bodies: bool,
    /// Outreach collections served under `/api/v2/`. `callPurposes` is always served
    /// (empty unless given here).
    pub outreach: Vec<outreach::OutreachCollection>,
    /// Base of the `links.next` URLs of collection pages (default `http://{Host header}`):
    /// lets tests check that a client refuses to send its token to another host.
    pub outreach_next_base: Option<String>,
    /// Purposes served at `/v1/purposes` (default: the sample tenant's).
    pub purposes: Vec<serde_json::Value>,
    /// Target groups served at `/v1/target-groups` and `.../v3/target-groups`.
    pub target_groups: Vec<serde_json::Value>,
    /// Transactions served by the last-N-transactions API, matched on `key` and `customer-id`.
    pub transactions: Vec<serde_json::Value>,
    /// The OAuth client id and secret the token endpoint accepts (`None`: it accepts none).
    pub hub_client: Option<(String, String)>,
    /// `expires_in` of issued tokens, in seconds (`None`: the field is left out).
    pub hub_token_expires_in: Option<u64>,
    /// An issued token answers 401 code 498 after this many uses.
    pub hub_token_uses: Option<u64>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            token: "sim-token".to_owned(),
            profiles: Vec::new(),
            default_profile: "customers".to_owned(),
            rate_limit: None,
            rate_burst: None,
            rate_limit_shape: RateLimitShape::Bucket,
            rate_limit_counts_refused: false,
            background_rate: None,
            rate_schedule: Vec::new(),
            retry_after: RetryAfter::None,
            clock: None,
            faults: Vec::new(),
            latency: Duration::ZERO,
            expire_token_after: None,
            seed: 0,
            record_bodies: false,
            outreach: Vec::new(),
            outreach_next_base: None,
            purposes: sample_tenant::purposes(),
            target_groups: sample_tenant::target_groups(),
            transactions: sample_tenant::transactions(),
            hub_client: Some(("sim-client".to_owned(), "sim-secret".to_owned())),
            hub_token_expires_in: Some(3600),
            hub_token_uses: None,
        }
    }
}

/// The sample tenant's configuration and message history (`samples/tenant/*.json`), built
/// into the binary so `--simulate` and `forget sim` work anywhere.
pub mod sample_tenant {
    use serde_json::Value;

    fn parse(text: &str) -> Vec<Value> {
        // The files are part of the build; a broken one shows as an empty tenant in tests.
        serde_json::from_str(text).unwrap_or_default()
    }

    pub fn purposes() -> Vec<Value> {
        parse(include_str!("../../../samples/tenant/purposes.json"))
    }

    pub fn target_groups() -> Vec<Value> {
        parse(include_str!("../../../samples/tenant/target-groups.json"))
    }

    pub fn transactions() -> Vec<Value> {
        parse(include_str!("../../../samples/tenant/transactions.json"))
    }
}

/// A simulator served in the background on `127.0.0.1`; shuts down when dropped.
#[derive(Debug)]
pub struct SimHandle {
    addr: SocketAddr,
    stop: CancellationToken,
    join: Option<JoinHandle<std::io::Result<()>>>,
}

impl SimHandle {
    /// Base URL, e.g. `http://127.0.0.1:41234` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The socket address the simulator listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, closes every connection and waits for the server task.
    pub async fn shutdown(mut self) {
        self.stop.cancel();
        if let Some(join) = self.join.take() {
            // The server task's own result is not interesting once we stop it.
            let _ = join.await;
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Binds `127.0.0.1:0` and serves `sim` on the current tokio runtime.
pub async fn spawn(sim: Arc<Sim>) -> std::io::Result<SimHandle> {
    let listener = tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
    let addr = listener.local_addr()?;
    let stop = CancellationToken::new();
    let join = tokio::spawn(serve(listener, sim, stop.clone().cancelled_owned()));
    Ok(SimHandle {
        addr,
        stop,
        join: Some(join),
    })
}
