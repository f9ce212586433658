//! Reading a KTP from OCR lines, and checking its fields (seed 001's table).
//!
//! The card's layout: a header (`PROVINSI …`, then the regency or city), then rows of
//! `label : value` down the left two thirds (the NIK row first, in larger type), and on the
//! right the portrait above the place and date of issue. OCR gives boxes of text; labels and
//! values may come as separate boxes or as one, colons may be fullwidth (normalised by NFKC
//! here), and a label may be misread by a character or two (matched by edit distance).

use serde::Serialize;
use time::{Date, Month};
use unicode_normalization::UnicodeNormalization;

use crate::nik::{validate_nik, Gender};

/// One box of text as the OCR read it, in the rectified card's pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct OcrLine {
    pub text: String,
    pub confidence: f32,
    pub left: f32,
    pub top: f32,
    pub right: f32,
    pub bottom: f32,
}

impl OcrLine {
    fn height(&self) -> f32 {
        (self.bottom - self.top).max(1.0)
    }
}

/// A field's value and the OCR's confidence in it (the least confident box it came from).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reading {
    pub value: String,
    pub confidence: f32,
}

/// The fields read from a card; `None` where the card gave nothing readable. Dates are
/// `YYYY-MM-DD`, gender `male`/`female`; the rest as printed (upper case on a KTP).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KtpReading {
    pub province: Option<Reading>,
    pub regency: Option<Reading>,
    pub nik: Option<Reading>,
    pub full_name: Option<Reading>,
    pub place_of_birth: Option<Reading>,
    pub date_of_birth: Option<Reading>,
    pub gender: Option<Reading>,
    pub blood_type: Option<Reading>,
    pub address: Option<Reading>,
    pub rt_rw: Option<Reading>,
    pub kelurahan: Option<Reading>,
    pub kecamatan: Option<Reading>,
    pub religion: Option<Reading>,
    pub marital_status: Option<Reading>,
    pub occupation: Option<Reading>,
    pub nationality: Option<Reading>,
    pub valid_until: Option<Reading>,
    pub issue_date: Option<Reading>,
}

/// The reading's fields as it serialises them (camelCase), in the card's order: how a page
/// lists what was read, and the fields a vendor's push may carry (`crate::vendor`).
pub const FIELD_NAMES: [&str; 18] = [
    "province",
    "regency",
    "nik",
    "fullName",
    "placeOfBirth",
    "dateOfBirth",
    "gender",
    "bloodType",
    "address",
    "rtRw",
    "kelurahan",
    "kecamatan",
    "religion",
    "maritalStatus",
    "occupation",
    "nationality",
    "validUntil",
    "issueDate",
];

impl KtpReading {
    /// Whether every field was read, each with at least `confidence`.
    pub fn read_confidently(&self, confidence: f32) -> bool {
        let fields = self.fields();
        fields.iter().all(|f| f.as_ref().is_some_and(|r| r.confidence >= confidence))
    }

    /// Every field, in the card's order.
    fn fields(&self) -> [&Option<Reading>; 18] {
        [
            &self.province,
            &self.regency,
            &self.nik,
            &self.full_name,
            &self.place_of_birth,
            &self.date_of_birth,
            &self.gender,
            &self.blood_type,
            &self.address,
            &self.rt_rw,
            &self.kelurahan,
            &self.kecamatan,
            &self.religion,
            &self.marital_status,
            &self.occupation,
            &self.nationality,
            &self.valid_until,
            &self.issue_date,
        ]
    }

    /// How many fields were read.
    pub fn fields_read(&self) -> usize {
        self.fields().iter().filter(|f| f.is_some()).count()
    }
}

