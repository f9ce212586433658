//! Webhook endpoints, their deliveries (one per event and endpoint) and the attempt log.

use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use super::{col, Backend, StoreError, StoreResult};

#[derive(Debug, Clone)]
pub struct WebhookRow {
    pub id: String,
    pub org_id: String,
    pub url: String,
    pub description: Option<String>,
    pub events: Vec<String>,
    pub secret_sealed: String,
    pub enabled: bool,
    pub created_at: String,
    pub updated_at: String,
}

const COLUMNS: &str = "id, org_id, url, description, events, secret_sealed, enabled, created_at, updated_at";

fn from_row(row: &AnyRow) -> StoreResult<WebhookRow> {
    let events: String = col(row, "events")?;
    Ok(WebhookRow {
        id: col(row, "id")?,
        org_id: col(row, "org_id")?,
        url: col(row, "url")?,
        description: col(row, "description")?,
        events: serde_json::from_str(&events).map_err(|e| StoreError::Corrupt(format!("webhook events: {e}")))?,
        secret_sealed: col(row, "secret_sealed")?,
        enabled: col::<i64>(row, "enabled")? != 0,
        created_at: col(row, "created_at")?,
        updated_at: col(row, "updated_at")?,
    })
}

fn events_json(events: &[String]) -> String {
    serde_json::Value::from(events.to_vec()).to_string()
}

/// What a webhook row is for: an endpoint an admin registered, or the callback target of one
/// face-match submission (hidden from the endpoint routes, delivered by the same outbox).
pub const PURPOSE_ENDPOINT: &str = "endpoint";
pub const PURPOSE_CALLBACK: &str = "callback";

pub async fn insert(conn: &mut AnyConnection, w: &WebhookRow) -> StoreResult<()> {
    insert_for(conn, w, PURPOSE_ENDPOINT).await
}

pub async fn insert_for(conn: &mut AnyConnection, w: &WebhookRow, purpose: &str) -> StoreResult<()> {
    sqlx::query(&format!("INSERT INTO webhooks ({COLUMNS}, purpose) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"))
        .bind(&w.id)
        .bind(&w.org_id)
        .bind(&w.url)
        .bind(w.description.as_deref())
        .bind(events_json(&w.events))
        .bind(&w.secret_sealed)
        .bind(i64::from(w.enabled))
        .bind(&w.created_at)
        .bind(&w.updated_at)
        .bind(purpose)
        .execute(conn)
        .await?;
    Ok(())
}

