//! Tier events: every change of a customer's tier, newest first, by customer and from a day.

use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use maud::html;
use serde::Deserialize;

use super::i18n::Msg;
use super::layout::{page, when};
use super::{day_bound, PageError, Viewer};
use crate::auth::Scope;
use crate::error::ApiError;
use crate::extract::PageQuery;
use crate::state::AppState;
use crate::store::tier_events;

#[derive(Debug, Default, Deserialize)]
pub struct TierEventQuery {
    #[serde(default)]
    customer: String,
    /// A day (`YYYY-MM-DD`): events from its start.
    #[serde(default)]
    since: String,
    cursor: Option<String>,
}

pub async fn list(State(state): State<AppState>, viewer: Viewer, Query(query): Query<TierEventQuery>) -> Response {
    if let Err(refused) = viewer.require(Scope::Internal) {
        return refused.into_response();
    }
    let lang = viewer.lang;
    let customer = Some(query.customer.trim()).filter(|c| !c.is_empty());
    let listed = async {
        let since = day_bound("since", &query.since, false)?;
        let page = PageQuery { limit: Some("100".into()), cursor: query.cursor.clone() }.page()?;
        let mut conn = state.store.reader().acquire().await.map_err(ApiError::from)?;
        let org_id = &viewer.session.user.org_id;
        let listed =
            tier_events::list(&mut conn, org_id, customer, since.as_deref(), &page).await.map_err(ApiError::from)?;
        Ok::<_, PageError>(listed)
    };
    let (rows, next_cursor) = match listed.await {
        Ok(found) => found,
        Err(e) => return e.with_lang(lang).into_response(),
    };
    let next = next_cursor.map(|cursor| {
        let params = [("customer", query.customer.as_str()), ("since", query.since.as_str()), ("cursor", &cursor)];
        format!("/dashboard/tier-events?{}", serde_urlencoded::to_string(params).unwrap_or_default())
    });
    let body = html! {
        form #tier-event-filter method="get" action="/dashboard/tier-events" {
            label { (Msg::Customer.text(lang)) input name="customer" type="text" value=(query.customer); }
            label { (Msg::Since.text(lang)) input name="since" type="date" value=(query.since); }
            button type="submit" { (Msg::Filter.text(lang)) }
        }
        @if rows.is_empty() {
            p.muted #no-tier-events { (Msg::NothingHere.text(lang)) }
        } @else {
            table #tier-events {
                thead { tr { th { (Msg::Time.text(lang)) } th { (Msg::Customer.text(lang)) } th { (Msg::Tier.text(lang)) }
                    th { (Msg::Reason.text(lang)) } th { (Msg::Actor.text(lang)) } } }
                tbody {
                    @for event in &rows {
                        tr {
                            td { (when(&event.created_at)) }
                            td { a href=(format!("/dashboard/customers/{}", event.customer_id)) { code { (event.customer_id) } } }
                            td { (event.from_tier) " → " strong { (event.to_tier) } }
                            td { (event.reason) }
                            td { code { (event.actor) } }
                        }
                    }
                }
            }
        }
        @if let Some(next) = next {
            p { a href=(next) { (Msg::NextPage.text(lang)) } }
        }
    };
    Html(page(&viewer, "/dashboard/tier-events", Msg::TierEvents, body).into_string()).into_response()
}
