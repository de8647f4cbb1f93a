//! `CacheService`: the Redis side of the read-through cache, built so that Redis can only ever
//! cost speed: every call has a connect and a response timeout, every error is a miss, and a
//! per-instance circuit breaker skips Redis for a cool-down after consecutive failures.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Script};
use uuid::Uuid;

use crate::config::CacheConfig;
use crate::keys::{jittered, CacheKeys};
use crate::tools::ListQuery;

/// How a read was answered, as reported in `X-Cache`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheStatus {
    /// Served from Redis.
    Hit,
    /// Read from the database, then cached.
    Miss,
    /// Redis unavailable (error, timeout or open breaker): served from the database.
    Bypass,
}

impl CacheStatus {
    /// The `X-Cache` header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hit => "HIT",
            Self::Miss => "MISS",
            Self::Bypass => "BYPASS",
        }
    }
}

/// The result of a cache lookup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup<T> {
    /// The value was cached.
    Hit(T),
    /// Redis answered: not cached.
    Miss,
    /// Redis did not answer (or the breaker is open).
    Unavailable,
}

/// A cached tool: its revision and the exact JSON bytes of its response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CachedTool {
    /// The tool's revision (gives the ETag without parsing the JSON).
    pub revision: i64,
    /// The response body, as it was serialized when cached.
    pub body: Bytes,
}

impl CachedTool {
    /// Stored form: the revision in ASCII, a newline, then the JSON.
    fn encode(revision: i64, body: &[u8]) -> Vec<u8> {
        let mut value = Vec::with_capacity(body.len() + 21);
        value.extend_from_slice(revision.to_string().as_bytes());
        value.push(b'\n');
        value.extend_from_slice(body);
        value
    }

    fn decode(value: Bytes) -> Option<Self> {
        let newline = value.iter().position(|&b| b == b'\n')?;
        let revision = std::str::from_utf8(&value[..newline]).ok()?.parse().ok()?;
        Some(Self {
            revision,
            body: value.slice(newline + 1..),
        })
    }
}

/// The revision a delete leaves in the write marker: larger than any real revision, and exact
/// as a Lua number.
const DELETED_REVISION: i64 = (1 << 53) - 1;

/// Sets or deletes a tool's cached value unless a newer revision is cached or was written.
///
/// KEYS: tool key, write-marker key. ARGV: revision, value (empty = delete), value TTL,
/// marker TTL (`0` for a reader's fill, which leaves no marker).
const GUARDED_SET_LUA: &str = r"
local rev = tonumber(ARGV[1])
local marker = tonumber(redis.call('GET', KEYS[2]) or '-1')
if marker > rev then return 0 end
local cur = redis.call('GET', KEYS[1])
if cur and ARGV[2] ~= '' then
  local nl = string.find(cur, '\n', 1, true)
  local cur_rev = nl and tonumber(string.sub(cur, 1, nl - 1)) or -1
  if cur_rev >= rev then return 0 end
end
if ARGV[4] ~= '0' then redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[4]) end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3]) end
return 1
";

/// Errors from Redis, already counted; callers treat them as misses.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The breaker is open: Redis was not tried.
    #[error("circuit breaker open")]
    BreakerOpen,
    /// Connecting took longer than the connect timeout.
    #[error("timed out")]
    Timeout,
    /// Redis answered with an error, or the connection failed.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
}

/// Skips Redis after `threshold` consecutive failures, for `cooldown`; then lets one probe through.
#[derive(Debug)]
struct Breaker {
    failures: AtomicU32,
    /// Milliseconds since `epoch` until which Redis is skipped; 0 when closed.
    open_until: AtomicU64,
    epoch: Instant,
    threshold: u32,
    cooldown: Duration,
}

impl Breaker {
    fn new(threshold: u32, cooldown: Duration) -> Self {
        Self {
            failures: AtomicU32::new(0),
            open_until: AtomicU64::new(0),
            epoch: Instant::now(),
            threshold,
            cooldown,
        }
    }

    fn now(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64 + 1
    }

