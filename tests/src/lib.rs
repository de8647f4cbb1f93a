//! Harness of the integration, property and fault tests. They run against the real local services
//! (`make test` starts them): Redis at `TEST_REDIS_URL` and MariaDB at `TEST_MYSQL_URL` (default
//! `mysql://mcp:mcp@127.0.0.1:3306/mcp_test`), reached only through a private in-process Data API
//! emulator per test. A missing service fails the test.
//!
//! `TEST_REDIS_MODE` (`standalone`, the default, or `cluster`) is the `REDIS_MODE` every app of the
//! run uses: `make test` runs the cache suites in both. In cluster mode the shared Redis is the
//! local three-primary cluster (`redis://127.0.0.1:7000,…7002`), and each [`OwnedRedis`] is a
//! single-node cluster owning every slot, which is what ElastiCache Serverless looks like.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::Router;
use bytes::Bytes;
use data_api_emulator::{Emulator, EmulatorConfig, SecretValue};
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use shared::cache::{CacheService, RedisClient, RedisConnection};
use shared::config::{Config, Function, RedisMode};
use shared::domain::Role;
use shared::services::auth::{
    AuthService, Authentication, ClientInfo, PasswordHasher, TokenSigner,
};
use shared::services::ToolService;
use shared::store::provision::provision;
use shared::store::{migrations, param, DataApi, DataApiAccountStore, DataApiToolStore, ToolStore};
use tower::ServiceExt;
use uuid::Uuid;

/// The `REDIS_MODE` of this run (`TEST_REDIS_MODE`).
pub fn redis_mode() -> RedisMode {
    std::env::var("TEST_REDIS_MODE")
        .ok()
        .filter(|mode| !mode.is_empty())
        .map_or(RedisMode::Standalone, |mode| {
            mode.parse()
                .unwrap_or_else(|reason| panic!("TEST_REDIS_MODE={mode}: {reason}"))
        })
}

/// Redis used by the tests: the local server, or the local cluster's three primaries.
pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| match redis_mode() {
        RedisMode::Standalone => "redis://127.0.0.1:6379".into(),
        RedisMode::Cluster => {
            "redis://127.0.0.1:7000,redis://127.0.0.1:7001,redis://127.0.0.1:7002".into()
        }
    })
}

/// MariaDB used by the tests (through the emulator).
pub fn mysql_url() -> String {
    std::env::var("TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://mcp:mcp@127.0.0.1:3306/mcp_test".into())
}

/// A test configuration: a unique cache prefix and a database of its own (created by
/// [`TestApp::with_config`]), so tests never see each other's keys or outbox, as two deployments
/// would not; and short breaker cool-downs so recovery is observable quickly.
pub fn test_config(redis_url: &str) -> Config {
    let unique = Uuid::now_v7().simple().to_string();
    let prefix = format!("test-{unique}");
    let database = format!("mcp_test_{unique}");
    let redis_url = redis_url.to_owned();
    let mode = match redis_mode() {
        RedisMode::Standalone => "standalone",
        RedisMode::Cluster => "cluster",
    };
    Config::from_lookup(move |name| match name {
        "REDIS_MODE" => Some(mode.into()),
        "REDIS_URL" => Some(redis_url.clone()),
        "CACHE_PREFIX" => Some(prefix.clone()),
        "DB_NAME" => Some(database.clone()),
        "REDIS_BREAKER_COOLDOWN_MS" => Some("200".into()),
        // Cheap hashing keeps the suites fast; `make bench` measures the production cost.
        "ARGON2_MEMORY_KIB" => Some("1024".into()),
        "ARGON2_ITERATIONS" => Some("1".into()),
        "REFRESH_REUSE_GRACE_MS" => Some("2000".into()),
        // Every test request comes from one (absent) address; the throttling tests set their own.
        "REGISTRATIONS_PER_ADDRESS" | "LOGIN_MAX_FAILURES_PER_ADDRESS" | "LIST_MISS_BURST" => {
            Some("100000".into())
        }
        _ => None,
    })
    .expect("test configuration")
}

/// One isolated registry: a private emulator, the routers and a token minter.
pub struct TestApp {
    /// The private Data API emulator (counts statements, injects faults).
    pub emulator: Emulator,
    /// Its address.
    pub emulator_addr: SocketAddr,
    /// The configuration the routers use.
    pub config: Config,
    /// The tool service behind both routers.
    pub tools: Arc<ToolService>,
    /// `tools-read`.
    pub read: Router,
    /// `tools-write`.
    pub write: Router,
    /// `auth`.
    pub auth_router: Router,
    /// The auth service behind the `auth` router (its own cache instance, as on AWS).
    pub auth: Arc<AuthService>,
    /// The auth function's token signer in this configuration (its key is published).
    pub signer: TokenSigner,
    /// Direct database access for set-up (e.g. granting `admin`).
    pub db: DataApi,
}

