//! The analyst dashboard: its pages over HTTP (headers, CSRF, cross-site forms, escaping, the
//! frames and the decision form) on both databases, and the whole analyst's path in Chromium.

use kenali_server::dashboard::CONTENT_SECURITY_POLICY;
use kenali_server::service::users::{self, Role};
use reqwest::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY as CSP, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::browser::Browser;
use crate::ktp::photocopied_card_in_review;
use crate::testkit::{servers, testdata_b64, TestServer, NIK_MALE};

pub(crate) const PASSWORD: &str = "correct horse battery staple";
/// A customer's name that would run script if a page pasted it in unescaped.
const SCRIPT_NAME: &str = "<script>alert('name')</script>Budi";
/// A decision reason that would run script if a page pasted it in unescaped.
const SCRIPT_REASON: &str = "<img src=x onerror=alert('reason')> a copy of a copy";

/// A person at a browser, as plain HTTP: the session cookie once signed in, no redirects
/// followed.
pub(crate) struct Visitor {
    pub(crate) client: reqwest::Client,
    pub(crate) base: String,
    pub(crate) cookie: Option<String>,
}

pub(crate) struct Page {
    pub(crate) status: StatusCode,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) body: String,
}

impl Visitor {
    pub(crate) fn new(server: &TestServer) -> Visitor {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Visitor { client, base: server.base.clone(), cookie: None }
    }

    pub(crate) async fn send(&mut self, req: reqwest::RequestBuilder) -> Page {
        let req = match &self.cookie {
            Some(cookie) => req.header(COOKIE, cookie),
            None => req,
        };
        let response = req.send().await.unwrap();
        if let Some(set) = response.headers().get(SET_COOKIE) {
            let pair = set.to_str().unwrap().split(';').next().unwrap().to_string();
            if pair.starts_with("kenali_session=") {
                self.cookie = Some(pair).filter(|p| p != "kenali_session=");
            }
        }
        let (status, headers) = (response.status(), response.headers().clone());
        Page { status, headers, body: response.text().await.unwrap() }
    }

    pub(crate) async fn get(&mut self, path: &str) -> Page {
        let req = self.client.get(format!("{}{path}", self.base));
        self.send(req).await
    }

    /// A form posted from this origin's page.
    pub(crate) async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let req = self.client.post(format!("{}{path}", self.base)).header("origin", &self.base).form(form);
        self.send(req).await
    }

    pub(crate) async fn sign_in(server: &TestServer, email: &str) -> Visitor {
        let mut visitor = Visitor::new(server);
        let page = visitor.post("/dashboard/login", &[("email", email), ("password", PASSWORD)]).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        assert_eq!(page.headers[LOCATION], "/dashboard/review");
        assert!(visitor.cookie.is_some());
        visitor
    }
}

/// The page's CSRF token (the value of its `csrf` form field).
pub(crate) fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a CSRF field") + "name=\"csrf\" value=\"".len();
    html[at..].split('"').next().unwrap().to_string()
}

/// The ids after `prefix` in a page's links (`/captures/` → the frames' ids).
fn ids_after(html: &str, prefix: &str) -> Vec<String> {
    html.match_indices(prefix)
        .map(|(at, _)| html[at + prefix.len()..].split(['"', '/', '?']).next().unwrap().to_string())
        .collect()
}

pub(crate) async fn person(server: &TestServer, email: &str, role: Role) -> String {
    users::create(&server.state, "default", email, role, Some(PASSWORD), "test").await.unwrap().user.id
}

async fn analyst(server: &TestServer, email: &str) -> String {
    person(server, email, Role::Analyst).await
}

