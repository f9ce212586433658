//! Vendor integrations (seed 004), configured by an org admin: the vendor's OAuth client, its
//! AES-256 keys (shown once, sealed at rest, rotated with an overlap in which both decrypt) and
//! the mapping from its KYC JSON to Kenali's fields.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use kenali_core::id::{is_id_of, new_id, IdKind};
use kenali_core::vendor::{FieldMapping, KEY_LEN};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use zeroize::Zeroizing;

use super::{Error, Result};
use crate::ledger::{self, Actor};
use crate::state::AppState;
use crate::store::integrations::{self as store, IntegrationRow, KeyRow};
use crate::store::oauth as clients;
use crate::store::Page;

/// How long a replaced key keeps decrypting pushes by default (a day: vendors roll keys out to
/// their fleet), and at most (a week).
pub const KEY_OVERLAP_DEFAULT_SECS: i64 = 24 * 3600;
pub const KEY_OVERLAP_MAX_SECS: i64 = 7 * 24 * 3600;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateIntegration {
    name: String,
    /// The OAuth client (`ocl_...`, `/api/identity/oauth-clients`) whose tokens may push.
    oauth_client_id: String,
    /// The AES-256 key (base64 of 32 bytes) when the vendor gives one; else Kenali generates it.
    key: Option<String>,
    /// Where Kenali's fields are in the vendor's JSON; the Ditto ID IDV v3 shape by default.
    #[schema(value_type = Option<Object>)]
    mapping: Option<FieldMapping>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateIntegration {
    name: Option<String>,
    #[schema(value_type = Option<Object>)]
    mapping: Option<FieldMapping>,
    /// false stops taking pushes (they answer 403 `integration_disabled`).
    enabled: Option<bool>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RotateKey {
    /// The new key (base64 of 32 bytes); generated when absent.
    key: Option<String>,
    /// How long the keys in use now keep decrypting pushes, in seconds (0 to 604800; 86400 by
    /// default). Confirmations answer under the key the push came with.
    overlap_seconds: Option<i64>,
}

/// An integration's key, without its secret.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyView {
    id: String,
    created_at: String,
    /// When it stops decrypting pushes; null for the current key.
    retires_at: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationView {
    id: String,
    name: String,
    oauth_client_id: String,
    enabled: bool,
    /// Where the vendor pushes: `POST` with a bearer token of `oauthClientId`.
    receiver_path: String,
    #[schema(value_type = Object)]
    mapping: FieldMapping,
    /// Keys that still decrypt, newest first.
    keys: Vec<KeyView>,
    created_at: String,
    updated_at: String,
}

/// A key just made: its secret is shown this once.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewKeyView {
    id: String,
    /// Base64 of the 32-byte AES-256 key; give it to the vendor. Not shown again.
    secret: String,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationWithKey {
    integration: IntegrationView,
    key: NewKeyView,
}

/// The sealing context of a stored integration key.
fn key_context(key_id: &str) -> String {
    format!("integration-key/{key_id}")
}

/// `bytes` as an AES-256 key, when they are 32.
fn key_array(bytes: &[u8]) -> Option<Zeroizing<[u8; KEY_LEN]>> {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    (bytes.len() == KEY_LEN).then(|| {
        key.copy_from_slice(bytes);
        key
    })
}

/// A key from its base64, or a fresh one.
fn key_bytes(given: Option<&str>) -> Result<Zeroizing<[u8; KEY_LEN]>> {
    let Some(text) = given else {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        rand::rngs::OsRng.fill_bytes(key.as_mut());
        return Ok(key);
    };
    let bytes = Zeroizing::new(
        STANDARD.decode(text.trim()).map_err(|_| Error::invalid_field("key", "must be base64 of 32 bytes"))?,
    );
    key_array(&bytes).ok_or_else(|| Error::invalid_field("key", "must be base64 of 32 bytes (AES-256)"))
}

fn check_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::invalid_field("name", "must be 1 to 100 characters"));
    }
    Ok(name.to_string())
}

fn check_mapping(mapping: &FieldMapping) -> Result<()> {
    match mapping.problems().into_iter().next() {
        Some((field, message)) => Err(Error::invalid_field(format!("mapping.{field}"), message)),
        None => Ok(()),
    }
}

fn mapping_of(row: &IntegrationRow) -> Result<FieldMapping> {
    serde_json::from_str(&row.mapping).map_err(|e| Error::internal(format!("mapping of {}: {e}", row.id)))
}

