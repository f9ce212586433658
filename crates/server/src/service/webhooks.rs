//! An org's webhook endpoints (admin, through the API or the dashboard): create with a signing
//! secret shown once, change, delete, send a test event, read the delivery log and queue a
//! failed delivery again. Every change is audited.

use kenali_core::id::{new_id, IdKind};
use kenali_core::time_fmt::format_timestamp;
use kenali_core::webhook::EVENT_TYPES;
use serde_json::json;

use crate::ledger::{self, Actor};
use crate::service::{Error, Result};
use crate::state::AppState;
use crate::store::events::{self, kind};
use crate::store::org_settings;
use crate::store::webhooks::{self, DeliveryView, WebhookRow};
use crate::store::StoreError;
use crate::webhooks::{check_target_url, generate_secret, secret_context};

const DESCRIPTION_MAX: usize = 500;

/// What an endpoint is to be (on create) or to become (on change: `None` keeps the value).
#[derive(Debug, Default)]
pub struct EndpointChange {
    pub url: Option<String>,
    /// `Some(None)` on change: every event type.
    pub events: Option<Option<Vec<String>>>,
    pub description: Option<Option<String>>,
    pub enabled: Option<bool>,
}

/// A new endpoint and its signing secret (`qe_whsec_...`), shown this once.
pub struct NewEndpoint {
    pub webhook: WebhookRow,
    pub secret: String,
}

pub async fn list(state: &AppState, org_id: &str) -> Result<Vec<WebhookRow>> {
    let mut conn = state.store.reader().acquire().await?;
    Ok(webhooks::list(&mut conn, org_id).await?)
}

pub async fn find(state: &AppState, org_id: &str, id: &str) -> Result<WebhookRow> {
    let mut conn = state.store.reader().acquire().await?;
    webhooks::find(&mut conn, org_id, id).await?.ok_or(Error::NotFound("webhook"))
}

pub async fn create(state: &AppState, actor: &Actor, endpoint: EndpointChange) -> Result<NewEndpoint> {
    let url = checked_url(state, endpoint.url.as_deref().unwrap_or("")).await?;
    let events = checked_events(endpoint.events.flatten())?;
    let description = checked_description(endpoint.description.flatten())?;
    let secret = generate_secret();
    let id = new_id(IdKind::Webhook);
    let now = state.clock.now_timestamp();
    let sealed = state.keys.webhook.seal(secret.as_bytes(), &secret_context(&id));
    let webhook = WebhookRow {
        id,
        org_id: actor.org_id.clone(),
        url,
        description,
        events,
        secret_sealed: hex::encode(sealed),
        enabled: endpoint.enabled.unwrap_or(true),
        created_at: now.clone(),
        updated_at: now,
    };
    let mut tx = state.store.begin().await?;
    webhooks::insert(&mut tx, &webhook).await?;
    let details = json!({"url": webhook.url, "events": webhook.events});
    ledger::audit(&mut tx, actor, "webhook.created", &webhook.id, details).await?;
    tx.commit().await?;
    Ok(NewEndpoint { webhook, secret })
}

/// Changes what `change` names, each value checked as on create.
pub async fn update(state: &AppState, actor: &Actor, id: &str, change: EndpointChange) -> Result<WebhookRow> {
    let mut row = find(state, &actor.org_id, id).await?;
    if let Some(url) = change.url {
        row.url = checked_url(state, &url).await?;
    }
    if let Some(events) = change.events {
        row.events = checked_events(events)?;
    }
    if let Some(description) = change.description {
        row.description = checked_description(description)?;
    }
    row.enabled = change.enabled.unwrap_or(row.enabled);
    row.updated_at = state.clock.now_timestamp();
    let mut tx = state.store.begin().await?;
    webhooks::update(&mut tx, &row).await?;
    let details = json!({"url": row.url, "events": row.events, "enabled": row.enabled});
    ledger::audit(&mut tx, actor, "webhook.updated", &row.id, details).await?;
    tx.commit().await?;
    Ok(row)
}

