use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use super::{col, paginate, Page, StoreResult};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRow {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub prefix: String,
    pub scopes: String,
    pub created_by: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

const COLUMNS: &str = "id, org_id, name, prefix, scopes, created_by, created_at, revoked_at";

fn from_row(row: &AnyRow) -> StoreResult<ApiKeyRow> {
    Ok(ApiKeyRow {
        id: col(row, "id")?,
        org_id: col(row, "org_id")?,
        name: col(row, "name")?,
        prefix: col(row, "prefix")?,
        scopes: col(row, "scopes")?,
        created_by: col(row, "created_by")?,
        created_at: col(row, "created_at")?,
        revoked_at: col(row, "revoked_at")?,
    })
}

pub async fn insert(conn: &mut AnyConnection, key: &ApiKeyRow, secret_hash: &str) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO api_keys (id, org_id, name, prefix, secret_hash, scopes, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&key.id)
    .bind(&key.org_id)
    .bind(&key.name)
    .bind(&key.prefix)
    .bind(secret_hash)
    .bind(&key.scopes)
    .bind(&key.created_by)
    .bind(&key.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The live (unrevoked) key with this secret hash.
pub async fn find_active_by_hash(conn: &mut AnyConnection, secret_hash: &str) -> StoreResult<Option<ApiKeyRow>> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM api_keys WHERE secret_hash = $1 AND revoked_at IS NULL"))
        .bind(secret_hash)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn find(conn: &mut AnyConnection, org_id: &str, id: &str) -> StoreResult<Option<ApiKeyRow>> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM api_keys WHERE org_id = $1 AND id = $2"))
        .bind(org_id)
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn list(
    conn: &mut AnyConnection,
    org_id: &str,
    page: &Page,
) -> StoreResult<(Vec<ApiKeyRow>, Option<String>)> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM api_keys WHERE org_id = $1 AND ($2 IS NULL OR id < $2) \
         ORDER BY id DESC LIMIT $3"
    ))
    .bind(org_id)
    .bind(page.cursor.as_deref())
    .bind(page.limit + 1)
    .fetch_all(conn)
    .await?;
    let keys = rows.iter().map(from_row).collect::<StoreResult<Vec<_>>>()?;
    Ok(paginate(keys, page.limit, |k| k.id.clone()))
}

/// Marks the key revoked; false when it was already revoked.
pub async fn revoke(conn: &mut AnyConnection, org_id: &str, id: &str, at: &str) -> StoreResult<bool> {
    let done = sqlx::query("UPDATE api_keys SET revoked_at = $3 WHERE org_id = $1 AND id = $2 AND revoked_at IS NULL")
        .bind(org_id)
        .bind(id)
        .bind(at)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The org's keys named `name` that are not revoked.
pub async fn active_named(conn: &mut AnyConnection, org_id: &str, name: &str) -> StoreResult<Vec<ApiKeyRow>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM api_keys WHERE org_id = $1 AND name = $2 AND revoked_at IS NULL ORDER BY id"
    ))
    .bind(org_id)
    .bind(name)
    .fetch_all(conn)
    .await?;
    rows.iter().map(from_row).collect()
}

pub async fn count_all(conn: &mut AnyConnection) -> StoreResult<i64> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM api_keys").fetch_one(conn).await?;
    col(&row, "n")
}

pub async fn insert_user(
    conn: &mut AnyConnection,
    id: &str,
    org_id: &str,
    email: &str,
    role: &str,
    password_hash: Option<&str>,
    created_at: &str,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO dashboard_users (id, org_id, email, role, password_hash, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(org_id)
    .bind(email)
    .bind(role)
    .bind(password_hash)
    .bind(created_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn user_exists(conn: &mut AnyConnection, org_id: &str, user_id: &str) -> StoreResult<bool> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM dashboard_users WHERE org_id = $1 AND id = $2")
        .bind(org_id)
        .bind(user_id)
        .fetch_one(conn)
        .await?;
    Ok(col::<i64>(&row, "n")? > 0)
}
