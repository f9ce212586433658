//! KTP capture (seed 001): a signed bundle of frames of the customer's KTP in, the card read by
//! the server's own OCR, anti-spoof and tamper voters fused into an assurance tier, the portrait
//! enrolled as a face reference, and a review item when the assurance is low.

use std::time::Instant;

use kenali_core::document::{self, AntiSpoof, AssuranceTier, Judgement, Tamper};
use kenali_core::id::{new_id, IdKind};
use kenali_core::liveness::Voter;
use kenali_core::tier::EnrollmentSource;
use kenali_core::time_fmt::now_timestamp;
use kenali_core::verification::{Details, KtpCaptureDetails, KtpVerdict, NikFormatDetails, NikSource, ReviewSubject};
use kenali_vision::capture::{analyze_capture, CaptureAnalysis, CaptureError};
use kenali_vision::card::{CARD_HEIGHT, CARD_WIDTH};
use kenali_vision::engine::MODEL_ID;
use kenali_vision::DecodeLimits;
use serde::Deserialize;
use serde_json::{json, Value};

use super::bundle::{check_bundle, keep_answer, BundleCheck, CheckedBundle};
use super::customers::{lock_customer, tier_policy};
use super::faces::{customer_attempt, face_service, seal_images, store_captures, AttemptContext, CaptureFiling};
use super::review::{open_item, NewReviewItem};
use super::{Error, Result};
use crate::faces::{decode_error, new_enrollment, EnrollmentFace, ImageInput, MAX_IMAGE_BYTES};
use crate::ledger::{self, data_key, Actor, NewVerification};
use crate::ratelimit;
use crate::state::AppState;
use crate::store::customers::CustomerRow;
use crate::store::events;
use crate::store::faces::{self, EnrollmentRow};
use crate::store::ktp::{self as ktp_store, KtpBundleRow};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CaptureRequest {
    customer_id: String,
    bundle: Value,
    hmac_key: Option<String>,
    #[allow(dead_code)]
    external_id: Option<String>,
}

fn capture_error(err: CaptureError) -> Error {
    match err {
        CaptureError::Decode { index, error } => decode_error(&format!("bundle.frames[{index}]"), error),
        other => Error::internal(other),
    }
}

/// Measures the frames and reads the card off the runtime; the frames come back for storage.
/// `None` when no frame shows a card: a capture recorded as `failed`.
async fn analyze(state: &AppState, checked: &mut CheckedBundle) -> Result<Option<CaptureAnalysis>> {
    let service = face_service(state)?;
    let faces = service.engine().clone();
    let ocr = service.ocr().cloned().ok_or(Error::ModelsUnavailable("OCR"))?;
    let limits = DecodeLimits { max_bytes: MAX_IMAGE_BYTES, ..DecodeLimits::default() };
    let frames = std::mem::take(&mut checked.frames);
    let (frames, analysis) = service
        .run_blocking_wide(move || {
            let inputs: Vec<(&[u8], &str)> = frames.iter().map(|f| (&f.bytes[..], f.sha256.as_str())).collect();
            let analysis = analyze_capture(&faces, &ocr, &inputs, limits);
            Ok((frames, analysis))
        })
        .await?;
    checked.frames = frames;
    let analysis = match analysis {
        Ok(analysis) => analysis,
        Err(CaptureError::NoCard) => return Ok(None),
        Err(err) => return Err(capture_error(err)),
    };
    for (stage, took) in analysis.times.stages() {
        state.metrics.observe_face_stage(stage, took);
    }
    Ok(Some(analysis))
}

/// The voters of one fused check, as the response shows them.
fn check_view(voters: &[Voter]) -> Value {
    json!({"voters": voters, "passed": voters.iter().filter(|v| v.succeeded()).count(),
           "present": voters.iter().filter(|v| v.judged()).count()})
}

fn decide(state: &AppState, customer: &CustomerRow, analysis: &CaptureAnalysis, checked: &CheckedBundle) -> Judgement {
    // Compared through the blind index: the registered NIK stays sealed.
    let card_matches_customer = match (&customer.nik_index, &analysis.reading.nik) {
        (Some(registered), Some(read)) => Some(state.keys.blind_index.index("nik", &read.value) == *registered),
        _ => None,
    };
    document::judge(&document::Evidence {
        frames: &analysis.frames,
        samples: &checked.samples,
        reading: &analysis.reading,
        lines: &analysis.lines,
        card_size: [CARD_WIDTH as f32, CARD_HEIGHT as f32],
        portrait: &analysis.portrait,
        nik_type: analysis.nik_type.as_ref(),
        sdk_fields: checked.ocr_fields.as_ref(),
        reference_year: state.clock.now().year(),
        card_matches_customer,
    })
}

