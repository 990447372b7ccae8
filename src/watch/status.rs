//! The status HTTP server: `GET /healthz` (alive), `GET /metrics` (OpenMetrics when the scraper
//! asks for it, else the classic Prometheus text format) and
//! `GET /status` (JSON: folders, recent packages, active policies, last reload), and
//! `POST /reload` (load the config and policies again, as SIGHUP does), `GET /` (the
//! dashboard) and `GET /reports/<file>` (the report files, read-only).
//!
//! A hostile client on the network must not starve the daemon: connections are capped (more
//! are closed at once, so idle sockets cannot exhaust file descriptors), a client has 10 s to
//! send its request headers, and a connection idle for 60 s is closed. With a bearer token
//! configured, every route but `/healthz` requires it (`/healthz` stays open for probes).

use std::net::SocketAddr;
use std::sync::Arc;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::State;
use axum::http::header::{
    AUTHORIZATION, CONTENT_SECURITY_POLICY, CONTENT_TYPE, WWW_AUTHENTICATE, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::shared::Shared;

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/status", get(status))
        .route("/reload", axum::routing::post(reload))
        .route("/", get(dashboard_page))
        .route("/reports/{file}", get(report_file))
        .with_state(shared)
}

/// `ok` while the daemon can write its reports and database; 503 with the reason while it
/// cannot (packages are then retried, not lost).
async fn healthz(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    match shared.failing() {
        None => (StatusCode::OK, "ok\n".to_owned()),
        Some(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("unhealthy: {}\n", crate::diagnostic::visible(&why)),
        ),
    }
}

/// Whether the request carries the configured bearer token (always, without one).
fn authorized(shared: &Shared, headers: &HeaderMap) -> bool {
    let Some(token) = shared.status_token() else {
        return true;
    };
    headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| constant_time_eq(given.as_bytes(), token.as_bytes()))
}

/// Compares without stopping at the first difference, so timing tells nothing of the token.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn unauthorized() -> axum::response::Response {
    (
        StatusCode::UNAUTHORIZED,
        [(WWW_AUTHENTICATE, "Bearer")],
        "a bearer token is required\n",
    )
        .into_response()
}

