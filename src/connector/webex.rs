//! Webex Campaign: `POST {base}/campaignapi/resources/v3/delete`.
//!
//! Several failures arrive with HTTP 200, so the body decides; codes come as JSON strings
//! or numbers, and both are accepted.

use http::header::CONTENT_TYPE;
use serde_json::Value;

use super::{Answer, Connector, Request, Unit};
use crate::outcome::{Outcome, StopCause, Verdict, VerdictKind};
use crate::retry_after::retry_after;
use crate::secret::Token;

pub const DELETE_PATH: &str = "/campaignapi/resources/v3/delete";

pub struct Webex {
    url: reqwest::Url,
    uri: http::Uri,
    headers: http::HeaderMap,
    token: Token,
}

impl Webex {
    /// `base` may be given with or without the delete path.
    pub fn new(base: &reqwest::Url, token: &Token) -> crate::error::Result<Self> {
        let base = base.as_str().trim_end_matches('/');
        let base = base.strip_suffix(DELETE_PATH).unwrap_or(base);
        let url = reqwest::Url::parse(&format!("{base}{DELETE_PATH}"))
            .map_err(|e| crate::error::Error::usage(format!("--base-url {base}: {e}")))?;
        let uri = super::uri(&url)
            .map_err(|e| crate::error::Error::usage(format!("--base-url {base}: {e}")))?;
        let headers = super::headers(
            &url,
            &format!("Bearer {}", token.expose()),
            &[(CONTENT_TYPE, "application/json")],
        );
        Ok(Webex {
            url,
            uri,
            headers,
            token: token.clone(),
        })
    }

    pub fn url(&self) -> &reqwest::Url {
        &self.url
    }
}

/// The JSON body: `profile-name` (when there is one), `key`, then the audit fields.
/// Written straight out (one buffer per request, not a JSON tree): every request builds one.
pub fn body(unit: &Unit) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        32 + unit.scope.len()
            + unit.key.len()
            + unit
                .exparams
                .iter()
                .map(|(n, v)| n.len() + v.len() + 6)
                .sum::<usize>(),
    );
    let field = |out: &mut Vec<u8>, name: &str, value: &str| {
        out.push(if out.is_empty() { b'{' } else { b',' });
        // Writing a string into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, name);
        out.push(b':');
        let _ = serde_json::to_writer(&mut *out, value);
    };
    if !unit.scope.is_empty() {
        field(&mut out, "profile-name", &unit.scope);
    }
    field(&mut out, "key", &unit.key);
    for (name, value) in &unit.exparams {
        field(&mut out, name, value);
    }
    out.push(b'}');
    out
}

impl Connector for Webex {
    fn name(&self) -> &'static str {
        "webex"
    }

    fn token(&self) -> &str {
        self.token.expose()
    }

    fn request(&self, unit: &Unit) -> Result<Request, super::Unsendable> {
        Ok(super::request(
            http::Method::POST,
            self.uri.clone(),
            &self.headers,
            body(unit).into(),
        ))
    }

    fn classify(&self, answer: &Answer<'_>) -> Verdict {
        classify(answer)
    }
}

/// A code as the API sent it, string or number, as text.
pub(crate) fn code_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A Webex Campaign answer read the way every endpoint of the API answers: a `code` and a
/// `description` (strings or numbers) in a JSON body, several failures with HTTP 200, and the
/// same run-stopping statuses. Shared by the delete and the read (access) classifiers.
pub(crate) struct WebexAnswer<'a> {
    pub status: u16,
    pub json: Option<Value>,
    pub code: Option<i64>,
    verdict: Verdict,
    answer: &'a Answer<'a>,
}

impl<'a> WebexAnswer<'a> {
    pub fn read(answer: &'a Answer<'a>) -> Self {
        let json: Option<Value> = serde_json::from_slice(answer.body).ok();
        let field = |name: &str| json.as_ref().and_then(|j| j.get(name)).and_then(code_text);
        let code = field("code");
        let description = field("description").or_else(|| field("message"));
        WebexAnswer {
            status: answer.status,
            code: code.as_deref().and_then(|c| c.parse::<i64>().ok()),
            verdict: Verdict::new(VerdictKind::Final(Outcome::Rejected))
                .with_code(code, description),
            json,
            answer,
        }
    }

    pub fn field(&self, name: &str) -> Option<String> {
        self.json
            .as_ref()
            .and_then(|j| j.get(name))
            .and_then(code_text)
    }

    /// A verdict carrying the answer's code and description as sent.
    pub fn verdict(&self, kind: VerdictKind) -> Verdict {
        Verdict {
            kind,
            ..self.verdict.clone()
        }
    }

