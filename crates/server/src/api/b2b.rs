//! The backend-to-backend face match (seed 003) under `/api/b2b/face-match/submissions`, and
//! `PUT /api/b2b/uploads/{id}/{role}`, the signed upload route a local blob store uses in place
//! of S3's presigned URLs. Workflows are in `crate::service::submissions`.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::auth::Scope;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, Auth};
use crate::ledger::Actor;
use crate::middleware::CarriesSecret;
use crate::service::submissions::{
    self as service, CreateSubmission, SubmissionCreated, SubmissionView, MAX_UPLOAD_BYTES,
};
use crate::state::AppState;

/// Where partners reach this server: `KENALI_PUBLIC_URL`, else the request's own host.
fn base_url(state: &AppState, headers: &HeaderMap) -> ApiResult<String> {
    if let Some(url) = &state.config.public_url {
        return Ok(url.clone());
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| h.parse::<axum::http::uri::Authority>().is_ok())
        .ok_or_else(|| ApiError::invalid_field("Host", "is needed to build upload URLs (or set KENALI_PUBLIC_URL)"))?;
    Ok(format!("http://{host}"))
}

/// Starts a submission: one presigned upload URL per image (`selfie`, and `ktp` or
/// `baseline`), valid for 15 minutes.
#[utoipa::path(post, path = "/api/b2b/face-match/submissions", tag = "b2b", request_body = CreateSubmission, responses((status = 201, description = "the submission and its upload URLs", body = SubmissionCreated), crate::error::ErrorResponse))]
pub async fn create(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CreateSubmission>,
) -> ApiResult<Response> {
    let actor = Actor::from_principal(auth.require(Scope::Public)?);
    let base = base_url(&state, &headers)?;
    let created = service::create(&state, &actor, &base, body).await?;
    let carries_secret = created.callback_secret.is_some();
    let mut response = (StatusCode::CREATED, Json(created)).into_response();
    if carries_secret {
        response.extensions_mut().insert(CarriesSecret);
    }
    Ok(response)
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SubmissionEnvelope {
    submission: SubmissionView,
}

/// The submission's state, by its id or the partner's `correlationId`.
#[utoipa::path(get, path = "/api/b2b/face-match/submissions/{id}", tag = "b2b", params(("id" = String, Path, description = "submission id (sub_...) or correlationId")), responses((status = 200, description = "the submission's state", body = SubmissionEnvelope), crate::error::ErrorResponse))]
pub async fn show(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<SubmissionEnvelope>> {
    let principal = auth.require(Scope::Public)?;
    let row = service::find(&state, &principal.org_id, &id).await?;
    Ok(Json(SubmissionEnvelope { submission: SubmissionView::from(&row) }))
}

/// Checks the uploads (present, within the size limit, decodable) and queues the match.
/// Confirming again answers the submission's state.
#[utoipa::path(post, path = "/api/b2b/face-match/submissions/{id}/confirm", tag = "b2b", params(("id" = String, Path, description = "submission id (sub_...) or correlationId")), responses((status = 202, description = "queued (or further along)", body = SubmissionEnvelope), crate::error::ErrorResponse))]
pub async fn confirm(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<SubmissionEnvelope>)> {
    let actor = Actor::from_principal(auth.require(Scope::Public)?);
    let row = service::confirm(&state, &actor, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(SubmissionEnvelope { submission: SubmissionView::from(&row) })))
}

/// The callback's delivery.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallbackView {
    event_id: String,
    /// `pending`, `delivered` or `failed`.
    status: String,
    attempts: i64,
    last_status: Option<i64>,
    last_error: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubmissionDetails {
    submission: SubmissionView,
    /// `score`, `threshold`, `matched`, `modelId`, each image's face quality (`faceSidePx`,
    /// `detectionScore`, `sharpness`, `yawDeg`, `rollDeg`; the selfie's `antiSpoofScore`, the
    /// KTP's `foundOnCard`) and `timings` (`queueMs`, `analysisMs`, `processingMs`); null when
    /// the submission failed. Never an image.
    #[schema(value_type = Object)]
    details: serde_json::Value,
    /// The callback's delivery, when the submission named a `callbackUrl`.
    callback: Option<CallbackView>,
}

/// The result of a completed (or failed) submission.
#[utoipa::path(get, path = "/api/b2b/face-match/submissions/{id}/details", tag = "b2b", params(("id" = String, Path, description = "submission id (sub_...) or correlationId")), responses((status = 200, description = "the scores and measures", body = SubmissionDetails), crate::error::ErrorResponse))]
pub async fn details(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<SubmissionDetails>> {
    let principal = auth.require(Scope::Public)?;
    let (row, details) = service::details(&state, &principal.org_id, &id).await?;
    let callback =
        service::callback_state(&state, &row).await?.map(|(event_id, status, attempts, last_status, last_error)| {
            CallbackView { event_id, status, attempts, last_status, last_error }
        });
    Ok(Json(SubmissionDetails { submission: SubmissionView::from(&row), details, callback }))
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallbackQueued {
    event_id: String,
    status: &'static str,
}

/// Sends a failed callback again, with a fresh retry window.
#[utoipa::path(post, path = "/api/b2b/face-match/submissions/{id}/callback/redeliver", tag = "b2b", params(("id" = String, Path, description = "submission id (sub_...) or correlationId")), responses((status = 202, description = "queued again", body = CallbackQueued), crate::error::ErrorResponse))]
pub async fn redeliver_callback(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<CallbackQueued>)> {
    let actor = Actor::from_principal(auth.require(Scope::Public)?);
    let event_id = service::redeliver_callback(&state, &actor, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(CallbackQueued { event_id, status: "pending" })))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// Unix time the URL expires at.
    expires: i64,
    /// Hex HMAC-SHA256 over the method, submission, role and expiry.
    signature: String,
}

/// Kenali's presigned upload (a local blob store): the image's bytes as the body. The URL is
/// the credential: no API key or token.
#[utoipa::path(put, path = "/api/b2b/uploads/{id}/{role}", tag = "b2b", params(("id" = String, Path, description = "submission id (sub_...)"), ("role" = String, Path, description = "selfie, ktp or baseline"), UploadQuery), request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "the JPEG or PNG image"), responses((status = 204, description = "stored"), crate::error::ErrorResponse))]
pub async fn upload(
    State(state): State<AppState>,
    Path((id, role)): Path<(String, String)>,
    ApiQuery(query): ApiQuery<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<StatusCode> {
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_UPLOAD_BYTES as u64) {
        return Err(ApiError::too_large(MAX_UPLOAD_BYTES));
    }
    let bytes = axum::body::to_bytes(body, MAX_UPLOAD_BYTES).await.map_err(|e| {
        if std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>()) {
            ApiError::too_large(MAX_UPLOAD_BYTES)
        } else {
            ApiError::invalid_field("body", "could not be read in full")
        }
    })?;
    service::upload(&state, &id, &role, query.expires, &query.signature, bytes).await?;
    Ok(StatusCode::NO_CONTENT)
}