async fn metrics(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
) -> axum::response::Response {
    if !authorized(&shared, &headers) {
        return unauthorized();
    }
    // Content negotiation as Prometheus does it: OpenMetrics to a scraper that asks for it,
    // the classic text format (whose content type every parser knows) otherwise.
    let wants_openmetrics = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("application/openmetrics-text"));
    if wants_openmetrics {
        (
            [(
                CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            shared.metrics.render(),
        )
            .into_response()
    } else {
        (
            [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
            shared.metrics.render_classic(),
        )
            .into_response()
    }
}

async fn status(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> axum::response::Response {
    if !authorized(&shared, &headers) {
        return unauthorized();
    }
    Json(shared.status().clone()).into_response()
}

/// `GET /`: the dashboard, from the status board and the history database.
async fn dashboard_page(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
) -> axum::response::Response {
    if !authorized(&shared, &headers) {
        return unauthorized();
    }
    let built = tokio::task::spawn_blocking(move || {
        super::dashboard::dashboard(&shared, "/reports/", true)
            .map(|d| crate::report::render_dashboard(&d))
    })
    .await;
    match built {
        Ok(Ok(page)) => (
            [
                (CONTENT_TYPE, "text/html; charset=utf-8"),
                // Its one inline script fetches this page; nothing else may load.
                (
                    CONTENT_SECURITY_POLICY,
                    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; img-src data:",
                ),
            ],
            page,
        )
            .into_response(),
        _ => (
            StatusCode::SERVICE_UNAVAILABLE,
            "the history database cannot be read now\n",
        )
            .into_response(),
    }
}

/// `GET /reports/<file>`: a report file from the reports folder, read-only. Only a plain file
/// name is served: anything that resolves outside the folder (`..`, an encoded `/`, a
/// symbolic link leading out) is a 404, like a file that is not there.
async fn report_file(
    State(shared): State<Arc<Shared>>,
    axum::extract::Path(name): axum::extract::Path<String>,
    headers: HeaderMap,
) -> axum::response::Response {
    if !authorized(&shared, &headers) {
        return unauthorized();
    }
    let not_found = || (StatusCode::NOT_FOUND, "no such report\n").into_response();
    let Some(content_type) = report_content_type(&name) else {
        return not_found();
    };
    let plain = !name.is_empty()
        && !name.starts_with('.')
        && !name.contains(['/', '\\', '\0'])
        && name != "..";
    if !plain {
        return not_found();
    }
    let dir = shared.reports_dir.clone();
    let read = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
        let root = std::fs::canonicalize(&dir)?;
        let path = std::fs::canonicalize(root.join(&name))?;
        if !path.starts_with(&root) {
            return Err(std::io::ErrorKind::NotFound.into());
        }
        let text = crate::package::read_text_file(&path, MAX_REPORT_BYTES)?;
        Ok(text.into_bytes())
    })
    .await;
    match read {
        Ok(Ok(bytes)) => (
            [
                (CONTENT_TYPE, content_type),
                (
                    CONTENT_SECURITY_POLICY,
                    "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
                ),
                (X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            bytes,
        )
            .into_response(),
        _ => not_found(),
    }
}

/// The largest report file served.
const MAX_REPORT_BYTES: u64 = 256 << 20;

/// The Content-Type of a report file by its name; `None` for anything that is no report.
fn report_content_type(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    let types = [
        (".junit.xml", "application/xml; charset=utf-8"),
        (".html", "text/html; charset=utf-8"),
        (".json", "application/json"),
        (".md", "text/markdown; charset=utf-8"),
        (".sarif", "application/sarif+json"),
        (".txt", "text/plain; charset=utf-8"),
    ];
    types
        .iter()
        .find(|(ending, _)| lower.ends_with(ending))
        .map(|(_, content_type)| *content_type)
}

/// `POST /reload`: loads the config and policies again, as SIGHUP does (Windows has none).
/// The daemon answers in its log and in `/status` (`last_reload`).
async fn reload(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> axum::response::Response {
    if !authorized(&shared, &headers) {
        return unauthorized();
    }
    shared.request_reload();
    (StatusCode::ACCEPTED, "reload requested\n").into_response()
}

/// Binds `address`; the caller reports a bind failure before the daemon starts work.
pub async fn bind(address: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(address).await
}

/// How long a client has to send its request headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection may stay idle (no bytes either way) before it is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Serves until `stop` turns true, at most `max_connections` connections at once.
pub async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    max_connections: usize,
) {
    let app = router(shared);
    let permits = Arc::new(Semaphore::new(max_connections));
    let mut connections = JoinSet::new();
    let mut refused = 0u64;
    loop {
        if *stop.borrow() {
            break;
        }
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.changed() => continue,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Out of file descriptors, typically: back off rather than spin.
                tracing::warn!(%error, "Status server cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            refused += 1;
            if refused.is_power_of_two() {
                tracing::warn!(
                    max_connections,
                    refused,
                    "Status server at its connection limit; closing new connections"
                );
            }
            drop(stream);
            continue;
        };
        let service = TowerToHyperService::new(app.clone());
        connections.spawn(async move {
            let io = TokioIo::new(IdleStream::new(stream, IDLE_TIMEOUT));
            let served = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(io, service)
                .await;
            if let Err(error) = served {
                tracing::debug!(%error, "Status connection closed");
            }
            drop(permit);
        });
        while connections.try_join_next().is_some() {}
    }
    connections.abort_all();
}

/// A connection that fails once nothing has moved either way for `idle`.
struct IdleStream {
    inner: tokio::net::TcpStream,
    idle: Duration,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl IdleStream {
    fn new(inner: tokio::net::TcpStream, idle: Duration) -> Self {
        Self {
            inner,
            idle,
            deadline: Box::pin(tokio::time::sleep(idle)),
        }
    }

    fn moved(&mut self) {
        let at = tokio::time::Instant::now() + self.idle;
        self.deadline.as_mut().reset(at);
    }

    /// `Pending` becomes a timeout error once the connection has been idle too long.
    fn timed_out(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "idle connection closed",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for IdleStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    self.moved();
                }
                Poll::Ready(result)
            }
            Poll::Pending => self.timed_out(cx),
        }
    }
}

impl AsyncWrite for IdleStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write(cx, data) {
            Poll::Ready(result) => {
                self.moved();
                Poll::Ready(result)
            }
            Poll::Pending => match self.timed_out(cx) {
                Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
                _ => Poll::Pending,
            },
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
