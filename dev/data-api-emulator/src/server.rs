//! The [`Emulator`] handle and its HTTP surface.

use std::collections::HashMap;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Value};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::config::EmulatorConfig;
use crate::db::{self, Databases, Interrupted, Target};
use crate::error::ApiError;
use crate::faults::{
    FaultAction, FaultRule, FaultState, FaultUpdate, Faults, InjectedError, Operation,
};
use crate::hints;
use crate::mysql8;
use crate::params;
use crate::protocol::{
    BatchExecuteStatementRequest, BatchExecuteStatementResponse, BeginTransactionRequest,
    BeginTransactionResponse, EndTransactionRequest, ExecuteStatementRequest,
    ExecuteStatementResponse, SqlParameter, TransactionStatusResponse, UpdateResult,
};
use crate::results::{self, ResultShape};
use crate::secrets::Secrets;
use crate::serve::{self, DropConnection};
use crate::stats::{bump, EmulatorStats, Stats};
use crate::transactions::Transactions;
use crate::values::{self, RenderOptions};

/// The Data API's call timeout: a statement running longer answers
/// `StatementTimeoutException`.
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(45);

/// The Data API refuses requests larger than 4 MiB.
const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

/// Longest database name the service model accepts.
const MAX_DATABASE_NAME: usize = 64;

/// An RDS Data API emulator in front of a MySQL/MariaDB server.
///
/// Cheap to clone: clones share the same state (pools, transactions, faults, counters).
#[derive(Clone)]
pub struct Emulator {
    inner: Arc<Inner>,
}

struct Inner {
    db: Databases,
    secrets: Secrets,
    transactions: Transactions,
    faults: Faults,
    stats: Arc<Stats>,
    statement_timeout_micros: AtomicU64,
    reaper_started: AtomicBool,
    count_rows_read: AtomicBool,
}

impl Emulator {
    /// Creates an emulator. Does no I/O: connection pools are created and connected on
    /// first use, so an unreachable database shows up as errors of the calls.
    pub fn new(config: EmulatorConfig) -> Self {
        let stats = Arc::new(Stats::default());
        let emulator = Self {
            inner: Arc::new(Inner {
                db: Databases::new(&config.mysql_url),
                secrets: Secrets::new(config.secrets),
                transactions: Transactions::new(config.transaction_idle_timeout, stats.clone()),
                faults: Faults::new(config.latency),
                stats,
                statement_timeout_micros: AtomicU64::new(0),
                reaper_started: AtomicBool::new(false),
                count_rows_read: AtomicBool::new(false),
            }),
        };
        emulator.set_statement_timeout(DEFAULT_STATEMENT_TIMEOUT);
        emulator
    }

