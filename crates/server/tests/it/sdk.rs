//! The web SDK (`sdk/web`) end to end in Debian's Chromium, against a real server (issue 20).
//! A test camera (`test_camera.js`) replaces `getUserMedia` with a canvas stream that films a
//! real photo or a test-kit card lit by whatever colour the SDK shows at that moment; Chromium's
//! own fake camera and permission switches drive the camera's error paths. Screenshots of each
//! step land under `target/dashboard-screenshots/sdk-*` and `demo-*`.

use std::time::Duration;

use kenali_testkit::ktp::{render_card, KtpFields};
use kenali_testkit::ktp_scene::{capture_frames, Presentation};
use kenali_testkit::{b64, jpeg, testdata_bytes, upright_live_face};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::browser::Browser;
use crate::testkit::{servers_configured, TestServer, NIK_MALE};

const TEST_CAMERA: &str = include_str!("test_camera.js");

/// Demo on (forced on PostgreSQL), and the production image limit: an SDK bundle of 1280×720
/// frames is a few megabytes.
async fn demo_servers() -> Vec<TestServer> {
    servers_configured(|config| {
        config.demo = true;
        config.demo_force = true;
        config.image_body_limit_bytes = 12 * 1024 * 1024;
    })
    .await
}

fn data_url(jpeg_bytes: &[u8]) -> String {
    format!("data:image/jpeg;base64,{}", b64(jpeg_bytes))
}

/// A face for the test camera: `rotate` turns it upright.
fn face_camera(jpeg_bytes: &[u8], rotate: i32, ignores_flash: bool) -> Value {
    json!({"face": data_url(jpeg_bytes), "rotate": rotate, "ignoresFlash": ignores_flash, "strength": 0.35})
}

/// A test-kit card filmed on a desk under each challenge colour (three poses each: five steps
/// that never repeat a colour in a row show one at most three times) and without any flash, for the test camera to show whichever colour the SDK puts on the screen.
fn card_camera(card: &image::RgbImage) -> Value {
    let palette: Vec<String> = kenali_core::challenge::PALETTE.iter().map(|c| c.to_string()).collect();
    let mut colors = [palette.clone(), palette.clone(), palette].concat();
    colors.push("#000000".into());
    let filmed = capture_frames(card, &colors, Presentation::Original, 11);
    let mut frames = serde_json::Map::new();
    for (color, frame) in colors.iter().zip(&filmed) {
        let key = if color == "#000000" { "ambient".to_string() } else { color.clone() };
        let entry = frames.entry(key).or_insert_with(|| json!([]));
        entry.as_array_mut().unwrap().push(json!(data_url(frame)));
    }
    json!({"frames": frames})
}

/// Starts `captureSelfie` or `captureKtp` in the page with `challenge`; the result lands in
/// `window.__capture` (`{ok: {bundle, stats}}` or `{error: {code, message}}`).
const START_CAPTURE: &str = r#"
const [kind, challenge, options] = [arguments[0].kind, arguments[0].challenge, arguments[0].options || {}];
window.__capture = null;
const host = document.createElement("div");
host.id = "sdk-host";
document.querySelector("main").prepend(host);
import("/demo/assets/kenali-sdk.js")
  .then((sdk) => (kind === "face" ? sdk.captureSelfie : sdk.captureKtp)({ challenge, container: host, ...options }))
  .then((ok) => { window.__capture = { ok }; }, (e) => { window.__capture = { error: { code: e.code, message: e.message } }; });
return true;
"#;

impl Browser {
    async fn install_camera(&self, camera: Value) {
        self.script_with(TEST_CAMERA, camera).await;
    }

    /// Waits for the capture started by [`START_CAPTURE`] to end.
    async fn capture_result(&self) -> Value {
        for _ in 0..300 {
            let result = self.script("return window.__capture").await;
            if !result.is_null() {
                return result;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.screenshot("capture-stuck").await;
        panic!("the capture did not end in 30 s");
    }

    /// A whole capture in the page: the warning (screenshot), Start, the flash (screenshot).
    async fn capture(&self, kind: &str, challenge: &Value, name: &str) -> Value {
        self.script_with(START_CAPTURE, json!({"kind": kind, "challenge": challenge})).await;
        self.wait_for("[data-kenali-warning]").await;
        self.screenshot(&format!("{name}-warning")).await;
        self.click("[data-kenali-action=start]").await;
        self.wait_for("[data-kenali-flash]").await;
        self.screenshot(&format!("{name}-flash")).await;
        self.capture_result().await
    }
}

fn signed(result: &Value) -> (Value, Value) {
    let ok = result.get("ok").unwrap_or_else(|| panic!("the capture failed: {result}"));
    (ok["bundle"].clone(), ok["stats"].clone())
}

fn voter<'a>(voters: &'a Value, name: &str) -> &'a Value {
    voters.as_array().unwrap().iter().find(|v| v["name"] == name).unwrap_or_else(|| panic!("no {name} in {voters}"))
}

