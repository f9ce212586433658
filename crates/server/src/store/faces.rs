//! Face enrollments, attempts and sealed captures.

use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use super::{col, paginate, Page, StoreResult};
use crate::blobs::StoredObject;

#[derive(Debug, Clone, PartialEq)]
pub struct EnrollmentRow {
    pub id: String,
    pub org_id: String,
    pub customer_id: String,
    pub source: String,
    pub model_id: String,
    /// The embedding, sealed with the customer's data key; absent once retired by erasure.
    pub embedding_sealed: Option<Vec<u8>>,
    pub image_sha256: Option<String>,
    pub detection_score: Option<f64>,
    pub created_at: String,
    pub retired_at: Option<String>,
    /// `active`, `pending_review` (a low-assurance KTP portrait until an analyst approves it:
    /// never in the pool) or `rejected`.
    pub status: String,
}

impl EnrollmentRow {
    /// The stored source as the domain's enum (`None` only for a value no version wrote).
    pub fn enrollment_source(&self) -> Option<kenali_core::tier::EnrollmentSource> {
        kenali_core::tier::EnrollmentSource::parse(&self.source)
    }
}

pub const ENROLLMENT_ACTIVE: &str = "active";
pub const ENROLLMENT_PENDING_REVIEW: &str = "pending_review";
pub const ENROLLMENT_REJECTED: &str = "rejected";

const ENROLLMENT_COLUMNS: &str = "id, org_id, customer_id, source, model_id, embedding_sealed, image_sha256, \
                                  detection_score, created_at, retired_at, status";

fn enrollment(row: &AnyRow) -> StoreResult<EnrollmentRow> {
    Ok(EnrollmentRow {
        id: col(row, "id")?,
        org_id: col(row, "org_id")?,
        customer_id: col(row, "customer_id")?,
        source: col(row, "source")?,
        model_id: col(row, "model_id")?,
        embedding_sealed: col(row, "embedding_sealed")?,
        image_sha256: col(row, "image_sha256")?,
        detection_score: col(row, "detection_score")?,
        created_at: col(row, "created_at")?,
        retired_at: col(row, "retired_at")?,
        status: col(row, "status")?,
    })
}

