use kenali_server::auth::Scope;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::testkit::{servers, NIK_MALE};

#[tokio::test]
async fn keys_are_required_checked_and_revocable() {
    for server in servers().await {
        let before = server.counts().await;
        let body = json!({"fullName": "A"});
        let (status, answer) = server.request(Method::POST, "/api/customers", None, Some(&body)).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("missing_api_key")));
        let (status, answer) = server.post_as("qe_sk_not_a_real_key_at_all", "/api/customers", body.clone()).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_api_key")));
        // X-API-Key is accepted as well as the bearer form.
        let response = server
            .client
            .get(format!("{}/api/customers", server.base))
            .header("x-api-key", &server.key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);

        // Create a key over the API: the secret appears once, never in lists.
        let (status, created) =
            server.post("/api/identity/api-keys", json!({"name": "backend", "scopes": ["public"]})).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let secret = created["apiKey"]["secret"].as_str().unwrap().to_string();
        let key_id = created["apiKey"]["id"].as_str().unwrap().to_string();
        assert!(secret.starts_with("qe_sk_"));
        let (_, list) = server.get("/api/identity/api-keys").await;
        assert!(!list.to_string().contains(&secret));
        assert!(list["data"].as_array().unwrap().iter().any(|k| k["id"] == key_id.as_str()));
        let (status, _) = server.get_as(&secret, "/api/customers").await;
        assert_eq!(status, StatusCode::OK);

        let (status, revoked) =
            server.request(Method::DELETE, &format!("/api/identity/api-keys/{key_id}"), Some(&server.key), None).await;
        assert_eq!(status, StatusCode::OK, "{revoked}");
        assert!(revoked["apiKey"]["revokedAt"].is_string());
        let (status, answer) = server.get_as(&secret, "/api/customers").await;
        assert_eq!((status, answer["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_api_key")));
        let (status, answer) =
            server.request(Method::DELETE, &format!("/api/identity/api-keys/{key_id}"), Some(&server.key), None).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("already_revoked")));
        // A key cannot revoke itself (the POST form too): nobody locks themselves out.
        let (_, list) = server.get("/api/identity/api-keys").await;
        let own = list["data"].as_array().unwrap().iter().find(|k| k["revokedAt"].is_null()).unwrap()["id"].clone();
        let own = own.as_str().unwrap();
        let (status, answer) = server.post(&format!("/api/identity/api-keys/{own}/revoke"), json!({})).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("key_in_use")), "{answer}");
        let (status, _) = server.get("/api/customers").await;
        assert_eq!(status, StatusCode::OK);

        let (status, answer) = server.post("/api/identity/api-keys", json!({"name": "x", "scopes": ["root"]})).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_field")));
        // Two customers-free key creations and one revocation: customers untouched.
        assert_eq!(server.counts().await[0], before[0]);
    }
}

#[tokio::test]
async fn scopes_are_enforced_and_a_refusal_writes_nothing() {
    for server in servers().await {
        let public = server.org_key("default", &[Scope::Public]).await;
        let customer = server.create_customer(json!({"fullName": "Budi", "nik": NIK_MALE})).await;
        let id = customer["id"].as_str().unwrap();
        let before = server.counts().await;
        for path in ["/api/identity/audit-log", "/api/identity/tier-events", "/api/identity/api-keys"] {
            let (status, answer) = server.get_as(&public, path).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
            assert_eq!(answer["error"]["code"], "insufficient_scope");
        }
        let (status, _) =
            server.post_as(&public, "/api/identity/api-keys", json!({"name": "x", "scopes": ["admin"]})).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let override_body = json!({"targetTier": "premium", "reason": "trust me"});
        let (status, _) = server.post_as(&public, &format!("/api/identity/kyc/{id}/upgrade"), override_body).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(server.counts().await, before);

        // An internal-only key cannot use public routes: scopes do not imply each other.
        let internal = server.org_key("default", &[Scope::Internal]).await;
        let (status, _) = server.get_as(&internal, "/api/customers").await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = server.get_as(&internal, "/api/identity/audit-log").await;
        assert_eq!(status, StatusCode::OK);
    }
}

#[tokio::test]
async fn another_orgs_customer_is_not_found() {
    for server in servers().await {
        let customer = server.create_customer(json!({"fullName": "Budi", "nik": NIK_MALE})).await;
        let id = customer["id"].as_str().unwrap();
        let other = server.org_key("other-fintech", &Scope::ALL).await;
        let before = server.counts().await;
        for path in [format!("/api/identity/customers/{id}"), format!("/api/identity/kyc/{id}")] {
            let (status, answer) = server.get_as(&other, &path).await;
            assert_eq!(
                (status, answer["error"]["code"].as_str()),
                (StatusCode::NOT_FOUND, Some("not_found")),
                "{path}"
            );
        }
        let (status, _) =
            server.post_as(&other, "/api/identity/nik/dukcapil", json!({"customerId": id, "valid": true})).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = server
            .post_as(&other, &format!("/api/identity/kyc/{id}/upgrade"), json!({"targetTier": "none", "reason": "x"}))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        // An unknown id answers exactly as another org's does.
        let (status, _) = server.get_as(&other, "/api/identity/customers/cus_01HXY0000000000000000000000").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (_, list) = server.get_as(&other, "/api/customers").await;
        assert_eq!(list["data"].as_array().unwrap().len(), 0);
        let (_, keys) = server.get_as(&other, "/api/identity/api-keys").await;
        let mine = server.get("/api/identity/api-keys").await.1;
        let my_ids: Vec<_> = mine["data"].as_array().unwrap().iter().map(|k| k["id"].clone()).collect();
        assert!(keys["data"].as_array().unwrap().iter().all(|k| !my_ids.contains(&k["id"])));
        let (status, _) = server
            .request(
                Method::DELETE,
                &format!("/api/identity/api-keys/{}", my_ids[0].as_str().unwrap()),
                Some(&other),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(server.counts().await, before);
    }
}
