//! Response shapes (SPEC §1: camelCase, RFC 3339 times, resources wrapped in their name), shared
//! by the handlers and by the workflows whose answers are kept for a replay.

use serde::Serialize;
use serde_json::Value;

use crate::ledger::Pii;
use crate::store::customers::CustomerRow;
use crate::store::ktp::ReviewItemRow;
use crate::store::tier_events::TierEventRow;
use crate::store::verifications::VerificationRow;

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerView {
    pub id: String,
    pub external_ref: Option<String>,
    pub full_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub nik: Option<String>,
    pub date_of_birth: Option<String>,
    #[schema(value_type = Option<String>, example = "female")]
    pub gender: Option<kenali_core::nik::Gender>,
    pub tier: String,
    pub created_at: String,
    pub updated_at: String,
}

impl CustomerView {
    pub fn new(row: &CustomerRow, pii: Pii) -> Self {
        CustomerView {
            id: row.id.clone(),
            external_ref: row.external_ref.clone(),
            full_name: pii.full_name,
            email: pii.email,
            phone: pii.phone,
            nik: pii.nik,
            date_of_birth: pii.date_of_birth,
            gender: pii.gender,
            tier: row.tier.clone(),
            created_at: row.created_at.clone(),
            updated_at: row.updated_at.clone(),
        }
    }
}

/// `{"customer": {...}}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CustomerEnvelope {
    pub customer: CustomerView,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerificationView {
    pub id: String,
    pub customer_id: String,
    pub kind: String,
    pub status: String,
    pub reasons: Vec<String>,
    pub details: Value,
    pub actor: String,
    pub actor_user_id: Option<String>,
    pub created_at: String,
}

impl From<&VerificationRow> for VerificationView {
    fn from(v: &VerificationRow) -> Self {
        VerificationView {
            id: v.id.clone(),
            customer_id: v.customer_id.clone(),
            kind: v.kind.clone(),
            status: v.status.clone(),
            reasons: serde_json::from_str(&v.reasons).unwrap_or_default(),
            details: serde_json::from_str(&v.details).unwrap_or(Value::Null),
            actor: v.actor.clone(),
            actor_user_id: v.actor_user_id.clone(),
            created_at: v.created_at.clone(),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TierEventView {
    pub id: String,
    pub customer_id: String,
    pub from: String,
    pub to: String,
    pub reason: String,
    pub verification_id: Option<String>,
    pub actor: String,
    pub created_at: String,
}

impl From<&TierEventRow> for TierEventView {
    fn from(e: &TierEventRow) -> Self {
        TierEventView {
            id: e.id.clone(),
            customer_id: e.customer_id.clone(),
            from: e.from_tier.clone(),
            to: e.to_tier.clone(),
            reason: e.reason.clone(),
            verification_id: e.verification_id.clone(),
            actor: e.actor.clone(),
            created_at: e.created_at.clone(),
        }
    }
}

/// `{"data": [...], "nextCursor": ...}`.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListView<T> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}

/// One voter's verdict (kenali_core's `Voter`, for liveness and for KTP checks): absent when it
/// could not run.
#[derive(utoipa::ToSchema)]
pub struct VoterSchema {
    pub name: String,
    /// What a failure means to fusion: `quality` (too poor to judge), `attack` (a presentation
    /// attack), `contradiction` (tampering) or `suspicion` (for an analyst to weigh).
    #[schema(example = "attack")]
    pub role: String,
    /// `null` when the voter abstained: the capture gave it nothing to judge (`reason` says
    /// why); fusion counts it as absent.
    pub passed: Option<bool>,
    pub reason: String,
    pub score: Option<f32>,
}

/// `POST /api/identity/document/ktp/capture`'s answer (seed 001). The parts are built by the
/// KTP pipeline and kept (sealed) for replays, so they are described here.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct KtpCaptureAnswer {
    /// `{id, status: verified | pending, score}`
    #[schema(value_type = Object)]
    pub verification: (),
    /// `{id, verdict, assuranceTier, framesStored, ocr, ocrConfidence, reviewItemId}`: `ocr` maps
    /// each field read to its string (`{"nik": "3201…", "fullName": "…", …}`, null when not
    /// read), `ocrConfidence` the same fields to the OCR's confidence, a number from 0 to 1.
    #[schema(value_type = Object)]
    pub ktp_bundle: (),
    /// `{fused, assuranceTier, voters, passed, present}`
    #[schema(value_type = Object)]
    pub anti_spoof: (),
    /// `{fused, voters, passed, present}`
    #[schema(value_type = Object)]
    pub tamper: (),
    /// `{id, fallbackStub, modelId, status}`
    #[schema(value_type = Object)]
    pub face_enrolment: (),
    pub tier: String,
}

/// An item of the analyst's review queue.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReviewItemView {
    pub id: String,
    customer_id: String,
    kind: String,
    subject_id: String,
    verification_id: String,
    reasons: Vec<String>,
    voters: Value,
    status: String,
    decided_by: Option<String>,
    decision_reason: Option<String>,
    decision_verification_id: Option<String>,
    decided_at: Option<String>,
    created_at: String,
}

impl From<&ReviewItemRow> for ReviewItemView {
    fn from(r: &ReviewItemRow) -> Self {
        ReviewItemView {
            id: r.id.clone(),
            customer_id: r.customer_id.clone(),
            kind: r.kind.clone(),
            subject_id: r.subject_id.clone(),
            verification_id: r.verification_id.clone(),
            reasons: serde_json::from_str(&r.reasons).unwrap_or_default(),
            voters: serde_json::from_str(&r.voters).unwrap_or(Value::Null),
            status: r.status.clone(),
            decided_by: r.decided_by.clone(),
            decision_reason: r.decision_reason.clone(),
            decision_verification_id: r.decision_verification_id.clone(),
            decided_at: r.decided_at.clone(),
            created_at: r.created_at.clone(),
        }
    }
}
