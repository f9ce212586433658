use base64::Engine;
use kenali_server::auth::Scope;
use reqwest::StatusCode;
use serde_json::json;

use crate::testkit::{servers, testdata_bytes, NIK_MALE};

#[tokio::test]
async fn the_tour_nik_then_dukcapil_climbs_to_standard() {
    for server in servers().await {
        let customer = server.create_customer(json!({"fullName": "Budi Santoso", "nik": NIK_MALE})).await;
        let id = customer["id"].as_str().unwrap();
        let (_, kyc) = server.get(&format!("/api/identity/kyc/{id}")).await;
        assert_eq!(kyc["kyc"]["tier"], "basic");
        assert_eq!(kyc["kyc"]["nextTier"], "standard");
        assert_eq!(kyc["kyc"]["missing"][0]["code"], "ktp_capture_or_dukcapil");

        let photo = testdata_bytes("faces/obama_1.jpg");
        let body = json!({
            "customerId": id, "valid": true, "nik": NIK_MALE,
            "photo": base64::engine::general_purpose::STANDARD.encode(&photo),
            "raw": {"responseCode": "00", "nama": "BUDI SANTOSO"},
        });
        let (status, verdict) = server.post("/api/identity/nik/dukcapil", body).await;
        assert_eq!(status, StatusCode::CREATED, "{verdict}");
        assert_eq!(verdict["tier"], "standard");
        assert_eq!(verdict["verification"]["kind"], "dukcapil_verdict");
        assert_eq!(verdict["tierEvent"]["from"], "basic");
        assert_eq!(verdict["tierEvent"]["to"], "standard");
        assert_eq!(verdict["photo"]["mediaType"], "image/jpeg");
        assert_eq!(verdict["faceEnrolment"]["source"], "dukcapil");
        assert_eq!(verdict["faceEnrolment"]["modelId"], "qe-face-v3");

        let (_, kyc) = server.get(&format!("/api/identity/kyc/{id}")).await;
        assert_eq!(kyc["kyc"]["tier"], "standard");
        assert_eq!(kyc["kyc"]["nextTier"], "premium");
        let missing: Vec<_> = kyc["kyc"]["missing"].as_array().unwrap().iter().map(|m| m["code"].clone()).collect();
        assert_eq!(
            missing,
            vec![json!("face_liveness"), json!("face_match_dukcapil")],
            "premium if Dukcapil (seed 002)"
        );

        let (_, events) = server.get(&format!("/api/identity/tier-events?customerId={id}")).await;
        let events = events["data"].as_array().unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!((events[0]["from"].as_str(), events[0]["to"].as_str()), (Some("basic"), Some("standard")));
        assert_eq!((events[1]["from"].as_str(), events[1]["to"].as_str()), (Some("none"), Some("basic")));
        let (_, none_since) = server.get("/api/identity/tier-events?since=2999-01-01T00:00:00Z").await;
        assert_eq!(none_since["data"].as_array().unwrap().len(), 0);

        let (_, audit) = server.get(&format!("/api/identity/audit-log?target={id}")).await;
        let actions: Vec<_> =
            audit["data"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap().to_string()).collect();
        for expected in ["customer.created", "kyc.tier_changed", "dukcapil.submitted"] {
            assert!(actions.iter().any(|a| a == expected), "{expected} missing from {actions:?}");
        }

        // The photo is kept sealed in the blob store: the row holds no image, the object not
        // the clear one.
        use sqlx::Row;
        let row = sqlx::query(
            "SELECT photo_sealed, photo_sha256, photo_object_key, photo_object_sha256, photo_object_size \
             FROM dukcapil_verdicts WHERE customer_id = $1",
        )
        .bind(id)
        .fetch_one(server.state.store.reader())
        .await
        .unwrap();
        assert!(row.try_get::<Option<Vec<u8>>, _>("photo_sealed").unwrap().is_none());
        let object = kenali_server::store::faces::stored_object(&row, "photo_").unwrap().unwrap();
        let sealed = server.state.blobs.get(&object).await.unwrap();
        assert!(sealed.len() > 1000 && !sealed.windows(20).any(|w| w == &photo[2000..2020]));
        let sha: String = row.try_get("photo_sha256").unwrap();
        assert_eq!(sha.len(), 64);
    }
}

