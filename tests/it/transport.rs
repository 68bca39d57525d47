//! The transport seen from outside: real connections to small servers on 127.0.0.1 that
//! speak just enough HTTP/1.1 (and TLS) for each case.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use forget::transport::{Failure, Options, Reply, Transport};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Long enough never to be what ends a test that expects an answer or a failure.
const GENEROUS: Duration = Duration::from_secs(10);
const MAX_BODY: usize = 64 * 1024;

fn options() -> Options {
    Options {
        connect_timeout: GENEROUS,
        max_idle: 4,
    }
}

fn ring() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A client TLS configuration trusting exactly `roots`.
fn client_tls(roots: rustls::RootCertStore) -> rustls::ClientConfig {
    rustls::ClientConfig::builder_with_provider(ring())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth()
}

/// The pool for plain-http servers: trusts nothing, and (unlike `Transport::new`) ignores
/// any proxy variables of the environment the tests run in.
fn plain_transport() -> Transport {
    Transport::direct(&options(), client_tls(rustls::RootCertStore::empty()))
}

/// A certificate for `localhost`, made now, with the server configuration that presents it
/// and a client configuration that trusts it and nothing else.
fn localhost_tls() -> (rustls::ServerConfig, rustls::ClientConfig) {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert: CertificateDer<'static> = made.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(made.signing_key.serialize_der()));
    let server = rustls::ServerConfig::builder_with_provider(ring())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    (server, client_tls(roots))
}

/// A server on 127.0.0.1: every accepted connection is counted and handed to its own task.
struct Server {
    port: u16,
    accepted: Arc<AtomicUsize>,
}

impl Server {
    async fn start<F, Fut>(handle: F) -> Server
    where
        F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&accepted);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(handle(stream));
            }
        });
        Server { port, accepted }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// A request as the server read it: the head (request line and headers) and the body.
struct Seen {
    head: String,
    body: Vec<u8>,
}

impl Seen {
    fn request_line(&self) -> &str {
        self.head.lines().next().unwrap_or("")
    }

    /// The value of header `name` (any case), if sent.
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// One side of a server connection: reads whole requests, keeping what came after one for
/// the next.
struct Conn<S> {
    io: S,
    buf: Vec<u8>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    fn new(io: S) -> Conn<S> {
        Conn {
            io,
            buf: Vec::new(),
        }
    }

    /// The next request, or `None` when the connection ends before one is whole.
    async fn read_request(&mut self) -> Option<Seen> {
        let end = loop {
            if let Some(at) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at;
            }
            self.fill().await?;
        };
        let head = String::from_utf8(self.buf[..end].to_vec()).unwrap();
        let mut seen = Seen {
            head,
            body: Vec::new(),
        };
        let length: usize = seen
            .header("content-length")
            .map_or(0, |v| v.parse().unwrap());
        let start = end + 4;
        while self.buf.len() < start + length {
            self.fill().await?;
        }
        seen.body = self.buf[start..start + length].to_vec();
        self.buf.drain(..start + length);
        Some(seen)
    }

    async fn fill(&mut self) -> Option<()> {
        let mut chunk = [0u8; 4096];
        match self.io.read(&mut chunk).await {
            Ok(0) | Err(_) => None,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Some(())
            }
        }
    }

    async fn write(&mut self, bytes: &[u8]) {
        // The client may have gone (a cut answer): that is its business, not a failure here.
        let _ = self.io.write_all(bytes).await;
        let _ = self.io.flush().await;
    }

    /// Wait for the client to close (or reset) the connection, discarding what it sends.
    async fn hold(&mut self) {
        while self.fill().await.is_some() {}
    }
}

/// A whole HTTP/1.1 answer with a `Content-Length`, kept alive.
fn answer(status: &str, extra_headers: &str, body: &[u8]) -> Vec<u8> {
    let mut bytes = format!(
        "HTTP/1.1 {status}\r\ncontent-length: {}\r\n{extra_headers}\r\n",
        body.len()
    )
    .into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

fn request(method: &str, url: &str, body: &'static [u8]) -> http::Request<Bytes> {
    http::Request::builder()
        .method(method)
        .uri(url)
        .header("content-type", "application/json")
        .body(Bytes::from_static(body))
        .unwrap()
}

fn header<'a>(reply: &'a Reply, name: &str) -> &'a str {
    reply.headers.get(name).unwrap().to_str().unwrap()
}

