use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::testkit::servers;

async fn post_with_key(server: &crate::testkit::TestServer, key: &str, body: &Value) -> (StatusCode, Value, bool) {
    let response = server
        .client
        .post(format!("{}/api/customers", server.base))
        .bearer_auth(&server.key)
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let replayed = response.headers().contains_key("idempotent-replayed");
    (status, response.json().await.unwrap(), replayed)
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_response() {
    for server in servers().await {
        let body = json!({"fullName": "Dewi Lestari", "email": "dewi@example.id"});
        let (status, first, replayed) = post_with_key(&server, "order-42", &body).await;
        assert_eq!(status, StatusCode::CREATED);
        assert!(!replayed);
        let counts = server.counts().await;
        // Same key, same body (keys reordered): the same answer, nothing new written.
        let reordered = json!({"email": "dewi@example.id", "fullName": "Dewi Lestari"});
        let (status, second, replayed) = post_with_key(&server, "order-42", &reordered).await;
        assert_eq!(status, StatusCode::CREATED);
        assert!(replayed);
        assert_eq!(first, second);
        assert_eq!(server.counts().await, counts);
        // Same key, different body: 409.
        let (status, conflict, _) = post_with_key(&server, "order-42", &json!({"fullName": "Someone Else"})).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(conflict["error"]["code"], "idempotency_key_reused");
        assert_eq!(server.counts().await, counts);
        // A failed request does not burn its key.
        let (status, _, _) = post_with_key(&server, "order-43", &json!({"fullName": ""})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, _, _) = post_with_key(&server, "order-43", &json!({"fullName": "Fixed"})).await;
        assert_eq!(status, StatusCode::CREATED);
    }
}

#[tokio::test]
async fn external_id_in_the_body_makes_a_retry_safe() {
    for server in servers().await {
        let body = json!({"fullName": "Rina", "externalId": "application-7"});
        let (status, first) = server.post("/api/customers", body.clone()).await;
        assert_eq!(status, StatusCode::CREATED);
        let customers = server.count("customers").await;
        let (status, second) = server.post("/api/customers", body).await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(first, second);
        assert_eq!(server.count("customers").await, customers);
        let (status, answer) =
            server.post("/api/customers", json!({"fullName": "Other", "externalId": "application-7"})).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("idempotency_key_reused")));
        // The same application id on another route is a different request.
        let id = first["customer"]["id"].as_str().unwrap();
        let (status, _) = server
            .post(
                "/api/identity/nik/dukcapil",
                json!({"customerId": id, "valid": false, "externalId": "application-7"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
}
