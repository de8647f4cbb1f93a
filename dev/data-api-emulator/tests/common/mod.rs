//! What the emulator's SDK tests share: an in-process emulator with an SDK client pointed at
//! it, a throw-away read-only database user, and helpers to read errors.
//!
//! The tests need a MySQL/MariaDB server at `EMULATOR_MYSQL_URL` (default
//! `mysql://mcp:mcp@127.0.0.1:3306/mcp`) whose user may create tables and, for the secrets
//! tests, users (`CREATE USER` on `*.*`, `GRANT OPTION` on its database), and fail (they do
//! not skip) when it is unreachable. Every test works on its own uniquely named table.

// Each test binary uses its own part of this module.
#![allow(dead_code)]

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_rdsdata::config::{BehaviorVersion, Credentials, Region, SharedCredentialsProvider};
use aws_sdk_rdsdata::error::SdkError;
use aws_sdk_rdsdata::operation::begin_transaction::BeginTransactionError;
use aws_sdk_rdsdata::operation::execute_statement::{
    ExecuteStatementError, ExecuteStatementOutput,
};
use aws_sdk_rdsdata::types::{Field, SqlParameter};
use aws_sdk_rdsdata::Client;
use data_api_emulator::{Emulator, EmulatorConfig, SecretValue};
use mysql_async::prelude::Queryable;

pub const RESOURCE_ARN: &str = "arn:aws:rds:us-east-1:123456789012:cluster:emulator";
pub const SECRET_ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:emulator";

/// An emulator, an SDK client pointed at it, and a fresh table name.
pub struct Harness {
    pub emulator: Emulator,
    pub addr: std::net::SocketAddr,
    pub sdk_config: aws_config::SdkConfig,
    pub client: Client,
    pub table: String,
}

impl Harness {
    pub async fn start() -> Self {
        Self::with_config(EmulatorConfig::from_env()).await
    }

