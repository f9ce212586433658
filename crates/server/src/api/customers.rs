//! `POST/GET /api/customers`, `GET /api/identity/customers/{id}`,
//! `POST /api/identity/customers/{id}/erase`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kenali_core::tier::Tier;
use kenali_core::verification::{Details, NikFormatDetails, NikSource};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{load_customer, tier_policy};
use crate::auth::Scope;
use crate::error::{ApiError, ApiResult};
use crate::extract::{parse_json, ApiJson, ApiQuery, Auth, PageQuery};
use crate::ledger::{self, open_pii, Actor, NewVerification, Pii};
use crate::service::customers::new_customer_row;
use crate::service::erasure::{self, ErasureView};
use crate::service::nik::check_nik;
use crate::service::validate;
use crate::service::validate::timestamp_param;
use crate::state::AppState;
use crate::store::customers::{self, CustomerFilter, CustomerRow};
use crate::store::verifications;
use crate::views::{CustomerEnvelope, CustomerView, ListView, VerificationView};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateCustomer {
    full_name: String,
    external_ref: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    nik: Option<String>,
    date_of_birth: Option<String>,
    gender: Option<String>,
    /// Idempotency (handled by the middleware); accepted so it is not an unknown field.
    #[allow(dead_code)]
    external_id: Option<String>,
}

#[utoipa::path(post, path = "/api/customers", tag = "customers", request_body = CreateCustomer, responses((status = 201, description = "`{customer}`: created", body = CustomerEnvelope), (status = 200, description = "`{customer}`: the customer with this externalRef already existed", body = CustomerEnvelope), crate::error::ErrorResponse))]
pub async fn create(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<CreateCustomer>,
) -> ApiResult<Response> {
    let principal = auth.require(Scope::Public)?;
    let full_name = validate::full_name(&body.full_name)?;
    let external_ref = body.external_ref.as_deref().map(|r| validate::reference("externalRef", r)).transpose()?;
    let email = body.email.as_deref().map(validate::email).transpose()?;
    let phone = body.phone.as_deref().map(validate::phone).transpose()?;
    let dob = body.date_of_birth.as_deref().map(validate::date_of_birth).transpose()?;
    let gender = body.gender.as_deref().map(validate::gender).transpose()?;
    let nik = body.nik.as_deref().map(|n| check_nik(n, dob, gender)).transpose()?;
    let policy = tier_policy(&state, &principal.org_id).await?;
    let actor = Actor::from_principal(principal);

    let mut tx = state.store.begin().await?;
    if let Some(external_ref) = &external_ref {
        if let Some(existing) = customers::find_by_external_ref(&mut tx, &principal.org_id, external_ref).await? {
            drop(tx);
            return existing_customer(&state, &existing);
        }
    }
    let pii = Pii {
        full_name,
        email,
        phone,
        nik: nik.as_ref().map(|(n, _)| n.clone()),
        // The NIK carries the birth date and gender; fill them in when the caller did not.
        date_of_birth: dob.or(nik.as_ref().map(|(_, i)| i.date_of_birth)).map(|d| d.to_string()),
        gender: gender.or(nik.as_ref().map(|(_, i)| i.gender)),
    };
    let row = new_customer_row(&state, &principal.org_id, external_ref, &pii)?;
    let id = row.id.clone();
    if let Err(e) = customers::insert(&mut tx, &row).await {
        if e.is_unique_violation() {
            // Another request created the same externalRef first: answer with that customer.
            drop(tx);
            let mut conn = state.store.reader().acquire().await?;
            let existing = customers::find_by_external_ref(
                &mut conn,
                &principal.org_id,
                row.external_ref.as_deref().unwrap_or_default(),
            )
            .await?
            .ok_or_else(|| ApiError::internal("externalRef conflict without a customer"))?;
            return existing_customer(&state, &existing);
        }
        return Err(e.into());
    }
    crate::search_index::index_name(&mut tx, &state.keys, &principal.org_id, &id, &pii.full_name).await?;
    ledger::audit(&mut tx, &actor, "customer.created", &id, json!({"externalRef": row.external_ref})).await?;
    let mut stored = row.clone();
    if nik.is_some() {
        let recorded = ledger::record_verification(
            &mut tx,
            &actor,
            &row,
            NewVerification {
                passed: true,
                reasons: vec!["nik_valid".into()],
                details: Details::NikFormat(NikFormatDetails {
                    source: NikSource::CustomerCreate,
                    ktp_bundle_id: None,
                }),
            },
            policy,
        )
        .await?;
        stored.tier = recorded.tier.as_str().to_string();
    }
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(CustomerEnvelope { customer: CustomerView::new(&stored, pii) })).into_response())
}