#[tokio::test]
async fn the_raw_dukcapil_answer_is_kept_byte_for_byte() {
    use sqlx::Row;
    for server in servers().await {
        let customer = server.create_customer(json!({"fullName": "Budi"})).await;
        let id = customer["id"].as_str().unwrap();
        let raw = r#"{"zeta": 1,  "alpha": [true, null], "nama":"BUDI"}"#;
        let body = format!(r#"{{"customerId": "{id}", "valid": true, "raw": {raw}}}"#);
        let response = server
            .client
            .post(format!("{}/api/identity/nik/dukcapil", server.base))
            .bearer_auth(&server.key)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let pool = server.state.store.reader();
        let sealed: Vec<u8> = sqlx::query("SELECT raw_sealed FROM dukcapil_verdicts WHERE customer_id = $1")
            .bind(id)
            .fetch_one(pool)
            .await
            .unwrap()
            .try_get("raw_sealed")
            .unwrap();
        assert!(!sealed.windows(4).any(|w| w == b"BUDI"));
        let customer_row =
            kenali_server::store::customers::find(&mut pool.acquire().await.unwrap(), &org_of(&server, id).await, id)
                .await
                .unwrap()
                .unwrap();
        let key = kenali_server::ledger::data_key(&server.state.keys, &customer_row).unwrap();
        let verification_id: String = sqlx::query("SELECT id FROM dukcapil_verdicts WHERE customer_id = $1")
            .bind(id)
            .fetch_one(pool)
            .await
            .unwrap()
            .try_get("id")
            .unwrap();
        let opened = key.open(&sealed, &format!("dukcapil/raw/{verification_id}")).unwrap();
        assert_eq!(String::from_utf8(opened).unwrap(), raw);
    }
}

#[tokio::test]
async fn an_invalid_verdict_records_a_failure_without_moving_the_tier() {
    for server in servers().await {
        let customer = server.create_customer(json!({"fullName": "Budi", "nik": NIK_MALE})).await;
        let id = customer["id"].as_str().unwrap();
        let (status, verdict) =
            server.post("/api/identity/nik/dukcapil", json!({"customerId": id, "valid": false})).await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(verdict["verification"]["status"], "failed");
        assert_eq!(verdict["tier"], "basic");
        assert!(verdict["tierEvent"].is_null());

        let before = server.counts().await;
        let bad = [
            (json!({"customerId": id, "valid": "yes"}), StatusCode::BAD_REQUEST),
            (json!({"customerId": id}), StatusCode::BAD_REQUEST),
            (json!({"customerId": id, "valid": true, "nik": "123"}), StatusCode::BAD_REQUEST),
            (json!({"customerId": id, "valid": true, "nik": "3201010101900002"}), StatusCode::CONFLICT),
            (json!({"customerId": id, "valid": true, "photo": "%%%"}), StatusCode::BAD_REQUEST),
            (json!({"customerId": id, "valid": true, "photo": "aGVsbG8gd29ybGQ="}), StatusCode::UNPROCESSABLE_ENTITY),
            // A PNG signature over garbage: cannot be decoded.
            (
                json!({"customerId": id, "valid": true, "photo": "iVBORw0KGgpnYXJiYWdlIGdhcmJhZ2UgZ2FyYmFnZQ=="}),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (json!({"customerId": "cus_nope", "valid": true}), StatusCode::NOT_FOUND),
        ];
        for (body, status) in bad {
            let (got, answer) = server.post("/api/identity/nik/dukcapil", body.clone()).await;
            assert_eq!(got, status, "{body} -> {answer}");
        }
        assert_eq!(server.counts().await, before);
    }
}

#[tokio::test]
async fn a_nik_check_on_a_customer_is_recorded_even_when_it_fails() {
    for server in servers().await {
        let customer = server.create_customer(json!({"fullName": "Ani", "dateOfBirth": "1990-01-01"})).await;
        let id = customer["id"].as_str().unwrap();
        // Well-formed but wrong: Dukcapil would never issue it; the failure is the record.
        let (status, failed) =
            server.post("/api/identity/nik/validate", json!({"customerId": id, "nik": "3201010201900001"})).await;
        assert_eq!(status, StatusCode::CREATED, "{failed}");
        assert_eq!(failed["verification"]["status"], "failed");
        assert_eq!(failed["verification"]["reasons"][0], "date_of_birth_mismatch");
        assert_eq!(failed["tier"], "none");
        // Malformed: a plain 400 and no row.
        let before = server.counts().await;
        let (status, _) = server.post("/api/identity/nik/validate", json!({"customerId": id, "nik": "12345"})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(server.counts().await, before);
        let (status, passed) =
            server.post("/api/identity/nik/validate", json!({"customerId": id, "nik": NIK_MALE})).await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(passed["verification"]["status"], "passed");
        assert_eq!(passed["tier"], "basic");
        let (_, profile) = server.get(&format!("/api/identity/customers/{id}")).await;
        assert_eq!(profile["customer"]["nik"], NIK_MALE);
    }
}

#[tokio::test]
async fn analysts_override_with_a_reason_and_the_row_names_them() {
    for server in servers().await {
        let customer = server.create_customer(json!({"fullName": "Budi", "nik": NIK_MALE})).await;
        let id = customer["id"].as_str().unwrap();
        let path = format!("/api/identity/kyc/{id}/upgrade");
        // Recompute without an override changes nothing.
        let (status, recomputed) = server.post(&path, json!({})).await;
        assert_eq!(status, StatusCode::OK, "{recomputed}");
        assert_eq!(recomputed["kyc"]["tier"], "basic");
        assert!(recomputed["tierEvent"].is_null());

        let (status, answer) = server.post(&path, json!({"targetTier": "standard"})).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_field")));
        let (status, _) = server.post(&path, json!({"targetTier": "gold", "reason": "x"})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, _) =
            server.post(&path, json!({"targetTier": "standard", "reason": "x", "actorUserId": "usr_nobody"})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);

        let internal = server.org_key("default", &[Scope::Public, Scope::Internal]).await;
        let (status, upgraded) = server
            .post_as(&internal, &path, json!({"targetTier": "standard", "reason": "Dukcapil down; KTP seen in branch"}))
            .await;
        assert_eq!(status, StatusCode::OK, "{upgraded}");
        assert_eq!(upgraded["kyc"]["tier"], "standard");
        assert_eq!(upgraded["verification"]["kind"], "tier_override");
        assert_eq!(upgraded["verification"]["details"]["reason"], "Dukcapil down; KTP seen in branch");
        assert!(upgraded["verification"]["actor"].as_str().unwrap().starts_with("key_"));
        assert_eq!(upgraded["tierEvent"]["to"], "standard");
        let (_, audit) = server.get("/api/identity/audit-log?action=kyc.override").await;
        assert_eq!(audit["data"].as_array().unwrap().len(), 1);

        // A downgrade holds until new evidence arrives.
        let (_, down) =
            server.post_as(&internal, &path, json!({"targetTier": "none", "reason": "suspected fraud"})).await;
        assert_eq!(down["kyc"]["tier"], "none");
        let (_, profile) = server.get(&format!("/api/identity/customers/{id}")).await;
        assert_eq!(profile["customer"]["tier"], "none");
    }
}

async fn org_of(server: &crate::testkit::TestServer, customer_id: &str) -> String {
    use sqlx::Row;
    sqlx::query("SELECT org_id FROM customers WHERE id = $1")
        .bind(customer_id)
        .fetch_one(server.state.store.reader())
        .await
        .unwrap()
        .try_get("org_id")
        .unwrap()
}
