//! Request guards: the JSON body (content type 415, size 413, syntax 400), the tool id of the
//! path (400), the bearer access token with a live session (401), and the caller's address.

use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::{header, request::Parts, HeaderMap};
use bytes::Bytes;
use serde_json::Value;
use uuid::Uuid;

use super::{ApiError, MAX_BODY_BYTES};
use crate::domain::Actor;
use crate::services::auth::Authentication;
use crate::services::auth::ClientInfo;
use crate::store::SessionRecord;

/// A JSON body, checked for content type (415), size (413) and syntax (400).
#[derive(Debug)]
pub struct JsonBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, ApiError> {
        if !is_json(request.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        parse_json(&read_body(request).await?).map(Self)
    }
}

/// An optional JSON body: absent (empty) is `None`; present, it is checked like [`JsonBody`].
#[derive(Debug)]
pub struct OptionalJsonBody(pub Option<Value>);

impl<S: Send + Sync> FromRequest<S> for OptionalJsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, ApiError> {
        let json = is_json(request.headers());
        let bytes = read_body(request).await?;
        if bytes.is_empty() {
            Ok(Self(None))
        } else if json {
            parse_json(&bytes).map(|value| Self(Some(value)))
        } else {
            Err(ApiError::UnsupportedMediaType)
        }
    }
}

/// The request's body, up to [`MAX_BODY_BYTES`] (413 beyond).
async fn read_body(request: Request) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES)
        .await
        .map_err(|_| ApiError::PayloadTooLarge)
}

fn parse_json(bytes: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::BadRequest(format!("the body is not valid JSON: {e}")))
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// The `{id}` of a route (a tool, a session): a UUID in any standard form, else 400.
#[derive(Clone, Copy, Debug)]
pub struct PathId(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(text) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::BadRequest(e.body_text()))?;
        Uuid::try_parse(&text)
            .map(Self)
            .map_err(|_| ApiError::BadRequest(format!("{text:?} is not a UUID")))
    }
}

/// Router states that can authenticate a caller.
pub trait Authenticator {
    /// Token verification and the session check.
    fn authentication(&self) -> &Authentication;
}

impl<T: Authenticator> Authenticator for std::sync::Arc<T> {
    fn authentication(&self) -> &Authentication {
        (**self).authentication()
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
            .authentication()
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

/// The caller's `User-Agent` and source address: API Gateway's (the request context's), which a
/// client cannot choose. Only a request with no context or a loopback source (`cargo lambda
/// watch`, which API Gateway never is) may name its client in `X-Forwarded-For` (the first hop),
/// so the local stack can play many clients.
pub struct Client(pub ClientInfo);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let header_text = |name: header::HeaderName| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let context = parts
            .extensions
            .get::<lambda_http::request::RequestContext>();
        let from_context = context.and_then(|context| match context {
            lambda_http::request::RequestContext::ApiGatewayV2(c) => c.http.source_ip.clone(),
            _ => None,
        });
        let forwarded = header_text(header::HeaderName::from_static("x-forwarded-for"))
            .and_then(|v| v.split(',').next().map(|s| s.trim().to_owned()))
            .filter(|hop| !hop.is_empty());
        // Another kind of context (REST API, ALB) is not local either.
        let local = match context {
            None => true,
            Some(lambda_http::request::RequestContext::ApiGatewayV2(_)) => {
                from_context.as_deref().is_none_or(|ip| {
                    ip.parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| ip.is_loopback())
                })
            }
            Some(_) => false,
        };
        let source_ip = if local {
            forwarded.or(from_context)
        } else {
            from_context
        };
        Ok(Self(ClientInfo {
            user_agent: header_text(header::USER_AGENT),
            source_ip,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    async fn client_of(context_ip: Option<&str>, forwarded: Option<&str>) -> Option<String> {
        let mut request = axum::http::Request::builder().uri("/");
        if let Some(hop) = forwarded {
            request = request.header("x-forwarded-for", hop);
        }
        let (mut parts, ()) = request.body(()).unwrap().into_parts();
        if let Some(ip) = context_ip {
            let mut context =
                lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext::default();
            context.http.source_ip = Some(ip.to_owned());
            parts
                .extensions
                .insert(lambda_http::request::RequestContext::ApiGatewayV2(context));
        }
        let Client(client) = Client::from_request_parts(&mut parts, &()).await.unwrap();
        client.source_ip
    }

    #[tokio::test]
    async fn only_a_local_request_may_name_its_client_in_x_forwarded_for() {
        let hop = Some("198.51.100.7, 10.0.0.1");
        // API Gateway: the address it saw, whatever the client claims.
        assert_eq!(
            client_of(Some("203.0.113.9"), hop).await.as_deref(),
            Some("203.0.113.9")
        );
        assert_eq!(
            client_of(Some("2001:db8::1"), hop).await.as_deref(),
            Some("2001:db8::1")
        );
        // cargo lambda watch (a loopback source) or no context at all: the first hop.
        assert_eq!(
            client_of(Some("127.0.0.1"), hop).await.as_deref(),
            Some("198.51.100.7")
        );
        assert_eq!(
            client_of(Some("::1"), hop).await.as_deref(),
            Some("198.51.100.7")
        );
        assert_eq!(client_of(None, hop).await.as_deref(), Some("198.51.100.7"));
        assert_eq!(
            client_of(Some("127.0.0.1"), None).await.as_deref(),
            Some("127.0.0.1")
        );
        assert_eq!(client_of(None, None).await, None);
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
