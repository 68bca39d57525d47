//! Per-request logic: decides what the simulator answers.

use std::borrow::Cow;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName, HeaderValue, RETRY_AFTER};
use hyper::{Method, Request, Response, StatusCode};
use serde::Deserialize;

use super::fault::Fault;
use super::hub;
use super::state::{Auth, DeleteOutcome, Sim};
use super::{DELETE_PATH, RetryAfter, STATS_PATH, outreach};

/// Largest request body read; larger bodies are answered 1001.
pub(crate) const MAX_BODY: usize = 64 * 1024;

pub(super) const JSON: &str = "application/json";

pub(super) const NOT_FOUND_404: &str = r#"{"code":404,"description":"Not found"}"#;
pub(super) const METHOD_405: &str = r#"{"code":405,"description":"Method not supported"}"#;
pub(super) const AUTH_430: &str = r#"{"code":430,"description":"Authorization failed. This resource is not allowed to access using this TOKEN or KEY"}"#;
pub(super) const EXPIRED_498: &str =
    r#"{"code":498,"description":"Invalid token or Access token expired"}"#;
const THROTTLED_429: &str = r#"{"code":429,"description":"Too many requests. Throttle limit reached for the time window."}"#;
const FAILED_499: &str = r#"{"code":499,"description":"Request failed. Check the exact reason of failure in application code and description of error stream."}"#;
const INTERNAL_500: &str = r#"{"code":500,"description":"Internal server error"}"#;
pub(super) const BAD_JSON_1001: &str = r#"{"code":"1001","description":"Invalid input JSON"}"#;
const NOT_PROCESSED_1010: &str =
    r#"{"code":"1010","description":"The request was not processed."}"#;
const NO_PROFILE_102: &str = r#"{"code":"102","description":"Invalid profile id"}"#;
const NOT_FOUND_1020: &str = r#"{"code":"1020","description":"Contact profile not found"}"#;
const TRUNCATED: &str = r#"{"transaction-id":""#;
const HTML_502: &str = "<html><body><h1>502 Bad Gateway</h1></body></html>";

/// A response body held entirely in memory.
#[derive(Debug, Default)]
pub(crate) struct Full(Option<Bytes>);

impl Full {
    fn new(bytes: Bytes) -> Full {
        Full(Some(bytes).filter(|b| !b.is_empty()))
    }
}

impl Body for Full {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.0.take().map(|b| Ok(Frame::data(b))))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.0.as_ref().map_or(0, |b| b.len() as u64))
    }
}

/// What to do with a request.
pub(crate) enum Action {
    Respond(Response<Full>),
    /// Close the connection without answering.
    Drop,
    /// Never answer.
    Hang,
}

pub(super) fn respond(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Action {
    let mut resp = Response::new(Full::new(body.into()));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    Action::Respond(resp)
}

pub(super) fn json(status: StatusCode, body: &'static str) -> Action {
    respond(status, JSON, body)
}

pub(super) fn count(counter: &AtomicU64) {
    counter.fetch_add(1, Relaxed);
}

/// A 429 answer carrying `Retry-After` as configured.
pub(super) fn too_many(retry_after: RetryAfter) -> Action {
    with_retry_after(
        json(StatusCode::TOO_MANY_REQUESTS, THROTTLED_429),
        retry_after,
    )
}

/// Add the configured throttling header to an answer.
pub(super) fn with_retry_after(mut action: Action, retry_after: RetryAfter) -> Action {
    let header = match retry_after {
        RetryAfter::None => None,
        RetryAfter::Seconds(secs) => Some((RETRY_AFTER, HeaderValue::from(secs))),
        RetryAfter::HttpDate(secs) => {
            let when = SystemTime::now() + Duration::from_secs(secs);
            HeaderValue::try_from(httpdate::fmt_http_date(when))
                .ok()
                .map(|v| (RETRY_AFTER, v))
        }
        RetryAfter::ResetAt(secs) => {
            let when = SystemTime::now() + Duration::from_secs(secs);
            let epoch = when
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or_default();
            Some((
                HeaderName::from_static("x-ratelimit-reset"),
                HeaderValue::from(epoch),
            ))
        }
    };
    if let (Action::Respond(resp), Some((name, value))) = (&mut action, header) {
        resp.headers_mut().insert(name, value);
    }
    action
}

pub(super) fn fault_action(fault: Fault, retry_after: RetryAfter) -> Action {
    match fault {
        Fault::Http500 => json(StatusCode::INTERNAL_SERVER_ERROR, INTERNAL_500),
        Fault::Code1010 => json(StatusCode::OK, NOT_PROCESSED_1010),
        Fault::Code429 => too_many(retry_after),
        Fault::Code499 => json(
            StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
            FAILED_499,
        ),
        Fault::Drop => Action::Drop,
        Fault::Slow => Action::Hang,
        Fault::Truncated => json(StatusCode::OK, TRUNCATED),
        Fault::Empty => json(StatusCode::OK, ""),
        Fault::NotJson => respond(StatusCode::OK, "text/plain", "OK"),
        Fault::Html502 => respond(StatusCode::BAD_GATEWAY, "text/html", HTML_502),
    }
}

/// The fields of a delete request. Unknown fields are ignored; the known ones
/// must be strings (or null).
#[derive(Deserialize)]
struct DeleteBody<'a> {
    #[serde(rename = "profile-name", borrow, default)]
    profile_name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    key: Option<Cow<'a, str>>,
    #[serde(rename = "exparam1", borrow, default)]
    _exparam1: Option<Cow<'a, str>>,
    #[serde(rename = "exparam2", borrow, default)]
    _exparam2: Option<Cow<'a, str>>,
    #[serde(rename = "exparam3", borrow, default)]
    _exparam3: Option<Cow<'a, str>>,
    #[serde(rename = "exparam4", borrow, default)]
    _exparam4: Option<Cow<'a, str>>,
    #[serde(rename = "exparam5", borrow, default)]
    _exparam5: Option<Cow<'a, str>>,
    #[serde(rename = "exparam6", borrow, default)]
    _exparam6: Option<Cow<'a, str>>,
    #[serde(rename = "exparam7", borrow, default)]
    _exparam7: Option<Cow<'a, str>>,
    #[serde(rename = "exparam8", borrow, default)]
    _exparam8: Option<Cow<'a, str>>,
    #[serde(rename = "exparam9", borrow, default)]
    _exparam9: Option<Cow<'a, str>>,
    #[serde(rename = "exparam10", borrow, default)]
    _exparam10: Option<Cow<'a, str>>,
}

