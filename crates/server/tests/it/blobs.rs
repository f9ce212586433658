//! The blob store, on local files (the SQLite servers) and on a real S3 server (Garage, the
//! PostgreSQL servers): what is read back is what was written, or a clear error; residency;
//! and `kenali blobs migrate` moving images kept in rows.

use kenali_server::blobs::{
    drain_deletions, journal_uploads, migrate_rows, BlobError, BlobStore, StoredObject, Uploaded, UPLOAD_GRACE,
};
use kenali_server::config::Config;
use kenali_server::store::faces::stored_object;
use reqwest::StatusCode;
use serde_json::json;
use sqlx::Row;

use crate::testkit::{servers, testdata_b64, TestServer};

#[tokio::test]
async fn objects_read_back_as_written_or_fail_clearly() {
    for server in servers().await {
        let blobs = &server.state.blobs;
        let s3 = server.backend == "postgres" && std::env::var("KENALI_TEST_S3").map_or(true, |v| v != "off");
        assert_eq!(blobs.location().starts_with("s3://"), s3, "{}: {}", server.backend, blobs.location());
        let prefix = format!("test/{}", ulid::Ulid::new());
        let written = blobs.put(&format!("{prefix}/a"), b"sealed bytes".to_vec()).await.unwrap();
        assert_eq!(written.size, 12);
        assert_eq!(blobs.get(&written).await.unwrap(), b"sealed bytes");
        // Another object under the recorded key (or a changed record) is corrupt, not data.
        blobs.put(&written.key, b"other bytes!".to_vec()).await.unwrap();
        assert!(matches!(blobs.get(&written).await, Err(BlobError::Corrupt(_))), "{}", server.backend);
        let shorter = StoredObject { size: 3, ..written.clone() };
        assert!(matches!(blobs.get(&shorter).await, Err(BlobError::Corrupt(_))));
        // Deleting twice is no error; reading a deleted object says it is missing.
        blobs.delete(&written.key).await.unwrap();
        blobs.delete(&written.key).await.unwrap();
        assert!(matches!(blobs.get(&written).await, Err(BlobError::Missing(_))), "{}", server.backend);
        // A prefix takes everything under it and nothing beside it.
        let beside = blobs.put(&format!("{prefix}x/c"), b"keep".to_vec()).await.unwrap();
        for name in ["b", "d/e"] {
            blobs.put(&format!("{prefix}/{name}"), name.as_bytes().to_vec()).await.unwrap();
        }
        assert_eq!(blobs.delete_prefix(&format!("{prefix}/")).await.unwrap(), 2);
        assert_eq!(blobs.get(&beside).await.unwrap(), b"keep");
    }
}

#[tokio::test]
async fn a_bucket_outside_the_deployments_region_is_refused() {
    let data_dir = std::env::temp_dir().join(format!("kenali-blobs-{}", ulid::Ulid::new()));
    let config = |blob_url: &str, region: Option<&str>, allow: bool| Config {
        data_dir: data_dir.clone(),
        blob_url: Some(blob_url.to_string()),
        s3_endpoint: Some("http://127.0.0.1:9".into()),
        s3_region: region.map(str::to_string),
        blob_region_override: allow,
        ..Config::default()
    };
    let refused = BlobStore::open(&config("s3://kenali", Some("us-east-1"), false)).await.unwrap_err();
    let message = refused.to_string();
    assert!(message.contains("us-east-1") && message.contains("KENALI_BLOB_REGION_OVERRIDE"), "{message}");
    // With the override the region passes, and the probe is what fails (nothing listens).
    let unreachable = BlobStore::open(&config("s3://kenali", Some("us-east-1"), true)).await.unwrap_err();
    assert!(unreachable.to_string().contains("did not accept a probe object"), "{unreachable}");
    for (url, region) in [("ftp://x", Some("ap-southeast-3")), ("s3://a/b", Some("ap-southeast-3")), ("s3://a", None)] {
        let err = BlobStore::open(&config(url, region, false)).await.unwrap_err();
        assert!(matches!(err, BlobError::Config(_)), "{url}: {err}");
    }
    let _ = std::fs::remove_dir_all(&data_dir);
}

