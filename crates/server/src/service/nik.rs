//! NIK checks as every workflow runs them: the Kemendagri regions, and the date of birth and
//! gender where they are known.

use kenali_core::nik::{validate_nik, NikInfo, NikProblem};
use serde_json::json;

use crate::api::validate;
use crate::error::ApiError;

/// The NIK problems as a 400 whose details list each broken rule.
pub fn nik_error(problems: &[NikProblem]) -> ApiError {
    let details = problems.iter().map(|p| json!({"field": "nik", "code": p.code(), "message": p.message()})).collect();
    let summary = problems.iter().map(|p| p.message()).collect::<Vec<_>>().join("; ");
    ApiError::bad_request("invalid_nik", format!("nik: {summary}")).with_details(details)
}

pub fn current_year() -> i32 {
    time::OffsetDateTime::now_utc().year()
}

/// Checks the NIK against the Kemendagri regions and, when given, the DOB and gender.
pub fn check_nik(
    nik: &str,
    dob: Option<time::Date>,
    gender: Option<kenali_core::nik::Gender>,
) -> Result<(String, NikInfo), ApiError> {
    let nik = validate::nik_text(nik)?;
    let info = validate_nik(&nik, dob, gender, current_year()).map_err(|p| nik_error(&p))?;
    Ok((nik, info))
}
