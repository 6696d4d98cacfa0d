//! The HTTP edge: `/metrics` in the Prometheus text format (unsigned), and every other path to
//! the AWS-compatible API (`api`), which verifies SigV4 itself. It holds no state of its own.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::api::Api;
use crate::metrics::Metrics;

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
