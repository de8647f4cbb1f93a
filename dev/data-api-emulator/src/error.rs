//! The errors the emulator answers with, and their one mapping to the wire.
//!
//! Status codes are those of the `rds-data` service model; the error name goes in the
//! `x-amzn-errortype` header (what the smithy `restJson1` clients read first) and in the body
//! as `__type`, next to `message`, so `aws-sdk-rdsdata` maps each to its typed variant.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::mysql8;

/// Header carrying the error shape name in `restJson1`.
pub(crate) const ERROR_TYPE_HEADER: &str = "x-amzn-errortype";

/// A Data API error response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ApiError {
    /// `BadRequestException` (400): malformed call.
    #[error("{0}")]
    BadRequest(String),
    /// `ValidationException` (400): not in the SDK's model, but what AWS answers for
    /// multi-statement SQL and for the `schema` member.
    #[error("{0}")]
    Validation(String),
    /// `DatabaseErrorException` (400): the database rejected the statement.
    #[error("{0}")]
    Database(String),
    /// `DatabaseUnavailableException` (504): the database cannot be reached.
    #[error("{0}")]
    DatabaseUnavailable(String),
    /// `DatabaseResumingException` (400): an auto-paused Serverless v2 instance is resuming.
    #[error("{0}")]
    DatabaseResuming(String),
    /// `SecretsErrorException` (400): the secret cannot be fetched or used.
    #[error("{0}")]
    Secrets(String),
    /// `TransactionNotFoundException` (404).
    #[error("{0}")]
    TransactionNotFound(String),
    /// `ServiceUnavailableError` (503).
    #[error("{0}")]
    ServiceUnavailable(String),
    /// `ThrottlingException` (400): the caller's request rate is over its quota.
    #[error("{0}")]
    Throttling(String),
    /// `StatementTimeoutException` (400).
    #[error("{message}")]
    StatementTimeout {
        message: String,
        db_connection_id: Option<u32>,
    },
    /// `UnsupportedResultException` (400): the result cannot be represented.
    #[error("{0}")]
    UnsupportedResult(String),
    /// `InternalServerErrorException` (500).
    #[error("{0}")]
    Internal(String),
    /// `UnknownOperationException` (404): no such route.
    #[error("{0}")]
    UnknownOperation(String),
}

impl ApiError {
    /// The error shape name, as `aws-sdk-rdsdata` matches it.
    pub(crate) fn error_type(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "BadRequestException",
            Self::Validation(_) => "ValidationException",
            Self::Database(_) => "DatabaseErrorException",
            Self::DatabaseUnavailable(_) => "DatabaseUnavailableException",
            Self::DatabaseResuming(_) => "DatabaseResumingException",
            Self::Secrets(_) => "SecretsErrorException",
            Self::TransactionNotFound(_) => "TransactionNotFoundException",
            Self::ServiceUnavailable(_) => "ServiceUnavailableError",
            Self::Throttling(_) => "ThrottlingException",
            Self::StatementTimeout { .. } => "StatementTimeoutException",
            Self::UnsupportedResult(_) => "UnsupportedResultException",
            Self::Internal(_) => "InternalServerErrorException",
            Self::UnknownOperation(_) => "UnknownOperationException",
        }
    }

    /// The HTTP status of the error shape in the service model.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_)
            | Self::Validation(_)
            | Self::Database(_)
            | Self::DatabaseResuming(_)
            | Self::Secrets(_)
            | Self::Throttling(_)
            | Self::StatementTimeout { .. }
            | Self::UnsupportedResult(_) => StatusCode::BAD_REQUEST,
            Self::TransactionNotFound(_) | Self::UnknownOperation(_) => StatusCode::NOT_FOUND,
            Self::DatabaseUnavailable(_) => StatusCode::GATEWAY_TIMEOUT,
            Self::ServiceUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<mysql_async::Error> for ApiError {
    fn from(error: mysql_async::Error) -> Self {
        use mysql_async::{DriverError, Error};
        match error {
            Error::Server(e) => Self::Database(mysql8::to_mysql8(&e).data_api_message()),
            Error::Io(e) => Self::DatabaseUnavailable(format!("Communications link failure: {e}")),
            Error::Driver(
                e @ (DriverError::ConnectionClosed
                | DriverError::PoolDisconnected
                | DriverError::PacketOutOfOrder
                | DriverError::PacketTooLarge),
            ) => Self::DatabaseUnavailable(format!("Communications link failure: {e}")),
            Error::Driver(
                e @ (DriverError::StmtParamsMismatch { .. }
                | DriverError::MixedParams
                | DriverError::NamedParamsForPositionalQuery
                | DriverError::MissingNamedParam { .. }),
            ) => Self::BadRequest(e.to_string()),
            Error::Url(e) => Self::Internal(format!("invalid MySQL URL: {e}")),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let error_type = self.error_type();
        let mut body = json!({ "__type": error_type, "message": self.to_string() });
        if let Self::StatementTimeout {
            db_connection_id: Some(id),
            ..
        } = &self
        {
            body["dbConnectionId"] = json!(id);
        }
        let mut response = (self.status(), Json(body)).into_response();
        response
            .headers_mut()
            .insert(ERROR_TYPE_HEADER, HeaderValue::from_static(error_type));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_service_model() {
        let cases = [
            (ApiError::BadRequest(String::new()), 400),
            (ApiError::Database(String::new()), 400),
            (ApiError::TransactionNotFound(String::new()), 404),
            (ApiError::ServiceUnavailable(String::new()), 503),
            (ApiError::DatabaseUnavailable(String::new()), 504),
            (ApiError::Internal(String::new()), 500),
        ];
        for (error, status) in cases {
            assert_eq!(error.status().as_u16(), status, "{}", error.error_type());
        }
    }

    #[test]
    fn response_carries_error_type_header_and_message() {
        let response = ApiError::Database("Duplicate entry 'x' for key 'k'".into()).into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            response.headers().get(ERROR_TYPE_HEADER),
            Some(&HeaderValue::from_static("DatabaseErrorException"))
        );
    }

    #[test]
    fn server_errors_become_database_errors() {
        let error = mysql_async::Error::Server(mysql_async::ServerError {
            code: 1062,
            message: "Duplicate entry 'x' for key 'k'".into(),
            state: "23000".into(),
        });
        assert_eq!(
            ApiError::from(error),
            ApiError::Database(
                "Duplicate entry 'x' for key 'k'; Error code: 1062; SQLState: 23000".into()
            )
        );
    }
}