/// The reasons a low-assurance capture goes to review: the fused checks that did not pass,
/// then every failed voter by name.
fn review_reasons(decision: &Judgement) -> Vec<String> {
    let mut reasons = Vec::new();
    if decision.anti_spoof != AntiSpoof::Live {
        reasons.push(format!("anti_spoof_{}", decision.anti_spoof.as_str()));
    }
    if decision.tamper != Tamper::Authentic {
        reasons.push(format!("tamper_{}", decision.tamper.as_str()));
    }
    if reasons.is_empty() {
        reasons.push("flash_challenge_not_met".into());
    }
    let failed = decision.anti_spoof_voters.iter().chain(&decision.tamper_voters).filter(|v| v.failed());
    reasons.extend(failed.map(|v| v.name.to_string()));
    reasons
}

/// Reads and judges a KTP capture bundle, records everything it decided, and answers as
/// `KtpCaptureAnswer` (kept sealed for a replay of the same bundle).
pub async fn ktp_capture(state: &AppState, actor: &Actor, client: String, body: CaptureRequest) -> Result<Value> {
    let started = Instant::now();
    face_service(state)?;
    let (customer, attempt) = customer_attempt(
        state,
        &actor.org_id,
        &body.customer_id,
        ratelimit::KTP_CAPTURE,
        "ktp_capture",
        started,
        client,
    )
    .await?;
    let mut checked = match check_bundle(state, &customer, body.bundle, body.hmac_key.as_deref(), "ktp").await? {
        BundleCheck::Replay(answer) => return Ok(answer),
        BundleCheck::Fresh(checked) => checked,
    };
    let analysis = match analyze(state, &mut checked).await {
        Ok(Some(analysis)) => analysis,
        Ok(None) => return record_without_card(state, actor, &customer, &checked, &attempt).await,
        Err(err) => return Err(attempt.refuse(state, err).await),
    };
    let decision = decide(state, &customer, &analysis, &checked);
    let recording = Instant::now();
    let answer = record(state, actor, &customer, &checked, &analysis, &decision, &attempt).await?;
    state.metrics.observe_face_stage("db", recording.elapsed());
    Ok(answer)
}

