//! The blob store: every image Kenali keeps (capture frames, selfies, reference images, KTP
//! frames, Dukcapil photos) lives here, sealed with its customer's data key before it is
//! written, so the store never holds a readable biometric. The database keeps each object's
//! key, its SHA-256 and its size (checked on every read).
//!
//! `KENALI_BLOB_URL` picks the store: `file:///path` (the embedded default,
//! `$KENALI_DATA_DIR/blobs`) or `s3://bucket` for any S3-compatible service
//! (`KENALI_S3_ENDPOINT`, `KENALI_S3_REGION`, credentials from `KENALI_S3_ACCESS_KEY_ID` /
//! `KENALI_S3_SECRET_ACCESS_KEY`, their `_FILE` twins, or the usual `AWS_*` variables).
//!
//! Objects are named `{org}/{customer}/{kind}/{id}`, so that erasing a customer deletes one
//! prefix, strays included. Deletions are queued in `blob_deletions` in the transaction that
//! deletes the rows and carried out after it commits ([`drain_deletions`]); what fails is
//! retried by the retention sweeper. Uploads are journaled the same way before they start
//! ([`journal_uploads`]): a deletion due an hour later, cancelled by the transaction that
//! records the object ([`settle_upload`]); a request that fails deletes its objects at once
//! ([`Uploaded`]), and one whose process died leaves the journaled deletion to the sweeper.

use std::sync::Arc;

use futures_util::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::signer::Signer;
use object_store::{ObjectStore, PutPayload};
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::store::{col, Store, StoreResult};

/// The S3 regions where each Kenali region's data may live (seed 000: everything stays in
/// `id-jkt-1`, AWS's Jakarta region).
const RESIDENCY: &[(&str, &[&str])] = &[("id-jkt-1", &["ap-southeast-3"])];

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob store configuration: {0}")]
    Config(String),
    #[error("the stored object {0} is missing from the blob store")]
    Missing(String),
    #[error("the stored object {0} is corrupt: its size or SHA-256 differs from the record")]
    Corrupt(String),
    #[error("the blob store failed: {0}")]
    Unavailable(String),
}

impl From<object_store::Error> for BlobError {
    fn from(e: object_store::Error) -> Self {
        match e {
            object_store::Error::NotFound { path, .. } => BlobError::Missing(path),
            other => BlobError::Unavailable(other.to_string()),
        }
    }
}

/// An object as the database records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    pub key: String,
    /// Hex SHA-256 of the sealed bytes, as stored.
    pub sha256: String,
    pub size: i64,
}

/// The store behind `KENALI_BLOB_URL`; cheap to clone.
#[derive(Clone)]
pub struct BlobStore {
    inner: Arc<dyn ObjectStore>,
    /// `file:///...` or `s3://bucket`: for logs and errors (no credentials).
    location: String,
    /// The S3 region the bucket answers in; `None` for local files.
    region: Option<String>,
    /// Presigns S3 URLs; `None` for local files (Kenali signs its own upload URLs then).
    signer: Option<Arc<dyn Signer>>,
}

impl std::fmt::Debug for BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobStore").field("location", &self.location).field("region", &self.region).finish()
    }
}

/// The object key of a customer's image. `kind` is `captures` or `dukcapil`.
pub fn object_key(org_id: &str, customer_id: &str, kind: &str, id: &str) -> String {
    format!("{org_id}/{customer_id}/{kind}/{id}")
}

/// The prefix under which every object of a customer lives.
pub fn customer_prefix(org_id: &str, customer_id: &str) -> String {
    format!("{org_id}/{customer_id}/")
}

