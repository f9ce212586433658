//! Each org's tuned settings, one JSON document per org.

use kenali_core::settings::OrgSettings;
use sqlx::AnyConnection;

use super::{col, StoreError, StoreResult};

/// The org's settings and when they last changed; the defaults (and `None`) when never set.
pub async fn get(conn: &mut AnyConnection, org_id: &str) -> StoreResult<(OrgSettings, Option<String>)> {
    let row = sqlx::query("SELECT settings, updated_at FROM org_settings WHERE org_id = $1")
        .bind(org_id)
        .fetch_optional(conn)
        .await?;
    let Some(row) = row else {
        return Ok((OrgSettings::default(), None));
    };
    let text: String = col(&row, "settings")?;
    let settings = serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("org settings: {e}")))?;
    Ok((settings, Some(col(&row, "updated_at")?)))
}

pub async fn put(conn: &mut AnyConnection, org_id: &str, settings: &OrgSettings, at: &str) -> StoreResult<()> {
    let text = serde_json::to_string(settings).map_err(|e| StoreError::Corrupt(format!("org settings: {e}")))?;
    sqlx::query(
        "INSERT INTO org_settings (org_id, settings, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (org_id) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at",
    )
    .bind(org_id)
    .bind(text)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}
