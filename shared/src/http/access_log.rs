//! The access log: one line per request (on Lambda, the metrics line: see `metrics`).

use axum::extract::Request;
use axum::response::Response;

use super::X_CACHE;

/// One log line per request: method, route, status, latency and cache outcome (never headers or
/// bodies, which may carry tokens), as the metrics line where metrics are emitted, else as a log
/// event.
pub async fn access_log(request: Request, next: axum::middleware::Next) -> Response {
    let method = request.method().clone();
    let matched = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .cloned();
    let route = matched.as_ref().map_or("unmatched", |p| p.as_str());
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let latency = started.elapsed();
    let cache = response
        .headers()
        .get(X_CACHE)
        .and_then(|v| v.to_str().ok());
    let status = response.status().as_u16();
    // On Lambda the metrics line carries all of it: one line per request, not two.
    if !crate::metrics::record_request(method.as_str(), route, status, latency, cache) {
        tracing::info!(
            %method,
            route,
            status,
            latency_us = latency.as_micros() as u64,
            cache = cache.unwrap_or("-"),
            "request"
        );
    }
    response
}
