//! `POST /api/identity/nik/validate` (a NIK check recorded against a customer, passed or
//! failed) and `POST /api/identity/nik/dukcapil` (a Dukcapil verdict the fintech obtained).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use kenali_core::face::{threshold_for, RiskLevel};
use kenali_core::nik::validate_nik;
use kenali_core::tier::EnrollmentSource;
use kenali_core::time_fmt::now_timestamp;
use kenali_core::verification::{
    Details, DukcapilDetails, FaceMatchDetails, MatchAgainst, NikFormatDetails, NikSource,
};
use kenali_vision::embed::cosine;
use kenali_vision::engine::MODEL_ID;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::views::{TierEventView, VerificationView};
use super::{load_customer, tier_policy, validate};
use crate::auth::Scope;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, Auth};
use crate::faces::{image_field, last_step_up_selfie, new_enrollment, ImageInput, StepUpSelfie};
use crate::ledger::{self, data_key, open_pii, seal_pii, Actor, NewVerification};
use crate::service::nik::{check_nik, current_year};
use crate::state::AppState;
use crate::store::customers::{self, CustomerRow};
use crate::store::dukcapil::{self, DukcapilRow};
use crate::store::faces;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ValidateNik {
    customer_id: String,
    nik: String,
    date_of_birth: Option<String>,
    gender: Option<String>,
    #[allow(dead_code)]
    external_id: Option<String>,
}

/// A malformed NIK (not 16 digits) is a 400 that writes nothing. A well-formed NIK that
/// breaks a rule (region, date, serial, DOB or gender) is recorded as a failed `nik_format`
/// verification: the failure itself is the record.
/// A broken NIK rule, e.g. `impossible_date`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct NikProblemView {
    code: String,
    message: String,
}

/// The `nik_format` verification recorded (passed, or failed with the rules it broke).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NikChecked {
    verification: VerificationView,
    problems: Vec<NikProblemView>,
    #[schema(value_type = String)]
    tier: kenali_core::tier::Tier,
    tier_event: Option<TierEventView>,
}

#[utoipa::path(post, path = "/api/identity/nik/validate", tag = "kyc", request_body = ValidateNik, responses((status = 201, description = "the verification recorded", body = NikChecked), crate::error::ErrorResponse))]
pub async fn validate_for_customer(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<ValidateNik>,
) -> ApiResult<(StatusCode, Json<NikChecked>)> {
    let principal = auth.require(Scope::Public)?;
    let nik = validate::nik_text(&body.nik)?;
    let dob = body.date_of_birth.as_deref().map(validate::date_of_birth).transpose()?;
    let gender = body.gender.as_deref().map(validate::gender).transpose()?;
    let policy = tier_policy(&state, &principal.org_id).await?;
    let actor = Actor::from_principal(principal);
    let mut tx = state.store.begin().await?;
    let customer = load_customer(&mut tx, &principal.org_id, &body.customer_id).await?;
    let mut pii = open_pii(&state.keys, &customer)?;
    // What the customer record already says counts as a claim the NIK must agree with.
    let stored_dob = pii.date_of_birth.as_deref().map(|d| validate::date("dateOfBirth", d)).transpose()?;
    let checked = validate_nik(&nik, dob.or(stored_dob), gender.or(pii.gender), current_year());
    let (passed, reasons) = match &checked {
        Ok(_) => (true, vec!["nik_valid".to_string()]),
        Err(problems) => (false, problems.iter().map(|p| p.code().to_string()).collect()),
    };
    if passed {
        match &pii.nik {
            Some(existing) if *existing != nik => {
                return Err(ApiError::conflict("nik_conflict", "the customer already has a different NIK"));
            }
            Some(_) => {}
            None => {
                pii.nik = Some(nik.clone());
                store_pii(&state, &mut tx, &customer, &pii).await?;
            }
        }
    }
    let recorded = ledger::record_verification(
        &mut tx,
        &actor,
        &customer,
        NewVerification {
            passed,
            reasons,
            details: Details::NikFormat(NikFormatDetails { source: NikSource::NikValidate, ktp_bundle_id: None }),
        },
        policy,
    )
    .await?;
    tx.commit().await?;
    let problems = checked
        .err()
        .unwrap_or_default()
        .iter()
        .map(|p| NikProblemView { code: p.code().to_string(), message: p.message().to_string() })
        .collect();
    Ok((
        StatusCode::CREATED,
        Json(NikChecked {
            verification: VerificationView::from(&recorded.verification),
            problems,
            tier: recorded.tier,
            tier_event: recorded.tier_event.as_ref().map(TierEventView::from),
        }),
    ))
}

async fn store_pii(
    state: &AppState,
    conn: &mut sqlx::AnyConnection,
    customer: &CustomerRow,
    pii: &ledger::Pii,
) -> ApiResult<()> {
    let key = data_key(&state.keys, customer)?;
    let sealed = seal_pii(&key, &customer.id, pii)?;
    let nik_index = pii.nik.as_deref().map(|n| state.keys.blind_index.index("nik", n));
    customers::update_pii(conn, &customer.id, &sealed, nik_index.as_deref(), &now_timestamp()).await?;
    Ok(())
}

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

