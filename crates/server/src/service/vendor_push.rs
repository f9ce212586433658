//! The receiver of a vendor's KYC push (seed 004): `POST /api/integrations/{id}/kyc` with a
//! bearer token of the integration's OAuth client and an encrypted body. Kenali never trusts
//! the vendor's verdict: it records the vendor's claims, checks what it can itself (the NIK's
//! rules and its agreement with the pushed birth date and gender, its own face match of the
//! selfie with the ID photo, its own anti-spoof on the selfie, the customer's NIK on record)
//! and sends disagreements to an analyst. The answer is a confirmation encrypted like the push.

mod faces;
mod record;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use kenali_core::time_fmt::{format_timestamp, parse_timestamp};
use kenali_core::vendor::{
    self, envelope_iv, judge, open_envelope, seal_envelope, Direction, Envelope, FieldMapping, NikRefusal, OwnChecks,
    VendorKyc, VendorVerdict, IV_LEN, KEY_LEN,
};
use rand::RngCore;
use serde::Serialize;
use serde_json::{json, Value};
use zeroize::Zeroizing;

use self::faces::{check_faces, PushedImages};
use self::record::Recording;
use super::customers::{new_customer_row, org_settings};
use super::integrations::{live_keys, open_key};
use super::{validate, Error, Result};
use crate::auth::{Credential, Principal};
use crate::ledger::{open_pii, Actor, Pii};
use crate::state::AppState;
use crate::store::customers::{self, CustomerFilter, CustomerRow};
use crate::store::integrations::{self as store, IntegrationRow, PushRow};
use crate::store::Page;

/// A push stamped this far in the future is refused (the clocks of two servers differ by less).
pub const FUTURE_SKEW_SECS: i64 = 60;

/// How a push was answered; the body is always a sealed confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    /// Recorded now.
    Accepted,
    /// The same submission again: the first confirmation.
    Repeated,
    /// Refused, nothing written: the payload cannot be taken as it is.
    Rejected,
    /// Refused, nothing written: a replayed body or a reused submission id.
    Replayed,
}

pub struct PushAnswer {
    pub outcome: PushOutcome,
    pub envelope: Envelope,
}

/// One reason in a confirmation: a stable code and words for the vendor's engineers.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct Reason {
    code: String,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<Value>,
}

impl Reason {
    fn new(code: &str, message: impl Into<String>) -> Reason {
        Reason { code: code.to_string(), message: message.into(), details: None }
    }
}

/// The confirmation's plaintext (seed 004: "a confirmation JSON indicating success or failure").
/// It names ids and reason codes, never a field's value.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct Confirmation {
    /// `accepted` (recorded) or `rejected` (nothing written).
    status: &'static str,
    submission_id: Option<String>,
    customer_id: Option<String>,
    verification_id: Option<String>,
    /// Kenali's verdict: `passed`, or `requires_review` when it disagrees with the vendor.
    verdict: Option<VendorVerdict>,
    tier: Option<String>,
    reasons: Vec<Reason>,
    received_at: String,
}

/// The sealing side of one push: the key it came under, which answers it.
struct Answerer<'a> {
    key: Zeroizing<[u8; KEY_LEN]>,
    key_id: String,
    integration_id: &'a str,
    received_at: String,
}

impl Answerer<'_> {
    fn seal(&self, plaintext: &[u8]) -> Envelope {
        let mut iv = [0u8; IV_LEN];
        rand::rngs::OsRng.fill_bytes(&mut iv);
        seal_envelope(&self.key, &self.key_id, iv, plaintext, Direction::Confirmation, self.integration_id)
    }

    fn answer(&self, outcome: PushOutcome, confirmation: &Confirmation) -> Result<PushAnswer> {
        let plaintext = serde_json::to_vec(confirmation).map_err(Error::internal)?;
        Ok(PushAnswer { outcome, envelope: self.seal(&plaintext) })
    }

    fn reject(&self, outcome: PushOutcome, submission_id: Option<&str>, reasons: Vec<Reason>) -> Result<PushAnswer> {
        self.answer(
            outcome,
            &Confirmation {
                status: "rejected",
                submission_id: submission_id.map(str::to_string),
                customer_id: None,
                verification_id: None,
                verdict: None,
                tier: None,
                reasons,
                received_at: self.received_at.clone(),
            },
        )
    }
}

