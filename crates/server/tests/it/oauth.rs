//! OAuth2 client credentials (issue 17 §2): clients, the token route's RFC 6749 answers, tokens
//! accepted like API keys with their scopes, revocation, expiry, tampering and key rotation.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::testkit::{servers, TestServer};

/// Creates a client with `scopes` through the API; returns (client id, secret).
pub(crate) async fn new_client(server: &TestServer, scopes: &[&str]) -> (String, String) {
    let (status, created) =
        server.post("/api/identity/oauth-clients", json!({"name": "partner backend", "scopes": scopes})).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let client = &created["oauthClient"];
    (client["id"].as_str().unwrap().to_string(), client["clientSecret"].as_str().unwrap().to_string())
}

/// POSTs a form to the token route, optionally with HTTP Basic; returns status, headers, body.
async fn token_request(
    server: &TestServer,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut req = server.client.post(format!("{}/api/oauth/token", server.base)).form(form);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    let response = req.send().await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    (status, headers, response.json().await.unwrap())
}

pub(crate) async fn token(server: &TestServer, id: &str, secret: &str, scope: Option<&str>) -> String {
    let mut form = vec![("grant_type", "client_credentials")];
    if let Some(scope) = scope {
        form.push(("scope", scope));
    }
    let (status, _, body) = token_request(server, Some((id, secret)), &form).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

fn jwt_part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

#[tokio::test]
async fn client_credentials_give_tokens_that_work_like_api_keys_with_their_scopes() {
    for server in servers().await {
        let (id, secret) = new_client(&server, &["public", "internal"]).await;
        assert!(id.starts_with("ocl_") && secret.starts_with("qe_cs_"));
        let (_, list) = server.get("/api/identity/oauth-clients").await;
        assert!(!list.to_string().contains(&secret), "a list never shows a secret");
        assert_eq!(list["data"][0]["id"], id.as_str());
        assert_eq!(list["data"][0]["scopes"], json!(["public", "internal"]));

        // HTTP Basic (RFC 6749 §2.3.1): every scope of the client by default.
        let (status, headers, body) =
            token_request(&server, Some((&id, &secret)), &[("grant_type", "client_credentials")]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(headers["cache-control"], "no-store");
        assert_eq!((body["token_type"].as_str(), body["expires_in"].as_i64()), (Some("Bearer"), Some(900)));
        assert_eq!(body["scope"], "public internal");
        let access = body["access_token"].as_str().unwrap();
        let header = jwt_part(access, 0);
        assert_eq!((header["alg"].as_str(), header["typ"].as_str()), (Some("EdDSA"), Some("at+jwt")));
        let claims = jwt_part(access, 1);
        assert_eq!((claims["sub"].as_str(), claims["client_id"].as_str()), (Some(id.as_str()), Some(id.as_str())));
        assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 900);

        // The JWKS publishes the key the token names.
        let response = server.client.get(format!("{}/.well-known/jwks.json", server.base)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let jwks: Value = response.json().await.unwrap();
        let jwk = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == header["kid"]).unwrap();
        assert_eq!((jwk["kty"].as_str(), jwk["crv"].as_str()), (Some("OKP"), Some("Ed25519")));
        assert!(jwk.get("d").is_none(), "never the private half");

        // Accepted wherever an API key is, within its scopes; what it does is audited as the client.
        let (status, created) = server.post_as(access, "/api/customers", json!({"fullName": "Sari"})).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let (status, _) = server.get_as(access, "/api/identity/audit-log").await;
        assert_eq!(status, StatusCode::OK, "internal scope held");
        let (status, answer) = server.get_as(access, "/api/identity/api-keys").await;
        assert_eq!((status, answer["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("insufficient_scope")));

        // Form credentials, and a narrower scope on request.
        let (status, _, body) = token_request(
            &server,
            None,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", &secret),
                ("scope", "public"),
            ],
        )
        .await;
        assert_eq!((status, body["scope"].as_str()), (StatusCode::OK, Some("public")), "{body}");
        let narrow = body["access_token"].as_str().unwrap();
        let (status, _) = server.get_as(narrow, "/api/customers").await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = server.get_as(narrow, "/api/identity/audit-log").await;
        assert_eq!(status, StatusCode::FORBIDDEN, "a token holds only the scopes it was issued");

        let (_, log) = server.get("/api/identity/audit-log?limit=500").await;
        let entries = log["data"].as_array().unwrap();
        let issued = entries.iter().filter(|e| e["action"] == "oauth_token.issued").count();
        assert_eq!(issued, 2);
        assert!(entries.iter().any(|e| e["action"] == "customer.created" && e["actor"] == id.as_str()), "{log}");
        assert!(!log.to_string().contains(&secret) && !log.to_string().contains(access));
    }
}

#[tokio::test]
async fn refused_token_requests_answer_in_rfc6749_terms_and_write_nothing() {
    for server in servers().await {
        let (id, secret) = new_client(&server, &["public"]).await;
        let before = server.counts().await;
        let grant = ("grant_type", "client_credentials");

        let (status, headers, body) = token_request(&server, Some((&id, "qe_cs_wrong")), &[grant]).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")));
        assert!(headers["www-authenticate"].to_str().unwrap().starts_with("Basic"));
        let wrong_secret = body["error_description"].clone();
        // An unknown client gets the very same answer: the route does not tell which ids exist.
        let (status, _, body) =
            token_request(&server, Some(("ocl_01JAAAAAAAAAAAAAAAAAAAAAAA", &secret)), &[grant]).await;
        assert_eq!((status, &body["error_description"]), (StatusCode::UNAUTHORIZED, &wrong_secret));
        let (status, _, body) = token_request(&server, None, &[grant]).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")));

        for (form, error) in [
            (vec![("grant_type", "password")], "unsupported_grant_type"),
            (vec![("scope", "public")], "invalid_request"),
            (vec![grant, ("scope", "admin")], "invalid_scope"),
            (vec![grant, ("scope", "public root")], "invalid_scope"),
            (vec![grant, ("client_secret", secret.as_str())], "invalid_request"),
            (vec![grant, grant], "invalid_request"),
        ] {
            let (status, _, body) = token_request(&server, Some((&id, &secret)), &form).await;
            assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some(error)), "{form:?}: {body}");
            assert!(body["error_description"].is_string());
        }
        // JSON is not the token route's media type (RFC 6749 §4.4.2).
        let response = server
            .client
            .post(format!("{}/api/oauth/token", server.base))
            .basic_auth(&id, Some(&secret))
            .json(&json!({"grant_type": "client_credentials"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.json::<Value>().await.unwrap()["error"], "invalid_request");
        assert_eq!(server.counts().await, before, "a refused request audits and issues nothing");
    }
}

#[tokio::test]
async fn revoking_a_client_stops_its_tokens_at_once() {
    for server in servers().await {
        let (id, secret) = new_client(&server, &["public", "admin"]).await;
        let access = token(&server, &id, &secret, None).await;
        let (status, _) = server.get_as(&access, "/api/customers").await;
        assert_eq!(status, StatusCode::OK);
        // A client cannot revoke itself (it would lock out its holder).
        let (status, answer) =
            server.request(Method::DELETE, &format!("/api/identity/oauth-clients/{id}"), Some(&access), None).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("key_in_use")));

        let (status, revoked) =
            server.request(Method::DELETE, &format!("/api/identity/oauth-clients/{id}"), Some(&server.key), None).await;
        assert_eq!(status, StatusCode::OK, "{revoked}");
        assert!(revoked["oauthClient"]["revokedAt"].is_string());
        let response =
            server.client.get(format!("{}/api/customers", server.base)).bearer_auth(&access).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(response.headers()["www-authenticate"].to_str().unwrap().contains("invalid_token"));
        assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "invalid_token");
        let (status, _, body) =
            token_request(&server, Some((&id, &secret)), &[("grant_type", "client_credentials")]).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")));
        let (status, answer) = server.post(&format!("/api/identity/oauth-clients/{id}/revoke"), json!({})).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("already_revoked")));

        // Another org's admin sees neither the client nor a way to revoke it.
        let other = server.org_key("other-org", &[kenali_server::auth::Scope::Admin]).await;
        let (_, list) = server.get_as(&other, "/api/identity/oauth-clients").await;
        assert_eq!(list["data"], json!([]));
        let (status, _) =
            server.request(Method::DELETE, &format!("/api/identity/oauth-clients/{id}"), Some(&other), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn expired_forged_and_foreign_tokens_are_refused() {
    for server in servers().await {
        let (id, secret) = new_client(&server, &["public"]).await;
        let access = token(&server, &id, &secret, None).await;
        let refused = |answer: (StatusCode, Value)| (answer.0, answer.1["error"]["code"].as_str().map(str::to_string));
        let invalid = (StatusCode::UNAUTHORIZED, Some("invalid_token".to_string()));

        // Claims rewritten to add a scope: the signature no longer verifies.
        let mut claims = jwt_part(&access, 1);
        claims["scope"] = json!("public admin");
        let parts: Vec<&str> = access.split('.').collect();
        let forged = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(claims.to_string()), parts[2]);
        assert_eq!(refused(server.get_as(&forged, "/api/identity/api-keys").await), invalid);
        // `alg: none`, and a key id nobody issued.
        let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"at+jwt","kid":"x"}"#);
        let unsigned = format!("{none_header}.{}.", parts[1]);
        assert_eq!(refused(server.get_as(&unsigned, "/api/customers").await), invalid);
        let mut header = jwt_part(&access, 0);
        header["kid"] = json!("kid_01JAAAAAAAAAAAAAAAAAAAAAAA");
        let unknown_kid = format!("{}.{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), parts[1], parts[2]);
        assert_eq!(refused(server.get_as(&unknown_kid, "/api/customers").await), invalid);
        // A token signed by another deployment's key (this test's own) is foreign.
        let seed: [u8; 32] = rand::random();
        let foreign_key = ed25519_dalek::SigningKey::from_bytes(&seed);
        use ed25519_dalek::Signer;
        let signing_input = format!("{}.{}", parts[0], parts[1]);
        let foreign = format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(foreign_key.sign(signing_input.as_bytes()).to_bytes())
        );
        assert_eq!(refused(server.get_as(&foreign, "/api/customers").await), invalid);

        // Still fine just before its expiry; refused past it (and the leeway).
        server.state.clock.advance(time::Duration::seconds(880));
        assert_eq!(server.get_as(&access, "/api/customers").await.0, StatusCode::OK);
        server.state.clock.advance(time::Duration::seconds(60));
        assert_eq!(
            refused(server.get_as(&access, "/api/customers").await),
            (StatusCode::UNAUTHORIZED, Some("token_expired".to_string()))
        );
    }
}

