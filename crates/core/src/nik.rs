//! NIK (Nomor Induk Kependudukan) validation.
//!
//! A NIK is 16 digits:
//!
//! | digits | meaning                                                   |
//! |--------|-----------------------------------------------------------|
//! | 1–2    | province code (Kemendagri)                                |
//! | 3–4    | regency/city code within the province                     |
//! | 5–6    | district (kecamatan) code within the regency/city         |
//! | 7–12   | date of birth `DDMMYY`; women have 40 added to `DD`        |
//! | 13–16  | serial number, never `0000`                               |
//!
//! There is no check digit, so validation checks the structure: the region
//! codes exist, the date of birth is a real calendar date, the serial is not
//! zero, and, where the caller supplies them, the claimed date of birth and
//! gender agree with what the NIK encodes.
//!
//! Region codes come from `data/regions.tsv`, generated from the npm package
//! `idn-area-data` (data under the ODbL 1.0) by
//! `scripts/regions-from-idn-area-data.py`. The list holds the *current*
//! codes only: a NIK issued under a code that has since been retired (for
//! example regencies moved from Papua (91) to the provinces created in 2022,
//! such as Merauke 91.01 → 93.01) is reported as having an unknown regency.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use time::{Date, Month};

/// The embedded region list: `code<TAB>name` lines, `#` comments.
const REGIONS_TSV: &str = include_str!("../data/regions.tsv");

/// Region names keyed by their digits-only code (2, 4 or 6 digits).
fn regions() -> &'static HashMap<&'static str, &'static str> {
    static REGIONS: OnceLock<HashMap<&'static str, &'static str>> = OnceLock::new();
    REGIONS.get_or_init(|| parse_regions(REGIONS_TSV))
}

/// Parses the TSV, skipping comments, blank lines and anything malformed
/// (the tests check that nothing in the shipped file is skipped).
fn parse_regions(tsv: &'static str) -> HashMap<&'static str, &'static str> {
    tsv.lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once('\t'))
        .filter(|(code, name)| is_region_code(code) && !name.is_empty())
        .collect()
}

fn is_region_code(code: &str) -> bool {
    matches!(code.len(), 2 | 4 | 6) && code.bytes().all(|b| b.is_ascii_digit())
}

/// Looks up the name of a province (2 digits), regency/city (4 digits) or
/// district (6 digits) by its digits-only Kemendagri code, e.g. `"32"`,
/// `"3201"`, `"320101"`.
pub fn region_name(code: &str) -> Option<&'static str> {
    if !is_region_code(code) {
        return None;
    }
    regions().get(code).copied()
}

/// Gender as encoded in a NIK.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Gender {
    Male,
    Female,
}

impl Gender {
    /// `"male"` or `"female"`, as in the serde representation.
    pub fn as_str(&self) -> &'static str {
        match self {
            Gender::Male => "male",
            Gender::Female => "female",
        }
    }
}

impl fmt::Display for Gender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The string given to [`Gender::from_str`] is not a recognised gender.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unrecognised gender: expected male/female, L/P or laki-laki/perempuan")]
pub struct ParseGenderError;

impl FromStr for Gender {
    type Err = ParseGenderError;

    /// Accepts, case-insensitively and ignoring surrounding whitespace,
    /// `male`/`female` and the KTP forms `L`/`LAKI-LAKI` and `P`/`PEREMPUAN`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let is = |word: &str| s.eq_ignore_ascii_case(word);
        if is("male") || is("l") || is("laki-laki") {
            Ok(Gender::Male)
        } else if is("female") || is("p") || is("perempuan") {
            Ok(Gender::Female)
        } else {
            Err(ParseGenderError)
        }
    }
}

