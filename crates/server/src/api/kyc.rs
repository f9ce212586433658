//! `GET /api/identity/kyc/{customerId}`, `POST /api/identity/kyc/{customerId}/upgrade`.

use axum::extract::{Path, State};
use axum::Json;
use kenali_core::tier::{Requirement, Tier, TierProgress};
use kenali_core::verification::{Details, TierOverrideDetails};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{load_customer, tier_policy};
use crate::auth::Scope;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, Auth};
use crate::ledger::{self, Actor, NewVerification};
use crate::state::AppState;
use crate::views::{TierEventView, VerificationView};

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequirementView {
    #[schema(value_type = String, example = "ktp_capture_or_dukcapil")]
    code: Requirement,
    description: &'static str,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KycView {
    customer_id: String,
    /// none | basic | standard | premium
    #[schema(value_type = String)]
    tier: Tier,
    #[schema(value_type = Option<String>)]
    next_tier: Option<Tier>,
    met: Vec<RequirementView>,
    missing: Vec<RequirementView>,
}

/// `{"kyc": {...}}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct KycEnvelope {
    kyc: KycView,
}

/// The tier after a recompute or an override, with the override's verification and the tier
/// event when the tier moved.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpgradeResult {
    kyc: KycView,
    verification: Option<VerificationView>,
    tier_event: Option<TierEventView>,
}

fn kyc_view(customer_id: &str, progress: TierProgress) -> KycView {
    let view = |r: Requirement| RequirementView { code: r, description: r.description() };
    KycView {
        customer_id: customer_id.to_string(),
        tier: progress.tier,
        next_tier: progress.next_tier,
        met: progress.met.into_iter().map(view).collect(),
        missing: progress.missing.into_iter().map(view).collect(),
    }
}

#[utoipa::path(get, path = "/api/identity/kyc/{customer_id}", tag = "kyc", params(("customer_id" = String, Path, description = "customer id (cus_...)")), responses((status = 200, description = "tier, next tier, requirements met and missing", body = KycEnvelope), crate::error::ErrorResponse))]
pub async fn show(
    State(state): State<AppState>,
    auth: Auth,
    Path(customer_id): Path<String>,
) -> ApiResult<Json<KycEnvelope>> {
    let principal = auth.require(Scope::Public)?;
    let policy = tier_policy(&state, &principal.org_id).await?;
    let mut conn = state.store.reader().acquire().await?;
    let customer = load_customer(&mut conn, &principal.org_id, &customer_id).await?;
    let progress = ledger::tier_progress(&mut conn, &principal.org_id, &customer.id, policy).await?;
    Ok(Json(KycEnvelope { kyc: kyc_view(&customer.id, progress) }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpgradeRequest {
    target_tier: Option<String>,
    reason: Option<String>,
    /// The dashboard user on whose behalf an internal key overrides.
    actor_user_id: Option<String>,
    #[allow(dead_code)]
    external_id: Option<String>,
}

/// Without a body's `targetTier`: recompute from the history. With one (internal scope):
/// an analyst override, recorded as a `tier_override` verification naming the actor.
#[utoipa::path(post, path = "/api/identity/kyc/{customer_id}/upgrade", tag = "kyc", params(("customer_id" = String, Path, description = "customer id (cus_...)")), request_body = UpgradeRequest, responses((status = 200, description = "the tier recomputed, or overridden", body = UpgradeResult), crate::error::ErrorResponse))]
pub async fn upgrade(
    State(state): State<AppState>,
    auth: Auth,
    Path(customer_id): Path<String>,
    ApiJson(body): ApiJson<UpgradeRequest>,
) -> ApiResult<Json<UpgradeResult>> {
    let principal = auth.require(Scope::Public)?;
    let target = body
        .target_tier
        .as_deref()
        .map(|t| {
            Tier::parse(t)
                .ok_or_else(|| ApiError::invalid_field("targetTier", "must be none, basic, standard or premium"))
        })
        .transpose()?;
    let mut actor = Actor::from_principal(principal);
    let reason = match (&target, body.reason.as_deref().map(str::trim)) {
        (Some(_), None) | (Some(_), Some("")) => {
            return Err(ApiError::invalid_field("reason", "an override needs a reason"));
        }
        (_, Some(reason)) if reason.chars().count() > 1000 => {
            return Err(ApiError::invalid_field("reason", "must be at most 1000 characters"));
        }
        (_, reason) => reason.map(str::to_string),
    };
    if target.is_some() {
        auth.require(Scope::Internal)?;
    } else if body.actor_user_id.is_some() {
        return Err(ApiError::invalid_field("actorUserId", "only applies to an override with targetTier"));
    }
    let policy = tier_policy(&state, &principal.org_id).await?;
    let mut tx = state.store.begin().await?;
    let customer = load_customer(&mut tx, &principal.org_id, &customer_id).await?;
    crate::service::users::attribute(&mut tx, &mut actor, body.actor_user_id.as_deref()).await?;
    let (tier, verification, tier_event) = match target {
        Some(target) => {
            let recorded = ledger::record_verification(
                &mut tx,
                &actor,
                &customer,
                NewVerification {
                    passed: true,
                    reasons: vec!["analyst_override".into()],
                    details: Details::TierOverride(TierOverrideDetails {
                        target_tier: target,
                        reason: reason.clone().unwrap_or_default(),
                        from_tier: customer.tier.clone(),
                    }),
                },
                policy,
            )
            .await?;
            ledger::audit(
                &mut tx,
                &actor,
                "kyc.override",
                &customer.id,
                json!({"targetTier": target, "verificationId": recorded.verification.id}),
            )
            .await?;
            (recorded.tier, Some(recorded.verification), recorded.tier_event)
        }
        None => {
            let (tier, event) = ledger::apply_tier(&mut tx, &actor, &customer, policy, None, "recomputed").await?;
            (tier, None, event)
        }
    };
    tx.commit().await?;
    let mut conn = state.store.reader().acquire().await?;
    let progress = ledger::tier_progress(&mut conn, &principal.org_id, &customer.id, policy).await?;
    debug_assert_eq!(progress.tier, tier);
    Ok(Json(UpgradeResult {
        kyc: kyc_view(&customer.id, progress),
        verification: verification.as_ref().map(VerificationView::from),
        tier_event: tier_event.as_ref().map(TierEventView::from),
    }))
}
