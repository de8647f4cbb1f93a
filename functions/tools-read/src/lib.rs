//! `tools-read`: `GET /tools` and `GET /tools/{id}`, served through the Redis read-through cache.

use std::sync::Arc;

use axum::extract::{rejection::PathRejection, Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use axum::Router;

use shared::cache::CacheStatus;
use shared::http::{json_response, parse_id, ApiError, RouteTable, X_CACHE};
use shared::store::ToolStore;
use shared::tools::{etag_for, ListQuery, ToolManager};

fn table<S: ToolStore>() -> RouteTable<Arc<ToolManager<S>>> {
    RouteTable::default()
        .add(Method::GET, "/tools", list_tools::<S>)
        .add(Method::GET, "/tools/{id}", get_tool::<S>)
}

/// The routes this function serves.
pub fn routes() -> Vec<(Method, &'static str)> {
    table::<shared::store::DataApiToolStore>().routes()
}

/// The router of this function, over any tool store.
pub fn router<S: ToolStore>(tools: Arc<ToolManager<S>>) -> Router {
    table::<S>().into_router().with_state(tools)
}

async fn get_tool<S: ToolStore>(
    State(tools): State<Arc<ToolManager<S>>>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Path(id) = id.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let id = parse_id(&id)?;
    let (tool, status) = tools.get(id).await?;
    let etag = etag_for(tool.revision);
    let mut response = if none_match(&headers, &etag) {
        let mut r = Response::new(axum::body::Body::empty());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        json_response(StatusCode::OK, tool.body)
    };
    let h = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, value);
    }
    h.insert(X_CACHE, cache_header(status));
    Ok(response)
}

async fn list_tools<S: ToolStore>(
    State(tools): State<Arc<ToolManager<S>>>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let query = ListQuery::parse(raw.as_deref()).map_err(ApiError::BadQuery)?;
    let (body, status) = tools.list(&query).await?;
    let mut response = json_response(StatusCode::OK, body);
    response.headers_mut().insert(X_CACHE, cache_header(status));
    Ok(response)
}

/// Whether `If-None-Match` names `etag` (weak comparison, as RFC 9110 asks for this header).
fn none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == "*" || tag == etag)
}

fn cache_header(status: CacheStatus) -> HeaderValue {
    HeaderValue::from_static(status.as_str())
}