/// What a valid NIK says about its holder.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NikInfo {
    /// 2 digits, e.g. `"32"`.
    pub province_code: String,
    pub province: String,
    /// 4 digits (province + regency), e.g. `"3201"`.
    pub regency_code: String,
    pub regency: String,
    /// 6 digits (province + regency + district), e.g. `"320101"`.
    pub district_code: String,
    pub district: String,
    /// Serialized as `"YYYY-MM-DD"`.
    #[serde(serialize_with = "serialize_ymd")]
    pub date_of_birth: Date,
    pub gender: Gender,
    /// The last 4 digits.
    pub serial: String,
}

fn serialize_ymd<S: serde::Serializer>(date: &Date, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&format_args!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day()))
}

/// One reason a NIK failed; several may apply at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NikProblem {
    NotSixteenDigits,
    UnknownProvince,
    UnknownRegency,
    UnknownDistrict,
    ImpossibleDate,
    ZeroSerial,
    DateOfBirthMismatch,
    GenderMismatch,
}

impl NikProblem {
    /// A stable snake_case code, e.g. `"unknown_province"`.
    pub fn code(&self) -> &'static str {
        match self {
            NikProblem::NotSixteenDigits => "not_sixteen_digits",
            NikProblem::UnknownProvince => "unknown_province",
            NikProblem::UnknownRegency => "unknown_regency",
            NikProblem::UnknownDistrict => "unknown_district",
            NikProblem::ImpossibleDate => "impossible_date",
            NikProblem::ZeroSerial => "zero_serial",
            NikProblem::DateOfBirthMismatch => "date_of_birth_mismatch",
            NikProblem::GenderMismatch => "gender_mismatch",
        }
    }

    /// A human-readable sentence describing the problem.
    pub fn message(&self) -> String {
        match self {
            NikProblem::NotSixteenDigits => "NIK must be exactly 16 digits",
            NikProblem::UnknownProvince => "NIK digits 1-2 are not a known province code",
            NikProblem::UnknownRegency => "NIK digits 3-4 are not a known regency or city in that province",
            NikProblem::UnknownDistrict => "NIK digits 5-6 are not a known district in that regency or city",
            NikProblem::ImpossibleDate => {
                "NIK digits 7-12 are not a real date of birth (DDMMYY, day plus 40 for women)"
            }
            NikProblem::ZeroSerial => "NIK serial number (digits 13-16) must not be 0000",
            NikProblem::DateOfBirthMismatch => "the date of birth does not match the one encoded in the NIK",
            NikProblem::GenderMismatch => "the gender does not match the one encoded in the NIK",
        }
        .to_owned()
    }
}

impl fmt::Display for NikProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

/// Value of two ASCII digits. Callers have checked that both are digits.
fn two_digits(pair: &[u8]) -> u8 {
    match pair {
        [tens, units] => (tens - b'0') * 10 + (units - b'0'),
        _ => u8::MAX,
    }
}

/// The gender encoded in the `DD` field, when the field is in a range that
/// can encode one (1–31 for men, 41–71 for women).
fn gender_of(dd: u8) -> Option<Gender> {
    match dd {
        1..=31 => Some(Gender::Male),
        41..=71 => Some(Gender::Female),
        _ => None,
    }
}

/// The first year of the century that `reference_year` is in, and the one
/// before, as `i64` so that no `reference_year` can overflow.
fn centuries(reference_year: i32) -> (i64, i64) {
    let reference = i64::from(reference_year);
    let current = reference - reference.rem_euclid(100);
    (current, current - 100)
}

/// Builds a date from an `i64` year, or `None` if it is not a real date.
fn date(year: i64, month: u8, day: u8) -> Option<Date> {
    let year = i32::try_from(year).ok()?;
    let month = Month::try_from(month).ok()?;
    Date::from_calendar_date(year, month, day).ok()
}

