//! OAuth clients (created and revoked by an org admin) and the client-credentials grant
//! (RFC 6749 §4.4) that turns a client's id and secret into an access token.

use kenali_core::id::{is_id_of, new_id, IdKind};
use serde_json::json;

use crate::auth::{display_prefix, hash_secret, parse_scopes, scopes_to_string, secret_matches};
use crate::ledger::{self, Actor};
use crate::oauth::{self, IssuedToken, SigningError};
use crate::ratelimit::{self, Limit};
use crate::service::{Error, Result};
use crate::state::AppState;
use crate::store::oauth::{self as store, OAuthClientRow};
use crate::store::StoreError;

/// Tokens a client may obtain per minute: a backend caches its token for its lifetime, so
/// even a fleet of partner workers needs few.
pub const TOKEN_ISSUANCE: Limit = Limit { name: "oauth_token", max: 60, window_secs: 60, per: "OAuth client" };

/// Why a token request was refused, in RFC 6749 §5.2's terms.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    /// Unknown client, wrong secret or revoked client: one answer for all three, so the route
    /// does not tell which client ids exist.
    #[error("client authentication failed")]
    InvalidClient,
    #[error("{0}")]
    InvalidScope(String),
    #[error("{message}")]
    RateLimited { message: String, retry_after_secs: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Signing(#[from] SigningError),
    #[error("{0}")]
    Internal(String),
}

/// A new client and its secret, which is shown this once.
pub struct NewClient {
    pub client: OAuthClientRow,
    pub secret: String,
}

/// A page of the org's clients, newest first (never their secrets).
pub async fn list_clients(
    state: &AppState,
    org_id: &str,
    page: &crate::store::Page,
) -> Result<(Vec<OAuthClientRow>, Option<String>)> {
    let mut conn = state.store.reader().acquire().await?;
    Ok(store::list_clients(&mut conn, org_id, page).await?)
}

pub async fn create_client(state: &AppState, actor: &Actor, name: &str, scopes: &[String]) -> Result<NewClient> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::InvalidField { field: "name".into(), message: "must be 1 to 100 characters".into() });
    }
    let scopes = parse_scopes(scopes.iter().map(String::as_str))
        .map_err(|message| Error::InvalidField { field: "scopes".into(), message })?;
    let secret = oauth::generate_client_secret();
    let client = OAuthClientRow {
        id: new_id(IdKind::OAuthClient),
        org_id: actor.org_id.clone(),
        name: name.to_string(),
        prefix: display_prefix(&secret),
        scopes: scopes_to_string(&scopes),
        created_by: actor.actor.clone(),
        created_at: state.clock.now_timestamp(),
        revoked_at: None,
    };
    let mut tx = state.store.begin().await?;
    store::insert_client(&mut tx, &client, &hash_secret(&secret)).await?;
    ledger::audit(
        &mut tx,
        actor,
        "oauth_client.created",
        &client.id,
        json!({"name": client.name, "scopes": client.scopes}),
    )
    .await?;
    tx.commit().await?;
    Ok(NewClient { client, secret })
}

/// Revokes a client of the actor's org: its tokens stop at once (every request checks it).
pub async fn revoke_client(state: &AppState, actor: &Actor, client_id: &str) -> Result<OAuthClientRow> {
    if actor.actor == client_id {
        return Err(Error::CredentialInUse(
            "a client cannot revoke itself; revoke it with an API key or another client",
        ));
    }
    let mut tx = state.store.begin().await?;
    let client = store::find_client(&mut tx, &actor.org_id, client_id).await?.ok_or(Error::NotFound("OAuth client"))?;
    if client.revoked_at.is_some() {
        return Err(Error::AlreadyRevoked("this OAuth client is already revoked"));
    }
    let now = state.clock.now_timestamp();
    store::revoke_client(&mut tx, &actor.org_id, &client.id, &now).await?;
    ledger::audit(&mut tx, actor, "oauth_client.revoked", &client.id, json!({"name": client.name})).await?;
    tx.commit().await?;
    Ok(OAuthClientRow { revoked_at: Some(now), ..client })
}

/// The client credentials grant: authenticates the client, narrows its scopes to the requested
/// ones (space-separated; all of the client's when absent), rate limits and audits the issue.
pub async fn grant(
    state: &AppState,
    client_id: &str,
    client_secret: &str,
    requested_scope: Option<&str>,
) -> std::result::Result<IssuedToken, GrantError> {
    let found = if is_id_of(IdKind::OAuthClient, client_id) {
        let mut conn = state.store.reader().acquire().await.map_err(StoreError::from)?;
        store::find_client_with_hash(&mut conn, client_id).await?
    } else {
        None
    };
    let client = match found {
        Some((client, hash)) if secret_matches(client_secret, &hash) && client.revoked_at.is_none() => client,
        Some((client, _)) => {
            // Never the secret; the client id is not secret.
            tracing::warn!(client_id = %client.id, revoked = client.revoked_at.is_some(), "OAuth token refused: bad secret or revoked client");
            return Err(GrantError::InvalidClient);
        }
        None => return Err(GrantError::InvalidClient),
    };
    let held = parse_scopes(client.scopes.split(',')).unwrap_or_default();
    let scopes = match requested_scope.map(str::trim).filter(|s| !s.is_empty()) {
        None => held,
        Some(requested) => {
            let scopes =
                parse_scopes(requested.split(' ').filter(|w| !w.is_empty())).map_err(GrantError::InvalidScope)?;
            if let Some(extra) = scopes.iter().find(|s| !held.contains(s)) {
                let message = format!("this client may not request the scope `{}`", extra.as_str());
                return Err(GrantError::InvalidScope(message));
            }
            scopes
        }
    };
    ratelimit::check(state, TOKEN_ISSUANCE, &client.id).await.map_err(|e| match e {
        Error::RateLimited { message, retry_after_secs } => GrantError::RateLimited { message, retry_after_secs },
        Error::Store(e) => GrantError::Store(e),
        other => GrantError::Internal(other.to_string()),
    })?;
    let actor = Actor {
        org_id: client.org_id.clone(),
        actor: client.id.clone(),
        actor_user_id: None,
        request_id: crate::error::current_request_id(),
    };
    let mut tx = state.store.begin().await?;
    let issued = oauth::issue(state, &mut tx, &client, scopes).await?;
    ledger::audit(
        &mut tx,
        &actor,
        "oauth_token.issued",
        &client.id,
        json!({"scopes": issued.scope, "jti": issued.jti, "kid": issued.kid, "expiresIn": issued.expires_in}),
    )
    .await?;
    tx.commit().await?;
    if issued.created_key {
        state.oauth.invalidate().await;
    }
    Ok(issued)
}
