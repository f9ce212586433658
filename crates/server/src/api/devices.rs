//! `POST /api/identity/devices/register`, `.../registration-tokens`, `.../register-with-token`
//! and `POST /api/identity/devices/{id}/revoke`: native SDKs sign capture bundles with keys
//! derived from a per-device secret (SPEC §5; docs/native-sdk.md).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

use crate::auth::Scope;
use crate::error::ApiResult;
use crate::extract::{ApiJson, Auth, ClientAddress};
use crate::ledger::Actor;
use crate::middleware::CarriesSecret;
use crate::service::devices::{self, Registered};
use crate::state::AppState;
use crate::store::devices::DeviceRow;

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
    let actor = Actor::from_principal(auth.require(Scope::Public)?);
    let registered = devices::register(&state, &actor, &body.customer_id, &body.platform, body.label).await?;
    Ok(created(registered))
}

fn created(registered: Registered) -> (StatusCode, Extension<CarriesSecret>, Json<DeviceRegistered>) {
    let device = DeviceView::from(&registered.device);
    (StatusCode::CREATED, Extension(CarriesSecret), Json(DeviceRegistered { device, secret: registered.secret }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenRequest {
    customer_id: String,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationTokenView {
    /// `qe_drt_...`: registers one device of this customer, once, before `expiresAt`.
    token: String,
    customer_id: String,
    expires_at: String,
}

/// `{"registrationToken": {...}}`.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationTokenCreated {
    registration_token: RegistrationTokenView,
}

/// Mints a one-time token for one customer's app to register its device with (10 minutes):
/// your backend calls this with its API key and hands the token to the app, so that no API key
/// ever ships inside an app.
#[utoipa::path(post, path = "/api/identity/devices/registration-tokens", tag = "devices", request_body = TokenRequest, responses((status = 201, description = "the token, shown once", body = RegistrationTokenCreated), crate::error::ErrorResponse))]
pub async fn registration_token(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<TokenRequest>,
) -> ApiResult<(StatusCode, Extension<CarriesSecret>, Json<RegistrationTokenCreated>)> {
    let actor = Actor::from_principal(auth.require(Scope::Public)?);
    let minted = devices::mint_registration_token(&state, &actor, &body.customer_id).await?;
    let registration_token =
        RegistrationTokenView { token: minted.token, customer_id: minted.customer_id, expires_at: minted.expires_at };
    Ok((StatusCode::CREATED, Extension(CarriesSecret), Json(RegistrationTokenCreated { registration_token })))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenRegisterRequest {
    /// `qe_drt_...` from `POST /api/identity/devices/registration-tokens`.
    registration_token: String,
    platform: String,
    label: Option<String>,
}

/// What a native app calls, with the registration token its backend gave it and no API key:
/// registers a device of the token's customer and spends the token. 401
/// `invalid_registration_token` for a token that is unknown, used or expired (one answer);
/// 30 tries per address in 5 minutes.
#[utoipa::path(post, path = "/api/identity/devices/register-with-token", tag = "devices", security(()), request_body = TokenRegisterRequest, responses((status = 201, description = "the device and its secret, shown once", body = DeviceRegistered), crate::error::ErrorResponse))]
pub async fn register_with_token(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    ApiJson(body): ApiJson<TokenRegisterRequest>,
) -> ApiResult<(StatusCode, Extension<CarriesSecret>, Json<DeviceRegistered>)> {
    let registered =
        devices::register_with_token(&state, &address, &body.registration_token, &body.platform, body.label).await?;
    Ok(created(registered))
}

#[utoipa::path(post, path = "/api/identity/devices/{id}/revoke", tag = "devices", params(("id" = String, Path, description = "device id (dev_...)")), responses((status = 200, description = "revoked", body = DeviceEnvelope), crate::error::ErrorResponse))]
pub async fn revoke(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<DeviceEnvelope>> {
    let actor = Actor::from_principal(auth.require(Scope::Public)?);
    let revoked = devices::revoke(&state, &actor, &id).await?;
    Ok(Json(DeviceEnvelope { device: DeviceView::from(&revoked) }))
}
