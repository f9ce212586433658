use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use super::{col, paginate, Page, StoreResult};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierEventRow {
    pub id: String,
    pub org_id: String,
    pub customer_id: String,
    pub from_tier: String,
    pub to_tier: String,
    pub reason: String,
    pub verification_id: Option<String>,
    pub actor: String,
    pub created_at: String,
}

const COLUMNS: &str = "id, org_id, customer_id, from_tier, to_tier, reason, verification_id, actor, created_at";

fn from_row(row: &AnyRow) -> StoreResult<TierEventRow> {
    Ok(TierEventRow {
        id: col(row, "id")?,
        org_id: col(row, "org_id")?,
        customer_id: col(row, "customer_id")?,
        from_tier: col(row, "from_tier")?,
        to_tier: col(row, "to_tier")?,
        reason: col(row, "reason")?,
        verification_id: col(row, "verification_id")?,
        actor: col(row, "actor")?,
        created_at: col(row, "created_at")?,
    })
}

pub async fn insert(conn: &mut AnyConnection, e: &TierEventRow) -> StoreResult<()> {
    sqlx::query(&format!("INSERT INTO tier_events ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"))
        .bind(&e.id)
        .bind(&e.org_id)
        .bind(&e.customer_id)
        .bind(&e.from_tier)
        .bind(&e.to_tier)
        .bind(&e.reason)
        .bind(e.verification_id.as_deref())
        .bind(&e.actor)
        .bind(&e.created_at)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn list(
    conn: &mut AnyConnection,
    org_id: &str,
    customer_id: Option<&str>,
    since: Option<&str>,
    page: &Page,
) -> StoreResult<(Vec<TierEventRow>, Option<String>)> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM tier_events WHERE org_id = $1 AND ($2 IS NULL OR customer_id = $2) \
         AND ($3 IS NULL OR created_at >= $3) AND ($4 IS NULL OR id < $4) ORDER BY id DESC LIMIT $5"
    ))
    .bind(org_id)
    .bind(customer_id)
    .bind(since)
    .bind(page.cursor.as_deref())
    .bind(page.limit + 1)
    .fetch_all(conn)
    .await?;
    let rows = rows.iter().map(from_row).collect::<StoreResult<Vec<_>>>()?;
    Ok(paginate(rows, page.limit, |e| e.id.clone()))
}
