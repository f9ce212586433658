//! Passkeys for dashboard users (WebAuthn through webauthn-rs): register while signed in,
//! sign in with one alone, list and remove them.
//!
//! Sign-in may name the account (`email`) or not (a discoverable credential picks it). Naming an
//! account that does not exist answers with believable, stable fake credential ids (webauthn-rs's
//! generator, keyed from the master key), so the answer does not tell whether it exists. Every
//! ceremony's state lives server-side and is taken by the one finish that uses it: an assertion
//! cannot be replayed.

use base64::Engine;
use kenali_core::id::{new_id, IdKind};
use kenali_core::time_fmt::{format_timestamp, parse_timestamp};
use serde_json::{json, Value};
use time::Duration;
use webauthn_rs::fake::{FakePasskeyDistribution, WebauthnFakeCredentialGenerator};
use webauthn_rs::prelude::*;
use webauthn_rs_proto::{AllowCredentials, ResidentKeyRequirement};

use super::sign_in::{self, Opened, Purpose, Session};
use super::users::normalize_email;
use super::{Error, Result};
use crate::config::Config;
use crate::ledger;
use crate::state::AppState;
use crate::store::users::{self, CeremonyRow, PasskeyRow};

/// How long a begun ceremony waits for its finish.
const CEREMONY_TTL_SECS: i64 = 300;
/// At most this many passkeys per user.
pub const MAX_PASSKEYS: usize = 10;
const REGISTER: &str = "register";
const SIGN_IN: &str = "sign_in";
/// A sign-in ceremony begun for an email that names no account: no passkey can finish it.
const NO_ACCOUNT: &str = "-";

