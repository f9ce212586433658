//! The backend-to-backend face match (seed 003, issue 17 §3): a partner's backend with an OAuth
//! token creates a submission, PUTs its images to the presigned URLs (Garage's own on the
//! PostgreSQL servers, Kenali's signed route on the SQLite ones), confirms, polls, receives the
//! signed callback and reads the details; bad input is refused and writes nothing; jobs are
//! leased so that one taken over from a dead worker is written once.

use std::sync::Arc;
use std::time::Duration;

use kenali_server::store::submissions as store;
use kenali_testkit::ktp::{render_card, KtpFields};
use kenali_testkit::ktp_scene::{capture_frames, Presentation};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::oauth::{new_client, token};
use crate::testkit::{servers, testdata_bytes, TestServer};
use crate::webhooks::{assert_signed, event_of, give_up_now, Answer, Receiver};

const SUBMISSIONS: &str = "/api/b2b/face-match/submissions";

/// A partner's token with the public scope.
async fn partner_token(server: &TestServer) -> String {
    let (id, secret) = new_client(server, &["public"]).await;
    token(server, &id, &secret, None).await
}

async fn create(server: &TestServer, token: &str, body: Value) -> (StatusCode, Value) {
    server.post_as(token, SUBMISSIONS, body).await
}

/// PUTs bytes to an upload URL; returns the status and the answer's body.
async fn put(server: &TestServer, url: &str, bytes: Vec<u8>) -> (StatusCode, String) {
    let response = server.client.request(Method::PUT, url).body(bytes).send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

fn upload_url<'a>(created: &'a Value, role: &str) -> &'a str {
    created["uploads"].as_array().unwrap().iter().find(|u| u["role"] == role).unwrap()["url"].as_str().unwrap()
}

/// A photo of a KTP (rendered with `portrait`) lying on a desk, as a phone takes it.
fn ktp_photo(portrait: &str) -> Vec<u8> {
    let card = render_card(&KtpFields::sample(3), portrait);
    capture_frames(&card, &["#FFFFFF".to_string()], Presentation::Original, 7).remove(0)
}

/// Where a submission's uploads are staged.
async fn staged_prefix(server: &TestServer, id: &str) -> String {
    kenali_server::blobs::submission_prefix(&crate::webhooks::org_of(server).await, id)
}

