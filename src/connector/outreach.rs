//! Outreach: `DELETE {base}/{resource}/{id}` on its JSON:API (`application/vnd.api+json`),
//! and the collection pages `forget list` reads.
//!
//! A 404 counts as "not found" only when it carries a JSON:API error document: a bare or
//! HTML 404 means the URL is wrong, and reading it as "not found" would mark every id of the
//! run erased when nothing was.

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{RequestBuilder, Url};
use serde_json::{Map, Value};

use super::{Answer, Connector, Unit};
use crate::error::{Error, Result};
use crate::outcome::{Outcome, StopCause, Verdict, VerdictKind};
use crate::retry_after::throttle_delay;
use crate::secret::Token;

pub const DEFAULT_BASE_URL: &str = "https://api.outreach.io/api/v2";
pub const TOKEN_ENV: &str = "OUTREACH_TOKEN";
pub const BASE_URL_ENV: &str = "OUTREACH_BASE_URL";
pub const JSON_API: &str = "application/vnd.api+json";
/// The collection the Outreach document describes.
pub const DEFAULT_RESOURCE: &str = "callPurposes";
/// Outreach pages collections 50 records at a time unless asked otherwise.
pub const PAGE_SIZE: u32 = 50;
/// The largest `page[size]` Outreach accepts.
pub const MAX_PAGE_SIZE: u32 = 1000;
/// Error titles and details are kept up to this many characters each.
const MAX_TEXT: usize = 500;

pub struct Outreach {
    base: Url,
    token: Token,
    authorization: String,
    delete_headers: http::HeaderMap,
}

impl Outreach {
    /// `base` is the API root, e.g. `https://api.outreach.io/api/v2` (a trailing `/` is fine).
    pub fn new(base: &Url, token: &Token) -> Result<Self> {
        if base.cannot_be_a_base() {
            return Err(Error::usage(format!(
                "--base-url {base}: not an http(s) URL"
            )));
        }
        let authorization = format!("Bearer {}", token.expose());
        let delete_headers = super::headers(
            base,
            &authorization,
            &[(ACCEPT, JSON_API), (CONTENT_TYPE, JSON_API)],
        );
        Ok(Outreach {
            base: base.clone(),
            token: token.clone(),
            authorization,
            delete_headers,
        })
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// `{base}/{resource}/{id}`; each part is percent-encoded as one path segment.
    pub fn item_url(&self, resource: &str, id: &str) -> Url {
        self.url(&[resource, id])
    }

    /// The first page of a collection: `{base}/{resource}?page[size]=N`.
    pub fn collection_url(&self, resource: &str, page_size: u32) -> Url {
        let mut url = self.url(&[resource]);
        url.query_pairs_mut()
            .append_pair("page[size]", &page_size.to_string());
        url
    }

    /// Whether `url` may be sent the token: same scheme, host and port as the base URL.
    pub fn same_origin(&self, url: &Url) -> bool {
        url.origin() == self.base.origin()
    }

    /// A GET with the token: only for URLs on the base URL's origin (see [`Self::same_origin`]).
    pub fn get(&self, client: &reqwest::Client, url: Url) -> RequestBuilder {
        client
            .get(url)
            .header(ACCEPT, JSON_API)
            .header(AUTHORIZATION, &self.authorization)
    }
}

impl Connector for Outreach {
    fn name(&self) -> &'static str {
        "outreach"
    }

    fn token(&self) -> &str {
        self.token.expose()
    }

    fn request(&self, unit: &Unit) -> std::result::Result<super::Request, super::Unsendable> {
        Ok(super::request(
            http::Method::DELETE,
            super::uri(&self.item_url(&unit.scope, &unit.key))?,
            &self.delete_headers,
            bytes::Bytes::new(),
        ))
    }

    fn classify(&self, answer: &Answer<'_>) -> Verdict {
        classify(answer)
    }

    fn explain_stop(&self, cause: &StopCause) -> String {
        explain_stop(cause)
    }
}

/// What to do about a stopped run or listing, in Outreach's words.
pub fn explain_stop(cause: &StopCause) -> String {
    match cause {
        StopCause::BadToken | StopCause::ExpiredToken => format!(
            "Outreach refused the token (401): set a fresh {TOKEN_ENV} or --token-file \
             (access tokens are short-lived) and run again to resume"
        ),
        StopCause::Forbidden => "the token may not do this to the resource (403): its OAuth \
             scopes must include the resource's read or delete (or .all) scope"
            .to_owned(),
        StopCause::WrongUrl => "the API answered 404 without a JSON:API error document, 405 \
             or a redirect: check --base-url and --resource"
            .to_owned(),
        StopCause::Unreachable => cause.explain().to_owned(),
    }
}

