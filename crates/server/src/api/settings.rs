//! `GET/PATCH /api/identity/org/settings` (admin): the org's match threshold, premium policy,
//! retention windows and webhook retry ceiling, each bounded (kenali_core::settings).

use axum::extract::State;
use axum::Json;
use kenali_core::settings::OrgSettings;
use serde::{Deserialize, Serialize};

use crate::auth::Scope;
use crate::error::ApiResult;
use crate::extract::{ApiJson, Auth};
use crate::ledger::Actor;
use crate::service::settings as service;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SettingsPatch {
    match_threshold: Option<f32>,
    premium_requires_dukcapil: Option<bool>,
    retention: Option<RetentionPatch>,
    webhook_retry_hours: Option<u32>,
    vendor_evidence_proves_premium: Option<bool>,
    vendor_push_max_age_secs: Option<u32>,
    analysts_require_passkey: Option<bool>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetentionPatch {
    onboarding_frames_days: Option<u32>,
    step_up_frames_days: Option<u32>,
    records_days: Option<u32>,
}

impl SettingsPatch {
    fn apply(self, mut settings: OrgSettings) -> OrgSettings {
        let r = &mut settings.retention;
        if let Some(retention) = self.retention {
            r.onboarding_frames_days = retention.onboarding_frames_days.unwrap_or(r.onboarding_frames_days);
            r.step_up_frames_days = retention.step_up_frames_days.unwrap_or(r.step_up_frames_days);
            r.records_days = retention.records_days.unwrap_or(r.records_days);
        }
        settings.match_threshold = self.match_threshold.unwrap_or(settings.match_threshold);
        settings.premium_requires_dukcapil =
            self.premium_requires_dukcapil.unwrap_or(settings.premium_requires_dukcapil);
        settings.webhook_retry_hours = self.webhook_retry_hours.unwrap_or(settings.webhook_retry_hours);
        settings.vendor_evidence_proves_premium =
            self.vendor_evidence_proves_premium.unwrap_or(settings.vendor_evidence_proves_premium);
        settings.vendor_push_max_age_secs = self.vendor_push_max_age_secs.unwrap_or(settings.vendor_push_max_age_secs);
        settings.analysts_require_passkey = self.analysts_require_passkey.unwrap_or(settings.analysts_require_passkey);
        settings
    }
}

/// The org's settings as the API shows them (kenali_core::settings::OrgSettings, plus when
/// they were last changed).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SettingsView {
    match_threshold: f32,
    premium_requires_dukcapil: bool,
    retention: RetentionView,
    webhook_retry_hours: u32,
    /// A vendor push's selfie and match, re-checked by Kenali, count toward premium (seed 004).
    vendor_evidence_proves_premium: bool,
    /// How old a vendor push may be, by its own timestamp.
    vendor_push_max_age_secs: u32,
    /// Analysts sign in to the dashboard with a passkey; a password only enrolls a first one.
    analysts_require_passkey: bool,
    /// Null until an admin first changes a setting.
    updated_at: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RetentionView {
    onboarding_frames_days: u32,
    step_up_frames_days: u32,
    records_days: u32,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SettingsEnvelope {
    settings: SettingsView,
}

fn view(settings: &OrgSettings, updated_at: Option<&str>) -> SettingsEnvelope {
    let r = &settings.retention;
    SettingsEnvelope {
        settings: SettingsView {
            match_threshold: settings.match_threshold,
            premium_requires_dukcapil: settings.premium_requires_dukcapil,
            retention: RetentionView {
                onboarding_frames_days: r.onboarding_frames_days,
                step_up_frames_days: r.step_up_frames_days,
                records_days: r.records_days,
            },
            webhook_retry_hours: settings.webhook_retry_hours,
            vendor_evidence_proves_premium: settings.vendor_evidence_proves_premium,
            vendor_push_max_age_secs: settings.vendor_push_max_age_secs,
            analysts_require_passkey: settings.analysts_require_passkey,
            updated_at: updated_at.map(str::to_string),
        },
    }
}

#[utoipa::path(get, path = "/api/identity/org/settings", tag = "operations", responses((status = 200, description = "the settings", body = SettingsEnvelope), crate::error::ErrorResponse))]
pub async fn show(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<SettingsEnvelope>> {
    let principal = auth.require(Scope::Admin)?;
    let (settings, updated_at) = service::get(&state, &principal.org_id).await?;
    Ok(Json(view(&settings, updated_at.as_deref())))
}

/// Changes the named settings; every value is checked against its bounds before anything is
/// saved, and the change is audited with each setting's old and new value.
#[utoipa::path(patch, path = "/api/identity/org/settings", tag = "operations", request_body = SettingsPatch, responses((status = 200, description = "the settings, changed and audited", body = SettingsEnvelope), crate::error::ErrorResponse))]
pub async fn update(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(patch): ApiJson<SettingsPatch>,
) -> ApiResult<Json<SettingsEnvelope>> {
    let actor = Actor::from_principal(auth.require(Scope::Admin)?);
    let (settings, updated_at) = service::change(&state, &actor, |before| patch.apply(before)).await?;
    Ok(Json(view(&settings, updated_at.as_deref())))
}
