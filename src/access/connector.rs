//! Webex Campaign, last N transactions: `GET {base}{path}?key=..|customer-id=..&count=..`
//! for access exports (see [`crate::access`]).
//!
//! The unit's scope is the query ([`Query::scope`]), its key the subject. A good answer is a
//! list of transactions: the outcome `deleted`, which for this connector means "exported",
//! or, when the list is empty, `not_found`: "no data" (the system holds nothing for the
//! subject and query). Either way the document is saved by [`Connector::on_success`] before
//! the outcome is recorded, and the ledger records its file name.

use http::header::{ACCEPT, CONTENT_TYPE};

use crate::access::{CONNECTOR, Exporter, Query, carries_transactions, transactions_of};
use crate::connector::webex::WebexAnswer;
use crate::connector::{Answer, Connector, Unit};
use crate::outcome::{Outcome, Verdict, VerdictKind};
use crate::secret::Token;

/// Fifty transactions with preview URLs are far below this; a list is never cut short.
const MAX_BODY: usize = 4 * 1024 * 1024;

pub struct WebexAccess {
    url: reqwest::Url,
    headers: http::HeaderMap,
    token: Token,
    exporter: Exporter,
}

impl WebexAccess {
    /// `path` is the API's path on `base` (e.g. `/campaignapi/resources/v3/transactions`).
    pub fn new(
        base: &reqwest::Url,
        path: &str,
        token: &Token,
        exporter: Exporter,
    ) -> crate::error::Result<Self> {
        let url = api_url(base, path)?;
        Ok(WebexAccess {
            headers: crate::connector::headers(
                &url,
                &format!("Bearer {}", token.expose()),
                &[
                    (CONTENT_TYPE, "application/json"),
                    (ACCEPT, "application/json"),
                ],
            ),
            url,
            token: token.clone(),
            exporter,
        })
    }

    pub fn url(&self) -> &reqwest::Url {
        &self.url
    }
}

/// `{base}{path}`, checked.
pub fn api_url(base: &reqwest::Url, path: &str) -> crate::error::Result<reqwest::Url> {
    let base = base.as_str().trim_end_matches('/');
    if !path.starts_with('/') || path.contains(['?', '#']) {
        return Err(crate::error::Error::usage(format!(
            "--path {path}: give a path starting with /, without ?query"
        )));
    }
    reqwest::Url::parse(&format!("{base}{path}"))
        .map_err(|e| crate::error::Error::usage(format!("--path {path}: {e}")))
}

/// Check `--path` alone, before any base URL is known.
pub fn check_path(path: &str) -> crate::error::Result<()> {
    let any = reqwest::Url::parse("https://example.invalid")
        .map_err(|e| crate::error::Error::internal(e.to_string()))?;
    api_url(&any, path).map(|_| ())
}

impl Connector for WebexAccess {
    fn name(&self) -> &'static str {
        CONNECTOR
    }

    fn token(&self) -> &str {
        self.token.expose()
    }

    fn request(
        &self,
        unit: &Unit,
    ) -> Result<crate::connector::Request, crate::connector::Unsendable> {
        // A scope that is not a query cannot come from this tool; ask with the defaults.
        let query = Query::from_scope(&unit.scope).unwrap_or_default();
        let mut url = self.url.clone();
        {
            let mut pairs = url.query_pairs_mut();
            pairs.append_pair(query.subject.param(), &unit.key);
            for (name, value) in query.params() {
                pairs.append_pair(name, &value);
            }
        }
        Ok(crate::connector::request(
            http::Method::GET,
            crate::connector::uri(&url)?,
            &self.headers,
            bytes::Bytes::new(),
        ))
    }

    fn classify(&self, answer: &Answer<'_>) -> Verdict {
        classify(answer)
    }

    /// The document's file name, relative to the export folder: the ledger records it, so
    /// a report maps each request to its document (the name is a keyed hash of the key,
    /// which the ledger no longer holds once the subject is exported).
    fn on_success(
        &self,
        unit: &Unit,
        body: &[u8],
    ) -> Result<Option<String>, crate::connector::NotKept> {
        self.exporter.save(unit, body)?;
        Ok(Some(self.exporter.file_name(unit)))
    }

    fn success_word(&self) -> &'static str {
        "exported"
    }

    fn max_body(&self) -> usize {
        MAX_BODY
    }
}

