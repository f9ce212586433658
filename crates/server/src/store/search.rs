//! The name-word index behind `GET /api/identity/search`: keyed hashes of each word of a
//! customer's name (computed by the caller with the blind-index key), never the words.

use sqlx::AnyConnection;

use super::{col, StoreResult};

/// Replaces the customer's name words and records which index version built them.
pub async fn replace_name_words(
    conn: &mut AnyConnection,
    org_id: &str,
    customer_id: &str,
    word_indexes: &[String],
    version: i64,
) -> StoreResult<()> {
    sqlx::query("DELETE FROM customer_name_words WHERE customer_id = $1").bind(customer_id).execute(&mut *conn).await?;
    for word_index in word_indexes {
        sqlx::query("INSERT INTO customer_name_words (org_id, customer_id, word_index) VALUES ($1, $2, $3)")
            .bind(org_id)
            .bind(customer_id)
            .bind(word_index)
            .execute(&mut *conn)
            .await?;
    }
    sqlx::query("UPDATE customers SET name_index_version = $2 WHERE id = $1")
        .bind(customer_id)
        .bind(version)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Deletes the customer's name words (erasure).
pub async fn delete_name_words(conn: &mut AnyConnection, customer_id: &str) -> StoreResult<u64> {
    let deleted =
        sqlx::query("DELETE FROM customer_name_words WHERE customer_id = $1").bind(customer_id).execute(conn).await?;
    Ok(deleted.rows_affected())
}

/// Customers of the org whose name has every one of the words, newest first.
pub async fn customers_with_words(
    conn: &mut AnyConnection,
    org_id: &str,
    word_indexes: &[String],
    limit: i64,
) -> StoreResult<Vec<String>> {
    if word_indexes.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders = (0..word_indexes.len()).map(|i| format!("${}", i + 3)).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "SELECT customer_id FROM customer_name_words WHERE org_id = $1 AND word_index IN ({placeholders}) \
         GROUP BY customer_id HAVING COUNT(*) = $2 ORDER BY customer_id DESC LIMIT ${}",
        word_indexes.len() + 3
    );
    let mut query = sqlx::query(&sql).bind(org_id).bind(word_indexes.len() as i64);
    for word_index in word_indexes {
        query = query.bind(word_index);
    }
    let rows = query.bind(limit).fetch_all(conn).await?;
    rows.iter().map(|row| col(row, "customer_id")).collect()
}

/// Customers (id, org) whose name index is missing or older than `version`, a batch at a time.
pub async fn stale_name_indexes(
    conn: &mut AnyConnection,
    version: i64,
    after_id: &str,
    limit: i64,
) -> StoreResult<Vec<(String, String)>> {
    let rows = sqlx::query(
        "SELECT id, org_id FROM customers WHERE name_index_version < $1 AND erased_at IS NULL \
         AND pii_sealed IS NOT NULL AND id > $2 ORDER BY id LIMIT $3",
    )
    .bind(version)
    .bind(after_id)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(|row| Ok((col(row, "id")?, col(row, "org_id")?))).collect()
}
