//! What the face and KTP workflows share: the face service, the attempt log, sealed captures
//! and scoring a probe against a customer's pool.

use std::net::SocketAddr;
use std::time::Instant;

use kenali_core::face::best_match;
use kenali_core::id::{new_id, IdKind};
use kenali_core::time_fmt::now_timestamp;
use kenali_vision::embed::cosine;

use crate::api::load_customer;
use crate::error::{ApiError, ApiResult};
use crate::faces::{open_embedding, FaceService};
use crate::ledger::data_key;
use crate::state::AppState;
use crate::store::customers::CustomerRow;
use crate::store::faces::{self, AttemptRow, CaptureRow, EnrollmentRow};

pub fn face_service(state: &AppState) -> Result<&FaceService, ApiError> {
    state.faces.as_ref().ok_or_else(|| {
        ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "models_unavailable",
            "the face models are not loaded on this server",
        )
    })
}

/// Writes an attempt row on its own (for refusals, where no other row is written).
pub async fn record_attempt(state: &AppState, attempt: AttemptRow) -> ApiResult<()> {
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
    pub client: SocketAddr,
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
            client_ip: Some(self.client.ip().to_string()),
            verification_id: verification_id.map(str::to_string),
            created_at: now_timestamp(),
        }
    }

    /// Records a refusal (its error code as the reason) and hands the error back.
    pub async fn refuse(&self, state: &AppState, err: ApiError) -> ApiError {
        if let Err(store_err) = record_attempt(state, self.row("refused", &[err.code.to_string()], None)).await {
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
    client: SocketAddr,
) -> ApiResult<(CustomerRow, AttemptContext)> {
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
) -> ApiResult<(f32, Option<EnrollmentRow>)> {
    let key = data_key(&state.keys, customer)?;
    let mut scored = Vec::with_capacity(pool.len());
    for enrollment in pool {
        if let Some(embedding) = open_embedding(&key, enrollment)? {
            scored.push((enrollment, cosine(probe, &embedding)));
        }
    }
    Ok(best_match(scored).map(|(e, s)| (s, Some(e.clone()))).unwrap_or((f32::MIN, None)))
}

/// Seals an image with the customer's data key and stores it with its SHA-256 (SPEC §5).
pub async fn store_capture(
    state: &AppState,
    conn: &mut sqlx::AnyConnection,
    customer: &CustomerRow,
    kind: &str,
    image: &crate::faces::ImageInput,
    verification_id: Option<&str>,
    retention_class: &str,
) -> ApiResult<()> {
    let key = data_key(&state.keys, customer)?;
    let id = new_id(IdKind::Capture);
    let sealed = key.seal(&image.bytes, &format!("capture/{id}"));
    faces::insert_capture(
        conn,
        CaptureRow {
            id,
            org_id: &customer.org_id,
            customer_id: &customer.id,
            kind,
            sha256: image.sha256.clone(),
            media_type: image.media_type,
            sealed,
            verification_id,
            retention_class,
            created_at: now_timestamp(),
        },
    )
    .await?;
    Ok(())
}
