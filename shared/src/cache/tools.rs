//! Tools in Redis: `"{revision}\n{json}"` under the tool key, filled by readers and published by
//! writers through one guarded script, so an older revision never replaces a newer one.

use std::time::Duration;

use bytes::Bytes;
use uuid::Uuid;

use super::keys::jittered;
use super::{CacheError, CacheService, Lease, Lookup};
use crate::domain::{Timestamp, DELETED_REVISION};

/// A cached tool: its revision and the exact JSON bytes of its response. An empty body is a
/// cached absence (an unknown id, or a deleted tool).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CachedTool {
    /// The tool's revision (gives the ETag without parsing the JSON).
    pub revision: i64,
    /// The response body, as it was serialized when cached.
    pub body: Bytes,
}

impl CachedTool {
    /// Whether this entry records that the tool does not exist.
    pub fn is_absent(&self) -> bool {
        self.body.is_empty()
    }

    /// Whether this entry records that the tool was deleted (a writer's publish of its
    /// deletion, or a reader's fill of its tombstone).
    pub fn is_deleted(&self) -> bool {
        self.is_absent() && self.revision == DELETED_REVISION
    }

    /// Stored form: the revision in ASCII, a newline, then the JSON.
    pub(super) fn encode(revision: i64, body: &[u8]) -> Vec<u8> {
        let mut value = Vec::with_capacity(body.len() + 21);
        value.extend_from_slice(revision.to_string().as_bytes());
        value.push(b'\n');
        value.extend_from_slice(body);
        value
    }

    pub(super) fn decode(value: Bytes) -> Option<Self> {
        let newline = value.iter().position(|&b| b == b'\n')?;
        let revision = std::str::from_utf8(&value[..newline]).ok()?.parse().ok()?;
        Some(Self {
            revision,
            body: value.slice(newline + 1..),
        })
    }
}

/// The revision of a cached absence filled by a reader: older than any real revision.
const ABSENT_REVISION: i64 = 0;

/// Who stores a tool entry: a writer (leaves its revision marker for this long) or a reader
/// (leaves no marker; its fill is refused after this deadline).
#[derive(Clone, Copy, Debug)]
enum Fill {
    Writer(Duration),
    Reader(Timestamp),
}

impl CacheService {
    /// The cached tool `id` (possibly a cached absence).
    pub async fn get_tool(&self, id: Uuid) -> Lookup<CachedTool> {
        let key = self.inner.keys.tool(id);
        match self.get_bytes(key, "get_tool").await {
            Lookup::Hit(value) => CachedTool::decode(value).map_or(Lookup::Miss, Lookup::Hit),
            Lookup::Miss => Lookup::Miss,
            Lookup::Unavailable => Lookup::Unavailable,
        }
    }

    /// Takes the fill lease of tool `id` after a miss (`SET NX PX`).
    pub async fn lease_tool(&self, id: Uuid) -> Lease {
        self.lease(self.inner.keys.tool_lease(id)).await
    }

    /// Waits, up to the lease wait, for another reader to fill tool `id`.
    pub async fn await_tool(&self, id: Uuid) -> Option<CachedTool> {
        self.await_fill(|| self.get_tool(id)).await
    }

    /// A reader's fill after a miss, of what it read from the database at `read_at`: stores
    /// `body` at `revision` unless the cache already holds a newer revision or a writer marked
    /// one. Returns whether it stored.
    pub async fn fill_tool(
        &self,
        id: Uuid,
        revision: i64,
        body: &[u8],
        read_at: Timestamp,
    ) -> bool {
        let ttl = jittered(self.inner.config.tool_ttl);
        let fill = Fill::Reader(self.fill_deadline(read_at));
        self.guarded_set(id, revision, Some(body), ttl, fill)
            .await
            .unwrap_or(false)
    }

    /// A reader's fill after the database said at `read_at` that tool `id` does not exist:
    /// caches the absence for the negative TTL, unless any revision of it was cached or written
    /// meanwhile.
    pub async fn fill_absent_tool(&self, id: Uuid, read_at: Timestamp) -> bool {
        let ttl = self.inner.config.negative_ttl;
        let fill = Fill::Reader(self.fill_deadline(read_at));
        self.guarded_set(id, ABSENT_REVISION, Some(b""), ttl, fill)
            .await
            .unwrap_or(false)
    }