/// The local stack's secrets (`dev/secrets.json`): the emulator's, as in `make dev`.
fn local_secrets() -> BTreeMap<String, SecretValue> {
    serde_json::from_str(include_str!("../../dev/secrets.json")).expect("dev/secrets.json")
}

/// A database of its own, with nothing in it, behind a private Data API emulator.
pub struct EmptyDatabase {
    /// The emulator (counts statements, injects faults).
    pub emulator: Emulator,
    /// Its address.
    pub emulator_addr: SocketAddr,
    /// The database, as `config` names it, through the emulator.
    pub db: DataApi,
}

impl EmptyDatabase {
    /// Creates the database `config` names, through the Data API like any statement.
    pub async fn create(config: &Config) -> Self {
        let (emulator, emulator_addr) = Emulator::spawn_local(EmulatorConfig {
            mysql_url: mysql_url(),
            secrets: local_secrets(),
            ..EmulatorConfig::from_env()
        })
        .await
        .expect("start the Data API emulator");
        let mut server = config.clone();
        server.database.database = "mcp_test".into();
        data_api(emulator_addr, &server)
            .execute(
                &format!(
                    "CREATE DATABASE IF NOT EXISTS `{}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
                    config.database.database
                ),
                vec![],
            )
            .await
            .expect("MariaDB must be running (make test starts it): CREATE DATABASE failed");
        Self {
            emulator,
            emulator_addr,
            db: data_api(emulator_addr, config),
        }
    }
}

/// A Secrets Manager client over the unmodified SDK, pointed at the emulator at `addr` (which
/// serves `dev/secrets.json`, as in `make dev`).
pub fn secrets_client(addr: SocketAddr) -> aws_sdk_secretsmanager::Client {
    use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
    aws_sdk_secretsmanager::Client::from_conf(
        aws_sdk_secretsmanager::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
            .endpoint_url(format!("http://{addr}"))
            .build(),
    )
}

/// `config` as `function` sees it: its own database user, as on AWS.
pub fn as_function(config: &Config, function: Function) -> Config {
    let mut config = config.clone();
    config.database.secret_arn = function.local_secret_arn();
    config
}

fn auth_service(addr: SocketAddr, config: &Config) -> AuthService {
    let config = &as_function(config, Function::Auth);
    AuthService::new(
        DataApiAccountStore::new(data_api(addr, config)),
        CacheService::new(&config.cache),
        PasswordHasher::new(&config.passwords).expect("valid Argon2 costs"),
        &config.auth,
        config.throttle.clone(),
    )
}

/// tools-write's session check: its own database user and cache instance, public keys only.
fn write_authentication(addr: SocketAddr, config: &Config) -> Authentication {
    let config = &as_function(config, Function::ToolsWrite);
    Authentication::new(
        DataApiAccountStore::new(data_api(addr, config)),
        CacheService::new(&config.cache),
        &config.auth,
    )
}

/// A Data API over the unmodified SDK client, pointed at `addr`.
pub fn data_api(addr: SocketAddr, config: &Config) -> DataApi {
    use aws_sdk_rdsdata::config::{BehaviorVersion, Credentials, Region};
    let sdk = aws_sdk_rdsdata::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .endpoint_url(format!("http://{addr}"))
        .timeout_config(config.database.sdk_timeouts())
        .retry_config(config.database.sdk_retries())
        .build();
    DataApi::with_client(
        aws_sdk_rdsdata::Client::from_conf(sdk),
        config.database.clone(),
    )
}

impl TestApp {
    /// An app over the shared test Redis.
    pub async fn start() -> Self {
        Self::with_redis(&redis_url()).await
    }

    /// An app whose cache talks to `redis_url` (which may be broken on purpose).
    pub async fn with_redis(redis_url: &str) -> Self {
        Self::with_config(test_config(redis_url)).await
    }

