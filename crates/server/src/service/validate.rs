//! Checks and normalisation of personal fields: each failure names its field.

use kenali_core::nik::Gender;
use time::macros::format_description;
use time::Date;

use super::Error;

pub fn full_name(value: &str) -> Result<String, Error> {
    let name = value.trim();
    if name.is_empty() {
        return Err(Error::invalid_field("fullName", "must not be empty"));
    }
    if name.chars().count() > 200 {
        return Err(Error::invalid_field("fullName", "must be at most 200 characters"));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::invalid_field("fullName", "must not contain control characters"));
    }
    Ok(name.to_string())
}

/// Lower-cased and trimmed; one `@`, a dotted domain, no spaces.
pub fn email(value: &str) -> Result<String, Error> {
    let email = value.trim().to_lowercase();
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if valid {
        Ok(email)
    } else {
        Err(Error::invalid_field("email", "is not an email address"))
    }
}

/// E.164 form: `08...` (Indonesian national) becomes `+628...`; spaces, dashes, dots and
/// parentheses are dropped; 8 to 15 digits.
pub fn phone(value: &str) -> Result<String, Error> {
    let compact: String = value.trim().chars().filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')')).collect();
    let digits = if let Some(rest) = compact.strip_prefix('+') {
        rest.to_string()
    } else if let Some(rest) = compact.strip_prefix('0') {
        format!("62{rest}")
    } else {
        compact.clone()
    };
    if (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0') {
        Ok(format!("+{digits}"))
    } else {
        Err(Error::invalid_field("phone", "is not a phone number (use +62... or 08...)"))
    }
}

pub fn date(field: &str, value: &str) -> Result<Date, Error> {
    Date::parse(value.trim(), format_description!("[year]-[month]-[day]"))
        .map_err(|_| Error::invalid_field(field, "must be a real date written YYYY-MM-DD"))
}

pub fn date_of_birth(value: &str) -> Result<Date, Error> {
    let dob = date("dateOfBirth", value)?;
    let today = time::OffsetDateTime::now_utc().date();
    if dob > today || dob.year() < 1900 {
        return Err(Error::invalid_field("dateOfBirth", "must be between 1900-01-01 and today"));
    }
    Ok(dob)
}

pub fn gender(value: &str) -> Result<Gender, Error> {
    match value.trim().to_ascii_lowercase().as_str() {
        "male" => Ok(Gender::Male),
        "female" => Ok(Gender::Female),
        _ => Err(Error::invalid_field("gender", "must be `male` or `female`")),
    }
}

/// An opaque caller reference (externalRef, externalId): 1 to 128 printable characters.
pub fn reference(field: &str, value: &str) -> Result<String, Error> {
    if value.is_empty() || value.chars().count() > 128 || value.chars().any(char::is_control) {
        return Err(Error::invalid_field(field, "must be 1 to 128 printable characters"));
    }
    Ok(value.to_string())
}

/// A 16-character string of digits, or the rule it breaks.
pub fn nik_text(value: &str) -> Result<String, Error> {
    let nik = value.trim();
    if nik.len() == 16 && nik.bytes().all(|b| b.is_ascii_digit()) {
        Ok(nik.to_string())
    } else {
        Err(Error::InvalidNik(vec![kenali_core::nik::NikProblem::NotSixteenDigits]))
    }
}

/// An optional RFC 3339 query parameter, normalised to the stored fixed-width form.
pub fn timestamp_param(field: &str, value: Option<&str>) -> Result<Option<String>, Error> {
    value
        .map(|v| {
            kenali_core::time_fmt::parse_timestamp(v)
                .map(kenali_core::time_fmt::format_timestamp)
                .ok_or_else(|| Error::invalid_field(field, "must be an RFC 3339 time, e.g. 2026-05-24T08:15:52Z"))
        })
        .transpose()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn phones_normalise_to_e164() {
        assert_eq!(phone("0812-3456-7890").unwrap(), "+6281234567890");
        assert_eq!(phone("+62 812 3456 7890").unwrap(), "+6281234567890");
        assert!(phone("12").is_err());
        assert!(phone("+62abc").is_err());
    }

    #[test]
    fn emails_are_checked_and_lowercased() {
        assert_eq!(email(" Budi@Example.co.id ").unwrap(), "budi@example.co.id");
        for bad in ["budi", "budi@", "@x.id", "a@b", "a b@c.id", "a@b@c.id"] {
            assert!(email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dates_must_be_real() {
        assert!(date_of_birth("1990-02-30").is_err());
        assert!(date_of_birth("2999-01-01").is_err());
        assert!(date_of_birth("1990-02-28").is_ok());
    }
}
