//! HTTP glue shared by the routers, on top of the services: problem+json errors (RFC 9457) and
//! the one mapping from service errors to statuses, request guards, responses, the route table
//! and the access log. axum is confined to this module and the function crates.

mod access_log;
mod extract;
mod problem;
mod respond;
mod routes;

pub use access_log::access_log;
pub use extract::{Authenticated, Authenticator, Client, JsonBody, OptionalJsonBody, PathId};
pub use problem::{ApiError, Problem};
pub use respond::{
    conditional, json_response, reusable_for, unchanged, with_etag, READ_CACHE_CONTROL,
};
pub use routes::{method_not_allowed, not_found, RouteTable};

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The `X-Cache` header.
pub const X_CACHE: &str = "x-cache";