/// Everything the capture decided, in one transaction: the verifications, the sealed frames
/// and reading, the portrait enrollment, the review item, the audit entry and the attempt.
async fn record(
    state: &AppState,
    actor: &Actor,
    customer: &CustomerRow,
    checked: &CheckedBundle,
    analysis: &CaptureAnalysis,
    decision: &Judgement,
    attempt: &AttemptContext,
) -> Result<Value> {
    let org_id = customer.org_id.as_str();
    let policy = tier_policy(state, org_id).await?;
    let key = data_key(&state.keys, customer)?;
    let bundle_id = new_id(IdKind::KtpBundle);
    let verdict = document::verdict(decision, analysis.reading.fields_read());
    let passed = verdict == KtpVerdict::Passed;
    let all_voters: Vec<&Voter> = decision.anti_spoof_voters.iter().chain(&decision.tamper_voters).collect();
    // The share of the checks made (abstentions are none) that passed.
    let judged = all_voters.iter().filter(|v| v.judged()).count();
    let score = (100 * all_voters.iter().filter(|v| v.succeeded()).count()).checked_div(judged).unwrap_or(0);
    let reasons = match verdict {
        KtpVerdict::Passed => vec![format!("assurance_{}", decision.assurance.as_str())],
        KtpVerdict::Failed if analysis.reading.fields_read() == 0 => {
            let mut reasons = vec!["card_unreadable".to_string()];
            reasons.extend(review_reasons(decision));
            reasons
        }
        KtpVerdict::Failed => {
            let mut reasons = vec!["attack_detected".to_string()];
            reasons.extend(review_reasons(decision));
            reasons
        }
        KtpVerdict::RequiresReview => review_reasons(decision),
    };
    let frame_hashes: Vec<String> = checked.frames.iter().map(|f| f.sha256.clone()).collect();

    let sealed_frames = seal_images(state, customer, &checked.frames).await?;
    let now = state.clock.now_timestamp();
    let mut tx = state.store.begin().await?;
    let customer = &lock_customer(state, &mut tx, org_id, &customer.id).await?;
    // The OCR's NIK feeds a nik_format verification, so a good card alone reaches basic; a
    // capture that did not pass moves no tier (seed 001), not even through the NIK it read.
    let nik_voter = decision.tamper_voters.iter().find(|v| v.name == document::NIK_CONSISTENCY.name);
    if let (true, Some(_), Some(nik_voter)) = (passed, &analysis.reading.nik, nik_voter) {
        ledger::record_verification(
            &mut tx,
            actor,
            customer,
            NewVerification {
                passed: nik_voter.succeeded(),
                reasons: vec![if nik_voter.succeeded() { "nik_valid" } else { "nik_inconsistent" }.to_string()],
                details: Details::NikFormat(NikFormatDetails {
                    source: NikSource::KtpOcr,
                    ktp_bundle_id: Some(bundle_id.clone()),
                }),
            },
            policy,
        )
        .await?;
    }
    let recorded = ledger::record_verification(
        &mut tx,
        actor,
        customer,
        NewVerification {
            passed,
            reasons: reasons.clone(),
            details: Details::KtpCapture(KtpCaptureDetails {
                ktp_bundle_id: bundle_id.clone(),
                assurance_tier: decision.assurance,
                verdict,
                anti_spoof: Some(decision.anti_spoof),
                tamper: Some(decision.tamper),
                score,
                challenge_id: checked.challenge.id.clone(),
                frame_sha256: frame_hashes,
                read_frame: Some(analysis.read_frame),
            }),
        },
        policy,
    )
    .await?;
    let verification_id = recorded.verification.id.clone();
    let filing = CaptureFiling {
        kind: "ktp_frame",
        verification_id: Some(&verification_id),
        retention_class: "onboarding",
        created_at: &now,
    };
    let uploaded = store_captures(&mut tx, customer, sealed_frames, filing).await?;
    let mut enrollment = portrait_enrollment(org_id, customer, &key, analysis, &checked.frames);
    match verdict {
        KtpVerdict::Passed => {}
        // Stored (seed 001: review bundles are fully persisted), but no step-up matches it
        // before an analyst approves the capture.
        KtpVerdict::RequiresReview => enrollment.status = faces::ENROLLMENT_PENDING_REVIEW.to_string(),
        // A failed card is evidence of an attack, never a face reference.
        KtpVerdict::Failed => {
            enrollment.status = faces::ENROLLMENT_REJECTED.to_string();
            enrollment.retired_at = Some(enrollment.created_at.clone());
        }
    }
    faces::insert_enrollment(&mut tx, &enrollment).await?;
    let fallback_stub = enrollment.embedding_sealed.is_none();
    ledger::audit(
        &mut tx,
        actor,
        "face.enrolled",
        &enrollment.id,
        json!({"customerId": customer.id, "source": "ktp_extract", "fallbackStub": fallback_stub,
               "status": enrollment.status}),
    )
    .await?;
    let voters_json = json!({"antiSpoof": decision.anti_spoof_voters, "tamper": decision.tamper_voters});
    let reading = serde_json::to_vec(&analysis.reading).map_err(Error::internal)?;
    ktp_store::insert_bundle(
        &mut tx,
        &KtpBundleRow {
            id: bundle_id.clone(),
            org_id: org_id.to_string(),
            customer_id: customer.id.clone(),
            verification_id: verification_id.clone(),
            challenge_id: checked.challenge.id.clone(),
            verdict: verdict.as_str().to_string(),
            assurance_tier: decision.assurance.as_str().to_string(),
            anti_spoof: decision.anti_spoof.as_str().to_string(),
            tamper: decision.tamper.as_str().to_string(),
            voters: voters_json.to_string(),
            reading_sealed: key.seal(&reading, &format!("ktp/reading/{bundle_id}")),
            frames_stored: i64::try_from(checked.frames.len()).unwrap_or(i64::MAX),
            face_enrollment_id: Some(enrollment.id.clone()),
            created_at: now.clone(),
        },
    )
    .await?;
    // A failed capture is recorded but not queued: there is nothing for an analyst to rescue.
    let review_id = if verdict != KtpVerdict::RequiresReview {
        None
    } else {
        let item = NewReviewItem {
            org_id,
            customer_id: &customer.id,
            kind: ReviewSubject::KtpCapture,
            subject_id: &bundle_id,
            verification_id: &verification_id,
            reasons: &reasons,
            voters: &voters_json,
        };
        Some(open_item(&mut tx, item).await?)
    };
    let outcome = CaptureOutcome { verdict, assurance: decision.assurance, review_id: review_id.as_deref() };
    announce_capture(&mut tx, actor, customer, &bundle_id, &verification_id, outcome).await?;
    faces::insert_attempt(
        &mut tx,
        &attempt.row(if passed { "passed" } else { "failed" }, &reasons, Some(&verification_id)),
    )
    .await?;
    let mut anti_spoof = check_view(&decision.anti_spoof_voters);
    anti_spoof["fused"] = json!(decision.anti_spoof);
    anti_spoof["assuranceTier"] = json!(decision.assurance);
    let mut tamper = check_view(&decision.tamper_voters);
    tamper["fused"] = json!(decision.tamper);
    let answer = json!({
        "verification": {"id": verification_id, "status": match verdict {
            KtpVerdict::Passed => "verified",
            KtpVerdict::RequiresReview => "pending",
            KtpVerdict::Failed => "failed",
        }, "score": score},
        "ktpBundle": {
            "id": bundle_id, "verdict": verdict, "assuranceTier": decision.assurance,
            "framesStored": checked.frames.len(), "ocr": document::reading_json(&analysis.reading),
            "ocrConfidence": document::reading_confidence_json(&analysis.reading),
            "reviewItemId": review_id,
        },
        "antiSpoof": anti_spoof,
        "tamper": tamper,
        "faceEnrolment": {"id": enrollment.id, "fallbackStub": fallback_stub, "modelId": MODEL_ID,
                          "status": enrollment.status},
        "tier": recorded.tier,
    });
    keep_answer(state, &mut tx, customer, &checked.challenge.id, &checked.signature, &answer).await?;
    tx.commit().await?;
    uploaded.committed();
    Ok(answer)
}

