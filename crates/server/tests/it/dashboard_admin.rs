//! The dashboard's admin pages (API keys and OAuth clients, webhooks with their delivery log,
//! org settings) and the exports page, over HTTP on both databases: each refuses an analyst,
//! a form without its CSRF token and a value out of bounds with nothing changed, and what it
//! does is audited with the person's id.

use std::sync::Arc;

use kenali_server::service::users::Role;
use reqwest::header::{COOKIE, LOCATION};
use reqwest::StatusCode;
use serde_json::json;

use crate::dashboard::{csrf_of, person, Visitor};
use crate::testkit::{servers, NIK_MALE};
use crate::webhooks::{assert_signed, give_up_now, Answer, Receiver};

/// The text of the element with this id (its first text node), as the page rendered it.
fn element_text<'a>(html: &'a str, id: &str) -> &'a str {
    let at = html.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no #{id} in {html}"));
    let start = at + html[at..].find('>').unwrap() + 1;
    html[start..].split('<').next().unwrap()
}

/// Posts fields whose values were built at run time.
async fn post_fields(visitor: &mut Visitor, path: &str, fields: &[(&'static str, String)]) -> crate::dashboard::Page {
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(name, value)| (*name, value.as_str())).collect();
    visitor.post(path, &pairs).await
}

#[tokio::test]
async fn admin_pages_refuse_analysts_and_tokenless_forms_and_change_nothing() {
    for server in servers().await {
        person(&server, "ani@acme.id", Role::Analyst).await;
        let mut ani = Visitor::sign_in(&server, "ani@acme.id").await;
        let review = ani.get("/dashboard/review").await;
        let csrf = csrf_of(&review.body);
        assert!(!review.body.contains("/dashboard/settings"), "an analyst's navigation has no admin pages");
        for path in ["/dashboard/api-keys", "/dashboard/webhooks", "/dashboard/settings"] {
            assert_eq!(ani.get(path).await.status, StatusCode::FORBIDDEN, "{path}");
        }
        let keys_before = server.count("api_keys").await;
        let refused =
            ani.post("/dashboard/api-keys/create", &[("csrf", &csrf), ("name", "mine"), ("scope", "admin")]).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        let refused = ani.post("/dashboard/settings", &[("csrf", &csrf), ("matchThreshold", "0.3")]).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert_eq!(server.count("api_keys").await, keys_before);

        person(&server, "root@acme.id", Role::Admin).await;
        let mut root = Visitor::sign_in(&server, "root@acme.id").await;
        let tokenless = root.post("/dashboard/api-keys/create", &[("name", "mine"), ("scope", "admin")]).await;
        assert_eq!(tokenless.status, StatusCode::FORBIDDEN);
        let forged = root.post("/dashboard/webhooks", &[("csrf", "forged"), ("url", "http://127.0.0.1:9/")]).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        // A form from another site, with the right token, is refused before it is read.
        let csrf = csrf_of(&root.get("/dashboard/api-keys").await.body);
        let req = root
            .client
            .post(format!("{}/dashboard/api-keys/create", root.base))
            .header("origin", "https://evil.example")
            .form(&[("csrf", csrf.as_str()), ("name", "mine"), ("scope", "admin")]);
        assert_eq!(root.send(req).await.status, StatusCode::FORBIDDEN);
        assert_eq!(server.count("api_keys").await, keys_before);
        assert_eq!(server.count("webhooks").await, 0);
    }
}

#[tokio::test]
async fn an_admin_creates_and_revokes_keys_and_clients_whose_secret_is_shown_once() {
    for server in servers().await {
        let admin_id = person(&server, "root@acme.id", Role::Admin).await;
        let mut root = Visitor::sign_in(&server, "root@acme.id").await;
        let page = root.get("/dashboard/api-keys").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains("id=\"api-keys\""), "the test server's own key is listed");
        let csrf = csrf_of(&page.body);

        // A name holding markup, no scope: refused, nothing created, the name not echoed raw.
        let keys_before = server.count("api_keys").await;
        let name = "<b>ops</b> backend";
        let refused = root.post("/dashboard/api-keys/create", &[("csrf", &csrf), ("name", name)]).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
        assert!(refused.body.contains("credential-error") && refused.body.contains("scopes"), "{}", refused.body);
        assert_eq!(server.count("api_keys").await, keys_before);

        let created =
            root.post("/dashboard/api-keys/create", &[("csrf", &csrf), ("name", name), ("scope", "admin")]).await;
        assert_eq!(created.status, StatusCode::OK, "{}", created.body);
        let secret = element_text(&created.body, "new-secret-value").to_string();
        assert!(secret.starts_with("qe_sk_"), "{secret}");
        assert!(created.body.contains("&lt;b&gt;ops&lt;/b&gt; backend") && !created.body.contains("<b>ops"));
        assert_eq!(server.get_as(&secret, "/api/identity/org/settings").await.0, StatusCode::OK);
        // Shown once: the list never carries it again.
        assert!(!root.get("/dashboard/api-keys").await.body.contains(&secret));
        let audited = server.audit_entries("api_key.created").await;
        assert_eq!(audited[0]["actor"], admin_id.as_str(), "{audited:?}");

        let (_, keys) = server.get("/api/identity/api-keys").await;
        let key_id = keys["data"].as_array().unwrap().iter().find(|k| k["name"] == name).unwrap()["id"].clone();
        let key_id = key_id.as_str().unwrap();
        let revoked = root.post(&format!("/dashboard/api-keys/{key_id}/revoke"), &[("csrf", &csrf)]).await;
        assert_eq!(revoked.status, StatusCode::SEE_OTHER, "{}", revoked.body);
        assert_eq!(server.get_as(&secret, "/api/identity/org/settings").await.0, StatusCode::UNAUTHORIZED);
        let again = root.post(&format!("/dashboard/api-keys/{key_id}/revoke"), &[("csrf", &csrf)]).await;
        assert_eq!(again.status, StatusCode::CONFLICT);
        assert_eq!(server.audit_entries("api_key.revoked").await[0]["actor"], admin_id.as_str());

        // An OAuth client: its secret once, its tokens refused after revocation.
        let created = root
            .post("/dashboard/oauth-clients/create", &[("csrf", &csrf), ("name", "partner"), ("scope", "public")])
            .await;
        assert_eq!(created.status, StatusCode::OK, "{}", created.body);
        let client_secret = element_text(&created.body, "new-secret-value").to_string();
        let client_id =
            created.body.split("OAuth client <code>").nth(1).unwrap().split('<').next().unwrap().to_string();
        assert!(client_id.starts_with("ocl_") && client_secret.starts_with("qe_cs_"), "{client_id} {client_secret}");
        let revoked = root.post(&format!("/dashboard/oauth-clients/{client_id}/revoke"), &[("csrf", &csrf)]).await;
        assert_eq!(revoked.status, StatusCode::SEE_OTHER, "{}", revoked.body);
        let listed = root.get("/dashboard/api-keys").await;
        assert!(listed.body.contains(&format!("data-id=\"{client_id}\"")));
        assert_eq!(server.audit_entries("oauth_client.revoked").await[0]["actor"], admin_id.as_str());
    }
}

