//! `RouteTable`: the router builder whose route list the tests compare with the OpenAPI
//! document and the SAM template, with the problem-document fallbacks, the request deadline and
//! the access log.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};

use super::{access_log, ApiError};

/// The fallback of every router: 404 problem.
pub async fn not_found() -> ApiError {
    ApiError::NotFound("no such route".into())
}

/// The method fallback of every router: 405 problem.
pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
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

    /// The router, with the problem-document fallbacks, every request cut off at `deadline`
    /// (`REQUEST_DEADLINE_MS`), and the access log (which logs the cut-off ones too).
    pub fn into_router(self, deadline: Duration) -> axum::Router<S> {
        self.router
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .layer(axum::middleware::from_fn_with_state(deadline, cut_off_at))
            .layer(axum::middleware::from_fn(access_log))
    }
}

/// Answers 503 with `Retry-After` when the request has not ended by `deadline`. What it was
/// doing is dropped where it stood: an open transaction is rolled back in the background
/// ([`Transaction`](crate::store::Transaction)), a lease expires by itself.
async fn cut_off_at(
    State(deadline): State<Duration>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    match tokio::time::timeout(deadline, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(?deadline, "request cut off at its deadline");
            ApiError::Unavailable.into_response()
        }
    }
}