pub fn classify(answer: &Answer<'_>) -> Verdict {
    let a = WebexAnswer::read(answer);
    if let Some(stop) = a.stop() {
        return stop;
    }
    // A read changes nothing on the server, so no retry here is ever ambiguous.
    if a.throttled() {
        return a.retry(true, false);
    }
    match a.code {
        // 1002: neither key nor customer id; 1001: the API could not read the request.
        Some(1002) | Some(1001) => return a.verdict(VerdictKind::Final(Outcome::Rejected)),
        Some(1010) | Some(499) | Some(500) => return a.retry(false, false),
        _ => {}
    }
    if a.status == 499 || a.status >= 500 {
        return a.retry(false, false);
    }
    match &a.json {
        None => a.retry(false, false),
        Some(json) if (200..300).contains(&a.status) && carries_transactions(json) => {
            // Error fields may sit on a list's items (each transaction has a code): the
            // export keeps them; the unit records none.
            let none = transactions_of(json.clone()).is_none_or(|t| t.is_empty());
            Verdict::new(VerdictKind::Final(if none {
                Outcome::NotFound
            } else {
                Outcome::Deleted
            }))
        }
        // Transactions under a failure status say both: neither an export nor a refusal.
        // A read changes nothing, so asking again is safe; if it keeps answering so, the
        // subject ends failed (not exported), and the next run asks again.
        Some(json) if carries_transactions(json) => {
            let mut v = a.retry(false, false);
            let note = format!("contradictory answer: transactions with HTTP {}", a.status);
            v.description = Some(match v.description.take() {
                Some(d) => format!("{note}: {d}"),
                None => note,
            });
            v
        }
        Some(_) => a.unrecognised(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::StopCause;
    use reqwest::header::HeaderMap;

    #[test]
    fn classification_table() {
        let none = HeaderMap::new();
        let case = |status: u16, body: &str, want: VerdictKind| {
            let v = classify(&Answer {
                status,
                headers: &none,
                body: body.as_bytes(),
            });
            assert_eq!(v.kind, want, "HTTP {status} {body}");
        };
        let exported = VerdictKind::Final(Outcome::Deleted);
        let no_data = VerdictKind::Final(Outcome::NotFound);
        let rejected = VerdictKind::Final(Outcome::Rejected);
        let retry = |throttled| VerdictKind::Retry {
            throttled,
            ambiguous: false,
            retry_after: None,
        };
        case(200, "[]", no_data.clone());
        case(
            200,
            r#"[{"transaction-id":"1","code":"200"}]"#,
            exported.clone(),
        );
        case(200, r#"{"data":[]}"#, no_data);
        case(200, r#"{"transaction-id":"1"}"#, exported);
        case(
            200,
            r#"{"code":"1002","description":"Mandatory field missing"}"#,
            rejected.clone(),
        );
        case(500, r#"{"code":"1001"}"#, rejected.clone());
        case(200, r#"{"code":"7777"}"#, rejected.clone());
        // Transactions under a failure status: read again (a read is safe to repeat).
        case(400, r#"[{"transaction-id":"1"}]"#, retry(false));
        case(422, r#"{"data":[]}"#, retry(false));
        case(400, r#"{"code":"400","description":"bad"}"#, rejected);
        case(200, r#"{"code":"1010"}"#, retry(false));
        case(499, r#"{"code":499}"#, retry(false));
        case(500, r#"{"code":500}"#, retry(false));
        case(502, "<html>bad gateway</html>", retry(false));
        case(200, "[{\"trans", retry(false));
        case(429, "", retry(true));
        case(
            401,
            r#"{"code":430}"#,
            VerdictKind::Stop(StopCause::BadToken),
        );
        case(
            401,
            r#"{"code":"498"}"#,
            VerdictKind::Stop(StopCause::ExpiredToken),
        );
        case(404, "", VerdictKind::Stop(StopCause::WrongUrl));
        case(
            405,
            r#"{"code":405}"#,
            VerdictKind::Stop(StopCause::WrongUrl),
        );
    }

    #[test]
    fn paths_are_checked() {
        let base = reqwest::Url::parse("https://acme.example.com/").ok();
        let Some(base) = base else { return };
        assert_eq!(
            api_url(&base, "/campaignapi/resources/v3/transactions")
                .map(|u| u.to_string())
                .ok()
                .as_deref(),
            Some("https://acme.example.com/campaignapi/resources/v3/transactions")
        );
        assert!(api_url(&base, "transactions").is_err());
        assert!(api_url(&base, "/t?x=1").is_err());
    }
}