    /// The whole HTTP surface: the five Data API operations (`POST /Execute`,
    /// `/BatchExecute`, `/BeginTransaction`, `/CommitTransaction`, `/RollbackTransaction`),
    /// Secrets Manager's `GetSecretValue` (`POST /`) and the test controls under
    /// `/_emulator/`.
    ///
    /// Serve it with [`Emulator::serve`]: served any other way (e.g. by `axum::serve`), the
    /// answers [`FaultAction::DropResponse`] rules should drop are sent normally.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/Execute", post(execute_statement))
            .route("/BatchExecute", post(batch_execute_statement))
            .route("/BeginTransaction", post(begin_transaction))
            .route("/CommitTransaction", post(commit_transaction))
            .route("/RollbackTransaction", post(rollback_transaction))
            .route("/", post(secrets_manager))
            .route("/_emulator/stats", get(stats).post(count_rows_read))
            .route("/_emulator/faults", get(faults).post(set_faults))
            .route("/_emulator/health", get(health))
            .fallback(unknown_operation)
            .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
            .layer(axum::middleware::map_response(add_request_id))
            .with_state(self.clone())
    }

    /// Starts an emulator on `127.0.0.1` with an OS-assigned port, served by a task on the
    /// current tokio runtime, and returns it with its address (use
    /// `http://{addr}` as the SDK's endpoint URL).
    pub async fn spawn_local(config: EmulatorConfig) -> std::io::Result<(Emulator, SocketAddr)> {
        let emulator = Emulator::new(config);
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let served = emulator.clone();
        tokio::spawn(async move { served.serve(listener, std::future::pending()).await });
        Ok((emulator, addr))
    }

    /// Serves the emulator's HTTP surface on `listener` (HTTP/1.1 with keep-alive) until
    /// `shutdown` completes, then waits up to 10 s for the calls still running. Unlike
    /// `axum::serve`, it can close a connection without answering, as
    /// [`FaultAction::DropResponse`] rules need.
    pub async fn serve(
        &self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()>,
    ) {
        serve::serve(listener, self.router(), shutdown).await;
    }

    /// Counters of the calls handled so far.
    pub fn stats(&self) -> EmulatorStats {
        self.inner
            .stats
            .snapshot(self.inner.transactions.open_count())
    }

    /// Sets the delay added before every Data API call.
    pub fn set_latency(&self, latency: Duration) {
        self.inner.faults.set_latency(latency);
    }

    /// Makes the next `n` Data API calls fail with `error` (0 disarms).
    pub fn fail_next(&self, n: u32, error: InjectedError) {
        self.inner.faults.fail_next(n, error);
    }

    /// While `on`, every Data API call fails with `ServiceUnavailableError`.
    pub fn set_unavailable(&self, on: bool) {
        self.inner.faults.set_unavailable(on);
    }

    /// Arms a fault rule after those already armed: the next `rule.count` Data API calls it
    /// matches run normally, then have their answer dropped or delayed (see [`FaultRule`]).
    /// A rule with `count` 0 is ignored.
    ///
    /// ```no_run
    /// # async fn demo(emulator: data_api_emulator::Emulator) {
    /// use data_api_emulator::{FaultRule, Operation};
    ///
    /// // The next commit commits, but the client never hears about it.
    /// emulator.add_fault(FaultRule::drop_response(Operation::CommitTransaction, 1));
    /// # }
    /// ```
    pub fn add_fault(&self, rule: FaultRule) {
        tracing::info!(?rule, "fault rule armed");
        self.inner.faults.add_rule(rule);
    }

    /// Removes every armed fault rule (latency, [`fail_next`](Self::fail_next) and
    /// [`set_unavailable`](Self::set_unavailable) are left as they are).
    pub fn clear_faults(&self) {
        self.inner.faults.clear_rules();
    }

    /// Sets the call timeout ([`DEFAULT_STATEMENT_TIMEOUT`] by default).
    pub fn set_statement_timeout(&self, timeout: Duration) {
        let micros = u64::try_from(timeout.as_micros()).unwrap_or(u64::MAX);
        self.inner
            .statement_timeout_micros
            .store(micros, Ordering::Relaxed);
    }

    /// Rolls back every open transaction and closes the connection pools.
    pub async fn shutdown(&self) {
        for mut conn in self.inner.transactions.take_all() {
            db::rollback(&mut conn).await;
        }
        let closing = self.inner.db.disconnect_all();
        if tokio::time::timeout(Duration::from_secs(5), closing)
            .await
            .is_err()
        {
            tracing::warn!("connection pools did not close within 5 s");
        }
    }

    /// Counts the rows each `ExecuteStatement` reads in the database (MariaDB's `Handler_read_*`
    /// counters of its session: index lookups and steps, scans, temporary tables) into
    /// [`EmulatorStats::rows_read`]. Off by default: it costs three status queries a statement.
    pub fn count_rows_read(&self, on: bool) {
        self.inner.count_rows_read.store(on, Ordering::Relaxed);
    }

    fn statement_timeout(&self) -> Duration {
        Duration::from_micros(self.inner.statement_timeout_micros.load(Ordering::Relaxed))
    }

    /// Applies the configured latency and injected faults to a Data API call.
    async fn begin_call(&self) -> Result<(), ApiError> {
        let latency = self.inner.faults.latency();
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        match self.inner.faults.take_failure() {
            Some(error) => {
                bump(&self.inner.stats.injected_faults);
                Err(error)
            }
            None => Ok(()),
        }
    }

    /// The action of the first armed fault rule matching this call, if any (consumes one of
    /// its count). The SQL is only looked at when rules are armed.
    fn take_fault(
        &self,
        operation: Operation,
        body: &Result<Bytes, BytesRejection>,
    ) -> Option<FaultAction> {
        let faults = &self.inner.faults;
        if !faults.has_rules() {
            return None;
        }
        /// The only member a rule looks at.
        #[derive(Deserialize)]
        struct SqlMember {
            sql: Option<String>,
        }
        let sql = match body {
            Ok(body) if operation.runs_sql() => serde_json::from_slice::<SqlMember>(body)
                .ok()
                .and_then(|member| member.sql),
            _ => None,
        };
        faults.take_rule(operation, sql.as_deref().map(params::first_keyword))
    }

    /// Turns the outcome of a call into its answer, held back or marked to be dropped when
    /// a fault rule says so.
    async fn answer(
        &self,
        operation: Operation,
        fault: Option<FaultAction>,
        outcome: impl IntoResponse,
    ) -> Response {
        let mut response = outcome.into_response();
        match fault {
            None | Some(FaultAction::Stall(_)) => {}
            Some(FaultAction::Delay(delay)) => {
                bump(&self.inner.stats.delayed_responses);
                tracing::info!(
                    operation = operation.name(),
                    delay_ms = delay.as_millis(),
                    "holding the answer (fault rule)"
                );
                tokio::time::sleep(delay).await;
            }
            Some(FaultAction::DropResponse) => {
                bump(&self.inner.stats.dropped_responses);
                tracing::info!(
                    operation = operation.name(),
                    "closing the connection without answering (fault rule)"
                );
                response.extensions_mut().insert(DropConnection);
            }
        }
        response
    }

    /// Starts the task that rolls back idle transactions (once).
    fn ensure_reaper(&self) {
        if self.inner.reaper_started.swap(true, Ordering::AcqRel) {
            return;
        }
        let inner = Arc::downgrade(&self.inner);
        let interval = self.inner.transactions.sweep_interval();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let Some(inner) = inner.upgrade() else {
                    break;
                };
                for mut conn in inner.transactions.take_expired() {
                    tracing::info!("rolling back a transaction that was idle too long");
                    db::rollback(&mut conn).await;
                }
            }
        });
    }

    /// Runs `job` on the transaction's connection, or on a pooled connection for `target`,
    /// within the call timeout. A statement the database refused leaves its transaction open,
    /// unless the database rolled the transaction back (a deadlock); a lost connection or a
    /// timeout aborts it.
    async fn run<T, F, Fut>(
        &self,
        transaction_id: Option<&str>,
        target: &Target,
        continue_after_timeout: bool,
        job: F,
    ) -> Result<T, ApiError>
    where
        F: FnOnce(Conn) -> Fut,
        Fut: Future<Output = (Conn, Result<T, mysql_async::Error>)> + Send + 'static,
        T: Send + 'static,
    {
        let limit = self.statement_timeout();
        let Some(id) = transaction_id else {
            let conn = self.inner.db.connect(target).await?;
            return match db::run_with_timeout(conn, limit, job).await {
                Ok((_conn, result)) => result.map_err(ApiError::from),
                Err(interrupted) => Err(self.interrupted(interrupted, continue_after_timeout)),
            };
        };

        let transactions = &self.inner.transactions;
        let (checkout, conn) = transactions.checkout(id).await?;
        match db::run_with_timeout(conn, limit, job).await {
            Ok((conn, Ok(value))) => {
                checkout.give_back(conn);
                Ok(value)
            }
            Ok((conn, Err(error))) => {
                let rolled_back = mysql8::rolled_back(&error);
                let error = ApiError::from(error);
                if rolled_back || matches!(error, ApiError::DatabaseUnavailable(_)) {
                    transactions.abort(checkout, Some(conn)).await;
                } else {
                    checkout.give_back(conn);
                }
                Err(error)
            }
            Err(interrupted) => {
                transactions.abort(checkout, None).await;
                Err(self.interrupted(interrupted, continue_after_timeout))
            }
        }
    }

    fn interrupted(&self, interrupted: Interrupted, continue_after_timeout: bool) -> ApiError {
        match interrupted {
            Interrupted::TimedOut {
                connection_id,
                opts,
            } => {
                if !continue_after_timeout {
                    self.inner.db.kill_query(&opts, connection_id);
                }
                ApiError::StatementTimeout {
                    message: format!(
                        "The statement did not finish within the {} s call timeout.",
                        self.statement_timeout().as_secs_f64()
                    ),
                    db_connection_id: Some(connection_id),
                }
            }
            Interrupted::Failed(message) => ApiError::Internal(message),
        }
    }
}

