//! Rate limits kept in the database, so they hold across processes (SPEC §9). Each is a
//! sliding window, estimated from two fixed ones: the current window's hits plus the previous
//! window's weighted by how much of it the sliding window still covers. Twice the limit cannot
//! pass across a window edge, as it could with fixed windows.

use crate::service::Error;
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
/// Face challenges, like KTP ones: each is cheap, but an unbounded stream of them is not.
pub const FACE_CHALLENGE: Limit = Limit { name: "face_challenge", max: 30, window_secs: 60, per: "customer" };
/// Backend-to-backend face-match submissions created: their jobs queue in the database, so the
/// limit guards against a runaway client rather than pacing the work.
pub const FACE_MATCH_SUBMISSION: Limit =
    Limit { name: "face_match_submission", max: 600, window_secs: 60, per: "organization" };
/// `/face/match` decodes and embeds up to two images per call.
pub const FACE_MATCH: Limit = Limit { name: "face_match", max: 120, window_secs: 60, per: "organization" };
/// A Dukcapil verdict with a photo decodes and embeds it (and may re-read a step-up selfie).
pub const DUKCAPIL_PHOTO: Limit = Limit { name: "dukcapil_photo", max: 60, window_secs: 60, per: "organization" };
/// `/face/search` embeds one image and scans every enrolled face of the org.
pub const FACE_SEARCH: Limit = Limit { name: "face_search", max: 60, window_secs: 60, per: "organization" };
/// Customers the open demo page (`KENALI_DEMO`) creates, per visitor's address.
pub const DEMO_CUSTOMER: Limit = Limit { name: "demo_customer", max: 10, window_secs: 600, per: "address" };

/// The sliding window's estimate: the current window's hits and the previous window's share.
fn sliding_count(current: i64, previous: i64, elapsed_secs: i64, window_secs: i64) -> f64 {
    let remaining = (window_secs - elapsed_secs).clamp(0, window_secs) as f64 / window_secs as f64;
    current as f64 + previous as f64 * remaining
}

/// Counts a hit for `subject` (e.g. a customer id); 429 with `Retry-After` past the limit.
pub async fn check(state: &AppState, limit: Limit, subject: &str) -> Result<(), Error> {
    let now = state.clock.now().unix_timestamp();
    let window_start = now - now.rem_euclid(limit.window_secs);
    let bucket = format!("{}:{subject}", limit.name);
    let mut conn = state.store.write().await?;
    let (current, previous) = challenges::hit(&mut conn, &bucket, window_start, limit.window_secs).await?;
    if sliding_count(current, previous, now - window_start, limit.window_secs) > limit.max as f64 {
        return Err(Error::RateLimited {
            message: format!(
                "at most {} {} requests per {} s for one {}",
                limit.max, limit.name, limit.window_secs, limit.per
            ),
            retry_after_secs: u64::try_from(window_start + limit.window_secs - now).unwrap_or(1).max(1),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::sliding_count;

    #[test]
    fn a_burst_across_the_window_edge_counts_against_both_windows() {
        // 60 hits at the end of one window, then at the start of the next: they still count.
        assert!(sliding_count(1, 60, 0, 60) > 60.0);
        assert!(sliding_count(30, 60, 30, 60) > 59.0);
        // As the sliding window leaves the old hits behind, they fade out.
        assert!(sliding_count(1, 60, 59, 60) < 3.0);
        assert_eq!(sliding_count(5, 0, 10, 60), 5.0);
    }
}
