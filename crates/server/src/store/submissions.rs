//! Face-match submissions (seed 003) and their images; the job queue's claims and results.

use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use super::{col, Backend, StoreResult};

pub const PENDING_UPLOAD: &str = "pending_upload";
pub const QUEUED: &str = "queued";
pub const PROCESSING: &str = "processing";
pub const COMPLETED: &str = "completed";
pub const FAILED: &str = "failed";

/// The PostgreSQL notification channel a confirmed submission is announced on.
pub const JOBS_CHANNEL: &str = "kenali_face_match";

#[derive(Debug, Clone)]
pub struct SubmissionRow {
    pub id: String,
    pub org_id: String,
    pub status: String,
    pub mode: String,
    pub correlation_id: Option<String>,
    pub customer_id: Option<String>,
    pub callback_webhook_id: Option<String>,
    pub created_by: String,
    pub wrapped_data_key: Option<Vec<u8>>,
    pub upload_expires_at: String,
    pub attempts: i64,
    pub result: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub verification_id: Option<String>,
    pub created_at: String,
    pub confirmed_at: Option<String>,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    pub updated_at: String,
    pub images_deleted_at: Option<String>,
}

const COLUMNS: &str = "id, org_id, status, mode, correlation_id, customer_id, callback_webhook_id, created_by, \
     wrapped_data_key, upload_expires_at, attempts, result, error_code, error_message, verification_id, created_at, \
     confirmed_at, started_at, completed_at, updated_at, images_deleted_at";

fn from_row(row: &AnyRow) -> StoreResult<SubmissionRow> {
    Ok(SubmissionRow {
        id: col(row, "id")?,
        org_id: col(row, "org_id")?,
        status: col(row, "status")?,
        mode: col(row, "mode")?,
        correlation_id: col(row, "correlation_id")?,
        customer_id: col(row, "customer_id")?,
        callback_webhook_id: col(row, "callback_webhook_id")?,
        created_by: col(row, "created_by")?,
        wrapped_data_key: col(row, "wrapped_data_key")?,
        upload_expires_at: col(row, "upload_expires_at")?,
        attempts: col(row, "attempts")?,
        result: col(row, "result")?,
        error_code: col(row, "error_code")?,
        error_message: col(row, "error_message")?,
        verification_id: col(row, "verification_id")?,
        created_at: col(row, "created_at")?,
        confirmed_at: col(row, "confirmed_at")?,
        started_at: col(row, "started_at")?,
        completed_at: col(row, "completed_at")?,
        updated_at: col(row, "updated_at")?,
        images_deleted_at: col(row, "images_deleted_at")?,
    })
}

/// One image of a submission: where the partner uploads it, and the sealed object once
/// confirmed.
#[derive(Debug, Clone)]
pub struct ImageRow {
    pub submission_id: String,
    pub role: String,
    pub staging_key: String,
    pub media_type: Option<String>,
    pub object: Option<crate::blobs::StoredObject>,
    pub image_sha256: Option<String>,
}

pub async fn insert(conn: &mut AnyConnection, s: &SubmissionRow, images: &[ImageRow]) -> StoreResult<()> {
    sqlx::query(&format!(
        "INSERT INTO face_match_submissions ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
         $13, $14, $15, $16, $17, $18, $19, $20, $21)"
    ))
    .bind(&s.id)
    .bind(&s.org_id)
    .bind(&s.status)
    .bind(&s.mode)
    .bind(s.correlation_id.as_deref())
    .bind(s.customer_id.as_deref())
    .bind(s.callback_webhook_id.as_deref())
    .bind(&s.created_by)
    .bind(s.wrapped_data_key.clone())
    .bind(&s.upload_expires_at)
    .bind(s.attempts)
    .bind(s.result.as_deref())
    .bind(s.error_code.as_deref())
    .bind(s.error_message.as_deref())
    .bind(s.verification_id.as_deref())
    .bind(&s.created_at)
    .bind(s.confirmed_at.as_deref())
    .bind(s.started_at.as_deref())
    .bind(s.completed_at.as_deref())
    .bind(&s.updated_at)
    .bind(s.images_deleted_at.as_deref())
    .execute(&mut *conn)
    .await?;
    for image in images {
        sqlx::query("INSERT INTO face_match_submission_images (submission_id, role, staging_key) VALUES ($1, $2, $3)")
            .bind(&image.submission_id)
            .bind(&image.role)
            .bind(&image.staging_key)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

pub async fn find(conn: &mut AnyConnection, org_id: &str, id: &str) -> StoreResult<Option<SubmissionRow>> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM face_match_submissions WHERE org_id = $1 AND id = $2"))
        .bind(org_id)
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn find_by_correlation(
    conn: &mut AnyConnection,
    org_id: &str,
    correlation_id: &str,
) -> StoreResult<Option<SubmissionRow>> {
    let row =
        sqlx::query(&format!("SELECT {COLUMNS} FROM face_match_submissions WHERE org_id = $1 AND correlation_id = $2"))
            .bind(org_id)
            .bind(correlation_id)
            .fetch_optional(conn)
            .await?;
    row.as_ref().map(from_row).transpose()
}

/// A submission by id alone (the worker, and the signed upload route, whose URL names it).
pub async fn get(conn: &mut AnyConnection, id: &str) -> StoreResult<Option<SubmissionRow>> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM face_match_submissions WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn images(conn: &mut AnyConnection, submission_id: &str) -> StoreResult<Vec<ImageRow>> {
    let rows = sqlx::query(
        "SELECT submission_id, role, staging_key, media_type, object_key, object_sha256, object_size, image_sha256 \
         FROM face_match_submission_images WHERE submission_id = $1 ORDER BY role",
    )
    .bind(submission_id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            let key: Option<String> = col(row, "object_key")?;
            let object = match key {
                Some(key) => Some(crate::blobs::StoredObject {
                    key,
                    sha256: col(row, "object_sha256")?,
                    size: col(row, "object_size")?,
                }),
                None => None,
            };
            Ok(ImageRow {
                submission_id: col(row, "submission_id")?,
                role: col(row, "role")?,
                staging_key: col(row, "staging_key")?,
                media_type: col(row, "media_type")?,
                object,
                image_sha256: col(row, "image_sha256")?,
            })
        })
        .collect()
}

