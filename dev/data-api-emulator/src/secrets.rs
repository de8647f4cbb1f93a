//! Secrets Manager secrets: the database user a Data API call runs as (named by its
//! `secretArn`), and the Secrets Manager `GetSecretValue` operation that serves them.
//!
//! `GetSecretValue` speaks the AWS JSON 1.1 protocol the unmodified `aws-sdk-secretsmanager`
//! client sends: `POST /` with `X-Amz-Target: secretsmanager.GetSecretValue` and a body
//! `{"SecretId": "<ARN or name>"}`. Errors carry their shape name in `__type` and in the
//! `x-amzn-ErrorType` header.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::db::Login;
use crate::error::{ApiError, ERROR_TYPE_HEADER};

/// Content type of AWS JSON 1.1 requests and answers.
const AMZ_JSON_1_1: &str = "application/x-amz-json-1.1";

/// The only Secrets Manager operation served.
const GET_SECRET_VALUE: &str = "secretsmanager.GetSecretValue";

/// The staging label of the (only) version of every secret.
const CURRENT_STAGE: &str = "AWSCURRENT";

/// `VersionId` of the (only) version of every secret.
const VERSION_ID: &str = "00000000-0000-4000-8000-000000000001";

/// What Secrets Manager says about a secret it does not have.
const NOT_FOUND: &str = "Secrets Manager can't find the specified secret.";

/// The value of a Secrets Manager secret, as the emulator's configuration gives it.
///
/// Deserialized (untagged) from either a JSON object with `username` and `password` (other
/// members, such as `host` or `engine` in an RDS secret, are ignored) or a JSON string.
/// `Debug` does not show passwords or texts.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SecretValue {
    /// A database secret: Data API calls naming it connect as this user. Its `SecretString`
    /// is `{"username":"...","password":"..."}`.
    Credentials { username: String, password: String },
    /// Any other secret string (a signing key, ...), served as is. Data API calls cannot
    /// use it.
    Text(String),
}

impl SecretValue {
    /// The `SecretString` `GetSecretValue` answers.
    fn secret_string(&self) -> String {
        match self {
            Self::Credentials { username, password } => {
                json!({ "username": username, "password": password }).to_string()
            }
            Self::Text(text) => text.clone(),
        }
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Credentials { username, .. } => f
                .debug_struct("Credentials")
                .field("username", username)
                .field("password", &"***")
                .finish(),
            Self::Text(_) => f.debug_tuple("Text").field(&"***").finish(),
        }
    }
}

/// The friendly name of a secret: what follows `secret:` in its ARN (the key itself when it
/// is not an ARN).
fn secret_name(arn: &str) -> &str {
    arn.split_once(":secret:").map_or(arn, |(_, name)| name)
}

/// The configured secrets, keyed by ARN.
pub(crate) struct Secrets {
    by_arn: BTreeMap<String, SecretValue>,
    /// `CreatedDate` of every secret: when the emulator was created (epoch seconds).
    created_date: u64,
}

impl Secrets {
    pub(crate) fn new(by_arn: BTreeMap<String, SecretValue>) -> Self {
        let created_date = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        Self {
            by_arn,
            created_date,
        }
    }

    /// The user a Data API call naming `secret_arn` connects as: `None` (the user of the
    /// MySQL URL, whatever the ARN) when no secrets are configured. Otherwise the ARN must
    /// name a [`SecretValue::Credentials`] secret, or the call is a `SecretsErrorException`,
    /// as when the Data API cannot fetch or use a secret.
    pub(crate) fn login(&self, secret_arn: &str) -> Result<Option<Login>, ApiError> {
        if self.by_arn.is_empty() {
            return Ok(None);
        }
        match self.by_arn.get(secret_arn) {
            Some(SecretValue::Credentials { username, password }) => Ok(Some(Login {
                user: username.clone(),
                password: password.clone(),
            })),
            Some(SecretValue::Text(_)) => Err(ApiError::Secrets(format!(
                "Error fetching secret {secret_arn} : The secret is not a database secret \
                 (a JSON object with username and password)."
            ))),
            None => Err(ApiError::Secrets(format!(
                "Error fetching secret {secret_arn} : {NOT_FOUND}"
            ))),
        }
    }

