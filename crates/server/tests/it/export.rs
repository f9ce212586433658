//! CSV exports: streamed, RFC 4180, safe to open in a spreadsheet, filtered by date, audited.

use kenali_core::id::{new_id, IdKind};
use kenali_core::time_fmt::now_timestamp;
use kenali_server::store::verifications::{self, VerificationRow};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::testkit::{servers, TestServer, NIK_MALE};

async fn export(server: &TestServer, path: &str) -> (StatusCode, String, reqwest::header::HeaderMap) {
    let response = server
        .client
        .get(format!("{}/api/identity/export/{path}", server.base))
        .bearer_auth(&server.key)
        .send()
        .await
        .unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    (status, response.text().await.unwrap(), headers)
}

fn records(text: &str) -> Vec<csv::StringRecord> {
    csv::ReaderBuilder::new().has_headers(false).from_reader(text.as_bytes()).records().map(Result::unwrap).collect()
}

#[tokio::test]
async fn customer_export_quotes_neutralises_and_keeps_erased_rows_without_data() {
    for server in servers().await {
        let tricky = server
            .create_customer(json!({"fullName": "Budi \"Bud\" Santoso, Jr.", "nik": NIK_MALE,
                                    "email": "budi@contoh.co.id", "phone": "081234567890"}))
            .await;
        let formula = server.create_customer(json!({"fullName": "=HYPERLINK(\"http://x\",\"y\")"})).await;
        let erased = server.create_customer(json!({"fullName": "Ani Lestari", "externalRef": "@crm-9"})).await;
        let erased_id = erased["id"].as_str().unwrap();
        let (status, _) = server.post(&format!("/api/identity/customers/{erased_id}/erase"), json!({})).await;
        assert_eq!(status, StatusCode::OK);
        let other = server.org_key("other", &kenali_server::auth::Scope::ALL).await;
        server.post_as(&other, "/api/customers", json!({"fullName": "Not Ours"})).await;

        let (status, text, headers) = export(&server, "customers.csv").await;
        assert_eq!(status, StatusCode::OK, "{text}");
        assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
        assert!(headers["content-disposition"].to_str().unwrap().contains("customers.csv"));
        assert!(text.ends_with("\r\n") && !text.replace("\r\n", "").contains('\n'), "CRLF line ends");
        let rows = records(&text);
        assert_eq!(rows[0].iter().collect::<Vec<_>>()[..3], ["id", "externalRef", "fullName"]);
        assert_eq!(rows.len(), 4, "{text}");
        let row_of = |id: &Value| rows.iter().find(|r| &r[0] == id.as_str().unwrap()).unwrap().clone();

        let budi = row_of(&tricky["id"]);
        assert_eq!(&budi[2], "Budi \"Bud\" Santoso, Jr.", "quotes and commas survive quoting");
        assert!(text.contains("\"Budi \"\"Bud\"\" Santoso, Jr.\""), "RFC 4180 doubles inner quotes");
        assert_eq!(&budi[3], NIK_MALE);
        assert_eq!(&budi[5], "'+6281234567890", "a leading + is neutralised");
        assert_eq!(&budi[6], "1990-01-01");
        assert_eq!(&budi[7], "male");
        assert_eq!(&row_of(&formula["id"])[2], "'=HYPERLINK(\"http://x\",\"y\")");

        let ani = row_of(&erased["id"]);
        assert_eq!(&ani[1], "'@crm-9");
        assert_eq!(&ani[2], "", "an erased customer's name is gone");
        assert!(!ani[11].is_empty(), "erasedAt is set");
        assert!(!text.contains("Ani Lestari") && !text.contains("Not Ours"));

        // Date filters: nothing created from tomorrow on; everything created by today.
        let tomorrow = (time::OffsetDateTime::now_utc() + time::Duration::days(1)).date();
        let (_, text, _) = export(&server, &format!("customers.csv?from={tomorrow}")).await;
        assert_eq!(records(&text).len(), 1, "the header alone: {text}");
        let (_, text, _) =
            export(&server, &format!("customers.csv?to={}", time::OffsetDateTime::now_utc().date())).await;
        assert_eq!(records(&text).len(), 4);

        // Each export is audited with its filter.
        let (status, audit) = server.get("/api/identity/audit-log?action=export.created").await;
        assert_eq!(status, StatusCode::OK);
        let entries = audit["data"].as_array().unwrap();
        assert_eq!(entries.len(), 3, "{audit}");
        assert_eq!(entries[1]["target"], "customers");
        assert_eq!(entries[1]["details"]["from"], format!("{tomorrow}T00:00:00.000Z"));
    }
}

