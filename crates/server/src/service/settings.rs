//! The org's settings (admin): read, and changed only whole and within their bounds
//! (`kenali_core::settings`), each change audited with its old and new value.

use kenali_core::settings::OrgSettings;
use serde_json::{json, Map, Value};

use crate::ledger::{self, Actor};
use crate::service::{Error, Result};
use crate::state::AppState;
use crate::store::org_settings;

/// The settings and when an admin last changed them (`None`: never, the defaults).
pub async fn get(state: &AppState, org_id: &str) -> Result<(OrgSettings, Option<String>)> {
    let mut conn = state.store.reader().acquire().await?;
    Ok(org_settings::get(&mut conn, org_id).await?)
}

/// Applies `change` to the current settings and saves the result when every value is within
/// its bounds (else nothing is saved and each problem is named). Returns the settings as they
/// now stand and when they were last changed.
pub async fn change(
    state: &AppState,
    actor: &Actor,
    change: impl FnOnce(OrgSettings) -> OrgSettings,
) -> Result<(OrgSettings, Option<String>)> {
    let mut tx = state.store.begin().await?;
    let (before, updated_at) = org_settings::get(&mut tx, &actor.org_id).await?;
    let after = change(before);
    let problems = after.problems();
    if !problems.is_empty() {
        return Err(Error::InvalidSettings(problems));
    }
    let changes = changed_fields(&before, &after)?;
    if changes.is_empty() {
        return Ok((after, updated_at));
    }
    let now = state.clock.now_timestamp();
    org_settings::put(&mut tx, &actor.org_id, &after, &now).await?;
    ledger::audit(&mut tx, actor, "org.settings_changed", &actor.org_id, json!({"changes": changes})).await?;
    tx.commit().await?;
    Ok((after, Some(now)))
}

/// `{"retention.recordsDays": {"from": 2555, "to": 3000}, ...}` for each value that differs.
fn changed_fields(before: &OrgSettings, after: &OrgSettings) -> Result<Map<String, Value>> {
    fn flatten(prefix: &str, value: &Value, out: &mut Map<String, Value>) {
        match value {
            Value::Object(map) => {
                for (key, inner) in map {
                    let name = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                    flatten(&name, inner, out);
                }
            }
            other => {
                out.insert(prefix.to_string(), other.clone());
            }
        }
    }
    let (mut old, mut new) = (Map::new(), Map::new());
    flatten("", &serde_json::to_value(before).map_err(Error::internal)?, &mut old);
    flatten("", &serde_json::to_value(after).map_err(Error::internal)?, &mut new);
    Ok(new
        .into_iter()
        .filter(|(key, value)| old.get(key) != Some(value))
        .map(|(key, value)| {
            let from = old.get(&key).cloned().unwrap_or(Value::Null);
            (key, json!({"from": from, "to": value}))
        })
        .collect())
}