/// A new key row for `integration_id`, sealed, and the key's secret for the answer.
fn new_key(state: &AppState, integration_id: &str, given: Option<&str>) -> Result<(KeyRow, NewKeyView)> {
    let key = key_bytes(given)?;
    let id = new_id(IdKind::IntegrationKey);
    let row = KeyRow {
        id: id.clone(),
        integration_id: integration_id.to_string(),
        key_sealed: state.keys.integration.seal(key.as_ref(), &key_context(&id)),
        created_at: state.clock.now_timestamp(),
        retires_at: None,
    };
    Ok((row, NewKeyView { id, secret: STANDARD.encode(key.as_ref()) }))
}

/// The keys of an integration that still decrypt at `now`, newest first.
pub async fn live_keys(conn: &mut sqlx::AnyConnection, integration_id: &str, now: &str) -> Result<Vec<KeyRow>> {
    let keys = store::keys(conn, integration_id).await?;
    Ok(keys.into_iter().filter(|k| k.retires_at.as_deref().is_none_or(|at| at > now)).collect())
}

/// A stored key's secret.
pub fn open_key(state: &AppState, key: &KeyRow) -> Result<Zeroizing<[u8; KEY_LEN]>> {
    let bytes = Zeroizing::new(
        state
            .keys
            .integration
            .open(&key.key_sealed, &key_context(&key.id))
            .map_err(|e| Error::internal(format!("integration key {}: {e}", key.id)))?,
    );
    key_array(&bytes).ok_or_else(|| Error::internal(format!("integration key {} is not 32 bytes", key.id)))
}

async fn view(state: &AppState, conn: &mut sqlx::AnyConnection, row: &IntegrationRow) -> Result<IntegrationView> {
    let keys = live_keys(conn, &row.id, &state.clock.now_timestamp()).await?;
    Ok(IntegrationView {
        id: row.id.clone(),
        name: row.name.clone(),
        oauth_client_id: row.oauth_client_id.clone(),
        enabled: row.enabled,
        receiver_path: format!("/api/integrations/{}/kyc", row.id),
        mapping: mapping_of(row)?,
        keys: keys
            .into_iter()
            .map(|k| KeyView { id: k.id, created_at: k.created_at, retires_at: k.retires_at })
            .collect(),
        created_at: row.created_at.clone(),
        updated_at: row.updated_at.clone(),
    })
}

pub async fn create(state: &AppState, actor: &Actor, body: CreateIntegration) -> Result<IntegrationWithKey> {
    let name = check_name(&body.name)?;
    let mapping = body.mapping.unwrap_or_else(FieldMapping::ditto_v3);
    check_mapping(&mapping)?;
    let mut tx = state.store.begin().await?;
    let client = clients::find_client(&mut tx, &actor.org_id, &body.oauth_client_id).await?;
    if client.is_none_or(|c| c.revoked_at.is_some()) {
        return Err(Error::invalid_field("oauthClientId", "is not a live OAuth client of this organization"));
    }
    let now = state.clock.now_timestamp();
    let row = IntegrationRow {
        id: new_id(IdKind::Integration),
        org_id: actor.org_id.clone(),
        name,
        oauth_client_id: body.oauth_client_id,
        mapping: serde_json::to_string(&mapping).map_err(Error::internal)?,
        enabled: true,
        created_by: actor.actor.clone(),
        created_at: now.clone(),
        updated_at: now,
    };
    store::insert(&mut tx, &row).await?;
    let (key, secret) = new_key(state, &row.id, body.key.as_deref())?;
    store::insert_key(&mut tx, &key).await?;
    ledger::audit(
        &mut tx,
        actor,
        "integration.created",
        &row.id,
        json!({"name": row.name, "oauthClientId": row.oauth_client_id, "keyId": key.id}),
    )
    .await?;
    let integration = view(state, &mut tx, &row).await?;
    tx.commit().await?;
    Ok(IntegrationWithKey { integration, key: secret })
}

/// An integration of `org_id` by its id (`NotFound` for a malformed or another org's id).
pub async fn find(conn: &mut sqlx::AnyConnection, org_id: &str, id: &str) -> Result<IntegrationRow> {
    if !is_id_of(IdKind::Integration, id) {
        return Err(Error::NotFound("integration"));
    }
    store::find(conn, org_id, id).await?.ok_or(Error::NotFound("integration"))
}

pub async fn get(state: &AppState, org_id: &str, id: &str) -> Result<IntegrationView> {
    let mut conn = state.store.reader().acquire().await?;
    let row = find(&mut conn, org_id, id).await?;
    view(state, &mut conn, &row).await
}

