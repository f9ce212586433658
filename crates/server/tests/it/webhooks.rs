//! Webhooks: events reach a real receiver signed as SPEC §8, failures are retried and logged,
//! a hanging receiver holds nothing up, targets are checked, and claims never overlap.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode as AxumStatus};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::testkit::{servers, TestServer, NIK_MALE};

/// One request the receiver got.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

/// How the receiver answers its n-th request (0-based).
pub(crate) type Behaviour = Arc<dyn Fn(usize) -> Answer + Send + Sync>;

#[derive(Clone, Copy)]
pub(crate) enum Answer {
    Status(u16),
    Hang,
}

pub(crate) struct Receiver {
    pub(crate) url: String,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub(crate) async fn start(behaviour: Behaviour) -> Receiver {
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let state = (got.clone(), behaviour);
        let app = axum::Router::new()
            .route(
                "/hook",
                axum::routing::post(
                    |axum::extract::State((got, behaviour)): axum::extract::State<(
                        Arc<Mutex<Vec<Received>>>,
                        Behaviour,
                    )>,
                     headers: HeaderMap,
                     body: String| async move {
                        let n = {
                            let mut got = got.lock().unwrap();
                            got.push(Received { headers, body });
                            got.len() - 1
                        };
                        match behaviour(n) {
                            Answer::Status(code) => AxumStatus::from_u16(code).unwrap(),
                            Answer::Hang => {
                                tokio::time::sleep(Duration::from_secs(60)).await;
                                AxumStatus::OK
                            }
                        }
                    },
                ),
            )
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { url, got }
    }

