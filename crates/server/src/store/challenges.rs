//! Flash challenges and rate-limit counters.

use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use super::{col, StoreResult};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeRow {
    pub id: String,
    pub org_id: String,
    pub customer_id: String,
    pub purpose: String,
    pub nonce: String,
    /// JSON array of `#RRGGBB`.
    pub colors: String,
    /// JSON array of milliseconds.
    pub hold_ms: String,
    /// Hex of the sealed secret.
    pub secret_sealed: String,
    pub expires_at: String,
    pub consumed_at: Option<String>,
    pub consumed_signature: Option<String>,
    pub result: Option<String>,
    pub created_at: String,
}

const COLUMNS: &str = "id, org_id, customer_id, purpose, nonce, colors, hold_ms, secret_sealed, expires_at, \
                       consumed_at, consumed_signature, result, created_at";

fn from_row(row: &AnyRow) -> StoreResult<ChallengeRow> {
    Ok(ChallengeRow {
        id: col(row, "id")?,
        org_id: col(row, "org_id")?,
        customer_id: col(row, "customer_id")?,
        purpose: col(row, "purpose")?,
        nonce: col(row, "nonce")?,
        colors: col(row, "colors")?,
        hold_ms: col(row, "hold_ms")?,
        secret_sealed: col(row, "secret_sealed")?,
        expires_at: col(row, "expires_at")?,
        consumed_at: col(row, "consumed_at")?,
        consumed_signature: col(row, "consumed_signature")?,
        result: col(row, "result")?,
        created_at: col(row, "created_at")?,
    })
}

pub async fn insert(conn: &mut AnyConnection, c: &ChallengeRow) -> StoreResult<()> {
    sqlx::query(&format!(
        "INSERT INTO flash_challenges ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
    ))
    .bind(&c.id)
    .bind(&c.org_id)
    .bind(&c.customer_id)
    .bind(&c.purpose)
    .bind(&c.nonce)
    .bind(&c.colors)
    .bind(&c.hold_ms)
    .bind(&c.secret_sealed)
    .bind(&c.expires_at)
    .bind(c.consumed_at.as_deref())
    .bind(c.consumed_signature.as_deref())
    .bind(c.result.as_deref())
    .bind(&c.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn find_by_nonce(conn: &mut AnyConnection, org_id: &str, nonce: &str) -> StoreResult<Option<ChallengeRow>> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM flash_challenges WHERE org_id = $1 AND nonce = $2"))
        .bind(org_id)
        .bind(nonce)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Marks the challenge used by a bundle with this signature; false when it already was.
/// Consumes the challenge with the answer it produced, in the transaction that records that
/// answer: a request that fails before it leaves the challenge usable. False when another
/// request consumed it first.
pub async fn consume(conn: &mut AnyConnection, id: &str, signature: &str, at: &str, result: &str) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE flash_challenges SET consumed_at = $2, consumed_signature = $3, result = $4 \
         WHERE id = $1 AND consumed_at IS NULL",
    )
    .bind(id)
    .bind(at)
    .bind(signature)
    .bind(result)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Counts a hit in the bucket's window starting at `window_start` and returns that window's
/// total and the previous window's (`window_secs` earlier; 0 when it had none).
pub async fn hit(
    conn: &mut AnyConnection,
    bucket: &str,
    window_start: i64,
    window_secs: i64,
) -> StoreResult<(i64, i64)> {
    let row = sqlx::query(
        "INSERT INTO rate_limits (bucket, window_start, hits) VALUES ($1, $2, 1) \
         ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_limits.hits + 1 RETURNING hits",
    )
    .bind(bucket)
    .bind(window_start)
    .fetch_one(&mut *conn)
    .await?;
    let hits: i64 = col(&row, "hits")?;
    let previous_start = window_start - window_secs;
    // Windows before the previous one are of no use; trim them as we go.
    sqlx::query("DELETE FROM rate_limits WHERE bucket = $1 AND window_start < $2")
        .bind(bucket)
        .bind(previous_start)
        .execute(&mut *conn)
        .await?;
    let previous = sqlx::query("SELECT hits FROM rate_limits WHERE bucket = $1 AND window_start = $2")
        .bind(bucket)
        .bind(previous_start)
        .fetch_optional(conn)
        .await?;
    let previous = previous.map(|row| col::<i64>(&row, "hits")).transpose()?.unwrap_or(0);
    Ok((hits, previous))
}
