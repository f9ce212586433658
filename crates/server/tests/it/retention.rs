//! The retention sweeper: each class of data goes when its window (per org) ends, the audit
//! chain stays verifiable from a checkpoint, and every sweep that deletes is audited.

use kenali_server::blobs::{BlobError, StoredObject};
use kenali_server::faces::ImageInput;
use kenali_server::retention::{sweep, OrgSweep};
use kenali_server::service::audit_chain;
use kenali_server::service::faces;
use kenali_server::store::faces::stored_object;
use reqwest::StatusCode;
use serde_json::json;
use sha2::Digest;
use time::{Duration, OffsetDateTime};

use crate::testkit::{servers, testdata_b64, testdata_bytes, TestServer, NIK_MALE};

async fn count_where(server: &TestServer, sql: &str) -> i64 {
    let row = sqlx::query(sql).fetch_one(server.state.store.reader()).await.unwrap();
    sqlx::Row::try_get(&row, 0).unwrap()
}

async fn frames(server: &TestServer, class: &str) -> i64 {
    count_where(server, &format!("SELECT COUNT(*) FROM captures WHERE retention_class = '{class}'")).await
}

async fn swept(server: &TestServer, org_id: &str, at: OffsetDateTime) -> OrgSweep {
    let report = sweep(&server.state, at, "test", false).await.unwrap();
    report.into_iter().find(|o| o.org_id == org_id).unwrap()
}

/// The objects rows name (columns `{prefix}object_key`, `_sha256`, `_size`).
async fn stored_objects(server: &TestServer, sql: &str, prefix: &str) -> Vec<StoredObject> {
    let rows = sqlx::query(sql).fetch_all(server.state.store.reader()).await.unwrap();
    rows.iter().map(|row| stored_object(row, prefix).unwrap().unwrap()).collect()
}

async fn sweeps_audited(server: &TestServer) -> i64 {
    count_where(server, "SELECT COUNT(*) FROM audit_log WHERE action = 'retention.swept'").await
}

