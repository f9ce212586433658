//! UU PDP erasure: crypto-shredding that leaves no personal data in the database, its WAL or
//! the data directory, keeps the regulated records, and answers 410 afterwards.

use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::Row;

use kenali_server::blobs::{BlobError, StoredObject};
use kenali_testkit::challenge_colors;

use crate::testkit::{lit_frames, servers, signed_bundle, testdata_b64, testdata_bytes, TestServer, NIK_MALE};

const NAME: &str = "Siti Rahmawati Kusumadewi";
const EMAIL: &str = "siti.kusumadewi@contoh.co.id";
const PHONE: &str = "+6281398765432";

/// A customer with a name, NIK, email and phone, a Dukcapil photo (sealed, and a `dukcapil`
/// enrollment), a face-match selfie (a sealed capture) and an open KTP challenge.
async fn onboarded_customer(server: &TestServer) -> (String, Value) {
    let customer =
        server.create_customer(json!({"fullName": NAME, "nik": NIK_MALE, "email": EMAIL, "phone": PHONE})).await;
    let id = customer["id"].as_str().unwrap().to_string();
    let (status, verdict) = server
        .post(
            "/api/identity/nik/dukcapil",
            json!({"customerId": id, "valid": true, "photo": testdata_b64("faces/obama_1.jpg")}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{verdict}");
    // A face match keeps the probe selfie as a sealed capture.
    let (status, matched) = server
        .post("/api/identity/face/match", json!({"customerId": id, "image": testdata_b64("faces/obama_2.jpg")}))
        .await;
    assert_eq!(status, StatusCode::OK, "{matched}");
    let (status, challenge) = server.post("/api/identity/document/ktp/challenge", json!({"customerId": id})).await;
    assert_eq!(status, StatusCode::CREATED, "{challenge}");
    (id, challenge["flashChallenge"].clone())
}

async fn bytes_column(server: &TestServer, sql: &str, id: &str) -> Vec<u8> {
    let row = sqlx::query(sql).bind(id).fetch_one(server.state.store.reader()).await.unwrap();
    row.try_get::<Option<Vec<u8>>, _>(0).unwrap().unwrap_or_default()
}

/// The object a row names (`{prefix}object_key`, `_sha256`, `_size`), and its sealed bytes as
/// the blob store gives them back.
async fn stored_object(server: &TestServer, table: &str, prefix: &str, id: &str) -> (StoredObject, Vec<u8>) {
    let sql = format!(
        "SELECT {prefix}object_key, {prefix}object_sha256, {prefix}object_size FROM {table} WHERE customer_id = $1"
    );
    let row = sqlx::query(&sql).bind(id).fetch_one(server.state.store.reader()).await.unwrap();
    let object = kenali_server::store::faces::stored_object(&row, prefix).unwrap().unwrap();
    let bytes = server.state.blobs.get(&object).await.unwrap();
    (object, bytes)
}

/// Every file under the data directory (the SQLite database, its WAL, blobs), concatenated.
fn data_dir_bytes(server: &TestServer) -> Vec<u8> {
    fn walk(dir: &std::path::Path, out: &mut Vec<u8>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if let Ok(bytes) = std::fs::read(&path) {
                out.extend(bytes);
            }
        }
    }
    let mut out = Vec::new();
    walk(&server.data_dir, &mut out);
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn erasure_shreds_the_customer_and_keeps_the_records() {
    for server in servers().await {
        let (id, challenge) = onboarded_customer(&server).await;
        let wrapped_key = bytes_column(&server, "SELECT wrapped_data_key FROM customers WHERE id = $1", &id).await;
        // The images are in the blob store, sealed; the rows keep only where.
        let (selfie_object, sealed_selfie) = stored_object(&server, "captures", "", &id).await;
        let (photo_object, sealed_photo) = stored_object(&server, "dukcapil_verdicts", "photo_", &id).await;
        assert!(wrapped_key.len() >= 32 && sealed_selfie.len() > 1000 && sealed_photo.len() > 1000);
        assert!(bytes_column(&server, "SELECT sealed FROM captures WHERE customer_id = $1", &id).await.is_empty());
        assert!(bytes_column(&server, "SELECT photo_sealed FROM dukcapil_verdicts WHERE customer_id = $1", &id)
            .await
            .is_empty());
        let middle = |bytes: &[u8]| bytes[bytes.len() / 2..bytes.len() / 2 + 64].to_vec();
        let selfie_piece = middle(&testdata_bytes("faces/obama_2.jpg"));
        let photo_piece = middle(&testdata_bytes("faces/obama_1.jpg"));
        let (sealed_selfie_piece, sealed_photo_piece) = (middle(&sealed_selfie), middle(&sealed_photo));
        if server.backend == "sqlite" {
            // The check below can fail: before erasure, the key and the sealed images are on disk.
            let before = data_dir_bytes(&server);
            for needle in [&wrapped_key, &sealed_selfie_piece, &sealed_photo_piece] {
                assert!(contains(&before, needle));
            }
        }
        let verifications_before = server.count("verifications").await;

        let (status, erased) = server
            .post(&format!("/api/identity/customers/{id}/erase"), json!({"reason": "customer request #4411"}))
            .await;
        assert_eq!(status, StatusCode::OK, "{erased}");
        let erasure = &erased["erasure"];
        assert_eq!(erasure["customerId"], id.as_str());
        assert_eq!(erasure["capturesDeleted"], 1);
        assert_eq!(erasure["enrollmentsRetired"], 1);
        assert_eq!(erasure["dukcapilRecordsCleared"], 1);
        assert_eq!(erasure["challengesClosed"], 1);

        // Nothing personal is left in the rows…
        let row = sqlx::query(
            "SELECT wrapped_data_key, pii_sealed, nik_index, email_index, phone_index, erased_at FROM customers WHERE id = $1",
        )
        .bind(&id)
        .fetch_one(server.state.store.reader())
        .await
        .unwrap();
        for column in ["wrapped_data_key", "pii_sealed"] {
            assert!(row.try_get::<Option<Vec<u8>>, _>(column).unwrap().is_none(), "{column}");
        }
        for column in ["nik_index", "email_index", "phone_index"] {
            assert!(row.try_get::<Option<String>, _>(column).unwrap().is_none(), "{column}");
        }
        assert!(row.try_get::<Option<String>, _>("erased_at").unwrap().is_some());
        assert_eq!(server.count("captures").await, 0);
        // …nor in the blob store, and no deletion is left queued.
        for object in [&selfie_object, &photo_object] {
            let gone = server.state.blobs.get(object).await;
            assert!(matches!(gone, Err(BlobError::Missing(_))), "{} is still stored: {gone:?}", object.key);
        }
        assert_eq!(server.count("blob_deletions").await, 0);
        let live_embeddings = sqlx::query(
            "SELECT COUNT(*) AS n FROM face_enrollments WHERE customer_id = $1 \
             AND (embedding_sealed IS NOT NULL OR retired_at IS NULL)",
        )
        .bind(&id)
        .fetch_one(server.state.store.reader())
        .await
        .unwrap();
        assert_eq!(live_embeddings.try_get::<i64, _>("n").unwrap(), 0);
        // …while the regulated records stay, and the audit chain still verifies.
        assert_eq!(server.count("verifications").await, verifications_before);
        let report = kenali_server::service::audit_chain::verify(&server.state.store, None).await.unwrap();
        assert!(report.is_ok(), "audit chain broken after erasure");
        let (_, log) = server.get("/api/identity/audit-log?action=customer.erased").await;
        let entry = &log["data"][0];
        assert_eq!(entry["target"], id.as_str(), "{log}");
        assert_eq!(entry["details"]["reason"], "customer request #4411");
        // The event is in the outbox, without personal data.
        let mut conn = server.state.store.reader().acquire().await.unwrap();
        let org_id =
            sqlx::query("SELECT org_id FROM customers WHERE id = $1").bind(&id).fetch_one(&mut *conn).await.unwrap();
        let org_id: String = org_id.try_get("org_id").unwrap();
        let events = kenali_server::store::events::of_type(&mut conn, &org_id, "customer.erased").await.unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0]["data"]["customerId"], id.as_str());
        assert_eq!(events[0]["id"], erasure["eventId"]);
        drop(conn);

        if server.backend == "sqlite" {
            // Neither the personal data, nor the destroyed key, nor the image (clear or sealed)
            // is anywhere in the database file, its WAL, or the data directory.
            let after = data_dir_bytes(&server);
            for (what, needle) in [
                ("name", NAME.as_bytes()),
                ("NIK", NIK_MALE.as_bytes()),
                ("email", EMAIL.as_bytes()),
                ("phone", PHONE.as_bytes()),
                ("wrapped data key", &wrapped_key[..]),
                ("selfie bytes", &selfie_piece),
                ("sealed selfie bytes", &sealed_selfie_piece),
                ("Dukcapil photo bytes", &photo_piece),
                ("sealed Dukcapil photo bytes", &sealed_photo_piece),
            ] {
                assert!(!contains(&after, needle), "{what} is still on disk after erasure");
            }
        }

        // Reads and a second erasure answer 410; so does a capture on the old challenge.
        for path in [format!("/api/identity/customers/{id}"), format!("/api/identity/kyc/{id}")] {
            let (status, body) = server.get(&path).await;
            assert_eq!(status, StatusCode::GONE, "{path}: {body}");
            assert_eq!(body["error"]["code"], "customer_erased");
        }
        let (status, _) = server.post(&format!("/api/identity/customers/{id}/erase"), json!({})).await;
        assert_eq!(status, StatusCode::GONE);
        let counts = server.counts().await;
        let bundle = signed_bundle(&challenge, vec![testdata_b64("faces/obama_2.jpg")]);
        let (status, body) =
            server.post("/api/identity/document/ktp/capture", json!({"customerId": id, "bundle": bundle})).await;
        assert_eq!(status, StatusCode::GONE, "{body}");
        let (status, _) = server.post("/api/identity/document/ktp/challenge", json!({"customerId": id})).await;
        assert_eq!(status, StatusCode::GONE);
        assert_eq!(server.counts().await, counts, "a refused capture wrote nothing");
        assert_eq!(server.count("captures").await, 0);
    }
}