/// How a capture ended, as its audit entry and `ktp.capture_completed` event say.
struct CaptureOutcome<'a> {
    verdict: KtpVerdict,
    assurance: AssuranceTier,
    review_id: Option<&'a str>,
}

/// The capture's audit entry and webhook event, in the caller's transaction.
async fn announce_capture(
    tx: &mut sqlx::AnyConnection,
    actor: &Actor,
    customer: &CustomerRow,
    bundle_id: &str,
    verification_id: &str,
    outcome: CaptureOutcome<'_>,
) -> Result<()> {
    let CaptureOutcome { verdict, assurance, review_id } = outcome;
    ledger::audit(
        tx,
        actor,
        "ktp.captured",
        bundle_id,
        json!({"customerId": customer.id, "verdict": verdict, "assuranceTier": assurance, "reviewItemId": review_id}),
    )
    .await?;
    events::publish(
        tx,
        &customer.org_id,
        events::kind::KTP_CAPTURE_COMPLETED,
        json!({"customerId": customer.id, "externalRef": customer.external_ref, "ktpBundleId": bundle_id,
               "verificationId": verification_id, "verdict": verdict, "assuranceTier": assurance,
               "reviewItemId": review_id}),
    )
    .await?;
    Ok(())
}

/// A capture in which no frame shows a card (SPEC §6): recorded as `failed`, frames sealed as
/// for any capture, nothing read, nothing enrolled, no review item; the challenge is spent.
async fn record_without_card(
    state: &AppState,
    actor: &Actor,
    customer: &CustomerRow,
    checked: &CheckedBundle,
    attempt: &AttemptContext,
) -> Result<Value> {
    let org_id = customer.org_id.as_str();
    let policy = tier_policy(state, org_id).await?;
    let bundle_id = new_id(IdKind::KtpBundle);
    let reasons = vec!["no_card".to_string()];
    let sealed_frames = seal_images(state, customer, &checked.frames).await?;
    let now = state.clock.now_timestamp();
    let mut tx = state.store.begin().await?;
    let customer = &lock_customer(state, &mut tx, org_id, &customer.id).await?;
    let key = data_key(&state.keys, customer)?;
    let recorded = ledger::record_verification(
        &mut tx,
        actor,
        customer,
        NewVerification {
            passed: false,
            reasons: reasons.clone(),
            details: Details::KtpCapture(KtpCaptureDetails {
                ktp_bundle_id: bundle_id.clone(),
                assurance_tier: AssuranceTier::Low,
                verdict: KtpVerdict::Failed,
                anti_spoof: None,
                tamper: None,
                score: 0,
                challenge_id: checked.challenge.id.clone(),
                frame_sha256: checked.frames.iter().map(|f| f.sha256.clone()).collect(),
                read_frame: None,
            }),
        },
        policy,
    )
    .await?;
    let verification_id = recorded.verification.id.clone();
    let filing = CaptureFiling {
        kind: "ktp_frame",
        verification_id: Some(&verification_id),
        retention_class: "onboarding",
        created_at: &now,
    };
    let uploaded = store_captures(&mut tx, customer, sealed_frames, filing).await?;
    let empty = kenali_core::ktp::KtpReading::default();
    let reading = serde_json::to_vec(&empty).map_err(Error::internal)?;
    ktp_store::insert_bundle(
        &mut tx,
        &KtpBundleRow {
            id: bundle_id.clone(),
            org_id: org_id.to_string(),
            customer_id: customer.id.clone(),
            verification_id: verification_id.clone(),
            challenge_id: checked.challenge.id.clone(),
            verdict: KtpVerdict::Failed.as_str().to_string(),
            assurance_tier: AssuranceTier::Low.as_str().to_string(),
            anti_spoof: AntiSpoof::Unclear.as_str().to_string(),
            tamper: Tamper::Unclear.as_str().to_string(),
            voters: json!({"antiSpoof": [], "tamper": []}).to_string(),
            reading_sealed: key.seal(&reading, &format!("ktp/reading/{bundle_id}")),
            frames_stored: i64::try_from(checked.frames.len()).unwrap_or(i64::MAX),
            face_enrollment_id: None,
            created_at: now.clone(),
        },
    )
    .await?;
    let outcome = CaptureOutcome { verdict: KtpVerdict::Failed, assurance: AssuranceTier::Low, review_id: None };
    announce_capture(&mut tx, actor, customer, &bundle_id, &verification_id, outcome).await?;
    faces::insert_attempt(&mut tx, &attempt.row("failed", &reasons, Some(&verification_id))).await?;
    let unjudged = |fused: &str| json!({"fused": fused, "voters": [], "passed": 0, "present": 0});
    let mut anti_spoof = unjudged(AntiSpoof::Unclear.as_str());
    anti_spoof["assuranceTier"] = json!(AssuranceTier::Low);
    let answer = json!({
        "verification": {"id": verification_id, "status": "failed", "score": 0},
        "ktpBundle": {
            "id": bundle_id, "verdict": KtpVerdict::Failed, "assuranceTier": AssuranceTier::Low,
            "framesStored": checked.frames.len(), "ocr": document::reading_json(&empty),
            "ocrConfidence": document::reading_confidence_json(&empty), "reviewItemId": null,
            "reasons": reasons,
        },
        "antiSpoof": anti_spoof,
        "tamper": unjudged(Tamper::Unclear.as_str()),
        "faceEnrolment": null,
        "tier": recorded.tier,
    });
    keep_answer(state, &mut tx, customer, &checked.challenge.id, &checked.signature, &answer).await?;
    tx.commit().await?;
    uploaded.committed();
    Ok(answer)
}

