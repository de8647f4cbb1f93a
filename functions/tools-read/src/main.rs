use std::sync::Arc;

use shared::config::{Config, Function};
use shared::services::ToolService;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let config = Config::load(Function::ToolsRead).await?;
    let tools = Arc::new(ToolService::from_config(&config));
    lambda_http::run(tools_read::router(tools, config.request_deadline)).await
}
