//! Request middleware: request ids, one log line per request (errors logged once, with their
//! cause), metrics, an early body-size check, and idempotent replays.

use std::time::Instant;

use axum::body::{to_bytes, Body};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use kenali_core::id::{new_id, IdKind};
use kenali_core::time_fmt::{format_timestamp, now_timestamp};
use sha2::{Digest, Sha256};

use crate::auth::Principal;
use crate::error::{ApiError, ErrorLogNote, REQUEST_ID};
use crate::state::AppState;
use crate::store::idempotency::{self, Reservation};

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// A caller's request id is echoed when it is short printable ASCII; otherwise we mint one.
fn request_id_of(req: &Request) -> String {
    req.headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string)
        .unwrap_or_else(|| new_id(IdKind::Request))
}

pub async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = request_id_of(&req);
    let method = req.method().clone();
    let route =
        req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()).unwrap_or_else(|| "unmatched".into());
    let limit = state.config.image_body_limit_bytes;
    let declared_length =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    let mut response = REQUEST_ID
        .scope(request_id.clone(), async move {
            if declared_length.is_some_and(|n| n > limit) {
                return ApiError::too_large(limit).into_response();
            }
            next.run(req).await
        })
        .await;
    let status = response.status();
    let elapsed = started.elapsed();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    state.metrics.requests.with_label_values(&[method.as_str(), &route, status.as_str()]).inc();
    state.metrics.latency.with_label_values(&[method.as_str(), &route]).observe(elapsed.as_secs_f64());
    let ms = elapsed.as_secs_f64() * 1000.0;
    match response.extensions().get::<ErrorLogNote>() {
        Some(note) if status.is_server_error() => tracing::error!(
            request_id, %method, route, status = status.as_u16(), ms, code = note.code,
            cause = note.internal.as_deref().unwrap_or(""), "request failed"
        ),
        Some(note) => tracing::info!(
            request_id, %method, route, status = status.as_u16(), ms, code = note.code, "request refused"
        ),
        None => tracing::info!(request_id, %method, route, status = status.as_u16(), ms, "request"),
    }
    response
}

/// The idempotency key of a request: the `Idempotency-Key` header, else the body's
/// `externalId` scoped to the route (the same application id is sent to every step).
fn idempotency_scope(req_key: Option<&str>, path: &str, body: &serde_json::Value) -> Option<String> {
    if let Some(key) = req_key {
        return Some(format!("key:{key}"));
    }
    body.get("externalId")
        .and_then(serde_json::Value::as_str)
        .filter(|s| !s.is_empty())
        .map(|external_id| format!("ext:{path}:{external_id}"))
}

/// The first customer id (`cus_` and a ULID) in `text`.
fn customer_named(text: &[u8]) -> Option<String> {
    const ID_LEN: usize = 4 + 26;
    let prefix = b"cus_";
    (0..text.len().saturating_sub(ID_LEN - 1))
        .filter(|&i| text[i..].starts_with(prefix))
        .filter_map(|i| std::str::from_utf8(&text[i..i + ID_LEN]).ok())
        .find(|candidate| kenali_core::id::is_id_of(kenali_core::id::IdKind::Customer, candidate))
        .map(str::to_string)
}

