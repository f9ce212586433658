//! Deleting what has outlived its retention window (seed 000, SPEC §8), and the lease that lets
//! one process of several run a periodic job.

use serde::Serialize;
use sqlx::AnyConnection;

use super::{col, StoreResult};

/// Every organization's id.
pub async fn org_ids(conn: &mut AnyConnection) -> StoreResult<Vec<String>> {
    let rows = sqlx::query("SELECT id FROM organizations ORDER BY id").fetch_all(conn).await?;
    rows.iter().map(|row| col(row, "id")).collect()
}

/// Deletes the org's captures of one retention class (`onboarding` or `step_up`) stored before
/// `before`. Captures stored before classes existed count as onboarding, the longer window.
/// Deletes idempotency records (and the responses they keep) created before `before`.
pub async fn delete_idempotency(conn: &mut AnyConnection, org_id: &str, before: &str) -> StoreResult<u64> {
    let done = sqlx::query("DELETE FROM idempotency_keys WHERE org_id = $1 AND created_at < $2")
        .bind(org_id)
        .bind(before)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}

pub async fn delete_captures(conn: &mut AnyConnection, org_id: &str, class: &str, before: &str) -> StoreResult<u64> {
    // Their objects are deleted from the blob store once this commits.
    sqlx::query(
        "INSERT INTO blob_deletions (object_key, is_prefix, created_at) SELECT object_key, 0, $4 FROM captures \
         WHERE org_id = $1 AND COALESCE(retention_class, 'onboarding') = $2 AND created_at < $3 \
         AND object_key IS NOT NULL ON CONFLICT (object_key) DO NOTHING",
    )
    .bind(org_id)
    .bind(class)
    .bind(before)
    .bind(kenali_core::time_fmt::now_timestamp())
    .execute(&mut *conn)
    .await?;
    let deleted = sqlx::query(
        "DELETE FROM captures WHERE org_id = $1 AND COALESCE(retention_class, 'onboarding') = $2 AND created_at < $3",
    )
    .bind(org_id)
    .bind(class)
    .bind(before)
    .execute(conn)
    .await?;
    Ok(deleted.rows_affected())
}

/// Regulated records deleted by one sweep of one org.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordsPruned {
    pub verifications: u64,
    pub tier_events: u64,
    pub dukcapil_verdicts: u64,
    pub ktp_bundles: u64,
    pub review_items: u64,
    pub attempts: u64,
    pub webhook_events: u64,
    pub face_match_submissions: u64,
}

/// Deletes the org's regulated records created before `before`: verification rows and the
/// records that hang off them. Review items still open are kept (someone must decide them).
pub async fn prune_records(conn: &mut AnyConnection, org_id: &str, before: &str) -> StoreResult<RecordsPruned> {
    let mut pruned = RecordsPruned::default();
    // The Dukcapil photos' objects go with their verdicts, once this commits.
    sqlx::query(
        "INSERT INTO blob_deletions (object_key, is_prefix, created_at) SELECT photo_object_key, 0, $3 \
         FROM dukcapil_verdicts WHERE org_id = $1 AND created_at < $2 AND photo_object_key IS NOT NULL \
         ON CONFLICT (object_key) DO NOTHING",
    )
    .bind(org_id)
    .bind(before)
    .bind(kenali_core::time_fmt::now_timestamp())
    .execute(&mut *conn)
    .await?;
    // A finished submission's objects, had its images outlived the step-up window's sweep.
    sqlx::query(
        "INSERT INTO blob_deletions (object_key, is_prefix, created_at) \
         SELECT org_id || '/submissions/' || id || '/', 1, $3 FROM face_match_submissions \
         WHERE org_id = $1 AND created_at < $2 AND images_deleted_at IS NULL AND status IN ('completed', 'failed') \
         ON CONFLICT (object_key) DO NOTHING",
    )
    .bind(org_id)
    .bind(before)
    .bind(kenali_core::time_fmt::now_timestamp())
    .execute(&mut *conn)
    .await?;
    // Children before parents: Dukcapil verdicts reference verifications, deliveries events,
    // deliveries their (callback) webhooks.
    let statements: [(&str, Option<&mut u64>); 12] = [
        ("DELETE FROM dukcapil_verdicts WHERE org_id = $1 AND created_at < $2", Some(&mut pruned.dukcapil_verdicts)),
        ("DELETE FROM tier_events WHERE org_id = $1 AND created_at < $2", Some(&mut pruned.tier_events)),
        ("DELETE FROM ktp_bundles WHERE org_id = $1 AND created_at < $2", Some(&mut pruned.ktp_bundles)),
        (
            "DELETE FROM review_items WHERE org_id = $1 AND created_at < $2 AND status <> 'open'",
            Some(&mut pruned.review_items),
        ),
        ("DELETE FROM attempts WHERE org_id = $1 AND created_at < $2", Some(&mut pruned.attempts)),
        ("DELETE FROM verifications WHERE org_id = $1 AND created_at < $2", Some(&mut pruned.verifications)),
        (
            "DELETE FROM webhook_attempts WHERE event_id IN \
             (SELECT id FROM webhook_events WHERE org_id = $1 AND created_at < $2)",
            None,
        ),
        (
            "DELETE FROM webhook_deliveries WHERE event_id IN \
             (SELECT id FROM webhook_events WHERE org_id = $1 AND created_at < $2)",
            None,
        ),
        ("DELETE FROM webhook_events WHERE org_id = $1 AND created_at < $2", Some(&mut pruned.webhook_events)),
        (
            "DELETE FROM face_match_submission_images WHERE submission_id IN (SELECT id FROM face_match_submissions \
             WHERE org_id = $1 AND created_at < $2 AND status IN ('completed', 'failed'))",
            None,
        ),
        (
            "DELETE FROM face_match_submissions WHERE org_id = $1 AND created_at < $2 \
             AND status IN ('completed', 'failed')",
            Some(&mut pruned.face_match_submissions),
        ),
        (
            "DELETE FROM webhooks WHERE org_id = $1 AND created_at < $2 AND purpose = 'callback' \
             AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.webhook_id = webhooks.id)",
            None,
        ),
    ];
    for (sql, count) in statements {
        let deleted = sqlx::query(sql).bind(org_id).bind(before).execute(&mut *conn).await?.rows_affected();
        if let Some(count) = count {
            *count = deleted;
        }
    }
    Ok(pruned)
}

