//! `auth`: the account and session routes (`/auth/*`). Until they are built, every route answers
//! a 501 problem document so clients get a clear, non-5xx-looking-like-a-crash answer.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;

async fn not_implemented() -> Response {
    let body = serde_json::json!({
        "type": "https://mcp-registry.dev/problems/not-implemented",
        "title": "Not implemented",
        "status": 501,
        "detail": "the auth routes are not available in this build",
    });
    (
        StatusCode::NOT_IMPLEMENTED,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        )],
        body.to_string(),
    )
        .into_response()
}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let router = Router::new().fallback(not_implemented);
    lambda_http::run(router).await
}
