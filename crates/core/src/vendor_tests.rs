use serde_json::json;

use super::*;

const KEY: [u8; KEY_LEN] = [7; KEY_LEN];
const IV: [u8; IV_LEN] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];

fn ditto_payload() -> Value {
    json!({
        "submissionId": "sub-001",
        "timestamp": "2026-12-07T04:00:00Z",
        "user": {"userId": "user-42", "mobileAppId": "app.example"},
        "document": {
            "type": "KTP",
            "fields": {
                "nik": "3201015503920002", "name": "SITI AMINAH", "birthPlace": "BOGOR",
                "birthDate": "15-03-1992", "gender": "PEREMPUAN", "address": "JL. MAWAR NO. 1",
                "rtRw": "001/002", "village": "GAMBIR", "district": "GAMBIR", "religion": "ISLAM",
                "maritalStatus": "KAWIN", "occupation": "KARYAWAN SWASTA", "nationality": "WNI",
                "validUntil": "SEUMUR HIDUP"
            },
            "idPhoto": "aWQ=",
            "sourceComparisons": [{"field": "nik", "source": "DUKCAPIL", "match": true}]
        },
        "liveness": {"selfieImage": "c2VsZmll", "score": 97.5},
        "faceMatch": {"score": 0.91}
    })
}

#[test]
fn an_envelope_opens_only_with_its_key_integration_and_direction() {
    let sealed = seal_envelope(&KEY, "vk_1", IV, br#"{"a":1}"#, Direction::Push, "int_a");
    assert_eq!(open_envelope(&KEY, &sealed, Direction::Push, "int_a").unwrap(), br#"{"a":1}"#);
    assert_eq!(envelope_iv(&sealed).unwrap(), IV);
    assert_eq!(open_envelope(&[8; KEY_LEN], &sealed, Direction::Push, "int_a"), Err(EnvelopeError::Decrypt));
    assert_eq!(open_envelope(&KEY, &sealed, Direction::Push, "int_b"), Err(EnvelopeError::Decrypt));
    assert_eq!(open_envelope(&KEY, &sealed, Direction::Confirmation, "int_a"), Err(EnvelopeError::Decrypt));
    let mut tampered = sealed.clone();
    let mut bytes = STANDARD.decode(&tampered.ciphertext).unwrap();
    bytes[0] ^= 1;
    tampered.ciphertext = STANDARD.encode(bytes);
    assert_eq!(open_envelope(&KEY, &tampered, Direction::Push, "int_a"), Err(EnvelopeError::Decrypt));
    let mut short_tag = sealed.clone();
    short_tag.tag = STANDARD.encode([0u8; 8]);
    assert_eq!(open_envelope(&KEY, &short_tag, Direction::Push, "int_a"), Err(EnvelopeError::TagLength));
    let mut long_iv = sealed.clone();
    long_iv.iv = STANDARD.encode([0u8; 16]);
    assert_eq!(open_envelope(&KEY, &long_iv, Direction::Push, "int_a"), Err(EnvelopeError::IvLength));
    let mut not_base64 = sealed;
    not_base64.ciphertext = "not base64!".into();
    assert_eq!(open_envelope(&KEY, &not_base64, Direction::Push, "int_a"), Err(EnvelopeError::Encoding("ciphertext")));
}

#[test]
fn the_envelope_is_plain_aes_gcm_over_the_documented_associated_data() {
    // What a sender in another language does: AES-256-GCM(key, iv, plaintext, aad), the tag
    // being the last 16 bytes of the output.
    let aad = associated_data(Direction::Push, "int_a");
    assert_eq!(aad, "kenali/vendor-kyc/v1/push/int_a");
    let mut output = Aes256Gcm::new((&KEY).into())
        .encrypt(Nonce::from_slice(&IV), Payload { msg: b"hello", aad: aad.as_bytes() })
        .unwrap();
    let tag = output.split_off(output.len() - TAG_LEN);
    let envelope = Envelope {
        key_id: "vk_1".into(),
        iv: STANDARD.encode(IV),
        ciphertext: STANDARD.encode(output),
        tag: STANDARD.encode(tag),
    };
    assert_eq!(open_envelope(&KEY, &envelope, Direction::Push, "int_a").unwrap(), b"hello");
}

#[test]
fn the_ditto_mapping_reads_every_field_of_a_ditto_payload() {
    let mapping = FieldMapping::ditto_v3();
    assert!(mapping.problems().is_empty(), "{:?}", mapping.problems());
    let kyc = mapping.apply(&ditto_payload()).unwrap();
    assert_eq!(kyc.submission_id, "sub-001");
    assert_eq!(kyc.external_ref.as_deref(), Some("user-42"));
    assert_eq!(kyc.fields["nik"], "3201015503920002");
    assert_eq!(kyc.fields["fullName"], "SITI AMINAH");
    assert_eq!(kyc.fields.len(), 14);
    assert_eq!(kyc.selfie_image.as_deref(), Some("c2VsZmll"));
    assert_eq!(kyc.id_photo.as_deref(), Some("aWQ="));
    assert_eq!(kyc.liveness_score.map(VendorKyc::unit_score), Some(0.975));
    assert_eq!(kyc.match_score, Some(0.91));
    assert_eq!(
        kyc.comparisons,
        vec![SourceComparison { field: "nik".into(), source: "DUKCAPIL".into(), matched: true }]
    );
}

#[test]
fn a_mapped_path_absent_from_the_payload_or_of_the_wrong_type_is_named() {
    let mapping = FieldMapping::ditto_v3();
    let mut payload = ditto_payload();
    payload["document"]["fields"].as_object_mut().unwrap().remove("occupation");
    payload["faceMatch"]["score"] = json!("high");
    let problems = mapping.apply(&payload).unwrap_err();
    let targets: Vec<&str> = problems.iter().map(|p| p.target.as_str()).collect();
    assert_eq!(targets, ["matchScore", "document.occupation"], "{problems:?}");
    assert_eq!(problems[1].pointer, "/document/fields/occupation");
    // A null is "sent nothing", not a renamed field.
    let mut payload = ditto_payload();
    payload["document"]["fields"]["occupation"] = Value::Null;
    assert!(!mapping.apply(&payload).unwrap().fields.contains_key("occupation"));
    // The submission id and the NIK cannot be empty.
    let mut payload = ditto_payload();
    payload["document"]["fields"]["nik"] = json!(" ");
    assert_eq!(mapping.apply(&payload).unwrap_err()[0].target, "document.nik");
    let mut payload = ditto_payload();
    payload["submissionId"] = json!("");
    assert_eq!(mapping.apply(&payload).unwrap_err()[0].target, "submissionId");
    let mut payload = ditto_payload();
    payload["document"]["sourceComparisons"] = json!([{"field": "nik"}]);
    assert_eq!(mapping.apply(&payload).unwrap_err()[0].pointer, "/document/sourceComparisons/0");
}

#[test]
fn a_mapping_names_card_fields_with_pointers_and_always_the_nik() {
    let mut mapping = FieldMapping::ditto_v3();
    mapping.document.remove("nik");
    mapping.document.insert("shoeSize".into(), "/x".into());
    mapping.selfie_image = Some("liveness.selfie".into());
    let fields: Vec<String> = mapping.problems().into_iter().map(|(field, _)| field).collect();
    assert_eq!(fields, ["selfieImage", "document.shoeSize", "document.nik"]);
}

#[test]
fn a_push_passes_only_when_every_check_kenali_made_agrees() {
    let clean = OwnChecks { face_match: Some(true), selfie_live: Some(true), ..OwnChecks::default() };
    assert_eq!(judge(&clean), (VendorVerdict::Passed, vec!["vendor_kyc_verified".to_string()]));
    // Checks Kenali could not make (no images sent) do not fail a push.
    assert_eq!(judge(&OwnChecks::default()).0, VendorVerdict::Passed);
    let cases: [(OwnChecks, &str); 6] = [
        (OwnChecks { nik_date_of_birth_differs: true, ..clean.clone() }, "nik_date_of_birth_mismatch"),
        (OwnChecks { nik_gender_differs: true, ..clean.clone() }, "nik_gender_mismatch"),
        (OwnChecks { face_match: Some(false), ..clean.clone() }, "face_mismatch"),
        (OwnChecks { selfie_live: Some(false), ..clean.clone() }, "selfie_not_live"),
        (OwnChecks { customer_holds_other_nik: true, ..clean.clone() }, "customer_holds_other_nik"),
        (OwnChecks { vendor_mismatches: vec!["fullName".into()], ..clean.clone() }, "vendor_source_mismatch"),
    ];
    for (checks, reason) in cases {
        assert_eq!(judge(&checks), (VendorVerdict::RequiresReview, vec![reason.to_string()]));
    }
}

#[test]
fn the_nik_is_checked_by_its_rules_and_against_the_pushed_birth_date_and_gender() {
    let kyc = FieldMapping::ditto_v3().apply(&ditto_payload()).unwrap();
    let (info, dob_differs, gender_differs) = check_nik(&kyc, 2026).unwrap();
    assert_eq!(info.date_of_birth.to_string(), "1992-03-15");
    assert!(!dob_differs && !gender_differs);
    let with = |field: &str, value: &str| {
        let mut kyc = kyc.clone();
        kyc.fields.insert(field.into(), value.into());
        check_nik(&kyc, 2026)
    };
    assert!(!with("dateOfBirth", "1992-03-15").unwrap().1);
    assert!(!with("dateOfBirth", "15/03/1992").unwrap().1);
    assert!(with("dateOfBirth", "16-03-1992").unwrap().1);
    assert!(!with("gender", "female").unwrap().2);
    assert!(with("gender", "LAKI-LAKI").unwrap().2);
    assert!(matches!(with("gender", "X"), Err(NikRefusal::Claim { field: "gender", .. })));
    assert!(matches!(with("dateOfBirth", "March 1992"), Err(NikRefusal::Claim { field: "dateOfBirth", .. })));
    assert!(matches!(with("nik", "3201010000920002"), Err(NikRefusal::Nik(_))));
    assert_eq!(with("nik", "99010155039200"), Err(NikRefusal::Nik(vec![NikProblem::NotSixteenDigits])));
}
