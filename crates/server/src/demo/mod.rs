//! The demo (`KENALI_DEMO=true`, issue 20): `/demo` walks a visitor through creating a
//! customer, a KTP capture and a step-up with the web SDK, and shows each decision with its
//! voters. The page plays the fintech's app and these routes its backend: they hold a demo
//! org's API key (made at start, public scope, the previous start's revoked) and forward each
//! call to the real API in-process, so the visitor's browser never sees a key and every
//! decision goes through the same authentication, validation and limits as an integrator's.
//!
//! Off by default, and refused on PostgreSQL unless `KENALI_DEMO_FORCE=true` (`Config::load`):
//! anyone who can reach the page can create customers in the demo org.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts, Request, State};
use axum::http::header::{self, HeaderValue};
use axum::http::request::Parts;
use axum::middleware::{from_fn, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::auth::{generate_secret, Scope};
use crate::config::Secret;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ClientAddress};
use crate::ledger::{self, Actor};
use crate::state::AppState;
use crate::store::{api_keys, orgs};

/// The org the demo's customers belong to.
pub const DEMO_ORG: &str = "demo";
const DEMO_KEY_NAME: &str = "demo page";

const PAGE: &str = include_str!("assets/index.html");
const SCRIPT: &str = include_str!("assets/demo.js");
const STYLE: &str = include_str!("assets/demo.css");
/// The SDK's single-file build (`sdk/web`: `npm run bundle`; its tests check this copy is current).
const SDK: &str = include_str!("assets/kenali-sdk.js");

/// The camera is this page's point; everything else is as locked down as the dashboard.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data: blob:; media-src 'self' blob: mediastream:; connect-src 'self'; \
    form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

/// The demo org's API key, held by this process only.
pub struct DemoKey(Secret);

/// Makes this start's demo key (public scope) in the `demo` org and revokes the keys earlier
/// starts made, so only the running page holds one.
pub async fn prepare(state: &AppState) -> anyhow::Result<Arc<DemoKey>> {
    let secret = generate_secret();
    let mut tx = state.store.begin().await?;
    let org = orgs::get_or_create(&mut tx, DEMO_ORG).await?;
    let actor =
        Actor { org_id: org.id.clone(), actor: "demo".into(), actor_user_id: None, request_id: "startup".into() };
    let now = state.clock.now_timestamp();
    for key in api_keys::active_named(&mut tx, &org.id, DEMO_KEY_NAME).await? {
        api_keys::revoke(&mut tx, &org.id, &key.id, &now).await?;
        ledger::audit(&mut tx, &actor, "api_key.revoked", &key.id, json!({"name": key.name})).await?;
    }
    crate::service::api_keys::insert(&mut tx, &actor, DEMO_KEY_NAME, &[Scope::Public], &secret).await?;
    tx.commit().await?;
    tracing::warn!(org = %org.id, "demo page on at /demo (KENALI_DEMO): anyone reaching it can create customers in org `demo`");
    Ok(Arc::new(DemoKey(Secret::new(secret))))
}

/// `state` with the demo's key when `KENALI_DEMO` is on: for `serve` only (a command run beside
/// a serving process must not revoke the key its page holds).
pub async fn enable(state: AppState) -> anyhow::Result<AppState> {
    if !state.config.demo {
        return Ok(state);
    }
    let demo = prepare(&state).await?;
    Ok(AppState { demo: Some(demo), ..state })
}

/// The API the demo routes forward to, built once.
#[derive(Clone)]
struct Api(Router);

