//! Customers: the blind-index search, a customer's profile (claims, the tier ladder, the
//! verification timeline, enrollments, attempts), and erasure for admins behind a typed
//! confirmation.

use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::i18n::{Lang, Msg};
use super::layout::{page, when};
use super::{PageError, Viewer};
use crate::auth::Scope;
use crate::service::customers::{self, Profile};
use crate::service::{erasure, review_evidence, search};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct SearchForm {
    q: Option<String>,
    erased: Option<String>,
}

pub async fn list(State(state): State<AppState>, viewer: Viewer, Query(form): Query<SearchForm>) -> Response {
    if let Err(refused) = viewer.require(Scope::Internal) {
        return refused.into_response();
    }
    let lang = viewer.lang;
    let typed = form.q.as_deref().unwrap_or("").trim().to_string();
    let (hits, error) = if typed.is_empty() {
        (Vec::new(), None)
    } else {
        let found = match search::query(Some(&typed)) {
            Ok(q) => search::customers(&state, &viewer.session.actor(), q, search::MAX_RESULTS).await,
            Err(e) => Err(e),
        };
        match found {
            Ok(hits) => (hits, None),
            Err(crate::service::Error::InvalidField { message, .. }) => (Vec::new(), Some(message)),
            Err(e) => return PageError::from(e).with_lang(lang).into_response(),
        }
    };
    let body = html! {
        @if let Some(erased) = &form.erased {
            p.ok #erased-notice role="status" { (Msg::CustomerErased.text(lang)) " " code { (erased) } }
        }
        form #customer-search method="get" action="/dashboard/customers" role="search" {
            label for="q" { (Msg::SearchHint.text(lang)) }
            input #q name="q" type="search" value=(typed) maxlength="200";
            button type="submit" { (Msg::Search.text(lang)) }
        }
        @if let Some(error) = error {
            p.error role="alert" { "q: " (error) }
        }
        @if !typed.is_empty() && hits.is_empty() {
            p.muted #no-customers { (Msg::NothingHere.text(lang)) }
        }
        @if !hits.is_empty() {
            table #customers {
                thead { tr { th { (Msg::Name.text(lang)) } th { "ID" } th { (Msg::Tier.text(lang)) }
                    th { (Msg::MatchedOn.text(lang)) } th { (Msg::Created.text(lang)) } } }
                tbody {
                    @for hit in &hits {
                        tr {
                            td { a.customer-link href=(format!("/dashboard/customers/{}", hit.row.id)) { (hit.pii.full_name) } }
                            td { code { (hit.row.id) } }
                            td { (hit.row.tier) }
                            td { @for on in &hit.matched_on { span.chip { (format!("{on:?}")) } " " } }
                            td { (when(&hit.row.created_at)) }
                        }
                    }
                }
            }
        }
    };
    Html(page(&viewer, "/dashboard/customers", Msg::Customers, body).into_string()).into_response()
}

pub async fn show(State(state): State<AppState>, viewer: Viewer, Path(id): Path<String>) -> Response {
    if let Err(refused) = viewer.require(Scope::Internal) {
        return refused.into_response();
    }
    match customers::profile(&state, &viewer.session.actor(), &id).await {
        Ok(profile) => profile_page(&viewer, &profile, None).into_response(),
        Err(e) => PageError::from(e).with_lang(viewer.lang).into_response(),
    }
}

fn profile_page(viewer: &Viewer, profile: &Profile, erase_error: Option<&str>) -> Html<String> {
    let lang = viewer.lang;
    let (row, pii, progress) = (&profile.row, &profile.pii, &profile.progress);
    let body = html! {
        dl.facts #customer {
            dt { (Msg::Name.text(lang)) } dd #customer-name { (pii.full_name) }
            dt { "ID" } dd { code { (row.id) } }
            @if let Some(external) = &row.external_ref { dt { "externalRef" } dd { (external) } }
            @if let Some(nik) = &pii.nik { dt { "NIK" } dd { (nik) } }
            @if let Some(dob) = &pii.date_of_birth { dt { (Msg::DateOfBirth.text(lang)) } dd { (dob) } }
            @if let Some(email) = &pii.email { dt { (Msg::Email.text(lang)) } dd { (email) } }
            @if let Some(phone) = &pii.phone { dt { (Msg::Phone.text(lang)) } dd { (phone) } }
            dt { (Msg::Created.text(lang)) } dd { (when(&row.created_at)) }
        }
        section aria-labelledby="ladder-title" {
            h2 #ladder-title { (Msg::TierLadder.text(lang)) }
            p #tier { (Msg::Tier.text(lang)) ": " strong { (progress.tier.as_str()) }
                @if let Some(next) = progress.next_tier { " → " (next.as_str()) } }
            ul.ladder #tier-ladder {
                @for met in &progress.met { li.met { "✓ " (met.description()) } }
                @for missing in &progress.missing { li.missing { "○ " (missing.description()) } }
            }
        }
        section aria-labelledby="timeline-title" {
            h2 #timeline-title { (Msg::Timeline.text(lang)) }
            @if profile.history.is_empty() { p.muted { (Msg::NothingHere.text(lang)) } }
            ol.timeline #timeline {
                @for v in &profile.history {
                    li class=(v.status) {
                        (when(&v.created_at)) " · " strong { (v.kind) } " · " (v.status)
                        @for reason in serde_json::from_str::<Vec<String>>(&v.reasons).unwrap_or_default() {
                            " " span.chip { (reason) }
                        }
                        " · " code { (v.actor_user_id.as_deref().unwrap_or(&v.actor)) }
                    }
                }
            }
        }
        section aria-labelledby="enrollments-title" {
            h2 #enrollments-title { (Msg::Enrollments.text(lang)) }
            (enrollments(lang, profile))
        }
        section aria-labelledby="attempts-title" {
            h2 #attempts-title { (Msg::Attempts.text(lang)) }
            (attempts(lang, profile))
        }
        @if viewer.session.role.scopes().contains(&Scope::Admin) {
            section aria-labelledby="erase-title" {
                h2 #erase-title { (Msg::Erase.text(lang)) }
                p { (Msg::EraseWarning.text(lang)) }
                @if let Some(error) = erase_error { p.error #erase-error role="alert" { (error) } }
                form #erase-form method="post" action=(format!("/dashboard/customers/{}/erase", row.id)) {
                    input type="hidden" name="csrf" value=(viewer.csrf);
                    label for="confirm" { (Msg::EraseConfirm.text(lang)) " " code { (row.id) } }
                    input #confirm name="confirm" type="text" autocomplete="off" required;
                    label for="erase-reason" { (Msg::EraseReason.text(lang)) }
                    input #erase-reason name="reason" type="text" maxlength="500";
                    button.danger #erase-submit type="submit" { (Msg::Erase.text(lang)) }
                }
            }
        }
    };
    Html(page(viewer, "/dashboard/customers", Msg::Customer, body).into_string())
}