/// `--resource`: a JSON:API collection name such as `callPurposes` or `prospects`.
pub fn check_resource(name: &str) -> std::result::Result<(), String> {
    let ok = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "--resource {name:?}: give a JSON:API collection name of letters and digits, \
             e.g. callPurposes or prospects (no slashes, no query)"
        ))
    }
}

/// The input column holding the record ids.
pub const KEY_COLUMN: &str = "id";

/// An Outreach id: a positive integer, written plainly (so `7` and `007` are not two units).
pub fn check_id(key: &str) -> std::result::Result<(), String> {
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_digit()) {
        return Err("id is not an integer".to_owned());
    }
    if key.starts_with('0') {
        return Err(if key.bytes().all(|b| b == b'0') {
            "id 0 is not a record id".to_owned()
        } else {
            "id has leading zeros: write it without them".to_owned()
        });
    }
    if key.parse::<i64>().is_err() {
        return Err("id is too large".to_owned());
    }
    Ok(())
}

fn text(v: &Value) -> Option<String> {
    let s = match v {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => items.iter().filter_map(text).collect::<Vec<_>>().join("; "),
        _ => return None,
    };
    (!s.is_empty()).then(|| s.chars().take(MAX_TEXT).collect())
}

/// The titles and details of a JSON:API error document (`{"errors":[{...}]}`), joined with
/// `; ` when there are several. `None` when the body is not such a document.
pub fn error_document(body: &[u8]) -> Option<(Option<String>, Option<String>)> {
    let doc: Map<String, Value> = serde_json::from_slice(body).ok()?;
    let errors = doc.get("errors")?.as_array()?;
    let mut titles = Vec::new();
    let mut details = Vec::new();
    for e in errors.iter().filter_map(Value::as_object) {
        let field = |name: &str| e.get(name).and_then(text);
        if let Some(t) = field("title")
            .or_else(|| field("code"))
            .or_else(|| field("id"))
        {
            titles.push(t);
        }
        if let Some(d) = field("detail").or_else(|| field("details")) {
            details.push(d);
        }
    }
    let join = |v: Vec<String>| (!v.is_empty()).then(|| v.join("; "));
    Some((join(titles), join(details)))
}

pub fn classify(answer: &Answer<'_>) -> Verdict {
    let status = answer.status;
    let doc = error_document(answer.body);
    let (code, description) = doc.clone().unwrap_or_default();
    let with = |kind: VerdictKind| Verdict::new(kind).with_code(code.clone(), description.clone());
    let retry = |throttled: bool, ambiguous: bool| {
        with(VerdictKind::Retry {
            throttled,
            ambiguous,
            retry_after: if throttled {
                throttle_delay(answer.headers)
            } else {
                None
            },
        })
    };
    let body_is_json =
        answer.body.trim_ascii().is_empty() || serde_json::from_slice::<Value>(answer.body).is_ok();
    match status {
        // A success status with an error document says both: the delete may have happened
        // or not. Retried as ambiguous, so a later 404 settles it as not found after an
        // ambiguous attempt; recording it deleted could claim an erasure that failed.
        200..=299 if doc.is_some() => {
            let mut v = retry(false, true);
            let note = format!("contradictory answer: HTTP {status} with an error document");
            v.description = Some(match v.description.take() {
                Some(d) => format!("{note}: {d}"),
                None => note,
            });
            v
        }
        204 => with(VerdictKind::Final(Outcome::Deleted)),
        // JSON:API allows 200 with a meta document; an HTML 200 is not a deletion.
        200 if body_is_json => with(VerdictKind::Final(Outcome::Deleted)),
        401 => with(VerdictKind::Stop(StopCause::BadToken)),
        403 => with(VerdictKind::Stop(StopCause::Forbidden)),
        404 if doc.is_some() => with(VerdictKind::Final(Outcome::NotFound)),
        410 => with(VerdictKind::Final(Outcome::NotFound)),
        300..=399 | 404 | 405 => with(VerdictKind::Stop(StopCause::WrongUrl)),
        429 => retry(true, false),
        // The server timed out waiting for our request: it never acted on it.
        408 => retry(false, false),
        // The server (or a gateway) failed: the delete may or may not have happened.
        500..=599 => retry(false, true),
        _ => {
            let mut v = with(VerdictKind::Final(Outcome::Rejected));
            if v.description.is_none() {
                v.description = Some(if status == 422 {
                    "unprocessable (HTTP 422) without a JSON:API error document".to_owned()
                } else {
                    format!("unrecognised answer (HTTP {status})")
                });
            }
            v
        }
    }
}

/// One record of a collection page: its id and attributes as sent.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub id: String,
    pub attributes: Map<String, Value>,
}

/// One page of a JSON:API collection.
#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    pub records: Vec<Record>,
    /// `links.next`, as sent (absolute or relative); `None` on the last page.
    pub next: Option<String>,
}

