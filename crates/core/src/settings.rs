//! An organization's settings (seed 000 "Production considerations", SPEC §8): what an admin
//! may tune, and the bounds that the law and the face model put on each value.

use serde::{Deserialize, Serialize};

use crate::face::{DEFAULT_MATCH_THRESHOLD, MAX_MATCH_THRESHOLD, MIN_MATCH_THRESHOLD};
use crate::tier::TierPolicy;

/// OJK keeps onboarding captures for 3 years; shorter is not allowed.
pub const ONBOARDING_FRAMES_MIN_DAYS: u32 = 3 * 365;
/// Verification rows and the audit log are the regulated record: 7 years at least.
pub const RECORDS_MIN_DAYS: u32 = 7 * 365;
/// Step-up selfies are kept 90 days by default; no law sets a floor, UU PDP asks for no more
/// than needed, so a year at most.
pub const STEP_UP_FRAMES_DEFAULT_DAYS: u32 = 90;
pub const STEP_UP_FRAMES_MAX_DAYS: u32 = 365;
/// No window may run past 10 years (data must not be kept longer than its purpose needs).
pub const RETENTION_MAX_DAYS: u32 = 10 * 365;
/// Webhook deliveries are retried for at least a day (SPEC §8), at most a week.
pub const WEBHOOK_RETRY_MIN_HOURS: u32 = 24;
pub const WEBHOOK_RETRY_MAX_HOURS: u32 = 7 * 24;
/// A vendor's push older than this (by its own timestamp) is refused as a replay: 5 minutes by
/// default, at least 30 s (clocks differ) and at most a day.
pub const VENDOR_PUSH_MAX_AGE_DEFAULT_SECS: u32 = 300;
pub const VENDOR_PUSH_MAX_AGE_MIN_SECS: u32 = 30;
pub const VENDOR_PUSH_MAX_AGE_MAX_SECS: u32 = 24 * 3600;

/// How long each class of data is kept, in days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RetentionWindows {
    pub onboarding_frames_days: u32,
    pub step_up_frames_days: u32,
    pub records_days: u32,
}

impl Default for RetentionWindows {
    fn default() -> Self {
        RetentionWindows {
            onboarding_frames_days: ONBOARDING_FRAMES_MIN_DAYS,
            step_up_frames_days: STEP_UP_FRAMES_DEFAULT_DAYS,
            records_days: RECORDS_MIN_DAYS,
        }
    }
}

/// Everything an org can tune. Stored as JSON; a value absent from storage takes its default,
/// so adding a setting needs no migration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OrgSettings {
    /// Cosine similarity a face match needs (step-up, `/face/match`); high-risk actions add a
    /// margin on top.
    pub match_threshold: f32,
    /// Premium needs the face match to be against a `dukcapil` enrollment (seed 002).
    pub premium_requires_dukcapil: bool,
    pub retention: RetentionWindows,
    /// How long a webhook delivery is retried before it is marked failed.
    pub webhook_retry_hours: u32,
    /// A vendor push's re-verified selfie and match count toward premium (seed 004).
    pub vendor_evidence_proves_premium: bool,
    /// How old a vendor push may be, by its own timestamp, in seconds.
    pub vendor_push_max_age_secs: u32,
    /// Analysts sign in with a passkey; a password then only opens a session that enrolls a
    /// first passkey (issue 19).
    pub analysts_require_passkey: bool,
}

impl Default for OrgSettings {
    fn default() -> Self {
        OrgSettings {
            match_threshold: DEFAULT_MATCH_THRESHOLD,
            premium_requires_dukcapil: crate::tier::TierPolicy::default().premium_requires_dukcapil,
            retention: RetentionWindows::default(),
            webhook_retry_hours: WEBHOOK_RETRY_MIN_HOURS,
            vendor_evidence_proves_premium: crate::tier::TierPolicy::default().vendor_proves_premium,
            vendor_push_max_age_secs: VENDOR_PUSH_MAX_AGE_DEFAULT_SECS,
            analysts_require_passkey: false,
        }
    }
}

/// A setting outside its bounds: the field (as the API names it) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingProblem {
    pub field: &'static str,
    pub message: String,
}

impl OrgSettings {
    pub fn tier_policy(&self) -> TierPolicy {
        TierPolicy {
            premium_requires_dukcapil: self.premium_requires_dukcapil,
            vendor_proves_premium: self.vendor_evidence_proves_premium,
        }
    }

