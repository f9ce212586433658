//! Org settings: bounded, audited, per org, and used by the decisions they tune.

use reqwest::StatusCode;
use serde_json::json;

use crate::testkit::{servers, testdata_b64};

#[tokio::test]
async fn settings_are_bounded_audited_per_org_and_applied() {
    for server in servers().await {
        let (status, shown) = server.get("/api/identity/org/settings").await;
        assert_eq!(status, StatusCode::OK, "{shown}");
        let settings = &shown["settings"];
        assert_eq!(settings["matchThreshold"].as_f64().unwrap(), 0.45, "the threshold as typed, not widened from f32");
        assert_eq!(settings["premiumRequiresDukcapil"], true, "seed 002: premium if Dukcapil");
        assert_eq!(settings["retention"]["onboardingFramesDays"], 1095);
        assert_eq!(settings["retention"]["stepUpFramesDays"], 90);
        assert_eq!(settings["retention"]["recordsDays"], 2555);
        assert_eq!(settings["webhookRetryHours"], 24);
        assert!(settings["updatedAt"].is_null());

        let public = server.org_key("default", &[kenali_server::auth::Scope::Public]).await;
        let (status, _) = server.get_as(&public, "/api/identity/org/settings").await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        // Out of bounds, or not a setting: 400, and nothing changes.
        let audit_rows = server.count("audit_log").await;
        for (body, field) in [
            (json!({"matchThreshold": 2.0}), Some("matchThreshold")),
            (json!({"retention": {"recordsDays": 365}}), Some("retention.recordsDays")),
            (json!({"retention": {"onboardingFramesDays": 30}}), Some("retention.onboardingFramesDays")),
            (json!({"webhookRetryHours": 1}), Some("webhookRetryHours")),
            (json!({"matchThreshold": "high"}), None),
            (json!({"retentionDays": 10}), None),
        ] {
            let response = server
                .client
                .patch(format!("{}/api/identity/org/settings", server.base))
                .bearer_auth(&server.key)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
            let error: serde_json::Value = response.json().await.unwrap();
            if let Some(field) = field {
                assert_eq!(error["error"]["code"], "invalid_settings", "{error}");
                assert_eq!(error["error"]["details"][0]["field"], field, "{error}");
            }
        }
        assert_eq!(server.count("audit_log").await, audit_rows);

        let response = server
            .client
            .patch(format!("{}/api/identity/org/settings", server.base))
            .bearer_auth(&server.key)
            .json(&json!({"matchThreshold": 0.9, "retention": {"recordsDays": 3000}}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let changed: serde_json::Value = response.json().await.unwrap();
        assert_eq!(changed["settings"]["matchThreshold"].as_f64().unwrap(), 0.9);
        assert_eq!(changed["settings"]["retention"]["recordsDays"], 3000);
        assert_eq!(changed["settings"]["retention"]["stepUpFramesDays"], 90, "unnamed settings keep their value");
        assert!(changed["settings"]["updatedAt"].is_string());
        let (_, log) = server.get("/api/identity/audit-log?action=org.settings_changed").await;
        let changes = &log["data"][0]["details"]["changes"];
        assert_eq!(changes["retention.recordsDays"], json!({"from": 2555, "to": 3000}), "{log}");
        assert_eq!(changes["matchThreshold"]["from"].as_f64().unwrap(), 0.45f32 as f64);
        assert_eq!(changes.as_object().unwrap().len(), 2);

        // A match now needs 0.9.
        let (status, matched) = server
            .post(
                "/api/identity/face/match",
                json!({"image": testdata_b64("faces/obama_2.jpg"), "referenceImage": testdata_b64("faces/obama_3.jpg")}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{matched}");
        let score = matched["match"]["score"].as_f64().unwrap();
        assert_eq!(matched["match"]["threshold"].as_f64().unwrap(), 0.9);
        assert_eq!(matched["match"]["matched"], score >= 0.9f32 as f64);

        // Another org keeps the defaults.
        let other = server.org_key("other-fintech", &kenali_server::auth::Scope::ALL).await;
        let (_, theirs) = server.get_as(&other, "/api/identity/org/settings").await;
        assert_eq!(theirs["settings"]["matchThreshold"].as_f64().unwrap(), 0.45);
    }
}