#[tokio::test]
async fn an_admin_adds_an_endpoint_tests_it_and_redelivers_a_failed_delivery() {
    for server in servers().await {
        let admin_id = person(&server, "root@acme.id", Role::Admin).await;
        let mut root = Visitor::sign_in(&server, "root@acme.id").await;
        let csrf = csrf_of(&root.get("/dashboard/webhooks").await.body);
        // Down for the first two attempts, then up.
        let receiver =
            Receiver::start(Arc::new(|n| if n < 2 { Answer::Status(503) } else { Answer::Status(200) })).await;

        let unknown_event = root
            .post("/dashboard/webhooks", &[("csrf", &csrf), ("url", &receiver.url), ("event", "kyc.nothing")])
            .await;
        assert_eq!(unknown_event.status, StatusCode::BAD_REQUEST, "{}", unknown_event.body);
        assert!(unknown_event.body.contains("endpoint-error"));
        assert_eq!(server.count("webhooks").await, 0);

        let form = [
            ("csrf", csrf.as_str()),
            ("url", receiver.url.as_str()),
            ("description", "ops <alerts>"),
            ("event", "kyc.tier_changed"),
            ("event", "review.decided"),
        ];
        let created = root.post("/dashboard/webhooks", &form).await;
        assert_eq!(created.status, StatusCode::OK, "{}", created.body);
        let secret = element_text(&created.body, "new-secret-value").to_string();
        assert!(secret.starts_with("qe_whsec_"), "{secret}");
        assert!(created.body.contains("ops &lt;alerts&gt;"));
        let (_, listed) = server.get("/api/identity/webhooks").await;
        let endpoint = &listed["data"][0];
        assert_eq!(endpoint["events"], json!(["kyc.tier_changed", "review.decided"]));
        assert_eq!(server.audit_entries("webhook.created").await[0]["actor"], admin_id.as_str());
        let id = endpoint["id"].as_str().unwrap().to_string();
        let page = format!("/dashboard/webhooks/{id}");

        // A test event: queued, tried against the receiver (down), then failed once its
        // retry window is over.
        let test = root.post(&format!("{page}/test"), &[("csrf", &csrf)]).await;
        assert_eq!(test.status, StatusCode::SEE_OTHER, "{}", test.body);
        let queued_at = test.headers[LOCATION].to_str().unwrap().to_string();
        let event_id = queued_at.split("queued=").nth(1).unwrap().to_string();
        receiver.wait_for("the first attempt", |got| !got.is_empty()).await;
        let not_failed = root.post(&format!("{page}/deliveries/{event_id}/redeliver"), &[("csrf", &csrf)]).await;
        assert_eq!(not_failed.status, StatusCode::CONFLICT, "a pending delivery is not redelivered");
        give_up_now(&server).await;
        receiver.wait_for("the second attempt", |got| got.len() >= 2).await;
        let mut log = root.get(&page).await;
        for _ in 0..100 {
            if log.body.contains("<tr class=\"failed\"") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            log = root.get(&page).await;
        }
        assert!(log.body.contains("<tr class=\"failed\"") && log.body.contains("HTTP 503"), "{}", log.body);
        assert!(log.body.contains("webhook.test"));

        let redelivered = root.post(&format!("{page}/deliveries/{event_id}/redeliver"), &[("csrf", &csrf)]).await;
        assert_eq!(redelivered.status, StatusCode::SEE_OTHER, "{}", redelivered.body);
        let got = receiver.wait_for("the redelivery", |got| got.len() >= 3).await;
        assert_signed(&got[2], &secret);
        assert_eq!(server.audit_entries("webhook.redelivered").await[0]["actor"], admin_id.as_str());

        // Disabled, then deleted: gone from the list and the API.
        let disabled = root.post(&format!("{page}/disable"), &[("csrf", &csrf)]).await;
        assert_eq!(disabled.status, StatusCode::SEE_OTHER);
        assert_eq!(server.get("/api/identity/webhooks").await.1["data"][0]["enabled"], false);
        assert_eq!(root.post(&format!("{page}/nonsense"), &[("csrf", &csrf)]).await.status, StatusCode::NOT_FOUND);
        let unconfirmed = root.post(&format!("{page}/delete"), &[("csrf", &csrf)]).await;
        assert_eq!(unconfirmed.status, StatusCode::BAD_REQUEST);
        assert_eq!(server.get("/api/identity/webhooks").await.1["data"].as_array().unwrap().len(), 1);
        let deleted = root.post(&format!("{page}/delete"), &[("csrf", &csrf), ("confirm", "yes")]).await;
        assert_eq!(deleted.headers[LOCATION], format!("/dashboard/webhooks?deleted={id}").as_str());
        assert_eq!(server.get("/api/identity/webhooks").await.1["data"], json!([]));
        assert_eq!(root.get(&page).await.status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn settings_change_within_bounds_only_and_exports_download_between_picked_days() {
    for server in servers().await {
        let admin_id = person(&server, "root@acme.id", Role::Admin).await;
        let mut root = Visitor::sign_in(&server, "root@acme.id").await;
        let page = root.get("/dashboard/settings").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains("id=\"settings-changed\""));
        let csrf = csrf_of(&page.body);
        let (_, before) = server.get("/api/identity/org/settings").await;
        let form = |threshold: &'static str, records: &'static str| {
            vec![
                ("csrf", csrf.clone()),
                ("matchThreshold", threshold.to_string()),
                ("premiumRequiresDukcapil", "true".to_string()),
                ("vendorPushMaxAgeSecs", "300".to_string()),
                ("webhookRetryHours", "72".to_string()),
                ("retention.onboardingFramesDays", "1095".to_string()),
                ("retention.stepUpFramesDays", "30".to_string()),
                ("retention.recordsDays", records.to_string()),
            ]
        };
        // Out of bounds, or not a number: named, and nothing saved.
        let refused = post_fields(&mut root, "/dashboard/settings", &form("0.62", "10")).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
        assert!(refused.body.contains("retention.recordsDays"), "{}", refused.body);
        let refused = post_fields(&mut root, "/dashboard/settings", &form("much", "2555")).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert!(refused.body.contains("matchThreshold: must be a number"), "{}", refused.body);
        // The form shows what was typed, to correct it, not what is saved.
        assert!(refused.body.contains("value=\"much\""), "{}", refused.body);
        assert_eq!(server.get("/api/identity/org/settings").await.1, before);

        let saved = post_fields(&mut root, "/dashboard/settings", &form("0.62", "2555")).await;
        assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
        assert!(saved.body.contains("settings-saved"));
        let (_, after) = server.get("/api/identity/org/settings").await;
        assert!((after["settings"]["matchThreshold"].as_f64().unwrap() - 0.62).abs() < 1e-6, "{after}");
        // The unticked boxes are off.
        assert_eq!(after["settings"]["analystsRequirePasskey"], false);
        let audited = server.audit_entries("org.settings_changed").await;
        assert_eq!(audited[0]["actor"], admin_id.as_str());
        assert!(audited[0]["details"]["changes"]["matchThreshold"]["to"].is_number(), "{audited:?}");

        // Exports: the picked days checked, then the API's own streamed file as this person.
        let ani_id = person(&server, "ani@acme.id", Role::Analyst).await;
        let mut ani = Visitor::sign_in(&server, "ani@acme.id").await;
        server.create_customer(json!({"fullName": "Siti Rahma", "nik": NIK_MALE})).await;
        assert_eq!(ani.get("/dashboard/exports").await.status, StatusCode::OK);
        let backwards = ani.get("/dashboard/exports/download?what=customers&from=2026-12-08&to=2026-12-01").await;
        assert_eq!(backwards.status, StatusCode::BAD_REQUEST);
        assert!(backwards.body.contains("export-error"));
        let today = kenali_core::time_fmt::now_timestamp()[..10].to_string();
        let download = ani.get(&format!("/dashboard/exports/download?what=customers&from={today}&to=")).await;
        assert_eq!(download.status, StatusCode::SEE_OTHER);
        let location = download.headers[LOCATION].to_str().unwrap().to_string();
        assert_eq!(location, format!("/api/identity/export/customers.csv?from={today}"));
        let csv = ani
            .client
            .get(format!("{}{location}", ani.base))
            .header(COOKIE, ani.cookie.clone().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(csv.status(), StatusCode::OK);
        assert!(csv.text().await.unwrap().contains("Siti Rahma"));
        assert_eq!(server.audit_entries("export.created").await[0]["actor"], ani_id.as_str());
    }
}

/// An admin's pages in Chromium: an endpoint added (its secret shown once) and tested, an API
/// key created, a setting saved, the exports form. Screenshots under
/// `target/dashboard-screenshots/admin-*/`.
#[tokio::test]
async fn in_chromium_an_admin_adds_an_endpoint_a_key_and_saves_a_setting() {
    for server in servers().await {
        person(&server, "root@acme.id", Role::Admin).await;
        let receiver = Receiver::start(Arc::new(|_| Answer::Status(200))).await;
        let base = server.base.replace("127.0.0.1", "localhost");
        let browser = crate::browser::Browser::start(&format!("admin-{}", server.backend)).await;
        browser.goto(&format!("{base}/dashboard/login")).await;
        browser.type_into("#email", "root@acme.id").await;
        browser.type_into("#password", crate::dashboard::PASSWORD).await;
        browser.click("#password-submit").await;
        browser.wait_for_path("/dashboard/review").await;

        browser.click("a[href='/dashboard/webhooks']").await;
        browser.type_into("#endpoint-url", &receiver.url).await;
        browser.type_into("#endpoint-description", "core banking").await;
        browser.click("input[value='review.decided']").await;
        browser.click("#add-endpoint button").await;
        browser.wait_for("#new-secret").await;
        assert!(browser.text("#new-secret-value").await.starts_with("qe_whsec_"));
        browser.screenshot("webhook-created").await;
        browser.click("#webhooks a").await;
        browser.click("#send-test").await;
        browser.wait_for("#queued").await;
        receiver.wait_for("the test event", |got| !got.is_empty()).await;
        let mut delivered = false;
        for _ in 0..100 {
            browser.goto(&browser_url(&browser).await).await;
            if browser.count("#deliveries tr.delivered").await == 1 {
                delivered = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(delivered, "the delivery log shows the test event delivered");
        browser.screenshot("webhook-deliveries").await;

        browser.click("a[href='/dashboard/api-keys']").await;
        browser.type_into("#create-key-name", "reporting job").await;
        browser.click("#create-key-internal").await;
        browser.click("#create-key button").await;
        browser.wait_for("#new-secret").await;
        assert!(browser.text("#new-secret-value").await.starts_with("qe_sk_"));
        browser.screenshot("api-key-created").await;

        browser.click("a[href='/dashboard/settings']").await;
        browser.script("document.querySelector('#matchThreshold').value = '0.55'").await;
        browser.click("#save-settings").await;
        browser.wait_for("#settings-saved").await;
        browser.screenshot("settings-saved").await;
        let (_, settings) = server.get("/api/identity/org/settings").await;
        assert!((settings["settings"]["matchThreshold"].as_f64().unwrap() - 0.55).abs() < 1e-6, "{settings}");

        browser.click("a[href='/dashboard/exports']").await;
        browser.wait_for("#export-form").await;
        browser.screenshot("exports").await;
    }
}

async fn browser_url(browser: &crate::browser::Browser) -> String {
    browser.script("return location.href").await.as_str().unwrap().to_string()
}
