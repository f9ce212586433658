//! Native-SDK devices: registration (with the integrator's API key, or with a one-time token
//! its backend minted for one customer, so that no API key ships inside an app), revocation,
//! and the bundle key a registered device signs with.

use kenali_core::challenge::device_signing_key;
use kenali_core::id::{is_id_of, new_id, IdKind};
use rand::RngCore;
use serde_json::json;

use super::customers::load_customer;
use super::{Error, Result};
use crate::auth::hash_secret;
use crate::ledger::{self, data_key, Actor};
use crate::state::AppState;
use crate::store::customers::CustomerRow;
use crate::store::devices::{self, DeviceRow, RegistrationTokenRow};

/// Platforms a native SDK runs on.
pub const PLATFORMS: [&str; 2] = ["android", "ios"];
pub const SECRET_PREFIX: &str = "qe_dsec_";
pub const REGISTRATION_TOKEN_PREFIX: &str = "qe_drt_";
/// Registrations with a token per network address: an app registers once; the limit only
/// slows a client trying tokens it does not have.
pub const REGISTRATION_PER_ADDRESS: crate::ratelimit::Limit =
    crate::ratelimit::Limit { name: "device_registration", max: 30, window_secs: 300, per: "address" };

/// How long a registration token may wait for its app: enough to hand it over and register,
/// too short to be worth stealing.
pub const REGISTRATION_TOKEN_TTL_SECS: i64 = 600;

/// A device and its secret (`qe_dsec_...`), which is shown this once.
pub struct Registered {
    pub device: DeviceRow,
    pub secret: String,
}

/// A registration token (`qe_drt_...`, shown this once) for one customer, and when it lapses.
pub struct RegistrationToken {
    pub token: String,
    pub customer_id: String,
    pub expires_at: String,
}

fn random_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{prefix}{}", hex::encode(bytes))
}

fn check_device(platform: &str, label: Option<&str>) -> Result<()> {
    if !PLATFORMS.contains(&platform) {
        return Err(Error::invalid_field("platform", format!("must be one of {}", PLATFORMS.join(", "))));
    }
    if label.is_some_and(|l| l.is_empty() || l.chars().count() > 100) {
        return Err(Error::invalid_field("label", "must be 1 to 100 characters"));
    }
    Ok(())
}

/// Registers a device of `customer_id` for the actor's org. Its secret is kept sealed with the
/// customer's data key (the server derives keys from it, so it cannot be hashed), which also
/// makes erasure shred it.
pub async fn register(
    state: &AppState,
    actor: &Actor,
    customer_id: &str,
    platform: &str,
    label: Option<String>,
) -> Result<Registered> {
    check_device(platform, label.as_deref())?;
    let mut tx = state.store.begin().await?;
    let registered = insert_device(state, &mut tx, actor, customer_id, platform, label, new_id(IdKind::Device)).await?;
    tx.commit().await?;
    Ok(registered)
}

async fn insert_device(
    state: &AppState,
    conn: &mut sqlx::AnyConnection,
    actor: &Actor,
    customer_id: &str,
    platform: &str,
    label: Option<String>,
    id: String,
) -> Result<Registered> {
    let customer = load_customer(conn, &actor.org_id, customer_id).await?;
    let secret = random_secret(SECRET_PREFIX);
    let key = data_key(&state.keys, &customer)?;
    let device = DeviceRow {
        secret_sealed: hex::encode(key.seal(secret.as_bytes(), &secret_context(&id))),
        id,
        org_id: actor.org_id.clone(),
        customer_id: customer.id.clone(),
        platform: platform.to_string(),
        label,
        created_at: state.clock.now_timestamp(),
        revoked_at: None,
    };
    devices::insert(conn, &device).await?;
    let details = json!({"customerId": customer.id, "platform": device.platform});
    ledger::audit(conn, actor, "device.registered", &device.id, details).await?;
    Ok(Registered { device, secret })
}

