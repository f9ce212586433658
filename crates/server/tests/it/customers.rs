use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::testkit::{servers, NIK_FEMALE, NIK_MALE};

#[tokio::test]
async fn health_and_metrics_answer_without_a_key() {
    for server in servers().await {
        let (status, body) = server.request(reqwest::Method::GET, "/api/healthz", None, None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["status"], "ok");
        assert_eq!(body["database"], "ok");
        assert_eq!(body["databaseBackend"], server.backend);
        assert_eq!(body["region"], "id-jkt-1");
        let metrics = server.client.get(format!("{}/metrics", server.base)).send().await.unwrap().text().await.unwrap();
        assert!(metrics.contains("kenali_http_requests_total"), "{metrics}");
        assert!(metrics.contains("route=\"/api/healthz\""));
    }
}

#[tokio::test]
async fn request_ids_are_echoed_or_minted() {
    for server in servers().await {
        let response = server
            .client
            .get(format!("{}/api/healthz", server.base))
            .header("x-request-id", "trace-abc-123")
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["x-request-id"], "trace-abc-123");
        let response = server.client.get(format!("{}/api/customers", server.base)).send().await.unwrap();
        let minted = response.headers()["x-request-id"].to_str().unwrap().to_string();
        assert!(minted.starts_with("req_"));
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["requestId"], minted.as_str());
        assert_eq!(body["error"]["code"], "missing_api_key");
    }
}

