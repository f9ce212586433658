//! Dashboard users and what signs them in: sessions, passkeys, WebAuthn ceremonies and
//! enrollment tokens (migration 0014).

use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use super::{col, StoreResult};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub id: String,
    pub org_id: String,
    pub email: String,
    pub role: String,
    pub password_hash: Option<String>,
    pub created_at: String,
    pub disabled_at: Option<String>,
    pub webauthn_handle: Option<String>,
}

const USER_COLUMNS: &str = "id, org_id, email, role, password_hash, created_at, disabled_at, webauthn_handle";

fn user(row: &AnyRow) -> StoreResult<UserRow> {
    Ok(UserRow {
        id: col(row, "id")?,
        org_id: col(row, "org_id")?,
        email: col(row, "email")?,
        role: col(row, "role")?,
        password_hash: col(row, "password_hash")?,
        created_at: col(row, "created_at")?,
        disabled_at: col(row, "disabled_at")?,
        webauthn_handle: col(row, "webauthn_handle")?,
    })
}

/// Every user with this email (lower-cased by the caller), across orgs, oldest first.
pub async fn find_by_email(conn: &mut AnyConnection, email: &str) -> StoreResult<Vec<UserRow>> {
    let rows = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM dashboard_users WHERE email = $1 ORDER BY id"))
        .bind(email)
        .fetch_all(conn)
        .await?;
    rows.iter().map(user).collect()
}

