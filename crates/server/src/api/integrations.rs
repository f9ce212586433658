//! Vendor integrations (seed 004): the admin's `/api/identity/integrations` and the vendor's
//! receiver, `POST /api/integrations/{id}/kyc`. docs/vendor-kyc.md has the envelope's format.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

use crate::auth::Scope;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiQuery, Auth, PageQuery};
use crate::ledger::Actor;
use crate::middleware::CarriesSecret;
use crate::service::integrations::{
    self as service, CreateIntegration, DryRun, DryRunResult, IntegrationView, IntegrationWithKey, RotateKey,
    UpdateIntegration,
};
use crate::service::vendor_push::{self, PushOutcome};
use crate::state::AppState;
use crate::views::ListView;

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationEnvelope {
    integration: IntegrationView,
}

#[utoipa::path(post, path = "/api/identity/integrations", tag = "integrations", request_body = CreateIntegration, responses((status = 201, description = "the integration and its first key, whose secret is shown once", body = IntegrationWithKey), crate::error::ErrorResponse))]
pub async fn create(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<CreateIntegration>,
) -> ApiResult<(StatusCode, Extension<CarriesSecret>, Json<IntegrationWithKey>)> {
    let actor = Actor::from_principal(auth.require(Scope::Admin)?);
    let created = service::create(&state, &actor, body).await?;
    Ok((StatusCode::CREATED, Extension(CarriesSecret), Json(created)))
}

#[utoipa::path(get, path = "/api/identity/integrations", tag = "integrations", params(PageQuery), responses((status = 200, description = "a page of integrations (never a key's secret)", body = ListView<IntegrationView>), crate::error::ErrorResponse))]
pub async fn list(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<ListView<IntegrationView>>> {
    let principal = auth.require(Scope::Admin)?;
    let (data, next_cursor) = service::list(&state, &principal.org_id, &query.page()?).await?;
    Ok(Json(ListView { data, next_cursor }))
}

#[utoipa::path(get, path = "/api/identity/integrations/{id}", tag = "integrations", params(("id" = String, Path, description = "integration id (int_...)")), responses((status = 200, description = "`{integration}`", body = IntegrationEnvelope), crate::error::ErrorResponse))]
pub async fn get(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<IntegrationEnvelope>> {
    let principal = auth.require(Scope::Admin)?;
    Ok(Json(IntegrationEnvelope { integration: service::get(&state, &principal.org_id, &id).await? }))
}

#[utoipa::path(patch, path = "/api/identity/integrations/{id}", tag = "integrations", params(("id" = String, Path, description = "integration id (int_...)")), request_body = UpdateIntegration, responses((status = 200, description = "`{integration}` as changed", body = IntegrationEnvelope), crate::error::ErrorResponse))]
pub async fn update(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateIntegration>,
) -> ApiResult<Json<IntegrationEnvelope>> {
    let actor = Actor::from_principal(auth.require(Scope::Admin)?);
    Ok(Json(IntegrationEnvelope { integration: service::update(&state, &actor, &id, body).await? }))
}

#[utoipa::path(post, path = "/api/identity/integrations/{id}/keys", tag = "integrations", params(("id" = String, Path, description = "integration id (int_...)")), request_body = RotateKey, responses((status = 201, description = "the new key, whose secret is shown once; the keys before it decrypt until their `retiresAt`", body = IntegrationWithKey), crate::error::ErrorResponse))]
pub async fn rotate_key(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RotateKey>,
) -> ApiResult<(StatusCode, Extension<CarriesSecret>, Json<IntegrationWithKey>)> {
    let actor = Actor::from_principal(auth.require(Scope::Admin)?);
    let rotated = service::rotate_key(&state, &actor, &id, body).await?;
    Ok((StatusCode::CREATED, Extension(CarriesSecret), Json(rotated)))
}

#[utoipa::path(post, path = "/api/identity/integrations/{id}/dry-run", tag = "integrations", params(("id" = String, Path, description = "integration id (int_...)")), request_body = DryRun, responses((status = 200, description = "what a sample payload maps to; nothing is written", body = DryRunResult), crate::error::ErrorResponse))]
pub async fn dry_run(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<DryRun>,
) -> ApiResult<Json<DryRunResult>> {
    let principal = auth.require(Scope::Admin)?;
    Ok(Json(service::dry_run(&state, &principal.org_id, &id, body).await?))
}

/// The encrypted body of a push and of its confirmation: AES-256-GCM, each part standard
/// base64 (docs/vendor-kyc.md).
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvelopeBody {
    /// The integration key (`ik_...`) it is sealed under.
    key_id: String,
    /// 12 bytes, never reused under a key.
    iv: String,
    ciphertext: String,
    /// The 16-byte GCM tag.
    tag: String,
}

impl From<EnvelopeBody> for kenali_core::vendor::Envelope {
    fn from(b: EnvelopeBody) -> Self {
        kenali_core::vendor::Envelope { key_id: b.key_id, iv: b.iv, ciphertext: b.ciphertext, tag: b.tag }
    }
}

impl From<kenali_core::vendor::Envelope> for EnvelopeBody {
    fn from(e: kenali_core::vendor::Envelope) -> Self {
        EnvelopeBody { key_id: e.key_id, iv: e.iv, ciphertext: e.ciphertext, tag: e.tag }
    }
}

#[utoipa::path(post, path = "/api/integrations/{id}/kyc", tag = "integrations", params(("id" = String, Path, description = "integration id (int_...)")), request_body = EnvelopeBody, responses((status = 201, description = "accepted and recorded: the sealed confirmation", body = EnvelopeBody), (status = 200, description = "this submission id was taken before: its first confirmation, sealed again", body = EnvelopeBody), (status = 422, description = "rejected, nothing written: the sealed confirmation says why", body = EnvelopeBody), (status = 409, description = "a replayed body (its IV was used) or a submission id reused for another payload: sealed", body = EnvelopeBody), crate::error::ErrorResponse))]
pub async fn receive(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<EnvelopeBody>,
) -> ApiResult<(StatusCode, Json<EnvelopeBody>)> {
    let answer = vendor_push::receive(&state, &auth.0, &id, body.into()).await?;
    let status = match answer.outcome {
        PushOutcome::Accepted => StatusCode::CREATED,
        PushOutcome::Repeated => StatusCode::OK,
        PushOutcome::Rejected => StatusCode::UNPROCESSABLE_ENTITY,
        PushOutcome::Replayed => StatusCode::CONFLICT,
    };
    Ok((status, Json(answer.envelope.into())))
}
