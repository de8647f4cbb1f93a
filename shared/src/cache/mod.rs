//! `CacheService`: the Redis side of the read-through cache, built so that Redis can only ever
//! cost speed: every call has a connect and a response timeout, every error is a miss, and a
//! per-instance circuit breaker skips Redis for a cool-down after consecutive failures.
//!
//! A failed call also means this instance may have missed invalidations that other instances
//! could not make either: [`CacheService::replay_owed`] says so until the owner of the outbox
//! (the tool service) has replayed the pending invalidations and called
//! [`CacheService::replayed`].

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use md5::Digest as _;
use redis::Script;
use uuid::Uuid;

use crate::config::CacheConfig;
use crate::keys::{jittered, CacheKeys};
use crate::time::Timestamp;
use crate::tools::ListQuery;

mod connection;

pub use connection::{RedisClient, RedisConnection};

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

/// A cached tool: its revision and the exact JSON bytes of its response. An empty body is a
/// cached absence (an unknown id, or a deleted tool).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CachedTool {
    /// The tool's revision (gives the ETag without parsing the JSON).
    pub revision: i64,
    /// The response body, as it was serialized when cached.
    pub body: Bytes,
}

/// A list page as cached: the exact JSON of the response and its entity tag, computed once when
/// the page was built so a hit never hashes the body again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CachedPage {
    /// The page's strong entity tag, quoted: an MD5 digest of the body.
    pub etag: String,
    /// The response body.
    pub body: Bytes,
}

impl CachedPage {
    /// A page of `body`, tagged with its digest.
    pub fn new(body: Bytes) -> Self {
        let etag = format!("\"p{}\"", crate::keys::hex(&md5::Md5::digest(&body)));
        Self { etag, body }
    }

    /// Stored form: the entity tag, a newline, then the JSON.
    fn encode(&self) -> Vec<u8> {
        let mut value = Vec::with_capacity(self.etag.len() + 1 + self.body.len());
        value.extend_from_slice(self.etag.as_bytes());
        value.push(b'\n');
        value.extend_from_slice(&self.body);
        value
    }

    fn decode(value: Bytes) -> Option<Self> {
        let newline = value.iter().position(|&b| b == b'\n')?;
        let etag = std::str::from_utf8(&value[..newline]).ok()?;
        if !(etag.len() > 2 && etag.starts_with('"') && etag.ends_with('"')) {
            return None;
        }
        Some(Self {
            etag: etag.to_owned(),
            body: value.slice(newline + 1..),
        })
    }
}

/// A page lookup from the stored bytes; a value that does not decode (written by an older
/// version, say) is a miss.
fn page_lookup(lookup: Lookup<Bytes>) -> Lookup<CachedPage> {
    match lookup {
        Lookup::Hit(value) => CachedPage::decode(value).map_or(Lookup::Miss, Lookup::Hit),
        Lookup::Miss => Lookup::Miss,
        Lookup::Unavailable => Lookup::Unavailable,
    }
}

/// What taking a fill lease on a missing key gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lease {
    /// This reader fills the key.
    Acquired,
    /// Another reader is filling it: wait for its fill.
    Held,
    /// Redis did not answer.
    Unavailable,
}

impl CachedTool {
    /// Whether this entry records that the tool does not exist.
    pub fn is_absent(&self) -> bool {
        self.body.is_empty()
    }

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

/// The revision a delete leaves in the write marker and records in the outbox: larger than any
/// real revision, and exact as a Lua number.
pub const DELETED_REVISION: i64 = (1 << 53) - 1;

/// The revision of a cached absence filled by a reader: older than any real revision.
const ABSENT_REVISION: i64 = 0;

/// Sets or evicts a tool's cached value unless a newer revision is cached or was written.
///
/// KEYS: tool key, write-marker key, fill-lease key. ARGV: revision, value (empty = evict), value
/// TTL, marker TTL (`0` for a reader's fill, which leaves no marker), the latest time (epoch ms,
/// Redis's clock) a reader's fill may land (`0`: no limit). An eviction keeps a cached value that
/// is at least as new as its revision (a replayed invalidation must not throw away what a later
/// write published). A reader's fill releases the key's lease, stored or not, so the next miss
/// need not wait for it to expire; a fill that arrives late (held in a paused Redis, say) is
/// refused, since the marker of a write made after its read may have expired by then.
const GUARDED_SET_LUA: &str = r"
if ARGV[4] == '0' then redis.call('DEL', KEYS[3]) end
if ARGV[5] ~= '0' then
  local t = redis.call('TIME')
  if tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) > tonumber(ARGV[5]) then return 0 end
