//! What a workflow can refuse or fail with, in the domain's words. The HTTP layer maps each case
//! to a status and an error code in one place (`From<Error> for ApiError`); the CLI, retention
//! and background jobs read the same cases without knowing about HTTP.

use kenali_core::nik::NikProblem;
use kenali_core::settings::SettingProblem;

use crate::store::StoreError;

pub type Result<T> = std::result::Result<T, Error>;

/// Why an image (a field, or a bundle's frame) could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageProblem {
    /// Not JPEG or PNG.
    Unsupported,
    /// More bytes than a field may carry, or more pixels than the decoder accepts.
    TooLarge(String),
    TooSmall(String),
    Undecodable(String),
    NoFace,
    SeveralFaces(usize),
    FaceTooSmall(String),
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// One input field is wrong.
    #[error("{field}: {message}")]
    InvalidField { field: String, message: String },
    /// The NIK breaks one or more of its rules (each listed).
    #[error("nik: {}", .0.iter().map(|p| p.message()).collect::<Vec<_>>().join("; "))]
    InvalidNik(Vec<NikProblem>),
    /// Org settings outside their bounds (each named); nothing was saved.
    #[error("{}", .0.iter().map(|p| format!("{}: {}", p.field, p.message)).collect::<Vec<_>>().join("; "))]
    InvalidSettings(Vec<SettingProblem>),
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The customer was erased (its data key is gone).
    #[error("{0}")]
    CustomerErased(&'static str),
    #[error("{}", image_message(.field, .problem))]
    Image { field: String, problem: ImageProblem },
    /// A frame over the per-frame pixel limit, or a bundle over its pixel budget, refused from
    /// the images' headers before anything is decoded.
    #[error("{message}")]
    PixelBudget { whole_bundle: bool, message: String },
    /// A bundle whose signature, challenge or device does not check out.
    #[error("{0}")]
    InvalidSignature(String),
    #[error("this flash challenge was already used")]
    ChallengeConsumed,
    #[error("this flash challenge has expired; request a new one")]
    ChallengeExpired,
    /// Nothing to match a face against.
    #[error("{0}")]
    NoReference(&'static str),
    #[error("this enrollment was retired")]
    EnrollmentRetired,
    #[error("this enrollment waits for an analyst's review of its KTP capture")]
    EnrollmentPendingReview,
    #[error("enrollment was made with model {enrolled}, this server runs {running}")]
    ModelMismatch { enrolled: String, running: &'static str },
    /// A NIK that differs from the one the customer already has.
    #[error("{0}")]
    NikConflict(&'static str),
    #[error("{0}")]
    AlreadyDecided(String),
    /// A credential (API key, OAuth client) that is already revoked.
    #[error("{0}")]
    AlreadyRevoked(&'static str),
    /// A credential asked to revoke itself, which would lock its holder out.
    #[error("{0}")]
    CredentialInUse(&'static str),
    /// A resource not in the state the action needs (a submission confirmed before its uploads,
    /// its details asked before its job ran).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// Something that existed and has lapsed (a submission's upload window).
    #[error("{message}")]
    Gone { code: &'static str, message: String },
    /// Sign-in refused, or a session that is missing, expired or revoked.
    #[error("{message}")]
    Unauthenticated { code: &'static str, message: String },
    /// A signed URL that does not grant what is asked (wrong signature, expired).
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    /// Past a rate limit; the caller may retry after the given seconds.
    #[error("{message}")]
    RateLimited { message: String, retry_after_secs: u64 },
    /// Every core is busy and too many requests wait already, or the wait ran out.
    #[error("the server is at capacity ({0}); retry shortly")]
    Busy(&'static str),
    /// This server was started without the models a workflow needs.
    #[error("the {0} models are not loaded on this server")]
    ModelsUnavailable(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The blob store failed, or an object is missing or not the one recorded.
    #[error(transparent)]
    Blob(#[from] crate::blobs::BlobError),
    /// A failure that is not the caller's: logged with the request id, never shown.
    #[error("{0}")]
    Internal(String),
}

impl Error {
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidField { field: field.into(), message: message.into() }
    }

    pub fn image(field: impl Into<String>, problem: ImageProblem) -> Self {
        Error::Image { field: field.into(), problem }
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Error::Internal(cause.to_string())
    }

    /// The stable machine-readable code of this case (the error body's `code`, and the reason
    /// an attempt row records for a refusal).
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidField { .. } => "invalid_field",
            Error::InvalidNik(_) => "invalid_nik",
            Error::InvalidSettings(_) => "invalid_settings",
            Error::NotFound(_) => "not_found",
            Error::CustomerErased(_) => "customer_erased",
            Error::Image { problem, .. } => match problem {
                ImageProblem::Unsupported => "unsupported_image",
                ImageProblem::TooLarge(_) => "image_too_large",
                ImageProblem::TooSmall(_) => "image_too_small",
                ImageProblem::Undecodable(_) => "undecodable_image",
                ImageProblem::NoFace => "no_face",
                ImageProblem::SeveralFaces(_) => "several_faces",
                ImageProblem::FaceTooSmall(_) => "face_too_small",
            },
            Error::PixelBudget { whole_bundle: true, .. } => "bundle_too_large",
            Error::PixelBudget { whole_bundle: false, .. } => "image_too_large",
            Error::InvalidSignature(_) => "invalid_signature",
            Error::ChallengeConsumed => "challenge_consumed",
            Error::ChallengeExpired => "challenge_expired",
            Error::NoReference(_) => "no_reference",
            Error::EnrollmentRetired => "enrollment_retired",
            Error::EnrollmentPendingReview => "enrollment_pending_review",
            Error::ModelMismatch { .. } => "model_mismatch",
            Error::NikConflict(_) => "nik_conflict",
            Error::AlreadyDecided(_) => "already_decided",
            Error::AlreadyRevoked(_) => "already_revoked",
            Error::CredentialInUse(_) => "key_in_use",
            Error::Conflict { code, .. }
            | Error::Gone { code, .. }
            | Error::Forbidden { code, .. }
            | Error::Unauthenticated { code, .. } => code,
            Error::RateLimited { .. } => "rate_limited",
            Error::Busy(_) => "busy",
            Error::ModelsUnavailable(_) => "models_unavailable",
            Error::Store(_) | Error::Blob(_) | Error::Internal(_) => "internal_error",
        }
    }

    /// The message a caller sees (internal causes stay in the log).
    pub fn public_message(&self) -> String {
        match self {
            Error::Store(_) | Error::Blob(_) | Error::Internal(_) => {
                "the server failed to handle this request; quote the request id when reporting it".into()
            }
            other => other.to_string(),
        }
    }
}

fn image_message(field: &str, problem: &ImageProblem) -> String {
    let what = match problem {
        ImageProblem::Unsupported => "must be a JPEG or PNG image".to_string(),
        ImageProblem::NoFace => "no face found".to_string(),
        ImageProblem::SeveralFaces(n) => format!("{n} faces found; exactly one is needed"),
        ImageProblem::TooLarge(why)
        | ImageProblem::TooSmall(why)
        | ImageProblem::Undecodable(why)
        | ImageProblem::FaceTooSmall(why) => why.clone(),
    };
    format!("{field}: {what}")
}

impl From<sqlx::Error> for Error {
    fn from(err: sqlx::Error) -> Self {
        Error::Store(StoreError::from(err))
    }
}