/// Mints a one-time token that registers one device of `customer_id` (the integrator's backend
/// calls this and hands the token to its app).
pub async fn mint_registration_token(state: &AppState, actor: &Actor, customer_id: &str) -> Result<RegistrationToken> {
    let token = random_secret(REGISTRATION_TOKEN_PREFIX);
    let now = state.clock.now();
    let expires_at =
        kenali_core::time_fmt::format_timestamp(now + time::Duration::seconds(REGISTRATION_TOKEN_TTL_SECS));
    let forget_before = kenali_core::time_fmt::format_timestamp(now - time::Duration::days(1));
    let mut tx = state.store.begin().await?;
    let customer = load_customer(&mut tx, &actor.org_id, customer_id).await?;
    let token_hash = hash_secret(&token);
    let row = RegistrationTokenRow {
        token_hash: &token_hash,
        org_id: &actor.org_id,
        customer_id: &customer.id,
        created_by: &actor.actor,
        created_at: &kenali_core::time_fmt::format_timestamp(now),
        expires_at: &expires_at,
    };
    devices::insert_registration_token(&mut tx, &row, &forget_before).await?;
    let details = json!({"customerId": customer.id, "expiresAt": expires_at});
    ledger::audit(&mut tx, actor, "device.registration_token_created", &customer.id, details).await?;
    tx.commit().await?;
    Ok(RegistrationToken { token, customer_id: customer.id, expires_at })
}

/// Registers a device with a registration token instead of an API key: the token names the org
/// and the customer, and is spent by this call. An unknown, used or lapsed token gets one
/// answer (401), which tells nothing about which it was.
pub async fn register_with_token(
    state: &AppState,
    address: &str,
    token: &str,
    platform: &str,
    label: Option<String>,
) -> Result<Registered> {
    crate::ratelimit::check(state, REGISTRATION_PER_ADDRESS, address).await?;
    check_device(platform, label.as_deref())?;
    let refused = || Error::Unauthenticated {
        code: "invalid_registration_token",
        message: "the registration token is unknown, used or expired; ask your backend for a new one".into(),
    };
    if !token.starts_with(REGISTRATION_TOKEN_PREFIX) {
        return Err(refused());
    }
    let id = new_id(IdKind::Device);
    let mut tx = state.store.begin().await?;
    let now = state.clock.now_timestamp();
    let (org_id, customer_id) =
        devices::use_registration_token(&mut tx, &hash_secret(token), &id, &now).await?.ok_or_else(refused)?;
    // The app acts on the token's authority: the audit names the device it registered.
    let actor =
        Actor { org_id, actor: id.clone(), actor_user_id: None, request_id: crate::error::current_request_id() };
    let registered = insert_device(state, &mut tx, &actor, &customer_id, platform, label, id).await?;
    tx.commit().await?;
    Ok(registered)
}

/// Revokes a device of the actor's org; bundles it signs are refused from then on.
pub async fn revoke(state: &AppState, actor: &Actor, device_id: &str) -> Result<DeviceRow> {
    if !is_id_of(IdKind::Device, device_id) {
        return Err(Error::NotFound("device"));
    }
    let mut tx = state.store.begin().await?;
    let device = devices::find(&mut tx, &actor.org_id, device_id).await?.ok_or(Error::NotFound("device"))?;
    let now = state.clock.now_timestamp();
    if !devices::revoke(&mut tx, &actor.org_id, device_id, &now).await? {
        return Err(Error::Conflict { code: "device_revoked", message: "this device was already revoked".into() });
    }
    ledger::audit(&mut tx, actor, "device.revoked", device_id, json!({"customerId": device.customer_id})).await?;
    tx.commit().await?;
    Ok(DeviceRow { revoked_at: Some(now), ..device })
}

/// What a device's secret is sealed under.
pub fn secret_context(device_id: &str) -> String {
    format!("device/secret/{device_id}")
}

/// The bundle key of `device_id` for this nonce; 401 for an unknown, revoked or another
/// customer's device (the same answer as a bad signature: nothing is revealed).
pub async fn signing_key(
    state: &AppState,
    conn: &mut sqlx::AnyConnection,
    customer: &CustomerRow,
    device_id: &str,
    nonce: &str,
) -> Result<Vec<u8>> {
    let refused = || Error::InvalidSignature("the bundle's hmacKey names no live device of this customer".into());
    if !is_id_of(IdKind::Device, device_id) {
        return Err(refused());
    }
    let device = devices::find(conn, &customer.org_id, device_id)
        .await?
        .filter(|d| d.customer_id == customer.id && d.revoked_at.is_none())
        .ok_or_else(refused)?;
    let sealed = hex::decode(&device.secret_sealed).map_err(Error::internal)?;
    let secret = data_key(&state.keys, customer)?
        .open(&sealed, &secret_context(&device.id))
        .map_err(|e| Error::internal(format!("device secret: {e}")))?;
    Ok(device_signing_key(&secret, nonce).to_vec())
}