/// Changes the editable fields (url, description, events, enabled).
pub async fn update(conn: &mut AnyConnection, w: &WebhookRow) -> StoreResult<()> {
    sqlx::query(
        "UPDATE webhooks SET url = $3, description = $4, events = $5, enabled = $6, updated_at = $7 \
         WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL",
    )
    .bind(&w.org_id)
    .bind(&w.id)
    .bind(&w.url)
    .bind(w.description.as_deref())
    .bind(events_json(&w.events))
    .bind(i64::from(w.enabled))
    .bind(&w.updated_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes the endpoint: it stops receiving, its pending deliveries are dropped, and the row
/// stays (soft) so that the delivery log keeps its name.
pub async fn delete(conn: &mut AnyConnection, org_id: &str, id: &str, at: &str) -> StoreResult<()> {
    sqlx::query("UPDATE webhooks SET deleted_at = $3, enabled = 0 WHERE org_id = $1 AND id = $2")
        .bind(org_id)
        .bind(id)
        .bind(at)
        .execute(&mut *conn)
        .await?;
    sqlx::query("UPDATE webhook_deliveries SET status = 'failed', last_error = 'endpoint deleted' WHERE webhook_id = $1 AND status = 'pending'")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn find(conn: &mut AnyConnection, org_id: &str, id: &str) -> StoreResult<Option<WebhookRow>> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM webhooks WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL AND purpose = 'endpoint'"
    ))
    .bind(org_id)
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// The org's endpoints (callback targets are not endpoints).
pub async fn list(conn: &mut AnyConnection, org_id: &str) -> StoreResult<Vec<WebhookRow>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM webhooks WHERE org_id = $1 AND deleted_at IS NULL AND purpose = 'endpoint' ORDER BY id"
    ))
    .bind(org_id)
    .fetch_all(conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Queues the event for each listed endpoint, in the caller's transaction.
pub async fn queue_deliveries(
    conn: &mut AnyConnection,
    org_id: &str,
    event_id: &str,
    webhook_ids: &[String],
    now: &str,
    give_up_at: &str,
) -> StoreResult<()> {
    for webhook_id in webhook_ids {
        sqlx::query(
            "INSERT INTO webhook_deliveries (event_id, webhook_id, org_id, status, attempts, next_attempt_at, \
             give_up_at, created_at) VALUES ($1, $2, $3, 'pending', 0, $4, $5, $4)",
        )
        .bind(event_id)
        .bind(webhook_id)
        .bind(org_id)
        .bind(now)
        .bind(give_up_at)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// A delivery a worker has claimed.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub event_id: String,
    pub webhook_id: String,
    pub attempts: i64,
    pub give_up_at: String,
}

/// Claims up to `limit` due deliveries until `lease_until`. On PostgreSQL, `FOR UPDATE SKIP
/// LOCKED` lets several processes claim side by side without taking the same row; SQLite has
/// one writer, so the statement alone is atomic.
pub async fn claim_due(
    conn: &mut AnyConnection,
    backend: Backend,
    now: &str,
    lease_until: &str,
    limit: i64,
) -> StoreResult<Vec<Claimed>> {
    let lock = if backend == Backend::Postgres { "FOR UPDATE SKIP LOCKED" } else { "" };
    let rows = sqlx::query(&format!(
        "UPDATE webhook_deliveries SET claimed_until = $2 WHERE (event_id, webhook_id) IN ( \
           SELECT event_id, webhook_id FROM webhook_deliveries WHERE {DUE_AT_1} \
           ORDER BY next_attempt_at LIMIT $3 {lock}) \
         RETURNING event_id, webhook_id, attempts, give_up_at"
    ))
    .bind(now)
    .bind(lease_until)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Claimed {
                event_id: col(row, "event_id")?,
                webhook_id: col(row, "webhook_id")?,
                attempts: col(row, "attempts")?,
                give_up_at: col(row, "give_up_at")?,
            })
        })
        .collect()
}

/// The PostgreSQL notification channel a committed delivery is announced on.
pub const OUTBOX_CHANNEL: &str = "kenali_outbox";

/// A delivery due at `$1` and not held under a live lease (what [`any_due`] looks for and
/// [`claim_due`] takes).
const DUE_AT_1: &str = "status = 'pending' AND next_attempt_at <= $1 AND (claimed_until IS NULL OR claimed_until < $1)";

/// Whether any delivery is due and unclaimed: a cheap read before a claim (a write).
pub async fn any_due(conn: &mut AnyConnection, now: &str) -> StoreResult<bool> {
    let row = sqlx::query(&format!(
        "SELECT COUNT(*) AS n FROM (SELECT 1 FROM webhook_deliveries WHERE {DUE_AT_1} LIMIT 1) due"
    ))
    .bind(now)
    .fetch_one(conn)
    .await?;
    Ok(col::<i64>(&row, "n")? > 0)
}

/// Runs `{select} WHERE id IN (...)` with one placeholder per id.
async fn fetch_by_ids(conn: &mut AnyConnection, select: &str, ids: &[String]) -> StoreResult<Vec<AnyRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders = (1..=ids.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
    let sql = format!("{select} WHERE id IN ({placeholders})");
    let mut query = sqlx::query(&sql);
    for id in ids {
        query = query.bind(id);
    }
    Ok(query.fetch_all(conn).await?)
}

/// The payloads of these events, by id.
pub async fn event_payloads(
    conn: &mut AnyConnection,
    ids: &[String],
) -> StoreResult<std::collections::HashMap<String, String>> {
    let rows = fetch_by_ids(conn, "SELECT id, payload FROM webhook_events", ids).await?;
    rows.iter().map(|row| Ok((col(row, "id")?, col(row, "payload")?))).collect()
}

/// These endpoints by id, each with whether it was deleted.
pub async fn find_many(
    conn: &mut AnyConnection,
    ids: &[String],
) -> StoreResult<std::collections::HashMap<String, (WebhookRow, bool)>> {
    let rows = fetch_by_ids(conn, &format!("SELECT {COLUMNS}, deleted_at FROM webhooks"), ids).await?;
    rows.iter()
        .map(|row| {
            let webhook = from_row(row)?;
            Ok((webhook.id.clone(), (webhook, col::<Option<String>>(row, "deleted_at")?.is_some())))
        })
        .collect()
}