/// Adds the request id header AWS services send (the SDK exposes it as `request_id()`).
async fn add_request_id(mut response: Response) -> Response {
    if let Ok(value) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        response.headers_mut().insert("x-amzn-requestid", value);
    }
    response
}

/// Logs the outcome of a Data API call.
fn logged<T>(operation: &str, result: Result<T, ApiError>) -> Result<T, ApiError> {
    match &result {
        Ok(_) => tracing::debug!(operation, "ok"),
        Err(error) => tracing::info!(
            operation,
            error = error.error_type(),
            message = %error,
            "call failed"
        ),
    }
    result
}

fn parse<T: DeserializeOwned>(body: Result<Bytes, BytesRejection>) -> Result<T, ApiError> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::BadRequest("The request exceeds the Data API's 4 MiB size limit.".into())
        } else {
            ApiError::BadRequest(rejection.body_text())
        }
    })?;
    serde_json::from_slice(&body)
        .map_err(|error| ApiError::BadRequest(format!("Invalid request body: {error}")))
}

fn require(value: Option<String>, member: &str) -> Result<String, ApiError> {
    value
        .filter(|value| !value.is_empty())
        .ok_or_else(|| ApiError::BadRequest(format!("The {member} parameter is required.")))
}

/// Checks the members every statement call shares; returns whom (the user of the call's
/// secret) and where its statements run.
fn check_target(
    secrets: &Secrets,
    resource_arn: Option<String>,
    secret_arn: Option<String>,
    database: Option<String>,
    schema: Option<&str>,
) -> Result<Target, ApiError> {
    require(resource_arn, "resourceArn")?;
    let secret_arn = require(secret_arn, "secretArn")?;
    if schema.is_some() {
        return Err(ApiError::Validation(
            "The schema parameter isn't supported".into(),
        ));
    }
    if database
        .as_deref()
        .is_some_and(|name| name.chars().count() > MAX_DATABASE_NAME)
    {
        return Err(ApiError::BadRequest(format!(
            "The database name must be at most {MAX_DATABASE_NAME} characters."
        )));
    }
    let login = secrets.login(&secret_arn)?;
    Ok(Target { login, database })
}

