//! What an analyst sees of a review item (issue 19): the customer's claims, what the OCR read
//! off the card, every voter's verdict and measure, and the capture's frames, decrypted one at
//! a time on demand. Opening a frame is audited: it is a person looking at a biometric.

use kenali_core::document::thresholds::{single_threshold, SingleThreshold};
use kenali_core::seal::DataKey;
use serde_json::{json, Value};

use super::{Error, Result};
use crate::faces::{open_capture, open_sealed};
use crate::ledger::{self, Actor, Pii};
use crate::state::AppState;
use crate::store::customers;
use crate::store::dukcapil as dukcapil_store;
use crate::store::faces::{self, CaptureSummary, EnrollmentRow, StoredCapture};
use crate::store::ktp::{self as ktp_store, ReviewItemRow};
use crate::store::Page;

/// The customer's enrollments a comparison reads (the newest).
const COMPARED_ENROLLMENTS: i64 = 20;

/// One voter's verdict as the capture recorded it.
#[derive(Debug, Clone, PartialEq)]
pub struct VoterLine {
    /// The check it voted in (`antiSpoof`, `tamper`), empty where the item has one list.
    pub check: String,
    pub name: String,
    /// `quality`, `attack`, `contradiction` or `suspicion`.
    pub role: String,
    /// `None` when it abstained.
    pub passed: Option<bool>,
    /// Its measure, where it has one.
    pub score: Option<f64>,
    /// The one threshold its measure is held to, for a KTP voter judged by a single one (the
    /// others hold several measures to their own bounds, which the reason names).
    pub threshold: Option<SingleThreshold>,
    pub reason: String,
}

/// One field the OCR read off the card.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadField {
    /// The reading's key (`nik`, `fullName`, ...).
    pub name: String,
    pub value: Option<String>,
    pub confidence: Option<f64>,
}

/// Everything the review page shows of an item.
pub struct ReviewEvidence {
    pub item: ReviewItemRow,
    pub external_ref: Option<String>,
    /// The customer's claims; `None` once the customer is erased.
    pub claims: Option<Pii>,
    /// The card's fields, for a KTP capture whose reading is still readable.
    pub reading: Vec<ReadField>,
    /// The KTP bundle's verdict and assurance tier.
    pub bundle: Option<(String, String)>,
    pub voters: Vec<VoterLine>,
    pub captures: Vec<CaptureSummary>,
    /// The card's portrait against the customer's other enrolled faces (a KTP capture whose
    /// portrait was enrolled, while the customer's key exists).
    pub portrait: Option<PortraitComparison>,
}

/// The card's portrait enrollment held against each of the customer's other enrollments by
/// the cosine of their embeddings, with the org's match threshold.
pub struct PortraitComparison {
    pub portrait: EnrollmentRow,
    /// Whether the card gave a usable face (else the portrait is a stub that matches nothing).
    pub has_face: bool,
    pub threshold: f32,
    pub others: Vec<FaceScore>,
}

/// One enrolled face and its similarity to the portrait (`None`: retired, a stub, or made by
/// another model: nothing to compare).
pub struct FaceScore {
    pub enrollment: EnrollmentRow,
    pub score: Option<f32>,
}

/// The voters a review item recorded: `{check: [voter...]}` or one list.
pub fn voter_lines(voters: &Value) -> Vec<VoterLine> {
    let line = |check: &str, v: &Value| VoterLine {
        check: check.to_string(),
        name: v["name"].as_str().unwrap_or_default().to_string(),
        role: v["role"].as_str().unwrap_or_default().to_string(),
        passed: v["passed"].as_bool(),
        score: v["score"].as_f64(),
        threshold: None,
        reason: v["reason"].as_str().unwrap_or_default().to_string(),
    };
    match voters {
        Value::Object(checks) => checks
            .iter()
            .flat_map(|(check, list)| list.as_array().into_iter().flatten().map(move |v| line(check, v)))
            .collect(),
        Value::Array(list) => list.iter().map(|v| line("", v)).collect(),
        _ => Vec::new(),
    }
}