pub async fn insert_enrollment(conn: &mut AnyConnection, e: &EnrollmentRow) -> StoreResult<()> {
    sqlx::query(&format!(
        "INSERT INTO face_enrollments ({ENROLLMENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    ))
    .bind(&e.id)
    .bind(&e.org_id)
    .bind(&e.customer_id)
    .bind(&e.source)
    .bind(&e.model_id)
    .bind(e.embedding_sealed.clone())
    .bind(e.image_sha256.as_deref())
    .bind(e.detection_score)
    .bind(&e.created_at)
    .bind(e.retired_at.as_deref())
    .bind(&e.status)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn find_enrollment(conn: &mut AnyConnection, org_id: &str, id: &str) -> StoreResult<Option<EnrollmentRow>> {
    let row = sqlx::query(&format!("SELECT {ENROLLMENT_COLUMNS} FROM face_enrollments WHERE org_id = $1 AND id = $2"))
        .bind(org_id)
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(enrollment).transpose()
}

/// A customer's live, active enrollments made with one model: the pool a probe is compared with.
pub async fn pool(
    conn: &mut AnyConnection,
    org_id: &str,
    customer_id: &str,
    model_id: &str,
) -> StoreResult<Vec<EnrollmentRow>> {
    let rows = sqlx::query(&format!(
        "SELECT {ENROLLMENT_COLUMNS} FROM face_enrollments WHERE org_id = $1 AND customer_id = $2 \
         AND model_id = $3 AND retired_at IS NULL AND status = 'active' ORDER BY id ASC"
    ))
    .bind(org_id)
    .bind(customer_id)
    .bind(model_id)
    .fetch_all(conn)
    .await?;
    rows.iter().map(enrollment).collect()
}

/// Settles a pending enrollment after review: active, or rejected and retired. False when it
/// was not pending.
pub async fn settle_pending_enrollment(
    conn: &mut AnyConnection,
    org_id: &str,
    id: &str,
    approve: bool,
    now: &str,
) -> StoreResult<bool> {
    let (status, retired_at) = if approve { (ENROLLMENT_ACTIVE, None) } else { (ENROLLMENT_REJECTED, Some(now)) };
    let done = sqlx::query(
        "UPDATE face_enrollments SET status = $1, retired_at = $2 WHERE org_id = $3 AND id = $4 \
         AND status = 'pending_review'",
    )
    .bind(status)
    .bind(retired_at)
    .bind(org_id)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn list_enrollments(
    conn: &mut AnyConnection,
    org_id: &str,
    customer_id: Option<&str>,
    source: Option<&str>,
    page: &Page,
) -> StoreResult<(Vec<EnrollmentRow>, Option<String>)> {
    let rows = sqlx::query(&format!(
        "SELECT {ENROLLMENT_COLUMNS} FROM face_enrollments WHERE org_id = $1 AND ($2 IS NULL OR customer_id = $2) \
         AND ($3 IS NULL OR source = $3) AND ($4 IS NULL OR id < $4) ORDER BY id DESC LIMIT $5"
    ))
    .bind(org_id)
    .bind(customer_id)
    .bind(source)
    .bind(page.cursor.as_deref())
    .bind(page.limit + 1)
    .fetch_all(conn)
    .await?;
    let rows = rows.iter().map(enrollment).collect::<StoreResult<Vec<_>>>()?;
    Ok(paginate(rows, page.limit, |e| e.id.clone()))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRow {
    pub id: String,
    pub org_id: String,
    pub customer_id: Option<String>,
    pub kind: String,
    pub outcome: String,
    pub reasons: String,
    pub latency_ms: i64,
    pub client_ip: Option<String>,
    pub verification_id: Option<String>,
    pub created_at: String,
}

const ATTEMPT_COLUMNS: &str =
    "id, org_id, customer_id, kind, outcome, reasons, latency_ms, client_ip, verification_id, created_at";

fn attempt(row: &AnyRow) -> StoreResult<AttemptRow> {
    Ok(AttemptRow {
        id: col(row, "id")?,
        org_id: col(row, "org_id")?,
        customer_id: col(row, "customer_id")?,
        kind: col(row, "kind")?,
        outcome: col(row, "outcome")?,
        reasons: col(row, "reasons")?,
        latency_ms: col(row, "latency_ms")?,
        client_ip: col(row, "client_ip")?,
        verification_id: col(row, "verification_id")?,
        created_at: col(row, "created_at")?,
    })
}

pub async fn insert_attempt(conn: &mut AnyConnection, a: &AttemptRow) -> StoreResult<()> {
    sqlx::query(&format!("INSERT INTO attempts ({ATTEMPT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"))
        .bind(&a.id)
        .bind(&a.org_id)
        .bind(a.customer_id.as_deref())
        .bind(&a.kind)
        .bind(&a.outcome)
        .bind(&a.reasons)
        .bind(a.latency_ms)
        .bind(a.client_ip.as_deref())
        .bind(a.verification_id.as_deref())
        .bind(&a.created_at)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn list_attempts(
    conn: &mut AnyConnection,
    org_id: &str,
    customer_id: Option<&str>,
    kind: Option<&str>,
    page: &Page,
) -> StoreResult<(Vec<AttemptRow>, Option<String>)> {
    let rows = sqlx::query(&format!(
        "SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE org_id = $1 AND ($2 IS NULL OR customer_id = $2) \
         AND ($3 IS NULL OR kind = $3) AND ($4 IS NULL OR id < $4) ORDER BY id DESC LIMIT $5"
    ))
    .bind(org_id)
    .bind(customer_id)
    .bind(kind)
    .bind(page.cursor.as_deref())
    .bind(page.limit + 1)
    .fetch_all(conn)
    .await?;
    let rows = rows.iter().map(attempt).collect::<StoreResult<Vec<_>>>()?;
    Ok(paginate(rows, page.limit, |a| a.id.clone()))
}

/// A selfie, reference image or photo, sealed with the customer's data key and kept in the
/// blob store.
pub struct CaptureRow<'a> {
    pub id: String,
    pub org_id: &'a str,
    pub customer_id: &'a str,
    pub kind: &'a str,
    pub sha256: String,
    pub media_type: &'a str,
    pub object: StoredObject,
    pub verification_id: Option<&'a str>,
    /// `onboarding` (kept 3 years) or `step_up` (90 days), for the retention sweeper.
    pub retention_class: &'a str,
    pub created_at: String,
}

pub async fn insert_capture(conn: &mut AnyConnection, c: CaptureRow<'_>) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO captures (id, org_id, customer_id, kind, sha256, media_type, sealed, verification_id, \
         retention_class, created_at, object_key, object_sha256, object_size) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(&c.id)
    .bind(c.org_id)
    .bind(c.customer_id)
    .bind(c.kind)
    .bind(&c.sha256)
    .bind(c.media_type)
    // The image is in the blob store; the column (NOT NULL) holds it only for older rows.
    .bind(Vec::<u8>::new())
    .bind(c.verification_id)
    .bind(c.retention_class)
    .bind(&c.created_at)
    .bind(&c.object.key)
    .bind(&c.object.sha256)
    .bind(c.object.size)
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether the customer holds any enrollment that is not retired (active or waiting for review).
pub async fn has_enrollment(conn: &mut AnyConnection, org_id: &str, customer_id: &str) -> StoreResult<bool> {
    let row = sqlx::query(
        "SELECT id FROM face_enrollments WHERE org_id = $1 AND customer_id = $2 AND retired_at IS NULL LIMIT 1",
    )
    .bind(org_id)
    .bind(customer_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.is_some())
}

/// A stored capture of the customer: its id, media type and where its sealed image is, found
/// by its kind and the image's SHA-256.
pub struct StoredCapture {
    pub id: String,
    pub media_type: String,
    pub image: SealedAt,
}

impl StoredCapture {
    /// The image's type as served: PNG, else JPEG (the only two Kenali accepts).
    pub fn served_media_type(&self) -> &'static str {
        if self.media_type == "image/png" {
            "image/png"
        } else {
            "image/jpeg"
        }
    }
}

/// Where a sealed image is: in the blob store, or (written before the store, not yet moved by
/// `kenali blobs migrate`) in the row itself.
pub enum SealedAt {
    Object(StoredObject),
    Row(Vec<u8>),
}

/// Reads `{prefix}object_key`, `_sha256` and `_size` of a row, when the key is set.
pub fn stored_object(row: &sqlx::any::AnyRow, prefix: &str) -> StoreResult<Option<StoredObject>> {
    let Some(key) = super::col::<Option<String>>(row, &format!("{prefix}object_key"))? else {
        return Ok(None);
    };
    Ok(Some(StoredObject {
        key,
        sha256: super::col::<Option<String>>(row, &format!("{prefix}object_sha256"))?.unwrap_or_default(),
        size: super::col::<Option<i64>>(row, &format!("{prefix}object_size"))?.unwrap_or(-1),
    }))
}

/// The customer's newest stored capture of the image whose SHA-256 is `sha256` (of `kind`,
/// when named): the image an enrollment was made from.
pub async fn find_capture(
    conn: &mut AnyConnection,
    org_id: &str,
    customer_id: &str,
    kind: Option<&str>,
    sha256: &str,
) -> StoreResult<Option<StoredCapture>> {
    let row = sqlx::query(
        "SELECT id, media_type, sealed, object_key, object_sha256, object_size FROM captures \
         WHERE org_id = $1 AND customer_id = $2 AND ($3 IS NULL OR kind = $3) AND sha256 = $4 \
         ORDER BY id DESC LIMIT 1",
    )
    .bind(org_id)
    .bind(customer_id)
    .bind(kind)
    .bind(sha256)
    .fetch_optional(conn)
    .await?;
    row.map(|row| stored_capture(&row)).transpose()
}

fn stored_capture(row: &sqlx::any::AnyRow) -> StoreResult<StoredCapture> {
    let image = match stored_object(row, "")? {
        Some(object) => SealedAt::Object(object),
        None => SealedAt::Row(super::col::<Option<Vec<u8>>>(row, "sealed")?.unwrap_or_default()),
    };
    Ok(StoredCapture { id: super::col(row, "id")?, media_type: super::col(row, "media_type")?, image })
}

/// A stored capture as a list shows it (no image).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureSummary {
    pub id: String,
    pub kind: String,
    pub media_type: String,
    pub created_at: String,
}

/// The captures a verification stored (a KTP capture's frames, a liveness check's frames), in
/// the order they were filed.
pub async fn captures_of_verification(
    conn: &mut AnyConnection,
    org_id: &str,
    verification_id: &str,
) -> StoreResult<Vec<CaptureSummary>> {
    let rows = sqlx::query(
        "SELECT id, kind, media_type, created_at FROM captures WHERE org_id = $1 AND verification_id = $2 ORDER BY id",
    )
    .bind(org_id)
    .bind(verification_id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(CaptureSummary {
                id: super::col(row, "id")?,
                kind: super::col(row, "kind")?,
                media_type: super::col(row, "media_type")?,
                created_at: super::col(row, "created_at")?,
            })
        })
        .collect()
}

/// One capture of a verification, with where its sealed image is.
pub async fn find_capture_of_verification(
    conn: &mut AnyConnection,
    org_id: &str,
    verification_id: &str,
    capture_id: &str,
) -> StoreResult<Option<StoredCapture>> {
    let row = sqlx::query(
        "SELECT id, media_type, sealed, object_key, object_sha256, object_size FROM captures \
         WHERE org_id = $1 AND verification_id = $2 AND id = $3",
    )
    .bind(org_id)
    .bind(verification_id)
    .bind(capture_id)
    .fetch_optional(conn)
    .await?;
    row.map(|row| stored_capture(&row)).transpose()
}

/// One KTP capture or step-up attempt, as the dashboard's overview counts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptSample {
    pub kind: String,
    pub outcome: String,
    pub latency_ms: i64,
    pub created_at: String,
}

/// The org's KTP capture and step-up attempts since `since`, oldest first: at most the newest
/// `limit` of them.
pub async fn capture_and_step_up_attempts(
    conn: &mut AnyConnection,
    org_id: &str,
    since: &str,
    limit: i64,
) -> StoreResult<Vec<AttemptSample>> {
    let rows = sqlx::query(
        "SELECT kind, outcome, latency_ms, created_at FROM attempts WHERE org_id = $1 AND created_at >= $2 \
         AND kind IN ('ktp_capture', 'step_up') ORDER BY created_at DESC LIMIT $3",
    )
    .bind(org_id)
    .bind(since)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    let mut samples = rows
        .iter()
        .map(|row| {
            Ok(AttemptSample {
                kind: col(row, "kind")?,
                outcome: col(row, "outcome")?,
                latency_ms: col(row, "latency_ms")?,
                created_at: col(row, "created_at")?,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    samples.reverse();
    Ok(samples)
}

/// An enrolled face the 1:N index may hold: its ids and status, its sealed embedding, and its
/// customer's wrapped data key (to open it with).
#[derive(Debug, Clone)]
pub struct IndexableFace {
    pub enrollment_id: String,
    pub customer_id: String,
    pub status: String,
    pub embedding_sealed: Vec<u8>,
    pub wrapped_data_key: Vec<u8>,
}

const INDEXABLE: &str = "SELECT e.id AS id, e.customer_id AS customer_id, e.status AS status, \
     e.embedding_sealed AS embedding_sealed, c.wrapped_data_key AS wrapped_data_key \
     FROM face_enrollments e JOIN customers c ON c.id = e.customer_id AND c.org_id = e.org_id \
     WHERE e.org_id = $1 AND e.model_id = $2 AND e.retired_at IS NULL AND e.embedding_sealed IS NOT NULL \
     AND e.status IN ('active', 'pending_review') AND c.erased_at IS NULL AND c.wrapped_data_key IS NOT NULL";

fn indexable(row: &AnyRow) -> StoreResult<IndexableFace> {
    Ok(IndexableFace {
        enrollment_id: col(row, "id")?,
        customer_id: col(row, "customer_id")?,
        status: col(row, "status")?,
        embedding_sealed: col(row, "embedding_sealed")?,
        wrapped_data_key: col(row, "wrapped_data_key")?,
    })
}

/// The org's live faces of `model_id` (active or awaiting review) whose id is `from_id` or
/// later (ids begin with their creation time), oldest first.
pub async fn indexable_faces_since(
    conn: &mut AnyConnection,
    org_id: &str,
    model_id: &str,
    from_id: &str,
) -> StoreResult<Vec<IndexableFace>> {
    let rows = sqlx::query(&format!("{INDEXABLE} AND e.id >= $3 ORDER BY e.id"))
        .bind(org_id)
        .bind(model_id)
        .bind(from_id)
        .fetch_all(conn)
        .await?;
    rows.iter().map(indexable).collect()
}

/// Those of `ids` that are still live faces of the org (an erased customer's or a retired
/// enrollment's are not).
pub async fn indexable_faces_among(
    conn: &mut AnyConnection,
    org_id: &str,
    model_id: &str,
    ids: &[String],
) -> StoreResult<Vec<IndexableFace>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders: Vec<String> = (0..ids.len()).map(|i| format!("${}", i + 3)).collect();
    let sql = format!("{INDEXABLE} AND e.id IN ({})", placeholders.join(", "));
    let mut query = sqlx::query(&sql).bind(org_id).bind(model_id);
    for id in ids {
        query = query.bind(id);
    }
    let rows = query.fetch_all(conn).await?;
    rows.iter().map(indexable).collect()
}

/// The orgs that have enrolled faces (the 1:N index is warmed for each at start).
pub async fn orgs_with_faces(conn: &mut AnyConnection) -> StoreResult<Vec<String>> {
    let rows = sqlx::query("SELECT DISTINCT org_id FROM face_enrollments").fetch_all(conn).await?;
    rows.iter().map(|row| col(row, "org_id")).collect()
}
