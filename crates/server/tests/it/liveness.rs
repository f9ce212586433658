use reqwest::StatusCode;
use serde_json::{json, Value};

use kenali_testkit::{b64, challenge_colors, jpeg, lit_frames_of, upright_live_face};

use crate::testkit::{lit_frames, servers, signed_bundle, testdata_b64, TestServer, NIK_MALE};

async fn liveness(server: &TestServer, customer: &str, bundle: Value) -> (StatusCode, Value) {
    server.post("/api/identity/face/liveness", json!({"customerId": customer, "bundle": bundle})).await
}

fn voter<'a>(answer: &'a Value, name: &str) -> Option<&'a Value> {
    answer["liveness"]["voters"].as_array().unwrap().iter().find(|v| v["name"] == name)
}

#[tokio::test]
async fn challenges_are_random_single_use_and_bounded() {
    let server = TestServer::start(None).await;
    let customer = server.create_customer(json!({"fullName": "Ani"})).await;
    let id = customer["id"].as_str().unwrap();
    let challenge = server.face_challenge(id).await;
    assert!(challenge["id"].as_str().unwrap().starts_with("fc_"));
    assert_eq!(challenge["purpose"], "face");
    assert_eq!(challenge["colors"].as_array().unwrap().len(), 5);
    assert!(challenge["hmacSecret"].as_str().unwrap().starts_with("qe_whsec_"));
    let colors = challenge_colors(&challenge);
    assert!(colors.windows(2).all(|w| w[0] != w[1]));
    for (body, field) in [
        (json!({"customerId": id, "steps": 2}), "steps"),
        (json!({"customerId": id, "steps": 9}), "steps"),
        (json!({"customerId": id, "ttlMs": 5000}), "ttlMs"),
    ] {
        let (status, answer) = server.post("/api/identity/face/flash-challenge", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(answer["error"]["details"][0]["field"], field);
    }
    let (status, _) = server
        .post("/api/identity/face/flash-challenge", json!({"customerId": "cus_01HXY0000000000000000000000"}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_live_capture_that_reflects_the_flash_is_live() {
    for server in servers().await {
        let customer = server.create_customer(json!({"fullName": "Live Person"})).await;
        let id = customer["id"].as_str().unwrap();
        let challenge = server.face_challenge(id).await;
        let bundle =
            signed_bundle(&challenge, lit_frames_of(&upright_live_face(), &challenge_colors(&challenge), 0.35));
        let (status, answer) = liveness(&server, id, bundle.clone()).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["liveness"]["fused"], "live", "{answer}");
        for name in
            ["passive_liveness", "flash_reflectance", "multi_frame_consistency", "capture_quality", "screen_moire"]
        {
            assert_eq!(voter(&answer, name).unwrap()["passed"], true, "{name}: {answer}");
        }
        assert_eq!(answer["verification"]["kind"], "face_liveness");
        assert_eq!(answer["verification"]["status"], "passed");
        assert_eq!(server.count("captures").await, 5);
        // The same signed bundle again: the first answer, nothing new written.
        let (status, again) = liveness(&server, id, bundle).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(again, answer);
        assert_eq!(server.count("captures").await, 5);
    }
}

#[tokio::test]
async fn replayed_stills_and_presented_photos_are_spoofs() {
    let server = TestServer::start(None).await;
    let customer = server.create_customer(json!({"fullName": "Victim"})).await;
    let id = customer["id"].as_str().unwrap();
    // One still image replayed for every step.
    let challenge = server.face_challenge(id).await;
    let still = b64(&jpeg(&upright_live_face()));
    let (status, answer) = liveness(&server, id, signed_bundle(&challenge, vec![still; 5])).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["liveness"]["fused"], "spoof", "{answer}");
    assert_eq!(voter(&answer, "flash_reflectance").unwrap()["passed"], false);
    assert_eq!(voter(&answer, "multi_frame_consistency").unwrap()["passed"], false);
    assert_eq!(answer["verification"]["status"], "failed");
    // A live capture replayed on a screen: the display's grid shows in the spectrum.
    let challenge = server.face_challenge(id).await;
    let bundle = signed_bundle(
        &challenge,
        crate::testkit::screen_replay_frames("spoof/live_1.jpg", &challenge_colors(&challenge)),
    );
    let (_, answer) = liveness(&server, id, bundle).await;
    assert_eq!(answer["liveness"]["fused"], "spoof", "{answer}");
    assert_eq!(voter(&answer, "screen_moire").unwrap()["passed"], false, "{answer}");
    // A printed photo held to the camera, even under the flash.
    for sample in ["spoof/spoof_1.jpg", "spoof/spoof_2.jpg"] {
        let challenge = server.face_challenge(id).await;
        let bundle = signed_bundle(&challenge, lit_frames(sample, &challenge_colors(&challenge), 0.35));
        let (_, answer) = liveness(&server, id, bundle).await;
        assert_eq!(answer["liveness"]["fused"], "spoof", "{sample}: {answer}");
        assert_eq!(voter(&answer, "passive_liveness").unwrap()["passed"], false);
    }
}

#[tokio::test]
async fn a_bundle_mixing_two_faces_is_a_spoof_and_a_sideways_face_is_not_judged_live() {
    let server = TestServer::start(None).await;
    let customer = server.create_customer(json!({"fullName": "Attacker"})).await;
    let id = customer["id"].as_str().unwrap();
    // The victim's photo in the first frame (for the match), the attacker's live face in the
    // rest (for the liveness voters): the appearance ties every frame to one face.
    let challenge = server.face_challenge(id).await;
    let colors = challenge_colors(&challenge);
    let victim = lit_frames("faces/obama_1.jpg", &colors, 0.35);
    let attacker = lit_frames_of(&upright_live_face(), &colors, 0.35);
    let mixed: Vec<String> = victim.into_iter().take(1).chain(attacker.into_iter().skip(1)).collect();
    let (status, answer) = liveness(&server, id, signed_bundle(&challenge, mixed)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["liveness"]["fused"], "spoof", "{answer}");
    let consistency = voter(&answer, "multi_frame_consistency").unwrap();
    assert_eq!(consistency["passed"], false, "{answer}");
    assert_eq!(consistency["reason"], "the face changes between frames");
    // A face lying on its side: its landmarks are too unstable to tie the frames together, so
    // the capture cannot come out live, and quality says why.
    let challenge = server.face_challenge(id).await;
    let bundle = signed_bundle(&challenge, lit_frames("spoof/live_1.jpg", &challenge_colors(&challenge), 0.35));
    let (status, answer) = liveness(&server, id, bundle).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_ne!(answer["liveness"]["fused"], "live", "{answer}");
    assert!(voter(&answer, "multi_frame_consistency").is_none(), "{answer}");
    let quality = voter(&answer, "capture_quality").unwrap();
    assert!(quality["reason"].as_str().unwrap().contains("face not upright"), "{answer}");
}

#[tokio::test]
async fn bad_signatures_spent_and_expired_challenges_are_refused_before_image_work() {
    for server in servers().await {
        let customer = server.create_customer(json!({"fullName": "Ani"})).await;
        let id = customer["id"].as_str().unwrap();
        let challenge = server.face_challenge(id).await;
        let frames = lit_frames("spoof/live_1.jpg", &challenge_colors(&challenge), 0.35);
        let before = [server.count("verifications").await, server.count("captures").await];

        let mut forged = signed_bundle(&challenge, frames.clone());
        forged["frames"][0] = json!(testdata_b64("faces/biden_1.jpg"));
        let (status, answer) = liveness(&server, id, forged).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_signature")));
        let mut unsigned = signed_bundle(&challenge, frames.clone());
        unsigned.as_object_mut().unwrap().remove("signature");
        let (status, _) = liveness(&server, id, unsigned).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "a bundle without its required signature is malformed");
        // Frames that are not images, behind a valid signature: 422 before the challenge is spent.
        let (status, answer) = liveness(&server, id, signed_bundle(&challenge, vec!["aGVsbG8=".into(); 3])).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("unsupported_image"))
        );
        // An expired challenge: 410 (the server's clock moved past its 10 s, not the first one's 90 s).
        let (status, stale) =
            server.post("/api/identity/face/flash-challenge", json!({"customerId": id, "ttlMs": 10000})).await;
        assert_eq!(status, StatusCode::CREATED);
        let stale = stale["flashChallenge"].clone();
        server.state.clock.advance(time::Duration::seconds(15));
        let (status, answer) = liveness(&server, id, signed_bundle(&stale, frames.clone())).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (StatusCode::GONE, Some("challenge_expired")));
        // Another customer's challenge, and another org's customer.
        let other = server.create_customer(json!({"fullName": "Other"})).await;
        let fresh = server.face_challenge(id).await;
        let (status, _) = liveness(&server, other["id"].as_str().unwrap(), signed_bundle(&fresh, frames.clone())).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let foreign = server.org_key("other-fintech", &kenali_server::auth::Scope::ALL).await;
        let (status, _) = server
            .post_as(
                &foreign,
                "/api/identity/face/liveness",
                json!({"customerId": id, "bundle": signed_bundle(&fresh, frames.clone())}),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!([server.count("verifications").await, server.count("captures").await], before);
        // The challenge still answers one good bundle, then no other: 409.
        let (status, _) = liveness(&server, id, signed_bundle(&challenge, frames.clone())).await;
        assert_eq!(status, StatusCode::OK);
        let mut other_frames = frames.clone();
        other_frames.reverse();
        let (status, answer) = liveness(&server, id, signed_bundle(&challenge, other_frames)).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("challenge_consumed")));
    }
}

