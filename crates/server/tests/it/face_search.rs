//! 1:N face search (issue 21): `POST /api/identity/face/search`.

use kenali_server::auth::Scope;
use kenali_testkit::{b64, testdata_bytes};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::testkit::{servers, TestServer};

/// A customer enrolled from a Dukcapil photo, with `key` (an org's key).
async fn enrolled(server: &TestServer, key: &str, name: &str, nik: &str, photo: &str) -> String {
    let (status, body) = server.post_as(key, "/api/customers", json!({"fullName": name, "nik": nik})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["customer"]["id"].as_str().unwrap().to_string();
    let (status, body) = server
        .post_as(
            key,
            "/api/identity/nik/dukcapil",
            json!({"customerId": id, "valid": true, "photo": b64(&testdata_bytes(photo))}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    id
}

fn customers_of(answer: &Value) -> Vec<String> {
    answer["matches"].as_array().unwrap().iter().map(|m| m["customerId"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn a_face_search_finds_each_customer_with_that_face_in_its_own_org_and_never_an_erased_one() {
    for server in servers().await {
        let key = server.key.clone();
        let first = enrolled(&server, &key, "Barack Satu", "3201010101900001", "faces/obama_1.jpg").await;
        let second = enrolled(&server, &key, "Barack Dua", "3201010101900002", "faces/obama_2.jpg").await;
        let other_person = enrolled(&server, &key, "Joe Tiga", "3201010101900003", "faces/biden_1.jpg").await;
        let other_org_key = server.org_key("another", &[Scope::Public, Scope::Internal]).await;
        let other_org = enrolled(&server, &other_org_key, "Barack Lain", "3201010101900004", "faces/obama_4.jpg").await;
        let probe = json!({"image": b64(&testdata_bytes("faces/obama_3.jpg"))});

        let (status, answer) = server.post("/api/identity/face/search", probe.clone()).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["searched"], 3, "only this org's faces: {answer}");
        assert_eq!(answer["modelId"], kenali_vision::engine::MODEL_ID);
        let found = customers_of(&answer);
        assert!(!found.contains(&other_org), "{answer}");
        let mut top_two = found[..2].to_vec();
        top_two.sort();
        let mut same_face = vec![first.clone(), second.clone()];
        same_face.sort();
        assert_eq!(top_two, same_face, "both customers enrolled with that face come first: {answer}");
        let scores: Vec<f64> =
            answer["matches"].as_array().unwrap().iter().map(|m| m["score"].as_f64().unwrap()).collect();
        assert!(scores[0] >= scores[1] && scores[1] > 0.45, "{answer}");
        let biden = answer["matches"].as_array().unwrap().iter().find(|m| m["customerId"] == other_person.as_str());
        assert!(biden.is_none_or(|m| m["score"].as_f64().unwrap() < 0.3), "another person scores low: {answer}");
        assert_eq!(server.audit_entries("face.searched").await.len(), 1);

        // The other org sees its own customer only.
        let (_, theirs) = server.post_as(&other_org_key, "/api/identity/face/search", probe.clone()).await;
        assert_eq!(customers_of(&theirs), vec![other_org.clone()], "{theirs}");

        // Erased: gone from the very next search.
        let (status, body) = server.post(&format!("/api/identity/customers/{first}/erase"), json!({})).await;
        assert!(status.is_success(), "{body}");
        let (_, answer) = server.post("/api/identity/face/search", probe.clone()).await;
        assert!(!customers_of(&answer).contains(&first), "{answer}");
        assert_eq!(customers_of(&answer)[0], second);
        assert_eq!(answer["searched"], 2);

        // Public keys may not search; bad input changes nothing.
        let public = server.org_key("default", &[Scope::Public]).await;
        let (status, _) = server.post_as(&public, "/api/identity/face/search", probe.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, body) =
            server.post("/api/identity/face/search", json!({"image": probe["image"], "limit": 0})).await;
        assert_eq!((status, body["error"]["details"][0]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("limit")));
        let blank = b64(&kenali_testkit::jpeg(&image::RgbImage::from_pixel(320, 240, image::Rgb([128, 128, 128]))));
        let (status, body) = server.post("/api/identity/face/search", json!({"image": blank})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(server.audit_entries("face.searched").await.len(), 2, "refused searches leave no entry");
    }
}

#[tokio::test]
async fn another_process_sees_new_faces_and_never_returns_a_customer_erased_elsewhere() {
    for server in servers().await {
        let key = server.key.clone();
        let first = enrolled(&server, &key, "Barack Satu", "3201010101900001", "faces/obama_1.jpg").await;
        // A second `serve` process on the same database: its own in-memory index.
        let elsewhere = kenali_server::state::AppState { face_index: Default::default(), ..server.state.clone() };
        let org_id = {
            let mut conn = server.state.store.reader().acquire().await.unwrap();
            kenali_server::store::orgs::get_or_create(&mut conn, "default").await.unwrap().id
        };
        let actor = kenali_server::ledger::Actor {
            org_id,
            actor: "test".into(),
            actor_user_id: None,
            request_id: "test".into(),
        };
        let search = |state: kenali_server::state::AppState| {
            let actor = &actor;
            async move {
                let body = serde_json::from_value(json!({"image": b64(&testdata_bytes("faces/obama_3.jpg"))})).unwrap();
                let answer = kenali_server::service::face_search::search(&state, actor, body).await.unwrap();
                serde_json::to_value(answer).unwrap()
            }
        };
        let answer = search(elsewhere.clone()).await;
        assert_eq!(customers_of(&answer), vec![first.clone()], "{answer}");

        // Enrolled through the first process: the second finds it on its next search.
        let second = enrolled(&server, &key, "Barack Dua", "3201010101900002", "faces/obama_2.jpg").await;
        let answer = search(elsewhere.clone()).await;
        assert_eq!(answer["searched"], 2, "{answer}");
        assert!(customers_of(&answer).contains(&second), "{answer}");

        // Erased through the first process: the second never returns it.
        let (status, body) = server.post(&format!("/api/identity/customers/{first}/erase"), json!({})).await;
        assert!(status.is_success(), "{body}");
        let answer = search(elsewhere.clone()).await;
        assert_eq!(customers_of(&answer), vec![second.clone()], "{answer}");
        assert_eq!(answer["searched"], 1, "{answer}");
    }
}
