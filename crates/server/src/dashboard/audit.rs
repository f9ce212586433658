//! The audit log with its filters, and "verify chain": the check `kenali audit verify` runs,
//! for the person's organization.

use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::account::CsrfForm;
use super::i18n::Msg;
use super::layout::{json_code, page, when};
use super::{day_bound, PageError, Viewer};
use crate::auth::Scope;
use crate::error::ApiError;
use crate::extract::PageQuery;
use crate::service::audit_chain;
use crate::state::AppState;
use crate::store::audit::{self, AuditFilter};

#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    action: String,
    #[serde(default)]
    actor: String,
    #[serde(default)]
    target: String,
    /// A day (`YYYY-MM-DD`, the date picker's value): from its start.
    #[serde(default)]
    since: String,
    /// A day: to its end.
    #[serde(default)]
    until: String,
    cursor: Option<String>,
}

fn non_empty(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_string())
}

pub async fn log(State(state): State<AppState>, viewer: Viewer, Query(query): Query<AuditQuery>) -> Response {
    if let Err(refused) = viewer.require(Scope::Internal) {
        return refused.into_response();
    }
    match log_body(&state, &viewer, &query, None).await {
        Ok(body) => Html(page(&viewer, "/dashboard/audit", Msg::AuditLog, body).into_string()).into_response(),
        Err(e) => e.with_lang(viewer.lang).into_response(),
    }
}

async fn log_body(
    state: &AppState,
    viewer: &Viewer,
    query: &AuditQuery,
    verified: Option<Markup>,
) -> Result<Markup, PageError> {
    let lang = viewer.lang;
    let filter = AuditFilter {
        action: non_empty(&query.action),
        target: non_empty(&query.target),
        actor: non_empty(&query.actor),
        since: day_bound("since", &query.since, false)?,
        until: day_bound("until", &query.until, true)?,
    };
    let page = PageQuery { limit: Some("100".into()), cursor: query.cursor.clone() }.page()?;
    let before_seq = page
        .cursor
        .as_deref()
        .map(|c| c.parse::<i64>().map_err(|_| ApiError::invalid_field("cursor", "is not a cursor this server issued")))
        .transpose()?;
    let mut conn = state.store.reader().acquire().await.map_err(ApiError::from)?;
    let (rows, next_cursor) = audit::list(&mut conn, &viewer.session.user.org_id, &filter, before_seq, page.limit)
        .await
        .map_err(ApiError::from)?;
    let next = next_cursor.map(|cursor| {
        let params = [
            ("action", query.action.as_str()),
            ("actor", query.actor.as_str()),
            ("target", query.target.as_str()),
            ("since", query.since.as_str()),
            ("until", query.until.as_str()),
            ("cursor", cursor.as_str()),
        ];
        format!("/dashboard/audit?{}", serde_urlencoded::to_string(params).unwrap_or_default())
    });
    Ok(html! {
        @if let Some(verified) = verified { (verified) }
        form #verify-chain method="post" action="/dashboard/audit/verify" {
            input type="hidden" name="csrf" value=(viewer.csrf);
            button #verify-chain-button type="submit" { (Msg::VerifyChain.text(lang)) }
        }
        form #audit-filter method="get" action="/dashboard/audit" {
            label { (Msg::Action.text(lang)) input name="action" type="text" value=(query.action); }
            label { (Msg::Actor.text(lang)) input name="actor" type="text" value=(query.actor); }
            label { (Msg::Target.text(lang)) input name="target" type="text" value=(query.target); }
            label { (Msg::Since.text(lang)) input name="since" type="date" value=(query.since); }
            label { (Msg::Until.text(lang)) input name="until" type="date" value=(query.until); }
            button type="submit" { (Msg::Filter.text(lang)) }
        }
        @if rows.is_empty() {
            p.muted { (Msg::NothingHere.text(lang)) }
        } @else {
            table #audit-log {
                thead { tr { th { "#" } th { (Msg::Time.text(lang)) } th { (Msg::Actor.text(lang)) }
                    th { (Msg::Action.text(lang)) } th { (Msg::Target.text(lang)) } th { (Msg::Details.text(lang)) } } }
                tbody {
                    @for (entry, _hash) in &rows {
                        tr data-action=(entry.action) {
                            td { (entry.seq) }
                            td { (when(&entry.created_at)) }
                            td { code { (entry.actor) } }
                            td { (entry.action) }
                            td { code { (entry.target) } }
                            td { (json_code(&serde_json::from_str(&entry.details).unwrap_or(serde_json::Value::Null))) }
                        }
                    }
                }
            }
        }
        @if let Some(next) = next {
            p { a href=(next) { (Msg::NextPage.text(lang)) } }
        }
    })
}

/// Runs the chain check over the person's organization and shows the log under its result.
pub async fn verify(State(state): State<AppState>, viewer: Viewer, Form(form): Form<CsrfForm>) -> Response {
    if let Err(refused) = viewer.require(Scope::Internal) {
        return refused.into_response();
    }
    if let Err(refused) = viewer.check_csrf(&state, &form.csrf) {
        return refused.into_response();
    }
    let lang = viewer.lang;
    let org_id = viewer.session.user.org_id.clone();
    let result = match audit_chain::verify(&state.store, Some(&org_id)).await {
        Ok(result) => result,
        Err(e) => return PageError::from(e).with_lang(lang).into_response(),
    };
    let banner = match result {
        Ok(report) => {
            let count = report.orgs.iter().map(|(_, n)| *n).sum::<u64>();
            html! { p.ok #chain-result role="status" { (Msg::ChainIntact.text(lang)) ": " (count) " " (Msg::Entries.text(lang)) } }
        }
        Err(broken) => {
            html! { p.error #chain-result role="alert" { (Msg::ChainBroken.text(lang)) ": " (broken.to_string()) } }
        }
    };
    match log_body(&state, &viewer, &AuditQuery::default(), Some(banner)).await {
        Ok(body) => Html(page(&viewer, "/dashboard/audit", Msg::AuditLog, body).into_string()).into_response(),
        Err(e) => e.with_lang(lang).into_response(),
    }
}
