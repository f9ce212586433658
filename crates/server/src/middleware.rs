//! Request middleware: request ids, one log line per request (errors logged once, with their
//! cause), metrics, an early body-size check, and idempotent replays.

use std::time::Instant;

use axum::body::{to_bytes, Body};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use kenali_core::id::{new_id, IdKind};
use kenali_core::time_fmt::format_timestamp;
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

/// Abandons a request that runs past `request_timeout_secs`: the handler's future is dropped
/// (its transaction rolls back, its idempotency key is freed) and the caller gets 503.
pub async fn request_timeout(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limit = std::time::Duration::from_secs(state.config.request_timeout_secs.max(1));
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            let mut err = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "request_timeout",
                format!("the request took longer than {} s and was abandoned; nothing was recorded", limit.as_secs()),
            );
            err.retry_after_secs = Some(5);
            err.into_response()
        }
    }
}

/// How long a finished request's response replays (seed 000: "within 24h").
pub const REPLAY_WINDOW: time::Duration = time::Duration::hours(24);

/// Routes on which a body's `externalId` is recorded by the handler but is not an idempotency
/// identity: challenge issuance (every request needs a fresh single-use challenge, and one
/// already consumed or expired must never be handed back) and the bundle routes, where the
/// bundle's nonce is the identity (seed 000: "dedupe on the bundle nonce within 24h").
const EXTERNAL_ID_NOT_IDENTITY: [&str; 5] = [
    "/api/identity/face/flash-challenge",
    "/api/identity/document/ktp/challenge",
    "/api/identity/face/liveness",
    "/api/identity/auth/step-up",
    "/api/identity/document/ktp/capture",
];

/// Set on a response that shows a secret once (API key, webhook or device secret, a
/// challenge's `hmacSecret`): it is never stored for replay.
#[derive(Debug, Clone, Copy)]
pub struct CarriesSecret;

/// The idempotency key of a request, scoped to the caller (`Principal::replay_owner`: the API
/// key, or an OAuth client with its token's scopes): the `Idempotency-Key` header, else the
/// body's `externalId` scoped to the route (the same application id is sent to every step). A
/// replay can then only reach a caller holding exactly the scopes that passed the route's scope
/// check when the answer was produced.
fn idempotency_scope(
    key_id: &str,
    req_key: Option<&str>,
    route: &str,
    path: &str,
    body: &serde_json::Value,
) -> Option<String> {
    if let Some(key) = req_key {
        return Some(format!("{key_id}:key:{key}"));
    }
    if EXTERNAL_ID_NOT_IDENTITY.contains(&route) {
        return None;
    }
    body.get("externalId")
        .and_then(serde_json::Value::as_str)
        .filter(|s| !s.is_empty())
        .map(|external_id| format!("{key_id}:ext:{path}:{external_id}"))
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

/// The customer a request concerns: the body's `customerId`, else one named in the path.
fn customer_of_request(path: &str, body: &serde_json::Value) -> Option<String> {
    body.get("customerId")
        .and_then(serde_json::Value::as_str)
        .filter(|id| kenali_core::id::is_id_of(kenali_core::id::IdKind::Customer, id))
        .map(str::to_string)
        .or_else(|| customer_named(path.as_bytes()))
}

fn response_context(scope_key: &str) -> String {
    format!("idempotency/{scope_key}")
}

/// The data key of a customer; `None` when there is no such customer or it was erased.
async fn customer_key(
    state: &AppState,
    org_id: &str,
    customer_id: &str,
) -> Result<Option<kenali_core::seal::DataKey>, ApiError> {
    let mut conn = state.store.reader().acquire().await?;
    let Some(customer) = crate::store::customers::find(&mut conn, org_id, customer_id).await? else {
        return Ok(None);
    };
    if customer.wrapped_data_key.is_none() {
        return Ok(None);
    }
    Ok(Some(crate::ledger::data_key(&state.keys, &customer)?))
}

/// A reservation held while its request runs. Dropped without [`HeldReservation::settle`] (the
/// client went away and the request future was dropped, or it failed), it releases the key so
/// that a retry is not locked out for the whole replay window.
struct HeldReservation {
    state: AppState,
    org_id: String,
    scope_key: String,
    settled: bool,
}

async fn release_reservation(state: AppState, org_id: String, scope_key: String) {
    let released = match state.store.write().await {
        Ok(mut conn) => idempotency::release(&mut conn, &org_id, &scope_key).await,
        Err(e) => Err(e),
    };
    if let Err(e) = released {
        tracing::warn!(error = %e, "releasing an idempotency key failed; it expires in 24 h");
    }
}

impl HeldReservation {
    fn settle(mut self) {
        self.settled = true;
    }

    /// Frees the key before the answer goes out, so that an immediate retry finds it free.
    async fn release(mut self) {
        self.settled = true;
        release_reservation(self.state.clone(), self.org_id.clone(), self.scope_key.clone()).await;
    }
}

impl Drop for HeldReservation {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        // The request future was dropped mid-flight: release from a task of its own.
        let release = release_reservation(self.state.clone(), self.org_id.clone(), self.scope_key.clone());
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(release);
        }
    }
}

