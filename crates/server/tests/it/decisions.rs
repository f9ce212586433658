//! The rules that decide a tier, each proved at the HTTP level on every database (SPEC §3):
//! a caller's own image never lifts the tier, premium needs Dukcapil by default and a later
//! verdict's photo is matched against the step-up selfie, an invalid verdict enrolls nothing,
//! and an approved review credits only what its subject proves.

use reqwest::StatusCode;
use serde_json::{json, Value};

use kenali_testkit::{b64, challenge_colors, jpeg, lit_frames_of, upright_live_face};

use crate::testkit::{servers, signed_bundle, testdata_b64, TestServer, NIK_MALE};

fn live_photo() -> String {
    b64(&jpeg(&upright_live_face()))
}

async fn customer_with_nik(server: &TestServer, name: &str) -> String {
    let customer = server.create_customer(json!({"fullName": name, "nik": NIK_MALE})).await;
    assert_eq!(customer["tier"], "basic");
    customer["id"].as_str().unwrap().to_string()
}

/// A step-up of the live person; `extra` adds fields such as `referenceImage` or `trigger`.
async fn step_up(server: &TestServer, id: &str, extra: Value) -> Value {
    let challenge = server.face_challenge(id).await;
    let bundle = signed_bundle(&challenge, lit_frames_of(&upright_live_face(), &challenge_colors(&challenge), 0.35));
    let mut body = json!({"customerId": id, "bundle": bundle});
    for (name, value) in extra.as_object().unwrap() {
        body[name] = value.clone();
    }
    let (status, answer) = server.post("/api/identity/auth/step-up", body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

async fn tier(server: &TestServer, id: &str) -> Value {
    let (status, kyc) = server.get(&format!("/api/identity/kyc/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{kyc}");
    kyc["kyc"].clone()
}

async fn enrollment_sources(server: &TestServer, id: &str) -> Vec<Value> {
    let (_, list) = server.get(&format!("/api/identity/face/enrollments?customerId={id}")).await;
    list["data"].as_array().unwrap().iter().map(|e| e["source"].clone()).collect()
}

#[tokio::test]
async fn a_callers_reference_image_decides_one_call_and_never_the_tier() {
    for server in servers().await {
        // Even where any enrolled reference would do for premium.
        let (status, settings) = server
            .request(
                reqwest::Method::PATCH,
                "/api/identity/org/settings",
                Some(&server.key),
                Some(&json!({"premiumRequiresDukcapil": false})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{settings}");
        let id = customer_with_nik(&server, "Own Image").await;
        let (status, _) = server.post("/api/identity/nik/dukcapil", json!({"customerId": id, "valid": true})).await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(tier(&server, &id).await["tier"], "standard");

        // A live step-up matched against the caller's image: allowed, recorded, no tier, no
        // enrollment (a strong pass against a caller's image is not promoted into the pool).
        let answer = step_up(&server, &id, json!({"referenceImage": live_photo(), "trigger": "transfer"})).await;
        assert_eq!(answer["allow"], true, "{answer}");
        assert_eq!(answer["tier"], "standard", "{answer}");
        assert!(answer["match"]["promotedEnrollmentId"].is_null(), "{answer}");
        assert_eq!(enrollment_sources(&server, &id).await, Vec::<Value>::new());

        // The same through /face/match with the customer named.
        let (status, matched) = server
            .post(
                "/api/identity/face/match",
                json!({"customerId": id, "image": live_photo(), "referenceImage": live_photo()}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{matched}");
        assert_eq!(matched["match"]["matched"], true);
        assert_eq!(matched["verification"]["status"], "passed");
        let kyc = tier(&server, &id).await;
        assert_eq!(kyc["tier"], "standard", "{kyc}");
        assert_eq!(
            kyc["missing"],
            json!([{"code": "face_match", "description": "a passed face match against an enrolled reference"}]),
            "{kyc}"
        );

        // Onboarding may enroll its selfie, once, while the customer has no reference...
        let answer = step_up(&server, &id, json!({"referenceImage": live_photo(), "trigger": "onboarding"})).await;
        assert_eq!(answer["allow"], true, "{answer}");
        assert_eq!(answer["tier"], "standard", "the onboarding match itself was against the caller's image");
        assert!(answer["match"]["promotedEnrollmentId"].as_str().is_some(), "{answer}");
        let answer = step_up(&server, &id, json!({"referenceImage": live_photo(), "trigger": "onboarding"})).await;
        assert!(answer["match"]["promotedEnrollmentId"].is_null(), "{answer}");
        assert_eq!(enrollment_sources(&server, &id).await, vec![json!("onboarding_selfie")]);

        // ...and a step-up against that enrolled reference is what counts.
        let answer = step_up(&server, &id, json!({})).await;
        assert_eq!(answer["allow"], true, "{answer}");
        assert_eq!(answer["tier"], "premium", "{answer}");
    }
}

#[tokio::test]
async fn premium_needs_dukcapil_and_a_later_verdict_photo_is_matched_against_the_step_up_selfie() {
    for server in servers().await {
        let (_, settings) = server.get("/api/identity/org/settings").await;
        assert_eq!(settings["settings"]["premiumRequiresDukcapil"], true, "{settings}");

        // Seed 002's order: the onboarding step-up (step 5) before the Dukcapil verdict (step 6).
        let id = customer_with_nik(&server, "Seed Two").await;
        let answer = step_up(&server, &id, json!({"referenceImage": live_photo(), "trigger": "onboarding"})).await;
        assert_eq!(answer["allow"], true, "{answer}");
        assert_eq!(answer["tier"], "basic");
        let step_up_match = answer["verificationIds"][1].clone();
        let (status, verdict) = server
            .post("/api/identity/nik/dukcapil", json!({"customerId": id, "valid": true, "photo": live_photo()}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{verdict}");
        assert_eq!(verdict["faceMatch"]["matched"], true, "{verdict}");
        assert_eq!(verdict["faceMatch"]["probeVerificationId"], step_up_match);
        assert_eq!(verdict["faceMatch"]["verification"]["kind"], "face_match");
        assert_eq!(verdict["tier"], "premium", "{verdict}");
        assert_eq!(verdict["tierEvent"]["to"], "premium");
        assert_eq!(tier(&server, &id).await["tier"], "premium");

        // Someone else's Dukcapil photo: recorded, not matched, standard only.
        let other = server.create_customer(json!({"fullName": "Other Face", "nik": NIK_MALE})).await;
        let other = other["id"].as_str().unwrap().to_string();
        let answer = step_up(&server, &other, json!({"referenceImage": live_photo(), "trigger": "onboarding"})).await;
        assert_eq!(answer["allow"], true, "{answer}");
        let (status, verdict) = server
            .post(
                "/api/identity/nik/dukcapil",
                json!({"customerId": other, "valid": true, "photo": testdata_b64("faces/biden_1.jpg")}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{verdict}");
        assert_eq!(verdict["faceMatch"]["matched"], false, "{verdict}");
        assert_eq!(verdict["tier"], "standard", "{verdict}");

        // Without a passed step-up there is nothing to match: standard, no faceMatch.
        let fresh = customer_with_nik(&server, "No Step Up").await;
        let (_, verdict) = server
            .post("/api/identity/nik/dukcapil", json!({"customerId": fresh, "valid": true, "photo": live_photo()}))
            .await;
        assert!(verdict.get("faceMatch").is_none(), "{verdict}");
        assert_eq!(verdict["tier"], "standard");
    }
}

#[tokio::test]
async fn an_invalid_dukcapil_verdict_keeps_its_photo_sealed_and_enrolls_nothing() {
    for server in servers().await {
        let id = customer_with_nik(&server, "Invalid Verdict").await;
        let (status, verdict) = server
            .post("/api/identity/nik/dukcapil", json!({"customerId": id, "valid": false, "photo": live_photo()}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{verdict}");
        assert_eq!(verdict["verification"]["status"], "failed");
        assert_eq!(verdict["photo"]["sealed"], true, "{verdict}");
        assert!(verdict["faceEnrolment"]["id"].is_null(), "{verdict}");
        assert_eq!(verdict["faceEnrolment"]["reason"], "verdict_invalid");
        assert_eq!(server.count("face_enrollments").await, 0);
        assert_eq!(verdict["tier"], "basic");
        // The invalid verdict's photo gives no reference for a step-up either.
        let answer = step_up(&server, &id, json!({})).await;
        assert_eq!(answer["reasons"], json!(["no_reference"]), "{answer}");
    }
}

/// A dashboard user of org `default`, as `kenali user create` makes one.
async fn analyst(server: &TestServer) -> String {
    use sqlx::Row;
    let org: String = sqlx::query("SELECT id FROM organizations WHERE name = 'default'")
        .fetch_one(server.state.store.reader())
        .await
        .unwrap()
        .try_get("id")
        .unwrap();
    let id = kenali_core::id::new_id(kenali_core::id::IdKind::User);
    let mut conn = server.state.store.write().await.unwrap();
    kenali_server::store::api_keys::insert_user(
        &mut conn,
        &id,
        &org,
        &format!("{id}@example.id"),
        "analyst",
        None,
        &kenali_core::time_fmt::now_timestamp(),
    )
    .await
    .unwrap();
    id
}

#[tokio::test]
async fn an_approved_liveness_review_credits_liveness_and_names_the_analyst() {
    for server in servers().await {
        let id = customer_with_nik(&server, "Blurry").await;
        let challenge = server.face_challenge(&id).await;
        let blurred = image::imageops::blur(&upright_live_face(), 2.0);
        let frames = lit_frames_of(&blurred, &challenge_colors(&challenge), 0.35);
        let (status, answer) = server
            .post("/api/identity/face/liveness", json!({"customerId": id, "bundle": signed_bundle(&challenge, frames)}))
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["liveness"]["fused"], "unclear", "{answer}");
        let (_, queue) = server.get("/api/identity/review-queue").await;
        let item = queue["data"][0]["id"].as_str().unwrap().to_string();
        let path = format!("/api/identity/review-queue/{item}/decision");
        let (status, refused) =
            server.post(&path, json!({"decision": "approve", "reason": "x", "actorUserId": "usr_nobody"})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
        let user = analyst(&server).await;
        let (status, decided) = server
            .post(&path, json!({"decision": "approve", "reason": "blurred but clearly live", "actorUserId": user}))
            .await;
        assert_eq!(status, StatusCode::OK, "{decided}");
        // An approved liveness is liveness, never the document rung.
        assert_eq!(decided["tier"], "basic", "{decided}");
        assert_eq!(decided["verification"]["actorUserId"], user.as_str());
        assert_eq!(decided["reviewItem"]["decidedBy"], user.as_str());
        let (status, _) = server.post("/api/identity/nik/dukcapil", json!({"customerId": id, "valid": true})).await;
        assert_eq!(status, StatusCode::CREATED);
        let kyc = tier(&server, &id).await;
        assert_eq!(kyc["tier"], "standard");
        let met: Vec<_> = kyc["met"].as_array().unwrap().iter().map(|r| r["code"].clone()).collect();
        assert_eq!(met, vec![json!("face_liveness")], "{kyc}");
    }
}

#[tokio::test]
async fn a_failed_analysis_leaves_the_challenge_usable() {
    for server in servers().await {
        let id = customer_with_nik(&server, "Retry").await;
        let (status, _) = server
            .post("/api/identity/nik/dukcapil", json!({"customerId": id, "valid": true, "photo": live_photo()}))
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let challenge = server.face_challenge(&id).await;
        // No face in any frame: refused, and nothing consumed.
        let wall = image::RgbImage::from_fn(640, 480, |x, y| image::Rgb([(x / 3) as u8, (y / 3) as u8, 120]));
        let empty = lit_frames_of(&wall, &challenge_colors(&challenge), 0.35);
        let body = json!({"customerId": id, "bundle": signed_bundle(&challenge, empty)});
        let (status, refused) = server.post("/api/identity/auth/step-up", body).await;
        assert_eq!(
            (status, refused["error"]["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("no_face")),
            "{refused}"
        );
        let frames = lit_frames_of(&upright_live_face(), &challenge_colors(&challenge), 0.35);
        let body = json!({"customerId": id, "bundle": signed_bundle(&challenge, frames)});
        let (status, answer) = server.post("/api/identity/auth/step-up", body).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["allow"], true, "{answer}");
    }
}
