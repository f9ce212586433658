//! `POST /api/identity/devices/register` and `POST /api/identity/devices/{id}/revoke`: native
//! SDKs sign capture bundles with keys derived from a per-device secret (SPEC §5).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use kenali_core::id::{is_id_of, new_id, IdKind};
use kenali_core::time_fmt::now_timestamp;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::load_customer;
use crate::auth::Scope;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, Auth};
use crate::ledger::{self, data_key, Actor};
use crate::middleware::CarriesSecret;
use crate::service::devices::secret_context;
use crate::state::AppState;
use crate::store::devices::{self, DeviceRow};

/// Platforms a native SDK runs on.
pub const PLATFORMS: [&str; 2] = ["android", "ios"];
pub const SECRET_PREFIX: &str = "qe_dsec_";

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterRequest {
    customer_id: String,
    platform: String,
    label: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeviceView {
    id: String,
    customer_id: String,
    platform: String,
    label: Option<String>,
    created_at: String,
    revoked_at: Option<String>,
}

/// `{"device": {...}}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct DeviceEnvelope {
    device: DeviceView,
}

/// A registered device and its secret, shown this once.
#[derive(Serialize, utoipa::ToSchema)]
pub struct DeviceRegistered {
    device: DeviceView,
    secret: String,
}

impl From<&DeviceRow> for DeviceView {
    fn from(d: &DeviceRow) -> Self {
        DeviceView {
            id: d.id.clone(),
            customer_id: d.customer_id.clone(),
            platform: d.platform.clone(),
            label: d.label.clone(),
            created_at: d.created_at.clone(),
            revoked_at: d.revoked_at.clone(),
        }
    }
}

/// Registers a device; its secret is in this answer only. It is kept sealed with the
/// customer's data key (the server derives keys from it, so it cannot be hashed), which also
/// makes erasure shred it.
#[utoipa::path(post, path = "/api/identity/devices/register", tag = "devices", request_body = RegisterRequest, responses((status = 201, description = "the device and its secret, shown once", body = DeviceRegistered), crate::error::ErrorResponse))]
pub async fn register(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<RegisterRequest>,
) -> ApiResult<(StatusCode, Extension<CarriesSecret>, Json<DeviceRegistered>)> {
    let principal = auth.require(Scope::Public)?;
    if !PLATFORMS.contains(&body.platform.as_str()) {
        return Err(ApiError::invalid_field("platform", format!("must be one of {}", PLATFORMS.join(", "))));
    }
    if body.label.as_ref().is_some_and(|l| l.is_empty() || l.chars().count() > 100) {
        return Err(ApiError::invalid_field("label", "must be 1 to 100 characters"));
    }
    let mut tx = state.store.begin().await?;
    let customer = load_customer(&mut tx, &principal.org_id, &body.customer_id).await?;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let secret = format!("{SECRET_PREFIX}{}", hex::encode(bytes));
    let id = new_id(IdKind::Device);
    let key = data_key(&state.keys, &customer)?;
    let row = DeviceRow {
        secret_sealed: hex::encode(key.seal(secret.as_bytes(), &secret_context(&id))),
        id,
        org_id: principal.org_id.clone(),
        customer_id: customer.id.clone(),
        platform: body.platform,
        label: body.label,
        created_at: now_timestamp(),
        revoked_at: None,
    };
    devices::insert(&mut tx, &row).await?;
    let actor = Actor::from_principal(principal);
    ledger::audit(
        &mut tx,
        &actor,
        "device.registered",
        &row.id,
        json!({"customerId": customer.id, "platform": row.platform}),
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Extension(CarriesSecret),
        Json(DeviceRegistered { device: DeviceView::from(&row), secret }),
    ))
}

#[utoipa::path(post, path = "/api/identity/devices/{id}/revoke", tag = "devices", params(("id" = String, Path, description = "device id (dev_...)")), responses((status = 200, description = "revoked", body = DeviceEnvelope), crate::error::ErrorResponse))]
pub async fn revoke(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<DeviceEnvelope>> {
    let principal = auth.require(Scope::Public)?;
    if !is_id_of(IdKind::Device, &id) {
        return Err(ApiError::not_found("device"));
    }
    let mut tx = state.store.begin().await?;
    let device = devices::find(&mut tx, &principal.org_id, &id).await?.ok_or_else(|| ApiError::not_found("device"))?;
    let now = now_timestamp();
    if !devices::revoke(&mut tx, &principal.org_id, &id, &now).await? {
        return Err(ApiError::conflict("device_revoked", "this device was already revoked"));
    }
    let actor = Actor::from_principal(principal);
    ledger::audit(&mut tx, &actor, "device.revoked", &id, json!({"customerId": device.customer_id})).await?;
    tx.commit().await?;
    let revoked = DeviceRow { revoked_at: Some(now), ..device };
    Ok(Json(DeviceEnvelope { device: DeviceView::from(&revoked) }))
}
