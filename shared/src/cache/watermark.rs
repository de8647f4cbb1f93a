//! What Redis is known to hold of the outbox: a watermark (the position through which every
//! invalidation is in this Redis) and the evidence of the writes applied past it, both in the
//! generations' slot. A Redis that lost writes (restarted from an older snapshot, failed over to
//! a replica that missed them, flushed) holds an older watermark or none, and lacks their
//! evidence: the sweeper finds exactly the invalidations to apply again.

use uuid::Uuid;

use super::{CacheError, CacheService};

impl CacheService {
    /// The watermark, or `None` when this Redis has none (it is new, or was emptied).
    pub async fn applied_watermark(&self) -> Result<Option<i64>, CacheError> {
        let key = self.inner.keys.applied_watermark();
        self.run("get_watermark", |mut c| async move {
            redis::cmd("GET")
                .arg(&key)
                .query_async::<Option<i64>>(&mut c)
                .await
        })
        .await
    }

    /// For each of `writes`, whether this Redis lacks the evidence that it was applied.
    pub async fn lack_evidence(&self, writes: &[Uuid]) -> Result<Vec<bool>, CacheError> {
        if writes.is_empty() {
            return Ok(Vec::new());
        }
        let key = self.inner.keys.applied_evidence();
        let ids: Vec<String> = writes.iter().map(Uuid::to_string).collect();
        let present = self
            .run("check_evidence", |mut c| async move {
                redis::cmd("SMISMEMBER")
                    .arg(&key)
                    .arg(&ids)
                    .query_async::<Vec<bool>>(&mut c)
                    .await
            })
            .await?;
        Ok(present.into_iter().map(|present| !present).collect())
    }

    /// Moves the watermark from `from` (as read) to `to` if every one of `writes` (those between)
    /// left its evidence. Returns whether it moved.
    pub async fn advance_watermark(
        &self,
        from: Option<i64>,
        to: i64,
        writes: &[Uuid],
    ) -> Result<bool, CacheError> {
        let mut invocation = self.inner.advance_watermark.prepare_invoke();
        invocation
            .key(self.inner.keys.applied_watermark())
            .key(self.inner.keys.applied_evidence())
            .arg(from.map_or_else(String::new, |w| w.to_string()))
            .arg(to);
        for write in writes {
            invocation.arg(write.to_string());
        }
        self.run("advance_watermark", |mut c| async move {
            invocation.invoke_async::<i64>(&mut c).await
        })
        .await
        .map(|moved| moved == 1)
    }
}