    /// The secret whose ARN or name is `id`, with its ARN.
    fn find(&self, id: &str) -> Option<(&str, &SecretValue)> {
        self.by_arn
            .get_key_value(id)
            .or_else(|| self.by_arn.iter().find(|(arn, _)| secret_name(arn) == id))
            .map(|(arn, value)| (arn.as_str(), value))
    }

    /// Answers a Secrets Manager call: `POST /` with the operation in `X-Amz-Target`.
    pub(crate) fn handle(&self, headers: &HeaderMap, body: &[u8]) -> Response {
        let target = headers
            .get("x-amz-target")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        let result = if target == GET_SECRET_VALUE {
            self.get_secret_value(body)
        } else {
            Err(SecretsManagerError::UnknownOperation)
        };
        match result {
            Ok(answer) => {
                tracing::debug!(operation = target, "ok");
                amz_json(StatusCode::OK, &answer)
            }
            Err(error) => {
                tracing::info!(
                    operation = target,
                    error = error.error_type(),
                    message = %error,
                    "call failed"
                );
                error.into_response()
            }
        }
    }

    fn get_secret_value(&self, body: &[u8]) -> Result<serde_json::Value, SecretsManagerError> {
        let request: GetSecretValueRequest = serde_json::from_slice(body)
            .map_err(|error| SecretsManagerError::Serialization(error.to_string()))?;
        let id = request
            .secret_id
            .filter(|id| !id.is_empty())
            .ok_or_else(|| SecretsManagerError::InvalidParameter("SecretId is required.".into()))?;
        let (arn, value) = self
            .find(&id)
            .ok_or_else(|| SecretsManagerError::ResourceNotFound(NOT_FOUND.into()))?;
        if let Some(stage) = request.version_stage.filter(|stage| stage != CURRENT_STAGE) {
            return Err(SecretsManagerError::ResourceNotFound(format!(
                "Secrets Manager can't find the specified secret value for staging label: {stage}"
            )));
        }
        if let Some(version) = request.version_id.filter(|version| version != VERSION_ID) {
            return Err(SecretsManagerError::ResourceNotFound(format!(
                "Secrets Manager can't find the specified secret value for VersionId: {version}"
            )));
        }
        Ok(json!({
            "ARN": arn,
            "Name": secret_name(arn),
            "SecretString": value.secret_string(),
            "VersionId": VERSION_ID,
            "VersionStages": [CURRENT_STAGE],
            "CreatedDate": self.created_date,
        }))
    }
}

/// `GetSecretValueRequest`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetSecretValueRequest {
    secret_id: Option<String>,
    version_id: Option<String>,
    version_stage: Option<String>,
}

/// A Secrets Manager error answer (all are 400s).
#[derive(Debug, thiserror::Error)]
enum SecretsManagerError {
    /// `ResourceNotFoundException`: no such secret (or version).
    #[error("{0}")]
    ResourceNotFound(String),
    /// `InvalidParameterException`: e.g. no `SecretId`.
    #[error("{0}")]
    InvalidParameter(String),
    /// `SerializationException`: the body is not the operation's JSON input.
    #[error("{0}")]
    Serialization(String),
    /// `UnknownOperationException`: an `X-Amz-Target` other than `GetSecretValue`.
    #[error("unknown operation")]
    UnknownOperation,
}

impl SecretsManagerError {
    fn error_type(&self) -> &'static str {
        match self {
            Self::ResourceNotFound(_) => "ResourceNotFoundException",
            Self::InvalidParameter(_) => "InvalidParameterException",
            Self::Serialization(_) => "SerializationException",
            Self::UnknownOperation => "UnknownOperationException",
        }
    }
}

