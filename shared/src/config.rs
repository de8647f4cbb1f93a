//! Typed configuration, read once from the environment at init.
//!
//! Every variable has a default that matches the local stack, except on Lambda
//! (`AWS_LAMBDA_FUNCTION_NAME` set), where what names the database, Redis and the keys has none:
//! a function started without them stops at init ([`required_on_lambda`]); `make dev` sets them
//! as the SAM template does. Values out of range are refused, never clamped. See the README for
//! the table.

use std::time::Duration;

use thiserror::Error;

/// Errors raised while reading the configuration.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// A secret named by an ARN could not be read (the message never holds the secret).
    #[error("cannot read secret {arn}: {reason}")]
    Secret {
        /// The secret's ARN.
        arn: String,
        /// Why.
        reason: String,
    },
    /// A variable the function cannot start without on Lambda is unset or empty.
    #[error("{name} is not set: on Lambda nothing falls back to a development value")]
    Missing {
        /// The variable's name (or the first of those that would do).
        name: &'static str,
    },
    /// A variable is set but cannot be parsed.
    #[error("environment variable {name} has an invalid value: {reason}")]
    Invalid {
        /// The variable's name.
        name: &'static str,
        /// Why it was refused (never the value itself: it may be a secret).
        reason: String,
    },
}

/// A secret string whose `Debug` never prints the value.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret's bytes, for keying MACs.
    pub fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Redis connection and cache settings.
#[derive(Clone, Debug)]
pub struct CacheConfig {
    /// `REDIS_MODE`: `standalone` (one server, or a primary endpoint) or `cluster` (the cluster
    /// protocol: ElastiCache Serverless, or a replication group with cluster mode enabled).
    pub mode: RedisMode,
    /// `REDIS_URL`: `redis://` locally, `rediss://` on ElastiCache with in-transit encryption. In
    /// cluster mode, one or more seed nodes separated by commas (the client discovers the rest).
    pub redis_url: String,
    /// `CACHE_PREFIX`: first segment of every key, so several stacks can share one Redis.
    pub prefix: String,
    /// `TOOL_CACHE_TTL` (seconds): lifetime of one cached tool, before jitter.
    pub tool_ttl: Duration,
    /// `LIST_CACHE_TTL` (seconds): lifetime of one cached list page, before jitter.
    pub list_ttl: Duration,
    /// `MCP_LIST_TTL_SECS`: how long an MCP client or gateway may reuse a `format=mcp` page
    /// (its `ttlMs` and `Cache-Control: max-age`), at most `LIST_CACHE_TTL`.
    pub mcp_list_ttl: Duration,
    /// `REDIS_CONNECT_TIMEOUT_MS`: how long to wait for a TCP connection to Redis.
    pub connect_timeout: Duration,
    /// `REDIS_RESPONSE_TIMEOUT_MS`: how long to wait for one Redis reply.
    pub response_timeout: Duration,
    /// `REDIS_BREAKER_THRESHOLD`: consecutive failures that open the circuit breaker.
    pub breaker_threshold: u32,
    /// `REDIS_BREAKER_COOLDOWN_MS`: how long an open breaker skips Redis before probing again.
    pub breaker_cooldown: Duration,
    /// `PUBLISH_RETRY_MS`: how long a writer keeps trying to publish its committed write to a
    /// Redis that refuses it (past the breaker), within its request's budget, before leaving it
    /// to the outbox.
    pub publish_retry: Duration,
    /// `WRITE_MARKER_TTL` (seconds): how long a writer's revision marker blocks older cache fills.
    /// Must exceed the longest time a reader can spend between its database read and its fill.
    pub write_marker_ttl: Duration,
    /// `CACHE_LEASE_MS`: lifetime of the lease a reader takes on a miss, so that one reader
    /// across the fleet fills a key while the others wait for it.
    pub lease_ttl: Duration,
    /// `CACHE_LEASE_WAIT_MS`: how long a reader that found the lease taken waits for the fill
    /// before it reads the database itself.
    pub lease_wait: Duration,
    /// `NEGATIVE_CACHE_TTL` (seconds): how long an unknown tool id is cached as absent (a deleted one: `WRITE_MARKER_TTL`).
    pub negative_ttl: Duration,
}

/// How the cache talks to Redis.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RedisMode {
    /// One server (or a replication group's primary endpoint).
    #[default]
    Standalone,
    /// The cluster protocol: keys live in 16,384 slots spread over shards, and a script or a
    /// transaction may only touch keys of one slot.
    Cluster,
}

impl std::str::FromStr for RedisMode {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim().to_ascii_lowercase().as_str() {
            "standalone" => Ok(Self::Standalone),
            "cluster" => Ok(Self::Cluster),
            _ => Err("expected `standalone` or `cluster`".into()),
        }
    }
}

/// The Data API client's time budget. A request's database work must end (answer or 503) well
/// inside the Lambda timeout, leaving time to update the cache and answer.
#[derive(Clone, Debug)]
pub struct DatabaseBudget {
    /// `DB_CONNECT_TIMEOUT_MS`: TCP/TLS connect timeout of one attempt.
    pub connect_timeout: Duration,
    /// `DB_ATTEMPT_TIMEOUT_MS`: one attempt of one Data API call.
    pub attempt_timeout: Duration,
    /// `DB_MAX_ATTEMPTS`: attempts per call (the first one included), on throttling, 5xx,
    /// timeouts and lost connections.
    pub max_attempts: u32,
    /// `DB_CALL_TIMEOUT_MS`: one call, all attempts and back-off included.
    pub call_timeout: Duration,
    /// `DB_REQUEST_BUDGET_MS`: all database work of one request; past it the request answers
    /// 503 with `Retry-After`.
    pub request_budget: Duration,
}

