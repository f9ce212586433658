//! The customer a workflow acts on, and its org's settings.

use kenali_core::settings::OrgSettings;
use kenali_core::tier::TierPolicy;
use serde_json::{json, Value};

use super::{Error, Result};
use crate::ledger::Actor;
use crate::state::AppState;
use crate::store::customers::CustomerRow;

/// Re-reads the customer inside a write transaction, locking its row: an image workflow calls
/// it before writing, so that nothing about a customer erased meanwhile is written
/// ([`Error::CustomerErased`]).
pub async fn lock_customer(
    state: &AppState,
    tx: &mut sqlx::AnyConnection,
    org_id: &str,
    customer_id: &str,
) -> Result<CustomerRow> {
    let customer = crate::store::customers::find_for_update(tx, state.store.backend(), org_id, customer_id)
        .await?
        .ok_or_else(|| Error::NotFound("customer"))?;
    if customer.erased_at.is_some() || customer.wrapped_data_key.is_none() {
        return Err(Error::CustomerErased("this customer was erased"));
    }
    Ok(customer)
}

/// The customer of this org with this id: [`Error::NotFound`] for an unknown id or another
/// org's customer, [`Error::CustomerErased`] once erased.
pub async fn load_customer(conn: &mut sqlx::AnyConnection, org_id: &str, customer_id: &str) -> Result<CustomerRow> {
    if !kenali_core::id::is_id_of(kenali_core::id::IdKind::Customer, customer_id) {
        return Err(Error::NotFound("customer"));
    }
    let customer =
        crate::store::customers::find(conn, org_id, customer_id).await?.ok_or_else(|| Error::NotFound("customer"))?;
    if customer.erased_at.is_some() {
        return Err(Error::CustomerErased("this customer was erased"));
    }
    Ok(customer)
}

/// The org's settings (the defaults until an admin changes them).
pub async fn org_settings(state: &AppState, org_id: &str) -> Result<OrgSettings> {
    let mut conn = state.store.reader().acquire().await?;
    Ok(crate::store::org_settings::get(&mut conn, org_id).await?.0)
}

/// The org's tier policy.
pub async fn tier_policy(state: &AppState, org_id: &str) -> Result<TierPolicy> {
    Ok(org_settings(state, org_id).await?.tier_policy())
}

/// A new customer's row (not yet inserted): its own data key wrapped by the master key, its
/// personal data sealed with it, and the blind indexes search reads.
pub fn new_customer_row(
    state: &AppState,
    org_id: &str,
    external_ref: Option<String>,
    pii: &crate::ledger::Pii,
) -> Result<CustomerRow> {
    let now = kenali_core::time_fmt::now_timestamp();
    let id = kenali_core::id::new_id(kenali_core::id::IdKind::Customer);
    let data_key = kenali_core::seal::DataKey::generate();
    let index = &state.keys.blind_index;
    Ok(CustomerRow {
        wrapped_data_key: Some(state.keys.master.wrap(&data_key, &id)),
        pii_sealed: Some(crate::ledger::seal_pii(&data_key, &id, pii)?),
        id,
        org_id: org_id.to_string(),
        external_ref,
        nik_index: pii.nik.as_deref().map(|n| index.index("nik", n)),
        email_index: pii.email.as_deref().map(|e| index.index("email", e)),
        phone_index: pii.phone.as_deref().map(|p| index.index("phone", p)),
        tier: kenali_core::tier::Tier::None.as_str().into(),
        created_at: now.clone(),
        updated_at: now,
        erased_at: None,
    })
}

/// How many of a customer's enrollments and attempts a profile shows (the newest).
pub const PROFILE_LIST_LIMIT: i64 = 50;

/// Everything the dashboard's customer page shows.
pub struct Profile {
    pub row: CustomerRow,
    pub pii: crate::ledger::Pii,
    /// Newest first.
    pub history: Vec<crate::store::verifications::VerificationRow>,
    pub progress: kenali_core::tier::TierProgress,
    /// Newest first, at most [`PROFILE_LIST_LIMIT`].
    pub enrollments: Vec<crate::store::faces::EnrollmentRow>,
    /// Newest first, at most [`PROFILE_LIST_LIMIT`].
    pub attempts: Vec<crate::store::faces::AttemptRow>,
}

/// A live customer's profile: claims, the tier ladder, the verification history, enrollments
/// and attempts. A person reading it is audited (`customer.viewed`): the page shows their
/// personal data.
pub async fn profile(state: &AppState, actor: &Actor, customer_id: &str) -> Result<Profile> {
    use crate::store::{faces, verifications, Page};
    let org_id = actor.org_id.as_str();
    let policy = tier_policy(state, org_id).await?;
    let mut conn = state.store.reader().acquire().await?;
    let row = load_customer(&mut conn, org_id, customer_id).await?;
    let pii = crate::ledger::open_pii(&state.keys, &row)?;
    let mut history = verifications::history(&mut conn, org_id, &row.id).await?;
    history.reverse();
    let progress = crate::ledger::tier_progress(&mut conn, org_id, &row.id, policy).await?;
    let page = Page { limit: PROFILE_LIST_LIMIT, cursor: None };
    let (enrollments, _) = faces::list_enrollments(&mut conn, org_id, Some(&row.id), None, &page).await?;
    let (attempts, _) = faces::list_attempts(&mut conn, org_id, Some(&row.id), None, &page).await?;
    drop(conn);
    audit_viewed(state, actor, &row.id, json!({"page": "profile"})).await?;
    Ok(Profile { row, pii, history, progress, enrollments, attempts })
}

/// A person opened a page showing the customer's personal data.
pub async fn audit_viewed(state: &AppState, actor: &Actor, customer_id: &str, details: Value) -> Result<()> {
    let mut tx = state.store.begin().await?;
    crate::ledger::audit(&mut tx, actor, "customer.viewed", customer_id, details).await?;
    tx.commit().await?;
    Ok(())
}
