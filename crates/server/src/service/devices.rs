//! Native-SDK devices: the bundle key a registered device signs with.

use kenali_core::challenge::device_signing_key;
use kenali_core::id::{is_id_of, IdKind};

use super::{Error, Result};
use crate::ledger::data_key;
use crate::state::AppState;
use crate::store::customers::CustomerRow;
use crate::store::devices;

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