/// Where the RDS Data API statements go.
#[derive(Clone, Debug)]
pub struct DatabaseConfig {
    /// `DB_CLUSTER_ARN`: the Aurora cluster (any ARN-shaped string for the local emulator).
    pub cluster_arn: String,
    /// `DB_SECRET_ARN`: the Secrets Manager secret holding the database credentials.
    pub secret_arn: String,
    /// `DB_NAME`: the database (schema) name.
    pub database: String,
    /// Timeouts and retries.
    pub budget: DatabaseBudget,
    /// `LIST_PAGE_BYTES`: the estimated size past which a list page stops before its `limit`
    /// (it always holds its first tool). Half the Data API's 1 MiB result limit by default, which
    /// also keeps every page far below Lambda's 6 MB response limit.
    pub list_page_bytes: u64,
    /// `LIST_TIME_LIMIT_MS`: how long the database may work on one list or search statement
    /// before it stops it (Aurora MySQL's `MAX_EXECUTION_TIME`); well under one attempt, so a
    /// query too broad for the catalogue answers 422 instead of costing an attempt's time.
    pub list_time_limit: Duration,
    /// `SEARCH_CANDIDATES`: how many tools each word of a search contributes, strongest first
    /// (a prefix's terms share one word's), before the candidates are ranked; deeper pages take
    /// as many as they go deep.
    pub search_candidates: u32,
    /// `IDEMPOTENCY_KEY_TTL_SECS`: how long a write's idempotency key answers a repeat of it
    /// (then the sweeper deletes it).
    pub idempotency_key_ttl: Duration,
    /// `TOMBSTONE_RETENTION_SECS`: how long a deleted tool's tombstone is kept (a read of it
    /// answers 410, then 404; the sweeper deletes it).
    pub tombstone_retention: Duration,
}

impl DatabaseConfig {
    /// The SDK timeouts of [`DatabaseBudget`].
    pub fn sdk_timeouts(&self) -> aws_config::timeout::TimeoutConfig {
        aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(self.budget.connect_timeout)
            .operation_attempt_timeout(self.budget.attempt_timeout)
            .operation_timeout(self.budget.call_timeout)
            .build()
    }

    /// The SDK retry policy of [`DatabaseBudget`] (standard mode: exponential back-off with
    /// jitter).
    pub fn sdk_retries(&self) -> aws_config::retry::RetryConfig {
        aws_config::retry::RetryConfig::standard()
            .with_max_attempts(self.budget.max_attempts)
            .with_initial_backoff(Duration::from_millis(50))
            .with_max_backoff(Duration::from_millis(500))
    }
}

/// The cache sweeper's schedule and the outbox's retention.
#[derive(Clone, Debug)]
pub struct SweeperConfig {
    /// `SWEEPER_POLL_MS`: pause between two drains of the outbox within one run.
    pub poll_interval: Duration,
    /// `SWEEPER_RUN_SECS`: how long one scheduled run keeps polling (at most until shortly
    /// before the function's deadline); longer than the schedule's period, so runs overlap and
    /// the next one is waiting for the lease when the last one ends.
    pub run_for: Duration,
    /// `OUTBOX_MIN_AGE_MS`: pending invalidations younger than this are left to their writer,
    /// which applies them right after its commit.
    pub min_age: Duration,
    /// `OUTBOX_RETENTION_SECS`: how long applied invalidations are kept before being pruned.
    pub retention: Duration,
    /// `SWEEPER_MODE`: whether each poll reaches the database (`steady`) or only those with a
    /// reason to (`quiet`, so an idle Aurora can pause).
    pub mode: SweeperMode,
    /// `SWEEPER_SETTLE_MS`: in the quiet mode, how long after the last write began the sweeper
    /// keeps draining before it goes quiet; longer than a write can take from its start to its
    /// commit (the functions' timeout).
    pub settle: Duration,
}

/// When the sweeper reaches the database.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SweeperMode {
    /// Every poll drains: a lost invalidation waits about one poll.
    #[default]
    Steady,
    /// A poll drains only when Redis says a write began since the last drain that found nothing
    /// left, Redis lost its record of what was applied, or this run saw Redis fail; otherwise it
    /// reads three keys in Redis and issues no statement.
    Quiet,
}

impl std::str::FromStr for SweeperMode {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim().to_ascii_lowercase().as_str() {
            "steady" => Ok(Self::Steady),
            "quiet" => Ok(Self::Quiet),
            _ => Err("expected `steady` or `quiet`".into()),
        }
    }
}

