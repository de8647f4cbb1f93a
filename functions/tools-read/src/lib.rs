//! `tools-read`: `GET /tools` and `GET /tools/{id}`, served through the Redis read-through cache.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use axum::Router;
use bytes::Bytes;

use shared::domain::{etag, mcp_list, ListFormat, ListQuery};
use shared::http::{conditional, reusable_for, unchanged, ApiError, Client, PathId, RouteTable};
use shared::services::ToolService;

fn table() -> RouteTable<Arc<ToolService>> {
    RouteTable::default()
        .add(Method::GET, "/tools", list_tools)
        .add(Method::GET, "/tools/{id}", get_tool)
}

/// The routes this function serves.
pub fn routes() -> Vec<(Method, &'static str)> {
    table().routes()
}

/// The router of this function; every request ends by `deadline` (`REQUEST_DEADLINE_MS`).
pub fn router(tools: Arc<ToolService>, deadline: Duration) -> Router {
    table().into_router(deadline).with_state(tools)
}

async fn get_tool(
    State(tools): State<Arc<ToolService>>,
    PathId(id): PathId,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (tool, status) = tools.get(id).await?;
    let tag = etag::of_revision(tool.revision);
    Ok(conditional(&headers, &tag, tool.body, status))
}

async fn list_tools(
    State(tools): State<Arc<ToolService>>,
    RawQuery(raw): RawQuery,
    Client(client): Client,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let query = ListQuery::parse(raw.as_deref()).map_err(ApiError::BadQuery)?;
    let (page, status) = tools.list(&query, client.source_ip.as_deref()).await?;
    match query.format {
        ListFormat::Registry => Ok(conditional(&headers, &page.etag, page.body, status)),
        ListFormat::Mcp => {
            let ttl = tools.cache().config().mcp_list_ttl;
            let tag = mcp_list::etag(&page.etag, ttl);
            // A 304 (a gateway polling its pages) costs no rendering.
            let body = if unchanged(&headers, &tag) {
                Bytes::new()
            } else {
                mcp_list::render(&page.body, ttl)
                    .map_err(|e| ApiError::Internal(e.to_string()))?
                    .into()
            };
            Ok(reusable_for(conditional(&headers, &tag, body, status), ttl))
        }
    }
}
