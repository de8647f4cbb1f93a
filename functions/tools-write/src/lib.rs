//! `tools-write`: `POST /tools`, `PATCH /tools/{id}` and `DELETE /tools/{id}` for authenticated
//! callers. Each write commits to the database, then updates the cache before answering.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use axum::Router;

use shared::domain::{Actor, IdempotentRequest, RequestFingerprint, Tool};
use shared::http::{
    json_response, with_etag, ApiError, Authenticated, Authenticator, JsonBody, PathId, RouteTable,
};
use shared::services::auth::Authentication;
use shared::services::ToolService;

/// What the write handlers share.
pub struct WriteState {
    /// The tool service.
    pub tools: ToolService,
    /// Access-token verification (public keys only: this function cannot issue a token) and
    /// the session check.
    pub auth: Authentication,
}

impl Authenticator for WriteState {
    fn authentication(&self) -> &Authentication {
        &self.auth
    }
}

fn table() -> RouteTable<Arc<WriteState>> {
    RouteTable::default()
        .add(Method::POST, "/tools", create_tool)
        .add(Method::PATCH, "/tools/{id}", update_tool)
        .add(Method::DELETE, "/tools/{id}", delete_tool)
}

/// The routes this function serves.
pub fn routes() -> Vec<(Method, &'static str)> {
    table().routes()
}

/// The router of this function; every request ends by `deadline` (`REQUEST_DEADLINE_MS`).
pub fn router(state: Arc<WriteState>, deadline: Duration) -> Router {
    table().into_router(deadline).with_state(state)
}

async fn create_tool(
    State(state): State<Arc<WriteState>>,
    Authenticated { actor, .. }: Authenticated,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request = RequestFingerprint {
        method: "POST",
        path: "/tools",
        if_match: None,
        body: Some(&body),
    };
    let key = idempotency_key(&headers, &actor, request)?;
    let tool = state.tools.create(&actor, &body, key.as_ref()).await?;
    let mut response = tool_response(StatusCode::CREATED, &tool)?;
    if let Ok(location) = HeaderValue::from_str(&format!("/tools/{}", tool.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

async fn update_tool(
    State(state): State<Arc<WriteState>>,
    Authenticated { actor, .. }: Authenticated,
    id: Result<PathId, ApiError>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    // The body is checked first (415, 413, then 400), as for every route with a body.
    let PathId(id) = id?;
    let if_match = match headers.get(header::IF_MATCH) {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .map_err(|_| ApiError::BadRequest("If-Match is not a valid ETag list".into()))?,
        ),
    };
    let path = format!("/tools/{id}");
    let request = RequestFingerprint {
        method: "PATCH",
        path: &path,
        if_match,
        body: Some(&body),
    };
    let key = idempotency_key(&headers, &actor, request)?;
    let tool = state
        .tools
        .update(&actor, id, &body, if_match, key.as_ref())
        .await?;
    tool_response(StatusCode::OK, &tool)
}

async fn delete_tool(
    State(state): State<Arc<WriteState>>,
    Authenticated { actor, .. }: Authenticated,
    PathId(id): PathId,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let path = format!("/tools/{id}");
    let request = RequestFingerprint {
        method: "DELETE",
        path: &path,
        if_match: None,
        body: None,
    };
    let key = idempotency_key(&headers, &actor, request)?;
    state.tools.delete(&actor, id, key.as_ref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The request's `Idempotency-Key`, scoped to `actor` and bound to `request`; 400 if malformed.
fn idempotency_key(
    headers: &HeaderMap,
    actor: &Actor,
    request: RequestFingerprint<'_>,
) -> Result<Option<IdempotentRequest>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| ApiError::BadRequest("Idempotency-Key must be ASCII".into()))?;
    IdempotentRequest::parse(text, actor.user_id, request)
        .map(Some)
        .map_err(ApiError::BadRequest)
}

fn tool_response(status: StatusCode, tool: &Tool) -> Result<Response, ApiError> {
    let body = serde_json::to_vec(tool).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(with_etag(json_response(status, body), &tool.etag()))
}