/// Access-token settings.
#[derive(Clone, Debug)]
pub struct AuthConfig {
    /// `TOKEN_SIGNING_SECRET`: what the auth function derives its Ed25519 access-token signing
    /// key from (at least 32 bytes); on AWS read at start from the Secrets Manager secret
    /// `TOKEN_SIGNING_SECRET_ARN` instead. Verifiers never hold it: they read public keys.
    pub signing_secret: Secret,
    /// `TOKEN_SIGNING_SECRET_ARN`: where [`Config::load`] reads the signing secret from.
    pub signing_secret_arn: Option<String>,
    /// `REFRESH_TOKEN_SECRET`: the auth function's key for deriving refresh-token successors and
    /// vouching for devices (at least 32 bytes); on AWS read from `REFRESH_TOKEN_SECRET_ARN`.
    pub refresh_secret: Secret,
    /// `REFRESH_TOKEN_SECRET_ARN`: where [`Config::load`] reads the refresh secret from.
    pub refresh_secret_arn: Option<String>,
    /// `JWT_ISSUER`: the `iss` claim issued and required.
    pub issuer: String,
    /// `JWT_AUDIENCE`: the `aud` claim issued and required.
    pub audience: String,
    /// `ACCESS_TOKEN_TTL` (seconds): lifetime of an access token.
    pub access_token_ttl: Duration,
    /// `SESSION_TTL` (seconds): lifetime of a session and its refresh token.
    pub session_ttl: Duration,
    /// `REFRESH_REUSE_GRACE_MS`: a rotated refresh token presented again within this time of its
    /// rotation is a lost race between two refreshes (refused); later it is theft (the session is
    /// revoked).
    pub refresh_reuse_grace: Duration,
    /// `DEVICE_TOKEN_TTL` (seconds): how long the device token of a successful login keeps its
    /// device a known place for the account (each login hands out a fresh one).
    pub device_token_ttl: Duration,
    /// `SESSION_RETENTION_SECS`: how long a session that expired or was revoked is kept (with
    /// its refresh tokens, for the reuse check) before it is deleted.
    pub session_retention: Duration,
}

/// Password-hashing cost (Argon2id, parallelism 1).
#[derive(Clone, Debug)]
pub struct PasswordConfig {
    /// `ARGON2_MEMORY_KIB`: memory cost in KiB.
    pub memory_kib: u32,
    /// `ARGON2_ITERATIONS`: time cost.
    pub iterations: u32,
}

/// Limits on failed logins and registrations (OWASP authentication cheat sheet: lock out by
/// throttling, per account and per source, the same for unknown and real accounts).
#[derive(Clone, Debug)]
pub struct ThrottleConfig {
    /// `LOGIN_MAX_FAILURES`: failed logins of one account (email) from places it has shown no
    /// device token from, all together, within the window: what strangers may guess. The next
    /// such attempt answers 429 until the oldest failure leaves the window; a login with a
    /// device token is not refused by it.
    pub login_failures_per_account: u32,
    /// `LOGIN_MAX_FAILURES_PER_PLACE`: failed logins of one account from one device (by its
    /// token) or, without one, from one address, within the window. A successful login from
    /// there resets it.
    pub login_failures_per_place: u32,
    /// `LOGIN_MAX_FAILURES_PER_ADDRESS`: failed logins from one source address within the window,
    /// whatever the accounts.
    pub login_failures_per_address: u32,
    /// `LOGIN_FAILURE_WINDOW_SECS`: the window of both login limits.
    pub login_window: Duration,
    /// `REGISTRATIONS_PER_ADDRESS`: registrations from one source address within the
    /// registration window.
    pub registrations_per_address: u32,
    /// `REGISTRATION_WINDOW_SECS`: the window of the registration limit.
    pub registration_window: Duration,
    /// `LIST_MISS_BURST`: list requests from one source address that the cache could not answer
    /// (each costs a database statement), in a burst; beyond it 429. Hits are never counted.
    pub list_miss_burst: u32,
    /// `LIST_MISS_RATE`: such requests per second and address, sustained: the burst refills at
    /// this rate (a sliding window of `LIST_MISS_BURST / LIST_MISS_RATE` seconds).
    pub list_miss_rate: u32,
}

/// The whole configuration of a function.
#[derive(Clone, Debug)]
pub struct Config {
    /// Redis and cache settings.
    pub cache: CacheConfig,
    /// Data API settings.
    pub database: DatabaseConfig,
    /// Token settings.
    pub auth: AuthConfig,
    /// Password hashing.
    pub passwords: PasswordConfig,
    /// The cache sweeper.
    pub sweeper: SweeperConfig,
    /// Login and registration limits.
    pub throttle: ThrottleConfig,
    /// `CURSOR_SECRET`: the key list cursors are signed with (tools-read's own, at least 32
    /// bytes); on AWS read at start from the secret `CURSOR_SECRET_ARN` instead.
    pub cursor_secret: Secret,
    /// `CURSOR_SECRET_ARN`: where [`Config::load`] reads the cursor key from.
    pub cursor_secret_arn: Option<String>,
    /// `REQUEST_DEADLINE_MS`: the most any request of the API may take, its session check, its
    /// database chain and its cache work included; past it, 503 with `Retry-After`, inside the
    /// Lambda timeout. Longer than `DB_REQUEST_BUDGET_MS`, which ends the database work first
    /// when it can end it cleanly.
    pub request_deadline: Duration,
}

/// The signing secret used when `TOKEN_SIGNING_SECRET` is unset: only acceptable locally, so it
/// says so.
pub const DEV_SIGNING_SECRET: &str = "local-token-signing-secret-change-me-0123456789";

/// The refresh secret used when `REFRESH_TOKEN_SECRET` is unset (locally only).
pub const DEV_REFRESH_SECRET: &str = "local-refresh-token-secret-change-me-0123456789";

/// The cursor-signing key used when `CURSOR_SECRET` is unset: only acceptable locally.
pub const DEV_CURSOR_SECRET: &str = "local-cursor-signing-key-change-me-0123456789";

