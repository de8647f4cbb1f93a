//! A thin client of the RDS Data API: named parameters in, JSON records out.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aws_sdk_rdsdata::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_rdsdata::types::{Field, RecordsFormatType, SqlParameter};
use aws_sdk_rdsdata::Client;
use serde::de::DeserializeOwned;
use tokio::sync::OnceCell;

use super::error_class::{self, ErrorClass};
use super::StoreError;
use crate::config::DatabaseConfig;

/// One named statement parameter (`:name` in the SQL).
pub fn param(name: &str, value: impl Into<Value>) -> SqlParameter {
    let field = match value.into() {
        Value::Text(text) => Field::StringValue(text),
        Value::Long(n) => Field::LongValue(n),
        Value::Null => Field::IsNull(true),
    };
    SqlParameter::builder().name(name).value(field).build()
}

/// A parameter value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Text (also UUIDs and JSON documents).
    Text(String),
    /// An integer.
    Long(i64),
    /// SQL `NULL`.
    Null,
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Self::Text(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Self::Text(v.to_owned())
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Self::Long(v)
    }
}
impl From<uuid::Uuid> for Value {
    fn from(v: uuid::Uuid) -> Self {
        Self::Text(v.hyphenated().to_string())
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Self::Null, Into::into)
    }
}

/// The Data API endpoint of one database. The SDK client is built on first use, so nothing on a
/// cache-hit path waits for its set-up.
pub struct DataApi {
    client: OnceCell<Client>,
    config: DatabaseConfig,
}

impl DataApi {
    /// A Data API client configured from the environment on first use (region, credentials and
    /// `AWS_ENDPOINT_URL_RDS_DATA`, as any AWS SDK reads them).
    pub fn new(config: DatabaseConfig) -> Self {
        Self {
            client: OnceCell::new(),
            config,
        }
    }

    /// A Data API over an already built SDK client.
    pub fn with_client(client: Client, config: DatabaseConfig) -> Self {
        Self {
            client: OnceCell::new_with(Some(client)),
            config,
        }
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &DatabaseConfig {
        &self.config
    }

    async fn client(&self) -> &Client {
        self.client
            .get_or_init(|| async {
                let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
                    .timeout_config(self.config.sdk_timeouts())
                    .retry_config(self.config.sdk_retries())
                    .load()
                    .await;
                Client::new(&sdk)
            })
            .await
    }

    /// Opens a transaction. Its statements go through [`Transaction::execute`] and
    /// [`Transaction::query`]; end it with [`Transaction::commit`] or [`Transaction::rollback`]
    /// (the Data API rolls back a transaction left idle for three minutes).
    pub async fn begin(&self) -> Result<Transaction<'_>, StoreError> {
        let output = self
            .client()
            .await
            .begin_transaction()
            .resource_arn(&self.config.cluster_arn)
            .secret_arn(&self.config.secret_arn)
            .database(&self.config.database)
            .send()
            .await
            .map_err(classify)?;
        let id = output
            .transaction_id()
            .filter(|id| !id.is_empty())
            .ok_or_else(|| StoreError::Database("BeginTransaction returned no id".into()))?;
        Ok(Transaction {
            db: self,
            id: id.to_owned(),
            ended: AtomicBool::new(false),
        })
    }

    /// Runs one statement (autocommit) and returns the number of rows it matched.
    pub async fn execute(&self, sql: &str, params: Vec<SqlParameter>) -> Result<i64, StoreError> {
        self.run_execute(None, sql, params).await
    }

    /// Runs one query (autocommit) and deserializes its rows (objects keyed by column label).
    pub async fn query<T: DeserializeOwned>(
        &self,
        sql: &str,
        params: Vec<SqlParameter>,
    ) -> Result<Vec<T>, StoreError> {
        self.run_query(None, sql, params).await
    }

    async fn run_execute(
        &self,
        transaction: Option<&str>,
        sql: &str,
        params: Vec<SqlParameter>,
    ) -> Result<i64, StoreError> {
        let output = self
            .statement(transaction, sql, params)
            .await
            .send()
            .await
            .map_err(classify)?;
        Ok(output.number_of_records_updated())
    }

    async fn run_query<T: DeserializeOwned>(
        &self,
        transaction: Option<&str>,
        sql: &str,
        params: Vec<SqlParameter>,
    ) -> Result<Vec<T>, StoreError> {
        let output = self
            .statement(transaction, sql, params)
            .await
            .format_records_as(RecordsFormatType::Json)
            .send()
            .await
            .map_err(classify)?;
        match output.formatted_records() {
            None => Ok(Vec::new()),
            Some(json) => serde_json::from_str(json)
                .map_err(|e| StoreError::Corrupt(format!("unexpected row shape: {e}"))),
        }
    }

    async fn statement(
        &self,
        transaction: Option<&str>,
        sql: &str,
        params: Vec<SqlParameter>,
    ) -> aws_sdk_rdsdata::operation::execute_statement::builders::ExecuteStatementFluentBuilder
    {
        self.client()
            .await
            .execute_statement()
            .resource_arn(&self.config.cluster_arn)
            .secret_arn(&self.config.secret_arn)
            .database(&self.config.database)
            .set_transaction_id(transaction.map(str::to_owned))
            .sql(sql)
            .set_parameters(Some(params))
    }
}

