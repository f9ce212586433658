//! The OpenAPI description covers every route, and Swagger UI is served from the binary.

use reqwest::StatusCode;
use serde_json::Value;

use crate::testkit::TestServer;

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
    // The router and the description come from one declaration (app::api_routes): every
    // documented operation is served, behind the API key except the health check, the JWKS and
    // the token route (which authenticates the OAuth client itself: 401 `invalid_client`) and
    // the signed upload route (whose URL is its credential: 403 `upload_url_invalid`).
    assert!(documented.len() >= 40, "{documented:?}");
    for operation in &documented {
        let (method, path) = operation.split_once(' ').unwrap();
        let mut url = format!("{}{}", server.base, path.replace('{', "x").replace('}', ""));
        let upload = path == "/api/b2b/uploads/{id}/{role}";
        if upload {
            url.push_str("?expires=0&signature=00");
        }
        let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let mut request = server.client.request(method, url);
        if path == "/api/oauth/token" {
            request = request.form(&[("grant_type", "client_credentials")]);
        }
        let response = request.send().await.unwrap();
        // Sign-in needs no credential, only a body saying who signs in; a device registers
        // with the token in its body.
        let sign_in = [
            "/api/auth/login",
            "/api/auth/webauthn/auth/begin",
            "/api/auth/webauthn/auth/finish",
            "/api/auth/enroll",
            "/api/identity/devices/register-with-token",
        ];
        if sign_in.contains(&path) {
            let status = response.status();
            assert!(status.is_client_error() && status != StatusCode::UNAUTHORIZED, "{operation}: {status}");
            continue;
        }
        let open = ["/api/healthz", "/.well-known/jwks.json"];
        let expected = match () {
            _ if open.contains(&path) => StatusCode::OK,
            _ if upload => StatusCode::FORBIDDEN,
            _ => StatusCode::UNAUTHORIZED,
        };
        assert_eq!(response.status(), expected, "{operation}");
    }
    // Every schema a description names is in it (routes name their bodies, not what they hold).
    let text = spec.to_string();
    for reference in text.split("\"#/components/schemas/").skip(1) {
        let name = reference.split('"').next().unwrap();
        assert!(spec["components"]["schemas"][name].is_object(), "{name} is referenced but not described");
    }
    // Seed 000's routes are among them.
    for route in ["post /api/customers", "post /api/identity/auth/step-up", "post /api/identity/document/ktp/capture"] {
        assert!(documented.iter().any(|d| d == route), "{route} missing from {documented:?}");
    }
    // Every success is described by a schema, not left open.
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            for (status, response) in operation["responses"].as_object().unwrap() {
                // 204 has no body by definition.
                if !status.starts_with('2') || status == "204" {
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
