//! Connectors: how one system is asked to erase one unit of work, and how its answer is read.
//!
//! Everything else — throttle, retries, ledger, resume, progress — is shared by the engine
//! and never changes for a new system. A connector is two pure functions, which keeps it
//! small and lets classification be tested without a network.

pub mod outreach;
pub mod webex;

use crate::outcome::{StopCause, Verdict};

/// One unit of work as the engine hands it to a connector.
#[derive(Clone, Debug)]
pub struct Unit {
    pub id: i64,
    /// The profile name (Webex; empty for the tenant's default) or the JSON:API collection
    /// (Outreach, e.g. `callPurposes`).
    pub scope: String,
    pub key: String,
    /// Audit fields to send, as `(exparamN, value)` (Webex only).
    pub exparams: Vec<(String, String)>,
}

/// An HTTP answer, with its body already read (and bounded) by the engine.
pub struct Answer<'a> {
    pub status: u16,
    pub headers: &'a http::HeaderMap,
    pub body: &'a [u8],
}

impl<'a> From<&'a crate::transport::Reply> for Answer<'a> {
    fn from(reply: &'a crate::transport::Reply) -> Self {
        Answer {
            status: reply.status,
            headers: &reply.headers,
            body: &reply.body,
        }
    }
}

/// A request with an absolute URL, as connectors build them and [`crate::transport`] sends
/// them.
pub type Request = http::Request<bytes::Bytes>;

/// A request of `method` to `uri`, with `headers` and `body`.
pub fn request(
    method: http::Method,
    uri: http::Uri,
    headers: &http::HeaderMap,
    body: bytes::Bytes,
) -> Request {
    let mut request = http::Request::new(body);
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.headers_mut() = headers.clone();
    request
}

