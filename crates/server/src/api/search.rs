//! `GET /api/identity/search?q=` (internal): finds customers by full NIK, email, phone,
//! customer id, externalRef or name words. Personal data stays sealed: the query is turned into
//! the same keyed hashes (blind indexes) the customers were stored with, never compared with a
//! plaintext column.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::auth::Scope;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiQuery, Auth};
use crate::ledger::Actor;
use crate::service::search::{self, MatchedOn, MAX_RESULTS};
use crate::state::AppState;
use crate::views::CustomerView;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SearchQuery {
    q: Option<String>,
    limit: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchHit {
    #[serde(flatten)]
    customer: CustomerView,
    matched_on: Vec<MatchedOn>,
}

/// `{"data": [...]}`: at most `limit` customers, exact identifier matches first.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SearchResults {
    data: Vec<SearchHit>,
}

#[utoipa::path(get, path = "/api/identity/search", tag = "operations", params(SearchQuery), responses((status = 200, description = "customers found, each with what it matched on", body = SearchResults), crate::error::ErrorResponse))]
pub async fn search(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(query): ApiQuery<SearchQuery>,
) -> ApiResult<Json<SearchResults>> {
    let principal = auth.require(Scope::Internal)?;
    let q = search::query(query.q.as_deref())?;
    let limit =
        match query.limit.as_deref() {
            None => MAX_RESULTS,
            Some(text) => text.parse::<i64>().ok().filter(|n| (1..=MAX_RESULTS).contains(n)).ok_or_else(|| {
                ApiError::invalid_field("limit", format!("must be an integer from 1 to {MAX_RESULTS}"))
            })?,
        };
    let hits = search::customers(&state, &Actor::from_principal(principal), q, limit).await?;
    let data = hits
        .into_iter()
        .map(|hit| SearchHit { customer: CustomerView::new(&hit.row, hit.pii), matched_on: hit.matched_on })
        .collect();
    Ok(Json(SearchResults { data }))
}