/// Records an image's sealed object (at confirm).
pub async fn set_image_object(
    conn: &mut AnyConnection,
    image: &ImageRow,
    media_type: &str,
    object: &crate::blobs::StoredObject,
    image_sha256: &str,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE face_match_submission_images SET media_type = $3, object_key = $4, object_sha256 = $5, \
         object_size = $6, image_sha256 = $7 WHERE submission_id = $1 AND role = $2",
    )
    .bind(&image.submission_id)
    .bind(&image.role)
    .bind(media_type)
    .bind(&object.key)
    .bind(&object.sha256)
    .bind(object.size)
    .bind(image_sha256)
    .execute(conn)
    .await?;
    Ok(())
}

/// Moves a submission waiting for its uploads to the queue; `false` when it was not waiting (a
/// concurrent confirm won). Announces the job to every process on PostgreSQL.
pub async fn queue(conn: &mut AnyConnection, id: &str, now: &str) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE face_match_submissions SET status = 'queued', confirmed_at = $2, updated_at = $2 \
         WHERE id = $1 AND status = 'pending_upload'",
    )
    .bind(id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 1 && conn.backend_name() == "PostgreSQL" {
        sqlx::query("SELECT pg_notify($1, '')").bind(JOBS_CHANNEL).execute(&mut *conn).await?;
    }
    Ok(done.rows_affected() == 1)
}

/// A job waiting, or one whose process let its lease run out (it died mid-job).
const DUE_AT_1: &str = "(status = 'queued' OR (status = 'processing' AND claimed_until < $1))";

pub async fn any_due(conn: &mut AnyConnection, now: &str) -> StoreResult<bool> {
    let row = sqlx::query(&format!(
        "SELECT COUNT(*) AS n FROM (SELECT 1 FROM face_match_submissions WHERE {DUE_AT_1} LIMIT 1) due"
    ))
    .bind(now)
    .fetch_one(conn)
    .await?;
    Ok(col::<i64>(&row, "n")? > 0)
}

/// A job a worker holds: the result is written only under this token.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    pub id: String,
    pub attempts: i64,
    pub token: String,
}

/// Claims up to `limit` due jobs until `lease_until` under `token`, counting an attempt for
/// each. `FOR UPDATE SKIP LOCKED` on PostgreSQL lets processes claim side by side; SQLite has
/// one writer.
pub async fn claim_due(
    conn: &mut AnyConnection,
    backend: Backend,
    now: &str,
    lease_until: &str,
    token: &str,
    limit: i64,
) -> StoreResult<Vec<ClaimedJob>> {
    let lock = if backend == Backend::Postgres { "FOR UPDATE SKIP LOCKED" } else { "" };
    let rows = sqlx::query(&format!(
        "UPDATE face_match_submissions SET status = 'processing', claimed_until = $2, claim_token = $3, \
         attempts = attempts + 1, started_at = COALESCE(started_at, $1), updated_at = $1 WHERE id IN ( \
           SELECT id FROM face_match_submissions WHERE {DUE_AT_1} ORDER BY confirmed_at LIMIT $4 {lock}) \
         RETURNING id, attempts"
    ))
    .bind(now)
    .bind(lease_until)
    .bind(token)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| Ok(ClaimedJob { id: col(row, "id")?, attempts: col(row, "attempts")?, token: token.to_string() }))
        .collect()
}