/// A reading's fields in the card's order.
fn read_fields(reading: &Value) -> Vec<ReadField> {
    kenali_core::ktp::FIELD_NAMES
        .iter()
        .map(|name| ReadField {
            name: (*name).to_string(),
            value: reading[*name]["value"].as_str().map(str::to_string),
            confidence: reading[*name]["confidence"].as_f64(),
        })
        .collect()
}

async fn find_item(conn: &mut sqlx::AnyConnection, org_id: &str, id: &str) -> Result<ReviewItemRow> {
    if !kenali_core::id::is_id_of(kenali_core::id::IdKind::ReviewItem, id) {
        return Err(Error::NotFound("review item"));
    }
    ktp_store::find_review_item(conn, org_id, id).await?.ok_or(Error::NotFound("review item"))
}

/// The item with its evidence. An erased customer's item still shows its voters; its claims,
/// reading and frames are gone. Opening the claims is audited (`customer.viewed`).
pub async fn evidence(state: &AppState, actor: &Actor, id: &str) -> Result<ReviewEvidence> {
    let org_id = actor.org_id.as_str();
    let mut conn = state.store.reader().acquire().await?;
    let item = find_item(&mut conn, org_id, id).await?;
    let customer = customers::find(&mut conn, org_id, &item.customer_id).await?.ok_or(Error::NotFound("customer"))?;
    let key = match ledger::data_key(&state.keys, &customer) {
        Ok(key) => Some(key),
        Err(Error::CustomerErased(_)) => None,
        Err(e) => return Err(e),
    };
    let claims = match &key {
        Some(_) => Some(ledger::open_pii(&state.keys, &customer)?),
        None => None,
    };
    let mut reading = Vec::new();
    let mut bundle = None;
    let mut portrait = None;
    let is_ktp = item.kind == kenali_core::verification::ReviewSubject::KtpCapture.as_str();
    if is_ktp {
        if let Some(found) = ktp_store::find_bundle_reading(&mut conn, org_id, &item.subject_id).await? {
            if let (Some(key), Some(portrait_id)) = (&key, &found.face_enrollment_id) {
                portrait = compare_portrait(&mut conn, key, org_id, &customer.id, portrait_id).await?;
            }
            if let (Some(key), false) = (&key, found.reading_sealed.is_empty()) {
                let bytes = key
                    .open(&found.reading_sealed, &format!("ktp/reading/{}", item.subject_id))
                    .map_err(|e| Error::internal(format!("opening the reading of {}: {e}", item.subject_id)))?;
                let value: Value = serde_json::from_slice(&bytes).map_err(Error::internal)?;
                reading = read_fields(&value);
            }
            bundle = Some((found.verdict, found.assurance_tier));
        }
    }
    let captures = match key {
        Some(_) => faces::captures_of_verification(&mut conn, org_id, &item.verification_id).await?,
        None => Vec::new(),
    };
    let mut voters = voter_lines(&serde_json::from_str(&item.voters).unwrap_or(Value::Null));
    if is_ktp {
        for voter in &mut voters {
            voter.threshold = single_threshold(&voter.name);
        }
    }
    drop(conn);
    if claims.is_some() {
        let details = json!({"reviewItemId": item.id});
        super::customers::audit_viewed(state, actor, &item.customer_id, details).await?;
    }
    Ok(ReviewEvidence {
        external_ref: customer.external_ref.clone(),
        claims,
        reading,
        bundle,
        voters,
        captures,
        portrait,
        item,
    })
}