#[tokio::test]
async fn rotated_signing_keys_verify_until_dropped() {
    for server in servers().await {
        let (id, secret) = new_client(&server, &["public"]).await;
        let old = token(&server, &id, &secret, None).await;
        let old_kid = jwt_part(&old, 0)["kid"].clone();
        kenali_server::oauth::rotate(&server.state, false).await.unwrap();
        let new = token(&server, &id, &secret, None).await;
        assert_ne!(jwt_part(&new, 0)["kid"], old_kid, "the new key signs");
        assert_eq!(server.get_as(&old, "/api/customers").await.0, StatusCode::OK, "the retired key still verifies");
        let (_, jwks) = server.request(Method::GET, "/.well-known/jwks.json", None, None).await;
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);

        // Dropping retired keys (a compromised key) stops their tokens.
        kenali_server::oauth::rotate(&server.state, true).await.unwrap();
        assert_eq!(server.get_as(&old, "/api/customers").await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(server.get_as(&new, "/api/customers").await.0, StatusCode::UNAUTHORIZED);
        let (_, jwks) = server.request(Method::GET, "/.well-known/jwks.json", None, None).await;
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
        let newest = token(&server, &id, &secret, None).await;
        assert_eq!(server.get_as(&newest, "/api/customers").await.0, StatusCode::OK);
    }
}

