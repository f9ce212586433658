//! API keys (SPEC §2): `qe_sk_` secrets, stored only as a SHA-256 hash (the secrets carry 256
//! random bits, so a slow password hash would add latency without adding safety), each key
//! with a set of scopes. Scopes do not imply one another: a key gets exactly what it lists.

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::oauth::{self, TokenError};
use crate::service::sign_in;
use crate::state::AppState;
use crate::store::api_keys;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    Public,
    Internal,
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Public, Scope::Internal, Scope::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Public => "public",
            Scope::Internal => "internal",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(value: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.as_str() == value)
    }
}

/// Parses `public,internal` (or a list) into a sorted, de-duplicated set.
pub fn parse_scopes<'a>(values: impl IntoIterator<Item = &'a str>) -> Result<Vec<Scope>, String> {
    let mut scopes = Vec::new();
    for value in values {
        let value = value.trim();
        let scope =
            Scope::parse(value).ok_or_else(|| format!("unknown scope `{value}` (use public, internal, admin)"))?;
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    if scopes.is_empty() {
        return Err("at least one scope is needed".into());
    }
    scopes.sort();
    Ok(scopes)
}

pub fn scopes_to_string(scopes: &[Scope]) -> String {
    scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",")
}

/// Who is calling: the credential's org, its id (an API key `key_...` or an OAuth client
/// `ocl_...`: the audit actor) and the scopes this request holds.
#[derive(Debug, Clone)]
pub struct Principal {
    pub org_id: String,
    pub key_id: String,
    pub scopes: Vec<Scope>,
    pub credential: Credential,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    ApiKey,
    /// An OAuth access token, which may hold fewer scopes than its client.
    AccessToken,
    /// A dashboard user's session cookie: `key_id` is the user (`usr_...`), the scopes their
    /// role's.
    Session,
}

impl Principal {
    pub fn api_key(org_id: String, key_id: String, scopes: Vec<Scope>) -> Self {
        Principal { org_id, key_id, scopes, credential: Credential::ApiKey }
    }

    pub fn token(org_id: String, client_id: String, scopes: Vec<Scope>) -> Self {
        Principal { org_id, key_id: client_id, scopes, credential: Credential::AccessToken }
    }

    /// Whose stored idempotent answers this caller may replay. An API key's scopes never
    /// change, so the key alone; a client's tokens may each hold a different subset of its
    /// scopes, so the client with the scopes: a narrower token never replays what a wider one
    /// was allowed to do.
    pub fn replay_owner(&self) -> String {
        match self.credential {
            Credential::ApiKey => self.key_id.clone(),
            Credential::AccessToken | Credential::Session => {
                format!("{}[{}]", self.key_id, scopes_to_string(&self.scopes))
            }
        }
    }
}

pub const SECRET_PREFIX: &str = "qe_sk_";

/// A new API key secret: the prefix and 32 random bytes, base64url.
pub fn generate_secret() -> String {
    generate_secret_with_prefix(SECRET_PREFIX)
}

/// `prefix` and 32 random bytes, base64url (API keys, OAuth client secrets).
pub fn generate_secret_with_prefix(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{prefix}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// What lists show of a secret: enough to tell keys apart, far too little to use.
pub fn display_prefix(secret: &str) -> String {
    secret.chars().take(SECRET_PREFIX.len() + 6).collect()
}

/// Whether `secret` hashes to `expected_hash` (hex SHA-256), in constant time.
pub fn secret_matches(secret: &str, expected_hash: &str) -> bool {
    use subtle::ConstantTimeEq;
    hash_secret(secret).as_bytes().ct_eq(expected_hash.as_bytes()).into()
}

fn presented_secret(req: &Request) -> Option<String> {
    let headers = req.headers();
    if let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let (scheme, token) = value.split_once(' ')?;
        return scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_string());
    }
    headers.get("x-api-key").and_then(|v| v.to_str().ok()).map(|v| v.trim().to_string())
}