/// Replays the first successful response to a repeated mutating request; the same key with
/// a different request is 409.
pub async fn idempotency(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST && req.method() != Method::PATCH && req.method() != Method::DELETE {
        return next.run(req).await;
    }
    let Some(principal) = req.extensions().get::<Principal>().cloned() else {
        return next.run(req).await;
    };
    let header_key = req.headers().get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_string);
    if header_key.as_ref().is_some_and(|k| k.is_empty() || k.len() > 255) {
        return ApiError::invalid_field("Idempotency-Key", "must be 1 to 255 characters").into_response();
    }
    let (parts, body) = req.into_parts();
    let limit = state.config.image_body_limit_bytes;
    let bytes = match to_bytes(body, limit).await {
        Ok(bytes) => bytes,
        Err(_) => return ApiError::too_large(limit).into_response(),
    };
    // Malformed bodies have no externalId; the handler will reject them properly.
    let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    let path = parts.uri.path().to_string();
    let Some(scope_key) = idempotency_scope(header_key.as_deref(), &path, &json) else {
        return next.run(Request::from_parts(parts, Body::from(bytes))).await;
    };
    // Key order and whitespace do not make a request different.
    let canonical = if json.is_null() { bytes.to_vec() } else { json.to_string().into_bytes() };
    let mut hasher = Sha256::new();
    hasher.update(parts.method.as_str().as_bytes());
    hasher.update([0]);
    hasher.update(path.as_bytes());
    hasher.update([0]);
    hasher.update(&canonical);
    let request_hash = hex::encode(hasher.finalize());

    let now = now_timestamp();
    let expired_before = format_timestamp(time::OffsetDateTime::now_utc() - time::Duration::hours(24));
    let reservation = match state.store.pool().acquire().await {
        Ok(mut conn) => {
            idempotency::reserve(&mut conn, &principal.org_id, &scope_key, &request_hash, &now, &expired_before).await
        }
        Err(e) => return ApiError::from(e).into_response(),
    };
    match reservation {
        Err(e) => return ApiError::from(e).into_response(),
        Ok(Reservation::Reserved) => {}
        Ok(
            Reservation::Replay { request_hash: ref first, .. } | Reservation::InProgress { request_hash: ref first },
        ) if *first != request_hash => {
            return ApiError::conflict(
                "idempotency_key_reused",
                "this idempotency key (or externalId) was already used for a different request",
            )
            .into_response();
        }
        Ok(Reservation::InProgress { .. }) => {
            return ApiError::conflict(
                "request_in_progress",
                "a request with this idempotency key is still being processed; retry shortly",
            )
            .into_response();
        }
        Ok(Reservation::Replay { status, sealed_body, .. }) => {
            let body = match state.keys.idempotency.open(&sealed_body, &scope_key) {
                Ok(body) => body,
                Err(e) => return ApiError::internal(format!("stored idempotent response: {e}")).into_response(),
            };
            let mut response = Response::new(Body::from(body));
            *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
            return response;
        }
    }

    let response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
    let org_id = principal.org_id.as_str();
    if !response.status().is_success() {
        if let Ok(mut conn) = state.store.pool().acquire().await {
            if let Err(e) = idempotency::release(&mut conn, org_id, &scope_key).await {
                tracing::warn!(error = %e, "releasing an idempotency key failed; it expires in 24 h");
            }
        }
        return response;
    }
    let (parts, body) = response.into_parts();
    let body = match to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(e) => return ApiError::internal(format!("buffering response: {e}")).into_response(),
    };
    let sealed = state.keys.idempotency.seal(&body, &scope_key);
    let customer = customer_named(&body).or_else(|| customer_named(path.as_bytes()));
    let stored = match state.store.pool().acquire().await {
        Ok(mut conn) => {
            let status = parts.status.as_u16();
            idempotency::complete(&mut conn, org_id, &scope_key, status, &sealed, customer.as_deref()).await
        }
        Err(e) => Err(e.into()),
    };
    if let Err(e) = stored {
        // The change itself is committed; a replay will re-run and hit the natural dedupe.
        tracing::warn!(error = %e, "storing an idempotent response failed");
    }
    Response::from_parts(parts, Body::from(body))
}

#[cfg(test)]
mod tests {
    use super::customer_named;

    #[test]
    fn the_customer_a_response_names_is_found() {
        let id = kenali_core::id::new_id(kenali_core::id::IdKind::Customer);
        let body = format!(r#"{{"customer":{{"id":"{id}","tier":"none"}}}}"#);
        assert_eq!(customer_named(body.as_bytes()), Some(id.clone()));
        assert_eq!(customer_named(format!("/api/identity/customers/{id}/erase").as_bytes()), Some(id));
        assert_eq!(customer_named(br#"{"id":"cus_notaulid","x":"cus_"}"#), None);
        assert_eq!(customer_named(b""), None);
    }
}
