//! `POST /api/identity/document/ktp/challenge` and `POST /api/identity/document/ktp/capture`
//! (seed 001); the workflow is `crate::service::ktp`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde_json::Value;

use crate::auth::Scope;
use crate::error::ApiResult;
use crate::extract::{ApiJson, Auth, ClientAddress};
use crate::ledger::Actor;
use crate::middleware::CarriesSecret;
use crate::service::bundle::{issue_challenge, ChallengeIssued, ChallengeRequest};
use crate::service::ktp::{self, CaptureRequest};
use crate::state::AppState;

#[utoipa::path(post, path = "/api/identity/document/ktp/challenge", tag = "ktp", request_body = ChallengeRequest, responses((status = 201, description = "the challenge (purpose ktp), with its secret shown once", body = ChallengeIssued), crate::error::ErrorResponse))]
pub async fn ktp_challenge(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<ChallengeRequest>,
) -> ApiResult<(StatusCode, Extension<CarriesSecret>, Json<ChallengeIssued>)> {
    let principal = auth.require(Scope::Public)?;
    let issued = issue_challenge(&state, &principal.org_id, body, "ktp").await?;
    Ok((StatusCode::CREATED, Extension(CarriesSecret), Json(issued)))
}

#[utoipa::path(post, path = "/api/identity/document/ktp/capture", tag = "ktp", request_body = CaptureRequest, responses((status = 200, description = "the decision (seed 001); the same bundle again within 24 h gets the same answer", body = crate::views::KtpCaptureAnswer), crate::error::ErrorResponse))]
pub async fn ktp_capture(
    State(state): State<AppState>,
    auth: Auth,
    ClientAddress(client): ClientAddress,
    ApiJson(body): ApiJson<CaptureRequest>,
) -> ApiResult<Json<Value>> {
    let actor = Actor::from_principal(auth.require(Scope::Public)?);
    Ok(Json(ktp::ktp_capture(&state, &actor, client, body).await?))
}
