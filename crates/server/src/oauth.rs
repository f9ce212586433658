//! OAuth2 access tokens for partner backends (RFC 6749 §4.4, client credentials): Ed25519-signed
//! JWTs (RFC 9068 profile) with a `kid`, verified locally and published at
//! `/.well-known/jwks.json`. A token is accepted wherever an API key is, with the scopes it was
//! issued for; every request also checks that its client is still live, so revoking a client
//! stops its tokens at once rather than when they expire.
//!
//! Signing keys live in `oauth_signing_keys` (private halves sealed with a key derived from the
//! master key), shared by every process. The newest unretired key signs; `kenali oauth
//! rotate-key` adds a key and retires the others, which keep verifying until the tokens they
//! signed have expired. Each process caches the public keys and reloads them when a token names
//! a key it does not know (at most once a second) and at least every minute.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use kenali_core::id::{new_id, IdKind};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use tokio::sync::RwLock;
use zeroize::Zeroizing;

use crate::auth::{parse_scopes, Principal, Scope};
use crate::state::AppState;
use crate::store::oauth::{self as store, OAuthClientRow, SigningKeyRow};
use crate::store::StoreError;

/// The `iss` of every token; tokens are only ever verified by Kenali itself.
pub const ISSUER: &str = "kenali";
/// The `aud` of every token: Kenali's API.
pub const AUDIENCE: &str = "kenali-api";
/// The JWT `typ` of an access token (RFC 9068 §2.1).
const TOKEN_TYPE: &str = "at+jwt";
/// Client secrets: the prefix and 32 random bytes, like API keys (`qe_sk_`).
pub const CLIENT_SECRET_PREFIX: &str = "qe_cs_";
/// Clock difference tolerated between the processes that issue and verify a token.
const LEEWAY_SECS: i64 = 30;
/// How long a process trusts its cached public keys before reading them again.
const RING_MAX_AGE: Duration = Duration::from_secs(60);
/// The least time between two reloads caused by tokens naming an unknown key.
const MISS_RELOAD_GAP: Duration = Duration::from_secs(1);

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    aud: String,
    sub: String,
    client_id: String,
    /// The client's org, for the reader; the server takes the org from the client's row.
    org: String,
    /// Space-separated, as RFC 6749 §3.3 writes scopes.
    scope: String,
    iat: i64,
    exp: i64,
    jti: String,
}

/// A token just issued.
pub struct IssuedToken {
    pub access_token: String,
    pub expires_in: i64,
    /// The granted scopes, space-separated (RFC 6749 §3.3), as the token and its answer say.
    pub scope: String,
    pub jti: String,
    pub kid: String,
    /// This issue created the first signing key: the caches learn of it after the commit.
    pub created_key: bool,
}

/// Why a bearer token was refused; each answers 401.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the access token is malformed or its signature does not verify")]
    Invalid,
    #[error("the access token has expired; request a new one at /api/oauth/token")]
    Expired,
    #[error("the access token's client is revoked or unknown")]
    ClientRevoked,
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the stored signing key {0} cannot be opened with this master key")]
    Unreadable(String),
    #[error("signing the token: {0}")]
    Sign(String),
}

/// The public keys this process verifies with, by `kid`.
#[derive(Default)]
pub struct KeyRing {
    inner: RwLock<Ring>,
}

#[derive(Default)]
struct Ring {
    keys: HashMap<String, DecodingKey>,
    loaded_at: Option<Instant>,
    last_miss_reload: Option<Instant>,
}

impl KeyRing {
    async fn reload(&self, state: &AppState, ring: &mut Ring) -> Result<(), StoreError> {
        let mut conn = state.store.reader().acquire().await?;
        let rows = store::signing_keys(&mut conn).await?;
        ring.keys = rows
            .iter()
            .filter_map(|row| DecodingKey::from_ed_components(&row.public_key).ok().map(|k| (row.kid.clone(), k)))
            .collect();
        ring.loaded_at = Some(Instant::now());
        Ok(())
    }