/// Rewrites named parameters and binds their values.
fn prepare(sql: &str, parameters: &[SqlParameter]) -> Result<(String, Vec<Value>), ApiError> {
    let rewritten = params::rewrite(sql).map_err(|e| ApiError::Validation(e.to_string()))?;
    let values = bind(&rewritten.names, parameters)?;
    Ok((rewritten.sql, values))
}

/// The values for `names`, taken from `parameters` by name.
fn bind(names: &[String], parameters: &[SqlParameter]) -> Result<Vec<Value>, ApiError> {
    let mut by_name = HashMap::with_capacity(parameters.len());
    for parameter in parameters {
        let name = parameter
            .name
            .as_deref()
            .filter(|name| !name.is_empty())
            .ok_or_else(|| ApiError::BadRequest("Every parameter needs a name.".into()))?;
        let field = parameter
            .value
            .as_ref()
            .ok_or_else(|| ApiError::BadRequest(format!("The parameter '{name}' has no value.")))?;
        let value = values::to_mysql(field).map_err(ApiError::BadRequest)?;
        by_name.insert(name, value);
    }
    names
        .iter()
        .map(|name| {
            by_name.get(name.as_str()).cloned().ok_or_else(|| {
                ApiError::BadRequest(format!("No value specified for parameter '{name}'."))
            })
        })
        .collect()
}

async fn execute_statement(
    State(emulator): State<Emulator>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let fault = emulator.take_fault(Operation::Execute, &body);
    let stall = match fault {
        Some(FaultAction::Stall(delay)) => Some(delay),
        _ => None,
    };
    let outcome = logged("ExecuteStatement", execute(&emulator, body, stall).await).map(Json);
    emulator.answer(Operation::Execute, fault, outcome).await
}

