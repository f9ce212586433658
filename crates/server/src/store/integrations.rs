//! Vendor integrations (seed 004): their keys, the pushes taken and the IVs seen.

use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use super::{col, paginate, Page, StoreResult};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrationRow {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub oauth_client_id: String,
    /// `kenali_core::vendor::FieldMapping` as JSON.
    pub mapping: String,
    pub enabled: bool,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
}

const COLUMNS: &str = "id, org_id, name, oauth_client_id, mapping, enabled, created_by, created_at, updated_at";

fn from_row(row: &AnyRow) -> StoreResult<IntegrationRow> {
    Ok(IntegrationRow {
        id: col(row, "id")?,
        org_id: col(row, "org_id")?,
        name: col(row, "name")?,
        oauth_client_id: col(row, "oauth_client_id")?,
        mapping: col(row, "mapping")?,
        enabled: col::<i64>(row, "enabled")? != 0,
        created_by: col(row, "created_by")?,
        created_at: col(row, "created_at")?,
        updated_at: col(row, "updated_at")?,
    })
}

pub async fn insert(conn: &mut AnyConnection, row: &IntegrationRow) -> StoreResult<()> {
    sqlx::query(&format!("INSERT INTO integrations ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"))
        .bind(&row.id)
        .bind(&row.org_id)
        .bind(&row.name)
        .bind(&row.oauth_client_id)
        .bind(&row.mapping)
        .bind(i64::from(row.enabled))
        .bind(&row.created_by)
        .bind(&row.created_at)
        .bind(&row.updated_at)
        .execute(conn)
        .await?;
    Ok(())
}

/// The integration with this id, in any org (the receiver learns the org from it).
pub async fn find_any(conn: &mut AnyConnection, id: &str) -> StoreResult<Option<IntegrationRow>> {
    let row =
        sqlx::query(&format!("SELECT {COLUMNS} FROM integrations WHERE id = $1")).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn find(conn: &mut AnyConnection, org_id: &str, id: &str) -> StoreResult<Option<IntegrationRow>> {
    Ok(find_any(conn, id).await?.filter(|row| row.org_id == org_id))
}

pub async fn list(
    conn: &mut AnyConnection,
    org_id: &str,
    page: &Page,
) -> StoreResult<(Vec<IntegrationRow>, Option<String>)> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM integrations WHERE org_id = $1 AND ($2 IS NULL OR id < $2) ORDER BY id DESC LIMIT $3"
    ))
    .bind(org_id)
    .bind(page.cursor.as_deref())
    .bind(page.limit + 1)
    .fetch_all(conn)
    .await?;
    let rows = rows.iter().map(from_row).collect::<StoreResult<Vec<_>>>()?;
    Ok(paginate(rows, page.limit, |r| r.id.clone()))
}

