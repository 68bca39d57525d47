//! How a unit's request reaches the API and its answer comes back: a small pool of HTTP/1.1
//! connections on hyper's connection API (rustls for https), or reqwest when a proxy is
//! configured.
//!
//! Why not reqwest for every request: profiled against the simulator at full speed, its
//! per-request machinery (a service stack cloned per request, URL and proxy handling, a pool
//! behind a hashed origin key, a boxed future per layer) cost more CPU than all the rest of
//! forget, and the requests of a run are all alike. Here a request is a checkout from a list
//! of idle connections, one write and one read. reqwest stays where its generality pays:
//! behind a proxy (`HTTPS_PROXY`, `ALL_PROXY`, with `NO_PROXY`), and for the few calls that
//! are not units (the hub, listings). Which requests may use a proxy is decided in
//! [`proxy`], the same for every client: never loopback, never plain http.
//!
//! Failures are data: a [`Failure`] says whether the server may have seen the request, which
//! is what decides whether a later "not found" can be trusted. One race no client can close:
//! a request written on a kept-alive connection just as the server closes it fails as
//! [`Failure::Connection`], which is counted as possibly received (the honest reading; the
//! unit is retried). Idle connections are not used after 30 s, well inside common
//! server keep-alive limits, which keeps that race rare.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{HOST, HeaderMap, HeaderValue, USER_AGENT};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Body as _;
use hyper::client::conn::http1::SendRequest;
use hyper_rustls::{ConfigBuilderExt, HttpsConnector};
use hyper_util::client::legacy::connect::HttpConnector;
use tower_service::Service;

mod proxy;
pub use proxy::{PLAIN_HTTP, Proxies, Route, is_loopback};

/// Answer bodies are read up to this many bytes unless the caller asks for more (see
/// [`Connector::max_body`](crate::connector::Connector::max_body)); the rest is never buffered.
pub const MAX_BODY: usize = 64 * 1024;

/// An answer, its body read up to the caller's bound.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// A request that got no (whole) answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// No connection was made (refused, unresolvable, TLS refused, connect timeout): the
    /// server never saw the request.
    Connect(String),
    /// No answer in time. `sent`: the request had been handed to a connection, so the server
    /// may have acted on it.
    Timeout { sent: bool },
    /// The connection failed once the request was on it: the server may have acted on it.
    Connection(String),
    /// The status and headers came, the body could not be read.
    Body { status: u16, cause: String },
    /// The request could not be made (a key no URL can carry): it was never sent.
    Invalid(String),
}

impl Failure {
    /// The server could not be reached: a run of these means the host is unreachable.
    pub fn is_connect(&self) -> bool {
        matches!(self, Failure::Connect(_) | Failure::Timeout { sent: false })
    }

    /// The server may have acted on the request, so a later "not found" may be its doing.
    pub fn may_have_reached(&self) -> bool {
        !matches!(
            self,
            Failure::Connect(_) | Failure::Timeout { sent: false } | Failure::Invalid(_)
        )
    }

    /// The failure in words, without the URL (the same for every key) and so without
    /// anything that could identify a person or reveal a token.
    pub fn describe(&self) -> String {
        let (kind, cause) = match self {
            Failure::Connect(c) => ("connect error", c.as_str()),
            Failure::Timeout { .. } => ("timeout", ""),
            Failure::Connection(c) => ("connection error", c.as_str()),
            Failure::Body { cause, .. } => ("unreadable body", cause.as_str()),
            Failure::Invalid(c) => ("invalid request", c.as_str()),
        };
        if cause.is_empty() {
            kind.to_owned()
        } else {
            format!("{kind}: {cause}")
        }
    }