#[utoipa::path(post, path = "/api/identity/nik/dukcapil", tag = "kyc", request_body = DukcapilVerdict, responses((status = 201, description = "the verdict recorded", body = DukcapilRecorded), crate::error::ErrorResponse))]
pub async fn ingest_dukcapil(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<DukcapilVerdict>,
) -> ApiResult<(StatusCode, Json<DukcapilRecorded>)> {
    let principal = auth.require(Scope::Public)?;
    let photo = body.photo.as_deref().map(|p| image_field("photo", p)).transpose()?;
    let raw = body.raw.as_ref().map(|raw| raw.get().to_string());
    // Unknown and other orgs' customers answer 404 before any image work.
    let known = {
        let mut conn = state.store.reader().acquire().await?;
        load_customer(&mut conn, &principal.org_id, &body.customer_id).await?
    };
    if photo.is_some() {
        crate::ratelimit::check(&state, crate::ratelimit::DUKCAPIL_PHOTO, &principal.org_id).await?;
    }
    // The photo becomes a `dukcapil` face enrollment when it holds one usable face. A photo
    // that is not an image at all is refused; one without a usable face is kept (sealed)
    // with the verdict, and the answer says why no enrollment was made.
    let (photo, face) = match photo {
        None => (None, Err("no_photo".to_string())),
        // An invalid verdict keeps its photo (sealed) as evidence but enrolls nothing.
        Some(photo) if !body.valid => (Some(photo), Err("verdict_invalid".to_string())),
        Some(photo) => match crate::service::faces::face_service(&state) {
            Err(_) => (Some(photo), Err("models_unavailable".to_string())),
            Ok(service) => {
                let copy = ImageInput {
                    bytes: photo.bytes.clone(),
                    media_type: photo.media_type,
                    sha256: photo.sha256.clone(),
                };
                match service.analyze("photo", copy).await {
                    Ok(analyzed) => (Some(photo), Ok(analyzed)),
                    Err(err) if matches!(err.code, "no_face" | "several_faces" | "face_too_small") => {
                        (Some(photo), Err(err.code.to_string()))
                    }
                    Err(err) => return Err(err),
                }
            }
        },
    };
    // With a new dukcapil reference, Kenali matches it itself against the live selfie of the
    // customer's last allowed step-up (read before the write transaction: it decodes a frame).
    let settings = super::org_settings(&state, &principal.org_id).await?;
    let selfie = match (&face, crate::service::faces::face_service(&state)) {
        (Ok(_), Ok(service)) => {
            let key = data_key(&state.keys, &known)?;
            let mut conn = state.store.reader().acquire().await?;
            match last_step_up_selfie(service, &mut conn, &key, &known).await {
                Ok(selfie) => selfie,
                // A stored selfie the model cannot read again leaves the match undone, not the verdict.
                Err(err) if err.status == StatusCode::UNPROCESSABLE_ENTITY => None,
                Err(err) => return Err(err),
            }
        }
        _ => None,
    };
    let policy = settings.tier_policy();
    let actor = Actor::from_principal(principal);

    let mut tx = state.store.begin().await?;
    let customer = super::lock_customer(&state, &mut tx, &principal.org_id, &body.customer_id).await?;
    let mut pii = open_pii(&state.keys, &customer)?;
    let dob = pii.date_of_birth.as_deref().map(|d| validate::date("dateOfBirth", d)).transpose()?;
    let nik = match body.nik.as_deref() {
        Some(nik) => Some(check_nik(nik, dob, pii.gender)?.0),
        None => None,
    };
    if let (Some(nik), Some(existing)) = (&nik, &pii.nik) {
        if nik != existing {
            return Err(ApiError::conflict("nik_conflict", "the verdict's NIK differs from the customer's NIK"));
        }
    }
    let mut recorded_nik = None;
    if let Some(nik) = &nik {
        if pii.nik.is_none() && body.valid {
            pii.nik = Some(nik.clone());
            store_pii(&state, &mut tx, &customer, &pii).await?;
        }
        // Every NIK check is a row of its own.
        recorded_nik = Some(
            ledger::record_verification(
                &mut tx,
                &actor,
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
        &actor,
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
    let row = DukcapilRow {
        id: verdict_id.clone(),
        org_id: principal.org_id.clone(),
        customer_id: customer.id.clone(),
        verification_id: recorded.verification.id.clone(),
        valid: body.valid,
        photo_sha256: photo.as_ref().map(|p| p.sha256.clone()),
        photo_media_type: photo.as_ref().map(|p| p.media_type.to_string()),
        photo_sealed: photo.as_ref().map(|p| data_key.seal(&p.bytes, &format!("dukcapil/photo/{verdict_id}"))),
        raw_sealed: raw.as_ref().map(|raw| data_key.seal(raw.as_bytes(), &format!("dukcapil/raw/{verdict_id}"))),
        created_at: now_timestamp(),
    };
    dukcapil::insert(&mut tx, &row).await?;
    let enrollment = match &face {
        Ok(analyzed) => {
            let enrollment =
                new_enrollment(&principal.org_id, &customer.id, EnrollmentSource::Dukcapil, &data_key, analyzed.into());
            faces::insert_enrollment(&mut tx, &enrollment).await?;
            ledger::audit(
                &mut tx,
                &actor,
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
                match_step_up_selfie(&mut tx, &actor, &customer, enrollment, analyzed, selfie, threshold, policy)
                    .await?,
            )
        }
        _ => None,
    };
    ledger::audit(
        &mut tx,
        &actor,
        "dukcapil.submitted",
        &customer.id,
        json!({"valid": body.valid, "verificationId": recorded.verification.id, "photoSha256": row.photo_sha256}),
    )
    .await?;
    tx.commit().await?;
    let (tier, match_event) = match &face_match {
        Some((_, recorded)) => (recorded.tier, recorded.tier_event.clone()),
        None => (recorded.tier, None),
    };
    let tier_event = match_event.or(recorded.tier_event).or(recorded_nik.and_then(|r| r.tier_event));
    Ok((
        StatusCode::CREATED,
        Json(DukcapilRecorded {
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
        }),
    ))
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
) -> ApiResult<(DukcapilFaceMatch, ledger::Recorded)> {
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