/// A customer with one face-match selfie and one Dukcapil photo in the store.
async fn customer_with_images(server: &TestServer) -> String {
    let customer = server.create_customer(json!({"fullName": "Dewi Lestari", "nik": crate::testkit::NIK_FEMALE})).await;
    let id = customer["id"].as_str().unwrap().to_string();
    let (status, body) = server
        .post(
            "/api/identity/nik/dukcapil",
            json!({"customerId": id, "valid": true, "photo": testdata_b64("faces/obama_1.jpg")}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = server
        .post("/api/identity/face/match", json!({"customerId": id, "image": testdata_b64("faces/obama_2.jpg")}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    id
}

#[tokio::test]
async fn images_kept_in_rows_move_to_the_store_once() {
    for server in servers().await {
        let id = customer_with_images(&server).await;
        let store = &server.state.store;
        // Put both images back into their rows, as a server before the blob store wrote them.
        let mut originals = Vec::new();
        for (table, prefix, column) in [("captures", "", "sealed"), ("dukcapil_verdicts", "photo_", "photo_sealed")] {
            let row = sqlx::query(&format!(
                "SELECT id, {prefix}object_key, {prefix}object_sha256, {prefix}object_size FROM {table} WHERE customer_id = $1"
            ))
            .bind(&id)
            .fetch_one(store.reader())
            .await
            .unwrap();
            let object = stored_object(&row, prefix).unwrap().unwrap();
            let sealed = server.state.blobs.get(&object).await.unwrap();
            let mut conn = store.write().await.unwrap();
            sqlx::query(&format!(
                "UPDATE {table} SET {column} = $1, {prefix}object_key = NULL, {prefix}object_sha256 = NULL, \
                 {prefix}object_size = NULL WHERE id = $2"
            ))
            .bind(&sealed)
            .bind(row.get::<String, _>("id"))
            .execute(&mut *conn)
            .await
            .unwrap();
            drop(conn);
            server.state.blobs.delete(&object.key).await.unwrap();
            originals.push((table, prefix, column, object));
        }

        let mut heard = Vec::new();
        let moved =
            migrate_rows(store, &server.state.blobs, &mut |done, total| heard.push((done, total))).await.unwrap();
        assert_eq!((moved.captures, moved.dukcapil_photos), (1, 1), "{}", server.backend);
        assert_eq!(heard.first(), Some(&(0, 2)));
        assert_eq!(heard.last(), Some(&(2, 2)));
        for (table, prefix, column, original) in &originals {
            let row = sqlx::query(&format!(
                "SELECT {column} AS sealed, {prefix}object_key, {prefix}object_sha256, {prefix}object_size FROM {table} \
                 WHERE customer_id = $1"
            ))
            .bind(&id)
            .fetch_one(store.reader())
            .await
            .unwrap();
            let object = stored_object(&row, prefix).unwrap().unwrap();
            // The same sealed bytes, now in the store (named after the row, as rows written
            // before the store named their objects); the row keeps no image.
            assert_eq!((&object.sha256, object.size), (&original.sha256, original.size), "{table}");
            assert!(server.state.blobs.get(&object).await.is_ok());
            assert!(row.get::<Option<Vec<u8>>, _>("sealed").unwrap_or_default().is_empty(), "{table}");
        }
        // A second run finds nothing left.
        let again = migrate_rows(store, &server.state.blobs, &mut |_, _| {}).await.unwrap();
        assert_eq!((again.captures, again.dukcapil_photos), (0, 0));
    }
}

#[tokio::test]
async fn objects_of_a_request_that_did_not_commit_are_deleted_again() {
    for server in servers().await {
        let blobs = &server.state.blobs;
        let key = format!("test/{}/uncommitted", ulid::Ulid::new());
        let kept_key = format!("test/{}/committed", ulid::Ulid::new());
        let (mut dropped, mut kept) = (Uploaded::new(blobs), Uploaded::new(blobs));
        dropped.push(key.clone());
        kept.push(kept_key.clone());
        let object = blobs.put(&key, b"frame".to_vec()).await.unwrap();
        let kept_object = blobs.put(&kept_key, b"frame".to_vec()).await.unwrap();
        kept.committed();
        // The transaction failed: the guard goes out of scope without `committed`.
        drop(dropped);
        let mut gone = false;
        for _ in 0..50 {
            if matches!(blobs.get(&object).await, Err(BlobError::Missing(_))) {
                gone = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(gone, "{}: the uncommitted object is still stored", server.backend);
        assert!(blobs.get(&kept_object).await.is_ok());
    }
}

#[tokio::test]
async fn objects_of_a_process_that_died_before_its_commit_are_swept_after_the_grace() {
    for server in servers().await {
        let (store, blobs) = (&server.state.store, &server.state.blobs);
        // A request that completes settles its journal entries in its own transaction.
        customer_with_images(&server).await;
        assert_eq!(server.count("blob_deletions").await, 0, "{}", server.backend);

        // One that died between the upload and the commit leaves its journaled deletion.
        let now = time::OffsetDateTime::now_utc();
        let key = format!("test/{}/stray", ulid::Ulid::new());
        journal_uploads(store, std::slice::from_ref(&key), now).await.unwrap();
        let object = blobs.put(&key, b"frame".to_vec()).await.unwrap();
        // Not yet due: an upload still in flight is never deleted under it.
        assert_eq!(drain_deletions(store, blobs, now + time::Duration::minutes(59)).await.unwrap(), 0);
        assert!(blobs.get(&object).await.is_ok());
        let swept = drain_deletions(store, blobs, now + UPLOAD_GRACE + time::Duration::seconds(1)).await.unwrap();
        assert_eq!(swept, 1, "{}", server.backend);
        assert!(matches!(blobs.get(&object).await, Err(BlobError::Missing(_))));
        assert_eq!(server.count("blob_deletions").await, 0);
    }
}
