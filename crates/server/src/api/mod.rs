//! HTTP handlers, one module per resource. Handlers parse and check input, call the store
//! and the ledger inside one transaction, and shape the response; rules live in kenali-core.

pub mod api_keys;
pub mod audit_log;
pub mod bundle;
pub mod customers;
pub mod devices;
pub mod export;
pub mod faces;
pub mod health;
pub mod ktp;
pub mod kyc;
pub mod liveness;
pub mod nik;
pub mod review;
pub mod search;
pub mod settings;
pub mod validate;
pub mod views;
pub mod webhooks;

use kenali_core::settings::OrgSettings;
use kenali_core::tier::TierPolicy;

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::customers::CustomerRow;
use crate::store::StoreResult;

/// The customer of this org with this id; 404 for unknown or another org's, 410 if erased.
/// Re-reads the customer inside a write transaction, locking its row: an image workflow calls
/// it before writing, so that nothing about a customer erased meanwhile is written (410).
pub async fn lock_customer(
    state: &AppState,
    tx: &mut sqlx::AnyConnection,
    org_id: &str,
    customer_id: &str,
) -> Result<CustomerRow, ApiError> {
    let customer = crate::store::customers::find_for_update(tx, state.store.backend(), org_id, customer_id)
        .await?
        .ok_or_else(|| ApiError::not_found("customer"))?;
    if customer.erased_at.is_some() || customer.wrapped_data_key.is_none() {
        return Err(ApiError::gone("this customer was erased"));
    }
    Ok(customer)
}

pub async fn load_customer(
    conn: &mut sqlx::AnyConnection,
    org_id: &str,
    customer_id: &str,
) -> Result<CustomerRow, ApiError> {
    if !kenali_core::id::is_id_of(kenali_core::id::IdKind::Customer, customer_id) {
        return Err(ApiError::not_found("customer"));
    }
    let customer = crate::store::customers::find(conn, org_id, customer_id)
        .await?
        .ok_or_else(|| ApiError::not_found("customer"))?;
    if customer.erased_at.is_some() {
        return Err(ApiError::gone("this customer was erased"));
    }
    Ok(customer)
}

/// The org's settings (the defaults until an admin changes them).
pub async fn org_settings(state: &AppState, org_id: &str) -> StoreResult<OrgSettings> {
    let mut conn = state.store.reader().acquire().await?;
    Ok(crate::store::org_settings::get(&mut conn, org_id).await?.0)
}

/// The org's tier policy.
pub async fn tier_policy(state: &AppState, org_id: &str) -> StoreResult<TierPolicy> {
    Ok(org_settings(state, org_id).await?.tier_policy())
}
