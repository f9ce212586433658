//! The face pipeline as the server uses it: base64 images in, one analysed face out, with the
//! CPU work on the blocking pool and bounded by a semaphore so a burst cannot exhaust memory.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use base64::Engine;
use bytes::Bytes;
use kenali_core::face::{embedding_from_bytes, embedding_to_bytes};
use kenali_core::id::{new_id, IdKind};
use kenali_core::seal::DataKey;
use kenali_core::time_fmt::now_timestamp;
use kenali_vision::engine::AnalyzedFace;
use kenali_vision::ocr::OcrEngine;
use kenali_vision::{decode_image, DecodeError, DecodeLimits, FaceEngine, FaceError};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::service::{Error, ImageProblem};
use crate::store::faces::EnrollmentRow;

/// Largest decoded image accepted in a JSON field.
pub const MAX_IMAGE_BYTES: usize = 8 * 1024 * 1024;

#[derive(Clone)]
pub struct FaceService {
    engine: Arc<FaceEngine>,
    /// The KTP reader; absent on a server started without the OCR models.
    ocr: Option<Arc<OcrEngine>>,
    permits: Arc<Semaphore>,
    cores: usize,
    /// Requests waiting for cores now.
    waiting: Arc<AtomicUsize>,
}

/// Most requests that wait for cores at once; more are refused at once with 503.
pub const MAX_COMPUTE_WAITERS: usize = 32;
/// Longest a request waits for cores before it is refused with 503.
pub const COMPUTE_WAIT: std::time::Duration = std::time::Duration::from_secs(20);

/// Counts one waiting request while it lives.
struct WaitingGuard<'a>(&'a AtomicUsize);

impl<'a> WaitingGuard<'a> {
    fn enter(waiting: &'a AtomicUsize) -> Result<Self, Error> {
        if waiting.fetch_add(1, Ordering::SeqCst) >= MAX_COMPUTE_WAITERS {
            waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(Error::Busy("too many requests waiting for a core"));
        }
        Ok(WaitingGuard(waiting))
    }
}

