//! `nik/dukcapil`: a Dukcapil verdict the fintech obtained, recorded with its photo as a face
//! reference and Kenali's own match of that photo against the customer's last step-up selfie.

use kenali_core::face::{threshold_for, RiskLevel};
use kenali_core::id::{new_id, IdKind};
use kenali_core::tier::EnrollmentSource;
use kenali_core::time_fmt::now_timestamp;
use kenali_core::verification::{
    Details, DukcapilDetails, FaceMatchDetails, MatchAgainst, NikFormatDetails, NikSource,
};
use kenali_vision::embed::cosine;
use kenali_vision::engine::MODEL_ID;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::customers::{load_customer, lock_customer, org_settings};
use super::faces::face_service;
use super::nik::{check_nik, store_pii};
use super::{validate, Error, ImageProblem, Result};
use crate::blobs::{object_key, Uploaded};
use crate::faces::{image_field, last_step_up_selfie, new_enrollment, StepUpSelfie};
use crate::ledger::{self, data_key, open_pii, Actor, NewVerification};
use crate::state::AppState;
use crate::store::customers::CustomerRow;
use crate::store::dukcapil::{self, DukcapilRow};
use crate::store::faces;
use crate::views::{TierEventView, VerificationView};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DukcapilVerdict {
    customer_id: String,
    valid: bool,
    nik: Option<String>,
    /// Base64 JPEG or PNG of the Dukcapil photo.
    photo: Option<String>,
    /// Dukcapil's own response, kept (sealed) exactly as given, byte for byte.
    #[schema(value_type = Option<Object>)]
    raw: Option<Box<serde_json::value::RawValue>>,
    #[allow(dead_code)]
    external_id: Option<String>,
}

/// The photo Dukcapil returned, kept sealed: its hash and type only.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PhotoView {
    sha256: String,
    media_type: Option<String>,
    sealed: bool,
}

/// The `dukcapil` face enrollment made from the photo, or why none was (`id` null, `reason`).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DukcapilEnrolment {
    id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    model_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fallback_stub: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

/// Kenali's own match of the Dukcapil photo against the live selfie of the customer's most
/// recent allowed step-up (seed 002 runs the step-up before the verdict arrives).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DukcapilFaceMatch {
    verification: VerificationView,
    score: f32,
    threshold: f32,
    matched: bool,
    /// The step-up's face_match verification whose selfie was the probe.
    probe_verification_id: String,
}

/// The verdict recorded, the tier after it, and what became of the photo.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DukcapilRecorded {
    verification: VerificationView,
    #[schema(value_type = String)]
    tier: kenali_core::tier::Tier,
    tier_event: Option<TierEventView>,
    photo: Option<PhotoView>,
    face_enrolment: Option<DukcapilEnrolment>,
    /// Present when a valid verdict's photo was matched against a step-up selfie.
    #[serde(skip_serializing_if = "Option::is_none")]
    face_match: Option<DukcapilFaceMatch>,
}