/// What one attempt came to.
#[derive(Debug, Clone)]
pub struct AttemptOutcome {
    pub started_at: String,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub latency_ms: i64,
    pub delivered: bool,
}

/// Logs the attempt and moves the delivery on: delivered, due again at `retry_at`, or failed
/// when `retry_at` is `None` (past its retry window).
pub async fn finish_attempt(
    conn: &mut AnyConnection,
    claimed: &Claimed,
    outcome: &AttemptOutcome,
    retry_at: Option<&str>,
) -> StoreResult<()> {
    let attempt = claimed.attempts + 1;
    sqlx::query(
        "INSERT INTO webhook_attempts (event_id, webhook_id, attempt, started_at, status_code, error, latency_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&claimed.event_id)
    .bind(&claimed.webhook_id)
    .bind(attempt)
    .bind(&outcome.started_at)
    .bind(outcome.status_code.map(i64::from))
    .bind(outcome.error.as_deref())
    .bind(outcome.latency_ms)
    .execute(&mut *conn)
    .await?;
    let (status, next) = match (outcome.delivered, retry_at) {
        (true, _) => ("delivered", outcome.started_at.as_str()),
        (false, Some(at)) => ("pending", at),
        (false, None) => ("failed", outcome.started_at.as_str()),
    };
    sqlx::query(
        "UPDATE webhook_deliveries SET status = $3, attempts = $4, next_attempt_at = $5, claimed_until = NULL, \
         last_status = $6, last_error = $7, last_latency_ms = $8, delivered_at = $9 \
         WHERE event_id = $1 AND webhook_id = $2",
    )
    .bind(&claimed.event_id)
    .bind(&claimed.webhook_id)
    .bind(status)
    .bind(attempt)
    .bind(next)
    .bind(outcome.status_code.map(i64::from))
    .bind(outcome.error.as_deref())
    .bind(outcome.latency_ms)
    .bind(outcome.delivered.then_some(outcome.started_at.as_str()))
    .execute(conn)
    .await?;
    Ok(())
}

/// One row of an endpoint's delivery log.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryView {
    pub event_id: String,
    pub event_type: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: Option<String>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub last_latency_ms: Option<i64>,
    pub delivered_at: Option<String>,
    pub created_at: String,
}

/// The endpoint's deliveries, newest first.
pub async fn deliveries(conn: &mut AnyConnection, webhook_id: &str, limit: i64) -> StoreResult<Vec<DeliveryView>> {
    let rows = sqlx::query(
        "SELECT d.event_id, e.event_type, d.status, d.attempts, d.next_attempt_at, d.last_status, d.last_error, \
         d.last_latency_ms, d.delivered_at, d.created_at FROM webhook_deliveries d \
         JOIN webhook_events e ON e.id = d.event_id WHERE d.webhook_id = $1 ORDER BY d.event_id DESC LIMIT $2",
    )
    .bind(webhook_id)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            let status: String = col(row, "status")?;
            let next: String = col(row, "next_attempt_at")?;
            Ok(DeliveryView {
                event_id: col(row, "event_id")?,
                event_type: col(row, "event_type")?,
                next_attempt_at: (status == "pending").then_some(next),
                status,
                attempts: col(row, "attempts")?,
                last_status: col(row, "last_status")?,
                last_error: col(row, "last_error")?,
                last_latency_ms: col(row, "last_latency_ms")?,
                delivered_at: col(row, "delivered_at")?,
                created_at: col(row, "created_at")?,
            })
        })
        .collect()
}

/// Puts a failed delivery back in the queue, due now, with a fresh retry window. `false` when
/// there is no failed delivery of that event to that endpoint.
pub async fn redeliver(
    conn: &mut AnyConnection,
    webhook_id: &str,
    event_id: &str,
    now: &str,
    give_up_at: &str,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $3, give_up_at = $4, claimed_until = NULL \
         WHERE webhook_id = $1 AND event_id = $2 AND status = 'failed'",
    )
    .bind(webhook_id)
    .bind(event_id)
    .bind(now)
    .bind(give_up_at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