/// Validates a NIK and decodes it.
///
/// Surrounding whitespace is ignored; anything else that is not exactly 16
/// ASCII digits (inner spaces, dots, letters, 15 or 17 digits) yields just
/// `[NotSixteenDigits]`. Otherwise every applicable problem is reported; an
/// unknown province is not also reported as an unknown regency/district, nor
/// an unknown regency as an unknown district.
///
/// `reference_year` (callers pass the current year) decides the century of
/// the two-digit year `YY`: years with `YY <= reference_year % 100` fall in
/// `reference_year`'s century, the others in the century before. For
/// reference years 2000–2099 that is: 20YY if `YY <= reference_year % 100`,
/// else 19YY.
///
/// `claimed_dob`, when given, must have the day, month and two-digit year
/// encoded in the NIK, and a year that the century rule allows: the decoded
/// year or the one a century earlier (so a holder aged 100 or more is not
/// rejected). When it matches, it is the `date_of_birth` returned, since it
/// settles the century. `claimed_gender`, when given, must equal the gender
/// encoded in the NIK.
pub fn validate_nik(
    input: &str,
    claimed_dob: Option<Date>,
    claimed_gender: Option<Gender>,
    reference_year: i32,
) -> Result<NikInfo, Vec<NikProblem>> {
    let nik = input.trim();
    if nik.len() != 16 || !nik.bytes().all(|b| b.is_ascii_digit()) {
        return Err(vec![NikProblem::NotSixteenDigits]);
    }
    // All 16 bytes are ASCII digits, so every byte index is a char boundary.
    let bytes = nik.as_bytes();
    let mut problems = Vec::new();

    // Region codes.
    let (province_code, regency_code, district_code) = (&nik[..2], &nik[..4], &nik[..6]);
    let province = region_name(province_code);
    let regency = province.and(region_name(regency_code));
    let district = regency.and(region_name(district_code));
    if province.is_none() {
        problems.push(NikProblem::UnknownProvince);
    } else if regency.is_none() {
        problems.push(NikProblem::UnknownRegency);
    } else if district.is_none() {
        problems.push(NikProblem::UnknownDistrict);
    }

    // Date of birth and gender.
    let (dd, mm, yy) = (two_digits(&bytes[6..8]), two_digits(&bytes[8..10]), two_digits(&bytes[10..12]));
    let gender = gender_of(dd);
    let day = if dd > 40 { dd - 40 } else { dd };
    let (this_century, last_century) = centuries(reference_year);
    let reference_yy = i64::from(reference_year).rem_euclid(100);
    let century = if i64::from(yy) <= reference_yy { this_century } else { last_century };
    let year = century + i64::from(yy);
    let mut dob = gender.and(date(year, mm, day));
    if dob.is_none() {
        problems.push(NikProblem::ImpossibleDate);
    }

    // Serial.
    let serial = &nik[12..];
    if serial == "0000" {
        problems.push(NikProblem::ZeroSerial);
    }

    // Claims.
    if let (Some(claimed), Some(decoded)) = (claimed_dob, dob) {
        let claimed_year = i64::from(claimed.year());
        let same_day = claimed.month() == decoded.month() && claimed.day() == decoded.day();
        if same_day && (claimed_year == year || claimed_year == year - 100) {
            dob = Some(claimed);
        } else {
            problems.push(NikProblem::DateOfBirthMismatch);
        }
    }
    if let (Some(claimed), Some(decoded)) = (claimed_gender, gender) {
        if claimed != decoded {
            problems.push(NikProblem::GenderMismatch);
        }
    }

    // Every `None` below has pushed a problem above, so the fallback arm is
    // only reached with a non-empty list.
    match (problems.is_empty(), province, regency, district, dob, gender) {
        (true, Some(province), Some(regency), Some(district), Some(dob), Some(gender)) => Ok(NikInfo {
            province_code: province_code.to_owned(),
            province: province.to_owned(),
            regency_code: regency_code.to_owned(),
            regency: regency.to_owned(),
            district_code: district_code.to_owned(),
            district: district.to_owned(),
            date_of_birth: dob,
            gender,
            serial: serial.to_owned(),
        }),
        _ => Err(problems),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use time::macros::date;

    const YEAR: i32 = 2025;

    // 32 Jawa Barat, 3201 Kabupaten Bogor, 320101 Cibinong, born 15 May 1990.
    const MALE: &str = "3201011505900001";
    const FEMALE: &str = "3201015505900002";

    fn problems(nik: &str) -> Vec<NikProblem> {
        validate_nik(nik, None, None, YEAR).unwrap_err()
    }

    fn count_by_len(len: usize) -> usize {
        regions().keys().filter(|code| code.len() == len).count()
    }

    #[test]
    fn region_data_has_sensible_counts() {
        let provinces = count_by_len(2);
        let regencies = count_by_len(4);
        let districts = count_by_len(6);
        // idn-area-data 4.0.1: 38 provinces (Papua split of 2022 included),
        // 514 regencies/cities, 7285 districts.
        assert_eq!(provinces, 38);
        assert!(regencies >= 514, "{regencies} regencies");
        assert!(districts > 7000, "{districts} districts");
        assert_eq!(regions().len(), provinces + regencies + districts);
    }

    #[test]
    fn every_data_line_parses_and_has_a_parent() {
        let data_lines: Vec<&str> =
            REGIONS_TSV.lines().filter(|line| !line.is_empty() && !line.starts_with('#')).collect();
        assert_eq!(data_lines.len(), regions().len(), "malformed or duplicate lines");
        for code in regions().keys() {
            if code.len() > 2 {
                let parent = &code[..code.len() - 2];
                assert!(region_name(parent).is_some(), "{code} has no parent {parent}");
            }
        }
        assert!(REGIONS_TSV.starts_with('#'));
        assert!(REGIONS_TSV.contains("idn-area-data"));
    }

    #[test]
    fn region_name_lookups() {
        assert_eq!(region_name("32"), Some("Jawa Barat"));
        assert_eq!(region_name("3201"), Some("Kabupaten Bogor"));
        assert_eq!(region_name("320101"), Some("Cibinong"));
        assert_eq!(region_name("31"), Some("Daerah Khusus Ibukota Jakarta"));
        assert_eq!(region_name("93"), Some("Papua Selatan"));
        assert_eq!(region_name("9301"), Some("Kabupaten Merauke"));
        assert_eq!(region_name("99"), None);
        assert_eq!(region_name("32.01"), None);
        assert_eq!(region_name("320"), None);
        assert_eq!(region_name(""), None);
        assert_eq!(region_name("3201011505900001"), None);
    }

    #[test]
    fn valid_male() {
        let info = validate_nik(MALE, None, None, YEAR).unwrap();
        assert_eq!(
            info,
            NikInfo {
                province_code: "32".into(),
                province: "Jawa Barat".into(),
                regency_code: "3201".into(),
                regency: "Kabupaten Bogor".into(),
                district_code: "320101".into(),
                district: "Cibinong".into(),
                date_of_birth: date!(1990 - 05 - 15),
                gender: Gender::Male,
                serial: "0001".into(),
            }
        );
    }

    #[test]
    fn valid_female() {
        let info = validate_nik(FEMALE, None, None, YEAR).unwrap();
        assert_eq!(info.gender, Gender::Female);
        assert_eq!(info.date_of_birth, date!(1990 - 05 - 15));
        assert_eq!(info.serial, "0002");
        // Female day range edges: 41 = 1st, 71 = 31st.
        let first = validate_nik("3201014101900001", None, None, YEAR).unwrap();
        assert_eq!(first.date_of_birth, date!(1990 - 01 - 01));
        let last = validate_nik("3201017101900001", None, None, YEAR).unwrap();
        assert_eq!(last.date_of_birth, date!(1990 - 01 - 31));
    }

    #[test]
    fn valid_with_matching_claims() {
        let info = validate_nik(FEMALE, Some(date!(1990 - 05 - 15)), Some(Gender::Female), YEAR).unwrap();
        assert_eq!(info.gender, Gender::Female);
        validate_nik(MALE, Some(date!(1990 - 05 - 15)), Some(Gender::Male), YEAR).unwrap();
    }

    #[test]
    fn valid_other_regions() {
        // 31 DKI Jakarta, 3171 Jakarta Pusat, 317101 Gambir.
        let info = validate_nik("3171012001050123", None, None, YEAR).unwrap();
        assert_eq!(info.regency, "Kota Administrasi Jakarta Pusat");
        assert_eq!(info.district, "Gambir");
        assert_eq!(info.date_of_birth, date!(2005 - 01 - 20));
        // A post-2022 Papua Selatan code: 9301 Merauke.
        let merauke = validate_nik("9301010101800001", None, None, YEAR).unwrap();
        assert_eq!(merauke.province, "Papua Selatan");
    }

    #[test]
    fn surrounding_whitespace_is_trimmed() {
        let info = validate_nik("  3201011505900001\n", None, None, YEAR).unwrap();
        assert_eq!(info.serial, "0001");
    }

    #[test]
    fn wrong_length_or_non_digits() {
        let only = vec![NikProblem::NotSixteenDigits];
        assert_eq!(problems("32010115059000011"), only); // 17 digits
        assert_eq!(problems("320101150590001"), only); // 15 digits
        assert_eq!(problems(""), only);
        assert_eq!(problems("   "), only);
        assert_eq!(problems("32010115059000AB"), only); // letters
        assert_eq!(problems("3201 011505900001"), only); // inner space
        assert_eq!(problems("3201 0115 0590 0001"), only);
        assert_eq!(problems("32.01.01.150590.0001"), only); // dots
        assert_eq!(problems("-201011505900001"), only);
        assert_eq!(problems("+201011505900001"), only);
        // Full-width digits are not ASCII digits.
        assert_eq!(problems("３２０１０１１５０５９０００１"), only);
        // Even with bad claims, nothing else is reported.
        assert_eq!(validate_nik("99", Some(date!(2000 - 01 - 01)), Some(Gender::Female), YEAR).unwrap_err(), only);
    }

    #[test]
    fn unknown_province() {
        assert_eq!(problems("9901011505900001"), vec![NikProblem::UnknownProvince]);
        assert_eq!(problems("0001011505900001"), vec![NikProblem::UnknownProvince]);
    }

    #[test]
    fn unknown_regency() {
        assert_eq!(region_name("3299"), None);
        assert_eq!(problems("3299011505900001"), vec![NikProblem::UnknownRegency]);
    }

    #[test]
    fn unknown_district() {
        assert_eq!(region_name("320199"), None);
        assert_eq!(problems("3201991505900001"), vec![NikProblem::UnknownDistrict]);
    }

    #[test]
    fn retired_papua_code_is_unknown_regency() {
        // Merauke was 91.01 before moving to Papua Selatan (93.01) in 2022.
        assert_eq!(problems("9101011505900001"), vec![NikProblem::UnknownRegency]);
    }

    #[test]
    fn impossible_dates() {
        let impossible = vec![NikProblem::ImpossibleDate];
        assert_eq!(problems("3201013102900001"), impossible); // 31 Feb
        assert_eq!(problems("3201017102900001"), impossible); // 31 Feb, female
        assert_eq!(problems("3201013104900001"), impossible); // 31 Apr
        assert_eq!(problems("3201010005900001"), impossible); // day 00
        assert_eq!(problems("3201013205900001"), impossible); // day 32
        assert_eq!(problems("3201014005900001"), impossible); // day 40
        assert_eq!(problems("3201017205900001"), impossible); // day 72 (female 32)
        assert_eq!(problems("3201019905900001"), impossible); // day 99
        assert_eq!(problems("3201011500900001"), impossible); // month 00
        assert_eq!(problems("3201011513900001"), impossible); // month 13
        assert_eq!(problems("3201012902010001"), impossible); // 29 Feb 2001
    }

    #[test]
    fn leap_days() {
        // 29 Feb 2000 and 1996 exist; 29 Feb 1900 does not.
        let y2000 = validate_nik("3201012902000001", None, None, YEAR).unwrap();
        assert_eq!(y2000.date_of_birth, date!(2000 - 02 - 29));
        let y1996 = validate_nik("3201016902960001", None, None, YEAR).unwrap();
        assert_eq!(y1996.date_of_birth, date!(1996 - 02 - 29));
        assert_eq!(y1996.gender, Gender::Female);
        assert_eq!(validate_nik("3201012902000001", None, None, 1999).unwrap_err(), vec![NikProblem::ImpossibleDate]);
    }

    #[test]
    fn female_day_offset() {
        // Day 55 is the 15th for a woman, not an impossible 55th.
        let info = validate_nik(FEMALE, None, None, YEAR).unwrap();
        assert_eq!(info.date_of_birth.day(), 15);
        assert_eq!(info.gender, Gender::Female);
    }

    #[test]
    fn zero_serial() {
        assert_eq!(problems("3201011505900000"), vec![NikProblem::ZeroSerial]);
    }

    #[test]
    fn date_of_birth_mismatch() {
        let err = |dob| validate_nik(MALE, Some(dob), None, YEAR).unwrap_err();
        let mismatch = vec![NikProblem::DateOfBirthMismatch];
        assert_eq!(err(date!(1990 - 05 - 16)), mismatch);
        assert_eq!(err(date!(1990 - 06 - 15)), mismatch);
        assert_eq!(err(date!(1991 - 05 - 15)), mismatch);
        assert_eq!(err(date!(2090 - 05 - 15)), mismatch);
        assert_eq!(err(date!(1790 - 05 - 15)), mismatch);
    }

    #[test]
    fn claimed_dob_settles_the_century() {
        // YY = 25 with reference 2025 decodes as 2025, but a claimed 1925
        // (a holder aged 100) is consistent with the NIK and is returned.
        let nik = "3201010101250001";
        let decoded = validate_nik(nik, None, None, YEAR).unwrap();
        assert_eq!(decoded.date_of_birth, date!(2025 - 01 - 01));
        let claimed = validate_nik(nik, Some(date!(1925 - 01 - 01)), None, YEAR).unwrap();
        assert_eq!(claimed.date_of_birth, date!(1925 - 01 - 01));
    }

    #[test]
    fn gender_mismatch() {
        assert_eq!(validate_nik(MALE, None, Some(Gender::Female), YEAR).unwrap_err(), vec![NikProblem::GenderMismatch]);
        assert_eq!(validate_nik(FEMALE, None, Some(Gender::Male), YEAR).unwrap_err(), vec![NikProblem::GenderMismatch]);
    }

    #[test]
    fn both_claims_mismatch() {
        assert_eq!(
            validate_nik(MALE, Some(date!(1990 - 05 - 14)), Some(Gender::Female), YEAR).unwrap_err(),
            vec![NikProblem::DateOfBirthMismatch, NikProblem::GenderMismatch]
        );
    }

    #[test]
    fn several_problems_at_once() {
        // Unknown district, 31 Feb, zero serial; a claimed gender still
        // compares against the (female) day field.
        assert_eq!(
            validate_nik("3201997102900000", None, Some(Gender::Male), YEAR).unwrap_err(),
            vec![
                NikProblem::UnknownDistrict,
                NikProblem::ImpossibleDate,
                NikProblem::ZeroSerial,
                NikProblem::GenderMismatch,
            ]
        );
        // Unknown province hides regency/district; an impossible date skips
        // the date-of-birth comparison.
        assert_eq!(
            validate_nik("9999993102900000", Some(date!(1990 - 02 - 28)), None, YEAR).unwrap_err(),
            vec![NikProblem::UnknownProvince, NikProblem::ImpossibleDate, NikProblem::ZeroSerial,]
        );
    }

    #[test]
    fn century_rule() {
        let dob = |nik, year| validate_nik(nik, None, None, year).unwrap().date_of_birth;
        // YY = 25: 2025 when the reference year is 2025, 1925 in 2024.
        assert_eq!(dob("3201010101250001", 2025), date!(2025 - 01 - 01));
        assert_eq!(dob("3201010101250001", 2024), date!(1925 - 01 - 01));
        // YY = 00 and 05 are this century; 99 and 26 the last.
        assert_eq!(dob("3201010101000001", 2025), date!(2000 - 01 - 01));
        assert_eq!(dob("3201010101050001", 2025), date!(2005 - 01 - 01));
        assert_eq!(dob("3201010101990001", 2025), date!(1999 - 01 - 01));
        assert_eq!(dob("3201010101260001", 2025), date!(1926 - 01 - 01));
        // The rule follows the reference year's century.
        assert_eq!(dob("3201010101990001", 1999), date!(1999 - 01 - 01));
        assert_eq!(dob("3201010101050001", 2105), date!(2105 - 01 - 01));
        assert_eq!(dob("3201010101060001", 2105), date!(2006 - 01 - 01));
        // Extreme reference years do not panic.
        assert_eq!(validate_nik(MALE, None, None, i32::MAX).unwrap_err(), vec![NikProblem::ImpossibleDate]);
        assert_eq!(validate_nik(MALE, None, None, i32::MIN).unwrap_err(), vec![NikProblem::ImpossibleDate]);
    }

    #[test]
    fn gender_from_str() {
        for s in ["male", "MALE", "Male", "L", "l", "LAKI-LAKI", "laki-laki", " male "] {
            assert_eq!(s.parse::<Gender>(), Ok(Gender::Male), "{s:?}");
        }
        for s in ["female", "FEMALE", "P", "p", "PEREMPUAN", "Perempuan"] {
            assert_eq!(s.parse::<Gender>(), Ok(Gender::Female), "{s:?}");
        }
        for s in ["", "m", "f", "x", "laki", "wanita", "pria", "LP"] {
            assert_eq!(s.parse::<Gender>(), Err(ParseGenderError), "{s:?}");
        }
    }

    #[test]
    fn gender_serde() {
        assert_eq!(serde_json::to_string(&Gender::Male).unwrap(), "\"male\"");
        assert_eq!(serde_json::to_string(&Gender::Female).unwrap(), "\"female\"");
        let g: Gender = serde_json::from_str("\"female\"").unwrap();
        assert_eq!(g, Gender::Female);
        assert_eq!(Gender::Male.to_string(), "male");
    }

    #[test]
    fn nik_info_serializes_camel_case_with_iso_date() {
        let info = validate_nik("3201014101050001", None, None, YEAR).unwrap();
        let json = serde_json::to_value(&info).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "provinceCode": "32",
                "province": "Jawa Barat",
                "regencyCode": "3201",
                "regency": "Kabupaten Bogor",
                "districtCode": "320101",
                "district": "Cibinong",
                "dateOfBirth": "2005-01-01",
                "gender": "female",
                "serial": "0001",
            })
        );
    }

    #[test]
    fn problem_codes_and_messages() {
        let all = [
            (NikProblem::NotSixteenDigits, "not_sixteen_digits"),
            (NikProblem::UnknownProvince, "unknown_province"),
            (NikProblem::UnknownRegency, "unknown_regency"),
            (NikProblem::UnknownDistrict, "unknown_district"),
            (NikProblem::ImpossibleDate, "impossible_date"),
            (NikProblem::ZeroSerial, "zero_serial"),
            (NikProblem::DateOfBirthMismatch, "date_of_birth_mismatch"),
            (NikProblem::GenderMismatch, "gender_mismatch"),
        ];
        for (problem, code) in all {
            assert_eq!(problem.code(), code);
            assert!(!problem.message().is_empty());
            assert_eq!(problem.to_string(), problem.message());
        }
        assert_eq!(NikProblem::NotSixteenDigits.message(), "NIK must be exactly 16 digits");
    }
}
