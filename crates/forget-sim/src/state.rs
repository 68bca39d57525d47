//! Shared simulator state: profiles, counters, token, faults.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::fault::{self, Fault};
use crate::history::{DeleteRequest, KeyCounters};
use crate::limiter::{Limiter, LimiterConfig, Verdict};
use crate::outreach::Store;
use crate::profiles::{Outcome, Profiles, Step};
use crate::timeline::{Column, Timeline, TimelineSecond};
use crate::{RetryAfter, SimConfig};

/// A snapshot of the simulator's counters.
///
/// `requests` counts every HTTP request except `GET /_sim/stats`; every such
/// request lands in exactly one of `deleted`, `not_found`, `rejected`, `throttled`,
/// `faults`, `unauthorized`, `listed` and `reads` (except requests whose client went away
/// while the body was being read). The other fields are parts of these (`random_throttled`,
/// `deleted_then_faulted`) or high-water marks. Requests to the read APIs (token,
/// purposes, target groups, transactions) land in `reads`, whatever the answer.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SimStats {
    /// Requests received (any path and method, except the stats endpoint).
    pub requests: u64,
    /// Keys deleted (answered with a `transaction-id`).
    pub deleted: u64,
    /// Answered 1020 "Contact profile not found".
    pub not_found: u64,
    /// Answered 404, 405, 1001 (bad input) or 102 (unknown profile).
    pub rejected: u64,
    /// Answered 429 by the rate limiter (injected 429s count as `faults` and
    /// `random_throttled`).
    pub throttled: u64,
    /// Answered with an injected fault (or left unanswered by one).
    pub faults: u64,
    /// Of `faults`: injected 429s, which come whatever the rate limiter's state.
    #[serde(default)]
    pub random_throttled: u64,
    /// Of `faults`: keys deleted by a request an after-delete fault then answered
    /// (`500-after-delete`) or left unanswered (`drop-`, `slow-after-delete`). Keys deleted
    /// in all: `deleted + deleted_then_faulted`.
    #[serde(default)]
    pub deleted_then_faulted: u64,
    /// Answered 401 (430 bad token, 498 expired token).
    pub unauthorized: u64,
    /// The most times any one key was deleted: a deletion count, 0 or 1, since nothing
    /// puts a key back. It cannot show a key sent twice; `max_requests_per_key` and
    /// `resent_after_final` do.
    pub max_deletes_per_key: u64,
    /// Delete requests for the most-requested key (Webex: profile and key; Outreach:
    /// resource and id), whatever their answers.
    #[serde(default)]
    pub max_requests_per_key: u64,
    /// Delete requests for a key that arrived after a final answer for it (deleted,
    /// 1020 / 404 not found, 102 / 422 refused) had been delivered. A correct client sends
    /// none, unless killed between reading an answer and recording it.
    #[serde(default)]
    pub resent_after_final: u64,
    /// Delete requests for a key whose previous request's answer was delivered and final:
    /// sent again without cause (at most `resent_after_final`).
    /// [`Sim::keys_resent_without_cause`] names the keys.
    #[serde(default)]
    pub resent_without_cause: u64,
    /// Requests of the simulated other integration (`background_rate`) replayed so far.
    #[serde(default)]
    pub background_requests: u64,
    /// Of `background_requests`: those that found the quota used up (taken as debt).
    #[serde(default)]
    pub background_over_limit: u64,
    /// Outreach reads answered 200 (collection pages and records by id).
    #[serde(default)]
    pub listed: u64,
    /// Requests to the read APIs: OAuth token, purposes, target groups, transactions.
    #[serde(default)]
    pub reads: u64,
    /// Tokens issued by the OAuth client-credentials endpoint.
    #[serde(default)]
    pub tokens_issued: u64,
    /// Transaction lists answered (one per successful last-N-transactions call).
    #[serde(default)]
    pub transaction_lists: u64,
}

#[derive(Default)]
pub(crate) struct Counters {
    pub requests: AtomicU64,
    pub deleted: AtomicU64,
    pub not_found: AtomicU64,
    pub rejected: AtomicU64,
    pub throttled: AtomicU64,
    pub faults: AtomicU64,
    pub random_throttled: AtomicU64,
    pub deleted_then_faulted: AtomicU64,
    pub unauthorized: AtomicU64,
    pub keys: KeyCounters,
    pub listed: AtomicU64,
    pub reads: AtomicU64,
    pub tokens_issued: AtomicU64,
    pub transaction_lists: AtomicU64,
}

struct AuthState {
    token: String,
    /// Requests to the delete and transactions paths after which the token expires.
    expire_after: Option<u64>,
}

