//! Problem documents (RFC 9457) and the one mapping from the services' errors to statuses.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::domain::FieldError;
use crate::services::{AuthError, ToolError};

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
    /// 410.
    #[error("{0}")]
    Gone(String),
    /// 409.
    #[error("{0}")]
    Conflict(String),
    /// 409, with `Retry-After`: another request with this `Idempotency-Key` is running.
    #[error("{0}")]
    KeyInUse(String),
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
    /// 422: a list query the database cannot answer within its time limit.
    #[error("{0}")]
    QueryTooBroad(String),
    /// 422: an `Idempotency-Key` first sent with another request.
    #[error("{0}")]
    KeyReused(String),
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
            Self::Gone(_) => (StatusCode::GONE, "gone", "Gone"),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict", "Conflict"),
            Self::KeyInUse(_) => (
                StatusCode::CONFLICT,
                "idempotency-key-in-use",
                "Idempotency key in use",
            ),
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
            Self::QueryTooBroad(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "query-too-broad",
                "Query too broad",
            ),
            Self::KeyReused(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "Idempotency key reused",
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
        let body = serde_json::to_vec(&problem)
            .expect("a problem document (strings and numbers) serializes");
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
            Self::Unavailable | Self::KeyInUse(_) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
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
            ToolError::Gone => Self::Gone(error.to_string()),
            ToolError::Forbidden => Self::Forbidden(error.to_string()),
            ToolError::NameTaken(_) => Self::Conflict(error.to_string()),
            ToolError::Contention => Self::Conflict(error.to_string()),
            ToolError::KeyInUse => Self::KeyInUse(error.to_string()),
            ToolError::KeyReused => Self::KeyReused(error.to_string()),
            ToolError::PreconditionFailed => Self::PreconditionFailed(error.to_string()),
            ToolError::Invalid(errors) => Self::Unprocessable(errors),
            ToolError::BadQuery(errors) => Self::BadQuery(errors),
            ToolError::TooBroad => Self::QueryTooBroad(error.to_string()),
            ToolError::Throttled(wait) => Self::TooManyRequests(wait),
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
            AuthError::SessionNotFound => Self::NotFound(error.to_string()),
        }
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
}