/// The last pruned link of an org's audit chain: verification starts from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditCheckpoint {
    pub seq: i64,
    pub hash: String,
}

/// Deletes the org's audit entries created before `before` and moves its checkpoint to the
/// last one deleted, in the caller's transaction. Returns how many were deleted and the new
/// checkpoint (none when nothing was old enough).
pub async fn prune_audit(
    conn: &mut AnyConnection,
    org_id: &str,
    before: &str,
    at: &str,
) -> StoreResult<(u64, Option<AuditCheckpoint>)> {
    let last =
        sqlx::query("SELECT seq, hash FROM audit_log WHERE org_id = $1 AND created_at < $2 ORDER BY seq DESC LIMIT 1")
            .bind(org_id)
            .bind(before)
            .fetch_optional(&mut *conn)
            .await?;
    let Some(last) = last else { return Ok((0, None)) };
    let checkpoint = AuditCheckpoint { seq: col(&last, "seq")?, hash: col(&last, "hash")? };
    let deleted = sqlx::query("DELETE FROM audit_log WHERE org_id = $1 AND seq <= $2")
        .bind(org_id)
        .bind(checkpoint.seq)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    sqlx::query(
        "INSERT INTO audit_checkpoints (org_id, seq, hash, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (org_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, created_at = excluded.created_at",
    )
    .bind(org_id)
    .bind(checkpoint.seq)
    .bind(&checkpoint.hash)
    .bind(at)
    .execute(&mut *conn)
    .await?;
    Ok((deleted, Some(checkpoint)))
}

/// Where an org's audit chain now begins, if the sweeper pruned its start.
pub async fn audit_checkpoint(conn: &mut AnyConnection, org_id: &str) -> StoreResult<Option<AuditCheckpoint>> {
    let row = sqlx::query("SELECT seq, hash FROM audit_checkpoints WHERE org_id = $1")
        .bind(org_id)
        .fetch_optional(conn)
        .await?;
    row.map(|row| Ok(AuditCheckpoint { seq: col(&row, "seq")?, hash: col(&row, "hash")? })).transpose()
}

/// Takes the job `name` for `holder` until `until`, if no one holds it (`now` is past its
/// claim) and it last finished before `due_before`. True when this holder now has it.
pub async fn try_claim_job(
    conn: &mut AnyConnection,
    name: &str,
    holder: &str,
    now: &str,
    until: &str,
    due_before: &str,
) -> StoreResult<bool> {
    sqlx::query(
        "INSERT INTO job_leases (name, holder, claimed_until, last_finished_at) VALUES ($1, '', $2, NULL) \
         ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    let claimed = sqlx::query(
        "UPDATE job_leases SET holder = $2, claimed_until = $3 WHERE name = $1 AND claimed_until <= $4 \
         AND (last_finished_at IS NULL OR last_finished_at < $5)",
    )
    .bind(name)
    .bind(holder)
    .bind(until)
    .bind(now)
    .bind(due_before)
    .execute(conn)
    .await?;
    Ok(claimed.rows_affected() == 1)
}

/// Marks the job done by `holder` and frees it.
pub async fn finish_job(conn: &mut AnyConnection, name: &str, holder: &str, at: &str) -> StoreResult<()> {
    sqlx::query("UPDATE job_leases SET claimed_until = $3, last_finished_at = $3 WHERE name = $1 AND holder = $2")
        .bind(name)
        .bind(holder)
        .bind(at)
        .execute(conn)
        .await?;
    Ok(())
}
