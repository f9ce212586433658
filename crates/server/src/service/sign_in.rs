//! Dashboard sign-in (SPEC §2, issue 19): passwords (argon2id), sessions behind an HttpOnly,
//! SameSite=Strict cookie, CSRF tokens, and the rate limits and audit entries every attempt
//! leaves. Passkeys ([`super::passkeys`]) open sessions through [`open`] too.
//!
//! A session's cookie carries 256 random bits; the server keeps only their SHA-256, so a copy
//! of the database opens no session. Every failed sign-in gets the same answer and costs the
//! same argon2 verification whether or not the account exists.

use std::sync::OnceLock;

use axum::http::HeaderMap;
use base64::Engine;
use kenali_core::time_fmt::{format_timestamp, parse_timestamp};
use rand::RngCore;
use serde_json::json;
use time::{Duration, OffsetDateTime};

use super::users::{normalize_email, Role, MAX_PASSWORD_BYTES};
use super::{Error, Result};
use crate::auth::hash_secret;
use crate::config::Config;
use crate::ledger::{self, Actor};
use crate::ratelimit::{self, Limit};
use crate::state::AppState;
use crate::store::users::{self, SessionRow, UserRow};
use crate::store::{org_settings, orgs};

/// The header a cookie-authenticated request that changes anything must carry.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Sign-in attempts per account (an email) and per network address, passwords and passkeys
/// alike: enough for a person who mistypes, far too few to guess.
pub const SIGN_IN_PER_ACCOUNT: Limit = Limit { name: "sign_in_account", max: 10, window_secs: 300, per: "account" };
pub const SIGN_IN_PER_ADDRESS: Limit = Limit { name: "sign_in_address", max: 30, window_secs: 300, per: "address" };
/// A live session's `last_seen_at` is written at most this often, not on every request.
const TOUCH_EVERY_SECS: i64 = 60;

const INVALID_CREDENTIALS: &str = "the email or password is wrong, or the account cannot sign in";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Everything the user's role allows.
    Full,
    /// Only registering a passkey (an enrollment link, or a password where the org requires
    /// passkeys and the user has none yet).
    Enroll,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Full => "full",
            Purpose::Enroll => "enroll",
        }
    }
}

/// A live session and its user.
#[derive(Debug, Clone)]
pub struct Session {
    pub id_hash: String,
    pub user: UserRow,
    pub role: Role,
    pub purpose: Purpose,
    pub method: String,
    pub expires_at: String,
}

impl Session {
    /// The audit actor of what this person does.
    pub fn actor(&self) -> Actor {
        Actor {
            org_id: self.user.org_id.clone(),
            actor: self.user.id.clone(),
            actor_user_id: Some(self.user.id.clone()),
            request_id: crate::error::current_request_id(),
        }
    }
}

/// A session just opened: the cookie's value goes to the browser once.
pub struct Opened {
    pub cookie_value: String,
    pub csrf_token: String,
    pub session: Session,
}

/// `__Host-kenali_session` behind TLS (the prefix makes browsers insist on Secure, Path=/ and
/// no Domain); `kenali_session` on plain http, where browsers would drop a `__Host-` cookie.
pub fn cookie_name(config: &Config) -> &'static str {
    if config.served_over_tls() {
        "__Host-kenali_session"
    } else {
        "kenali_session"
    }
}

pub fn set_cookie(config: &Config, value: &str) -> String {
    let secure = if config.served_over_tls() { "; Secure" } else { "" };
    format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        cookie_name(config),
        config.session_max_secs
    )
}

pub fn clear_cookie(config: &Config) -> String {
    let secure = if config.served_over_tls() { "; Secure" } else { "" };
    format!("{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}", cookie_name(config))
}

/// The session cookie's value in the request, if any.
pub fn presented_cookie(headers: &HeaderMap, config: &Config) -> Option<String> {
    crate::extract::cookie(headers, cookie_name(config))
        .filter(|value| !value.is_empty() && value.len() <= 128)
        .map(str::to_string)
}

/// The session's CSRF token: a MAC of its id, so nothing more is stored and it changes with
/// every session.
pub fn csrf_token(state: &AppState, id_hash: &str) -> String {
    state.keys.master.mac_key("dashboard-csrf").tag(id_hash.as_bytes())
}

pub fn csrf_matches(state: &AppState, id_hash: &str, presented: &str) -> bool {
    state.keys.master.mac_key("dashboard-csrf").verify(id_hash.as_bytes(), presented)
}

