//! Webhook endpoints (admin): `GET/POST /api/identity/webhooks`, `PATCH/DELETE
//! /api/identity/webhooks/{id}`, `POST .../{id}/test`, `GET .../{id}/deliveries` and
//! `POST .../{id}/deliveries/{eventId}/redeliver`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

use crate::auth::Scope;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiQuery, Auth, PageQuery};
use crate::ledger::Actor;
use crate::middleware::CarriesSecret;
use crate::service::webhooks::{self as service, EndpointChange};
use crate::state::AppState;
use crate::store::events::kind;
use crate::store::webhooks::{DeliveryView, WebhookRow};
use crate::views::ListView;

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
    let actor = Actor::from_principal(auth.require(Scope::Admin)?);
    let endpoint = EndpointChange {
        url: Some(body.url),
        events: Some(body.events),
        description: Some(body.description),
        enabled: body.enabled,
    };
    let created = service::create(&state, &actor, endpoint).await?;
    Ok((
        StatusCode::CREATED,
        Extension(CarriesSecret),
        Json(WebhookCreated { webhook: WebhookView::from(&created.webhook), secret: created.secret }),
    ))
}

#[utoipa::path(get, path = "/api/identity/webhooks", tag = "webhooks", responses((status = 200, description = "the endpoints", body = ListView<WebhookView>), crate::error::ErrorResponse))]
pub async fn list(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<ListView<WebhookView>>> {
    let principal = auth.require(Scope::Admin)?;
    let rows = service::list(&state, &principal.org_id).await?;
    Ok(Json(ListView { data: rows.iter().map(WebhookView::from).collect(), next_cursor: None }))
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
    let actor = Actor::from_principal(auth.require(Scope::Admin)?);
    let change = EndpointChange {
        url: body.url,
        events: body.events.map(Some),
        description: body.description.map(Some),
        enabled: body.enabled,
    };
    let row = service::update(&state, &actor, &id, change).await?;
    Ok(Json(WebhookEnvelope { webhook: WebhookView::from(&row) }))
}

#[utoipa::path(delete, path = "/api/identity/webhooks/{id}", tag = "webhooks", params(("id" = String, Path, description = "webhook id (wh_...)")), responses((status = 200, description = "deleted", body = WebhookDeleted), crate::error::ErrorResponse))]
pub async fn delete(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<WebhookDeleted>> {
    let actor = Actor::from_principal(auth.require(Scope::Admin)?);
    let (id, deleted_at) = service::delete(&state, &actor, &id).await?;
    Ok(Json(WebhookDeleted { webhook: DeletedWebhook { id, deleted_at } }))
}

/// Sends a `webhook.test` event to this endpoint only (even when disabled).
#[utoipa::path(post, path = "/api/identity/webhooks/{id}/test", tag = "webhooks", params(("id" = String, Path, description = "webhook id (wh_...)")), responses((status = 202, description = "a webhook.test event queued", body = TestQueued), crate::error::ErrorResponse))]
pub async fn test(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<TestQueued>)> {
    let actor = Actor::from_principal(auth.require(Scope::Admin)?);
    let event_id = service::send_test(&state, &actor, &id).await?;
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
    let data = service::deliveries(&state, &principal.org_id, &id, page.limit).await?;
    Ok(Json(ListView { data, next_cursor: None }))
}

/// Queues a failed delivery again, due now, with a fresh retry window.
#[utoipa::path(post, path = "/api/identity/webhooks/{id}/deliveries/{event_id}/redeliver", tag = "webhooks", params(("id" = String, Path, description = "webhook id (wh_...)"), ("event_id" = String, Path, description = "event id (evt_...)")), responses((status = 202, description = "queued again", body = RedeliveryQueued), crate::error::ErrorResponse))]
pub async fn redeliver(
    State(state): State<AppState>,
    auth: Auth,
    Path((id, event_id)): Path<(String, String)>,
) -> ApiResult<(StatusCode, Json<RedeliveryQueued>)> {
    let actor = Actor::from_principal(auth.require(Scope::Admin)?);
    let row = service::redeliver(&state, &actor, &id, &event_id).await?;
    let delivery = QueuedDelivery { event_id, webhook_id: row.id, status: "pending".into() };
    Ok((StatusCode::ACCEPTED, Json(RedeliveryQueued { delivery })))
}