/// A URL on 127.0.0.1 where nothing listens (a port just bound and let go).
async fn refused_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}/x")
}

/// A failure to connect: the server never saw the request.
fn assert_no_connection(failure: &Failure) {
    assert!(matches!(failure, Failure::Connect(_)), "{failure:?}");
    assert!(failure.is_connect(), "{failure:?}");
    assert!(!failure.may_have_reached(), "{failure:?}");
}

async fn send(transport: &Transport, req: http::Request<Bytes>) -> Result<Reply, Failure> {
    transport.send(req, MAX_BODY, GENEROUS).await
}

#[tokio::test]
async fn an_https_answer_arrives_through_the_pool_and_its_connection_is_reused() {
    let (server_tls, client) = localhost_tls();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_tls));
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let log = Arc::clone(&seen);
    let server = Server::start(move |tcp| {
        let acceptor = acceptor.clone();
        let log = Arc::clone(&log);
        async move {
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            let mut conn = Conn::new(tls);
            let mut n = 0;
            while let Some(request) = conn.read_request().await {
                n += 1;
                let body = format!("{{\"n\":{n},\"echo\":{}}}", request.body.len());
                log.lock().unwrap().push(request);
                let status = if n == 1 { "200 OK" } else { "404 Not Found" };
                conn.write(&answer(
                    status,
                    &format!("x-answer: {n}\r\n"),
                    body.as_bytes(),
                ))
                .await;
            }
        }
    })
    .await;
    let transport = Transport::direct(&options(), client);
    let url = |path: &str| format!("https://localhost:{}{path}", server.port);

    let first = send(
        &transport,
        request(
            "POST",
            &url("/campaignapi/resources/v3/delete"),
            b"{\"k\":\"a\"}",
        ),
    )
    .await
    .unwrap();
    assert_eq!(first.status, 200);
    assert_eq!(header(&first, "x-answer"), "1");
    assert_eq!(first.body, b"{\"n\":1,\"echo\":9}");

    let second = send(
        &transport,
        request("GET", &url("/campaignapi/resources/v3/find?key=b%20c"), b""),
    )
    .await
    .unwrap();
    assert_eq!(second.status, 404);
    assert_eq!(header(&second, "x-answer"), "2");
    assert_eq!(second.body, b"{\"n\":2,\"echo\":0}");

    assert_eq!(
        server.accepted(),
        1,
        "the second request reuses the connection"
    );
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    assert_eq!(
        seen[0].request_line(),
        "POST /campaignapi/resources/v3/delete HTTP/1.1"
    );
    assert_eq!(
        seen[1].request_line(),
        "GET /campaignapi/resources/v3/find?key=b%20c HTTP/1.1"
    );
    let host = format!("localhost:{}", server.port);
    for request in seen.iter() {
        assert_eq!(
            request.header("host"),
            Some(host.as_str()),
            "{}",
            request.head
        );
        let agent = request.header("user-agent").unwrap_or("");
        assert!(agent.starts_with("forget/"), "{}", request.head);
        assert_eq!(
            request.header("content-type"),
            Some("application/json"),
            "{}",
            request.head
        );
    }
    assert_eq!(seen[0].body, b"{\"k\":\"a\"}");
}

#[tokio::test]
async fn an_https_url_to_a_server_that_speaks_plain_http_is_a_connect_failure() {
    let server = Server::start(|tcp| async move {
        let mut conn = Conn::new(tcp);
        // Whatever came (a TLS ClientHello), answer in plain HTTP.
        conn.fill().await;
        conn.write(&answer("200 OK", "", b"{}")).await;
        conn.hold().await;
    })
    .await;
    let (_, client) = localhost_tls();
    let transport = Transport::direct(&options(), client);
    let url = format!("https://localhost:{}/x", server.port);

    let failure = send(&transport, request("POST", &url, b"{}"))
        .await
        .unwrap_err();
    assert_no_connection(&failure);
    assert_eq!(server.accepted(), 1);
}

#[tokio::test]
async fn a_refused_connection_is_a_connect_failure() {
    let transport = plain_transport();

    let failure = send(&transport, request("POST", &refused_url().await, b"{}"))
        .await
        .unwrap_err();
    assert_no_connection(&failure);
}

