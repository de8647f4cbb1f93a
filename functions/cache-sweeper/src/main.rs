// The scheduled run is one deeply nested future (Data API client inside the tool service).
#![recursion_limit = "256"]

use std::sync::Arc;

use cache_sweeper::Sweeper;
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;
use shared::config::{Config, Function};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    // The sweeper needs Redis and the Data API, not the JWT key: the environment is enough.
    let config = Config::from_env(Function::CacheSweeper)?;
    let sweeper = Arc::new(Sweeper::from_config(&config));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let sweeper = sweeper.clone();
        async move { Ok::<_, lambda_runtime::Error>(sweeper.run(event.context.deadline()).await) }
    }))
    .await
}