end
local rev = tonumber(ARGV[1])
local marker = tonumber(redis.call('GET', KEYS[2]) or '-1')
if marker > rev then return 0 end
local keep = false
local cur = redis.call('GET', KEYS[1])
if cur then
  local nl = string.find(cur, '\n', 1, true)
  local cur_rev = nl and tonumber(string.sub(cur, 1, nl - 1)) or -1
  if cur_rev >= rev then
    if ARGV[2] ~= '' then return 0 end
    keep = true
  end
end
if ARGV[4] ~= '0' then redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[4]) end
if ARGV[2] == '' then
  if not keep then redis.call('DEL', KEYS[1]) end
else
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
end
return 1
";

/// Reads the list generation, creating it when absent (a new or restarted Redis) from the
/// current time in milliseconds, so a generation never comes back to a value used before the
/// restart, under which a reader might still store a page computed from older data.
///
/// KEYS: generation key. ARGV: now in milliseconds.
const GENERATION_LUA: &str = r"
local g = redis.call('GET', KEYS[1])
if g then return g end
redis.call('SET', KEYS[1], ARGV[1], 'NX')
return redis.call('GET', KEYS[1])
";

/// Retires every list page: increments the generation, creating it from the current time when
/// absent (see [`GENERATION_LUA`]).
///
/// KEYS: generation key. ARGV: now in milliseconds.
const BUMP_GENERATION_LUA: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SET', KEYS[1], ARGV[1]) end
return redis.call('INCR', KEYS[1])
";

/// Counts an attempt in a sliding window (a sorted set of attempts scored by Redis's clock),
/// unless the window is full. Atomic, so concurrent attempts never exceed the limit.
///
/// KEYS: the window. ARGV: window length (ms), limit, attempt id. Returns 0 when the attempt was
/// counted, else the milliseconds until the oldest attempt leaves the window.
const SLIDING_WINDOW_LUA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return math.max(1, tonumber(oldest[2]) + window - now)
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
return 0
";

/// Who stores a tool entry: a writer (leaves its revision marker for this long) or a reader
/// (leaves no marker; its fill is refused after this deadline).
#[derive(Clone, Copy, Debug)]
enum Fill {
    Writer(Duration),
    Reader(Timestamp),
}

/// How often a reader waiting for another reader's fill looks at the key again.
const LEASE_POLL: Duration = Duration::from_millis(5);

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
    /// Reads answered by another reader's fill after waiting on its lease.
    pub lease_waits: AtomicU64,
}

/// The Redis cache of tools and list pages (and, later, sessions).
#[derive(Clone)]
pub struct CacheService {
    inner: Arc<Inner>,
}

struct Inner {
    client: Option<RedisClient>,
    connection: Mutex<Option<RedisConnection>>,
    connecting: tokio::sync::Mutex<()>,
    breaker: Breaker,
    keys: CacheKeys,
    config: CacheConfig,
    guarded_set: Script,
    generation: Script,
    bump_generation: Script,
    sliding_window: Script,
    counters: CacheCounters,
    /// Redis calls that failed since start, and how many of them a replay of the outbox has
    /// covered: while they differ, this instance may hold stale entries it must not serve.
    failures: AtomicU64,
    replayed_failures: AtomicU64,
}