#[tokio::test]
async fn erasure_is_admin_only_org_scoped_and_rate_limited() {
    for server in servers().await {
        let customer = server.create_customer(json!({"fullName": "Andi"})).await;
        let id = customer["id"].as_str().unwrap();
        let path = format!("/api/identity/customers/{id}/erase");
        let public = server.org_key("default", &[kenali_server::auth::Scope::Public]).await;
        let (status, _) = server.post_as(&public, &path, json!({})).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let other = server.org_key("other-fintech", &kenali_server::auth::Scope::ALL).await;
        let (status, body) = server.post_as(&other, &path, json!({})).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        let (status, body) = server.post(&path, json!({"reason": "x".repeat(501)})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let (status, body) = server.post(&path, json!({"why": "unknown field"})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let (status, _) = server.get(&format!("/api/identity/customers/{id}")).await;
        assert_eq!(status, StatusCode::OK, "refused erasures erased nothing");
        // Ten erasure requests per five minutes per org, counted whatever their outcome.
        let mut statuses = Vec::new();
        for _ in 0..10 {
            let unknown = kenali_core::id::new_id(kenali_core::id::IdKind::Customer);
            statuses.push(server.post(&format!("/api/identity/customers/{unknown}/erase"), json!({})).await.0);
        }
        assert!(statuses.iter().all(|s| *s == StatusCode::NOT_FOUND), "{statuses:?}");
        let response =
            server.client.post(format!("{}{path}", server.base)).bearer_auth(&server.key).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(response.headers().contains_key("retry-after"));
        // The other org's budget is its own.
        let (status, _) = server.post_as(&other, &path, json!({})).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn a_workflow_racing_an_erasure_writes_nothing_after_it() {
    for server in servers().await {
        for workflow in ["nik/dukcapil", "face/liveness", "face/match"] {
            let customer = server.create_customer(json!({"fullName": "Racing", "nik": NIK_MALE})).await;
            let id = customer["id"].as_str().unwrap().to_string();
            let body = match workflow {
                "nik/dukcapil" => json!({"customerId": id, "valid": true}),
                "face/liveness" => {
                    let challenge = server.face_challenge(&id).await;
                    let frames = lit_frames("faces/obama_1.jpg", &challenge_colors(&challenge), 0.35);
                    json!({"customerId": id, "bundle": signed_bundle(&challenge, frames)})
                }
                _ => json!({"customerId": id, "image": testdata_b64("faces/obama_1.jpg"),
                            "referenceImage": testdata_b64("faces/obama_2.jpg")}),
            };
            let tables = async || {
                let images = [server.count("captures").await, server.count("face_enrollments").await];
                (server.counts().await, images, server.count("attempts").await)
            };
            let before = tables().await;
            // An erasure in flight: its transaction holds the customer's row (and, on SQLite,
            // the write path) while the workflow for the same customer runs.
            let mut erasure = server.state.store.begin().await.unwrap();
            sqlx::query(
                "UPDATE customers SET erased_at = $2, wrapped_data_key = NULL, pii_sealed = NULL WHERE id = $1",
            )
            .bind(&id)
            .bind(kenali_core::time_fmt::now_timestamp())
            .execute(&mut **erasure)
            .await
            .unwrap();
            let (client, base, key) = (server.client.clone(), server.base.clone(), server.key.clone());
            let running = tokio::spawn(async move {
                let response = client
                    .post(format!("{base}/api/identity/{workflow}"))
                    .bearer_auth(key)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                let status = response.status();
                (status, response.json::<Value>().await.unwrap())
            });
            // Long enough for the image work to finish and the write to wait for the row.
            tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
            assert!(!running.is_finished(), "{workflow}: waits for the erasure's row");
            erasure.commit().await.unwrap();
            let (status, answer) = running.await.unwrap();
            assert_eq!(
                (status, answer["error"]["code"].as_str()),
                (StatusCode::GONE, Some("customer_erased")),
                "{workflow}: {answer}"
            );
            assert_eq!(tables().await, before, "{workflow}: nothing written after the erasure");
        }
    }
}
