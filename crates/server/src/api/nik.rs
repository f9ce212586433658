//! `POST /api/identity/nik/validate` (a NIK check recorded against a customer, passed or
//! failed) and `POST /api/identity/nik/dukcapil` (a Dukcapil verdict the fintech obtained).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use crate::auth::Scope;
use crate::error::ApiResult;
use crate::extract::{ApiJson, Auth};
use crate::ledger::Actor;
use crate::service::dukcapil::{self, DukcapilRecorded, DukcapilVerdict};
use crate::service::nik::{self, NikChecked, ValidateNik};
use crate::state::AppState;

/// A malformed NIK (not 16 digits) is a 400 that writes nothing. A well-formed NIK that
/// breaks a rule (region, date, serial, DOB or gender) is recorded as a failed `nik_format`
/// verification: the failure itself is the record.
#[utoipa::path(post, path = "/api/identity/nik/validate", tag = "kyc", request_body = ValidateNik, responses((status = 201, description = "the verification recorded", body = NikChecked), crate::error::ErrorResponse))]
pub async fn validate_for_customer(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<ValidateNik>,
) -> ApiResult<(StatusCode, Json<NikChecked>)> {
    let actor = Actor::from_principal(auth.require(Scope::Public)?);
    Ok((StatusCode::CREATED, Json(nik::validate_for_customer(&state, &actor, body).await?)))
}

#[utoipa::path(post, path = "/api/identity/nik/dukcapil", tag = "kyc", request_body = DukcapilVerdict, responses((status = 201, description = "the verdict recorded", body = DukcapilRecorded), crate::error::ErrorResponse))]
pub async fn ingest_dukcapil(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<DukcapilVerdict>,
) -> ApiResult<(StatusCode, Json<DukcapilRecorded>)> {
    let actor = Actor::from_principal(auth.require(Scope::Public)?);
    Ok((StatusCode::CREATED, Json(dukcapil::ingest_dukcapil(&state, &actor, body).await?)))
}
