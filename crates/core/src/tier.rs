//! The KYC tier ladder (SPEC §3). The tier is a pure fold over a customer's verification
//! history in time order; recomputing it from the stored rows must give the stored tier.

use serde::{Deserialize, Serialize};

use crate::document::AssuranceTier;
use crate::verification::ReviewSubject;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    None,
    Basic,
    Standard,
    Premium,
}

impl Tier {
    pub const fn as_str(self) -> &'static str {
        match self {
            Tier::None => "none",
            Tier::Basic => "basic",
            Tier::Standard => "standard",
            Tier::Premium => "premium",
        }
    }

    pub fn parse(value: &str) -> Option<Tier> {
        match value {
            "none" => Some(Tier::None),
            "basic" => Some(Tier::Basic),
            "standard" => Some(Tier::Standard),
            "premium" => Some(Tier::Premium),
            _ => None,
        }
    }

    pub const fn next(self) -> Option<Tier> {
        match self {
            Tier::None => Some(Tier::Basic),
            Tier::Basic => Some(Tier::Standard),
            Tier::Standard => Some(Tier::Premium),
            Tier::Premium => None,
        }
    }
}

/// Where a face reference came from (SPEC §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnrollmentSource {
    Dukcapil,
    KtpExtract,
    OnboardingSelfie,
    StepUpPromotion,
}

impl EnrollmentSource {
    pub const ALL: [EnrollmentSource; 4] = [
        EnrollmentSource::Dukcapil,
        EnrollmentSource::KtpExtract,
        EnrollmentSource::OnboardingSelfie,
        EnrollmentSource::StepUpPromotion,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            EnrollmentSource::Dukcapil => "dukcapil",
            EnrollmentSource::KtpExtract => "ktp_extract",
            EnrollmentSource::OnboardingSelfie => "onboarding_selfie",
            EnrollmentSource::StepUpPromotion => "step_up_promotion",
        }
    }

    pub fn parse(value: &str) -> Option<EnrollmentSource> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }
}

/// What one verification row contributes to the ladder; rows that contribute nothing
/// (a failed check) are simply `passed: false`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evidence {
    NikFormat {
        passed: bool,
    },
    KtpCapture {
        assurance: AssuranceTier,
    },
    DukcapilVerdict {
        valid: bool,
    },
    FaceLiveness {
        passed: bool,
    },
    /// `source` is the enrolled reference the probe matched; `None` for a caller's own
    /// `referenceImage`, which never counts toward the tier (SPEC §3).
    FaceMatch {
        passed: bool,
        source: Option<EnrollmentSource>,
    },
    /// An analyst approved a held item: it credits only the rung its subject proves (an
    /// approved KTP capture is the card's NIK and document rungs, an approved liveness is liveness).
    ReviewApproval {
        subject: ReviewSubject,
    },
    /// A vendor's KYC push (seed 004) that Kenali re-verified: `passed` when every check Kenali
    /// could make agreed (the NIK and document rungs); `face_checked` when among them were its own
    /// passive anti-spoof on the selfie and its own match of the selfie with the ID photo, which
    /// count toward premium only under [`TierPolicy::vendor_proves_premium`].
    VendorKyc {
        passed: bool,
        face_checked: bool,
    },
    /// An analyst set the tier outright, up or down, with a reason.
    Override {
        target: Tier,
    },
}

/// Org policy that changes the ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TierPolicy {
    /// Premium needs the face match to be against a `dukcapil` enrollment (seed 002:
    /// "premium (if Dukcapil) or standard (without)"); on unless an org turns it off.
    pub premium_requires_dukcapil: bool,
    /// A vendor push's selfie and match, re-checked by Kenali, count as liveness and as a face
    /// match (not against a Dukcapil enrollment); off unless an org turns it on.
    pub vendor_proves_premium: bool,
}

impl Default for TierPolicy {
    fn default() -> Self {
        TierPolicy { premium_requires_dukcapil: true, vendor_proves_premium: false }
    }
}

/// One requirement of a tier, named so clients can show what is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Requirement {
    NikFormat,
    KtpCaptureOrDukcapil,
    FaceLiveness,
    FaceMatch,
    FaceMatchDukcapil,
}