async fn compare_portrait(
    conn: &mut sqlx::AnyConnection,
    key: &DataKey,
    org_id: &str,
    customer_id: &str,
    portrait_id: &str,
) -> Result<Option<PortraitComparison>> {
    let Some(portrait) = faces::find_enrollment(conn, org_id, portrait_id).await? else { return Ok(None) };
    let portrait_embedding = crate::faces::open_embedding(key, &portrait)?;
    let threshold = crate::store::org_settings::get(conn, org_id).await?.0.match_threshold;
    let page = Page { limit: COMPARED_ENROLLMENTS, cursor: None };
    let (enrollments, _) = faces::list_enrollments(conn, org_id, Some(customer_id), None, &page).await?;
    let mut others = Vec::new();
    for enrollment in enrollments.into_iter().filter(|e| e.id != portrait.id) {
        let embedding = crate::faces::open_embedding(key, &enrollment)?;
        // Embeddings of different models are never compared (SPEC §7).
        let score = match (&portrait_embedding, embedding) {
            (Some(a), Some(b)) if enrollment.model_id == portrait.model_id => Some(kenali_vision::embed::cosine(a, &b)),
            _ => None,
        };
        others.push(FaceScore { enrollment, score });
    }
    Ok(Some(PortraitComparison { has_face: portrait_embedding.is_some(), portrait, threshold, others }))
}

/// One of the item's frames, decrypted, with its media type; the viewing is audited.
pub async fn capture_image(
    state: &AppState,
    actor: &Actor,
    item_id: &str,
    capture_id: &str,
) -> Result<(&'static str, Vec<u8>)> {
    let org_id = actor.org_id.as_str();
    let (item, customer, capture) = {
        let mut conn = state.store.reader().acquire().await?;
        let item = find_item(&mut conn, org_id, item_id).await?;
        let customer =
            customers::find(&mut conn, org_id, &item.customer_id).await?.ok_or(Error::NotFound("customer"))?;
        let capture = faces::find_capture_of_verification(&mut conn, org_id, &item.verification_id, capture_id)
            .await?
            .ok_or(Error::NotFound("capture"))?;
        (item, customer, capture)
    };
    let key = ledger::data_key(&state.keys, &customer)?;
    let (capture_id, media_type, bytes) = open_capture(&state.blobs, &key, capture).await?;
    let details = json!({"reviewItemId": item.id, "customerId": item.customer_id});
    audit_view(state, actor, &capture_id, details).await?;
    Ok((media_type, bytes))
}

/// The image an enrollment of the customer was made from (a selfie, a Dukcapil photo, a KTP
/// frame, a step-up frame), decrypted; the viewing is audited. 404 when no stored image is
/// left (retired by erasure, swept by retention, or never kept, as a partner's upload).
pub async fn enrollment_image(
    state: &AppState,
    actor: &Actor,
    customer_id: &str,
    enrollment_id: &str,
) -> Result<(&'static str, Vec<u8>)> {
    let org_id = actor.org_id.as_str();
    let (customer, capture, context) = {
        let mut conn = state.store.reader().acquire().await?;
        let customer = customers::find(&mut conn, org_id, customer_id).await?.ok_or(Error::NotFound("customer"))?;
        let enrollment = faces::find_enrollment(&mut conn, org_id, enrollment_id)
            .await?
            .filter(|e| e.customer_id == customer.id)
            .ok_or(Error::NotFound("enrollment"))?;
        let (capture, context) =
            source_image(&mut conn, &enrollment).await?.ok_or(Error::NotFound("enrollment image"))?;
        (customer, capture, context)
    };
    let key = ledger::data_key(&state.keys, &customer)?;
    let (capture_id, media_type) = (capture.id.clone(), capture.served_media_type());
    let bytes = open_sealed(&state.blobs, &key, capture.image, &context).await?;
    let details = json!({"enrollmentId": enrollment_id, "customerId": customer.id});
    audit_view(state, actor, &capture_id, details).await?;
    Ok((media_type, bytes))
}

/// The stored image `enrollment` was made from, with the context it was sealed under: a
/// selfie or a frame is a capture; a Dukcapil photo is kept with its verdict. `None` when no
/// stored image is left or none was kept.
async fn source_image(
    conn: &mut sqlx::AnyConnection,
    enrollment: &EnrollmentRow,
) -> Result<Option<(StoredCapture, String)>> {
    let (org_id, customer_id) = (enrollment.org_id.as_str(), enrollment.customer_id.as_str());
    let Some(sha256) = enrollment.image_sha256.as_deref() else { return Ok(None) };
    if let Some(capture) = faces::find_capture(conn, org_id, customer_id, None, sha256).await? {
        let context = format!("capture/{}", capture.id);
        return Ok(Some((capture, context)));
    }
    Ok(dukcapil_store::find_photo(conn, org_id, customer_id, sha256).await?)
}