/// The labels of the card's rows, as printed, and the field each fills.
const LABELS: [(&str, Field); 13] = [
    ("NIK", Field::Nik),
    ("Nama", Field::FullName),
    ("Tempat/Tgl Lahir", Field::Birth),
    ("Jenis Kelamin", Field::Gender),
    ("Alamat", Field::Address),
    ("RT/RW", Field::RtRw),
    ("Kel/Desa", Field::Kelurahan),
    ("Kecamatan", Field::Kecamatan),
    ("Agama", Field::Religion),
    ("Status Perkawinan", Field::MaritalStatus),
    ("Pekerjaan", Field::Occupation),
    ("Kewarganegaraan", Field::Nationality),
    ("Berlaku Hingga", Field::ValidUntil),
];
const BLOOD_LABEL: &str = "Gol. Darah";
/// Lines starting right of this fraction of the card's width are the portrait column.
const RIGHT_COLUMN: f32 = 0.72;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Nik,
    FullName,
    Birth,
    Gender,
    Address,
    RtRw,
    Kelurahan,
    Kecamatan,
    Religion,
    MaritalStatus,
    Occupation,
    Nationality,
    ValidUntil,
}

fn normalize(text: &str) -> String {
    let text: String = text.nfkc().collect();
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Letters and digits only, lower case: what label matching compares.
fn skeleton(text: &str) -> String {
    text.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// A label's skeleton with the recogniser's usual confusions undone (`rn`/`m`, `vv`/`w`, digits
/// for look-alike letters): labels have no digits, so this only repairs misreads.
fn label_skeleton(text: &str) -> String {
    let mapped: String = skeleton(text)
        .chars()
        .map(|c| match c {
            '0' => 'o',
            '1' => 'l',
            '5' => 's',
            '8' => 'b',
            other => other,
        })
        .collect();
    mapped.replace("rn", "m").replace("vv", "w")
}

/// The label `text` starts with, allowing a misread character per five.
fn match_label(text: &str) -> Option<(Field, usize)> {
    let head = text.split(':').next().unwrap_or(text);
    let head_skeleton = label_skeleton(head);
    if head_skeleton.is_empty() {
        return None;
    }
    LABELS
        .iter()
        .filter_map(|(label, field)| {
            let distance = strsim::levenshtein(&label_skeleton(label), &head_skeleton);
            let allowed = label_skeleton(label).chars().count() / 5;
            (distance <= allowed).then_some((*field, distance))
        })
        .min_by_key(|(_, distance)| *distance)
        .map(|(field, _)| (field, head.len()))
}

/// The value after its colon; the recogniser sometimes reads the colon as a semicolon, or
/// reads a stroke before it (`1:KAWIN`): no KTP value holds a colon, so a stroke-like
/// character just before one is dropped with it.
fn strip_colon(text: &str) -> &str {
    let text = text.trim();
    let stroke_then_colon = text.char_indices().nth(1).filter(|(_, c)| matches!(c, ':' | ';')).and_then(|(i, c)| {
        text[..i].chars().all(|s| matches!(s, '1' | 'l' | 'I' | 'i' | '|' | '!')).then_some(i + c.len_utf8())
    });
    text[stroke_then_colon.unwrap_or(0)..].trim_start_matches([':', ';']).trim()
}

/// `DD-MM-YYYY` (separators `-`, `/` or `.`) as a date.
pub fn parse_card_date(text: &str) -> Option<Date> {
    let digits: Vec<&str> = text.trim().split(['-', '/', '.']).map(str::trim).collect();
    let [day, month, year] = digits.as_slice() else { return None };
    if day.len() > 2 || month.len() > 2 || year.len() != 4 {
        return None;
    }
    let month = Month::try_from(month.parse::<u8>().ok()?).ok()?;
    Date::from_calendar_date(year.parse().ok()?, month, day.parse().ok()?).ok()
}

fn iso(date: Date) -> String {
    format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day())
}

/// Groups lines into rows (tops within half a line height), each left to right.
fn rows(lines: &[OcrLine]) -> Vec<Vec<OcrLine>> {
    let mut sorted: Vec<OcrLine> = lines.to_vec();
    sorted.sort_by(|a, b| a.top.total_cmp(&b.top));
    let mut rows: Vec<Vec<OcrLine>> = Vec::new();
    for line in sorted {
        match rows.last_mut() {
            Some(row) if (line.top - row[0].top).abs() <= 0.5 * line.height().min(row[0].height()) => row.push(line),
            _ => rows.push(vec![line]),
        }
    }
    for row in &mut rows {
        row.sort_by(|a, b| a.left.total_cmp(&b.left));
    }
    rows
}

/// The position, in the card's row order, of the label `text` starts with (0 is `NIK`).
pub fn label_row(text: &str) -> Option<usize> {
    let (field, _) = match_label(&normalize(text))?;
    LABELS.iter().position(|(_, f)| *f == field)
}

/// Reads the fields of a card from its OCR lines; `card_width` is the rectified card's width.
pub fn parse_card(lines: &[OcrLine], card_width: f32) -> KtpReading {
    let mut reading = KtpReading::default();
    let lines: Vec<OcrLine> = lines.iter().map(|l| OcrLine { text: normalize(&l.text), ..l.clone() }).collect();
    let (left_column, right_column): (Vec<OcrLine>, Vec<OcrLine>) =
        lines.into_iter().partition(|l| l.left < RIGHT_COLUMN * card_width);
    let rows = rows(&left_column);
    let mut seen_nik_row = false;
    let mut header: Vec<&OcrLine> = Vec::new();
    for row in &rows {
        let first = &row[0];
        let Some((field, label_len)) = match_label(&first.text) else {
            if !seen_nik_row {
                header.extend(row.iter());
            }
            continue;
        };
        seen_nik_row |= field == Field::Nik;
        // The value: what follows the label in its own box, then the row's other boxes.
        let mut parts: Vec<(String, f32)> = Vec::new();
        let rest = strip_colon(&first.text[label_len.min(first.text.len())..]);
        if !rest.is_empty() {
            parts.push((rest.to_string(), first.confidence));
        }
        parts.extend(row[1..].iter().map(|l| (l.text.clone(), l.confidence)));
        assign(&mut reading, field, parts);
    }
    // Header: "PROVINSI <name>", then the regency or city on the next line.
    if let Some(index) = header.iter().position(|l| skeleton(&l.text).starts_with("provinsi")) {
        let line = header[index];
        let name = line.text.trim().split_once(' ').map(|(_, rest)| rest).unwrap_or("").trim();
        if !name.is_empty() {
            reading.province = Some(Reading { value: name.to_string(), confidence: line.confidence });
        }
        if let Some(next) = header.get(index + 1) {
            reading.regency = Some(Reading { value: next.text.trim().to_string(), confidence: next.confidence });
        }
    }
    // Right column, under the portrait: the place of issue, then the date of issue.
    for line in &right_column {
        if let Some(date) = parse_card_date(&line.text) {
            reading.issue_date = Some(Reading { value: iso(date), confidence: line.confidence });
        }
    }
    reading
}

fn joined(parts: &[(String, f32)]) -> Option<Reading> {
    let text = parts.iter().map(|(t, _)| strip_colon(t)).filter(|t| !t.is_empty()).collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        return None;
    }
    let confidence = parts.iter().map(|(_, c)| *c).fold(1.0, f32::min);
    Some(Reading { value: text, confidence })
}

