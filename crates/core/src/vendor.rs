//! Vendor KYC pushes (seed 004): a third-party IDV's server posts a finished KYC, encrypted,
//! and Kenali re-verifies what it can. Here: the envelope's format, the declarative mapping from
//! the vendor's JSON to Kenali's fields, and the rule that judges a push from Kenali's own
//! checks. No I/O; the server does the storage and the face models.
//!
//! The envelope is `{keyId, iv, ciphertext, tag}`, each of `iv`, `ciphertext`, `tag` standard
//! base64: AES-256-GCM with a 12-byte IV and a 16-byte tag, and as additional authenticated data
//! the ASCII of `kenali/vendor-kyc/v1/{push|confirmation}/{integrationId}`, so that a body sealed
//! for one integration or one direction opens for no other.

use std::collections::BTreeMap;

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::macros::format_description;
use time::Date;

use crate::nik::{validate_nik, Gender, NikInfo, NikProblem};

/// An integration key's length (AES-256).
pub const KEY_LEN: usize = 32;
/// The IV's length (GCM's 96-bit nonce) and the tag's.
pub const IV_LEN: usize = 12;
pub const TAG_LEN: usize = 16;

/// The encrypted body of a push and of its confirmation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Envelope {
    pub key_id: String,
    pub iv: String,
    pub ciphertext: String,
    pub tag: String,
}

/// Which way an envelope travels: each direction has its own associated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The vendor's push to Kenali.
    Push,
    /// Kenali's answer to it.
    Confirmation,
}

/// Why an envelope could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("`{0}` is not standard base64")]
    Encoding(&'static str),
    #[error("`iv` must be {IV_LEN} bytes")]
    IvLength,
    #[error("`tag` must be {TAG_LEN} bytes")]
    TagLength,
    #[error("the ciphertext does not decrypt under the key: a wrong key, a tampered ciphertext or tag, or another integration's body")]
    Decrypt,
}

/// The additional authenticated data of an envelope for `integration_id`.
pub fn associated_data(direction: Direction, integration_id: &str) -> String {
    let way = match direction {
        Direction::Push => "push",
        Direction::Confirmation => "confirmation",
    };
    format!("kenali/vendor-kyc/v1/{way}/{integration_id}")
}

/// The envelope's IV, decoded (replays are refused by IV).
pub fn envelope_iv(envelope: &Envelope) -> Result<[u8; IV_LEN], EnvelopeError> {
    let iv = STANDARD.decode(&envelope.iv).map_err(|_| EnvelopeError::Encoding("iv"))?;
    iv.try_into().map_err(|_| EnvelopeError::IvLength)
}

/// Decrypts an envelope sealed under `key` for `integration_id` in `direction`.
pub fn open_envelope(
    key: &[u8; KEY_LEN],
    envelope: &Envelope,
    direction: Direction,
    integration_id: &str,
) -> Result<Vec<u8>, EnvelopeError> {
    let iv = envelope_iv(envelope)?;
    let tag = STANDARD.decode(&envelope.tag).map_err(|_| EnvelopeError::Encoding("tag"))?;
    if tag.len() != TAG_LEN {
        return Err(EnvelopeError::TagLength);
    }
    let mut sealed = STANDARD.decode(&envelope.ciphertext).map_err(|_| EnvelopeError::Encoding("ciphertext"))?;
    sealed.extend_from_slice(&tag);
    let aad = associated_data(direction, integration_id);
    Aes256Gcm::new(key.into())
        .decrypt(Nonce::from_slice(&iv), Payload { msg: &sealed, aad: aad.as_bytes() })
        .map_err(|_| EnvelopeError::Decrypt)
}

