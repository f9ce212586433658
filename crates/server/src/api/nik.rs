//! `POST /api/identity/nik/validate` (a NIK check recorded against a customer, passed or
//! failed) and `POST /api/identity/nik/dukcapil` (a Dukcapil verdict the fintech obtained).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use base64::Engine;
use kenali_core::nik::validate_nik;
use kenali_core::tier::kind;
use kenali_core::time_fmt::now_timestamp;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::customers::{check_nik, current_year};
use super::views::{TierEventView, VerificationView};
use super::{load_customer, tier_policy, validate};
use crate::auth::Scope;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, Auth};
use crate::ledger::{self, data_key, open_pii, seal_pii, Actor, NewVerification};
use crate::state::AppState;
use crate::store::customers::{self, CustomerRow};
use crate::store::dukcapil::{self, DukcapilRow};

/// Largest Dukcapil photo accepted, decoded.
pub const MAX_PHOTO_BYTES: usize = 5 * 1024 * 1024;

#[derive(Debug, Deserialize)]
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
pub async fn validate_for_customer(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<ValidateNik>,
) -> ApiResult<(StatusCode, Json<Value>)> {
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
        NewVerification { kind: kind::NIK_FORMAT, passed, reasons, details: json!({"source": "nik_validate"}) },
        policy,
    )
    .await?;
    tx.commit().await?;
    let problems: Vec<Value> =
        checked.err().unwrap_or_default().iter().map(|p| json!({"code": p.code(), "message": p.message()})).collect();
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "verification": VerificationView::from(&recorded.verification),
            "problems": problems,
            "tier": recorded.tier,
            "tierEvent": recorded.tier_event.as_ref().map(TierEventView::from),
        })),
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

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DukcapilVerdict {
    customer_id: String,
    valid: bool,
    nik: Option<String>,
    /// Base64 JPEG or PNG of the Dukcapil photo.
    photo: Option<String>,
    /// Dukcapil's own response, kept (sealed) exactly as given, byte for byte.
    raw: Option<Box<serde_json::value::RawValue>>,
    #[allow(dead_code)]
    external_id: Option<String>,
}

/// The decoded photo and its media type, or a 400/422 naming what is wrong.
fn decode_photo(photo: &str) -> Result<(Vec<u8>, &'static str), ApiError> {
    let encoded = photo.trim();
    let encoded = encoded.split_once(";base64,").map(|(_, data)| data).unwrap_or(encoded);
    if encoded.len() > MAX_PHOTO_BYTES / 3 * 4 + 4 {
        return Err(ApiError::invalid_field("photo", format!("must be at most {MAX_PHOTO_BYTES} bytes decoded")));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| ApiError::invalid_field("photo", "is not valid base64"))?;
    let media_type = if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        "image/jpeg"
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        "image/png"
    } else {
        return Err(ApiError::unprocessable("unsupported_image", "photo: must be a JPEG or PNG image"));
    };
    Ok((bytes, media_type))
}

pub async fn ingest_dukcapil(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<DukcapilVerdict>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let principal = auth.require(Scope::Public)?;
    let photo = body.photo.as_deref().map(decode_photo).transpose()?;
    let raw = body.raw.as_ref().map(|raw| raw.get().to_string());
    let policy = tier_policy(&state, &principal.org_id).await?;
    let actor = Actor::from_principal(principal);

    let mut tx = state.store.begin().await?;
    let customer = load_customer(&mut tx, &principal.org_id, &body.customer_id).await?;
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
                    kind: kind::NIK_FORMAT,
                    passed: true,
                    reasons: vec!["nik_valid".into()],
                    details: json!({"source": "dukcapil"}),
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
            kind: kind::DUKCAPIL_VERDICT,
            passed: body.valid,
            reasons: vec![if body.valid { "dukcapil_valid" } else { "dukcapil_invalid" }.into()],
            details: json!({"photoProvided": photo.is_some(), "rawProvided": raw.is_some()}),
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
        photo_sha256: photo.as_ref().map(|(bytes, _)| hex::encode(Sha256::digest(bytes))),
        photo_media_type: photo.as_ref().map(|(_, media)| (*media).to_string()),
        photo_sealed: photo.as_ref().map(|(bytes, _)| data_key.seal(bytes, &format!("dukcapil/photo/{verdict_id}"))),
        raw_sealed: raw.as_ref().map(|raw| data_key.seal(raw.as_bytes(), &format!("dukcapil/raw/{verdict_id}"))),
        created_at: now_timestamp(),
    };
    dukcapil::insert(&mut tx, &row).await?;
    ledger::audit(
        &mut tx,
        &actor,
        "dukcapil.submitted",
        &customer.id,
        json!({"valid": body.valid, "verificationId": recorded.verification.id, "photoSha256": row.photo_sha256}),
    )
    .await?;
    tx.commit().await?;
    let tier_event = recorded.tier_event.or(recorded_nik.and_then(|r| r.tier_event));
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "verification": VerificationView::from(&recorded.verification),
            "tier": recorded.tier,
            "tierEvent": tier_event.as_ref().map(TierEventView::from),
            "photo": row.photo_sha256.as_ref().map(|sha| json!({"sha256": sha, "mediaType": row.photo_media_type, "sealed": true})),
        })),
    ))
}
