//! Request extractors that fail with SPEC §1 errors instead of axum's plain-text rejections.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::auth::{Principal, Scope};
use crate::error::ApiError;

/// A JSON body: 415 without a JSON content type, 413 over the limit, 400 naming the field
/// for type errors, unknown fields and missing fields.
pub struct ApiJson<T>(pub T);

/// Bodies over this size are parsed on the blocking pool (a bundle of frames is megabytes of
/// JSON), so that parsing them cannot stall the async threads.
const INLINE_PARSE_BYTES: usize = 64 * 1024;

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned + Send + 'static,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim().to_ascii_lowercase();
                mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
            });
        if !is_json {
            return Err(ApiError::unsupported_media_type());
        }
        let bytes = Bytes::from_request(req, state).await.map_err(bytes_rejection)?;
        if bytes.len() <= INLINE_PARSE_BYTES {
            return parse_json(&bytes).map(ApiJson);
        }
        tokio::task::spawn_blocking(move || parse_json(&bytes)).await.map_err(ApiError::internal)?.map(ApiJson)
    }
}

fn bytes_rejection(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", "request body is too large")
    } else {
        ApiError::bad_request("unreadable_body", "the request body could not be read")
    }
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let deserializer = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        match inner.classify() {
            serde_json::error::Category::Syntax
            | serde_json::error::Category::Eof
            | serde_json::error::Category::Io => {
                ApiError::bad_request("malformed_json", format!("request body is not valid JSON: {inner}"))
            }
            serde_json::error::Category::Data => {
                let field = if path == "." { "body".to_string() } else { path };
                let message = inner.to_string();
                // serde's message ends with " at line L column C", which helps nobody here.
                let message = message.split(" at line ").next().unwrap_or(&message).to_string();
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_field", format!("{field}: {message}"))
                    .with_details(vec![json!({"field": field, "message": message})])
            }
        }
    })
}

/// The authenticated caller, with a scope check.
#[derive(Debug, Clone)]
pub struct Auth(pub Principal);

impl Auth {
    pub fn require(&self, scope: Scope) -> Result<&Principal, ApiError> {
        if self.0.scopes.contains(&scope) {
            Ok(&self.0)
        } else {
            Err(ApiError::forbidden_scope(scope.as_str()))
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Principal>().cloned().map(Auth).ok_or_else(|| {
            ApiError::unauthorized("missing_api_key", "send an API key as Authorization: Bearer qe_sk_...")
        })
    }
}

/// `?limit=&cursor=` with SPEC §1's bounds.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct PageQuery {
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

impl PageQuery {
    pub fn page(&self) -> Result<crate::store::Page, ApiError> {
        let limit = match &self.limit {
            None => 50,
            Some(text) => match text.parse::<i64>() {
                Ok(n) if (1..=500).contains(&n) => n,
                _ => return Err(ApiError::invalid_field("limit", "must be an integer from 1 to 500")),
            },
        };
        if self.cursor.as_ref().is_some_and(|c| c.is_empty() || c.len() > 64) {
            return Err(ApiError::invalid_field("cursor", "is not a cursor this server issued"));
        }
        Ok(crate::store::Page { limit, cursor: self.cursor.clone() })
    }
}

/// Query parameters; a bad one is a SPEC §1 400, not axum's plain-text rejection.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|q| ApiQuery(q.0))
            .map_err(|e| ApiError::bad_request("invalid_query", format!("query string: {}", e.body_text())))
    }
}

/// The caller's network address, for sign-in rate limits and the audit log ("unknown" when the
/// server runs without connection info, as in-process tests do).
pub struct ClientAddress(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let address = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip().to_string());
        Ok(ClientAddress(address.unwrap_or_else(|| "unknown".into())))
    }
}

/// The value of the request's cookie `name`, if it sent one.
pub fn cookie<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
}