#[tokio::test]
async fn a_selfie_the_sdk_captured_in_chromium_is_live_matched_and_refused_when_it_should_be() {
    let live = jpeg(&upright_live_face());
    for server in demo_servers().await {
        let customer = server.create_customer(json!({"fullName": "Live Person", "nik": NIK_MALE})).await;
        let id = customer["id"].as_str().unwrap();
        let (status, body) = server
            .post("/api/identity/nik/dukcapil", json!({"customerId": id, "valid": true, "photo": b64(&live)}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let browser = Browser::start(&format!("sdk-{}", server.backend)).await;
        let step_up = |bundle: Value| {
            let server = &server;
            async move {
                let (status, answer) =
                    server.post("/api/identity/auth/step-up", json!({"customerId": id, "bundle": bundle})).await;
                assert_eq!(status, StatusCode::OK, "{answer}");
                answer
            }
        };

        // The person in front of the camera, lit by the screen: live and matched.
        browser.goto(&format!("{}/demo", server.base)).await;
        browser.install_camera(face_camera(&live, 0, false)).await;
        let challenge = server.face_challenge(id).await;
        let (bundle, stats) = signed(&browser.capture("face", &challenge, "live").await);
        let seen = browser.script("return window.__testCamera.colorsSeen").await;
        assert_eq!(seen, challenge["colors"], "the camera saw each colour once, in order");
        let constraints = browser.script("return window.__testCamera.constraints").await;
        assert_eq!(constraints["video"]["facingMode"]["ideal"], "user", "{constraints}");
        assert_eq!((stats["width"].as_u64(), stats["height"].as_u64()), (Some(1280), Some(720)), "{stats}");
        let samples = bundle["flashSamples"].as_array().unwrap();
        assert_eq!(samples.len(), challenge["colors"].as_array().unwrap().len());
        let holds: Vec<u64> = challenge["holdMs"].as_array().unwrap().iter().map(|h| h.as_u64().unwrap()).collect();
        for (step, sample) in samples.iter().enumerate() {
            // Each frame was grabbed inside its colour's hold, after the camera had seen it.
            let start: u64 = holds[..step].iter().sum();
            let t = sample["tMs"].as_u64().unwrap();
            assert!(
                t > start && t < start + holds[step],
                "step {step} grabbed at {t} ms, hold {start}+{}",
                holds[step]
            );
        }
        eprintln!("sdk selfie: {stats}");
        let answer = step_up(bundle.clone()).await;
        assert_eq!(answer["liveness"]["fused"], "live", "{answer}");
        assert_eq!(voter(&answer["liveness"]["voters"], "flash_reflectance")["passed"], true, "{answer}");
        assert_eq!(answer["match"]["matched"], true, "{answer}");
        assert_eq!(answer["allow"], true, "{answer}");
        // The same signed bundle again is the same answer (SPEC §5): it verified byte for byte.
        assert_eq!(step_up(bundle).await["verificationIds"], answer["verificationIds"]);

        // A still photo held up: the flash does not reach it.
        browser.goto(&format!("{}/demo", server.base)).await;
        browser.install_camera(face_camera(&live, 0, true)).await;
        let challenge = server.face_challenge(id).await;
        let (bundle, _) = signed(&browser.capture("face", &challenge, "still-photo").await);
        let answer = step_up(bundle).await;
        assert!(matches!(answer["liveness"]["fused"].as_str(), Some("spoof" | "unclear")), "{answer}");
        assert_eq!(voter(&answer["liveness"]["voters"], "flash_reflectance")["passed"], false, "{answer}");
        assert_eq!(answer["allow"], false, "{answer}");

        // Someone else, live: refused by the match.
        browser.goto(&format!("{}/demo", server.base)).await;
        browser.install_camera(face_camera(&testdata_bytes("faces/biden_1.jpg"), 0, false)).await;
        let challenge = server.face_challenge(id).await;
        let (bundle, _) = signed(&browser.capture("face", &challenge, "wrong-person").await);
        let answer = step_up(bundle).await;
        assert_eq!(answer["match"]["matched"], false, "{answer}");
        assert_eq!(answer["allow"], false, "{answer}");
    }
}

#[tokio::test]
async fn chromiums_fake_camera_and_a_denied_permission_take_the_sdks_own_paths() {
    let server = demo_servers().await.remove(0);
    let customer = server.create_customer(json!({"fullName": "Camera Paths"})).await;
    let id = customer["id"].as_str().unwrap();

    // Chromium's fake camera through the SDK's real getUserMedia call: a bundle the server
    // takes (and refuses: there is no face in a test pattern).
    let browser = Browser::start_with(
        &format!("sdk-fake-camera-{}", server.backend),
        &["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"],
    )
    .await;
    browser.goto(&format!("{}/demo", server.base)).await;
    let challenge = server.face_challenge(id).await;
    let (bundle, stats) = signed(&browser.capture("face", &challenge, "fake-camera").await);
    assert!(stats["width"].as_u64().unwrap() >= 640, "{stats}");
    let (status, answer) = server.post("/api/identity/auth/step-up", json!({"customerId": id, "bundle": bundle})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["allow"], false, "{answer}");

    // A dark room: the guidance says so before any flash, and the capture can be cancelled there.
    let challenge = server.face_challenge(id).await;
    let mut dark = face_camera(&jpeg(&upright_live_face()), 0, false);
    dark["dim"] = json!(0.12);
    browser.install_camera(dark).await;
    browser.script_with(START_CAPTURE, json!({"kind": "face", "challenge": challenge})).await;
    browser.click("[data-kenali-action=start]").await;
    let hint = browser.wait_for("[data-kenali-hint=fix]").await.text().await.unwrap();
    browser.screenshot("too-dark").await;
    assert!(hint.contains("too dark"), "{hint}");
    browser.click("[data-kenali-capture] [data-kenali-action=cancel]").await;
    assert_eq!(browser.capture_result().await["error"]["code"], "cancelled");
    assert_eq!(browser.count("[data-kenali-flash]").await, 0, "no flash in a dark room");
    browser.goto(&format!("{}/demo", server.base)).await;

    // Cancel on the warning: nothing was filmed.
    let challenge = server.face_challenge(id).await;
    browser.script_with(START_CAPTURE, json!({"kind": "face", "challenge": challenge})).await;
    browser.click("[data-kenali-warning] [data-kenali-action=cancel]").await;
    assert_eq!(browser.capture_result().await["error"]["code"], "cancelled");
    assert_eq!(browser.count("[data-kenali-capture]").await, 0, "the SDK removed its elements");

    // The page hidden during the flash: the capture aborts.
    browser.script_with(START_CAPTURE, json!({"kind": "face", "challenge": challenge})).await;
    browser.click("[data-kenali-action=start]").await;
    browser.wait_for("[data-kenali-flash]").await;
    browser
        .script(
            "Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => 'hidden'}); \
             document.dispatchEvent(new Event('visibilitychange')); return true",
        )
        .await;
    assert_eq!(browser.capture_result().await["error"]["code"], "page_hidden");
    assert_eq!(browser.count("[data-kenali-flash]").await, 0, "the flash is gone");
    // ... and it will not start while hidden.
    browser.script_with(START_CAPTURE, json!({"kind": "face", "challenge": challenge})).await;
    assert_eq!(browser.capture_result().await["error"]["code"], "page_hidden");
    drop(browser);

    // A denied camera: the demo page shows the SDK's error.
    let browser = Browser::start_with(
        &format!("sdk-denied-{}", server.backend),
        &["--use-fake-device-for-media-stream", "--deny-permission-prompts"],
    )
    .await;
    browser.goto(&format!("{}/demo", server.base)).await;
    browser.click("#create-customer").await;
    browser.wait_for("#customer-result[data-customer-id]").await;
    browser.click("#start-ktp").await;
    browser.click("[data-kenali-action=start]").await;
    browser.wait_for("#ktp-result[data-state=error]").await;
    let error = browser.text("#ktp-result [role=alert]").await;
    browser.screenshot("camera-denied").await;
    assert!(error.starts_with("camera_denied:"), "{error}");
}

#[tokio::test]
async fn the_demo_walks_a_visitor_through_a_customer_a_ktp_and_a_step_up() {
    let truth = KtpFields::sample(21);
    let card = render_card(&truth, "faces/obama_2.jpg");
    let card_camera = card_camera(&card);
    for server in demo_servers().await {
        let browser = Browser::start(&format!("demo-{}", server.backend)).await;
        browser.goto(&format!("{}/demo", server.base)).await;
        browser.screenshot("start").await;
        browser.type_into("#full-name", &truth.full_name).await;
        browser.click("#create-customer").await;
        let customer = browser.wait_for("#customer-result[data-customer-id]").await;
        let customer_id = customer.attr("data-customer-id").await.unwrap().unwrap();

        browser.install_camera(card_camera.clone()).await;
        browser.click("#start-ktp").await;
        browser.click("[data-kenali-action=start]").await;
        browser.wait_for("[data-kenali-flash]").await;
        browser.screenshot("ktp-flash").await;
        browser.wait_for("#ktp-result[data-state=decided]").await;
        browser.script("document.querySelector('#ktp-result [data-voters]').scrollIntoView(); return true").await;
        browser.screenshot("ktp-decided").await;
        let verdict = browser.text("#ktp-result .verdict").await;
        assert!(browser.count("#ktp-result [data-voter]").await > 8, "every voter is shown: {verdict}");
        let ocr = browser.text("#ktp-result [data-ocr]").await;
        assert!(ocr.contains(&truth.nik), "the card's NIK was read: {ocr}");
        assert!(verdict.starts_with("KTP passed"), "{verdict}");

        // The customer belongs to the demo org, not to the API key's org.
        let (status, _) = server.get(&format!("/api/customers/{customer_id}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        browser.install_camera(face_camera(&testdata_bytes("faces/obama_1.jpg"), 0, false)).await;
        browser.click("#start-step-up").await;
        browser.click("[data-kenali-action=start]").await;
        browser.wait_for("#step-up-result[data-state=decided]").await;
        browser.script("document.querySelector('#step-up-result').scrollIntoView(); return true").await;
        browser.screenshot("step-up-decided").await;
        let decision = browser.text("#step-up-result .verdict").await;
        assert!(browser.count("#step-up-result [data-voter=flash_reflectance]").await == 1, "{decision}");
        eprintln!("demo ({}): {verdict} / {decision}", server.backend);
        assert!(decision.starts_with("Allowed"), "{decision}");
    }
}

#[tokio::test]
async fn the_demo_is_off_unless_configured_holds_its_own_key_and_limits_visitors() {
    let server = TestServer::start(None).await;
    let (status, _) = server.get("/demo").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = server.post("/demo/api/customers", json!({"fullName": "Nobody"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    for server in demo_servers().await {
        // Without any credential, the demo's routes act with the demo org's key.
        let request =
            |body: Value| server.client.post(format!("{}/demo/api/customers", server.base)).json(&body).send();
        let response = request(json!({"fullName": "Demo Visitor"})).await.unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let text = response.text().await.unwrap();
        assert!(!text.contains("qe_sk_"), "no key in the answer: {text}");
        let customer: Value = serde_json::from_str(&text).unwrap();
        // Bad input is refused, and a challenge goes only to this org's customers.
        let response = request(json!({"fullName": "x", "tier": "premium"})).await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let other = server.create_customer(json!({"fullName": "Another Org"})).await;
        let (status, _) = server.post("/demo/api/face/challenge", json!({"customerId": other["id"]})).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, answer) =
            server.post("/demo/api/face/challenge", json!({"customerId": customer["customer"]["id"]})).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");

        // An open page creating rows: ten customers per address in ten minutes.
        let mut statuses = Vec::new();
        for n in 0..10 {
            statuses.push(request(json!({"fullName": format!("Visitor {n}")})).await.unwrap().status());
        }
        assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CREATED).count(), 9, "{statuses:?}");
        assert_eq!(statuses.last(), Some(&StatusCode::TOO_MANY_REQUESTS));

        // One working demo key: a new start revokes the last one's (this server's is now spent).
        let active = |state: kenali_server::state::AppState| async move {
            let mut conn = state.store.reader().acquire().await.unwrap();
            let org = kenali_server::store::orgs::get_or_create(&mut conn, "demo").await.unwrap();
            kenali_server::store::api_keys::active_named(&mut conn, &org.id, "demo page").await.unwrap().len()
        };
        assert_eq!(active(server.state.clone()).await, 1);
        kenali_server::demo::prepare(&server.state).await.unwrap();
        assert_eq!(active(server.state.clone()).await, 1);
        let (status, _) =
            server.post("/demo/api/face/challenge", json!({"customerId": customer["customer"]["id"]})).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
}