    /// An app over `config`: its database provisioned as a deploy provisions it.
    pub async fn with_config(config: Config) -> Self {
        let EmptyDatabase {
            emulator,
            emulator_addr,
            db,
        } = EmptyDatabase::create(&config).await;
        provision(
            &db,
            &secrets_client(emulator_addr),
            |_| None,
            migrations::MIGRATIONS,
        )
        .await
        .expect("MariaDB must be running (make test starts it): provisioning failed");
        let tools = Arc::new(tool_service(emulator_addr, &config, Function::ToolsRead));
        let signer = TokenSigner::new(&config.auth.signing_secret, &config.auth);
        // As on AWS, the write function is another process: its own Data API client and cache
        // instance (connection, breaker), the same Redis.
        let deadline = config.request_deadline;
        let write = tools_write::router(
            Arc::new(tools_write::WriteState {
                tools: tool_service(emulator_addr, &config, Function::ToolsWrite),
                auth: write_authentication(emulator_addr, &config),
            }),
            deadline,
        );
        let read = tools_read::router(tools.clone(), deadline);
        let auth = Arc::new(auth_service(emulator_addr, &config));
        let router_auth = auth_service(emulator_addr, &config);
        // Each instance publishes its key before its first token; done here, so tests that count
        // a login's statements count none of it (and tests may sign tokens with `signer`).
        for instance in [&*auth, &router_auth] {
            instance
                .publish_signing_key()
                .await
                .expect("publish the signing key");
        }
        let auth_router = auth::router(Arc::new(auth::AuthState { auth: router_auth }), deadline);
        Self {
            emulator,
            emulator_addr,
            config,
            tools,
            read,
            write,
            auth_router,
            auth,
            signer,
            db,
        }
    }

    /// The same registry (database, cache prefix) seen through another Redis URL (which may be
    /// broken on purpose).
    pub async fn beside(&self, redis_url: &str) -> Self {
        let mut config = test_config(redis_url);
        config.cache.prefix = self.config.cache.prefix.clone();
        config.database.database = self.config.database.database.clone();
        config.throttle = self.config.throttle.clone();
        Self::with_config(config).await
    }

    /// Another Lambda environment of this registry: its own tools-read and tools-write
    /// processes, each with its own Redis connection, breaker and Data API client.
    pub fn instance(&self) -> Instance {
        let read_tools = Arc::new(tool_service(
            self.emulator_addr,
            &self.config,
            Function::ToolsRead,
        ));
        let write_tools = Arc::new(tool_service(
            self.emulator_addr,
            &self.config,
            Function::ToolsWrite,
        ));
        let deadline = self.config.request_deadline;
        let write = tools_write::router(
            Arc::new(tools_write::WriteState {
                tools: tool_service(self.emulator_addr, &self.config, Function::ToolsWrite),
                auth: write_authentication(self.emulator_addr, &self.config),
            }),
            deadline,
        );
        Instance {
            read: tools_read::router(read_tools.clone(), deadline),
            write,
            read_tools,
            write_tools,
        }
    }

    /// Another auth function instance of this registry, started with `auth`'s keys (a rotated
    /// signing secret, say).
    pub fn auth_instance(&self, auth: &shared::config::AuthConfig) -> AuthService {
        let mut config = self.config.clone();
        config.auth = auth.clone();
        auth_service(self.emulator_addr, &config)
    }

    /// A cache sweeper of this registry (its own cache instance and Data API client).
    pub fn sweeper(&self) -> cache_sweeper::Sweeper {
        self.sweeper_with(self.config.sweeper.clone())
    }

    /// One short scheduled run of a sweeper (a few polls): what a run does once, such as
    /// pruning what is past its retention.
    pub async fn short_sweep(&self) -> cache_sweeper::SweepReport {
        let schedule = shared::config::SweeperConfig {
            poll_interval: std::time::Duration::from_millis(100),
            run_for: std::time::Duration::from_millis(300),
            ..self.config.sweeper.clone()
        };
        self.sweeper_with(schedule)
            .run(std::time::SystemTime::now() + std::time::Duration::from_secs(60))
            .await
    }

    /// A cache sweeper of this registry with its own schedule.
    pub fn sweeper_with(&self, config: shared::config::SweeperConfig) -> cache_sweeper::Sweeper {
        cache_sweeper::Sweeper::new(
            tool_service(self.emulator_addr, &self.config, Function::CacheSweeper),
            config,
        )
    }

    /// Invalidations recorded in the outbox and not yet applied.
    pub async fn pending_invalidations(&self) -> i64 {
        DataApiToolStore::new(data_api(self.emulator_addr, &self.config))
            .backlog()
            .await
            .expect("count the outbox")
            .pending
    }

    /// A fresh registered user with a live session: its access token and id.
    pub async fn user(&self) -> (String, Uuid) {
        self.user_with_role(Role::User).await
    }

