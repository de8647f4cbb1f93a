//! `CacheService`: the Redis side of the read-through cache, built so that Redis can only ever
//! cost speed: every call has a connect and a response timeout, every error is a miss, and a
//! per-instance circuit breaker skips Redis for a cool-down after consecutive failures. A failed
//! call owes nothing afterwards: what Redis itself may have lost, the sweeper finds through the
//! [`watermark`](CacheService::applied_watermark).
//!
//! - `keys`: the only place that knows key shapes and TTL jitter; `scopes`: which list pages a
//!   write can change.
//! - `tools`, `lists`, `sessions`: what is cached, one file each; `sweeper`: whose turn it is
//!   to drain the outbox; `watermark`: what Redis is known to hold of it.
//! - `breaker`, `scripts`, `connection`: how calls reach Redis.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use redis::Script;

use crate::config::CacheConfig;

mod breaker;
mod connection;
mod keys;
mod lists;
pub mod scopes;
mod scripts;
mod sessions;
mod sweeper;
mod tools;
mod watermark;

pub use connection::{RedisClient, RedisConnection};
pub use keys::CacheKeys;
pub use lists::{CachedList, CachedPage, PageGeneration};
pub use sweeper::OutboxActivity;
pub use tools::CachedTool;

use breaker::Breaker;
use scripts::{
    ADVANCE_WATERMARK_LUA, BUMP_GENERATIONS_LUA, GUARDED_SET_LUA, HOLD_LEASE_LUA,
    READ_GENERATIONS_LUA, SLIDING_WINDOW_LUA,
};

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

impl CacheError {
    /// Whether the call failed on its connection rather than on Redis's time or state, so the
    /// next call (on a new connection: a failed call drops its own) may succeed: not a timeout,
    /// not an open breaker.
    pub fn may_succeed_on_a_new_connection(&self) -> bool {
        matches!(self, Self::Redis(error) if !error.is_timeout())
    }
}

/// The Redis side of the registry: tools, list pages, sessions and attempt windows.
#[derive(Clone)]
pub struct CacheService {
    inner: Arc<Inner>,
    /// Calls go to Redis even while the breaker is open (their failures still count).
    past_the_breaker: bool,
}

struct Inner {
    client: Option<RedisClient>,
    connection: Mutex<Option<RedisConnection>>,
    connecting: tokio::sync::Mutex<()>,
    breaker: Breaker,
    keys: CacheKeys,
    config: CacheConfig,
    guarded_set: Script,
    read_generations: Script,
    bump_generations: Script,
    advance_watermark: Script,
    sliding_window: Script,
    hold_lease: Script,
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
                read_generations: Script::new(READ_GENERATIONS_LUA),
                bump_generations: Script::new(BUMP_GENERATIONS_LUA),
                advance_watermark: Script::new(ADVANCE_WATERMARK_LUA),
                sliding_window: Script::new(SLIDING_WINDOW_LUA),
                hold_lease: Script::new(HOLD_LEASE_LUA),
            }),
            past_the_breaker: false,
        }
    }

    /// This cache (its connection, breaker and settings), calling Redis even while the breaker
    /// is open: for a committed write's publish, which must reach Redis if it can.
    pub fn past_the_breaker(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            past_the_breaker: true,
        }
    }

    /// The key builder of this cache.
    pub fn keys(&self) -> &CacheKeys {
        &self.inner.keys
    }

    /// The cache settings.
    pub fn config(&self) -> &CacheConfig {
        &self.inner.config
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
        if !self.past_the_breaker && !self.inner.breaker.allow() {
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
                crate::metrics::count_redis_error();
                self.inner.breaker.on_failure();
                *self.lock_connection() = None;
                tracing::warn!(operation = what, %error, "redis call failed; using the database");
            }
        }
        result
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

    /// Polls `look` every few milliseconds until it finds the value another reader filled, Redis
    /// fails (`None`), or the lease wait has passed (`None`).
    async fn await_fill<T, F, Fut>(&self, mut look: F) -> Option<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Lookup<T>>,
    {
        let deadline = Instant::now() + self.inner.config.lease_wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            tokio::time::sleep(LEASE_POLL.min(left)).await;
            match look().await {
                Lookup::Hit(value) => return Some(value),
                Lookup::Miss => {}
                Lookup::Unavailable => return None,
            }
        }
    }
}

/// Plain commands with the timeouts, the breaker and the failure accounting of [`CacheService::run`].
impl CacheService {
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
