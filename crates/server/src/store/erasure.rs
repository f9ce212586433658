//! Erasing a customer (UU PDP 27/2022, SPEC §8): crypto-shredding plus clearing. The data key
//! that sealed everything personal is destroyed, so any sealed copy left anywhere (a backup, a
//! freed database page) can no longer be opened; the rows that hold personal data are cleared
//! or deleted as well. Verification rows, tier events, review items and audit entries stay for
//! their regulated window: they hold no personal data.

use serde::Serialize;
use sqlx::AnyConnection;

use super::StoreResult;

/// What one erasure removed, reported to the caller and kept in the audit entry.
#[derive(Debug, Clone, Copy, Default, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Erased {
    /// Sealed images (selfies, references, Dukcapil photos, KTP frames) deleted.
    pub captures_deleted: u64,
    /// Face enrollments whose embedding was deleted and which were retired.
    pub enrollments_retired: u64,
    /// KTP readings (the card's fields) cleared.
    pub ktp_readings_cleared: u64,
    /// Dukcapil photos and raw responses cleared.
    pub dukcapil_records_cleared: u64,
    /// Registered devices revoked and their secrets deleted.
    pub devices_revoked: u64,
    /// Flash challenges whose kept answer was deleted and which can no longer be used.
    pub challenges_closed: u64,
    /// Stored idempotent responses that named the customer, deleted.
    pub idempotent_responses_deleted: u64,
    /// Blind indexes of the words of the customer's name, deleted.
    pub name_words_deleted: u64,
    /// Face-match submissions naming the customer whose images were deleted (their keys
    /// destroyed); their scores stay.
    pub submissions_shredded: u64,
}

/// Erases the customer in the caller's transaction. `None` when there is no such customer of
/// the org that is not erased already.
pub async fn erase_customer(
    conn: &mut AnyConnection,
    org_id: &str,
    customer_id: &str,
    at: &str,
) -> StoreResult<Option<Erased>> {
    // First, so that a concurrent erasure of the same customer waits on this row and then
    // finds it erased.
    let shredded = sqlx::query(
        "UPDATE customers SET wrapped_data_key = NULL, pii_sealed = NULL, nik_index = NULL, \
         email_index = NULL, phone_index = NULL, erased_at = $3, updated_at = $3 \
         WHERE org_id = $1 AND id = $2 AND erased_at IS NULL",
    )
    .bind(org_id)
    .bind(customer_id)
    .bind(at)
    .execute(&mut *conn)
    .await?;
    if shredded.rows_affected() != 1 {
        return Ok(None);
    }
    let mut erased = Erased::default();
    let statements: [(&str, Third, &mut u64); 7] = [
        ("DELETE FROM captures WHERE org_id = $1 AND customer_id = $2", Third::None, &mut erased.captures_deleted),
        (
            "UPDATE face_enrollments SET embedding_sealed = NULL, retired_at = COALESCE(retired_at, $3) \
             WHERE org_id = $1 AND customer_id = $2",
            Third::Time,
            &mut erased.enrollments_retired,
        ),
        (
            // An empty reading: the column is NOT NULL, and the bundle row stays as a record.
            "UPDATE ktp_bundles SET reading_sealed = $3 WHERE org_id = $1 AND customer_id = $2",
            Third::EmptyBytes,
            &mut erased.ktp_readings_cleared,
        ),
        (
            "UPDATE dukcapil_verdicts SET photo_sealed = NULL, raw_sealed = NULL, photo_media_type = NULL, \
             photo_object_key = NULL, photo_object_sha256 = NULL, photo_object_size = NULL \
             WHERE org_id = $1 AND customer_id = $2",
            Third::None,
            &mut erased.dukcapil_records_cleared,
        ),
        (
            "UPDATE devices SET secret_sealed = '', label = NULL, revoked_at = COALESCE(revoked_at, $3) \
             WHERE org_id = $1 AND customer_id = $2",
            Third::Time,
            &mut erased.devices_revoked,
        ),
        (
            "UPDATE flash_challenges SET result = NULL, secret_sealed = '', \
             consumed_at = COALESCE(consumed_at, $3) WHERE org_id = $1 AND customer_id = $2",
            Third::Time,
            &mut erased.challenges_closed,
        ),
        (
            "DELETE FROM idempotency_keys WHERE org_id = $1 AND customer_id = $2",
            Third::None,
            &mut erased.idempotent_responses_deleted,
        ),
    ];
    for (sql, third, count) in statements {
        let query = sqlx::query(sql).bind(org_id).bind(customer_id);
        // PostgreSQL refuses a bound value the statement does not use, so bind only what it names.
        let query = match third {
            Third::None => query,
            Third::Time => query.bind(at),
            Third::EmptyBytes => query.bind(Vec::<u8>::new()),
        };
        *count = query.execute(&mut *conn).await?.rows_affected();
    }
    erased.name_words_deleted = super::search::delete_name_words(&mut *conn, customer_id).await?;
    let submissions = sqlx::query(
        "SELECT id FROM face_match_submissions WHERE org_id = $1 AND customer_id = $2 AND images_deleted_at IS NULL",
    )
    .bind(org_id)
    .bind(customer_id)
    .fetch_all(&mut *conn)
    .await?;
    for row in &submissions {
        let id: String = super::col(row, "id")?;
        crate::blobs::queue_deletion(&mut *conn, &crate::blobs::submission_prefix(org_id, &id), true, at).await?;
        super::submissions::drop_images(&mut *conn, &id, at).await?;
        erased.submissions_shredded += 1;
    }
    // Every object of the customer in the blob store (and any a failed request left behind),
    // deleted once this commits.
    crate::blobs::queue_deletion(&mut *conn, &crate::blobs::customer_prefix(org_id, customer_id), true, at).await?;
    // Where the requests came from is personal data too; the attempts stay as records.
    sqlx::query("UPDATE attempts SET client_ip = NULL WHERE org_id = $1 AND customer_id = $2")
        .bind(org_id)
        .bind(customer_id)
        .execute(&mut *conn)
        .await?;
    Ok(Some(erased))
}

/// The third value a clearing statement binds, after the org and the customer.
enum Third {
    None,
    Time,
    EmptyBytes,
}
