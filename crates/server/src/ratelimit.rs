//! Fixed-window rate limits kept in the database, so they hold across processes (SPEC §9).

use axum::http::StatusCode;

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::challenges;

/// A limit: at most `max` hits per `window_secs` per bucket.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub name: &'static str,
    pub max: i64,
    pub window_secs: i64,
    /// What a bucket is counted for ("customer", "organization"), for the error message.
    pub per: &'static str,
}

/// Seed 000's table.
pub const FACE_LIVENESS: Limit = Limit { name: "face_liveness", max: 20, window_secs: 60, per: "customer" };
pub const STEP_UP: Limit = Limit { name: "step_up", max: 60, window_secs: 60, per: "customer" };
pub const KTP_CHALLENGE: Limit = Limit { name: "ktp_challenge", max: 10, window_secs: 60, per: "customer" };
pub const KTP_CAPTURE: Limit = Limit { name: "ktp_capture", max: 5, window_secs: 60, per: "customer" };
pub const ERASURE: Limit = Limit { name: "erasure", max: 10, window_secs: 300, per: "organization" };

/// Counts a hit for `subject` (e.g. a customer id); 429 with `Retry-After` past the limit.
pub async fn check(state: &AppState, limit: Limit, subject: &str) -> Result<(), ApiError> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let window_start = now - now.rem_euclid(limit.window_secs);
    let bucket = format!("{}:{subject}", limit.name);
    let mut conn = state.store.pool().acquire().await?;
    let hits = challenges::hit(&mut conn, &bucket, window_start).await?;
    if hits > limit.max {
        let mut err = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("at most {} {} requests per {} s for one {}", limit.max, limit.name, limit.window_secs, limit.per),
        );
        err.retry_after_secs = Some(u64::try_from(window_start + limit.window_secs - now).unwrap_or(1).max(1));
        return Err(err);
    }
    Ok(())
}
