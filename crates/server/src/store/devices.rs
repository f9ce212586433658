//! Native-SDK devices registered for a customer (SPEC §5: `hmacKey` = `dev_...`).

use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use super::{col, StoreResult};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRow {
    pub id: String,
    pub org_id: String,
    pub customer_id: String,
    pub platform: String,
    pub label: Option<String>,
    /// Hex of the secret sealed with the customer's data key.
    pub secret_sealed: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

const COLUMNS: &str = "id, org_id, customer_id, platform, label, secret_sealed, created_at, revoked_at";

fn device(row: &AnyRow) -> StoreResult<DeviceRow> {
    Ok(DeviceRow {
        id: col(row, "id")?,
        org_id: col(row, "org_id")?,
        customer_id: col(row, "customer_id")?,
        platform: col(row, "platform")?,
        label: col(row, "label")?,
        secret_sealed: col(row, "secret_sealed")?,
        created_at: col(row, "created_at")?,
        revoked_at: col(row, "revoked_at")?,
    })
}

pub async fn insert(conn: &mut AnyConnection, d: &DeviceRow) -> StoreResult<()> {
    sqlx::query(&format!("INSERT INTO devices ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"))
        .bind(&d.id)
        .bind(&d.org_id)
        .bind(&d.customer_id)
        .bind(&d.platform)
        .bind(d.label.as_deref())
        .bind(&d.secret_sealed)
        .bind(&d.created_at)
        .bind(d.revoked_at.as_deref())
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn find(conn: &mut AnyConnection, org_id: &str, id: &str) -> StoreResult<Option<DeviceRow>> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM devices WHERE org_id = $1 AND id = $2"))
        .bind(org_id)
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(device).transpose()
}

/// Revokes a live device; false when it was already revoked.
pub async fn revoke(conn: &mut AnyConnection, org_id: &str, id: &str, at: &str) -> StoreResult<bool> {
    let done = sqlx::query("UPDATE devices SET revoked_at = $1 WHERE org_id = $2 AND id = $3 AND revoked_at IS NULL")
        .bind(at)
        .bind(org_id)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// A device registration token as minted (the token itself is never stored).
pub struct RegistrationTokenRow<'a> {
    pub token_hash: &'a str,
    pub org_id: &'a str,
    pub customer_id: &'a str,
    pub created_by: &'a str,
    pub created_at: &'a str,
    pub expires_at: &'a str,
}

/// Stores a new token, and drops those that expired before `forget_before` (a used or lapsed
/// token is worth nothing; the audit log keeps who minted and used it).
pub async fn insert_registration_token(
    conn: &mut AnyConnection,
    token: &RegistrationTokenRow<'_>,
    forget_before: &str,
) -> StoreResult<()> {
    sqlx::query("DELETE FROM device_registration_tokens WHERE expires_at < $1")
        .bind(forget_before)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO device_registration_tokens (token_hash, org_id, customer_id, created_by, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(token.token_hash)
    .bind(token.org_id)
    .bind(token.customer_id)
    .bind(token.created_by)
    .bind(token.created_at)
    .bind(token.expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Uses a token once: its org and customer when it was unused and unexpired (one statement, so
/// two apps racing with the same token cannot both win).
pub async fn use_registration_token(
    conn: &mut AnyConnection,
    token_hash: &str,
    device_id: &str,
    now: &str,
) -> StoreResult<Option<(String, String)>> {
    let row = sqlx::query(
        "UPDATE device_registration_tokens SET used_at = $1, device_id = $2 \
         WHERE token_hash = $3 AND used_at IS NULL AND expires_at > $1 RETURNING org_id, customer_id",
    )
    .bind(now)
    .bind(device_id)
    .bind(token_hash)
    .fetch_optional(conn)
    .await?;
    row.map(|row| Ok((col(&row, "org_id")?, col(&row, "customer_id")?))).transpose()
}
