//! What each kind of verification row records in its `details`, defined once: the server
//! writes these structs and the tier fold reads them back, so the ladder's inputs are checked
//! by the compiler rather than by string keys that could drift.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::document::{AntiSpoof, AssuranceTier, Tamper};
use crate::face::RiskLevel;
use crate::liveness::Fused;
use crate::tier::{EnrollmentSource, Evidence, Tier};

/// Verification kinds as stored in the ledger's `kind` column.
pub mod kind {
    pub const NIK_FORMAT: &str = "nik_format";
    pub const KTP_CAPTURE: &str = "ktp_capture";
    pub const DUKCAPIL_VERDICT: &str = "dukcapil_verdict";
    pub const FACE_LIVENESS: &str = "face_liveness";
    pub const FACE_MATCH: &str = "face_match";
    pub const REVIEW_DECISION: &str = "review_decision";
    pub const TIER_OVERRIDE: &str = "tier_override";
    pub const VENDOR_KYC: &str = "vendor_kyc";
}

/// Where a NIK check's NIK came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NikSource {
    CustomerCreate,
    NikValidate,
    Dukcapil,
    KtpOcr,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NikFormatDetails {
    pub source: NikSource,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ktp_bundle_id: Option<String>,
}

/// `ktpBundle.verdict` (seed 001/002).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KtpVerdict {
    Passed,
    RequiresReview,
    Failed,
}