#[tokio::test]
async fn step_up_allows_the_enrolled_person_refuses_another_and_promotes() {
    for server in servers().await {
        let customer = server.create_customer(json!({"fullName": "Live Person", "nik": NIK_MALE})).await;
        let id = customer["id"].as_str().unwrap();
        // Nothing to match against: allow false, no_reference, the challenge not spent.
        let challenge = server.face_challenge(id).await;
        let bundle =
            signed_bundle(&challenge, lit_frames_of(&upright_live_face(), &challenge_colors(&challenge), 0.35));
        let body = json!({"customerId": id, "riskLevel": "medium", "actionLabel": "Transfer", "trigger": "transfer", "bundle": bundle});
        let (status, answer) = server.post("/api/identity/auth/step-up", body.clone()).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["allow"], false);
        assert_eq!(answer["reasons"], json!(["no_reference"]));

        // Enrolled from a Dukcapil photo of the same person: allowed, and tier premium.
        let (status, verdict) = server
            .post(
                "/api/identity/nik/dukcapil",
                json!({"customerId": id, "valid": true, "photo": b64(&jpeg(&upright_live_face()))}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{verdict}");
        let (status, answer) = server.post("/api/identity/auth/step-up", body.clone()).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["allow"], true, "{answer}");
        assert_eq!(answer["match"]["matched"], true);
        assert_eq!(answer["verificationIds"].as_array().unwrap().len(), 2);
        assert_eq!(answer["tier"], "premium");
        assert!(answer["decidedInMs"].as_u64().is_some());
        eprintln!("step-up decided in {} ms", answer["decidedInMs"]);
        assert!(answer["match"]["promotedEnrollmentId"].as_str().is_some_and(|id| id.starts_with("fe_")), "{answer}");
        let (_, enrollments) = server.get(&format!("/api/identity/face/enrollments?customerId={id}")).await;
        let sources: Vec<_> = enrollments["data"].as_array().unwrap().iter().map(|e| e["source"].clone()).collect();
        assert_eq!(sources, vec![json!("step_up_promotion"), json!("dukcapil")]);

        // Someone else in front of the camera: refused.
        let challenge = server.face_challenge(id).await;
        let bundle = signed_bundle(&challenge, lit_frames("faces/biden_1.jpg", &challenge_colors(&challenge), 0.35));
        let (_, answer) = server
            .post("/api/identity/auth/step-up", json!({"customerId": id, "riskLevel": "high", "bundle": bundle}))
            .await;
        assert_eq!(answer["allow"], false, "{answer}");
        assert_eq!(answer["match"]["matched"], false);
        assert!((answer["match"]["threshold"].as_f64().unwrap() - 0.50).abs() < 1e-6);
        let (_, attempts) = server.get(&format!("/api/identity/attempts?customerId={id}&kind=step_up")).await;
        let outcomes: Vec<_> = attempts["data"].as_array().unwrap().iter().map(|a| a["outcome"].clone()).collect();
        assert_eq!(outcomes, vec![json!("failed"), json!("passed"), json!("refused")]);
    }
}

