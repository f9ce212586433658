use sqlx::AnyConnection;

use super::StoreResult;
use crate::blobs::StoredObject;

/// A Dukcapil verdict as stored: photo (in the blob store) and raw response sealed with the
/// customer's data key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DukcapilRow {
    pub id: String,
    pub org_id: String,
    pub customer_id: String,
    pub verification_id: String,
    pub valid: bool,
    pub photo_object: Option<StoredObject>,
    pub photo_sha256: Option<String>,
    pub photo_media_type: Option<String>,
    pub raw_sealed: Option<Vec<u8>>,
    pub created_at: String,
}

pub async fn insert(conn: &mut AnyConnection, d: &DukcapilRow) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO dukcapil_verdicts (id, org_id, customer_id, verification_id, valid, photo_object_key, \
         photo_sha256, photo_media_type, raw_sealed, created_at, photo_object_sha256, photo_object_size) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(&d.id)
    .bind(&d.org_id)
    .bind(&d.customer_id)
    .bind(&d.verification_id)
    .bind(i64::from(d.valid))
    .bind(d.photo_object.as_ref().map(|o| o.key.clone()))
    .bind(d.photo_sha256.as_deref())
    .bind(d.photo_media_type.as_deref())
    .bind(d.raw_sealed.clone())
    .bind(&d.created_at)
    .bind(d.photo_object.as_ref().map(|o| o.sha256.clone()))
    .bind(d.photo_object.as_ref().map(|o| o.size))
    .execute(conn)
    .await?;
    Ok(())
}
