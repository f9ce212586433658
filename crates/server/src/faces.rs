//! The face pipeline as the server uses it: base64 images in, one analysed face out, with the
//! CPU work on the blocking pool and bounded by a semaphore so a burst cannot exhaust memory.

use std::sync::Arc;

use base64::Engine;
use kenali_core::face::{embedding_from_bytes, embedding_to_bytes};
use kenali_core::id::{new_id, IdKind};
use kenali_core::seal::DataKey;
use kenali_core::time_fmt::now_timestamp;
use kenali_vision::engine::AnalyzedFace;
use kenali_vision::ocr::OcrEngine;
use kenali_vision::{decode_image, DecodeError, DecodeLimits, FaceEngine, FaceError};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::error::ApiError;
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
}

/// A decoded image field: its bytes, media type and SHA-256.
pub struct ImageInput {
    pub bytes: Vec<u8>,
    pub media_type: &'static str,
    pub sha256: String,
}

/// An image with its single face analysed.
pub struct AnalyzedImage {
    pub input: ImageInput,
    pub face: AnalyzedFace,
}

/// Reads a base64 JPEG/PNG field (a `data:` URL prefix is allowed).
pub fn image_field(field: &str, value: &str) -> Result<ImageInput, ApiError> {
    let encoded = value.trim();
    let encoded = encoded.split_once(";base64,").map(|(_, data)| data).unwrap_or(encoded);
    if encoded.len() > MAX_IMAGE_BYTES / 3 * 4 + 4 {
        return Err(ApiError::invalid_field(field, format!("must be at most {MAX_IMAGE_BYTES} bytes decoded")));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| ApiError::invalid_field(field, "is not valid base64"))?;
    let media_type = if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        "image/jpeg"
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        "image/png"
    } else {
        return Err(ApiError::unprocessable("unsupported_image", format!("{field}: must be a JPEG or PNG image")));
    };
    let sha256 = hex::encode(Sha256::digest(&bytes));
    Ok(ImageInput { bytes, media_type, sha256 })
}

pub fn decode_error(field: &str, err: DecodeError) -> ApiError {
    let code = match err {
        DecodeError::UnsupportedFormat => "unsupported_image",
        DecodeError::TooManyBytes(_) | DecodeError::TooManyPixels(..) => "image_too_large",
        DecodeError::TooSmall(..) => "image_too_small",
        DecodeError::Corrupt(_) => "undecodable_image",
    };
    ApiError::unprocessable(code, format!("{field}: {err}"))
}

fn face_error(field: &str, err: FaceError) -> ApiError {
    match err {
        FaceError::NoFace => ApiError::unprocessable("no_face", format!("{field}: no face found")),
        FaceError::SeveralFaces(n) => {
            ApiError::unprocessable("several_faces", format!("{field}: {n} faces found; exactly one is needed"))
        }
        FaceError::FaceTooSmall => ApiError::unprocessable("face_too_small", format!("{field}: {err}")),
        other => ApiError::internal(other),
    }
}

impl FaceService {
    pub fn new(engine: Arc<FaceEngine>) -> Self {
        // One inference at a time per core: more only queues inside tract and costs memory.
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        Self { engine, ocr: None, permits: Arc::new(Semaphore::new(cores)), cores }
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
        work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let _permit = self.permits.acquire().await.map_err(ApiError::internal)?;
        tokio::task::spawn_blocking(work).await.map_err(ApiError::internal)?
    }

    /// Runs CPU-bound work that spreads over every core itself (a bundle's frames), holding all
    /// the permits so that the cores are not promised twice.
    pub async fn run_blocking_wide<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let all = u32::try_from(self.cores).unwrap_or(1);
        let _permits = self.permits.acquire_many(all).await.map_err(ApiError::internal)?;
        tokio::task::spawn_blocking(work).await.map_err(ApiError::internal)?
    }

    /// Decodes and analyses one image off the async runtime.
    pub async fn analyze(&self, field: &str, input: ImageInput) -> Result<AnalyzedImage, ApiError> {
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
    source: &str,
    data_key: &DataKey,
    face: EnrollmentFace<'_>,
) -> EnrollmentRow {
    let id = new_id(IdKind::FaceEnrollment);
    EnrollmentRow {
        embedding_sealed: Some(data_key.seal(&embedding_to_bytes(face.embedding), &embedding_context(&id))),
        id,
        org_id: org_id.to_string(),
        customer_id: customer_id.to_string(),
        source: source.to_string(),
        model_id: kenali_vision::engine::MODEL_ID.to_string(),
        image_sha256: Some(face.image_sha256.to_string()),
        detection_score: Some(f64::from(face.detection_score)),
        created_at: now_timestamp(),
        retired_at: None,
        status: crate::store::faces::ENROLLMENT_ACTIVE.to_string(),
    }
}

/// Opens an enrollment's embedding; `None` when retired.
pub fn open_embedding(data_key: &DataKey, enrollment: &EnrollmentRow) -> Result<Option<Vec<f32>>, ApiError> {
    let Some(sealed) = &enrollment.embedding_sealed else { return Ok(None) };
    let bytes = data_key
        .open(sealed, &embedding_context(&enrollment.id))
        .map_err(|e| ApiError::internal(format!("embedding of {}: {e}", enrollment.id)))?;
    embedding_from_bytes(&bytes)
        .map(Some)
        .ok_or_else(|| ApiError::internal(format!("embedding of {} is malformed", enrollment.id)))
}
