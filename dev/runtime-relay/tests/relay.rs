//! The relay against a stand-in for cargo-lambda's runtime emulator that behaves as 1.9 does: a
//! hyper 1 server that answers a function's response POST before reading the body, and reads the
//! body later, elsewhere. Such a server reads the part of the body that did not come with the head
//! only once the connection shows activity; a function's client that leaves the connection idle
//! holds the body back.

use std::time::Duration;

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// What the emulator stand-in finally read of each body: its length, or the read error.
type Received = mpsc::UnboundedReceiver<Result<usize, String>>;

/// Serves the stand-in on an ephemeral port; returns its address and what it read.
async fn lazy_emulator() -> (String, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (sent, received) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let sent = sent.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: http::Request<hyper::body::Incoming>| {
                    let sent = sent.clone();
                    async move {
                        // Answer first, read the body later, elsewhere (as cargo-lambda 1.9 does);
                        // an OPTIONS request is answered at once, with no effect.
                        if request.method() == http::Method::OPTIONS {
                            return Ok(Response::new(Full::new(Bytes::new())));
                        }
                        tokio::spawn(async move {
                            tokio::time::sleep(Duration::from_millis(200)).await;
                            let read = request.into_body().collect().await;
                            let _ = sent
                                .send(read.map(|b| b.to_bytes().len()).map_err(|e| e.to_string()));
                        });
                        Ok::<_, std::convert::Infallible>(
                            Response::builder()
                                .status(StatusCode::ACCEPTED)
                                .header("lambda-runtime-aws-request-id", "1")
                                .body(Full::new(Bytes::from_static(b"{\"status\":\"OK\"}")))
                                .unwrap(),
                        )
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, received)
}

/// Posts `size` bytes as a function's invocation response and reads the answer's head. Returns
/// the head and the connection, which the caller keeps idle or drops, as lambda_runtime's client
/// does with a connection it has no use for.
async fn post(addr: &str, size: usize) -> (String, TcpStream) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /.rt/tools-read/2018-06-01/runtime/invocation/1/response HTTP/1.1\r\n\
         host: {addr}\r\ncontent-type: application/json\r\ncontent-length: {size}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&vec![b'x'; size]).await.unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buffer).await.unwrap();
        assert!(n > 0, "the connection closed before an answer");
        answer.extend_from_slice(&buffer[..n]);
    }
    (String::from_utf8_lossy(&answer).into_owned(), stream)
}

async fn relay_to(upstream: &str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(runtime_relay::serve(listener, upstream.to_owned()));
    addr
}

#[tokio::test]
async fn without_the_relay_an_idle_connection_holds_the_body_back() {
    let (emulator, mut received) = lazy_emulator().await;
    let (head, idle) = post(&emulator, 64 * 1024).await;
    assert!(head.starts_with("HTTP/1.1 202"), "{head}");
    let read = tokio::time::timeout(Duration::from_secs(2), received.recv()).await;
    assert!(read.is_err(), "the stand-in read the body: {read:?}");
    drop(idle);
}

#[tokio::test]
async fn through_the_relay_every_body_arrives_whole() {
    let (emulator, mut received) = lazy_emulator().await;
    let relay = relay_to(&emulator).await;
    for size in [0, 10, 10_614, 64 * 1024, 1024 * 1024] {
        for keep_idle in [true, false] {
            let (head, connection) = post(&relay, size).await;
            assert!(head.starts_with("HTTP/1.1 202"), "{head}");
            assert!(
                head.to_ascii_lowercase()
                    .contains("lambda-runtime-aws-request-id: 1"),
                "{head}"
            );
            if !keep_idle {
                drop(connection);
            }
            let read = tokio::time::timeout(Duration::from_secs(10), received.recv()).await;
            assert_eq!(read, Ok(Some(Ok(size))), "{size} bytes, idle: {keep_idle}");
        }
    }
}

#[tokio::test]
async fn an_unreachable_upstream_is_a_bad_gateway() {
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = closed.local_addr().unwrap().to_string();
    drop(closed);
    let relay = relay_to(&upstream).await;
    let (head, _) = post(&relay, 10).await;
    assert!(head.starts_with("HTTP/1.1 502"), "{head}");
}