/// A step-up selfie (kept 90 days) through a real face match.
async fn step_up_selfie(server: &TestServer, customer_id: &str) {
    let (status, matched) = server
        .post(
            "/api/identity/face/match",
            json!({"customerId": customer_id, "image": testdata_b64("faces/obama_2.jpg")}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{matched}");
}

#[tokio::test]
async fn each_window_deletes_its_data_and_the_audit_chain_stays_provable() {
    for server in servers().await {
        let now = OffsetDateTime::now_utc();
        let customer = server.create_customer(json!({"fullName": "Budi Santoso", "nik": NIK_MALE})).await;
        let customer_id = customer["id"].as_str().unwrap();
        let (status, verdict) = server
            .post(
                "/api/identity/nik/dukcapil",
                json!({"customerId": customer_id, "valid": true, "photo": testdata_b64("faces/obama_1.jpg")}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{verdict}");
        step_up_selfie(&server, customer_id).await;
        // An onboarding frame, sealed and stored as a capture is.
        let row = {
            let mut conn = server.state.store.reader().acquire().await.unwrap();
            let org_row = sqlx::query("SELECT org_id FROM customers WHERE id = $1")
                .bind(customer_id)
                .fetch_one(&mut *conn)
                .await
                .unwrap();
            let org_id: String = sqlx::Row::try_get(&org_row, "org_id").unwrap();
            kenali_server::store::customers::find(&mut conn, &org_id, customer_id).await.unwrap().unwrap()
        };
        let bytes = testdata_bytes("faces/obama_3.jpg");
        let image = ImageInput {
            sha256: hex::encode(sha2::Sha256::digest(&bytes)),
            bytes: bytes.into(),
            media_type: "image/jpeg",
        };
        let sealed = faces::seal_images(&server.state, &row, &[image]).await.unwrap();
        let now_text = server.state.clock.now_timestamp();
        let filing = faces::CaptureFiling {
            kind: "frame",
            verification_id: None,
            retention_class: "onboarding",
            created_at: &now_text,
        };
        let mut tx = server.state.store.begin().await.unwrap();
        let uploaded = faces::store_captures(&mut tx, &row, sealed, filing).await.unwrap();
        tx.commit().await.unwrap();
        uploaded.committed();
        let onboarding_frame = stored_objects(
            &server,
            "SELECT object_key, object_sha256, object_size FROM captures WHERE retention_class = 'onboarding'",
            "",
        )
        .await;
        let dukcapil_photo = stored_objects(
            &server,
            "SELECT photo_object_key, photo_object_sha256, photo_object_size FROM dukcapil_verdicts",
            "photo_",
        )
        .await;
        assert_eq!((onboarding_frame.len(), dukcapil_photo.len()), (1, 1));
        for object in onboarding_frame.iter().chain(&dukcapil_photo) {
            assert!(server.state.blobs.get(object).await.is_ok());
        }
        let org_id = row.org_id.clone();
        assert_eq!((frames(&server, "onboarding").await, frames(&server, "step_up").await), (1, 1));

        // Nothing is old yet: nothing deleted, and a sweep that deletes nothing is not audited.
        let first = swept(&server, &org_id, now).await;
        assert_eq!(
            (first.onboarding_frames_deleted, first.step_up_frames_deleted, first.audit_entries_deleted),
            (0, 0, 0)
        );
        assert_eq!(sweeps_audited(&server).await, 0);

        // After 90 days the step-up selfie goes; the onboarding frame stays.
        let report = swept(&server, &org_id, now + Duration::days(91)).await;
        assert_eq!((report.step_up_frames_deleted, report.onboarding_frames_deleted), (1, 0));
        assert_eq!((frames(&server, "onboarding").await, frames(&server, "step_up").await), (1, 0));
        assert_eq!(sweeps_audited(&server).await, 1);
        let (_, audit) = server.get("/api/identity/audit-log?action=retention.swept").await;
        assert_eq!(audit["data"][0]["details"]["stepUpFramesDeleted"], 1, "{audit}");
        assert_eq!(audit["data"][0]["actor"], "test");

        // Windows are per org: at 10 days a new step-up selfie is due after 11.
        let response = server
            .client
            .patch(format!("{}/api/identity/org/settings", server.base))
            .bearer_auth(&server.key)
            .json(&json!({"retention": {"stepUpFramesDays": 10}}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        step_up_selfie(&server, customer_id).await;
        assert_eq!(swept(&server, &org_id, now + Duration::days(9)).await.step_up_frames_deleted, 0);
        assert_eq!(swept(&server, &org_id, now + Duration::days(11)).await.step_up_frames_deleted, 1);

        // After 3 years the onboarding frame goes; the records stay.
        let report = swept(&server, &org_id, now + Duration::days(3 * 365 + 1)).await;
        assert_eq!(report.onboarding_frames_deleted, 1);
        // Its object is gone from the blob store too; the Dukcapil photo's stays with its record.
        assert!(matches!(server.state.blobs.get(&onboarding_frame[0]).await, Err(BlobError::Missing(_))));
        assert!(server.state.blobs.get(&dukcapil_photo[0]).await.is_ok());
        assert_eq!(report.records_deleted.verifications, 0);
        let verifications = server.count("verifications").await;
        assert!(verifications >= 3);

        // After 7 years the regulated records go, and the start of the audit chain with them.
        let audit_before = server.count("audit_log").await;
        let report = swept(&server, &org_id, now + Duration::days(7 * 365 + 3)).await;
        assert_eq!(report.records_deleted.verifications as i64, verifications);
        assert!(report.records_deleted.tier_events >= 1);
        assert_eq!(report.records_deleted.dukcapil_verdicts, 1);
        assert!(report.records_deleted.attempts >= 1);
        assert_eq!(report.audit_entries_deleted as i64, audit_before);
        let checkpoint = report.audit_checkpoint.clone().unwrap();
        assert_eq!(server.count("verifications").await, 0);
        assert_eq!(server.count("dukcapil_verdicts").await, 0);
        assert!(matches!(server.state.blobs.get(&dukcapil_photo[0]).await, Err(BlobError::Missing(_))));
        assert_eq!(server.count("blob_deletions").await, 0);
        // Only this sweep's own entry is left of the org's chain; it starts from the checkpoint.
        assert_eq!(server.count("audit_log").await, 1);
        let stored = count_where(
            &server,
            &format!(
                "SELECT COUNT(*) FROM audit_checkpoints WHERE seq = {} AND hash = '{}'",
                checkpoint.seq, checkpoint.hash
            ),
        )
        .await;
        assert_eq!(stored, 1);
        let (_, audit) = server.get("/api/identity/audit-log?action=retention.swept").await;
        assert_eq!(audit["data"][0]["details"]["auditCheckpoint"]["seq"], checkpoint.seq, "{audit}");

        // The customer is still there (its records are gone), and new entries extend the chain.
        let (status, profile) = server.get(&format!("/api/identity/customers/{customer_id}")).await;
        assert_eq!(status, StatusCode::OK, "{profile}");
        assert_eq!(profile["customer"]["verifications"], json!([]));
        server.create_customer(json!({"fullName": "Ani Lestari"})).await;
        let report =
            audit_chain::verify(&server.state.store, None).await.unwrap().expect("chain intact from the checkpoint");
        let ours = report.orgs.iter().find(|(org, _)| *org == org_id).unwrap();
        assert!(ours.1 >= 2, "the sweep's entry and the new customer's: {}", ours.1);

        // Deleting the start of the chain by hand and moving the checkpoint past it is caught:
        // no sweep entry inside the chain vouches for the moved checkpoint.
        let row = sqlx::query("SELECT seq, hash FROM audit_log WHERE org_id = $1 AND action = 'retention.swept'")
            .bind(&org_id)
            .fetch_one(server.state.store.reader())
            .await
            .unwrap();
        let (seq, hash): (i64, String) =
            (sqlx::Row::try_get(&row, "seq").unwrap(), sqlx::Row::try_get(&row, "hash").unwrap());
        sqlx::query("DELETE FROM audit_log WHERE org_id = $1 AND seq = $2")
            .bind(&org_id)
            .bind(seq)
            .execute(&mut *server.state.store.write().await.unwrap())
            .await
            .unwrap();
        sqlx::query("UPDATE audit_checkpoints SET seq = $2, hash = $3 WHERE org_id = $1")
            .bind(&org_id)
            .bind(seq)
            .bind(&hash)
            .execute(&mut *server.state.store.write().await.unwrap())
            .await
            .unwrap();
        let broken = audit_chain::verify(&server.state.store, None).await.unwrap().unwrap_err();
        assert!(broken.reason.contains("checkpoint"), "{}", broken.reason);
    }
}
