// The provisioning future nests the Data API client deeply.
#![recursion_limit = "256"]

use std::sync::Arc;
use std::time::SystemTime;

use lambda_runtime::{service_fn, LambdaEvent};
use schema_migrator::{answer, response_url, Migrator, Request, ANSWER_MARGIN};
use shared::config::{Config, Function};
use shared::store::{migrations::MIGRATIONS, DataApi};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    // The database's administrator: the master secret, and every function's database secret.
    let config = Config::from_env(Function::Admin).inspect_err(|error| {
        tracing::error!(%error, "configuration refused; the function stops");
    })?;
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let physical_id = format!(
        "{}/{}",
        config.database.cluster_arn, config.database.database
    );
    let migrator = Arc::new(Migrator::new(
        DataApi::new(config.database),
        aws_sdk_secretsmanager::Client::new(&sdk),
        |name| std::env::var(name).ok(),
        MIGRATIONS,
        physical_id,
    ));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Request>| {
        let migrator = migrator.clone();
        async move {
            let time = event
                .context
                .deadline()
                .duration_since(SystemTime::now())
                .unwrap_or_default()
                .saturating_sub(ANSWER_MARGIN);
            let response = migrator.handle(&event.payload, time).await;
            // An answer that cannot be delivered fails the invocation: Lambda retries it (the
            // provisioning is idempotent) rather than leave CloudFormation waiting.
            answer(response_url(&event.payload), &response).await?;
            Ok::<_, lambda_runtime::Error>(())
        }
    }))
    .await
}