/// How a job ended.
#[derive(Debug, Clone)]
pub struct JobOutcome<'a> {
    pub status: &'static str,
    pub result: Option<&'a str>,
    pub error_code: Option<&'a str>,
    pub error_message: Option<&'a str>,
    pub verification_id: Option<&'a str>,
}

/// Writes a job's outcome if the lease is still this worker's; `false` when another took the
/// job over (this worker's result is then dropped, so a job is done once).
pub async fn finish(
    conn: &mut AnyConnection,
    job: &ClaimedJob,
    outcome: &JobOutcome<'_>,
    now: &str,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE face_match_submissions SET status = $3, result = $4, error_code = $5, error_message = $6, \
         verification_id = $7, completed_at = $8, updated_at = $8, claimed_until = NULL, claim_token = NULL \
         WHERE id = $1 AND claim_token = $2 AND status = 'processing'",
    )
    .bind(&job.id)
    .bind(&job.token)
    .bind(outcome.status)
    .bind(outcome.result)
    .bind(outcome.error_code)
    .bind(outcome.error_message)
    .bind(outcome.verification_id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Gives a job back to the queue after a failure that was not the images' (the store or the
/// blob store), due again at once unless its attempts are spent.
pub async fn release(conn: &mut AnyConnection, job: &ClaimedJob, now: &str) -> StoreResult<()> {
    sqlx::query(
        "UPDATE face_match_submissions SET status = 'queued', claimed_until = NULL, claim_token = NULL, updated_at = $3 \
         WHERE id = $1 AND claim_token = $2 AND status = 'processing'",
    )
    .bind(&job.id)
    .bind(&job.token)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// An org's submissions still waiting for uploads after their URLs expired.
pub async fn abandoned(
    conn: &mut AnyConnection,
    org_id: &str,
    now: &str,
    limit: i64,
) -> StoreResult<Vec<SubmissionRow>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM face_match_submissions WHERE org_id = $1 AND status = 'pending_upload' \
         AND upload_expires_at < $2 ORDER BY upload_expires_at LIMIT $3"
    ))
    .bind(org_id)
    .bind(now)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Finished submissions of an org whose images are older than `cutoff` and still kept.
pub async fn images_past(
    conn: &mut AnyConnection,
    org_id: &str,
    cutoff: &str,
    limit: i64,
) -> StoreResult<Vec<SubmissionRow>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM face_match_submissions WHERE org_id = $1 AND images_deleted_at IS NULL \
         AND status IN ('completed', 'failed') AND created_at < $2 ORDER BY created_at LIMIT $3"
    ))
    .bind(org_id)
    .bind(cutoff)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Marks a submission's images deleted and drops its key (shredding anything sealed with it);
/// an upload still pending becomes `failed` (`upload_expired`).
pub async fn drop_images(conn: &mut AnyConnection, id: &str, now: &str) -> StoreResult<()> {
    sqlx::query(
        "UPDATE face_match_submissions SET images_deleted_at = $2, wrapped_data_key = NULL, updated_at = $2, \
         status = CASE WHEN status = 'pending_upload' THEN 'failed' ELSE status END, \
         error_code = CASE WHEN status = 'pending_upload' THEN 'upload_expired' ELSE error_code END, \
         error_message = CASE WHEN status = 'pending_upload' \
           THEN 'the images were not uploaded and confirmed before the upload URLs expired' ELSE error_message END, \
         completed_at = CASE WHEN status = 'pending_upload' THEN $2 ELSE completed_at END \
         WHERE id = $1",
    )
    .bind(id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE face_match_submission_images SET object_key = NULL, object_sha256 = NULL, object_size = NULL \
         WHERE submission_id = $1",
    )
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// The state of a submission's callback delivery: (status, attempts, last HTTP status, last
/// error), `None` before the event is written.
pub async fn callback_delivery(
    conn: &mut AnyConnection,
    webhook_id: &str,
) -> StoreResult<Option<(String, String, i64, Option<i64>, Option<String>)>> {
    let row = sqlx::query(
        "SELECT event_id, status, attempts, last_status, last_error FROM webhook_deliveries WHERE webhook_id = $1 \
         ORDER BY event_id DESC LIMIT 1",
    )
    .bind(webhook_id)
    .fetch_optional(conn)
    .await?;
    row.map(|row| {
        Ok((
            col(&row, "event_id")?,
            col(&row, "status")?,
            col(&row, "attempts")?,
            col(&row, "last_status")?,
            col(&row, "last_error")?,
        ))
    })
    .transpose()
}
