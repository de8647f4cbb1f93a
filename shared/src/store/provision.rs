//! Provisioning: the schema migrations, then each function's database user with its password and
//! rights, as one idempotent step run by the database's administrator. Every deploy runs it (the
//! schema-migrator function, behind a CloudFormation custom resource); locally `mcp-admin migrate`
//! does.

use serde::Deserialize;

use super::migrations::{self, Migration, MigrationError};
use super::{DataApi, StoreError};
use crate::config::{Function, Secret};

/// Why provisioning stopped.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// A function's database secret could not be read or is not that function's.
    #[error("reading {variable} ({arn}): {reason}")]
    Secret {
        /// The variable naming the secret.
        variable: &'static str,
        /// The secret's ARN.
        arn: String,
        /// Why (never the secret's value).
        reason: String,
    },
    /// The database did not answer (it stayed paused, or is unreachable).
    #[error("the database did not answer: {0}")]
    Unreachable(#[source] StoreError),
    /// A migration failed.
    #[error(transparent)]
    Migration(#[from] MigrationError),
    /// Creating the users or granting their rights failed.
    #[error("creating the function users failed: {0}")]
    Users(#[source] StoreError),
}

/// What provisioning did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provisioned {
    /// The migrations applied by this run (none when the schema was up to date).
    pub applied: Vec<i64>,
    /// The newest migration's version: the schema the database now has.
    pub schema_version: i64,
}

/// A database secret's value, as RDS and the template write it.
#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

/// Applies `migrations` (in production [`migrations::MIGRATIONS`]), then creates the user of each
/// Lambda function (or sets its password to its secret's, which is how a rotated secret takes
/// effect) and grants it its rights. Each function's secret is the one its variable
/// ([`Function::database_secret_variable`]) names in `lookup`, or the local stack's.
pub async fn provision(
    db: &DataApi,
    secrets: &aws_sdk_secretsmanager::Client,
    lookup: impl Fn(&str) -> Option<String>,
    migrations: &[Migration],
) -> Result<Provisioned, ProvisionError> {
    // The passwords first: a missing secret stops the run before it changes anything.
    let mut users = Vec::new();
    for function in Function::LAMBDAS {
        let variable = function.database_secret_variable();
        let arn = lookup(variable)
            .filter(|arn| !arn.is_empty())
            .unwrap_or_else(|| function.local_secret_arn());
        users.push((function, password(secrets, function, variable, arn).await?));
    }
    until_awake(db).await.map_err(ProvisionError::Unreachable)?;
    let applied = migrations::migrate(db, migrations).await?;
    migrations::grant_function_users(db, &users)
        .await
        .map_err(ProvisionError::Users)?;
    Ok(Provisioned {
        applied,
        schema_version: migrations.iter().map(|m| m.version).max().unwrap_or(0),
    })
}

/// Waits for a database that is waking: an Aurora Serverless v2 paused at 0 ACU (the low-cost
/// profile) answers `DatabaseResumingException` for the seconds it takes to resume, and a deploy
/// must not fail for that. Up to a minute.
async fn until_awake(db: &DataApi) -> Result<(), StoreError> {
    const TRIES: u32 = 12;
    for _ in 1..TRIES {
        match db.execute("SELECT 1", vec![]).await {
            Err(StoreError::Unavailable(reason)) => {
                tracing::info!(%reason, "waiting for the database to answer");
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            }
            other => return other.map(drop),
        }
    }
    db.execute("SELECT 1", vec![]).await.map(drop)
}

/// The password in `function`'s database secret, which must name `function`'s user.
async fn password(
    secrets: &aws_sdk_secretsmanager::Client,
    function: Function,
    variable: &'static str,
    arn: String,
) -> Result<Secret, ProvisionError> {
    let failed = |reason: String| ProvisionError::Secret {
        variable,
        arn: arn.clone(),
        reason,
    };
    let text = secrets
        .get_secret_value()
        .secret_id(&arn)
        .send()
        .await
        .map_err(|e| failed(aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string()))?
        .secret_string
        .ok_or_else(|| failed("it holds no string".into()))?;
    let credentials: Credentials = serde_json::from_str(&text)
        .map_err(|_| failed("not a database secret ({\"username\", \"password\"})".into()))?;
    let expected = migrations::database_user(function);
    if credentials.username != expected {
        return Err(failed(format!(
            "it names user {:?}; {} connects as {expected:?}",
            credentials.username,
            function.name()
        )));
    }
    Ok(Secret::new(credentials.password))
}