    pub async fn with_config(config: EmulatorConfig) -> Self {
        let (emulator, addr) = Emulator::spawn_local(config).await.expect("start emulator");
        // Built explicitly: nothing is read from the environment or ~/.aws.
        let sdk_config = aws_config::SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "AKIDTEST", "secret", None, None, "static",
            )))
            .endpoint_url(format!("http://{addr}"))
            .build();
        // No retries, so that injected 5xx errors reach the test.
        let client = Client::from_conf(
            aws_sdk_rdsdata::config::Builder::from(&sdk_config)
                .retry_config(aws_config::retry::RetryConfig::disabled())
                .build(),
        );
        let table = format!("emu_sdk_{}", uuid::Uuid::new_v4().simple());
        Self {
            emulator,
            addr,
            sdk_config,
            client,
            table,
        }
    }

    /// A client with the SDK's standard retry policy (3 attempts, short backoff) and, if
    /// given, a per-attempt timeout.
    pub fn retrying_client(&self, attempt_timeout: Option<Duration>) -> Client {
        let mut config = aws_sdk_rdsdata::config::Builder::from(&self.sdk_config).retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(10)),
        );
        if let Some(timeout) = attempt_timeout {
            config = config.timeout_config(
                TimeoutConfig::builder()
                    .operation_attempt_timeout(timeout)
                    .build(),
            );
        }
        Client::from_conf(config.build())
    }

    /// Creates the test table; fails loudly when the database is unreachable.
    pub async fn create_table(&self) {
        let sql = format!(
            "CREATE TABLE {} (
                id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                name VARCHAR(100) NOT NULL,
                description TEXT NULL,
                config JSON NULL,
                price DECIMAL(10,2) NULL,
                enabled TINYINT(1) NOT NULL DEFAULT 0,
                score DOUBLE NULL,
                created_at DATETIME NULL,
                data BLOB NULL,
                UNIQUE KEY uq_tools_name (name)
            )",
            self.table
        );
        let result = self
            .client
            .execute_statement()
            .resource_arn(RESOURCE_ARN)
            .secret_arn(SECRET_ARN)
            .sql(sql)
            .send()
            .await;
        if let Err(error) = result {
            let reason = match error {
                SdkError::ServiceError(error) => error.into_err().to_string(),
                other => format!("{other:?}"),
            };
            panic!(
                "cannot create the test table; is MariaDB/MySQL reachable at EMULATOR_MYSQL_URL \
                 (default mysql://mcp:mcp@127.0.0.1:3306/mcp)? {reason}"
            );
        }
    }

    pub async fn execute(
        &self,
        sql: &str,
        parameters: Vec<SqlParameter>,
        transaction_id: Option<&str>,
    ) -> Result<ExecuteStatementOutput, SdkError<ExecuteStatementError>> {
        self.execute_as(SECRET_ARN, sql, parameters, transaction_id)
            .await
    }

    /// [`Harness::execute`] with the given secret.
    pub async fn execute_as(
        &self,
        secret_arn: &str,
        sql: &str,
        parameters: Vec<SqlParameter>,
        transaction_id: Option<&str>,
    ) -> Result<ExecuteStatementOutput, SdkError<ExecuteStatementError>> {
        self.client
            .execute_statement()
            .resource_arn(RESOURCE_ARN)
            .secret_arn(secret_arn)
            .sql(sql.replace("{t}", &self.table))
            .set_parameters(Some(parameters))
            .set_transaction_id(transaction_id.map(str::to_owned))
            .send()
            .await
    }

    pub async fn count(&self) -> i64 {
        let output = self
            .execute("SELECT COUNT(*) FROM {t}", vec![], None)
            .await
            .expect("count");
        match output.records().first().and_then(|row| row.first()) {
            Some(Field::LongValue(n)) => *n,
            other => panic!("unexpected count {other:?}"),
        }
    }

    pub async fn begin(&self) -> String {
        self.begin_as(SECRET_ARN).await.expect("begin transaction")
    }

    /// Begins a transaction with the given secret; returns its id.
    pub async fn begin_as(
        &self,
        secret_arn: &str,
    ) -> Result<String, SdkError<BeginTransactionError>> {
        let output = self
            .client
            .begin_transaction()
            .resource_arn(RESOURCE_ARN)
            .secret_arn(secret_arn)
            .send()
            .await?;
        Ok(output.transaction_id().expect("transaction id").to_owned())
    }

    /// Waits up to 2 s for the statement that timed out on `connection_id` to be killed;
    /// `false` when it is still running (looked up as the user of `secret_arn`, who sees
    /// its own connections).
    pub async fn statement_killed(&self, secret_arn: &str, connection_id: i64) -> bool {
        let sleeping = format!(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
             WHERE ID = {connection_id} AND INFO LIKE 'SELECT SLEEP%'"
        );
        for _ in 0..40 {
            let output = self
                .execute_as(secret_arn, &sleeping, vec![], None)
                .await
                .expect("processlist");
            if output.records() == [vec![Field::LongValue(0)]] {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    pub async fn drop_table(&self) {
        let _ = self.execute("DROP TABLE IF EXISTS {t}", vec![], None).await;
    }
}

pub fn param(name: &str, value: Field) -> SqlParameter {
    SqlParameter::builder().name(name).value(value).build()
}

pub fn text(name: &str, value: &str) -> SqlParameter {
    param(name, Field::StringValue(value.to_owned()))
}

/// The modelled (or generic) error a call answered; panics on success or transport errors.
pub fn service_error<O: std::fmt::Debug, E: std::fmt::Debug, R: std::fmt::Debug>(
    result: Result<O, SdkError<E, R>>,
) -> E {
    match result {
        Ok(output) => panic!("expected an error, got {output:?}"),
        Err(SdkError::ServiceError(error)) => error.into_err(),
        Err(other) => panic!("expected a service error, got {other:?}"),
    }
}

/// A secret of a MariaDB user that may only `SELECT` from one table, both created for the
/// test with the user of the MySQL URL (which needs `CREATE USER` and `GRANT OPTION` on its
/// database for it).
pub struct ReadOnlyUser {
    pub admin: mysql_async::Conn,
    pub user: String,
    pub table: String,
    pub secret: SecretValue,
}

impl ReadOnlyUser {
    pub async fn create() -> Self {
        let config = EmulatorConfig::from_env();
        let admin = mysql_async::Conn::from_url(&config.mysql_url)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {}: {e}", config.redacted_mysql_url()));
        let suffix = &uuid::Uuid::new_v4().simple().to_string()[..12];
        let password = uuid::Uuid::new_v4().simple().to_string();
        let mut reader = Self {
            admin,
            user: format!("emu_ro_{suffix}"),
            table: format!("emu_secret_{suffix}"),
            secret: SecretValue::Credentials {
                username: format!("emu_ro_{suffix}"),
                password: password.clone(),
            },
        };
        let (user, table) = (&reader.user, &reader.table);
        let setup = [
            format!("CREATE TABLE {table} (id INT NOT NULL PRIMARY KEY, name VARCHAR(50))"),
            format!("INSERT INTO {table} VALUES (1, 'one')"),
            format!("CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'"),
            format!("GRANT SELECT ON {table} TO '{user}'@'%'"),
        ];
        for statement in setup {
            if let Err(error) = reader.admin.query_drop(&statement).await {
                reader.drop().await;
                panic!(
                    "{statement}: {error} (the URL's user needs CREATE USER on *.* and \
                     GRANT OPTION on its database)"
                );
            }
        }
        reader
    }

    pub async fn drop(mut self) {
        for statement in [
            format!("DROP USER IF EXISTS '{}'@'%'", self.user),
            format!("DROP TABLE IF EXISTS {}", self.table),
        ] {
            if let Err(error) = self.admin.query_drop(&statement).await {
                eprintln!("cleanup: {statement}: {error}");
            }
        }
        let _ = self.admin.disconnect().await;
    }
}

pub const READER_ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:emulator-reader";
pub const TEXT_ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:emulator-jwt-key";
pub const UNKNOWN_ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:nope";

/// A harness whose emulator knows `secrets` (the statement timeout is 1 s).
pub async fn harness_with_secrets(secrets: Vec<(&str, SecretValue)>) -> Harness {
    let config = EmulatorConfig {
        secrets: secrets
            .into_iter()
            .map(|(arn, secret)| (arn.to_owned(), secret))
            .collect(),
        ..EmulatorConfig::from_env()
    };
    let h = Harness::with_config(config).await;
    h.emulator.set_statement_timeout(Duration::from_secs(1));
    h
}

/// The message of a `DatabaseErrorException`; panics on anything else.
pub fn database_error_message(error: ExecuteStatementError) -> String {
    match error {
        ExecuteStatementError::DatabaseErrorException(exception) => {
            exception.message().unwrap_or_default().to_owned()
        }
        other => panic!("expected DatabaseErrorException, got {other:?}"),
    }
}
