//! The transactional outbox: an event is written in the same transaction as the change it
//! reports, so it exists exactly when the change does, and a worker delivers it afterwards.

use serde_json::{json, Value};
use sqlx::AnyConnection;

use kenali_core::time_fmt::format_timestamp;

use super::{col, org_settings, webhooks, StoreResult};

/// Event types (seed 000, SPEC §8; the full list is kenali_core::webhook::EVENT_TYPES).
pub mod kind {
    pub const CUSTOMER_ERASED: &str = "customer.erased";
    pub const KYC_TIER_CHANGED: &str = "kyc.tier_changed";
    pub const VERIFICATION_COMPLETED: &str = "verification.completed";
    pub const KTP_CAPTURE_COMPLETED: &str = "ktp.capture_completed";
    pub const REVIEW_DECIDED: &str = "review.decided";
    pub const STEP_UP_DECIDED: &str = "step_up.decided";
    pub const FACE_MATCH_COMPLETED: &str = "face_match.completed";
    pub const WEBHOOK_TEST: &str = "webhook.test";
}

/// Writes the event `{id, type, createdAt, data}` in the caller's transaction, with a delivery
/// for each of the org's enabled endpoints that subscribe to its type; returns its id. `data`
/// must hold no personal data: receivers log what they are sent.
pub async fn publish(conn: &mut AnyConnection, org_id: &str, event_type: &str, data: Value) -> StoreResult<String> {
    publish_to(conn, org_id, event_type, data, None).await
}

/// `publish`, to one endpoint only when `only` names it (a test delivery).
pub async fn publish_to(
    conn: &mut AnyConnection,
    org_id: &str,
    event_type: &str,
    data: Value,
    only: Option<&str>,
) -> StoreResult<String> {
    let (id, now) = insert_event(&mut *conn, org_id, event_type, data).await?;
    let targets: Vec<String> = webhooks::list(&mut *conn, org_id)
        .await?
        .into_iter()
        .filter(|w| match only {
            Some(only) => w.id == only,
            None => w.enabled && w.events.iter().any(|e| e == event_type),
        })
        .map(|w| w.id)
        .collect();
    queue(conn, org_id, &id, &targets, now).await?;
    Ok(id)
}

/// Writes the event for one submission's callback target only (a `callback` webhook row).
pub async fn publish_callback(
    conn: &mut AnyConnection,
    org_id: &str,
    event_type: &str,
    data: Value,
    callback_webhook_id: &str,
) -> StoreResult<String> {
    let (id, now) = insert_event(&mut *conn, org_id, event_type, data).await?;
    queue(conn, org_id, &id, &[callback_webhook_id.to_string()], now).await?;
    Ok(id)
}

async fn insert_event(
    conn: &mut AnyConnection,
    org_id: &str,
    event_type: &str,
    data: Value,
) -> StoreResult<(String, time::OffsetDateTime)> {
    let id = kenali_core::id::new_id(kenali_core::id::IdKind::WebhookEvent);
    let now = time::OffsetDateTime::now_utc();
    let created_at = format_timestamp(now);
    let payload = json!({"id": id, "type": event_type, "createdAt": created_at, "data": data});
    sqlx::query("INSERT INTO webhook_events (id, org_id, event_type, payload, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(&id)
        .bind(org_id)
        .bind(event_type)
        .bind(payload.to_string())
        .bind(&created_at)
        .execute(&mut *conn)
        .await?;
    Ok((id, now))
}

/// Queues a delivery of the event to each target, due now, retried for the org's window.
async fn queue(
    conn: &mut AnyConnection,
    org_id: &str,
    event_id: &str,
    targets: &[String],
    now: time::OffsetDateTime,
) -> StoreResult<()> {
    if targets.is_empty() {
        return Ok(());
    }
    let (settings, _) = org_settings::get(&mut *conn, org_id).await?;
    let give_up_at = format_timestamp(now + time::Duration::hours(i64::from(settings.webhook_retry_hours)));
    webhooks::queue_deliveries(&mut *conn, org_id, event_id, targets, &format_timestamp(now), &give_up_at).await?;
    // Wakes the workers of every process when (and only if) the transaction commits.
    if conn.backend_name() == "PostgreSQL" {
        sqlx::query("SELECT pg_notify($1, '')").bind(webhooks::OUTBOX_CHANNEL).execute(&mut *conn).await?;
    }
    Ok(())
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
