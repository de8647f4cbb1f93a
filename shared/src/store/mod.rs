//! The database side: the RDS Data API client, the tool repository and the schema migrations.

mod accounts;
mod data_api;
pub mod migrations;
mod tools;

pub use accounts::{normalize_email, AccountStore, Rotation, SessionRecord, UserRecord};
pub use data_api::{param, DataApi, Transaction, Value};
pub use tools::{DataApiToolStore, PendingInvalidation, ToolStore};

/// Errors of the database layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique key was violated (e.g. a tool name taken).
    #[error("duplicate key")]
    Duplicate,
    /// The database or the Data API is unreachable, resuming, overloaded or timed out.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database refused the statement for another reason (a bug, not the client's fault).
    #[error("database error: {0}")]
    Database(String),
    /// A stored row could not be read back.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The transaction is gone: committed by an attempt whose answer was lost, rolled back after
    /// a failed statement, or expired. Whether its changes landed must be checked.
    #[error("transaction ended: {0}")]
    TransactionEnded(String),
}