/// Resolves the credential on every protected route: an API key, an OAuth access token (a JWT
/// from `/api/oauth/token`), or else a dashboard session's cookie. 401 when absent, unknown,
/// revoked or expired.
pub async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let Some(secret) = presented_secret(&req).filter(|s| !s.is_empty()) else {
        let Some(cookie) = sign_in::presented_cookie(req.headers(), &state.config) else {
            return ApiError::unauthorized(
                "missing_api_key",
                "send an API key as Authorization: Bearer qe_sk_..., or sign in to the dashboard",
            )
            .into_response();
        };
        let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
        let csrf = req.headers().get(sign_in::CSRF_HEADER).and_then(|v| v.to_str().ok()).map(str::to_string);
        let csrf = if safe { None } else { Some(csrf.unwrap_or_default()) };
        return match session_principal(&state, &cookie, csrf.as_deref()).await {
            Ok((principal, session)) => {
                req.extensions_mut().insert(principal);
                req.extensions_mut().insert(session);
                next.run(req).await
            }
            Err(refusal) => refusal.into_response(),
        };
    };
    let principal = if oauth::looks_like_token(&secret) {
        match oauth::verify(&state, &secret).await {
            Ok(principal) => principal,
            Err(TokenError::Store(e)) => return ApiError::from(e).into_response(),
            Err(e) => return token_refused(&e),
        }
    } else {
        let found = match state.store.reader().acquire().await {
            Ok(mut conn) => api_keys::find_active_by_hash(&mut conn, &hash_secret(&secret)).await,
            Err(e) => return ApiError::from(e).into_response(),
        };
        match found {
            Ok(Some(key)) => {
                let scopes = parse_scopes(key.scopes.split(',')).unwrap_or_default();
                Principal::api_key(key.org_id, key.id, scopes)
            }
            Ok(None) => {
                return ApiError::unauthorized("invalid_api_key", "the API key is unknown or revoked").into_response()
            }
            Err(e) => return ApiError::from(e).into_response(),
        }
    };
    req.extensions_mut().insert(principal);
    next.run(req).await
}

/// The principal of a session cookie. A request that may change anything (any method but GET,
/// HEAD and OPTIONS) must also carry the session's CSRF token in `X-CSRF-Token`: SameSite=Strict
/// already keeps the cookie off cross-site requests, and the token holds where a browser or a
/// same-site page does not.
/// `csrf` is the presented token of such a request (empty when absent), `None` for a safe one.
async fn session_principal(
    state: &AppState,
    cookie: &str,
    csrf: Option<&str>,
) -> Result<(Principal, sign_in::Session), ApiError> {
    let session = sign_in::resume(state, cookie).await?;
    if let Some(presented) = csrf {
        if !sign_in::csrf_matches(state, &session.id_hash, presented) {
            return Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "csrf_token_invalid",
                "a signed-in request that changes anything needs the session's X-CSRF-Token header",
            ));
        }
    }
    let scopes = match session.purpose {
        sign_in::Purpose::Full => session.role.scopes(),
        sign_in::Purpose::Enroll => Vec::new(),
    };
    let principal = Principal {
        org_id: session.user.org_id.clone(),
        key_id: session.user.id.clone(),
        scopes,
        credential: Credential::Session,
    };
    Ok((principal, session))
}

/// 401 for a refused access token, with RFC 6750's `WWW-Authenticate` challenge beside the
/// SPEC §1 body.
fn token_refused(error: &TokenError) -> Response {
    let code = match error {
        TokenError::Expired => "token_expired",
        _ => "invalid_token",
    };
    let mut response = ApiError::unauthorized(code, error.to_string()).into_response();
    response.headers_mut().insert(
        axum::http::header::WWW_AUTHENTICATE,
        axum::http::HeaderValue::from_static("Bearer error=\"invalid_token\""),
    );
    response
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_prefixed_and_hash_stably() {
        let a = generate_secret();
        let b = generate_secret();
        assert!(a.starts_with(SECRET_PREFIX));
        assert_ne!(a, b);
        assert_eq!(hash_secret(&a), hash_secret(&a));
        assert_ne!(hash_secret(&a), hash_secret(&b));
        assert_eq!(display_prefix(&a).len(), 12);
    }

    #[test]
    fn scopes_parse_strictly() {
        assert_eq!(parse_scopes(["admin", "public", "admin"]).unwrap(), vec![Scope::Public, Scope::Admin]);
        assert!(parse_scopes(["root"]).is_err());
        assert!(parse_scopes([]).is_err());
    }
}