fn assign(reading: &mut KtpReading, field: Field, parts: Vec<(String, f32)>) {
    match field {
        Field::Nik => {
            reading.nik = joined(&parts).map(|r| Reading { value: r.value.replace(' ', ""), ..r });
        }
        Field::FullName => reading.full_name = joined(&parts),
        Field::Birth => {
            let Some(both) = joined(&parts) else { return };
            // "PLACE, DD-MM-YYYY": the date is the last comma-separated part.
            let (place, date) = both.value.rsplit_once(',').unwrap_or(("", &both.value));
            reading.place_of_birth =
                (!place.trim().is_empty()).then(|| Reading { value: place.trim().into(), confidence: both.confidence });
            reading.date_of_birth =
                parse_card_date(date).map(|d| Reading { value: iso(d), confidence: both.confidence });
        }
        Field::Gender => {
            // The blood type shares the row: "LAKI-LAKI  Gol. Darah : O".
            let text = parts.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>().join(" ");
            let confidence = parts.iter().map(|(_, c)| *c).fold(1.0, f32::min);
            let blood_at = text.to_lowercase().find("gol").or_else(|| text.to_lowercase().find("darah"));
            let (gender_text, blood_text) = match blood_at {
                Some(at) => (&text[..at], Some(&text[at..])),
                None => (text.as_str(), None),
            };
            let gender_word = skeleton(strip_colon(gender_text));
            let gender = if strsim::levenshtein(&gender_word, "lakilaki") <= 2 {
                Some(Gender::Male)
            } else if strsim::levenshtein(&gender_word, "perempuan") <= 2 {
                Some(Gender::Female)
            } else {
                None
            };
            reading.gender = gender.map(|g| Reading { value: g.as_str().into(), confidence });
            if let Some(blood) = blood_text {
                let value =
                    blood.split_once(':').map(|(_, v)| v).unwrap_or(&blood[BLOOD_LABEL.len().min(blood.len())..]);
                // Blood types are letters (A, B, AB, O) or `-`: a zero is the letter O misread.
                // The card always prints a value; a label read with nothing after it held the
                // `-` of an unknown type, a mark too small for the text detector once blurred
                // (the letters are as large as the label's).
                let value = value.trim().replace('0', "O");
                let value = if value.is_empty() { "-".to_string() } else { value };
                reading.blood_type = Some(Reading { value, confidence });
            }
        }
        Field::Address => reading.address = joined(&parts),
        Field::RtRw => reading.rt_rw = joined(&parts).map(|r| Reading { value: r.value.replace(' ', ""), ..r }),
        Field::Kelurahan => reading.kelurahan = joined(&parts),
        Field::Kecamatan => reading.kecamatan = joined(&parts),
        Field::Religion => {
            reading.religion = joined(&parts).map(|r| match canonical_religion(&r.value) {
                Some(religion) => Reading { value: religion.into(), ..r },
                None => r,
            });
        }
        Field::MaritalStatus => reading.marital_status = joined(&parts),
        Field::Occupation => reading.occupation = joined(&parts),
        Field::Nationality => reading.nationality = joined(&parts),
        Field::ValidUntil => {
            reading.valid_until = joined(&parts).map(|r| match parse_card_date(&r.value) {
                Some(date) => Reading { value: iso(date), ..r },
                None => r,
            });
        }
    }
}