impl CacheService {
    /// A cache over `config.redis_url`. Makes no connection yet: the first call connects, and a
    /// bad URL only means every call bypasses Redis (logged once here).
    pub fn new(config: &CacheConfig) -> Self {
        // `rediss://` (ElastiCache in-transit encryption) needs a process-wide rustls provider;
        // installing it twice is harmless.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let client = match RedisClient::open(config) {
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
                generation: Script::new(GENERATION_LUA),
                bump_generation: Script::new(BUMP_GENERATION_LUA),
                sliding_window: Script::new(SLIDING_WINDOW_LUA),
                counters: CacheCounters::default(),
                failures: AtomicU64::new(0),
                replayed_failures: AtomicU64::new(0),
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

    /// The cache settings.
    pub fn config(&self) -> &CacheConfig {
        &self.inner.config
    }

    /// `Some(mark)` when a Redis call of this instance failed since the last replay of the
    /// outbox: Redis may hold entries that writes made meanwhile could not invalidate. Replay the
    /// pending invalidations, then pass `mark` to [`replayed`](Self::replayed).
    pub fn replay_owed(&self) -> Option<u64> {
        let failures = self.inner.failures.load(Ordering::Acquire);
        (failures != self.inner.replayed_failures.load(Ordering::Acquire)).then_some(failures)
    }

    /// Records that the outbox was replayed after the failures counted up to `mark`.
    pub fn replayed(&self, mark: u64) {
        self.inner
            .replayed_failures
            .fetch_max(mark, Ordering::AcqRel);
    }

    async fn connection(&self) -> Result<RedisConnection, CacheError> {
        if let Some(connection) = self.cached_connection() {
            return Ok(connection);
        }
        let _one_at_a_time = self.inner.connecting.lock().await;
        if let Some(connection) = self.cached_connection() {
            return Ok(connection);
        }
        let client = self.inner.client.as_ref().ok_or(CacheError::BreakerOpen)?;
        let config = &self.inner.config;
        let connect = client.connect(config);
        let connection =
            tokio::time::timeout(config.connect_timeout + config.response_timeout, connect)
                .await
                .map_err(|_| CacheError::Timeout)??;
        *self.lock_connection() = Some(connection.clone());
        Ok(connection)
    }

    fn lock_connection(&self) -> std::sync::MutexGuard<'_, Option<RedisConnection>> {
        self.inner
            .connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn cached_connection(&self) -> Option<RedisConnection> {
        self.lock_connection().clone()
    }

    /// Runs `op` on a connection under the breaker and the timeouts; failures are counted, logged,
    /// drop the connection (the next call reconnects) and feed the breaker.
    async fn run<T, F, Fut>(&self, what: &'static str, op: F) -> Result<T, CacheError>
    where
        F: FnOnce(RedisConnection) -> Fut,
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
                self.inner.failures.fetch_add(1, Ordering::AcqRel);
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

    /// The cached tool `id` (possibly a cached absence).
    pub async fn get_tool(&self, id: Uuid) -> Lookup<CachedTool> {
        let lookup = self.peek_tool(id).await;
        self.count(&lookup);
        lookup
    }

    async fn peek_tool(&self, id: Uuid) -> Lookup<CachedTool> {
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
        let found = self
            .await_fill(|| async {
                match self.peek_tool(id).await {
                    Lookup::Hit(tool) => Some(Some(tool)),
                    Lookup::Miss => None,
                    Lookup::Unavailable => Some(None),
                }
            })
            .await;
        self.count_wait(&found);
        found
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
        let value = body
            .map(|b| CachedTool::encode(revision, b))
            .unwrap_or_default();
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

    /// The current list generation, or `None` when Redis is unavailable.
    pub async fn list_generation(&self) -> Option<u64> {
        let key = self.inner.keys.list_generation();
        let now = Timestamp::now().millis();
        let script = &self.inner.generation;
        self.run("get_list_generation", |mut c| async move {
            script.key(&key).arg(now).invoke_async::<u64>(&mut c).await
        })
        .await
        .ok()
    }

    /// The cached page for `query` in `generation`.
    pub async fn get_list(&self, generation: u64, query: &ListQuery) -> Lookup<CachedPage> {
        let key = self.inner.keys.list_page(generation, query);
        let lookup = page_lookup(self.get_bytes(key, "get_list").await);
        self.count(&lookup);
        lookup
    }

    /// Takes the fill lease of the page for `query` in `generation` after a miss.
    pub async fn lease_list(&self, generation: u64, query: &ListQuery) -> Lease {
        self.lease(self.inner.keys.list_lease(generation, query))
            .await
    }

    /// Waits, up to the lease wait, for another reader to fill the page for `query`.
    pub async fn await_list(&self, generation: u64, query: &ListQuery) -> Option<CachedPage> {
        let found = self
            .await_fill(|| async {
                let key = self.inner.keys.list_page(generation, query);
                match page_lookup(self.get_bytes(key, "get_list").await) {
                    Lookup::Hit(page) => Some(Some(page)),
                    Lookup::Miss => None,
                    Lookup::Unavailable => Some(None),
                }
            })
            .await;
        self.count_wait(&found);
        found
    }

    /// Caches the page for `query` under `generation` (read before the database query, so a page
    /// computed before a write lands in a generation nobody reads any more) and releases the
    /// page's fill lease, in one round trip.
    pub async fn set_list(&self, generation: u64, query: &ListQuery, page: &CachedPage) {
        let key = self.inner.keys.list_page(generation, query);
        let value = page.encode();
        let lease = self.inner.keys.list_lease(generation, query);
        let ttl = jittered(self.inner.config.list_ttl).as_secs().max(1);
        let _ = self
            .run("set_list", |mut c| async move {
                redis::pipe()
                    .cmd("SET")
                    .arg(&key)
                    .arg(&value)
                    .arg("EX")
                    .arg(ttl)
                    .ignore()
                    .cmd("DEL")
                    .arg(&lease)
                    .ignore()
                    .query_async::<()>(&mut c)
                    .await
            })
            .await;
    }

    /// Invalidates every cached list page at once by bumping the generation (one script call).
    pub async fn invalidate_lists(&self) -> Result<(), CacheError> {
        let key = self.inner.keys.list_generation();
        let now = Timestamp::now().millis();
        let script = &self.inner.bump_generation;
        self.run("invalidate_lists", |mut c| async move {
            script.key(&key).arg(now).invoke_async::<u64>(&mut c).await
        })
        .await
        .map(drop)
    }

    async fn lease(&self, key: String) -> Lease {
        let millis = self.inner.config.lease_ttl.as_millis().max(1) as u64;
        let taken = self
            .run("lease", |mut c| async move {
                redis::cmd("SET")
                    .arg(&key)
                    .arg(1)
                    .arg("NX")
                    .arg("PX")
                    .arg(millis)
                    .query_async::<Option<String>>(&mut c)
                    .await
            })
            .await;
        match taken {
            Ok(Some(_)) => Lease::Acquired,
            Ok(None) => Lease::Held,
            Err(_) => Lease::Unavailable,
        }
    }

    /// Polls `look` every few milliseconds until it gives an answer (`Some(Some(v))`: filled;
    /// `Some(None)`: Redis failed, stop waiting) or the lease wait has passed.
    async fn await_fill<T, F, Fut>(&self, mut look: F) -> Option<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<Option<T>>>,
    {
        let deadline = Instant::now() + self.inner.config.lease_wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            tokio::time::sleep(LEASE_POLL.min(left)).await;
            if let Some(answer) = look().await {
                return answer;
            }
        }
    }

    fn count_wait<T>(&self, found: &Option<T>) {
        if found.is_some() {
            let counters = &self.inner.counters;
            counters.lease_waits.fetch_add(1, Ordering::Relaxed);
        }
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