impl Requirement {
    pub const fn description(self) -> &'static str {
        match self {
            Requirement::NikFormat => "a valid NIK format verification",
            Requirement::KtpCaptureOrDukcapil => {
                "a KTP capture with assurance high or standard, a Dukcapil verdict valid: true, or an analyst approval"
            }
            Requirement::FaceLiveness => "a passed face liveness check",
            Requirement::FaceMatch => "a passed face match against an enrolled reference",
            Requirement::FaceMatchDukcapil => "a passed face match against a dukcapil enrollment",
        }
    }
}

/// The facts accumulated from the history; the tier follows from them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Facts {
    nik: bool,
    standard: bool,
    liveness: bool,
    face_match: bool,
    face_match_dukcapil: bool,
    /// A re-verified vendor push showed a live selfie matching its ID photo.
    vendor_face: bool,
}

impl Facts {
    fn apply(&mut self, evidence: &Evidence) {
        match evidence {
            Evidence::NikFormat { passed } => self.nik |= passed,
            Evidence::KtpCapture { assurance } => {
                self.standard |= matches!(assurance, AssuranceTier::High | AssuranceTier::Standard)
            }
            // Dukcapil confirming the identity also confirms the NIK is well formed and real.
            Evidence::DukcapilVerdict { valid } => {
                self.nik |= valid;
                self.standard |= valid;
            }
            Evidence::FaceLiveness { passed } => self.liveness |= passed,
            Evidence::FaceMatch { passed, source } => {
                self.face_match |= *passed && source.is_some();
                self.face_match_dukcapil |= *passed && *source == Some(EnrollmentSource::Dukcapil);
            }
            Evidence::VendorKyc { passed, face_checked } => {
                self.nik |= passed;
                self.standard |= passed;
                self.vendor_face |= *passed && *face_checked;
            }
            Evidence::ReviewApproval { subject: ReviewSubject::KtpCapture | ReviewSubject::VendorKyc } => {
                self.nik = true;
                self.standard = true;
            }
            Evidence::ReviewApproval { subject: ReviewSubject::FaceLiveness } => self.liveness = true,
            Evidence::Override { target } => {
                // The analyst's decision replaces what came before; later evidence counts again.
                self.nik = *target >= Tier::Basic;
                self.standard = *target >= Tier::Standard;
                self.liveness = *target >= Tier::Premium;
                self.face_match = *target >= Tier::Premium;
                self.face_match_dukcapil = *target >= Tier::Premium;
                self.vendor_face = false;
            }
        }
    }

    fn requirements_of(tier: Tier, policy: TierPolicy) -> &'static [Requirement] {
        match tier {
            Tier::None => &[],
            Tier::Basic => &[Requirement::NikFormat],
            Tier::Standard => &[Requirement::KtpCaptureOrDukcapil],
            Tier::Premium if policy.premium_requires_dukcapil => {
                &[Requirement::FaceLiveness, Requirement::FaceMatchDukcapil]
            }
            Tier::Premium => &[Requirement::FaceLiveness, Requirement::FaceMatch],
        }
    }

    fn holds(&self, requirement: Requirement, policy: TierPolicy) -> bool {
        let vendor_face = policy.vendor_proves_premium && self.vendor_face;
        match requirement {
            Requirement::NikFormat => self.nik,
            Requirement::KtpCaptureOrDukcapil => self.standard,
            Requirement::FaceLiveness => self.liveness || vendor_face,
            Requirement::FaceMatch => self.face_match || vendor_face,
            Requirement::FaceMatchDukcapil => self.face_match_dukcapil,
        }
    }

    fn tier(&self, policy: TierPolicy) -> Tier {
        let mut tier = Tier::None;
        while let Some(next) = tier.next() {
            if Self::requirements_of(next, policy).iter().all(|r| self.holds(*r, policy)) {
                tier = next;
            } else {
                break;
            }
        }
        tier
    }
}

/// The tier a history (oldest first) earns under a policy.
pub fn compute_tier<'a>(history: impl IntoIterator<Item = &'a Evidence>, policy: TierPolicy) -> Tier {
    progress(history, policy).tier
}

/// The tier plus which requirements of the next tier are met and which are missing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TierProgress {
    pub tier: Tier,
    pub next_tier: Option<Tier>,
    pub met: Vec<Requirement>,
    pub missing: Vec<Requirement>,
}