/// The integration a push is addressed to, when `principal` may push to it.
async fn integration_for(state: &AppState, principal: &Principal, id: &str) -> Result<IntegrationRow> {
    let integration = {
        let mut conn = state.store.reader().acquire().await?;
        super::integrations::find(&mut conn, &principal.org_id, id).await?
    };
    if principal.credential != Credential::AccessToken || principal.key_id != integration.oauth_client_id {
        return Err(Error::Forbidden {
            code: "wrong_client",
            message: "pushes to this integration need an access token of its own OAuth client".into(),
        });
    }
    if !integration.enabled {
        return Err(Error::Forbidden { code: "integration_disabled", message: "this integration is disabled".into() });
    }
    Ok(integration)
}

/// Why a push was not recorded: an API error before (or beside) the envelope, or a refusal the
/// vendor reads in a sealed confirmation.
enum Refused {
    Api(Error),
    Sealed { outcome: PushOutcome, submission_id: Option<String>, reasons: Vec<Reason> },
}

impl From<Error> for Refused {
    fn from(e: Error) -> Self {
        Refused::Api(e)
    }
}

impl Refused {
    /// A refusal of the payload (nothing written), sealed.
    fn payload(submission_id: Option<&str>, reason: Reason) -> Refused {
        Refused::Sealed {
            outcome: PushOutcome::Rejected,
            submission_id: submission_id.map(str::to_string),
            reasons: vec![reason],
        }
    }

    /// A workflow error about the payload's content (a bad image, an erased customer), sealed;
    /// anything else stays an API error.
    fn content(submission_id: &str, e: Error) -> Refused {
        match e {
            Error::Image { .. } | Error::InvalidField { .. } | Error::CustomerErased(_) => {
                Refused::payload(Some(submission_id), Reason::new(e.code(), e.to_string()))
            }
            e => Refused::Api(e),
        }
    }
}

/// Takes one push. Refusals before the body is decrypted (wrong client, unknown key, a body
/// that does not decrypt) are plain API errors; every answer after is a sealed confirmation.
pub async fn receive(
    state: &AppState,
    principal: &Principal,
    integration_id: &str,
    envelope: Envelope,
) -> Result<PushAnswer> {
    let integration = integration_for(state, principal, integration_id).await?;
    let now = state.clock.now();
    let received_at = format_timestamp(now);
    let key_row = {
        let mut conn = state.store.reader().acquire().await?;
        live_keys(&mut conn, &integration.id, &received_at).await?.into_iter().find(|k| k.id == envelope.key_id)
    };
    let key_row = key_row.ok_or_else(|| Error::invalid_field("keyId", "is not a live key of this integration"))?;
    let key = open_key(state, &key_row)?;
    let iv = envelope_iv(&envelope).map_err(|e| Error::invalid_field("iv", e.to_string()))?;
    let plaintext = open_envelope(&key, &envelope, Direction::Push, &integration.id).map_err(|e| match e {
        vendor::EnvelopeError::Decrypt => Error::InvalidSignature(e.to_string()),
        vendor::EnvelopeError::Encoding(field) => Error::invalid_field(field, e.to_string()),
        _ => Error::invalid_field("envelope", e.to_string()),
    })?;
    let answerer = Answerer { key, key_id: key_row.id.clone(), integration_id: &integration.id, received_at };
    let push = Push { integration: &integration, key_id: &key_row.id, iv: STANDARD.encode(iv), plaintext, now };
    match take(state, principal, &answerer, push).await {
        Ok(answer) => Ok(answer),
        Err(Refused::Api(e)) => Err(e),
        Err(Refused::Sealed { outcome, submission_id, reasons }) => {
            answerer.reject(outcome, submission_id.as_deref(), reasons)
        }
    }
}

/// A push whose envelope opened.
struct Push<'a> {
    integration: &'a IntegrationRow,
    key_id: &'a str,
    iv: String,
    plaintext: Vec<u8>,
    now: time::OffsetDateTime,
}