    /// A fresh user with `role` (set in the database, as an operator would) and a live session.
    pub async fn user_with_role(&self, role: Role) -> (String, Uuid) {
        let email = format!("user-{}@example.com", Uuid::now_v7().simple());
        let password = "correct horse battery";
        let user = self
            .auth
            .register(
                &serde_json::json!({"email": email, "password": password}),
                &ClientInfo::default(),
            )
            .await
            .expect("register");
        if role == Role::Admin {
            self.db
                .execute(
                    "UPDATE users SET role = 'admin' WHERE id = :id",
                    vec![param("id", user.id)],
                )
                .await
                .expect("grant admin");
        }
        let tokens = self
            .auth
            .login(
                &serde_json::json!({"email": email, "password": password}),
                ClientInfo::default(),
            )
            .await
            .expect("login");
        (tokens.access_token, user.id)
    }

    /// Sends a request to the router that serves it (`/auth/…` or `/tools…` by method).
    pub async fn send(&self, request: Request<Body>) -> TestResponse {
        let router = if request.uri().path().starts_with("/auth/") {
            &self.auth_router
        } else {
            tools_router(&request, &self.read, &self.write)
        };
        respond(router.clone(), request).await
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> TestResponse {
        self.send(Request::get(path).body(Body::empty()).unwrap())
            .await
    }

    /// A JSON request with a bearer token.
    pub async fn json(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: &Value,
    ) -> TestResponse {
        self.send(json_request(method, path, body, Some(token)))
            .await
    }

    /// `DELETE path` with a bearer token.
    pub async fn delete(&self, path: &str, token: &str) -> TestResponse {
        let request = Request::delete(path)
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        self.send(request).await
    }

    /// Creates a tool (asserting 201) and returns it.
    pub async fn create(&self, token: &str, body: &Value) -> Value {
        let response = self.json(Method::POST, "/tools", token, body).await;
        assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
        response.json()
    }

    /// Data API statements executed so far by this app's emulator.
    pub fn statements(&self) -> u64 {
        self.emulator.stats().execute_statements
    }

    /// A direct Redis connection of this app's mode (for test set-up, e.g. evicting a key).
    pub async fn redis(&self) -> RedisConnection {
        direct_connection(&self.config.cache.redis_url).await
    }
}

/// A tool service of its own (a Lambda environment's): its own cache instance and Data API client,
/// connected as `function`'s database user.
pub fn tool_service(addr: SocketAddr, config: &Config, function: Function) -> ToolService {
    ToolService::configured(
        DataApiToolStore::new(data_api(addr, &as_function(config, function))),
        config,
    )
}

/// One Lambda environment of each tool function, sharing Redis and the database with the others.
pub struct Instance {
    /// Its tools-read router.
    pub read: Router,
    /// Its tools-write router.
    pub write: Router,
    /// The tool service behind `read`.
    pub read_tools: Arc<ToolService>,
    /// A tool service of its tools-write process, for driving the two halves of a write
    /// (commit, publish) separately.
    pub write_tools: Arc<ToolService>,
}

impl Instance {
    /// Sends a request to this instance's router for it.
    pub async fn send(&self, request: Request<Body>) -> TestResponse {
        let router = tools_router(&request, &self.read, &self.write);
        respond(router.clone(), request).await
    }

    /// `GET path` on this instance.
    pub async fn get(&self, path: &str) -> TestResponse {
        self.send(Request::get(path).body(Body::empty()).unwrap())
            .await
    }
}

/// The tool function that serves `request`: tools-read for reads, tools-write for the rest.
fn tools_router<'a>(request: &Request<Body>, read: &'a Router, write: &'a Router) -> &'a Router {
    if request.method() == Method::GET || request.method() == Method::HEAD {
        read
    } else {
        write
    }
}

async fn respond(router: Router, request: Request<Body>) -> TestResponse {
    let response = router
        .oneshot(request)
        .await
        .expect("routers are infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    TestResponse {
        status,
        headers,
        body,
    }
}

/// When a test's drain of the outbox must end: later than any test waits.
pub fn sweep_deadline() -> tokio::time::Instant {
    tokio::time::Instant::now() + std::time::Duration::from_secs(30)
}

/// One multi-threaded runtime per test binary, for property tests whose synchronous cases
/// (proptest's closures) drive the async services by blocking on it.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a test runtime")
    })
}

