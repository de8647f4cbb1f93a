//! MySQL access: one connection pool per user and database, and the statement runners.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mysql_async::prelude::{Protocol, Queryable};
use mysql_async::{Column, Conn, Opts, OptsBuilder, Params, Pool, QueryResult, Value};

use crate::error::ApiError;
use crate::hints;
use crate::mysql8;

/// How long to wait for a connection before answering `DatabaseUnavailableException`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The Data API refuses result sets larger than 1 MiB.
pub(crate) const MAX_RESULT_BYTES: usize = 1024 * 1024;

/// A MySQL user and its password, from a Secrets Manager secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Login {
    pub user: String,
    pub password: String,
}

/// Whom a connection logs in as, and to which database.
#[derive(Default)]
pub(crate) struct Target {
    /// `None`: the user of the MySQL URL.
    pub login: Option<Login>,
    /// `None` or empty: the database of the MySQL URL.
    pub database: Option<String>,
}

/// What tells pools apart: the user, password and database their connections use.
#[derive(PartialEq, Eq, Hash)]
struct PoolKey {
    user: Option<String>,
    password: Option<String>,
    database: Option<String>,
}

impl PoolKey {
    fn of(opts: &Opts) -> Self {
        Self {
            user: opts.user().map(str::to_owned),
            password: opts.pass().map(str::to_owned),
            database: opts.db_name().map(str::to_owned),
        }
    }
}

/// Lazily created connection pools, one per user and database.
pub(crate) struct Databases {
    base: Result<Opts, String>,
    pools: Mutex<HashMap<PoolKey, Pool>>,
}

impl Databases {
    /// Parses the URL (no I/O); an invalid URL is reported by every call.
    pub(crate) fn new(url: &str) -> Self {
        Self {
            base: Opts::from_url(url).map_err(|e| e.to_string()),
            pools: Mutex::new(HashMap::new()),
        }
    }

    /// The URL's options (host, port, ...) with the target's user and database.
    fn options(&self, target: &Target) -> Result<Opts, ApiError> {
        let base = self
            .base
            .as_ref()
            .map_err(|e| ApiError::Internal(format!("invalid EMULATOR_MYSQL_URL: {e}")))?;
        let mut options = OptsBuilder::from_opts(base.clone())
            // JDBC drivers report matched rows, not changed rows, for UPDATE.
            .client_found_rows(true)
            .setup(vec![mysql8::SESSION_SETUP]);
        if let Some(login) = &target.login {
            options = options.user(Some(&login.user)).pass(Some(&login.password));
        }
        if let Some(database) = target.database.as_deref().filter(|name| !name.is_empty()) {
            options = options.db_name(Some(database));
        }
        Ok(options.into())
    }

    /// The pool of connections using `opts`'s user, password and database.
    fn pool(&self, opts: Opts) -> Pool {
        let mut pools = self.pools.lock().unwrap_or_else(|e| e.into_inner());
        pools
            .entry(PoolKey::of(&opts))
            .or_insert_with(|| Pool::new(opts))
            .clone()
    }

    /// A connection for `target`.
    pub(crate) async fn connect(&self, target: &Target) -> Result<Conn, ApiError> {
        let pool = self.pool(self.options(target)?);
        match tokio::time::timeout(CONNECT_TIMEOUT, pool.get_conn()).await {
            Ok(result) => result.map_err(ApiError::from),
            Err(_) => Err(ApiError::DatabaseUnavailable(
                "Timed out connecting to the database.".into(),
            )),
        }
    }

    /// Asks the server to stop the statement running on connection `connection_id`, which
    /// was opened with `opts`: the kill runs as the same user, who may stop its own
    /// statements without any privilege.
    pub(crate) fn kill_query(&self, opts: &Opts, connection_id: u32) {
        let pool = self.pool(opts.clone());
        tokio::spawn(async move {
            let result = async {
                let mut conn = pool.get_conn().await?;
                conn.query_drop(format!("KILL QUERY {connection_id}")).await
            }
            .await;
            if let Err(error) = result {
                tracing::warn!(%error, connection_id, "cannot kill a timed-out statement");
            }
        });
    }

    /// Closes every pool.
    pub(crate) async fn disconnect_all(&self) {
        let pools: Vec<Pool> = self
            .pools
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
            .map(|(_, pool)| pool)
            .collect();
        for pool in pools {
            if let Err(error) = pool.disconnect().await {
                tracing::debug!(%error, "closing a connection pool");
            }
        }
    }
}

/// What one statement produced.
#[derive(Debug, Default)]
pub(crate) struct QueryOutcome {
    /// Columns of the result set; `None` for statements without one.
    pub columns: Option<Arc<[Column]>>,
    pub rows: Vec<Vec<Value>>,
    /// The result set exceeded [`MAX_RESULT_BYTES`] (`rows` is then empty).
    pub too_large: bool,
    pub affected_rows: u64,
    pub last_insert_id: Option<u64>,
}

fn params(values: Vec<Value>) -> Params {
    if values.is_empty() {
        Params::Empty
    } else {
        Params::Positional(values)
    }
}

/// Runs one statement: as a plain query without parameters, as a prepared statement with.
pub(crate) async fn run_query(
    conn: &mut Conn,
    sql: &str,
    values: Vec<Value>,
) -> Result<QueryOutcome, mysql_async::Error> {
    let sql = hints::for_server(sql, conn.server_version());
    let sql = sql.as_ref();
    if values.is_empty() {
        collect(conn.query_iter(sql).await?).await
    } else {
        collect(conn.exec_iter(sql, params(values)).await?).await
    }
}