    pub(crate) fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until `done` holds for what was received (30 s at most: on a 2-core machine the
    /// browser tests running beside it can slow the delivery worker for seconds).
    pub(crate) async fn wait_for(&self, what: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        for _ in 0..600 {
            let got = self.received();
            if done(&got) {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("timed out waiting for {what}; got {:?}", self.received());
    }
}

async fn create_webhook(server: &TestServer, body: Value) -> (String, String) {
    let (status, created) = server.post("/api/identity/webhooks", body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = created["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("qe_whsec_"));
    (created["webhook"]["id"].as_str().unwrap().to_string(), secret)
}

pub(crate) fn event_of(received: &Received) -> Value {
    serde_json::from_str(&received.body).unwrap()
}

/// The receiver's check (README): HMAC-SHA256 of the raw body with the endpoint's secret.
pub(crate) fn assert_signed(received: &Received, secret: &str) {
    let want = kenali_core::webhook::signature(secret.as_bytes(), received.body.as_bytes());
    assert_eq!(received.headers["x-identity-signature"].to_str().unwrap(), want);
    assert_eq!(received.headers["x-quantum-signature"].to_str().unwrap(), want);
    let event = event_of(received);
    assert_eq!(received.headers["x-identity-event-id"].to_str().unwrap(), event["id"].as_str().unwrap());
    assert!(received.headers.contains_key("x-identity-timestamp"));
}

/// Makes every pending delivery due now, as if its retry delay had passed.
/// Ends every delivery's retry window and makes it due: its next failure is its last.
pub(crate) async fn give_up_now(server: &TestServer) {
    sqlx::query("UPDATE webhook_deliveries SET give_up_at = '2000-01-01T00:00:00.000000Z'")
        .execute(&mut *server.state.store.write().await.unwrap())
        .await
        .unwrap();
    hurry(server).await;
}

pub(crate) async fn hurry(server: &TestServer) {
    sqlx::query(
        "UPDATE webhook_deliveries SET next_attempt_at = '2000-01-01T00:00:00.000000Z' WHERE status = 'pending'",
    )
    .execute(&mut *server.state.store.write().await.unwrap())
    .await
    .unwrap();
}

#[tokio::test]
async fn events_are_delivered_signed_and_failures_retried_with_a_log() {
    for server in servers().await {
        // 500 to the first request, 200 after.
        let receiver = Receiver::start(Arc::new(|n| Answer::Status(if n == 0 { 500 } else { 200 }))).await;
        let (id, secret) = create_webhook(
            &server,
            json!({"url": receiver.url, "events": ["kyc.tier_changed"], "description": "core banking"}),
        )
        .await;
        let (_, listed) = server.get("/api/identity/webhooks").await;
        assert_eq!(listed["data"][0]["id"], id.as_str());
        assert!(listed["data"][0].get("secret").is_none() && !listed.to_string().contains(&secret));

        let customer = server.create_customer(json!({"fullName": "Dewi", "nik": NIK_MALE})).await;
        let got = receiver.wait_for("the first attempt", |got| !got.is_empty()).await;
        assert_signed(&got[0], &secret);
        let event = event_of(&got[0]);
        assert_eq!(event["type"], "kyc.tier_changed");
        assert_eq!(event["data"]["customerId"], customer["id"]);
        assert_eq!(event["data"]["to"], "basic");
        assert!(!got[0].body.contains("Dewi"), "events carry no personal data");

        // The failure is logged with its next retry; once due, the retry delivers.
        let log_path = format!("/api/identity/webhooks/{id}/deliveries");
        let mut log = Value::Null;
        for _ in 0..100 {
            log = server.get(&log_path).await.1;
            if log["data"][0]["attempts"] == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let first = &log["data"][0];
        assert_eq!(first["status"], "pending", "{log}");
        assert_eq!(first["lastStatus"], 500);
        assert!(first["nextAttemptAt"].is_string() && first["lastLatencyMs"].is_number());
        hurry(&server).await;
        let got = receiver.wait_for("the retry", |got| got.len() >= 2).await;
        assert_eq!(event_of(&got[1])["id"], event["id"], "a retry carries the same event id");
        assert_signed(&got[1], &secret);
        let mut delivered = Value::Null;
        for _ in 0..100 {
            delivered = server.get(&log_path).await.1;
            if delivered["data"][0]["status"] == "delivered" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(delivered["data"][0]["status"], "delivered", "{delivered}");
        assert_eq!(delivered["data"][0]["attempts"], 2);
        assert_eq!(delivered["data"][0]["lastStatus"], 200);
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(receiver.received().len(), 2, "delivered once after the failure, not again");

        // A test delivery goes to this endpoint even though it does not subscribe to the type.
        let (status, test) = server.post(&format!("/api/identity/webhooks/{id}/test"), json!({})).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{test}");
        let got = receiver.wait_for("the test event", |got| got.len() >= 3).await;
        assert_eq!(event_of(&got[2])["type"], "webhook.test");
        assert_eq!(event_of(&got[2])["id"], test["event"]["id"]);

        // A disabled endpoint gets no new events; a deleted one is gone.
        let response = server
            .client
            .patch(format!("{}/api/identity/webhooks/{id}", server.base))
            .bearer_auth(&server.key)
            .json(&json!({"enabled": false}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        server.create_customer(json!({"fullName": "Eka", "nik": "3201010101900002"})).await;
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(receiver.received().len(), 3);
        let (status, _) = server
            .request(reqwest::Method::DELETE, &format!("/api/identity/webhooks/{id}"), Some(&server.key), None)
            .await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = server.get(&log_path).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (_, audit) = server.get("/api/identity/audit-log?limit=100").await;
        let actions: Vec<&str> =
            audit["data"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
        assert!(actions.contains(&"webhook.created") && actions.contains(&"webhook.deleted"), "{actions:?}");
    }
}

#[tokio::test]
async fn a_hanging_receiver_times_out_without_holding_up_other_deliveries() {
    let server = TestServer::start(None).await;
    let hanging = Receiver::start(Arc::new(|_| Answer::Hang)).await;
    let healthy = Receiver::start(Arc::new(|_| Answer::Status(204))).await;
    let (hanging_id, _) =
        create_webhook(&server, json!({"url": hanging.url, "events": ["verification.completed"]})).await;
    create_webhook(&server, json!({"url": healthy.url, "events": ["verification.completed"]})).await;
    server.create_customer(json!({"fullName": "Fajar", "nik": NIK_MALE})).await;
    hanging.wait_for("the hanging request", |got| !got.is_empty()).await;
    healthy.wait_for("the first event", |got| got.len() == 1).await;
    // While the first receiver still hangs, a later event reaches the healthy one.
    server.create_customer(json!({"fullName": "Gita", "nik": "3201010101900002"})).await;
    healthy.wait_for("the second event", |got| got.len() == 2).await;
    // The hung attempt ends at the delivery timeout and is logged for a retry.
    let path = format!("/api/identity/webhooks/{hanging_id}/deliveries");
    let mut log = Value::Null;
    for _ in 0..150 {
        log = server.get(&path).await.1;
        if log["data"].as_array().unwrap().iter().any(|d| d["attempts"] == 1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let timed_out = log["data"].as_array().unwrap().iter().find(|d| d["attempts"] == 1).expect("a logged attempt");
    assert_eq!(timed_out["status"], "pending");
    assert!(timed_out["lastError"].as_str().unwrap().contains("did not answer in time"), "{log}");
    assert!(timed_out["lastLatencyMs"].as_i64().unwrap() >= 9_000);
}

#[tokio::test]
async fn webhook_targets_and_fields_are_checked() {
    // Private targets refused: the operator has not allowed them here.
    let server = TestServer::start_configured(None, |_| {}).await;
    for (url, why) in [
        ("ftp://example.com/hook", "http or https"),
        ("not a url", "absolute URL"),
        ("http://127.0.0.1:9/hook", "private"),
        ("http://169.254.169.254/latest/meta-data", "private"),
        ("http://10.0.0.5/hook", "private"),
        ("http://[::1]:8080/hook", "private"),
        ("http://localhost:8080/hook", "private"),
    ] {
        let (status, body) = server.post("/api/identity/webhooks", json!({"url": url})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {body}");
        assert!(body["error"]["message"].as_str().unwrap().contains(why), "{url}: {body}");
    }
    let allowed = TestServer::start(None).await;
    for body in [
        json!({"url": "http://127.0.0.1:9/hook", "events": []}),
        json!({"url": "http://127.0.0.1:9/hook", "events": ["customer.created"]}),
        json!({"url": "http://127.0.0.1:9/hook", "description": "x".repeat(501)}),
        json!({"url": "http://127.0.0.1:9/hook", "secret": "mine"}),
    ] {
        let (status, answer) = allowed.post("/api/identity/webhooks", body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
    }
    assert_eq!(allowed.count("webhooks").await, 0, "refused endpoints are not stored");
    let public = allowed.org_key("default", &[kenali_server::auth::Scope::Public]).await;
    let (status, _) =
        allowed.post_as(&public, "/api/identity/webhooks", json!({"url": "http://127.0.0.1:9/hook"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (id, _) = create_webhook(&allowed, json!({"url": "http://127.0.0.1:9/hook"})).await;
    let other = allowed.org_key("other-fintech", &kenali_server::auth::Scope::ALL).await;
    let (status, _) = allowed.post_as(&other, &format!("/api/identity/webhooks/{id}/test"), json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let unknown_event = kenali_core::id::new_id(kenali_core::id::IdKind::WebhookEvent);
    let (status, _) =
        allowed.post(&format!("/api/identity/webhooks/{id}/deliveries/{unknown_event}/redeliver"), json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn concurrent_claims_never_take_the_same_delivery() {
    for server in servers().await {
        // Deliveries due only in 2999, so the server's own worker leaves them alone; two
        // claimers then take them "in 2999", side by side.
        let (id, _) = create_webhook(&server, json!({"url": "http://127.0.0.1:9/hook"})).await;
        let mut tx = server.state.store.begin().await.unwrap();
        for _ in 0..40 {
            let event = kenali_server::store::events::publish_to(
                &mut tx,
                &org_of(&server).await,
                "webhook.test",
                json!({}),
                Some(&id),
            )
            .await
            .unwrap();
            sqlx::query(
                "UPDATE webhook_deliveries SET next_attempt_at = '2999-01-01T00:00:00.000000Z' WHERE event_id = $1",
            )
            .bind(&event)
            .execute(&mut **tx)
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
        let claim = |server: &TestServer| {
            let store = server.state.store.clone();
            async move {
                let mut taken = Vec::new();
                loop {
                    let mut tx = store.begin().await.unwrap();
                    let batch = kenali_server::store::webhooks::claim_due(
                        &mut tx,
                        store.backend(),
                        "2999-06-01T00:00:00.000000Z",
                        "2999-06-01T00:01:00.000000Z",
                        3,
                    )
                    .await
                    .unwrap();
                    tx.commit().await.unwrap();
                    if batch.is_empty() {
                        return taken;
                    }
                    taken.extend(batch.into_iter().map(|c| c.event_id));
                }
            }
        };
        let (a, b) = tokio::join!(claim(&server), claim(&server));
        let mut all: Vec<String> = a.iter().chain(&b).cloned().collect();
        assert_eq!(all.len(), 40, "every delivery claimed ({} + {})", a.len(), b.len());
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 40, "no delivery claimed twice");
    }
}

pub(crate) async fn org_of(server: &TestServer) -> String {
    use sqlx::Row;
    let row = sqlx::query("SELECT id FROM organizations WHERE name = 'default'")
        .fetch_one(server.state.store.reader())
        .await
        .unwrap();
    row.try_get("id").unwrap()
}
