//! NIK checks as every workflow runs them (the Kemendagri regions, and the date of birth and
//! gender where they are known), and `nik/validate`: a NIK check recorded against a customer.

use kenali_core::nik::{validate_nik, NikInfo};
use kenali_core::time_fmt::now_timestamp;
use kenali_core::verification::{Details, NikFormatDetails, NikSource};
use serde::{Deserialize, Serialize};

use super::customers::{load_customer, tier_policy};
use super::{validate, Error, Result};
use crate::ledger::{self, data_key, open_pii, seal_pii, Actor, NewVerification};
use crate::state::AppState;
use crate::store::customers::{self, CustomerRow};
use crate::views::{TierEventView, VerificationView};

pub fn current_year() -> i32 {
    time::OffsetDateTime::now_utc().year()
}

/// Checks the NIK against the Kemendagri regions and, when given, the DOB and gender.
pub fn check_nik(
    nik: &str,
    dob: Option<time::Date>,
    gender: Option<kenali_core::nik::Gender>,
) -> Result<(String, NikInfo)> {
    let nik = validate::nik_text(nik)?;
    let info = validate_nik(&nik, dob, gender, current_year()).map_err(Error::InvalidNik)?;
    Ok((nik, info))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ValidateNik {
    customer_id: String,
    nik: String,
    date_of_birth: Option<String>,
    gender: Option<String>,
    #[allow(dead_code)]
    external_id: Option<String>,
}

/// A broken NIK rule, e.g. `impossible_date`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct NikProblemView {
    code: String,
    message: String,
}

/// The `nik_format` verification recorded (passed, or failed with the rules it broke).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NikChecked {
    verification: VerificationView,
    problems: Vec<NikProblemView>,
    #[schema(value_type = String)]
    tier: kenali_core::tier::Tier,
    tier_event: Option<TierEventView>,
}

/// A malformed NIK (not 16 digits) is refused and writes nothing. A well-formed NIK that
/// breaks a rule (region, date, serial, DOB or gender) is recorded as a failed `nik_format`
/// verification: the failure itself is the record.
pub async fn validate_for_customer(state: &AppState, actor: &Actor, body: ValidateNik) -> Result<NikChecked> {
    let nik = validate::nik_text(&body.nik)?;
    let dob = body.date_of_birth.as_deref().map(validate::date_of_birth).transpose()?;
    let gender = body.gender.as_deref().map(validate::gender).transpose()?;
    let policy = tier_policy(state, &actor.org_id).await?;
    let mut tx = state.store.begin().await?;
    let customer = load_customer(&mut tx, &actor.org_id, &body.customer_id).await?;
    let mut pii = open_pii(&state.keys, &customer)?;
    // What the customer record already says counts as a claim the NIK must agree with.
    let stored_dob = pii.date_of_birth.as_deref().map(|d| validate::date("dateOfBirth", d)).transpose()?;
    let checked = validate_nik(&nik, dob.or(stored_dob), gender.or(pii.gender), current_year());
    let (passed, reasons) = match &checked {
        Ok(_) => (true, vec!["nik_valid".to_string()]),
        Err(problems) => (false, problems.iter().map(|p| p.code().to_string()).collect()),
    };
    if passed {
        match &pii.nik {
            Some(existing) if *existing != nik => {
                return Err(Error::NikConflict("the customer already has a different NIK"));
            }
            Some(_) => {}
            None => {
                pii.nik = Some(nik.clone());
                store_pii(state, &mut tx, &customer, &pii).await?;
            }
        }
    }
    let recorded = ledger::record_verification(
        &mut tx,
        actor,
        &customer,
        NewVerification {
            passed,
            reasons,
            details: Details::NikFormat(NikFormatDetails { source: NikSource::NikValidate, ktp_bundle_id: None }),
        },
        policy,
    )
    .await?;
    tx.commit().await?;
    let problems = checked
        .err()
        .unwrap_or_default()
        .iter()
        .map(|p| NikProblemView { code: p.code().to_string(), message: p.message().to_string() })
        .collect();
    Ok(NikChecked {
        verification: VerificationView::from(&recorded.verification),
        problems,
        tier: recorded.tier,
        tier_event: recorded.tier_event.as_ref().map(TierEventView::from),
    })
}

pub async fn store_pii(
    state: &AppState,
    conn: &mut sqlx::AnyConnection,
    customer: &CustomerRow,
    pii: &ledger::Pii,
) -> Result<()> {
    let key = data_key(&state.keys, customer)?;
    let sealed = seal_pii(&key, &customer.id, pii)?;
    let nik_index = pii.nik.as_deref().map(|n| state.keys.blind_index.index("nik", n));
    customers::update_pii(conn, &customer.id, &sealed, nik_index.as_deref(), &now_timestamp()).await?;
    Ok(())
}
