//! `POST /api/oauth/token` (RFC 6749 §4.4, client credentials), `GET /.well-known/jwks.json`,
//! and the org admin's `/api/identity/oauth-clients`. The token route answers in RFC 6749's
//! own shapes (snake_case, `{error, error_description}`), not SPEC §1's: OAuth client
//! libraries parse them.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, PRAGMA, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::auth::Scope;
use crate::error::{ApiResult, ErrorLogNote};
use crate::extract::{ApiJson, ApiQuery, Auth, PageQuery};
use crate::ledger::Actor;
use crate::middleware::CarriesSecret;
use crate::service::oauth::{self as service, GrantError};
use crate::state::AppState;
use crate::store::oauth::OAuthClientRow;
use crate::views::ListView;

/// The form of a token request (RFC 6749 §4.4.2); the client authenticates with HTTP Basic
/// (preferred, §2.3.1) or with `client_id` and `client_secret` here, never both.
#[derive(Deserialize, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct TokenRequest {
    /// Must be `client_credentials`.
    grant_type: String,
    /// Space-separated scopes, a subset of the client's; all of them when absent.
    scope: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// A successful token answer (RFC 6749 §5.1).
#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenResponse {
    /// An Ed25519-signed JWT (RFC 9068), verifiable with `/.well-known/jwks.json`.
    access_token: String,
    /// Always `Bearer`.
    token_type: &'static str,
    /// Seconds until the token expires.
    expires_in: i64,
    /// The scopes granted, space-separated.
    scope: String,
}

/// A refused token request (RFC 6749 §5.2).
#[derive(Serialize, utoipa::ToSchema)]
pub struct OAuthErrorBody {
    /// `invalid_request`, `invalid_client`, `unsupported_grant_type`, `invalid_scope` or
    /// `temporarily_unavailable` (rate limited: see `Retry-After`).
    error: &'static str,
    error_description: String,
}

/// An RFC 6749 §5.2 answer.
struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
    /// The client tried HTTP Basic: a 401 then carries the Basic challenge (§5.2).
    basic_challenge: bool,
    retry_after_secs: Option<u64>,
    internal: Option<String>,
}

impl OAuthError {
    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            status,
            error,
            description: description.into(),
            basic_challenge: false,
            retry_after_secs: None,
            internal: None,
        }
    }

    fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = OAuthErrorBody { error: self.error, error_description: self.description };
        let mut response = (self.status, no_store(), Json(body)).into_response();
        let headers = response.headers_mut();
        if self.status == StatusCode::UNAUTHORIZED && self.basic_challenge {
            headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"kenali\""));
        }
        if let Some(secs) = self.retry_after_secs {
            headers.insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        response.extensions_mut().insert(ErrorLogNote { code: self.error, internal: self.internal });
        response
    }
}

/// RFC 6749 §5.1: token answers must not be cached.
fn no_store() -> [(axum::http::HeaderName, HeaderValue); 2] {
    [(CACHE_CONTROL, HeaderValue::from_static("no-store")), (PRAGMA, HeaderValue::from_static("no-cache"))]
}

/// The client's id and secret from an `Authorization: Basic` header: base64 of
/// `form-urlencoded(id) ":" form-urlencoded(secret)` (RFC 6749 §2.3.1). None when the header
/// is absent or another scheme (a stray bearer credential is ignored here).
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().unwrap_or_default();
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return Ok(None);
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let bad = || {
        let mut err = OAuthError::new(StatusCode::UNAUTHORIZED, "invalid_client", "malformed HTTP Basic credentials");
        err.basic_challenge = true;
        err
    };
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).map_err(|_| bad())?;
    let text = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = text.split_once(':').ok_or_else(bad)?;
    let unescape = |part: &str| -> Result<String, OAuthError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&format!("v={part}")).map_err(|_| bad())?;
        Ok(pairs.into_iter().next().map(|(_, v)| v).unwrap_or_default())
    };
    Ok(Some((unescape(id)?, unescape(secret)?)))
}