#[tokio::test]
async fn pages_carry_strict_headers_no_inline_script_and_send_strangers_to_sign_in() {
    for server in servers().await {
        let mut stranger = Visitor::new(&server);
        for path in ["/dashboard", "/dashboard/review", "/dashboard/audit", "/dashboard/passkeys"] {
            let page = stranger.get(path).await;
            assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}");
        }
        assert_eq!(stranger.get("/dashboard/review").await.headers[LOCATION], "/dashboard/login");
        let login = stranger.get("/dashboard/login").await;
        assert_eq!(login.status, StatusCode::OK);
        assert_eq!(login.headers[CSP], CONTENT_SECURITY_POLICY);
        assert!(CONTENT_SECURITY_POLICY.contains("script-src 'self'") && !CONTENT_SECURITY_POLICY.contains("unsafe"));
        assert!(CONTENT_SECURITY_POLICY.contains("frame-ancestors 'none'"));
        assert_eq!(login.headers["x-frame-options"], "DENY");
        assert_eq!(login.headers["referrer-policy"], "same-origin");
        assert_eq!(login.headers[CACHE_CONTROL], "no-store");
        // Every script is a file of this origin; no page loads anything from elsewhere.
        assert_eq!(
            login.body.matches("<script").count(),
            login.body.matches("<script src=\"/dashboard/assets/").count()
        );
        assert!(!login.body.contains("http://") && !login.body.contains("https://"), "{}", login.body);
        let script = stranger.get("/dashboard/assets/app.js").await;
        assert_eq!(script.status, StatusCode::OK);
        assert!(script.headers[CONTENT_TYPE].to_str().unwrap().starts_with("text/javascript"));
        assert!(script.body.contains("navigator.credentials.get"));
        // Indonesian for those who ask for it.
        let req = stranger.client.get(format!("{}/dashboard/login", server.base)).header("accept-language", "id-ID,id");
        let indonesian = stranger.send(req).await;
        assert!(indonesian.body.contains("Masuk dengan passkey"), "{}", indonesian.body);
        // A wrong password shows the form again with the API's uniform refusal.
        analyst(&server, "ani@acme.id").await;
        let refused =
            stranger.post("/dashboard/login", &[("email", "ani@acme.id"), ("password", "wrong password!")]).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
        assert!(refused.body.contains("sign-in-error"));
        assert!(stranger.cookie.is_none());
    }
}