#[tokio::test]
async fn a_customer_with_a_valid_nik_reaches_basic_and_shows_its_history() {
    for server in servers().await {
        let customer = server
            .create_customer(json!({"fullName": "Budi Santoso", "nik": NIK_MALE, "externalRef": "app-1", "email": "Budi@Example.id", "phone": "0812-3456-7890"}))
            .await;
        let id = customer["id"].as_str().unwrap();
        assert!(id.starts_with("cus_"));
        assert_eq!(customer["tier"], "basic");
        assert_eq!(customer["email"], "budi@example.id");
        assert_eq!(customer["phone"], "+6281234567890");
        assert_eq!(customer["dateOfBirth"], "1990-01-01");
        assert_eq!(customer["gender"], "male");

        let (status, profile) = server.get(&format!("/api/identity/customers/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{profile}");
        let profile = &profile["customer"];
        assert_eq!(profile["fullName"], "Budi Santoso");
        assert_eq!(profile["tier"], "basic");
        assert_eq!(profile["enrollmentCount"], 0);
        let verifications = profile["verifications"].as_array().unwrap();
        assert_eq!(verifications.len(), 1);
        assert_eq!(verifications[0]["kind"], "nik_format");
        assert_eq!(verifications[0]["status"], "passed");

        // The same externalRef answers with the same customer, 200, and creates nothing.
        let before = server.counts().await;
        let (status, again) =
            server.post("/api/customers", json!({"fullName": "Budi S.", "externalRef": "app-1"})).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(again["customer"]["id"], id);
        assert_eq!(server.counts().await, before);

        // Without a NIK a customer starts at none.
        let plain = server.create_customer(json!({"fullName": "Siti Aminah"})).await;
        assert_eq!(plain["tier"], "none");
    }
}

#[tokio::test]
async fn customers_list_filters_through_blind_indexes_and_pages() {
    for server in servers().await {
        let budi =
            server.create_customer(json!({"fullName": "Budi", "nik": NIK_MALE, "email": "budi@example.id"})).await;
        let siti = server.create_customer(json!({"fullName": "Siti", "nik": NIK_FEMALE, "gender": "female"})).await;
        for i in 0..3 {
            server.create_customer(json!({"fullName": format!("Extra {i}")})).await;
        }
        let (_, by_nik) = server.get(&format!("/api/customers?nik={NIK_FEMALE}")).await;
        let data = by_nik["data"].as_array().unwrap();
        assert_eq!(data.len(), 1);
        assert_eq!(data[0]["id"], siti["id"]);
        let (_, by_email) = server.get("/api/customers?email=BUDI@example.id").await;
        assert_eq!(by_email["data"][0]["id"], budi["id"]);
        let (_, basic) = server.get("/api/customers?tier=basic").await;
        assert_eq!(basic["data"].as_array().unwrap().len(), 2);

        let (_, first) = server.get("/api/customers?limit=2").await;
        assert_eq!(first["data"].as_array().unwrap().len(), 2);
        let cursor = first["nextCursor"].as_str().unwrap();
        let (_, second) = server.get(&format!("/api/customers?limit=2&cursor={cursor}")).await;
        let (_, third) =
            server.get(&format!("/api/customers?limit=2&cursor={}", second["nextCursor"].as_str().unwrap())).await;
        assert_eq!(third["data"].as_array().unwrap().len(), 1);
        assert!(third["nextCursor"].is_null());
        let mut seen: Vec<_> = [first, second, third]
            .iter()
            .flat_map(|p| {
                p["data"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_string()).collect::<Vec<_>>()
            })
            .collect();
        seen.dedup();
        assert_eq!(seen.len(), 5);

        for bad in ["limit=0", "limit=501", "limit=x", "tier=gold", "nik=123", "createdFrom=yesterday", "bogus=1"] {
            let (status, body) = server.get(&format!("/api/customers?{bad}")).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        }
    }
}

/// (body, status, error code). Every row must leave every table untouched.
fn bad_customer_bodies() -> Vec<(Value, StatusCode, &'static str)> {
    vec![
        (json!({"fullName": 5}), StatusCode::BAD_REQUEST, "invalid_field"),
        (json!({"fullName": "A", "nickname": "x"}), StatusCode::BAD_REQUEST, "invalid_field"),
        (json!({}), StatusCode::BAD_REQUEST, "invalid_field"),
        (json!({"fullName": "   "}), StatusCode::BAD_REQUEST, "invalid_field"),
        (json!({"fullName": "A", "nik": "32010101019000011"}), StatusCode::BAD_REQUEST, "invalid_nik"),
        (json!({"fullName": "A", "nik": "32010101019O0001"}), StatusCode::BAD_REQUEST, "invalid_nik"),
        (json!({"fullName": "A", "nik": 3201010101900001u64}), StatusCode::BAD_REQUEST, "invalid_field"),
        (json!({"fullName": "A", "nik": "3201013102900001"}), StatusCode::BAD_REQUEST, "invalid_nik"),
        (json!({"fullName": "A", "nik": "9901010101900001"}), StatusCode::BAD_REQUEST, "invalid_nik"),
        (json!({"fullName": "A", "nik": "3201990101900001"}), StatusCode::BAD_REQUEST, "invalid_nik"),
        (json!({"fullName": "A", "nik": "3201010101900000"}), StatusCode::BAD_REQUEST, "invalid_nik"),
        (json!({"fullName": "A", "nik": NIK_MALE, "gender": "female"}), StatusCode::BAD_REQUEST, "invalid_nik"),
        (
            json!({"fullName": "A", "nik": NIK_MALE, "dateOfBirth": "1991-01-01"}),
            StatusCode::BAD_REQUEST,
            "invalid_nik",
        ),
        (json!({"fullName": "A", "dateOfBirth": "1990-02-30"}), StatusCode::BAD_REQUEST, "invalid_field"),
        (json!({"fullName": "A", "email": "not-an-email"}), StatusCode::BAD_REQUEST, "invalid_field"),
        (json!({"fullName": "A", "gender": "x"}), StatusCode::BAD_REQUEST, "invalid_field"),
        (json!({"fullName": "A", "externalRef": ""}), StatusCode::BAD_REQUEST, "invalid_field"),
        (json!(["fullName"]), StatusCode::BAD_REQUEST, "invalid_field"),
    ]
}

#[tokio::test]
async fn bad_customer_input_is_refused_and_writes_nothing() {
    for server in servers().await {
        let before = server.counts().await;
        for (body, status, code) in bad_customer_bodies() {
            let (got, answer) = server.post("/api/customers", body.clone()).await;
            assert_eq!(got, status, "{body} -> {answer}");
            assert_eq!(answer["error"]["code"], code, "{body} -> {answer}");
            assert!(!answer["error"]["message"].as_str().unwrap().is_empty());
            assert!(answer["error"]["requestId"].as_str().unwrap().starts_with("req_"));
        }
        // A NIK problem names the rule it broke.
        let (_, answer) = server.post("/api/customers", json!({"fullName": "A", "nik": "3201013102900001"})).await;
        assert_eq!(answer["error"]["details"][0]["code"], "impossible_date");
        let (_, answer) = server.post("/api/customers", json!({"fullName": "A", "nik": "9901010101900001"})).await;
        assert_eq!(answer["error"]["details"][0]["code"], "unknown_province");

        // Malformed JSON, a wrong media type and an oversized body.
        let url = format!("{}/api/customers", server.base);
        let malformed = server
            .client
            .post(&url)
            .bearer_auth(&server.key)
            .header("content-type", "application/json")
            .body("{\"fullName\": ")
            .send()
            .await
            .unwrap();
        assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
        assert_eq!(malformed.json::<Value>().await.unwrap()["error"]["code"], "malformed_json");
        let text = server.client.post(&url).bearer_auth(&server.key).body("fullName=A").send().await.unwrap();
        assert_eq!(text.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(text.json::<Value>().await.unwrap()["error"]["code"], "unsupported_media_type");
        let huge = json!({"fullName": "A".repeat(100 * 1024)});
        let (status, answer) = server.post("/api/customers", huge).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
        assert_eq!(answer["error"]["code"], "body_too_large");
        let giant = json!({"fullName": "A".repeat(3 * 1024 * 1024)});
        let (status, answer) = server.post("/api/customers", giant).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");

        assert_eq!(server.counts().await, before, "bad input wrote rows on {}", server.backend);
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_error_shape() {
    for server in servers().await {
        let (status, body) = server.get("/api/nothing-here").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["error"]["code"], "not_found");
        let (status, body) =
            server.request(reqwest::Method::PUT, "/api/customers", Some(&server.key), Some(&json!({}))).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(body["error"]["code"], "method_not_allowed");
    }
}

#[tokio::test]
async fn personal_data_is_sealed_at_rest() {
    let server = crate::testkit::TestServer::start(None).await;
    server
        .create_customer(
            json!({"fullName": "Wahyu Kartikasari Unik", "nik": NIK_MALE, "email": "wahyu.unik@example.id"}),
        )
        .await;
    // Force the WAL into the main file too, then look for the plaintext in both.
    sqlx::query("PRAGMA wal_checkpoint(FULL)").execute(server.state.store.reader()).await.unwrap();
    for file in ["kenali.db", "kenali.db-wal"] {
        let path = server.data_dir.join(file);
        let bytes = std::fs::read(&path).unwrap_or_default();
        for needle in ["Wahyu Kartikasari Unik", NIK_MALE, "wahyu.unik@example.id"] {
            assert!(!bytes.windows(needle.len()).any(|w| w == needle.as_bytes()), "{needle} found in {file}");
        }
    }
}