/// Read a collection page. Ids may come as strings (the JSON:API spec) or numbers (Outreach);
/// `links.next` as a string or a link object with `href`.
pub fn parse_page(body: &[u8]) -> std::result::Result<Page, String> {
    let doc: Map<String, Value> =
        serde_json::from_slice(body).map_err(|e| format!("not a JSON object: {e}"))?;
    let data = doc
        .get("data")
        .and_then(Value::as_array)
        .ok_or("no `data` array: not a JSON:API collection document")?;
    let mut records = Vec::with_capacity(data.len());
    for (i, item) in data.iter().enumerate() {
        let id = match item.get("id") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_owned(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err(format!("record {} of the page has no id", i + 1)),
        };
        let attributes = match item.get("attributes") {
            Some(Value::Object(map)) => map.clone(),
            _ => Map::new(),
        };
        records.push(Record { id, attributes });
    }
    let next = match doc.get("links").and_then(|l| l.get("next")) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Some(Value::Object(link)) => link
            .get("href")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from),
        _ => None,
    };
    Ok(Page { records, next })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::verdicts::{final_, retry, stop};
    use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};
    use std::time::Duration;

    fn verdict(status: u16, body: &str, headers: &HeaderMap) -> Verdict {
        classify(&Answer {
            status,
            headers,
            body: body.as_bytes(),
        })
    }

    const NOT_FOUND: &str = r#"{"errors":[{"id":"resourceNotFound","title":"Resource Not Found","detail":"Could not find 'callPurpose' with ID '7'."}]}"#;
    const UNPROCESSABLE: &str = r#"{"errors":[{"id":"validationError","title":"Validation Error","detail":"Call purpose is in use."}]}"#;

    #[test]
    fn classification_table() {
        let none = HeaderMap::new();
        let case = |status: u16, body: &str, want: VerdictKind| {
            assert_eq!(
                verdict(status, body, &none).kind,
                want,
                "HTTP {status} {body}"
            );
        };
        case(204, "", final_(Outcome::Deleted));
        case(200, "", final_(Outcome::Deleted));
        case(
            200,
            r#"{"meta":{"deleted":true}}"#,
            final_(Outcome::Deleted),
        );
        case(200, "<html>welcome</html>", final_(Outcome::Rejected));
        // A success status with an error document: it may have deleted, or not.
        case(200, UNPROCESSABLE, retry(false, true));
        case(204, UNPROCESSABLE, retry(false, true));
        case(202, NOT_FOUND, retry(false, true));
        case(202, "", final_(Outcome::Rejected));
        case(404, NOT_FOUND, final_(Outcome::NotFound));
        case(404, r#"{"errors":[]}"#, final_(Outcome::NotFound));
        case(410, "", final_(Outcome::NotFound));
        case(422, UNPROCESSABLE, final_(Outcome::Rejected));
        case(422, "", final_(Outcome::Rejected));
        case(
            400,
            r#"{"errors":[{"title":"Bad"}]}"#,
            final_(Outcome::Rejected),
        );
        case(409, "", final_(Outcome::Rejected));
        case(429, "", retry(true, false));
        case(
            429,
            r#"{"errors":[{"title":"Rate Limit"}]}"#,
            retry(true, false),
        );
        case(408, "", retry(false, false));
        case(
            500,
            r#"{"errors":[{"title":"Internal"}]}"#,
            retry(false, true),
        );
        case(502, "<html>Bad Gateway</html>", retry(false, true));
        case(503, "", retry(false, true));
        case(504, "", retry(false, true));
        case(
            401,
            r#"{"errors":[{"title":"Unauthorized"}]}"#,
            stop(StopCause::BadToken),
        );
        case(401, "", stop(StopCause::BadToken));
        case(403, "", stop(StopCause::Forbidden));
        case(404, "", stop(StopCause::WrongUrl));
        case(404, "<html>Not Found</html>", stop(StopCause::WrongUrl));
        case(
            404,
            r#"{"code":404,"description":"Not found"}"#,
            stop(StopCause::WrongUrl),
        );
        case(405, "", stop(StopCause::WrongUrl));
        case(301, "", stop(StopCause::WrongUrl));
    }

    #[test]
    fn error_documents_are_recorded_as_title_and_detail() {
        let none = HeaderMap::new();
        let case = |body: &str, code: Option<&str>, description: Option<&str>| {
            let v = verdict(422, body, &none);
            assert_eq!(
                (v.code.as_deref(), v.description.as_deref()),
                (code, description),
                "{body}"
            );
        };
        case(
            UNPROCESSABLE,
            Some("Validation Error"),
            Some("Call purpose is in use."),
        );
        case(
            r#"{"errors":[{"title":"A","details":["x","y"]},{"title":"B","detail":"z"}]}"#,
            Some("A; B"),
            Some("x; y; z"),
        );
        case(
            r#"{"errors":[{"id":"locked","details":"in use"}]}"#,
            Some("locked"),
            Some("in use"),
        );
        case(
            "",
            None,
            Some("unprocessable (HTTP 422) without a JSON:API error document"),
        );
        let long = format!(
            r#"{{"errors":[{{"title":"T","detail":"{}"}}]}}"#,
            "d".repeat(900)
        );
        assert_eq!(
            verdict(422, &long, &none).description.map(|d| d.len()),
            Some(MAX_TEXT)
        );
    }

    #[test]
    fn throttling_honours_retry_after_and_reset_headers() {
        let case = |name: &'static str, value: String, want: Duration| {
            let mut headers = HeaderMap::new();
            headers.insert(
                name,
                HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("")),
            );
            let v = verdict(429, "", &headers);
            let VerdictKind::Retry {
                retry_after: Some(got),
                throttled: true,
                ..
            } = v.kind
            else {
                panic!("{name}: {value}: {v:?}");
            };
            assert!(
                got <= want && got + Duration::from_secs(2) >= want,
                "{name}: {value}: {got:?}"
            );
        };
        case(RETRY_AFTER.as_str(), "4".into(), Duration::from_secs(4));
        case("x-ratelimit-reset", "3".into(), Duration::from_secs(3));
        let in_ten = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() + 10)
            .unwrap_or_default();
        case(
            "x-ratelimit-reset",
            in_ten.to_string(),
            Duration::from_secs(10),
        );
        case("ratelimit-reset", "2".into(), Duration::from_secs(2));
    }

    #[test]
    fn ids_and_resources() {
        let id = |key: &str, ok: bool| assert_eq!(check_id(key).is_ok(), ok, "{key}");
        id("1", true);
        id("123456789", true);
        id("9223372036854775807", true);
        id("9223372036854775808", false);
        id("0", false);
        id("007", false);
        id("-1", false);
        id("+1", false);
        id("1.0", false);
        id("abc", false);
        id("1e3", false);
        let resource =
            |name: &str, ok: bool| assert_eq!(check_resource(name).is_ok(), ok, "{name}");
        resource("callPurposes", true);
        resource("prospects", true);
        resource("v2things", true);
        resource("2things", false);
        resource("call/Purposes", false);
        resource("../users", false);
        resource("callPurposes?x=1", false);
        resource("", false);
        resource("call_purposes", false);
    }

    #[test]
    fn urls_keep_the_base_path_and_encode_segments() -> Result<()> {
        let base = Url::parse("https://api.outreach.io/api/v2/")
            .map_err(|e| Error::usage(e.to_string()))?;
        let o = Outreach::new(&base, &Token::new("t"))?;
        assert_eq!(
            o.item_url("callPurposes", "7").as_str(),
            "https://api.outreach.io/api/v2/callPurposes/7"
        );
        assert_eq!(
            o.collection_url("prospects", 50).as_str(),
            "https://api.outreach.io/api/v2/prospects?page%5Bsize%5D=50"
        );
        assert_eq!(
            o.item_url("a/b", "1").as_str(),
            "https://api.outreach.io/api/v2/a%2Fb/1"
        );
        let same = |s: &str| Url::parse(s).map(|u| o.same_origin(&u)).unwrap_or(false);
        assert!(same(
            "https://api.outreach.io/api/v2/callPurposes?page%5Bafter%5D=9"
        ));
        assert!(!same("https://evil.example/api/v2/callPurposes"));
        assert!(!same("http://api.outreach.io/api/v2/callPurposes"));
        assert!(!same("https://api.outreach.io:8443/api/v2/callPurposes"));
        Ok(())
    }

    #[test]
    fn pages_are_read_liberally() {
        let page = parse_page(
            br#"{"data":[{"type":"callPurpose","id":1,"attributes":{"name":"Intro","order":1}},
                          {"type":"callPurpose","id":"2"}],
                 "links":{"next":"https://api.outreach.io/api/v2/callPurposes?page%5Bafter%5D=2"}}"#,
        );
        let page = match page {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(
            page.records
                .iter()
                .map(|r| r.id.as_str())
                .collect::<Vec<_>>(),
            ["1", "2"]
        );
        assert_eq!(page.records[0].attributes["name"], "Intro");
        assert!(page.records[1].attributes.is_empty());
        assert!(page.next.is_some());
        let last = parse_page(br#"{"data":[],"links":{"next":null}}"#);
        assert_eq!(last.map(|p| p.next), Ok(None));
        let href = parse_page(br#"{"data":[],"links":{"next":{"href":"/x"}}}"#);
        assert_eq!(href.map(|p| p.next), Ok(Some("/x".to_owned())));
        assert!(parse_page(b"{}").is_err());
        assert!(parse_page(br#"{"data":[{"attributes":{}}]}"#).is_err());
        assert!(parse_page(b"<html>").is_err());
    }
}
