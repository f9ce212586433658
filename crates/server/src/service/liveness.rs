//! Liveness from a signed bundle, and step-up: liveness and a match against the customer's pool
//! in one decision (SPEC §5–§7).

use std::time::Instant;

use kenali_core::face::{threshold_for, RiskLevel};
use kenali_core::liveness::{self, FrameMeasure, Fused, Voter};
use kenali_core::tier::EnrollmentSource;
use kenali_core::verification::{Details, FaceMatchDetails, LivenessDetails, MatchAgainst, ReviewSubject};
use kenali_vision::embed::cosine;
use kenali_vision::engine::MODEL_ID;
use kenali_vision::measure::MeasureError;
use kenali_vision::DecodeLimits;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::bundle::{check_bundle, keep_answer, BundleCheck, CheckedBundle};
use super::customers::{load_customer, lock_customer, org_settings, tier_policy};
use super::faces::{
    customer_attempt, face_service, pool_best, record_attempt, seal_images, store_captures, AttemptContext,
    CaptureFiling,
};
use super::review::{open_item, NewReviewItem};
use super::{Error, ImageProblem, Result};
use crate::faces::{image_field, new_enrollment, EnrollmentFace, ImageInput, MAX_IMAGE_BYTES};
use crate::ledger::{self, data_key, Actor, NewVerification};
use crate::ratelimit;
use crate::state::AppState;
use crate::store::customers::CustomerRow;
use crate::store::events;
use crate::store::faces;
use crate::views::{VerificationView, VoterSchema};

/// A step-up this far above the threshold promotes the selfie into the pool.
pub const PROMOTION_MARGIN: f32 = 0.10;
/// Most enrollments one customer's pool grows to by promotion; old ones are never dropped.
pub const POOL_CAP: usize = 20;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LivenessView {
    /// live | spoof | unclear
    #[schema(value_type = String)]
    fused: Fused,
    #[schema(value_type = Vec<VoterSchema>)]
    voters: Vec<Voter>,
    passed: usize,
    present: usize,
}