impl Drop for WaitingGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A decoded image field: its bytes (shared, so that handing them to a worker copies
/// nothing), media type and SHA-256.
#[derive(Clone)]
pub struct ImageInput {
    pub bytes: Bytes,
    pub media_type: &'static str,
    pub sha256: String,
}

/// An image with its single face analysed.
pub struct AnalyzedImage {
    pub input: ImageInput,
    pub face: AnalyzedFace,
}

/// Reads a base64 JPEG/PNG field (a `data:` URL prefix is allowed).
pub fn image_field(field: &str, value: &str) -> Result<ImageInput, Error> {
    let encoded = value.trim();
    let encoded = encoded.split_once(";base64,").map(|(_, data)| data).unwrap_or(encoded);
    if encoded.len() > MAX_IMAGE_BYTES / 3 * 4 + 4 {
        return Err(Error::invalid_field(field, format!("must be at most {MAX_IMAGE_BYTES} bytes decoded")));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| Error::invalid_field(field, "is not valid base64"))?;
    let media_type = media_type_of(&bytes).ok_or_else(|| Error::image(field, ImageProblem::Unsupported))?;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    Ok(ImageInput { bytes: Bytes::from(bytes), media_type, sha256 })
}

/// `image/jpeg` or `image/png` by the bytes' signature; `None` for anything else.
pub fn media_type_of(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else {
        None
    }
}

pub fn decode_error(field: &str, err: DecodeError) -> Error {
    let why = err.to_string();
    let problem = match err {
        DecodeError::UnsupportedFormat => ImageProblem::Unsupported,
        DecodeError::TooManyBytes(_) | DecodeError::TooManyPixels(..) => ImageProblem::TooLarge(why),
        DecodeError::TooSmall(..) => ImageProblem::TooSmall(why),
        DecodeError::Corrupt(_) => ImageProblem::Undecodable(why),
    };
    Error::image(field, problem)
}

pub(crate) fn face_error(field: &str, err: FaceError) -> Error {
    match err {
        FaceError::NoFace => Error::image(field, ImageProblem::NoFace),
        FaceError::SeveralFaces(n) => Error::image(field, ImageProblem::SeveralFaces(n)),
        FaceError::FaceTooSmall => Error::image(field, ImageProblem::FaceTooSmall(err.to_string())),
        other => Error::internal(other),
    }
}

impl FaceService {
    pub fn new(engine: Arc<FaceEngine>) -> Self {
        // One inference at a time per core: more only queues inside tract and costs memory.
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        Self {
            engine,
            ocr: None,
            permits: Arc::new(Semaphore::new(cores)),
            cores,
            waiting: Arc::new(AtomicUsize::new(0)),
        }
    }

    pub fn with_ocr(self, ocr: Arc<OcrEngine>) -> Self {
        Self { ocr: Some(ocr), ..self }
    }

    pub fn engine(&self) -> &Arc<FaceEngine> {
        &self.engine
    }

    pub fn ocr(&self) -> Option<&Arc<OcrEngine>> {
        self.ocr.as_ref()
    }

    /// Runs CPU-bound work on the blocking pool, one job per core at a time.
    pub async fn run_blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        self.run_with_permits(1, work).await
    }

    /// Runs CPU-bound work that spreads over every core itself (a bundle's frames), holding all
    /// the permits so that the cores are not promised twice.
    pub async fn run_blocking_wide<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        self.run_with_permits(u32::try_from(self.cores).unwrap_or(1), work).await
    }

    /// Waits for `count` cores (at most [`MAX_COMPUTE_WAITERS`] requests wait, each at most
    /// [`COMPUTE_WAIT`]; beyond either, 503 with `Retry-After`), then runs `work` on the
    /// blocking pool. The permits move into the blocking closure: a request dropped by its
    /// client frees its cores only when the work on them is done.
    async fn run_with_permits<T: Send + 'static>(
        &self,
        count: u32,
        work: impl FnOnce() -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let waiting = WaitingGuard::enter(&self.waiting)?;
        let permits = tokio::time::timeout(COMPUTE_WAIT, self.permits.clone().acquire_many_owned(count))
            .await
            .map_err(|_| Error::Busy("no core became free in time"))?
            .map_err(Error::internal)?;
        drop(waiting);
        tokio::task::spawn_blocking(move || {
            let _permits = permits;
            work()
        })
        .await
        .map_err(Error::internal)?
    }

    /// Decodes and analyses one image off the async runtime.
    pub async fn analyze(&self, field: &str, input: ImageInput) -> Result<AnalyzedImage, Error> {
        let engine = self.engine.clone();
        let field_name = field.to_string();
        let limits = DecodeLimits { max_bytes: MAX_IMAGE_BYTES, ..DecodeLimits::default() };
        self.run_blocking(move || {
            let image = decode_image(&input.bytes, limits).map_err(|e| decode_error(&field_name, e))?;
            let face = engine.analyze(&image).map_err(|e| face_error(&field_name, e))?;
            Ok(AnalyzedImage { input, face })
        })
        .await
    }
}

pub fn embedding_context(enrollment_id: &str) -> String {
    format!("face/embedding/{enrollment_id}")
}

/// The face a new enrollment is made from.
pub struct EnrollmentFace<'a> {
    pub embedding: &'a [f32],
    pub image_sha256: &'a str,
    pub detection_score: f32,
}

impl<'a> From<&'a AnalyzedImage> for EnrollmentFace<'a> {
    fn from(analyzed: &'a AnalyzedImage) -> Self {
        EnrollmentFace {
            embedding: &analyzed.face.embedding,
            image_sha256: &analyzed.input.sha256,
            detection_score: analyzed.face.face.score,
        }
    }
}

/// A new enrollment row, its embedding sealed with the customer's data key.
pub fn new_enrollment(
    org_id: &str,
    customer_id: &str,
    source: kenali_core::tier::EnrollmentSource,
    data_key: &DataKey,
    face: EnrollmentFace<'_>,
) -> EnrollmentRow {
    let id = new_id(IdKind::FaceEnrollment);
    EnrollmentRow {
        embedding_sealed: Some(data_key.seal(&embedding_to_bytes(face.embedding), &embedding_context(&id))),
        id,
        org_id: org_id.to_string(),
        customer_id: customer_id.to_string(),
        source: source.as_str().to_string(),
        model_id: kenali_vision::engine::MODEL_ID.to_string(),
        image_sha256: Some(face.image_sha256.to_string()),
        detection_score: Some(f64::from(face.detection_score)),
        created_at: now_timestamp(),
        retired_at: None,
        status: crate::store::faces::ENROLLMENT_ACTIVE.to_string(),
    }
}

