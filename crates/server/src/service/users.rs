//! Dashboard users (SPEC §2): creation with an argon2id password or none, one-time enrollment
//! tokens for a first passkey, disabling, and the rule that records which person acted.

use argon2::password_hash::{PasswordHasher, SaltString};
use kenali_core::id::{new_id, IdKind};
use serde_json::json;

use super::{Error, Result};
use crate::auth::{generate_secret_with_prefix, hash_secret, Scope};
use crate::ledger::{self, Actor};
use crate::state::AppState;
use crate::store::{orgs, users};

/// Passwords shorter than this are refused (NIST SP 800-63B asks for at least 8; a dashboard
/// that shows biometrics asks for more).
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longer ones too: argon2 would hash megabytes happily, and nobody types them.
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// How long a first-passkey enrollment token stays usable.
pub const ENROLLMENT_TTL_SECS: i64 = 72 * 3600;
const ENROLLMENT_PREFIX: &str = "qe_enr_";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Analyst,
    Admin,
}

impl Role {
    pub fn parse(value: &str) -> Option<Role> {
        match value {
            "analyst" => Some(Role::Analyst),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Analyst => "analyst",
            Role::Admin => "admin",
        }
    }

    /// Issue 19: an analyst works the dashboard's routes (public and internal); an admin also
    /// manages keys, webhooks and settings.
    pub fn scopes(self) -> Vec<Scope> {
        match self {
            Role::Analyst => vec![Scope::Public, Scope::Internal],
            Role::Admin => Scope::ALL.to_vec(),
        }
    }
}

pub fn hash_password(password: &str) -> Result<String> {
    if password.chars().count() < MIN_PASSWORD_CHARS || password.len() > MAX_PASSWORD_BYTES {
        return Err(Error::invalid_field(
            "password",
            format!("must be {MIN_PASSWORD_CHARS} characters to {MAX_PASSWORD_BYTES} bytes"),
        ));
    }
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| Error::internal(format!("hashing a password: {e}")))
}

/// Emails are compared as typed, less surrounding space and case.
pub fn normalize_email(email: &str) -> Result<String> {
    let email = email.trim().to_lowercase();
    let well_formed = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if !well_formed {
        return Err(Error::invalid_field("email", "must be an email address"));
    }
    Ok(email)
}

pub struct CreatedUser {
    pub user: users::UserRow,
    /// `qe_enr_...`: signs in once, for registering a first passkey (shown once).
    pub enrollment_token: String,
}

/// Creates a user in `org_name` (the org is created when new), with a password or without
/// one, and an enrollment token for a first passkey.
pub async fn create(
    state: &AppState,
    org_name: &str,
    email: &str,
    role: Role,
    password: Option<&str>,
    actor_name: &str,
) -> Result<CreatedUser> {
    let email = normalize_email(email)?;
    let password_hash = password.map(hash_password).transpose()?;
    let now = state.clock.now_timestamp();
    let mut tx = state.store.begin().await?;
    let org = orgs::get_or_create(&mut tx, org_name).await?;
    let id = new_id(IdKind::User);
    match crate::store::api_keys::insert_user(
        &mut tx,
        &id,
        &org.id,
        &email,
        role.as_str(),
        password_hash.as_deref(),
        &now,
    )
    .await
    {
        Err(e) if e.is_unique_violation() => {
            return Err(Error::Conflict {
                code: "user_exists",
                message: "a user with this email already exists in this organization".into(),
            })
        }
        other => other?,
    }
    let actor =
        Actor { org_id: org.id.clone(), actor: actor_name.into(), actor_user_id: None, request_id: "cli".into() };
    ledger::audit(&mut tx, &actor, "user.created", &id, json!({"role": role.as_str()})).await?;
    let enrollment_token = issue_enrollment(state, &mut tx, &org.id, &id).await?;
    let user = users::find(&mut tx, &id).await?.ok_or(Error::NotFound("user"))?;
    tx.commit().await?;
    Ok(CreatedUser { user, enrollment_token })
}

async fn issue_enrollment(
    state: &AppState,
    conn: &mut sqlx::AnyConnection,
    org_id: &str,
    user_id: &str,
) -> Result<String> {
    let token = generate_secret_with_prefix(ENROLLMENT_PREFIX);
    let now = state.clock.now();
    let expires = kenali_core::time_fmt::format_timestamp(now + time::Duration::seconds(ENROLLMENT_TTL_SECS));
    users::insert_enrollment(
        conn,
        &hash_secret(&token),
        org_id,
        user_id,
        &kenali_core::time_fmt::format_timestamp(now),
        &expires,
    )
    .await?;
    Ok(token)
}

/// Disables the user and revokes every session they hold, at once.
pub async fn disable(state: &AppState, org_id: &str, user_id: &str, actor: &Actor) -> Result<bool> {
    let mut tx = state.store.begin().await?;
    let user = users::find(&mut tx, user_id).await?.filter(|u| u.org_id == org_id).ok_or(Error::NotFound("user"))?;
    let changed = users::disable(&mut tx, &user.id, &state.clock.now_timestamp()).await?;
    if changed {
        ledger::audit(&mut tx, actor, "user.disabled", &user.id, json!({})).await?;
    }
    tx.commit().await?;
    Ok(changed)
}

/// Who a recorded decision names. A signed-in person is the actor themselves and cannot name
/// anyone else; an internal API key acting for a person names them (`actorUserId`), who must
/// be a user of the same org.
pub async fn attribute(conn: &mut sqlx::AnyConnection, actor: &mut Actor, requested: Option<&str>) -> Result<()> {
    match (actor.actor_user_id.as_deref(), requested) {
        (Some(me), Some(other)) if me != other => {
            Err(Error::invalid_field("actorUserId", "a signed-in user decides as themselves"))
        }
        (Some(_), _) | (None, None) => Ok(()),
        (None, Some(user_id)) => {
            if !crate::store::api_keys::user_exists(conn, &actor.org_id, user_id).await? {
                return Err(Error::invalid_field("actorUserId", "is not a dashboard user of this organization"));
            }
            actor.actor_user_id = Some(user_id.to_string());
            Ok(())
        }
    }
}
