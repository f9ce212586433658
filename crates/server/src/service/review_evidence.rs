//! What an analyst sees of a review item (issue 19): the customer's claims, what the OCR read
//! off the card, every voter's verdict and measure, and the capture's frames, decrypted one at
//! a time on demand. Opening a frame is audited: it is a person looking at a biometric.

use serde_json::{json, Value};

use super::{Error, Result};
use crate::ledger::{self, Actor, Pii};
use crate::state::AppState;
use crate::store::customers;
use crate::store::faces::{self, CaptureSummary, SealedAt};
use crate::store::ktp::{self as ktp_store, ReviewItemRow};

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
    /// Its measure, where it has one; the reason states the threshold it was held to.
    pub score: Option<f64>,
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
}

/// The voters a review item recorded: `{check: [voter...]}` or one list.
pub fn voter_lines(voters: &Value) -> Vec<VoterLine> {
    let line = |check: &str, v: &Value| VoterLine {
        check: check.to_string(),
        name: v["name"].as_str().unwrap_or_default().to_string(),
        role: v["role"].as_str().unwrap_or_default().to_string(),
        passed: v["passed"].as_bool(),
        score: v["score"].as_f64(),
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
/// reading and frames are gone.
pub async fn evidence(state: &AppState, org_id: &str, id: &str) -> Result<ReviewEvidence> {
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
    if item.kind == kenali_core::verification::ReviewSubject::KtpCapture.as_str() {
        if let Some(found) = ktp_store::find_bundle_reading(&mut conn, org_id, &item.subject_id).await? {
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
    let voters = voter_lines(&serde_json::from_str(&item.voters).unwrap_or(Value::Null));
    Ok(ReviewEvidence { external_ref: customer.external_ref.clone(), claims, reading, bundle, voters, captures, item })
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
    let sealed = match capture.image {
        SealedAt::Object(object) => state.blobs.get(&object).await?,
        SealedAt::Row(bytes) => bytes,
    };
    let bytes = key
        .open(&sealed, &format!("capture/{}", capture.id))
        .map_err(|e| Error::internal(format!("opening capture {}: {e}", capture.id)))?;
    let mut tx = state.store.begin().await?;
    let details = json!({"reviewItemId": item.id, "customerId": item.customer_id});
    ledger::audit(&mut tx, actor, "capture.viewed", &capture.id, details).await?;
    tx.commit().await?;
    let media_type = if capture.media_type == "image/png" { "image/png" } else { "image/jpeg" };
    Ok((media_type, bytes))
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