pub fn progress<'a>(history: impl IntoIterator<Item = &'a Evidence>, policy: TierPolicy) -> TierProgress {
    let mut facts = Facts::default();
    for evidence in history {
        facts.apply(evidence);
    }
    let tier = facts.tier(policy);
    let next_tier = tier.next();
    let (met, missing) = next_tier
        .map(|next| Facts::requirements_of(next, policy))
        .unwrap_or(&[])
        .iter()
        .partition(|r| facts.holds(**r, policy));
    TierProgress { tier, next_tier, met, missing }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Evidence::*;

    /// The ladder with any enrolled reference allowed for premium.
    const ANY_REFERENCE: TierPolicy = TierPolicy { premium_requires_dukcapil: false, vendor_proves_premium: false };

    fn tier_of(history: &[Evidence]) -> Tier {
        compute_tier(history, ANY_REFERENCE)
    }

    #[test]
    fn the_ladder_climbs_one_rung_at_a_time() {
        assert_eq!(tier_of(&[]), Tier::None);
        assert_eq!(tier_of(&[NikFormat { passed: false }]), Tier::None);
        assert_eq!(tier_of(&[NikFormat { passed: true }]), Tier::Basic);
        let standard = [NikFormat { passed: true }, KtpCapture { assurance: AssuranceTier::High }];
        assert_eq!(tier_of(&standard), Tier::Standard);
        let mut premium = standard.to_vec();
        premium.push(FaceLiveness { passed: true });
        assert_eq!(tier_of(&premium), Tier::Standard);
        premium.push(FaceMatch { passed: true, source: Some(EnrollmentSource::KtpExtract) });
        assert_eq!(tier_of(&premium), Tier::Premium);
    }

    #[test]
    fn rungs_cannot_be_skipped() {
        // Face evidence without the KTP or Dukcapil rung does not reach premium.
        let history = [
            NikFormat { passed: true },
            FaceLiveness { passed: true },
            FaceMatch { passed: true, source: Some(EnrollmentSource::Dukcapil) },
        ];
        assert_eq!(tier_of(&history), Tier::Basic);
        assert_eq!(tier_of(&[KtpCapture { assurance: AssuranceTier::High }]), Tier::None);
    }

    #[test]
    fn low_assurance_capture_does_not_lift_the_tier() {
        let history = [NikFormat { passed: true }, KtpCapture { assurance: AssuranceTier::Low }];
        assert_eq!(tier_of(&history), Tier::Basic);
        let approved = [history[0].clone(), history[1].clone(), ReviewApproval { subject: ReviewSubject::KtpCapture }];
        assert_eq!(tier_of(&approved), Tier::Standard);
        // The approved card carries its NIK: the approval alone is basic and standard.
        assert_eq!(tier_of(&[ReviewApproval { subject: ReviewSubject::KtpCapture }]), Tier::Standard);
    }

    #[test]
    fn an_approved_liveness_credits_liveness_only() {
        let history = [NikFormat { passed: true }, ReviewApproval { subject: ReviewSubject::FaceLiveness }];
        assert_eq!(tier_of(&history), Tier::Basic);
        let progress_now = progress(&history, ANY_REFERENCE);
        assert_eq!(progress_now.missing, vec![Requirement::KtpCaptureOrDukcapil]);
        let premium = [
            DukcapilVerdict { valid: true },
            ReviewApproval { subject: ReviewSubject::FaceLiveness },
            FaceMatch { passed: true, source: Some(EnrollmentSource::KtpExtract) },
        ];
        assert_eq!(tier_of(&premium), Tier::Premium);
    }

    #[test]
    fn a_match_against_a_callers_image_never_reaches_premium() {
        let history = [
            NikFormat { passed: true },
            KtpCapture { assurance: AssuranceTier::High },
            FaceLiveness { passed: true },
            FaceMatch { passed: true, source: None },
        ];
        assert_eq!(tier_of(&history), Tier::Standard);
        assert_eq!(progress(&history, ANY_REFERENCE).missing, vec![Requirement::FaceMatch]);
    }

    #[test]
    fn a_valid_dukcapil_verdict_reaches_standard_and_an_invalid_one_nothing() {
        assert_eq!(tier_of(&[DukcapilVerdict { valid: true }]), Tier::Standard);
        assert_eq!(tier_of(&[DukcapilVerdict { valid: false }]), Tier::None);
    }

    #[test]
    fn premium_policy_requires_a_dukcapil_reference() {
        let policy = TierPolicy { premium_requires_dukcapil: true, vendor_proves_premium: false };
        let mut history = vec![
            DukcapilVerdict { valid: true },
            FaceLiveness { passed: true },
            FaceMatch { passed: true, source: Some(EnrollmentSource::StepUpPromotion) },
        ];
        let progress_now = progress(&history, policy);
        assert_eq!(progress_now.tier, Tier::Standard);
        assert_eq!(progress_now.missing, vec![Requirement::FaceMatchDukcapil]);
        assert_eq!(progress_now.met, vec![Requirement::FaceLiveness]);
        history.push(FaceMatch { passed: true, source: Some(EnrollmentSource::Dukcapil) });
        assert_eq!(compute_tier(&history, policy), Tier::Premium);
    }

    #[test]
    fn overrides_replace_history_and_later_evidence_counts_again() {
        let history = [NikFormat { passed: true }, Override { target: Tier::Standard }];
        assert_eq!(tier_of(&history), Tier::Standard);
        let down = [NikFormat { passed: true }, DukcapilVerdict { valid: true }, Override { target: Tier::None }];
        assert_eq!(tier_of(&down), Tier::None);
        let again = [down[0].clone(), down[1].clone(), down[2].clone(), NikFormat { passed: true }];
        assert_eq!(tier_of(&again), Tier::Basic);
    }

    #[test]
    fn progress_names_the_next_tier_requirements() {
        let progress_none = progress(&[], TierPolicy::default());
        assert!(TierPolicy::default().premium_requires_dukcapil, "seed 002: premium if Dukcapil");
        assert_eq!(progress_none.next_tier, Some(Tier::Basic));
        assert_eq!(progress_none.missing, vec![Requirement::NikFormat]);
        let top = [
            DukcapilVerdict { valid: true },
            FaceLiveness { passed: true },
            FaceMatch { passed: true, source: Some(EnrollmentSource::Dukcapil) },
        ];
        let progress_top = progress(&top, TierPolicy::default());
        assert_eq!(progress_top.tier, Tier::Premium);
        assert_eq!(progress_top.next_tier, None);
        assert!(progress_top.missing.is_empty());
    }

    #[test]
    fn a_verified_vendor_push_is_the_document_rung_and_premium_only_where_the_org_allows() {
        let checked = VendorKyc { passed: true, face_checked: true };
        assert_eq!(compute_tier(&[VendorKyc { passed: false, face_checked: true }], TierPolicy::default()), Tier::None);
        assert_eq!(compute_tier(std::slice::from_ref(&checked), TierPolicy::default()), Tier::Standard);
        assert_eq!(compute_tier(std::slice::from_ref(&checked), ANY_REFERENCE), Tier::Standard);
        let vendor_premium = TierPolicy { premium_requires_dukcapil: false, vendor_proves_premium: true };
        assert_eq!(compute_tier(std::slice::from_ref(&checked), vendor_premium), Tier::Premium);
        // Unchecked faces, or a Dukcapil-only premium, still stop at standard.
        assert_eq!(compute_tier(&[VendorKyc { passed: true, face_checked: false }], vendor_premium), Tier::Standard);
        let dukcapil_only = TierPolicy { premium_requires_dukcapil: true, vendor_proves_premium: true };
        assert_eq!(compute_tier(std::slice::from_ref(&checked), dukcapil_only), Tier::Standard);
        // An override down forgets the vendor's faces.
        let down = [checked, Override { target: Tier::Standard }];
        assert_eq!(compute_tier(&down, vendor_premium), Tier::Standard);
    }

    #[test]
    fn tier_names_round_trip() {
        for tier in [Tier::None, Tier::Basic, Tier::Standard, Tier::Premium] {
            assert_eq!(Tier::parse(tier.as_str()), Some(tier));
        }
        assert_eq!(Tier::parse("gold"), None);
    }
}
