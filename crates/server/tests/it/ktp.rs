//! KTP capture end to end: rendered cards (kenali_testkit::ktp) filmed in a synthetic scene
//! under the flash challenge (kenali_testkit::ktp_scene), read by the real OCR models.

use reqwest::StatusCode;
use serde_json::{json, Value};

use kenali_testkit::ktp::{render_card, render_card_with_retyped_nik, ForgedTypeface, KtpFields};
use kenali_testkit::ktp_scene::{capture_frames, render_card_with_pasted_portrait, Presentation};
use kenali_testkit::{b64, challenge_colors, lit_frames};

use crate::testkit::{servers, signed_bundle, TestServer};

async fn ktp_challenge(server: &TestServer, customer: &str) -> Value {
    let (status, body) = server.post("/api/identity/document/ktp/challenge", json!({"customerId": customer})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["flashChallenge"].clone()
}

async fn capture(server: &TestServer, customer: &str, bundle: Value) -> (StatusCode, Value) {
    server.post("/api/identity/document/ktp/capture", json!({"customerId": customer, "bundle": bundle})).await
}

/// Frames of `card` filmed under the challenge's colours, base64.
fn filmed(card: &image::RgbImage, challenge: &Value, presentation: Presentation) -> Vec<String> {
    capture_frames(card, &challenge_colors(challenge), presentation, 7).iter().map(|f| b64(f)).collect()
}

/// Re-signs `bundle` with `key` after changing it.
fn resign(mut bundle: Value, key: &[u8]) -> Value {
    bundle.as_object_mut().unwrap().remove("signature");
    bundle["signature"] = Value::String(kenali_core::challenge::sign(&bundle, key).unwrap());
    bundle
}

fn voter<'a>(answer: &'a Value, check: &str, name: &str) -> &'a Value {
    answer[check]["voters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("no {name} voter in {answer}"))
}

async fn customer(server: &TestServer, name: &str) -> String {
    server.create_customer(json!({"fullName": name})).await["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn an_original_card_is_read_reaches_standard_and_enrolls_its_portrait() {
    for server in servers().await {
        let id = customer(&server, "Barack Obama").await;
        let truth = KtpFields::sample(11);
        let challenge = ktp_challenge(&server, &id).await;
        assert_eq!(challenge["purpose"], "ktp");
        let card = render_card(&truth, "faces/obama_2.jpg");
        let mut bundle = signed_bundle(&challenge, filmed(&card, &challenge, Presentation::Original));
        bundle["ocrFields"] = json!({"nik": truth.nik, "fullName": truth.full_name});
        let bundle = resign(bundle, challenge["hmacSecret"].as_str().unwrap().as_bytes());
        let (status, answer) = capture(&server, &id, bundle.clone()).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["ktpBundle"]["verdict"], "passed", "{answer}");
        assert_eq!(answer["ktpBundle"]["assuranceTier"], "high");
        assert_eq!(answer["antiSpoof"]["fused"], "live");
        assert_eq!(answer["tamper"]["fused"], "authentic");
        assert_eq!(answer["verification"]["status"], "verified");
        assert!(answer["ktpBundle"]["id"].as_str().unwrap().starts_with("ktpb_"));
        assert_eq!(answer["ktpBundle"]["framesStored"], 5);
        let ocr = &answer["ktpBundle"]["ocr"];
        // Each field as its string (seed 002 reads `ktpBundle.ocr.nik`), confidences beside.
        assert_eq!(ocr["nik"], truth.nik.as_str(), "{ocr}");
        assert_eq!(ocr["fullName"], truth.full_name.as_str());
        assert_eq!(ocr["province"], truth.province.as_str());
        let confidence = &answer["ktpBundle"]["ocrConfidence"];
        let nik_confidence = confidence["nik"].as_f64().unwrap_or_else(|| panic!("no NIK confidence: {answer}"));
        assert!((0.0..=1.0).contains(&nik_confidence), "{confidence}");
        let anti_spoof_voters = [
            "flash_reflectance",
            "specular_check",
            "print_colour",
            "screen_moire",
            "multi_frame_consistency",
            "capture_quality",
        ];
        for name in anti_spoof_voters {
            assert_eq!(voter(&answer, "antiSpoof", name)["passed"], true, "{name}: {answer}");
        }
        for name in ["nik_consistency", "field_format", "ocr_consistency", "photo_substitution", "font_match"] {
            assert_eq!(voter(&answer, "tamper", name)["passed"], true, "{name}: {answer}");
        }
        assert_eq!(answer["faceEnrolment"]["fallbackStub"], false);
        assert_eq!(answer["faceEnrolment"]["modelId"], "qe-face-v3");
        assert_eq!(answer["tier"], "standard");
        assert_eq!(server.count("captures").await, 5);
        let (_, queue) = server.get("/api/identity/review-queue").await;
        assert_eq!(queue["data"], json!([]));
        // The same signed bundle again returns the same ids and writes nothing.
        let rows = [server.count("verifications").await, server.count("ktp_bundles").await];
        let (status, again) = capture(&server, &id, bundle).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(again, answer);
        assert_eq!([server.count("verifications").await, server.count("ktp_bundles").await], rows);

        // A live selfie of the same person matches the card's portrait.
        let (_, face) = server.post("/api/identity/face/flash-challenge", json!({"customerId": id})).await;
        let face = face["flashChallenge"].clone();
        let selfie = signed_bundle(&face, lit_frames("faces/obama_1.jpg", &challenge_colors(&face), 0.35));
        let (status, step_up) =
            server.post("/api/identity/auth/step-up", json!({"customerId": id, "bundle": selfie})).await;
        assert_eq!(status, StatusCode::OK, "{step_up}");
        assert_eq!(step_up["match"]["matched"], true, "{step_up}");
        assert_eq!(step_up["match"]["enrollmentId"], answer["faceEnrolment"]["id"]);
    }
}

