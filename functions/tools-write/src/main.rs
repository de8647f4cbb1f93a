use std::sync::Arc;

use shared::auth::TokenKeys;
use shared::config::Config;
use shared::tools::ToolManager;
use tools_write::WriteState;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let config = Config::from_env()?;
    let state = Arc::new(WriteState {
        tools: ToolManager::from_config(&config),
        tokens: TokenKeys::new(&config.auth),
    });
    lambda_http::run(tools_write::router(state)).await
}