/// How long the background rollback of a transaction dropped open may keep trying.
const ABANDONED_ROLLBACK_LIMIT: Duration = Duration::from_secs(5);

/// An open Data API transaction: end it with [`commit`](Self::commit) or
/// [`rollback`](Self::rollback). One dropped open (its request ran out of time and was cut off
/// mid-way) is rolled back in the background, so its locks go at once rather than at the Data
/// API's idle timeout (three minutes).
pub struct Transaction<'a> {
    db: &'a DataApi,
    id: String,
    ended: AtomicBool,
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if self.ended.load(Ordering::Acquire) {
            return;
        }
        let (Some(client), Ok(runtime)) = (
            self.db.client.get().cloned(),
            tokio::runtime::Handle::try_current(),
        ) else {
            return;
        };
        let call = client
            .rollback_transaction()
            .resource_arn(&self.db.config.cluster_arn)
            .secret_arn(&self.db.config.secret_arn)
            .transaction_id(&self.id);
        tracing::warn!("a transaction was cut off open; rolling it back");
        // The statement it was cut off in may still be running, and the Data API refuses a
        // rollback until it ends: try again for a while.
        let rollback = async move {
            loop {
                match call.clone().send().await {
                    Ok(_) => return,
                    Err(error) => {
                        tracing::debug!(error = %classify(error), "rollback refused; trying again");
                        tokio::time::sleep(Duration::from_millis(250)).await;
                    }
                }
            }
        };
        runtime.spawn(async move {
            if tokio::time::timeout(ABANDONED_ROLLBACK_LIMIT, rollback)
                .await
                .is_err()
            {
                tracing::warn!(
                    "an abandoned transaction was not rolled back; the Data API ends it when idle"
                );
            }
        });
    }
}

impl Transaction<'_> {
    /// Runs one statement in the transaction; returns the number of rows it matched.
    pub async fn execute(&self, sql: &str, params: Vec<SqlParameter>) -> Result<i64, StoreError> {
        self.db.run_execute(Some(&self.id), sql, params).await
    }

    /// Runs one query in the transaction.
    pub async fn query<T: DeserializeOwned>(
        &self,
        sql: &str,
        params: Vec<SqlParameter>,
    ) -> Result<Vec<T>, StoreError> {
        self.db.run_query(Some(&self.id), sql, params).await
    }

    /// Runs one statement once per parameter set (`BatchExecuteStatement`), in the transaction.
    pub async fn batch_execute(
        &self,
        sql: &str,
        parameter_sets: Vec<Vec<SqlParameter>>,
    ) -> Result<(), StoreError> {
        self.db
            .client()
            .await
            .batch_execute_statement()
            .resource_arn(&self.db.config.cluster_arn)
            .secret_arn(&self.db.config.secret_arn)
            .database(&self.db.config.database)
            .transaction_id(&self.id)
            .sql(sql)
            .set_parameter_sets(Some(parameter_sets))
            .send()
            .await
            .map(drop)
            .map_err(classify)
    }

    /// Commits. An error here leaves the outcome unknown (the answer of a commit that succeeded
    /// may have been lost, and the SDK's retry then finds no transaction): callers that must
    /// know look for a row the transaction wrote, and roll back what did not commit.
    pub async fn commit(&self) -> Result<(), StoreError> {
        self.db
            .client()
            .await
            .commit_transaction()
            .resource_arn(&self.db.config.cluster_arn)
            .secret_arn(&self.db.config.secret_arn)
            .transaction_id(&self.id)
            .send()
            .await
            .map_err(classify)?;
        self.ended.store(true, Ordering::Release);
        Ok(())
    }

    /// Lets go of a transaction that has ended by itself (found committed although its commit's
    /// answer was lost, or ended by the Data API): nothing to roll back.
    pub fn conclude(self) {
        self.ended.store(true, Ordering::Release);
    }

    /// Rolls back, within `limit`; failures are only logged (the Data API ends an aborted or
    /// idle transaction by itself).
    pub async fn rollback(self, limit: Duration) {
        self.ended.store(true, Ordering::Release);
        let call = async {
            self.db
                .client()
                .await
                .rollback_transaction()
                .resource_arn(&self.db.config.cluster_arn)
                .secret_arn(&self.db.config.secret_arn)
                .transaction_id(&self.id)
                .send()
                .await
        };
        match tokio::time::timeout(limit, call).await {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => {
                tracing::debug!(error = %classify(error), "rollback failed; the transaction has ended anyway")
            }
            Err(_) => {
                tracing::warn!("rollback timed out; the Data API ends the transaction when idle")
            }
        }
    }
}

/// Maps an SDK error to the store's by its class ([`error_class::classify`]); an error without
/// an answer from the service (connect or attempt timeout, connection lost, dispatch failure)
/// is [`StoreError::Unavailable`].
fn classify<E, R>(error: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    match &error {
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or("Unknown");
            let message = service.err().message().unwrap_or_default();
            let class = error_class::classify(code, message);
            if matches!(class, ErrorClass::Unavailable | ErrorClass::Bug) {
                crate::metrics::count_database_error(code == "ThrottlingException");
            }
            class.into_store_error(format!("{code}: {message}"))
        }
        _ => {
            crate::metrics::count_database_error(false);
            StoreError::Unavailable(DisplayErrorContext(&error).to_string())
        }
    }
}
