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

/// What Redis knows of the writes since the sweeper last drained the outbox to nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutboxActivity {
    /// Writes begun (absent counts as none).
    pub begun: i64,
    /// Writes begun as of the last drain that left nothing; `None` when never recorded, or lost.
    pub swept: Option<i64>,
    /// Whether Redis holds its watermark (a Redis that lost its data has none).
    pub has_watermark: bool,
}

impl OutboxActivity {
    /// Whether the database can hold nothing for the sweeper: no write began since the last
    /// drain that left nothing, and Redis lost nothing since.
    pub fn is_quiet(&self) -> bool {
        self.swept == Some(self.begun) && self.has_watermark
    }
}

impl CacheService {
    /// Counts a write in before its transaction begins (see [`OutboxActivity`]).
    pub async fn count_write_in(&self) -> Result<(), CacheError> {
        let key = self.inner.keys.writes_begun();
        self.run("count_write_in", |mut c| async move {
            redis::cmd("INCR")
                .arg(&key)
                .query_async::<i64>(&mut c)
                .await
        })
        .await
        .map(drop)
    }

    /// The writes begun, swept, and whether the watermark is there: one read of one slot.
    pub async fn outbox_activity(&self) -> Result<OutboxActivity, CacheError> {
        let keys = [
            self.inner.keys.writes_begun(),
            self.inner.keys.writes_swept(),
            self.inner.keys.applied_watermark(),
        ];
        let (begun, swept, watermark) = self
            .run("outbox_activity", |mut c| async move {
                redis::cmd("MGET")
                    .arg(&keys)
                    .query_async::<(Option<i64>, Option<i64>, Option<i64>)>(&mut c)
                    .await
            })
            .await?;
        Ok(OutboxActivity {
            begun: begun.unwrap_or(0),
            swept,
            has_watermark: watermark.is_some(),
        })
    }

    /// Records that a drain left nothing to apply of the writes `begun` counts.
    pub async fn mark_swept(&self, begun: i64) -> Result<(), CacheError> {
        let key = self.inner.keys.writes_swept();
        self.run("mark_swept", |mut c| async move {
            redis::cmd("SET")
                .arg(&key)
                .arg(begun)
                .query_async::<()>(&mut c)
                .await
        })
        .await
    }
}