/// Bodies up to this size are parsed and hashed on the async thread; larger ones (bundles of
/// frames, tens of megabytes) on the blocking pool, so a burst of them cannot stall the runtime.
const INLINE_BODY_BYTES: usize = 64 * 1024;

/// The body as JSON (`Null` when it is not JSON; the handler refuses it properly) and the
/// request's hash: method, path and the canonical body, so that key order and whitespace do
/// not make a request different.
async fn fingerprint(
    method: Method,
    path: String,
    bytes: axum::body::Bytes,
) -> Result<(serde_json::Value, String), tokio::task::JoinError> {
    let inline = bytes.len() <= INLINE_BODY_BYTES;
    let work = move || {
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        let canonical = if json.is_null() { bytes.to_vec() } else { json.to_string().into_bytes() };
        let mut hasher = Sha256::new();
        hasher.update(method.as_str().as_bytes());
        hasher.update([0]);
        hasher.update(path.as_bytes());
        hasher.update([0]);
        hasher.update(&canonical);
        (json, hex::encode(hasher.finalize()))
    };
    if inline {
        Ok(work())
    } else {
        tokio::task::spawn_blocking(work).await
    }
}

/// Replays the first successful response to a repeated mutating request; the same key with
/// a different request is 409. A response about a customer is sealed with that customer's data
/// key, so erasing the customer shreds it; a response that showed a secret is not kept.
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
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()).unwrap_or_default();
    let (parts, body) = req.into_parts();
    let limit = state.config.image_body_limit_bytes;
    let bytes = match to_bytes(body, limit).await {
        Ok(bytes) => bytes,
        Err(_) => return ApiError::too_large(limit).into_response(),
    };
    let path = parts.uri.path().to_string();
    let (json, request_hash) = match fingerprint(parts.method.clone(), path.clone(), bytes.clone()).await {
        Ok(read) => read,
        Err(e) => return ApiError::internal(e).into_response(),
    };
    let Some(scope_key) = idempotency_scope(&principal.replay_owner(), header_key.as_deref(), &route, &path, &json)
    else {
        return next.run(Request::from_parts(parts, Body::from(bytes))).await;
    };
    let org_id = principal.org_id.as_str();

    let now = state.clock.now_timestamp();
    let expired_before = format_timestamp(state.clock.now() - REPLAY_WINDOW);
    let reservation = match state.store.write().await {
        Ok(mut conn) => idempotency::reserve(&mut conn, org_id, &scope_key, &request_hash, &now, &expired_before).await,
        Err(e) => return ApiError::from(e).into_response(),
    };
    match reservation {
        Err(e) => return ApiError::from(e).into_response(),
        Ok(Reservation::Reserved) => {}
        Ok(
            Reservation::Replay { request_hash: ref first, .. }
            | Reservation::InProgress { request_hash: ref first }
            | Reservation::SecretShown { request_hash: ref first },
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
        Ok(Reservation::SecretShown { .. }) => {
            return ApiError::conflict(
                "idempotent_secret_not_kept",
                "the first request with this idempotency key succeeded, and its answer showed a secret once; \
                 Kenali does not keep secrets to replay them: list the resource to find it, or send a new key",
            )
            .into_response();
        }
        Ok(Reservation::Replay { status, sealed_body, customer_id, .. }) => {
            let opened = match &customer_id {
                Some(customer_id) => match customer_key(&state, org_id, customer_id).await {
                    Ok(Some(key)) => key.open(&sealed_body, &response_context(&scope_key)).map_err(|e| e.to_string()),
                    // The customer was erased after the answer was kept: nothing to replay.
                    Ok(None) => {
                        return ApiError::gone("the customer this request concerned was erased").into_response()
                    }
                    Err(err) => return err.into_response(),
                },
                None => state.keys.idempotency.open(&sealed_body, &scope_key).map_err(|e| e.to_string()),
            };
            let body = match opened {
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

    let held = HeldReservation {
        state: state.clone(),
        org_id: org_id.to_string(),
        scope_key: scope_key.clone(),
        settled: false,
    };
    let response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
    if !response.status().is_success() {
        // A failed request frees its key for a corrected retry.
        held.release().await;
        return response;
    }
    if response.extensions().get::<CarriesSecret>().is_some() {
        let marked = match state.store.write().await {
            Ok(mut conn) => idempotency::complete_secret(&mut conn, org_id, &scope_key).await,
            Err(e) => Err(e),
        };
        match marked {
            Ok(()) => held.settle(),
            Err(_) => held.release().await,
        }
        return response;
    }
    let (parts, body) = response.into_parts();
    let body = match to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(e) => return ApiError::internal(format!("buffering response: {e}")).into_response(),
    };
    let customer = customer_of_request(&path, &json).or_else(|| customer_named(&body));
    let sealed = match &customer {
        Some(customer_id) => match customer_key(&state, org_id, customer_id).await {
            Ok(key) => key.map(|key| key.seal(&body, &response_context(&scope_key))),
            Err(err) => {
                tracing::warn!(code = err.code, "reading the customer's key to keep an idempotent response failed");
                None
            }
        },
        None => Some(state.keys.idempotency.seal(&body, &scope_key)),
    };
    let Some(sealed) = sealed else {
        // Erased by this very request (or meanwhile), or its key unreadable: keep nothing; a
        // retry re-runs.
        held.release().await;
        return Response::from_parts(parts, Body::from(body));
    };
    let stored = match state.store.write().await {
        Ok(mut conn) => {
            let status = parts.status.as_u16();
            idempotency::complete(&mut conn, org_id, &scope_key, status, &sealed, customer.as_deref()).await
        }
        Err(e) => Err(e),
    };
    match stored {
        Ok(()) => held.settle(),
        // The change itself is committed; a retry re-runs and meets the natural dedupe.
        Err(e) => {
            tracing::warn!(error = %e, "keeping an idempotent response failed; the key is freed");
            held.release().await;
        }
    }
    Response::from_parts(parts, Body::from(body))
}

#[cfg(test)]
mod tests {
    use super::{customer_named, customer_of_request, idempotency_scope};

    #[test]
    fn the_customer_a_response_names_is_found() {
        let id = kenali_core::id::new_id(kenali_core::id::IdKind::Customer);
        let body = format!(r#"{{"customer":{{"id":"{id}","tier":"none"}}}}"#);
        assert_eq!(customer_named(body.as_bytes()), Some(id.clone()));
        assert_eq!(customer_named(format!("/api/identity/customers/{id}/erase").as_bytes()), Some(id));
        assert_eq!(customer_named(br#"{"id":"cus_notaulid","x":"cus_"}"#), None);
        assert_eq!(customer_named(b""), None);
    }

    #[test]
    fn the_request_names_its_customer_before_the_answer_does() {
        let id = kenali_core::id::new_id(kenali_core::id::IdKind::Customer);
        let body = serde_json::json!({"customerId": id, "valid": true});
        assert_eq!(customer_of_request("/api/identity/nik/dukcapil", &body), Some(id.clone()));
        let path = format!("/api/identity/kyc/{id}/upgrade");
        assert_eq!(customer_of_request(&path, &serde_json::Value::Null), Some(id));
        assert_eq!(customer_of_request("/api/customers", &serde_json::json!({"customerId": "cus_x"})), None);
    }

    #[test]
    fn scopes_belong_to_the_calling_key_and_bundle_routes_ignore_external_ids() {
        let body = serde_json::json!({"externalId": "app-1"});
        let a = idempotency_scope("key_a", None, "/api/customers", "/api/customers", &body);
        let b = idempotency_scope("key_b", None, "/api/customers", "/api/customers", &body);
        assert!(a.is_some() && b.is_some() && a != b);
        assert_ne!(
            idempotency_scope("key_a", Some("k1"), "/api/customers", "/api/customers", &body),
            idempotency_scope("key_b", Some("k1"), "/api/customers", "/api/customers", &body)
        );
        let step_up = "/api/identity/auth/step-up";
        assert_eq!(idempotency_scope("key_a", None, step_up, step_up, &body), None);
        assert!(idempotency_scope("key_a", Some("k1"), step_up, step_up, &body).is_some());
    }
}