pub async fn list(state: &AppState, org_id: &str, page: &Page) -> Result<(Vec<IntegrationView>, Option<String>)> {
    let mut conn = state.store.reader().acquire().await?;
    let (rows, next) = store::list(&mut conn, org_id, page).await?;
    let mut views = Vec::with_capacity(rows.len());
    for row in &rows {
        views.push(view(state, &mut conn, row).await?);
    }
    Ok((views, next))
}

pub async fn update(state: &AppState, actor: &Actor, id: &str, body: UpdateIntegration) -> Result<IntegrationView> {
    let name = body.name.as_deref().map(check_name).transpose()?;
    if let Some(mapping) = &body.mapping {
        check_mapping(mapping)?;
    }
    let mut tx = state.store.begin().await?;
    let mut row = find(&mut tx, &actor.org_id, id).await?;
    let mut changed = Vec::new();
    if let Some(name) = name.filter(|n| *n != row.name) {
        row.name = name;
        changed.push("name");
    }
    if let Some(mapping) = body.mapping {
        let mapping = serde_json::to_string(&mapping).map_err(Error::internal)?;
        if mapping != row.mapping {
            row.mapping = mapping;
            changed.push("mapping");
        }
    }
    if let Some(enabled) = body.enabled.filter(|e| *e != row.enabled) {
        row.enabled = enabled;
        changed.push("enabled");
    }
    if !changed.is_empty() {
        row.updated_at = state.clock.now_timestamp();
        store::update(&mut tx, &row).await?;
        ledger::audit(
            &mut tx,
            actor,
            "integration.updated",
            &row.id,
            json!({"changed": changed, "enabled": row.enabled}),
        )
        .await?;
    }
    let answer = view(state, &mut tx, &row).await?;
    tx.commit().await?;
    Ok(answer)
}

/// Adds a key: the keys in use keep decrypting for the overlap, then only the new one does.
pub async fn rotate_key(state: &AppState, actor: &Actor, id: &str, body: RotateKey) -> Result<IntegrationWithKey> {
    let overlap = body.overlap_seconds.unwrap_or(KEY_OVERLAP_DEFAULT_SECS);
    if !(0..=KEY_OVERLAP_MAX_SECS).contains(&overlap) {
        return Err(Error::invalid_field("overlapSeconds", format!("must be 0 to {KEY_OVERLAP_MAX_SECS} seconds")));
    }
    let mut tx = state.store.begin().await?;
    let row = find(&mut tx, &actor.org_id, id).await?;
    let (key, secret) = new_key(state, &row.id, body.key.as_deref())?;
    let retires_at = kenali_core::time_fmt::format_timestamp(state.clock.now() + time::Duration::seconds(overlap));
    store::retire_current_keys(&mut tx, &row.id, &retires_at).await?;
    store::insert_key(&mut tx, &key).await?;
    ledger::audit(
        &mut tx,
        actor,
        "integration.key_rotated",
        &row.id,
        json!({"keyId": key.id, "previousKeysRetireAt": retires_at}),
    )
    .await?;
    let integration = view(state, &mut tx, &row).await?;
    tx.commit().await?;
    Ok(IntegrationWithKey { integration, key: secret })
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DryRun {
    /// A sample of the vendor's KYC JSON, in plaintext.
    #[schema(value_type = Object)]
    payload: Value,
}

/// What a sample payload maps to under the integration's mapping; nothing is written.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DryRunResult {
    /// Whether a push of this payload would be read (it is still checked when pushed).
    mapped: bool,
    /// Kenali's fields as read (images as their length in base64 characters).
    #[schema(value_type = Option<Object>)]
    fields: Option<Value>,
    #[schema(value_type = Vec<Object>)]
    problems: Vec<kenali_core::vendor::MappingProblem>,
}

pub async fn dry_run(state: &AppState, org_id: &str, id: &str, body: DryRun) -> Result<DryRunResult> {
    let mapping = {
        let mut conn = state.store.reader().acquire().await?;
        mapping_of(&find(&mut conn, org_id, id).await?)?
    };
    Ok(match mapping.apply(&body.payload) {
        Ok(kyc) => {
            let mut fields = serde_json::to_value(&kyc).map_err(Error::internal)?;
            fields["selfieImage"] = json!(kyc.selfie_image.as_ref().map(|s| format!("{} base64 characters", s.len())));
            fields["idPhoto"] = json!(kyc.id_photo.as_ref().map(|s| format!("{} base64 characters", s.len())));
            DryRunResult { mapped: true, fields: Some(fields), problems: Vec::new() }
        }
        Err(problems) => DryRunResult { mapped: false, fields: None, problems },
    })
}
