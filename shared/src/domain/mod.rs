//! The registry's vocabulary: tools and their validation (with the field rules of MCP 2025-11-25
//! and 2026-07-28), list queries, cursors and word search, the MCP shape of a list page, accounts
//! and callers, field errors, entity tags and timestamps.
//!
//! `domain` knows nothing of Redis, SQL or HTTP, and imports nothing else from this crate: every
//! other layer builds on it.

mod account;
mod error;
pub mod etag;
mod idempotency;
mod list_item;
mod mcp;
pub mod mcp_list;
mod query;
pub mod search;
mod timestamp;
mod tool;

pub use account::{normalize_email, Actor, Role};
pub use error::FieldError;
pub use idempotency::{IdempotentRequest, RequestFingerprint, MAX_KEY_LENGTH};
pub use list_item::{list_order, DeletedStatus, DeletedTool, ListItem};
pub use query::{
    Cursor, CursorCodec, ListFormat, ListQuery, Sort, SortKey, DEFAULT_LIMIT, MAX_LIMIT,
};
pub use search::Search;
pub use timestamp::Timestamp;
pub use tool::{
    is_category, is_tag, is_tool_name, Tool, ToolChanges, ToolStatus, DELETED_REVISION,
};
