//! The HTTP listener (`--http-listen`, default 127.0.0.1:8080): Prometheus `/metrics` and
//! Open311 (`/open311/v2/`); the web desk mounts here too.

use std::future::Future;

use anyhow::Context;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;

/// The routes of the HTTP listener: `/metrics`; Open311 when an engine is given; the web desk
/// when a gRPC channel to this router is given (with the finished simulations in
/// `simulations`, if given).
pub fn router(
    metrics: PrometheusHandle,
    hotline: Option<crate::Hotline>,
    desk: Option<tonic::transport::Channel>,
    simulations: Option<std::path::PathBuf>,
) -> Router {
    let mut app = match hotline {
        Some(hotline) => crate::open311::routes(hotline),
        None => Router::new(),
    };
    if let Some(channel) = desk {
        app = app.merge(hotline_agent_desk::web::routes_with(channel, simulations));
    }
    app.route(
        "/metrics",
        get(move || {
            let metrics = metrics.clone();
            async move {
                (
                    [(
                        header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    metrics.render(),
                )
                    .into_response()
            }
        }),
    )
}

/// Serves `app` on `listener` until `shutdown` resolves (in-flight requests finish).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .context("serving HTTP")
}