#[tokio::test]
async fn a_server_that_never_answers_is_a_timeout_after_the_request_was_sent() {
    let (read_tx, mut read_rx) = tokio::sync::mpsc::unbounded_channel();
    let server = Server::start(move |tcp| {
        let read_tx = read_tx.clone();
        async move {
            let mut conn = Conn::new(tcp);
            if let Some(seen) = conn.read_request().await {
                read_tx.send(seen.request_line().to_owned()).unwrap();
            }
            conn.hold().await;
        }
    })
    .await;
    let transport = plain_transport();

    let failure = transport
        .send(
            request("POST", &server.url("/slow"), b"{}"),
            MAX_BODY,
            Duration::from_millis(300),
        )
        .await
        .unwrap_err();
    assert_eq!(failure, Failure::Timeout { sent: true });
    assert!(failure.may_have_reached(), "{failure:?}");
    assert!(!failure.is_connect(), "{failure:?}");
    // And the server did have the request.
    let line = tokio::time::timeout(GENEROUS, read_rx.recv())
        .await
        .unwrap();
    assert_eq!(line.as_deref(), Some("POST /slow HTTP/1.1"));
}

#[tokio::test]
async fn a_connection_closed_after_the_request_without_an_answer_may_have_reached_the_server() {
    let server = Server::start(|tcp| async move {
        let mut conn = Conn::new(tcp);
        conn.read_request().await.unwrap();
        // Close, having answered nothing.
    })
    .await;
    let transport = plain_transport();

    let failure = send(&transport, request("POST", &server.url("/x"), b"{}"))
        .await
        .unwrap_err();
    assert!(matches!(failure, Failure::Connection(_)), "{failure:?}");
    assert!(failure.may_have_reached(), "{failure:?}");
    assert!(!failure.is_connect(), "{failure:?}");
    assert_eq!(server.accepted(), 1);
}

#[tokio::test]
async fn a_connection_the_server_closes_after_its_answer_is_not_used_again() {
    let server = Server::start(|tcp| async move {
        let mut conn = Conn::new(tcp);
        let Some(seen) = conn.read_request().await else {
            return;
        };
        // A keep-alive answer (no `Connection: close`), then the server closes anyway.
        conn.write(&answer("200 OK", "", seen.request_line().as_bytes()))
            .await;
        let _ = conn.io.shutdown().await;
    })
    .await;
    let transport = plain_transport();

    for path in ["/one", "/two", "/three"] {
        let reply = send(&transport, request("POST", &server.url(path), b"{}"))
            .await
            .unwrap_or_else(|f| panic!("{path}: {f:?}"));
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body, format!("POST {path} HTTP/1.1").as_bytes());
    }
    assert_eq!(server.accepted(), 3, "one connection per request");
}