#[tokio::test]
async fn an_analyst_reviews_a_photocopy_with_forms_that_refuse_other_sites_and_render_script_as_text() {
    for server in servers().await {
        let user_id = analyst(&server, "ani@acme.id").await;
        let (_, item) = photocopied_card_in_review(&server, SCRIPT_NAME).await;
        let mut ani = Visitor::sign_in(&server, "ani@acme.id").await;

        // The overview counts the capture (not passed: sent to review) and the waiting item.
        let overview = ani.get("/dashboard/overview").await;
        assert_eq!(overview.status, StatusCode::OK, "{}", overview.body);
        assert!(overview.body.contains("data-series=\"failed\" data-value=\"1\""), "{}", overview.body);
        assert!(
            overview.body.contains("data-label=\"&lt; 1 h\" data-series=\"Open\" data-value=\"1\""),
            "{}",
            overview.body
        );
        assert!(overview.body.contains("id=\"latency-chart\""));

        let queue = ani.get("/dashboard/review").await;
        assert_eq!(queue.status, StatusCode::OK, "{}", queue.body);
        assert!(queue.body.contains(&format!("/dashboard/review/{item}")), "{}", queue.body);
        let page = ani.get(&format!("/dashboard/review/{item}")).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert_eq!(page.headers[CACHE_CONTROL], "no-store");
        // The customer's name is shown as text: its markup is escaped, never parsed.
        assert!(page.body.contains("&lt;script&gt;alert('name')&lt;/script&gt;Budi"), "{}", page.body);
        assert!(!page.body.contains("<script>alert"));
        // The failed voter, with its measure, and the card's fields beside the claims.
        assert!(page.body.contains("data-voter=\"print_colour\""), "{}", page.body);
        assert!(page.body.contains("<tr class=\"failed\" data-voter=\"print_colour\">"), "{}", page.body);
        // Its measure beside the one threshold it is held to (the core's own constant).
        let print_colour =
            page.body.split("data-voter=\"print_colour\">").nth(1).unwrap().split("</tr>").next().unwrap();
        let bound = kenali_core::document::thresholds::COLOUR_SPREAD_MIN;
        assert!(print_colour.contains(&format!("<td class=\"threshold\">≥ {bound}</td>")), "{print_colour}");
        assert!(page.body.contains("id=\"card-fields\""));

        // Each frame is decrypted on demand, never cached, and its viewing is audited.
        let frames = ids_after(&page.body, "/captures/");
        assert!(!frames.is_empty(), "{}", page.body);
        let frame = ani.get(&format!("/dashboard/review/{item}/captures/{}", frames[0])).await;
        assert_eq!(frame.status, StatusCode::OK);
        assert_eq!(frame.headers[CACHE_CONTROL], "no-store");
        let media = frame.headers[CONTENT_TYPE].to_str().unwrap().to_string();
        assert!(media == "image/jpeg" || media == "image/png", "{media}");
        let viewed = server.audit_entries("capture.viewed").await;
        assert_eq!(viewed[0]["actor"], user_id.as_str());
        assert_eq!(viewed[0]["target"], frames[0].as_str());
        let elsewhere = ani.get(&format!("/dashboard/review/{item}/captures/cap_01J00000000000000000000000")).await;
        assert_eq!(elsewhere.status, StatusCode::NOT_FOUND);

        let csrf = csrf_of(&page.body);
        let decision = format!("/dashboard/review/{item}/decision");
        let form = [("csrf", csrf.as_str()), ("decision", "reject"), ("reason", SCRIPT_REASON)];
        // Sent by another site: refused before anything is read.
        let req =
            ani.client.post(format!("{}{decision}", server.base)).header("origin", "https://evil.example").form(&form);
        assert_eq!(ani.send(req).await.status, StatusCode::FORBIDDEN);
        let req =
            ani.client.post(format!("{}{decision}", server.base)).header("sec-fetch-site", "cross-site").form(&form);
        assert_eq!(ani.send(req).await.status, StatusCode::FORBIDDEN);
        // Without the session's token, or with another's.
        let tokenless = ani.post(&decision, &[("decision", "reject"), ("reason", "x")]).await;
        assert_eq!(tokenless.status, StatusCode::FORBIDDEN);
        assert!(tokenless.body.contains("csrf_token_invalid"));
        let forged = ani.post(&decision, &[("csrf", "AAAA"), ("decision", "reject"), ("reason", "x")]).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        // A decision without a reason is shown again with why, and changes nothing.
        let reasonless = ani.post(&decision, &[("csrf", &csrf), ("decision", "reject"), ("reason", "  ")]).await;
        assert_eq!(reasonless.status, StatusCode::BAD_REQUEST);
        assert!(reasonless.body.contains("decision-error"));
        let (_, open) = server.get("/api/identity/review-queue").await;
        assert_eq!(open["data"][0]["id"], item.as_str(), "{open}");

        let decided = ani.post(&decision, &form).await;
        assert_eq!(decided.status, StatusCode::SEE_OTHER, "{}", decided.body);
        let page = ani.get(&format!("/dashboard/review/{item}")).await;
        assert!(page.body.contains("&lt;img src=x onerror=alert('reason')&gt; a copy of a copy"), "{}", page.body);
        assert!(!page.body.contains("<img src=x"));
        assert!(page.body.contains(&format!("<code id=\"decided-by\">{user_id}</code>")), "{}", page.body);
        // The decision carries the person, in the queue and in the audit log.
        let (_, rejected) = server.get("/api/identity/review-queue?status=rejected").await;
        assert_eq!(rejected["data"][0]["decidedBy"], user_id.as_str(), "{rejected}");
        let audited = server.audit_entries("review.decided").await;
        assert_eq!(audited[0]["actor"], user_id.as_str());
        let twice = ani.post(&decision, &[("csrf", &csrf), ("decision", "approve"), ("reason", "again")]).await;
        assert_eq!(twice.status, StatusCode::CONFLICT);

        // The audit page finds it and proves the chain.
        let log = ani.get("/dashboard/audit?action=review.decided").await;
        assert!(log.body.contains(&user_id) && log.body.contains(&item), "{}", log.body);
        let verified = ani.post("/dashboard/audit/verify", &[("csrf", &csrf)]).await;
        assert_eq!(verified.status, StatusCode::OK, "{}", verified.body);
        assert!(verified.body.contains("id=\"chain-result\" role=\"status\""), "{}", verified.body);

        // Signing out ends the session: its cookie opens nothing more.
        let stale = ani.cookie.clone();
        assert_eq!(ani.post("/dashboard/logout", &[("csrf", &csrf)]).await.status, StatusCode::SEE_OTHER);
        ani.cookie = stale;
        assert_eq!(ani.get("/dashboard/review").await.status, StatusCode::SEE_OTHER);
    }
}