/// One field that breaks seed 001's rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldProblem {
    pub field: &'static str,
    pub code: &'static str,
    pub message: String,
}

impl FieldProblem {
    fn new(field: &'static str, code: &'static str, message: impl Into<String>) -> Self {
        Self { field, code, message: message.into() }
    }
}

/// The religions an e-KTP prints; the last, for the followers of native faiths, since 2017.
pub const RELIGIONS: [&str; 7] =
    ["ISLAM", "KRISTEN", "KATOLIK", "HINDU", "BUDDHA", "KONGHUCU", "KEPERCAYAAN TERHADAP TUHAN YME"];
pub const MARITAL_STATUSES: [&str; 4] = ["BELUM KAWIN", "KAWIN", "CERAI HIDUP", "CERAI MATI"];
pub const NATIONALITIES: [&str; 2] = ["WNI", "WNA"];

/// A religion as read, snapped to its spelling in [`RELIGIONS`]; `None` when it is none of them.
/// Compared as letters only, with the recogniser's confusions undone ([`label_skeleton`]:
/// `TUHAN Y.M.E`, `TUHANYME` and `TUHAN YRNE` are `TUHAN YME`), the spelled-out `YANG MAHA ESA`
/// taken for `YME`, and a misread letter per ten allowed: the short names must match exactly,
/// the long one may have two letters wrong.
pub fn canonical_religion(text: &str) -> Option<&'static str> {
    let read = label_skeleton(text).replace("yangmahaesa", "yme");
    RELIGIONS
        .iter()
        .filter_map(|religion| {
            let want = label_skeleton(religion);
            let distance = strsim::levenshtein(&want, &read);
            (distance <= want.chars().count() / 10).then_some((*religion, distance))
        })
        .min_by_key(|(_, distance)| *distance)
        .map(|(religion, _)| religion)
}

/// Latin letters (with the marks Indonesian names use), spaces and `.,'-`.
fn latin_name(name: &str) -> bool {
    !name.trim().is_empty()
        && name.chars().all(|c| c.is_ascii_alphabetic() || " .,'-".contains(c) || ('\u{C0}'..='\u{24F}').contains(&c))
}