/// `POST /api/identity/face/liveness`'s answer (kept sealed for a replay of the same bundle).
#[derive(Serialize, utoipa::ToSchema)]
pub struct LivenessAnswer {
    verification: VerificationView,
    liveness: LivenessView,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StepUpMatchView {
    score: f32,
    threshold: f32,
    matched: bool,
    model_id: String,
    enrollment_id: Option<String>,
    /// The selfie promoted into the pool after a strong pass.
    promoted_enrollment_id: Option<String>,
}

/// `POST /api/identity/auth/step-up`'s answer (kept sealed for a replay of the same bundle).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StepUpAnswer {
    allow: bool,
    reasons: Vec<String>,
    liveness: Option<LivenessView>,
    #[serde(rename = "match")]
    face_match: Option<StepUpMatchView>,
    verification_ids: Vec<String>,
    /// The customer's tier after the decision; absent when nothing was decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    tier: Option<String>,
    decided_in_ms: u64,
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

struct LivenessRun {
    view: LivenessView,
    frames: Vec<ImageInput>,
    measures: Vec<FrameMeasure>,
    challenge_id: String,
    signature: String,
}

/// Decodes and measures every frame off the runtime, then votes.
async fn run_liveness(state: &AppState, checked: Box<CheckedBundle>) -> Result<LivenessRun> {
    let service = face_service(state)?;
    let engine = service.engine().clone();
    let limits = DecodeLimits { max_bytes: MAX_IMAGE_BYTES, ..DecodeLimits::default() };
    let CheckedBundle { challenge, frames, samples, signature, .. } = *checked;
    // The frames move into the worker and come back with their measures: no copy of the bytes.
    let (frames, measured, took) = service
        .run_blocking_wide(move || {
            let started = Instant::now();
            let inputs: Vec<(&[u8], &str)> = frames.iter().map(|f| (&f.bytes[..], f.sha256.as_str())).collect();
            let measured = engine.measure_frames(&inputs, limits).map_err(|err| match err {
                MeasureError::Decode { index, error } => {
                    Error::image(format!("bundle.frames[{index}]"), ImageProblem::Undecodable(error.to_string()))
                }
                MeasureError::Face(err) => Error::internal(err),
            })?;
            Ok((frames, measured, started.elapsed()))
        })
        .await?;
    // The bundle's compute time, without the wait for free cores.
    state.metrics.observe_face_stage("bundle", took);
    let mut measures = Vec::with_capacity(measured.len());
    for (measure, times) in measured {
        for (stage, took) in times.stages() {
            if !took.is_zero() {
                state.metrics.observe_face_stage(stage, took);
            }
        }
        measures.push(measure);
    }
    let mut voters = vec![liveness::capture_quality(&measures)];
    voters.extend(liveness::passive_liveness(&measures));
    voters.extend(liveness::multi_frame_consistency(&measures));
    voters.extend(liveness::flash_reflectance(&measures, &samples));
    voters.extend(liveness::screen_moire(&measures));
    let fused = liveness::fuse(&voters);
    let passed = voters.iter().filter(|v| v.succeeded()).count();
    let present = voters.iter().filter(|v| v.judged()).count();
    Ok(LivenessRun {
        view: LivenessView { fused, voters, passed, present },
        frames,
        measures,
        challenge_id: challenge.id,
        signature,
    })
}

enum BundleLiveness {
    /// The same signed bundle was already decided: its stored answer.
    Replay(Value),
    Ran(LivenessRun),
}

/// Checks and consumes the bundle, then measures and votes; failures after the signature
/// check are recorded as refused attempts.
async fn bundle_liveness(
    state: &AppState,
    customer: &CustomerRow,
    bundle: Value,
    hmac_key: Option<&str>,
    attempt: &AttemptContext,
) -> Result<BundleLiveness> {
    let checked = match check_bundle(state, customer, bundle, hmac_key, "face").await? {
        BundleCheck::Replay(answer) => return Ok(BundleLiveness::Replay(answer)),
        BundleCheck::Fresh(checked) => checked,
    };
    match run_liveness(state, checked).await {
        Ok(run) => Ok(BundleLiveness::Ran(run)),
        Err(err) => Err(attempt.refuse(state, err).await),
    }
}

fn liveness_reason(fused: Fused) -> String {
    let name = match fused {
        Fused::Live => "live",
        Fused::Spoof => "spoof",
        Fused::Unclear => "unclear",
    };
    format!("liveness_{name}")
}

/// An `unclear` liveness (too poor to judge, or the model could not run) goes to an analyst.
async fn queue_unclear(
    conn: &mut sqlx::AnyConnection,
    customer: &CustomerRow,
    verification_id: &str,
    reasons: &[String],
    view: &LivenessView,
) -> Result<()> {
    let voters = json!({"liveness": view.voters});
    let item = NewReviewItem {
        org_id: &customer.org_id,
        customer_id: &customer.id,
        kind: ReviewSubject::FaceLiveness,
        subject_id: verification_id,
        verification_id,
        reasons,
        voters: &voters,
    };
    open_item(conn, item).await?;
    Ok(())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LivenessRequest {
    customer_id: String,
    bundle: Value,
    hmac_key: Option<String>,
    #[allow(dead_code)]
    external_id: Option<String>,
}

fn liveness_details(run: &LivenessRun) -> Details {
    Details::FaceLiveness(LivenessDetails {
        fused: run.view.fused,
        voters: json!(run.view.voters),
        challenge_id: run.challenge_id.clone(),
        frame_sha256: run.frames.iter().map(|f| f.sha256.clone()).collect(),
    })
}

/// Liveness from a signed bundle: the answer, kept sealed for a replay of the same bundle.
pub async fn face_liveness(state: &AppState, actor: &Actor, client: String, body: LivenessRequest) -> Result<Value> {
    let started = Instant::now();
    face_service(state)?;
    let (customer, attempt) = customer_attempt(
        state,
        &actor.org_id,
        &body.customer_id,
        ratelimit::FACE_LIVENESS,
        "face_liveness",
        started,
        client,
    )
    .await?;
    let run = match bundle_liveness(state, &customer, body.bundle, body.hmac_key.as_deref(), &attempt).await? {
        BundleLiveness::Replay(answer) => return Ok(answer),
        BundleLiveness::Ran(run) => run,
    };
    let recording = Instant::now();
    let policy = tier_policy(state, &actor.org_id).await?;
    let passed = run.view.fused == Fused::Live;
    let reasons = vec![liveness_reason(run.view.fused)];
    let sealed_frames = seal_images(state, &customer, &run.frames).await?;
    let now = state.clock.now_timestamp();
    let mut tx = state.store.begin().await?;
    let customer = lock_customer(state, &mut tx, &actor.org_id, &customer.id).await?;
    let recorded = ledger::record_verification(
        &mut tx,
        actor,
        &customer,
        NewVerification { passed, reasons: reasons.clone(), details: liveness_details(&run) },
        policy,
    )
    .await?;
    let filing = CaptureFiling {
        kind: "frame",
        verification_id: Some(&recorded.verification.id),
        retention_class: "onboarding",
        created_at: &now,
    };
    let uploaded = store_captures(&mut tx, &customer, sealed_frames, filing).await?;
    if run.view.fused == Fused::Unclear {
        queue_unclear(&mut tx, &customer, &recorded.verification.id, &reasons, &run.view).await?;
    }
    faces::insert_attempt(
        &mut tx,
        &attempt.row(if passed { "passed" } else { "failed" }, &reasons, Some(&recorded.verification.id)),
    )
    .await?;
    let answer = LivenessAnswer { verification: VerificationView::from(&recorded.verification), liveness: run.view };
    let answer = serde_json::to_value(answer).map_err(Error::internal)?;
    keep_answer(state, &mut tx, &customer, &run.challenge_id, &run.signature, &answer).await?;
    tx.commit().await?;
    uploaded.committed();
    state.metrics.observe_face_stage("db", recording.elapsed());
    Ok(answer)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StepUpRequest {
    customer_id: String,
    #[schema(value_type = Option<String>, example = "medium")]
    risk_level: Option<RiskLevel>,
    action_label: Option<String>,
    trigger: Option<String>,
    bundle: Value,
    hmac_key: Option<String>,
    reference_image: Option<String>,
    #[allow(dead_code)]
    external_id: Option<String>,
}

/// Atomic liveness + match against the pool (or a reference image): the answer, kept sealed
/// for a replay of the same bundle.
pub async fn step_up(state: &AppState, actor: &Actor, client: String, body: StepUpRequest) -> Result<Value> {
    let started = Instant::now();
    let service = face_service(state)?.clone();
    if body.action_label.as_ref().is_some_and(|l| l.chars().count() > 200) {
        return Err(Error::invalid_field("actionLabel", "must be at most 200 characters"));
    }
    if body.trigger.as_ref().is_some_and(|t| t.is_empty() || t.chars().count() > 64) {
        return Err(Error::invalid_field("trigger", "must be 1 to 64 characters"));
    }
    let risk = body.risk_level.unwrap_or_default();
    let reference = body.reference_image.as_deref().map(|r| image_field("referenceImage", r)).transpose()?;
    let (customer, pool) = {
        let mut conn = state.store.reader().acquire().await?;
        let customer = load_customer(&mut conn, &actor.org_id, &body.customer_id).await?;
        let pool = faces::pool(&mut conn, &actor.org_id, &customer.id, MODEL_ID).await?;
        (customer, pool)
    };
    ratelimit::check(state, ratelimit::STEP_UP, &customer.id).await?;
    let attempt = AttemptContext {
        org_id: actor.org_id.clone(),
        customer_id: Some(customer.id.clone()),
        kind: "step_up",
        started,
        client,
    };
    if pool.is_empty() && reference.is_none() {
        // Nothing to match against: refuse without spending the challenge.
        let reasons = vec!["no_reference".to_string()];
        record_attempt(state, attempt.row("refused", &reasons, None)).await?;
        let answer = StepUpAnswer {
            allow: false,
            reasons,
            liveness: None,
            face_match: None,
            verification_ids: Vec::new(),
            tier: None,
            decided_in_ms: elapsed_ms(started),
        };
        return serde_json::to_value(answer).map_err(Error::internal);
    }
    let run = match bundle_liveness(state, &customer, body.bundle, body.hmac_key.as_deref(), &attempt).await? {
        BundleLiveness::Replay(answer) => return Ok(answer),
        BundleLiveness::Ran(run) => run,
    };
    // The embedded frames (those with exactly one face that the embedder read, see
    // kenali_core::liveness::frames_for_models) are the probes; the best score over probes ×
    // pool wins. multi_frame_consistency ties every other frame to them.
    let probes: Vec<usize> = (0..run.measures.len())
        .filter(|&i| run.measures[i].faces == 1 && !run.measures[i].embedding.is_empty())
        .collect();
    if probes.is_empty() {
        return Err(attempt.refuse(state, Error::image("bundle.frames", ImageProblem::NoFace)).await);
    }
    let threshold = threshold_for(org_settings(state, &customer.org_id).await?.match_threshold, risk);
    let reference_embedding = match reference {
        Some(reference) => match service.analyze("referenceImage", reference).await {
            Ok(reference) => Some(reference.face.embedding),
            Err(err) => return Err(attempt.refuse(state, err).await),
        },
        None => None,
    };
    let mut best: Option<(usize, f32, Option<crate::store::faces::EnrollmentRow>)> = None;
    for &i in &probes {
        let embedding = &run.measures[i].embedding;
        let (score, enrollment) = match &reference_embedding {
            Some(reference) => (cosine(embedding, reference), None),
            None => pool_best(state, &customer, &pool, embedding)?,
        };
        if best.as_ref().is_none_or(|(_, top, _)| score > *top) {
            best = Some((i, score, enrollment));
        }
    }
    let Some((probe_index, score, matched_enrollment)) = best else {
        return Err(Error::internal("no probe frame"));
    };
    let probe_measure = &run.measures[probe_index];
    let matched = score >= threshold;
    let live = run.view.fused == Fused::Live;
    let allow = live && matched;
    let mut reasons = Vec::new();
    reasons.push(liveness_reason(run.view.fused));
    reasons.push(if matched { "face_matched" } else { "face_not_matched" }.to_string());

    let recording = Instant::now();
    let policy = tier_policy(state, &actor.org_id).await?;
    let sealed_frames = seal_images(state, &customer, &run.frames).await?;
    let now = state.clock.now_timestamp();
    let mut tx = state.store.begin().await?;
    let customer = lock_customer(state, &mut tx, &actor.org_id, &customer.id).await?;
    let liveness_row = ledger::record_verification(
        &mut tx,
        actor,
        &customer,
        NewVerification { passed: live, reasons: vec![reasons[0].clone()], details: liveness_details(&run) },
        policy,
    )
    .await?;
    let match_row = ledger::record_verification(
        &mut tx,
        actor,
        &customer,
        NewVerification {
            passed: matched,
            reasons: vec![reasons[1].clone()],
            // Against a caller's referenceImage the match decides this step-up only.
            details: Details::FaceMatch(FaceMatchDetails {
                score,
                threshold,
                model_id: MODEL_ID.to_string(),
                against: if matched_enrollment.is_some() { MatchAgainst::Pool } else { MatchAgainst::ReferenceImage },
                enrollment_id: matched_enrollment.as_ref().map(|e| e.id.clone()),
                enrollment_source: matched_enrollment.as_ref().and_then(|e| e.enrollment_source()),
                probe_sha256: Some(run.frames[probe_index].sha256.clone()),
                risk_level: Some(risk),
                action_label: body.action_label.clone(),
                trigger: body.trigger.clone(),
                step_up_allowed: Some(allow),
                probe_verification_id: None,
            }),
        },
        policy,
    )
    .await?;
    let filing = CaptureFiling {
        kind: "frame",
        verification_id: Some(&liveness_row.verification.id),
        retention_class: "step_up",
        created_at: &now,
    };
    let uploaded = store_captures(&mut tx, &customer, sealed_frames, filing).await?;
    if run.view.fused == Fused::Unclear {
        queue_unclear(&mut tx, &customer, &liveness_row.verification.id, &reasons[..1], &run.view).await?;
    }
    // A strong pass grows the pool (seed 002, lesson 3); onboarding against a reference image
    // enrolls the selfie as the customer's first reference, only while the customer has none
    // (a caller's image must not add references beside enrolled ones).
    let onboarding = body.trigger.as_deref() == Some("onboarding") && matched_enrollment.is_none();
    let enroll_source = if allow
        && onboarding
        && !faces::has_enrollment(&mut tx, &customer.org_id, &customer.id).await?
    {
        Some(EnrollmentSource::OnboardingSelfie)
    } else if allow && matched_enrollment.is_some() && score >= threshold + PROMOTION_MARGIN && pool.len() < POOL_CAP {
        Some(EnrollmentSource::StepUpPromotion)
    } else {
        None
    };
    let mut enrollment_id = None;
    if let Some(source) = enroll_source {
        let key = data_key(&state.keys, &customer)?;
        let probe = EnrollmentFace {
            embedding: &probe_measure.embedding,
            image_sha256: &run.frames[probe_index].sha256,
            detection_score: probe_measure.face_score,
        };
        let enrollment = new_enrollment(&actor.org_id, &customer.id, source, &key, probe);
        faces::insert_enrollment(&mut tx, &enrollment).await?;
        ledger::audit(
            &mut tx,
            actor,
            "face.enrolled",
            &enrollment.id,
            json!({"customerId": customer.id, "source": source.as_str()}),
        )
        .await?;
        enrollment_id = Some(enrollment.id);
    }
    let verification_ids = vec![liveness_row.verification.id.clone(), match_row.verification.id.clone()];
    faces::insert_attempt(
        &mut tx,
        &attempt.row(if allow { "passed" } else { "failed" }, &reasons, Some(&match_row.verification.id)),
    )
    .await?;
    ledger::audit(
        &mut tx,
        actor,
        "step_up.decided",
        &customer.id,
        json!({"allow": allow, "riskLevel": risk, "actionLabel": body.action_label, "verificationIds": verification_ids}),
    )
    .await?;
    events::publish(
        &mut tx,
        &customer.org_id,
        events::kind::STEP_UP_DECIDED,
        json!({"customerId": customer.id, "externalRef": customer.external_ref, "allow": allow, "riskLevel": risk,
               "verificationIds": verification_ids}),
    )
    .await?;
    let answer = StepUpAnswer {
        allow,
        reasons,
        liveness: Some(run.view),
        face_match: Some(StepUpMatchView {
            score,
            threshold,
            matched,
            model_id: MODEL_ID.to_string(),
            enrollment_id: matched_enrollment.as_ref().map(|e| e.id.clone()),
            promoted_enrollment_id: enrollment_id,
        }),
        verification_ids,
        tier: Some(match_row.tier.as_str().to_string()),
        decided_in_ms: elapsed_ms(started),
    };
    let answer = serde_json::to_value(answer).map_err(Error::internal)?;
    keep_answer(state, &mut tx, &customer, &run.challenge_id, &run.signature, &answer).await?;
    tx.commit().await?;
    uploaded.committed();
    state.metrics.observe_face_stage("db", recording.elapsed());
    Ok(answer)
}
