//! HTTP glue shared by the routers: problem+json errors (RFC 9457), the one mapping from domain
//! errors to status codes, request guards (content type, size, JSON, bearer token) and responses.

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, request::Parts, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::auth::{Actor, AuthError, AuthService};
use crate::store::SessionRecord;
use crate::tools::{FieldError, ToolError};

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The `X-Cache` header.
pub const X_CACHE: &str = "x-cache";

/// An RFC 9457 problem document.
#[derive(Debug, Serialize)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the kind.
    pub title: &'static str,
    /// HTTP status.
    pub status: u16,
    /// What happened in this case.
    pub detail: String,
    /// Invalid fields, for validation problems.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

/// Every error a route can answer with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400.
    #[error("{0}")]
    BadRequest(String),
    /// 400 with field errors (query parameters).
    #[error("invalid query parameters")]
    BadQuery(Vec<FieldError>),
    /// 401, with `WWW-Authenticate: Bearer`.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// 403.
    #[error("{0}")]
    Forbidden(String),
    /// 404.
    #[error("{0}")]
    NotFound(String),
    /// 405.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 409.
    #[error("{0}")]
    Conflict(String),
    /// 412.
    #[error("{0}")]
    PreconditionFailed(String),
    /// 413.
    #[error("the request body is larger than 64 KiB")]
    PayloadTooLarge,
    /// 415.
    #[error("request bodies must be application/json")]
    UnsupportedMediaType,
    /// 422.
    #[error("some fields are invalid")]
    Unprocessable(Vec<FieldError>),
    /// 429, with `Retry-After` (whole seconds, at least 1).
    #[error("too many attempts; retry after {} seconds", retry_after_secs(*.0))]
    TooManyRequests(std::time::Duration),
    /// 503, with `Retry-After`.
    #[error("the database is unavailable; retry shortly")]
    Unavailable,
    /// 500: a fault of ours, logged with its cause; the client sees no detail.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            Self::BadRequest(_) | Self::BadQuery(_) => {
                (StatusCode::BAD_REQUEST, "bad-request", "Bad request")
            }
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Forbidden"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            Self::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
            ),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict", "Conflict"),
            Self::PreconditionFailed(_) => (
                StatusCode::PRECONDITION_FAILED,
                "precondition-failed",
                "Precondition failed",
            ),
            Self::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "Payload too large",
            ),
            Self::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
            ),
            Self::Unprocessable(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
                "Invalid fields",
            ),
            Self::TooManyRequests(_) => (
                StatusCode::TOO_MANY_REQUESTS,
                "too-many-requests",
                "Too many requests",
            ),
            Self::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service unavailable",
            ),
            Self::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
            ),
        }
    }

    /// The problem document of this error.
    pub fn problem(&self) -> Problem {
        let (status, kind, title) = self.parts();
        let errors = match self {
            Self::BadQuery(errors) | Self::Unprocessable(errors) => Some(errors.clone()),
            _ => None,
        };
        Problem {
            kind: format!("https://mcp-registry.dev/problems/{kind}"),
            title,
            status: status.as_u16(),
            detail: self.to_string(),
            errors,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(cause) = &self {
            tracing::error!(%cause, "internal error");
        }
        let problem = self.problem();
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (
            StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/problem+json"),
            )],
            body,
        )
            .into_response();
        let headers = response.headers_mut();
        // A problem is an answer about this moment (a 404 for a tool created a moment later, a
        // 503): no cache keeps it.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        match self {
            Self::Unauthorized(_) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(
                        "Bearer realm=\"mcp-registry\", error=\"invalid_token\"",
                    ),
                );
            }
            Self::TooManyRequests(wait) => {
                headers.insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(retry_after_secs(wait)),
                );
            }
            Self::Unavailable => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            Self::MethodNotAllowed => {}
            _ => {}
        }
        response
    }
}

/// A wait in whole seconds, rounded up, at least 1 (`Retry-After` has no fractions).
fn retry_after_secs(wait: std::time::Duration) -> u64 {
    (wait.as_millis().div_ceil(1000) as u64).max(1)
}

impl From<ToolError> for ApiError {
    fn from(error: ToolError) -> Self {
        match error {
            ToolError::NotFound => Self::NotFound("no tool with this id".into()),
            ToolError::Forbidden => Self::Forbidden(error.to_string()),
            ToolError::NameTaken(_) => Self::Conflict(error.to_string()),
            ToolError::Contention => Self::Conflict(error.to_string()),
            ToolError::PreconditionFailed => Self::PreconditionFailed(error.to_string()),
            ToolError::Invalid(errors) => Self::Unprocessable(errors),
            ToolError::BadQuery(errors) => Self::BadQuery(errors),
            ToolError::Unavailable => Self::Unavailable,
            ToolError::Internal(cause) => Self::Internal(cause),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::InvalidCredentials => Self::Unauthorized("invalid email or password"),
            AuthError::InvalidToken => {
                Self::Unauthorized("the token is invalid, expired or revoked")
            }
            AuthError::EmailTaken => Self::Conflict(error.to_string()),
            AuthError::Invalid(errors) => Self::Unprocessable(errors),
            AuthError::Throttled(wait) => Self::TooManyRequests(wait),
            AuthError::Unavailable => Self::Unavailable,
            AuthError::Internal(cause) => Self::Internal(cause),
        }
    }
}

