//! One face-match submission's job: open its two sealed images, find one face in each (the
//! KTP's portrait through the card pipeline), score them with the org's threshold, and write
//! the result, the customer's `face_match` verification and the completion event in one
//! transaction, under the worker's lease (so a job taken over from a dead process is written
//! once).

use std::time::Instant;

use kenali_core::face::{threshold_for, RiskLevel};
use kenali_core::time_fmt::parse_timestamp;
use kenali_core::verification::{Details, FaceMatchDetails, MatchAgainst};
use kenali_vision::embed::cosine;
use kenali_vision::engine::MODEL_ID;
use kenali_vision::pair::{self, FaceQuality, PairFace};
use kenali_vision::{decode_image, DecodeLimits};
use serde_json::{json, Value};

use super::customers::{lock_customer, org_settings, tier_policy};
use super::faces::face_service;
use super::submissions::{data_key, image_context, notify_finished, Mode, MAX_UPLOAD_BYTES};
use super::{Error, Result};
use crate::blobs::BlobError;
use crate::faces::{decode_error, face_error};
use crate::ledger::{self, Actor, NewVerification};
use crate::state::AppState;
use crate::store::submissions::{self as store, ClaimedJob, JobOutcome, SubmissionRow};

/// Attempts a job gets when its processing fails for reasons that are not the images' (the
/// database, the blob store, a busy server) before it is marked failed.
pub const MAX_ATTEMPTS: i64 = 3;

/// How a job ended short of a result.
enum Stop {
    /// The images' fault (no face, undecodable): the submission fails with this code.
    Fail { code: &'static str, message: String },
    /// A passing failure: the job goes back to the queue.
    Retry(Error),
}

impl From<Error> for Stop {
    fn from(err: Error) -> Self {
        match err {
            Error::Image { .. } => Stop::Fail { code: err.code(), message: err.public_message() },
            Error::Gone { code, message } => Stop::Fail { code, message },
            Error::Blob(BlobError::Missing(_) | BlobError::Corrupt(_)) => Stop::Fail {
                code: "image_unavailable",
                message: "a stored image of this submission is missing or damaged".into(),
            },
            other => Stop::Retry(other),
        }
    }
}

/// What the analysis found in the two images.
struct Analysis {
    selfie: PairFace,
    live_probability: f32,
    reference: PairFace,
    analysis_ms: u64,
    /// SHA-256 of the selfie as uploaded (the verification's probe).
    selfie_sha256: Option<String>,
}

/// Runs the job and records how it ended. Errors only when even recording failed (the lease
/// then runs out and another worker retries).
pub async fn process(state: &AppState, job: &ClaimedJob) -> Result<()> {
    let row = {
        let mut conn = state.store.reader().acquire().await?;
        store::get(&mut conn, &job.id).await?
    };
    let Some(row) = row else { return Ok(()) };
    let started = Instant::now();
    match analyze(state, &row).await {
        Ok(analysis) => complete(state, job, &row, analysis, started).await,
        Err(Stop::Fail { code, message }) => fail(state, job, &row, code, &message).await,
        Err(Stop::Retry(err)) if job.attempts < MAX_ATTEMPTS => {
            tracing::warn!(submission = %row.id, attempt = job.attempts, error = %err, "face-match job failed; it is retried");
            let mut conn = state.store.write().await?;
            store::release(&mut conn, job, &state.clock.now_timestamp()).await?;
            Ok(())
        }
        Err(Stop::Retry(err)) => {
            tracing::error!(submission = %row.id, attempts = job.attempts, error = %err, "face-match job failed for good");
            let message = format!("processing failed {} times; create a new submission", job.attempts);
            fail(state, job, &row, "processing_failed", &message).await
        }
    }
}

async fn analyze(state: &AppState, row: &SubmissionRow) -> std::result::Result<Analysis, Stop> {
    let mode = Mode::parse(&row.mode).ok_or_else(|| Error::internal(format!("mode {} of {}", row.mode, row.id)))?;
    let key = data_key(state, row)?;
    let images = {
        let mut conn = state.store.reader().acquire().await.map_err(Error::from)?;
        store::images(&mut conn, &row.id).await.map_err(Error::from)?
    };
    let [selfie_role, reference_role] = mode.roles();
    let mut opened = Vec::with_capacity(2);
    let mut selfie_sha256 = None;
    for role in [selfie_role, reference_role] {
        let image = images.iter().find(|i| i.role == role).ok_or_else(|| Error::internal(format!("{role} row")))?;
        if role == selfie_role {
            selfie_sha256.clone_from(&image.image_sha256);
        }
        let object = image.object.as_ref().ok_or_else(|| Error::Gone {
            code: "images_deleted",
            message: "this submission's images were deleted".into(),
        })?;
        let sealed = state.blobs.get(object).await.map_err(Error::from)?;
        let bytes = key
            .open(&sealed, &image_context(&row.id, role))
            .map_err(|e| Error::internal(format!("opening {role} of {}: {e}", row.id)))?;
        opened.push(bytes);
    }
    let reference_bytes = opened.pop().unwrap_or_default();
    let selfie_bytes = opened.pop().unwrap_or_default();
    let service = face_service(state)?;
    let engine = service.engine().clone();
    let analysis = service
        .run_blocking(move || {
            let clock = Instant::now();
            let limits = DecodeLimits { max_bytes: MAX_UPLOAD_BYTES, ..DecodeLimits::default() };
            let selfie_image = decode_image(&selfie_bytes, limits).map_err(|e| decode_error(selfie_role, e))?;
            let selfie = pair::selfie_face(&engine, &selfie_image).map_err(|e| face_error(selfie_role, e))?;
            let live_probability =
                pair::live_probability(&engine, &selfie_image, &selfie.face).map_err(|e| face_error(selfie_role, e))?;
            drop(selfie_image);
            let reference_image =
                decode_image(&reference_bytes, limits).map_err(|e| decode_error(reference_role, e))?;
            let reference = match mode {
                Mode::SelfieToKtp => pair::ktp_face(&engine, &reference_image),
                Mode::SelfieToSelfie => pair::selfie_face(&engine, &reference_image),
            }
            .map_err(|e| face_error(reference_role, e))?;
            let analysis_ms = u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX);
            Ok(Analysis { selfie, live_probability, reference, analysis_ms, selfie_sha256 })
        })
        .await?;
    Ok(analysis)
}