    /// The HTTP status, when one came.
    pub fn status(&self) -> Option<u16> {
        match self {
            Failure::Body { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// A reqwest error as the same kind of failure.
    pub fn from_reqwest(error: &reqwest::Error) -> Failure {
        let cause = innermost(error);
        if error.is_timeout() {
            Failure::Timeout {
                sent: !error.is_connect(),
            }
        } else if error.is_connect() {
            Failure::Connect(cause)
        } else if error.is_body() || error.is_decode() {
            Failure::Body {
                status: error.status().map_or(0, |s| s.as_u16()),
                cause,
            }
        } else if error.is_builder() {
            Failure::Invalid(cause)
        } else {
            Failure::Connection(cause)
        }
    }
}

/// The last cause in an error's chain: the one that says what happened.
fn innermost(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = String::new();
    let mut source = error.source();
    while let Some(s) = source {
        cause = s.to_string();
        source = s.source();
    }
    cause
}

/// What every transport is built with.
#[derive(Clone, Debug)]
pub struct Options {
    /// Longest wait for a connection (TCP and TLS), within each request's timeout.
    pub connect_timeout: Duration,
    /// Idle connections kept per transport: the run's concurrency.
    pub max_idle: usize,
}

/// Sends requests; cheap to clone (one pool behind it).
#[derive(Clone)]
pub struct Transport(Arc<Inner>);

enum Inner {
    Direct(Pool),
    Proxied(reqwest::Client),
}

impl Transport {
    /// The pool, with Mozilla's root certificates; reqwest, routing each request as
    /// [`Proxies::route`] says, when a proxy is configured.
    pub fn new(options: &Options) -> crate::Result<Transport> {
        if !Proxies::from_env().is_empty() {
            return Ok(Transport::via_reqwest(reqwest_client(options)?));
        }
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| crate::Error::internal(format!("cannot set up TLS: {e}")))?
        .with_webpki_roots()
        .with_no_client_auth();
        Ok(Transport::direct(options, tls))
    }

    /// The pool, trusting what `tls` trusts.
    pub fn direct(options: &Options, tls: rustls::ClientConfig) -> Transport {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(options.connect_timeout));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Transport(Arc::new(Inner::Direct(Pool {
            connector,
            idle: Mutex::new(Vec::new()),
            max_idle: options.max_idle.max(1),
            user_agent: HeaderValue::from_static(USER_AGENT_VALUE),
        })))
    }

    pub fn via_reqwest(client: reqwest::Client) -> Transport {
        Transport(Arc::new(Inner::Proxied(client)))
    }

    /// Whether requests go through reqwest (a proxy is configured).
    pub fn is_proxied(&self) -> bool {
        matches!(*self.0, Inner::Proxied(_))
    }

    /// Send `request` (an absolute URL) and read at most `max_body` bytes of the answer, all
    /// within `timeout`.
    pub async fn send(
        &self,
        request: Request<Bytes>,
        max_body: usize,
        timeout: Duration,
    ) -> Result<Reply, Failure> {
        match &*self.0 {
            Inner::Direct(pool) => pool.send(request, max_body, timeout).await,
            Inner::Proxied(client) => send_reqwest(client, request, max_body, timeout).await,
        }
    }
}

/// What forget calls itself in `User-Agent`.
pub const USER_AGENT_VALUE: &str = concat!("forget/", env!("CARGO_PKG_VERSION"));

/// The `Host` header for a URI: its authority, without the scheme's default port.
/// Connectors put it in the headers they build once (see [`crate::connector::headers`]), so
/// no request has to make it again.
pub fn host_header(scheme: &Scheme, authority: &Authority) -> Option<HeaderValue> {
    let default_port = if *scheme == Scheme::HTTPS { 443 } else { 80 };
    let host = match authority.port_u16() {
        Some(port) if port != default_port => authority.as_str(),
        _ => authority.host(),
    };
    HeaderValue::from_str(host).ok()
}

/// The reqwest client for proxied requests and for the calls that are not units. It uses a
/// proxy only where [`Proxies::route`] says so (reqwest's own reading of the environment
/// would proxy loopback too).
pub fn reqwest_client(options: &Options) -> crate::Result<reqwest::Client> {
    let proxies = Proxies::from_env();
    let builder = if proxies.is_empty() {
        reqwest::Client::builder().no_proxy()
    } else {
        reqwest::Client::builder()
            .no_proxy()
            .proxy(reqwest::Proxy::custom(move |url| {
                match proxies.route(url) {
                    Route::Proxy(proxy) => Some(proxy),
                    // Refused URLs never get this far (`target::parse_url`, and `send` below).
                    Route::Direct | Route::Refuse(_) => None,
                }
            }))
    };
    builder
        .use_rustls_tls()
        // Never follow a redirect: it would carry the token to wherever it points, and a
        // redirected delete endpoint means the base URL is wrong anyway.
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(options.connect_timeout)
        .pool_max_idle_per_host(options.max_idle)
        .tcp_nodelay(true)
        .user_agent(USER_AGENT_VALUE)
        .build()
        .map_err(|e| crate::Error::internal(format!("cannot build the HTTP client: {e}")))
}

async fn send_reqwest(
    client: &reqwest::Client,
    request: Request<Bytes>,
    max_body: usize,
    timeout: Duration,
) -> Result<Reply, Failure> {
    let mut request =
        reqwest::Request::try_from(request).map_err(|e| Failure::Invalid(innermost_or(&e)))?;
    if request.url().scheme() != "https" && !is_loopback(request.url()) {
        return Err(Failure::Invalid(PLAIN_HTTP.into()));
    }
    *request.timeout_mut() = Some(timeout);
    let mut response = client
        .execute(request)
        .await
        .map_err(|e| Failure::from_reqwest(&e))?;
    let status = response.status().as_u16();
    let headers = std::mem::take(response.headers_mut());
    let body =
        read_bounded(response, max_body)
            .await
            .map_err(|e| match Failure::from_reqwest(&e) {
                Failure::Body { cause, .. } => Failure::Body { status, cause },
                other => other,
            })?;
    Ok(Reply {
        status,
        headers,
        body,
    })
}

/// Read at most `max` bytes of a reqwest answer; the rest is never buffered.
pub async fn read_bounded(
    mut response: reqwest::Response,
    max: usize,
) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = max - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= max {
            break;
        }
    }
    Ok(body)
}