    pub fn retry(&self, throttled: bool, ambiguous: bool) -> Verdict {
        self.verdict(VerdictKind::Retry {
            throttled,
            ambiguous,
            retry_after: if throttled {
                retry_after(self.answer.headers)
            } else {
                None
            },
        })
    }

    /// Answers after which nothing more should be sent, whatever else the body says.
    pub fn stop(&self) -> Option<Verdict> {
        let cause = match (self.status, self.code) {
            (401, Some(498)) | (_, Some(498)) => StopCause::ExpiredToken,
            (401, _) | (_, Some(430)) => StopCause::BadToken,
            (403, _) => StopCause::Forbidden,
            (404 | 405 | 300..=399, _) => StopCause::WrongUrl,
            _ => return None,
        };
        Some(self.verdict(VerdictKind::Stop(cause)))
    }

    pub fn throttled(&self) -> bool {
        self.status == 429 || self.code == Some(429)
    }

    /// A transaction id (success) in an answer that also says failure — an HTTP status
    /// other than 2xx, or a `code` (which the API sends "in case of failure") — reads as
    /// neither: the delete may have happened, or not. It is retried as ambiguous, so a later
    /// 1020 settles it as not found after an ambiguous attempt, and a later clean
    /// transaction id as deleted; recording it deleted could claim an erasure that failed.
    /// `None` when the answer is a plain success.
    pub fn contradiction(&self, id: &str) -> Option<Verdict> {
        let code = self
            .field("code")
            .filter(|c| !c.is_empty() && c != "0" && c != "200");
        if (200..300).contains(&self.status) && code.is_none() {
            return None;
        }
        let mut v = self.retry(false, true);
        let said = match &code {
            Some(code) => format!("HTTP {}, code {code}", self.status),
            None => format!("HTTP {}", self.status),
        };
        let note = format!("contradictory answer: transaction-id {id} with {said}");
        v.description = Some(match v.description.take() {
            Some(d) => format!("{note}: {d}"),
            None => note,
        });
        Some(v)
    }

    /// Read fine, but says nothing we know: a person must look.
    pub fn unrecognised(&self) -> Verdict {
        let mut v = self.verdict(VerdictKind::Final(Outcome::Rejected));
        if v.description.is_none() {
            v.description = Some(format!("unrecognised answer (HTTP {})", self.status));
        }
        v
    }
}

pub fn classify(answer: &Answer<'_>) -> Verdict {
    match plain_deletion(answer) {
        Some(id) => Verdict {
            transaction_id: Some(id),
            ..Verdict::new(VerdictKind::Final(Outcome::Deleted))
        },
        None => classify_fully(answer),
    }
}

/// The answer to nearly every delete, HTTP 200 with `{"transaction-id": "…"}` and nothing
/// else, read without building a JSON tree (it was the largest part of classifying). Any
/// other answer goes the full way, which reads this one the same (a test checks it).
fn plain_deletion(answer: &Answer<'_>) -> Option<String> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Deleted<'a> {
        #[serde(rename = "transaction-id", borrow)]
        transaction_id: std::borrow::Cow<'a, str>,
    }
    if answer.status != 200 {
        return None;
    }
    let deleted: Deleted<'_> = serde_json::from_slice(answer.body).ok()?;
    let id = deleted.transaction_id.trim();
    (!id.is_empty()).then(|| id.to_owned())
}

fn classify_fully(answer: &Answer<'_>) -> Verdict {
    let a = WebexAnswer::read(answer);
    if let Some(stop) = a.stop() {
        return stop;
    }
    let id = a.field("transaction-id").filter(|id| !id.is_empty());
    if a.throttled() {
        // A throttled answer with a transaction id may have deleted.
        return a.retry(true, id.is_some());
    }
    if let Some(id) = id {
        if let Some(contradiction) = a.contradiction(&id) {
            return contradiction;
        }
        let mut v = a.verdict(VerdictKind::Final(Outcome::Deleted));
        v.transaction_id = Some(id);
        return v;
    }
    match a.code {
        Some(1020) => return a.verdict(VerdictKind::Final(Outcome::NotFound)),
        Some(102) | Some(1001) => return a.verdict(VerdictKind::Final(Outcome::Rejected)),
        // "The request was not processed": nothing was done.
        Some(1010) => return a.retry(false, false),
        // The server failed while handling the request, perhaps after the delete: a later
        // 1020 may mean this attempt erased the key.
        Some(499) | Some(500) => return a.retry(false, true),
        _ => {}
    }
    if a.status == 499 || a.status >= 500 {
        // Server trouble (or a proxy's HTML error page): the request may have been acted on.
        return a.retry(false, true);
    }
    match a.json {
        // A 200 whose body cannot be read may have deleted the key: retry, ambiguously.
        None => a.retry(false, true),
        Some(_) => a.unrecognised(),
    }
}

#[cfg(test)]
mod tests;