/// Waits (5 s at most) until the submission's callback delivery has `status`.
async fn callback_reaches(server: &TestServer, token: &str, id: &str, status: &str) {
    for _ in 0..100 {
        let (_, details) = server.get_as(token, &format!("{SUBMISSIONS}/{id}/details")).await;
        if details["callback"]["status"] == status {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls until the submission is completed or failed (60 s at most).
async fn finished(server: &TestServer, token: &str, id: &str) -> Value {
    for _ in 0..600 {
        let (status, body) = server.get_as(token, &format!("{SUBMISSIONS}/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if matches!(body["submission"]["status"].as_str(), Some("completed" | "failed")) {
            return body["submission"].clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("submission {id} did not finish");
}

#[tokio::test]
async fn a_partner_backend_matches_a_selfie_against_a_ktp_and_a_baseline() {
    for server in servers().await {
        let token = partner_token(&server).await;
        let customer = server.create_customer(json!({"fullName": "Barack Obama"})).await;
        let customer_id = customer["id"].as_str().unwrap();
        let (_, kyc_before) = server.get(&format!("/api/identity/kyc/{customer_id}")).await;
        let receiver = Receiver::start(Arc::new(|_| Answer::Status(200))).await;
        let (status, created) = create(
            &server,
            &token,
            json!({"mode": "selfie_to_ktp", "correlationId": "loan-42", "customerId": customer_id,
                   "callbackUrl": receiver.url}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let id = created["submission"]["id"].as_str().unwrap().to_string();
        assert!(id.starts_with("sub_"));
        assert_eq!(created["submission"]["status"], "pending_upload");
        let secret = created["callbackSecret"].as_str().unwrap().to_string();
        let roles: Vec<&str> =
            created["uploads"].as_array().unwrap().iter().map(|u| u["role"].as_str().unwrap()).collect();
        assert_eq!(roles, ["selfie", "ktp"]);
        if server.backend == "postgres" && crate::garage::s3().await.is_some() {
            // S3's own presigned URL: the upload goes straight to the bucket.
            assert!(upload_url(&created, "selfie").contains("X-Amz-Signature"), "{created}");
        } else {
            assert!(
                upload_url(&created, "selfie").starts_with(&format!("{}/api/b2b/uploads/{id}/selfie?", server.base))
            );
        }
        let selfie = testdata_bytes("faces/obama_1.jpg");
        let (status, answer) = put(&server, upload_url(&created, "selfie"), selfie.clone()).await;
        assert!(status.is_success(), "{status} {answer}");
        let (status, answer) = put(&server, upload_url(&created, "ktp"), ktp_photo("faces/obama_2.jpg")).await;
        assert!(status.is_success(), "{status} {answer}");

        let (status, confirmed) = server.post_as(&token, &format!("{SUBMISSIONS}/{id}/confirm"), json!({})).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{confirmed}");
        assert_ne!(confirmed["submission"]["status"], "pending_upload");
        // Confirming again is idempotent.
        let (status, again) = server.post_as(&token, &format!("{SUBMISSIONS}/loan-42/confirm"), json!({})).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{again}");
        assert_eq!(again["submission"]["id"], id.as_str());

        let done = finished(&server, &token, "loan-42").await;
        assert_eq!(done["status"], "completed", "{done}");
        assert!(done["completedAt"].is_string() && done["startedAt"].is_string() && done["confirmedAt"].is_string());
        let verification_id = done["verificationId"].as_str().expect("a verification for the named customer");

        let (status, details) = server.get_as(&token, &format!("{SUBMISSIONS}/{id}/details")).await;
        assert_eq!(status, StatusCode::OK, "{details}");
        let result = &details["details"];
        assert_eq!(result["matched"], true, "{details}");
        assert!(result["score"].as_f64().unwrap() >= result["threshold"].as_f64().unwrap());
        assert_eq!(result["modelId"], "qe-face-v3");
        assert_eq!(result["ktp"]["foundOnCard"], true, "{details}");
        assert!(result["selfie"]["antiSpoofScore"].as_f64().unwrap() > 0.5, "{details}");
        for role in ["selfie", "ktp"] {
            assert!(result[role]["faceSidePx"].as_f64().unwrap() >= 40.0, "{details}");
            assert!(result[role]["sharpness"].as_f64().unwrap() > 0.0);
            assert!(result[role]["yawDeg"].as_f64().unwrap().abs() < 30.0, "{details}");
        }
        assert!(result["timings"]["processingMs"].as_u64().is_some(), "{details}");
        assert!(!details.to_string().contains("base64"), "no image in the details");

        // The callback: signed with the submission's secret, ids and status only.
        let got = receiver.wait_for("the callback", |got| !got.is_empty()).await;
        assert_signed(&got[0], &secret);
        let event = event_of(&got[0]);
        assert_eq!(event["type"], "face_match.completed");
        assert_eq!(event["data"], json!({"submissionId": id, "correlationId": "loan-42", "status": "completed"}));
        callback_reaches(&server, &token, &id, "delivered").await;
        let (_, details) = server.get_as(&token, &format!("{SUBMISSIONS}/{id}/details")).await;
        assert_eq!(details["callback"]["status"], "delivered", "{details}");
        // The callback target is not one of the org's webhook endpoints.
        let (_, endpoints) = server.get("/api/identity/webhooks").await;
        assert_eq!(endpoints["data"], json!([]));

        // The customer got a face_match verification against the partner's own image, which
        // lifts no tier.
        let (_, kyc) = server.get(&format!("/api/identity/kyc/{customer_id}")).await;
        assert_eq!(kyc["kyc"]["tier"], kyc_before["kyc"]["tier"], "{kyc}");
        assert!(kyc["kyc"]["tier"].is_string(), "{kyc}");
        assert!(server.count("verifications").await >= 1, "{verification_id}");

        // The staged uploads are gone; the kept images are sealed.
        let images = {
            let mut conn = server.state.store.reader().acquire().await.unwrap();
            store::images(&mut conn, &id).await.unwrap()
        };
        for image in &images {
            assert_eq!(server.state.blobs.size(&image.staging_key).await.unwrap(), None, "{}", image.staging_key);
            let object = image.object.as_ref().unwrap();
            let sealed = server.state.blobs.get(object).await.unwrap();
            assert!(
                !sealed.starts_with(&[0xFF, 0xD8]) && !sealed.windows(selfie.len().min(64)).any(|w| w == &selfie[..64])
            );
        }

        // Selfie to selfie, another person: completed, not matched; without a callbackUrl the
        // org's endpoints get the event (none here).
        let (status, created) = create(&server, &token, json!({"mode": "selfie_to_selfie"})).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        assert!(created.get("callbackSecret").is_none());
        let id = created["submission"]["id"].as_str().unwrap().to_string();
        put(&server, upload_url(&created, "selfie"), testdata_bytes("faces/biden_1.jpg")).await;
        put(&server, upload_url(&created, "baseline"), testdata_bytes("faces/obama_3.jpg")).await;
        let (status, _) = server.post_as(&token, &format!("{SUBMISSIONS}/{id}/confirm"), json!({})).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        let done = finished(&server, &token, &id).await;
        assert_eq!(done["status"], "completed", "{done}");
        assert!(done["verificationId"].is_null());
        let (_, details) = server.get_as(&token, &format!("{SUBMISSIONS}/{id}/details")).await;
        assert_eq!(details["details"]["matched"], false, "{details}");
        assert!(details["details"]["baseline"].is_object() && details["details"].get("ktp").is_none());
        assert!(details["callback"].is_null());
    }
}

#[tokio::test]
async fn bad_requests_and_bad_uploads_are_refused_and_write_nothing() {
    for server in servers().await {
        let (client, secret) = new_client(&server, &["public"]).await;
        let mut token = token(&server, &client, &secret, None).await;
        let bad = [
            (json!({"mode": "selfie_to_passport"}), "mode"),
            (json!({"mode": "selfie_to_ktp", "callbackUrl": "ftp://example.com/x"}), "callbackUrl"),
            (json!({"mode": "selfie_to_ktp", "correlationId": "sub_01JABCDEFGHJKMNPQRSTVWXYZ0"}), "correlationId"),
            (json!({"mode": "selfie_to_ktp", "correlationId": "a b"}), "correlationId"),
        ];
        for (body, field) in bad {
            let (status, answer) = create(&server, &token, body).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
            assert_eq!(answer["error"]["details"][0]["field"], field, "{answer}");
        }
        let (status, answer) =
            create(&server, &token, json!({"mode": "selfie_to_ktp", "customerId": "cus_01JABCDEFGHJKMNPQRSTVWXYZ0"}))
                .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
        assert_eq!(server.count("face_match_submissions").await, 0);

        let (status, created) = create(&server, &token, json!({"mode": "selfie_to_ktp", "correlationId": "c-1"})).await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, answer) = create(&server, &token, json!({"mode": "selfie_to_ktp", "correlationId": "c-1"})).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (StatusCode::CONFLICT, Some("duplicate_correlation_id"))
        );
        let id = created["submission"]["id"].as_str().unwrap().to_string();

        // Confirm before upload.
        let (status, answer) = server.post_as(&token, &format!("{SUBMISSIONS}/{id}/confirm"), json!({})).await;
        assert_eq!(status, StatusCode::CONFLICT, "{answer}");
        assert_eq!(answer["error"]["code"], "upload_missing");
        assert!(answer["error"]["message"].as_str().unwrap().contains("selfie, ktp"), "{answer}");

        // Another org's submission is not found, whatever the id.
        let other = server.org_key("other-partner", &[kenali_server::auth::Scope::Public]).await;
        for path in [format!("{SUBMISSIONS}/{id}"), format!("{SUBMISSIONS}/c-1"), format!("{SUBMISSIONS}/{id}/details")]
        {
            let (status, answer) = server.get_as(&other, &path).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {answer}");
        }
        let (status, _) = server.post_as(&other, &format!("{SUBMISSIONS}/{id}/confirm"), json!({})).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        // Details before the job ran.
        let (status, answer) = server.get_as(&token, &format!("{SUBMISSIONS}/{id}/details")).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("not_completed")));

        let selfie_url = upload_url(&created, "selfie").to_string();
        let ktp_url = upload_url(&created, "ktp").to_string();
        let local = selfie_url.starts_with(&server.base);
        // A non-image, and a 50 MB file: Kenali's route refuses them at once; S3 takes them and
        // the confirm refuses them.
        let (status, answer) = put(&server, &selfie_url, b"%PDF-1.7 not an image".to_vec()).await;
        if local {
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
            assert!(answer.contains("unsupported_image"), "{answer}");
            // Refused from its Content-Length, before it is read: the client sees the 413, or,
            // still sending, the connection closed under it.
            match server.client.put(&selfie_url).body(vec![0xFF; 50 * 1024 * 1024]).send().await {
                Ok(response) => {
                    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
                    assert!(response.text().await.unwrap().contains("body_too_large"));
                }
                Err(e) => assert!(e.is_request() || e.is_body(), "{e}"),
            }
            assert_eq!(
                server.state.blobs.size(&format!("{}upload/selfie", staged_prefix(&server, &id).await)).await.unwrap(),
                None
            );
        } else {
            assert!(status.is_success(), "{status} {answer}");
            put(&server, &ktp_url, testdata_bytes("faces/obama_1.jpg")).await;
            let (status, answer) = server.post_as(&token, &format!("{SUBMISSIONS}/{id}/confirm"), json!({})).await;
            assert_eq!(
                (status, answer["error"]["code"].as_str()),
                (StatusCode::UNPROCESSABLE_ENTITY, Some("unsupported_image")),
                "{answer}"
            );
            let mut big = vec![0xFF, 0xD8, 0xFF];
            big.resize(50 * 1024 * 1024, 0);
            let (status, answer) = put(&server, &selfie_url, big).await;
            assert!(status.is_success(), "{status} {answer}");
            let (status, answer) = server.post_as(&token, &format!("{SUBMISSIONS}/{id}/confirm"), json!({})).await;
            assert_eq!(
                (status, answer["error"]["code"].as_str()),
                (StatusCode::UNPROCESSABLE_ENTITY, Some("image_too_large")),
                "{answer}"
            );
        }
        let (_, state) = server.get_as(&token, &format!("{SUBMISSIONS}/{id}")).await;
        assert_eq!(state["submission"]["status"], "pending_upload", "{state}");

        if local {
            // Another submission's URL with this one's signature, and a changed role or expiry.
            let (_, second) = create(&server, &token, json!({"mode": "selfie_to_selfie"})).await;
            let second_id = second["submission"]["id"].as_str().unwrap();
            let forged = [
                selfie_url.replace(&id, second_id),
                selfie_url.replace("/selfie?", "/ktp?"),
                selfie_url.replace("expires=", "expires=9"),
            ];
            for url in forged {
                let (status, answer) = put(&server, &url, testdata_bytes("faces/obama_1.jpg")).await;
                assert_eq!(status, StatusCode::FORBIDDEN, "{url}: {answer}");
                assert!(answer.contains("upload_url_invalid"), "{answer}");
            }
        }
        // Past the upload window: the URL (Kenali's) and the confirm are refused.
        server.state.clock.advance(time::Duration::minutes(16));
        token = crate::oauth::token(&server, &client, &secret, None).await;
        if local {
            let (status, answer) = put(&server, &selfie_url, testdata_bytes("faces/obama_1.jpg")).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
            assert!(answer.contains("upload_url_expired"), "{answer}");
        }
        let (status, answer) = server.post_as(&token, &format!("{SUBMISSIONS}/{id}/confirm"), json!({})).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (StatusCode::GONE, Some("upload_expired")), "{answer}");

        // The sweep fails the abandoned submissions and deletes what was staged.
        let later = server.state.clock.now() + time::Duration::hours(2);
        kenali_server::retention::sweep(&server.state, later, "test", false).await.unwrap();
        let (_, state) = server.get_as(&token, &format!("{SUBMISSIONS}/{id}")).await;
        assert_eq!(state["submission"]["status"], "failed", "{state}");
        assert_eq!(state["submission"]["error"]["code"], "upload_expired");
        let images = {
            let mut conn = server.state.store.reader().acquire().await.unwrap();
            store::images(&mut conn, &id).await.unwrap()
        };
        for image in images {
            assert_eq!(server.state.blobs.size(&image.staging_key).await.unwrap(), None);
        }
    }
}

#[tokio::test]
async fn tokens_that_no_longer_hold_are_refused() {
    for server in servers().await {
        let (client, secret) = new_client(&server, &["public"]).await;
        let token = token(&server, &client, &secret, None).await;
        let (status, created) = create(&server, &token, json!({"mode": "selfie_to_selfie"})).await;
        assert_eq!(status, StatusCode::CREATED);
        let id = created["submission"]["id"].as_str().unwrap();
        let (status, _) = server.post(&format!("/api/identity/oauth-clients/{client}/revoke"), json!({})).await;
        assert_eq!(status, StatusCode::OK);
        let (status, answer) = server.get_as(&token, &format!("{SUBMISSIONS}/{id}")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
        let (status, answer) = create(&server, &token, json!({"mode": "selfie_to_selfie"})).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
        assert_eq!(server.count("face_match_submissions").await, 1);
    }
}

#[tokio::test]
async fn a_faceless_image_fails_the_job_and_a_down_receiver_gets_the_callback_on_redelivery() {
    for server in servers().await {
        let token = partner_token(&server).await;
        // Down for the first two attempts, then up.
        let receiver =
            Receiver::start(Arc::new(|n| if n < 2 { Answer::Status(503) } else { Answer::Status(200) })).await;
        let (_, created) = create(&server, &token, json!({"mode": "selfie_to_ktp", "callbackUrl": receiver.url})).await;
        let id = created["submission"]["id"].as_str().unwrap().to_string();
        let secret = created["callbackSecret"].as_str().unwrap().to_string();
        // A desk with no face on it as the selfie.
        let faceless = kenali_testkit::jpeg(&image::RgbImage::from_pixel(640, 480, image::Rgb([120, 110, 100])));
        put(&server, upload_url(&created, "selfie"), faceless).await;
        put(&server, upload_url(&created, "ktp"), ktp_photo("faces/obama_2.jpg")).await;
        let (status, answer) = server.post_as(&token, &format!("{SUBMISSIONS}/{id}/confirm"), json!({})).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
        let done = finished(&server, &token, &id).await;
        assert_eq!(done["status"], "failed", "{done}");
        assert_eq!(done["error"]["code"], "no_face", "{done}");
        assert!(done["error"]["message"].as_str().unwrap().starts_with("selfie"), "{done}");
        let (status, details) = server.get_as(&token, &format!("{SUBMISSIONS}/{id}/details")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(details["details"].is_null());

        // The receiver is down: retried, then failed once its window is over.
        receiver.wait_for("the first attempt", |got| !got.is_empty()).await;
        let (status, answer) =
            server.post_as(&token, &format!("{SUBMISSIONS}/{id}/callback/redeliver"), json!({})).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("not_failed")), "{answer}");
        give_up_now(&server).await;
        receiver.wait_for("the second attempt", |got| got.len() >= 2).await;
        callback_reaches(&server, &token, &id, "failed").await;
        let (_, details) = server.get_as(&token, &format!("{SUBMISSIONS}/{id}/details")).await;
        assert_eq!(details["callback"]["status"], "failed", "{details}");
        assert_eq!(details["callback"]["lastStatus"], 503);
        // Redelivered on request, and now received.
        let (status, answer) =
            server.post_as(&token, &format!("{SUBMISSIONS}/{id}/callback/redeliver"), json!({})).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
        let got = receiver.wait_for("the redelivery", |got| got.len() >= 3).await;
        assert_signed(&got[2], &secret);
        assert_eq!(event_of(&got[2])["data"]["status"], "failed");
        assert_eq!(event_of(&got[2])["id"], event_of(&got[0])["id"], "the same event, at least once");
        callback_reaches(&server, &token, &id, "delivered").await;

        // Past the records window the submission, its event and its callback target go.
        let later = server.state.clock.now() + time::Duration::days(365 * 20);
        kenali_server::retention::sweep(&server.state, later, "test", false).await.unwrap();
        assert_eq!(server.count("face_match_submissions").await, 0);
        assert_eq!(server.count("face_match_submission_images").await, 0);
        assert_eq!(server.count("webhooks").await, 0);
    }
}

#[tokio::test]
async fn a_job_taken_over_after_its_lease_ran_out_is_written_once() {
    for server in servers().await {
        // A submission queued by hand, its images never uploaded: only the claims matter here,
        // and the server's own worker must not take it, so the claims run in the past.
        let row = store::SubmissionRow {
            id: kenali_core::id::new_id(kenali_core::id::IdKind::Submission),
            org_id: crate::webhooks::org_of(&server).await,
            status: store::PENDING_UPLOAD.into(),
            mode: "selfie_to_selfie".into(),
            correlation_id: None,
            customer_id: None,
            callback_webhook_id: None,
            created_by: "test".into(),
            wrapped_data_key: None,
            upload_expires_at: "2999-01-01T00:00:00.000000Z".into(),
            attempts: 0,
            result: None,
            error_code: None,
            error_message: None,
            verification_id: None,
            created_at: "2000-01-01T00:00:00.000000Z".into(),
            confirmed_at: None,
            started_at: None,
            completed_at: None,
            updated_at: "2000-01-01T00:00:00.000000Z".into(),
            images_deleted_at: None,
        };
        let backend = server.state.store.backend();
        let mut tx = server.state.store.begin().await.unwrap();
        store::insert(&mut tx, &row, &[]).await.unwrap();
        assert!(store::queue(&mut tx, &row.id, "2000-01-01T00:00:00.000000Z").await.unwrap());
        // Claimed in the same transaction, under a lease that has not run out by the server's
        // clock, so its worker leaves it alone.
        let first =
            store::claim_due(&mut tx, backend, "2000-01-01T00:00:00.000000Z", "2999-01-01T00:00:00.000000Z", "A", 10)
                .await
                .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].attempts, 1);
        let mut conn = server.state.store.write().await.unwrap();
        // While the lease holds, nobody else gets the job.
        let none =
            store::claim_due(&mut conn, backend, "2500-01-01T00:00:00.000000Z", "2999-06-01T00:00:00.000000Z", "B", 10)
                .await
                .unwrap();
        assert!(none.iter().all(|job| job.id != row.id));
        // Past it (the holder died), another worker takes it over.
        let second =
            store::claim_due(&mut conn, backend, "2999-02-01T00:00:00.000000Z", "2999-12-01T00:00:00.000000Z", "B", 10)
                .await
                .unwrap();
        let second: Vec<_> = second.into_iter().filter(|job| job.id == row.id).collect();
        assert_eq!(second.len(), 1);
        assert_eq!(second[0].attempts, 2);
        let outcome = store::JobOutcome {
            status: store::COMPLETED,
            result: Some("{}"),
            error_code: None,
            error_message: None,
            verification_id: None,
        };
        // The first holder's late result is dropped; the second's is written, once.
        assert!(!store::finish(&mut conn, &first[0], &outcome, "2999-02-01T00:00:01.000000Z").await.unwrap());
        assert!(store::finish(&mut conn, &second[0], &outcome, "2999-02-01T00:00:02.000000Z").await.unwrap());
        assert!(!store::finish(&mut conn, &second[0], &outcome, "2999-02-01T00:00:03.000000Z").await.unwrap());
        let done = store::get(&mut conn, &row.id).await.unwrap().unwrap();
        assert_eq!(
            (done.status.as_str(), done.completed_at.as_deref()),
            ("completed", Some("2999-02-01T00:00:02.000000Z"))
        );
    }
}