/// A minimal valid tool body with a unique name.
pub fn tool_body(prefix: &str) -> Value {
    serde_json::json!({
        "name": format!("{prefix}.{}", Uuid::now_v7().simple()),
        "description": "a test tool",
        "inputSchema": {"type": "object", "properties": {"x": {"type": "string"}}},
    })
}

/// A response read to the end.
pub struct TestResponse {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
}

impl TestResponse {
    /// The body as JSON (panics with the body text otherwise).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON ({}): {}", self.status, self.text()))
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `X-Cache`.
    pub fn cache(&self) -> &str {
        self.header("x-cache").unwrap_or("")
    }
}

/// A connection to `url` in this run's mode, with timeouts generous enough for set-up work on a
/// busy machine (the apps keep the production ones).
pub async fn direct_connection(url: &str) -> RedisConnection {
    let mut config = test_config(url).cache;
    config.connect_timeout = Duration::from_secs(2);
    config.response_timeout = Duration::from_secs(2);
    let client = RedisClient::open(&config).expect("redis url");
    tokio::time::timeout(Duration::from_secs(5), client.connect(&config))
        .await
        .unwrap_or_else(|_| panic!("Redis at {url} did not answer; start it with `make test`"))
        .unwrap_or_else(|e| {
            panic!("Redis at {url} is not reachable ({e}); start it with `make test`")
        })
}

/// Fails fast, with a clear message, when a required service is not running.
pub async fn require_redis(url: &str) {
    let mut connection = direct_connection(url).await;
    let _: String = redis::cmd("PING")
        .query_async(&mut connection)
        .await
        .expect("PING");
}

/// A Redis server owned by one test, on its own port, that can be stopped, restarted and paused.
/// In cluster mode it is a single-node cluster that owns every slot.
pub struct OwnedRedis {
    /// Its port.
    pub port: u16,
    mode: RedisMode,
    /// Its working directory (a cluster node's `nodes.conf`: its identity and slots survive a
    /// restart, as a node's do; its data does not).
    dir: std::path::PathBuf,
    child: Option<std::process::Child>,
}

impl OwnedRedis {
    /// Starts `redis-server` on a free port in this run's mode (fails the test if the binary is
    /// missing).
    pub async fn start() -> Self {
        let redis = Self::spawned(redis_mode()).await;
        if redis.mode == RedisMode::Cluster {
            redis.cluster_cmd(&["ADDSLOTSRANGE", "0", "16383"]).await;
            redis.await_cluster_ok().await;
        }
        redis
    }

