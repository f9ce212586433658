//! `GET/POST /api/identity/api-keys`, `DELETE /api/identity/api-keys/{id}` (revoke). Admin scope.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

use crate::auth::Scope;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiQuery, Auth, PageQuery};
use crate::ledger::Actor;
use crate::middleware::CarriesSecret;
use crate::service::api_keys as service;
use crate::state::AppState;
use crate::store::api_keys::ApiKeyRow;
use crate::views::ListView;

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyView {
    id: String,
    name: String,
    prefix: String,
    scopes: Vec<String>,
    created_by: String,
    created_at: String,
    revoked_at: Option<String>,
}

/// `{"apiKey": {...}}`.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyEnvelope {
    api_key: ApiKeyView,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct NewApiKey {
    #[serde(flatten)]
    key: ApiKeyView,
    /// `qe_sk_...`, shown this once.
    secret: String,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyCreated {
    api_key: NewApiKey,
}

impl From<&ApiKeyRow> for ApiKeyView {
    fn from(k: &ApiKeyRow) -> Self {
        ApiKeyView {
            id: k.id.clone(),
            name: k.name.clone(),
            prefix: k.prefix.clone(),
            scopes: k.scopes.split(',').map(str::to_string).collect(),
            created_by: k.created_by.clone(),
            created_at: k.created_at.clone(),
            revoked_at: k.revoked_at.clone(),
        }
    }
}

#[utoipa::path(get, path = "/api/identity/api-keys", tag = "api-keys", params(PageQuery), responses((status = 200, description = "a page of keys (never secrets)", body = ListView<ApiKeyView>), crate::error::ErrorResponse))]
pub async fn list(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<ListView<ApiKeyView>>> {
    let principal = auth.require(Scope::Admin)?;
    let (rows, next_cursor) = service::list(&state, &principal.org_id, &query.page()?).await?;
    Ok(Json(ListView { data: rows.iter().map(ApiKeyView::from).collect(), next_cursor }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateKey {
    name: String,
    scopes: Vec<String>,
    #[allow(dead_code)]
    external_id: Option<String>,
}

#[utoipa::path(post, path = "/api/identity/api-keys", tag = "api-keys", request_body = CreateKey, responses((status = 201, description = "the key with its secret, shown once", body = ApiKeyCreated), crate::error::ErrorResponse))]
pub async fn create(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<CreateKey>,
) -> ApiResult<(StatusCode, Extension<CarriesSecret>, Json<ApiKeyCreated>)> {
    let actor = Actor::from_principal(auth.require(Scope::Admin)?);
    let created = service::create(&state, &actor, &body.name, &body.scopes).await?;
    Ok((
        StatusCode::CREATED,
        Extension(CarriesSecret),
        Json(ApiKeyCreated { api_key: NewApiKey { key: ApiKeyView::from(&created.key), secret: created.secret } }),
    ))
}

/// `POST .../revoke`: the same as `DELETE`, for clients that cannot send DELETE.
#[utoipa::path(post, path = "/api/identity/api-keys/{id}/revoke", tag = "api-keys", params(("id" = String, Path, description = "key id (key_...)")), responses((status = 200, description = "revoked", body = ApiKeyEnvelope), crate::error::ErrorResponse))]
pub async fn revoke_by_post(
    state: State<AppState>,
    auth: Auth,
    key_id: Path<String>,
) -> ApiResult<Json<ApiKeyEnvelope>> {
    revoke(state, auth, key_id).await
}

#[utoipa::path(delete, path = "/api/identity/api-keys/{id}", tag = "api-keys", params(("id" = String, Path, description = "key id (key_...)")), responses((status = 200, description = "revoked", body = ApiKeyEnvelope), crate::error::ErrorResponse))]
pub async fn revoke(
    State(state): State<AppState>,
    auth: Auth,
    Path(key_id): Path<String>,
) -> ApiResult<Json<ApiKeyEnvelope>> {
    let actor = Actor::from_principal(auth.require(Scope::Admin)?);
    let revoked = service::revoke(&state, &actor, &key_id).await?;
    Ok(Json(ApiKeyEnvelope { api_key: ApiKeyView::from(&revoked) }))
}
