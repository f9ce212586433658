//! Dashboard sign-in (seed 000's Auth and WebAuthn rows): `POST /api/auth/login`,
//! `POST /api/auth/logout`, `GET /api/auth/me`, passkey registration and sign-in under
//! `/api/auth/webauthn/...`, the user's passkeys, and `POST /api/auth/enroll` for a first
//! passkey. The workflows are `service::sign_in` and `service::passkeys`.

use axum::extract::{FromRequestParts, Path, State};
use axum::http::header::{CACHE_CONTROL, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ClientAddress};
use crate::service::passkeys::{self, Begun};
use crate::service::sign_in::{self, Opened, PasswordSignIn, Session};
use crate::state::AppState;
use crate::store::users::{PasskeyRow, UserRow};
use crate::store::{orgs, users};

/// The signed-in person (the session the cookie names), for the routes only a person uses.
pub struct SignedIn(pub Session);

impl<S: Send + Sync> FromRequestParts<S> for SignedIn {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(session) = parts.extensions.get::<Session>() {
            return Ok(SignedIn(session.clone()));
        }
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "session_required",
            "this route is for a signed-in dashboard user, not an API key",
        ))
    }
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    id: String,
    org_id: String,
    email: String,
    /// `analyst` or `admin`.
    role: String,
    created_at: String,
}

