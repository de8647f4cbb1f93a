//! `auth`: register, login, refresh (with rotation), logout, and the caller's sessions (the
//! current one, the list, revoking one or all).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::Response;
use axum::Router;
use serde::Serialize;

use shared::http::{
    json_response, ApiError, Authenticated, Authenticator, Client, JsonBody, OptionalJsonBody,
    PathId, RouteTable,
};
use shared::services::auth::{AuthService, Authentication, SessionView};

/// What the auth handlers share.
pub struct AuthState {
    /// Accounts and sessions.
    pub auth: AuthService,
}

impl Authenticator for AuthState {
    fn authentication(&self) -> &Authentication {
        self.auth.authentication()
    }
}

fn table() -> RouteTable<Arc<AuthState>> {
    RouteTable::default()
        .add(Method::POST, "/auth/register", register)
        .add(Method::POST, "/auth/login", login)
        .add(Method::POST, "/auth/refresh", refresh)
        .add(Method::POST, "/auth/logout", logout)
        .add(Method::GET, "/auth/session", session)
        .add(Method::GET, "/auth/sessions", sessions)
        .add(Method::DELETE, "/auth/sessions/{id}", revoke_session)
        .add(Method::POST, "/auth/logout-all", logout_all)
}

/// The routes this function serves.
pub fn routes() -> Vec<(Method, &'static str)> {
    table().routes()
}

/// The router of this function; every request ends by `deadline` (`REQUEST_DEADLINE_MS`).
pub fn router(state: Arc<AuthState>, deadline: Duration) -> Router {
    table().into_router(deadline).with_state(state)
}

fn json<T: Serialize>(status: StatusCode, value: &T) -> Result<Response, ApiError> {
    let body = serde_json::to_vec(value).map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut response = json_response(status, body);
    // Token responses must never be cached (RFC 6749 §5.1); nor are the others worth caching.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

async fn register(
    State(state): State<Arc<AuthState>>,
    Client(client): Client,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let user = state.auth.register(&body, &client).await?;
    json(StatusCode::CREATED, &user)
}

async fn login(
    State(state): State<Arc<AuthState>>,
    Client(client): Client,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let tokens = state.auth.login(&body, client).await?;
    json(StatusCode::OK, &tokens)
}

async fn refresh(
    State(state): State<Arc<AuthState>>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let tokens = state.auth.refresh(&body).await?;
    json(StatusCode::OK, &tokens)
}

async fn logout(
    State(state): State<Arc<AuthState>>,
    Authenticated { actor, .. }: Authenticated,
    OptionalJsonBody(body): OptionalJsonBody,
) -> Result<StatusCode, ApiError> {
    state.auth.logout(&actor, body.as_ref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn session(Authenticated { session, .. }: Authenticated) -> Result<Response, ApiError> {
    json(StatusCode::OK, &SessionView::from(&session))
}

async fn sessions(
    State(state): State<Arc<AuthState>>,
    Authenticated { actor, .. }: Authenticated,
) -> Result<Response, ApiError> {
    let items = state.auth.sessions(&actor).await?;
    json(StatusCode::OK, &serde_json::json!({ "items": items }))
}

async fn revoke_session(
    State(state): State<Arc<AuthState>>,
    Authenticated { actor, .. }: Authenticated,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    state.auth.revoke_session(&actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn logout_all(
    State(state): State<Arc<AuthState>>,
    Authenticated { actor, .. }: Authenticated,
) -> Result<StatusCode, ApiError> {
    state.auth.logout_all(&actor).await?;
    Ok(StatusCode::NO_CONTENT)
}
