use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::testkit::servers;

async fn post_with_key(server: &crate::testkit::TestServer, key: &str, body: &Value) -> (StatusCode, Value, bool) {
    post_keyed(server, &server.key, key, "/api/customers", body).await
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

async fn post_keyed(
    server: &crate::testkit::TestServer,
    api_key: &str,
    idempotency_key: &str,
    path: &str,
    body: &Value,
) -> (StatusCode, Value, bool) {
    let response = server
        .client
        .post(format!("{}{path}", server.base))
        .bearer_auth(api_key)
        .header("idempotency-key", idempotency_key)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let replayed = response.headers().contains_key("idempotent-replayed");
    (status, response.json().await.unwrap(), replayed)
}

#[tokio::test]
async fn a_replay_never_crosses_to_another_key() {
    use kenali_server::auth::Scope;
    for server in servers().await {
        let customer = server.create_customer(json!({"fullName": "Scoped", "nik": crate::testkit::NIK_MALE})).await;
        let id = customer["id"].as_str().unwrap();
        let path = format!("/api/identity/kyc/{id}/upgrade");
        let body = json!({"targetTier": "standard", "reason": "branch visit"});
        let (status, first, _) = post_keyed(&server, &server.key, "override-1", &path, &body).await;
        assert_eq!(status, StatusCode::OK, "{first}");
        // A key without the internal scope, same idempotency key and body: its own scope check
        // answers, not the stored override.
        let public = server.org_key("default", &[Scope::Public]).await;
        let (status, answer, replayed) = post_keyed(&server, &public, "override-1", &path, &body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
        assert!(!replayed);
        // Another key with the scope runs its own request (a new override row).
        let internal = server.org_key("default", &[Scope::Public, Scope::Internal]).await;
        let (status, second, replayed) = post_keyed(&server, &internal, "override-1", &path, &body).await;
        assert_eq!(status, StatusCode::OK, "{second}");
        assert!(!replayed);
        assert_ne!(first["verification"]["id"], second["verification"]["id"]);
        // The first key still gets its own answer back.
        let (_, again, replayed) = post_keyed(&server, &server.key, "override-1", &path, &body).await;
        assert!(replayed);
        assert_eq!(again, first);
    }
}

async fn idempotency_rows_of(server: &crate::testkit::TestServer, customer_id: &str) -> i64 {
    use sqlx::Row;
    sqlx::query("SELECT COUNT(*) AS n FROM idempotency_keys WHERE customer_id = $1")
        .bind(customer_id)
        .fetch_one(server.state.store.reader())
        .await
        .unwrap()
        .try_get("n")
        .unwrap()
}

#[tokio::test]
async fn a_kept_answer_belongs_to_its_customer_and_erasure_shreds_it() {
    for server in servers().await {
        let customer = server.create_customer(json!({"fullName": "To Erase", "nik": crate::testkit::NIK_MALE})).await;
        let id = customer["id"].as_str().unwrap();
        // The verdict's answer names no customer id in a form the old scan relied on; the request
        // does, and the kept answer is tied (and sealed) to that customer.
        let body = json!({"customerId": id, "valid": true, "nik": crate::testkit::NIK_MALE});
        let (status, first, _) =
            post_keyed(&server, &server.key, "verdict-1", "/api/identity/nik/dukcapil", &body).await;
        assert_eq!(status, StatusCode::CREATED, "{first}");
        assert_eq!(idempotency_rows_of(&server, id).await, 1);
        let (_, again, replayed) =
            post_keyed(&server, &server.key, "verdict-1", "/api/identity/nik/dukcapil", &body).await;
        assert!(replayed);
        assert_eq!(again, first);
        // The kept answer does not open with the server-wide idempotency key: only the customer's.
        {
            use sqlx::Row;
            let row = sqlx::query("SELECT scope_key, response_sealed FROM idempotency_keys WHERE customer_id = $1")
                .bind(id)
                .fetch_one(server.state.store.reader())
                .await
                .unwrap();
            let scope: String = row.try_get("scope_key").unwrap();
            let sealed: Vec<u8> = row.try_get("response_sealed").unwrap();
            assert!(server.state.keys.idempotency.open(&sealed, &scope).is_err());
        }
        let (status, _) =
            server.post(&format!("/api/identity/customers/{id}/erase"), json!({"reason": "UU PDP request"})).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(idempotency_rows_of(&server, id).await, 0);
        // The same request after erasure is no replay: the customer is gone.
        let (status, gone, replayed) =
            post_keyed(&server, &server.key, "verdict-1", "/api/identity/nik/dukcapil", &body).await;
        assert_eq!(status, StatusCode::GONE, "{gone}");
        assert!(!replayed);
    }
}

#[tokio::test]
async fn answers_that_show_a_secret_are_never_kept() {
    for server in servers().await {
        let body = json!({"name": "ci", "scopes": ["public"]});
        let (status, created, _) = post_keyed(&server, &server.key, "new-key-1", "/api/identity/api-keys", &body).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let (status, again, replayed) =
            post_keyed(&server, &server.key, "new-key-1", "/api/identity/api-keys", &body).await;
        assert_eq!(
            (status, again["error"]["code"].as_str()),
            (StatusCode::CONFLICT, Some("idempotent_secret_not_kept"))
        );
        assert!(!replayed);
        {
            use sqlx::Row;
            let kept: Option<Vec<u8>> =
                sqlx::query("SELECT response_sealed FROM idempotency_keys WHERE state = 'secret'")
                    .fetch_one(server.state.store.reader())
                    .await
                    .unwrap()
                    .try_get("response_sealed")
                    .unwrap();
            assert!(kept.is_none());
        }
        // Challenges: a reused externalId never hands back a challenge (consumed or not); a
        // reused Idempotency-Key is 409.
        let customer = server.create_customer(json!({"fullName": "Challenged"})).await;
        let id = customer["id"].as_str().unwrap();
        let body = json!({"customerId": id, "externalId": "application-9"});
        let (status, first) = server.post("/api/identity/face/flash-challenge", body.clone()).await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, second) = server.post("/api/identity/face/flash-challenge", body.clone()).await;
        assert_eq!(status, StatusCode::CREATED);
        assert_ne!(first["flashChallenge"]["id"], second["flashChallenge"]["id"]);
        let (status, _, _) =
            post_keyed(&server, &server.key, "challenge-1", "/api/identity/face/flash-challenge", &body).await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, again, _) =
            post_keyed(&server, &server.key, "challenge-1", "/api/identity/face/flash-challenge", &body).await;
        assert_eq!(
            (status, again["error"]["code"].as_str()),
            (StatusCode::CONFLICT, Some("idempotent_secret_not_kept"))
        );
    }
}

