//! `face/match`: one face against an enrollment, a caller's reference image or the customer's
//! pool, recorded as a `face_match` verification when a customer is named.

use std::time::Instant;

use kenali_core::face::{threshold_for, RiskLevel};
use kenali_core::verification::{Details, FaceMatchDetails, MatchAgainst};
use kenali_vision::embed::cosine;
use kenali_vision::engine::MODEL_ID;
use serde::{Deserialize, Serialize};

use super::customers::{load_customer, lock_customer, org_settings, tier_policy};
use super::faces::{
    face_service, pool_best, record_attempt, seal_images, store_captures, AttemptContext, CaptureFiling,
};
use super::{Error, Result};
use crate::faces::{image_field, open_embedding};
use crate::ledger::{self, data_key, Actor, NewVerification};
use crate::state::AppState;
use crate::store::faces;
use crate::views::VerificationView;

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
/// With a customer named, the match is recorded as a `face_match` verification.
pub async fn face_match(state: &AppState, actor: &Actor, client: String, body: MatchRequest) -> Result<MatchResult> {
    let started = Instant::now();
    let service = face_service(state)?;
    if body.enrollment_id.is_none() && body.reference_image.is_none() && body.customer_id.is_none() {
        return Err(Error::invalid_field(
            "image",
            "needs something to compare with: enrollmentId, referenceImage or customerId",
        ));
    }
    let probe = image_field("image", &body.image)?;
    let reference = body.reference_image.as_deref().map(|r| image_field("referenceImage", r)).transpose()?;
    crate::ratelimit::check(state, crate::ratelimit::FACE_MATCH, &actor.org_id).await?;

    let mut conn = state.store.reader().acquire().await?;
    let mut customer = match &body.customer_id {
        Some(id) => Some(load_customer(&mut conn, &actor.org_id, id).await?),
        None => None,
    };
    let enrollment = match &body.enrollment_id {
        Some(id) => {
            let enrollment = faces::find_enrollment(&mut conn, &actor.org_id, id)
                .await?
                .filter(|e| customer.as_ref().is_none_or(|c| c.id == e.customer_id))
                .ok_or(Error::NotFound("enrollment"))?;
            if enrollment.retired_at.is_some() {
                return Err(Error::EnrollmentRetired);
            }
            if enrollment.status != faces::ENROLLMENT_ACTIVE {
                return Err(Error::EnrollmentPendingReview);
            }
            if enrollment.model_id != MODEL_ID {
                return Err(Error::ModelMismatch { enrolled: enrollment.model_id.clone(), running: MODEL_ID });
            }
            if customer.is_none() {
                customer = Some(load_customer(&mut conn, &actor.org_id, &enrollment.customer_id).await?);
            }
            Some(enrollment)
        }
        None => None,
    };
    let pool = match (&enrollment, &reference, &customer) {
        (None, None, Some(c)) => faces::pool(&mut conn, &actor.org_id, &c.id, MODEL_ID).await?,
        _ => Vec::new(),
    };
    drop(conn);
    let attempt = AttemptContext {
        org_id: actor.org_id.clone(),
        customer_id: customer.as_ref().map(|c| c.id.clone()),
        kind: "face_match",
        started,
        client,
    };
    if enrollment.is_none() && reference.is_none() && pool.is_empty() {
        let err = Error::NoReference("the customer has no face enrollment; send referenceImage or enroll first");
        return Err(attempt.refuse(state, err).await);
    }
    let probe = match service.analyze("image", probe).await {
        Ok(probe) => probe,
        Err(err) => return Err(attempt.refuse(state, err).await),
    };
    let threshold = threshold_for(org_settings(state, &actor.org_id).await?.match_threshold, RiskLevel::Medium);
    let (score, matched_enrollment) = match (&enrollment, reference) {
        (Some(enrollment), _) => {
            let owner = customer.as_ref().ok_or_else(|| Error::internal("enrollment without customer"))?;
            let key = data_key(&state.keys, owner)?;
            let embedding = open_embedding(&key, enrollment)?.ok_or(Error::EnrollmentRetired)?;
            (cosine(&probe.face.embedding, &embedding), Some(enrollment.clone()))
        }
        (None, Some(reference)) => {
            let reference = match service.analyze("referenceImage", reference).await {
                Ok(reference) => reference,
                Err(err) => return Err(attempt.refuse(state, err).await),
            };
            (cosine(&probe.face.embedding, &reference.face.embedding), None)
        }
        (None, None) => {
            let owner = customer.as_ref().ok_or_else(|| Error::internal("pool without customer"))?;
            pool_best(state, owner, &pool, &probe.face.embedding)?
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
        record_attempt(state, attempt.row(outcome(matched), &reasons, None)).await?;
        return Ok(MatchResult { face_match: view, verification: None });
    };
    let policy = tier_policy(state, &actor.org_id).await?;
    let sealed_selfie = seal_images(state, &customer, std::slice::from_ref(&probe.input)).await?;
    let now = state.clock.now_timestamp();
    let mut tx = state.store.begin().await?;
    let customer = lock_customer(state, &mut tx, &actor.org_id, &customer.id).await?;
    let recorded = ledger::record_verification(
        &mut tx,
        actor,
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
    let filing = CaptureFiling {
        kind: "selfie",
        verification_id: Some(&recorded.verification.id),
        retention_class: "step_up",
        created_at: &now,
    };
    let uploaded = store_captures(&mut tx, &customer, sealed_selfie, filing).await?;
    faces::insert_attempt(&mut tx, &attempt.row(outcome(matched), &reasons, Some(&recorded.verification.id))).await?;
    tx.commit().await?;
    uploaded.committed();
    Ok(MatchResult { face_match: view, verification: Some(VerificationView::from(&recorded.verification)) })
}

fn outcome(passed: bool) -> &'static str {
    if passed {
        "passed"
    } else {
        "failed"
    }
}
