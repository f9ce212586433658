//! The transactional outbox: an event is written in the same transaction as the change it
//! reports, so it exists exactly when the change does, and a worker delivers it afterwards.

use serde_json::{json, Value};
use sqlx::AnyConnection;

use super::{col, StoreResult};

/// Event types (seed 000, SPEC §8).
pub mod kind {
    pub const CUSTOMER_ERASED: &str = "customer.erased";
}

/// Writes the event `{id, type, createdAt, data}` in the caller's transaction; returns its id.
/// `data` must hold no personal data: receivers log what they are sent.
pub async fn publish(conn: &mut AnyConnection, org_id: &str, event_type: &str, data: Value) -> StoreResult<String> {
    let id = kenali_core::id::new_id(kenali_core::id::IdKind::WebhookEvent);
    let created_at = kenali_core::time_fmt::now_timestamp();
    let payload = json!({"id": id, "type": event_type, "createdAt": created_at, "data": data});
    sqlx::query("INSERT INTO webhook_events (id, org_id, event_type, payload, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(&id)
        .bind(org_id)
        .bind(event_type)
        .bind(payload.to_string())
        .bind(&created_at)
        .execute(conn)
        .await?;
    Ok(id)
}

/// The org's events of one type, oldest first (payloads as JSON).
pub async fn of_type(conn: &mut AnyConnection, org_id: &str, event_type: &str) -> StoreResult<Vec<Value>> {
    let rows = sqlx::query("SELECT payload FROM webhook_events WHERE org_id = $1 AND event_type = $2 ORDER BY id")
        .bind(org_id)
        .bind(event_type)
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|row| {
            let payload: String = col(row, "payload")?;
            serde_json::from_str(&payload).map_err(|e| super::StoreError::Corrupt(format!("event payload: {e}")))
        })
        .collect()
}