fn quality_json(quality: &FaceQuality) -> Value {
    json!({
        "faceSidePx": quality.face_side_px.round(),
        "detectionScore": quality.detection_score,
        "sharpness": quality.sharpness,
        "yawDeg": quality.yaw_deg,
        "rollDeg": quality.roll_deg,
    })
}

/// Milliseconds between two stored timestamps, when both parse.
fn millis_between(from: Option<&str>, to: &str) -> Option<i64> {
    let (from, to) = (parse_timestamp(from?)?, parse_timestamp(to)?);
    i64::try_from((to - from).whole_milliseconds()).ok()
}

async fn complete(
    state: &AppState,
    job: &ClaimedJob,
    row: &SubmissionRow,
    analysis: Analysis,
    started: Instant,
) -> Result<()> {
    let score = cosine(&analysis.selfie.embedding, &analysis.reference.embedding);
    let threshold = threshold_for(org_settings(state, &row.org_id).await?.match_threshold, RiskLevel::Medium);
    let matched = score >= threshold;
    let [selfie_role, reference_role] = Mode::parse(&row.mode).unwrap_or(Mode::SelfieToSelfie).roles();
    let policy = tier_policy(state, &row.org_id).await?;
    let now = state.clock.now_timestamp();
    let mut reference = quality_json(&analysis.reference.quality);
    if reference_role == "ktp" {
        reference["foundOnCard"] = json!(analysis.reference.on_card);
    }
    let mut selfie = quality_json(&analysis.selfie.quality);
    selfie["antiSpoofScore"] = json!(analysis.live_probability);
    let result = json!({
        "score": score,
        "threshold": threshold,
        "matched": matched,
        "modelId": MODEL_ID,
        (selfie_role): selfie,
        (reference_role): reference,
        "timings": {
            "queueMs": millis_between(row.confirmed_at.as_deref(), row.started_at.as_deref().unwrap_or(&now)),
            "analysisMs": analysis.analysis_ms,
            "processingMs": u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        },
    });
    let actor = Actor {
        org_id: row.org_id.clone(),
        actor: row.created_by.clone(),
        actor_user_id: None,
        request_id: format!("job/{}", row.id),
    };
    let mut tx = state.store.begin().await?;
    let mut verification_id = None;
    if let Some(customer_id) = &row.customer_id {
        // An erased customer gets no verification; the partner still gets its answer.
        match lock_customer(state, &mut tx, &row.org_id, customer_id).await {
            Ok(customer) => {
                let reasons = vec![if matched { "face_matched" } else { "face_not_matched" }.to_string()];
                let recorded = ledger::record_verification(
                    &mut tx,
                    &actor,
                    &customer,
                    NewVerification {
                        passed: matched,
                        reasons,
                        // The partner's own reference image: evidence for this decision only, never
                        // a rung of the tier ladder.
                        details: Details::FaceMatch(FaceMatchDetails {
                            score,
                            threshold,
                            model_id: MODEL_ID.to_string(),
                            against: MatchAgainst::ReferenceImage,
                            enrollment_id: None,
                            enrollment_source: None,
                            probe_sha256: analysis.selfie_sha256.clone(),
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
                verification_id = Some(recorded.verification.id);
            }
            Err(Error::CustomerErased(_) | Error::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    let result_text = result.to_string();
    let outcome = JobOutcome {
        status: store::COMPLETED,
        result: Some(&result_text),
        error_code: None,
        error_message: None,
        verification_id: verification_id.as_deref(),
    };
    if !store::finish(&mut tx, job, &outcome, &now).await? {
        // Another worker took the job over when this one's lease ran out; its result stands.
        return Ok(());
    }
    notify_finished(&mut tx, row, store::COMPLETED).await?;
    tx.commit().await?;
    Ok(())
}

async fn fail(state: &AppState, job: &ClaimedJob, row: &SubmissionRow, code: &str, message: &str) -> Result<()> {
    let now = state.clock.now_timestamp();
    let outcome = JobOutcome {
        status: store::FAILED,
        result: None,
        error_code: Some(code),
        error_message: Some(message),
        verification_id: None,
    };
    let mut tx = state.store.begin().await?;
    if !store::finish(&mut tx, job, &outcome, &now).await? {
        return Ok(());
    }
    notify_finished(&mut tx, row, store::FAILED).await?;
    tx.commit().await?;
    Ok(())
}
