//! Webhook endpoints (admin): `GET/POST /api/identity/webhooks`, `PATCH/DELETE
//! /api/identity/webhooks/{id}`, `POST .../{id}/test`, `GET .../{id}/deliveries` and
//! `POST .../{id}/deliveries/{eventId}/redeliver`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use kenali_core::id::{new_id, IdKind};
use kenali_core::time_fmt::{format_timestamp, now_timestamp};
use kenali_core::webhook::EVENT_TYPES;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::auth::Scope;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, Auth, PageQuery};
use crate::ledger::{self, Actor};
use crate::middleware::CarriesSecret;
use crate::state::AppState;
use crate::store::events::{self, kind};
use crate::store::org_settings;
use crate::store::webhooks::{self, DeliveryView, WebhookRow};
use crate::views::ListView;
use crate::webhooks::{check_target_url, generate_secret, secret_context};

const DESCRIPTION_MAX: usize = 500;

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookView {
    id: String,
    url: String,
    description: Option<String>,
    events: Vec<String>,
    enabled: bool,
    created_at: String,
    updated_at: String,
}

impl From<&WebhookRow> for WebhookView {
    fn from(w: &WebhookRow) -> Self {
        WebhookView {
            id: w.id.clone(),
            url: w.url.clone(),
            description: w.description.clone(),
            events: w.events.clone(),
            enabled: w.enabled,
            created_at: w.created_at.clone(),
            updated_at: w.updated_at.clone(),
        }
    }
}

/// `{"webhook": {...}}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct WebhookEnvelope {
    webhook: WebhookView,
}