/// Result of the token check.
pub(crate) enum Auth {
    Ok,
    /// Missing or wrong token (430).
    Bad,
    /// The token has expired (498).
    Expired,
}

/// Where to mark an answer delivered once the configured latency has run (it was
/// recorded undelivered, in case the client went away meanwhile).
pub(crate) enum Receipt {
    Webex {
        profile: String,
        key: String,
        index: u64,
    },
    Outreach {
        resource: String,
        id: i64,
        index: u64,
    },
}

/// The simulator's shared state. Cheap to share (`Arc<Sim>`), `Send + Sync`.
pub struct Sim {
    auth: RwLock<AuthState>,
    profiles: Profiles,
    limiter: Option<Mutex<Limiter>>,
    clock: Clock,
    timeline: Timeline,
    pub(crate) retry_after: RetryAfter,
    faults: RwLock<Vec<(Fault, f64)>>,
    /// Nanoseconds added before every answer.
    latency: AtomicU64,
    /// Requests to the delete and transactions paths since the token was last set.
    delete_requests: AtomicU64,
    seed: u64,
    draws: AtomicU64,
    record_bodies: bool,
    received: Mutex<Vec<serde_json::Value>>,
    pub(crate) counters: Counters,
    pub(crate) outreach: Store,
    pub(crate) tenant: Tenant,
}