type Origin = (Scheme, Authority);

/// Idle connections older than this are closed rather than used: servers close idle
/// keep-alive connections after a while (60 s is common), and a request written as the
/// server closes fails with no way to tell whether it arrived.
const MAX_IDLE: Duration = Duration::from_secs(30);

/// An idle connection to `origin`, and since when.
struct Idle {
    origin: Origin,
    since: Instant,
    sender: SendRequest<Full<Bytes>>,
}

/// Idle HTTP/1.1 connections, each driven by its own task; most recently used first out.
struct Pool {
    connector: HttpsConnector<HttpConnector>,
    idle: Mutex<Vec<Idle>>,
    max_idle: usize,
    user_agent: HeaderValue,
}

impl Pool {
    async fn send(
        &self,
        request: Request<Bytes>,
        max_body: usize,
        timeout: Duration,
    ) -> Result<Reply, Failure> {
        let mut sent = false;
        let exchange = self.exchange(request, max_body, &mut sent);
        match tokio::time::timeout(timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(Failure::Timeout { sent }),
        }
    }

    async fn exchange(
        &self,
        request: Request<Bytes>,
        max_body: usize,
        sent: &mut bool,
    ) -> Result<Reply, Failure> {
        let (origin, mut request) = self.prepare(request)?;
        loop {
            let (mut sender, fresh) = match self.checkout(&origin) {
                // Ready once its connection task is done with the last answer; an error
                // means the connection closed while idle.
                Some(mut sender) => match sender.ready().await {
                    Ok(()) => (sender, false),
                    Err(_) => continue,
                },
                None => (self.connect(&origin).await?, true),
            };
            *sent = true;
            let response = match sender.try_send_request(request).await {
                Ok(response) => response,
                Err(mut e) => match e.take_message() {
                    // Never written: an idle connection the server had closed. Try
                    // another (a fresh one at worst), as any HTTP client does.
                    Some(unsent) if !fresh => {
                        *sent = false;
                        request = unsent;
                        continue;
                    }
                    Some(_) => return Err(Failure::Connect(innermost_or(e.error()))),
                    None => return Err(Failure::Connection(innermost_or(e.error()))),
                },
            };
            let (parts, mut body) = response.into_parts();
            let status = parts.status.as_u16();
            let mut bytes = Vec::new();
            let mut whole = true;
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| Failure::Body {
                    status,
                    cause: innermost_or(&e),
                })?;
                if let Ok(data) = frame.into_data() {
                    let room = max_body - bytes.len();
                    bytes.extend_from_slice(&data[..data.len().min(room)]);
                    if bytes.len() >= max_body {
                        whole = data.len() <= room && body.is_end_stream();
                        break;
                    }
                }
            }
            // An answer read to its end leaves the connection for the next request; one cut
            // short (too large) is dropped with its connection.
            if whole {
                self.checkin(origin, sender);
            }
            return Ok(Reply {
                status,
                headers: parts.headers,
                body: bytes,
            });
        }
    }

    /// The request's origin, and the request as HTTP/1.1 sends it: path and query in the
    /// request line, the origin in `Host`.
    fn prepare(&self, request: Request<Bytes>) -> Result<(Origin, Request<Full<Bytes>>), Failure> {
        let (mut parts, body) = request.into_parts();
        let uri = std::mem::take(&mut parts.uri).into_parts();
        let (Some(scheme), Some(authority)) = (uri.scheme, uri.authority) else {
            return Err(Failure::Invalid("not an absolute URL".into()));
        };
        if scheme != Scheme::HTTP && scheme != Scheme::HTTPS {
            return Err(Failure::Invalid(format!("cannot send to {scheme}:")));
        }
        if scheme == Scheme::HTTP && !loopback_host(authority.host()) {
            return Err(Failure::Invalid(PLAIN_HTTP.into()));
        }
        let path = uri
            .path_and_query
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        parts.uri = Uri::from(path);
        if !parts.headers.contains_key(HOST) {
            let host = host_header(&scheme, &authority)
                .ok_or_else(|| Failure::Invalid("not a valid host".into()))?;
            parts.headers.insert(HOST, host);
        }
        if !parts.headers.contains_key(USER_AGENT) {
            parts.headers.insert(USER_AGENT, self.user_agent.clone());
        }
        Ok((
            (scheme, authority),
            Request::from_parts(parts, Full::new(body)),
        ))
    }

    /// The most recently used idle connection to `origin` that is open and not stale.
    fn checkout(&self, origin: &Origin) -> Option<SendRequest<Full<Bytes>>> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(at) = idle.iter().rposition(|c| c.origin == *origin) {
            let candidate = idle.remove(at);
            if !candidate.sender.is_closed() && candidate.since.elapsed() < MAX_IDLE {
                return Some(candidate.sender);
            }
        }
        None
    }

    fn checkin(&self, origin: Origin, sender: SendRequest<Full<Bytes>>) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < self.max_idle && !sender.is_closed() {
            idle.push(Idle {
                origin,
                since: Instant::now(),
                sender,
            });
        }
    }

    async fn connect(&self, origin: &Origin) -> Result<SendRequest<Full<Bytes>>, Failure> {
        let uri = Uri::builder()
            .scheme(origin.0.clone())
            .authority(origin.1.clone())
            .path_and_query("/")
            .build()
            .map_err(|e| Failure::Connect(e.to_string()))?;
        let io = self
            .connector
            .clone()
            .call(uri)
            .await
            .map_err(|e| Failure::Connect(innermost_or(&*e)))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|e| Failure::Connect(innermost_or(&e)))?;
        tokio::spawn(async move {
            // Ends when the connection closes; an error here is the pending request's too,
            // and that request reports it.
            let _ = connection.await;
        });
        sender
            .ready()
            .await
            .map_err(|e| Failure::Connect(innermost_or(&e)))?;
        Ok(sender)
    }
}