/// A new endpoint with its signing secret, shown this once.
#[derive(Serialize, utoipa::ToSchema)]
pub struct WebhookCreated {
    webhook: WebhookView,
    /// `qe_whsec_...`
    secret: String,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeletedWebhook {
    id: String,
    deleted_at: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct WebhookDeleted {
    webhook: DeletedWebhook,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct QueuedEvent {
    id: String,
    #[serde(rename = "type")]
    event_type: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TestQueued {
    event: QueuedEvent,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueuedDelivery {
    event_id: String,
    webhook_id: String,
    /// `pending`
    status: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RedeliveryQueued {
    delivery: QueuedDelivery,
}

async fn checked_url(state: &AppState, url: &str) -> ApiResult<String> {
    check_target_url(url, state.config.webhook_allow_private).await.map_err(|e| ApiError::invalid_field("url", e))
}

fn checked_events(events: Option<Vec<String>>) -> ApiResult<Vec<String>> {
    let Some(events) = events else {
        // Every event but the test one, which only goes where it is sent.
        return Ok(EVENT_TYPES.iter().filter(|e| **e != kind::WEBHOOK_TEST).map(|e| e.to_string()).collect());
    };
    if events.is_empty() {
        return Err(ApiError::invalid_field("events", "must name at least one event type"));
    }
    if let Some(unknown) = events.iter().find(|e| !EVENT_TYPES.contains(&e.as_str())) {
        return Err(ApiError::invalid_field(
            "events",
            format!("{unknown:?} is not an event type (one of {})", EVENT_TYPES.join(", ")),
        ));
    }
    let mut unique = events;
    unique.sort();
    unique.dedup();
    Ok(unique)
}

fn checked_description(description: Option<String>) -> ApiResult<Option<String>> {
    let description = description.map(|d| d.trim().to_string()).filter(|d| !d.is_empty());
    if description.as_ref().is_some_and(|d| d.chars().count() > DESCRIPTION_MAX) {
        return Err(ApiError::invalid_field("description", format!("must be at most {DESCRIPTION_MAX} characters")));
    }
    Ok(description)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateWebhook {
    url: String,
    events: Option<Vec<String>>,
    description: Option<String>,
    enabled: Option<bool>,
}

#[utoipa::path(post, path = "/api/identity/webhooks", tag = "webhooks", request_body = CreateWebhook, responses((status = 201, description = "the endpoint and its secret, shown once", body = WebhookCreated), crate::error::ErrorResponse))]
pub async fn create(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<CreateWebhook>,
) -> ApiResult<(StatusCode, Extension<CarriesSecret>, Json<WebhookCreated>)> {
    let principal = auth.require(Scope::Admin)?;
    let url = checked_url(&state, &body.url).await?;
    let events = checked_events(body.events)?;
    let description = checked_description(body.description)?;
    let secret = generate_secret();
    let id = new_id(IdKind::Webhook);
    let now = now_timestamp();
    let sealed = state.keys.webhook.seal(secret.as_bytes(), &secret_context(&id));
    let row = WebhookRow {
        id,
        org_id: principal.org_id.clone(),
        url,
        description,
        events,
        secret_sealed: hex::encode(sealed),
        enabled: body.enabled.unwrap_or(true),
        created_at: now.clone(),
        updated_at: now,
    };
    let mut tx = state.store.begin().await?;
    webhooks::insert(&mut tx, &row).await?;
    let actor = Actor::from_principal(principal);
    ledger::audit(&mut tx, &actor, "webhook.created", &row.id, json!({"url": row.url, "events": row.events})).await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Extension(CarriesSecret),
        Json(WebhookCreated { webhook: WebhookView::from(&row), secret }),
    ))
}

#[utoipa::path(get, path = "/api/identity/webhooks", tag = "webhooks", responses((status = 200, description = "the endpoints", body = ListView<WebhookView>), crate::error::ErrorResponse))]
pub async fn list(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<ListView<WebhookView>>> {
    let principal = auth.require(Scope::Admin)?;
    let mut conn = state.store.reader().acquire().await?;
    let rows = webhooks::list(&mut conn, &principal.org_id).await?;
    Ok(Json(ListView { data: rows.iter().map(WebhookView::from).collect(), next_cursor: None }))
}

async fn load(state: &AppState, org_id: &str, id: &str) -> ApiResult<WebhookRow> {
    let mut conn = state.store.reader().acquire().await?;
    webhooks::find(&mut conn, org_id, id).await?.ok_or_else(|| ApiError::not_found("webhook"))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateWebhook {
    url: Option<String>,
    events: Option<Vec<String>>,
    description: Option<String>,
    enabled: Option<bool>,
}

#[utoipa::path(patch, path = "/api/identity/webhooks/{id}", tag = "webhooks", params(("id" = String, Path, description = "webhook id (wh_...)")), request_body = UpdateWebhook, responses((status = 200, description = "the endpoint as changed", body = WebhookEnvelope), crate::error::ErrorResponse))]
pub async fn update(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateWebhook>,
) -> ApiResult<Json<WebhookEnvelope>> {
    let principal = auth.require(Scope::Admin)?;
    let mut row = load(&state, &principal.org_id, &id).await?;
    if let Some(url) = body.url {
        row.url = checked_url(&state, &url).await?;
    }
    if body.events.is_some() {
        row.events = checked_events(body.events)?;
    }
    if body.description.is_some() {
        row.description = checked_description(body.description)?;
    }
    row.enabled = body.enabled.unwrap_or(row.enabled);
    row.updated_at = now_timestamp();
    let mut tx = state.store.begin().await?;
    webhooks::update(&mut tx, &row).await?;
    let actor = Actor::from_principal(principal);
    let details = json!({"url": row.url, "events": row.events, "enabled": row.enabled});
    ledger::audit(&mut tx, &actor, "webhook.updated", &row.id, details).await?;
    tx.commit().await?;
    Ok(Json(WebhookEnvelope { webhook: WebhookView::from(&row) }))
}

#[utoipa::path(delete, path = "/api/identity/webhooks/{id}", tag = "webhooks", params(("id" = String, Path, description = "webhook id (wh_...)")), responses((status = 200, description = "deleted", body = WebhookDeleted), crate::error::ErrorResponse))]
pub async fn delete(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<WebhookDeleted>> {
    let principal = auth.require(Scope::Admin)?;
    let row = load(&state, &principal.org_id, &id).await?;
    let now = now_timestamp();
    let mut tx = state.store.begin().await?;
    webhooks::delete(&mut tx, &principal.org_id, &row.id, &now).await?;
    let actor = Actor::from_principal(principal);
    ledger::audit(&mut tx, &actor, "webhook.deleted", &row.id, json!({"url": row.url})).await?;
    tx.commit().await?;
    Ok(Json(WebhookDeleted { webhook: DeletedWebhook { id: row.id, deleted_at: now } }))
}

/// Sends a `webhook.test` event to this endpoint only (even when disabled).
#[utoipa::path(post, path = "/api/identity/webhooks/{id}/test", tag = "webhooks", params(("id" = String, Path, description = "webhook id (wh_...)")), responses((status = 202, description = "a webhook.test event queued", body = TestQueued), crate::error::ErrorResponse))]
pub async fn test(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<TestQueued>)> {
    let principal = auth.require(Scope::Admin)?;
    let row = load(&state, &principal.org_id, &id).await?;
    let mut tx = state.store.begin().await?;
    let data = json!({"webhookId": row.id, "message": "a test delivery from Kenali"});
    let event_id = events::publish_to(&mut tx, &principal.org_id, kind::WEBHOOK_TEST, data, Some(&row.id)).await?;
    tx.commit().await?;
    let event = QueuedEvent { id: event_id, event_type: kind::WEBHOOK_TEST.to_string() };
    Ok((StatusCode::ACCEPTED, Json(TestQueued { event })))
}

/// The endpoint's delivery log, newest first: status, attempts, last answer, latency, next retry.
#[utoipa::path(get, path = "/api/identity/webhooks/{id}/deliveries", tag = "webhooks", params(("id" = String, Path, description = "webhook id (wh_...)"), PageQuery), responses((status = 200, description = "the delivery log, newest first", body = ListView<DeliveryView>), crate::error::ErrorResponse))]
pub async fn deliveries(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<ListView<DeliveryView>>> {
    let principal = auth.require(Scope::Admin)?;
    let page = page.page()?;
    let row = load(&state, &principal.org_id, &id).await?;
    let mut conn = state.store.reader().acquire().await?;
    let data = webhooks::deliveries(&mut conn, &row.id, page.limit).await?;
    Ok(Json(ListView { data, next_cursor: None }))
}

/// Queues a failed delivery again, due now, with a fresh retry window.
#[utoipa::path(post, path = "/api/identity/webhooks/{id}/deliveries/{event_id}/redeliver", tag = "webhooks", params(("id" = String, Path, description = "webhook id (wh_...)"), ("event_id" = String, Path, description = "event id (evt_...)")), responses((status = 202, description = "queued again", body = RedeliveryQueued), crate::error::ErrorResponse))]
pub async fn redeliver(
    State(state): State<AppState>,
    auth: Auth,
    Path((id, event_id)): Path<(String, String)>,
) -> ApiResult<(StatusCode, Json<RedeliveryQueued>)> {
    let principal = auth.require(Scope::Admin)?;
    let row = load(&state, &principal.org_id, &id).await?;
    let now = time::OffsetDateTime::now_utc();
    let mut tx = state.store.begin().await?;
    let (settings, _) = org_settings::get(&mut tx, &principal.org_id).await?;
    let give_up_at = format_timestamp(now + time::Duration::hours(i64::from(settings.webhook_retry_hours)));
    if !webhooks::redeliver(&mut tx, &row.id, &event_id, &format_timestamp(now), &give_up_at).await? {
        return Err(ApiError::conflict("not_failed", "no failed delivery of this event to this endpoint"));
    }
    let actor = Actor::from_principal(principal);
    ledger::audit(&mut tx, &actor, "webhook.redelivered", &row.id, json!({"eventId": event_id})).await?;
    tx.commit().await?;
    let delivery = QueuedDelivery { event_id, webhook_id: row.id, status: "pending".into() };
    Ok((StatusCode::ACCEPTED, Json(RedeliveryQueued { delivery })))
}
