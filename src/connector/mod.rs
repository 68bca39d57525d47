//! Connectors: how one system is asked to erase one unit of work, and how its answer is read.
//!
//! Everything else — throttle, retries, ledger, resume, progress — is shared by the engine
//! and never changes for a new system. A connector is two pure functions, which keeps it
//! small and lets classification be tested without a network.

pub mod webex;
pub mod webex_access;

use crate::outcome::Verdict;

/// One unit of work as the engine hands it to a connector.
#[derive(Clone, Debug)]
pub struct Unit {
    pub id: i64,
    /// The profile name (Webex) — empty for the tenant's default.
    pub scope: String,
    pub key: String,
    /// Audit fields to send, as `(exparamN, value)`.
    pub exparams: Vec<(String, String)>,
}

/// An HTTP answer, with its body already read (and bounded) by the engine.
pub struct Answer<'a> {
    pub status: u16,
    pub headers: &'a reqwest::header::HeaderMap,
    pub body: &'a [u8],
}

pub trait Connector: Send + Sync + 'static {
    /// Stored in the ledger with each unit of work, e.g. `webex`.
    fn name(&self) -> &'static str;

    /// Build the request for one unit; the engine adds the timeout and sends it.
    fn request(&self, client: &reqwest::Client, unit: &Unit) -> reqwest::RequestBuilder;

    /// Read an answer. Transport failures (timeouts, dropped connections) never get here:
    /// the engine classifies those the same way for every connector.
    fn classify(&self, answer: &Answer<'_>) -> Verdict;

    /// Keep what a successful answer carries, before the unit is recorded as finished: a
    /// connector that reads (an access export) saves its document here. The engine calls it
    /// for answers classified [`Outcome::Deleted`](crate::outcome::Outcome::Deleted) only;
    /// an `Err` leaves the unit pending and stops the run, so nothing is recorded as done
    /// that was not kept. Erasure connectors keep nothing.
    fn on_success(&self, _unit: &Unit, _body: &[u8]) -> Result<(), String> {
        Ok(())
    }

    /// What a success is called in progress lines: "deleted" for erasures.
    fn success_word(&self) -> &'static str {
        "deleted"
    }

    /// The largest answer body the engine reads for this connector.
    fn max_body(&self) -> usize {
        crate::engine::MAX_BODY
    }
}
