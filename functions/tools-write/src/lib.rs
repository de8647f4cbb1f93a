//! `tools-write`: `POST /tools`, `PATCH /tools/{id}` and `DELETE /tools/{id}` for authenticated
//! callers. Each write commits to the database, then updates the cache before answering.

use std::sync::Arc;

use axum::extract::{rejection::PathRejection, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use axum::Router;

use shared::auth::AuthService;
use shared::http::{
    json_response, parse_id, ApiError, Authenticated, Authenticator, JsonBody, RouteTable,
};
use shared::store::ToolStore;
use shared::tools::{Tool, ToolManager};

/// What the write handlers share.
pub struct WriteState<S> {
    /// The tool manager.
    pub tools: ToolManager<S>,
    /// Access tokens and the session check.
    pub auth: AuthService,
}

impl<S> Authenticator for WriteState<S> {
    fn auth(&self) -> &AuthService {
        &self.auth
    }
}

fn table<S: ToolStore>() -> RouteTable<Arc<WriteState<S>>> {
    RouteTable::default()
        .add(Method::POST, "/tools", create_tool::<S>)
        .add(Method::PATCH, "/tools/{id}", update_tool::<S>)
        .add(Method::DELETE, "/tools/{id}", delete_tool::<S>)
}

/// The routes this function serves.
pub fn routes() -> Vec<(Method, &'static str)> {
    table::<shared::store::DataApiToolStore>().routes()
}

/// The router of this function, over any tool store.
pub fn router<S: ToolStore>(state: Arc<WriteState<S>>) -> Router {
    table::<S>().into_router().with_state(state)
}

async fn create_tool<S: ToolStore>(
    State(state): State<Arc<WriteState<S>>>,
    Authenticated { actor, .. }: Authenticated,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let tool = state.tools.create(&actor, &body).await?;
    let mut response = tool_response(StatusCode::CREATED, &tool)?;
    if let Ok(location) = HeaderValue::from_str(&format!("/tools/{}", tool.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

async fn update_tool<S: ToolStore>(
    State(state): State<Arc<WriteState<S>>>,
    Authenticated { actor, .. }: Authenticated,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let Path(id) = id.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let id = parse_id(&id)?;
    let if_match = match headers.get(header::IF_MATCH) {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .map_err(|_| ApiError::BadRequest("If-Match is not a valid ETag list".into()))?,
        ),
    };
    let tool = state.tools.update(&actor, id, &body, if_match).await?;
    tool_response(StatusCode::OK, &tool)
}

async fn delete_tool<S: ToolStore>(
    State(state): State<Arc<WriteState<S>>>,
    Authenticated { actor, .. }: Authenticated,
    id: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Path(id) = id.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    state.tools.delete(&actor, parse_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn tool_response(status: StatusCode, tool: &Tool) -> Result<Response, ApiError> {
    let body = serde_json::to_vec(tool).map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut response = json_response(status, body);
    if let Ok(etag) = HeaderValue::from_str(&tool.etag()) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    Ok(response)
}
