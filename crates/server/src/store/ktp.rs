//! KTP capture bundles, the review queue and registered devices.

use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use super::{col, paginate, StoreResult};

#[derive(Debug, Clone, PartialEq)]
pub struct KtpBundleRow {
    pub id: String,
    pub org_id: String,
    pub customer_id: String,
    pub verification_id: String,
    pub challenge_id: String,
    pub verdict: String,
    pub assurance_tier: String,
    pub anti_spoof: String,
    pub tamper: String,
    pub voters: String,
    pub reading_sealed: Vec<u8>,
    pub frames_stored: i64,
    pub face_enrollment_id: Option<String>,
    pub created_at: String,
}

pub async fn insert_bundle(conn: &mut AnyConnection, b: &KtpBundleRow) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO ktp_bundles (id, org_id, customer_id, verification_id, challenge_id, verdict, assurance_tier, \
         anti_spoof, tamper, voters, reading_sealed, frames_stored, face_enrollment_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(&b.id)
    .bind(&b.org_id)
    .bind(&b.customer_id)
    .bind(&b.verification_id)
    .bind(&b.challenge_id)
    .bind(&b.verdict)
    .bind(&b.assurance_tier)
    .bind(&b.anti_spoof)
    .bind(&b.tamper)
    .bind(&b.voters)
    .bind(b.reading_sealed.clone())
    .bind(b.frames_stored)
    .bind(b.face_enrollment_id.as_deref())
    .bind(&b.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// An item for an analyst: a low-assurance KTP bundle or an `unclear` liveness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewItemRow {
    pub id: String,
    pub org_id: String,
    pub customer_id: String,
    pub kind: String,
    pub subject_id: String,
    pub verification_id: String,
    pub reasons: String,
    pub voters: String,
    pub status: String,
    pub decided_by: Option<String>,
    pub decision_reason: Option<String>,
    pub decision_verification_id: Option<String>,
    pub decided_at: Option<String>,
    pub created_at: String,
}

const REVIEW_COLUMNS: &str = "id, org_id, customer_id, kind, subject_id, verification_id, reasons, voters, status, \
                              decided_by, decision_reason, decision_verification_id, decided_at, created_at";

fn review_item(row: &AnyRow) -> StoreResult<ReviewItemRow> {
    Ok(ReviewItemRow {
        id: col(row, "id")?,
        org_id: col(row, "org_id")?,
        customer_id: col(row, "customer_id")?,
        kind: col(row, "kind")?,
        subject_id: col(row, "subject_id")?,
        verification_id: col(row, "verification_id")?,
        reasons: col(row, "reasons")?,
        voters: col(row, "voters")?,
        status: col(row, "status")?,
        decided_by: col(row, "decided_by")?,
        decision_reason: col(row, "decision_reason")?,
        decision_verification_id: col(row, "decision_verification_id")?,
        decided_at: col(row, "decided_at")?,
        created_at: col(row, "created_at")?,
    })
}

/// What an analyst reads of a KTP bundle: its sealed reading (the OCR's fields) and verdict.
pub struct BundleReading {
    pub verdict: String,
    pub assurance_tier: String,
    pub reading_sealed: Vec<u8>,
    pub face_enrollment_id: Option<String>,
}

pub async fn find_bundle_reading(
    conn: &mut AnyConnection,
    org_id: &str,
    bundle_id: &str,
) -> StoreResult<Option<BundleReading>> {
    let row = sqlx::query(
        "SELECT verdict, assurance_tier, reading_sealed, face_enrollment_id FROM ktp_bundles \
         WHERE org_id = $1 AND id = $2",
    )
    .bind(org_id)
    .bind(bundle_id)
    .fetch_optional(conn)
    .await?;
    row.map(|row| {
        Ok(BundleReading {
            verdict: col(&row, "verdict")?,
            assurance_tier: col(&row, "assurance_tier")?,
            reading_sealed: col::<Option<Vec<u8>>>(&row, "reading_sealed")?.unwrap_or_default(),
            face_enrollment_id: col(&row, "face_enrollment_id")?,
        })
    })
    .transpose()
}

/// The face enrollment a KTP bundle made from its portrait, if any.
pub async fn bundle_enrollment(conn: &mut AnyConnection, org_id: &str, bundle_id: &str) -> StoreResult<Option<String>> {
    let row = sqlx::query("SELECT face_enrollment_id FROM ktp_bundles WHERE org_id = $1 AND id = $2")
        .bind(org_id)
        .bind(bundle_id)
        .fetch_optional(conn)
        .await?;
    Ok(match row {
        Some(row) => col(&row, "face_enrollment_id")?,
        None => None,
    })
}

pub async fn insert_review_item(conn: &mut AnyConnection, r: &ReviewItemRow) -> StoreResult<()> {
    sqlx::query(&format!(
        "INSERT INTO review_items ({REVIEW_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
    ))
    .bind(&r.id)
    .bind(&r.org_id)
    .bind(&r.customer_id)
    .bind(&r.kind)
    .bind(&r.subject_id)
    .bind(&r.verification_id)
    .bind(&r.reasons)
    .bind(&r.voters)
    .bind(&r.status)
    .bind(r.decided_by.as_deref())
    .bind(r.decision_reason.as_deref())
    .bind(r.decision_verification_id.as_deref())
    .bind(r.decided_at.as_deref())
    .bind(&r.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn find_review_item(conn: &mut AnyConnection, org_id: &str, id: &str) -> StoreResult<Option<ReviewItemRow>> {
    let row = sqlx::query(&format!("SELECT {REVIEW_COLUMNS} FROM review_items WHERE org_id = $1 AND id = $2"))
        .bind(org_id)
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(review_item).transpose()
}

/// Items with `status`, oldest first (the queue's order), after the `cursor` id.
pub async fn list_review_items(
    conn: &mut AnyConnection,
    org_id: &str,
    status: &str,
    cursor: Option<&str>,
    limit: i64,
) -> StoreResult<(Vec<ReviewItemRow>, Option<String>)> {
    let rows = sqlx::query(&format!(
        "SELECT {REVIEW_COLUMNS} FROM review_items WHERE org_id = $1 AND status = $2 \
         AND ($3 IS NULL OR id > $3) ORDER BY id ASC LIMIT $4"
    ))
    .bind(org_id)
    .bind(status)
    .bind(cursor)
    .bind(limit + 1)
    .fetch_all(conn)
    .await?;
    let items = rows.iter().map(review_item).collect::<StoreResult<Vec<_>>>()?;
    Ok(paginate(items, limit, |i| i.id.clone()))
}

/// Closes an open item; false when it was already decided (by this or another process).
pub async fn decide_review_item(
    conn: &mut AnyConnection,
    id: &str,
    status: &str,
    decided_by: &str,
    reason: &str,
    verification_id: &str,
    decided_at: &str,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE review_items SET status = $1, decided_by = $2, decision_reason = $3, \
         decision_verification_id = $4, decided_at = $5 WHERE id = $6 AND status = 'open'",
    )
    .bind(status)
    .bind(decided_by)
    .bind(reason)
    .bind(verification_id)
    .bind(decided_at)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// When each open review item was opened, oldest first (at most `limit`).
pub async fn open_review_times(conn: &mut AnyConnection, org_id: &str, limit: i64) -> StoreResult<Vec<String>> {
    let rows = sqlx::query(
        "SELECT created_at FROM review_items WHERE org_id = $1 AND status = 'open' ORDER BY created_at LIMIT $2",
    )
    .bind(org_id)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(|row| col(row, "created_at")).collect()
}
