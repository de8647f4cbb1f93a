//! Sessions and the sliding windows of attempts (login throttling): kept until their exact
//! expiry, never jittered.

use std::time::Duration;

use bytes::Bytes;
use uuid::Uuid;

use super::{CacheError, CacheService, Lookup};

impl CacheService {
    /// Caches a session record until `ttl` (its exact time left: no jitter).
    pub async fn set_session(
        &self,
        id: Uuid,
        record: &[u8],
        ttl: Duration,
    ) -> Result<(), CacheError> {
        let key = self.inner.keys.session(id);
        self.set_exact(key, record, ttl, "set_session").await
    }

    /// The cached session record `id`.
    pub async fn get_session(&self, id: Uuid) -> Lookup<Bytes> {
        let key = self.inner.keys.session(id);
        self.get_bytes(key, "get_session").await
    }

    /// Removes the cached session `id`.
    pub async fn delete_session(&self, id: Uuid) -> Result<(), CacheError> {
        let key = self.inner.keys.session(id);
        self.delete(key, "delete_session").await
    }

    /// Counts `attempt` in the sliding window `key` of length `window` unless it already holds
    /// `limit` attempts. `Ok(None)`: counted; `Ok(Some(wait))`: refused, the window has room
    /// again after `wait`.
    pub async fn count_attempt(
        &self,
        key: String,
        window: Duration,
        limit: u32,
        attempt: &str,
    ) -> Result<Option<Duration>, CacheError> {
        let mut invocation = self.inner.sliding_window.prepare_invoke();
        invocation
            .key(key)
            .arg(window.as_millis().max(1) as u64)
            .arg(limit)
            .arg(attempt);
        let wait = self
            .run("count_attempt", |mut c| async move {
                invocation.invoke_async::<u64>(&mut c).await
            })
            .await?;
        Ok((wait > 0).then(|| Duration::from_millis(wait)))
    }

    /// Takes `attempt` back out of the window `key` (it turned out not to count).
    pub async fn forget_attempt(&self, key: String, attempt: &str) -> Result<(), CacheError> {
        let attempt = attempt.to_owned();
        self.run("forget_attempt", |mut c| async move {
            redis::cmd("ZREM")
                .arg(&key)
                .arg(&attempt)
                .query_async::<i64>(&mut c)
                .await
        })
        .await
        .map(drop)
    }

    /// Empties the window `key`.
    pub async fn clear_attempts(&self, key: String) -> Result<(), CacheError> {
        self.delete(key, "clear_attempts").await
    }
}
