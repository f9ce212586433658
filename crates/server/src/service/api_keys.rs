//! API keys (created and revoked by an org admin, through the API or the dashboard): the
//! secret is shown once and only its hash is kept.

use kenali_core::id::{new_id, IdKind};
use serde_json::json;

use crate::auth::{display_prefix, generate_secret, hash_secret, parse_scopes, scopes_to_string, Scope};
use crate::ledger::{self, Actor};
use crate::service::{Error, Result};
use crate::state::AppState;
use crate::store::api_keys::{self, ApiKeyRow};
use crate::store::{Page, StoreError};

/// A new key and its secret (`qe_sk_...`), which is shown this once.
pub struct NewKey {
    pub key: ApiKeyRow,
    pub secret: String,
}

/// A page of the org's keys, newest first (never their secrets).
pub async fn list(state: &AppState, org_id: &str, page: &Page) -> Result<(Vec<ApiKeyRow>, Option<String>)> {
    let mut conn = state.store.reader().acquire().await?;
    Ok(api_keys::list(&mut conn, org_id, page).await?)
}

/// Checks the name and scopes, then creates the key in the actor's org.
pub async fn create(state: &AppState, actor: &Actor, name: &str, scopes: &[String]) -> Result<NewKey> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::invalid_field("name", "must be 1 to 100 characters"));
    }
    let scopes = parse_scopes(scopes.iter().map(String::as_str)).map_err(|m| Error::invalid_field("scopes", m))?;
    let secret = generate_secret();
    let mut tx = state.store.begin().await?;
    let key = insert(&mut tx, actor, name, &scopes, &secret).await?;
    tx.commit().await?;
    Ok(NewKey { key, secret })
}

/// Writes a key row for `secret` (the bootstrap key and `kenali keys create` come here too)
/// and audits it; the secret itself is never stored.
pub async fn insert(
    conn: &mut sqlx::AnyConnection,
    actor: &Actor,
    name: &str,
    scopes: &[Scope],
    secret: &str,
) -> std::result::Result<ApiKeyRow, StoreError> {
    let row = ApiKeyRow {
        id: new_id(IdKind::ApiKey),
        org_id: actor.org_id.clone(),
        name: name.to_string(),
        prefix: display_prefix(secret),
        scopes: scopes_to_string(scopes),
        created_by: actor.actor.clone(),
        created_at: kenali_core::time_fmt::now_timestamp(),
        revoked_at: None,
    };
    api_keys::insert(conn, &row, &hash_secret(secret)).await?;
    ledger::audit(conn, actor, "api_key.created", &row.id, json!({"name": row.name, "scopes": row.scopes})).await?;
    Ok(row)
}

/// Revokes a key of the actor's org; requests with it fail from the next one on.
pub async fn revoke(state: &AppState, actor: &Actor, key_id: &str) -> Result<ApiKeyRow> {
    // A key revoking itself would lock out whoever holds only it; rotate with another key.
    if actor.actor == key_id {
        return Err(Error::CredentialInUse("a key cannot revoke itself; revoke it with another admin key"));
    }
    let mut tx = state.store.begin().await?;
    let key = api_keys::find(&mut tx, &actor.org_id, key_id).await?.ok_or(Error::NotFound("API key"))?;
    if key.revoked_at.is_some() {
        return Err(Error::AlreadyRevoked("this API key is already revoked"));
    }
    let now = state.clock.now_timestamp();
    api_keys::revoke(&mut tx, &actor.org_id, &key.id, &now).await?;
    ledger::audit(&mut tx, actor, "api_key.revoked", &key.id, json!({"name": key.name})).await?;
    tx.commit().await?;
    Ok(ApiKeyRow { revoked_at: Some(now), ..key })
}
