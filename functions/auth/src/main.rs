use std::sync::Arc;

use auth::AuthState;
use shared::cache::CacheService;
use shared::config::{Config, Function};
use shared::services::AuthService;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let config = Config::load(Function::Auth).await?;
    let auth = AuthService::from_config(&config, CacheService::new(&config.cache))?;
    lambda_http::run(auth::router(
        Arc::new(AuthState { auth }),
        config.request_deadline,
    ))
    .await
}
