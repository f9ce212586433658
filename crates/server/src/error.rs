//! The one error type of the HTTP layer. Every failure becomes SPEC §1's body:
//! `{"error": {"code", "message", "details", "requestId"}}`. Internal causes are kept out of
//! the body and logged once by the request middleware.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{json, Value};

use crate::service::Error as ServiceError;
use crate::store::StoreError;

tokio::task_local! {
    /// The id of the request being served, set by the request middleware.
    pub static REQUEST_ID: String;
}

pub fn current_request_id() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_default()
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Vec<Value>,
    pub retry_after_secs: Option<u64>,
    /// The cause, for the log only.
    pub internal: Option<String>,
}

/// Carried in the response's extensions so the middleware can log the cause once.
#[derive(Debug, Clone)]
pub struct ErrorLogNote {
    pub code: &'static str,
    pub internal: Option<String>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), details: Vec::new(), retry_after_secs: None, internal: None }
    }

    pub fn with_details(mut self, details: Vec<Value>) -> Self {
        self.details = details;
        self
    }

    /// 400 for one named field.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self::new(StatusCode::BAD_REQUEST, "invalid_field", format!("{field}: {message}"))
            .with_details(vec![json!({"field": field, "message": message})])
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }

    pub fn forbidden_scope(scope: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            format!("this route needs an API key with the `{scope}` scope"),
        )
    }

    /// 404 that never says whether the thing exists in another organization.
    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("{what} not found"))
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    pub fn gone(message: impl Into<String>) -> Self {
        Self::new(StatusCode::GONE, "customer_erased", message)
    }

    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("request body exceeds the limit of {limit} bytes"),
        )
    }

    pub fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as JSON with Content-Type: application/json",
        )
    }

    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let mut err = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "the server failed to handle this request; quote the request id when reporting it",
        );
        err.internal = Some(cause.to_string());
        err
    }

    pub fn body(&self, request_id: &str) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message.clone(),
                details: self.details.clone(),
                request_id: request_id.to_string(),
            },
        }
    }
}

/// Every operation's error answer in the OpenAPI description, whatever its status (SPEC §1);
/// named once here, beside the error type, instead of in each handler's annotation.
#[derive(utoipa::IntoResponses)]
#[response(status = "default", description = "an error: `{error: {code, message, details, requestId}}` (SPEC §1)")]
pub struct ErrorResponse(#[to_schema] pub ErrorBody);

/// Every error response's body (SPEC §1).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetail {
    /// A stable machine-readable code, e.g. `invalid_field`, `customer_erased`.
    pub code: String,
    pub message: String,
    /// For validation errors, one `{field, code?, message}` per problem.
    pub details: Vec<Value>,
    pub request_id: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = self.body(&current_request_id());
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after_secs {
            if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response.extensions_mut().insert(ErrorLogNote { code: self.code, internal: self.internal });
        response
    }
}

/// The one place a workflow's error becomes an HTTP answer.
impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> Self {
        let status = match &err {
            ServiceError::InvalidField { .. } | ServiceError::InvalidNik(_) | ServiceError::InvalidSettings(_) => {
                StatusCode::BAD_REQUEST
            }
            ServiceError::NotFound(_) => StatusCode::NOT_FOUND,
            ServiceError::CustomerErased(_) | ServiceError::ChallengeExpired => StatusCode::GONE,
            ServiceError::Image { .. } | ServiceError::NoReference(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ServiceError::PixelBudget { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ServiceError::InvalidSignature(_) => StatusCode::UNAUTHORIZED,
            ServiceError::ChallengeConsumed
            | ServiceError::EnrollmentRetired
            | ServiceError::EnrollmentPendingReview
            | ServiceError::ModelMismatch { .. }
            | ServiceError::NikConflict(_)
            | ServiceError::AlreadyDecided(_)
            | ServiceError::AlreadyRevoked(_)
            | ServiceError::CredentialInUse(_)
            | ServiceError::Conflict { .. } => StatusCode::CONFLICT,
            ServiceError::Gone { .. } => StatusCode::GONE,
            ServiceError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ServiceError::Unauthenticated { .. } => StatusCode::UNAUTHORIZED,
            ServiceError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ServiceError::Busy(_) | ServiceError::ModelsUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ServiceError::Store(_) | ServiceError::Blob(_) | ServiceError::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let mut api = ApiError::new(status, err.code(), err.public_message());
        match &err {
            ServiceError::InvalidField { field, message } => {
                api.details = vec![json!({"field": field, "message": message})];
            }
            ServiceError::InvalidNik(problems) => {
                api.details = problems
                    .iter()
                    .map(|p| json!({"field": "nik", "code": p.code(), "message": p.message()}))
                    .collect();
            }
            ServiceError::InvalidSettings(problems) => {
                api.details = problems.iter().map(|p| json!({"field": p.field, "message": p.message})).collect();
            }
            ServiceError::RateLimited { retry_after_secs, .. } => api.retry_after_secs = Some(*retry_after_secs),
            ServiceError::Busy(_) => api.retry_after_secs = Some(2),
            ServiceError::Store(_) | ServiceError::Blob(_) | ServiceError::Internal(_) => {
                api.internal = Some(err.to_string())
            }
            _ => {}
        }
        api
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        ApiError::internal(err)
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        ApiError::internal(err)
    }
}