/// The headers every request of a connector to `url`'s origin carries, made once: `Host`,
/// `User-Agent`, `Authorization` (kept out of debug output) and the given others.
pub fn headers(
    url: &url::Url,
    authorization: &str,
    others: &[(http::HeaderName, &'static str)],
) -> http::HeaderMap {
    let mut headers = http::HeaderMap::with_capacity(others.len() + 3);
    for (name, value) in others {
        headers.insert(name, http::HeaderValue::from_static(value));
    }
    // A URL the transport cannot send to gets no Host here; sending it says why.
    if let Some(host) = uri(url)
        .ok()
        .and_then(|u| crate::transport::host_header(u.scheme()?, u.authority()?))
    {
        headers.insert(http::header::HOST, host);
    }
    headers.insert(
        http::header::USER_AGENT,
        http::HeaderValue::from_static(crate::transport::USER_AGENT_VALUE),
    );
    // A token with bytes no header can carry is refused by the API as missing.
    if let Ok(mut value) = http::HeaderValue::from_str(authorization) {
        value.set_sensitive(true);
        headers.insert(http::header::AUTHORIZATION, value);
    }
    headers
}

/// A URL as a request URI. `url` serialises every URL it accepts in a form `http` parses, so
/// an error here means a key no URL can carry.
pub fn uri(url: &url::Url) -> Result<http::Uri, Unsendable> {
    Ok(url.as_str().parse()?)
}

/// A unit no request can be built for (a key no URL can carry): the request never leaves,
/// and the attempt is recorded as failed with this reason.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unsendable(#[from] http::uri::InvalidUri);

/// A good answer whose result could not be kept (an access export that could not be saved):
/// the unit stays pending and the run stops, so nothing is recorded as done that was not.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {source}")]
pub struct NotKept {
    pub what: String,
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

impl NotKept {
    pub fn new(
        what: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> NotKept {
        NotKept {
            what: what.into(),
            source: source.into(),
        }
    }
}

/// A list answer: an array, or an object holding exactly one array (`{"data": [...]}`).
pub fn as_list(json: serde_json::Value) -> Option<Vec<serde_json::Value>> {
    match json {
        serde_json::Value::Array(items) => Some(items),
        serde_json::Value::Object(map) => {
            let mut arrays = map.into_iter().filter_map(|(_, v)| match v {
                serde_json::Value::Array(items) => Some(items),
                _ => None,
            });
            let first = arrays.next()?;
            arrays.next().is_none().then_some(first)
        }
        _ => None,
    }
}

pub trait Connector: Send + Sync + 'static {
    /// Stored in the ledger with each unit of work, e.g. `webex`.
    fn name(&self) -> &'static str;

    /// Build the request for one unit (an absolute URL); the engine sends it. An `Err` (a key
    /// no URL can carry) is recorded as a failed attempt that never left.
    fn request(&self, unit: &Unit) -> Result<Request, Unsendable>;

    /// The token this connector sends. An answer may quote it back ("invalid token …"):
    /// [`Connector::scrub`] takes it out of every text that is stored or shown.
    fn token(&self) -> &str;

    /// `text` (an answer's code or description, a transport error) as it may be stored or
    /// shown: without the token, and without any form of `key` — also an Outreach id, which
    /// the report, `lookup` and `status` show masked, so its description must not name it.
    fn scrub(&self, text: &str, key: &str) -> String {
        let text = crate::keys::redact_secret(text, self.token());
        crate::keys::redact(&text, key).into_owned()
    }

    /// Read an answer. Transport failures (timeouts, dropped connections) never get here:
    /// the engine classifies those the same way for every connector.
    fn classify(&self, answer: &Answer<'_>) -> Verdict;

    /// Keep what a successful answer carries, before the unit is recorded as finished: a
    /// connector that reads (an access export) saves its document here, and returns where
    /// (the ledger records it with the unit). The engine calls it for answers classified
    /// [`Outcome::Deleted`](crate::outcome::Outcome::Deleted) or `NotFound` only; an `Err`
    /// leaves the unit pending and stops the run, so nothing is recorded as done that was
    /// not kept. Erasure connectors keep nothing.
    fn on_success(&self, _unit: &Unit, _body: &[u8]) -> Result<Option<String>, NotKept> {
        Ok(None)
    }

    /// What a success is called in progress lines: "deleted" for erasures.
    fn success_word(&self) -> &'static str {
        "deleted"
    }

    /// The largest answer body the engine reads for this connector.
    fn max_body(&self) -> usize {
        crate::transport::MAX_BODY
    }

    /// What the operator should do about a stopped run, in this system's words.
    fn explain_stop(&self, cause: &StopCause) -> String {
        cause.explain().to_owned()
    }
}

/// The systems `forget` can erase from, as `--connector` names them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Kind {
    /// Webex Campaign: delete a profile by key.
    #[default]
    Webex,
    /// Outreach: delete a JSON:API resource by id.
    Outreach,
}

impl Kind {
    pub const ALL: [Kind; 2] = [Kind::Webex, Kind::Outreach];

    /// The name used on the command line and in the ledger.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Webex => "webex",
            Kind::Outreach => "outreach",
        }
    }

    /// A connector for this system's API at `base_url`, sending `token`.
    pub fn connect(
        self,
        base_url: &reqwest::Url,
        token: &crate::secret::Token,
    ) -> crate::error::Result<std::sync::Arc<dyn Connector>> {
        Ok(match self {
            Kind::Webex => std::sync::Arc::new(webex::Webex::new(base_url, token)?),
            Kind::Outreach => std::sync::Arc::new(outreach::Outreach::new(base_url, token)?),
        })
    }

    /// The input column holding the key unless `--key-column` names another.
    pub fn key_column(self) -> &'static str {
        match self {
            Kind::Webex => "key",
            Kind::Outreach => outreach::KEY_COLUMN,
        }
    }

    /// This system's own rule for a key, checked at intake on top of the general ones: a
    /// row whose key breaks it is an invalid row with the rule's reason.
    pub fn key_rule(self) -> fn(&str) -> Result<(), String> {
        match self {
            Kind::Webex => |_| Ok(()),
            Kind::Outreach => outreach::check_id,
        }
    }

    /// Whether input rows carry `profile-name` and `exparamN` columns (Webex). Elsewhere they
    /// are ordinary columns, ignored, and every row takes the default scope.
    pub fn reads_profile_columns(self) -> bool {
        self == Kind::Webex
    }

    /// The environment variable a base URL is read from when `--base-url` is not given. Each
    /// system has its own, so a URL set for one never receives another's token.
    pub fn base_url_env(self) -> &'static str {
        match self {
            Kind::Webex => "FORGET_BASE_URL",
            Kind::Outreach => outreach::BASE_URL_ENV,
        }
    }

    /// The base URL when none is given: a system with one public API has it here; Webex
    /// Campaign has one per tenant.
    pub fn default_base_url(self) -> Option<&'static str> {
        match self {
            Kind::Webex => None,
            Kind::Outreach => Some(outreach::DEFAULT_BASE_URL),
        }
    }

    /// The environment variable the API token is read from.
    pub fn token_env(self) -> &'static str {
        match self {
            Kind::Webex => "WEBEX_CAMPAIGN_TOKEN",
            Kind::Outreach => outreach::TOKEN_ENV,
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Kind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kind::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("`{s}` is not a connector: use webex or outreach"))
    }
}

/// Shorthands for the classification tables of each connector's tests.
#[cfg(test)]
pub(crate) mod verdicts {
    use crate::outcome::{Outcome, StopCause, VerdictKind};

    pub fn final_(o: Outcome) -> VerdictKind {
        VerdictKind::Final(o)
    }

    pub fn retry(throttled: bool, ambiguous: bool) -> VerdictKind {
        VerdictKind::Retry {
            throttled,
            ambiguous,
            retry_after: None,
        }
    }

    pub fn stop(cause: StopCause) -> VerdictKind {
        VerdictKind::Stop(cause)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn lists_are_arrays_or_one_wrapped_array() {
        let case = |json: Value, want: Option<usize>| {
            assert_eq!(as_list(json.clone()).map(|l| l.len()), want, "{json}");
        };
        case(serde_json::json!([1, 2]), Some(2));
        case(serde_json::json!([]), Some(0));
        case(serde_json::json!({"data": [1], "total": 1}), Some(1));
        case(serde_json::json!({"a": [1], "b": [2]}), None);
        case(serde_json::json!({"id": 1}), None);
    }
}
