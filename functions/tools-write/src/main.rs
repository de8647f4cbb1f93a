use std::sync::Arc;

use shared::config::{Config, Function};
use shared::services::auth::Authentication;
use shared::services::ToolService;
use tools_write::WriteState;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let config = Config::load(Function::ToolsWrite).await?;
    let tools = ToolService::from_config(&config);
    let auth = Authentication::from_config(&config, tools.cache().clone());
    let state = Arc::new(WriteState { tools, auth });
    lambda_http::run(tools_write::router(state, config.request_deadline)).await
}