/// The prefix under which every object of a face-match submission lives.
pub fn submission_prefix(org_id: &str, submission_id: &str) -> String {
    format!("{org_id}/submissions/{submission_id}/")
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl BlobStore {
    /// Opens the configured store (creating the local directory), refuses an S3 bucket outside
    /// the deployment's region unless `blob_region_override` is set, then writes, reads and
    /// deletes a probe object, so that bad credentials or a wrong region stop the start rather
    /// than the first capture.
    pub async fn open(config: &Config) -> Result<Self, BlobError> {
        let store = Self::connect(config)?;
        store.check_residency(config)?;
        store.probe().await?;
        Ok(store)
    }

    fn connect(config: &Config) -> Result<Self, BlobError> {
        let url =
            config.blob_url.clone().unwrap_or_else(|| format!("file://{}", config.data_dir.join("blobs").display()));
        if let Some(path) = url.strip_prefix("file://") {
            if path.is_empty() || !path.starts_with('/') && !path.starts_with('.') {
                return Err(BlobError::Config(format!(
                    "{url}: a file:// URL needs a path, e.g. file:///var/lib/kenali/blobs"
                )));
            }
            std::fs::create_dir_all(path).map_err(|e| BlobError::Config(format!("creating {path}: {e}")))?;
            let fs = LocalFileSystem::new_with_prefix(path).map_err(|e| BlobError::Config(e.to_string()))?;
            return Ok(Self { inner: Arc::new(fs), location: url, region: None, signer: None });
        }
        let Some(bucket) = url.strip_prefix("s3://") else {
            return Err(BlobError::Config(format!("{url}: KENALI_BLOB_URL must be file:///path or s3://bucket")));
        };
        let bucket = bucket.trim_end_matches('/');
        if bucket.is_empty() || bucket.contains('/') {
            return Err(BlobError::Config(format!("{url}: an s3:// URL names a bucket only, e.g. s3://kenali-blobs")));
        }
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        let region = config
            .s3_region
            .clone()
            .or_else(|| std::env::var("AWS_REGION").ok())
            .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok());
        let Some(region) = region else {
            return Err(BlobError::Config("an s3:// blob store needs KENALI_S3_REGION (or AWS_REGION)".into()));
        };
        builder = builder.with_region(&region);
        if let Some(endpoint) = &config.s3_endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"))
                .with_virtual_hosted_style_request(false);
        }
        if let Some(id) = &config.s3_access_key_id {
            builder = builder.with_access_key_id(id.expose());
        }
        if let Some(secret) = &config.s3_secret_access_key {
            builder = builder.with_secret_access_key(secret.expose());
        }
        let s3 = Arc::new(builder.build().map_err(|e| BlobError::Config(e.to_string()))?);
        Ok(Self { inner: s3.clone(), location: format!("s3://{bucket}"), region: Some(region), signer: Some(s3) })
    }

    /// Seed 000's data residency: an S3 bucket must answer in a region allowed for
    /// `KENALI_REGION` (the region is the one requests are signed for, which the probe then
    /// proves the service accepts).
    fn check_residency(&self, config: &Config) -> Result<(), BlobError> {
        let Some(region) = &self.region else {
            return Ok(());
        };
        let allowed: Vec<&str> = RESIDENCY
            .iter()
            .find(|(kenali, _)| *kenali == config.region)
            .map(|(_, s3)| s3.to_vec())
            .unwrap_or_default();
        if allowed.contains(&region.as_str()) {
            return Ok(());
        }
        if config.blob_region_override {
            tracing::warn!(
                bucket_region = %region, region = %config.region,
                "the blob store's region is outside this deployment's region; KENALI_BLOB_REGION_OVERRIDE is set, so it is used anyway"
            );
            return Ok(());
        }
        Err(BlobError::Config(format!(
            "{} is in region {region}, but KENALI_REGION {} keeps its data in {}; set KENALI_BLOB_REGION_OVERRIDE=true to accept it",
            self.location,
            config.region,
            if allowed.is_empty() { "no known S3 region".to_string() } else { allowed.join(", ") }
        )))
    }

    async fn probe(&self) -> Result<(), BlobError> {
        // At the top level: a local store leaves no empty folder behind.
        let key = format!("_probe-{}", ulid::Ulid::new());
        let written = self.put(&key, b"kenali".to_vec()).await.map_err(|e| self.unreachable(e))?;
        self.get(&written).await.map_err(|e| self.unreachable(e))?;
        self.delete(&key).await.map_err(|e| self.unreachable(e))
    }

    fn unreachable(&self, e: BlobError) -> BlobError {
        BlobError::Config(format!("{} did not accept a probe object: {e}", self.location))
    }

    pub fn location(&self) -> &str {
        &self.location
    }

    pub async fn put(&self, key: &str, sealed: Vec<u8>) -> Result<StoredObject, BlobError> {
        let stored = StoredObject { key: key.to_string(), sha256: sha256_hex(&sealed), size: sealed.len() as i64 };
        self.inner.put(&ObjectPath::from(key), PutPayload::from(sealed)).await?;
        Ok(stored)
    }

    /// Reads an object back, checking it is the one recorded.
    pub async fn get(&self, object: &StoredObject) -> Result<Vec<u8>, BlobError> {
        let bytes = self.inner.get(&ObjectPath::from(object.key.as_str())).await?.bytes().await?;
        if bytes.len() as i64 != object.size || sha256_hex(&bytes) != object.sha256 {
            return Err(BlobError::Corrupt(object.key.clone()));
        }
        Ok(bytes.to_vec())
    }

    /// An S3 presigned `PUT` URL for `key`, valid for `ttl` (S3's own signature: the upload
    /// goes straight to the bucket). `None` for a local store.
    pub async fn presigned_put(&self, key: &str, ttl: std::time::Duration) -> Result<Option<String>, BlobError> {
        let Some(signer) = &self.signer else { return Ok(None) };
        let url = signer.signed_url(reqwest::Method::PUT, &ObjectPath::from(key), ttl).await?;
        Ok(Some(url.to_string()))
    }

    /// An object's size in bytes; `None` when there is none.
    pub async fn size(&self, key: &str) -> Result<Option<u64>, BlobError> {
        match self.inner.head(&ObjectPath::from(key)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Reads an object no row records yet (a partner's staged upload), whole.
    pub async fn get_unrecorded(&self, key: &str) -> Result<Vec<u8>, BlobError> {
        Ok(self.inner.get(&ObjectPath::from(key)).await?.bytes().await?.to_vec())
    }

    /// Deletes an object; one already gone is no error.
    pub async fn delete(&self, key: &str) -> Result<(), BlobError> {
        match self.inner.delete(&ObjectPath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes every object under a prefix; returns how many.
    pub async fn delete_prefix(&self, prefix: &str) -> Result<u64, BlobError> {
        let prefix = ObjectPath::from(prefix.trim_end_matches('/'));
        let mut listed = self.inner.list(Some(&prefix));
        let mut deleted = 0;
        while let Some(meta) = listed.next().await {
            let meta = match meta {
                Ok(meta) => meta,
                Err(object_store::Error::NotFound { .. }) => break,
                Err(e) => return Err(e.into()),
            };
            self.delete(meta.location.as_ref()).await?;
            deleted += 1;
        }
        Ok(deleted)
    }
}

/// Objects written before the transaction that records them. Unless [`Uploaded::committed`]
/// is called, dropping this deletes them again (the request failed; nothing may stay behind).
#[must_use = "call `committed` once the rows naming the objects are committed, or they are deleted"]
pub struct Uploaded {
    store: BlobStore,
    keys: Vec<String>,
}

impl Uploaded {
    pub fn new(store: &BlobStore) -> Self {
        Self { store: store.clone(), keys: Vec::new() }
    }

    pub fn push(&mut self, key: String) {
        self.keys.push(key);
    }

    /// The rows naming these objects are committed: keep them.
    pub fn committed(mut self) {
        self.keys.clear();
    }
}

impl Drop for Uploaded {
    fn drop(&mut self) {
        if self.keys.is_empty() {
            return;
        }
        let (store, keys) = (self.store.clone(), std::mem::take(&mut self.keys));
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                for key in keys {
                    if let Err(e) = store.delete(&key).await {
                        tracing::warn!(error = %e, "deleting an object of a failed request");
                    }
                }
            });
        }
    }
}

/// Queues the deletion of one object or (with `prefix`) of everything under a key prefix, in
/// the caller's transaction.
pub async fn queue_deletion(conn: &mut sqlx::AnyConnection, key: &str, prefix: bool, at: &str) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO blob_deletions (object_key, is_prefix, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (object_key) DO NOTHING",
    )
    .bind(key)
    .bind(i64::from(prefix))
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// How long an upload has to be recorded before its object counts as a stray of a dead process.
pub const UPLOAD_GRACE: time::Duration = time::Duration::hours(1);

/// Journals objects about to be written (one committed write for all of them): each gets a
/// deletion that comes due after [`UPLOAD_GRACE`] unless [`settle_upload`] cancels it.
pub async fn journal_uploads(store: &Store, keys: &[String], now: time::OffsetDateTime) -> StoreResult<()> {
    let mut conn = store.write().await?;
    journal_in(&mut conn, keys, now + UPLOAD_GRACE, now).await
}

/// Queues the deletion of each object at `not_before`, in the caller's transaction: objects
/// that another party writes later (a partner's staged upload) and that must not outlive it.
pub async fn journal_in(
    conn: &mut sqlx::AnyConnection,
    keys: &[String],
    not_before: time::OffsetDateTime,
    now: time::OffsetDateTime,
) -> StoreResult<()> {
    let (created_at, not_before) =
        (kenali_core::time_fmt::format_timestamp(now), kenali_core::time_fmt::format_timestamp(not_before));
    for key in keys {
        sqlx::query(
            "INSERT INTO blob_deletions (object_key, is_prefix, created_at, not_before) VALUES ($1, 0, $2, $3) \
             ON CONFLICT (object_key) DO NOTHING",
        )
        .bind(key)
        .bind(&created_at)
        .bind(&not_before)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Cancels an upload's journaled deletion, in the transaction that records the object.
pub async fn settle_upload(conn: &mut sqlx::AnyConnection, key: &str) -> StoreResult<()> {
    sqlx::query("DELETE FROM blob_deletions WHERE object_key = $1 AND not_before IS NOT NULL")
        .bind(key)
        .execute(conn)
        .await?;
    Ok(())
}

/// Carries out the deletions due at `now`; returns how many objects were deleted. One that
/// fails stays queued for the next sweep.
pub async fn drain_deletions(store: &Store, blobs: &BlobStore, now: time::OffsetDateTime) -> anyhow::Result<u64> {
    let now = kenali_core::time_fmt::format_timestamp(now);
    let mut deleted = 0;
    loop {
        let rows = sqlx::query(
            "SELECT object_key, is_prefix FROM blob_deletions WHERE not_before IS NULL OR not_before <= $1 \
             ORDER BY created_at, object_key LIMIT 200",
        )
        .bind(&now)
        .fetch_all(store.reader())
        .await?;
        if rows.is_empty() {
            return Ok(deleted);
        }
        let mut failed = 0;
        for row in &rows {
            let key: String = col(row, "object_key")?;
            let prefix: i64 = col(row, "is_prefix")?;
            let done = if prefix != 0 { blobs.delete_prefix(&key).await } else { blobs.delete(&key).await.map(|()| 1) };
            match done {
                Ok(n) => {
                    deleted += n;
                    let mut conn = store.write().await?;
                    sqlx::query("DELETE FROM blob_deletions WHERE object_key = $1")
                        .bind(&key)
                        .execute(&mut *conn)
                        .await?;
                }
                Err(e) => {
                    failed += 1;
                    tracing::warn!(error = %e, "deleting a stored object failed; it stays queued");
                }
            }
        }
        if failed > 0 {
            return Ok(deleted);
        }
    }
}

/// What `kenali blobs migrate` moved.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Migrated {
    pub captures: u64,
    pub dukcapil_photos: u64,
    pub bytes: u64,
}

/// A table whose images `kenali blobs migrate` moves: rows still holding the sealed image
/// (`sealed_column`) and no object key yet.
struct MovableImages {
    table: &'static str,
    sealed_column: &'static str,
    prefix: &'static str,
    kind: &'static str,
    /// What the sealed column holds once the image has moved.
    moved_value: Option<Vec<u8>>,
}

static MOVABLE: [MovableImages; 2] = [
    MovableImages {
        table: "captures",
        sealed_column: "sealed",
        prefix: "",
        kind: "captures",
        moved_value: Some(Vec::new()),
    },
    MovableImages {
        table: "dukcapil_verdicts",
        sealed_column: "photo_sealed",
        prefix: "photo_",
        kind: "dukcapil",
        moved_value: None,
    },
];

/// Moves images kept in database rows (written before the blob store) to the store, in batches:
/// each object is written, then its row updated (only if no other run moved it first). Resumable
/// after any failure and idempotent: a run finds only what is left. `progress` hears
/// (moved, total) after each row.
pub async fn migrate_rows(
    store: &Store,
    blobs: &BlobStore,
    progress: &mut (dyn FnMut(u64, u64) + Send),
) -> anyhow::Result<Migrated> {
    let mut migrated = Migrated::default();
    let mut totals = Vec::new();
    for m in &MOVABLE {
        let pending = format!(
            "{} IS NOT NULL AND length({}) > 0 AND {}object_key IS NULL",
            m.sealed_column, m.sealed_column, m.prefix
        );
        let row = sqlx::query(&format!("SELECT COUNT(*) AS n FROM {} WHERE {pending}", m.table))
            .fetch_one(store.reader())
            .await?;
        totals.push((m, pending, col::<i64>(&row, "n")? as u64));
    }
    let total: u64 = totals.iter().map(|t| t.2).sum();
    let mut moved = 0;
    progress(0, total);
    for (m, pending, _) in totals {
        loop {
            let rows = sqlx::query(&format!(
                "SELECT id, org_id, customer_id, {} AS sealed FROM {} WHERE {pending} ORDER BY id LIMIT 50",
                m.sealed_column, m.table
            ))
            .fetch_all(store.reader())
            .await?;
            if rows.is_empty() {
                break;
            }
            for row in &rows {
                let (id, org, customer): (String, String, String) =
                    (col(row, "id")?, col(row, "org_id")?, col(row, "customer_id")?);
                let sealed: Vec<u8> = col(row, "sealed")?;
                let size = sealed.len() as u64;
                let object = blobs.put(&object_key(&org, &customer, m.kind, &id), sealed).await?;
                let mut conn = store.write().await?;
                let updated = sqlx::query(&format!(
                    "UPDATE {} SET {p}object_key = $1, {p}object_sha256 = $2, {p}object_size = $3, {} = $4 \
                     WHERE id = $5 AND {p}object_key IS NULL",
                    m.table,
                    m.sealed_column,
                    p = m.prefix
                ))
                .bind(&object.key)
                .bind(&object.sha256)
                .bind(object.size)
                .bind(m.moved_value.clone())
                .bind(&id)
                .execute(&mut *conn)
                .await?;
                if updated.rows_affected() == 1 {
                    migrated.bytes += size;
                    if m.kind == "captures" {
                        migrated.captures += 1;
                    } else {
                        migrated.dukcapil_photos += 1;
                    }
                }
                moved += 1;
                progress(moved.min(total), total);
            }
        }
    }
    Ok(migrated)
}

/// The bytes the database holds for its image tables (SQLite: the whole file's pages in use;
/// PostgreSQL: the two tables with their TOAST and indexes).
pub async fn database_image_bytes(store: &Store) -> anyhow::Result<i64> {
    let sql = match store.backend() {
        crate::store::Backend::Sqlite => {
            "SELECT (page_count - freelist_count) * page_size AS n FROM pragma_page_count(), pragma_freelist_count(), pragma_page_size()"
        }
        crate::store::Backend::Postgres => {
            "SELECT (pg_total_relation_size('captures') + pg_total_relation_size('dukcapil_verdicts'))::BIGINT AS n"
        }
    };
    Ok(col(&sqlx::query(sql).fetch_one(store.reader()).await?, "n")?)
}

/// Gives the space of the moved images back: SQLite's `VACUUM` rewrites the file; PostgreSQL's
/// `VACUUM` makes the dead rows' space reusable (`VACUUM FULL`, which returns it to the
/// operating system, locks the tables and is left to the operator).
pub async fn reclaim_space(store: &Store) -> anyhow::Result<()> {
    let mut conn = store.write().await?;
    let sql = match store.backend() {
        crate::store::Backend::Sqlite => "VACUUM",
        crate::store::Backend::Postgres => "VACUUM captures, dukcapil_verdicts",
    };
    sqlx::query(sql).execute(&mut *conn).await?;
    Ok(())
}