    /// A reader's fill after the database said at `read_at` that tool `id` was deleted: caches
    /// the deletion (an absence at the deleted revision, which no fill of a revision can
    /// replace) for the negative TTL.
    pub async fn fill_deleted_tool(&self, id: Uuid, read_at: Timestamp) -> bool {
        let ttl = self.inner.config.negative_ttl;
        let fill = Fill::Reader(self.fill_deadline(read_at));
        self.guarded_set(id, DELETED_REVISION, Some(b""), ttl, fill)
            .await
            .unwrap_or(false)
    }

    /// The latest time a fill of what was read at `read_at` may land: well inside the write
    /// marker's lifetime (half of it leaves room for clock skew between function and Redis).
    fn fill_deadline(&self, read_at: Timestamp) -> Timestamp {
        read_at.plus(self.inner.config.write_marker_ttl / 2)
    }

    /// A writer's publish after its commit: marks `revision` as the newest and caches `body`.
    pub async fn publish_tool(
        &self,
        id: Uuid,
        revision: i64,
        body: &[u8],
    ) -> Result<(), CacheError> {
        let marker_ttl = self.inner.config.write_marker_ttl;
        let ttl = jittered(self.inner.config.tool_ttl);
        self.guarded_set(id, revision, Some(body), ttl, Fill::Writer(marker_ttl))
            .await
            .map(drop)
    }

    /// A writer's publish after a committed delete: caches the absence and blocks fills of any
    /// revision, both for the write marker's lifetime.
    pub async fn publish_deleted_tool(&self, id: Uuid) -> Result<(), CacheError> {
        let marker_ttl = self.inner.config.write_marker_ttl;
        self.guarded_set(
            id,
            DELETED_REVISION,
            Some(b""),
            marker_ttl,
            Fill::Writer(marker_ttl),
        )
        .await
        .map(drop)
    }

    /// A replayed invalidation of a committed write of `revision`: drops any older cached value
    /// and marks `revision` written, so no older fill can return. Harmless to repeat.
    pub async fn evict_tool(&self, id: Uuid, revision: i64) -> Result<(), CacheError> {
        let marker_ttl = self.inner.config.write_marker_ttl;
        self.guarded_set(id, revision, None, marker_ttl, Fill::Writer(marker_ttl))
            .await
            .map(drop)
    }

    async fn guarded_set(
        &self,
        id: Uuid,
        revision: i64,
        body: Option<&[u8]>,
        ttl: Duration,
        fill: Fill,
    ) -> Result<bool, CacheError> {
        let (marker_ttl, deadline) = match fill {
            Fill::Writer(marker_ttl) => (marker_ttl.as_secs().max(1), 0),
            Fill::Reader(deadline) => (0, deadline.millis()),
        };
        // An empty value asks the script to evict.
        let value = body.map_or_else(Vec::new, |b| CachedTool::encode(revision, b));
        let mut invocation = self.inner.guarded_set.prepare_invoke();
        invocation
            .key(self.inner.keys.tool(id))
            .key(self.inner.keys.tool_write_marker(id))
            .key(self.inner.keys.tool_lease(id))
            .arg(revision)
            .arg(value)
            .arg(ttl.as_secs().max(1))
            .arg(marker_ttl)
            .arg(deadline);
        self.run("set_tool", |mut c| async move {
            invocation
                .invoke_async::<i64>(&mut c)
                .await
                .map(|stored| stored == 1)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_tool_round_trips_without_touching_the_json() {
        let body = br#"{"id":"x","revision":12}"#;
        let decoded = CachedTool::decode(Bytes::from(CachedTool::encode(12, body))).unwrap();
        assert_eq!(decoded.revision, 12);
        assert_eq!(&decoded.body[..], body);
        assert_eq!(CachedTool::decode(Bytes::from_static(b"garbage")), None);
    }
}
