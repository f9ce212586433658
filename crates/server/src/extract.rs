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
use crate::state::AppState;

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

/// The caller's network address, for rate limits, attempts and the audit log ("unknown" when
/// the server runs without connection info, as in-process tests do). Behind a reverse proxy
/// named in `trusted_proxies`, the address that proxy saw: the right-most entry of
/// `X-Forwarded-For` that is not itself a trusted proxy (entries further left are whatever
/// the client wrote, and a client could write anything there).
pub struct ClientAddress(pub String);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip());
        let address = client_address(peer, &parts.headers, &state.config.trusted_proxy_nets);
        Ok(ClientAddress(address.map_or_else(|| "unknown".into(), |ip| ip.to_string())))
    }
}

/// The client of a request from `peer`, reading `X-Forwarded-For` only when `peer` is trusted.
pub fn client_address(
    peer: Option<std::net::IpAddr>,
    headers: &axum::http::HeaderMap,
    trusted: &[ipnet::IpNet],
) -> Option<std::net::IpAddr> {
    let is_trusted = |ip: &std::net::IpAddr| trusted.iter().any(|net| net.contains(ip));
    let peer = peer?;
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for entry in forwarded.iter().rev() {
        // A value the proxy did not write in the form it writes: stop at the last good hop.
        let Ok(ip) = entry.parse::<std::net::IpAddr>() else { break };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    Some(client)
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn forwarded(values: &[&'static str]) -> axum::http::HeaderMap {
        let mut headers = axum::http::HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", axum::http::HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        let proxies: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().unwrap(), "192.168.1.5/32".parse().unwrap()];
        let spoofed = forwarded(&["1.2.3.4"]);
        // A client talking to us directly cannot choose its address.
        assert_eq!(client_address(Some(ip("203.0.113.9")), &spoofed, &proxies), Some(ip("203.0.113.9")));
        assert_eq!(client_address(Some(ip("10.0.0.2")), &spoofed, &[]), Some(ip("10.0.0.2")));
        // Behind the proxy: the address the proxy saw, right-most; what the client wrote to
        // its left is ignored, and proxies in between are skipped.
        let chain = forwarded(&["1.2.3.4, 198.51.100.7", "10.0.0.9"]);
        assert_eq!(client_address(Some(ip("10.0.0.2")), &chain, &proxies), Some(ip("198.51.100.7")));
        assert_eq!(
            client_address(Some(ip("192.168.1.5")), &forwarded(&["2001:db8::1"]), &proxies),
            Some(ip("2001:db8::1"))
        );
        // No header, or garbage in it: the proxy itself (or the last good hop).
        assert_eq!(client_address(Some(ip("10.0.0.2")), &forwarded(&[]), &proxies), Some(ip("10.0.0.2")));
        assert_eq!(
            client_address(Some(ip("10.0.0.2")), &forwarded(&["1.2.3.4, nonsense"]), &proxies),
            Some(ip("10.0.0.2"))
        );
        assert_eq!(client_address(None, &spoofed, &proxies), None);
    }
}
