//! `tools-read`: `GET /tools` and `GET /tools/{id}`, served through the Redis read-through cache.

use std::sync::Arc;

use axum::extract::{rejection::PathRejection, Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use axum::Router;
use bytes::Bytes;

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
    Ok(conditional(
        &headers,
        &etag_for(tool.revision),
        tool.body,
        status,
    ))
}

async fn list_tools<S: ToolStore>(
    State(tools): State<Arc<ToolManager<S>>>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let query = ListQuery::parse(raw.as_deref()).map_err(ApiError::BadQuery)?;
    let (page, status) = tools.list(&query).await?;
    Ok(conditional(&headers, &page.etag, page.body, status))
}

/// What shared caches (a CDN, a proxy) may do with a tool or a page: keep it, but ask again
/// (`If-None-Match`, a 304 when nothing changed) before every use, so that no cache serves a
/// version older than the last acknowledged write.
pub const READ_CACHE_CONTROL: &str = "public, no-cache";

/// 200 with `body`, or 304 with no body when `If-None-Match` names `etag`; both carry the ETag,
/// `Cache-Control` and `X-Cache`.
fn conditional(headers: &HeaderMap, etag: &str, body: Bytes, status: CacheStatus) -> Response {
    let mut response = if none_match(headers, etag) {
        let mut r = Response::new(axum::body::Body::empty());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        json_response(StatusCode::OK, body)
    };
    let h = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, value);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(READ_CACHE_CONTROL),
    );
    h.insert(X_CACHE, cache_header(status));
    response
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