#[tokio::test]
async fn customers_are_found_shown_with_their_ladder_and_erased_only_by_an_admin_who_types_the_id() {
    for server in servers().await {
        analyst(&server, "ani@acme.id").await;
        let admin_id = person(&server, "root@acme.id", Role::Admin).await;
        let customer = server.create_customer(json!({"fullName": SCRIPT_NAME, "nik": NIK_MALE})).await;
        let id = customer["id"].as_str().unwrap().to_string();
        let mut ani = Visitor::sign_in(&server, "ani@acme.id").await;

        // Found through the NIK's blind index; the name is shown as text.
        let found = ani.get(&format!("/dashboard/customers?q={NIK_MALE}")).await;
        assert_eq!(found.status, StatusCode::OK, "{}", found.body);
        assert!(found.body.contains(&format!("/dashboard/customers/{id}")), "{}", found.body);
        assert!(
            found.body.contains("&lt;script&gt;alert('name')&lt;/script&gt;Budi")
                && !found.body.contains("<script>alert")
        );
        let nothing = ani.get("/dashboard/customers?q=3201010101900099").await;
        assert!(nothing.body.contains("id=\"no-customers\""), "{}", nothing.body);
        let control = ani.get("/dashboard/customers?q=a%07b").await;
        assert!(control.body.contains("control characters"), "{}", control.body);

        // The tier went from none to basic through the NIK: a tier event, by customer.
        let events = ani.get(&format!("/dashboard/tier-events?customer={id}")).await;
        assert_eq!(events.status, StatusCode::OK, "{}", events.body);
        assert!(events.body.contains("none → <strong>basic</strong>"), "{}", events.body);
        assert!(events.body.contains(&format!("/dashboard/customers/{id}")));
        let elsewhere = ani.get("/dashboard/tier-events?customer=cus_01J00000000000000000000000").await;
        assert!(elsewhere.body.contains("no-tier-events"), "{}", elsewhere.body);
        let bad_day = ani.get("/dashboard/tier-events?since=yesterday").await;
        assert_eq!(bad_day.status, StatusCode::BAD_REQUEST);

        // The profile: the ladder (basic through the NIK; what standard still needs) and
        // the timeline; an analyst sees no erase form and cannot post one.
        let profile = ani.get(&format!("/dashboard/customers/{id}")).await;
        assert_eq!(profile.status, StatusCode::OK, "{}", profile.body);
        assert!(profile.body.contains("<strong>basic</strong> → standard"), "{}", profile.body);
        assert!(profile.body.contains("<li class=\"missing\">○ a KTP capture with assurance high"), "{}", profile.body);
        assert!(profile.body.contains("nik_format"));
        assert!(!profile.body.contains("erase-form"));
        let csrf = csrf_of(&profile.body);
        let erase = format!("/dashboard/customers/{id}/erase");
        let refused = ani.post(&erase, &[("csrf", &csrf), ("confirm", &id)]).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert_eq!(server.get(&format!("/api/identity/customers/{id}")).await.0, StatusCode::OK);

        // An admin must type the id back; a mistyped one erases nothing.
        let mut root = Visitor::sign_in(&server, "root@acme.id").await;
        let profile = root.get(&format!("/dashboard/customers/{id}")).await;
        assert!(profile.body.contains("erase-form"));
        let csrf = csrf_of(&profile.body);
        let mistyped = root.post(&erase, &[("csrf", &csrf), ("confirm", "cus_wrong"), ("reason", "ticket 4411")]).await;
        assert_eq!(mistyped.status, StatusCode::BAD_REQUEST);
        assert!(mistyped.body.contains("erase-error"));
        assert_eq!(server.get(&format!("/api/identity/customers/{id}")).await.0, StatusCode::OK);
        let tokenless = root.post(&erase, &[("confirm", &id)]).await;
        assert_eq!(tokenless.status, StatusCode::FORBIDDEN);
        let erased = root.post(&erase, &[("csrf", &csrf), ("confirm", &id), ("reason", "ticket 4411")]).await;
        assert_eq!(erased.status, StatusCode::SEE_OTHER, "{}", erased.body);
        assert_eq!(server.get(&format!("/api/identity/customers/{id}")).await.0, StatusCode::GONE);
        let audited = server.audit_entries("customer.erased").await;
        assert_eq!(audited[0]["actor"], admin_id.as_str());
        assert_eq!(audited[0]["details"]["reason"], "ticket 4411");
        assert_eq!(root.get(&format!("/dashboard/customers/{id}")).await.status, StatusCode::GONE);
    }
}