#[tokio::test]
async fn a_narrower_token_never_replays_what_a_wider_one_did() {
    for server in servers().await {
        let (id, secret) = new_client(&server, &["public", "admin"]).await;
        let wide = token(&server, &id, &secret, None).await;
        let narrow = token(&server, &id, &secret, Some("public")).await;
        let (_, created) = server.post("/api/identity/api-keys", json!({"name": "doomed", "scopes": ["public"]})).await;
        let path = format!("/api/identity/api-keys/{}/revoke", created["apiKey"]["id"].as_str().unwrap());
        let send = |key: &str| {
            server
                .client
                .post(format!("{}{path}", server.base))
                .bearer_auth(key)
                .header("idempotency-key", "revoke-once")
                .json(&json!({}))
                .send()
        };
        assert_eq!(send(&wide).await.unwrap().status(), StatusCode::OK);
        assert_eq!(send(&wide).await.unwrap().status(), StatusCode::OK, "the same caller replays its answer");
        let replay = send(&narrow).await.unwrap();
        assert_eq!(replay.status(), StatusCode::FORBIDDEN, "the narrow token gets its own scope check");
    }
}

#[tokio::test]
async fn token_issuance_is_rate_limited_per_client() {
    let server = TestServer::start(None).await;
    let (id, secret) = new_client(&server, &["public"]).await;
    let basic = format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")));
    let mut last = None;
    for _ in 0..61 {
        let response = server
            .client
            .post(format!("{}/api/oauth/token", server.base))
            .header("authorization", &basic)
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        last = Some((
            response.status(),
            response.headers().get("retry-after").is_some(),
            response.json::<Value>().await.unwrap(),
        ));
    }
    let (status, retry_after, body) = last.unwrap();
    assert_eq!((status, body["error"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("temporarily_unavailable")));
    assert!(retry_after);
}

/// The real binary at `debug` logging: a client secret, an access token and the API key that
/// created them never appear in its log, whether a request succeeds or fails.
#[tokio::test]
async fn secrets_and_tokens_never_reach_the_log() {
    use std::io::BufRead;
    let data_dir = std::env::temp_dir().join(format!("kenali-log-{}", ulid::Ulid::new()));
    let models = crate::testkit::models_dir();
    crate::testkit::test_faces(); // the models are fetched once, here, not by the binary
    let key = crate::testkit::random_key();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kenali"))
        .arg("serve")
        .env_remove("KENALI_DATABASE_URL")
        .env_remove("KENALI_MASTER_KEY")
        .env_remove("KENALI_BLOB_URL")
        .env("KENALI_DATA_DIR", &data_dir)
        .env("KENALI_MODELS_DIR", &models)
        .env("KENALI_LISTEN", "127.0.0.1:0")
        .env("KENALI_LOG", "debug")
        .env("KENALI_LOG_FORMAT", "json")
        .env("KENALI_BOOTSTRAP_API_KEY", &key)
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let (address_tx, address_rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    let collected = log.clone();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Ok(entry) = serde_json::from_str::<Value>(&line) {
                if entry["fields"]["message"] == "listening" {
                    let _ = address_tx.send(entry["fields"]["address"].as_str().unwrap_or_default().to_string());
                }
            }
            collected.lock().unwrap().push_str(&line);
            collected.lock().unwrap().push('\n');
        }
    });
    let address = address_rx.recv_timeout(std::time::Duration::from_secs(120)).expect("the server started");
    let base = format!("http://{address}");
    let client = reqwest::Client::new();
    let created: Value = client
        .post(format!("{base}/api/identity/oauth-clients"))
        .bearer_auth(&key)
        .json(&json!({"name": "partner", "scopes": ["public"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (id, secret) = (
        created["oauthClient"]["id"].as_str().unwrap().to_string(),
        created["oauthClient"]["clientSecret"].as_str().unwrap().to_string(),
    );
    let token = |secret: String| {
        client
            .post(format!("{base}/api/oauth/token"))
            .basic_auth(&id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
    };
    let wrong = format!("{secret}x");
    assert_eq!(token(wrong.clone()).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let issued: Value = token(secret.clone()).await.unwrap().json().await.unwrap();
    let access = issued["access_token"].as_str().unwrap().to_string();
    let used = client.get(format!("{base}/api/customers")).bearer_auth(&access).send().await.unwrap();
    assert_eq!(used.status(), StatusCode::OK);
    let forged = client.get(format!("{base}/api/customers")).bearer_auth(format!("{access}x")).send().await.unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    child.kill().unwrap();
    child.wait().unwrap();
    reader.join().unwrap();
    let log = log.lock().unwrap().clone();
    let _ = std::fs::remove_dir_all(&data_dir);
    assert!(log.contains(&id), "the log names the client (it is not a secret)");
    // The JWT's signature part alone would betray a logged token, whatever else was cut.
    let signature = access.rsplit('.').next().unwrap();
    for (what, secret) in
        [("client secret", secret.as_str()), ("wrong secret", &wrong), ("API key", &key), ("token", signature)]
    {
        assert!(!log.contains(secret), "the {what} reached the log");
    }
}