#[tokio::test]
async fn on_bundle_routes_the_nonce_is_the_identity_not_the_external_id() {
    use kenali_testkit::{challenge_colors, lit_frames_of, upright_live_face};
    for server in servers().await {
        let customer = server.create_customer(json!({"fullName": "Bundled"})).await;
        let id = customer["id"].as_str().unwrap();
        let mut answers = Vec::new();
        for _ in 0..2 {
            let challenge = server.face_challenge(id).await;
            let frames = lit_frames_of(&upright_live_face(), &challenge_colors(&challenge), 0.35);
            let bundle = crate::testkit::signed_bundle(&challenge, frames);
            let body = json!({"customerId": id, "bundle": bundle, "externalId": "application-3"});
            let (status, answer) = server.post("/api/identity/face/liveness", body).await;
            assert_eq!(status, StatusCode::OK, "a retry with a new bundle under the same externalId runs: {answer}");
            answers.push(answer["verification"]["id"].clone());
        }
        assert_ne!(answers[0], answers[1]);
    }
}

#[tokio::test]
async fn the_retention_sweep_deletes_answers_past_their_day() {
    for server in servers().await {
        let (status, _, _) =
            post_keyed(&server, &server.key, "old-1", "/api/customers", &json!({"fullName": "Yesterday"})).await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(server.count("idempotency_keys").await, 1);
        let soon = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
        kenali_server::retention::sweep(&server.state, soon, "test", false).await.unwrap();
        assert_eq!(server.count("idempotency_keys").await, 1, "within its day it stays");
        let later = time::OffsetDateTime::now_utc() + time::Duration::hours(25);
        let report = kenali_server::retention::sweep(&server.state, later, "test", false).await.unwrap();
        assert_eq!(report[0].idempotency_records_deleted, 1);
        assert_eq!(server.count("idempotency_keys").await, 0);
    }
}