/// Records a Dukcapil verdict the fintech obtained: its NIK, its photo as a `dukcapil`
/// enrollment (valid verdicts only) and Kenali's own match of that photo against the last
/// step-up selfie.
pub async fn ingest_dukcapil(state: &AppState, actor: &Actor, body: DukcapilVerdict) -> Result<DukcapilRecorded> {
    let photo = body.photo.as_deref().map(|p| image_field("photo", p)).transpose()?;
    let raw = body.raw.as_ref().map(|raw| raw.get().to_string());
    // Unknown and other orgs' customers answer 404 before any image work.
    let known = {
        let mut conn = state.store.reader().acquire().await?;
        load_customer(&mut conn, &actor.org_id, &body.customer_id).await?
    };
    if photo.is_some() {
        crate::ratelimit::check(state, crate::ratelimit::DUKCAPIL_PHOTO, &actor.org_id).await?;
    }
    // The photo becomes a `dukcapil` face enrollment when it holds one usable face. A photo
    // that is not an image at all is refused; one without a usable face is kept (sealed)
    // with the verdict, and the answer says why no enrollment was made.
    let (photo, face) = match photo {
        None => (None, Err("no_photo".to_string())),
        // An invalid verdict keeps its photo (sealed) as evidence but enrolls nothing.
        Some(photo) if !body.valid => (Some(photo), Err("verdict_invalid".to_string())),
        Some(photo) => match face_service(state) {
            Err(_) => (Some(photo), Err("models_unavailable".to_string())),
            Ok(service) => {
                let copy = photo.clone();
                match service.analyze("photo", copy).await {
                    Ok(analyzed) => (Some(photo), Ok(analyzed)),
                    Err(
                        err @ Error::Image {
                            problem:
                                ImageProblem::NoFace | ImageProblem::SeveralFaces(_) | ImageProblem::FaceTooSmall(_),
                            ..
                        },
                    ) => (Some(photo), Err(err.code().to_string())),
                    Err(err) => return Err(err),
                }
            }
        },
    };
    // With a new dukcapil reference, Kenali matches it itself against the live selfie of the
    // customer's last allowed step-up (read before the write transaction: it decodes a frame).
    let settings = org_settings(state, &actor.org_id).await?;
    let selfie = match (&face, face_service(state)) {
        (Ok(_), Ok(service)) => {
            let key = data_key(&state.keys, &known)?;
            let mut conn = state.store.reader().acquire().await?;
            match last_step_up_selfie(service, &state.blobs, &mut conn, &key, &known).await {
                Ok(selfie) => selfie,
                // A stored selfie the model cannot read again leaves the match undone, not the verdict.
                Err(Error::Image { .. }) => None,
                Err(err) => return Err(err),
            }
        }
        _ => None,
    };
    let policy = settings.tier_policy();

    // The photo is sealed and written before the transaction, journaled first (a process that
    // dies before the commit leaves its deletion queued). The object is named by an id of its
    // own, which is also its sealing context: `dukcapil/photo/{last segment of its key}` (rows
    // written before this named it after the verdict, in the same place).
    let photo_id = new_id(IdKind::Capture);
    let mut uploaded = Uploaded::new(&state.blobs);
    let photo_object = match &photo {
        Some(p) => {
            let key = object_key(&actor.org_id, &known.id, "dukcapil", &photo_id);
            let sealed = data_key(&state.keys, &known)?.seal(&p.bytes, &format!("dukcapil/photo/{photo_id}"));
            crate::blobs::journal_uploads(&state.store, std::slice::from_ref(&key), state.clock.now()).await?;
            uploaded.push(key.clone());
            Some(state.blobs.put(&key, sealed).await?)
        }
        None => None,
    };

    let mut tx = state.store.begin().await?;
    let customer = lock_customer(state, &mut tx, &actor.org_id, &body.customer_id).await?;
    let mut pii = open_pii(&state.keys, &customer)?;
    let dob = pii.date_of_birth.as_deref().map(|d| validate::date("dateOfBirth", d)).transpose()?;
    let nik = match body.nik.as_deref() {
        Some(nik) => Some(check_nik(nik, dob, pii.gender)?.0),
        None => None,
    };
    if let (Some(nik), Some(existing)) = (&nik, &pii.nik) {
        if nik != existing {
            return Err(Error::NikConflict("the verdict's NIK differs from the customer's NIK"));
        }
    }
    let mut recorded_nik = None;
    if let Some(nik) = &nik {
        if pii.nik.is_none() && body.valid {
            pii.nik = Some(nik.clone());
            store_pii(state, &mut tx, &customer, &pii).await?;
        }
        // Every NIK check is a row of its own.
        recorded_nik = Some(
            ledger::record_verification(
                &mut tx,
                actor,
                &customer,
                NewVerification {
                    passed: true,
                    reasons: vec!["nik_valid".into()],
                    details: Details::NikFormat(NikFormatDetails { source: NikSource::Dukcapil, ktp_bundle_id: None }),
                },
                policy,
            )
            .await?,
        );
    }
    let data_key = data_key(&state.keys, &customer)?;
    let recorded = ledger::record_verification(
        &mut tx,
        actor,
        &customer,
        NewVerification {
            passed: body.valid,
            reasons: vec![if body.valid { "dukcapil_valid" } else { "dukcapil_invalid" }.into()],
            details: Details::DukcapilVerdict(DukcapilDetails {
                photo_provided: photo.is_some(),
                raw_provided: raw.is_some(),
                enrolled: face.is_ok(),
            }),
        },
        policy,
    )
    .await?;
    // The verdict row shares its verification's id: one Dukcapil answer, one ledger entry.
    let verdict_id = recorded.verification.id.clone();
    if let Some(object) = &photo_object {
        crate::blobs::settle_upload(&mut tx, &object.key).await?;
    }
    let row = DukcapilRow {
        id: verdict_id.clone(),
        org_id: actor.org_id.clone(),
        customer_id: customer.id.clone(),
        verification_id: recorded.verification.id.clone(),
        valid: body.valid,
        photo_sha256: photo.as_ref().map(|p| p.sha256.clone()),
        photo_media_type: photo.as_ref().map(|p| p.media_type.to_string()),
        photo_object,
        raw_sealed: raw.as_ref().map(|raw| data_key.seal(raw.as_bytes(), &format!("dukcapil/raw/{verdict_id}"))),
        created_at: now_timestamp(),
    };
    dukcapil::insert(&mut tx, &row).await?;
    let enrollment = match &face {
        Ok(analyzed) => {
            let enrollment =
                new_enrollment(&actor.org_id, &customer.id, EnrollmentSource::Dukcapil, &data_key, analyzed.into());
            faces::insert_enrollment(&mut tx, &enrollment).await?;
            ledger::audit(
                &mut tx,
                actor,
                "face.enrolled",
                &enrollment.id,
                json!({"customerId": customer.id, "source": EnrollmentSource::Dukcapil.as_str()}),
            )
            .await?;
            Some(enrollment)
        }
        Err(_) => None,
    };
    let face_match = match (&enrollment, &face, selfie) {
        (Some(enrollment), Ok(analyzed), Some(selfie)) => {
            let threshold = threshold_for(settings.match_threshold, RiskLevel::Medium);
            Some(
                match_step_up_selfie(&mut tx, actor, &customer, enrollment, analyzed, selfie, threshold, policy)
                    .await?,
            )
        }
        _ => None,
    };
    ledger::audit(
        &mut tx,
        actor,
        "dukcapil.submitted",
        &customer.id,
        json!({"valid": body.valid, "verificationId": recorded.verification.id, "photoSha256": row.photo_sha256}),
    )
    .await?;
    tx.commit().await?;
    uploaded.committed();
    let (tier, match_event) = match &face_match {
        Some((_, recorded)) => (recorded.tier, recorded.tier_event.clone()),
        None => (recorded.tier, None),
    };
    let tier_event = match_event.or(recorded.tier_event).or(recorded_nik.and_then(|r| r.tier_event));
    Ok(DukcapilRecorded {
        verification: VerificationView::from(&recorded.verification),
        tier,
        tier_event: tier_event.as_ref().map(TierEventView::from),
        face_match: face_match.map(|(view, _)| view),
        photo: row.photo_sha256.as_ref().map(|sha| PhotoView {
            sha256: sha.clone(),
            media_type: row.photo_media_type.clone(),
            sealed: true,
        }),
        face_enrolment: match (&enrollment, &face) {
            (Some(e), _) => Some(DukcapilEnrolment {
                id: Some(e.id.clone()),
                source: Some(e.source.clone()),
                model_id: Some(e.model_id.clone()),
                fallback_stub: Some(false),
                reason: None,
            }),
            (None, Err(reason)) if photo.is_some() => Some(DukcapilEnrolment {
                id: None,
                source: None,
                model_id: None,
                fallback_stub: None,
                reason: Some(reason.to_string()),
            }),
            _ => None,
        },
    })
}