fn existing_customer(state: &AppState, existing: &CustomerRow) -> ApiResult<Response> {
    if existing.erased_at.is_some() {
        return Err(ApiError::gone("the customer with this externalRef was erased"));
    }
    let pii = open_pii(&state.keys, existing)?;
    Ok((StatusCode::OK, Json(CustomerEnvelope { customer: CustomerView::new(existing, pii) })).into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListCustomers {
    limit: Option<String>,
    cursor: Option<String>,
    tier: Option<String>,
    external_ref: Option<String>,
    nik: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    created_from: Option<String>,
    created_to: Option<String>,
}

#[utoipa::path(get, path = "/api/customers", tag = "customers", params(ListCustomers), responses((status = 200, description = "a page of customers", body = ListView<CustomerView>), crate::error::ErrorResponse))]
pub async fn list(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(query): ApiQuery<ListCustomers>,
) -> ApiResult<Json<ListView<CustomerView>>> {
    let principal = auth.require(Scope::Public)?;
    let page = PageQuery { limit: query.limit, cursor: query.cursor }.page()?;
    if let Some(tier) = &query.tier {
        Tier::parse(tier).ok_or_else(|| ApiError::invalid_field("tier", "must be none, basic, standard or premium"))?;
    }
    let index = &state.keys.blind_index;
    let filter = CustomerFilter {
        tier: query.tier,
        external_ref: query.external_ref,
        nik_index: query.nik.as_deref().map(validate::nik_text).transpose()?.map(|n| index.index("nik", &n)),
        email_index: query.email.as_deref().map(validate::email).transpose()?.map(|e| index.index("email", &e)),
        phone_index: query.phone.as_deref().map(validate::phone).transpose()?.map(|p| index.index("phone", &p)),
        created_from: timestamp_param("createdFrom", query.created_from.as_deref())?,
        created_to: timestamp_param("createdTo", query.created_to.as_deref())?,
    };
    let mut conn = state.store.reader().acquire().await?;
    let (rows, next_cursor) = customers::list(&mut conn, &principal.org_id, &filter, &page).await?;
    let data = rows
        .iter()
        .map(|row| open_pii(&state.keys, row).map(|pii| CustomerView::new(row, pii)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(ListView { data, next_cursor }))
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerProfile {
    #[serde(flatten)]
    customer: CustomerView,
    verifications: Vec<VerificationView>,
    enrollment_count: i64,
}

/// `{"customer": {...}}` with the history.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ProfileEnvelope {
    customer: CustomerProfile,
}

/// `POST .../erase`'s answer: what the erasure removed, and when.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErasureEnvelope {
    erasure: ErasureView,
}

#[utoipa::path(get, path = "/api/identity/customers/{id}", tag = "customers", params(("id" = String, Path, description = "customer id (cus_...)")), responses((status = 200, description = "the customer with its verification history and enrollment count", body = ProfileEnvelope), crate::error::ErrorResponse))]
pub async fn profile(
    State(state): State<AppState>,
    auth: Auth,
    Path(customer_id): Path<String>,
) -> ApiResult<Json<ProfileEnvelope>> {
    let principal = auth.require(Scope::Public)?;
    let mut conn = state.store.reader().acquire().await?;
    let row = load_customer(&mut conn, &principal.org_id, &customer_id).await?;
    let pii = open_pii(&state.keys, &row)?;
    let mut history = verifications::history(&mut conn, &principal.org_id, &row.id).await?;
    history.reverse();
    let enrollment_count = customers::enrollment_count(&mut conn, &principal.org_id, &row.id).await?;
    let profile = CustomerProfile {
        customer: CustomerView::new(&row, pii),
        verifications: history.iter().map(VerificationView::from).collect(),
        enrollment_count,
    };
    Ok(Json(ProfileEnvelope { customer: profile }))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EraseRequest {
    /// Why (e.g. "customer request 2026-11-20, ticket 4411"); kept in the audit entry, so it
    /// must not itself hold personal data.
    reason: Option<String>,
}

/// UU PDP erasure (SPEC §8): irreversible. The customer's data key is destroyed and every
/// personal field, image, embedding and kept answer is deleted or cleared, in one
/// transaction with its audit entry and the `customer.erased` event. Later reads answer 410.
#[utoipa::path(post, path = "/api/identity/customers/{id}/erase", tag = "customers", params(("id" = String, Path, description = "customer id (cus_...)")), request_body(content = Option<EraseRequest>, content_type = "application/json"), responses((status = 200, description = "what was removed", body = ErasureEnvelope), crate::error::ErrorResponse))]
pub async fn erase(
    State(state): State<AppState>,
    auth: Auth,
    Path(customer_id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<ErasureEnvelope>> {
    let principal = auth.require(Scope::Admin)?;
    let request: EraseRequest =
        if body.iter().all(u8::is_ascii_whitespace) { EraseRequest::default() } else { parse_json(&body)? };
    let actor = Actor::from_principal(principal);
    Ok(Json(ErasureEnvelope { erasure: erasure::erase(&state, &actor, &customer_id, request.reason).await? }))
}