#[tokio::test]
async fn verification_export_streams_past_its_batches() {
    for server in servers().await {
        let customer = server.create_customer(json!({"fullName": "Budi Santoso", "nik": NIK_MALE})).await;
        let customer_id = customer["id"].as_str().unwrap();
        let row = sqlx::query("SELECT org_id FROM customers WHERE id = $1")
            .bind(customer_id)
            .fetch_one(server.state.store.reader())
            .await
            .unwrap();
        let org: String = sqlx::Row::try_get(&row, "org_id").unwrap();
        // 1,100 rows: across two batch boundaries of the stream.
        let mut tx = server.state.store.begin().await.unwrap();
        for i in 0..1100 {
            let row = VerificationRow {
                id: new_id(IdKind::Verification),
                org_id: org.clone(),
                customer_id: customer_id.to_string(),
                kind: "face_match".into(),
                status: if i % 2 == 0 { "passed".into() } else { "failed".into() },
                reasons: json!(["score_above_threshold", "-1"]).to_string(),
                details: json!({"score": 0.5, "note": "=x"}).to_string(),
                actor: "api_key:test".into(),
                actor_user_id: None,
                created_at: now_timestamp(),
            };
            verifications::insert(&mut tx, &row).await.unwrap();
        }
        tx.commit().await.unwrap();

        let (status, text, _) = export(&server, "verifications.csv").await;
        assert_eq!(status, StatusCode::OK);
        let rows = records(&text);
        assert_eq!(rows.len(), 1 + 1 + 1100, "header, the NIK check, the inserted rows");
        assert_eq!(
            rows[0].iter().collect::<Vec<_>>(),
            ["id", "customerId", "kind", "status", "reasons", "actor", "actorUserId", "createdAt", "details"]
        );
        let mut ids: Vec<&str> = rows[1..].iter().map(|r| r.get(0).unwrap()).collect();
        let count = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), count, "no row twice");
        let inserted = rows.iter().find(|r| &r[2] == "face_match").unwrap();
        assert_eq!(&inserted[4], "score_above_threshold;-1");
        assert_eq!(serde_json::from_str::<Value>(&inserted[8]).unwrap()["note"], "=x", "JSON cells start with {{");
    }
}

#[tokio::test]
async fn bad_exports_are_refused() {
    for server in servers().await {
        let audit_rows = server.count("audit_log").await;
        for (query, field) in [
            ("verifications.csv?from=2026-05-02&to=2026-05-01", "to"),
            ("verifications.csv?from=2026-05-01T00:00:00Z&to=2026-05-01T00:00:00Z", "to"),
            ("customers.csv?from=yesterday", "from"),
            ("customers.csv?to=2026-02-30", "to"),
        ] {
            let (status, text, _) = export(&server, query).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {text}");
            let body: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(body["error"]["details"][0]["field"], field, "{query}: {body}");
        }
        let (status, _, _) = export(&server, "customers.csv?since=2026-01-01").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let public = server.org_key("default", &[kenali_server::auth::Scope::Public]).await;
        let (status, _) = server.get_as(&public, "/api/identity/export/customers.csv").await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(server.count("audit_log").await, audit_rows + 1, "only the key creation was audited");
    }
}
