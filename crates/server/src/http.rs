//! The HTTP edge: `/metrics` in the Prometheus text format (unsigned), and every other path to
//! the AWS-compatible API (`api`), which verifies SigV4 itself; the API listener adds the web
//! console's `/console` routes (`console`). [`ApiRoutes`] builds these routes
//! for each listener that serves them (the API listener, and the port-443 and WebSocket
//! listeners), so that each API instance knows its own listener's address: the development
//! credential is accepted only where that address is loopback. It holds no state of its own.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::api::{Api, ApiConfig};
use crate::config::ServerError;
use crate::metrics::Metrics;
use crate::mqtt::router::Command;
use crate::services;

/// What the routes of a listener are built from.
#[derive(Debug, Clone)]
pub(crate) struct ApiRoutes {
    pub(crate) config: ApiConfig,
    pub(crate) ca: pki::CertificateAuthority,
    pub(crate) router: tokio::sync::mpsc::Sender<Command>,
    pub(crate) services: Option<services::Link>,
    pub(crate) metrics: Arc<Metrics>,
}

impl ApiRoutes {
    /// `/metrics` and the API for a listener at `listener`.
    pub(crate) fn build(
        &self,
        listener: Option<std::net::SocketAddr>,
    ) -> Result<Router, ServerError> {
        let api = self.api(listener)?;
        Ok(routes(Arc::clone(&self.metrics), Some(Arc::new(api))))
    }

    /// The API as served on a listener at `listener` (the web console gets its own).
    pub(crate) fn api(&self, listener: Option<std::net::SocketAddr>) -> Result<Api, ServerError> {
        let config = ApiConfig {
            listener,
            ..self.config.clone()
        };
        Ok(Api::new(
            config,
            self.ca.clone(),
            self.router.clone(),
            self.services.clone(),
        )?)
    }
}

/// The HTTP routes: `/metrics`, then the API for everything else when there is one.
pub fn routes(metrics: Arc<Metrics>, api: Option<Arc<Api>>) -> Router {
    let router = Router::new()
        .route("/metrics", get(render))
        .with_state(metrics);
    match api {
        Some(api) => router.fallback(move |request: Request| {
            let api = Arc::clone(&api);
            async move { crate::api::handle(api, request).await }
        }),
        None => router,
    }
}

async fn render(State(metrics): State<Arc<Metrics>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics.render(),
    )
}
