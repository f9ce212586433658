//! OAuth clients and the keys access tokens are signed with.

use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use super::{col, paginate, Page, StoreResult};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthClientRow {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub prefix: String,
    pub scopes: String,
    pub created_by: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

const CLIENT_COLUMNS: &str = "id, org_id, name, prefix, scopes, created_by, created_at, revoked_at";

fn client_from_row(row: &AnyRow) -> StoreResult<OAuthClientRow> {
    Ok(OAuthClientRow {
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

pub async fn insert_client(conn: &mut AnyConnection, client: &OAuthClientRow, secret_hash: &str) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO oauth_clients (id, org_id, name, prefix, secret_hash, scopes, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&client.id)
    .bind(&client.org_id)
    .bind(&client.name)
    .bind(&client.prefix)
    .bind(secret_hash)
    .bind(&client.scopes)
    .bind(&client.created_by)
    .bind(&client.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// A client by its client_id, in any org, with its secret hash (the token route's lookup).
pub async fn find_client_with_hash(
    conn: &mut AnyConnection,
    id: &str,
) -> StoreResult<Option<(OAuthClientRow, String)>> {
    let row = sqlx::query(&format!("SELECT {CLIENT_COLUMNS}, secret_hash FROM oauth_clients WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(|r| Ok((client_from_row(r)?, col(r, "secret_hash")?))).transpose()
}

/// The live (unrevoked) client with this id, in any org: every request made with a token.
pub async fn find_active_client(conn: &mut AnyConnection, id: &str) -> StoreResult<Option<OAuthClientRow>> {
    let row = sqlx::query(&format!("SELECT {CLIENT_COLUMNS} FROM oauth_clients WHERE id = $1 AND revoked_at IS NULL"))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(client_from_row).transpose()
}

pub async fn find_client(conn: &mut AnyConnection, org_id: &str, id: &str) -> StoreResult<Option<OAuthClientRow>> {
    let row = sqlx::query(&format!("SELECT {CLIENT_COLUMNS} FROM oauth_clients WHERE org_id = $1 AND id = $2"))
        .bind(org_id)
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(client_from_row).transpose()
}

pub async fn list_clients(
    conn: &mut AnyConnection,
    org_id: &str,
    page: &Page,
) -> StoreResult<(Vec<OAuthClientRow>, Option<String>)> {
    let rows = sqlx::query(&format!(
        "SELECT {CLIENT_COLUMNS} FROM oauth_clients WHERE org_id = $1 AND ($2 IS NULL OR id < $2) \
         ORDER BY id DESC LIMIT $3"
    ))
    .bind(org_id)
    .bind(page.cursor.as_deref())
    .bind(page.limit + 1)
    .fetch_all(conn)
    .await?;
    let clients = rows.iter().map(client_from_row).collect::<StoreResult<Vec<_>>>()?;
    Ok(paginate(clients, page.limit, |c| c.id.clone()))
}

/// Marks the client revoked; false when it was already revoked.
pub async fn revoke_client(conn: &mut AnyConnection, org_id: &str, id: &str, at: &str) -> StoreResult<bool> {
    let done =
        sqlx::query("UPDATE oauth_clients SET revoked_at = $3 WHERE org_id = $1 AND id = $2 AND revoked_at IS NULL")
            .bind(org_id)
            .bind(id)
            .bind(at)
            .execute(conn)
            .await?;
    Ok(done.rows_affected() == 1)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeyRow {
    pub kid: String,
    /// The raw 32-byte Ed25519 public key, base64url (a JWK's `x`).
    pub public_key: String,
    pub private_key_sealed: Vec<u8>,
    pub created_at: String,
    pub retired_at: Option<String>,
}

const KEY_COLUMNS: &str = "kid, public_key, private_key_sealed, created_at, retired_at";

fn key_from_row(row: &AnyRow) -> StoreResult<SigningKeyRow> {
    Ok(SigningKeyRow {
        kid: col(row, "kid")?,
        public_key: col(row, "public_key")?,
        private_key_sealed: col(row, "private_key_sealed")?,
        created_at: col(row, "created_at")?,
        retired_at: col(row, "retired_at")?,
    })
}

pub async fn insert_signing_key(conn: &mut AnyConnection, key: &SigningKeyRow) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO oauth_signing_keys (kid, public_key, private_key_sealed, created_at, retired_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&key.kid)
    .bind(&key.public_key)
    .bind(&key.private_key_sealed)
    .bind(&key.created_at)
    .bind(&key.retired_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The key that signs now: the newest one not retired.
pub async fn current_signing_key(conn: &mut AnyConnection) -> StoreResult<Option<SigningKeyRow>> {
    let row = sqlx::query(&format!(
        "SELECT {KEY_COLUMNS} FROM oauth_signing_keys WHERE retired_at IS NULL ORDER BY kid DESC LIMIT 1"
    ))
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(key_from_row).transpose()
}

/// Every key that still verifies, newest first.
pub async fn signing_keys(conn: &mut AnyConnection) -> StoreResult<Vec<SigningKeyRow>> {
    let rows =
        sqlx::query(&format!("SELECT {KEY_COLUMNS} FROM oauth_signing_keys ORDER BY kid DESC")).fetch_all(conn).await?;
    rows.iter().map(key_from_row).collect()
}

/// Retires every key that signs now except `keep`; returns how many.
pub async fn retire_signing_keys_except(conn: &mut AnyConnection, keep: &str, at: &str) -> StoreResult<u64> {
    let done = sqlx::query("UPDATE oauth_signing_keys SET retired_at = $2 WHERE kid <> $1 AND retired_at IS NULL")
        .bind(keep)
        .bind(at)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}

/// Deletes the retired keys retired at or before `before` (a token they signed has expired),
/// or every retired key when `before` is None (a key believed compromised).
pub async fn delete_retired_signing_keys(conn: &mut AnyConnection, before: Option<&str>) -> StoreResult<u64> {
    let done =
        sqlx::query("DELETE FROM oauth_signing_keys WHERE retired_at IS NOT NULL AND ($1 IS NULL OR retired_at <= $1)")
            .bind(before)
            .execute(conn)
            .await?;
    Ok(done.rows_affected())
}
