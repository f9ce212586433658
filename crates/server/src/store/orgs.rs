use kenali_core::id::{new_id, IdKind};
use kenali_core::time_fmt::now_timestamp;
use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use super::{col, StoreResult};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    pub id: String,
    pub name: String,
    pub created_at: String,
}

fn from_row(row: &AnyRow) -> StoreResult<Org> {
    Ok(Org { id: col(row, "id")?, name: col(row, "name")?, created_at: col(row, "created_at")? })
}

pub async fn find_by_name(conn: &mut AnyConnection, name: &str) -> StoreResult<Option<Org>> {
    let row = sqlx::query("SELECT id, name, created_at FROM organizations WHERE name = $1")
        .bind(name)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn find(conn: &mut AnyConnection, id: &str) -> StoreResult<Option<Org>> {
    let row = sqlx::query("SELECT id, name, created_at FROM organizations WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// The org of that name, created (with an empty audit chain head) when absent.
pub async fn get_or_create(conn: &mut AnyConnection, name: &str) -> StoreResult<Org> {
    if let Some(org) = find_by_name(conn, name).await? {
        return Ok(org);
    }
    let org = Org { id: new_id(IdKind::Organization), name: name.to_string(), created_at: now_timestamp() };
    sqlx::query("INSERT INTO organizations (id, name, created_at) VALUES ($1, $2, $3)")
        .bind(&org.id)
        .bind(&org.name)
        .bind(&org.created_at)
        .execute(&mut *conn)
        .await?;
    super::audit::create_head(conn, &org.id).await?;
    Ok(org)
}
