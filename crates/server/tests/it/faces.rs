use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::testkit::{servers, testdata_b64, TestServer, NIK_MALE};

/// A customer whose Dukcapil photo (Obama) became a `dukcapil` enrollment.
async fn enrolled_customer(server: &TestServer) -> String {
    let customer = server.create_customer(json!({"fullName": "Barack", "nik": NIK_MALE})).await;
    let id = customer["id"].as_str().unwrap().to_string();
    let (status, verdict) = server
        .post(
            "/api/identity/nik/dukcapil",
            json!({"customerId": id, "valid": true, "photo": testdata_b64("faces/obama_1.jpg")}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{verdict}");
    assert!(verdict["faceEnrolment"]["id"].as_str().unwrap().starts_with("fe_"));
    id
}

async fn face_rows(server: &TestServer) -> [i64; 3] {
    [server.count("verifications").await, server.count("captures").await, server.count("face_enrollments").await]
}

#[tokio::test]
async fn a_probe_matches_its_own_person_against_a_reference_image() {
    let server = TestServer::start(None).await;
    let (status, same) = server
        .post(
            "/api/identity/face/match",
            json!({"image": testdata_b64("faces/obama_2.jpg"), "referenceImage": testdata_b64("faces/obama_3.jpg")}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{same}");
    assert_eq!(same["match"]["matched"], true);
    assert!(same["match"]["score"].as_f64().unwrap() > 0.45);
    assert_eq!(same["match"]["threshold"].as_f64().unwrap(), 0.45);
    assert_eq!(same["match"]["modelId"], "qe-face-v3");
    assert!(same.get("verification").is_none(), "no customer named, no verification");
    let (_, other) = server
        .post(
            "/api/identity/face/match",
            json!({"image": testdata_b64("faces/biden_1.jpg"), "referenceImage": testdata_b64("faces/obama_3.jpg")}),
        )
        .await;
    assert_eq!(other["match"]["matched"], false);
    assert!(other["match"]["score"].as_f64().unwrap() < 0.45);
    let (_, attempts) = server.get("/api/identity/attempts?kind=face_match").await;
    let outcomes: Vec<_> = attempts["data"].as_array().unwrap().iter().map(|a| a["outcome"].clone()).collect();
    assert_eq!(outcomes, vec![json!("failed"), json!("passed")]);
}

#[tokio::test]
async fn the_pool_of_a_dukcapil_enrollment_allows_the_person_and_refuses_another() {
    for server in servers().await {
        let id = enrolled_customer(&server).await;
        let (_, enrollments) = server.get(&format!("/api/identity/face/enrollments?customerId={id}")).await;
        let list = enrollments["data"].as_array().unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0]["source"], "dukcapil");
        assert!(list[0].get("embedding").is_none() && !list[0].to_string().contains("embedding"));
        let (_, profile) = server.get(&format!("/api/identity/customers/{id}")).await;
        assert_eq!(profile["customer"]["enrollmentCount"], 1);

        let (status, good) = server
            .post("/api/identity/face/match", json!({"image": testdata_b64("faces/obama_4.jpg"), "customerId": id}))
            .await;
        assert_eq!(status, StatusCode::OK, "{good}");
        assert_eq!(good["match"]["matched"], true);
        assert_eq!(good["match"]["enrollmentId"], list[0]["id"]);
        assert_eq!(good["verification"]["kind"], "face_match");
        assert_eq!(good["verification"]["status"], "passed");
        assert_eq!(good["verification"]["details"]["enrollmentSource"], "dukcapil");

        let (_, bad) = server
            .post("/api/identity/face/match", json!({"image": testdata_b64("faces/biden_2.jpg"), "customerId": id}))
            .await;
        assert_eq!(bad["match"]["matched"], false);
        assert_eq!(bad["verification"]["status"], "failed");

        // Against the enrollment by id.
        let (_, by_id) = server
            .post(
                "/api/identity/face/match",
                json!({"image": testdata_b64("faces/obama_2.jpg"), "enrollmentId": list[0]["id"]}),
            )
            .await;
        assert_eq!(by_id["match"]["matched"], true);
        assert_eq!(by_id["verification"]["customerId"], id.as_str());

        let (_, attempts) = server.get(&format!("/api/identity/customers/{id}/attempts")).await;
        let attempts = attempts["data"].as_array().unwrap();
        assert_eq!(attempts.len(), 3);
        assert!(attempts.iter().all(|a| a["clientIp"] == "127.0.0.1" && a["latencyMs"].as_i64().unwrap() >= 0));

        // Each selfie is kept sealed in the blob store with its SHA-256; the row holds no image
        // and the object not the clear one.
        use sqlx::Row;
        let rows = sqlx::query(
            "SELECT sealed, sha256, object_key, object_sha256, object_size FROM captures WHERE customer_id = $1",
        )
        .bind(&id)
        .fetch_all(server.state.store.reader())
        .await
        .unwrap();
        assert_eq!(rows.len(), 3);
        let obama_4 = crate::testkit::testdata_bytes("faces/obama_4.jpg");
        for row in rows {
            assert!(row.try_get::<Vec<u8>, _>("sealed").unwrap().is_empty());
            assert_eq!(row.try_get::<String, _>("sha256").unwrap().len(), 64);
            let object = kenali_server::store::faces::stored_object(&row, "").unwrap().unwrap();
            assert!(object.key.starts_with(&format!("{}/{id}/captures/", enrolled_org(&server, &id).await)));
            let sealed = server.state.blobs.get(&object).await.unwrap();
            assert!(sealed.len() > 1000 && !sealed.windows(32).any(|w| w == &obama_4[4096..4128]));
        }
    }
}

#[tokio::test]
async fn unusable_images_and_wrong_customers_are_refused_and_write_nothing() {
    for server in servers().await {
        let id = enrolled_customer(&server).await;
        let plain = server.create_customer(json!({"fullName": "No Photo"})).await;
        let other_org = server.org_key("other-fintech", &kenali_server::auth::Scope::ALL).await;
        let blank_png = {
            let image = image::RgbImage::from_pixel(320, 240, image::Rgb([120, 120, 120]));
            let mut out = std::io::Cursor::new(Vec::new());
            image.write_to(&mut out, image::ImageFormat::Png).unwrap();
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, out.into_inner())
        };
        let two_faces = {
            let mut bytes = std::io::Cursor::new(Vec::new());
            let left = image::load_from_memory(&crate::testkit::testdata_bytes("faces/obama_1.jpg")).unwrap().to_rgb8();
            let mut pair = image::RgbImage::new(left.width() * 2, left.height());
            image::imageops::replace(&mut pair, &left, 0, 0);
            image::imageops::replace(&mut pair, &left, i64::from(left.width()), 0);
            pair.write_to(&mut bytes, image::ImageFormat::Jpeg).unwrap();
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes.into_inner())
        };
        let before = face_rows(&server).await;
        let cases: Vec<(Value, StatusCode, &str)> = vec![
            (
                json!({"image": "aGVsbG8gd29ybGQ=", "customerId": id}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "unsupported_image",
            ),
            (json!({"image": "!!!not base64", "customerId": id}), StatusCode::BAD_REQUEST, "invalid_field"),
            (json!({"image": blank_png, "customerId": id}), StatusCode::UNPROCESSABLE_ENTITY, "no_face"),
            (json!({"image": two_faces, "customerId": id}), StatusCode::UNPROCESSABLE_ENTITY, "several_faces"),
            (json!({"image": testdata_b64("faces/obama_2.jpg")}), StatusCode::BAD_REQUEST, "invalid_field"),
            (
                json!({"image": testdata_b64("faces/obama_2.jpg"), "customerId": plain["id"]}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "no_reference",
            ),
            (
                json!({"image": testdata_b64("faces/obama_2.jpg"), "customerId": "cus_01HXY0000000000000000000000"}),
                StatusCode::NOT_FOUND,
                "not_found",
            ),
            (
                json!({"image": testdata_b64("faces/obama_2.jpg"), "enrollmentId": "fe_01HXY0000000000000000000000"}),
                StatusCode::NOT_FOUND,
                "not_found",
            ),
            (
                json!({"image": testdata_b64("faces/obama_2.jpg"), "customerId": id, "extra": 1}),
                StatusCode::BAD_REQUEST,
                "invalid_field",
            ),
        ];
        for (body, status, code) in cases {
            let (got, answer) = server.post("/api/identity/face/match", body).await;
            assert_eq!((got, answer["error"]["code"].as_str()), (status, Some(code)), "{answer}");
        }
        let (status, _) = server
            .post_as(
                &other_org,
                "/api/identity/face/match",
                json!({"image": testdata_b64("faces/obama_2.jpg"), "customerId": id}),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        // Over the image-route limit (2 MiB in tests): 413 before any work.
        let huge = json!({"image": "A".repeat(3 * 1024 * 1024), "customerId": id});
        let (status, answer) = server.post("/api/identity/face/match", huge).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("body_too_large")));
        assert_eq!(face_rows(&server).await, before, "refusals must not write verifications, captures or enrollments");
        // Refusals of a known customer's images are recorded as attempts.
        let (_, attempts) = server.get(&format!("/api/identity/customers/{id}/attempts")).await;
        let reasons: Vec<_> = attempts["data"].as_array().unwrap().iter().map(|a| a["reasons"][0].clone()).collect();
        assert!(reasons.contains(&json!("no_face")) && reasons.contains(&json!("several_faces")), "{reasons:?}");
    }
}

#[tokio::test]
async fn a_dukcapil_photo_without_a_face_keeps_the_verdict_but_enrolls_nothing() {
    let server = TestServer::start(None).await;
    let customer = server.create_customer(json!({"fullName": "Budi", "nik": NIK_MALE})).await;
    let landscape = {
        let image = image::RgbImage::from_fn(400, 300, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 90]));
        let mut out = std::io::Cursor::new(Vec::new());
        image.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, out.into_inner())
    };
    let (status, verdict) = server
        .post("/api/identity/nik/dukcapil", json!({"customerId": customer["id"], "valid": true, "photo": landscape}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{verdict}");
    assert_eq!(verdict["tier"], "standard");
    assert!(verdict["faceEnrolment"]["id"].is_null());
    assert_eq!(verdict["faceEnrolment"]["reason"], "no_face");
    assert_eq!(server.count("face_enrollments").await, 0);
}

/// The org a customer belongs to.
async fn enrolled_org(server: &crate::testkit::TestServer, customer_id: &str) -> String {
    use sqlx::Row;
    sqlx::query("SELECT org_id FROM customers WHERE id = $1")
        .bind(customer_id)
        .fetch_one(server.state.store.reader())
        .await
        .unwrap()
        .get("org_id")
}