    /// Every value outside its bounds; empty when the settings may be saved.
    pub fn problems(&self) -> Vec<SettingProblem> {
        let mut problems = Vec::new();
        let mut check = |ok: bool, field: &'static str, message: String| {
            if !ok {
                problems.push(SettingProblem { field, message });
            }
        };
        check(
            self.match_threshold.is_finite()
                && (MIN_MATCH_THRESHOLD..=MAX_MATCH_THRESHOLD).contains(&self.match_threshold),
            "matchThreshold",
            format!("must be between {MIN_MATCH_THRESHOLD} and {MAX_MATCH_THRESHOLD}"),
        );
        let r = &self.retention;
        check(
            (ONBOARDING_FRAMES_MIN_DAYS..=RETENTION_MAX_DAYS).contains(&r.onboarding_frames_days),
            "retention.onboardingFramesDays",
            format!("must be {ONBOARDING_FRAMES_MIN_DAYS} to {RETENTION_MAX_DAYS} days (OJK: at least 3 years)"),
        );
        check(
            (1..=STEP_UP_FRAMES_MAX_DAYS).contains(&r.step_up_frames_days),
            "retention.stepUpFramesDays",
            format!("must be 1 to {STEP_UP_FRAMES_MAX_DAYS} days"),
        );
        check(
            (RECORDS_MIN_DAYS..=RETENTION_MAX_DAYS).contains(&r.records_days),
            "retention.recordsDays",
            format!("must be {RECORDS_MIN_DAYS} to {RETENTION_MAX_DAYS} days (regulated record: at least 7 years)"),
        );
        check(
            (WEBHOOK_RETRY_MIN_HOURS..=WEBHOOK_RETRY_MAX_HOURS).contains(&self.webhook_retry_hours),
            "webhookRetryHours",
            format!("must be {WEBHOOK_RETRY_MIN_HOURS} to {WEBHOOK_RETRY_MAX_HOURS} hours"),
        );
        check(
            (VENDOR_PUSH_MAX_AGE_MIN_SECS..=VENDOR_PUSH_MAX_AGE_MAX_SECS).contains(&self.vendor_push_max_age_secs),
            "vendorPushMaxAgeSecs",
            format!("must be {VENDOR_PUSH_MAX_AGE_MIN_SECS} to {VENDOR_PUSH_MAX_AGE_MAX_SECS} seconds"),
        );
        problems
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_seed_000s_and_valid() {
        let d = OrgSettings::default();
        assert_eq!(d.match_threshold, 0.45);
        assert_eq!(d.retention.onboarding_frames_days, 1095);
        assert_eq!(d.retention.step_up_frames_days, 90);
        assert_eq!(d.retention.records_days, 2555);
        assert!(d.problems().is_empty());
    }

    #[test]
    fn each_bound_is_enforced_on_both_sides() {
        let fields = |s: OrgSettings| s.problems().iter().map(|p| p.field).collect::<Vec<_>>();
        for threshold in [2.0, 0.29, f32::NAN] {
            assert_eq!(fields(OrgSettings { match_threshold: threshold, ..Default::default() }), ["matchThreshold"]);
        }
        assert!(fields(OrgSettings { match_threshold: 0.9, ..Default::default() }).is_empty());
        let retention = |r: RetentionWindows| OrgSettings { retention: r, ..Default::default() };
        let d = RetentionWindows::default();
        assert_eq!(
            fields(retention(RetentionWindows { onboarding_frames_days: 1094, ..d })),
            ["retention.onboardingFramesDays"]
        );
        assert_eq!(fields(retention(RetentionWindows { step_up_frames_days: 0, ..d })), ["retention.stepUpFramesDays"]);
        assert_eq!(fields(retention(RetentionWindows { records_days: 2554, ..d })), ["retention.recordsDays"]);
        assert_eq!(fields(retention(RetentionWindows { records_days: 3651, ..d })), ["retention.recordsDays"]);
        assert_eq!(fields(OrgSettings { webhook_retry_hours: 23, ..Default::default() }), ["webhookRetryHours"]);
    }

    #[test]
    fn stored_settings_missing_a_field_take_its_default() {
        let s: OrgSettings =
            serde_json::from_str(r#"{"matchThreshold":0.5,"retention":{"recordsDays":3000}}"#).unwrap();
        assert_eq!(s.match_threshold, 0.5);
        assert_eq!(s.retention.records_days, 3000);
        assert_eq!(s.retention.step_up_frames_days, 90);
        assert!(s.premium_requires_dukcapil, "seed 002: premium if Dukcapil, by default");
    }
}
