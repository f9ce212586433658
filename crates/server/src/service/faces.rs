//! What the face and KTP workflows share: the face service, the attempt log, sealed captures
//! and scoring a probe against a customer's pool.

use std::time::Instant;

use kenali_core::face::best_match;
use kenali_core::id::{new_id, IdKind};
use kenali_core::time_fmt::now_timestamp;
use kenali_vision::embed::cosine;

use super::customers::load_customer;
use super::{Error, Result};
use crate::blobs::{object_key, StoredObject, Uploaded};
use crate::faces::{open_embedding, FaceService, ImageInput};
use crate::ledger::data_key;
use crate::state::AppState;
use crate::store::customers::CustomerRow;
use crate::store::faces::{self, AttemptRow, CaptureRow, EnrollmentRow};

pub fn face_service(state: &AppState) -> Result<&FaceService> {
    state.faces.as_ref().ok_or(Error::ModelsUnavailable("face"))
}

/// Writes an attempt row on its own (for refusals, where no other row is written).
pub async fn record_attempt(state: &AppState, attempt: AttemptRow) -> Result<()> {
    let mut conn = state.store.write().await?;
    faces::insert_attempt(&mut conn, &attempt).await?;
    Ok(())
}

/// What every attempt row of one call shares.
pub struct AttemptContext {
    pub org_id: String,
    pub customer_id: Option<String>,
    pub kind: &'static str,
    pub started: Instant,
    pub client: String,
}

impl AttemptContext {
    pub fn row(&self, outcome: &str, reasons: &[String], verification_id: Option<&str>) -> AttemptRow {
        AttemptRow {
            id: new_id(IdKind::Attempt),
            org_id: self.org_id.clone(),
            customer_id: self.customer_id.clone(),
            kind: self.kind.to_string(),
            outcome: outcome.to_string(),
            reasons: serde_json::to_string(reasons).unwrap_or_else(|_| "[]".into()),
            latency_ms: i64::try_from(self.started.elapsed().as_millis()).unwrap_or(i64::MAX),
            client_ip: Some(self.client.clone()),
            verification_id: verification_id.map(str::to_string),
            created_at: now_timestamp(),
        }
    }

    /// Records a refusal (its error code as the reason) and hands the error back.
    pub async fn refuse(&self, state: &AppState, err: Error) -> Error {
        if let Err(store_err) = record_attempt(state, self.row("refused", &[err.code().to_string()], None)).await {
            return store_err;
        }
        err
    }
}

/// The customer a bundle endpoint acts on, after its per-customer rate limit, and the attempt
/// context its rows share.
pub async fn customer_attempt(
    state: &AppState,
    org_id: &str,
    customer_id: &str,
    limit: crate::ratelimit::Limit,
    kind: &'static str,
    started: Instant,
    client: String,
) -> Result<(CustomerRow, AttemptContext)> {
    let customer = {
        let mut conn = state.store.reader().acquire().await?;
        load_customer(&mut conn, org_id, customer_id).await?
    };
    crate::ratelimit::check(state, limit, &customer.id).await?;
    let attempt =
        AttemptContext { org_id: org_id.to_string(), customer_id: Some(customer.id.clone()), kind, started, client };
    Ok((customer, attempt))
}

/// The best score over the pool and the enrollment that gave it.
pub fn pool_best(
    state: &AppState,
    customer: &CustomerRow,
    pool: &[EnrollmentRow],
    probe: &[f32],
) -> Result<(f32, Option<EnrollmentRow>)> {
    let key = data_key(&state.keys, customer)?;
    let mut scored = Vec::with_capacity(pool.len());
    for enrollment in pool {
        if let Some(embedding) = open_embedding(&key, enrollment)? {
            scored.push((enrollment, cosine(probe, &embedding)));
        }
    }
    Ok(best_match(scored).map(|(e, s)| (s, Some(e.clone()))).unwrap_or((f32::MIN, None)))
}

/// An image sealed with its customer's data key and written to the blob store, ready to
/// record with its SHA-256 (SPEC §5).
pub struct SealedImage {
    id: String,
    sha256: String,
    media_type: &'static str,
    object: StoredObject,
}

/// Images written to the blob store, to be recorded by [`store_captures`]; the objects are
/// deleted again unless the transaction that records them commits.
pub struct SealedImages {
    images: Vec<SealedImage>,
    uploaded: Uploaded,
}

/// Seals images with the customer's data key (CPU work for megabytes of frames: on the blocking
/// pool) and writes them to the blob store, before the write transaction that records them.
pub async fn seal_images(state: &AppState, customer: &CustomerRow, images: &[ImageInput]) -> Result<SealedImages> {
    let key = data_key(&state.keys, customer)?;
    // Cheap copies: the bytes are shared.
    let images = images.to_vec();
    let sealed: Vec<(String, ImageInput, Vec<u8>)> = tokio::task::spawn_blocking(move || {
        images
            .into_iter()
            .map(|image| {
                let id = new_id(IdKind::Capture);
                let sealed = key.seal(&image.bytes, &format!("capture/{id}"));
                (id, image, sealed)
            })
            .collect()
    })
    .await
    .map_err(Error::internal)?;
    let keys: Vec<String> =
        sealed.iter().map(|(id, _, _)| object_key(&customer.org_id, &customer.id, "captures", id)).collect();
    crate::blobs::journal_uploads(&state.store, &keys, state.clock.now()).await?;
    let mut uploaded = Uploaded::new(&state.blobs);
    let mut stored = Vec::with_capacity(sealed.len());
    for ((id, image, bytes), key) in sealed.into_iter().zip(keys) {
        uploaded.push(key.clone());
        let object = state.blobs.put(&key, bytes).await?;
        stored.push(SealedImage { id, sha256: image.sha256, media_type: image.media_type, object });
    }
    Ok(SealedImages { images: stored, uploaded })
}

/// What a set of stored captures shares.
pub struct CaptureFiling<'a> {
    /// `frame`, `ktp_frame`, `selfie`.
    pub kind: &'a str,
    pub verification_id: Option<&'a str>,
    /// `onboarding` or `step_up` (their retention differs).
    pub retention_class: &'a str,
    pub created_at: &'a str,
}

/// Records sealed captures in the caller's transaction. Call [`Uploaded::committed`] on the
/// answer once it commits.
pub async fn store_captures(
    conn: &mut sqlx::AnyConnection,
    customer: &CustomerRow,
    images: SealedImages,
    filing: CaptureFiling<'_>,
) -> Result<Uploaded> {
    for image in images.images {
        crate::blobs::settle_upload(conn, &image.object.key).await?;
        faces::insert_capture(
            conn,
            CaptureRow {
                id: image.id,
                org_id: &customer.org_id,
                customer_id: &customer.id,
                kind: filing.kind,
                sha256: image.sha256,
                media_type: image.media_type,
                object: image.object,
                verification_id: filing.verification_id,
                retention_class: filing.retention_class,
                created_at: filing.created_at.to_string(),
            },
        )
        .await?;
    }
    Ok(images.uploaded)
}