/// The process a configuration is for. Each function reaches the database as a user of its own,
/// with only the rights it needs, and loads only the keys it uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Function {
    /// `GET /tools`, `GET /tools/{id}`.
    ToolsRead,
    /// `POST /tools`, `PATCH` and `DELETE /tools/{id}`.
    ToolsWrite,
    /// `/auth/*`.
    Auth,
    /// The scheduled outbox sweeper.
    CacheSweeper,
    /// The database's administrator: `mcp-admin` (migrations, seed, import) locally, the
    /// schema-migrator function (migrations at each deploy) on Lambda.
    Admin,
}

impl Function {
    /// The four Lambda functions.
    pub const LAMBDAS: [Self; 4] = [
        Self::ToolsRead,
        Self::ToolsWrite,
        Self::Auth,
        Self::CacheSweeper,
    ];

    /// The function's name, as in the workspace and the template.
    pub fn name(self) -> &'static str {
        match self {
            Self::ToolsRead => "tools-read",
            Self::ToolsWrite => "tools-write",
            Self::Auth => "auth",
            Self::CacheSweeper => "cache-sweeper",
            Self::Admin => "admin",
        }
    }

    /// Whether it signs access tokens (and derives refresh tokens): the auth function alone
    /// holds those secrets. Verifiers need none: they read the published public keys.
    pub fn issues_tokens(self) -> bool {
        self == Self::Auth
    }

    /// The variables this function cannot start without on Lambda: each entry is satisfied by
    /// any one of its names (a key, or the ARN of the secret holding it).
    fn required_on_lambda(self) -> Vec<&'static [&'static str]> {
        let mut required: Vec<&'static [&'static str]> =
            vec![&["DB_CLUSTER_ARN"], &["DB_SECRET_ARN"]];
        if self == Self::Admin {
            // The administrator sets each function's database password: it reads them all.
            required.extend([
                &["TOOLS_READ_DB_SECRET_ARN"][..],
                &["TOOLS_WRITE_DB_SECRET_ARN"],
                &["AUTH_DB_SECRET_ARN"],
                &["CACHE_SWEEPER_DB_SECRET_ARN"],
            ]);
            return required;
        }
        required.push(&["REDIS_URL"]);
        if self.issues_tokens() {
            required.push(&["TOKEN_SIGNING_SECRET_ARN", "TOKEN_SIGNING_SECRET"]);
            required.push(&["REFRESH_TOKEN_SECRET_ARN", "REFRESH_TOKEN_SECRET"]);
        }
        if self == Self::ToolsRead {
            required.push(&["CURSOR_SECRET_ARN", "CURSOR_SECRET"]);
        }
        required
    }

    /// Settings whose default differs for this function. mcp-admin's statements (a migration on
    /// a large catalogue, a bulk import's batch on a cold buffer pool) may take as long as one
    /// Data API call may run (45 s), not the share of a request a function gives one.
    fn own_defaults(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Self::Admin => &[
                ("DB_ATTEMPT_TIMEOUT_MS", "45000"),
                ("DB_CALL_TIMEOUT_MS", "100000"),
            ],
            _ => &[],
        }
    }

    /// The variable that names this function's database secret in the administrator's
    /// environment, which sets the passwords of all of them.
    pub fn database_secret_variable(self) -> &'static str {
        match self {
            Self::ToolsRead => "TOOLS_READ_DB_SECRET_ARN",
            Self::ToolsWrite => "TOOLS_WRITE_DB_SECRET_ARN",
            Self::Auth => "AUTH_DB_SECRET_ARN",
            Self::CacheSweeper => "CACHE_SWEEPER_DB_SECRET_ARN",
            Self::Admin => "DB_SECRET_ARN",
        }
    }

    /// The local stack's secret of its database credentials (`dev/secrets.json`), used when
    /// `DB_SECRET_ARN` is unset.
    pub fn local_secret_arn(self) -> String {
        let base = "arn:aws:secretsmanager:us-east-1:123456789012:secret:local";
        match self {
            Self::Admin => base.to_owned(),
            other => format!("{base}-{}", other.name()),
        }
    }
}

impl Config {
    /// Reads the configuration of `function` from the process environment (without fetching
    /// secrets). Off Lambda, without `DB_SECRET_ARN` it uses the function's own local database
    /// user; on Lambda it refuses to start without what [`Function::required_on_lambda`] names.
    pub fn from_env(function: Function) -> Result<Self, ConfigError> {
        let on_lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
        Self::for_function(function, on_lambda, |name| std::env::var(name).ok())
    }

    /// [`from_env`](Self::from_env) over `lookup`.
    fn for_function(
        function: Function,
        on_lambda: bool,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let set = |name: &str| lookup(name).filter(|v| !v.is_empty());
        if on_lambda {
            for names in function.required_on_lambda() {
                if !names.iter().any(|name| set(name).is_some()) {
                    return Err(ConfigError::Missing { name: names[0] });
                }
            }
        }
        let defaults = function.own_defaults();
        let mut config = Self::from_lookup(|name| {
            lookup(name).or_else(|| {
                defaults
                    .iter()
                    .find(|(default, _)| *default == name)
                    .map(|(_, value)| (*value).to_owned())
            })
        })?;
        if set("DB_SECRET_ARN").is_none() {
            config.database.secret_arn = function.local_secret_arn();
        }
        Ok(config)
    }

