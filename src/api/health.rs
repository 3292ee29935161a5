//! Liveness and metrics: `GET /health`, `GET /metrics`.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::doc::Internal;
use crate::http::error::ApiError;
use crate::metrics::Gauge;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(metrics))
}

/// `"ok"` once storage answers.
#[utoipa::path(
    get,
    path = "/health",
    tag = "Service",
    security(()),
    responses(
        (status = 200, description = "The database answers", body = String,
            content_type = "application/json", example = json!("ok")),
        Internal,
    )
)]
async fn health(State(state): State<AppState>) -> Result<Json<&'static str>, ApiError> {
    state.store.ping().await?;
    Ok(Json("ok"))
}

/// Counters in the Prometheus text format.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "Service",
    security(()),
    responses(
        (status = 200, description = "Requests, key checks and throttled answers", body = String,
            content_type = "text/plain"),
    )
)]
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let gauges = [
        Gauge {
            name: "keyflow_read_cache_bytes",
            help: "bytes of answers the read cache holds, as weighed against its bound",
            value: state.reads.weight(),
        },
        Gauge {
            name: "keyflow_read_cache_capacity_bytes",
            help: "the read cache's bound (--read-cache-mib)",
            value: state.reads.capacity(),
        },
        Gauge {
            name: "keyflow_read_cache_entries",
            help: "answers the read cache holds",
            value: state.reads.entries(),
        },
        Gauge {
            name: "keyflow_key_cache_entries",
            help: "API keys whose grants the key cache holds (bounded by --key-cache-capacity)",
            value: state.verifier.cached_grants(),
        },
    ];
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(&gauges),
    )
}