    /// The verifying key named `kid`, reading the table again when the cache is stale or, at
    /// most once a second, when it does not know the key.
    async fn key(&self, state: &AppState, kid: &str) -> Result<Option<DecodingKey>, StoreError> {
        {
            let ring = self.inner.read().await;
            let fresh = ring.loaded_at.is_some_and(|at| at.elapsed() < RING_MAX_AGE);
            if fresh {
                if let Some(key) = ring.keys.get(kid) {
                    return Ok(Some(key.clone()));
                }
                if ring.last_miss_reload.is_some_and(|at| at.elapsed() < MISS_RELOAD_GAP) {
                    return Ok(None);
                }
            }
        }
        let mut ring = self.inner.write().await;
        let fresh = ring.loaded_at.is_some_and(|at| at.elapsed() < RING_MAX_AGE);
        if !fresh
            || (!ring.keys.contains_key(kid) && ring.last_miss_reload.is_none_or(|at| at.elapsed() >= MISS_RELOAD_GAP))
        {
            if fresh {
                ring.last_miss_reload = Some(Instant::now());
            }
            self.reload(state, &mut ring).await?;
        }
        Ok(ring.keys.get(kid).cloned())
    }

    /// Forgets the cache (after this process added a key: a rotation, or the first key).
    pub async fn invalidate(&self) {
        self.inner.write().await.loaded_at = None;
    }
}

/// An access token's lifetime (`oauth_token_ttl_secs`, 60 to 3600 by the config's check).
fn token_ttl_secs(state: &AppState) -> i64 {
    i64::try_from(state.config.oauth_token_ttl_secs).unwrap_or(900)
}

/// A new client secret.
pub fn generate_client_secret() -> String {
    crate::auth::generate_secret_with_prefix(CLIENT_SECRET_PREFIX)
}

/// Makes a new signing key row (not yet stored).
fn new_signing_key(state: &AppState, now: &str) -> SigningKeyRow {
    let mut seed = Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng.fill_bytes(seed.as_mut());
    let signing = ed25519_dalek::SigningKey::from_bytes(&seed);
    let kid = new_id(IdKind::SigningKey);
    SigningKeyRow {
        public_key: URL_SAFE_NO_PAD.encode(signing.verifying_key().as_bytes()),
        private_key_sealed: state.keys.oauth.seal(seed.as_ref(), &kid),
        created_at: now.to_string(),
        retired_at: None,
        kid,
    }
}

fn encoding_key(state: &AppState, row: &SigningKeyRow) -> Result<EncodingKey, SigningError> {
    let unreadable = || SigningError::Unreadable(row.kid.clone());
    let seed = Zeroizing::new(state.keys.oauth.open(&row.private_key_sealed, &row.kid).map_err(|_| unreadable())?);
    let seed: &[u8; 32] = seed.as_slice().try_into().map_err(|_| unreadable())?;
    let der = ed25519_dalek::SigningKey::from_bytes(seed).to_pkcs8_der().map_err(|_| unreadable())?;
    Ok(EncodingKey::from_ed_der(der.as_bytes()))
}

/// Signs a token for `client` with `scopes` (already checked against the client's), in the
/// caller's transaction; creates the first signing key when there is none.
pub async fn issue(
    state: &AppState,
    conn: &mut sqlx::AnyConnection,
    client: &OAuthClientRow,
    scopes: Vec<Scope>,
) -> Result<IssuedToken, SigningError> {
    let now = state.clock.now();
    let (key, created_key) = match store::current_signing_key(conn).await? {
        Some(key) => (key, false),
        None => {
            let key = new_signing_key(state, &kenali_core::time_fmt::format_timestamp(now));
            store::insert_signing_key(conn, &key).await?;
            tracing::info!(kid = %key.kid, "created the first OAuth token signing key");
            (key, true)
        }
    };
    let ttl = token_ttl_secs(state);
    let iat = now.unix_timestamp();
    let jti = ulid::Ulid::new().to_string();
    let scope = scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ");
    let claims = Claims {
        iss: ISSUER.into(),
        aud: AUDIENCE.into(),
        sub: client.id.clone(),
        client_id: client.id.clone(),
        org: client.org_id.clone(),
        scope: scope.clone(),
        iat,
        exp: iat + ttl,
        jti: jti.clone(),
    };
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(key.kid.clone());
    header.typ = Some(TOKEN_TYPE.into());
    let access_token = jsonwebtoken::encode(&header, &claims, &encoding_key(state, &key)?)
        .map_err(|e| SigningError::Sign(e.to_string()))?;
    Ok(IssuedToken { access_token, expires_in: ttl, scope, jti, kid: key.kid, created_key })
}