#[tokio::test]
async fn a_review_item_shows_the_cards_portrait_beside_the_customers_faces_with_their_similarity() {
    for server in servers().await {
        analyst(&server, "ani@acme.id").await;
        let mut ani = Visitor::sign_in(&server, "ani@acme.id").await;
        let mut other_customer = None;
        // The card carries Obama's portrait; Dukcapil's photo is his, then another man's.
        for (photo, verdict) in [("faces/obama_1.jpg", "same person"), ("faces/biden_1.jpg", "another person")] {
            let (customer_id, item) = photocopied_card_in_review(&server, "Barack").await;
            let dukcapil = json!({"customerId": customer_id, "valid": true, "photo": testdata_b64(photo)});
            let (status, answer) = server.post("/api/identity/nik/dukcapil", dukcapil).await;
            assert_eq!(status, StatusCode::CREATED, "{answer}");
            let enrollment = answer["faceEnrolment"]["id"].as_str().unwrap().to_string();

            let page = ani.get(&format!("/dashboard/review/{item}")).await;
            assert_eq!(page.status, StatusCode::OK, "{}", page.body);
            assert!(page.body.contains("id=\"portrait\""), "{}", page.body);
            // Reading the customer's claims on the page is audited, with the item that showed them.
            let viewed = server.audit_entries("customer.viewed").await;
            assert_eq!(
                (viewed[0]["target"].as_str(), viewed[0]["details"]["reviewItemId"].as_str()),
                (Some(customer_id.as_str()), Some(item.as_str()))
            );
            let figure = page.body.split(&format!("data-enrollment=\"{enrollment}\"")).nth(1).unwrap();
            let figure = figure.split("</figure>").next().unwrap();
            assert!(figure.contains(verdict), "{photo}: {figure}");
            let similarity = |html: &str| -> f64 {
                html.split("class=\"similarity\">").nth(1).unwrap().split('<').next().unwrap().parse().unwrap()
            };
            let threshold: f64 =
                page.body.split("id=\"match-threshold\">").nth(1).unwrap().split('<').next().unwrap().parse().unwrap();
            assert_eq!(similarity(figure) >= threshold, verdict == "same person", "{photo}: {figure}");

            // The card's frame and Dukcapil's photo, each decrypted for its own request and
            // audited as a person viewing a biometric.
            let images = ids_after(&page.body, "/enrollments/");
            assert_eq!(images.len(), 2, "{images:?}");
            for enrollment_id in &images {
                let image =
                    ani.get(&format!("/dashboard/customers/{customer_id}/enrollments/{enrollment_id}/image")).await;
                assert_eq!(image.status, StatusCode::OK, "{enrollment_id}");
                assert_eq!(image.headers[CONTENT_TYPE], "image/jpeg");
                assert_eq!(image.headers[CACHE_CONTROL], "no-store");
            }
            let viewed = server.audit_entries("capture.viewed").await;
            assert_eq!(viewed[0]["details"]["enrollmentId"], images[1].as_str(), "{viewed:?}");
            // An enrollment is shown only under its own customer.
            if let Some((other, other_enrollment)) = &other_customer {
                let crossed =
                    ani.get(&format!("/dashboard/customers/{customer_id}/enrollments/{other_enrollment}/image")).await;
                assert_eq!(crossed.status, StatusCode::NOT_FOUND);
                let own = ani.get(&format!("/dashboard/customers/{other}/enrollments/{other_enrollment}/image")).await;
                assert_eq!(own.status, StatusCode::OK);
            }
            // The card as it was read: located in its frame and straightened again.
            let card = ani.client.get(format!("{}/dashboard/review/{item}/card", ani.base));
            let card = card.header(COOKIE, ani.cookie.clone().unwrap()).send().await.unwrap();
            assert_eq!((card.status(), card.headers()[CACHE_CONTROL].to_str().unwrap()), (StatusCode::OK, "no-store"));
            let card = image::load_from_memory(&card.bytes().await.unwrap()).unwrap();
            assert_eq!(
                (card.width(), card.height()),
                (kenali_vision::card::CARD_WIDTH, kenali_vision::card::CARD_HEIGHT)
            );
            // The profile shows a thumbnail of each face.
            let profile = ani.get(&format!("/dashboard/customers/{customer_id}")).await;
            assert_eq!(ids_after(&profile.body, "/enrollments/").len(), 2, "{}", profile.body);
            other_customer = Some((customer_id, enrollment));
        }
    }
}

