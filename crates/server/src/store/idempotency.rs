//! Idempotency records: the first request under a key reserves it (`pending`), and its
//! successful response is kept so a replay gets the same answer. The primary key makes the
//! reservation atomic across processes.

use sqlx::AnyConnection;

use super::{col, StoreError, StoreResult};

pub enum Reservation {
    /// This request is the first: run it.
    Reserved,
    /// A request with this key finished: here is its response (status, sealed body), and the
    /// customer whose data key sealed it, if any.
    Replay { request_hash: String, status: u16, sealed_body: Vec<u8>, customer_id: Option<String> },
    /// A request with this key finished with a response that showed a secret, which is not kept.
    SecretShown { request_hash: String },
    /// A request with this key is still running, or the key was used for a different body.
    InProgress { request_hash: String },
}

/// The state of a finished request whose response carried a secret.
pub const STATE_SECRET: &str = "secret";

pub async fn reserve(
    conn: &mut AnyConnection,
    org_id: &str,
    scope_key: &str,
    request_hash: &str,
    now: &str,
    expired_before: &str,
) -> StoreResult<Reservation> {
    // Records past their 24-hour window no longer bind.
    sqlx::query("DELETE FROM idempotency_keys WHERE org_id = $1 AND scope_key = $2 AND created_at < $3")
        .bind(org_id)
        .bind(scope_key)
        .bind(expired_before)
        .execute(&mut *conn)
        .await?;
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (org_id, scope_key, request_hash, state, created_at) \
         VALUES ($1, $2, $3, 'pending', $4)",
    )
    .bind(org_id)
    .bind(scope_key)
    .bind(request_hash)
    .bind(now)
    .execute(&mut *conn)
    .await;
    match inserted.map_err(StoreError::from) {
        Ok(_) => return Ok(Reservation::Reserved),
        Err(e) if e.is_unique_violation() => {}
        Err(e) => return Err(e),
    }
    let row = sqlx::query(
        "SELECT request_hash, state, status_code, response_sealed, customer_id FROM idempotency_keys \
         WHERE org_id = $1 AND scope_key = $2",
    )
    .bind(org_id)
    .bind(scope_key)
    .fetch_optional(conn)
    .await?;
    let Some(row) = row else {
        // Released between our insert and read: treat as still busy; the client retries.
        return Ok(Reservation::InProgress { request_hash: request_hash.to_string() });
    };
    let request_hash: String = col(&row, "request_hash")?;
    let state: String = col(&row, "state")?;
    match state.as_str() {
        "done" => {
            let status: i64 = col::<Option<i64>>(&row, "status_code")?.unwrap_or(200);
            let sealed_body: Vec<u8> = col::<Option<Vec<u8>>>(&row, "response_sealed")?.unwrap_or_default();
            let customer_id: Option<String> = col(&row, "customer_id")?;
            Ok(Reservation::Replay {
                request_hash,
                status: u16::try_from(status).unwrap_or(200),
                sealed_body,
                customer_id,
            })
        }
        STATE_SECRET => Ok(Reservation::SecretShown { request_hash }),
        _ => Ok(Reservation::InProgress { request_hash }),
    }
}

/// Keeps the response of a finished request; `customer_id` is the customer it names, if any,
/// so that erasing that customer deletes it too.
pub async fn complete(
    conn: &mut AnyConnection,
    org_id: &str,
    scope_key: &str,
    status: u16,
    sealed_body: &[u8],
    customer_id: Option<&str>,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE idempotency_keys SET state = 'done', status_code = $3, response_sealed = $4, customer_id = $5 \
         WHERE org_id = $1 AND scope_key = $2",
    )
    .bind(org_id)
    .bind(scope_key)
    .bind(i64::from(status))
    .bind(sealed_body.to_vec())
    .bind(customer_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Marks a finished request whose response showed a secret: nothing of the response is kept.
pub async fn complete_secret(conn: &mut AnyConnection, org_id: &str, scope_key: &str) -> StoreResult<()> {
    sqlx::query("UPDATE idempotency_keys SET state = $3 WHERE org_id = $1 AND scope_key = $2")
        .bind(org_id)
        .bind(scope_key)
        .bind(STATE_SECRET)
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes a finished record whose response can no longer be opened (its customer was erased).
pub async fn forget(conn: &mut AnyConnection, org_id: &str, scope_key: &str) -> StoreResult<()> {
    sqlx::query("DELETE FROM idempotency_keys WHERE org_id = $1 AND scope_key = $2")
        .bind(org_id)
        .bind(scope_key)
        .execute(conn)
        .await?;
    Ok(())
}

/// Frees a reservation whose request failed, so a corrected retry may use the key.
pub async fn release(conn: &mut AnyConnection, org_id: &str, scope_key: &str) -> StoreResult<()> {
    sqlx::query("DELETE FROM idempotency_keys WHERE org_id = $1 AND scope_key = $2 AND state = 'pending'")
        .bind(org_id)
        .bind(scope_key)
        .execute(conn)
        .await?;
    Ok(())
}