/// Each enrollment with a thumbnail of the image it was made from, while one is kept (every
/// thumbnail a request of its own, decrypted on demand and audited).
fn enrollments(lang: Lang, profile: &Profile) -> Markup {
    html! {
        @if profile.enrollments.is_empty() { p.muted { (Msg::NothingHere.text(lang)) } } @else {
            table #enrollments {
                thead { tr { th { (Msg::Image.text(lang)) } th { "ID" } th { (Msg::Source.text(lang)) }
                    th { (Msg::Status.text(lang)) } th { (Msg::Model.text(lang)) } th { (Msg::Created.text(lang)) } } }
                tbody {
                    @for e in &profile.enrollments {
                        tr {
                            td { @if e.image_sha256.is_some() && e.retired_at.is_none() {
                                img.thumb.card[e.source == "ktp_extract"] src=(format!("/dashboard/customers/{}/enrollments/{}/image", profile.row.id, e.id))
                                    alt=(e.source) loading="lazy";
                            } }
                            td { code { (e.id) } } td { (e.source) } td { (e.status) } td { (e.model_id) }
                            td { (when(&e.created_at)) }
                        }
                    }
                }
            }
        }
    }
}

/// The image an enrollment was made from, decrypted for this request (never cached).
pub async fn enrollment_image(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, enrollment_id)): Path<(String, String)>,
) -> Response {
    if let Err(refused) = viewer.require(Scope::Internal) {
        return refused.into_response();
    }
    match review_evidence::enrollment_image(&state, &viewer.session.actor(), &id, &enrollment_id).await {
        Ok((media_type, bytes)) => ([super::content_type(media_type)], bytes).into_response(),
        Err(e) => PageError::from(e).with_lang(viewer.lang).into_response(),
    }
}

fn attempts(lang: Lang, profile: &Profile) -> Markup {
    html! {
        @if profile.attempts.is_empty() { p.muted { (Msg::NothingHere.text(lang)) } } @else {
            table #attempts {
                thead { tr { th { (Msg::Kind.text(lang)) } th { (Msg::Verdict.text(lang)) } th { (Msg::Reasons.text(lang)) }
                    th { (Msg::Latency.text(lang)) } th { (Msg::Time.text(lang)) } } }
                tbody {
                    @for a in &profile.attempts {
                        tr { td { (a.kind) } td { (a.outcome) }
                            td { @for reason in serde_json::from_str::<Vec<String>>(&a.reasons).unwrap_or_default() {
                                span.chip { (reason) } " " } }
                            td { (a.latency_ms) " ms" } td { (when(&a.created_at)) } }
                    }
                }
            }
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct EraseForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    confirm: String,
    #[serde(default)]
    reason: String,
}

/// Erases the customer (admins only) once the id is typed back; a mistyped confirmation shows
/// the profile again and erases nothing.
pub async fn erase(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    form: Result<Form<EraseForm>, FormRejection>,
) -> Response {
    if let Err(refused) = viewer.require(Scope::Admin) {
        return refused.into_response();
    }
    let form = form.map(|Form(form)| form).unwrap_or_default();
    if let Err(refused) = viewer.check_csrf(&state, &form.csrf) {
        return refused.into_response();
    }
    let lang = viewer.lang;
    if form.confirm.trim() != id {
        return match customers::profile(&state, &viewer.session.actor(), &id).await {
            Ok(profile) => {
                (StatusCode::BAD_REQUEST, profile_page(&viewer, &profile, Some(Msg::EraseMistyped.text(lang))))
                    .into_response()
            }
            Err(e) => PageError::from(e).with_lang(lang).into_response(),
        };
    }
    let reason = Some(form.reason.trim().to_string()).filter(|r| !r.is_empty());
    match erasure::erase(&state, &viewer.session.actor(), &id, reason).await {
        Ok(_) => Redirect::to(&format!("/dashboard/customers?erased={id}")).into_response(),
        Err(e) => PageError::from(e).with_lang(lang).into_response(),
    }
}
