//! `GET /api/identity/search?q=` (internal): finds customers by full NIK, email, phone,
//! customer id, externalRef or name words. Personal data stays sealed: the query is turned into
//! the same keyed hashes (blind indexes) the customers were stored with, never compared with a
//! plaintext column.

use axum::extract::State;
use axum::Json;
use kenali_core::id::{is_id_of, IdKind};
use kenali_core::search::MAX_QUERY_CHARS;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::auth::Scope;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiQuery, Auth};
use crate::ledger::{self, open_pii, Actor};
use crate::search_index::name_word_indexes;
use crate::service::validate;
use crate::state::AppState;
use crate::store::customers::{self, CustomerFilter, CustomerRow};
use crate::store::{search, Page};
use crate::views::CustomerView;

/// Most customers one search returns (and the default).
const MAX_RESULTS: i64 = 50;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SearchQuery {
    q: Option<String>,
    limit: Option<String>,
}

/// What part of a customer the query matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum MatchedOn {
    Id,
    ExternalRef,
    Nik,
    Email,
    Phone,
    Name,
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
    let q = query.q.as_deref().map(str::trim).unwrap_or_default();
    if q.is_empty() {
        return Err(ApiError::invalid_field("q", "must not be empty"));
    }
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(ApiError::invalid_field("q", format!("must be at most {MAX_QUERY_CHARS} characters")));
    }
    if q.chars().any(char::is_control) {
        return Err(ApiError::invalid_field("q", "must not contain control characters"));
    }
    let limit =
        match query.limit.as_deref() {
            None => MAX_RESULTS,
            Some(text) => text.parse::<i64>().ok().filter(|n| (1..=MAX_RESULTS).contains(n)).ok_or_else(|| {
                ApiError::invalid_field("limit", format!("must be an integer from 1 to {MAX_RESULTS}"))
            })?,
        };

    let mut conn = state.store.reader().acquire().await?;
    let org_id = &principal.org_id;
    let mut hits: Vec<(CustomerRow, Vec<MatchedOn>)> = Vec::new();
    let mut add = |row: CustomerRow, on: MatchedOn| match hits.iter_mut().find(|(r, _)| r.id == row.id) {
        Some((_, matched)) if !matched.contains(&on) => matched.push(on),
        Some(_) => {}
        None => hits.push((row, vec![on])),
    };

    if is_id_of(IdKind::Customer, q) {
        if let Some(row) = customers::find(&mut conn, org_id, q).await? {
            add(row, MatchedOn::Id);
        }
    }
    // Each exact field the query could be, looked up through its own index.
    let index = &state.keys.blind_index;
    let mut exact: Vec<(MatchedOn, CustomerFilter)> = Vec::new();
    if let Ok(external_ref) = validate::reference("q", q) {
        exact.push((MatchedOn::ExternalRef, CustomerFilter { external_ref: Some(external_ref), ..Default::default() }));
    }
    let digits: String = q.chars().filter(|c| !matches!(c, ' ' | '.' | '-')).collect();
    if digits.len() == 16 && digits.bytes().all(|b| b.is_ascii_digit()) {
        exact.push((
            MatchedOn::Nik,
            CustomerFilter { nik_index: Some(index.index("nik", &digits)), ..Default::default() },
        ));
    }
    if q.contains('@') {
        if let Ok(email) = validate::email(q) {
            exact.push((
                MatchedOn::Email,
                CustomerFilter { email_index: Some(index.index("email", &email)), ..Default::default() },
            ));
        }
    } else if let Ok(phone) = validate::phone(q) {
        exact.push((
            MatchedOn::Phone,
            CustomerFilter { phone_index: Some(index.index("phone", &phone)), ..Default::default() },
        ));
    }
    let page = Page { limit, cursor: None };
    for (on, filter) in exact {
        let (rows, _) = customers::list(&mut conn, org_id, &filter, &page).await?;
        rows.into_iter().for_each(|row| add(row, on));
    }
    // Names: every word of the query must be a word of the name.
    let indexes = if q.chars().any(char::is_alphabetic) && !q.contains('@') {
        name_word_indexes(&state.keys, q)
    } else {
        Vec::new()
    };
    if !indexes.is_empty() {
        for customer_id in search::customers_with_words(&mut conn, org_id, &indexes, limit).await? {
            if let Some(row) = customers::find(&mut conn, org_id, &customer_id).await? {
                add(row, MatchedOn::Name);
            }
        }
    }

    let hits: Vec<_> = hits.into_iter().filter(|(row, _)| row.erased_at.is_none()).take(limit as usize).collect();
    let data = hits
        .iter()
        .map(|(row, matched_on)| {
            open_pii(&state.keys, row)
                .map(|pii| SearchHit { customer: CustomerView::new(row, pii), matched_on: matched_on.clone() })
        })
        .collect::<Result<Vec<_>, _>>()?;
    drop(conn);
    // Who looked for customers is recorded; what they typed is personal data and is not.
    let mut tx = state.store.begin().await?;
    let actor = Actor::from_principal(principal);
    ledger::audit(&mut tx, &actor, "customer.searched", "customers", json!({"results": data.len()})).await?;
    tx.commit().await?;
    Ok(Json(SearchResults { data }))
}