impl From<&UserRow> for UserView {
    fn from(u: &UserRow) -> Self {
        UserView {
            id: u.id.clone(),
            org_id: u.org_id.clone(),
            email: u.email.clone(),
            role: u.role.clone(),
            created_at: u.created_at.clone(),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    /// `password`, `passkey` or `enrollment`.
    method: String,
    /// `full`, or `enroll` (the session may only register a passkey).
    purpose: String,
    /// The absolute end; the session also ends after the idle window without a request.
    expires_at: String,
    /// The scopes this session holds (its role's, none while it may only enroll).
    scopes: Vec<String>,
    /// Send it as `X-CSRF-Token` with every request that changes anything.
    csrf_token: String,
}

fn session_view(state: &AppState, session: &Session) -> SessionView {
    let scopes = match session.purpose {
        sign_in::Purpose::Full => session.role.scopes().iter().map(|s| s.as_str().to_string()).collect(),
        sign_in::Purpose::Enroll => Vec::new(),
    };
    SessionView {
        method: session.method.clone(),
        purpose: session.purpose.as_str().into(),
        expires_at: session.expires_at.clone(),
        scopes,
        csrf_token: sign_in::csrf_token(state, &session.id_hash),
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SignedInView {
    user: UserView,
    session: SessionView,
}

/// 200 with the session cookie, never cached.
fn signed_in(state: &AppState, opened: Opened) -> ApiResult<Response> {
    let cookie =
        HeaderValue::from_str(&sign_in::set_cookie(&state.config, &opened.cookie_value)).map_err(ApiError::internal)?;
    let body =
        SignedInView { user: UserView::from(&opened.session.user), session: session_view(state, &opened.session) };
    Ok(([(SET_COOKIE, cookie), (CACHE_CONTROL, HeaderValue::from_static("no-store"))], Json(body)).into_response())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoginRequest {
    email: String,
    password: String,
    /// The organization (name or id), needed only when the email has accounts in several.
    org: Option<String>,
}

/// Signs in with email and password: the session cookie, and its CSRF token in the body.
/// Every refusal is the same 401 `invalid_credentials`; attempts are limited per account and
/// per address (429).
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", security(()), request_body = LoginRequest, responses((status = 200, description = "signed in; the session cookie is set", body = SignedInView), crate::error::ErrorResponse))]
pub async fn login(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    ApiJson(body): ApiJson<LoginRequest>,
) -> ApiResult<Response> {
    let input =
        PasswordSignIn { org: body.org.as_deref(), email: &body.email, password: &body.password, address: &address };
    let opened = sign_in::with_password(&state, input).await?;
    signed_in(&state, opened)
}

/// Ends the session and clears its cookie.
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth", security(("session" = [])), responses((status = 204, description = "signed out"), crate::error::ErrorResponse))]
pub async fn logout(State(state): State<AppState>, SignedIn(session): SignedIn) -> ApiResult<Response> {
    sign_in::sign_out(&state, &session).await?;
    let cookie = HeaderValue::from_str(&sign_in::clear_cookie(&state.config)).map_err(ApiError::internal)?;
    Ok((StatusCode::NO_CONTENT, [(SET_COOKIE, cookie)]).into_response())
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct OrgView {
    id: String,
    name: String,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyView {
    id: String,
    name: String,
    created_at: String,
    last_used_at: Option<String>,
}

impl From<&PasskeyRow> for PasskeyView {
    fn from(p: &PasskeyRow) -> Self {
        PasskeyView {
            id: p.id.clone(),
            name: p.name.clone(),
            created_at: p.created_at.clone(),
            last_used_at: p.last_used_at.clone(),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct MeView {
    user: UserView,
    org: OrgView,
    session: SessionView,
    passkeys: Vec<PasskeyView>,
}

/// The signed-in user, their org, role and scopes, the session and their passkeys.
#[utoipa::path(get, path = "/api/auth/me", tag = "auth", security(("session" = [])), responses((status = 200, description = "who is signed in", body = MeView), crate::error::ErrorResponse))]
pub async fn me(State(state): State<AppState>, SignedIn(session): SignedIn) -> ApiResult<Response> {
    let mut conn = state.store.reader().acquire().await?;
    let org = orgs::find(&mut conn, &session.user.org_id).await?.ok_or_else(|| ApiError::not_found("organization"))?;
    let passkeys = users::passkeys_of(&mut conn, &session.user.id).await?;
    let body = MeView {
        user: UserView::from(&session.user),
        org: OrgView { id: org.id, name: org.name },
        session: session_view(&state, &session),
        passkeys: passkeys.iter().map(PasskeyView::from).collect(),
    };
    Ok(([(CACHE_CONTROL, HeaderValue::from_static("no-store"))], Json(body)).into_response())
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CeremonyView {
    /// Name it in the finish call.
    ceremony_id: String,
    /// For `navigator.credentials.create()` or `.get()`: `{publicKey: {...}}`, binary fields
    /// as base64url.
    #[schema(value_type = Object)]
    options: Value,
}

impl From<Begun> for CeremonyView {
    fn from(b: Begun) -> Self {
        CeremonyView { ceremony_id: b.ceremony_id, options: b.options }
    }
}

/// Begins registering a passkey for the signed-in user (an enroll-only session may too).
#[utoipa::path(post, path = "/api/auth/webauthn/register/begin", tag = "auth", security(("session" = [])), responses((status = 200, description = "the creation options", body = CeremonyView), crate::error::ErrorResponse))]
pub async fn register_begin(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
) -> ApiResult<Json<CeremonyView>> {
    Ok(Json(passkeys::register_begin(&state, &session).await?.into()))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterFinish {
    ceremony_id: String,
    /// What the user calls this passkey ("work laptop"); defaults to "passkey".
    name: Option<String>,
    /// The `PublicKeyCredential` from `navigator.credentials.create()`, binary fields as base64url.
    #[schema(value_type = Object)]
    credential: Value,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PasskeyEnvelope {
    passkey: PasskeyView,
}

#[utoipa::path(post, path = "/api/auth/webauthn/register/finish", tag = "auth", security(("session" = [])), request_body = RegisterFinish, responses((status = 201, description = "the passkey, registered", body = PasskeyEnvelope), crate::error::ErrorResponse))]
pub async fn register_finish(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    ApiJson(body): ApiJson<RegisterFinish>,
) -> ApiResult<(StatusCode, Json<PasskeyEnvelope>)> {
    let credential = serde_json::from_value(body.credential)
        .map_err(|e| ApiError::invalid_field("credential", format!("is not a WebAuthn registration: {e}")))?;
    let name = body.name.as_deref().unwrap_or("passkey");
    let row = passkeys::register_finish(&state, &session, &body.ceremony_id, name, &credential).await?;
    Ok((StatusCode::CREATED, Json(PasskeyEnvelope { passkey: PasskeyView::from(&row) })))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignInBegin {
    /// The account; without it the authenticator offers its discoverable passkeys.
    email: Option<String>,
    /// The organization (name or id), when the email has accounts in several.
    org: Option<String>,
}

/// Begins a passkey sign-in.
#[utoipa::path(post, path = "/api/auth/webauthn/auth/begin", tag = "auth", security(()), request_body = SignInBegin, responses((status = 200, description = "the request options", body = CeremonyView), crate::error::ErrorResponse))]
pub async fn sign_in_begin(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<SignInBegin>,
) -> ApiResult<Json<CeremonyView>> {
    let begun = passkeys::sign_in_begin(&state, body.org.as_deref(), body.email.as_deref()).await?;
    Ok(Json(begun.into()))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignInFinish {
    ceremony_id: String,
    /// The `PublicKeyCredential` from `navigator.credentials.get()`, binary fields as base64url.
    #[schema(value_type = Object)]
    credential: Value,
}

/// Finishes a passkey sign-in: the session cookie, as `login` gives. A refused assertion is
/// 401 `passkey_refused`, and the ceremony is spent either way.
#[utoipa::path(post, path = "/api/auth/webauthn/auth/finish", tag = "auth", security(()), request_body = SignInFinish, responses((status = 200, description = "signed in; the session cookie is set", body = SignedInView), crate::error::ErrorResponse))]
pub async fn sign_in_finish(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    ApiJson(body): ApiJson<SignInFinish>,
) -> ApiResult<Response> {
    let credential = serde_json::from_value(body.credential)
        .map_err(|e| ApiError::invalid_field("credential", format!("is not a WebAuthn assertion: {e}")))?;
    let opened = passkeys::sign_in_finish(&state, &body.ceremony_id, &credential, &address).await?;
    signed_in(&state, opened)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    /// The `qe_enr_...` token `kenali user create` printed.
    token: String,
}

/// Exchanges a one-time enrollment token for a session that may only register a passkey.
#[utoipa::path(post, path = "/api/auth/enroll", tag = "auth", security(()), request_body = EnrollRequest, responses((status = 200, description = "an enroll-only session; the cookie is set", body = SignedInView), crate::error::ErrorResponse))]
pub async fn enroll(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    ApiJson(body): ApiJson<EnrollRequest>,
) -> ApiResult<Response> {
    let opened = sign_in::with_enrollment_token(&state, &body.token, &address).await?;
    signed_in(&state, opened)
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PasskeyList {
    data: Vec<PasskeyView>,
}

/// The signed-in user's passkeys.
#[utoipa::path(get, path = "/api/auth/passkeys", tag = "auth", security(("session" = [])), responses((status = 200, description = "the passkeys", body = PasskeyList), crate::error::ErrorResponse))]
pub async fn list_passkeys(State(state): State<AppState>, SignedIn(session): SignedIn) -> ApiResult<Json<PasskeyList>> {
    let rows = passkeys::list(&state, &session).await?;
    Ok(Json(PasskeyList { data: rows.iter().map(PasskeyView::from).collect() }))
}

/// Removes one of the signed-in user's passkeys.
#[utoipa::path(delete, path = "/api/auth/passkeys/{id}", tag = "auth", security(("session" = [])), params(("id" = String, Path, description = "passkey id (pk_...)")), responses((status = 204, description = "removed"), crate::error::ErrorResponse))]
pub async fn remove_passkey(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    passkeys::remove(&state, &session, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
