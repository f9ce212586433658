//! Webhook endpoints (admins): the list with a form to add one (its signing secret shown once),
//! and each endpoint with its delivery log, redelivery of a failed delivery, a test event,
//! enable / disable and delete, through the same workflows as the API.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use kenali_core::webhook::EVENT_TYPES;
use maud::html;
use serde::Deserialize;

use super::i18n::Msg;
use super::layout::{page, when};
use super::{form_mistake, FormFields, PageError, Viewer};
use crate::auth::Scope;
use crate::service::webhooks::{self, EndpointChange, NewEndpoint};
use crate::state::AppState;
use crate::store::events::kind;

/// Deliveries shown of an endpoint's log.
const DELIVERIES_SHOWN: i64 = 100;

#[derive(Debug, Default, Deserialize)]
pub struct Notice {
    /// An event just queued (a test, a redelivery).
    queued: Option<String>,
    deleted: Option<String>,
}

pub async fn list(State(state): State<AppState>, viewer: Viewer, Query(notice): Query<Notice>) -> Response {
    if let Err(refused) = viewer.require(Scope::Admin) {
        return refused.into_response();
    }
    render_list(&state, &viewer, &notice, None, None).await
}

async fn render_list(
    state: &AppState,
    viewer: &Viewer,
    notice: &Notice,
    created: Option<&NewEndpoint>,
    error: Option<&str>,
) -> Response {
    let lang = viewer.lang;
    let endpoints = match webhooks::list(state, &viewer.session.user.org_id).await {
        Ok(endpoints) => endpoints,
        Err(e) => return PageError::from(e).with_lang(lang).into_response(),
    };
    let body = html! {
        @if let Some(deleted) = &notice.deleted {
            p.ok role="status" { (Msg::EndpointDeleted.text(lang)) " " code { (deleted) } }
        }
        @if let Some(created) = created {
            section.notice #new-secret role="status" {
                p { strong { (Msg::SigningSecret.text(lang)) } " · " code { (created.webhook.id) } }
                p { code #new-secret-value { (created.secret) } }
                p { (Msg::SecretOnce.text(lang)) }
            }
        }
        @if endpoints.is_empty() { p.muted { (Msg::NothingHere.text(lang)) } } @else {
            table #webhooks {
                thead { tr { th { "URL" } th { (Msg::Description.text(lang)) } th { (Msg::Events.text(lang)) }
                    th { (Msg::Status.text(lang)) } th { (Msg::Created.text(lang)) } } }
                tbody {
                    @for endpoint in &endpoints {
                        tr data-id=(endpoint.id) {
                            td { a href=(format!("/dashboard/webhooks/{}", endpoint.id)) { (endpoint.url) } }
                            td { (endpoint.description.as_deref().unwrap_or("")) }
                            td { @for event in &endpoint.events { span.chip { (event) } " " } }
                            td { (enabled_chip(viewer, endpoint.enabled)) }
                            td { (when(&endpoint.created_at)) }
                        }
                    }
                }
            }
        }
        form.inline-form #add-endpoint method="post" action="/dashboard/webhooks" {
            input type="hidden" name="csrf" value=(viewer.csrf);
            fieldset {
                legend { (Msg::AddEndpoint.text(lang)) }
                @if let Some(error) = error { p.error #endpoint-error role="alert" { (error) } }
                label for="endpoint-url" { (Msg::Url.text(lang)) }
                input #endpoint-url name="url" type="url" required maxlength="2000" placeholder="https://";
                label for="endpoint-description" { (Msg::Description.text(lang)) }
                input #endpoint-description name="description" type="text" maxlength="500";
                p.muted { (Msg::Events.text(lang)) " (" (Msg::EveryEvent.text(lang)) ")" }
                p {
                    @for event in EVENT_TYPES.iter().filter(|e| **e != kind::WEBHOOK_TEST) {
                        label.check { input type="checkbox" name="event" value=(event); " " (event) }
                    }
                }
                button type="submit" { (Msg::AddEndpoint.text(lang)) }
            }
        }
    };
    let status = if error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    (status, Html(page(viewer, "/dashboard/webhooks", Msg::Webhooks, body).into_string())).into_response()
}

