//! Everything the MCP tool registry's Lambda functions have in common: configuration, cache keys
//! and the Redis cache, the Data API store, the tool manager, tokens and the HTTP glue.
//!
//! See `ARCHITECTURE.md` at the repository root for the map and the invariants.

pub mod auth;
pub mod cache;
pub mod config;
pub mod http;
pub mod keys;
pub mod metrics;
pub mod store;
pub mod telemetry;
pub mod time;
pub mod tools;
