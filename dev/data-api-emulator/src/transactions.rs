//! Open transactions. Each holds a dedicated connection between calls, as the Data API
//! does, and follows its rules:
//!
//! - a call on a transaction that is busy with another call fails at once with
//!   `DatabaseErrorException: Transaction is still running a query`;
//! - a statement that fails aborts (rolls back) its transaction;
//! - a transaction unused for the idle timeout is rolled back;
//! - an unknown, ended, aborted or expired transaction is `TransactionNotFoundException`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use mysql_async::Conn;
use tokio::sync::OwnedMutexGuard;

use crate::db;
use crate::error::ApiError;
use crate::stats::{bump, Stats};

/// How long the reason a transaction ended is remembered, for `TransactionNotFound` messages.
const ENDED_RETENTION: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EndReason {
    Finished,
    Aborted,
    Expired,
}

impl EndReason {
    fn message(self) -> &'static str {
        match self {
            Self::Finished => "One previous call resulted in a termination of your transaction.",
            Self::Aborted => "Transaction has been aborted due to an error from a previous call.",
            Self::Expired => "Transaction may be expired.",
        }
    }
}

type SharedConn = Arc<tokio::sync::Mutex<Option<Conn>>>;

struct Slot {
    conn: SharedConn,
    last_used: Mutex<Instant>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// The registry of open transactions.
pub(crate) struct Transactions {
    idle_timeout: Duration,
    stats: Arc<Stats>,
    open: Mutex<HashMap<String, Arc<Slot>>>,
    ended: Mutex<HashMap<String, (Instant, EndReason)>>,
}

/// Exclusive use of a transaction for one call. Dropping it marks the transaction as used.
pub(crate) struct Checkout {
    id: String,
    slot: Arc<Slot>,
    guard: OwnedMutexGuard<Option<Conn>>,
}

impl Checkout {
    /// Returns the connection to the transaction after a successful statement.
    pub(crate) fn give_back(mut self, conn: Conn) {
        *self.guard = Some(conn);
    }
}

impl Drop for Checkout {
    fn drop(&mut self) {
        *lock(&self.slot.last_used) = Instant::now();
    }
}

impl Transactions {
    pub(crate) fn new(idle_timeout: Duration, stats: Arc<Stats>) -> Self {
        Self {
            idle_timeout,
            stats,
            open: Mutex::new(HashMap::new()),
            ended: Mutex::new(HashMap::new()),
        }
    }

    /// How often the reaper should look for idle transactions.
    pub(crate) fn sweep_interval(&self) -> Duration {
        (self.idle_timeout / 4).clamp(Duration::from_millis(50), Duration::from_secs(5))
    }

    pub(crate) fn open_count(&self) -> usize {
        lock(&self.open).len()
    }

    /// Registers a connection on which `START TRANSACTION` succeeded; returns its id.
    pub(crate) fn insert(&self, conn: Conn) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        let slot = Slot {
            conn: Arc::new(tokio::sync::Mutex::new(Some(conn))),
            last_used: Mutex::new(Instant::now()),
        };
        lock(&self.open).insert(id.clone(), Arc::new(slot));
        id
    }

    fn not_found(&self, id: &str) -> ApiError {
        let reason = lock(&self.ended)
            .get(id)
            .map_or(EndReason::Expired, |&(_, reason)| reason);
        ApiError::TransactionNotFound(format!(
            "Transaction {id} is not found: {}",
            reason.message()
        ))
    }

    fn forget(&self, id: &str, reason: EndReason) {
        lock(&self.open).remove(id);
        lock(&self.ended).insert(id.to_owned(), (Instant::now(), reason));
    }

    fn lock_slot(&self, id: &str) -> Result<(Arc<Slot>, OwnedMutexGuard<Option<Conn>>), ApiError> {
        let slot = lock(&self.open).get(id).cloned();
        let slot = slot.ok_or_else(|| self.not_found(id))?;
        let guard = slot
            .conn
            .clone()
            .try_lock_owned()
            .map_err(|_| ApiError::Database("Transaction is still running a query".into()))?;
        Ok((slot, guard))
    }

    /// Takes the transaction's connection for one call.
    pub(crate) async fn checkout(&self, id: &str) -> Result<(Checkout, Conn), ApiError> {
        let (slot, mut guard) = self.lock_slot(id)?;
        if lock(&slot.last_used).elapsed() >= self.idle_timeout {
            self.forget(id, EndReason::Expired);
            bump(&self.stats.transactions_expired);
            if let Some(mut conn) = guard.take() {
                db::rollback(&mut conn).await;
            }
            return Err(self.not_found(id));
        }
        let Some(conn) = guard.take() else {
            // A previous call lost the connection without aborting: treat as aborted.
            self.forget(id, EndReason::Aborted);
            return Err(self.not_found(id));
        };
        let checkout = Checkout {
            id: id.to_owned(),
            slot,
            guard,
        };
        Ok((checkout, conn))
    }

    /// Ends a transaction after a failed call, rolling back its connection if it has it.
    pub(crate) async fn abort(&self, checkout: Checkout, conn: Option<Conn>) {
        self.forget(&checkout.id, EndReason::Aborted);
        bump(&self.stats.transactions_aborted);
        drop(checkout);
        if let Some(mut conn) = conn {
            db::rollback(&mut conn).await;
        }
    }

    /// Removes a transaction for `CommitTransaction`/`RollbackTransaction`; the caller ends
    /// it on the returned connection.
    pub(crate) fn end(&self, id: &str) -> Result<Conn, ApiError> {
        let (_slot, mut guard) = self.lock_slot(id)?;
        let conn = guard.take();
        self.forget(id, EndReason::Finished);
        conn.ok_or_else(|| self.not_found(id))
    }

    /// Removes the transactions idle for longer than the timeout (counting them as expired)
    /// and returns their connections, to be rolled back.
    pub(crate) fn take_expired(&self) -> Vec<Conn> {
        let mut expired = Vec::new();
        let mut expired_ids = Vec::new();
        lock(&self.open).retain(|id, slot| {
            if lock(&slot.last_used).elapsed() < self.idle_timeout {
                return true;
            }
            // A transaction busy with a call is not idle.
            let Ok(mut guard) = slot.conn.clone().try_lock_owned() else {
                return true;
            };
            expired.extend(guard.take());
            expired_ids.push(id.clone());
            false
        });
        for _ in &expired_ids {
            bump(&self.stats.transactions_expired);
        }
        let mut ended = lock(&self.ended);
        ended.retain(|_, (at, _)| at.elapsed() < ENDED_RETENTION);
        let now = Instant::now();
        ended.extend(
            expired_ids
                .into_iter()
                .map(|id| (id, (now, EndReason::Expired))),
        );
        expired
    }

    /// Removes every open transaction and returns the connections that are not in use.
    pub(crate) fn take_all(&self) -> Vec<Conn> {
        let slots: Vec<Arc<Slot>> = lock(&self.open).drain().map(|(_, slot)| slot).collect();
        slots
            .into_iter()
            .filter_map(|slot| slot.conn.clone().try_lock_owned().ok()?.take())
            .collect()
    }
}
