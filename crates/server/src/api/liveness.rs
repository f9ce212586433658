//! `POST /api/identity/face/flash-challenge`, `POST /api/identity/face/liveness`,
//! `POST /api/identity/auth/step-up` (SPEC §5–§7).

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
use crate::service::liveness::{self, LivenessAnswer, LivenessRequest, StepUpAnswer, StepUpRequest};
use crate::state::AppState;

#[utoipa::path(post, path = "/api/identity/face/flash-challenge", tag = "faces", request_body = ChallengeRequest, responses((status = 201, description = "the challenge, with its secret shown once", body = ChallengeIssued), crate::error::ErrorResponse))]
pub async fn face_challenge(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<ChallengeRequest>,
) -> ApiResult<(StatusCode, Extension<CarriesSecret>, Json<ChallengeIssued>)> {
    let principal = auth.require(Scope::Public)?;
    let issued = issue_challenge(&state, &principal.org_id, body, "face").await?;
    Ok((StatusCode::CREATED, Extension(CarriesSecret), Json(issued)))
}

#[utoipa::path(post, path = "/api/identity/face/liveness", tag = "faces", request_body = LivenessRequest, responses((status = 200, description = "the liveness decision; the same bundle again within 24 h gets the same answer", body = LivenessAnswer), crate::error::ErrorResponse))]
pub async fn face_liveness(
    State(state): State<AppState>,
    auth: Auth,
    ClientAddress(client): ClientAddress,
    ApiJson(body): ApiJson<LivenessRequest>,
) -> ApiResult<Json<Value>> {
    let actor = Actor::from_principal(auth.require(Scope::Public)?);
    Ok(Json(liveness::face_liveness(&state, &actor, client, body).await?))
}

/// Atomic liveness + match against the pool (or a reference image).
#[utoipa::path(post, path = "/api/identity/auth/step-up", tag = "faces", request_body = StepUpRequest, responses((status = 200, description = "the decision; the same bundle again within 24 h gets the same answer", body = StepUpAnswer), crate::error::ErrorResponse))]
pub async fn step_up(
    State(state): State<AppState>,
    auth: Auth,
    ClientAddress(client): ClientAddress,
    ApiJson(body): ApiJson<StepUpRequest>,
) -> ApiResult<Json<Value>> {
    let actor = Actor::from_principal(auth.require(Scope::Public)?);
    Ok(Json(liveness::step_up(&state, &actor, client, body).await?))
}
