//! A Lambda Runtime API relay for `make dev`: the functions talk to it instead of to
//! `cargo lambda watch`, and it passes every request and answer through whole.
//!
//! Why it exists: cargo-lambda 1.9's runtime emulator answers a function's
//! `POST …/runtime/invocation/{id}/response` with 200 *before* it reads the body, and reads the
//! body later, in the task that answers the HTTP caller. Its HTTP server (hyper 1) then reads the
//! part of the body that did not come with the head only when the connection shows more activity:
//! the next request on it, or its end. lambda_runtime's client usually sends its next
//! `GET …/invocation/next` on the same connection, which wakes it; but now and then it opens a new
//! connection for it and keeps the old one idle (the caller waits until that connection is used
//! or dropped: the hangs of 10–30 s) or closes it right away (the emulator loses the body and the
//! caller gets a bare 500 the function never logged). Only bodies larger than the first read
//! (about 8 KiB: list pages) are exposed.
//!
//! The relay reads the function's request in full and sends it upstream on a connection of its
//! own pool, where the connection freed last is used first: the connection that carried a
//! function's answer carries the next request (the function's own `GET …/next`, in practice),
//! which is what makes the emulator read the rest of the body. After a body larger than the
//! emulator's first read it does not even wait for that: it sends a request without effect
//! (`OPTIONS` on the same path, answered by the emulator's CORS layer) on the same connection and
//! waits for its answer, which the emulator gives only once it has read the whole body before it.
//! Only then does it answer the function. On AWS the Runtime API reads the body before it answers,
//! and nothing here is involved.

use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap};
use http::{Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

/// Bodies larger than this get a wake request after them: smaller ones come in the emulator's
/// first read, with the head (it reads 8 KiB at first).
const WAKE_ABOVE_BYTES: usize = 4096;

/// How long connecting to the emulator may take.
const CONNECT_LIMIT: Duration = Duration::from_secs(5);

/// How long the emulator may take to answer a wake request.
const WAKE_LIMIT: Duration = Duration::from_secs(5);

/// The emulator, and the connections to it that are free. The most recently freed is used first,
/// so the connection that just carried a function's answer carries its next request.
#[derive(Clone)]
struct Upstream {
    addr: Arc<str>,
    idle: Arc<Mutex<Vec<SendRequest<Full<Bytes>>>>>,
}

impl Upstream {
    /// A free connection, or `None` when there is none.
    fn take(&self) -> Option<SendRequest<Full<Bytes>>> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some(sender) = idle.pop() {
            if sender.is_ready() {
                return Some(sender);
            }
        }
        None
    }

    fn give_back(&self, sender: SendRequest<Full<Bytes>>) {
        if !sender.is_closed() {
            let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
            idle.push(sender);
        }
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, String> {
        let stream = tokio::time::timeout(CONNECT_LIMIT, TcpStream::connect(&*self.addr))
            .await
            .map_err(|_| self.error(&"connect timed out"))?
            .map_err(|e| self.error(&e))?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| self.error(&e))?;
        // The connection runs on its own task, until the emulator or the relay drops it.
        tokio::spawn(connection);
        Ok(sender)
    }

    fn error(&self, e: &dyn std::fmt::Display) -> String {
        format!("runtime-relay: upstream {}: {e}", self.addr)
    }

    /// Sends `request` (on a free connection, or on a new one if that one turns out closed) and
    /// reads the whole answer; a request with a large body is followed by `wake` on the same
    /// connection, whose answer means the emulator has read the body.
    async fn send(
        &self,
        request: Request<Full<Bytes>>,
        wake: Option<Request<Full<Bytes>>>,
    ) -> Result<Response<Full<Bytes>>, String> {
        let (mut sender, response) = match self.take() {
            Some(mut sender) => match sender.try_send_request(request).await {
                Ok(response) => (sender, response),
                // Closed by the emulator while idle (a restart) before the request went out: once
                // more, on a new connection. A request that may have gone out is never repeated.
                Err(mut error) => match error.take_message() {
                    Some(request) => {
                        let mut sender = self.connect().await?;
                        let response = sender.send_request(request).await;
                        (sender, response.map_err(|e| self.error(&e))?)
                    }
                    None => return Err(self.error(error.error())),
                },
            },
            None => {
                let mut sender = self.connect().await?;
                let response = sender.send_request(request).await;
                (sender, response.map_err(|e| self.error(&e))?)
            }
        };
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| format!("runtime-relay: reading the upstream answer: {e}"))?
            .to_bytes();
        if let Some(wake) = wake {
            let woken = async {
                sender.ready().await?;
                sender.send_request(wake).await?.into_body().collect().await
            };
            // The connection is dropped (closed) if the wake fails or takes too long.
            match tokio::time::timeout(WAKE_LIMIT, woken).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    eprintln!("{}", self.error(&e));
                    return Ok(Response::from_parts(parts, Full::new(body)));
                }
                Err(_) => {
                    eprintln!("{}", self.error(&"no answer to the wake request"));
                    return Ok(Response::from_parts(parts, Full::new(body)));
                }
            }
        }
        self.give_back(sender);
        Ok(Response::from_parts(parts, Full::new(body)))
    }
}