#[tokio::test]
async fn an_idle_connection_the_server_closed_is_replaced_and_the_next_request_succeeds() {
    // The server answers on a kept-alive connection; once the client holds it idle, the
    // server closes it (as servers do after their keep-alive timeout).
    let (close_tx, close_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let (closed_tx, mut closed_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let close_rx = Arc::new(tokio::sync::Mutex::new(close_rx));
    let seen: Arc<Mutex<Vec<(usize, String)>>> = Arc::default();
    let log = Arc::clone(&seen);
    let counter = Arc::new(AtomicUsize::new(0));
    let server = Server::start(move |tcp| {
        let (close_rx, closed_tx, log) =
            (Arc::clone(&close_rx), closed_tx.clone(), Arc::clone(&log));
        let number = counter.fetch_add(1, Ordering::SeqCst) + 1;
        async move {
            let mut conn = Conn::new(tcp);
            while let Some(request) = conn.read_request().await {
                let line = request.request_line().to_owned();
                log.lock().unwrap().push((number, line.clone()));
                conn.write(&answer("200 OK", "", line.as_bytes())).await;
                if number == 1 {
                    close_rx.lock().await.recv().await;
                    let _ = conn.io.shutdown().await;
                    drop(conn);
                    closed_tx.send(()).unwrap();
                    return;
                }
            }
        }
    })
    .await;
    let transport = plain_transport();

    let first = send(&transport, request("POST", &server.url("/one"), b"{}"))
        .await
        .unwrap();
    assert_eq!(first.body, b"POST /one HTTP/1.1");
    close_tx.send(()).unwrap();
    tokio::time::timeout(GENEROUS, closed_rx.recv())
        .await
        .unwrap()
        .unwrap();

    let second = send(&transport, request("POST", &server.url("/two"), b"{}"))
        .await
        .unwrap();
    assert_eq!(second.body, b"POST /two HTTP/1.1");
    assert_eq!(server.accepted(), 2);
    assert_eq!(
        *seen.lock().unwrap(),
        [
            (1, "POST /one HTTP/1.1".to_owned()),
            (2, "POST /two HTTP/1.1".to_owned())
        ],
        "each request reached the server once"
    );
}

#[tokio::test]
async fn a_body_beyond_the_bound_is_cut_and_its_connection_is_not_reused() {
    const BIG: usize = 256 * 1024;
    // Comes in one read, read to its end by hyper before the cut.
    const OVER: usize = 2000;
    const BOUND: usize = 1000;
    let server = Server::start(|tcp| async move {
        let mut conn = Conn::new(tcp);
        while let Some(seen) = conn.read_request().await {
            let size = match seen.request_line() {
                "GET /big HTTP/1.1" => BIG,
                "GET /over HTTP/1.1" => OVER,
                "GET /exact HTTP/1.1" => BOUND,
                _ => 0,
            };
            if size > 0 {
                let body: Vec<u8> = (0..size).map(|i| b'a' + (i % 26) as u8).collect();
                conn.write(&answer("200 OK", "", &body)).await;
            } else {
                conn.write(&answer("200 OK", "", b"small")).await;
            }
        }
    })
    .await;
    let transport = plain_transport();

    let big = transport
        .send(request("GET", &server.url("/big"), b""), BOUND, GENEROUS)
        .await
        .unwrap();
    assert_eq!(big.status, 200);
    assert_eq!(header(&big, "content-length"), BIG.to_string());
    assert_eq!(big.body.len(), BOUND);
    let expected: Vec<u8> = (0..BOUND).map(|i| b'a' + (i % 26) as u8).collect();
    assert_eq!(big.body, expected);

    let over = transport
        .send(request("GET", &server.url("/over"), b""), BOUND, GENEROUS)
        .await
        .unwrap();
    assert_eq!(over.body, expected);
    assert_eq!(
        server.accepted(),
        2,
        "the first cut connection is not reused"
    );

    let small = transport
        .send(request("GET", &server.url("/small"), b""), BOUND, GENEROUS)
        .await
        .unwrap();
    assert_eq!(small.status, 200);
    assert_eq!(small.body, b"small");
    assert_eq!(
        server.accepted(),
        3,
        "the second cut connection is not reused"
    );

    // And an answer read whole leaves its connection for the next request.
    let again = transport
        .send(request("GET", &server.url("/small"), b""), BOUND, GENEROUS)
        .await
        .unwrap();
    assert_eq!(again.body, b"small");
    assert_eq!(server.accepted(), 3);

    // An answer exactly as long as the bound is whole: its connection is kept too.
    let exact = transport
        .send(request("GET", &server.url("/exact"), b""), BOUND, GENEROUS)
        .await
        .unwrap();
    assert_eq!(exact.body, expected);
    let after = transport
        .send(request("GET", &server.url("/small"), b""), BOUND, GENEROUS)
        .await
        .unwrap();
    assert_eq!(after.body, b"small");
    assert_eq!(
        server.accepted(),
        3,
        "an answer of exactly the bound is whole"
    );
}

#[tokio::test]
async fn a_body_shorter_than_its_content_length_is_a_body_failure_with_the_status() {
    let server = Server::start(|tcp| async move {
        let mut conn = Conn::new(tcp);
        conn.read_request().await.unwrap();
        conn.write(b"HTTP/1.1 404 Not Found\r\ncontent-length: 100\r\n\r\n0123456789")
            .await;
        // Close with 90 bytes owed.
    })
    .await;
    let transport = plain_transport();

    let failure = send(&transport, request("POST", &server.url("/x"), b"{}"))
        .await
        .unwrap_err();
    assert!(
        matches!(failure, Failure::Body { status: 404, .. }),
        "{failure:?}"
    );
    assert_eq!(failure.status(), Some(404));
    assert!(failure.may_have_reached(), "{failure:?}");
}

#[tokio::test]
async fn a_url_the_pool_cannot_send_to_is_an_error_that_never_reached_a_server() {
    let server = Server::start(|tcp| async move {
        Conn::new(tcp).hold().await;
    })
    .await;
    let transport = plain_transport();
    let urls = [
        format!("ftp://127.0.0.1:{}/x", server.port),
        "/campaignapi/resources/v3/delete".to_owned(),
    ];
    for url in urls {
        let failure = send(&transport, request("POST", &url, b"{}"))
            .await
            .unwrap_err();
        assert!(!failure.may_have_reached(), "{url}: {failure:?}");
        // Not a connection failure: a run of these must not read as an unreachable host.
        assert!(!failure.is_connect(), "{url}: {failure:?}");
        assert!(matches!(failure, Failure::Invalid(_)), "{url}: {failure:?}");
    }
    assert_eq!(server.accepted(), 0);
}

/// How many requests the multi-thread cases send in a row: enough that a race between the
/// pool and hyper's connection task shows.
const ROUNDS: usize = 1000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_multi_thread_runtime_an_answer_read_whole_leaves_its_connection_for_the_next_request()
{
    let server = Server::start(|tcp| async move {
        let mut conn = Conn::new(tcp);
        while let Some(seen) = conn.read_request().await {
            conn.write(&answer("200 OK", "", seen.request_line().as_bytes()))
                .await;
        }
    })
    .await;
    let transport = plain_transport();

    for round in 0..ROUNDS {
        let path = format!("/{round}");
        let reply = send(&transport, request("POST", &server.url(&path), b"{}"))
            .await
            .unwrap();
        assert_eq!(reply.body, format!("POST {path} HTTP/1.1").as_bytes());
    }
    assert_eq!(
        server.accepted(),
        1,
        "every request reuses the one connection"
    );
}

/// Behind a proxy the requests go through reqwest: the same request, answer and failures.
#[tokio::test]
async fn through_reqwest_the_answers_and_failures_read_the_same() {
    let server = Server::start(|tcp| async move {
        let mut conn = Conn::new(tcp);
        while let Some(seen) = conn.read_request().await {
            match seen.request_line() {
                "POST /ok HTTP/1.1" => {
                    let echo = format!(
                        "{} {}",
                        seen.header("user-agent").unwrap_or(""),
                        String::from_utf8_lossy(&seen.body)
                    );
                    conn.write(&answer("201 Created", "x-seen: 1\r\n", echo.as_bytes()))
                        .await;
                }
                "POST /short HTTP/1.1" => {
                    conn.write(b"HTTP/1.1 404 Not Found\r\ncontent-length: 100\r\n\r\nonly ten b")
                        .await;
                    return;
                }
                _ => conn.hold().await,
            }
        }
    })
    .await;
    let transport = Transport::via_reqwest(forget::transport::reqwest_client(&options()).unwrap());
    assert!(transport.is_proxied());

    let reply = send(
        &transport,
        request("POST", &server.url("/ok"), b"{\"k\":1}"),
    )
    .await
    .unwrap();
    assert_eq!(reply.status, 201);
    assert_eq!(header(&reply, "x-seen"), "1");
    let body = String::from_utf8(reply.body).unwrap();
    assert!(body.starts_with("forget/"), "{body}");
    assert!(body.ends_with("{\"k\":1}"), "{body}");

    let short = send(&transport, request("POST", &server.url("/short"), b"{}"))
        .await
        .unwrap_err();
    assert!(
        matches!(short, Failure::Body { status: 404, .. }),
        "{short:?}"
    );
    assert!(short.may_have_reached());

    let slow = transport
        .send(
            request("POST", &server.url("/slow"), b"{}"),
            MAX_BODY,
            Duration::from_millis(300),
        )
        .await
        .unwrap_err();
    assert_eq!(slow, Failure::Timeout { sent: true });

    let refused = send(&transport, request("POST", &refused_url().await, b"{}"))
        .await
        .unwrap_err();
    assert_no_connection(&refused);
}
