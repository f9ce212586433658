//! The verification ledger: one immutable row per check.

use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use super::{col, paginate, Page, StoreResult};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationRow {
    pub id: String,
    pub org_id: String,
    pub customer_id: String,
    pub kind: String,
    pub status: String,
    /// JSON array of reason strings.
    pub reasons: String,
    /// JSON object of kind-specific facts.
    pub details: String,
    pub actor: String,
    pub actor_user_id: Option<String>,
    pub created_at: String,
}

const COLUMNS: &str = "id, org_id, customer_id, kind, status, reasons, details, actor, actor_user_id, created_at";

fn from_row(row: &AnyRow) -> StoreResult<VerificationRow> {
    Ok(VerificationRow {
        id: col(row, "id")?,
        org_id: col(row, "org_id")?,
        customer_id: col(row, "customer_id")?,
        kind: col(row, "kind")?,
        status: col(row, "status")?,
        reasons: col(row, "reasons")?,
        details: col(row, "details")?,
        actor: col(row, "actor")?,
        actor_user_id: col(row, "actor_user_id")?,
        created_at: col(row, "created_at")?,
    })
}

pub async fn insert(conn: &mut AnyConnection, v: &VerificationRow) -> StoreResult<()> {
    sqlx::query(&format!("INSERT INTO verifications ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"))
        .bind(&v.id)
        .bind(&v.org_id)
        .bind(&v.customer_id)
        .bind(&v.kind)
        .bind(&v.status)
        .bind(&v.reasons)
        .bind(&v.details)
        .bind(&v.actor)
        .bind(v.actor_user_id.as_deref())
        .bind(&v.created_at)
        .execute(conn)
        .await?;
    Ok(())
}

/// A customer's whole history, oldest first (ids are time-ordered ULIDs).
pub async fn history(conn: &mut AnyConnection, org_id: &str, customer_id: &str) -> StoreResult<Vec<VerificationRow>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM verifications WHERE org_id = $1 AND customer_id = $2 ORDER BY id ASC"
    ))
    .bind(org_id)
    .bind(customer_id)
    .fetch_all(conn)
    .await?;
    rows.iter().map(from_row).collect()
}

pub async fn list(
    conn: &mut AnyConnection,
    org_id: &str,
    customer_id: Option<&str>,
    page: &Page,
) -> StoreResult<(Vec<VerificationRow>, Option<String>)> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM verifications WHERE org_id = $1 AND ($2 IS NULL OR customer_id = $2) \
         AND ($3 IS NULL OR id < $3) ORDER BY id DESC LIMIT $4"
    ))
    .bind(org_id)
    .bind(customer_id)
    .bind(page.cursor.as_deref())
    .bind(page.limit + 1)
    .fetch_all(conn)
    .await?;
    let rows = rows.iter().map(from_row).collect::<StoreResult<Vec<_>>>()?;
    Ok(paginate(rows, page.limit, |v| v.id.clone()))
}

/// One batch of an export: the org's verifications created in `[from, to)`, in id order
/// after `after_id`.
pub async fn export_batch(
    conn: &mut AnyConnection,
    org_id: &str,
    window: &super::TimeWindow,
    after_id: &str,
    limit: i64,
) -> StoreResult<Vec<VerificationRow>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM verifications WHERE org_id = $1 AND id > $2 \
         AND ($3 IS NULL OR created_at >= $3) AND ($4 IS NULL OR created_at < $4) ORDER BY id ASC LIMIT $5"
    ))
    .bind(org_id)
    .bind(after_id)
    .bind(window.from.as_deref())
    .bind(window.to.as_deref())
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(from_row).collect()
}
