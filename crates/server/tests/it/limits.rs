//! Limits that keep the server up under load and abuse: many concurrent writers, rate-limited
//! calls and attempts on one database without a 5xx, and a request past its time abandoned
//! without a trace.

use reqwest::StatusCode;
use serde_json::{json, Value};

use kenali_testkit::ktp::{render_card, KtpFields};
use kenali_testkit::ktp_scene::{capture_frames, Presentation};
use kenali_testkit::{b64, challenge_colors};

use crate::testkit::{servers, signed_bundle, TestServer};

#[tokio::test]
async fn concurrent_writers_rate_limits_and_attempts_never_fail_with_5xx() {
    for server in servers().await {
        let victim = server.create_customer(json!({"fullName": "Busy"})).await;
        let victim = victim["id"].as_str().unwrap().to_string();
        let mut calls = tokio::task::JoinSet::new();
        for i in 0..400 {
            let (client, base, key) = (server.client.clone(), server.base.clone(), server.key.clone());
            let victim = victim.clone();
            calls.spawn(async move {
                let request = match i % 4 {
                    // A challenge per call: counted against the customer's limit (429 past it).
                    1 => client
                        .post(format!("{base}/api/identity/face/flash-challenge"))
                        .json(&json!({"customerId": victim})),
                    // A match with nothing to compare with: a refused attempt row.
                    2 => client.post(format!("{base}/api/identity/face/match")).json(
                        &json!({"customerId": victim, "image": kenali_testkit::testdata_b64("faces/obama_1.jpg")}),
                    ),
                    _ => client.post(format!("{base}/api/customers")).json(&json!({"fullName": format!("Writer {i}")})),
                };
                let response = request.bearer_auth(key).send().await.unwrap();
                let status = response.status();
                let body = response.text().await.unwrap_or_default();
                (status, body)
            });
        }
        let mut statuses = std::collections::BTreeMap::new();
        let mut failures = Vec::new();
        while let Some(joined) = calls.join_next().await {
            let (status, body) = joined.unwrap();
            *statuses.entry(status.as_u16()).or_insert(0) += 1;
            if status.is_server_error() {
                failures.push(format!("{status} {body}"));
            }
        }
        eprintln!("{}: {statuses:?}", server.backend);
        assert!(
            failures.is_empty(),
            "{}: {} server errors, first: {:?}",
            server.backend,
            failures.len(),
            failures.first()
        );
        assert_eq!(server.count("customers").await, 201, "{statuses:?}");
        assert!(statuses.get(&429).is_some_and(|n| *n > 0), "the challenge limit held: {statuses:?}");
    }
}

#[tokio::test]
async fn a_request_past_its_time_is_abandoned_and_records_nothing() {
    let server = TestServer::start_configured(None, |config| config.request_timeout_secs = 1).await;
    let customer = server.create_customer(json!({"fullName": "Slow Card"})).await;
    let id = customer["id"].as_str().unwrap();
    let (status, challenge) =
        server.post("/api/identity/document/ktp/challenge", json!({"customerId": id, "steps": 8})).await;
    assert_eq!(status, StatusCode::CREATED, "{challenge}");
    let challenge = &challenge["flashChallenge"];
    let card = render_card(&KtpFields::sample(21), "faces/obama_2.jpg");
    let frames: Vec<String> =
        capture_frames(&card, &challenge_colors(challenge), Presentation::Original, 7).iter().map(|f| b64(f)).collect();
    let before =
        [server.count("verifications").await, server.count("captures").await, server.count("ktp_bundles").await];
    let body = json!({"customerId": id, "bundle": signed_bundle(challenge, frames)});
    let send = || async {
        let response = server
            .client
            .post(format!("{}/api/identity/document/ktp/capture", server.base))
            .bearer_auth(&server.key)
            .header("idempotency-key", "slow-capture-1")
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json::<Value>().await.unwrap())
    };
    let (status, answer) = send().await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("request_timeout")),
        "{answer}"
    );
    // The analysis may still finish on its core; nothing of it is recorded, and the challenge
    // was not spent.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    // The abandoned request's idempotency key was freed when its future was dropped: the same
    // key runs again (and times out again) instead of answering 409 request_in_progress.
    let (status, again) = send().await;
    assert_eq!(
        (status, again["error"]["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("request_timeout")),
        "{again}"
    );
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let after =
        [server.count("verifications").await, server.count("captures").await, server.count("ktp_bundles").await];
    assert_eq!(before, after);
    use sqlx::Row;
    let consumed: Option<String> = sqlx::query("SELECT consumed_at FROM flash_challenges WHERE id = $1")
        .bind(challenge["id"].as_str().unwrap())
        .fetch_one(server.state.store.reader())
        .await
        .unwrap()
        .try_get("consumed_at")
        .unwrap();
    assert!(consumed.is_none());
}
