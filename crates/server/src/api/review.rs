//! `GET /api/identity/review-queue` and `POST /api/identity/review-queue/{id}/decision`
//! (seed 001: an analyst's override is a new verification row carrying the actor).

use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;

use crate::auth::Scope;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, Auth, PageQuery};
use crate::ledger::Actor;
use crate::service::review::{self, DecisionRequest, ReviewDecided};
use crate::state::AppState;
use crate::store::ktp as ktp_store;
use crate::views::{ListView, ReviewItemView};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QueueQuery {
    limit: Option<String>,
    cursor: Option<String>,
    status: Option<String>,
}

const STATUSES: [&str; 3] = ["open", "approved", "rejected"];

/// Open items oldest first (the order analysts work in); `?status=` shows decided ones.
#[utoipa::path(get, path = "/api/identity/review-queue", tag = "ktp", params(QueueQuery), responses((status = 200, description = "a page of review items, oldest first", body = ListView<ReviewItemView>), crate::error::ErrorResponse))]
pub async fn queue(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(query): ApiQuery<QueueQuery>,
) -> ApiResult<Json<ListView<ReviewItemView>>> {
    let principal = auth.require(Scope::Internal)?;
    let page = PageQuery { limit: query.limit, cursor: query.cursor }.page()?;
    let status = query.status.as_deref().unwrap_or("open");
    if !STATUSES.contains(&status) {
        return Err(ApiError::invalid_field("status", format!("must be one of {}", STATUSES.join(", "))));
    }
    let mut conn = state.store.reader().acquire().await?;
    let (rows, next_cursor) =
        ktp_store::list_review_items(&mut conn, &principal.org_id, status, page.cursor.as_deref(), page.limit).await?;
    Ok(Json(ListView { data: rows.iter().map(ReviewItemView::from).collect(), next_cursor }))
}

/// Decides an open item: a `review_decision` verification (an approval credits only the rung
/// its subject proves, SPEC §3), the tier recomputed, an audit entry. Deciding twice is 409.
#[utoipa::path(post, path = "/api/identity/review-queue/{id}/decision", tag = "ktp", params(("id" = String, Path, description = "review item id (rev_...)")), request_body = DecisionRequest, responses((status = 200, description = "the decision recorded", body = ReviewDecided), crate::error::ErrorResponse))]
pub async fn decide(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<DecisionRequest>,
) -> ApiResult<Json<ReviewDecided>> {
    let actor = Actor::from_principal(auth.require(Scope::Internal)?);
    Ok(Json(review::decide(&state, actor, &id, body).await?))
}
