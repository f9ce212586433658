//! Customers. Personal data lives only in `pii_sealed` (sealed with the customer's data key)
//! and in blind indexes; the plaintext never reaches a column.

use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use super::{col, paginate, Page, StoreResult};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerRow {
    pub id: String,
    pub org_id: String,
    pub external_ref: Option<String>,
    pub wrapped_data_key: Option<Vec<u8>>,
    pub pii_sealed: Option<Vec<u8>>,
    pub nik_index: Option<String>,
    pub email_index: Option<String>,
    pub phone_index: Option<String>,
    pub tier: String,
    pub created_at: String,
    pub updated_at: String,
    pub erased_at: Option<String>,
}

const COLUMNS: &str = "id, org_id, external_ref, wrapped_data_key, pii_sealed, nik_index, \
                       email_index, phone_index, tier, created_at, updated_at, erased_at";

fn from_row(row: &AnyRow) -> StoreResult<CustomerRow> {
    Ok(CustomerRow {
        id: col(row, "id")?,
        org_id: col(row, "org_id")?,
        external_ref: col(row, "external_ref")?,
        wrapped_data_key: col(row, "wrapped_data_key")?,
        pii_sealed: col(row, "pii_sealed")?,
        nik_index: col(row, "nik_index")?,
        email_index: col(row, "email_index")?,
        phone_index: col(row, "phone_index")?,
        tier: col(row, "tier")?,
        created_at: col(row, "created_at")?,
        updated_at: col(row, "updated_at")?,
        erased_at: col(row, "erased_at")?,
    })
}

pub async fn insert(conn: &mut AnyConnection, c: &CustomerRow) -> StoreResult<()> {
    sqlx::query(&format!(
        "INSERT INTO customers ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
    ))
    .bind(&c.id)
    .bind(&c.org_id)
    .bind(c.external_ref.as_deref())
    .bind(c.wrapped_data_key.clone())
    .bind(c.pii_sealed.clone())
    .bind(c.nik_index.as_deref())
    .bind(c.email_index.as_deref())
    .bind(c.phone_index.as_deref())
    .bind(&c.tier)
    .bind(&c.created_at)
    .bind(&c.updated_at)
    .bind(c.erased_at.as_deref())
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn find(conn: &mut AnyConnection, org_id: &str, id: &str) -> StoreResult<Option<CustomerRow>> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM customers WHERE org_id = $1 AND id = $2"))
        .bind(org_id)
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// The customer row, locked until the transaction ends on PostgreSQL (`FOR UPDATE`), so that an
/// erasure cannot commit between this read and the caller's writes; SQLite's single writer
/// gives the same order.
pub async fn find_for_update(
    conn: &mut AnyConnection,
    backend: super::Backend,
    org_id: &str,
    id: &str,
) -> StoreResult<Option<CustomerRow>> {
    let lock = if backend == super::Backend::Postgres { " FOR UPDATE" } else { "" };
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM customers WHERE org_id = $1 AND id = $2{lock}"))
        .bind(org_id)
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn find_by_external_ref(
    conn: &mut AnyConnection,
    org_id: &str,
    external_ref: &str,
) -> StoreResult<Option<CustomerRow>> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM customers WHERE org_id = $1 AND external_ref = $2"))
        .bind(org_id)
        .bind(external_ref)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// List filters; index values are blind-index hashes computed by the caller.
#[derive(Debug, Default, Clone)]
pub struct CustomerFilter {
    pub tier: Option<String>,
    pub external_ref: Option<String>,
    pub nik_index: Option<String>,
    pub email_index: Option<String>,
    pub phone_index: Option<String>,
    pub created_from: Option<String>,
    pub created_to: Option<String>,
}

pub async fn list(
    conn: &mut AnyConnection,
    org_id: &str,
    filter: &CustomerFilter,
    page: &Page,
) -> StoreResult<(Vec<CustomerRow>, Option<String>)> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM customers WHERE org_id = $1 AND erased_at IS NULL \
         AND ($2 IS NULL OR id < $2) AND ($3 IS NULL OR tier = $3) \
         AND ($4 IS NULL OR external_ref = $4) AND ($5 IS NULL OR nik_index = $5) \
         AND ($6 IS NULL OR email_index = $6) AND ($7 IS NULL OR phone_index = $7) \
         AND ($8 IS NULL OR created_at >= $8) AND ($9 IS NULL OR created_at < $9) \
         ORDER BY id DESC LIMIT $10"
    ))
    .bind(org_id)
    .bind(page.cursor.as_deref())
    .bind(filter.tier.as_deref())
    .bind(filter.external_ref.as_deref())
    .bind(filter.nik_index.as_deref())
    .bind(filter.email_index.as_deref())
    .bind(filter.phone_index.as_deref())
    .bind(filter.created_from.as_deref())
    .bind(filter.created_to.as_deref())
    .bind(page.limit + 1)
    .fetch_all(conn)
    .await?;
    let customers = rows.iter().map(from_row).collect::<StoreResult<Vec<_>>>()?;
    Ok(paginate(customers, page.limit, |c| c.id.clone()))
}

pub async fn update_tier(conn: &mut AnyConnection, id: &str, tier: &str, at: &str) -> StoreResult<()> {
    sqlx::query("UPDATE customers SET tier = $2, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(tier)
        .bind(at)
        .execute(conn)
        .await?;
    Ok(())
}

/// Replaces the sealed personal data and the NIK's blind index (e.g. after Dukcapil names it).
pub async fn update_pii(
    conn: &mut AnyConnection,
    id: &str,
    pii_sealed: &[u8],
    nik_index: Option<&str>,
    at: &str,
) -> StoreResult<()> {
    sqlx::query("UPDATE customers SET pii_sealed = $2, nik_index = $3, updated_at = $4 WHERE id = $1")
        .bind(id)
        .bind(pii_sealed.to_vec())
        .bind(nik_index)
        .bind(at)
        .execute(conn)
        .await?;
    Ok(())
}

/// Live (unretired) face enrollments of a customer.
pub async fn enrollment_count(conn: &mut AnyConnection, org_id: &str, customer_id: &str) -> StoreResult<i64> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM face_enrollments WHERE org_id = $1 AND customer_id = $2 AND retired_at IS NULL",
    )
    .bind(org_id)
    .bind(customer_id)
    .fetch_one(conn)
    .await?;
    col(&row, "n")
}

/// One batch of an export: the org's customers (erased ones too) created in `[from, to)`,
/// in id order after `after_id`.
pub async fn export_batch(
    conn: &mut AnyConnection,
    org_id: &str,
    window: &super::TimeWindow,
    after_id: &str,
    limit: i64,
) -> StoreResult<Vec<CustomerRow>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM customers WHERE org_id = $1 AND id > $2 \
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