/// A customer named `name` whose photocopied KTP (drawn by the test kit) waits in the review
/// queue: the customer's id and the review item's.
pub(crate) async fn photocopied_card_in_review(server: &TestServer, name: &str) -> (String, String) {
    let id = customer(server, name).await;
    let challenge = ktp_challenge(server, &id).await;
    let card = render_card(&KtpFields::sample(12), "faces/obama_2.jpg");
    let bundle = signed_bundle(&challenge, filmed(&card, &challenge, Presentation::Photocopy));
    let (status, answer) = capture(server, &id, bundle).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["ktpBundle"]["verdict"], "requires_review", "{answer}");
    let item = answer["ktpBundle"]["reviewItemId"].as_str().unwrap_or_else(|| panic!("no review item in {answer}"));
    (id, item.to_string())
}

#[tokio::test]
async fn a_photocopy_goes_to_review_and_an_analyst_decides_once() {
    let server = TestServer::start(None).await;
    let id = customer(&server, "Copy Holder").await;
    let challenge = ktp_challenge(&server, &id).await;
    let card = render_card(&KtpFields::sample(12), "faces/obama_2.jpg");
    let bundle = signed_bundle(&challenge, filmed(&card, &challenge, Presentation::Photocopy));
    let (status, answer) = capture(&server, &id, bundle).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["ktpBundle"]["verdict"], "requires_review", "{answer}");
    assert_eq!(answer["ktpBundle"]["assuranceTier"], "low");
    assert_eq!(answer["verification"]["status"], "pending");
    // One tint throughout: a monochrome copy (the laminate's highlight cannot be judged on paper).
    assert_eq!(voter(&answer, "antiSpoof", "print_colour")["passed"], false, "{answer}");
    assert_eq!(voter(&answer, "antiSpoof", "specular_check")["passed"], Value::Null, "{answer}");
    // A low-assurance capture moves no tier (seed 001), not even to basic through its NIK.
    assert_eq!(answer["tier"], "none");
    let (_, kyc) = server.get(&format!("/api/identity/kyc/{id}")).await;
    assert_eq!(kyc["kyc"]["tier"], "none", "{kyc}");
    // The portrait is kept but out of the pool until an analyst decides.
    assert_eq!(answer["faceEnrolment"]["status"], "pending_review", "{answer}");
    let enrollment_status = || async {
        let (_, list) = server.get(&format!("/api/identity/face/enrollments?customerId={id}")).await;
        list["data"][0]["status"].clone()
    };
    assert_eq!(enrollment_status().await, "pending_review");
    let (status, queue) = server.get("/api/identity/review-queue").await;
    assert_eq!(status, StatusCode::OK);
    let items = queue["data"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{queue}");
    let item = &items[0];
    assert_eq!(item["subjectId"], answer["ktpBundle"]["id"]);
    assert!(item["reasons"].as_array().unwrap().contains(&json!("print_colour")));
    let path = format!("/api/identity/review-queue/{}/decision", item["id"].as_str().unwrap());
    let public = server.org_key("default", &[kenali_server::auth::Scope::Public]).await;
    let (status, _) = server.post_as(&public, &path, json!({"decision": "approve", "reason": "x"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, refused) = server.post(&path, json!({"decision": "maybe", "reason": "x"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    let (status, decided) =
        server.post(&path, json!({"decision": "approve", "reason": "original seen at the branch"})).await;
    assert_eq!(status, StatusCode::OK, "{decided}");
    assert_eq!(decided["tier"], "standard");
    assert_eq!(decided["reviewItem"]["status"], "approved");
    assert_eq!(decided["verification"]["kind"], "review_decision");
    assert_eq!(enrollment_status().await, "active");
    let (status, twice) = server.post(&path, json!({"decision": "reject", "reason": "changed my mind"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{twice}");
    let (_, queue) = server.get("/api/identity/review-queue").await;
    assert_eq!(queue["data"], json!([]));
    let (_, decided_items) = server.get("/api/identity/review-queue?status=approved").await;
    assert_eq!(decided_items["data"].as_array().unwrap().len(), 1);
}

/// `card` with the pixels of row `source` copied down over `rows`, across `columns`.
fn carry_row(
    card: &image::RgbImage,
    source: u32,
    columns: std::ops::Range<u32>,
    rows: std::ops::Range<u32>,
) -> image::RgbImage {
    let mut carried = card.clone();
    for y in rows {
        for x in columns.clone() {
            carried.put_pixel(x, y, *card.get_pixel(x, source));
        }
    }
    carried
}

/// `photo_substitution` reads the portrait against the place and date of issue printed under it
/// (the template card's photo spans x 770–980, y 120–400; the place is printed from y 410, the
/// date from y 436): a photo reaching over the place of issue is tampering, and a card with no
/// caption under its portrait gives it nothing to judge, so it abstains and the card passes on
/// the other voters.
#[tokio::test]
async fn the_portrait_is_judged_against_the_caption_under_it() {
    for server in servers().await {
        let id = customer(&server, "Caption").await;
        let truth = KtpFields::sample(14);
        let card = render_card(&truth, "faces/obama_2.jpg");

        // The photo's last rows carried down over the place of issue, as a taller photo would be.
        let covered = carry_row(&card, 396, 770..980, 400..434);
        let challenge = ktp_challenge(&server, &id).await;
        let (status, answer) =
            capture(&server, &id, signed_bundle(&challenge, filmed(&covered, &challenge, Presentation::Original)))
                .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        let portrait = voter(&answer, "tamper", "photo_substitution");
        assert_eq!(portrait["passed"], false, "{answer}");
        assert!(portrait["reason"].as_str().unwrap().contains("covered"), "{portrait}");
        assert_eq!(answer["tamper"]["fused"], "tampered");
        assert_eq!(answer["ktpBundle"]["verdict"], "requires_review", "{answer}");

        // The caption painted out with the paper beside it: nothing to judge the photo against.
        let bare = carry_row(&card, 480, 740..1005, 404..470);
        let challenge = ktp_challenge(&server, &id).await;
        let (status, answer) =
            capture(&server, &id, signed_bundle(&challenge, filmed(&bare, &challenge, Presentation::Original))).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        let portrait = voter(&answer, "tamper", "photo_substitution");
        assert_eq!(portrait["passed"], Value::Null, "{answer}");
        assert!(portrait["reason"].as_str().unwrap().contains("no date of issue"), "{portrait}");
        assert_eq!(answer["tamper"]["fused"], "authentic", "{answer}");
        assert_eq!(answer["ktpBundle"]["verdict"], "passed", "{answer}");
    }
}

#[tokio::test]
async fn a_nik_printed_again_in_another_type_goes_to_review() {
    for server in servers().await {
        let id = customer(&server, "Retyped").await;
        let truth = KtpFields::sample(15);
        for (typeface, reason) in [
            // The card's own face at its regular weight: only the strokes' thickness, measured
            // against the card's ink, tells it from the bold NIK.
            (ForgedTypeface::SansRegular, "strokes are not the template's weight"),
            (ForgedTypeface::MonoBold, "spaced as a monospaced face"),
        ] {
            let card = render_card_with_retyped_nik(&truth, "faces/obama_2.jpg", typeface);
            let challenge = ktp_challenge(&server, &id).await;
            let (status, answer) =
                capture(&server, &id, signed_bundle(&challenge, filmed(&card, &challenge, Presentation::Original)))
                    .await;
            assert_eq!(status, StatusCode::OK, "{answer}");
            assert_eq!(answer["ktpBundle"]["ocr"]["nik"], truth.nik.as_str(), "{typeface:?}: {answer}");
            let font = voter(&answer, "tamper", "font_match");
            assert_eq!(font["passed"], false, "{typeface:?}: {answer}");
            assert!(font["reason"].as_str().unwrap().contains(reason), "{typeface:?}: {font}");
            // A suspicion, not a contradiction: an analyst looks at the card.
            assert_eq!(answer["tamper"]["fused"], "unclear", "{typeface:?}: {answer}");
            assert_eq!(answer["ktpBundle"]["verdict"], "requires_review", "{typeface:?}: {answer}");
        }
    }
}

#[tokio::test]
async fn forged_and_replayed_cards_are_caught() {
    for server in servers().await {
        let id = customer(&server, "Forger").await;
        let truth = KtpFields::sample(13);

        // Someone else's photo glued over the portrait.
        let pasted = render_card_with_pasted_portrait(&truth, "faces/obama_2.jpg", "faces/biden_1.jpg");
        let challenge = ktp_challenge(&server, &id).await;
        let (status, answer) =
            capture(&server, &id, signed_bundle(&challenge, filmed(&pasted, &challenge, Presentation::Original))).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(voter(&answer, "tamper", "photo_substitution")["passed"], false, "{answer}");
        assert_eq!(answer["tamper"]["fused"], "tampered");
        assert_eq!(answer["ktpBundle"]["assuranceTier"], "low");

        // A NIK whose birth date contradicts the printed one, and an SDK that read otherwise.
        let mut forged = truth.clone();
        forged.nik = format!("{}{}", &truth.nik[..6], "010190") + &truth.nik[12..];
        let challenge = ktp_challenge(&server, &id).await;
        let mut bundle = signed_bundle(
            &challenge,
            filmed(&render_card(&forged, "faces/obama_2.jpg"), &challenge, Presentation::Original),
        );
        bundle["ocrFields"] = json!({"nik": truth.nik});
        let bundle = resign(bundle, challenge["hmacSecret"].as_str().unwrap().as_bytes());
        let (status, answer) = capture(&server, &id, bundle).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(voter(&answer, "tamper", "nik_consistency")["passed"], false, "{answer}");
        assert_eq!(voter(&answer, "tamper", "ocr_consistency")["passed"], false, "{answer}");
        assert_eq!(answer["tamper"]["fused"], "tampered");

        // The card shown on a screen and filmed again.
        let challenge = ktp_challenge(&server, &id).await;
        let card = render_card(&truth, "faces/obama_2.jpg");
        let (status, answer) =
            capture(&server, &id, signed_bundle(&challenge, filmed(&card, &challenge, Presentation::ScreenReplay)))
                .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["antiSpoof"]["fused"], "spoof", "{answer}");
        assert_eq!(answer["ktpBundle"]["assuranceTier"], "low");
        // Two independent attack voters failed (the display's moiré and the missing laminate
        // highlight): failed outright, nothing for an analyst, the portrait never a reference.
        let failed_attack_voters: Vec<_> = answer["antiSpoof"]["voters"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| v["passed"] == false && v["role"] == "attack")
            .map(|v| v["name"].clone())
            .collect();
        assert!(failed_attack_voters.len() >= 2, "{answer}");
        assert_eq!(answer["ktpBundle"]["verdict"], "failed", "{answer}");
        assert_eq!(answer["verification"]["status"], "failed");
        assert!(answer["ktpBundle"]["reviewItemId"].is_null());
        assert_eq!(answer["faceEnrolment"]["status"], "rejected");
        // A genuine card, but not the NIK this customer registered with: someone else's card.
        let other = KtpFields::sample(14);
        let registered = server.create_customer(json!({"fullName": "Registered", "nik": other.nik})).await;
        let registered = registered["id"].as_str().unwrap();
        let challenge = ktp_challenge(&server, registered).await;
        let bundle = signed_bundle(&challenge, filmed(&card, &challenge, Presentation::Original));
        let (status, answer) = capture(&server, registered, bundle).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        let mismatch = voter(&answer, "tamper", "customer_nik");
        assert_eq!(mismatch["passed"], false, "{answer}");
        assert_eq!(answer["tamper"]["fused"], "unclear");
        assert_eq!(answer["ktpBundle"]["verdict"], "requires_review");
        let (_, queue) = server.get("/api/identity/review-queue").await;
        assert_eq!(queue["data"].as_array().unwrap().len(), 3, "the failed replay is not queued");
        assert_eq!(server.count("customers").await, 2);
    }
}

/// A PNG that declares `width × height` and holds nothing else of use: the decoder must refuse
/// it from the header, before allocating.
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for byte in bytes {
            crc ^= u32::from(*byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend(width.to_be_bytes());
    ihdr.extend(height.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(13u32.to_be_bytes());
    png.extend(&ihdr);
    png.extend(crc32(&ihdr).to_be_bytes());
    // The decoder reads up to the first image data chunk before it answers with the size.
    let mut idat = b"IDAT".to_vec();
    idat.extend([0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    png.extend(8u32.to_be_bytes());
    png.extend(&idat);
    png.extend(crc32(&idat).to_be_bytes());
    png.extend(0u32.to_be_bytes());
    png.extend(b"IEND");
    png.extend(crc32(b"IEND").to_be_bytes());
    png
}

#[tokio::test]
async fn bad_bundles_are_refused_and_write_nothing() {
    let server = TestServer::start(None).await;
    let id = customer(&server, "Careful").await;
    let card = render_card(&KtpFields::sample(14), "faces/obama_2.jpg");
    let challenge = ktp_challenge(&server, &id).await;
    let frames = filmed(&card, &challenge, Presentation::Original);
    let before =
        (server.count("verifications").await, server.count("captures").await, server.count("ktp_bundles").await);

    let mut tampered = signed_bundle(&challenge, frames.clone());
    tampered["frames"][0] = json!(frames[1]);
    let (status, answer) = capture(&server, &id, tampered).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_signature")));
    let mut unsigned = signed_bundle(&challenge, frames.clone());
    unsigned.as_object_mut().unwrap().remove("signature");
    let (status, _) = capture(&server, &id, unsigned).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, answer) = capture(&server, &id, signed_bundle(&challenge, vec![])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let small = b64(&kenali_testkit::jpeg(&image::RgbImage::from_pixel(64, 64, image::Rgb([9, 9, 9]))));
    let (status, answer) = capture(&server, &id, signed_bundle(&challenge, vec![small; 50])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let (status, answer) =
        capture(&server, &id, signed_bundle(&challenge, vec![b64(b"this is not an image at all")])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    // The checks above spent nothing: the challenge is still good. Too many pixels, in one
    // frame or in the bundle's frames together: 413 from the images' headers, nothing decoded.
    // (A second customer from here: captures are limited to 5 a minute per customer.)
    let id = customer(&server, "Careful Too").await;
    let challenge = ktp_challenge(&server, &id).await;
    let (status, answer) =
        capture(&server, &id, signed_bundle(&challenge, vec![b64(&png_claiming(12000, 12000))])).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("image_too_large")));
    let bomb = vec![b64(&png_claiming(4000, 3000)); 8];
    let (status, answer) = capture(&server, &id, signed_bundle(&challenge, bomb)).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("bundle_too_large")));

    // An expired challenge: the server's clock moves past its 10 s.
    let (status, challenge) =
        server.post("/api/identity/document/ktp/challenge", json!({"customerId": id, "ttlMs": 10000})).await;
    assert_eq!(status, StatusCode::CREATED);
    let challenge = challenge["flashChallenge"].clone();
    server.state.clock.advance(time::Duration::seconds(15));
    let (status, _) = capture(&server, &id, signed_bundle(&challenge, frames.clone())).await;
    assert_eq!(status, StatusCode::GONE);

    // Another org's customer, and an erased one.
    let other = server.org_key("other", &kenali_server::auth::Scope::ALL).await;
    let challenge = ktp_challenge(&server, &id).await;
    let (status, _) = server
        .post_as(
            &other,
            "/api/identity/document/ktp/capture",
            json!({"customerId": id, "bundle": signed_bundle(&challenge, frames.clone())}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    sqlx::query("UPDATE customers SET erased_at = '2026-11-26T00:00:00.000Z' WHERE id = $1")
        .bind(&id)
        .execute(&mut *server.state.store.write().await.unwrap())
        .await
        .unwrap();
    let (status, _) = capture(&server, &id, signed_bundle(&challenge, frames)).await;
    assert_eq!(status, StatusCode::GONE);

    let after =
        (server.count("verifications").await, server.count("captures").await, server.count("ktp_bundles").await);
    assert_eq!(before, after, "a refused capture wrote rows");
}

#[tokio::test]
async fn native_devices_sign_with_derived_keys_until_revoked() {
    let server = TestServer::start(None).await;
    let id = customer(&server, "Native").await;
    let (status, registered) =
        server.post("/api/identity/devices/register", json!({"customerId": id, "platform": "android"})).await;
    assert_eq!(status, StatusCode::CREATED, "{registered}");
    let device = registered["device"]["id"].as_str().unwrap().to_string();
    assert!(device.starts_with("dev_"));
    let secret = registered["secret"].as_str().unwrap().to_string();
    let (status, _) =
        server.post("/api/identity/devices/register", json!({"customerId": id, "platform": "symbian"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let post = |challenge: &Value, key: &[u8], device: &str| {
        let bundle = resign(signed_bundle(challenge, vec![kenali_testkit::testdata_b64("faces/obama_1.jpg")]), key);
        json!({"customerId": id, "bundle": bundle, "hmacKey": device})
    };
    let challenge = ktp_challenge(&server, &id).await;
    let nonce = challenge["nonce"].as_str().unwrap();
    let derived = kenali_core::challenge::device_signing_key(secret.as_bytes(), nonce);
    // A wrong derivation is a bad signature; the right one gets as far as the frames (which
    // show no card: a failed capture).
    let wrong = kenali_core::challenge::device_signing_key(b"qe_dsec_guess", nonce);
    let (status, _) = server.post("/api/identity/document/ktp/capture", post(&challenge, &wrong, &device)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, answer) = server.post("/api/identity/document/ktp/capture", post(&challenge, &derived, &device)).await;
    assert_eq!((status, &answer["ktpBundle"]["verdict"]), (StatusCode::OK, &json!("failed")), "{answer}");

    let (status, revoked) = server.post(&format!("/api/identity/devices/{device}/revoke"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{revoked}");
    assert!(revoked["device"]["revokedAt"].is_string());
    let challenge = ktp_challenge(&server, &id).await;
    let derived = kenali_core::challenge::device_signing_key(secret.as_bytes(), challenge["nonce"].as_str().unwrap());
    let (status, _) = server.post("/api/identity/document/ktp/capture", post(&challenge, &derived, &device)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = server.post(&format!("/api/identity/devices/{device}/revoke"), json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT);
}

/// A native app registers its device with a one-time token its backend minted, without any
/// API key; the device then signs bundles like one registered with the key.
#[tokio::test]
async fn an_app_registers_its_device_with_a_one_time_token_and_no_api_key() {
    for server in servers().await {
        let id = customer(&server, "Native").await;
        let (status, minted) =
            server.post("/api/identity/devices/registration-tokens", json!({"customerId": id})).await;
        assert_eq!(status, StatusCode::CREATED, "{minted}");
        let token = minted["registrationToken"]["token"].as_str().unwrap().to_string();
        assert!(token.starts_with("qe_drt_") && token.len() == 7 + 64, "{token}");
        assert_eq!(minted["registrationToken"]["customerId"], id.as_str());
        let (status, missing) = server
            .post("/api/identity/devices/registration-tokens", json!({"customerId": "cus_01J00000000000000000000000"}))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");

        // The app holds no API key: only the token.
        let app = reqwest::Client::new();
        let register = |token: &str| {
            app.post(format!("{}/api/identity/devices/register-with-token", server.base))
                .json(&json!({"registrationToken": token, "platform": "ios", "label": "iPhone 15"}))
                .send()
        };
        let bad_platform = app
            .post(format!("{}/api/identity/devices/register-with-token", server.base))
            .json(&json!({"registrationToken": token, "platform": "symbian"}))
            .send()
            .await
            .unwrap();
        assert_eq!(bad_platform.status(), StatusCode::BAD_REQUEST, "checked before the token is spent");
        let answer = register(&token).await.unwrap();
        assert_eq!(answer.status(), StatusCode::CREATED);
        let registered: Value = answer.json().await.unwrap();
        let device = registered["device"]["id"].as_str().unwrap().to_string();
        let secret = registered["secret"].as_str().unwrap().to_string();
        assert!(device.starts_with("dev_") && secret.starts_with("qe_dsec_"), "{registered}");
        assert_eq!(registered["device"]["customerId"], id.as_str());

        // Spent, unknown, lapsed: one answer, and nothing registered.
        let devices_before = server.count("devices").await;
        let expired = {
            let (_, minted) = server.post("/api/identity/devices/registration-tokens", json!({"customerId": id})).await;
            let expired = minted["registrationToken"]["token"].as_str().unwrap().to_string();
            sqlx::query("UPDATE device_registration_tokens SET expires_at = '2000-01-01T00:00:00.000000Z' WHERE used_at IS NULL")
                .execute(&mut *server.state.store.write().await.unwrap())
                .await
                .unwrap();
            expired
        };
        let unknown = format!("qe_drt_{}", "0".repeat(64));
        for refused in [token.as_str(), unknown.as_str(), expired.as_str(), "qe_sk_not_a_token"] {
            let answer = register(refused).await.unwrap();
            assert_eq!(answer.status(), StatusCode::UNAUTHORIZED, "{refused}");
            let body: Value = answer.json().await.unwrap();
            assert_eq!(body["error"]["code"], "invalid_registration_token", "{body}");
        }
        assert_eq!(server.count("devices").await, devices_before);
        // Only the token's hash is kept.
        let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM device_registration_tokens WHERE token_hash = $1")
            .bind(&token)
            .fetch_one(&mut *server.state.store.write().await.unwrap())
            .await
            .unwrap();
        assert_eq!(stored, 0);

        // The device signs with keys derived from its secret, as one registered with a key.
        let challenge = ktp_challenge(&server, &id).await;
        let derived =
            kenali_core::challenge::device_signing_key(secret.as_bytes(), challenge["nonce"].as_str().unwrap());
        let bundle =
            resign(signed_bundle(&challenge, vec![kenali_testkit::testdata_b64("faces/obama_1.jpg")]), &derived);
        let (status, answer) = server
            .post("/api/identity/document/ktp/capture", json!({"customerId": id, "bundle": bundle, "hmacKey": device}))
            .await;
        assert_eq!((status, &answer["ktpBundle"]["verdict"]), (StatusCode::OK, &json!("failed")), "{answer}");

        // Audited: who minted the token, and the device it registered, as the actor.
        let minted_by = server.audit_entries("device.registration_token_created").await;
        assert!(minted_by[0]["actor"].as_str().unwrap().starts_with("key_"), "{minted_by:?}");
        let registered = server.audit_entries("device.registered").await;
        assert_eq!(registered[0]["actor"], device.as_str());

        // A token outlives nothing: its customer erased, it registers nothing.
        let (_, minted) = server.post("/api/identity/devices/registration-tokens", json!({"customerId": id})).await;
        let orphan = minted["registrationToken"]["token"].as_str().unwrap().to_string();
        let (status, erased) =
            server.post(&format!("/api/identity/customers/{id}/erase"), json!({"reason": "ticket 77"})).await;
        assert_eq!(status, StatusCode::OK, "{erased}");
        assert_eq!(register(&orphan).await.unwrap().status(), StatusCode::GONE);
        assert_eq!(server.count("devices").await, devices_before);
    }
}

#[tokio::test]
async fn challenges_are_rate_limited_per_customer() {
    let server = TestServer::start(None).await;
    let id = customer(&server, "Eager").await;
    for _ in 0..10 {
        ktp_challenge(&server, &id).await;
    }
    let (status, answer) = server.post("/api/identity/document/ktp/challenge", json!({"customerId": id})).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{answer}");
}

#[tokio::test]
async fn a_capture_without_a_card_is_recorded_as_failed() {
    for server in servers().await {
        let id = customer(&server, "No Card").await;
        let challenge = ktp_challenge(&server, &id).await;
        let desk = kenali_testkit::testdata_b64("faces/obama_1.jpg");
        let (status, answer) = capture(&server, &id, signed_bundle(&challenge, vec![desk.clone()])).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["ktpBundle"]["verdict"], "failed", "{answer}");
        assert_eq!(answer["ktpBundle"]["reasons"], json!(["no_card"]));
        assert_eq!(answer["verification"]["status"], "failed");
        assert!(answer["ktpBundle"]["ocr"]["nik"].is_null());
        assert!(answer["faceEnrolment"].is_null());
        assert_eq!(answer["tier"], "none");
        // Recorded like any capture (seed 001): the verification, the sealed frame, the bundle.
        assert_eq!(server.count("ktp_bundles").await, 1);
        assert_eq!(server.count("captures").await, 1);
        assert_eq!(server.count("face_enrollments").await, 0);
        let (_, queue) = server.get("/api/identity/review-queue").await;
        assert_eq!(queue["data"], json!([]), "nothing for an analyst");
        // The same bundle replays; the challenge is spent for any other.
        let (status, again) = capture(&server, &id, signed_bundle(&challenge, vec![desk])).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(again, answer);
    }
}