/// The analyst's whole path in Chromium: a password, a passkey registered with the virtual
/// authenticator, sign-out, sign-in with the passkey alone, a photocopied KTP reviewed and
/// rejected, and the decision found in the audit log. Screenshots under
/// `target/dashboard-screenshots/`.
#[tokio::test]
async fn in_chromium_an_analyst_signs_in_with_a_passkey_and_rejects_a_photocopy() {
    for server in servers().await {
        let user_id = analyst(&server, "ani@acme.id").await;
        let (customer_id, item) = photocopied_card_in_review(&server, SCRIPT_NAME).await;
        // Passkeys are bound to `localhost`, the name the server answers to without a public URL.
        let base = server.base.replace("127.0.0.1", "localhost");
        let browser = Browser::start(&format!("analyst-{}", server.backend)).await;

        browser.goto(&format!("{base}/dashboard/review")).await;
        browser.wait_for_path("/dashboard/login").await;
        browser.screenshot("sign-in").await;
        browser.type_into("#email", "ani@acme.id").await;
        browser.type_into("#password", PASSWORD).await;
        browser.click("#password-submit").await;
        browser.wait_for_path("/dashboard/review").await;
        assert_eq!(browser.text("#signed-in-as").await, "ani@acme.id");

        browser.click("a[href='/dashboard/passkeys']").await;
        let authenticator = browser.add_virtual_authenticator().await;
        browser.type_into("#passkey-name", "virtual authenticator").await;
        browser.click("#passkey-add").await;
        browser.wait_for("#passkeys").await;
        assert!(browser.text("#passkeys").await.contains("virtual authenticator"));
        assert_eq!(browser.credentials(&authenticator).await.len(), 1);
        browser.screenshot("passkey-registered").await;

        browser.click("#sign-out").await;
        browser.wait_for_path("/dashboard/login").await;
        // The passkey alone: no email typed, the authenticator offers its discoverable passkey.
        browser.click("#passkey-sign-in").await;
        browser.wait_for_path("/dashboard/review").await;
        let signed_in = server.audit_entries("auth.signed_in").await;
        assert_eq!(signed_in[0]["details"]["method"], "passkey", "{signed_in:?}");
        browser.screenshot("review-queue").await;
        browser.click("a[href='/dashboard/overview']").await;
        browser.wait_for("#captures-chart svg rect").await;
        browser.screenshot("overview").await;
        browser.click("a[href='/dashboard/review']").await;

        browser.click(&format!("a[href='/dashboard/review/{item}']")).await;
        browser.wait_for("#frames img").await;
        // Every frame decoded in the browser (decrypted by the server for this page).
        let all_loaded =
            "return [...document.querySelectorAll('#frames img')].every(i => i.complete && i.naturalWidth > 0)";
        let mut loaded = Value::Bool(false);
        for _ in 0..100 {
            loaded = browser.script(all_loaded).await;
            if loaded == Value::Bool(true) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(loaded, Value::Bool(true), "a frame did not load");
        assert!(browser.count("tr.failed[data-voter='print_colour']").await == 1);
        // The customer's name stayed text: the page runs our one script and nothing else.
        assert_eq!(browser.script("return document.scripts.length").await, 1);
        assert!(browser.text("#card-fields").await.contains(SCRIPT_NAME));
        browser.screenshot("review-item").await;
        browser.script("document.querySelector('#card-title').scrollIntoView()").await;
        browser.wait_for("#rectified-card img").await;
        browser.screenshot("review-item-card").await;

        browser.click("#decision-reject").await;
        browser.type_into("#reason", SCRIPT_REASON).await;
        browser.click("#decision-submit").await;
        browser.wait_for("#decided-by").await;
        assert_eq!(browser.text("#decided-by").await, user_id);
        assert_eq!(browser.text("#decision-reason").await, SCRIPT_REASON);
        // Every image on the page is this server's (frames, the rectified card, faces).
        let foreign =
            "return [...document.images].filter(i => !i.src.startsWith(location.origin + '/dashboard/')).length";
        assert_eq!(browser.script(foreign).await, json!(0));
        browser.screenshot("decided").await;

        browser.click("a[href='/dashboard/customers']").await;
        browser.type_into("#q", &customer_id).await;
        browser.click("#customer-search button").await;
        browser.click("a.customer-link").await;
        assert!(browser.text("#timeline").await.contains("review_decision"));
        assert_eq!(browser.text("#customer-name").await, SCRIPT_NAME);
        browser.screenshot("customer").await;

        browser.goto(&format!("{base}/dashboard/audit?action=review.decided")).await;
        let row = browser.text("#audit-log tbody tr").await;
        assert!(row.contains(&user_id) && row.contains(&item), "{row}");
        browser.click("#verify-chain-button").await;
        assert!(browser.text("#chain-result").await.contains("intact"));
        browser.screenshot("audit-log").await;

        // Bahasa Indonesia, kept across pages.
        browser.click("a[lang='id']").await;
        browser.wait_for_path("/dashboard/audit").await;
        assert_eq!(browser.text("main h1").await, "Log audit");
        browser.screenshot("audit-log-id").await;
    }
}