/// Whether a URI's host is this machine (see [`is_loopback`]), without parsing a URL: the
/// check runs on every plain-http request.
fn loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The innermost cause of an error, or the error itself when it has none.
fn innermost_or(error: &(dyn std::error::Error + 'static)) -> String {
    let cause = innermost(error);
    if cause.is_empty() {
        error.to_string()
    } else {
        cause
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_say_whether_the_server_may_have_seen_the_request() {
        let case = |f: Failure, connect: bool, reached: bool, words: &str| {
            assert_eq!(f.is_connect(), connect, "{f:?}");
            assert_eq!(f.may_have_reached(), reached, "{f:?}");
            assert_eq!(f.describe(), words, "{f:?}");
        };
        case(
            Failure::Connect("refused".into()),
            true,
            false,
            "connect error: refused",
        );
        case(Failure::Timeout { sent: false }, true, false, "timeout");
        case(Failure::Timeout { sent: true }, false, true, "timeout");
        case(
            Failure::Connection("reset".into()),
            false,
            true,
            "connection error: reset",
        );
        case(
            Failure::Body {
                status: 200,
                cause: "cut".into(),
            },
            false,
            true,
            "unreadable body: cut",
        );
        case(
            Failure::Invalid("bad".into()),
            false,
            false,
            "invalid request: bad",
        );
    }

    #[test]
    fn loopback_hosts() {
        for host in ["127.0.0.1", "127.1.2.3", "[::1]", "localhost", "LocalHost"] {
            assert!(loopback_host(host), "{host}");
        }
        for host in ["10.0.0.1", "example.com", "[::2]", "localhost.example.com"] {
            assert!(!loopback_host(host), "{host}");
        }
    }

    #[tokio::test]
    async fn answer_bodies_are_read_up_to_the_bound() -> Result<(), reqwest::Error> {
        let max = MAX_BODY;
        let huge = vec![b' '; max * 16];
        let response = reqwest::Response::from(http::Response::new(huge));
        assert_eq!(read_bounded(response, max).await?.len(), max);
        let small = reqwest::Response::from(http::Response::new(b"{}".to_vec()));
        assert_eq!(read_bounded(small, max).await?, b"{}");
        Ok(())
    }
}
