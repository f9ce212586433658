//! The analyst's queue: items the workflows open, and an analyst's decision on one
//! (seed 001: an analyst's override is a new verification row carrying the actor).

use kenali_core::id::{is_id_of, new_id, IdKind};
use kenali_core::time_fmt::now_timestamp;
use kenali_core::verification::{Details, ReviewDecisionDetails, ReviewSubject, ReviewVerdict};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::customers::{lock_customer, tier_policy};
use super::{Error, Result};
use crate::ledger::{self, Actor, NewVerification};
use crate::state::AppState;
use crate::store::ktp::{self as ktp_store, ReviewItemRow};
use crate::store::{events, faces};
use crate::views::{ReviewItemView, VerificationView};

/// Longest decision reason kept.
pub const MAX_REASON_CHARS: usize = 1000;

/// What goes to an analyst: the subject under review and why.
pub struct NewReviewItem<'a> {
    pub org_id: &'a str,
    pub customer_id: &'a str,
    pub kind: ReviewSubject,
    pub subject_id: &'a str,
    pub verification_id: &'a str,
    pub reasons: &'a [String],
    pub voters: &'a Value,
}

/// Opens a review item in the caller's transaction; returns its id.
pub async fn open_item(conn: &mut sqlx::AnyConnection, new: NewReviewItem<'_>) -> Result<String> {
    let item = ReviewItemRow {
        id: new_id(IdKind::ReviewItem),
        org_id: new.org_id.to_string(),
        customer_id: new.customer_id.to_string(),
        kind: new.kind.as_str().to_string(),
        subject_id: new.subject_id.to_string(),
        verification_id: new.verification_id.to_string(),
        reasons: serde_json::to_string(new.reasons).map_err(Error::internal)?,
        voters: new.voters.to_string(),
        status: "open".into(),
        decided_by: None,
        decision_reason: None,
        decision_verification_id: None,
        decided_at: None,
        created_at: now_timestamp(),
    };
    ktp_store::insert_review_item(conn, &item).await?;
    Ok(item.id)
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

impl DecisionRequest {
    /// A person's decision (the dashboard's form): the session names who decided.
    pub fn new(decision: ReviewVerdict, reason: String) -> Self {
        DecisionRequest { decision, reason, actor_user_id: None }
    }
}

/// The decided item, the `review_decision` verification recorded, and the tier after it.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReviewDecided {
    review_item: ReviewItemView,
    verification: crate::views::VerificationView,
    tier: String,
}

/// Decides an open item: a `review_decision` verification (an approval credits only the rung
/// its subject proves, SPEC §3), the tier recomputed, the waiting portrait settled, an audit
/// entry and the `review.decided` event. A decided item is [`Error::AlreadyDecided`].
pub async fn decide(state: &AppState, mut actor: Actor, id: &str, body: DecisionRequest) -> Result<ReviewDecided> {
    let reason = body.reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
        return Err(Error::invalid_field("reason", format!("must be 1 to {MAX_REASON_CHARS} characters")));
    }
    if !is_id_of(IdKind::ReviewItem, id) {
        return Err(Error::NotFound("review item"));
    }
    let org_id = actor.org_id.clone();
    let policy = tier_policy(state, &org_id).await?;
    let mut tx = state.store.begin().await?;
    super::users::attribute(&mut tx, &mut actor, body.actor_user_id.as_deref()).await?;
    let item = ktp_store::find_review_item(&mut tx, &org_id, id).await?.ok_or(Error::NotFound("review item"))?;
    if item.status != "open" {
        return Err(Error::AlreadyDecided(format!("this review item was already {}", item.status)));
    }
    let customer = lock_customer(state, &mut tx, &org_id, &item.customer_id).await?;
    let subject = ReviewSubject::parse(&item.kind)
        .ok_or_else(|| Error::internal(format!("review item {} has an unknown kind {}", item.id, item.kind)))?;
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
    let now = state.clock.now_timestamp();
    let decided_by = actor.actor_user_id.clone().unwrap_or_else(|| actor.actor.clone());
    if !ktp_store::decide_review_item(&mut tx, &item.id, status, &decided_by, reason, &recorded.verification.id, &now)
        .await?
    {
        return Err(Error::AlreadyDecided("this review item was decided meanwhile".into()));
    }
    // A KTP capture's portrait waited for this decision: it joins the pool, or is retired.
    let mut settled_enrollment = None;
    if subject == ReviewSubject::KtpCapture {
        if let Some(enrollment_id) = ktp_store::bundle_enrollment(&mut tx, &org_id, &item.subject_id).await? {
            if faces::settle_pending_enrollment(&mut tx, &org_id, &enrollment_id, approve, &now).await? {
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
    Ok(ReviewDecided {
        review_item: ReviewItemView::from(&decided),
        verification: VerificationView::from(&recorded.verification),
        tier: recorded.tier.as_str().to_string(),
    })
}
