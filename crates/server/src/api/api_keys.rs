//! `GET/POST /api/identity/api-keys`, `DELETE /api/identity/api-keys/{id}` (revoke). Admin scope.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use kenali_core::id::{new_id, IdKind};
use kenali_core::time_fmt::now_timestamp;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::auth::{display_prefix, generate_secret, hash_secret, parse_scopes, scopes_to_string, Scope};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, Auth, PageQuery};
use crate::ledger::{self, Actor};
use crate::middleware::CarriesSecret;
use crate::service::Error as ServiceError;
use crate::state::AppState;
use crate::store::api_keys::{self, ApiKeyRow};
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
    let page = query.page()?;
    let mut conn = state.store.reader().acquire().await?;
    let (rows, next_cursor) = api_keys::list(&mut conn, &principal.org_id, &page).await?;
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

/// Creates a key row; the secret is returned to the caller once and never stored.
pub async fn insert_key(
    conn: &mut sqlx::AnyConnection,
    actor: &Actor,
    name: &str,
    scopes: &[Scope],
    secret: &str,
) -> Result<ApiKeyRow, crate::store::StoreError> {
    let row = ApiKeyRow {
        id: new_id(IdKind::ApiKey),
        org_id: actor.org_id.clone(),
        name: name.to_string(),
        prefix: display_prefix(secret),
        scopes: scopes_to_string(scopes),
        created_by: actor.actor.clone(),
        created_at: now_timestamp(),
        revoked_at: None,
    };
    api_keys::insert(conn, &row, &hash_secret(secret)).await?;
    ledger::audit(conn, actor, "api_key.created", &row.id, json!({"name": row.name, "scopes": row.scopes})).await?;
    Ok(row)
}

#[utoipa::path(post, path = "/api/identity/api-keys", tag = "api-keys", request_body = CreateKey, responses((status = 201, description = "the key with its secret, shown once", body = ApiKeyCreated), crate::error::ErrorResponse))]
pub async fn create(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<CreateKey>,
) -> ApiResult<(StatusCode, Extension<CarriesSecret>, Json<ApiKeyCreated>)> {
    let principal = auth.require(Scope::Admin)?;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::invalid_field("name", "must be 1 to 100 characters"));
    }
    let scopes =
        parse_scopes(body.scopes.iter().map(String::as_str)).map_err(|m| ApiError::invalid_field("scopes", m))?;
    let secret = generate_secret();
    let actor = Actor::from_principal(principal);
    let mut tx = state.store.begin().await?;
    let row = insert_key(&mut tx, &actor, name, &scopes, &secret).await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Extension(CarriesSecret),
        Json(ApiKeyCreated { api_key: NewApiKey { key: ApiKeyView::from(&row), secret } }),
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
    let principal = auth.require(Scope::Admin)?;
    let actor = Actor::from_principal(principal);
    let mut tx = state.store.begin().await?;
    let key =
        api_keys::find(&mut tx, &principal.org_id, &key_id).await?.ok_or_else(|| ApiError::not_found("API key"))?;
    if key.revoked_at.is_some() {
        return Err(ServiceError::AlreadyRevoked("this API key is already revoked").into());
    }
    // A key revoking itself would lock out whoever holds only it; rotate with another key.
    if key.id == principal.key_id {
        return Err(
            ServiceError::CredentialInUse("a key cannot revoke itself; revoke it with another admin key").into()
        );
    }
    let now = now_timestamp();
    api_keys::revoke(&mut tx, &principal.org_id, &key.id, &now).await?;
    ledger::audit(&mut tx, &actor, "api_key.revoked", &key.id, json!({"name": key.name})).await?;
    tx.commit().await?;
    let revoked = ApiKeyRow { revoked_at: Some(now), ..key };
    Ok(Json(ApiKeyEnvelope { api_key: ApiKeyView::from(&revoked) }))
}
