//! Call counters, exposed by [`crate::Emulator::stats`] and `GET /_emulator/stats`.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// A snapshot of what the emulator has done since it started.
///
/// Statement and transaction counters count calls that reached the database (not calls
/// rejected before that, e.g. by an injected fault or a malformed request).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EmulatorStats {
    /// `ExecuteStatement` calls run against the database.
    pub execute_statements: u64,
    /// `BatchExecuteStatement` calls run against the database.
    pub batch_execute_statements: u64,
    /// Transactions opened by `BeginTransaction`.
    pub transactions_begun: u64,
    /// Transactions ended by `CommitTransaction`.
    pub transactions_committed: u64,
    /// Transactions ended by `RollbackTransaction`.
    pub transactions_rolled_back: u64,
    /// Transactions rolled back because a statement in them failed (as AWS does).
    pub transactions_aborted: u64,
    /// Transactions rolled back because they were idle longer than the idle timeout.
    pub transactions_expired: u64,
    /// Transactions open right now.
    pub open_transactions: u64,
    /// Calls answered with an injected fault.
    pub injected_faults: u64,
    /// Calls that ran but whose answer was dropped by a fault rule (connection closed).
    pub dropped_responses: u64,
    /// Calls that ran and whose answer was held back by a fault rule.
    pub delayed_responses: u64,
    /// Rows the database read for `ExecuteStatement` calls while
    /// [`crate::Emulator::count_rows_read`] was on.
    pub rows_read: u64,
}

/// Live counters.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub execute_statements: AtomicU64,
    pub batch_execute_statements: AtomicU64,
    pub transactions_begun: AtomicU64,
    pub transactions_committed: AtomicU64,
    pub transactions_rolled_back: AtomicU64,
    pub transactions_aborted: AtomicU64,
    pub transactions_expired: AtomicU64,
    pub injected_faults: AtomicU64,
    pub dropped_responses: AtomicU64,
    pub delayed_responses: AtomicU64,
    pub rows_read: AtomicU64,
}

/// Adds one to a counter.
pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Stats {
    pub(crate) fn snapshot(&self, open_transactions: usize) -> EmulatorStats {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        EmulatorStats {
            execute_statements: get(&self.execute_statements),
            batch_execute_statements: get(&self.batch_execute_statements),
            transactions_begun: get(&self.transactions_begun),
            transactions_committed: get(&self.transactions_committed),
            transactions_rolled_back: get(&self.transactions_rolled_back),
            transactions_aborted: get(&self.transactions_aborted),
            transactions_expired: get(&self.transactions_expired),
            open_transactions: u64::try_from(open_transactions).unwrap_or(u64::MAX),
            injected_faults: get(&self.injected_faults),
            dropped_responses: get(&self.dropped_responses),
            delayed_responses: get(&self.delayed_responses),
            rows_read: get(&self.rows_read),
        }
    }
}