/// Serves the relay on `listener`, forwarding every request to `upstream` (`host:port`), until the
/// task is dropped.
pub async fn serve(listener: TcpListener, upstream: String) {
    let upstream = Upstream {
        addr: upstream.into(),
        idle: Arc::default(),
    };
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                // Out of descriptors, say: let some connections finish.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let upstream = upstream.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| relay(upstream.clone(), request));
            // A function that goes away mid-request (a rebuild under watch) is not an error here.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn relay(
    upstream: Upstream,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(forward(&upstream, request).await.unwrap_or_else(|message| {
        let mut response = Response::new(Full::from(message));
        *response.status_mut() = StatusCode::BAD_GATEWAY;
        response
    }))
}

async fn forward(
    upstream: &Upstream,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, String> {
    let (mut parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|e| format!("runtime-relay: reading the function's request: {e}"))?
        .to_bytes();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    parts.uri = Uri::try_from(path).map_err(|e| format!("runtime-relay: upstream URI: {e}"))?;
    strip_hop_by_hop(&mut parts.headers);
    parts.headers.insert(
        header::HOST,
        header::HeaderValue::from_str(&upstream.addr)
            .map_err(|e| format!("runtime-relay: upstream host: {e}"))?,
    );
    let wake = (body.len() > WAKE_ABOVE_BYTES).then(|| wake_request(&parts));
    let (mut parts, body) = upstream
        .send(Request::from_parts(parts, Full::new(body)), wake)
        .await?
        .into_parts();
    strip_hop_by_hop(&mut parts.headers);
    Ok(Response::from_parts(parts, body))
}

/// A request without effect on the same path (`OPTIONS`, answered by the emulator's CORS layer)
/// that follows a request with a body on its connection.
fn wake_request(parts: &http::request::Parts) -> Request<Full<Bytes>> {
    let mut wake = Request::new(Full::new(Bytes::new()));
    *wake.method_mut() = http::Method::OPTIONS;
    *wake.uri_mut() = parts.uri.clone();
    if let Some(host) = parts.headers.get(header::HOST) {
        wake.headers_mut().insert(header::HOST, host.clone());
    }
    wake
}

/// Headers that describe one connection, not the message (those `Connection` names included):
/// each side sets its own. `Expect` goes too: the relay holds the whole body already.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|name| name.trim().to_ascii_lowercase())
        .filter(|name| !name.is_empty())
        .collect();
    for name in named {
        headers.remove(name.as_str());
    }
    for name in [
        header::CONNECTION,
        header::TRANSFER_ENCODING,
        header::CONTENT_LENGTH,
        header::TE,
        header::TRAILER,
        header::UPGRADE,
        header::PROXY_AUTHORIZATION,
        header::EXPECT,
    ] {
        headers.remove(name);
    }
    headers.remove("keep-alive");
    headers.remove("proxy-connection");
}