/// The account an email names: in `org` (its name or id) when given, else the only account
/// with that email. `None` when there is no such account, or several and no org to choose.
pub async fn find_account(state: &AppState, org: Option<&str>, email: &str) -> Result<Option<UserRow>> {
    let mut conn = state.store.reader().acquire().await?;
    let candidates = users::find_by_email(&mut conn, email).await?;
    let Some(org) = org.map(str::trim).filter(|o| !o.is_empty()) else {
        return Ok(if candidates.len() == 1 { candidates.into_iter().next() } else { None });
    };
    let org_id = match orgs::find_by_name(&mut conn, org).await? {
        Some(found) => found.id,
        None => org.to_string(),
    };
    Ok(candidates.into_iter().find(|u| u.org_id == org_id))
}

/// Counts an attempt against the account and the address; 429 past either limit.
pub async fn count_attempt(state: &AppState, email: &str, address: &str) -> Result<()> {
    // The bucket names an account by a hash: rate-limit rows are not a list of emails.
    ratelimit::check(state, SIGN_IN_PER_ACCOUNT, &hash_secret(email)[..32]).await?;
    ratelimit::check(state, SIGN_IN_PER_ADDRESS, address).await
}

pub struct PasswordSignIn<'a> {
    pub org: Option<&'a str>,
    pub email: &'a str,
    pub password: &'a str,
    pub address: &'a str,
}

/// An argon2id hash of a random password, verified against when the account does not exist,
/// so that an unknown email costs what a wrong password costs.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        let mut bytes = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        super::users::hash_password(&hex::encode(bytes)).unwrap_or_default()
    })
}