async fn execute(
    emulator: &Emulator,
    body: Result<Bytes, BytesRejection>,
    stall: Option<Duration>,
) -> Result<ExecuteStatementResponse, ApiError> {
    emulator.begin_call().await?;
    let request: ExecuteStatementRequest = parse(body)?;
    let target = check_target(
        &emulator.inner.secrets,
        request.resource_arn,
        request.secret_arn,
        request.database,
        request.schema.as_deref(),
    )?;
    let sql = require(request.sql, "sql")?;
    let (mut sql, values) = prepare(&sql, request.parameters.as_deref().unwrap_or_default())?;
    if let Some(delay) =
        stall.filter(|_| params::first_keyword(&sql).eq_ignore_ascii_case("SELECT"))
    {
        sql = hints::stalled(&sql, delay);
    }
    let shape = ResultShape {
        format: request.format_records_as.unwrap_or_default(),
        options: RenderOptions::from(request.result_set_options.as_ref()),
        include_metadata: request.include_result_metadata.unwrap_or(false),
    };
    tracing::debug!(%sql, "ExecuteStatement");

    bump(&emulator.inner.stats.execute_statements);
    let count_rows_read = emulator.inner.count_rows_read.load(Ordering::Relaxed);
    let (outcome, rows_read) = emulator
        .run(
            request.transaction_id.as_deref(),
            &target,
            request.continue_after_timeout.unwrap_or(false),
            move |mut conn| async move {
                let result = if count_rows_read {
                    db::run_query_counting_rows(&mut conn, &sql, values).await
                } else {
                    db::run_query(&mut conn, &sql, values).await.map(|o| (o, 0))
                };
                (conn, result)
            },
        )
        .await?;
    emulator
        .inner
        .stats
        .rows_read
        .fetch_add(rows_read, Ordering::Relaxed);
    results::execute_response(outcome, shape)
}

async fn batch_execute_statement(
    State(emulator): State<Emulator>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let fault = emulator.take_fault(Operation::BatchExecute, &body);
    let outcome = logged(
        "BatchExecuteStatement",
        batch_execute(&emulator, body).await,
    )
    .map(Json);
    emulator
        .answer(Operation::BatchExecute, fault, outcome)
        .await
}

async fn batch_execute(
    emulator: &Emulator,
    body: Result<Bytes, BytesRejection>,
) -> Result<BatchExecuteStatementResponse, ApiError> {
    emulator.begin_call().await?;
    let request: BatchExecuteStatementRequest = parse(body)?;
    let target = check_target(
        &emulator.inner.secrets,
        request.resource_arn,
        request.secret_arn,
        request.database,
        request.schema.as_deref(),
    )?;
    let sql = require(request.sql, "sql")?;
    let rewritten = params::rewrite(&sql).map_err(|e| ApiError::Validation(e.to_string()))?;
    let value_sets = request
        .parameter_sets
        .unwrap_or_default()
        .iter()
        .map(|set| bind(&rewritten.names, set))
        .collect::<Result<Vec<_>, _>>()?;
    let sql = rewritten.sql;
    tracing::debug!(%sql, sets = value_sets.len(), "BatchExecuteStatement");

    bump(&emulator.inner.stats.batch_execute_statements);
    let in_transaction = request.transaction_id.is_some();
    let ids = emulator
        .run(
            request.transaction_id.as_deref(),
            &target,
            false,
            move |mut conn| async move {
                let result = if in_transaction {
                    db::run_batch(&mut conn, &sql, value_sets).await
                } else {
                    db::run_batch_atomically(&mut conn, &sql, value_sets).await
                };
                (conn, result)
            },
        )
        .await?;
    Ok(BatchExecuteStatementResponse {
        update_results: ids
            .into_iter()
            .map(|id| UpdateResult {
                generated_fields: results::generated_fields(id),
            })
            .collect(),
    })
}

async fn begin_transaction(
    State(emulator): State<Emulator>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let fault = emulator.take_fault(Operation::BeginTransaction, &body);
    let outcome = logged("BeginTransaction", begin(&emulator, body).await).map(Json);
    emulator
        .answer(Operation::BeginTransaction, fault, outcome)
        .await
}

