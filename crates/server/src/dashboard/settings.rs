//! The org's settings (admins): one form with every policy, checked against its bounds before
//! anything is saved (a value out of bounds names itself and nothing changes), each change
//! audited with its old and new value.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use kenali_core::settings::OrgSettings;
use maud::{html, Markup};

use super::i18n::{Lang, Msg};
use super::layout::{page, when};
use super::{form_mistake, FormFields, PageError, Viewer};
use crate::auth::Scope;
use crate::service::settings;
use crate::state::AppState;

pub async fn show(State(state): State<AppState>, viewer: Viewer) -> Response {
    if let Err(refused) = viewer.require(Scope::Admin) {
        return refused.into_response();
    }
    match settings::get(&state, &viewer.session.user.org_id).await {
        Ok((current, updated_at)) => render(&viewer, &current, updated_at.as_deref(), Notice::None, None),
        Err(e) => PageError::from(e).with_lang(viewer.lang).into_response(),
    }
}

enum Notice<'a> {
    None,
    Saved,
    NotSaved(&'a str),
}

/// The page; after a refused form, its fields hold what was typed (`typed`), not what is saved.
fn render(
    viewer: &Viewer,
    current: &OrgSettings,
    updated_at: Option<&str>,
    notice: Notice,
    typed: Option<&FormFields>,
) -> Response {
    let lang = viewer.lang;
    let r = &current.retention;
    let number_field = |name: &str, label: Msg, saved: String, step: &str| {
        let value = typed.map_or(saved, |form| form.get(name).to_string());
        number(lang, name, label, &value, step)
    };
    let check_field = |name: &str, label: Msg, saved: bool| {
        checkbox(lang, name, label, typed.map_or(saved, |form| form.ticked(name)))
    };
    let status = if matches!(notice, Notice::NotSaved(_)) { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    let body = html! {
        p { (Msg::SettingsIntro.text(lang)) }
        @match notice {
            Notice::None => {}
            Notice::Saved => { p.ok #settings-saved role="status" { (Msg::Saved.text(lang)) } }
            Notice::NotSaved(why) => { p.error #settings-error role="alert" { (Msg::NotSaved.text(lang)) " " (why) } }
        }
        p.muted #settings-changed { (Msg::LastChanged.text(lang)) ": "
            @if let Some(at) = updated_at { (when(at)) } @else { (Msg::NeverChanged.text(lang)) } }
        form.settings #settings-form method="post" action="/dashboard/settings" {
            input type="hidden" name="csrf" value=(viewer.csrf);
            fieldset {
                legend { (Msg::Policies.text(lang)) }
                (number_field("matchThreshold", Msg::MatchThreshold, current.match_threshold.to_string(), "0.01"))
                (check_field("premiumRequiresDukcapil", Msg::PremiumRequiresDukcapil, current.premium_requires_dukcapil))
                (check_field("vendorEvidenceProvesPremium", Msg::VendorEvidenceProvesPremium, current.vendor_evidence_proves_premium))
                (number_field("vendorPushMaxAgeSecs", Msg::VendorPushMaxAge, current.vendor_push_max_age_secs.to_string(), "1"))
                (check_field("analystsRequirePasskey", Msg::AnalystsRequirePasskey, current.analysts_require_passkey))
                (number_field("webhookRetryHours", Msg::WebhookRetryHours, current.webhook_retry_hours.to_string(), "1"))
            }
            fieldset {
                legend { (Msg::Retention.text(lang)) }
                (number_field("retention.onboardingFramesDays", Msg::OnboardingFramesDays, r.onboarding_frames_days.to_string(), "1"))
                (number_field("retention.stepUpFramesDays", Msg::StepUpFramesDays, r.step_up_frames_days.to_string(), "1"))
                (number_field("retention.recordsDays", Msg::RecordsDays, r.records_days.to_string(), "1"))
            }
            button #save-settings type="submit" { (Msg::Save.text(lang)) }
        }
    };
    (status, Html(page(viewer, "/dashboard/settings", Msg::Settings, body).into_string())).into_response()
}

fn number(lang: Lang, name: &str, label: Msg, value: &str, step: &str) -> Markup {
    let id = name.replace('.', "-");
    html! {
        label for=(id) { (label.text(lang)) " " code.muted { (name) } }
        input id=(id) name=(name) type="number" step=(step) min="0" value=(value) required;
    }
}

fn checkbox(lang: Lang, name: &str, label: Msg, checked: bool) -> Markup {
    html! {
        label.check { input id=(name) name=(name) type="checkbox" value="true" checked[checked]; " " (label.text(lang)) }
    }
}

/// The settings as the form states them: every value is sent (an unticked box is `false`).
fn read_form(form: &FormFields, mut settings: OrgSettings) -> Result<OrgSettings, String> {
    fn parsed<T: std::str::FromStr>(form: &FormFields, name: &str) -> Result<T, String> {
        form.get(name).parse().map_err(|_| format!("{name}: must be a number"))
    }
    settings.match_threshold = parsed(form, "matchThreshold")?;
    settings.premium_requires_dukcapil = form.ticked("premiumRequiresDukcapil");
    settings.vendor_evidence_proves_premium = form.ticked("vendorEvidenceProvesPremium");
    settings.vendor_push_max_age_secs = parsed(form, "vendorPushMaxAgeSecs")?;
    settings.analysts_require_passkey = form.ticked("analystsRequirePasskey");
    settings.webhook_retry_hours = parsed(form, "webhookRetryHours")?;
    settings.retention.onboarding_frames_days = parsed(form, "retention.onboardingFramesDays")?;
    settings.retention.step_up_frames_days = parsed(form, "retention.stepUpFramesDays")?;
    settings.retention.records_days = parsed(form, "retention.recordsDays")?;
    Ok(settings)
}

pub async fn save(State(state): State<AppState>, viewer: Viewer, form: FormFields) -> Response {
    if let Err(refused) = viewer.may_submit(&state, Scope::Admin, &form) {
        return refused.into_response();
    }
    let lang = viewer.lang;
    let org_id = viewer.session.user.org_id.clone();
    let (current, updated_at) = match settings::get(&state, &org_id).await {
        Ok(found) => found,
        Err(e) => return PageError::from(e).with_lang(lang).into_response(),
    };
    let wanted = match read_form(&form, current) {
        Ok(wanted) => wanted,
        Err(why) => return render(&viewer, &current, updated_at.as_deref(), Notice::NotSaved(&why), Some(&form)),
    };
    match settings::change(&state, &viewer.session.actor(), |_| wanted).await {
        Ok((saved, updated_at)) => render(&viewer, &saved, updated_at.as_deref(), Notice::Saved, None),
        Err(e) => match form_mistake(e) {
            Ok(why) => render(&viewer, &current, updated_at.as_deref(), Notice::NotSaved(&why), Some(&form)),
            Err(page_error) => page_error.with_lang(lang).into_response(),
        },
    }
}
