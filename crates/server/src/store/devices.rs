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