fn enabled_chip(viewer: &Viewer, enabled: bool) -> maud::Markup {
    let lang = viewer.lang;
    html! {
        @if enabled { span.chip.passed { (Msg::Enabled.text(lang)) } } @else { span.chip { (Msg::Disabled.text(lang)) } }
    }
}

pub async fn create(State(state): State<AppState>, viewer: Viewer, form: FormFields) -> Response {
    if let Err(refused) = viewer.may_submit(&state, Scope::Admin, &form) {
        return refused.into_response();
    }
    let events = form.all("event");
    let endpoint = EndpointChange {
        url: Some(form.get("url").to_string()),
        events: Some(Some(events).filter(|events| !events.is_empty())),
        description: Some(Some(form.get("description").to_string())),
        enabled: Some(true),
    };
    let notice = Notice::default();
    match webhooks::create(&state, &viewer.session.actor(), endpoint).await {
        Ok(created) => render_list(&state, &viewer, &notice, Some(&created), None).await,
        Err(e) => match form_mistake(e) {
            Ok(message) => render_list(&state, &viewer, &notice, None, Some(&message)).await,
            Err(page_error) => page_error.with_lang(viewer.lang).into_response(),
        },
    }
}

pub async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(notice): Query<Notice>,
) -> Response {
    if let Err(refused) = viewer.require(Scope::Admin) {
        return refused.into_response();
    }
    let lang = viewer.lang;
    let org_id = &viewer.session.user.org_id;
    let found = async {
        let endpoint = webhooks::find(&state, org_id, &id).await?;
        let deliveries = webhooks::deliveries(&state, org_id, &id, DELIVERIES_SHOWN).await?;
        Ok::<_, crate::service::Error>((endpoint, deliveries))
    };
    let (endpoint, deliveries) = match found.await {
        Ok(found) => found,
        Err(e) => return PageError::from(e).with_lang(lang).into_response(),
    };
    let action = |name: &str| format!("/dashboard/webhooks/{}/{name}", endpoint.id);
    let body = html! {
        @if let Some(queued) = &notice.queued {
            p.ok #queued role="status" { (Msg::Queued.text(lang)) " " code { (queued) } }
        }
        dl.facts #endpoint {
            dt { "URL" } dd #endpoint-url { (endpoint.url) }
            dt { "ID" } dd { code { (endpoint.id) } }
            @if let Some(description) = &endpoint.description { dt { (Msg::Description.text(lang)) } dd { (description) } }
            dt { (Msg::Events.text(lang)) } dd { @for event in &endpoint.events { span.chip { (event) } " " } }
            dt { (Msg::Status.text(lang)) } dd #endpoint-status { (enabled_chip(&viewer, endpoint.enabled)) }
            dt { (Msg::Created.text(lang)) } dd { (when(&endpoint.created_at)) }
        }
        div.actions {
            form method="post" action=(action(if endpoint.enabled { "disable" } else { "enable" })) {
                input type="hidden" name="csrf" value=(viewer.csrf);
                button #toggle-endpoint type="submit" {
                    (if endpoint.enabled { Msg::Disable.text(lang) } else { Msg::Enable.text(lang) })
                }
            }
            form method="post" action=(action("test")) {
                input type="hidden" name="csrf" value=(viewer.csrf);
                button #send-test type="submit" { (Msg::SendTest.text(lang)) }
            }
            form method="post" action=(action("delete")) {
                input type="hidden" name="csrf" value=(viewer.csrf);
                label.check { input #confirm-delete type="checkbox" name="confirm" value="yes" required;
                    " " (Msg::DeleteConfirm.text(lang)) }
                button.danger #delete-endpoint type="submit" { (Msg::DeleteEndpoint.text(lang)) }
            }
        }
        h2 { (Msg::Deliveries.text(lang)) }
        @if deliveries.is_empty() { p.muted #no-deliveries { (Msg::NothingHere.text(lang)) } } @else {
            table #deliveries {
                thead { tr { th { (Msg::Event.text(lang)) } th { (Msg::Status.text(lang)) } th { (Msg::Attempts.text(lang)) }
                    th { (Msg::LastAnswer.text(lang)) } th { (Msg::Latency.text(lang)) } th { (Msg::NextAttempt.text(lang)) }
                    th { (Msg::Created.text(lang)) } th { (Msg::Actions.text(lang)) } } }
                tbody {
                    @for d in &deliveries {
                        tr class=(d.status) data-event=(d.event_id) {
                            td { code { (d.event_id) } br; (d.event_type) }
                            td { span.chip.(chip_class(&d.status)) { (d.status) } }
                            td { (d.attempts) }
                            td {
                                @if let Some(status) = d.last_status { "HTTP " (status) }
                                @if let Some(error) = &d.last_error { " " span.muted { (error) } }
                            }
                            td { @if let Some(ms) = d.last_latency_ms { (ms) " ms" } }
                            td { @if let Some(next) = &d.next_attempt_at { (when(next)) } }
                            td { (when(&d.created_at)) }
                            td {
                                @if d.status == "failed" {
                                    form method="post" action=(format!("/dashboard/webhooks/{}/deliveries/{}/redeliver", endpoint.id, d.event_id)) {
                                        input type="hidden" name="csrf" value=(viewer.csrf);
                                        button.redeliver type="submit" { (Msg::Redeliver.text(lang)) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Html(page(&viewer, "/dashboard/webhooks", Msg::Webhooks, body).into_string()).into_response()
}

fn chip_class(status: &str) -> &'static str {
    match status {
        "delivered" => "passed",
        "failed" => "failed",
        _ => "abstained",
    }
}

/// `enable`, `disable`, `test` or `delete`, each a form on the endpoint's page.
pub async fn act(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, action)): Path<(String, String)>,
    form: FormFields,
) -> Response {
    if let Err(refused) = viewer.may_submit(&state, Scope::Admin, &form) {
        return refused.into_response();
    }
    let actor = viewer.session.actor();
    let done = match action.as_str() {
        "enable" | "disable" => {
            let change = EndpointChange { enabled: Some(action == "enable"), ..EndpointChange::default() };
            webhooks::update(&state, &actor, &id, change).await.map(|_| format!("/dashboard/webhooks/{id}"))
        }
        "test" => webhooks::send_test(&state, &actor, &id)
            .await
            .map(|event_id| format!("/dashboard/webhooks/{id}?queued={event_id}")),
        // Its delivery log goes with it: the box must be ticked.
        "delete" if !form.ticked("confirm") => {
            let refused =
                PageError::new(StatusCode::BAD_REQUEST, "confirmation_required", Msg::DeleteConfirm.text(viewer.lang));
            return refused.with_lang(viewer.lang).into_response();
        }
        "delete" => webhooks::delete(&state, &actor, &id).await.map(|_| format!("/dashboard/webhooks?deleted={id}")),
        _ => {
            return PageError::new(StatusCode::NOT_FOUND, "not_found", "no such action")
                .with_lang(viewer.lang)
                .into_response()
        }
    };
    match done {
        Ok(to) => Redirect::to(&to).into_response(),
        Err(e) => PageError::from(e).with_lang(viewer.lang).into_response(),
    }
}

pub async fn redeliver(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, event_id)): Path<(String, String)>,
    form: FormFields,
) -> Response {
    if let Err(refused) = viewer.may_submit(&state, Scope::Admin, &form) {
        return refused.into_response();
    }
    match webhooks::redeliver(&state, &viewer.session.actor(), &id, &event_id).await {
        Ok(_) => Redirect::to(&format!("/dashboard/webhooks/{id}?queued={event_id}")).into_response(),
        Err(e) => PageError::from(e).with_lang(viewer.lang).into_response(),
    }
}