/// Records Kenali's own match of the new dukcapil enrollment against the step-up selfie: a
/// `face_match` against a `dukcapil` enrollment, which is what premium needs (SPEC §3).
#[allow(clippy::too_many_arguments)]
async fn match_step_up_selfie(
    tx: &mut sqlx::AnyConnection,
    actor: &Actor,
    customer: &CustomerRow,
    enrollment: &crate::store::faces::EnrollmentRow,
    photo: &crate::faces::AnalyzedImage,
    selfie: StepUpSelfie,
    threshold: f32,
    policy: kenali_core::tier::TierPolicy,
) -> Result<(DukcapilFaceMatch, ledger::Recorded)> {
    let score = cosine(&selfie.embedding, &photo.face.embedding);
    let matched = score >= threshold;
    let recorded = ledger::record_verification(
        tx,
        actor,
        customer,
        NewVerification {
            passed: matched,
            reasons: vec![if matched { "face_matched" } else { "face_not_matched" }.to_string()],
            details: Details::FaceMatch(FaceMatchDetails {
                score,
                threshold,
                model_id: MODEL_ID.to_string(),
                against: MatchAgainst::Enrollment,
                enrollment_id: Some(enrollment.id.clone()),
                enrollment_source: Some(EnrollmentSource::Dukcapil),
                probe_sha256: Some(selfie.sha256),
                risk_level: None,
                action_label: None,
                trigger: None,
                step_up_allowed: None,
                probe_verification_id: Some(selfie.match_verification_id.clone()),
            }),
        },
        policy,
    )
    .await?;
    let view = DukcapilFaceMatch {
        verification: VerificationView::from(&recorded.verification),
        score,
        threshold,
        matched,
        probe_verification_id: selfie.match_verification_id,
    };
    Ok((view, recorded))
}
