//! `POST /api/identity/face/match`, `GET /api/identity/face/enrollments`,
//! `GET /api/identity/attempts`, `GET /api/identity/customers/{id}/attempts`.

use axum::extract::{Path, State};
use axum::Json;
use kenali_core::tier::EnrollmentSource;
use serde::{Deserialize, Serialize};

use super::load_customer;
use crate::auth::Scope;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, Auth, ClientAddress, PageQuery};
use crate::ledger::Actor;
use crate::service::face_match::{self, MatchRequest, MatchResult};
use crate::service::face_search::{self, FaceSearchAnswer, FaceSearchRequest};
use crate::state::AppState;
use crate::store::faces::{self, AttemptRow, EnrollmentRow};
use crate::views::ListView;

/// Against the enrollment, else the reference image, else the customer's pool (best wins).
#[utoipa::path(post, path = "/api/identity/face/match", tag = "faces", request_body = MatchRequest, responses((status = 200, description = "the score against the threshold", body = MatchResult), crate::error::ErrorResponse))]
pub async fn face_match(
    State(state): State<AppState>,
    auth: Auth,
    ClientAddress(client): ClientAddress,
    ApiJson(body): ApiJson<MatchRequest>,
) -> ApiResult<Json<MatchResult>> {
    let actor = Actor::from_principal(auth.require(Scope::Public)?);
    Ok(Json(face_match::face_match(&state, &actor, client, body).await?))
}

/// 1:N: the org's customers whose enrolled faces are most like the image's (internal scope).
#[utoipa::path(post, path = "/api/identity/face/search", tag = "faces", request_body = FaceSearchRequest, responses((status = 200, description = "the most similar customers, best first", body = FaceSearchAnswer), crate::error::ErrorResponse))]
pub async fn face_search(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<FaceSearchRequest>,
) -> ApiResult<Json<FaceSearchAnswer>> {
    let actor = Actor::from_principal(auth.require(Scope::Internal)?);
    Ok(Json(face_search::search(&state, &actor, body).await?))
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
