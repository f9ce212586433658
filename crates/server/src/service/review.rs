//! The analyst's queue as the workflows feed it.

use kenali_core::id::{new_id, IdKind};
use kenali_core::time_fmt::now_timestamp;
use kenali_core::verification::ReviewSubject;
use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::store::ktp::{self as ktp_store, ReviewItemRow};

/// What goes to an analyst: the subject under review and why.
pub struct NewReviewItem<'a> {
    pub org_id: &'a str,
    pub customer_id: &'a str,
    pub kind: ReviewSubject,
    pub subject_id: &'a str,
    pub verification_id: &'a str,
    pub reasons: &'a [String],
    pub voters: &'a Value,
}

/// Opens a review item in the caller's transaction; returns its id.
pub async fn open_item(conn: &mut sqlx::AnyConnection, new: NewReviewItem<'_>) -> ApiResult<String> {
    let item = ReviewItemRow {
        id: new_id(IdKind::ReviewItem),
        org_id: new.org_id.to_string(),
        customer_id: new.customer_id.to_string(),
        kind: new.kind.as_str().to_string(),
        subject_id: new.subject_id.to_string(),
        verification_id: new.verification_id.to_string(),
        reasons: serde_json::to_string(new.reasons).map_err(ApiError::internal)?,
        voters: new.voters.to_string(),
        status: "open".into(),
        decided_by: None,
        decision_reason: None,
        decision_verification_id: None,
        decided_at: None,
        created_at: now_timestamp(),
    };
    ktp_store::insert_review_item(conn, &item).await?;
    Ok(item.id)
}
