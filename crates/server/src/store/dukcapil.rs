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

/// The customer's newest Dukcapil photo whose SHA-256 is `sha256` (the image a `dukcapil`
/// enrollment was made from), with the context it was sealed under: `dukcapil/photo/` and the
/// last segment of its object key (the verdict's id for a photo still kept in its row).
pub async fn find_photo(
    conn: &mut AnyConnection,
    org_id: &str,
    customer_id: &str,
    sha256: &str,
) -> StoreResult<Option<(super::faces::StoredCapture, String)>> {
    use super::faces::{stored_object, SealedAt, StoredCapture};
    let row = sqlx::query(
        "SELECT id, photo_media_type, photo_sealed, photo_object_key AS object_key, \
         photo_object_sha256 AS object_sha256, photo_object_size AS object_size FROM dukcapil_verdicts \
         WHERE org_id = $1 AND customer_id = $2 AND photo_sha256 = $3 ORDER BY id DESC LIMIT 1",
    )
    .bind(org_id)
    .bind(customer_id)
    .bind(sha256)
    .fetch_optional(conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let id: String = super::col(&row, "id")?;
    let media_type = super::col::<Option<String>>(&row, "photo_media_type")?.unwrap_or_default();
    let (image, sealed_as) = match stored_object(&row, "")? {
        Some(object) => {
            let name = object.key.rsplit('/').next().unwrap_or_default().to_string();
            (SealedAt::Object(object), name)
        }
        None => match super::col::<Option<Vec<u8>>>(&row, "photo_sealed")? {
            Some(bytes) => (SealedAt::Row(bytes), id.clone()),
            None => return Ok(None),
        },
    };
    Ok(Some((StoredCapture { id, media_type, image }, format!("dukcapil/photo/{sealed_as}"))))
}
