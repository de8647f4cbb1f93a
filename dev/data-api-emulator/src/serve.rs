//! Serving the router over HTTP/1.1 with hyper directly (rather than `axum::serve`), so that
//! a handler can close the connection without answering: a response carrying the
//! [`DropConnection`] extension is turned into a service error, on which hyper closes the
//! connection before writing anything. Every other response is sent as usual, with
//! keep-alive.

use std::future::Future;
use std::io;
use std::time::Duration;

use axum::extract::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tower::ServiceExt;

/// Marks a response that must not be sent: its connection is closed instead.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DropConnection;

/// What the connection's service fails with to make hyper close it unanswered.
#[derive(Debug, thiserror::Error)]
#[error("the response was dropped by a fault rule")]
struct ResponseDropped;

/// How long a shutdown waits for calls still running (or held by a delay rule).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Serves `router` on `listener` until `shutdown` completes, then lets running calls finish
/// (for at most [`SHUTDOWN_GRACE`]).
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    handle_accept_error(error).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let router = router.clone();
        let service = service_fn(move |request: Request<Incoming>| {
            let router = router.clone();
            async move {
                let response = match router.oneshot(request).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                };
                if response.extensions().get::<DropConnection>().is_some() {
                    Err(ResponseDropped)
                } else {
                    Ok(response)
                }
            }
        });
        let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                if !was_dropped(&error) {
                    tracing::debug!(%peer, %error, "HTTP connection failed");
                }
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(SHUTDOWN_GRACE) => {
            tracing::warn!("calls still running after {} s; stopping anyway", SHUTDOWN_GRACE.as_secs());
        }
    }
}

/// `true` when a connection ended because a fault rule dropped its response.
fn was_dropped(error: &hyper::Error) -> bool {
    std::error::Error::source(error).is_some_and(|source| source.is::<ResponseDropped>())
}

/// Errors of single connections are skipped; others (e.g. too many open files) are logged
/// and retried after a pause, as `axum::serve` does.
async fn handle_accept_error(error: io::Error) {
    if matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(%error, "cannot accept a connection");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
