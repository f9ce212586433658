//! UU PDP erasure (SPEC §8): irreversible. The customer's data key is destroyed and every
//! personal field, image, embedding and kept answer is deleted or cleared, in one transaction
//! with its audit entry and the `customer.erased` event.

use serde::Serialize;
use serde_json::json;

use super::customers::load_customer;
use super::{Error, Result};
use crate::ledger::{self, Actor};
use crate::ratelimit;
use crate::state::AppState;
use crate::store::erasure::{self, Erased};
use crate::store::events::{self, kind as event};

/// Longest reason an erasure request may give.
pub const ERASURE_REASON_MAX: usize = 500;

/// What an erasure removed, and when.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErasureView {
    customer_id: String,
    erased_at: String,
    /// The `customer.erased` event sent to webhooks.
    event_id: String,
    #[serde(flatten)]
    erased: Erased,
}

/// Erases the customer; `reason` (kept in the audit entry) must not itself hold personal data.
pub async fn erase(state: &AppState, actor: &Actor, customer_id: &str, reason: Option<String>) -> Result<ErasureView> {
    let reason = reason.map(|r| r.trim().to_string()).filter(|r| !r.is_empty());
    if reason.as_ref().is_some_and(|r| r.chars().count() > ERASURE_REASON_MAX) {
        return Err(Error::invalid_field("reason", format!("must be at most {ERASURE_REASON_MAX} characters")));
    }
    // Counted before the lookup, so that probing for ids spends the budget too.
    ratelimit::check(state, ratelimit::ERASURE, &actor.org_id).await?;
    let mut tx = state.store.begin().await?;
    let customer = load_customer(&mut tx, &actor.org_id, customer_id).await?;
    let erased_at = state.clock.now_timestamp();
    let erased = erasure::erase_customer(&mut tx, &actor.org_id, &customer.id, &erased_at)
        .await?
        .ok_or(Error::CustomerErased("this customer was erased"))?;
    ledger::audit(&mut tx, actor, "customer.erased", &customer.id, json!({"reason": reason, "erased": erased})).await?;
    let event_id = events::publish(
        &mut tx,
        &actor.org_id,
        event::CUSTOMER_ERASED,
        json!({"customerId": customer.id, "externalRef": customer.external_ref, "erasedAt": erased_at}),
    )
    .await?;
    tx.commit().await?;
    state.store.flush_erased().await;
    state.face_index.forget_customer(&actor.org_id, &customer.id).await;
    // The data key is gone, so the objects are unreadable already; what cannot be deleted
    // now stays queued for the retention sweeper.
    if let Err(e) = crate::blobs::drain_deletions(&state.store, &state.blobs, state.clock.now()).await {
        tracing::warn!(error = %e, "deleting an erased customer's objects; they stay queued");
    }
    Ok(ErasureView { customer_id: customer.id, erased_at, event_id, erased })
}