async fn begin(
    emulator: &Emulator,
    body: Result<Bytes, BytesRejection>,
) -> Result<BeginTransactionResponse, ApiError> {
    emulator.begin_call().await?;
    let request: BeginTransactionRequest = parse(body)?;
    let target = check_target(
        &emulator.inner.secrets,
        request.resource_arn,
        request.secret_arn,
        request.database,
        request.schema.as_deref(),
    )?;
    let mut conn = emulator.inner.db.connect(&target).await?;
    conn.query_drop("START TRANSACTION").await?;
    bump(&emulator.inner.stats.transactions_begun);
    let transaction_id = emulator.inner.transactions.insert(conn);
    emulator.ensure_reaper();
    Ok(BeginTransactionResponse { transaction_id })
}

async fn commit_transaction(
    State(emulator): State<Emulator>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let fault = emulator.take_fault(Operation::CommitTransaction, &body);
    let outcome = logged("CommitTransaction", end(&emulator, body, true).await).map(Json);
    emulator
        .answer(Operation::CommitTransaction, fault, outcome)
        .await
}

async fn rollback_transaction(
    State(emulator): State<Emulator>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let fault = emulator.take_fault(Operation::RollbackTransaction, &body);
    let outcome = logged("RollbackTransaction", end(&emulator, body, false).await).map(Json);
    emulator
        .answer(Operation::RollbackTransaction, fault, outcome)
        .await
}

async fn end(
    emulator: &Emulator,
    body: Result<Bytes, BytesRejection>,
    commit: bool,
) -> Result<TransactionStatusResponse, ApiError> {
    emulator.begin_call().await?;
    let request: EndTransactionRequest = parse(body)?;
    require(request.resource_arn, "resourceArn")?;
    let secret_arn = require(request.secret_arn, "secretArn")?;
    // The transaction keeps the connection it began with, but the secret must still be one
    // the call may use, as on every other call.
    emulator.inner.secrets.login(&secret_arn)?;
    let id = require(request.transaction_id, "transactionId")?;
    let mut conn = emulator.inner.transactions.end(&id)?;
    let stats = &emulator.inner.stats;
    if commit {
        if let Err(error) = conn.query_drop("COMMIT").await {
            db::rollback(&mut conn).await;
            return Err(error.into());
        }
        bump(&stats.transactions_committed);
        Ok(TransactionStatusResponse {
            transaction_status: "Transaction Committed",
        })
    } else {
        conn.query_drop("ROLLBACK").await?;
        bump(&stats.transactions_rolled_back);
        Ok(TransactionStatusResponse {
            transaction_status: "Rollback Complete",
        })
    }
}

async fn stats(State(emulator): State<Emulator>) -> Json<EmulatorStats> {
    Json(emulator.stats())
}

/// `POST /_emulator/stats` with `{"countRowsRead": bool}`: turns [`Emulator::count_rows_read`]
/// on or off, and answers the stats.
async fn count_rows_read(
    State(emulator): State<Emulator>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<EmulatorStats>, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct Counting {
        count_rows_read: bool,
    }
    let counting: Counting = parse(body)?;
    emulator.count_rows_read(counting.count_rows_read);
    Ok(Json(emulator.stats()))
}

async fn faults(State(emulator): State<Emulator>) -> Json<FaultState> {
    Json(emulator.inner.faults.state())
}

async fn set_faults(
    State(emulator): State<Emulator>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<FaultState>, ApiError> {
    let update: FaultUpdate = parse(body)?;
    emulator
        .inner
        .faults
        .apply(update)
        .map_err(ApiError::BadRequest)?;
    tracing::info!(faults = ?emulator.inner.faults.state(), "fault settings changed");
    Ok(Json(emulator.inner.faults.state()))
}

/// `200 {"status":"ok"}` when the default database answers `SELECT 1`.
async fn health(State(emulator): State<Emulator>) -> Result<Json<serde_json::Value>, ApiError> {
    let mut conn = emulator.inner.db.connect(&Target::default()).await?;
    conn.query_drop("SELECT 1").await?;
    Ok(Json(serde_json::json!({ "status": "ok" })))
}

/// Secrets Manager (AWS JSON 1.1): `POST /` with the operation in `X-Amz-Target`.
async fn secrets_manager(
    State(emulator): State<Emulator>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    emulator.inner.secrets.handle(&headers, &body)
}

async fn unknown_operation() -> ApiError {
    ApiError::UnknownOperation("No such operation.".into())
}