    /// The configuration of `function` at start: the environment, plus the signing keys it uses
    /// from Secrets Manager when their ARNs are set (`TOKEN_SIGNING_SECRET_ARN` and
    /// `REFRESH_TOKEN_SECRET_ARN` for auth, `CURSOR_SECRET_ARN` for tools-read).
    pub async fn load(function: Function) -> Result<Self, ConfigError> {
        let loaded = Self::load_secrets(function).await;
        if let Err(error) = &loaded {
            tracing::error!(%error, "configuration refused; the function stops");
        }
        loaded
    }

    async fn load_secrets(function: Function) -> Result<Self, ConfigError> {
        let mut config = Self::from_env(function)?;
        let issues = function.issues_tokens();
        let wanted = [
            (issues, config.auth.signing_secret_arn.clone()),
            (issues, config.auth.refresh_secret_arn.clone()),
            (
                function == Function::ToolsRead,
                config.cursor_secret_arn.clone(),
            ),
        ];
        if wanted.iter().any(|(uses, arn)| *uses && arn.is_some()) {
            let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
                .load()
                .await;
            let client = aws_sdk_secretsmanager::Client::new(&sdk);
            let [signing, refresh, cursor] = wanted;
            if let (true, Some(arn)) = signing {
                config.auth.signing_secret = signing_key(&client, &arn).await?;
            }
            if let (true, Some(arn)) = refresh {
                config.auth.refresh_secret = signing_key(&client, &arn).await?;
            }
            if let (true, Some(arn)) = cursor {
                config.cursor_secret = signing_key(&client, &arn).await?;
            }
        }
        if issues
            && config.auth.signing_secret_arn.is_none()
            && std::env::var_os("TOKEN_SIGNING_SECRET").is_none()
        {
            tracing::warn!(
                "TOKEN_SIGNING_SECRET and TOKEN_SIGNING_SECRET_ARN unset: using the local development key"
            );
        }
        Ok(config)
    }