/// Encrypts `plaintext` under `key` (named `key_id`) with `iv`, which must never repeat under
/// the key: callers draw it from a cryptographic RNG.
pub fn seal_envelope(
    key: &[u8; KEY_LEN],
    key_id: &str,
    iv: [u8; IV_LEN],
    plaintext: &[u8],
    direction: Direction,
    integration_id: &str,
) -> Envelope {
    let aad = associated_data(direction, integration_id);
    let mut sealed = Aes256Gcm::new(key.into())
        .encrypt(Nonce::from_slice(&iv), Payload { msg: plaintext, aad: aad.as_bytes() })
        .unwrap_or_default();
    let tag = sealed.split_off(sealed.len().saturating_sub(TAG_LEN));
    Envelope {
        key_id: key_id.to_string(),
        iv: STANDARD.encode(iv),
        ciphertext: STANDARD.encode(sealed),
        tag: STANDARD.encode(tag),
    }
}

/// Where each of Kenali's fields is in the vendor's JSON: RFC 6901 JSON Pointers. A pointer
/// given here must resolve in every push (a vendor that renamed a field is caught at once, not
/// read as "not sent"); a value of `null` there means the vendor sent nothing for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FieldMapping {
    /// The vendor's id for this submission (required): a repeated id is the same push.
    pub submission_id: String,
    /// When the vendor made the push (RFC 3339); pushes older than the org's window are refused.
    pub submitted_at: Option<String>,
    /// The fintech's own id of the user, Kenali's `externalRef`.
    pub external_ref: Option<String>,
    /// Card fields by name ([`crate::ktp::FIELD_NAMES`]); `nik` is required.
    pub document: BTreeMap<String, String>,
    /// The selfie and the ID photo (a photo of the card, or its portrait alone), each base64
    /// JPEG or PNG.
    pub selfie_image: Option<String>,
    pub id_photo: Option<String>,
    /// The vendor's liveness and face-match scores (numbers, 0–1 or 0–100).
    pub liveness_score: Option<String>,
    pub match_score: Option<String>,
    /// The vendor's per-field comparisons with its sources: an array of
    /// `{field, source, match}` objects (`match` a boolean).
    pub comparisons: Option<String>,
}

impl FieldMapping {
    /// The mapping for the Ditto ID IDV v3 KYC payload (docs/vendor-kyc.md shows it).
    pub fn ditto_v3() -> FieldMapping {
        let document = [
            ("nik", "/document/fields/nik"),
            ("fullName", "/document/fields/name"),
            ("placeOfBirth", "/document/fields/birthPlace"),
            ("dateOfBirth", "/document/fields/birthDate"),
            ("gender", "/document/fields/gender"),
            ("address", "/document/fields/address"),
            ("rtRw", "/document/fields/rtRw"),
            ("kelurahan", "/document/fields/village"),
            ("kecamatan", "/document/fields/district"),
            ("religion", "/document/fields/religion"),
            ("maritalStatus", "/document/fields/maritalStatus"),
            ("occupation", "/document/fields/occupation"),
            ("nationality", "/document/fields/nationality"),
            ("validUntil", "/document/fields/validUntil"),
        ];
        FieldMapping {
            submission_id: "/submissionId".into(),
            submitted_at: Some("/timestamp".into()),
            external_ref: Some("/user/userId".into()),
            document: document.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            selfie_image: Some("/liveness/selfieImage".into()),
            id_photo: Some("/document/idPhoto".into()),
            liveness_score: Some("/liveness/score".into()),
            match_score: Some("/faceMatch/score".into()),
            comparisons: Some("/document/sourceComparisons".into()),
        }
    }