impl IntoResponse for SecretsManagerError {
    fn into_response(self) -> Response {
        let error_type = self.error_type();
        let body = match self {
            Self::UnknownOperation => json!({ "__type": error_type }),
            other => json!({ "__type": error_type, "message": other.to_string() }),
        };
        let mut response = amz_json(StatusCode::BAD_REQUEST, &body);
        response
            .headers_mut()
            .insert(ERROR_TYPE_HEADER, HeaderValue::from_static(error_type));
        response
    }
}

/// A JSON answer with the AWS JSON 1.1 content type.
fn amz_json(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(AMZ_JSON_1_1));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    const DB_ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:mcp/db-AbCdEf";
    const KEY_ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:mcp/jwt";

    fn secrets() -> Secrets {
        let map = serde_json::from_value(json!({
            DB_ARN: {"username": "reader", "password": "pw", "engine": "mysql"},
            KEY_ARN: "signing key",
        }))
        .expect("secrets map");
        Secrets::new(map)
    }

    #[test]
    fn both_kinds_deserialize_and_debug_hides_values() {
        let secrets = secrets();
        assert_eq!(
            secrets.by_arn[DB_ARN],
            SecretValue::Credentials {
                username: "reader".into(),
                password: "pw".into()
            }
        );
        assert_eq!(
            secrets.by_arn[KEY_ARN],
            SecretValue::Text("signing key".into())
        );
        let debug = format!("{:?}", secrets.by_arn);
        assert!(
            !debug.contains("\"pw\"") && !debug.contains("signing"),
            "{debug}"
        );
    }

    #[test]
    fn data_api_calls_need_a_credentials_secret_once_secrets_are_configured() {
        let open = Secrets::new(BTreeMap::new());
        assert_eq!(open.login("arn:anything"), Ok(None));

        let secrets = secrets();
        assert_eq!(
            secrets.login(DB_ARN),
            Ok(Some(Login {
                user: "reader".into(),
                password: "pw".into()
            }))
        );
        let unknown = secrets.login("arn:nope").expect_err("unknown secret");
        assert_eq!(unknown.error_type(), "SecretsErrorException");
        assert_eq!(
            unknown.to_string(),
            "Error fetching secret arn:nope : Secrets Manager can't find the specified secret."
        );
        let text = secrets.login(KEY_ARN).expect_err("text secret");
        assert_eq!(text.error_type(), "SecretsErrorException");
    }

    #[test]
    fn secrets_are_found_by_arn_or_name() {
        let secrets = secrets();
        assert_eq!(
            secrets.find("mcp/db-AbCdEf").map(|(arn, _)| arn),
            Some(DB_ARN)
        );
        assert_eq!(secrets.find(KEY_ARN).map(|(arn, _)| arn), Some(KEY_ARN));
        assert!(secrets.find("mcp").is_none());
    }

    #[test]
    fn get_secret_value_answers_the_service_shape() {
        let answer = secrets()
            .get_secret_value(br#"{"SecretId": "mcp/db-AbCdEf"}"#)
            .expect("answer");
        assert_eq!(answer["ARN"], DB_ARN);
        assert_eq!(answer["Name"], "mcp/db-AbCdEf");
        let secret_string = answer["SecretString"].as_str().expect("SecretString");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(secret_string).expect("JSON"),
            json!({"username": "reader", "password": "pw"})
        );
        assert_eq!(answer["VersionStages"], json!(["AWSCURRENT"]));
        assert!(answer["CreatedDate"].is_u64());

        let error = secrets()
            .get_secret_value(br#"{"SecretId": "mcp/jwt", "VersionStage": "AWSPREVIOUS"}"#)
            .expect_err("no previous version");
        assert_eq!(error.error_type(), "ResourceNotFoundException");
    }

    #[test]
    fn other_operations_are_unknown() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-amz-target",
            HeaderValue::from_static("secretsmanager.ListSecrets"),
        );
        let response = secrets().handle(&headers, b"{}");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            response.headers().get(ERROR_TYPE_HEADER),
            Some(&HeaderValue::from_static("UnknownOperationException"))
        );
        assert_eq!(
            response.headers().get(header::CONTENT_TYPE),
            Some(&HeaderValue::from_static(AMZ_JSON_1_1))
        );
    }
}
