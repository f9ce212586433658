//! `POST /api/identity/face/match`, `GET /api/identity/face/enrollments`,
//! `GET /api/identity/attempts`, `GET /api/identity/customers/{id}/attempts`.

use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::{ConnectInfo, Path, State};
use axum::Json;
use kenali_core::face::{threshold_for, RiskLevel};
use kenali_core::tier::EnrollmentSource;
use kenali_core::verification::{Details, FaceMatchDetails, MatchAgainst};
use kenali_vision::embed::cosine;
use kenali_vision::engine::MODEL_ID;
use serde::{Deserialize, Serialize};

use super::views::{ListView, VerificationView};
use super::{load_customer, tier_policy};
use crate::auth::Scope;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, Auth, PageQuery};
use crate::faces::{image_field, open_embedding};
use crate::ledger::{self, data_key, Actor, NewVerification};
use crate::service::faces::{face_service, pool_best, record_attempt, store_capture, AttemptContext};
use crate::state::AppState;
use crate::store::faces::{self, AttemptRow, EnrollmentRow};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MatchRequest {
    image: String,
    customer_id: Option<String>,
    enrollment_id: Option<String>,
    reference_image: Option<String>,
    #[allow(dead_code)]
    external_id: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MatchView {
    score: f32,
    threshold: f32,
    matched: bool,
    #[schema(value_type = String)]
    model_id: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    enrollment_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    enrollment_source: Option<String>,
}

/// The match, and the verification recorded when a customer was named.
#[derive(Serialize, utoipa::ToSchema)]
pub struct MatchResult {
    #[serde(rename = "match")]
    face_match: MatchView,
    #[serde(skip_serializing_if = "Option::is_none")]
    verification: Option<VerificationView>,
}

/// Against the enrollment, else the reference image, else the customer's pool (best wins).
#[utoipa::path(post, path = "/api/identity/face/match", tag = "faces", request_body = MatchRequest, responses((status = 200, description = "the score against the threshold", body = MatchResult), crate::error::ErrorResponse))]
pub async fn face_match(
    State(state): State<AppState>,
    auth: Auth,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    ApiJson(body): ApiJson<MatchRequest>,
) -> ApiResult<Json<MatchResult>> {
    let started = Instant::now();
    let principal = auth.require(Scope::Public)?;
    let service = face_service(&state)?;
    if body.enrollment_id.is_none() && body.reference_image.is_none() && body.customer_id.is_none() {
        return Err(ApiError::invalid_field(
            "image",
            "needs something to compare with: enrollmentId, referenceImage or customerId",
        ));
    }
    let actor = Actor::from_principal(principal);
    let probe = image_field("image", &body.image)?;
    let reference = body.reference_image.as_deref().map(|r| image_field("referenceImage", r)).transpose()?;
    crate::ratelimit::check(&state, crate::ratelimit::FACE_MATCH, &principal.org_id).await?;

    let mut conn = state.store.reader().acquire().await?;
    let mut customer = match &body.customer_id {
        Some(id) => Some(load_customer(&mut conn, &principal.org_id, id).await?),
        None => None,
    };
    let enrollment = match &body.enrollment_id {
        Some(id) => {
            let enrollment = faces::find_enrollment(&mut conn, &principal.org_id, id)
                .await?
                .filter(|e| customer.as_ref().is_none_or(|c| c.id == e.customer_id))
                .ok_or_else(|| ApiError::not_found("enrollment"))?;
            if enrollment.retired_at.is_some() {
                return Err(ApiError::conflict("enrollment_retired", "this enrollment was retired"));
            }
            if enrollment.status != faces::ENROLLMENT_ACTIVE {
                return Err(ApiError::conflict(
                    "enrollment_pending_review",
                    "this enrollment waits for an analyst's review of its KTP capture",
                ));
            }
            if enrollment.model_id != MODEL_ID {
                return Err(ApiError::conflict(
                    "model_mismatch",
                    format!("enrollment was made with model {}, this server runs {MODEL_ID}", enrollment.model_id),
                ));
            }
            if customer.is_none() {
                customer = Some(load_customer(&mut conn, &principal.org_id, &enrollment.customer_id).await?);
            }
            Some(enrollment)
        }
        None => None,
    };
    let pool = match (&enrollment, &reference, &customer) {
        (None, None, Some(c)) => faces::pool(&mut conn, &principal.org_id, &c.id, MODEL_ID).await?,
        _ => Vec::new(),
    };
    drop(conn);
    let attempt = AttemptContext {
        org_id: principal.org_id.clone(),
        customer_id: customer.as_ref().map(|c| c.id.clone()),
        kind: "face_match",
        started,
        client,
    };
    if enrollment.is_none() && reference.is_none() && pool.is_empty() {
        let err = ApiError::unprocessable(
            "no_reference",
            "the customer has no face enrollment; send referenceImage or enroll first",
        );
        return Err(attempt.refuse(&state, err).await);
    }
    let probe = match service.analyze("image", probe).await {
        Ok(probe) => probe,
        Err(err) => return Err(attempt.refuse(&state, err).await),
    };
    let threshold =
        threshold_for(super::org_settings(&state, &principal.org_id).await?.match_threshold, RiskLevel::Medium);
    let (score, matched_enrollment) = match (&enrollment, reference) {
        (Some(enrollment), _) => {
            let owner = customer.as_ref().ok_or_else(|| ApiError::internal("enrollment without customer"))?;
            let key = data_key(&state.keys, owner)?;
            let embedding = open_embedding(&key, enrollment)?
                .ok_or_else(|| ApiError::conflict("enrollment_retired", "this enrollment was retired"))?;
            (cosine(&probe.face.embedding, &embedding), Some(enrollment.clone()))
        }
        (None, Some(reference)) => {
            let reference = match service.analyze("referenceImage", reference).await {
                Ok(reference) => reference,
                Err(err) => return Err(attempt.refuse(&state, err).await),
            };
            (cosine(&probe.face.embedding, &reference.face.embedding), None)
        }
        (None, None) => {
            let owner = customer.as_ref().ok_or_else(|| ApiError::internal("pool without customer"))?;
            pool_best(&state, owner, &pool, &probe.face.embedding)?
        }
    };
    let matched = score >= threshold;
    let view = MatchView {
        score,
        threshold,
        matched,
        model_id: MODEL_ID,
        enrollment_id: matched_enrollment.as_ref().map(|e| e.id.clone()),
        enrollment_source: matched_enrollment.as_ref().map(|e| e.source.clone()),
    };
    let reasons = vec![if matched { "face_matched" } else { "face_not_matched" }.to_string()];
    let Some(customer) = customer else {
        record_attempt(&state, attempt.row(outcome(matched), &reasons, None)).await?;
        return Ok(Json(MatchResult { face_match: view, verification: None }));
    };
    let policy = tier_policy(&state, &principal.org_id).await?;
    let mut tx = state.store.begin().await?;
    let customer = super::lock_customer(&state, &mut tx, &principal.org_id, &customer.id).await?;
    let recorded = ledger::record_verification(
        &mut tx,
        &actor,
        &customer,
        NewVerification {
            passed: matched,
            reasons: reasons.clone(),
            // A caller's referenceImage is recorded as such: evidence for this decision only.
            details: Details::FaceMatch(FaceMatchDetails {
                score,
                threshold,
                model_id: MODEL_ID.to_string(),
                against: if enrollment.is_some() {
                    MatchAgainst::Enrollment
                } else if matched_enrollment.is_some() {
                    MatchAgainst::Pool
                } else {
                    MatchAgainst::ReferenceImage
                },
                enrollment_id: view.enrollment_id.clone(),
                enrollment_source: matched_enrollment.as_ref().and_then(|e| e.enrollment_source()),
                probe_sha256: Some(probe.input.sha256.clone()),
                risk_level: None,
                action_label: None,
                trigger: None,
                step_up_allowed: None,
                probe_verification_id: None,
            }),
        },
        policy,
    )
    .await?;
    store_capture(&state, &mut tx, &customer, "selfie", &probe.input, Some(&recorded.verification.id), "step_up")
        .await?;
    faces::insert_attempt(&mut tx, &attempt.row(outcome(matched), &reasons, Some(&recorded.verification.id))).await?;
    tx.commit().await?;
    Ok(Json(MatchResult { face_match: view, verification: Some(VerificationView::from(&recorded.verification)) }))
}

fn outcome(passed: bool) -> &'static str {
    if passed {
        "passed"
    } else {
        "failed"
    }
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnrollmentView {
    id: String,
    customer_id: String,
    source: String,
    model_id: String,
    image_sha256: Option<String>,
    detection_score: Option<f64>,
    created_at: String,
    retired_at: Option<String>,
    status: String,
}

impl From<&EnrollmentRow> for EnrollmentView {
    fn from(e: &EnrollmentRow) -> Self {
        EnrollmentView {
            id: e.id.clone(),
            customer_id: e.customer_id.clone(),
            source: e.source.clone(),
            model_id: e.model_id.clone(),
            image_sha256: e.image_sha256.clone(),
            detection_score: e.detection_score,
            created_at: e.created_at.clone(),
            retired_at: e.retired_at.clone(),
            status: e.status.clone(),
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnrollmentQuery {
    limit: Option<String>,
    cursor: Option<String>,
    customer_id: Option<String>,
    source: Option<String>,
}

/// Lists enrollments; vectors and images never leave the server.
#[utoipa::path(get, path = "/api/identity/face/enrollments", tag = "faces", params(EnrollmentQuery), responses((status = 200, description = "a page of enrollments (never vectors or images)", body = ListView<EnrollmentView>), crate::error::ErrorResponse))]
pub async fn enrollments(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(query): ApiQuery<EnrollmentQuery>,
) -> ApiResult<Json<ListView<EnrollmentView>>> {
    let principal = auth.require(Scope::Public)?;
    let page = PageQuery { limit: query.limit, cursor: query.cursor }.page()?;
    if query.source.as_deref().is_some_and(|s| EnrollmentSource::parse(s).is_none()) {
        let names: Vec<&str> = EnrollmentSource::ALL.iter().map(|s| s.as_str()).collect();
        return Err(ApiError::invalid_field("source", format!("must be one of {}", names.join(", "))));
    }
    let mut conn = state.store.reader().acquire().await?;
    let (rows, next_cursor) = faces::list_enrollments(
        &mut conn,
        &principal.org_id,
        query.customer_id.as_deref(),
        query.source.as_deref(),
        &page,
    )
    .await?;
    Ok(Json(ListView { data: rows.iter().map(EnrollmentView::from).collect(), next_cursor }))
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttemptView {
    id: String,
    customer_id: Option<String>,
    kind: String,
    outcome: String,
    reasons: Vec<String>,
    latency_ms: i64,
    client_ip: Option<String>,
    verification_id: Option<String>,
    created_at: String,
}

impl From<&AttemptRow> for AttemptView {
    fn from(a: &AttemptRow) -> Self {
        AttemptView {
            id: a.id.clone(),
            customer_id: a.customer_id.clone(),
            kind: a.kind.clone(),
            outcome: a.outcome.clone(),
            reasons: serde_json::from_str(&a.reasons).unwrap_or_default(),
            latency_ms: a.latency_ms,
            client_ip: a.client_ip.clone(),
            verification_id: a.verification_id.clone(),
            created_at: a.created_at.clone(),
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AttemptQuery {
    limit: Option<String>,
    cursor: Option<String>,
    customer_id: Option<String>,
    kind: Option<String>,
}

#[utoipa::path(get, path = "/api/identity/attempts", tag = "faces", params(AttemptQuery), responses((status = 200, description = "a page of attempts", body = ListView<AttemptView>), crate::error::ErrorResponse))]
pub async fn attempts(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(query): ApiQuery<AttemptQuery>,
) -> ApiResult<Json<ListView<AttemptView>>> {
    let principal = auth.require(Scope::Public)?;
    let page = PageQuery { limit: query.limit, cursor: query.cursor }.page()?;
    let mut conn = state.store.reader().acquire().await?;
    let (rows, next_cursor) =
        faces::list_attempts(&mut conn, &principal.org_id, query.customer_id.as_deref(), query.kind.as_deref(), &page)
            .await?;
    Ok(Json(ListView { data: rows.iter().map(AttemptView::from).collect(), next_cursor }))
}

#[utoipa::path(get, path = "/api/identity/customers/{id}/attempts", tag = "faces", params(("id" = String, Path, description = "customer id (cus_...)"), PageQuery), responses((status = 200, description = "a page of the customer's attempts", body = ListView<AttemptView>), crate::error::ErrorResponse))]
pub async fn customer_attempts(
    State(state): State<AppState>,
    auth: Auth,
    Path(customer_id): Path<String>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<ListView<AttemptView>>> {
    let principal = auth.require(Scope::Public)?;
    let page = query.page()?;
    let mut conn = state.store.reader().acquire().await?;
    let customer = load_customer(&mut conn, &principal.org_id, &customer_id).await?;
    let (rows, next_cursor) =
        faces::list_attempts(&mut conn, &principal.org_id, Some(&customer.id), None, &page).await?;
    Ok(Json(ListView { data: rows.iter().map(AttemptView::from).collect(), next_cursor }))
}
