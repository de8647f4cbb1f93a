//! A thin client of the RDS Data API: named parameters in, JSON records out.

use std::time::Duration;

use aws_sdk_rdsdata::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_rdsdata::types::{Field, RecordsFormatType, SqlParameter};
use aws_sdk_rdsdata::Client;
use serde::de::DeserializeOwned;
use tokio::sync::OnceCell;

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

    async fn client(&self) -> &Client {
        self.client
            .get_or_init(|| async {
                let timeouts = aws_config::timeout::TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(2))
                    .operation_attempt_timeout(Duration::from_secs(30))
                    .build();
                let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
                    .timeout_config(timeouts)
                    .load()
                    .await;
                Client::new(&sdk)
            })
            .await
    }

    /// Runs one statement and returns the number of rows it changed.
    pub async fn execute(&self, sql: &str, params: Vec<SqlParameter>) -> Result<i64, StoreError> {
        let output = self
            .statement(sql, params)
            .await?
            .send()
            .await
            .map_err(classify)?;
        Ok(output.number_of_records_updated())
    }

    /// Runs one query and deserializes its rows (objects keyed by column label).
    pub async fn query<T: DeserializeOwned>(
        &self,
        sql: &str,
        params: Vec<SqlParameter>,
    ) -> Result<Vec<T>, StoreError> {
        let output = self
            .statement(sql, params)
            .await?
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
        sql: &str,
        params: Vec<SqlParameter>,
    ) -> Result<
        aws_sdk_rdsdata::operation::execute_statement::builders::ExecuteStatementFluentBuilder,
        StoreError,
    > {
        Ok(self
            .client()
            .await
            .execute_statement()
            .resource_arn(&self.config.cluster_arn)
            .secret_arn(&self.config.secret_arn)
            .database(&self.config.database)
            .sql(sql)
            .set_parameters(Some(params)))
    }
}

/// Maps an SDK error to the store's: duplicates, outages (retryable, 503) and the rest.
fn classify<E, R>(error: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    if let SdkError::ServiceError(service) = &error {
        let code = service.err().code().unwrap_or("Unknown");
        let message = service.err().message().unwrap_or_default();
        return match code {
            "DatabaseErrorException" | "BadRequestException"
                if message.contains("Duplicate entry") =>
            {
                StoreError::Duplicate
            }
            "DatabaseUnavailableException"
            | "DatabaseResumingException"
            | "ServiceUnavailableError"
            | "StatementTimeoutException"
            | "InternalServerErrorException"
            | "ThrottlingException" => StoreError::Unavailable(format!("{code}: {message}")),
            _ => StoreError::Database(format!("{code}: {message}")),
        };
    }
    StoreError::Unavailable(DisplayErrorContext(&error).to_string())
}
