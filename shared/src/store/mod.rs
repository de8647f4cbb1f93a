//! The database side: the RDS Data API client, the tool and account stores (a trait each, and
//! its Data API adapter), the schema migrations and the provisioning that applies them.

mod accounts;
mod changes;
mod data_api;
pub mod error_class;
mod idempotency;
#[cfg(test)]
pub mod memory;
pub mod migrations;
mod pages;
pub mod provision;
mod search;
mod tool_index;
mod tools;
mod write_transaction;

pub use accounts::{
    AccountStore, DataApiAccountStore, FailureWindow, PublishedKey, Rotation, SessionRecord,
    UserRecord,
};
pub use data_api::{param, DataApi, Transaction, Value};
pub use idempotency::{KeyClaim, KeyedWrite};
pub use tools::{
    DataApiToolStore, Invalidation, ListPage, OutboxBacklog, ToolStore, WriteRecord,
    BACKLOG_COUNT_CAP,
};

/// Errors of the database layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique key was violated (e.g. a tool name taken).
    #[error("duplicate key")]
    Duplicate,
    /// Another request holds this idempotency key (still running, or just committed).
    #[error("the idempotency key is in use by another request")]
    KeyInUse,
    /// The database or the Data API is unreachable, resuming, overloaded or timed out.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database refused the statement for another reason (a bug, not the client's fault).
    #[error("database error: {0}")]
    Database(String),
    /// A stored row could not be read back.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The transaction is gone: committed by an attempt whose answer was lost, rolled back by a
    /// deadlock or a lost connection, or expired. Whether its changes landed must be checked.
    #[error("transaction ended: {0}")]
    TransactionEnded(String),
    /// A deadlock or a lock wait timeout: the transaction lost a race for a row lock and was (or
    /// must be) rolled back. Running it again is the cure.
    #[error("lock conflict: {0}")]
    LockConflict(String),
    /// The result exceeded the Data API's 1 MiB limit (`UnsupportedResultException`).
    #[error("result too large: {0}")]
    TooLarge(String),
    /// A table, column or index a schema statement creates exists already, or one it drops is
    /// gone: the statement ran before.
    #[error("already exists: {0}")]
    AlreadyExists(String),
    /// The database stopped the statement at its time limit (`MAX_EXECUTION_TIME`): the query
    /// reads too much of the catalogue. Running it again would do the same.
    #[error("statement time limit reached: {0}")]
    TimeLimit(String),
}

impl StoreError {
    /// Whether the transaction must be rolled back and run again from its first statement.
    pub fn must_rerun(&self) -> bool {
        matches!(self, Self::TransactionEnded(_) | Self::LockConflict(_))
    }

    /// Whether the failure is the database's passing state, not a bug: the request answers 503
    /// with `Retry-After`, and the same request later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Unavailable(_) | Self::TransactionEnded(_) | Self::LockConflict(_)
        )
    }
}
