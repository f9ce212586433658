//! Search: by NIK, email, phone, id, externalRef or name words, through keyed hashes only.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::testkit::{servers, TestServer, NIK_FEMALE, NIK_MALE};

async fn search(server: &TestServer, q: &str) -> (StatusCode, Value) {
    let response = server
        .client
        .get(format!("{}/api/identity/search", server.base))
        .query(&[("q", q)])
        .bearer_auth(&server.key)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

/// The ids found, each with what it matched on.
async fn found(server: &TestServer, q: &str) -> Vec<(String, Vec<String>)> {
    let (status, body) = search(server, q).await;
    assert_eq!(status, StatusCode::OK, "{q}: {body}");
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hit| {
            let on = hit["matchedOn"].as_array().unwrap().iter().map(|m| m.as_str().unwrap().to_string()).collect();
            (hit["id"].as_str().unwrap().to_string(), on)
        })
        .collect()
}

fn ids(hits: &[(String, Vec<String>)]) -> Vec<&str> {
    let mut ids: Vec<&str> = hits.iter().map(|(id, _)| id.as_str()).collect();
    ids.sort_unstable();
    ids
}

#[tokio::test]
async fn customers_are_found_by_each_identifier_and_by_name_words() {
    for server in servers().await {
        let budi = server
            .create_customer(json!({"fullName": "BUDI Santoso", "nik": NIK_MALE, "email": "Budi@Contoh.co.id",
                                    "phone": "0812-3456-7890", "externalRef": "crm-77"}))
            .await;
        let siti = server.create_customer(json!({"fullName": "Siti Nurhaliza Ruíz", "nik": NIK_FEMALE})).await;
        let hartono = server.create_customer(json!({"fullName": "Budi Hartono"})).await;
        let (budi, siti, hartono) =
            (budi["id"].as_str().unwrap(), siti["id"].as_str().unwrap(), hartono["id"].as_str().unwrap());
        // Another org's Budi Santoso is never found.
        let other = server.org_key("other", &kenali_server::auth::Scope::ALL).await;
        server.post_as(&other, "/api/customers", json!({"fullName": "Budi Santoso", "nik": NIK_MALE})).await;

        let mut both = vec![budi, hartono];
        both.sort_unstable();
        assert_eq!(ids(&found(&server, "budi").await), both);
        assert_eq!(found(&server, "santoso BUDI").await, vec![(budi.to_string(), vec!["name".to_string()])]);
        assert_eq!(ids(&found(&server, "ruiz").await), [siti], "accents are ignored");
        assert_eq!(ids(&found(&server, "RUÍZ, siti").await), [siti]);
        assert!(found(&server, "budi ruiz").await.is_empty(), "every word must match");
        assert!(found(&server, "bud").await.is_empty(), "whole words only");

        assert_eq!(found(&server, NIK_MALE).await, vec![(budi.to_string(), vec!["nik".to_string()])]);
        assert_eq!(ids(&found(&server, "3201 0101 0190 0001").await), [budi]);
        assert_eq!(found(&server, "BUDI@contoh.co.id").await, vec![(budi.to_string(), vec!["email".to_string()])]);
        assert_eq!(found(&server, "+62 812 3456 7890").await, vec![(budi.to_string(), vec!["phone".to_string()])]);
        assert_eq!(found(&server, "crm-77").await, vec![(budi.to_string(), vec!["externalRef".to_string()])]);
        assert_eq!(found(&server, siti).await, vec![(siti.to_string(), vec!["id".to_string()])]);
        assert!(found(&server, "nobody").await.is_empty());

        // The hit carries the customer's fields, opened for the analyst.
        let (_, body) = search(&server, "crm-77").await;
        assert_eq!(body["data"][0]["fullName"], "BUDI Santoso");
        assert_eq!(body["data"][0]["nik"], NIK_MALE);

        // Only keyed hashes are stored: no word of a name appears in the index table.
        let rows = sqlx::query("SELECT word_index FROM customer_name_words")
            .fetch_all(server.state.store.reader())
            .await
            .unwrap();
        assert!(rows.len() >= 7);
        for row in rows {
            let word: String = sqlx::Row::try_get(&row, "word_index").unwrap();
            assert_eq!(word.len(), 64, "{word}");
            assert!(!["budi", "santoso", "siti", "ruiz"].contains(&word.as_str()));
        }
        // Searches are audited without what was typed.
        let audit = sqlx::query("SELECT details FROM audit_log WHERE action = 'customer.searched'")
            .fetch_all(server.state.store.reader())
            .await
            .unwrap();
        assert!(audit.len() >= 12);
        for row in audit {
            let details: String = sqlx::Row::try_get(&row, "details").unwrap();
            assert!(!details.to_lowercase().contains("budi") && !details.contains(NIK_MALE), "{details}");
        }

        // Customers stored before the index existed are indexed at start.
        sqlx::query("DELETE FROM customer_name_words WHERE customer_id = $1")
            .bind(hartono)
            .execute(&mut *server.state.store.write().await.unwrap())
            .await
            .unwrap();
        sqlx::query("UPDATE customers SET name_index_version = 0 WHERE id = $1")
            .bind(hartono)
            .execute(&mut *server.state.store.write().await.unwrap())
            .await
            .unwrap();
        assert_eq!(ids(&found(&server, "hartono").await), Vec::<&str>::new());
        assert_eq!(kenali_server::search_index::rebuild_stale(&server.state).await.unwrap(), 1);
        assert_eq!(ids(&found(&server, "hartono").await), [hartono]);

        // Erasure removes the customer from every index.
        let (status, _) = server.post(&format!("/api/identity/customers/{budi}/erase"), json!({})).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(ids(&found(&server, "budi").await), [hartono]);
        assert!(found(&server, NIK_MALE).await.is_empty());
        assert!(found(&server, "crm-77").await.is_empty());
        assert!(found(&server, budi).await.is_empty());
    }
}

#[tokio::test]
async fn bad_searches_are_refused() {
    for server in servers().await {
        let audit_rows = server.count("audit_log").await;
        let too_long = "a".repeat(10 * 1024);
        for q in ["", "   ", too_long.as_str(), "budi\u{0}"] {
            let (status, body) = search(&server, q).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(body["error"]["details"][0]["field"], "q", "{body}");
        }
        let (status, body) = server.get("/api/identity/search").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let (status, body) = server.get("/api/identity/search?q=budi&limit=0").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let (status, body) = server.get("/api/identity/search?q=budi&name=x").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        // An analyst's search; an app's public key may not look customers up.
        let public = server.org_key("default", &[kenali_server::auth::Scope::Public]).await;
        let (status, _) = server.get_as(&public, "/api/identity/search?q=budi").await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(server.count("audit_log").await, audit_rows + 1, "only the key creation was audited");
    }
}
