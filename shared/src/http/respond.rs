//! Responses: JSON with its content type, and reads answered conditionally (`ETag`,
//! `If-None-Match` → 304) with the headers every read carries.

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use bytes::Bytes;

use super::X_CACHE;
use crate::cache::CacheStatus;
use crate::domain::etag;

/// What shared caches (a CDN, a proxy) may do with a tool or a page: keep it, but ask again
/// (`If-None-Match`, a 304 when nothing changed) before every use, so that no cache serves a
/// version older than the last acknowledged write.
pub const READ_CACHE_CONTROL: &str = "public, no-cache";

/// A JSON response with the given status.
pub fn json_response(status: StatusCode, body: impl Into<Body>) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Sets the `ETag` header (entity tags are ASCII by construction).
pub fn with_etag(mut response: Response, tag: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(tag) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

/// A read's answer: 200 with `body`, or 304 with no body when `If-None-Match` names `tag`; both
/// carry the `ETag`, `Cache-Control` and `X-Cache`.
pub fn conditional(request: &HeaderMap, tag: &str, body: Bytes, status: CacheStatus) -> Response {
    let response = if unchanged(request, tag) {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        json_response(StatusCode::OK, body)
    };
    let mut response = with_etag(response, tag);
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(READ_CACHE_CONTROL),
    );
    headers.insert(X_CACHE, HeaderValue::from_static(status.as_str()));
    response
}

/// Whether the request's `If-None-Match` names `tag`: the answer is a 304, whose body need not
/// be built.
pub fn unchanged(request: &HeaderMap, tag: &str) -> bool {
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|condition| etag::if_none_match(condition, tag))
}

/// `response` (a read's answer) made reusable by any cache for `ttl` without asking again:
/// `Cache-Control: public, max-age=<seconds>` (left `no-cache` for a TTL under a second).
pub fn reusable_for(mut response: Response, ttl: Duration) -> Response {
    if ttl.as_secs() > 0 {
        let value = format!("public, max-age={}", ttl.as_secs());
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(header::CACHE_CONTROL, value);
        }
    }
    response
}
