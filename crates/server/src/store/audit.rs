//! The append-only, hash-chained audit log. Appending takes the org's head row with an
//! `UPDATE ... RETURNING` first, which serialises concurrent appends of one org on both
//! databases (a row lock on PostgreSQL, the writer lock on SQLite).

use kenali_core::audit::{entry_hash, AuditRecord, ChainHead, GENESIS_HASH};
use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use super::{col, paginate, StoreError, StoreResult};

pub async fn create_head(conn: &mut AnyConnection, org_id: &str) -> StoreResult<()> {
    sqlx::query("INSERT INTO audit_heads (org_id, seq, hash) VALUES ($1, 0, $2)")
        .bind(org_id)
        .bind(GENESIS_HASH)
        .execute(conn)
        .await?;
    Ok(())
}

/// What a caller supplies; sequence, previous hash and the hash are filled in here.
pub struct NewEntry<'a> {
    pub id: String,
    pub org_id: &'a str,
    pub actor: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    pub request_id: &'a str,
    pub details: String,
    pub created_at: String,
}

pub async fn append(conn: &mut AnyConnection, entry: NewEntry<'_>) -> StoreResult<AuditRecord> {
    // Bump the sequence first: this locks the head until the transaction ends.
    let head = sqlx::query("UPDATE audit_heads SET seq = seq + 1 WHERE org_id = $1 RETURNING seq, hash")
        .bind(entry.org_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("no audit head for org {}", entry.org_id)))?;
    let record = AuditRecord {
        id: entry.id,
        org_id: entry.org_id.to_string(),
        seq: col(&head, "seq")?,
        actor: entry.actor.to_string(),
        action: entry.action.to_string(),
        target: entry.target.to_string(),
        request_id: entry.request_id.to_string(),
        details: entry.details,
        created_at: entry.created_at,
        prev_hash: col(&head, "hash")?,
    };
    let hash = entry_hash(&record);
    sqlx::query(
        "INSERT INTO audit_log (id, org_id, seq, actor, action, target, request_id, details, created_at, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&record.id)
    .bind(&record.org_id)
    .bind(record.seq)
    .bind(&record.actor)
    .bind(&record.action)
    .bind(&record.target)
    .bind(&record.request_id)
    .bind(&record.details)
    .bind(&record.created_at)
    .bind(&record.prev_hash)
    .bind(&hash)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE audit_heads SET hash = $2 WHERE org_id = $1")
        .bind(entry.org_id)
        .bind(&hash)
        .execute(conn)
        .await?;
    Ok(record)
}

const COLUMNS: &str = "id, org_id, seq, actor, action, target, request_id, details, created_at, prev_hash, hash";

fn from_row(row: &AnyRow) -> StoreResult<(AuditRecord, String)> {
    Ok((
        AuditRecord {
            id: col(row, "id")?,
            org_id: col(row, "org_id")?,
            seq: col(row, "seq")?,
            actor: col(row, "actor")?,
            action: col(row, "action")?,
            target: col(row, "target")?,
            request_id: col(row, "request_id")?,
            details: col(row, "details")?,
            created_at: col(row, "created_at")?,
            prev_hash: col(row, "prev_hash")?,
        },
        col(row, "hash")?,
    ))
}

#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub target: Option<String>,
    pub actor: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
}

/// Newest first; the cursor is a sequence number.
pub async fn list(
    conn: &mut AnyConnection,
    org_id: &str,
    filter: &AuditFilter,
    before_seq: Option<i64>,
    limit: i64,
) -> StoreResult<(Vec<(AuditRecord, String)>, Option<String>)> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM audit_log WHERE org_id = $1 AND ($2 IS NULL OR action = $2) \
         AND ($3 IS NULL OR target = $3) AND ($4 IS NULL OR actor = $4) \
         AND ($5 IS NULL OR created_at >= $5) AND ($6 IS NULL OR created_at < $6) \
         AND seq < $7 ORDER BY seq DESC LIMIT $8"
    ))
    .bind(org_id)
    .bind(filter.action.as_deref())
    .bind(filter.target.as_deref())
    .bind(filter.actor.as_deref())
    .bind(filter.since.as_deref())
    .bind(filter.until.as_deref())
    .bind(before_seq.unwrap_or(i64::MAX))
    .bind(limit + 1)
    .fetch_all(conn)
    .await?;
    let entries = rows.iter().map(from_row).collect::<StoreResult<Vec<_>>>()?;
    Ok(paginate(entries, limit, |(r, _)| r.seq.to_string()))
}

/// Every org that has a chain, with its head.
pub async fn heads(conn: &mut AnyConnection) -> StoreResult<Vec<(String, ChainHead)>> {
    let rows = sqlx::query("SELECT org_id, seq, hash FROM audit_heads ORDER BY org_id").fetch_all(conn).await?;
    rows.iter()
        .map(|row| Ok((col(row, "org_id")?, ChainHead { seq: col(row, "seq")?, hash: col(row, "hash")? })))
        .collect()
}

/// One org's entries from `after_seq` on, in order, in batches so memory stays bounded.
pub async fn chain_batch(
    conn: &mut AnyConnection,
    org_id: &str,
    after_seq: i64,
    batch: i64,
) -> StoreResult<Vec<(AuditRecord, String)>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM audit_log WHERE org_id = $1 AND seq > $2 ORDER BY seq ASC LIMIT $3"
    ))
    .bind(org_id)
    .bind(after_seq)
    .bind(batch)
    .fetch_all(conn)
    .await?;
    rows.iter().map(from_row).collect()
}
