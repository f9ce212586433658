//! The OpenAPI description covers every route, and Swagger UI is served from the binary.

use reqwest::StatusCode;
use serde_json::Value;

use crate::testkit::TestServer;

/// Every route and method of the API (app.rs), as `METHOD path`.
const ROUTES: &[&str] = &[
    "get /api/healthz",
    "post /api/customers",
    "get /api/customers",
    "get /api/identity/customers/{id}",
    "post /api/identity/customers/{id}/erase",
    "get /api/identity/kyc/{customer_id}",
    "post /api/identity/kyc/{customer_id}/upgrade",
    "post /api/identity/nik/validate",
    "post /api/identity/nik/dukcapil",
    "get /api/identity/tier-events",
    "get /api/identity/audit-log",
    "get /api/identity/webhooks",
    "post /api/identity/webhooks",
    "patch /api/identity/webhooks/{id}",
    "delete /api/identity/webhooks/{id}",
    "post /api/identity/webhooks/{id}/test",
    "get /api/identity/webhooks/{id}/deliveries",
    "post /api/identity/webhooks/{id}/deliveries/{event_id}/redeliver",
    "get /api/identity/search",
    "get /api/identity/export/customers.csv",
    "get /api/identity/export/verifications.csv",
    "get /api/identity/org/settings",
    "patch /api/identity/org/settings",
    "get /api/identity/api-keys",
    "post /api/identity/api-keys",
    "delete /api/identity/api-keys/{id}",
    "post /api/identity/api-keys/{id}/revoke",
    "post /api/identity/face/match",
    "post /api/identity/face/flash-challenge",
    "post /api/identity/face/liveness",
    "post /api/identity/auth/step-up",
    "get /api/identity/face/enrollments",
    "post /api/identity/document/ktp/challenge",
    "post /api/identity/document/ktp/capture",
    "get /api/identity/review-queue",
    "post /api/identity/review-queue/{id}/decision",
    "post /api/identity/devices/register",
    "post /api/identity/devices/{id}/revoke",
    "get /api/identity/attempts",
    "get /api/identity/customers/{id}/attempts",
];

#[tokio::test]
async fn the_openapi_description_covers_every_route_and_swagger_ui_is_vendored() {
    let server = TestServer::start(None).await;
    // Open, like the health check: the contract is not a secret.
    let response = server.client.get(format!("{}/api/openapi.json", server.base)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let spec: Value = response.json().await.unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."), "{}", spec["openapi"]);
    let mut documented: Vec<String> = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.push(format!("{method} {path}"));
        }
    }
    documented.sort();
    let mut expected: Vec<String> = ROUTES.iter().map(|r| r.to_string()).collect();
    expected.sort();
    assert_eq!(documented, expected);
    // Every success is described by a schema, not left open.
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            for (status, response) in operation["responses"].as_object().unwrap() {
                if !status.starts_with('2') {
                    continue;
                }
                let content = response["content"].as_object().unwrap();
                for (media, body) in content {
                    let schema = body["schema"].as_object().unwrap();
                    assert!(!schema.is_empty(), "{method} {path} {status} {media}: no schema");
                }
            }
        }
    }
    // Request bodies refuse unknown fields, as the handlers do.
    let create = &spec["components"]["schemas"]["CreateCustomer"];
    assert_eq!(create["additionalProperties"], false, "{create}");
    assert_eq!(create["required"], serde_json::json!(["fullName"]), "{create}");
    assert!(spec["components"]["securitySchemes"]["apiKey"].is_object());

    let page = server.client.get(format!("{}/api/docs/", server.base)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    assert!(!html.contains("https://"), "no CDN: {html}");
    let css = server.client.get(format!("{}/api/docs/swagger-ui.css", server.base)).send().await.unwrap();
    assert_eq!(css.status(), StatusCode::OK);
    let init = server.client.get(format!("{}/api/docs/swagger-initializer.js", server.base)).send().await.unwrap();
    assert!(init.text().await.unwrap().contains("/api/openapi.json"));
}