fn password_verifies(hash: &str, password: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(hash)
        .is_ok_and(|parsed| argon2::Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// Signs in with a password. Every refusal is the same 401 `invalid_credentials`; the audit
/// log of the account's org says why (wrong password, disabled, no password).
pub async fn with_password(state: &AppState, input: PasswordSignIn<'_>) -> Result<Opened> {
    let email = normalize_email(input.email)?;
    if input.password.is_empty() || input.password.len() > MAX_PASSWORD_BYTES {
        return Err(Error::invalid_field("password", format!("must be 1 to {MAX_PASSWORD_BYTES} bytes")));
    }
    count_attempt(state, &email, input.address).await?;
    let account = find_account(state, input.org, &email).await?;
    let hash = account.as_ref().and_then(|u| u.password_hash.clone()).unwrap_or_else(|| decoy_hash().to_string());
    let password = input.password.to_string();
    let verified =
        tokio::task::spawn_blocking(move || password_verifies(&hash, &password)).await.map_err(Error::internal)?;
    let Some(user) = account else {
        tracing::info!(address = input.address, "sign-in refused: no such account");
        return Err(invalid_credentials());
    };
    let refusal = if user.disabled_at.is_some() {
        Some("disabled")
    } else if user.password_hash.is_none() {
        Some("no_password")
    } else if !verified {
        Some("wrong_password")
    } else {
        None
    };
    if let Some(reason) = refusal {
        record_refusal(state, &user, "password", reason, input.address).await?;
        return Err(invalid_credentials());
    }
    let role = user_role(&user)?;
    let mut purpose = Purpose::Full;
    if role == Role::Analyst && requires_passkey(state, &user.org_id).await? {
        let has_passkey = !users::passkeys_of(&mut *state.store.reader().acquire().await?, &user.id).await?.is_empty();
        if has_passkey {
            record_refusal(state, &user, "password", "passkey_required", input.address).await?;
            return Err(Error::Forbidden {
                code: "passkey_required",
                message: "this organization requires analysts to sign in with a passkey".into(),
            });
        }
        purpose = Purpose::Enroll;
    }
    open(state, &user, "password", purpose, input.address).await
}

/// Signs in once with a `kenali user create` enrollment token: a session that may only
/// register a passkey.
pub async fn with_enrollment_token(state: &AppState, token: &str, address: &str) -> Result<Opened> {
    ratelimit::check(state, SIGN_IN_PER_ADDRESS, address).await?;
    let refused = || Error::Unauthenticated {
        code: "invalid_enrollment_token",
        message: "the enrollment token is unknown, used or expired; ask an admin for a new one".into(),
    };
    if token.len() > 128 {
        return Err(refused());
    }
    let now = state.clock.now_timestamp();
    let mut tx = state.store.begin().await?;
    let Some(user_id) = users::use_enrollment(&mut tx, &hash_secret(token), &now).await? else {
        return Err(refused());
    };
    let user = users::find(&mut tx, &user_id).await?.filter(|u| u.disabled_at.is_none()).ok_or_else(refused)?;
    tx.commit().await?;
    open(state, &user, "enrollment", Purpose::Enroll, address).await
}

fn invalid_credentials() -> Error {
    Error::Unauthenticated { code: "invalid_credentials", message: INVALID_CREDENTIALS.into() }
}

fn user_role(user: &UserRow) -> Result<Role> {
    Role::parse(&user.role).ok_or_else(|| Error::internal(format!("user {} has an unknown role", user.id)))
}

async fn requires_passkey(state: &AppState, org_id: &str) -> Result<bool> {
    let mut conn = state.store.reader().acquire().await?;
    Ok(org_settings::get(&mut conn, org_id).await?.0.analysts_require_passkey)
}

/// Audits a refused sign-in of a known account (`auth.sign_in_refused`).
pub async fn record_refusal(state: &AppState, user: &UserRow, method: &str, reason: &str, address: &str) -> Result<()> {
    let actor = Actor {
        org_id: user.org_id.clone(),
        actor: "anonymous".into(),
        actor_user_id: None,
        request_id: crate::error::current_request_id(),
    };
    let mut tx = state.store.begin().await?;
    ledger::audit(
        &mut tx,
        &actor,
        "auth.sign_in_refused",
        &user.id,
        json!({"method": method, "reason": reason, "address": address}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Opens a session for `user` (a fresh random id: sign-in always rotates it) and audits it.
pub async fn open(state: &AppState, user: &UserRow, method: &str, purpose: Purpose, address: &str) -> Result<Opened> {
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let cookie_value = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    let now = state.clock.now();
    let max_secs = i64::try_from(state.config.session_max_secs).unwrap_or(43_200);
    let row = SessionRow {
        id_hash: hash_secret(&cookie_value),
        org_id: user.org_id.clone(),
        user_id: user.id.clone(),
        purpose: purpose.as_str().into(),
        method: method.into(),
        created_at: format_timestamp(now),
        last_seen_at: format_timestamp(now),
        expires_at: format_timestamp(now + Duration::seconds(max_secs)),
        revoked_at: None,
    };
    let session = Session {
        id_hash: row.id_hash.clone(),
        user: user.clone(),
        role: user_role(user)?,
        purpose,
        method: method.into(),
        expires_at: row.expires_at.clone(),
    };
    let mut tx = state.store.begin().await?;
    users::insert_session(&mut tx, &row).await?;
    let details = json!({"method": method, "purpose": purpose.as_str(), "address": address});
    ledger::audit(&mut tx, &session.actor(), "auth.signed_in", &user.id, details).await?;
    tx.commit().await?;
    Ok(Opened { csrf_token: csrf_token(state, &row.id_hash), cookie_value, session })
}

/// The live session a cookie names: 401 `session_expired` once it is past its idle or
/// absolute end, revoked, or its user is disabled.
pub async fn resume(state: &AppState, cookie_value: &str) -> Result<Session> {
    let id_hash = hash_secret(cookie_value);
    let found = users::find_session(&mut *state.store.reader().acquire().await?, &id_hash).await?;
    let expired =
        || Error::Unauthenticated { code: "session_expired", message: "the session has ended; sign in again".into() };
    let Some((row, user)) = found else {
        return Err(expired());
    };
    let now = state.clock.now();
    let idle = Duration::seconds(i64::try_from(state.config.session_idle_secs).unwrap_or(1800));
    let last_seen = parse_timestamp(&row.last_seen_at).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let ends = parse_timestamp(&row.expires_at).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    if row.revoked_at.is_some() || user.disabled_at.is_some() || now >= ends || now >= last_seen + idle {
        return Err(expired());
    }
    if (now - last_seen).whole_seconds() >= TOUCH_EVERY_SECS {
        let mut conn = state.store.write().await?;
        users::touch_session(&mut conn, &id_hash, &format_timestamp(now)).await?;
    }
    let purpose = if row.purpose == "enroll" { Purpose::Enroll } else { Purpose::Full };
    Ok(Session { id_hash, role: user_role(&user)?, user, purpose, method: row.method, expires_at: row.expires_at })
}

/// Ends the session (logout) and audits it.
pub async fn sign_out(state: &AppState, session: &Session) -> Result<()> {
    let mut tx = state.store.begin().await?;
    if users::revoke_session(&mut tx, &session.id_hash, &state.clock.now_timestamp()).await? {
        ledger::audit(&mut tx, &session.actor(), "auth.signed_out", &session.user.id, json!({})).await?;
    }
    tx.commit().await?;
    Ok(())
}