/// `/demo` and its helper routes; `None` unless the demo is on.
pub fn routes(state: &AppState) -> Option<Router<AppState>> {
    state.demo.as_ref()?;
    let (api, _) = crate::app::api_routes(state).split_for_parts();
    let api = Api(api.with_state(state.clone()));
    // Bundles of frames are megabytes, as on the API's own capture routes.
    let images = DefaultBodyLimit::max(state.config.image_body_limit_bytes);
    Some(
        Router::new()
            .route("/demo", get(page))
            .route("/demo/assets/demo.js", get(|| asset("text/javascript; charset=utf-8", SCRIPT)))
            .route("/demo/assets/demo.css", get(|| asset("text/css; charset=utf-8", STYLE)))
            .route("/demo/assets/kenali-sdk.js", get(|| asset("text/javascript; charset=utf-8", SDK)))
            .route("/demo/api/customers", post(create_customer))
            .route("/demo/api/ktp/challenge", post(ktp_challenge))
            .route("/demo/api/ktp/capture", post(ktp_capture).layer(images))
            .route("/demo/api/face/challenge", post(face_challenge))
            .route("/demo/api/step-up", post(step_up).layer(images))
            .layer(Extension(api))
            .layer(from_fn(headers)),
    )
}

async fn headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert("permissions-policy", HeaderValue::from_static("camera=(self), microphone=(), geolocation=()"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn page() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], PAGE)
}

async fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, content_type)], body)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewCustomer {
    full_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ForCustomer {
    customer_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Capture {
    customer_id: String,
    bundle: Value,
}

/// The connection's peer, when the server recorded one (tests call the router without).
struct Peer(Option<ConnectInfo<SocketAddr>>);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Peer(parts.extensions.get::<ConnectInfo<SocketAddr>>().cloned()))
    }
}

/// Passes a call to the API as the integrator's backend would: with the demo key, and with the
/// visitor's address for the API's own per-address accounting.
async fn forward(state: &AppState, api: Api, Peer(peer): Peer, path: &str, body: Value) -> ApiResult<Response> {
    let key = state.demo.as_ref().ok_or_else(|| ApiError::not_found("route"))?;
    let bytes = serde_json::to_vec(&body).map_err(ApiError::internal)?;
    let mut request = Request::post(path)
        .header(header::AUTHORIZATION, format!("Bearer {}", key.0.expose()))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(bytes))
        .map_err(ApiError::internal)?;
    if let Some(peer) = peer {
        request.extensions_mut().insert(peer);
    }
    Ok(api.0.oneshot(request).await.into_response())
}

async fn create_customer(
    State(state): State<AppState>,
    Extension(api): Extension<Api>,
    ClientAddress(client): ClientAddress,
    peer: Peer,
    ApiJson(body): ApiJson<NewCustomer>,
) -> ApiResult<Response> {
    // An open page creating rows: bounded per visitor.
    crate::ratelimit::check(&state, crate::ratelimit::DEMO_CUSTOMER, &client).await?;
    forward(&state, api, peer, "/api/customers", json!({"fullName": body.full_name})).await
}

async fn ktp_challenge(
    State(state): State<AppState>,
    Extension(api): Extension<Api>,
    peer: Peer,
    ApiJson(body): ApiJson<ForCustomer>,
) -> ApiResult<Response> {
    forward(&state, api, peer, "/api/identity/document/ktp/challenge", json!({"customerId": body.customer_id})).await
}

async fn ktp_capture(
    State(state): State<AppState>,
    Extension(api): Extension<Api>,
    peer: Peer,
    ApiJson(body): ApiJson<Capture>,
) -> ApiResult<Response> {
    forward(
        &state,
        api,
        peer,
        "/api/identity/document/ktp/capture",
        json!({"customerId": body.customer_id, "bundle": body.bundle}),
    )
    .await
}

async fn face_challenge(
    State(state): State<AppState>,
    Extension(api): Extension<Api>,
    peer: Peer,
    ApiJson(body): ApiJson<ForCustomer>,
) -> ApiResult<Response> {
    forward(&state, api, peer, "/api/identity/face/flash-challenge", json!({"customerId": body.customer_id})).await
}

async fn step_up(
    State(state): State<AppState>,
    Extension(api): Extension<Api>,
    peer: Peer,
    ApiJson(body): ApiJson<Capture>,
) -> ApiResult<Response> {
    forward(
        &state,
        api,
        peer,
        "/api/identity/auth/step-up",
        json!({"customerId": body.customer_id, "bundle": body.bundle, "riskLevel": "medium",
                   "actionLabel": "Demo: transfer Rp 5.000.000", "trigger": "demo"}),
    )
    .await
}
