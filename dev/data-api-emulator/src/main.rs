//! `data-api-emulator`: serves the RDS Data API emulator until SIGINT or SIGTERM.
//!
//! Environment:
//! - `EMULATOR_ADDR`: listen address (default `127.0.0.1:8080`)
//! - `EMULATOR_MYSQL_URL`, `EMULATOR_LATENCY_MS`, `EMULATOR_TRANSACTION_IDLE_TIMEOUT_SECS`:
//!   see `EmulatorConfig::try_from_env`
//! - `EMULATOR_SECRETS_FILE`: JSON file of Secrets Manager secrets by ARN,
//!   `{"<arn>": {"username": "u", "password": "p"}, "<arn>": "text"}`; with any, Data API
//!   calls run as the user of their `secretArn` (default: none, every call runs as the
//!   URL's user). An unreadable or invalid file stops the start.
//! - `EMULATOR_STATEMENT_TIMEOUT_SECS`: call timeout (default 45)
//! - `EMULATOR_FAIL_NEXT`, `EMULATOR_FAIL_WITH`: fail the first N calls with the named error
//!   (default `ServiceUnavailableError`)
//! - `EMULATOR_UNAVAILABLE=1`: fail every call with `ServiceUnavailableError`
//!
//! Fault rules (dropped or delayed answers) are armed at run time with
//! `POST /_emulator/faults`.
//! - `RUST_LOG`: log filter (default `info`)

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use data_api_emulator::{Emulator, EmulatorConfig, InjectedError};
use tracing_subscriber::EnvFilter;

const DEFAULT_ADDR: &str = "127.0.0.1:8080";

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();

    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("data-api-emulator: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let raw_addr = std::env::var("EMULATOR_ADDR").unwrap_or_else(|_| DEFAULT_ADDR.to_owned());
    let addr: SocketAddr = raw_addr
        .parse()
        .map_err(|e| format!("EMULATOR_ADDR={raw_addr:?} is not a socket address: {e}"))?;

    let config = EmulatorConfig::try_from_env()?;
    let emulator = Emulator::new(config.clone());
    apply_env_controls(&emulator)?;

    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            format!(
                "cannot listen on {addr}: the address is already in use \
                 (is another emulator running? set EMULATOR_ADDR to use another port)"
            )
        } else {
            format!("cannot listen on {addr}: {e}")
        }
    })?;
    tracing::info!(
        %addr,
        mysql = %config.redacted_mysql_url(),
        secrets = config.secrets.len(),
        "RDS Data API emulator listening (set AWS_ENDPOINT_URL_RDS_DATA=http://{addr}, \
         AWS_ENDPOINT_URL_SECRETS_MANAGER=http://{addr})"
    );

    emulator.serve(listener, shutdown_signal()).await;
    emulator.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}

/// Applies the fault and timeout settings given in the environment.
fn apply_env_controls(emulator: &Emulator) -> Result<(), String> {
    if let Some(secs) = env_parse::<u64>("EMULATOR_STATEMENT_TIMEOUT_SECS")? {
        emulator.set_statement_timeout(Duration::from_secs(secs));
    }
    if let Some(count) = env_parse::<u32>("EMULATOR_FAIL_NEXT")? {
        let error = match std::env::var("EMULATOR_FAIL_WITH") {
            Ok(name) => InjectedError::from_name(&name)
                .ok_or_else(|| format!("EMULATOR_FAIL_WITH={name:?} is not a known error"))?,
            Err(_) => InjectedError::default(),
        };
        emulator.fail_next(count, error);
    }
    if let Ok(value) = std::env::var("EMULATOR_UNAVAILABLE") {
        emulator.set_unavailable(matches!(
            value.trim().to_ascii_lowercase().as_str(),
            "1" | "true" | "yes" | "on"
        ));
    }
    Ok(())
}

fn env_parse<T: std::str::FromStr>(name: &str) -> Result<Option<T>, String> {
    match std::env::var(name) {
        Ok(raw) => raw
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| format!("{name}={raw:?} is not a valid number")),
        Err(_) => Ok(None),
    }
}

async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}