pub async fn find(conn: &mut AnyConnection, user_id: &str) -> StoreResult<Option<UserRow>> {
    let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM dashboard_users WHERE id = $1"))
        .bind(user_id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(user).transpose()
}

pub async fn find_by_handle(conn: &mut AnyConnection, handle: &str) -> StoreResult<Option<UserRow>> {
    let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM dashboard_users WHERE webauthn_handle = $1"))
        .bind(handle)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(user).transpose()
}

pub async fn find_in_org_by_email(conn: &mut AnyConnection, org_id: &str, email: &str) -> StoreResult<Option<UserRow>> {
    let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM dashboard_users WHERE org_id = $1 AND email = $2"))
        .bind(org_id)
        .bind(email)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(user).transpose()
}

/// Gives the user a WebAuthn handle once; returns the handle they hold afterwards.
pub async fn ensure_handle(conn: &mut AnyConnection, user_id: &str, fresh: &str) -> StoreResult<String> {
    sqlx::query("UPDATE dashboard_users SET webauthn_handle = $1 WHERE id = $2 AND webauthn_handle IS NULL")
        .bind(fresh)
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    let row =
        sqlx::query("SELECT webauthn_handle FROM dashboard_users WHERE id = $1").bind(user_id).fetch_one(conn).await?;
    col(&row, "webauthn_handle")
}

/// Disables the user (true when this call did it) and revokes every session they hold.
pub async fn disable(conn: &mut AnyConnection, user_id: &str, at: &str) -> StoreResult<bool> {
    let done = sqlx::query("UPDATE dashboard_users SET disabled_at = $1 WHERE id = $2 AND disabled_at IS NULL")
        .bind(at)
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    revoke_user_sessions(conn, user_id, at).await?;
    Ok(done.rows_affected() == 1)
}

pub async fn enable(conn: &mut AnyConnection, user_id: &str) -> StoreResult<bool> {
    let done = sqlx::query("UPDATE dashboard_users SET disabled_at = NULL WHERE id = $1 AND disabled_at IS NOT NULL")
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub id_hash: String,
    pub org_id: String,
    pub user_id: String,
    pub purpose: String,
    pub method: String,
    pub created_at: String,
    pub last_seen_at: String,
    pub expires_at: String,
    pub revoked_at: Option<String>,
}

const SESSION_COLUMNS: &str =
    "id_hash, org_id, user_id, purpose, method, created_at, last_seen_at, expires_at, revoked_at";

fn session(row: &AnyRow) -> StoreResult<SessionRow> {
    Ok(SessionRow {
        id_hash: col(row, "id_hash")?,
        org_id: col(row, "org_id")?,
        user_id: col(row, "user_id")?,
        purpose: col(row, "purpose")?,
        method: col(row, "method")?,
        created_at: col(row, "created_at")?,
        last_seen_at: col(row, "last_seen_at")?,
        expires_at: col(row, "expires_at")?,
        revoked_at: col(row, "revoked_at")?,
    })
}

pub async fn insert_session(conn: &mut AnyConnection, s: &SessionRow) -> StoreResult<()> {
    sqlx::query(&format!("INSERT INTO user_sessions ({SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"))
        .bind(&s.id_hash)
        .bind(&s.org_id)
        .bind(&s.user_id)
        .bind(&s.purpose)
        .bind(&s.method)
        .bind(&s.created_at)
        .bind(&s.last_seen_at)
        .bind(&s.expires_at)
        .bind(s.revoked_at.as_deref())
        .execute(conn)
        .await?;
    Ok(())
}

/// The session and its user, whatever their state (the caller judges expiry and revocation).
pub async fn find_session(conn: &mut AnyConnection, id_hash: &str) -> StoreResult<Option<(SessionRow, UserRow)>> {
    let Some(row) = sqlx::query(&format!("SELECT {SESSION_COLUMNS} FROM user_sessions WHERE id_hash = $1"))
        .bind(id_hash)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    let session = session(&row)?;
    Ok(find(conn, &session.user_id).await?.map(|user| (session, user)))
}

pub async fn touch_session(conn: &mut AnyConnection, id_hash: &str, at: &str) -> StoreResult<()> {
    sqlx::query("UPDATE user_sessions SET last_seen_at = $1 WHERE id_hash = $2 AND revoked_at IS NULL")
        .bind(at)
        .bind(id_hash)
        .execute(conn)
        .await?;
    Ok(())
}

/// Revokes one session; true when it was live.
pub async fn revoke_session(conn: &mut AnyConnection, id_hash: &str, at: &str) -> StoreResult<bool> {
    let done = sqlx::query("UPDATE user_sessions SET revoked_at = $1 WHERE id_hash = $2 AND revoked_at IS NULL")
        .bind(at)
        .bind(id_hash)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn revoke_user_sessions(conn: &mut AnyConnection, user_id: &str, at: &str) -> StoreResult<u64> {
    let done = sqlx::query("UPDATE user_sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
        .bind(at)
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyRow {
    pub id: String,
    pub org_id: String,
    pub user_id: String,
    pub credential_id: String,
    pub name: String,
    /// webauthn-rs's `Passkey`, JSON.
    pub passkey: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

const PASSKEY_COLUMNS: &str = "id, org_id, user_id, credential_id, name, passkey, created_at, last_used_at";

fn passkey(row: &AnyRow) -> StoreResult<PasskeyRow> {
    Ok(PasskeyRow {
        id: col(row, "id")?,
        org_id: col(row, "org_id")?,
        user_id: col(row, "user_id")?,
        credential_id: col(row, "credential_id")?,
        name: col(row, "name")?,
        passkey: col(row, "passkey")?,
        created_at: col(row, "created_at")?,
        last_used_at: col(row, "last_used_at")?,
    })
}

pub async fn insert_passkey(conn: &mut AnyConnection, p: &PasskeyRow) -> StoreResult<()> {
    sqlx::query(&format!("INSERT INTO user_passkeys ({PASSKEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"))
        .bind(&p.id)
        .bind(&p.org_id)
        .bind(&p.user_id)
        .bind(&p.credential_id)
        .bind(&p.name)
        .bind(&p.passkey)
        .bind(&p.created_at)
        .bind(p.last_used_at.as_deref())
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn passkeys_of(conn: &mut AnyConnection, user_id: &str) -> StoreResult<Vec<PasskeyRow>> {
    let rows =
        sqlx::query(&format!("SELECT {PASSKEY_COLUMNS} FROM user_passkeys WHERE user_id = $1 ORDER BY created_at, id"))
            .bind(user_id)
            .fetch_all(conn)
            .await?;
    rows.iter().map(passkey).collect()
}

pub async fn passkey_by_credential(conn: &mut AnyConnection, credential_id: &str) -> StoreResult<Option<PasskeyRow>> {
    let row = sqlx::query(&format!("SELECT {PASSKEY_COLUMNS} FROM user_passkeys WHERE credential_id = $1"))
        .bind(credential_id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(passkey).transpose()
}

/// Stores the credential's new counter and backup state after a sign-in.
pub async fn passkey_used(conn: &mut AnyConnection, id: &str, passkey: &str, at: &str) -> StoreResult<()> {
    sqlx::query("UPDATE user_passkeys SET passkey = $1, last_used_at = $2 WHERE id = $3")
        .bind(passkey)
        .bind(at)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn delete_passkey(conn: &mut AnyConnection, user_id: &str, id: &str) -> StoreResult<bool> {
    let done = sqlx::query("DELETE FROM user_passkeys WHERE user_id = $1 AND id = $2")
        .bind(user_id)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CeremonyRow {
    pub id: String,
    /// `register` or `sign_in`.
    pub kind: String,
    pub org_id: Option<String>,
    pub user_id: Option<String>,
    pub state: String,
    pub expires_at: String,
}

pub async fn insert_ceremony(conn: &mut AnyConnection, c: &CeremonyRow, now: &str) -> StoreResult<()> {
    // Lapsed ceremonies are dropped as new ones begin, so the table holds only live ones.
    sqlx::query("DELETE FROM webauthn_ceremonies WHERE expires_at < $1").bind(now).execute(&mut *conn).await?;
    sqlx::query(
        "INSERT INTO webauthn_ceremonies (id, kind, org_id, user_id, state, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&c.id)
    .bind(&c.kind)
    .bind(c.org_id.as_deref())
    .bind(c.user_id.as_deref())
    .bind(&c.state)
    .bind(&c.expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Takes the ceremony: returns it and deletes it in one step, so only one finish can use it.
pub async fn take_ceremony(conn: &mut AnyConnection, id: &str, kind: &str) -> StoreResult<Option<CeremonyRow>> {
    let row = sqlx::query(
        "DELETE FROM webauthn_ceremonies WHERE id = $1 AND kind = $2 \
         RETURNING id, kind, org_id, user_id, state, expires_at",
    )
    .bind(id)
    .bind(kind)
    .fetch_optional(conn)
    .await?;
    row.map(|row| {
        Ok(CeremonyRow {
            id: col(&row, "id")?,
            kind: col(&row, "kind")?,
            org_id: col(&row, "org_id")?,
            user_id: col(&row, "user_id")?,
            state: col(&row, "state")?,
            expires_at: col(&row, "expires_at")?,
        })
    })
    .transpose()
}

pub async fn insert_enrollment(
    conn: &mut AnyConnection,
    token_hash: &str,
    org_id: &str,
    user_id: &str,
    created_at: &str,
    expires_at: &str,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO user_enrollments (token_hash, org_id, user_id, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(token_hash)
    .bind(org_id)
    .bind(user_id)
    .bind(created_at)
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Uses an enrollment token once: the user id when it was unused and unexpired.
pub async fn use_enrollment(conn: &mut AnyConnection, token_hash: &str, now: &str) -> StoreResult<Option<String>> {
    let row = sqlx::query(
        "UPDATE user_enrollments SET used_at = $1 \
         WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING user_id",
    )
    .bind(now)
    .bind(token_hash)
    .fetch_optional(conn)
    .await?;
    row.map(|row| col(&row, "user_id")).transpose()
}
