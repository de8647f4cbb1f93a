//! `runtime-relay`: serves the relay (see the library) until killed.
//!
//! Environment:
//! - `RUNTIME_RELAY_ADDR`: listen address (default `127.0.0.1:9009`)
//! - `RUNTIME_RELAY_UPSTREAM`: the Runtime API it relays to, `host:port` (default
//!   `127.0.0.1:9000`, where `cargo lambda watch` serves it under `/.rt`)

use std::process::ExitCode;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let addr = std::env::var("RUNTIME_RELAY_ADDR").unwrap_or_else(|_| "127.0.0.1:9009".into());
    let upstream =
        std::env::var("RUNTIME_RELAY_UPSTREAM").unwrap_or_else(|_| "127.0.0.1:9000".into());
    match tokio::net::TcpListener::bind(&addr).await {
        Ok(listener) => {
            eprintln!("runtime-relay: {addr} -> {upstream}");
            runtime_relay::serve(listener, upstream).await;
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("runtime-relay: cannot listen on {addr}: {e}");
            ExitCode::FAILURE
        }
    }
}