    /// Every problem with the mapping itself, as `(field, message)`.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        let mut check = |field: String, pointer: &str| {
            if !(pointer.is_empty() || pointer.starts_with('/')) || pointer.len() > 512 {
                problems.push((field, "must be a JSON Pointer (RFC 6901): empty or starting with '/'".into()));
            }
        };
        check("submissionId".into(), &self.submission_id);
        for (name, pointer) in self.optional_pointers() {
            if let Some(pointer) = pointer {
                check(name.into(), pointer);
            }
        }
        for (name, pointer) in &self.document {
            check(format!("document.{name}"), pointer);
        }
        for name in self.document.keys() {
            if !crate::ktp::FIELD_NAMES.contains(&name.as_str()) {
                problems.push((
                    format!("document.{name}"),
                    format!("is not a card field; one of {}", crate::ktp::FIELD_NAMES.join(", ")),
                ));
            }
        }
        if !self.document.contains_key("nik") {
            problems.push(("document.nik".into(), "is required: a push is judged by its NIK".into()));
        }
        problems
    }

    fn optional_pointers(&self) -> [(&'static str, Option<&String>); 7] {
        [
            ("submittedAt", self.submitted_at.as_ref()),
            ("externalRef", self.external_ref.as_ref()),
            ("selfieImage", self.selfie_image.as_ref()),
            ("idPhoto", self.id_photo.as_ref()),
            ("livenessScore", self.liveness_score.as_ref()),
            ("matchScore", self.match_score.as_ref()),
            ("comparisons", self.comparisons.as_ref()),
        ]
    }

    /// Reads a vendor's payload through the mapping.
    pub fn apply(&self, payload: &Value) -> Result<VendorKyc, Vec<MappingProblem>> {
        let mut problems = Vec::new();
        let mut read = |target: String, pointer: &str, want: Want| -> Option<Value> {
            match payload.pointer(pointer) {
                None => {
                    problems.push(MappingProblem {
                        target,
                        pointer: pointer.to_string(),
                        problem: "is absent from the payload".into(),
                    });
                    None
                }
                Some(Value::Null) => None,
                Some(value) if want.accepts(value) => Some(value.clone()),
                Some(_) => {
                    problems.push(MappingProblem {
                        target,
                        pointer: pointer.to_string(),
                        problem: format!("is not {}", want.name()),
                    });
                    None
                }
            }
        };
        let text = |value: Option<Value>| match value {
            Some(Value::String(s)) => Some(s),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let number = |value: Option<Value>| value.and_then(|v| v.as_f64());
        let submission_id = text(read("submissionId".into(), &self.submission_id, Want::Text));
        let optional = |read: &mut dyn FnMut(String, &str, Want) -> Option<Value>,
                        name: &str,
                        p: &Option<String>,
                        want| { p.as_ref().and_then(|p| read(name.to_string(), p, want)) };
        let submitted_at = text(optional(&mut read, "submittedAt", &self.submitted_at, Want::Text));
        let external_ref = text(optional(&mut read, "externalRef", &self.external_ref, Want::Text));
        let selfie_image = text(optional(&mut read, "selfieImage", &self.selfie_image, Want::String));
        let id_photo = text(optional(&mut read, "idPhoto", &self.id_photo, Want::String));
        let liveness_score = number(optional(&mut read, "livenessScore", &self.liveness_score, Want::Number));
        let match_score = number(optional(&mut read, "matchScore", &self.match_score, Want::Number));
        let comparisons = optional(&mut read, "comparisons", &self.comparisons, Want::Array);
        let mut fields = BTreeMap::new();
        for (name, pointer) in &self.document {
            if let Some(value) = text(read(format!("document.{name}"), pointer, Want::Text)) {
                let value = value.trim().to_string();
                if !value.is_empty() {
                    fields.insert(name.clone(), value);
                }
            }
        }
        let comparisons = match comparisons {
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| match SourceComparison::read(item) {
                    Some(c) => Some(c),
                    None => {
                        problems.push(MappingProblem {
                            target: "comparisons".into(),
                            pointer: format!("{}/{i}", self.comparisons.as_deref().unwrap_or_default()),
                            problem: "is not an object with a string `field`, a string `source` and a boolean `match`"
                                .into(),
                        });
                        None
                    }
                })
                .collect(),
            _ => Vec::new(),
        };
        if submission_id.as_deref().is_none_or(|s| s.trim().is_empty() || s.len() > 200) && problems.is_empty() {
            problems.push(MappingProblem {
                target: "submissionId".into(),
                pointer: self.submission_id.clone(),
                problem: "must be a non-empty string of at most 200 characters".into(),
            });
        }
        if !fields.contains_key("nik") && problems.is_empty() {
            problems.push(MappingProblem {
                target: "document.nik".into(),
                pointer: self.document.get("nik").cloned().unwrap_or_default(),
                problem: "is empty: a push is judged by its NIK".into(),
            });
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(VendorKyc {
            submission_id: submission_id.unwrap_or_default().trim().to_string(),
            submitted_at,
            external_ref,
            fields,
            selfie_image,
            id_photo,
            liveness_score,
            match_score,
            comparisons,
        })
    }
}

/// What a mapped value must be.
#[derive(Clone, Copy)]
enum Want {
    /// A string, or a number read as its text (an id sent as a number).
    Text,
    String,
    Number,
    Array,
}

impl Want {
    fn accepts(self, value: &Value) -> bool {
        match self {
            Want::Text => value.is_string() || value.is_number(),
            Want::String => value.is_string(),
            Want::Number => value.is_number(),
            Want::Array => value.is_array(),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Want::Text => "a string or a number",
            Want::String => "a string",
            Want::Number => "a number",
            Want::Array => "an array",
        }
    }
}

/// A mapped path the payload does not satisfy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MappingProblem {
    pub target: String,
    pub pointer: String,
    pub problem: String,
}