/// Reads, checks, judges and records a push whose envelope opened.
async fn take(
    state: &AppState,
    principal: &Principal,
    answerer: &Answerer<'_>,
    push: Push<'_>,
) -> std::result::Result<PushAnswer, Refused> {
    let integration = push.integration;
    {
        let mut conn = state.store.reader().acquire().await.map_err(Error::from)?;
        if store::iv_seen(&mut conn, push.key_id, &push.iv).await.map_err(Error::from)? {
            return Err(Refused::Sealed {
                outcome: PushOutcome::Replayed,
                submission_id: None,
                reasons: vec![Reason::new("replayed_iv", "this IV was used before under this key: a replayed body")],
            });
        }
    }
    let payload: Value = serde_json::from_slice(&push.plaintext).map_err(|e| {
        Refused::payload(None, Reason::new("payload_not_json", format!("the decrypted body is not JSON: {e}")))
    })?;
    let mapping: FieldMapping = serde_json::from_str(&integration.mapping).map_err(Error::internal)?;
    let kyc = mapping.apply(&payload).map_err(|problems| {
        let mut reason = Reason::new("mapping_failed", "the payload does not fit the integration's field mapping");
        reason.details = Some(json!(problems));
        Refused::payload(None, reason)
    })?;
    let submission = kyc.submission_id.as_str();
    // A retry of a push taken before gets its confirmation, however late it comes: the payload
    // was judged once and is not judged again.
    let payload_mac = state.keys.master.mac_key("vendor-push-payload").tag(&push.plaintext);
    let earlier = {
        let mut conn = state.store.reader().acquire().await.map_err(Error::from)?;
        store::find_push(&mut conn, &integration.id, submission).await.map_err(Error::from)?
    };
    if let Some(earlier) = earlier {
        return repeat(state, answerer, &push, &kyc, &earlier, &payload_mac).await;
    }
    let settings = org_settings(state, &integration.org_id).await?;
    if let Some(reason) = stale(&kyc, push.now, settings.vendor_push_max_age_secs) {
        return Err(Refused::payload(Some(submission), reason));
    }

    let nik = kyc.fields.get("nik").cloned().unwrap_or_default();
    let (nik_info, dob_differs, gender_differs) = vendor::check_nik(&kyc, crate::service::nik::current_year())
        .map_err(|refusal| Refused::payload(Some(submission), nik_reason(&refusal)))?;
    let external_ref = kyc
        .external_ref
        .as_deref()
        .map(|r| validate::reference("externalRef", r))
        .transpose()
        .map_err(|e| Refused::content(submission, e))?;
    let images = PushedImages::decode(&kyc).map_err(|e| Refused::content(submission, e))?;
    let found = find_customer(state, &integration.org_id, external_ref.as_deref(), &nik)
        .await
        .map_err(|e| Refused::content(submission, e))?;
    let (customer, new_pii) = match found {
        Some(customer) => (customer, None),
        None => {
            let name = kyc.fields.get("fullName").ok_or_else(|| {
                Refused::payload(
                    Some(submission),
                    Reason::new("full_name_missing", "a push for a new customer must carry the full name"),
                )
            })?;
            let pii = Pii {
                full_name: validate::full_name(name).map_err(|e| Refused::content(submission, e))?,
                nik: Some(nik.clone()),
                date_of_birth: Some(nik_info.date_of_birth.to_string()),
                gender: Some(nik_info.gender),
                ..Pii::default()
            };
            (new_customer_row(state, &integration.org_id, external_ref.clone(), &pii)?, Some(pii))
        }
    };
    let on_record = match &new_pii {
        Some(pii) => pii.clone(),
        None => open_pii(&state.keys, &customer)?,
    };
    let faces =
        check_faces(state, &images, settings.match_threshold).await.map_err(|e| Refused::content(submission, e))?;
    let checks = OwnChecks {
        nik_date_of_birth_differs: dob_differs,
        nik_gender_differs: gender_differs,
        face_match: faces.face_match.as_ref().map(|m| m.passed),
        selfie_live: faces.selfie_live.as_ref().map(|l| l.passed),
        customer_holds_other_nik: on_record.nik.as_ref().is_some_and(|held| *held != nik),
        vendor_mismatches: kyc.comparisons.iter().filter(|c| !c.matched).map(|c| c.field.clone()).collect(),
    };
    let (verdict, reasons) = judge(&checks);
    let recording = Recording {
        integration,
        kyc: &kyc,
        key_id: push.key_id,
        iv: &push.iv,
        payload_mac: &payload_mac,
        faces,
        verdict,
        reasons,
        nik,
        new_customer: new_pii.is_some(),
        customer,
        on_record,
        images,
        received_at: &answerer.received_at,
        policy: settings.tier_policy(),
    };
    let confirmation = recording.write(state, &Actor::from_principal(principal)).await?;
    Ok(answerer.answer(PushOutcome::Accepted, &confirmation)?)
}