impl KtpVerdict {
    pub const fn as_str(self) -> &'static str {
        match self {
            KtpVerdict::Passed => "passed",
            KtpVerdict::RequiresReview => "requires_review",
            KtpVerdict::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KtpCaptureDetails {
    pub ktp_bundle_id: String,
    pub assurance_tier: AssuranceTier,
    pub verdict: KtpVerdict,
    /// Absent when no card was found to judge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anti_spoof: Option<AntiSpoof>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tamper: Option<Tamper>,
    pub score: usize,
    pub challenge_id: String,
    #[serde(default)]
    pub frame_sha256: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_frame: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DukcapilDetails {
    pub photo_provided: bool,
    pub raw_provided: bool,
    /// Whether the photo became a `dukcapil` face enrollment.
    pub enrolled: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LivenessDetails {
    pub fused: Fused,
    /// The voters as the answer showed them.
    #[serde(default)]
    pub voters: Value,
    pub challenge_id: String,
    #[serde(default)]
    pub frame_sha256: Vec<String>,
}

/// What a face match's probe was scored against. Only enrolled references count toward the
/// tier (SPEC §3); a caller's `referenceImage` is evidence for its one decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchAgainst {
    /// One named enrollment.
    Enrollment,
    /// The customer's pool of enrollments, best score wins.
    Pool,
    /// An image the caller sent with the request.
    ReferenceImage,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaceMatchDetails {
    pub score: f32,
    pub threshold: f32,
    pub model_id: String,
    pub against: MatchAgainst,
    #[serde(default)]
    pub enrollment_id: Option<String>,
    #[serde(default)]
    pub enrollment_source: Option<EnrollmentSource>,
    /// SHA-256 of the probe image (a step-up's best frame, a match call's image).
    #[serde(default)]
    pub probe_sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk_level: Option<RiskLevel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
    /// Set on a step-up's match: whether the step-up allowed (live and matched).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_up_allowed: Option<bool>,
    /// Set when Kenali matched a Dukcapil photo against a step-up's selfie on its own: the
    /// verification whose selfie was the probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe_verification_id: Option<String>,
}

impl FaceMatchDetails {
    /// The enrollment source this match proves, if any: none for a caller's image.
    pub fn enrolled_source(&self) -> Option<EnrollmentSource> {
        match self.against {
            MatchAgainst::Enrollment | MatchAgainst::Pool => self.enrollment_source,
            MatchAgainst::ReferenceImage => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReviewVerdict {
    Approve,
    Reject,
}

/// What a review item holds for an analyst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewSubject {
    KtpCapture,
    FaceLiveness,
    VendorKyc,
}

impl ReviewSubject {
    pub const fn as_str(self) -> &'static str {
        match self {
            ReviewSubject::KtpCapture => "ktp_capture",
            ReviewSubject::FaceLiveness => "face_liveness",
            ReviewSubject::VendorKyc => "vendor_kyc",
        }
    }

    pub fn parse(value: &str) -> Option<ReviewSubject> {
        serde_json::from_value(Value::String(value.to_string())).ok()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReviewDecisionDetails {
    pub decision: ReviewVerdict,
    pub reason: String,
    pub review_item_id: String,
    pub subject_id: String,
    pub subject_kind: ReviewSubject,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TierOverrideDetails {
    pub target_tier: Tier,
    pub reason: String,
    pub from_tier: String,
}

/// Kenali's own face checks of a vendor push: its match of the selfie with the ID photo and its
/// passive anti-spoof on the selfie, each with the threshold it was judged by. An image without
/// a usable face has no score, fails the check and says why (`problem`, e.g. `no_face`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OwnScore {
    pub score: Option<f32>,
    pub threshold: f32,
    pub passed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// A vendor's KYC push (seed 004) and what Kenali made of it: the vendor's own claims beside
/// Kenali's checks. Field values are not kept here (the customer's sealed PII holds them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VendorKycDetails {
    pub integration_id: String,
    pub submission_id: String,
    pub verdict: crate::vendor::VendorVerdict,
    /// The card fields the push carried, by name.
    pub fields: Vec<String>,
    /// Kenali's checks; `None` where the push gave nothing to check.
    pub face_match: Option<OwnScore>,
    pub selfie_live: Option<OwnScore>,
    pub model_id: Option<String>,
    /// The vendor's claims, as sent (scores on the vendor's scale).
    pub vendor_liveness_score: Option<f64>,
    pub vendor_match_score: Option<f64>,
    pub vendor_comparisons: Vec<crate::vendor::SourceComparison>,
    #[serde(default)]
    pub image_sha256: Vec<String>,
}

impl VendorKycDetails {
    /// Kenali itself found the selfie live and matching the ID photo.
    pub fn face_checked(&self) -> bool {
        self.face_match.as_ref().is_some_and(|m| m.passed) && self.selfie_live.as_ref().is_some_and(|l| l.passed)
    }
}

/// A verification's details, one variant per kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Details {
    NikFormat(NikFormatDetails),
    KtpCapture(KtpCaptureDetails),
    DukcapilVerdict(DukcapilDetails),
    FaceLiveness(LivenessDetails),
    FaceMatch(FaceMatchDetails),
    ReviewDecision(ReviewDecisionDetails),
    TierOverride(TierOverrideDetails),
    VendorKyc(VendorKycDetails),
}

impl Details {
    pub const fn kind(&self) -> &'static str {
        match self {
            Details::NikFormat(_) => kind::NIK_FORMAT,
            Details::KtpCapture(_) => kind::KTP_CAPTURE,
            Details::DukcapilVerdict(_) => kind::DUKCAPIL_VERDICT,
            Details::FaceLiveness(_) => kind::FACE_LIVENESS,
            Details::FaceMatch(_) => kind::FACE_MATCH,
            Details::ReviewDecision(_) => kind::REVIEW_DECISION,
            Details::TierOverride(_) => kind::TIER_OVERRIDE,
            Details::VendorKyc(_) => kind::VENDOR_KYC,
        }
    }

    /// The JSON stored in the row's `details` column.
    pub fn to_json(&self) -> Value {
        let value = match self {
            Details::NikFormat(d) => serde_json::to_value(d),
            Details::KtpCapture(d) => serde_json::to_value(d),
            Details::DukcapilVerdict(d) => serde_json::to_value(d),
            Details::FaceLiveness(d) => serde_json::to_value(d),
            Details::FaceMatch(d) => serde_json::to_value(d),
            Details::ReviewDecision(d) => serde_json::to_value(d),
            Details::TierOverride(d) => serde_json::to_value(d),
            Details::VendorKyc(d) => serde_json::to_value(d),
        };
        // Plain structs of strings, numbers and enums always serialise.
        value.unwrap_or(Value::Null)
    }

    /// Reads a stored row's details; `None` for a kind this version does not know or details
    /// that do not parse (such a row contributes nothing to the ladder).
    pub fn parse(kind_name: &str, details: &str) -> Option<Details> {
        fn read<T: serde::de::DeserializeOwned>(details: &str) -> Option<T> {
            serde_json::from_str(details).ok()
        }
        Some(match kind_name {
            kind::NIK_FORMAT => Details::NikFormat(read(details)?),
            kind::KTP_CAPTURE => Details::KtpCapture(read(details)?),
            kind::DUKCAPIL_VERDICT => Details::DukcapilVerdict(read(details)?),
            kind::FACE_LIVENESS => Details::FaceLiveness(read(details)?),
            kind::FACE_MATCH => Details::FaceMatch(read(details)?),
            kind::REVIEW_DECISION => Details::ReviewDecision(read(details)?),
            kind::TIER_OVERRIDE => Details::TierOverride(read(details)?),
            kind::VENDOR_KYC => Details::VendorKyc(read(details)?),
            _ => return None,
        })
    }

    /// What this row contributes to the tier ladder, given whether the check passed.
    pub fn evidence(&self, passed: bool) -> Option<Evidence> {
        Some(match self {
            Details::NikFormat(_) => Evidence::NikFormat { passed },
            Details::KtpCapture(d) => {
                Evidence::KtpCapture { assurance: if passed { d.assurance_tier } else { AssuranceTier::Low } }
            }
            Details::DukcapilVerdict(_) => Evidence::DukcapilVerdict { valid: passed },
            Details::FaceLiveness(_) => Evidence::FaceLiveness { passed },
            Details::FaceMatch(d) => Evidence::FaceMatch { passed, source: d.enrolled_source() },
            Details::ReviewDecision(d) => {
                if !(passed && d.decision == ReviewVerdict::Approve) {
                    return None;
                }
                Evidence::ReviewApproval { subject: d.subject_kind }
            }
            Details::TierOverride(d) => Evidence::Override { target: d.target_tier },
            Details::VendorKyc(d) => Evidence::VendorKyc {
                passed: passed && d.verdict == crate::vendor::VendorVerdict::Passed,
                face_checked: d.face_checked(),
            },
        })
    }
}

/// What a stored verification row (kind, passed, details JSON) contributes to the ladder.
pub fn evidence_from_row(kind_name: &str, passed: bool, details: &str) -> Option<Evidence> {
    Details::parse(kind_name, details)?.evidence(passed)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn face_match(against: MatchAgainst, source: Option<EnrollmentSource>) -> Details {
        Details::FaceMatch(FaceMatchDetails {
            score: 0.8,
            threshold: 0.45,
            model_id: "m".into(),
            against,
            enrollment_id: source.map(|_| "fe_1".into()),
            enrollment_source: source,
            probe_sha256: None,
            risk_level: None,
            action_label: None,
            trigger: None,
            step_up_allowed: None,
            probe_verification_id: None,
        })
    }

    #[test]
    fn details_round_trip_through_their_stored_json() {
        let details = face_match(MatchAgainst::Pool, Some(EnrollmentSource::Dukcapil));
        let stored = details.to_json().to_string();
        assert_eq!(Details::parse(details.kind(), &stored), Some(details));
        let review = Details::ReviewDecision(ReviewDecisionDetails {
            decision: ReviewVerdict::Approve,
            reason: "ok".into(),
            review_item_id: "rev_1".into(),
            subject_id: "ktpb_1".into(),
            subject_kind: ReviewSubject::KtpCapture,
        });
        assert_eq!(Details::parse(kind::REVIEW_DECISION, &review.to_json().to_string()), Some(review));
    }

    #[test]
    fn a_match_against_a_callers_image_proves_no_enrollment() {
        let own = face_match(MatchAgainst::ReferenceImage, None);
        assert_eq!(own.evidence(true), Some(Evidence::FaceMatch { passed: true, source: None }));
        // Even a row that claims a source cannot lift the tier when it was a caller's image.
        let forged = face_match(MatchAgainst::ReferenceImage, Some(EnrollmentSource::Dukcapil));
        assert_eq!(forged.evidence(true), Some(Evidence::FaceMatch { passed: true, source: None }));
        let pool = face_match(MatchAgainst::Pool, Some(EnrollmentSource::KtpExtract));
        assert_eq!(
            pool.evidence(true),
            Some(Evidence::FaceMatch { passed: true, source: Some(EnrollmentSource::KtpExtract) })
        );
    }

    #[test]
    fn stored_rows_of_earlier_versions_still_read() {
        // Rows written before the details were typed.
        let old_match = r#"{"score":0.7,"threshold":0.45,"modelId":"qe-face-v3","enrollmentId":"fe_1",
            "enrollmentSource":"ktp_extract","against":"pool","probeSha256":"ab"}"#;
        assert_eq!(
            evidence_from_row(kind::FACE_MATCH, true, old_match),
            Some(Evidence::FaceMatch { passed: true, source: Some(EnrollmentSource::KtpExtract) })
        );
        let old_ref = r#"{"score":0.7,"threshold":0.45,"modelId":"qe-face-v3","enrollmentId":null,
            "enrollmentSource":null,"against":"reference_image","probeSha256":"ab"}"#;
        assert_eq!(
            evidence_from_row(kind::FACE_MATCH, true, old_ref),
            Some(Evidence::FaceMatch { passed: true, source: None })
        );
        let ktp = r#"{"ktpBundleId":"ktpb_1","assuranceTier":"high","verdict":"passed","antiSpoof":"live",
            "tamper":"authentic","score":90,"challengeId":"fc_1","frameSha256":[],"readFrame":0}"#;
        assert_eq!(
            evidence_from_row(kind::KTP_CAPTURE, true, ktp),
            Some(Evidence::KtpCapture { assurance: AssuranceTier::High })
        );
        assert_eq!(
            evidence_from_row(kind::KTP_CAPTURE, false, ktp),
            Some(Evidence::KtpCapture { assurance: AssuranceTier::Low })
        );
        let approve = r#"{"decision":"approve","reason":"ok","reviewItemId":"rev_1","subjectId":"ver_1",
            "subjectKind":"face_liveness"}"#;
        assert_eq!(
            evidence_from_row(kind::REVIEW_DECISION, true, approve),
            Some(Evidence::ReviewApproval { subject: ReviewSubject::FaceLiveness })
        );
        let over = r#"{"targetTier":"standard","reason":"r","fromTier":"basic"}"#;
        assert_eq!(
            evidence_from_row(kind::TIER_OVERRIDE, true, over),
            Some(Evidence::Override { target: Tier::Standard })
        );
        assert_eq!(
            evidence_from_row(kind::NIK_FORMAT, true, r#"{"source":"customer_create"}"#),
            Some(Evidence::NikFormat { passed: true })
        );
    }

    #[test]
    fn unknown_kinds_and_unreadable_details_contribute_nothing() {
        assert_eq!(evidence_from_row("something_new", true, "{}"), None);
        assert_eq!(evidence_from_row(kind::TIER_OVERRIDE, true, "{}"), None);
        assert_eq!(evidence_from_row(kind::FACE_MATCH, true, "not json"), None);
        let reject =
            r#"{"decision":"reject","reason":"no","reviewItemId":"rev_1","subjectId":"k","subjectKind":"ktp_capture"}"#;
        assert_eq!(evidence_from_row(kind::REVIEW_DECISION, true, reject), None);
    }
}