/// The form's parameters; each may appear once (RFC 6749 §3.2).
fn form_parameters(headers: &HeaderMap, body: &[u8]) -> Result<Vec<(String, String)>, OAuthError> {
    let is_form = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(OAuthError::invalid_request(
            "send the parameters as Content-Type: application/x-www-form-urlencoded (RFC 6749 §4.4.2)",
        ));
    }
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_bytes(body).map_err(|_| OAuthError::invalid_request("the form body cannot be read"))?;
    for (i, (name, _)) in pairs.iter().enumerate() {
        if pairs[..i].iter().any(|(other, _)| other == name) {
            return Err(OAuthError::invalid_request(format!("the parameter `{name}` appears more than once")));
        }
    }
    Ok(pairs)
}

#[utoipa::path(
    post, path = "/api/oauth/token", tag = "oauth", security(()),
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "an access token", body = TokenResponse),
        (status = 400, description = "`invalid_request`, `unsupported_grant_type` or `invalid_scope`", body = OAuthErrorBody),
        (status = 401, description = "`invalid_client`: unknown client, wrong secret or revoked client", body = OAuthErrorBody),
        (status = 429, description = "`temporarily_unavailable`: too many tokens for this client; see Retry-After", body = OAuthErrorBody),
        (status = 500, description = "the server failed", body = OAuthErrorBody),
    )
)]
pub async fn token(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    match issue_token(&state, &headers, &body).await {
        Ok(answer) => (StatusCode::OK, no_store(), Json(answer)).into_response(),
        Err(err) => err.into_response(),
    }
}

async fn issue_token(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<TokenResponse, OAuthError> {
    let basic = basic_credentials(headers)?;
    let params = form_parameters(headers, body)?;
    let param = |name: &str| params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    match param("grant_type") {
        None => return Err(OAuthError::invalid_request("grant_type is required")),
        Some("client_credentials") => {}
        Some(_) => {
            return Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only the client_credentials grant is supported",
            ))
        }
    }
    let used_basic = basic.is_some();
    let (client_id, client_secret) = match (basic, param("client_id"), param("client_secret")) {
        (Some(_), _, Some(_)) => {
            return Err(OAuthError::invalid_request("authenticate with HTTP Basic or with the form, not both"))
        }
        (Some((id, secret)), form_id, None) => {
            if form_id.is_some_and(|form_id| form_id != id) {
                return Err(OAuthError::invalid_request("client_id differs from the HTTP Basic credentials"));
            }
            (id, secret)
        }
        (None, Some(id), Some(secret)) => (id.to_string(), secret.to_string()),
        (None, _, _) => {
            let mut err = OAuthError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "send the client's id and secret with HTTP Basic (or client_id and client_secret in the form)",
            );
            err.basic_challenge = true;
            return Err(err);
        }
    };
    let issued = service::grant(state, &client_id, &client_secret, param("scope")).await.map_err(|e| match e {
        GrantError::InvalidClient => {
            let mut err = OAuthError::new(StatusCode::UNAUTHORIZED, "invalid_client", e.to_string());
            err.basic_challenge = used_basic;
            err
        }
        GrantError::InvalidScope(message) => OAuthError::new(StatusCode::BAD_REQUEST, "invalid_scope", message),
        GrantError::RateLimited { message, retry_after_secs } => {
            let mut err = OAuthError::new(StatusCode::TOO_MANY_REQUESTS, "temporarily_unavailable", message);
            err.retry_after_secs = Some(retry_after_secs);
            err
        }
        other => {
            let mut err = OAuthError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "the server failed to issue a token; quote the X-Request-Id when reporting it",
            );
            err.internal = Some(other.to_string());
            err
        }
    })?;
    Ok(TokenResponse {
        access_token: issued.access_token,
        token_type: "Bearer",
        expires_in: issued.expires_in,
        scope: issued.scope,
    })
}

/// A JSON Web Key Set (RFC 7517).
#[derive(Serialize, utoipa::ToSchema)]
pub struct JwkSet {
    /// `{kty: "OKP", crv: "Ed25519", x, kid, alg: "EdDSA", use: "sig"}` per key.
    keys: Vec<serde_json::Value>,
}

