//! Dashboard sign-in (issue 19): passwords, sessions behind a cookie with CSRF tokens, passkeys
//! through a software authenticator, the org's passkey requirement and enrollment tokens, and
//! each way a sign-in can be wrong.

use std::time::{Duration, Instant};

use kenali_server::service::users::{self, Role};
use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse, Url};

use crate::testkit::{servers, TestServer};

const PASSWORD: &str = "correct horse battery staple";

/// A browser's view of one session: the cookie it holds and the CSRF token it was given.
#[derive(Clone, Debug)]
struct Browser {
    cookie: Option<String>,
    csrf: Option<String>,
}

struct Answer {
    status: StatusCode,
    body: Value,
    set_cookie: Option<String>,
}

impl Browser {
    fn new() -> Self {
        Browser { cookie: None, csrf: None }
    }

    async fn send(
        &mut self,
        server: &TestServer,
        method: Method,
        path: &str,
        body: Option<Value>,
        csrf: bool,
    ) -> Answer {
        let mut req = server.client.request(method, format!("{}{path}", server.base));
        if let Some(cookie) = &self.cookie {
            req = req.header(COOKIE, cookie);
        }
        if let (true, Some(token)) = (csrf, &self.csrf) {
            req = req.header("x-csrf-token", token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let response = req.send().await.unwrap();
        let status = response.status();
        let set_cookie = response.headers().get(SET_COOKIE).map(|v| v.to_str().unwrap().to_string());
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if let Some(set) = &set_cookie {
            // Keep `name=value`, as a browser would send it back.
            let pair = set.split(';').next().unwrap().to_string();
            self.cookie = if pair.ends_with('=') { None } else { Some(pair) };
        }
        if let Some(token) = body["session"]["csrfToken"].as_str() {
            self.csrf = Some(token.to_string());
        }
        Answer { status, body, set_cookie }
    }

    async fn get(&mut self, server: &TestServer, path: &str) -> Answer {
        self.send(server, Method::GET, path, None, false).await
    }

    async fn post(&mut self, server: &TestServer, path: &str, body: Value) -> Answer {
        self.send(server, Method::POST, path, Some(body), true).await
    }

    async fn login(server: &TestServer, email: &str, password: &str) -> (Browser, Answer) {
        let mut browser = Browser::new();
        let answer = browser.post(server, "/api/auth/login", json!({"email": email, "password": password})).await;
        (browser, answer)
    }
}

async fn user(server: &TestServer, email: &str, role: Role, password: Option<&str>) -> users::CreatedUser {
    users::create(&server.state, "default", email, role, password, "test").await.unwrap()
}

#[tokio::test]
async fn a_password_session_works_the_dashboard_routes_with_csrf_and_ends_at_logout() {
    for server in servers().await {
        let analyst = user(&server, "Ani@Acme.id", Role::Analyst, Some(PASSWORD)).await;
        let (mut browser, answer) = Browser::login(&server, "ani@acme.id", PASSWORD).await;
        assert_eq!(answer.status, StatusCode::OK, "{}: {}", server.backend, answer.body);
        let set_cookie = answer.set_cookie.unwrap();
        for attribute in ["kenali_session=", "HttpOnly", "SameSite=Strict", "Path=/"] {
            assert!(set_cookie.contains(attribute), "{set_cookie}");
        }
        // Plain http here: no Secure (a browser would drop it), so no __Host- prefix either.
        assert!(!set_cookie.contains("Secure"), "{set_cookie}");
        assert_eq!(answer.body["user"]["id"], analyst.user.id.as_str());
        assert_eq!(answer.body["session"]["scopes"], json!(["public", "internal"]));

        let me = browser.get(&server, "/api/auth/me").await;
        assert_eq!(me.status, StatusCode::OK, "{}", me.body);
        assert_eq!(me.body["user"]["role"], "analyst");
        assert_eq!(me.body["org"]["name"], "default");
        assert_eq!(me.body["session"]["method"], "password");
        assert_eq!(me.body["passkeys"], json!([]));

        // An analyst reads the dashboard's routes, but not an admin's.
        assert_eq!(browser.get(&server, "/api/identity/review-queue").await.status, StatusCode::OK);
        let admin_only = browser.get(&server, "/api/identity/api-keys").await;
        assert_eq!(admin_only.status, StatusCode::FORBIDDEN, "{}", admin_only.body);

        // A change without the CSRF token (what a cross-site form would send) changes nothing.
        let customers = server.count("customers").await;
        let forged =
            browser.send(&server, Method::POST, "/api/customers", Some(json!({"fullName": "Forged"})), false).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.body);
        assert_eq!(forged.body["error"]["code"], "csrf_token_invalid");
        let mut wrong = browser.clone();
        wrong.csrf = Some("00".repeat(32));
        assert_eq!(
            wrong.post(&server, "/api/customers", json!({"fullName": "Forged"})).await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(server.count("customers").await, customers);

        // With it, the person acts, and the audit log names them.
        let created = browser.post(&server, "/api/customers", json!({"fullName": "Siti Rahma"})).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let entry = server.audit_entries("customer.created").await.remove(0);
        assert_eq!(entry["actor"], analyst.user.id.as_str());

        // A tier override by a signed-in analyst records the analyst, and no one else.
        let customer = created.body["customer"]["id"].as_str().unwrap().to_string();
        let upgrade = format!("/api/identity/kyc/{customer}/upgrade");
        let other = json!({"targetTier": "basic", "reason": "checked by phone", "actorUserId": "usr_01J00000000000000000000000"});
        assert_eq!(browser.post(&server, &upgrade, other).await.status, StatusCode::BAD_REQUEST);
        let overridden =
            browser.post(&server, &upgrade, json!({"targetTier": "basic", "reason": "checked by phone"})).await;
        assert_eq!(overridden.status, StatusCode::OK, "{}", overridden.body);
        assert_eq!(overridden.body["verification"]["actorUserId"], analyst.user.id.as_str());

        // Logout needs the token too; afterwards the cookie opens nothing.
        let stale = browser.clone();
        assert_eq!(
            browser.send(&server, Method::POST, "/api/auth/logout", None, false).await.status,
            StatusCode::FORBIDDEN
        );
        let out = browser.send(&server, Method::POST, "/api/auth/logout", None, true).await;
        assert_eq!(out.status, StatusCode::NO_CONTENT);
        assert!(out.set_cookie.unwrap().contains("Max-Age=0"));
        let after = stale.clone().get(&server, "/api/auth/me").await;
        assert_eq!(after.status, StatusCode::UNAUTHORIZED);
        assert_eq!(after.body["error"]["code"], "session_expired");
        assert_eq!(server.audit_entries("auth.signed_out").await.len(), 1);

        // API keys are not people: the session routes refuse them.
        let (status, body) = server.get("/api/auth/me").await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(body["error"]["code"], "session_required");
    }
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_account_get_one_answer_and_a_flood_is_refused() {
    for server in servers().await {
        let ani = user(&server, "ani@acme.id", Role::Analyst, Some(PASSWORD)).await;
        let mut wrong = Vec::new();
        let mut unknown = Vec::new();
        for _ in 0..4 {
            let started = Instant::now();
            let a = Browser::login(&server, "ani@acme.id", "not the password at all").await.1;
            wrong.push(started.elapsed());
            let started = Instant::now();
            let b = Browser::login(&server, "nobody@acme.id", "not the password at all").await.1;
            unknown.push(started.elapsed());
            assert_eq!(a.status, StatusCode::UNAUTHORIZED);
            assert_eq!(b.status, StatusCode::UNAUTHORIZED);
            assert_eq!(a.body["error"]["code"], b.body["error"]["code"]);
            assert_eq!(a.body["error"]["message"], b.body["error"]["message"]);
            assert!(a.set_cookie.is_none() && b.set_cookie.is_none());
        }
        // An unknown account costs the same argon2 verification as a wrong password: without
        // the decoy hash it would answer in a fraction of the time.
        let median = |v: &mut Vec<Duration>| {
            v.sort();
            v[v.len() / 2]
        };
        let (wrong, unknown) = (median(&mut wrong), median(&mut unknown));
        assert!(unknown * 2 >= wrong, "unknown account {unknown:?} vs wrong password {wrong:?}");
        let refused = server.audit_entries("auth.sign_in_refused").await;
        assert_eq!(refused.len(), 4);
        assert_eq!(refused[0]["target"], ani.user.id.as_str());
        assert_eq!(refused[0]["details"]["reason"], "wrong_password");
        assert!(!refused[0]["details"].to_string().contains("not the password"));

        // Ten tries per account in five minutes; then 429 even with the right password.
        let mut limited = None;
        for attempt in 0..12 {
            let answer = Browser::login(&server, "budi@acme.id", "guess number one").await.1;
            if answer.status == StatusCode::TOO_MANY_REQUESTS {
                limited = Some(attempt);
                break;
            }
        }
        assert_eq!(limited, Some(10), "{}", server.backend);
        user(&server, "budi@acme.id", Role::Analyst, Some(PASSWORD)).await;
        assert_eq!(Browser::login(&server, "budi@acme.id", PASSWORD).await.1.status, StatusCode::TOO_MANY_REQUESTS);
        // Other accounts are not locked out by it.
        assert_eq!(Browser::login(&server, "ani@acme.id", PASSWORD).await.1.status, StatusCode::OK);

        // Bad input is a 400 that counts nothing.
        let bad = Browser::login(&server, "not an email", PASSWORD).await.1;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn sessions_end_when_idle_at_their_absolute_end_and_when_the_user_is_disabled() {
    for server in servers().await {
        let ani = user(&server, "ani@acme.id", Role::Admin, Some(PASSWORD)).await;
        let (mut browser, _) = Browser::login(&server, "ani@acme.id", PASSWORD).await;
        assert_eq!(browser.get(&server, "/api/identity/api-keys").await.status, StatusCode::OK);
        // Requests within the idle window keep it alive...
        for _ in 0..3 {
            server.state.clock.advance(time::Duration::minutes(20));
            assert_eq!(browser.get(&server, "/api/auth/me").await.status, StatusCode::OK);
        }
        // ... until the idle window passes without one.
        server.state.clock.advance(time::Duration::minutes(31));
        assert_eq!(browser.get(&server, "/api/auth/me").await.status, StatusCode::UNAUTHORIZED);

        // However busy, a session ends 12 hours after sign-in.
        let (mut busy, _) = Browser::login(&server, "ani@acme.id", PASSWORD).await;
        for _ in 0..25 {
            server.state.clock.advance(time::Duration::minutes(29));
            if busy.get(&server, "/api/auth/me").await.status != StatusCode::OK {
                break;
            }
        }
        assert_eq!(busy.get(&server, "/api/auth/me").await.status, StatusCode::UNAUTHORIZED);

        // Disabling the user ends their live session at once, and they cannot sign in again.
        let (mut live, _) = Browser::login(&server, "ani@acme.id", PASSWORD).await;
        let first = live.cookie.clone();
        let (mut second, _) = Browser::login(&server, "ani@acme.id", PASSWORD).await;
        assert_ne!(first, second.cookie, "each sign-in gets a new session id");
        let actor = kenali_server::ledger::Actor {
            org_id: ani.user.org_id.clone(),
            actor: "test".into(),
            actor_user_id: None,
            request_id: "test".into(),
        };
        assert!(users::disable(&server.state, &ani.user.org_id, &ani.user.id, &actor).await.unwrap());
        assert_eq!(live.get(&server, "/api/auth/me").await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(second.get(&server, "/api/auth/me").await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(Browser::login(&server, "ani@acme.id", PASSWORD).await.1.status, StatusCode::UNAUTHORIZED);
        let refused = server.audit_entries("auth.sign_in_refused").await;
        assert_eq!(refused[0]["details"]["reason"], "disabled");
    }
}

/// The origin the software authenticator signs for: the relying party is `localhost` on any
/// port when no public URL is configured.
fn origin(server: &TestServer) -> Url {
    let port = server.base.rsplit(':').next().unwrap();
    Url::parse(&format!("http://localhost:{port}")).unwrap()
}

async fn register_passkey(
    server: &TestServer,
    browser: &mut Browser,
    authenticator: &mut SoftPasskey,
    name: &str,
) -> Value {
    let begun = browser.post(server, "/api/auth/webauthn/register/begin", json!({})).await;
    assert_eq!(begun.status, StatusCode::OK, "{}", begun.body);
    let options: CreationChallengeResponse = serde_json::from_value(begun.body["options"].clone()).unwrap();
    let credential = authenticator.do_registration(origin(server), options).unwrap();
    let finish = json!({"ceremonyId": begun.body["ceremonyId"], "name": name, "credential": credential});
    let done = browser.post(server, "/api/auth/webauthn/register/finish", finish).await;
    assert_eq!(done.status, StatusCode::CREATED, "{}", done.body);
    done.body["passkey"].clone()
}

/// Begins a passkey sign-in; returns the ceremony id and the request options.
async fn begin_sign_in(server: &TestServer, body: Value) -> (String, RequestChallengeResponse) {
    let begun = Browser::new().post(server, "/api/auth/webauthn/auth/begin", body).await;
    assert_eq!(begun.status, StatusCode::OK, "{}", begun.body);
    (
        begun.body["ceremonyId"].as_str().unwrap().to_string(),
        serde_json::from_value(begun.body["options"].clone()).unwrap(),
    )
}

#[tokio::test]
async fn a_passkey_registered_while_signed_in_signs_in_alone_once_per_challenge() {
    for server in servers().await {
        let ani = user(&server, "ani@acme.id", Role::Analyst, Some(PASSWORD)).await;
        let budi = user(&server, "budi@acme.id", Role::Analyst, Some(PASSWORD)).await;
        let mut ani_key = SoftPasskey::new(true);
        let mut budi_key = SoftPasskey::new(true);
        let (mut browser, _) = Browser::login(&server, "ani@acme.id", PASSWORD).await;
        let passkey = register_passkey(&server, &mut browser, &mut ani_key, "work laptop").await;
        assert!(passkey["id"].as_str().unwrap().starts_with("pk_"));
        let (mut budi_browser, _) = Browser::login(&server, "budi@acme.id", PASSWORD).await;
        register_passkey(&server, &mut budi_browser, &mut budi_key, "phone").await;
        let me = browser.get(&server, "/api/auth/me").await;
        assert_eq!(me.body["passkeys"][0]["name"], "work laptop");
        browser.send(&server, Method::POST, "/api/auth/logout", None, true).await;

        // Sign in with the passkey alone: no password anywhere.
        let (ceremony, options) = begin_sign_in(&server, json!({"email": "ani@acme.id"})).await;
        assert_eq!(options.public_key.allow_credentials.len(), 1);
        let assertion = ani_key.do_authentication(origin(&server), options).unwrap();
        let finish = json!({"ceremonyId": ceremony, "credential": assertion});
        let mut passkey_browser = Browser::new();
        let signed = passkey_browser.post(&server, "/api/auth/webauthn/auth/finish", finish.clone()).await;
        assert_eq!(signed.status, StatusCode::OK, "{}", signed.body);
        assert_eq!(signed.body["user"]["id"], ani.user.id.as_str());
        assert_eq!(signed.body["session"]["method"], "passkey");
        let me = passkey_browser.get(&server, "/api/auth/me").await;
        assert_eq!(me.status, StatusCode::OK);
        assert!(me.body["passkeys"][0]["lastUsedAt"].is_string());

        // The same assertion again: its ceremony is spent.
        let replayed = Browser::new().post(&server, "/api/auth/webauthn/auth/finish", finish).await;
        assert_eq!(replayed.status, StatusCode::UNAUTHORIZED, "{}", replayed.body);
        assert_eq!(replayed.body["error"]["code"], "passkey_refused");

        // Budi's passkey answering a sign-in begun for Ani is refused and audited.
        let (ceremony, mut options) = begin_sign_in(&server, json!({"email": "ani@acme.id"})).await;
        let (_, budi_options) = begin_sign_in(&server, json!({"email": "budi@acme.id"})).await;
        options.public_key.allow_credentials = budi_options.public_key.allow_credentials;
        let assertion = budi_key.do_authentication(origin(&server), options).unwrap();
        let crossed = Browser::new()
            .post(&server, "/api/auth/webauthn/auth/finish", json!({"ceremonyId": ceremony, "credential": assertion}))
            .await;
        assert_eq!(crossed.status, StatusCode::UNAUTHORIZED, "{}", crossed.body);
        let refused = server.audit_entries("auth.sign_in_refused").await;
        assert_eq!(refused[0]["target"], budi.user.id.as_str());
        assert_eq!(refused[0]["details"]["reason"], "passkey_of_another_account");

        // A discoverable sign-in (no email) finds the account from the credential.
        let (ceremony, mut options) = begin_sign_in(&server, json!({})).await;
        assert!(options.public_key.allow_credentials.is_empty());
        // The software authenticator cannot keep discoverable credentials, so it is told which.
        let (_, ani_options) = begin_sign_in(&server, json!({"email": "ani@acme.id"})).await;
        options.public_key.allow_credentials = ani_options.public_key.allow_credentials.clone();
        let assertion = ani_key.do_authentication(origin(&server), options).unwrap();
        let found = Browser::new()
            .post(&server, "/api/auth/webauthn/auth/finish", json!({"ceremonyId": ceremony, "credential": assertion}))
            .await;
        assert_eq!(found.status, StatusCode::OK, "{}", found.body);
        assert_eq!(found.body["user"]["id"], ani.user.id.as_str());

        // An email with no account gets believable credential ids, the same each time.
        let (_, first) = begin_sign_in(&server, json!({"email": "ghost@acme.id"})).await;
        let (_, second) = begin_sign_in(&server, json!({"email": "ghost@acme.id"})).await;
        let ids = |o: &RequestChallengeResponse| {
            o.public_key.allow_credentials.iter().map(|c| c.id.clone()).collect::<Vec<_>>()
        };
        assert_eq!(ids(&first), ids(&second));

        // A passkey can be removed; then it signs in no more.
        let mut signed_in = browser_for(&server, "ani@acme.id").await;
        let path = format!("/api/auth/passkeys/{}", passkey["id"].as_str().unwrap());
        assert_eq!(signed_in.send(&server, Method::DELETE, &path, None, true).await.status, StatusCode::NO_CONTENT);
        assert_eq!(signed_in.get(&server, "/api/auth/passkeys").await.body["data"], json!([]));
        let (ceremony, mut options) = begin_sign_in(&server, json!({})).await;
        options.public_key.allow_credentials = ani_options.public_key.allow_credentials.clone();
        let assertion = ani_key.do_authentication(origin(&server), options).unwrap();
        let gone = Browser::new()
            .post(&server, "/api/auth/webauthn/auth/finish", json!({"ceremonyId": ceremony, "credential": assertion}))
            .await;
        assert_eq!(gone.status, StatusCode::UNAUTHORIZED, "{}", gone.body);
    }
}

async fn browser_for(server: &TestServer, email: &str) -> Browser {
    let (browser, answer) = Browser::login(server, email, PASSWORD).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    browser
}

#[tokio::test]
async fn an_org_that_requires_passkeys_lets_a_password_only_enroll_one() {
    for server in servers().await {
        let (status, body) = server
            .request(
                Method::PATCH,
                "/api/identity/org/settings",
                Some(&server.key),
                Some(&json!({"analystsRequirePasskey": true})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        user(&server, "ani@acme.id", Role::Analyst, Some(PASSWORD)).await;
        user(&server, "admin@acme.id", Role::Admin, Some(PASSWORD)).await;

        // An analyst without a passkey gets a session that can only enroll one.
        let (mut browser, answer) = Browser::login(&server, "ani@acme.id", PASSWORD).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert_eq!(answer.body["session"]["purpose"], "enroll");
        assert_eq!(answer.body["session"]["scopes"], json!([]));
        assert_eq!(browser.get(&server, "/api/identity/review-queue").await.status, StatusCode::FORBIDDEN);
        let mut key = SoftPasskey::new(true);
        register_passkey(&server, &mut browser, &mut key, "laptop").await;
        // Now the password no longer signs her in; the passkey does.
        let refused = Browser::login(&server, "ani@acme.id", PASSWORD).await.1;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert_eq!(refused.body["error"]["code"], "passkey_required");
        let (ceremony, options) = begin_sign_in(&server, json!({"email": "ani@acme.id"})).await;
        let assertion = key.do_authentication(origin(&server), options).unwrap();
        let mut signed = Browser::new();
        let answer = signed
            .post(&server, "/api/auth/webauthn/auth/finish", json!({"ceremonyId": ceremony, "credential": assertion}))
            .await;
        assert_eq!(answer.body["session"]["purpose"], "full");
        assert_eq!(signed.get(&server, "/api/identity/review-queue").await.status, StatusCode::OK);
        // Admins are not analysts: the setting leaves their password alone.
        assert_eq!(Browser::login(&server, "admin@acme.id", PASSWORD).await.1.body["session"]["purpose"], "full");
    }
}

#[tokio::test]
async fn an_enrollment_token_opens_one_enroll_only_session() {
    for server in servers().await {
        let created = user(&server, "new@acme.id", Role::Analyst, None).await;
        assert!(created.enrollment_token.starts_with("qe_enr_"));
        // No password: the password route refuses like any other wrong password.
        assert_eq!(Browser::login(&server, "new@acme.id", PASSWORD).await.1.status, StatusCode::UNAUTHORIZED);
        let mut browser = Browser::new();
        let opened = browser.post(&server, "/api/auth/enroll", json!({"token": created.enrollment_token})).await;
        assert_eq!(opened.status, StatusCode::OK, "{}", opened.body);
        assert_eq!(opened.body["session"]["purpose"], "enroll");
        let mut key = SoftPasskey::new(true);
        register_passkey(&server, &mut browser, &mut key, "first").await;
        let again = Browser::new().post(&server, "/api/auth/enroll", json!({"token": created.enrollment_token})).await;
        assert_eq!(again.status, StatusCode::UNAUTHORIZED);
        assert_eq!(again.body["error"]["code"], "invalid_enrollment_token");
    }
}