/// Parses a path id: a UUID in any standard form, else 400.
pub fn parse_id(text: &str) -> Result<Uuid, ApiError> {
    Uuid::try_parse(text).map_err(|_| ApiError::BadRequest(format!("{text:?} is not a UUID")))
}

/// A JSON body, checked for content type (415), size (413) and syntax (400).
#[derive(Debug)]
pub struct JsonBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, ApiError> {
        if !is_json(request.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES)
            .await
            .map_err(|_| ApiError::PayloadTooLarge)?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::BadRequest(format!("the body is not valid JSON: {e}")))
    }
}

/// An optional JSON body: absent (empty) is `None`; present, it is checked like [`JsonBody`].
#[derive(Debug)]
pub struct OptionalJsonBody(pub Option<Value>);

impl<S: Send + Sync> FromRequest<S> for OptionalJsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, ApiError> {
        let json = is_json(request.headers());
        let bytes = axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES)
            .await
            .map_err(|_| ApiError::PayloadTooLarge)?;
        if bytes.is_empty() {
            return Ok(Self(None));
        }
        if !json {
            return Err(ApiError::UnsupportedMediaType);
        }
        serde_json::from_slice(&bytes)
            .map(|v| Self(Some(v)))
            .map_err(|e| ApiError::BadRequest(format!("the body is not valid JSON: {e}")))
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// Router states that can authenticate a caller.
pub trait Authenticator {
    /// The auth service (token verification and the session check).
    fn auth(&self) -> &AuthService;
}

impl<T: Authenticator> Authenticator for std::sync::Arc<T> {
    fn auth(&self) -> &AuthService {
        (**self).auth()
    }
}

/// The authenticated caller: a valid access token from `Authorization: Bearer <token>` whose
/// session is alive (401 otherwise).
#[derive(Clone, Debug)]
pub struct Authenticated {
    /// Who calls.
    pub actor: Actor,
    /// Their live session.
    pub session: SessionRecord,
}

impl<S: Authenticator + Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let token = bearer_token(&parts.headers)
            .ok_or(ApiError::Unauthorized("a bearer access token is required"))?;
        let (actor, session) = state
            .auth()
            .authenticate(token)
            .await
            .map_err(ApiError::from)?;
        Ok(Self { actor, session })
    }
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// A JSON response with the given status and extra headers.
pub fn json_response(status: StatusCode, body: impl Into<Body>) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// The fallback of every router: 404 problem.
pub async fn not_found() -> ApiError {
    ApiError::NotFound("no such route".into())
}

/// The method fallback of every router: 405 problem.
pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// One log line per request: method, route, status, latency and cache outcome (never headers or
/// bodies, which may carry tokens).
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
    tracing::info!(
        %method,
        route,
        status,
        latency_us = latency.as_micros() as u64,
        cache = cache.unwrap_or("-"),
        "request"
    );
    crate::metrics::record_request(method.as_str(), route, status, latency, cache);
    response
}

/// A router that remembers its routes, so the route list (checked against the OpenAPI document
/// and the SAM template by the tests) is the router itself, not a copy of it.
pub struct RouteTable<S> {
    router: axum::Router<S>,
    routes: Vec<(axum::http::Method, &'static str)>,
}

impl<S: Clone + Send + Sync + 'static> Default for RouteTable<S> {
    fn default() -> Self {
        Self {
            router: axum::Router::new(),
            routes: Vec::new(),
        }
    }
}

impl<S: Clone + Send + Sync + 'static> RouteTable<S> {
    /// Serves `method` on `path` with `handler`.
    pub fn add<H, T>(mut self, method: axum::http::Method, path: &'static str, handler: H) -> Self
    where
        H: axum::handler::Handler<T, S>,
        T: 'static,
    {
        let filter = axum::routing::MethodFilter::try_from(method.clone())
            .expect("routes use standard methods");
        self.router = self.router.route(path, axum::routing::on(filter, handler));
        self.routes.push((method, path));
        self
    }

    /// The routes, as `(method, path template)`.
    pub fn routes(&self) -> Vec<(axum::http::Method, &'static str)> {
        self.routes.clone()
    }

    /// The router, with the problem-document fallbacks and the access log.
    pub fn into_router(self) -> axum::Router<S> {
        self.router
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .layer(axum::middleware::from_fn(access_log))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_never_leak_internal_causes() {
        let problem = ApiError::Internal("SELECT * FROM secrets".into()).problem();
        assert_eq!(problem.status, 500);
        assert!(!problem.detail.contains("SELECT"));
    }

    #[test]
    fn bearer_tokens_are_parsed_case_insensitively() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer abc"),
        );
        assert_eq!(bearer_token(&headers), Some("abc"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer_token(&headers), None);
    }
}
