//! The registry's operations, on top of the cache and the store: [`ToolService`] (reads through
//! the cache, writes through the outbox) and [`AuthService`] (accounts, sessions, throttling).

pub mod auth;
mod tools;

pub use auth::{AuthError, AuthService};
pub use tools::{CommittedWrite, MissBudget, ReplayError, ToolBody, ToolError, ToolService};

use crate::store::StoreError;

/// What a store failure means to a caller: the database's passing state (`unavailable`: a 503
/// with `Retry-After`) or a fault (`internal`: a 500).
fn store_failure<E>(error: StoreError, unavailable: E, internal: impl FnOnce(String) -> E) -> E {
    if error.is_transient() {
        tracing::warn!(%error, "database unavailable");
        unavailable
    } else {
        internal(error.to_string())
    }
}

/// The digest naming one subject of one kind of limit (never an email or an address in a key
/// or a row).
pub(crate) fn subject(kind: &str, value: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut digest = Sha256::new();
    digest.update(kind.as_bytes());
    digest.update([0]);
    digest.update(value.as_bytes());
    hex::encode(digest.finalize())
}

/// The address a request came from, or one shared bucket for requests without one.
pub(crate) fn address(source_ip: Option<&str>) -> &str {
    source_ip.filter(|ip| !ip.is_empty()).unwrap_or("unknown")
}