    /// Reads the configuration through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(&lookup);
        let signing_secret = env.key("TOKEN_SIGNING_SECRET", DEV_SIGNING_SECRET)?;
        let refresh_secret = env.key("REFRESH_TOKEN_SECRET", DEV_REFRESH_SECRET)?;
        let cursor_secret = env.key("CURSOR_SECRET", DEV_CURSOR_SECRET)?;
        let mut config = Self {
            cache: CacheConfig {
                mode: env.parsed("REDIS_MODE", RedisMode::Standalone)?,
                redis_url: env.string("REDIS_URL", "redis://127.0.0.1:6379"),
                prefix: env.prefix("CACHE_PREFIX", "mcp")?,
                tool_ttl: env.seconds("TOOL_CACHE_TTL", 3600)?,
                list_ttl: env.seconds("LIST_CACHE_TTL", 300)?,
                mcp_list_ttl: env.seconds("MCP_LIST_TTL_SECS", 60)?,
                connect_timeout: env.millis("REDIS_CONNECT_TIMEOUT_MS", 100)?,
                response_timeout: env.millis("REDIS_RESPONSE_TIMEOUT_MS", 50)?,
                breaker_threshold: env.number_in("REDIS_BREAKER_THRESHOLD", 3, 1..=1_000)? as u32,
                breaker_cooldown: env.millis("REDIS_BREAKER_COOLDOWN_MS", 2000)?,
                publish_retry: env.millis("PUBLISH_RETRY_MS", 2000)?,
                write_marker_ttl: env.seconds("WRITE_MARKER_TTL", 120)?,
                lease_ttl: env.millis("CACHE_LEASE_MS", 300)?,
                lease_wait: env.millis("CACHE_LEASE_WAIT_MS", 50)?,
                negative_ttl: env.seconds("NEGATIVE_CACHE_TTL", 30)?,
            },
            database: DatabaseConfig {
                cluster_arn: env.string(
                    "DB_CLUSTER_ARN",
                    "arn:aws:rds:us-east-1:123456789012:cluster:local",
                ),
                secret_arn: env.string(
                    "DB_SECRET_ARN",
                    "arn:aws:secretsmanager:us-east-1:123456789012:secret:local",
                ),
                database: env.string("DB_NAME", "mcp"),
                budget: DatabaseBudget {
                    connect_timeout: env.millis("DB_CONNECT_TIMEOUT_MS", 1_000)?,
                    attempt_timeout: env.millis("DB_ATTEMPT_TIMEOUT_MS", 2_500)?,
                    max_attempts: env.number_in("DB_MAX_ATTEMPTS", 3, 1..=10)? as u32,
                    call_timeout: env.millis("DB_CALL_TIMEOUT_MS", 5_000)?,
                    request_budget: env.millis("DB_REQUEST_BUDGET_MS", 7_000)?,
                },
                list_page_bytes: env.number("LIST_PAGE_BYTES", 512 * 1024)?,
                list_time_limit: Duration::from_millis(env.number_in(
                    "LIST_TIME_LIMIT_MS",
                    1_000,
                    10..=60_000,
                )?),
                search_candidates: env.number_in("SEARCH_CANDIDATES", 200, 1..=100_000)? as u32,
                idempotency_key_ttl: Duration::from_secs(env.number_in(
                    "IDEMPOTENCY_KEY_TTL_SECS",
                    86_400,
                    60..=31_536_000,
                )?),
                tombstone_retention: Duration::from_secs(env.number_in(
                    "TOMBSTONE_RETENTION_SECS",
                    2_592_000,
                    60..=315_360_000,
                )?),
            },
            auth: AuthConfig {
                signing_secret,
                signing_secret_arn: (lookup)("TOKEN_SIGNING_SECRET_ARN").filter(|v| !v.is_empty()),
                refresh_secret,
                refresh_secret_arn: (lookup)("REFRESH_TOKEN_SECRET_ARN").filter(|v| !v.is_empty()),
                issuer: env.string("JWT_ISSUER", "mcp-registry"),
                audience: env.string("JWT_AUDIENCE", "mcp-registry-api"),
                access_token_ttl: env.seconds("ACCESS_TOKEN_TTL", 900)?,
                session_ttl: env.seconds("SESSION_TTL", 604_800)?,
                refresh_reuse_grace: env.millis("REFRESH_REUSE_GRACE_MS", 2_000)?,
                device_token_ttl: env.seconds("DEVICE_TOKEN_TTL", 15_552_000)?,
                session_retention: env.seconds("SESSION_RETENTION_SECS", 2_592_000)?,
            },
            passwords: PasswordConfig {
                memory_kib: env.number_in("ARGON2_MEMORY_KIB", 19_456, 8..=1 << 22)? as u32,
                iterations: env.number_in("ARGON2_ITERATIONS", 2, 1..=64)? as u32,
            },
            sweeper: SweeperConfig {
                poll_interval: env.millis("SWEEPER_POLL_MS", 1_000)?,
                run_for: env.seconds("SWEEPER_RUN_SECS", 70)?,
                min_age: env.millis("OUTBOX_MIN_AGE_MS", 1_000)?,
                retention: env.seconds("OUTBOX_RETENTION_SECS", 3_600)?,
                mode: env.parsed("SWEEPER_MODE", SweeperMode::Steady)?,
                settle: env.millis("SWEEPER_SETTLE_MS", 60_000)?,
            },
            throttle: ThrottleConfig {
                login_failures_per_account: env.count("LOGIN_MAX_FAILURES", 10)?,
                login_failures_per_place: env.count("LOGIN_MAX_FAILURES_PER_PLACE", 5)?,
                login_failures_per_address: env.count("LOGIN_MAX_FAILURES_PER_ADDRESS", 100)?,
                login_window: env.seconds("LOGIN_FAILURE_WINDOW_SECS", 900)?,
                registrations_per_address: env.count("REGISTRATIONS_PER_ADDRESS", 20)?,
                registration_window: env.seconds("REGISTRATION_WINDOW_SECS", 3_600)?,
                list_miss_burst: env.count("LIST_MISS_BURST", 100)?,
                list_miss_rate: env.count("LIST_MISS_RATE", 10)?,
            },
            cursor_secret,
            cursor_secret_arn: (lookup)("CURSOR_SECRET_ARN").filter(|v| !v.is_empty()),
            request_deadline: env.millis("REQUEST_DEADLINE_MS", 9_000)?,
        };
        if config.database.budget.request_budget >= config.request_deadline {
            return Err(ConfigError::Invalid {
                name: "REQUEST_DEADLINE_MS",
                reason: "must be longer than DB_REQUEST_BUDGET_MS".into(),
            });
        }
        // A client may not trust a page longer than the registry keeps one (docs/api.md,
        // "MCP-shaped pages"): unset, the figure follows a shorter LIST_CACHE_TTL down; set, it
        // must fit under it.
        if (lookup)("MCP_LIST_TTL_SECS").is_none_or(|v| v.is_empty()) {
            config.cache.mcp_list_ttl = config.cache.mcp_list_ttl.min(config.cache.list_ttl);
        }
        if config.cache.mcp_list_ttl > config.cache.list_ttl {
            return Err(ConfigError::Invalid {
                name: "MCP_LIST_TTL_SECS",
                reason: "must not exceed LIST_CACHE_TTL".into(),
            });
        }
        if config.database.list_time_limit >= config.database.budget.attempt_timeout {
            return Err(ConfigError::Invalid {
                name: "LIST_TIME_LIMIT_MS",
                reason: "must be shorter than DB_ATTEMPT_TIMEOUT_MS".into(),
            });
        }
        Ok(config)
    }
}

/// Reads a signing key (at least 32 bytes) from Secrets Manager.
async fn signing_key(
    client: &aws_sdk_secretsmanager::Client,
    arn: &str,
) -> Result<Secret, ConfigError> {
    let failed = |reason: String| ConfigError::Secret {
        arn: arn.to_owned(),
        reason,
    };
    let secret = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| failed(aws_sdk_secretsmanager::error::DisplayErrorContext(&e).to_string()))?
        .secret_string
        .ok_or_else(|| failed("not a string secret".into()))?;
    if secret.len() < 32 {
        return Err(failed("shorter than 32 bytes".into()));
    }
    Ok(Secret::new(secret))
}

struct Env<'a, F: Fn(&str) -> Option<String>>(&'a F);

