//! The write paths every capability shares: sealing a customer's personal data, recording a
//! verification and recomputing the tier (with its tier event), and appending audit entries.
//! Each runs inside the caller's transaction so a failure leaves nothing half-written.

use kenali_core::id::{new_id, IdKind};
use kenali_core::nik::Gender;
use kenali_core::seal::DataKey;
use kenali_core::tier::{progress, Tier, TierPolicy, TierProgress};
use kenali_core::time_fmt::now_timestamp;
use kenali_core::verification::{evidence_from_row, Details};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::AnyConnection;

use crate::keys::Keys;
use crate::service::Error;
use crate::store::audit::{self, NewEntry};
use crate::store::customers::CustomerRow;
use crate::store::tier_events::{self, TierEventRow};
use crate::store::verifications::{self, VerificationRow};
use crate::store::{customers, events, StoreResult};

/// Who acts and under which request: every row and audit entry names them.
#[derive(Debug, Clone)]
pub struct Actor {
    pub org_id: String,
    /// `key_...` for API keys, `usr_...` for dashboard users, `cli` for the command line.
    pub actor: String,
    pub actor_user_id: Option<String>,
    pub request_id: String,
}

impl Actor {
    pub fn from_principal(principal: &crate::auth::Principal) -> Self {
        Actor {
            org_id: principal.org_id.clone(),
            actor: principal.key_id.clone(),
            actor_user_id: (principal.credential == crate::auth::Credential::Session).then(|| principal.key_id.clone()),
            request_id: crate::error::current_request_id(),
        }
    }
}

/// A customer's personal data, sealed as one JSON document with the customer's data key.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Pii {
    pub full_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nik: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_of_birth: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<Gender>,
}

pub const PII_CONTEXT: &str = "customer/pii";

pub fn pii_context(customer_id: &str) -> String {
    format!("{PII_CONTEXT}/{customer_id}")
}

/// Unwraps the customer's data key; `Gone` when erased (the key no longer exists).
pub fn data_key(keys: &Keys, customer: &CustomerRow) -> Result<DataKey, Error> {
    let wrapped =
        customer.wrapped_data_key.as_deref().ok_or_else(|| Error::CustomerErased("this customer was erased"))?;
    unwrap_data_key(keys, &customer.id, wrapped)
}

/// A customer's data key from its wrapped form, as read beside another row.
pub fn unwrap_data_key(keys: &Keys, customer_id: &str, wrapped: &[u8]) -> Result<DataKey, Error> {
    keys.master
        .unwrap_key(wrapped, customer_id)
        .map_err(|e| Error::internal(format!("unwrapping data key of {customer_id}: {e}")))
}

pub fn open_pii(keys: &Keys, customer: &CustomerRow) -> Result<Pii, Error> {
    let key = data_key(keys, customer)?;
    let sealed = customer.pii_sealed.as_deref().ok_or_else(|| Error::CustomerErased("this customer was erased"))?;
    let bytes = key
        .open(sealed, &pii_context(&customer.id))
        .map_err(|e| Error::internal(format!("opening PII of {}: {e}", customer.id)))?;
    serde_json::from_slice(&bytes).map_err(|e| Error::internal(format!("PII of {}: {e}", customer.id)))
}

pub fn seal_pii(key: &DataKey, customer_id: &str, pii: &Pii) -> Result<Vec<u8>, Error> {
    let json = serde_json::to_vec(pii).map_err(Error::internal)?;
    Ok(key.seal(&json, &pii_context(customer_id)))
}

/// A check about to be recorded; its kind follows from its details.
pub struct NewVerification {
    pub passed: bool,
    pub reasons: Vec<String>,
    pub details: Details,
}

/// What recording a verification did.
pub struct Recorded {
    pub verification: VerificationRow,
    pub tier_event: Option<TierEventRow>,
    pub tier: Tier,
}

/// Appends an audit entry in the caller's transaction.
pub async fn audit(
    conn: &mut AnyConnection,
    actor: &Actor,
    action: &str,
    target: &str,
    details: Value,
) -> StoreResult<()> {
    audit::append(
        conn,
        NewEntry {
            id: new_id(IdKind::AuditEntry),
            org_id: &actor.org_id,
            actor: &actor.actor,
            action,
            target,
            request_id: &actor.request_id,
            details: details.to_string(),
            created_at: now_timestamp(),
        },
    )
    .await?;
    Ok(())
}

