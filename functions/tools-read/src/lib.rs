//! `tools-read`: `GET /tools` and `GET /tools/{id}`, served through the Redis read-through cache.

use std::sync::Arc;

use axum::extract::{rejection::PathRejection, Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;

use shared::cache::CacheStatus;
use shared::http::{
    access_log, json_response, method_not_allowed, not_found, parse_id, ApiError, X_CACHE,
};
use shared::store::ToolStore;
use shared::tools::{etag_for, ListQuery, ToolManager};

/// The router of this function, over any tool store.
pub fn router<S: ToolStore>(tools: Arc<ToolManager<S>>) -> Router {
    Router::new()
        .route("/tools", get(list_tools::<S>))
        .route("/tools/{id}", get(get_tool::<S>))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(access_log))
        .with_state(tools)
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