/// The vendor's comparison of one field with one of its sources.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceComparison {
    pub field: String,
    pub source: String,
    pub matched: bool,
}

impl SourceComparison {
    fn read(item: &Value) -> Option<SourceComparison> {
        Some(SourceComparison {
            field: item.get("field")?.as_str()?.to_string(),
            source: item.get("source")?.as_str()?.to_string(),
            matched: item.get("match")?.as_bool()?,
        })
    }
}

/// A push read through its mapping.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VendorKyc {
    pub submission_id: String,
    pub submitted_at: Option<String>,
    pub external_ref: Option<String>,
    /// Card fields by name, trimmed, empty ones left out.
    pub fields: BTreeMap<String, String>,
    #[serde(skip)]
    pub selfie_image: Option<String>,
    #[serde(skip)]
    pub id_photo: Option<String>,
    pub liveness_score: Option<f64>,
    pub match_score: Option<f64>,
    pub comparisons: Vec<SourceComparison>,
}

impl VendorKyc {
    /// A vendor score on Kenali's 0–1 scale (vendors send 0–1 or 0–100).
    pub fn unit_score(score: f64) -> f64 {
        if score > 1.0 {
            score / 100.0
        } else {
            score
        }
    }
}

/// Why a push's NIK or its claims cannot be judged: the push is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NikRefusal {
    /// The NIK breaks its structure, region or date rules (`crate::nik`).
    Nik(Vec<NikProblem>),
    /// A claimed date of birth or gender that is not written in a known way.
    Claim { field: &'static str, value_hint: &'static str },
}

/// A pushed date: `YYYY-MM-DD`, or `DD-MM-YYYY` / `DD/MM/YYYY` as the KTP prints it.
pub fn claimed_date(text: &str) -> Option<Date> {
    let text = text.trim();
    let iso = format_description!("[year]-[month]-[day]");
    let card = format_description!("[day]-[month]-[year]");
    let slashed = format_description!("[day]/[month]/[year]");
    Date::parse(text, iso).or_else(|_| Date::parse(text, card)).or_else(|_| Date::parse(text, slashed)).ok()
}

/// A pushed gender: as the KTP prints it (`LAKI-LAKI`, `PEREMPUAN`) or in English.
pub fn claimed_gender(text: &str) -> Option<Gender> {
    match text.trim().to_ascii_uppercase().as_str() {
        "LAKI-LAKI" | "LAKI LAKI" | "L" | "MALE" | "M" => Some(Gender::Male),
        "PEREMPUAN" | "P" | "FEMALE" | "F" => Some(Gender::Female),
        _ => None,
    }
}