/// What the read APIs serve, and the OAuth tokens handed out.
pub(crate) struct Tenant {
    pub purposes: Vec<serde_json::Value>,
    pub target_groups: Vec<serde_json::Value>,
    pub transactions: Vec<serde_json::Value>,
    pub client: Option<(String, String)>,
    pub token_expires_in: Option<u64>,
    pub token_uses: Option<u64>,
    /// Issued token → times used.
    issued: Mutex<HashMap<String, u64>>,
    /// Subject (`key` or `customer-id` value) → transaction lists answered for it.
    fetches: Mutex<HashMap<String, u64>>,
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim")
            .field("profiles", &self.profiles.count())
            .field("remaining", &self.remaining())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Sim {
    /// Builds a simulator. The default profile always exists (possibly empty).
    pub fn new(mut cfg: SimConfig) -> Arc<Sim> {
        let outreach = Store::new(
            std::mem::take(&mut cfg.outreach),
            cfg.outreach_next_base.take(),
        );
        Arc::new(Sim {
            auth: RwLock::new(AuthState {
                token: cfg.token,
                expire_after: cfg.expire_token_after,
            }),
            profiles: Profiles::new(cfg.default_profile, cfg.profiles),
            timeline: Timeline::new(cfg.rate_limit, &cfg.rate_schedule),
            limiter: Limiter::new(&LimiterConfig {
                rate: cfg.rate_limit,
                burst: cfg.rate_burst,
                shape: cfg.rate_limit_shape,
                counts_refused: cfg.rate_limit_counts_refused,
                background: cfg.background_rate,
                schedule: cfg.rate_schedule,
            })
            .map(Mutex::new),
            clock: match cfg.clock {
                Some(clock) => Clock::Manual(clock),
                None => Clock::Real(Instant::now()),
            },
            retry_after: cfg.retry_after,
            faults: RwLock::new(cfg.faults),
            latency: AtomicU64::new(u64::try_from(cfg.latency.as_nanos()).unwrap_or(u64::MAX)),
            delete_requests: AtomicU64::new(0),
            seed: cfg.seed,
            draws: AtomicU64::new(0),
            record_bodies: cfg.record_bodies,
            received: Mutex::new(Vec::new()),
            counters: Counters::default(),
            outreach,
            tenant: Tenant {
                purposes: cfg.purposes,
                target_groups: cfg.target_groups,
                transactions: cfg.transactions,
                client: cfg.hub_client,
                token_expires_in: cfg.hub_token_expires_in,
                token_uses: cfg.hub_token_uses,
                issued: Mutex::new(HashMap::new()),
                fetches: Mutex::new(HashMap::new()),
            },
        })
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> SimStats {
        let c = &self.counters;
        let now = self.now();
        let (background_requests, background_over_limit) =
            self.limiter.as_ref().map_or((0, 0), |l| {
                let mut l = lock(l);
                // Replays the background's arrivals due by now.
                l.rate(now);
                (l.background_requests, l.background_over_limit)
            });
        SimStats {
            background_requests,
            background_over_limit,
            requests: c.requests.load(Relaxed),
            deleted: c.deleted.load(Relaxed),
            not_found: c.not_found.load(Relaxed),
            rejected: c.rejected.load(Relaxed),
            throttled: c.throttled.load(Relaxed),
            faults: c.faults.load(Relaxed),
            random_throttled: c.random_throttled.load(Relaxed),
            deleted_then_faulted: c.deleted_then_faulted.load(Relaxed),
            unauthorized: c.unauthorized.load(Relaxed),
            max_deletes_per_key: c.keys.max_deletes_per_key.load(Relaxed),
            max_requests_per_key: c.keys.max_requests_per_key.load(Relaxed),
            resent_after_final: c.keys.resent_after_final.load(Relaxed),
            resent_without_cause: c.keys.resent_without_cause.load(Relaxed),
            listed: c.listed.load(Relaxed),
            reads: c.reads.load(Relaxed),
            tokens_issued: c.tokens_issued.load(Relaxed),
            transaction_lists: c.transaction_lists.load(Relaxed),
        }
    }

    /// How many transaction lists were answered for `subject` (a key or a customer id).
    pub fn transaction_fetches(&self, subject: &str) -> u64 {
        lock(&self.tenant.fetches)
            .get(subject)
            .copied()
            .unwrap_or(0)
    }

    /// How many times `key` of `profile` was deleted (0 or 1: nothing puts a key back).
    pub fn delete_count(&self, profile: &str, key: &str) -> u64 {
        self.profiles
            .inspect(profile, key, |h| h.deletes())
            .unwrap_or(0)
    }

    /// Whether `profile` still holds `key`.
    pub fn holds(&self, profile: &str, key: &str) -> bool {
        self.profiles
            .inspect(profile, key, |h| h.is_held())
            .unwrap_or(false)
    }

    /// Every delete request for `key` of `profile`, in arrival order, and what it got
    /// (the first [`KEPT`](crate::history::KEPT) of them).
    pub fn history(&self, profile: &str, key: &str) -> Vec<DeleteRequest> {
        self.profiles.history(profile, key)
    }

    /// The keys sent again after a delivered final answer (see
    /// [`SimStats::resent_without_cause`]), sorted: `(profile, key)` for Webex,
    /// `("/api/v2/{resource}", id)` for Outreach. A correct client leaves this empty: every
    /// key it sent more than once had only retryable or lost answers before its last.
    pub fn keys_resent_without_cause(&self) -> Vec<(String, String)> {
        let mut keys = self.profiles.resent_without_cause();
        keys.extend(self.outreach.resent_without_cause());
        keys.sort();
        keys
    }

    /// Keys still held, across all profiles.
    pub fn remaining(&self) -> usize {
        self.profiles.remaining()
    }

    /// Request bodies received on the delete path (only with `record_bodies`).
    /// Bodies that are not JSON are recorded as a JSON string of their text;
    /// bodies over the size limit are not recorded.
    pub fn received(&self) -> Vec<serde_json::Value> {
        lock(&self.received).clone()
    }

    /// Replaces the accepted token. The new token does not expire (as if it
    /// were a freshly issued one with a long lifetime); use
    /// [`Sim::set_token_expiry`] to make it expire too.
    pub fn set_token(&self, token: &str) {
        let mut auth = self.auth.write().unwrap_or_else(PoisonError::into_inner);
        token.clone_into(&mut auth.token);
        auth.expire_after = None;
        self.delete_requests.store(0, Relaxed);
    }

    /// Makes the current token expire after `after` more requests to the
    /// delete and transactions paths (`None`: never).
    pub fn set_token_expiry(&self, after: Option<u64>) {
        let mut auth = self.auth.write().unwrap_or_else(PoisonError::into_inner);
        auth.expire_after = after;
        self.delete_requests.store(0, Relaxed);
    }

    /// Replaces the delay added before every answer.
    pub fn set_latency(&self, latency: Duration) {
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        self.latency.store(nanos, Relaxed);
    }

    pub(crate) fn latency(&self) -> Duration {
        Duration::from_nanos(self.latency.load(Relaxed))
    }

    /// Replaces the fault table.
    pub fn set_faults(&self, faults: Vec<(Fault, f64)>) {
        *self.faults.write().unwrap_or_else(PoisonError::into_inner) = faults;
    }

    // ----- used by the request handler -----

    /// Counts one delete, transactions or Outreach request and checks the presented bearer token.
    /// Once the token has expired every request is `Expired`, whatever token
    /// it carries.
    pub(crate) fn authorize(&self, presented: Option<&[u8]>) -> Auth {
        let auth = self.auth.read().unwrap_or_else(PoisonError::into_inner);
        let n = self.delete_requests.fetch_add(1, Relaxed) + 1;
        if auth.expire_after.is_some_and(|limit| n > limit) {
            Auth::Expired
        } else if presented == Some(auth.token.as_bytes()) {
            Auth::Ok
        } else {
            Auth::Bad
        }
    }

    /// Nanoseconds since the simulator started, on its clock.
    pub(crate) fn now(&self) -> u64 {
        self.clock.now()
    }

    /// Counts a delete request's event in the arrival log, in the second of `now`.
    pub(crate) fn log(&self, now: u64, column: Column) {
        self.timeline.count(now, column);
    }

    /// The arrival log: every second from the start through the current one (see
    /// [`TimelineSecond`]).
    pub fn timeline(&self) -> Vec<TimelineSecond> {
        self.timeline.rows(self.now())
    }

    /// Whether the rate limiter lets a request arriving at `now` through; if not, how long
    /// until it would.
    pub(crate) fn admit(&self, now: u64) -> Result<(), Duration> {
        match self.limiter.as_ref().map(|l| lock(l).check(now)) {
            None | Some(Verdict::Admitted) => Ok(()),
            Some(Verdict::Limited { wait }) => Err(wait),
        }
    }

    /// How long until the limiter would admit a request, taking nothing.
    pub(crate) fn limiter_wait(&self, now: u64) -> Duration {
        self.limiter
            .as_ref()
            .map_or(Duration::ZERO, |l| lock(l).wait(now))
    }

    /// The rate limit in force now (`None`: no limit), as the schedule has it.
    pub fn rate_limit_now(&self) -> Option<f64> {
        let now = self.now();
        self.limiter.as_ref().and_then(|l| lock(l).rate(now))
    }

    /// One fault draw per request.
    pub(crate) fn draw_fault(&self) -> Option<Fault> {
        let n = self.draws.fetch_add(1, Relaxed);
        let faults = self.faults.read().unwrap_or_else(PoisonError::into_inner);
        if faults.is_empty() {
            return None;
        }
        fault::pick(&faults, fault::draw(self.seed, n))
    }

    pub(crate) fn records_bodies(&self) -> bool {
        self.record_bodies
    }

    pub(crate) fn record(&self, body: serde_json::Value) {
        lock(&self.received).push(body);
    }

    /// Checks a token presented to a read API: the configured token, or one issued by the
    /// OAuth endpoint (which expires after `token_uses` uses).
    pub(crate) fn authorize_read(&self, presented: Option<&[u8]>) -> Auth {
        let Some(presented) = presented else {
            return Auth::Bad;
        };
        {
            let auth = self.auth.read().unwrap_or_else(PoisonError::into_inner);
            if presented == auth.token.as_bytes() {
                return Auth::Ok;
            }
        }
        let Ok(presented) = std::str::from_utf8(presented) else {
            return Auth::Bad;
        };
        let mut issued = lock(&self.tenant.issued);
        match issued.get_mut(presented) {
            Some(uses) => {
                *uses += 1;
                if self.tenant.token_uses.is_some_and(|limit| *uses > limit) {
                    Auth::Expired
                } else {
                    Auth::Ok
                }
            }
            None => Auth::Bad,
        }
    }

    /// Issues a fresh OAuth token.
    pub(crate) fn issue_token(&self) -> String {
        let token = format!("sim-oauth-{}", uuid::Uuid::new_v4().simple());
        lock(&self.tenant.issued).insert(token.clone(), 0);
        self.counters.tokens_issued.fetch_add(1, Relaxed);
        token
    }

    pub(crate) fn count_fetch(&self, subject: &str) {
        *lock(&self.tenant.fetches)
            .entry(subject.to_owned())
            .or_default() += 1;
        self.counters.transaction_lists.fetch_add(1, Relaxed);
    }

    /// Applies `step` to a Webex key and records its answer; `answers`: whether the client
    /// will get an answer at all. Returns the outcome and, if the answer waits for the
    /// configured latency, where to mark it delivered afterwards.
    pub(crate) fn webex_request(
        &self,
        profile: Option<&str>,
        key: &str,
        step: Step,
        answers: bool,
    ) -> (Outcome, Option<Receipt>) {
        let profile = self.profiles.name(profile);
        let now = answers && self.latency().is_zero();
        let (outcome, index) = self
            .profiles
            .request(profile, key, step, now, &self.counters.keys);
        let receipt = (answers && !now).then(|| Receipt::Webex {
            profile: profile.to_owned(),
            key: key.to_owned(),
            index,
        });
        (outcome, receipt)
    }

    /// Marks an answer delivered (see [`Receipt`]).
    pub(crate) fn deliver(&self, receipt: Receipt) {
        match receipt {
            Receipt::Webex {
                profile,
                key,
                index,
            } => self.profiles.deliver(&profile, &key, index),
            Receipt::Outreach {
                resource,
                id,
                index,
            } => self.outreach.deliver(&resource, id, index),
        }
    }
}