/// The card as the pipeline read it: the frame the fields were read from, the card located
/// and rectified to ID-1 proportions again (the server keeps frames, not the rectified card),
/// as a JPEG. Audited like a frame.
pub async fn rectified_card(state: &AppState, actor: &Actor, item_id: &str) -> Result<Vec<u8>> {
    let org_id = actor.org_id.as_str();
    let no_card = || Error::NotFound("rectified card");
    let (item, customer, (capture, context)) = {
        let mut conn = state.store.reader().acquire().await?;
        let item = find_item(&mut conn, org_id, item_id).await?;
        if item.kind != kenali_core::verification::ReviewSubject::KtpCapture.as_str() {
            return Err(no_card());
        }
        let customer =
            customers::find(&mut conn, org_id, &item.customer_id).await?.ok_or(Error::NotFound("customer"))?;
        let bundle = ktp_store::find_bundle_reading(&mut conn, org_id, &item.subject_id).await?.ok_or_else(no_card)?;
        // The portrait's enrollment names the frame the card was read from.
        let portrait_id = bundle.face_enrollment_id.ok_or_else(no_card)?;
        let portrait = faces::find_enrollment(&mut conn, org_id, &portrait_id).await?.ok_or_else(no_card)?;
        let source = source_image(&mut conn, &portrait).await?.ok_or_else(no_card)?;
        (item, customer, source)
    };
    let key = ledger::data_key(&state.keys, &customer)?;
    let capture_id = capture.id.clone();
    let bytes = open_sealed(&state.blobs, &key, capture.image, &context).await?;
    let jpeg = tokio::task::spawn_blocking(move || {
        let frame = kenali_vision::decode_image(&bytes, kenali_vision::DecodeLimits::default()).ok()?;
        let quad = kenali_vision::card::locate_card(&frame)?;
        let card = kenali_vision::card::rectify(&frame, &quad);
        kenali_vision::decode::encode_jpeg(&card, 88).ok()
    })
    .await
    .map_err(Error::internal)?
    .ok_or_else(no_card)?;
    let details = json!({"reviewItemId": item.id, "customerId": item.customer_id, "rectified": true});
    audit_view(state, actor, &capture_id, details).await?;
    Ok(jpeg)
}

/// A person looked at a biometric image: `capture.viewed`, with what led them to it.
async fn audit_view(state: &AppState, actor: &Actor, capture_id: &str, details: Value) -> Result<()> {
    let mut tx = state.store.begin().await?;
    ledger::audit(&mut tx, actor, "capture.viewed", capture_id, details).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn voters_are_read_from_either_shape() {
        let grouped = json!({"antiSpoof": [{"name": "print_colour", "role": "attack", "passed": false,
            "reason": "one tint", "score": 0.02}], "tamper": [{"name": "nik_checksum", "role": "contradiction",
            "passed": null, "reason": "abstained"}]});
        let lines = voter_lines(&grouped);
        assert_eq!(lines.len(), 2);
        assert_eq!((lines[0].check.as_str(), lines[0].passed, lines[0].score), ("antiSpoof", Some(false), Some(0.02)));
        assert_eq!((lines[1].check.as_str(), lines[1].passed, lines[1].score), ("tamper", None, None));
        let flat =
            voter_lines(&json!([{"name": "flash_reflectance", "role": "attack", "passed": true, "reason": "ok"}]));
        assert_eq!(flat[0].check, "");
        assert!(voter_lines(&Value::Null).is_empty());
    }

    #[test]
    fn a_reading_keeps_its_order_and_unread_fields() {
        let reading = json!({"nik": {"value": "3171", "confidence": 0.99}, "fullName": null});
        let fields = read_fields(&reading);
        assert_eq!(fields.len(), 18);
        assert_eq!(fields[0], ReadField { name: "province".into(), value: None, confidence: None });
        assert_eq!(fields[2], ReadField { name: "nik".into(), value: Some("3171".into()), confidence: Some(0.99) });
        assert_eq!(fields[3].value, None);
    }
}