/// Inserts the verification, audits it, and moves the tier if the history now says so.
pub async fn record_verification(
    conn: &mut AnyConnection,
    actor: &Actor,
    customer: &CustomerRow,
    new: NewVerification,
    policy: TierPolicy,
) -> StoreResult<Recorded> {
    let verification = VerificationRow {
        id: new_id(IdKind::Verification),
        org_id: actor.org_id.clone(),
        customer_id: customer.id.clone(),
        kind: new.details.kind().to_string(),
        status: if new.passed { "passed" } else { "failed" }.to_string(),
        reasons: serde_json::to_string(&new.reasons).unwrap_or_else(|_| "[]".into()),
        details: new.details.to_json().to_string(),
        actor: actor.actor.clone(),
        actor_user_id: actor.actor_user_id.clone(),
        created_at: now_timestamp(),
    };
    verifications::insert(conn, &verification).await?;
    audit(
        conn,
        actor,
        "verification.recorded",
        &verification.id,
        serde_json::json!({"customerId": customer.id, "kind": verification.kind, "status": verification.status}),
    )
    .await?;
    events::publish(
        conn,
        &actor.org_id,
        events::kind::VERIFICATION_COMPLETED,
        serde_json::json!({"verificationId": verification.id, "customerId": customer.id, "externalRef": customer.external_ref,
                           "kind": verification.kind, "status": verification.status}),
    )
    .await?;
    let (tier, tier_event) = apply_tier(
        conn,
        actor,
        customer,
        policy,
        Some(&verification.id),
        &format!("{} {}", verification.kind, verification.status),
    )
    .await?;
    Ok(Recorded { verification, tier_event, tier })
}

/// The tier and next-tier requirements that the stored history earns.
pub async fn tier_progress(
    conn: &mut AnyConnection,
    org_id: &str,
    customer_id: &str,
    policy: TierPolicy,
) -> StoreResult<TierProgress> {
    let history = verifications::history(conn, org_id, customer_id).await?;
    let evidence: Vec<_> =
        history.iter().filter_map(|v| evidence_from_row(&v.kind, v.status == "passed", &v.details)).collect();
    Ok(progress(&evidence, policy))
}

/// Recomputes the tier from the rows; on a change, stores it with a tier event and audit entry.
pub async fn apply_tier(
    conn: &mut AnyConnection,
    actor: &Actor,
    customer: &CustomerRow,
    policy: TierPolicy,
    verification_id: Option<&str>,
    reason: &str,
) -> StoreResult<(Tier, Option<TierEventRow>)> {
    let tier = tier_progress(conn, &actor.org_id, &customer.id, policy).await?.tier;
    // Read the stored tier inside the transaction, not from the caller's possibly stale copy.
    let stored = customers::find(conn, &actor.org_id, &customer.id)
        .await?
        .map(|c| c.tier)
        .unwrap_or_else(|| customer.tier.clone());
    if stored == tier.as_str() {
        return Ok((tier, None));
    }
    let now = now_timestamp();
    customers::update_tier(conn, &customer.id, tier.as_str(), &now).await?;
    let event = TierEventRow {
        id: new_id(IdKind::TierEvent),
        org_id: actor.org_id.clone(),
        customer_id: customer.id.clone(),
        from_tier: stored,
        to_tier: tier.as_str().to_string(),
        reason: reason.to_string(),
        verification_id: verification_id.map(str::to_string),
        actor: actor.actor.clone(),
        created_at: now,
    };
    tier_events::insert(conn, &event).await?;
    audit(
        conn,
        actor,
        "kyc.tier_changed",
        &customer.id,
        serde_json::json!({"from": event.from_tier, "to": event.to_tier, "tierEventId": event.id, "verificationId": verification_id}),
    )
    .await?;
    events::publish(
        conn,
        &actor.org_id,
        events::kind::KYC_TIER_CHANGED,
        serde_json::json!({"customerId": customer.id, "externalRef": customer.external_ref, "from": event.from_tier,
                           "to": event.to_tier, "tierEventId": event.id, "verificationId": verification_id}),
    )
    .await?;
    Ok((tier, Some(event)))
}
