//! The status HTTP server: `GET /healthz` (alive), `GET /metrics` (Prometheus text format) and
//! `GET /status` (JSON: folders, recent packages, active policies, last reload).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::shared::Shared;

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/status", get(status))
        .with_state(shared)
}

/// `ok` while the daemon can write its reports and database; 503 with the reason while it
/// cannot (packages are then retried, not lost).
async fn healthz(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    match shared.failing() {
        None => (axum::http::StatusCode::OK, "ok\n".to_owned()),
        Some(why) => (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            format!("unhealthy: {}\n", crate::diagnostic::visible(&why)),
        ),
    }
}

async fn metrics(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        shared.metrics.render(),
    )
}

async fn status(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    Json(shared.status().clone())
}

/// Binds `address`; the caller reports a bind failure before the daemon starts work.
pub async fn bind(address: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(address).await
}

/// Serves until `stop` turns true.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let shutdown = async move {
        while !*stop.borrow() {
            if stop.changed().await.is_err() {
                return;
            }
        }
    };
    if let Err(error) = axum::serve(listener, router(shared))
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::error!(%error, "Status server stopped");
    }
}