#[tokio::test]
async fn an_unclear_capture_goes_to_the_review_queue() {
    let server = TestServer::start(None).await;
    let customer = server.create_customer(json!({"fullName": "Blurry"})).await;
    let id = customer["id"].as_str().unwrap();
    let challenge = server.face_challenge(id).await;
    // Out of focus: too poor to judge, though nothing looks like an attack.
    // Sigma 2 takes the face's sharpness to 3–4 (the limit is 15) while the anti-spoof model
    // still reads it live under every palette colour (0.74 or more); at 3.5 it fell to 0.35
    // under some colours, and the capture came out spoof.
    let blurred = image::imageops::blur(&upright_live_face(), 2.0);
    let frames = kenali_testkit::lit_frames_of(&blurred, &challenge_colors(&challenge), 0.35);
    let (status, answer) = liveness(&server, id, signed_bundle(&challenge, frames)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["liveness"]["fused"], "unclear", "{answer}");
    assert_eq!(voter(&answer, "capture_quality").unwrap()["passed"], false);
    let (_, queue) = server.get("/api/identity/review-queue").await;
    let items = queue["data"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{queue}");
    assert_eq!(items[0]["kind"], "face_liveness");
    assert_eq!(items[0]["subjectId"], answer["verification"]["id"]);
}
