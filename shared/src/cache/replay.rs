//! What a failed Redis call leaves behind: this instance may hold entries that writes made
//! meanwhile could not invalidate, so it owes a replay of the outbox before it serves from Redis
//! again.

use std::sync::atomic::{AtomicU64, Ordering};

/// Redis calls that failed since start, and how many of them a replay of the outbox has covered:
/// while they differ, the instance must not serve from Redis.
#[derive(Debug, Default)]
pub(super) struct ReplayDebt {
    failures: AtomicU64,
    replayed: AtomicU64,
}

impl ReplayDebt {
    /// A Redis call failed.
    pub(super) fn incur(&self) {
        self.failures.fetch_add(1, Ordering::AcqRel);
    }

    /// `Some(mark)` while failures are not covered by a replay.
    pub(super) fn owed(&self) -> Option<u64> {
        let failures = self.failures.load(Ordering::Acquire);
        (failures != self.replayed.load(Ordering::Acquire)).then_some(failures)
    }

    /// A replay started after the failures counted up to `mark` finished.
    pub(super) fn paid(&self, mark: u64) {
        self.replayed.fetch_max(mark, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_is_owed_until_a_replay_started_after_it_is_paid() {
        let debt = ReplayDebt::default();
        assert_eq!(debt.owed(), None);
        debt.incur();
        let mark = debt.owed().expect("owed after a failure");
        debt.incur();
        debt.paid(mark);
        assert!(
            debt.owed().is_some(),
            "a failure after the mark is still owed"
        );
        debt.paid(debt.owed().unwrap());
        assert_eq!(debt.owed(), None);
        debt.paid(mark);
        assert_eq!(
            debt.owed(),
            None,
            "an older mark never brings the debt back"
        );
    }
}