/// Kenali's checks of the pushed NIK: its own rules (a broken one refuses the push), then the
/// pushed date of birth and gender against it. Returns the NIK's facts and whether the date of
/// birth and the gender disagree with it.
pub fn check_nik(kyc: &VendorKyc, reference_year: i32) -> Result<(NikInfo, bool, bool), NikRefusal> {
    let nik = kyc.fields.get("nik").map(String::as_str).unwrap_or_default();
    let info = validate_nik(nik, None, None, reference_year).map_err(NikRefusal::Nik)?;
    let dob =
        match kyc.fields.get("dateOfBirth") {
            Some(text) => Some(claimed_date(text).ok_or(NikRefusal::Claim {
                field: "dateOfBirth",
                value_hint: "YYYY-MM-DD, DD-MM-YYYY or DD/MM/YYYY",
            })?),
            None => None,
        };
    let gender = match kyc.fields.get("gender") {
        Some(text) => Some(
            claimed_gender(text)
                .ok_or(NikRefusal::Claim { field: "gender", value_hint: "LAKI-LAKI, PEREMPUAN, male or female" })?,
        ),
        None => None,
    };
    let differs = |problem: NikProblem, claims: Result<NikInfo, Vec<NikProblem>>| match claims {
        Ok(_) => false,
        Err(problems) => problems.contains(&problem),
    };
    let dob_differs =
        dob.is_some_and(|d| differs(NikProblem::DateOfBirthMismatch, validate_nik(nik, Some(d), None, reference_year)));
    let gender_differs =
        gender.is_some_and(|g| differs(NikProblem::GenderMismatch, validate_nik(nik, None, Some(g), reference_year)));
    Ok((info, dob_differs, gender_differs))
}

/// Kenali's own checks of a push whose NIK is well formed (a NIK that fails its structure or
/// region checks refuses the push before anything is judged).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OwnChecks {
    /// The NIK disagrees with the pushed date of birth or gender.
    pub nik_date_of_birth_differs: bool,
    pub nik_gender_differs: bool,
    /// Kenali's face match between the pushed selfie and ID photo; `None` when either was not
    /// sent or showed no usable face.
    pub face_match: Option<bool>,
    /// Kenali's passive anti-spoof on the selfie; `None` when no selfie was sent.
    pub selfie_live: Option<bool>,
    /// The customer the push names already holds another NIK.
    pub customer_holds_other_nik: bool,
    /// Fields the vendor itself found to differ from one of its sources.
    pub vendor_mismatches: Vec<String>,
}

/// What Kenali makes of a push.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VendorVerdict {
    /// Every check Kenali could make agrees: the push counts as the document rung.
    Passed,
    /// Kenali disagrees with the vendor somewhere: an analyst sees both sides.
    RequiresReview,
}

/// The verdict on a push and the reasons for it (reason codes, stable for clients).
pub fn judge(checks: &OwnChecks) -> (VendorVerdict, Vec<String>) {
    let mut reasons = Vec::new();
    if checks.nik_date_of_birth_differs {
        reasons.push("nik_date_of_birth_mismatch".to_string());
    }
    if checks.nik_gender_differs {
        reasons.push("nik_gender_mismatch".to_string());
    }
    if checks.face_match == Some(false) {
        reasons.push("face_mismatch".to_string());
    }
    if checks.selfie_live == Some(false) {
        reasons.push("selfie_not_live".to_string());
    }
    if checks.customer_holds_other_nik {
        reasons.push("customer_holds_other_nik".to_string());
    }
    if !checks.vendor_mismatches.is_empty() {
        reasons.push("vendor_source_mismatch".to_string());
    }
    if reasons.is_empty() {
        (VendorVerdict::Passed, vec!["vendor_kyc_verified".to_string()])
    } else {
        (VendorVerdict::RequiresReview, reasons)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
#[path = "vendor_tests.rs"]
mod tests;
