//! Shared simulator state: profiles, counters, token, faults.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde::{Deserialize, Serialize};

use crate::fault::{self, Fault};
use crate::outreach::Store;
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
    /// The largest number of times any single key was answered "deleted".
    pub max_deletes_per_key: u64,
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
    pub max_deletes_per_key: AtomicU64,
    pub listed: AtomicU64,
    pub reads: AtomicU64,
    pub tokens_issued: AtomicU64,
    pub transaction_lists: AtomicU64,
}

#[derive(Clone, Copy, Default)]
struct KeyState {
    held: bool,
    deletes: u64,
}

type Profile = Mutex<HashMap<String, KeyState>>;

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

/// Outcome of a delete attempt against the profile store.
pub(crate) enum DeleteOutcome {
    /// The key was held and is now gone; the transaction id to answer with.
    Deleted(u64),
    /// The key is not (or no longer) held.
    NotFound,
    /// The named profile does not exist.
    UnknownProfile,
}

/// The simulator's shared state. Cheap to share (`Arc<Sim>`), `Send + Sync`.
pub struct Sim {
    auth: RwLock<AuthState>,
    default_profile: String,
    profiles: HashMap<String, Profile>,
    limiter: Option<DefaultDirectRateLimiter>,
    pub(crate) retry_after: RetryAfter,
    faults: RwLock<Vec<(Fault, f64)>>,
    pub(crate) latency: Duration,
    /// Requests to the delete and transactions paths since the token was last set.
    delete_requests: AtomicU64,
    seed: u64,
    draws: AtomicU64,
    transactions: AtomicU64,
    remaining: AtomicUsize,
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
            .field("profiles", &self.profiles.len())
            .field("remaining", &self.remaining())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn build_limiter(rate: Option<f64>, burst: Option<u32>) -> Option<DefaultDirectRateLimiter> {
    let rate = rate.filter(|r| r.is_finite() && *r > 0.0)?;
    let period = Duration::try_from_secs_f64(1.0 / rate).ok()?;
    let burst = burst.unwrap_or_else(|| {
        // Saturating float-to-int conversion; rates are far below u32::MAX.
        (rate / 10.0) as u32
    });
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    let quota = Quota::with_period(period)?.allow_burst(burst);
    Some(RateLimiter::direct(quota))
}

impl Sim {
    /// Builds a simulator. The default profile always exists (possibly empty).
    pub fn new(mut cfg: SimConfig) -> Arc<Sim> {
        let outreach = Store::new(
            std::mem::take(&mut cfg.outreach),
            cfg.outreach_next_base.take(),
        );
        let mut profiles: HashMap<String, HashMap<String, KeyState>> = HashMap::new();
        profiles.entry(cfg.default_profile.clone()).or_default();
        for (name, keys) in cfg.profiles {
            let profile = profiles.entry(name).or_default();
            profile.reserve(keys.len());
            for key in keys {
                profile.entry(key).or_default().held = true;
            }
        }
        let remaining = profiles.values().map(HashMap::len).sum();
        Arc::new(Sim {
            auth: RwLock::new(AuthState {
                token: cfg.token,
                expire_after: cfg.expire_token_after,
            }),
            default_profile: cfg.default_profile,
            profiles: profiles
                .into_iter()
                .map(|(name, keys)| (name, Mutex::new(keys)))
                .collect(),
            limiter: build_limiter(cfg.rate_limit, cfg.rate_burst),
            retry_after: cfg.retry_after,
            faults: RwLock::new(cfg.faults),
            latency: cfg.latency,
            delete_requests: AtomicU64::new(0),
            seed: cfg.seed,
            draws: AtomicU64::new(0),
            transactions: AtomicU64::new(0),
            remaining: AtomicUsize::new(remaining),
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
        SimStats {
            requests: c.requests.load(Relaxed),
            deleted: c.deleted.load(Relaxed),
            not_found: c.not_found.load(Relaxed),
            rejected: c.rejected.load(Relaxed),
            throttled: c.throttled.load(Relaxed),
            faults: c.faults.load(Relaxed),
            random_throttled: c.random_throttled.load(Relaxed),
            deleted_then_faulted: c.deleted_then_faulted.load(Relaxed),
            unauthorized: c.unauthorized.load(Relaxed),
            max_deletes_per_key: c.max_deletes_per_key.load(Relaxed),
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

    /// How many times `key` of `profile` was answered "deleted" (0 or 1 normally).
    pub fn delete_count(&self, profile: &str, key: &str) -> u64 {
        self.profiles
            .get(profile)
            .and_then(|p| lock(p).get(key).map(|k| k.deletes))
            .unwrap_or(0)
    }

    /// Whether `profile` still holds `key`.
    pub fn holds(&self, profile: &str, key: &str) -> bool {
        self.profiles
            .get(profile)
            .is_some_and(|p| lock(p).get(key).is_some_and(|k| k.held))
    }

    /// Keys still held, across all profiles.
    pub fn remaining(&self) -> usize {
        self.remaining.load(Relaxed)
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

    /// True if the rate limiter lets this request through.
    pub(crate) fn admit(&self) -> bool {
        self.limiter.as_ref().is_none_or(|l| l.check().is_ok())
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

    pub(crate) fn delete(&self, profile: Option<&str>, key: &str) -> DeleteOutcome {
        let name = profile.unwrap_or(&self.default_profile);
        let Some(profile) = self.profiles.get(name) else {
            return DeleteOutcome::UnknownProfile;
        };
        let deletes = {
            let mut keys = lock(profile);
            match keys.get_mut(key) {
                Some(k) if k.held => {
                    k.held = false;
                    k.deletes += 1;
                    k.deletes
                }
                _ => return DeleteOutcome::NotFound,
            }
        };
        self.remaining.fetch_sub(1, Relaxed);
        self.counters
            .max_deletes_per_key
            .fetch_max(deletes, Relaxed);
        DeleteOutcome::Deleted(self.transactions.fetch_add(1, Relaxed) + 1)
    }
}
