//! `GET /api/identity/review-queue` and `POST /api/identity/review-queue/{id}/decision`
//! (seed 001: an analyst's override is a new verification row carrying the actor).

use axum::extract::{Path, State};
use axum::Json;
use kenali_core::id::{is_id_of, IdKind};
use kenali_core::time_fmt::now_timestamp;
use kenali_core::verification::{Details, ReviewDecisionDetails, ReviewSubject, ReviewVerdict};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::tier_policy;
use super::views::ListView;
use crate::auth::Scope;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, Auth, PageQuery};
use crate::ledger::{self, Actor, NewVerification};
use crate::state::AppState;
use crate::store::ktp::{self as ktp_store, ReviewItemRow};
use crate::store::{events, faces};

/// Longest decision reason kept.
pub const MAX_REASON_CHARS: usize = 1000;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QueueQuery {
    limit: Option<String>,
    cursor: Option<String>,
    status: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReviewItemView {
    id: String,
    customer_id: String,
    kind: String,
    subject_id: String,
    verification_id: String,
    reasons: Vec<String>,
    voters: Value,
    status: String,
    decided_by: Option<String>,
    decision_reason: Option<String>,
    decision_verification_id: Option<String>,
    decided_at: Option<String>,
    created_at: String,
}

impl From<&ReviewItemRow> for ReviewItemView {
    fn from(r: &ReviewItemRow) -> Self {
        ReviewItemView {
            id: r.id.clone(),
            customer_id: r.customer_id.clone(),
            kind: r.kind.clone(),
            subject_id: r.subject_id.clone(),
            verification_id: r.verification_id.clone(),
            reasons: serde_json::from_str(&r.reasons).unwrap_or_default(),
            voters: serde_json::from_str(&r.voters).unwrap_or(Value::Null),
            status: r.status.clone(),
            decided_by: r.decided_by.clone(),
            decision_reason: r.decision_reason.clone(),
            decision_verification_id: r.decision_verification_id.clone(),
            decided_at: r.decided_at.clone(),
            created_at: r.created_at.clone(),
        }
    }
}

const STATUSES: [&str; 3] = ["open", "approved", "rejected"];

/// Open items oldest first (the order analysts work in); `?status=` shows decided ones.
#[utoipa::path(get, path = "/api/identity/review-queue", tag = "ktp", params(QueueQuery), responses((status = 200, description = "a page of review items, oldest first", body = ListView<ReviewItemView>), crate::error::ErrorResponse))]
pub async fn queue(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(query): ApiQuery<QueueQuery>,
) -> ApiResult<Json<ListView<ReviewItemView>>> {
    let principal = auth.require(Scope::Internal)?;
    let page = PageQuery { limit: query.limit, cursor: query.cursor }.page()?;
    let status = query.status.as_deref().unwrap_or("open");
    if !STATUSES.contains(&status) {
        return Err(ApiError::invalid_field("status", format!("must be one of {}", STATUSES.join(", "))));
    }
    let mut conn = state.store.reader().acquire().await?;
    let (rows, next_cursor) =
        ktp_store::list_review_items(&mut conn, &principal.org_id, status, page.cursor.as_deref(), page.limit).await?;
    Ok(Json(ListView { data: rows.iter().map(ReviewItemView::from).collect(), next_cursor }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DecisionRequest {
    #[schema(value_type = String, example = "approve")]
    decision: ReviewVerdict,
    reason: String,
    /// The dashboard user (`usr_...`) who decided, when a person did; recorded with the decision.
    actor_user_id: Option<String>,
}

/// Decides an open item: a `review_decision` verification (an approval counts as the
/// standard rung, SPEC §3), the tier recomputed, an audit entry. Deciding twice is 409.
/// The decided item, the `review_decision` verification recorded, and the tier after it.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReviewDecided {
    review_item: ReviewItemView,
    verification: super::views::VerificationView,
    tier: String,
}

#[utoipa::path(post, path = "/api/identity/review-queue/{id}/decision", tag = "ktp", params(("id" = String, Path, description = "review item id (rev_...)")), request_body = DecisionRequest, responses((status = 200, description = "the decision recorded", body = ReviewDecided), crate::error::ErrorResponse))]
pub async fn decide(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<DecisionRequest>,
) -> ApiResult<Json<ReviewDecided>> {
    let principal = auth.require(Scope::Internal)?;
    let reason = body.reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
        return Err(ApiError::invalid_field("reason", format!("must be 1 to {MAX_REASON_CHARS} characters")));
    }
    if !is_id_of(IdKind::ReviewItem, &id) {
        return Err(ApiError::not_found("review item"));
    }
    let mut actor = Actor::from_principal(principal);
    let policy = tier_policy(&state, &principal.org_id).await?;
    let mut tx = state.store.begin().await?;
    if let Some(user_id) = &body.actor_user_id {
        if !crate::store::api_keys::user_exists(&mut tx, &principal.org_id, user_id).await? {
            return Err(ApiError::invalid_field("actorUserId", "is not a dashboard user of this organization"));
        }
        actor.actor_user_id = Some(user_id.clone());
    }
    let item = ktp_store::find_review_item(&mut tx, &principal.org_id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("review item"))?;
    if item.status != "open" {
        return Err(ApiError::conflict("already_decided", format!("this review item was already {}", item.status)));
    }
    let customer = super::lock_customer(&state, &mut tx, &principal.org_id, &item.customer_id).await?;
    let subject = ReviewSubject::parse(&item.kind)
        .ok_or_else(|| ApiError::internal(format!("review item {} has an unknown kind {}", item.id, item.kind)))?;
    let approve = body.decision == ReviewVerdict::Approve;
    let recorded = ledger::record_verification(
        &mut tx,
        &actor,
        &customer,
        NewVerification {
            passed: approve,
            reasons: vec![format!("analyst_{}", if approve { "approved" } else { "rejected" })],
            // The approval credits only what its subject proves (kenali_core::tier::Evidence).
            details: Details::ReviewDecision(ReviewDecisionDetails {
                decision: body.decision,
                reason: reason.to_string(),
                review_item_id: item.id.clone(),
                subject_id: item.subject_id.clone(),
                subject_kind: subject,
            }),
        },
        policy,
    )
    .await?;
    let status = if approve { "approved" } else { "rejected" };
    let now = now_timestamp();
    let decided_by = actor.actor_user_id.clone().unwrap_or_else(|| actor.actor.clone());
    if !ktp_store::decide_review_item(&mut tx, &item.id, status, &decided_by, reason, &recorded.verification.id, &now)
        .await?
    {
        return Err(ApiError::conflict("already_decided", "this review item was decided meanwhile"));
    }
    // A KTP capture's portrait waited for this decision: it joins the pool, or is retired.
    let mut settled_enrollment = None;
    if subject == ReviewSubject::KtpCapture {
        if let Some(enrollment_id) = ktp_store::bundle_enrollment(&mut tx, &principal.org_id, &item.subject_id).await? {
            if faces::settle_pending_enrollment(&mut tx, &principal.org_id, &enrollment_id, approve, &now).await? {
                settled_enrollment = Some(enrollment_id);
            }
        }
    }
    ledger::audit(
        &mut tx,
        &actor,
        "review.decided",
        &item.id,
        json!({"customerId": customer.id, "decision": body.decision, "verificationId": recorded.verification.id,
               "faceEnrollmentId": settled_enrollment}),
    )
    .await?;
    events::publish(
        &mut tx,
        &item.org_id,
        events::kind::REVIEW_DECIDED,
        json!({"reviewItemId": item.id, "customerId": customer.id, "externalRef": customer.external_ref,
               "kind": item.kind, "decision": body.decision, "verificationId": recorded.verification.id}),
    )
    .await?;
    tx.commit().await?;
    let decided = ReviewItemRow {
        status: status.into(),
        decided_by: Some(decided_by),
        decision_reason: Some(reason.to_string()),
        decision_verification_id: Some(recorded.verification.id.clone()),
        decided_at: Some(now),
        ..item
    };
    Ok(Json(ReviewDecided {
        review_item: ReviewItemView::from(&decided),
        verification: super::views::VerificationView::from(&recorded.verification),
        tier: recorded.tier.as_str().to_string(),
    }))
}
