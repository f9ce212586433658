//! `GET /api/healthz` and `GET /metrics`: no key needed.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::Serialize;

use crate::state::AppState;

/// Whether the server can serve: its database answers.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    /// ok | degraded
    status: &'static str,
    /// ok | unavailable
    database: &'static str,
    /// sqlite | postgres
    database_backend: &'static str,
    version: &'static str,
    region: String,
}

#[utoipa::path(get, path = "/api/healthz", tag = "operations", responses((status = 200, description = "the server and its database are up", body = Health), (status = 503, description = "the database is unreachable", body = Health), crate::error::ErrorResponse), security(()))]
pub async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    let database_ok = state.store.ping().await;
    let status = if database_ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (
        status,
        Json(Health {
            status: if database_ok { "ok" } else { "degraded" },
            database: if database_ok { "ok" } else { "unavailable" },
            database_backend: state.store.backend().name(),
            version: env!("CARGO_PKG_VERSION"),
            region: state.config.region.clone(),
        }),
    )
}

pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render())
}
