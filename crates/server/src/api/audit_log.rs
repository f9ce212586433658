//! `GET /api/identity/audit-log` and `GET /api/identity/tier-events` (internal scope).

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::auth::Scope;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiQuery, Auth, PageQuery};
use crate::service::validate::timestamp_param;
use crate::state::AppState;
use crate::store::audit::{self, AuditFilter};
use crate::store::tier_events;
use crate::views::{ListView, TierEventView};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuditQuery {
    limit: Option<String>,
    cursor: Option<String>,
    action: Option<String>,
    target: Option<String>,
    actor: Option<String>,
    since: Option<String>,
    until: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntryView {
    id: String,
    seq: i64,
    actor: String,
    action: String,
    target: String,
    request_id: String,
    details: serde_json::Value,
    created_at: String,
    prev_hash: String,
    hash: String,
}

#[utoipa::path(get, path = "/api/identity/audit-log", tag = "audit", params(AuditQuery), responses((status = 200, description = "a page of audit entries, newest first", body = ListView<AuditEntryView>), crate::error::ErrorResponse))]
pub async fn list(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> ApiResult<Json<ListView<AuditEntryView>>> {
    let principal = auth.require(Scope::Internal)?;
    let page = PageQuery { limit: query.limit, cursor: query.cursor }.page()?;
    let before_seq = page
        .cursor
        .as_deref()
        .map(|c| c.parse::<i64>().map_err(|_| ApiError::invalid_field("cursor", "is not a cursor this server issued")))
        .transpose()?;
    let filter = AuditFilter {
        action: query.action,
        target: query.target,
        actor: query.actor,
        since: timestamp_param("since", query.since.as_deref())?,
        until: timestamp_param("until", query.until.as_deref())?,
    };
    let mut conn = state.store.reader().acquire().await?;
    let (rows, next_cursor) = audit::list(&mut conn, &principal.org_id, &filter, before_seq, page.limit).await?;
    let data = rows
        .into_iter()
        .map(|(r, hash)| AuditEntryView {
            id: r.id,
            seq: r.seq,
            actor: r.actor,
            action: r.action,
            target: r.target,
            request_id: r.request_id,
            details: serde_json::from_str(&r.details).unwrap_or(serde_json::Value::Null),
            created_at: r.created_at,
            prev_hash: r.prev_hash,
            hash,
        })
        .collect();
    Ok(Json(ListView { data, next_cursor }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TierEventQuery {
    limit: Option<String>,
    cursor: Option<String>,
    customer_id: Option<String>,
    since: Option<String>,
}

#[utoipa::path(get, path = "/api/identity/tier-events", tag = "audit", params(TierEventQuery), responses((status = 200, description = "a page of tier events", body = ListView<TierEventView>), crate::error::ErrorResponse))]
pub async fn tier_events(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(query): ApiQuery<TierEventQuery>,
) -> ApiResult<Json<ListView<TierEventView>>> {
    let principal = auth.require(Scope::Internal)?;
    let page = PageQuery { limit: query.limit, cursor: query.cursor }.page()?;
    let since = timestamp_param("since", query.since.as_deref())?;
    let mut conn = state.store.reader().acquire().await?;
    let (rows, next_cursor) =
        tier_events::list(&mut conn, &principal.org_id, query.customer_id.as_deref(), since.as_deref(), &page).await?;
    Ok(Json(ListView { data: rows.iter().map(TierEventView::from).collect(), next_cursor }))
}