/// The relying party: `public_url` when set (its host is the RP id), else `localhost` on any
/// port, which browsers treat as a secure context over plain http.
pub fn relying_party(config: &Config) -> anyhow::Result<Webauthn> {
    let origin = Url::parse(config.public_url.as_deref().unwrap_or("http://localhost:8080"))?;
    let rp_id = origin.host_str().ok_or_else(|| anyhow::anyhow!("public_url has no host"))?.to_string();
    let builder = WebauthnBuilder::new(&rp_id, &origin)?.rp_name("Kenali").allow_any_port(rp_id == "localhost");
    Ok(builder.build()?)
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn refused() -> Error {
    Error::Unauthenticated {
        code: "passkey_refused",
        message: "the passkey was not accepted; begin the sign-in again".into(),
    }
}

fn expires_at(state: &AppState) -> String {
    format_timestamp(state.clock.now() + Duration::seconds(CEREMONY_TTL_SECS))
}

fn lapsed(state: &AppState, ceremony: &CeremonyRow) -> bool {
    parse_timestamp(&ceremony.expires_at).is_none_or(|end| state.clock.now() >= end)
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(Error::internal)
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(Error::internal)
}

/// A ceremony begun: its id and the options for `navigator.credentials`.
pub struct Begun {
    pub ceremony_id: String,
    pub options: Value,
}

/// Begins registering a passkey for the signed-in user.
pub async fn register_begin(state: &AppState, session: &Session) -> Result<Begun> {
    let mut conn = state.store.write().await?;
    let existing = users::passkeys_of(&mut conn, &session.user.id).await?;
    if existing.len() >= MAX_PASSKEYS {
        return Err(Error::Conflict {
            code: "too_many_passkeys",
            message: format!("a user may hold at most {MAX_PASSKEYS} passkeys; remove one first"),
        });
    }
    let handle = users::ensure_handle(&mut conn, &session.user.id, &Uuid::new_v4().to_string()).await?;
    let handle = Uuid::parse_str(&handle).map_err(Error::internal)?;
    let exclude = existing
        .iter()
        .map(|row| from_json::<Passkey>(&row.passkey).map(|p| p.cred_id().clone()))
        .collect::<Result<Vec<_>>>()?;
    let email = &session.user.email;
    let (mut options, registration) =
        state.webauthn.start_passkey_registration(handle, email, email, Some(exclude)).map_err(Error::internal)?;
    // Ask for a discoverable credential where the authenticator can keep one, so that sign-in
    // needs no email; one that cannot still registers.
    if let Some(selection) = options.public_key.authenticator_selection.as_mut() {
        selection.resident_key = Some(ResidentKeyRequirement::Preferred);
    }
    let ceremony = CeremonyRow {
        id: new_id(IdKind::Request),
        kind: REGISTER.into(),
        org_id: Some(session.user.org_id.clone()),
        user_id: Some(session.user.id.clone()),
        state: to_json(&registration)?,
        expires_at: expires_at(state),
    };
    users::insert_ceremony(&mut conn, &ceremony, &state.clock.now_timestamp()).await?;
    Ok(Begun { ceremony_id: ceremony.id, options: serde_json::to_value(&options).map_err(Error::internal)? })
}

/// Finishes a registration begun by the same user: stores the passkey under `name`.
pub async fn register_finish(
    state: &AppState,
    session: &Session,
    ceremony_id: &str,
    name: &str,
    credential: &RegisterPublicKeyCredential,
) -> Result<PasskeyRow> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(Error::invalid_field("name", "must be 1 to 100 printable characters"));
    }
    let mut tx = state.store.begin().await?;
    let ceremony = users::take_ceremony(&mut tx, ceremony_id, REGISTER)
        .await?
        .filter(|c| c.user_id.as_deref() == Some(session.user.id.as_str()))
        .ok_or(Error::NotFound("registration ceremony"))?;
    if lapsed(state, &ceremony) {
        return Err(Error::Gone {
            code: "ceremony_expired",
            message: "the registration took too long; begin again".into(),
        });
    }
    let registration: PasskeyRegistration = from_json(&ceremony.state)?;
    let passkey = state
        .webauthn
        .finish_passkey_registration(credential, &registration)
        .map_err(|e| Error::invalid_field("credential", format!("the authenticator's answer does not verify: {e}")))?;
    let row = PasskeyRow {
        id: new_id(IdKind::Passkey),
        org_id: session.user.org_id.clone(),
        user_id: session.user.id.clone(),
        credential_id: b64(passkey.cred_id()),
        name: name.to_string(),
        passkey: to_json(&passkey)?,
        created_at: state.clock.now_timestamp(),
        last_used_at: None,
    };
    match users::insert_passkey(&mut tx, &row).await {
        Err(e) if e.is_unique_violation() => {
            return Err(Error::Conflict {
                code: "passkey_exists",
                message: "this passkey is already registered".into(),
            })
        }
        other => other?,
    }
    ledger::audit(&mut tx, &session.actor(), "auth.passkey_registered", &row.id, json!({"name": row.name})).await?;
    tx.commit().await?;
    Ok(row)
}

/// Begins a passkey sign-in, for the account an email names or for whichever account the
/// authenticator's discoverable credential belongs to.
pub async fn sign_in_begin(state: &AppState, org: Option<&str>, email: Option<&str>) -> Result<Begun> {
    let (mut options, authentication) = state.webauthn.start_discoverable_authentication().map_err(Error::internal)?;
    // The page decides on conditional mediation itself; the options are the same either way.
    options.mediation = None;
    let (org_id, bound_user) = match email {
        None => (None, None),
        Some(email) => {
            let email = normalize_email(email)?;
            let account = sign_in::find_account(state, org, &email).await?.filter(|u| u.disabled_at.is_none());
            let ids = match &account {
                Some(user) => {
                    let mut conn = state.store.reader().acquire().await?;
                    users::passkeys_of(&mut conn, &user.id)
                        .await?
                        .iter()
                        .map(|row| from_json::<Passkey>(&row.passkey).map(|p| p.cred_id().clone()))
                        .collect::<Result<Vec<_>>>()?
                }
                None => fake_credential_ids(state, org, &email)?,
            };
            options.public_key.allow_credentials = ids
                .into_iter()
                .map(|id| AllowCredentials { type_: "public-key".into(), id, transports: None })
                .collect();
            match account {
                Some(user) => (Some(user.org_id), Some(user.id)),
                None => (None, Some(NO_ACCOUNT.to_string())),
            }
        }
    };
    let ceremony = CeremonyRow {
        id: new_id(IdKind::Request),
        kind: SIGN_IN.into(),
        org_id,
        user_id: bound_user,
        state: to_json(&authentication)?,
        expires_at: expires_at(state),
    };
    let mut conn = state.store.write().await?;
    users::insert_ceremony(&mut conn, &ceremony, &state.clock.now_timestamp()).await?;
    Ok(Begun { ceremony_id: ceremony.id, options: serde_json::to_value(&options).map_err(Error::internal)? })
}

