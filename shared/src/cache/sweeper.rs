//! The cache sweeper's turn: one run at a time drains the outbox. Runs are scheduled to overlap,
//! so the next one is waiting when the last one ends (or stops renewing its lease: frozen,
//! killed), and no second goes unswept.

use std::time::Duration;

use uuid::Uuid;

use super::{CacheError, CacheService};

impl CacheService {
    /// Takes the sweeper's lease for `ttl` as `holder`, or renews it if `holder` has it already.
    /// Returns whether `holder` has it.
    pub async fn hold_sweeper_lease(
        &self,
        holder: Uuid,
        ttl: Duration,
    ) -> Result<bool, CacheError> {
        let key = self.inner.keys.sweeper_lease();
        let millis = ttl.as_millis().max(1) as u64;
        let script = &self.inner.hold_lease;
        self.run("hold_sweeper_lease", |mut c| async move {
            script
                .key(&key)
                .arg(holder.to_string())
                .arg(millis)
                .invoke_async::<i64>(&mut c)
                .await
        })
        .await
        .map(|held| held == 1)
    }

    /// Gives up the sweeper's lease if `holder` has it, so the next run takes over at once.
    pub async fn release_sweeper_lease(&self, holder: Uuid) -> Result<(), CacheError> {
        self.hold_sweeper_lease(holder, Duration::from_millis(1))
            .await
            .map(drop)
    }
}