#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "oauth", security(()), responses((status = 200, description = "the public keys access tokens are signed with", body = JwkSet), crate::error::ErrorResponse))]
pub async fn jwks(State(state): State<AppState>) -> ApiResult<Response> {
    let set = crate::oauth::jwks(&state).await?;
    // Short, so that a rotation reaches verifiers within minutes.
    Ok(([(CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"))], Json(set)).into_response())
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OAuthClientView {
    /// The `client_id` to authenticate with.
    id: String,
    name: String,
    /// The first characters of the secret.
    prefix: String,
    scopes: Vec<String>,
    created_by: String,
    created_at: String,
    revoked_at: Option<String>,
}

impl From<&OAuthClientRow> for OAuthClientView {
    fn from(c: &OAuthClientRow) -> Self {
        OAuthClientView {
            id: c.id.clone(),
            name: c.name.clone(),
            prefix: c.prefix.clone(),
            scopes: c.scopes.split(',').map(str::to_string).collect(),
            created_by: c.created_by.clone(),
            created_at: c.created_at.clone(),
            revoked_at: c.revoked_at.clone(),
        }
    }
}

/// `{"oauthClient": {...}}`.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OAuthClientEnvelope {
    oauth_client: OAuthClientView,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewOAuthClient {
    #[serde(flatten)]
    client: OAuthClientView,
    /// `qe_cs_...`, shown this once.
    client_secret: String,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OAuthClientCreated {
    oauth_client: NewOAuthClient,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateOAuthClient {
    name: String,
    /// The scopes its tokens may hold (`public`, `internal`, `admin`).
    scopes: Vec<String>,
}

#[utoipa::path(get, path = "/api/identity/oauth-clients", tag = "oauth", params(PageQuery), responses((status = 200, description = "a page of clients (never secrets)", body = ListView<OAuthClientView>), crate::error::ErrorResponse))]
pub async fn list(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<ListView<OAuthClientView>>> {
    let principal = auth.require(Scope::Admin)?;
    let (rows, next_cursor) = service::list_clients(&state, &principal.org_id, &query.page()?).await?;
    Ok(Json(ListView { data: rows.iter().map(OAuthClientView::from).collect(), next_cursor }))
}

#[utoipa::path(post, path = "/api/identity/oauth-clients", tag = "oauth", request_body = CreateOAuthClient, responses((status = 201, description = "the client with its secret, shown once", body = OAuthClientCreated), crate::error::ErrorResponse))]
pub async fn create(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<CreateOAuthClient>,
) -> ApiResult<(StatusCode, Extension<CarriesSecret>, Json<OAuthClientCreated>)> {
    let actor = Actor::from_principal(auth.require(Scope::Admin)?);
    let created = service::create_client(&state, &actor, &body.name, &body.scopes).await?;
    Ok((
        StatusCode::CREATED,
        Extension(CarriesSecret),
        Json(OAuthClientCreated {
            oauth_client: NewOAuthClient {
                client: OAuthClientView::from(&created.client),
                client_secret: created.secret,
            },
        }),
    ))
}

#[utoipa::path(delete, path = "/api/identity/oauth-clients/{id}", tag = "oauth", params(("id" = String, Path, description = "client id (ocl_...)")), responses((status = 200, description = "revoked: its tokens stop at once", body = OAuthClientEnvelope), crate::error::ErrorResponse))]
pub async fn revoke(
    State(state): State<AppState>,
    auth: Auth,
    Path(client_id): Path<String>,
) -> ApiResult<Json<OAuthClientEnvelope>> {
    let actor = Actor::from_principal(auth.require(Scope::Admin)?);
    let client = service::revoke_client(&state, &actor, &client_id).await?;
    Ok(Json(OAuthClientEnvelope { oauth_client: OAuthClientView::from(&client) }))
}

/// `POST .../revoke`: the same as `DELETE`, for clients that cannot send DELETE.
#[utoipa::path(post, path = "/api/identity/oauth-clients/{id}/revoke", tag = "oauth", params(("id" = String, Path, description = "client id (ocl_...)")), responses((status = 200, description = "revoked: its tokens stop at once", body = OAuthClientEnvelope), crate::error::ErrorResponse))]
pub async fn revoke_by_post(
    state: State<AppState>,
    auth: Auth,
    client_id: Path<String>,
) -> ApiResult<Json<OAuthClientEnvelope>> {
    revoke(state, auth, client_id).await
}
