//! The MCP tool registry's core, shared by its Lambda functions. Layers, each importing only the
//! ones below it:
//!
//! - `http`: problem documents, request guards, responses, the route table, the access log.
//! - `services`: `ToolService` (reads through the cache, writes through the outbox) and
//!   `AuthService` (accounts, sessions, refresh rotation, throttling).
//! - `cache` (Redis: keys, breaker, tools, list pages, sessions) and `store` (the RDS Data API:
//!   tools, accounts, migrations), side by side, neither importing the other.
//! - `domain`: tools and their validation, list queries and cursors, accounts, field errors,
//!   entity tags, timestamps. Knows nothing of Redis, SQL or HTTP.
//! - `config`, `metrics`, `telemetry`: read at start, written on the way out.
//!
//! `ARCHITECTURE.md` at the repository root draws the layers and states their invariants.

pub mod cache;
pub mod config;
pub mod domain;
pub mod http;
pub mod metrics;
pub mod services;
pub mod store;
pub mod telemetry;