/// The card's portrait as a `ktp_extract` enrollment; without a usable face, a fallback stub
/// (no embedding) that records the attempt and never matches.
fn portrait_enrollment(
    org_id: &str,
    customer: &CustomerRow,
    key: &kenali_core::seal::DataKey,
    analysis: &CaptureAnalysis,
    frames: &[ImageInput],
) -> EnrollmentRow {
    let frame_sha = frames.get(analysis.read_frame).map(|f| f.sha256.as_str()).unwrap_or_default();
    match &analysis.portrait_face {
        Some(portrait) => new_enrollment(
            org_id,
            &customer.id,
            EnrollmentSource::KtpExtract,
            key,
            EnrollmentFace {
                embedding: &portrait.embedding,
                image_sha256: frame_sha,
                detection_score: portrait.face.score,
            },
        ),
        None => EnrollmentRow {
            id: new_id(IdKind::FaceEnrollment),
            org_id: org_id.to_string(),
            customer_id: customer.id.clone(),
            source: EnrollmentSource::KtpExtract.as_str().to_string(),
            model_id: MODEL_ID.to_string(),
            embedding_sealed: None,
            image_sha256: Some(frame_sha.to_string()),
            detection_score: None,
            created_at: now_timestamp(),
            retired_at: None,
            status: faces::ENROLLMENT_ACTIVE.to_string(),
        },
    }
}
