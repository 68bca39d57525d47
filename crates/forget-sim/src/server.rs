//! Accept loop and per-connection driver.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::handler::handle;
use crate::reply::Action;
use crate::state::Sim;

/// Serves `sim` on `listener` until `shutdown` resolves, then stops accepting
/// and closes every open connection (in-flight requests get no answer).
///
/// Accept errors (for example running out of file descriptors) are logged and
/// retried after a short pause rather than ending the server.
pub async fn serve(
    listener: TcpListener,
    sim: Arc<Sim>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let stop = CancellationToken::new();
    // Closes every connection when serving ends, however it ends.
    let _stop_on_exit = stop.clone().drop_guard();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            () = &mut shutdown => return Ok(()),
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    tokio::spawn(connection(stream, Arc::clone(&sim), stop.child_token()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "simulator: accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
        }
    }
}

/// Drives one connection until the client closes it, a handler asks for it
/// to be dropped, or the server shuts down. Dropping the connection future
/// closes the socket without sending anything further.
async fn connection(stream: TcpStream, sim: Arc<Sim>, token: CancellationToken) {
    // Small answers must not wait for Nagle; failure only costs latency.
    let _ = stream.set_nodelay(true);
    let conn_token = token.clone();
    let svc = service_fn(move |req| {
        let sim = Arc::clone(&sim);
        let conn_token = conn_token.clone();
        async move {
            match handle(&sim, req).await {
                Action::Respond(resp) => Ok::<_, Infallible>(resp),
                Action::Drop => {
                    conn_token.cancel();
                    std::future::pending().await
                }
                Action::Hang => std::future::pending().await,
            }
        }
    });
    let conn = http1::Builder::new()
        .keep_alive(true)
        .pipeline_flush(true)
        .serve_connection(TokioIo::new(stream), svc);
    tokio::select! {
        // Connection errors (client resets, malformed requests) are routine.
        _ = conn => {}
        () = token.cancelled() => {}
    }
}
