//! `GET /api/healthz` and `GET /metrics`: no key needed.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::json;

use crate::state::AppState;

#[utoipa::path(get, path = "/api/healthz", tag = "operations", responses((status = 200, description = "the server and its database are up", body = serde_json::Value), (status = 503, description = "the database is unreachable", body = serde_json::Value), (status = "default", description = "an error: `{error: {code, message, details, requestId}}` (SPEC §1)", body = crate::openapi::ErrorBody)), security(()))]
pub async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    let database_ok = state.store.ping().await;
    let status = if database_ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (
        status,
        Json(json!({
            "status": if database_ok { "ok" } else { "degraded" },
            "database": if database_ok { "ok" } else { "unavailable" },
            "databaseBackend": state.store.backend().name(),
            "version": env!("CARGO_PKG_VERSION"),
            "region": state.config.region,
        })),
    )
}

pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render())
}