/// [`run_query`], and how many rows the server read for it: the growth of its session's
/// `Handler_read_*` counters, less what reading them costs (measured alongside).
pub(crate) async fn run_query_counting_rows(
    conn: &mut Conn,
    sql: &str,
    values: Vec<Value>,
) -> Result<(QueryOutcome, u64), mysql_async::Error> {
    const READS: &str = "SELECT CAST(COALESCE(SUM(VARIABLE_VALUE), 0) AS UNSIGNED) \
        FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME LIKE 'HANDLER\\_READ\\_%'";
    let calibrate: Option<u64> = conn.query_first(READS).await?;
    let before: Option<u64> = conn.query_first(READS).await?;
    let outcome = run_query(conn, sql, values).await?;
    let after: Option<u64> = conn.query_first(READS).await?;
    let (calibrate, before, after) = (
        calibrate.unwrap_or(0),
        before.unwrap_or(0),
        after.unwrap_or(0),
    );
    let cost_of_reading = before.saturating_sub(calibrate);
    Ok((
        outcome,
        after.saturating_sub(before).saturating_sub(cost_of_reading),
    ))
}

async fn collect<P: Protocol>(
    mut result: QueryResult<'_, '_, P>,
) -> Result<QueryOutcome, mysql_async::Error> {
    let columns = result.columns().filter(|columns| !columns.is_empty());
    let mut rows = Vec::new();
    let mut size = 0;
    let mut too_large = false;
    if columns.is_some() {
        result
            .for_each(|row| {
                if too_large {
                    return;
                }
                let values: Vec<Value> = row
                    .unwrap_raw()
                    .into_iter()
                    .map(|value| value.unwrap_or(Value::NULL))
                    .collect();
                size += values.iter().map(value_size).sum::<usize>();
                if size > MAX_RESULT_BYTES {
                    too_large = true;
                    rows = Vec::new();
                } else {
                    rows.push(values);
                }
            })
            .await?;
    }
    let affected_rows = result.affected_rows();
    let last_insert_id = result.last_insert_id();
    // Skip any further result sets (e.g. the status of a CALL).
    result.drop_result().await?;
    Ok(QueryOutcome {
        columns,
        rows,
        too_large,
        affected_rows,
        last_insert_id,
    })
}

fn value_size(value: &Value) -> usize {
    match value {
        Value::Bytes(bytes) => bytes.len(),
        Value::NULL => 0,
        _ => 8,
    }
}

/// Runs one prepared statement per parameter set; returns each run's last insert id.
pub(crate) async fn run_batch(
    conn: &mut Conn,
    sql: &str,
    parameter_sets: Vec<Vec<Value>>,
) -> Result<Vec<Option<u64>>, mysql_async::Error> {
    let statement = conn.prep(sql).await?;
    let mut ids = Vec::with_capacity(parameter_sets.len());
    for values in parameter_sets {
        conn.exec_drop(&statement, params(values)).await?;
        ids.push(conn.last_insert_id());
    }
    Ok(ids)
}

/// [`run_batch`] inside its own transaction, rolled back if any run fails.
pub(crate) async fn run_batch_atomically(
    conn: &mut Conn,
    sql: &str,
    parameter_sets: Vec<Vec<Value>>,
) -> Result<Vec<Option<u64>>, mysql_async::Error> {
    conn.query_drop("START TRANSACTION").await?;
    match run_batch(conn, sql, parameter_sets).await {
        Ok(ids) => {
            conn.query_drop("COMMIT").await?;
            Ok(ids)
        }
        Err(error) => {
            rollback(conn).await;
            Err(error)
        }
    }
}

/// Rolls back, logging (not returning) a failure: the connection is discarded anyway.
pub(crate) async fn rollback(conn: &mut Conn) {
    if let Err(error) = conn.query_drop("ROLLBACK").await {
        tracing::debug!(%error, "rollback failed");
    }
}

/// Why [`run_with_timeout`] returned without a result.
#[derive(Debug)]
pub(crate) enum Interrupted {
    /// The statement is still running on this server connection, opened with `opts`.
    TimedOut { connection_id: u32, opts: Opts },
    /// The job panicked.
    Failed(String),
}

/// Runs `job` on its own task and waits at most `limit` for it.
///
/// The job owns the connection, so a statement that outlives the call keeps running to its
/// end (and the connection then returns to its pool) instead of being cut mid-protocol.
pub(crate) async fn run_with_timeout<T, F, Fut>(
    conn: Conn,
    limit: Duration,
    job: F,
) -> Result<(Conn, Result<T, mysql_async::Error>), Interrupted>
where
    F: FnOnce(Conn) -> Fut,
    Fut: Future<Output = (Conn, Result<T, mysql_async::Error>)> + Send + 'static,
    T: Send + 'static,
{
    let connection_id = conn.id();
    let opts = conn.opts().clone();
    let task = tokio::spawn(job(conn));
    match tokio::time::timeout(limit, task).await {
        Ok(Ok(done)) => Ok(done),
        Ok(Err(error)) => Err(Interrupted::Failed(error.to_string())),
        Err(_) => Err(Interrupted::TimedOut {
            connection_id,
            opts,
        }),
    }
}