/// Deletes the endpoint; returns when. Its pending deliveries are not attempted again.
pub async fn delete(state: &AppState, actor: &Actor, id: &str) -> Result<(String, String)> {
    let row = find(state, &actor.org_id, id).await?;
    let now = state.clock.now_timestamp();
    let mut tx = state.store.begin().await?;
    webhooks::delete(&mut tx, &actor.org_id, &row.id, &now).await?;
    ledger::audit(&mut tx, actor, "webhook.deleted", &row.id, json!({"url": row.url})).await?;
    tx.commit().await?;
    Ok((row.id, now))
}

/// Queues a `webhook.test` event to this endpoint only (even when disabled); returns its id.
pub async fn send_test(state: &AppState, actor: &Actor, id: &str) -> Result<String> {
    let row = find(state, &actor.org_id, id).await?;
    let mut tx = state.store.begin().await?;
    let data = json!({"webhookId": row.id, "message": "a test delivery from Kenali"});
    let event_id = events::publish_to(&mut tx, &actor.org_id, kind::WEBHOOK_TEST, data, Some(&row.id)).await?;
    tx.commit().await?;
    Ok(event_id)
}

/// The endpoint's delivery log, newest first.
pub async fn deliveries(state: &AppState, org_id: &str, id: &str, limit: i64) -> Result<Vec<DeliveryView>> {
    let row = find(state, org_id, id).await?;
    let mut conn = state.store.reader().acquire().await?;
    Ok(webhooks::deliveries(&mut conn, &row.id, limit).await?)
}

/// Queues a failed delivery of `event_id` to this endpoint again, due now.
pub async fn redeliver(state: &AppState, actor: &Actor, id: &str, event_id: &str) -> Result<WebhookRow> {
    let row = find(state, &actor.org_id, id).await?;
    let mut tx = state.store.begin().await?;
    if !requeue_failed(&mut tx, &actor.org_id, &row.id, event_id).await? {
        return Err(Error::Conflict {
            code: "not_failed",
            message: "no failed delivery of this event to this endpoint".into(),
        });
    }
    ledger::audit(&mut tx, actor, "webhook.redelivered", &row.id, json!({"eventId": event_id})).await?;
    tx.commit().await?;
    Ok(row)
}

/// Makes a failed delivery due now with a fresh retry window (the org's
/// `webhookRetryHours`); false when there is no failed delivery of that event to that target.
pub async fn requeue_failed(
    conn: &mut sqlx::AnyConnection,
    org_id: &str,
    webhook_id: &str,
    event_id: &str,
) -> std::result::Result<bool, StoreError> {
    let now = time::OffsetDateTime::now_utc();
    let (settings, _) = org_settings::get(conn, org_id).await?;
    let give_up_at = format_timestamp(now + time::Duration::hours(i64::from(settings.webhook_retry_hours)));
    webhooks::redeliver(conn, webhook_id, event_id, &format_timestamp(now), &give_up_at).await
}

async fn checked_url(state: &AppState, url: &str) -> Result<String> {
    check_target_url(url, state.config.webhook_allow_private).await.map_err(|e| Error::invalid_field("url", e))
}

/// The event types an endpoint receives: every one but the test event when none is named.
fn checked_events(events: Option<Vec<String>>) -> Result<Vec<String>> {
    let Some(events) = events else {
        // The test event only goes where it is sent.
        return Ok(EVENT_TYPES.iter().filter(|e| **e != kind::WEBHOOK_TEST).map(|e| e.to_string()).collect());
    };
    if events.is_empty() {
        return Err(Error::invalid_field("events", "must name at least one event type"));
    }
    if let Some(unknown) = events.iter().find(|e| !EVENT_TYPES.contains(&e.as_str())) {
        return Err(Error::invalid_field(
            "events",
            format!("{unknown:?} is not an event type (one of {})", EVENT_TYPES.join(", ")),
        ));
    }
    let mut unique = events;
    unique.sort();
    unique.dedup();
    Ok(unique)
}

fn checked_description(description: Option<String>) -> Result<Option<String>> {
    let description = description.map(|d| d.trim().to_string()).filter(|d| !d.is_empty());
    if description.as_ref().is_some_and(|d| d.chars().count() > DESCRIPTION_MAX) {
        return Err(Error::invalid_field("description", format!("must be at most {DESCRIPTION_MAX} characters")));
    }
    Ok(description)
}