/// Whether a bearer credential is shaped like a JWT (three base64url parts) rather than an
/// API key; the first part of ours always begins with `eyJ` (`{"`).
pub fn looks_like_token(credential: &str) -> bool {
    credential.starts_with("eyJ") && credential.bytes().filter(|b| *b == b'.').count() == 2
}

/// Verifies an access token and resolves its caller: the signature with a known key, the
/// issuer, audience and type, the expiry on the server's clock, and a live client whose scopes
/// still include the token's.
pub async fn verify(state: &AppState, token: &str) -> Result<Principal, TokenError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
    if header.alg != Algorithm::EdDSA || header.typ.as_deref() != Some(TOKEN_TYPE) {
        return Err(TokenError::Invalid);
    }
    let kid = header.kid.ok_or(TokenError::Invalid)?;
    let key = state.oauth.key(state, &kid).await?.ok_or(TokenError::Invalid)?;
    let mut validation = Validation::new(Algorithm::EdDSA);
    // Expiry is checked below on the server's clock (which tests move), not the system's.
    validation.validate_exp = false;
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation).map_err(|_| TokenError::Invalid)?.claims;
    if claims.sub != claims.client_id {
        return Err(TokenError::Invalid);
    }
    if state.clock.now().unix_timestamp() >= claims.exp + LEEWAY_SECS {
        return Err(TokenError::Expired);
    }
    let client = {
        let mut conn = state.store.reader().acquire().await.map_err(StoreError::from)?;
        store::find_active_client(&mut conn, &claims.client_id).await?.ok_or(TokenError::ClientRevoked)?
    };
    let granted = parse_scopes(claims.scope.split(' ')).map_err(|_| TokenError::Invalid)?;
    let held = parse_scopes(client.scopes.split(',')).unwrap_or_default();
    let scopes: Vec<Scope> = granted.into_iter().filter(|s| held.contains(s)).collect();
    Ok(Principal::token(client.org_id, client.id, scopes))
}

/// Adds a signing key and retires the others (they verify until their tokens expire); with
/// `drop_retired`, deletes every retired key at once, so that their tokens stop within a minute
/// (the processes' cache age). Returns the new key's id.
pub async fn rotate(state: &AppState, drop_retired: bool) -> Result<String, StoreError> {
    let now = state.clock.now_timestamp();
    let key = new_signing_key(state, &now);
    let mut tx = state.store.begin().await?;
    store::insert_signing_key(&mut tx, &key).await?;
    store::retire_signing_keys_except(&mut tx, &key.kid, &now).await?;
    if drop_retired {
        store::delete_retired_signing_keys(&mut tx, None).await?;
    }
    tx.commit().await?;
    state.oauth.invalidate().await;
    Ok(key.kid)
}

/// Deletes retired keys whose every token has expired (the sweeper's share).
pub async fn purge_retired_keys(state: &AppState) -> Result<u64, StoreError> {
    let ttl = token_ttl_secs(state);
    let horizon = state.clock.now() - time::Duration::seconds(ttl + 2 * LEEWAY_SECS);
    let mut conn = state.store.write().await?;
    store::delete_retired_signing_keys(&mut conn, Some(&kenali_core::time_fmt::format_timestamp(horizon))).await
}

/// The JWK Set (RFC 7517) of every key that verifies.
pub async fn jwks(state: &AppState) -> Result<serde_json::Value, StoreError> {
    let mut conn = state.store.reader().acquire().await?;
    let keys = store::signing_keys(&mut conn).await?;
    Ok(serde_json::json!({
        "keys": keys.iter().map(|k| serde_json::json!({
            "kty": "OKP", "crv": "Ed25519", "x": k.public_key, "kid": k.kid, "alg": "EdDSA", "use": "sig",
        })).collect::<Vec<_>>()
    }))
}