/// Opens an enrollment's embedding; `None` when retired.
pub fn open_embedding(data_key: &DataKey, enrollment: &EnrollmentRow) -> Result<Option<Vec<f32>>, Error> {
    let Some(sealed) = &enrollment.embedding_sealed else { return Ok(None) };
    open_sealed_embedding(data_key, &enrollment.id, sealed).map(Some)
}

/// Enrollment `enrollment_id`'s sealed embedding, opened.
pub fn open_sealed_embedding(data_key: &DataKey, enrollment_id: &str, sealed: &[u8]) -> Result<Vec<f32>, Error> {
    let bytes = data_key
        .open(sealed, &embedding_context(enrollment_id))
        .map_err(|e| Error::internal(format!("embedding of {enrollment_id}: {e}")))?;
    embedding_from_bytes(&bytes).ok_or_else(|| Error::internal(format!("embedding of {enrollment_id} is malformed")))
}

/// A stored capture's image, fetched and opened with the customer's key: its id, media type
/// and bytes.
pub async fn open_capture(
    blobs: &crate::blobs::BlobStore,
    data_key: &DataKey,
    capture: crate::store::faces::StoredCapture,
) -> Result<(String, &'static str, Vec<u8>), Error> {
    let media_type = capture.served_media_type();
    let bytes = open_sealed(blobs, data_key, capture.image, &format!("capture/{}", capture.id)).await?;
    Ok((capture.id, media_type, bytes))
}

/// A sealed image, from the blob store or its row, opened under `context`.
pub async fn open_sealed(
    blobs: &crate::blobs::BlobStore,
    data_key: &DataKey,
    image: crate::store::faces::SealedAt,
    context: &str,
) -> Result<Vec<u8>, Error> {
    let sealed = match image {
        crate::store::faces::SealedAt::Object(object) => blobs.get(&object).await?,
        crate::store::faces::SealedAt::Row(bytes) => bytes,
    };
    data_key.open(&sealed, context).map_err(|e| Error::internal(format!("opening {context}: {e}")))
}

/// The live selfie of the customer's most recent allowed step-up: the verification that
/// decided it and the selfie's embedding, read again from the sealed frame. `None` when the
/// customer never passed a step-up or its frame is gone (erased, expired by retention).
pub struct StepUpSelfie {
    pub match_verification_id: String,
    pub sha256: String,
    pub embedding: Vec<f32>,
}

pub async fn last_step_up_selfie(
    service: &FaceService,
    blobs: &crate::blobs::BlobStore,
    conn: &mut sqlx::AnyConnection,
    data_key: &DataKey,
    customer: &crate::store::customers::CustomerRow,
) -> Result<Option<StepUpSelfie>, Error> {
    use kenali_core::verification::{kind, Details};
    let history = crate::store::verifications::history(conn, &customer.org_id, &customer.id).await?;
    let allowed = history.iter().rev().find_map(|row| {
        if row.kind != kind::FACE_MATCH || row.status != "passed" {
            return None;
        }
        match Details::parse(&row.kind, &row.details) {
            Some(Details::FaceMatch(details)) if details.step_up_allowed == Some(true) => {
                details.probe_sha256.map(|sha| (row.id.clone(), sha))
            }
            _ => None,
        }
    });
    let Some((match_verification_id, sha256)) = allowed else { return Ok(None) };
    let Some(capture) =
        crate::store::faces::find_capture(conn, &customer.org_id, &customer.id, Some("frame"), &sha256).await?
    else {
        return Ok(None);
    };
    let (_, media_type, bytes) = open_capture(blobs, data_key, capture).await?;
    let input = ImageInput { bytes: Bytes::from(bytes), media_type, sha256: sha256.clone() };
    let analyzed = service.analyze("stepUpSelfie", input).await?;
    Ok(Some(StepUpSelfie { match_verification_id, sha256, embedding: analyzed.face.embedding }))
}