    /// Whether this call may use Redis. While open, after the cool-down exactly one caller wins
    /// the right to probe (and pushes the deadline on for the others).
    fn allow(&self) -> bool {
        let until = self.open_until.load(Ordering::Acquire);
        if until == 0 {
            return true;
        }
        let now = self.now();
        now >= until
            && self
                .open_until
                .compare_exchange(
                    until,
                    now + self.cooldown.as_millis() as u64,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_ok()
    }

    fn on_success(&self) {
        if self.failures.load(Ordering::Relaxed) != 0 {
            self.failures.store(0, Ordering::Relaxed);
        }
        if self.open_until.load(Ordering::Relaxed) != 0 {
            self.open_until.store(0, Ordering::Release);
            tracing::info!("redis reachable again: circuit breaker closed");
        }
    }

    fn on_failure(&self) {
        let failures = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        if failures >= self.threshold {
            let until = self.now() + self.cooldown.as_millis() as u64;
            if self.open_until.swap(until, Ordering::AcqRel) == 0 {
                tracing::warn!(failures, "redis failing: circuit breaker open");
            }
        }
    }
}

/// Counters of cache outcomes since start, for metrics and tests.
#[derive(Debug, Default)]
pub struct CacheCounters {
    /// Lookups answered from Redis.
    pub hits: AtomicU64,
    /// Lookups Redis answered with nothing.
    pub misses: AtomicU64,
    /// Lookups skipped or failed.
    pub bypasses: AtomicU64,
    /// Redis calls that failed or timed out.
    pub errors: AtomicU64,
}

/// The Redis cache of tools and list pages (and, later, sessions).
#[derive(Clone)]
pub struct CacheService {
    inner: Arc<Inner>,
}

struct Inner {
    client: Option<redis::Client>,
    connection: Mutex<Option<MultiplexedConnection>>,
    connecting: tokio::sync::Mutex<()>,
    breaker: Breaker,
    keys: CacheKeys,
    config: CacheConfig,
    guarded_set: Script,
    counters: CacheCounters,
    /// Invalidations a write could not make; replayed before this instance reads Redis again.
    pending: Mutex<PendingInvalidations>,
    has_pending: AtomicBool,
    settling: tokio::sync::Mutex<()>,
}

/// Cache changes that writes on this instance owe Redis.
#[derive(Debug, Default)]
struct PendingInvalidations {
    /// Tool id → the newest revision written (or the deleted marker).
    tools: HashMap<Uuid, i64>,
    /// Whether list pages must be retired.
    lists: bool,
}

impl CacheService {
    /// A cache over `config.redis_url`. Makes no connection yet: the first call connects, and a
    /// bad URL only means every call bypasses Redis (logged once here).
    pub fn new(config: &CacheConfig) -> Self {
        // `rediss://` (ElastiCache in-transit encryption) needs a process-wide rustls provider;
        // installing it twice is harmless.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let client = match redis::Client::open(config.redis_url.as_str()) {
            Ok(client) => Some(client),
            Err(error) => {
                tracing::error!(%error, "REDIS_URL is not usable; the cache is disabled");
                None
            }
        };
        Self {
            inner: Arc::new(Inner {
                client,
                connection: Mutex::new(None),
                connecting: tokio::sync::Mutex::new(()),
                breaker: Breaker::new(config.breaker_threshold, config.breaker_cooldown),
                keys: CacheKeys::new(config.prefix.clone()),
                config: config.clone(),
                guarded_set: Script::new(GUARDED_SET_LUA),
                counters: CacheCounters::default(),
                pending: Mutex::new(PendingInvalidations::default()),
                has_pending: AtomicBool::new(false),
                settling: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// The key builder of this cache.
    pub fn keys(&self) -> &CacheKeys {
        &self.inner.keys
    }

    /// Outcome counters since start.
    pub fn counters(&self) -> &CacheCounters {
        &self.inner.counters
    }

    async fn connection(&self) -> Result<MultiplexedConnection, CacheError> {
        if let Some(connection) = self.cached_connection() {
            return Ok(connection);
        }
        let _one_at_a_time = self.inner.connecting.lock().await;
        if let Some(connection) = self.cached_connection() {
            return Ok(connection);
        }
        let client = self.inner.client.as_ref().ok_or(CacheError::BreakerOpen)?;
        let config = &self.inner.config;
        let settings = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(config.connect_timeout))
            .set_response_timeout(Some(config.response_timeout));
        let connect = client.get_multiplexed_async_connection_with_config(&settings);
        let connection =
            tokio::time::timeout(config.connect_timeout + config.response_timeout, connect)
                .await
                .map_err(|_| CacheError::Timeout)??;
        *self.lock_connection() = Some(connection.clone());
        Ok(connection)
    }

    fn lock_connection(&self) -> std::sync::MutexGuard<'_, Option<MultiplexedConnection>> {
        self.inner
            .connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn cached_connection(&self) -> Option<MultiplexedConnection> {
        self.lock_connection().clone()
    }

    /// Runs `op` on a connection under the breaker and the timeouts; failures are counted, logged,
    /// drop the connection (the next call reconnects) and feed the breaker.
    async fn run<T, F, Fut>(&self, what: &'static str, op: F) -> Result<T, CacheError>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        if !self.inner.breaker.allow() {
            return Err(CacheError::BreakerOpen);
        }
        let result = match self.connection().await {
            Ok(connection) => {
                // The connection's response timeout bounds each reply; this bounds the whole call.
                let limit = self.inner.config.response_timeout * 2;
                match tokio::time::timeout(limit, op(connection)).await {
                    Ok(Ok(value)) => Ok(value),
                    Ok(Err(error)) => Err(CacheError::Redis(error)),
                    Err(_) => Err(CacheError::Timeout),
                }
            }
            Err(error) => Err(error),
        };
        match &result {
            Ok(_) => self.inner.breaker.on_success(),
            Err(error) => {
                self.inner.counters.errors.fetch_add(1, Ordering::Relaxed);
                crate::metrics::count_redis_error();
                self.inner.breaker.on_failure();
                *self.lock_connection() = None;
                tracing::warn!(operation = what, %error, "redis call failed; using the database");
            }
        }
        result
    }

    fn count<T>(&self, lookup: &Lookup<T>) {
        let counter = match lookup {
            Lookup::Hit(_) => &self.inner.counters.hits,
            Lookup::Miss => &self.inner.counters.misses,
            Lookup::Unavailable => &self.inner.counters.bypasses,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The cached tool `id`.
    pub async fn get_tool(&self, id: Uuid) -> Lookup<CachedTool> {
        if !self.settle_pending().await {
            self.count(&Lookup::<()>::Unavailable);
            return Lookup::Unavailable;
        }
        let key = self.inner.keys.tool(id);
        let lookup = match self.get_bytes(key, "get_tool").await {
            Lookup::Hit(value) => CachedTool::decode(value).map_or(Lookup::Miss, Lookup::Hit),
            Lookup::Miss => Lookup::Miss,
            Lookup::Unavailable => Lookup::Unavailable,
        };
        self.count(&lookup);
        lookup
    }

    /// A reader's fill after a miss: stores `body` at `revision` unless the cache already holds a
    /// newer revision or a writer marked one. Returns whether it stored.
    pub async fn fill_tool(&self, id: Uuid, revision: i64, body: &[u8]) -> bool {
        self.guarded_set(id, revision, Some(body), None)
            .await
            .unwrap_or(false)
    }

    /// A writer's publish after its commit: marks `revision` as the newest and caches `body`.
    /// On failure the invalidation is remembered and replayed before this instance next uses
    /// Redis.
    pub async fn publish_tool(
        &self,
        id: Uuid,
        revision: i64,
        body: &[u8],
    ) -> Result<(), CacheError> {
        self.settle_pending().await;
        let marker_ttl = self.inner.config.write_marker_ttl;
        let result = self
            .guarded_set(id, revision, Some(body), Some(marker_ttl))
            .await;
        if result.is_err() {
            self.remember(|p| {
                let newest = p.tools.entry(id).or_insert(revision);
                *newest = (*newest).max(revision);
            });
        }
        result.map(drop)
    }

    /// A writer's invalidation after a committed delete: removes the tool and blocks fills of any
    /// revision for the marker's lifetime. Remembered for replay on failure.
    pub async fn evict_deleted_tool(&self, id: Uuid) -> Result<(), CacheError> {
        self.settle_pending().await;
        let marker_ttl = self.inner.config.write_marker_ttl;
        let result = self
            .guarded_set(id, DELETED_REVISION, None, Some(marker_ttl))
            .await;
        if result.is_err() {
            self.remember(|p| {
                p.tools.insert(id, DELETED_REVISION);
            });
        }
        result.map(drop)
    }

    fn lock_pending(&self) -> std::sync::MutexGuard<'_, PendingInvalidations> {
        self.inner
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn remember(&self, change: impl FnOnce(&mut PendingInvalidations)) {
        change(&mut self.lock_pending());
        self.inner.has_pending.store(true, Ordering::Release);
    }

    /// Replays the invalidations this instance owes Redis. Returns `false` while some are still
    /// owed: the caller must then not read Redis, which may hold what those writes replaced.
    async fn settle_pending(&self) -> bool {
        if !self.inner.has_pending.load(Ordering::Acquire) {
            return true;
        }
        // One replay at a time: a concurrent reader waits for it rather than reading past it.
        let _one_at_a_time = self.inner.settling.lock().await;
        let owed = std::mem::take(&mut *self.lock_pending());
        let marker_ttl = Some(self.inner.config.write_marker_ttl);
        let mut left = PendingInvalidations::default();
        for (id, revision) in owed.tools {
            // Drop whatever is cached and mark the revision written, so no older fill returns.
            if self
                .guarded_set(id, revision, None, marker_ttl)
                .await
                .is_err()
            {
                left.tools.insert(id, revision);
            }
        }
        if owed.lists && self.bump_generation().await.is_err() {
            left.lists = true;
        }
        let mut pending = self.lock_pending();
        for (id, revision) in left.tools {
            let newest = pending.tools.entry(id).or_insert(revision);
            *newest = (*newest).max(revision);
        }
        pending.lists |= left.lists;
        let settled = pending.tools.is_empty() && !pending.lists;
        if settled {
            self.inner.has_pending.store(false, Ordering::Release);
            tracing::info!("replayed the cache invalidations owed since Redis failed");
        }
        settled
    }

    async fn guarded_set(
        &self,
        id: Uuid,
        revision: i64,
        body: Option<&[u8]>,
        marker_ttl: Option<Duration>,
    ) -> Result<bool, CacheError> {
        let value = body
            .map(|b| CachedTool::encode(revision, b))
            .unwrap_or_default();
        let mut invocation = self.inner.guarded_set.prepare_invoke();
        invocation
            .key(self.inner.keys.tool(id))
            .key(self.inner.keys.tool_write_marker(id))
            .arg(revision)
            .arg(value)
            .arg(jittered(self.inner.config.tool_ttl).as_secs().max(1))
            .arg(marker_ttl.map_or(0, |ttl| ttl.as_secs().max(1)));
        self.run("set_tool", |mut c| async move {
            invocation
                .invoke_async::<i64>(&mut c)
                .await
                .map(|stored| stored == 1)
        })
        .await
    }

    /// The current list generation, or `None` when Redis is unavailable.
    pub async fn list_generation(&self) -> Option<u64> {
        if !self.settle_pending().await {
            return None;
        }
        let key = self.inner.keys.list_generation();
        self.run("get_list_generation", |mut c| async move {
            redis::cmd("GET")
                .arg(&key)
                .query_async::<Option<u64>>(&mut c)
                .await
        })
        .await
        .ok()
        .map(Option::unwrap_or_default)
    }

    /// The cached page for `query` in `generation`.
    pub async fn get_list(&self, generation: u64, query: &ListQuery) -> Lookup<Bytes> {
        let key = self.inner.keys.list_page(generation, query);
        let lookup = self.get_bytes(key, "get_list").await;
        self.count(&lookup);
        lookup
    }

    /// Caches the page for `query` under `generation` (read before the database query, so a page
    /// computed before a write lands in a generation nobody reads any more).
    pub async fn set_list(&self, generation: u64, query: &ListQuery, body: &[u8]) {
        let key = self.inner.keys.list_page(generation, query);
        let ttl = jittered(self.inner.config.list_ttl).as_secs().max(1);
        let _ = self
            .run("set_list", |mut c| async move {
                redis::cmd("SET")
                    .arg(&key)
                    .arg(body)
                    .arg("EX")
                    .arg(ttl)
                    .query_async::<()>(&mut c)
                    .await
            })
            .await;
    }

    /// Invalidates every cached list page at once by bumping the generation (one `INCR`).
    /// Remembered for replay on failure.
    pub async fn invalidate_lists(&self) -> Result<(), CacheError> {
        let result = self.bump_generation().await;
        if result.is_err() {
            self.remember(|p| p.lists = true);
        }
        result
    }

    async fn bump_generation(&self) -> Result<(), CacheError> {
        let key = self.inner.keys.list_generation();
        self.run("invalidate_lists", |mut c| async move {
            redis::cmd("INCR")
                .arg(&key)
                .query_async::<u64>(&mut c)
                .await
        })
        .await
        .map(drop)
    }
}

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

    /// Caches a refresh token's record (keyed by the token's SHA-256) until `ttl`.
    pub async fn set_refresh_token(
        &self,
        token_sha256_hex: &str,
        record: &[u8],
        ttl: Duration,
    ) -> Result<(), CacheError> {
        let key = self.inner.keys.refresh_token(token_sha256_hex);
        self.set_exact(key, record, ttl, "set_refresh_token").await
    }

    /// Removes a refresh token's cached record.
    pub async fn delete_refresh_token(&self, token_sha256_hex: &str) -> Result<(), CacheError> {
        let key = self.inner.keys.refresh_token(token_sha256_hex);
        self.delete(key, "delete_refresh_token").await
    }

    /// The remaining TTL of `key` in milliseconds (`None` if absent or Redis is unavailable).
    pub async fn ttl_millis(&self, key: String) -> Option<i64> {
        self.run("pttl", |mut c| async move {
            redis::cmd("PTTL")
                .arg(&key)
                .query_async::<i64>(&mut c)
                .await
        })
        .await
        .ok()
        .filter(|ttl| *ttl >= 0)
    }

    async fn set_exact(
        &self,
        key: String,
        value: &[u8],
        ttl: Duration,
        what: &'static str,
    ) -> Result<(), CacheError> {
        let millis = ttl.as_millis().max(1) as u64;
        self.run(what, |mut c| async move {
            redis::cmd("SET")
                .arg(&key)
                .arg(value)
                .arg("PX")
                .arg(millis)
                .query_async::<()>(&mut c)
                .await
        })
        .await
    }

    async fn get_bytes(&self, key: String, what: &'static str) -> Lookup<Bytes> {
        match self
            .run(what, |mut c| async move {
                redis::cmd("GET")
                    .arg(&key)
                    .query_async::<Option<Vec<u8>>>(&mut c)
                    .await
            })
            .await
        {
            Ok(Some(value)) => Lookup::Hit(Bytes::from(value)),
            Ok(None) => Lookup::Miss,
            Err(_) => Lookup::Unavailable,
        }
    }

    async fn delete(&self, key: String, what: &'static str) -> Result<(), CacheError> {
        self.run(what, |mut c| async move {
            redis::cmd("DEL").arg(&key).query_async::<i64>(&mut c).await
        })
        .await
        .map(drop)
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

    #[test]
    fn breaker_opens_after_threshold_and_lets_one_probe_through() {
        let breaker = Breaker::new(2, Duration::from_millis(30));
        breaker.on_failure();
        assert!(breaker.allow());
        breaker.on_failure();
        assert!(!breaker.allow());
        std::thread::sleep(Duration::from_millis(40));
        assert!(breaker.allow(), "one probe after the cool-down");
        assert!(!breaker.allow(), "only one");
        breaker.on_success();
        assert!(breaker.allow());
    }
}