impl<F: Fn(&str) -> Option<String>> Env<'_, F> {
    fn string(&self, name: &'static str, default: &str) -> String {
        (self.0)(name)
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| default.to_owned())
    }

    fn number(&self, name: &'static str, default: u64) -> Result<u64, ConfigError> {
        match (self.0)(name).filter(|v| !v.is_empty()) {
            None => Ok(default),
            Some(v) => v.trim().parse().map_err(|_| ConfigError::Invalid {
                name,
                reason: "expected a non-negative integer".into(),
            }),
        }
    }

    /// A number within `range` (refused outside it, never moved into it).
    fn number_in(
        &self,
        name: &'static str,
        default: u64,
        range: std::ops::RangeInclusive<u64>,
    ) -> Result<u64, ConfigError> {
        let value = self.number(name, default)?;
        if range.contains(&value) {
            Ok(value)
        } else {
            Err(ConfigError::Invalid {
                name,
                reason: format!("must be from {} to {}", range.start(), range.end()),
            })
        }
    }

    /// A key prefix: no braces, which would make it every key's hash tag (all keys in one
    /// cluster slot).
    fn prefix(&self, name: &'static str, default: &str) -> Result<String, ConfigError> {
        let prefix = self.string(name, default);
        if prefix.contains(['{', '}']) {
            return Err(ConfigError::Invalid {
                name,
                reason: "must not contain `{` or `}`".into(),
            });
        }
        Ok(prefix)
    }

    /// A value of a type that parses itself (its error says what was expected).
    fn parsed<T: std::str::FromStr<Err = String>>(
        &self,
        name: &'static str,
        default: T,
    ) -> Result<T, ConfigError> {
        match (self.0)(name).filter(|v| !v.is_empty()) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|reason| ConfigError::Invalid { name, reason }),
        }
    }

    /// A signing key of at least 32 bytes.
    fn key(&self, name: &'static str, default: &str) -> Result<Secret, ConfigError> {
        let key = self.string(name, default);
        if key.len() < 32 {
            return Err(ConfigError::Invalid {
                name,
                reason: "must be at least 32 bytes".into(),
            });
        }
        Ok(Secret::new(key))
    }

    /// A positive count that fits a `u32`.
    fn count(&self, name: &'static str, default: u32) -> Result<u32, ConfigError> {
        let n = self.number(name, u64::from(default))?;
        u32::try_from(n)
            .ok()
            .filter(|n| *n > 0)
            .ok_or(ConfigError::Invalid {
                name,
                reason: "expected a count from 1 to 4294967295".into(),
            })
    }

    fn seconds(&self, name: &'static str, default: u64) -> Result<Duration, ConfigError> {
        self.number(name, default).map(Duration::from_secs)
    }

    fn millis(&self, name: &'static str, default: u64) -> Result<Duration, ConfigError> {
        self.number(name, default).map(Duration::from_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2_costs_out_of_range_are_refused_not_moved() {
        for (name, value) in [
            ("ARGON2_MEMORY_KIB", "4"),
            ("ARGON2_ITERATIONS", "0"),
            ("ARGON2_ITERATIONS", "65"),
        ] {
            let refused = Config::from_lookup(|n| (n == name).then(|| value.to_owned()));
            assert!(
                matches!(refused, Err(ConfigError::Invalid { name: n, .. }) if n == name),
                "{name}={value}"
            );
        }
    }

    #[test]
    fn counts_out_of_range_are_refused_not_moved() {
        for (name, value) in [("REDIS_BREAKER_THRESHOLD", "0"), ("DB_MAX_ATTEMPTS", "11")] {
            let refused = Config::from_lookup(|n| (n == name).then(|| value.to_owned()));
            assert!(
                matches!(refused, Err(ConfigError::Invalid { name: n, .. }) if n == name),
                "{name}={value}"
            );
        }
    }

    /// What the SAM template sets for `function`.
    fn deployed(function: Function) -> Vec<(&'static str, &'static str)> {
        let mut vars = vec![
            ("DB_CLUSTER_ARN", "arn:aws:rds:eu-west-1:1:cluster:registry"),
            (
                "DB_SECRET_ARN",
                "arn:aws:secretsmanager:eu-west-1:1:secret:db",
            ),
        ];
        if function == Function::Admin {
            for lambda in Function::LAMBDAS {
                vars.push((
                    lambda.database_secret_variable(),
                    "arn:aws:secretsmanager:eu-west-1:1:secret:fn",
                ));
            }
            return vars;
        }
        vars.push(("REDIS_URL", "rediss://cache:6379"));
        if function.issues_tokens() {
            vars.push((
                "TOKEN_SIGNING_SECRET_ARN",
                "arn:aws:secretsmanager:eu-west-1:1:secret:signing",
            ));
            vars.push((
                "REFRESH_TOKEN_SECRET_ARN",
                "arn:aws:secretsmanager:eu-west-1:1:secret:refresh",
            ));
        }
        if function == Function::ToolsRead {
            vars.push((
                "CURSOR_SECRET_ARN",
                "arn:aws:secretsmanager:eu-west-1:1:secret:c",
            ));
        }
        vars
    }

    #[test]
    fn on_lambda_nothing_falls_back_to_a_development_value() {
        for function in Function::LAMBDAS.into_iter().chain([Function::Admin]) {
            let vars = deployed(function);
            let lookup = |vars: Vec<(&'static str, &'static str)>| {
                move |name: &str| {
                    vars.iter()
                        .find(|(n, _)| *n == name)
                        .map(|(_, v)| (*v).to_owned())
                }
            };
            let config = Config::for_function(function, true, lookup(vars.clone()))
                .unwrap_or_else(|e| panic!("{function:?}: {e}"));
            assert_eq!(config.database.secret_arn, vars[1].1);
            for (missing, _) in &vars {
                for unset in [None, Some("")] {
                    let mut without: Vec<_> =
                        vars.iter().filter(|(n, _)| n != missing).copied().collect();
                    if let Some(empty) = unset {
                        without.push((missing, empty));
                    }
                    let refused = Config::for_function(function, true, lookup(without));
                    assert!(
                        matches!(&refused, Err(ConfigError::Missing { name }) if name == missing),
                        "{function:?} without {missing}: {refused:?}"
                    );
                }
            }
            let local = Config::for_function(function, false, |_| None).unwrap();
            assert_eq!(local.database.secret_arn, function.local_secret_arn());
        }
        // A key given directly stands in for its secret's ARN (as `make dev` gives them).
        let direct = |name: &str| match name {
            "DB_CLUSTER_ARN" | "DB_SECRET_ARN" | "REDIS_URL" => Some("set".to_owned()),
            "TOKEN_SIGNING_SECRET" => Some(DEV_SIGNING_SECRET.to_owned()),
            "REFRESH_TOKEN_SECRET" => Some(DEV_REFRESH_SECRET.to_owned()),
            _ => None,
        };
        assert!(Config::for_function(Function::Auth, true, direct).is_ok());
    }

    #[test]
    fn defaults_match_the_design() {
        let config = Config::from_lookup(|_| None).unwrap();
        assert_eq!(config.cache.tool_ttl, Duration::from_secs(3600));
        assert_eq!(config.cache.list_ttl, Duration::from_secs(300));
        assert_eq!(config.auth.session_ttl, Duration::from_secs(604_800));
        assert_eq!(config.cache.connect_timeout, Duration::from_millis(100));
        assert_eq!(config.cache.response_timeout, Duration::from_millis(50));
        assert_eq!(config.cache.mode, RedisMode::Standalone);
    }

    #[test]
    fn redis_mode_is_standalone_or_cluster_and_nothing_else() {
        let mode = |value: &'static str| {
            Config::from_lookup(move |name| (name == "REDIS_MODE").then(|| value.to_owned()))
                .map(|config| config.cache.mode)
        };
        assert_eq!(mode("cluster").unwrap(), RedisMode::Cluster);
        assert_eq!(mode(" Cluster ").unwrap(), RedisMode::Cluster);
        assert_eq!(mode("standalone").unwrap(), RedisMode::Standalone);
        let refused = mode("sentinel").unwrap_err().to_string();
        assert!(refused.contains("REDIS_MODE"), "{refused}");
        let braced = Config::from_lookup(|name| (name == "CACHE_PREFIX").then(|| "a{b}".into()));
        assert!(
            braced.is_err(),
            "a braced prefix would put every key in one slot"
        );
    }

    #[test]
    fn the_database_budget_fits_the_lambda_timeout() {
        // template.yaml gives the API functions 10 s; the README's budget table explains it.
        let lambda_timeout = Duration::from_secs(10);
        let config = Config::from_lookup(|_| None).unwrap();
        let db = &config.database.budget;
        assert!(db.call_timeout <= db.request_budget);
        assert!(db.attempt_timeout < db.call_timeout);
        let redis_publish = (config.cache.connect_timeout + config.cache.response_timeout * 2) * 3;
        assert!(
            db.request_budget + redis_publish + Duration::from_secs(2) <= lambda_timeout,
            "database budget {:?} + cache {:?} leaves too little of {:?}",
            db.request_budget,
            redis_publish,
            lambda_timeout
        );
        // The deadline answers the 503 with time left to send it.
        assert!(config.request_deadline + Duration::from_millis(500) <= lambda_timeout);
        assert!(db.request_budget < config.request_deadline);
        let refused = Config::from_lookup(|name| {
            (name == "REQUEST_DEADLINE_MS").then(|| db.request_budget.as_millis().to_string())
        });
        assert!(matches!(
            refused,
            Err(ConfigError::Invalid {
                name: "REQUEST_DEADLINE_MS",
                ..
            })
        ));
    }

    #[test]
    fn an_mcp_page_ttl_follows_the_list_ttl_down_and_beyond_it_is_refused() {
        let config = Config::from_lookup(|_| None).unwrap();
        assert!(config.cache.mcp_list_ttl <= config.cache.list_ttl);
        let short_lists =
            Config::from_lookup(|name| (name == "LIST_CACHE_TTL").then(|| "30".into())).unwrap();
        assert_eq!(short_lists.cache.mcp_list_ttl, Duration::from_secs(30));
        let refused = Config::from_lookup(|name| match name {
            "LIST_CACHE_TTL" => Some("30".into()),
            "MCP_LIST_TTL_SECS" => Some("31".into()),
            _ => None,
        });
        assert!(matches!(
            refused,
            Err(ConfigError::Invalid {
                name: "MCP_LIST_TTL_SECS",
                ..
            })
        ));
    }

    #[test]
    fn a_bad_number_names_the_variable_but_not_the_value() {
        let err =
            Config::from_lookup(|k| (k == "TOOL_CACHE_TTL").then(|| "soon".into())).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("TOOL_CACHE_TTL"));
        assert!(!text.contains("soon"));
    }

    #[test]
    fn a_short_secret_is_refused_and_never_printed() {
        for name in [
            "TOKEN_SIGNING_SECRET",
            "REFRESH_TOKEN_SECRET",
            "CURSOR_SECRET",
        ] {
            let err = Config::from_lookup(|k| (k == name).then(|| "short".into())).unwrap_err();
            assert!(err.to_string().contains(name), "{err}");
            assert!(!err.to_string().contains("short"));
        }
        assert!(!format!("{:?}", Secret::new("hunter2")).contains("hunter2"));
    }
}