/// Seed 001's checks on what was read; missing fields are reported too.
pub fn validate_fields(reading: &KtpReading, reference_year: i32) -> Vec<FieldProblem> {
    let mut problems = Vec::new();
    let value = |r: &Option<Reading>| r.as_ref().map(|r| r.value.clone());
    let date_of_birth = value(&reading.date_of_birth).and_then(|d| {
        let parts: Vec<&str> = d.split('-').collect();
        parse_card_date(&format!("{}-{}-{}", parts.get(2)?, parts.get(1)?, parts.first()?))
    });
    let gender = value(&reading.gender).and_then(|g| g.parse::<Gender>().ok());
    match value(&reading.nik) {
        None => problems.push(FieldProblem::new("nik", "missing", "no NIK was read")),
        Some(nik) => {
            if let Err(nik_problems) = validate_nik(&nik, date_of_birth, gender, reference_year) {
                for problem in nik_problems {
                    problems.push(FieldProblem::new("nik", problem.code(), problem.message()));
                }
            }
        }
    }
    if date_of_birth.is_none() {
        problems.push(FieldProblem::new("dateOfBirth", "invalid_date", "no DD-MM-YYYY date of birth was read"));
    }
    if gender.is_none() {
        problems.push(FieldProblem::new("gender", "invalid_gender", "gender must be LAKI-LAKI or PEREMPUAN"));
    }
    match value(&reading.full_name) {
        Some(name) if latin_name(&name) => {}
        Some(_) => problems.push(FieldProblem::new("fullName", "not_latin", "the name must be in Latin script")),
        None => problems.push(FieldProblem::new("fullName", "missing", "no name was read")),
    }
    let rt_rw_ok = value(&reading.rt_rw).is_some_and(|v| {
        let parts: Vec<&str> = v.split('/').collect();
        parts.len() == 2 && parts.iter().all(|p| p.len() == 3 && p.bytes().all(|b| b.is_ascii_digit()))
    });
    if !rt_rw_ok {
        problems.push(FieldProblem::new("rtRw", "invalid_format", "RT/RW must be NNN/NNN"));
    }
    if value(&reading.religion).is_none_or(|v| canonical_religion(&v).is_none()) {
        problems.push(FieldProblem::new("religion", "not_allowed", format!("must be one of {}", RELIGIONS.join(", "))));
    }
    let enums: [(&'static str, &Option<Reading>, &[&str]); 2] = [
        ("maritalStatus", &reading.marital_status, &MARITAL_STATUSES),
        ("nationality", &reading.nationality, &NATIONALITIES),
    ];
    for (field, read, allowed) in enums {
        if !value(read).is_some_and(|v| allowed.contains(&v.as_str())) {
            problems.push(FieldProblem::new(field, "not_allowed", format!("must be one of {}", allowed.join(", "))));
        }
    }
    let valid_until_ok = value(&reading.valid_until).is_some_and(|v| {
        v == "SEUMUR HIDUP" || time::Date::parse(&v, time::macros::format_description!("[year]-[month]-[day]")).is_ok()
    });
    if !valid_until_ok {
        problems.push(FieldProblem::new("validUntil", "invalid_format", "must be a date or SEUMUR HIDUP"));
    }
    problems
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn field_names_are_the_serialised_keys() {
        let value = serde_json::to_value(KtpReading::default()).unwrap();
        let mut keys: Vec<&str> = value.as_object().unwrap().keys().map(String::as_str).collect();
        let mut names = FIELD_NAMES.to_vec();
        keys.sort_unstable();
        names.sort_unstable();
        assert_eq!(keys, names);
    }

    fn line(text: &str, left: f32, top: f32) -> OcrLine {
        OcrLine { text: text.into(), confidence: 0.95, left, top, right: left + 200.0, bottom: top + 28.0 }
    }

    /// The lines of a card as the OCR returns them, label and value boxes apart, with the
    /// recogniser's habits: fullwidth colons, missing spaces after them, a misread label.
    fn card_lines() -> Vec<OcrLine> {
        vec![
            line("PROVINSI JAWA BARAT", 300.0, 14.0),
            line("KOTA BANDUNG", 380.0, 52.0),
            line("NIK", 28.0, 104.0),
            line(": 3273016204830001", 254.0, 102.0),
            line("Nama", 28.0, 158.0),
            line("：SITI RAHAYU", 262.0, 158.0),
            line("Tempat/Tgl Lahir", 28.0, 194.0),
            line(":BANDUNG, 22-04-1983", 262.0, 194.0),
            line("Jenis Kelamin", 28.0, 230.0),
            line(": PEREMPUAN", 262.0, 230.0),
            line("Gol. Darah : AB", 520.0, 230.0),
            line("Alamat", 28.0, 266.0),
            line(": JL. MERDEKA NO. 10", 262.0, 266.0),
            line("RT/RW", 28.0, 302.0),
            line("：004/011", 262.0, 302.0),
            line("Kel/Desa", 28.0, 338.0),
            line(": CIBIRU", 262.0, 338.0),
            line("Kecamatan", 28.0, 374.0),
            line(": SUKASARI", 262.0, 374.0),
            line("Agarna", 28.0, 410.0),
            line(": ISLAM", 262.0, 410.0),
            line("KOTA BANDUNG", 800.0, 410.0),
            line("Status Perkawinan : KAWIN", 28.0, 446.0),
            line("09-04-2014", 820.0, 436.0),
            line("Pekerjaan", 28.0, 482.0),
            line(":KARYAWAN SWASTA", 262.0, 482.0),
            line("Kewarganegaraan", 28.0, 518.0),
            line(": WNI", 262.0, 518.0),
            line("Berlaku Hingga", 28.0, 554.0),
            line(": SEUMUR HIDUP", 262.0, 554.0),
        ]
    }

    #[test]
    fn every_field_of_a_card_is_read() {
        let reading = parse_card(&card_lines(), 1012.0);
        let value = |r: &Option<Reading>| r.as_ref().map(|r| r.value.as_str()).unwrap_or("<none>").to_string();
        assert_eq!(value(&reading.province), "JAWA BARAT");
        assert_eq!(value(&reading.regency), "KOTA BANDUNG");
        assert_eq!(value(&reading.nik), "3273016204830001");
        assert_eq!(value(&reading.full_name), "SITI RAHAYU");
        assert_eq!(value(&reading.place_of_birth), "BANDUNG");
        assert_eq!(value(&reading.date_of_birth), "1983-04-22");
        assert_eq!(value(&reading.gender), "female");
        assert_eq!(value(&reading.blood_type), "AB");
        assert_eq!(value(&reading.address), "JL. MERDEKA NO. 10");
        assert_eq!(value(&reading.rt_rw), "004/011");
        assert_eq!(value(&reading.kelurahan), "CIBIRU");
        assert_eq!(value(&reading.kecamatan), "SUKASARI");
        assert_eq!(value(&reading.religion), "ISLAM");
        assert_eq!(value(&reading.marital_status), "KAWIN");
        assert_eq!(value(&reading.occupation), "KARYAWAN SWASTA");
        assert_eq!(value(&reading.nationality), "WNI");
        assert_eq!(value(&reading.valid_until), "SEUMUR HIDUP");
        assert_eq!(value(&reading.issue_date), "2014-04-09");
        assert_eq!(validate_fields(&reading, 2026), vec![]);
    }

    #[test]
    fn misread_colons_and_a_zero_for_blood_type_o_are_repaired() {
        let lines: Vec<OcrLine> = card_lines()
            .into_iter()
            .map(|l| match l.text.as_str() {
                "Gol. Darah : AB" => OcrLine { text: "Gol. Darah : 0".into(), ..l },
                t if t.contains("SUKASARI") => OcrLine { text: "; SUKASARI".into(), ..l },
                _ => l,
            })
            .collect();
        let reading = parse_card(&lines, 1012.0);
        assert_eq!(reading.blood_type.unwrap().value, "O");
        // An unknown type's `-` lost to blur: the label alone, with or without its colon.
        for blank in ["Gol. Darah :", "Gol. Darah"] {
            let lines: Vec<OcrLine> = card_lines()
                .into_iter()
                .map(|l| if l.text == "Gol. Darah : AB" { OcrLine { text: blank.into(), ..l } } else { l })
                .collect();
            assert_eq!(parse_card(&lines, 1012.0).blood_type.unwrap().value, "-", "{blank}");
        }
        assert_eq!(reading.kecamatan.unwrap().value, "SUKASARI");
        // A stroke read before the colon goes with it; a value's own first character stays.
        assert_eq!(strip_colon("1:KAWIN"), "KAWIN");
        assert_eq!(strip_colon(": 1A"), "1A");
        assert_eq!(strip_colon("l;ISLAM"), "ISLAM");
        assert_eq!(strip_colon("IS:LAM"), "IS:LAM");
    }

    #[test]
    fn broken_fields_are_named() {
        let mut reading = parse_card(&card_lines(), 1012.0);
        // The NIK says a man born 22-04-1983; the card says a woman.
        reading.nik.as_mut().unwrap().value = "3273012204830001".into();
        reading.rt_rw.as_mut().unwrap().value = "4/11".into();
        reading.religion.as_mut().unwrap().value = "JEDI".into();
        reading.valid_until.as_mut().unwrap().value = "SELAMANYA".into();
        reading.full_name.as_mut().unwrap().value = "سيتي".into();
        let problems = validate_fields(&reading, 2026);
        let fields: Vec<&str> = problems.iter().map(|p| p.field).collect();
        assert_eq!(fields, ["nik", "fullName", "rtRw", "religion", "validUntil"], "{problems:?}");
        assert_eq!(problems[0].code, "gender_mismatch");
    }

    #[test]
    fn the_native_faith_religion_is_read_through_the_recognisers_variants() {
        for (printed, boxes) in [
            ("KEPERCAYAAN TERHADAP TUHAN YME", vec![": KEPERCAYAAN TERHADAP TUHAN YME"]),
            ("in two boxes", vec![": KEPERCAYAAN TERHADAP", "TUHAN YME"]),
            ("with dots", vec![":KEPERCAYAAN TERHADAP TUHAN Y.M.E."]),
            ("spelled out", vec![": KEPERCAYAAN TERHADAP TUHAN YANG MAHA ESA"]),
            ("rn for m", vec![": KEPERCAYAAN TERHADAP TUHAN YRNE"]),
            ("a letter lost", vec![": KEPERCAYAN TERHADAP TUHAN YME"]),
            ("lower case, spaces lost", vec![": kepercayaan terhadaptuhan yme"]),
        ] {
            let mut lines: Vec<OcrLine> = card_lines().into_iter().filter(|l| l.text != ": ISLAM").collect();
            for (i, text) in boxes.iter().enumerate() {
                lines.push(line(text, 262.0 + 300.0 * i as f32, 410.0));
            }
            let reading = parse_card(&lines, 1012.0);
            assert_eq!(reading.religion.as_ref().unwrap().value, "KEPERCAYAAN TERHADAP TUHAN YME", "{printed}");
            assert_eq!(validate_fields(&reading, 2026), vec![], "{printed}");
        }
        // Only the long name tolerates misread letters; a word that is no religion stays as read.
        assert_eq!(canonical_religion("KEPERCAYAAN"), None);
        assert_eq!(canonical_religion("KRISTAN"), None);
        assert_eq!(canonical_religion("Islam"), Some("ISLAM"));
        let mut reading = parse_card(&card_lines(), 1012.0);
        reading.religion.as_mut().unwrap().value = "KEPERCAYAAN".into();
        assert_eq!(validate_fields(&reading, 2026)[0].field, "religion");
    }

    #[test]
    fn card_dates_are_day_month_year() {
        assert_eq!(parse_card_date("22-04-1983").map(iso).as_deref(), Some("1983-04-22"));
        assert_eq!(parse_card_date("01/12/2020").map(iso).as_deref(), Some("2020-12-01"));
        assert_eq!(parse_card_date("31-02-2020"), None);
        assert_eq!(parse_card_date("SEUMUR HIDUP"), None);
    }
}