/// A reason to refuse a push by its timestamp: older than the org's window, or from the future.
fn stale(kyc: &VendorKyc, now: time::OffsetDateTime, max_age_secs: u32) -> Option<Reason> {
    let text = kyc.submitted_at.as_deref()?;
    let Some(at) = parse_timestamp(text) else {
        return Some(Reason::new("invalid_timestamp", "the push's timestamp is not RFC 3339"));
    };
    let age = (now - at).whole_seconds();
    if age > i64::from(max_age_secs) {
        return Some(Reason::new(
            "push_too_old",
            format!("the push is {age} s old; this organization takes pushes up to {max_age_secs} s old"),
        ));
    }
    if age < -FUTURE_SKEW_SECS {
        return Some(Reason::new("push_from_the_future", format!("the push is stamped {} s ahead", -age)));
    }
    None
}

fn nik_reason(refusal: &NikRefusal) -> Reason {
    match refusal {
        NikRefusal::Nik(problems) => {
            let mut reason =
                Reason::new("invalid_nik", problems.iter().map(|p| p.message()).collect::<Vec<_>>().join("; "));
            reason.details = Some(json!(problems.iter().map(|p| p.code()).collect::<Vec<_>>()));
            reason
        }
        NikRefusal::Claim { field, value_hint } => {
            Reason::new("invalid_field", format!("document.{field} must be written {value_hint}"))
        }
    }
}

/// The same submission id again: its first confirmation when the payload is the same, a
/// refusal when it is another payload.
async fn repeat(
    state: &AppState,
    answerer: &Answerer<'_>,
    push: &Push<'_>,
    kyc: &VendorKyc,
    earlier: &PushRow,
    payload_mac: &str,
) -> std::result::Result<PushAnswer, Refused> {
    let replayed = |code: &str, message: &str| Refused::Sealed {
        outcome: PushOutcome::Replayed,
        submission_id: Some(kyc.submission_id.clone()),
        reasons: vec![Reason::new(code, message)],
    };
    if earlier.payload_mac != payload_mac {
        return Err(replayed(
            "submission_id_reused",
            "this submission id was pushed before with another payload; a new submission needs a new id",
        ));
    }
    // The IV is spent like any other: this envelope cannot be replayed either.
    let mut conn = state.store.write().await.map_err(Error::from)?;
    if !store::record_iv(&mut conn, push.key_id, &push.iv, &answerer.received_at).await.map_err(Error::from)? {
        return Err(replayed("replayed_iv", "this IV was used before under this key: a replayed body"));
    }
    Ok(PushAnswer { outcome: PushOutcome::Repeated, envelope: answerer.seal(earlier.confirmation.as_bytes()) })
}

/// The customer a push is about: by the vendor's user id (`externalRef`), else by the NIK's
/// blind index; `None` for a new one. An erased customer is refused.
async fn find_customer(
    state: &AppState,
    org_id: &str,
    external_ref: Option<&str>,
    nik: &str,
) -> Result<Option<CustomerRow>> {
    let mut conn = state.store.reader().acquire().await?;
    if let Some(external_ref) = external_ref {
        if let Some(customer) = customers::find_by_external_ref(&mut conn, org_id, external_ref).await? {
            if customer.erased_at.is_some() {
                return Err(Error::CustomerErased("the customer with this externalRef was erased"));
            }
            return Ok(Some(customer));
        }
    }
    let filter = CustomerFilter { nik_index: Some(state.keys.blind_index.index("nik", nik)), ..Default::default() };
    let (found, _) = customers::list(&mut conn, org_id, &filter, &Page { limit: 1, cursor: None }).await?;
    Ok(found.into_iter().next())
}
