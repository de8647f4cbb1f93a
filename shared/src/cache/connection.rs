//! One Redis connection type for both modes: a multiplexed connection to one server, or redis-rs's
//! async cluster connection (which follows the slot map, `MOVED` and `ASK`). Everything above this
//! file talks to a [`RedisConnection`] and never knows which it is.

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{AsyncConnectionConfig, Cmd, Pipeline, RedisFuture, RedisResult, Value};

use crate::config::{CacheConfig, RedisMode};

/// How a cluster connection retries a command after `MOVED`, `ASK`, `TRYAGAIN` or a lost node:
/// once, quickly. The cache's own timeouts and breaker decide the rest (a miss costs a database
/// read, a wait costs every request).
const CLUSTER_RETRIES: u32 = 1;

/// A Redis client of either mode.
#[derive(Clone)]
#[expect(
    clippy::large_enum_variant,
    reason = "one per process, never moved in a hot path"
)]
pub enum RedisClient {
    /// One server.
    Standalone(redis::Client),
    /// A cluster, from its seed nodes.
    Cluster(ClusterClient),
}

impl RedisClient {
    /// The client `config` describes: `REDIS_URL` (in cluster mode a comma-separated list of
    /// seed nodes) in `REDIS_MODE`, with the connect and response timeouts of the cache.
    pub fn open(config: &CacheConfig) -> RedisResult<Self> {
        match config.mode {
            RedisMode::Standalone => {
                redis::Client::open(config.redis_url.as_str()).map(Self::Standalone)
            }
            RedisMode::Cluster => {
                let seeds = config
                    .redis_url
                    .split(',')
                    .map(str::trim)
                    .filter(|seed| !seed.is_empty());
                ClusterClient::builder(seeds)
                    .connection_timeout(config.connect_timeout)
                    .response_timeout(config.response_timeout)
                    .retries(CLUSTER_RETRIES)
                    .min_retry_wait(1)
                    .max_retry_wait(config.response_timeout.as_millis().max(1) as u64)
                    .build()
                    .map(Self::Cluster)
            }
        }
    }

    /// A new connection (in cluster mode: the slot map, and a connection to each node).
    pub async fn connect(&self, config: &CacheConfig) -> RedisResult<RedisConnection> {
        match self {
            Self::Standalone(client) => {
                let settings = AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(config.connect_timeout))
                    .set_response_timeout(Some(config.response_timeout));
                client
                    .get_multiplexed_async_connection_with_config(&settings)
                    .await
                    .map(RedisConnection::Standalone)
            }
            Self::Cluster(client) => client
                .get_async_connection()
                .await
                .map(RedisConnection::Cluster),
        }
    }
}

/// A connection of either mode; cheap to clone (clones share the connection).
#[derive(Clone)]
pub enum RedisConnection {
    /// To one server.
    Standalone(MultiplexedConnection),
    /// To a cluster.
    Cluster(ClusterConnection),
}

impl ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Standalone(connection) => connection.req_packed_command(cmd),
            Self::Cluster(connection) => connection.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Standalone(connection) => connection.req_packed_commands(pipeline, offset, count),
            Self::Cluster(connection) => connection.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Standalone(connection) => connection.get_db(),
            Self::Cluster(connection) => connection.get_db(),
        }
    }
}
