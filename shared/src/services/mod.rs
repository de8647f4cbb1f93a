//! The registry's operations, on top of the cache and the store: [`ToolService`] (reads through
//! the cache, writes through the outbox) and [`AuthService`] (accounts, sessions, throttling).

pub mod auth;
mod tools;

pub use auth::{AuthError, AuthService};
pub use tools::{CommittedWrite, ReplayError, ToolBody, ToolError, ToolService};

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
