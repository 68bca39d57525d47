//! What became of a key: the vocabulary shared by connectors, the engine, the ledger and reports.

use std::time::Duration;

/// A unit of work's state in the ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Not yet finished: never sent, or interrupted before a final answer.
    Pending,
    /// The API confirmed the deletion (it returned a transaction id).
    Deleted,
    /// The API says the person is not in the tenant (Webex code 1020). Final.
    NotFound,
    /// The API refused the request for good (bad profile, bad input, unknown answer).
    Rejected,
    /// Retryable failures used up every attempt of a run; the next run tries again.
    Failed,
}

impl Outcome {
    pub const ALL: [Outcome; 5] = [
        Outcome::Pending,
        Outcome::Deleted,
        Outcome::NotFound,
        Outcome::Rejected,
        Outcome::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pending => "pending",
            Outcome::Deleted => "deleted",
            Outcome::NotFound => "not_found",
            Outcome::Rejected => "rejected",
            Outcome::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == s)
    }

    /// The person's data is gone from the system: the ledger may drop the plaintext key.
    pub fn is_gone(self) -> bool {
        matches!(self, Outcome::Deleted | Outcome::NotFound)
    }
}

/// The connector name of access exports (`forget access`, see `crate::access`): their units
/// are subjects whose data was read out, not erased.
pub const ACCESS_CONNECTOR: &str = "webex-access";

/// A stored outcome in the words of the connector that recorded it. An access export is
/// recorded with the erasure outcomes (the key leaves the ledger the same way): `deleted`
/// means its document was saved (`exported`), `not_found` that the system holds nothing
/// for the subject (`no_data`). Every other outcome, and every other connector's, reads
/// as stored.
pub fn shown<'a>(connector: Option<&str>, outcome: &'a str) -> &'a str {
    match (connector, outcome) {
        (Some(ACCESS_CONNECTOR), "deleted") => "exported",
        (Some(ACCESS_CONNECTOR), "not_found") => "no_data",
        (_, other) => other,
    }
}

/// Why a run must stop sending altogether.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StopCause {
    /// The token was refused (Webex 401/430, Outreach 401).
    BadToken,
    /// The token has expired (Webex 401/498).
    ExpiredToken,
    /// The token is valid but not allowed to do this (403).
    Forbidden,
    /// The endpoint does not exist at this base URL (404, 405, a redirect).
    WrongUrl,
    /// No connection could be made for many requests in a row (DNS, refused, TLS).
    Unreachable,
}

impl StopCause {
    pub fn explain(&self) -> &'static str {
        match self {
            StopCause::BadToken => {
                "the API refused the token (401): check WEBEX_CAMPAIGN_TOKEN or --token-file"
            }
            StopCause::ExpiredToken => {
                "the token has expired (401, code 498): get a fresh token and run again to resume"
            }
            StopCause::Forbidden => {
                "the token is not allowed to delete profiles (403): ask for the delete permission"
            }
            StopCause::WrongUrl => {
                "the delete endpoint is not at this address (404/405/redirect): check --base-url"
            }
            StopCause::Unreachable => {
                "cannot connect to the API (DNS, refused connection or TLS failure): check --base-url and the network"
            }
        }
    }
}

/// A connector's reading of one answer. Codes and descriptions are kept as the API sent them.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    pub kind: VerdictKind,
    pub code: Option<String>,
    pub description: Option<String>,
    pub transaction_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum VerdictKind {
    /// A final answer.
    Final(Outcome),
    /// Try again later.
    Retry {
        /// The server asked us to slow down (429): the throttle lowers the send rate.
        throttled: bool,
        /// The request may have reached the server (timeout, dropped connection): a later
        /// "not found" then means the key was deleted by this earlier attempt.
        ambiguous: bool,
        /// A delay the server asked for (`Retry-After`).
        retry_after: Option<Duration>,
    },
    /// Stop the whole run.
    Stop(StopCause),
}

impl Verdict {
    pub fn new(kind: VerdictKind) -> Self {
        Verdict {
            kind,
            code: None,
            description: None,
            transaction_id: None,
        }
    }

    pub fn retry() -> Self {
        Verdict::new(VerdictKind::Retry {
            throttled: false,
            ambiguous: false,
            retry_after: None,
        })
    }

    pub fn with_code(mut self, code: Option<String>, description: Option<String>) -> Self {
        self.code = code;
        self.description = description;
        self
    }

    /// A short label for attempt events and logs.
    pub fn label(&self) -> &'static str {
        match &self.kind {
            VerdictKind::Final(o) => o.as_str(),
            VerdictKind::Retry {
                throttled: true, ..
            } => "throttled",
            VerdictKind::Retry {
                ambiguous: true, ..
            } => "ambiguous",
            VerdictKind::Retry { .. } => "retry",
            VerdictKind::Stop(_) => "stop",
        }
    }
}
