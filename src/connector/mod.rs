//! Connectors: how one system is asked to erase one unit of work, and how its answer is read.
//!
//! Everything else — throttle, retries, ledger, resume, progress — is shared by the engine
//! and never changes for a new system. A connector is two pure functions, which keeps it
//! small and lets classification be tested without a network.

pub mod webex;

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
}
