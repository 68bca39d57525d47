//! The answers the simulator builds, and the reading of requests every endpoint shares:
//! the Webex answer bodies (as the delete document lists them), response bodies, the
//! `Retry-After` styles, body and bearer-token reading. The router ([`crate::handler`]) and
//! the endpoint modules use these; this module uses none of them.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use hyper::header::{CONTENT_TYPE, HeaderName, HeaderValue, RETRY_AFTER};
use hyper::{Response, StatusCode};

use crate::fault::Fault;
use crate::limiter::whole_seconds;
use crate::{RetryAfter, RetryAfterStyle};

/// Largest request body read; larger bodies are answered 1001.
pub(crate) const MAX_BODY: usize = 64 * 1024;

pub(crate) const JSON: &str = "application/json";

pub(crate) const NOT_FOUND_404: &str = r#"{"code":404,"description":"Not found"}"#;
pub(crate) const METHOD_405: &str = r#"{"code":405,"description":"Method not supported"}"#;
pub(crate) const AUTH_430: &str = r#"{"code":430,"description":"Authorization failed. This resource is not allowed to access using this TOKEN or KEY"}"#;
pub(crate) const EXPIRED_498: &str =
    r#"{"code":498,"description":"Invalid token or Access token expired"}"#;
pub(crate) const THROTTLED_429: &str = r#"{"code":429,"description":"Too many requests. Throttle limit reached for the time window."}"#;
pub(crate) const FAILED_499: &str = r#"{"code":499,"description":"Request failed. Check the exact reason of failure in application code and description of error stream."}"#;
pub(crate) const INTERNAL_500: &str = r#"{"code":500,"description":"Internal server error"}"#;
pub(crate) const BAD_JSON_1001: &str = r#"{"code":"1001","description":"Invalid input JSON"}"#;
pub(crate) const NOT_PROCESSED_1010: &str =
    r#"{"code":"1010","description":"The request was not processed."}"#;
pub(crate) const NO_PROFILE_102: &str = r#"{"code":"102","description":"Invalid profile id"}"#;
pub(crate) const NOT_FOUND_1020: &str =
    r#"{"code":"1020","description":"Contact profile not found"}"#;
pub(crate) const TRUNCATED: &str = r#"{"transaction-id":""#;
pub(crate) const HTML_502: &str = "<html><body><h1>502 Bad Gateway</h1></body></html>";

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

pub(crate) fn respond(
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

pub(crate) fn json(status: StatusCode, body: &'static str) -> Action {
    respond(status, JSON, body)
}

pub(crate) fn count(counter: &AtomicU64) {
    counter.fetch_add(1, Relaxed);
}

/// A 429 answer carrying `Retry-After` as configured; `wait` is the limiter's honest delay,
/// for [`RetryAfter::Auto`].
pub(crate) fn too_many(retry_after: RetryAfter, wait: Duration) -> Action {
    with_retry_after(
        json(StatusCode::TOO_MANY_REQUESTS, THROTTLED_429),
        retry_after,
        wait,
    )
}

/// Seconds since the Unix epoch of `when`, rounded up when `up` (a client must not be told
/// a moment before the honest one) or down (as a configured delay always was).
fn epoch(when: SystemTime, up: bool) -> u64 {
    let since = when
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    since.as_secs() + u64::from(up && since.subsec_nanos() > 0)
}

/// Adds the configured throttling header to an answer.
pub(crate) fn with_retry_after(
    mut action: Action,
    retry_after: RetryAfter,
    wait: Duration,
) -> Action {
    let now = SystemTime::now();
    let date = |secs: u64| {
        HeaderValue::try_from(httpdate::fmt_http_date(
            SystemTime::UNIX_EPOCH + Duration::from_secs(secs),
        ))
        .ok()
        .map(|v| (RETRY_AFTER, v))
    };
    let reset = |secs: u64| {
        Some((
            HeaderName::from_static("x-ratelimit-reset"),
            HeaderValue::from(secs),
        ))
    };
    let header = match retry_after {
        RetryAfter::None => None,
        RetryAfter::Seconds(secs) => Some((RETRY_AFTER, HeaderValue::from(secs))),
        RetryAfter::HttpDate(secs) => date(epoch(now + Duration::from_secs(secs), false)),
        RetryAfter::ResetAt(secs) => reset(epoch(now + Duration::from_secs(secs), false)),
        RetryAfter::Auto(style) => match style {
            RetryAfterStyle::Seconds => Some((RETRY_AFTER, HeaderValue::from(whole_seconds(wait)))),
            // A date has whole seconds: the first one at or after the honest moment.
            RetryAfterStyle::HttpDate => date(epoch(now + wait, true)),
            RetryAfterStyle::ResetAt => reset(epoch(now + wait, true)),
        },
    };
    if let (Action::Respond(resp), Some((name, value))) = (&mut action, header) {
        resp.headers_mut().insert(name, value);
    }
    action
}

/// The Webex answer to an injected fault; `wait` as for [`too_many`].
pub(crate) fn fault_action(fault: Fault, retry_after: RetryAfter, wait: Duration) -> Action {
    match fault.before_delete() {
        Fault::Http500 => json(StatusCode::INTERNAL_SERVER_ERROR, INTERNAL_500),
        Fault::Code1010 => json(StatusCode::OK, NOT_PROCESSED_1010),
        Fault::Code429 => too_many(retry_after, wait),
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
        // before_delete() maps these to the plain kinds above.
        Fault::DropAfterDelete => Action::Drop,
        Fault::SlowAfterDelete => Action::Hang,
        Fault::Http500AfterDelete => json(StatusCode::INTERNAL_SERVER_ERROR, INTERNAL_500),
    }
}

pub(crate) enum ReadError {
    TooLarge,
    /// The client went away.
    Io,
}

pub(crate) async fn read_body(mut body: Incoming) -> Result<Vec<u8>, ReadError> {
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
pub(crate) fn bearer(header: Option<&HeaderValue>) -> Option<&[u8]> {
    let value = header?.as_bytes();
    let scheme = value.get(..7)?;
    scheme
        .eq_ignore_ascii_case(b"bearer ")
        .then(|| value[7..].trim_ascii())
}
