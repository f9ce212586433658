//! The customer a workflow acts on, and its org's settings.

use kenali_core::settings::OrgSettings;
use kenali_core::tier::TierPolicy;

use super::{Error, Result};
use crate::state::AppState;
use crate::store::customers::CustomerRow;

/// Re-reads the customer inside a write transaction, locking its row: an image workflow calls
/// it before writing, so that nothing about a customer erased meanwhile is written
/// ([`Error::CustomerErased`]).
pub async fn lock_customer(
    state: &AppState,
    tx: &mut sqlx::AnyConnection,
    org_id: &str,
    customer_id: &str,
) -> Result<CustomerRow> {
    let customer = crate::store::customers::find_for_update(tx, state.store.backend(), org_id, customer_id)
        .await?
        .ok_or_else(|| Error::NotFound("customer"))?;
    if customer.erased_at.is_some() || customer.wrapped_data_key.is_none() {
        return Err(Error::CustomerErased("this customer was erased"));
    }
    Ok(customer)
}

/// The customer of this org with this id: [`Error::NotFound`] for an unknown id or another
/// org's customer, [`Error::CustomerErased`] once erased.
pub async fn load_customer(conn: &mut sqlx::AnyConnection, org_id: &str, customer_id: &str) -> Result<CustomerRow> {
    if !kenali_core::id::is_id_of(kenali_core::id::IdKind::Customer, customer_id) {
        return Err(Error::NotFound("customer"));
    }
    let customer =
        crate::store::customers::find(conn, org_id, customer_id).await?.ok_or_else(|| Error::NotFound("customer"))?;
    if customer.erased_at.is_some() {
        return Err(Error::CustomerErased("this customer was erased"));
    }
    Ok(customer)
}

/// The org's settings (the defaults until an admin changes them).
pub async fn org_settings(state: &AppState, org_id: &str) -> Result<OrgSettings> {
    let mut conn = state.store.reader().acquire().await?;
    Ok(crate::store::org_settings::get(&mut conn, org_id).await?.0)
}

/// The org's tier policy.
pub async fn tier_policy(state: &AppState, org_id: &str) -> Result<TierPolicy> {
    Ok(org_settings(state, org_id).await?.tier_policy())
}