fn fake_credential_ids(state: &AppState, org: Option<&str>, email: &str) -> Result<Vec<CredentialID>> {
    let key = hex::decode(state.keys.master.mac_key("webauthn-fake-credentials").tag(b"generator"))
        .map_err(Error::internal)?;
    let generator = WebauthnFakeCredentialGenerator::<FakePasskeyDistribution>::new(&key).map_err(Error::internal)?;
    generator.generate(format!("{}\n{email}", org.unwrap_or_default()).as_bytes()).map_err(Error::internal)
}

/// Finishes a passkey sign-in: the assertion must answer this ceremony's challenge with a
/// registered passkey of the account the ceremony named (if it named one). Opens a session.
pub async fn sign_in_finish(
    state: &AppState,
    ceremony_id: &str,
    credential: &PublicKeyCredential,
    address: &str,
) -> Result<Opened> {
    crate::ratelimit::check(state, sign_in::SIGN_IN_PER_ADDRESS, address).await?;
    let ceremony = {
        let mut conn = state.store.write().await?;
        users::take_ceremony(&mut conn, ceremony_id, SIGN_IN).await?.ok_or_else(refused)?
    };
    if lapsed(state, &ceremony) {
        return Err(refused());
    }
    let authentication: DiscoverableAuthentication = from_json(&ceremony.state)?;
    let stored = {
        let mut conn = state.store.reader().acquire().await?;
        users::passkey_by_credential(&mut conn, &b64(credential.get_credential_id())).await?
    };
    let Some(stored) = stored else {
        tracing::info!(address, "passkey sign-in refused: unknown credential");
        return Err(refused());
    };
    let user = {
        let mut conn = state.store.reader().acquire().await?;
        users::find(&mut conn, &stored.user_id).await?.ok_or_else(refused)?
    };
    if ceremony.user_id.as_deref().is_some_and(|bound| bound != stored.user_id) {
        sign_in::record_refusal(state, &user, "passkey", "passkey_of_another_account", address).await?;
        return Err(refused());
    }
    if user.disabled_at.is_some() {
        sign_in::record_refusal(state, &user, "passkey", "disabled", address).await?;
        return Err(refused());
    }
    let mut passkey: Passkey = from_json(&stored.passkey)?;
    let result = match state.webauthn.finish_discoverable_authentication_v2(credential, authentication, &passkey) {
        Ok(result) => result,
        Err(e) => {
            tracing::info!(address, error = %e, "passkey sign-in refused: the assertion does not verify");
            sign_in::record_refusal(state, &user, "passkey", "assertion_invalid", address).await?;
            return Err(refused());
        }
    };
    passkey.update_credential(&result);
    {
        let mut conn = state.store.write().await?;
        users::passkey_used(&mut conn, &stored.id, &to_json(&passkey)?, &state.clock.now_timestamp()).await?;
    }
    sign_in::open(state, &user, "passkey", Purpose::Full, address).await
}

pub async fn list(state: &AppState, session: &Session) -> Result<Vec<PasskeyRow>> {
    let mut conn = state.store.reader().acquire().await?;
    Ok(users::passkeys_of(&mut conn, &session.user.id).await?)
}

/// Removes one of the signed-in user's passkeys.
pub async fn remove(state: &AppState, session: &Session, passkey_id: &str) -> Result<()> {
    let mut tx = state.store.begin().await?;
    if !users::delete_passkey(&mut tx, &session.user.id, passkey_id).await? {
        return Err(Error::NotFound("passkey"));
    }
    ledger::audit(&mut tx, &session.actor(), "auth.passkey_removed", passkey_id, json!({})).await?;
    tx.commit().await?;
    Ok(())
}