/// Saves the name, mapping and state of an integration.
pub async fn update(conn: &mut AnyConnection, row: &IntegrationRow) -> StoreResult<()> {
    sqlx::query(
        "UPDATE integrations SET name = $3, mapping = $4, enabled = $5, updated_at = $6 WHERE org_id = $1 AND id = $2",
    )
    .bind(&row.org_id)
    .bind(&row.id)
    .bind(&row.name)
    .bind(&row.mapping)
    .bind(i64::from(row.enabled))
    .bind(&row.updated_at)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRow {
    pub id: String,
    pub integration_id: String,
    pub key_sealed: Vec<u8>,
    pub created_at: String,
    pub retires_at: Option<String>,
}

const KEY_COLUMNS: &str = "id, integration_id, key_sealed, created_at, retires_at";

fn key_from_row(row: &AnyRow) -> StoreResult<KeyRow> {
    Ok(KeyRow {
        id: col(row, "id")?,
        integration_id: col(row, "integration_id")?,
        key_sealed: col(row, "key_sealed")?,
        created_at: col(row, "created_at")?,
        retires_at: col(row, "retires_at")?,
    })
}

pub async fn insert_key(conn: &mut AnyConnection, key: &KeyRow) -> StoreResult<()> {
    sqlx::query(&format!("INSERT INTO integration_keys ({KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5)"))
        .bind(&key.id)
        .bind(&key.integration_id)
        .bind(key.key_sealed.clone())
        .bind(&key.created_at)
        .bind(key.retires_at.as_deref())
        .execute(conn)
        .await?;
    Ok(())
}

/// Every key of an integration, newest first.
pub async fn keys(conn: &mut AnyConnection, integration_id: &str) -> StoreResult<Vec<KeyRow>> {
    let rows =
        sqlx::query(&format!("SELECT {KEY_COLUMNS} FROM integration_keys WHERE integration_id = $1 ORDER BY id DESC"))
            .bind(integration_id)
            .fetch_all(conn)
            .await?;
    rows.iter().map(key_from_row).collect()
}

/// Gives every key without an end date (the current one) `retires_at`: a rotation's overlap.
pub async fn retire_current_keys(conn: &mut AnyConnection, integration_id: &str, retires_at: &str) -> StoreResult<()> {
    sqlx::query("UPDATE integration_keys SET retires_at = $2 WHERE integration_id = $1 AND retires_at IS NULL")
        .bind(integration_id)
        .bind(retires_at)
        .execute(conn)
        .await?;
    Ok(())
}

/// Whether an IV was used under a key before.
pub async fn iv_seen(conn: &mut AnyConnection, key_id: &str, iv: &str) -> StoreResult<bool> {
    let row = sqlx::query("SELECT 1 AS seen FROM integration_ivs WHERE key_id = $1 AND iv = $2")
        .bind(key_id)
        .bind(iv)
        .fetch_optional(conn)
        .await?;
    Ok(row.is_some())
}

/// Records an IV used under a key; false when it was seen before (a replayed body).
pub async fn record_iv(conn: &mut AnyConnection, key_id: &str, iv: &str, at: &str) -> StoreResult<bool> {
    let done =
        sqlx::query("INSERT INTO integration_ivs (key_id, iv, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .bind(key_id)
            .bind(iv)
            .bind(at)
            .execute(conn)
            .await?;
    Ok(done.rows_affected() == 1)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushRow {
    pub integration_id: String,
    pub submission_id: String,
    pub org_id: String,
    pub payload_mac: String,
    pub customer_id: Option<String>,
    pub verification_id: Option<String>,
    /// The confirmation's plaintext JSON (ids and reason codes).
    pub confirmation: String,
    pub created_at: String,
}

const PUSH_COLUMNS: &str =
    "integration_id, submission_id, org_id, payload_mac, customer_id, verification_id, confirmation, created_at";

fn push_from_row(row: &AnyRow) -> StoreResult<PushRow> {
    Ok(PushRow {
        integration_id: col(row, "integration_id")?,
        submission_id: col(row, "submission_id")?,
        org_id: col(row, "org_id")?,
        payload_mac: col(row, "payload_mac")?,
        customer_id: col(row, "customer_id")?,
        verification_id: col(row, "verification_id")?,
        confirmation: col(row, "confirmation")?,
        created_at: col(row, "created_at")?,
    })
}

pub async fn find_push(
    conn: &mut AnyConnection,
    integration_id: &str,
    submission_id: &str,
) -> StoreResult<Option<PushRow>> {
    let row = sqlx::query(&format!(
        "SELECT {PUSH_COLUMNS} FROM vendor_pushes WHERE integration_id = $1 AND submission_id = $2"
    ))
    .bind(integration_id)
    .bind(submission_id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(push_from_row).transpose()
}

pub async fn insert_push(conn: &mut AnyConnection, push: &PushRow) -> StoreResult<()> {
    sqlx::query(&format!("INSERT INTO vendor_pushes ({PUSH_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"))
        .bind(&push.integration_id)
        .bind(&push.submission_id)
        .bind(&push.org_id)
        .bind(&push.payload_mac)
        .bind(push.customer_id.as_deref())
        .bind(push.verification_id.as_deref())
        .bind(&push.confirmation)
        .bind(&push.created_at)
        .execute(conn)
        .await?;
    Ok(())
}