/// Parses a delete body; `None` means "Invalid input JSON".
fn parse_body(body: &[u8]) -> Option<DeleteBody<'_>> {
    // Only a JSON object is acceptable (serde would also take an array).
    if body.trim_ascii_start().first() != Some(&b'{') {
        return None;
    }
    let parsed: DeleteBody<'_> = serde_json::from_slice(body).ok()?;
    let has_key = parsed.key.as_deref().is_some_and(|k| !k.trim().is_empty());
    has_key.then_some(parsed)
}

pub(super) enum ReadError {
    TooLarge,
    /// The client went away.
    Io,
}

pub(super) async fn read_body(mut body: Incoming) -> Result<Vec<u8>, ReadError> {
    if body.size_hint().lower() > MAX_BODY as u64 {
        return Err(ReadError::TooLarge);
    }
    let mut buf = Vec::new();
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let frame = frame.map_err(|_| ReadError::Io)?;
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > MAX_BODY {
                return Err(ReadError::TooLarge);
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(buf)
}

/// The token of an `Authorization: Bearer <token>` header.
pub(super) fn bearer(header: Option<&HeaderValue>) -> Option<&[u8]> {
    let value = header?.as_bytes();
    let scheme = value.get(..7)?;
    scheme
        .eq_ignore_ascii_case(b"bearer ")
        .then(|| value[7..].trim_ascii())
}

/// Handles one request, including the configured latency.
pub(crate) async fn handle(sim: &Sim, req: Request<Incoming>) -> Action {
    let action = decide(sim, req).await;
    if !sim.latency.is_zero() {
        tokio::time::sleep(sim.latency).await;
    }
    action
}

async fn decide(sim: &Sim, req: Request<Incoming>) -> Action {
    let c = &sim.counters;
    let path = req.uri().path();
    if path == STATS_PATH {
        if req.method() != Method::GET {
            return json(StatusCode::METHOD_NOT_ALLOWED, METHOD_405);
        }
        return match serde_json::to_vec(&sim.stats()) {
            Ok(body) => respond(StatusCode::OK, JSON, body),
            Err(_) => json(StatusCode::INTERNAL_SERVER_ERROR, INTERNAL_500),
        };
    }
    count(&c.requests);
    if path.starts_with(outreach::PREFIX) {
        return outreach::handle(sim, req).await;
    }
    if let Some(route) = hub::route(path) {
        return hub::decide(sim, route, req).await;
    }
    if path != DELETE_PATH {
        count(&c.rejected);
        return json(StatusCode::NOT_FOUND, NOT_FOUND_404);
    }
    if req.method() != Method::POST {
        count(&c.rejected);
        return json(StatusCode::METHOD_NOT_ALLOWED, METHOD_405);
    }
    // Read the whole body first so that keep-alive connections stay usable
    // whatever the answer is.
    let (parts, body) = req.into_parts();
    let body = match read_body(body).await {
        Ok(body) => Some(body),
        Err(ReadError::TooLarge) => None,
        Err(ReadError::Io) => return Action::Drop,
    };
    if let Some(body) = body.as_deref().filter(|_| sim.records_bodies()) {
        let value = serde_json::from_slice(body).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(body).into_owned())
        });
        sim.record(value);
    }

    match sim.authorize(bearer(parts.headers.get(AUTHORIZATION))) {
        Auth::Ok => {}
        Auth::Bad => {
            count(&c.unauthorized);
            return json(StatusCode::UNAUTHORIZED, AUTH_430);
        }
        Auth::Expired => {
            count(&c.unauthorized);
            return json(StatusCode::UNAUTHORIZED, EXPIRED_498);
        }
    }
    if !sim.admit() {
        count(&c.throttled);
        return too_many(sim.retry_after);
    }
    if let Some(fault) = sim.draw_fault() {
        count(&c.faults);
        return fault_action(fault, sim.retry_after);
    }
    let Some(parsed) = body.as_deref().and_then(parse_body) else {
        count(&c.rejected);
        return json(StatusCode::INTERNAL_SERVER_ERROR, BAD_JSON_1001);
    };
    let key = parsed.key.as_deref().unwrap_or_default();
    match sim.delete(parsed.profile_name.as_deref(), key) {
        DeleteOutcome::Deleted(txn) => {
            count(&c.deleted);
            respond(
                StatusCode::OK,
                JSON,
                format!(r#"{{"transaction-id":"sim-{txn}"}}"#),
            )
        }
        DeleteOutcome::NotFound => {
            count(&c.not_found);
            json(StatusCode::OK, NOT_FOUND_1020)
        }
        DeleteOutcome::UnknownProfile => {
            count(&c.rejected);
            json(StatusCode::OK, NO_PROFILE_102)
        }
    }
}