    async fn spawned(mode: RedisMode) -> Self {
        // A free port can be taken by another test's listener before the server binds it.
        for _ in 0..5 {
            let port = free_port();
            let dir = std::env::temp_dir().join(format!("owned-redis-{port}-{}", Uuid::now_v7()));
            std::fs::create_dir_all(&dir).expect("a directory for the owned redis");
            let mut redis = Self {
                port,
                mode,
                dir,
                child: None,
            };
            if redis.spawn().await {
                return redis;
            }
        }
        panic!("redis-server found no free port in five tries");
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server on its port; `false` if it could not bind it (taken meanwhile).
    async fn spawn(&mut self) -> bool {
        let port = self.port.to_string();
        let mut args = vec![
            "--port",
            &port,
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ];
        let dir = self.dir.to_string_lossy().into_owned();
        if self.mode == RedisMode::Cluster {
            args.extend([
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                "1000",
                // Surviving shards keep serving their slots while one is down.
                "--cluster-require-full-coverage",
                "no",
            ]);
        }
        args.extend(["--dir", &dir]);
        let mut child = std::process::Command::new("redis-server")
            .args(&args)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server must be installed (make test installs it)");
        for _ in 0..100 {
            if child.try_wait().ok().flatten().is_some() {
                return false;
            }
            // Whatever else holds the port does not answer PONG.
            if answers_ping(self.port).await {
                self.child = Some(child);
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("redis-server did not start on port {}", self.port);
    }

    /// Kills the server (its data is gone, as after a crash).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `SAVE`: writes a snapshot that the next [`restart`](Self::restart) loads, as a server
    /// restarted from its last snapshot does (losing what came after it).
    pub async fn save(&self) {
        let _: () = redis::cmd("SAVE")
            .query_async(&mut self.node().await)
            .await
            .expect("SAVE");
    }

    /// Starts it again on the same port (a cluster node with its slots, and no data but the
    /// last [`save`](Self::save), if any).
    pub async fn restart(&mut self) {
        self.stop();
        assert!(
            self.spawn().await,
            "port {} was taken while redis was down",
            self.port
        );
        if self.mode == RedisMode::Cluster {
            self.await_cluster_ok().await;
        }
    }

    /// `CLIENT PAUSE millis ALL`: the server accepts commands but answers none until then.
    pub async fn pause(&self, millis: u64) {
        self.client_pause(millis, "ALL").await;
    }

    /// `CLIENT PAUSE millis WRITE`: reads are answered, writes wait until then.
    pub async fn pause_writes(&self, millis: u64) {
        self.client_pause(millis, "WRITE").await;
    }

    async fn client_pause(&self, millis: u64, mode: &str) {
        let _: () = redis::cmd("CLIENT")
            .arg("PAUSE")
            .arg(millis)
            .arg(mode)
            .query_async(&mut self.node().await)
            .await
            .expect("CLIENT PAUSE");
    }

    /// A plain connection to this one server (also when it is a cluster node).
    async fn node(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .expect("connect to owned redis")
    }

    async fn cluster_cmd(&self, args: &[&str]) -> redis::Value {
        redis::cmd("CLUSTER")
            .arg(args)
            .query_async(&mut self.node().await)
            .await
            .unwrap_or_else(|e| panic!("CLUSTER {args:?} on {}: {e}", self.port))
    }

    /// Waits until this node says the cluster serves every slot.
    async fn await_cluster_ok(&self) {
        for _ in 0..200 {
            let info: String = redis::cmd("CLUSTER")
                .arg("INFO")
                .query_async(&mut self.node().await)
                .await
                .unwrap_or_default();
            if info.contains("cluster_state:ok") {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!(
            "the cluster node on port {} did not reach cluster_state:ok",
            self.port
        );
    }
}

impl Drop for OwnedRedis {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A Redis Cluster owned by one test: three primaries on free ports, slots split evenly, no
/// replicas. Shards keep serving their slots while another is down.
pub struct OwnedCluster {
    /// Its nodes; each can be stopped and restarted.
    pub nodes: Vec<OwnedRedis>,
}

impl OwnedCluster {
    /// Starts three nodes and joins them (fails the test if `redis-server` is missing).
    pub async fn start() -> Self {
        let mut nodes = Vec::new();
        for _ in 0..3 {
            nodes.push(OwnedRedis::spawned(RedisMode::Cluster).await);
        }
        let ranges = [("0", "5460"), ("5461", "10922"), ("10923", "16383")];
        for (node, (first, last)) in nodes.iter().zip(ranges) {
            node.cluster_cmd(&["ADDSLOTSRANGE", first, last]).await;
        }
        for node in &nodes[1..] {
            let port = nodes[0].port.to_string();
            node.cluster_cmd(&["MEET", "127.0.0.1", &port]).await;
        }
        for node in &nodes {
            node.await_cluster_ok().await;
        }
        Self { nodes }
    }

    /// Its seed URLs, as `REDIS_URL` lists them in cluster mode.
    pub fn url(&self) -> String {
        let seeds: Vec<String> = self.nodes.iter().map(OwnedRedis::url).collect();
        seeds.join(",")
    }

    /// The node that owns `key`'s slot.
    pub async fn owner_of(&self, key: &str) -> usize {
        let slot: i64 = redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(key)
            .query_async(&mut self.nodes[0].node().await)
            .await
            .expect("CLUSTER KEYSLOT");
        match slot {
            0..=5460 => 0,
            5461..=10922 => 1,
            _ => 2,
        }
    }
}

/// A free loopback port.
/// Whether a Redis server answers `PING` on `port`.
async fn answers_ping(port: u16) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        stream.write_all(b"PING\r\n").await?;
        let mut answer = [0u8; 7];
        stream.read_exact(&mut answer).await?;
        Ok::<_, std::io::Error>(answer == *b"+PONG\r\n")
    };
    matches!(
        tokio::time::timeout(Duration::from_millis(200), exchange).await,
        Ok(Ok(true))
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A TCP server that accepts connections and never answers: Redis "up" but hung.
pub async fn blackhole() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (addr, task)
}

/// A loopback port with nothing listening: connections are refused.
pub fn refused_url() -> String {
    format!("redis://127.0.0.1:{}", free_port())
}

/// A request with a JSON body, and a bearer token if one is given.
pub fn json_request(
    method: Method,
    path: &str,
    body: &Value,
    bearer: Option<&str>,
) -> Request<Body> {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json");
    if let Some(token) = bearer {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    request.body(Body::from(body.to_string())).unwrap()
}
