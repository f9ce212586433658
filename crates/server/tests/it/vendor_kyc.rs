//! Vendor KYC pushes (seed 004, issue 18): a test plays the vendor's server. It gets a token,
//! encrypts a Ditto-shaped KYC with real images, pushes it and reads the decrypted
//! confirmation; Kenali re-checks the NIK and the faces itself, records the push, moves the tier
//! and sends disagreements to an analyst. Bad pushes are refused and write nothing.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use kenali_core::vendor::{open_envelope, seal_envelope, Direction, Envelope, KEY_LEN};
use kenali_testkit::ktp::{render_card, KtpFields};
use kenali_testkit::ktp_scene::{capture_frames, Presentation};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::oauth::{new_client, token};
use crate::testkit::{servers, testdata_bytes, TestServer};

const INTEGRATIONS: &str = "/api/identity/integrations";

/// The vendor's side of one integration.
struct Vendor {
    integration_id: String,
    key_id: String,
    key: [u8; KEY_LEN],
    token: String,
}

impl Vendor {
    async fn register(server: &TestServer) -> Vendor {
        let (client_id, secret) = new_client(server, &["public"]).await;
        let (status, created) =
            server.post(INTEGRATIONS, json!({"name": "Ditto ID IDV", "oauthClientId": client_id})).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let key: [u8; KEY_LEN] =
            STANDARD.decode(created["key"]["secret"].as_str().unwrap()).unwrap().try_into().unwrap();
        Vendor {
            integration_id: created["integration"]["id"].as_str().unwrap().to_string(),
            key_id: created["key"]["id"].as_str().unwrap().to_string(),
            key,
            token: token(server, &client_id, &secret, None).await,
        }
    }

    fn receiver(&self) -> String {
        format!("/api/integrations/{}/kyc", self.integration_id)
    }

    fn seal(&self, plaintext: &[u8]) -> Envelope {
        seal_envelope(&self.key, &self.key_id, rand::random(), plaintext, Direction::Push, &self.integration_id)
    }

    /// Pushes `payload`; the answer's status and its decrypted confirmation (or the plain error).
    async fn push(&self, server: &TestServer, payload: &Value) -> (StatusCode, Value) {
        self.push_envelope(server, &self.seal(payload.to_string().as_bytes())).await
    }

    async fn push_envelope(&self, server: &TestServer, envelope: &Envelope) -> (StatusCode, Value) {
        let (status, body) = server.post_as(&self.token, &self.receiver(), json!(envelope)).await;
        (status, self.open(&body))
    }

    /// The confirmation inside an answer, or the answer itself when it is not sealed.
    fn open(&self, body: &Value) -> Value {
        match serde_json::from_value::<Envelope>(body.clone()) {
            Ok(envelope) => {
                let plain = open_envelope(&self.key, &envelope, Direction::Confirmation, &self.integration_id)
                    .expect("the confirmation opens with the push's key");
                serde_json::from_slice(&plain).unwrap()
            }
            Err(_) => body.clone(),
        }
    }
}

/// A photo of a KTP drawn with `fields` and `portrait`, as a vendor's SDK scans it.
fn id_photo(fields: &KtpFields, portrait: &str) -> String {
    let card = render_card(fields, portrait);
    STANDARD.encode(capture_frames(&card, &["#FFFFFF".to_string()], Presentation::Original, 7).remove(0))
}

/// A Ditto ID IDV v3 KYC of the person on `fields`' card.
fn ditto_payload(server: &TestServer, submission: &str, fields: &KtpFields, selfie: &str, portrait: &str) -> Value {
    json!({
        "submissionId": submission,
        "timestamp": kenali_core::time_fmt::format_timestamp(server.state.clock.now()),
        "user": {"userId": format!("user-{submission}"), "mobileAppId": "id.example.app"},
        "document": {
            "type": "KTP",
            "status": "VERIFIED",
            "fields": {
                "nik": fields.nik, "name": fields.full_name, "birthPlace": fields.place_of_birth,
                "birthDate": fields.date_of_birth, "gender": fields.gender, "address": fields.address,
                "rtRw": fields.rt_rw, "village": fields.kelurahan, "district": fields.kecamatan,
                "religion": fields.religion, "maritalStatus": fields.marital_status,
                "occupation": fields.occupation, "nationality": fields.nationality,
                "validUntil": fields.valid_until
            },
            "idPhoto": id_photo(fields, portrait),
            "sourceComparisons": [{"field": "nik", "source": "DUKCAPIL", "match": true}]
        },
        "liveness": {"selfieImage": STANDARD.encode(testdata_bytes(selfie)), "score": 0.97},
        "faceMatch": {"score": 0.93}
    })
}

async fn customer(server: &TestServer, id: &str) -> Value {
    let (status, body) = server.get(&format!("/api/identity/customers/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["customer"].clone()
}

#[tokio::test]
async fn a_vendor_push_is_decrypted_re_verified_and_lifts_the_tier_once() {
    for server in servers().await {
        let vendor = Vendor::register(&server).await;
        let fields = KtpFields::sample(41);
        let payload = ditto_payload(&server, "sub-1", &fields, "faces/obama_1.jpg", "faces/obama_2.jpg");
        let (status, confirmation) = vendor.push(&server, &payload).await;
        assert_eq!(status, StatusCode::CREATED, "{confirmation}");
        assert_eq!(confirmation["status"], "accepted");
        assert_eq!(confirmation["verdict"], "passed", "{confirmation}");
        assert_eq!(confirmation["tier"], "standard");
        assert_eq!(confirmation["submissionId"], "sub-1");
        let customer_id = confirmation["customerId"].as_str().unwrap();
        let created = customer(&server, customer_id).await;
        assert_eq!(created["tier"], "standard");
        assert_eq!(created["externalRef"], "user-sub-1");
        assert_eq!(created["nik"], fields.nik.as_str());

        // The verification shows the vendor's claims beside Kenali's own checks.
        let row =
            created["verifications"].as_array().unwrap().iter().find(|v| v["kind"] == "vendor_kyc").unwrap().clone();
        assert_eq!(row["id"], confirmation["verificationId"]);
        assert_eq!(row["status"], "passed");
        let details = &row["details"];
        assert_eq!(details["integrationId"], vendor.integration_id.as_str());
        assert!(details["faceMatch"]["passed"].as_bool().unwrap(), "{details}");
        assert!(details["selfieLive"]["passed"].as_bool().unwrap(), "{details}");
        assert_eq!(details["vendorMatchScore"], 0.93);
        assert_eq!(server.count("captures").await, 2, "the selfie and the ID photo, sealed");
        let (_, audit) = server.get("/api/identity/audit-log?action=vendor_kyc.received").await;
        assert_eq!(audit["data"].as_array().unwrap().len(), 1);

        // The vendor retries with a fresh IV, even past the age window: the first confirmation,
        // nothing new.
        let before = server.counts().await;
        server.state.clock.advance(time::Duration::minutes(10));
        let (status, again) = vendor.push(&server, &payload).await;
        assert_eq!(status, StatusCode::OK, "{again}");
        assert_eq!(again, confirmation);
        // The very same body again is a replay, and the id with another payload is refused.
        let envelope = vendor.seal(payload.to_string().as_bytes());
        assert_eq!(vendor.push_envelope(&server, &envelope).await.0, StatusCode::OK);
        let (status, replayed) = vendor.push_envelope(&server, &envelope).await;
        assert_eq!((status, replayed["reasons"][0]["code"].as_str()), (StatusCode::CONFLICT, Some("replayed_iv")));
        let mut other = payload.clone();
        other["faceMatch"]["score"] = json!(0.5);
        let (status, reused) = vendor.push(&server, &other).await;
        assert_eq!(status, StatusCode::CONFLICT, "{reused}");
        assert_eq!(reused["reasons"][0]["code"], "submission_id_reused");
        assert_eq!(server.counts().await, before);

        // Erasure takes the pushed images with the customer; the vendor's later pushes for that
        // user are refused, and a retry of the first only repeats its ids.
        let (status, _) =
            server.post(&format!("/api/identity/customers/{customer_id}/erase"), json!({"reason": "ticket 7"})).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(server.count("captures").await, 0);
        let (status, again) = vendor.push(&server, &payload).await;
        assert_eq!((status, &again), (StatusCode::OK, &confirmation));
        let mut later = ditto_payload(&server, "sub-1b", &fields, "faces/obama_1.jpg", "faces/obama_2.jpg");
        later["user"]["userId"] = json!("user-sub-1");
        let (status, refused) = vendor.push(&server, &later).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
        assert_eq!(refused["reasons"][0]["code"], "customer_erased");
    }
}

#[tokio::test]
async fn disagreements_go_to_an_analyst_with_both_sides() {
    for server in servers().await {
        let vendor = Vendor::register(&server).await;
        // Someone else's face on the card: Kenali's own match fails where the vendor's passed.
        let fields = KtpFields::sample(42);
        let payload = ditto_payload(&server, "sub-2", &fields, "faces/obama_1.jpg", "faces/biden_2.jpg");
        let (status, confirmation) = vendor.push(&server, &payload).await;
        assert_eq!(status, StatusCode::CREATED, "{confirmation}");
        assert_eq!(confirmation["verdict"], "requires_review", "{confirmation}");
        assert_eq!(confirmation["reasons"][0]["code"], "face_mismatch");
        assert_eq!(confirmation["tier"], "none");
        let (_, queue) = server.get("/api/identity/review-queue").await;
        let item = queue["data"].as_array().unwrap().iter().find(|i| i["kind"] == "vendor_kyc").unwrap().clone();
        assert_eq!(item["voters"]["vendor"]["matchScore"], 0.93, "{item}");
        assert_eq!(item["voters"]["kenali"]["faceMatch"]["passed"], false, "{item}");
        let path = format!("/api/identity/review-queue/{}/decision", item["id"].as_str().unwrap());
        let (status, decided) =
            server.post(&path, json!({"decision": "approve", "reason": "twin brother; Dukcapil photo checked"})).await;
        assert_eq!(status, StatusCode::OK, "{decided}");
        assert_eq!(decided["tier"], "standard");

        // A spoofed selfie, and a customer who already holds another NIK.
        let holder = server
            .create_customer(
                json!({"fullName": "Budi Santoso", "externalRef": "user-sub-3", "nik": crate::testkit::NIK_MALE}),
            )
            .await;
        let mut payload =
            ditto_payload(&server, "sub-3", &KtpFields::sample(43), "spoof/spoof_1.jpg", "spoof/spoof_1.jpg");
        payload["document"]["sourceComparisons"][0]["match"] = json!(false);
        let (status, confirmation) = vendor.push(&server, &payload).await;
        assert_eq!(status, StatusCode::CREATED, "{confirmation}");
        assert_eq!(confirmation["customerId"], holder["id"]);
        let codes: Vec<&str> =
            confirmation["reasons"].as_array().unwrap().iter().map(|r| r["code"].as_str().unwrap()).collect();
        assert!(codes.contains(&"selfie_not_live"), "{codes:?}");
        assert!(codes.contains(&"customer_holds_other_nik"), "{codes:?}");
        assert!(codes.contains(&"vendor_source_mismatch"), "{codes:?}");
        assert_eq!(customer(&server, holder["id"].as_str().unwrap()).await["nik"], crate::testkit::NIK_MALE);
    }
}

#[tokio::test]
async fn vendor_evidence_proves_premium_only_where_the_org_allows() {
    for server in servers().await {
        let vendor = Vendor::register(&server).await;
        let (status, _) = server
            .request(
                reqwest::Method::PATCH,
                "/api/identity/org/settings",
                Some(&server.key),
                Some(&json!({"vendorEvidenceProvesPremium": true, "premiumRequiresDukcapil": false})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let payload = ditto_payload(&server, "sub-4", &KtpFields::sample(44), "faces/obama_1.jpg", "faces/obama_2.jpg");
        let (status, confirmation) = vendor.push(&server, &payload).await;
        assert_eq!(status, StatusCode::CREATED, "{confirmation}");
        assert_eq!(confirmation["tier"], "premium", "{confirmation}");
    }
}

#[tokio::test]
async fn bad_pushes_are_refused_clearly_and_write_nothing() {
    for server in servers().await {
        let vendor = Vendor::register(&server).await;
        let other = Vendor::register(&server).await;
        let fields = KtpFields::sample(45);
        let good = ditto_payload(&server, "sub-5", &fields, "faces/obama_1.jpg", "faces/obama_2.jpg");
        let before = (server.counts().await, server.count("captures").await, server.count("vendor_pushes").await);
        let envelope = vendor.seal(good.to_string().as_bytes());

        // Credentials: none, an API key, another integration's client.
        let (status, _) = server.request(reqwest::Method::POST, &vendor.receiver(), None, Some(&json!(envelope))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, refused) = server.post(&vendor.receiver(), json!(envelope)).await;
        assert_eq!((status, refused["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("wrong_client")));
        let (status, refused) = server.post_as(&other.token, &vendor.receiver(), json!(envelope)).await;
        assert_eq!((status, refused["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("wrong_client")));

        // The envelope: another key id, a tampered ciphertext or tag, a body for another integration.
        let mut wrong_key = envelope.clone();
        wrong_key.key_id.clone_from(&other.key_id);
        let (status, refused) = vendor.push_envelope(&server, &wrong_key).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
        assert_eq!(refused["error"]["details"][0]["field"], "keyId", "{refused}");
        for part in ["ciphertext", "tag"] {
            let mut tampered = serde_json::to_value(&envelope).unwrap();
            let mut bytes = STANDARD.decode(tampered[part].as_str().unwrap()).unwrap();
            bytes[3] ^= 0x40;
            tampered[part] = json!(STANDARD.encode(bytes));
            let (status, refused) = server.post_as(&vendor.token, &vendor.receiver(), tampered).await;
            assert_eq!(
                (status, refused["error"]["code"].as_str()),
                (StatusCode::UNAUTHORIZED, Some("invalid_signature"))
            );
        }
        let foreign =
            seal_envelope(&vendor.key, &vendor.key_id, rand::random(), b"{}", Direction::Push, &other.integration_id);
        assert_eq!(vendor.push_envelope(&server, &foreign).await.0, StatusCode::UNAUTHORIZED);

        // Plaintexts that cannot be taken: each answered sealed, with its reason.
        let sealed_refusals: Vec<(Vec<u8>, &str)> = vec![
            (b"not json at all".to_vec(), "payload_not_json"),
            (
                {
                    let mut p = good.clone();
                    p["document"]["fields"].as_object_mut().unwrap().remove("occupation");
                    p.to_string().into_bytes()
                },
                "mapping_failed",
            ),
            (
                {
                    let mut p = good.clone();
                    p["document"]["fields"]["nik"] = json!("3201010000920002");
                    p.to_string().into_bytes()
                },
                "invalid_nik",
            ),
            (
                {
                    let mut p = good.clone();
                    let old = server.state.clock.now() - time::Duration::hours(1);
                    p["timestamp"] = json!(kenali_core::time_fmt::format_timestamp(old));
                    p.to_string().into_bytes()
                },
                "push_too_old",
            ),
            (
                {
                    let mut p = good.clone();
                    p["liveness"]["selfieImage"] = json!(STANDARD.encode(b"GIF89a not an image we take"));
                    p.to_string().into_bytes()
                },
                "unsupported_image",
            ),
        ];
        for (plaintext, code) in sealed_refusals {
            let (status, confirmation) = vendor.push_envelope(&server, &vendor.seal(&plaintext)).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{code}: {confirmation}");
            assert_eq!(confirmation["status"], "rejected");
            assert_eq!(confirmation["reasons"][0]["code"], code, "{confirmation}");
        }
        // A 20 MB body is refused before it is read whole.
        let huge = json!({"keyId": vendor.key_id, "iv": "AAAAAAAAAAAAAAAA", "ciphertext": "A".repeat(20 << 20), "tag": "AAAAAAAAAAAAAAAAAAAAAA=="});
        let (status, _) = server.post_as(&vendor.token, &vendor.receiver(), huge).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(
            (server.counts().await, server.count("captures").await, server.count("vendor_pushes").await),
            before
        );
    }
}

#[tokio::test]
async fn admins_configure_integrations_and_rotate_keys_with_an_overlap() {
    for server in servers().await {
        let vendor = Vendor::register(&server).await;
        let path = format!("{INTEGRATIONS}/{}", vendor.integration_id);
        let (status, shown) = server.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{shown}");
        assert!(!shown.to_string().contains(&STANDARD.encode(vendor.key)), "a key's secret is shown once");
        assert_eq!(shown["integration"]["receiverPath"], vendor.receiver());
        assert_eq!(shown["integration"]["mapping"]["document"]["nik"], "/document/fields/nik");

        // A mapping that is not one, and a client that is not the org's.
        let (status, refused) = server
            .request(
                reqwest::Method::PATCH,
                &path,
                Some(&server.key),
                Some(&json!({"mapping": {"submissionId": "id", "document": {}}})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
        let (status, _) =
            server.post(INTEGRATIONS, json!({"name": "x", "oauthClientId": "ocl_01HXYZZZZZZZZZZZZZZZZZZZZZ"})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let other_org = server.org_key("elsewhere", &[kenali_server::auth::Scope::Admin]).await;
        assert_eq!(server.get_as(&other_org, &path).await.0, StatusCode::NOT_FOUND);

        // The dry run shows what a payload maps to and names what is missing.
        let sample = ditto_payload(&server, "sub-6", &KtpFields::sample(46), "faces/obama_1.jpg", "faces/obama_2.jpg");
        let (status, dry) = server.post(&format!("{path}/dry-run"), json!({"payload": sample})).await;
        assert_eq!(status, StatusCode::OK, "{dry}");
        assert_eq!(dry["mapped"], true);
        assert_eq!(dry["fields"]["fields"]["nik"], KtpFields::sample(46).nik.as_str());
        let (_, dry) = server.post(&format!("{path}/dry-run"), json!({"payload": {"submissionId": "x"}})).await;
        assert_eq!(dry["mapped"], false);
        assert!(dry["problems"].as_array().unwrap().iter().any(|p| p["pointer"] == "/document/fields/nik"), "{dry}");

        // Rotation: the old key decrypts for the overlap, then only the new one does.
        let (status, rotated) = server.post(&format!("{path}/keys"), json!({"overlapSeconds": 60})).await;
        assert_eq!(status, StatusCode::CREATED, "{rotated}");
        assert_eq!(rotated["integration"]["keys"].as_array().unwrap().len(), 2);
        let payload = ditto_payload(&server, "sub-7", &KtpFields::sample(47), "faces/obama_1.jpg", "faces/obama_2.jpg");
        let (status, confirmation) = vendor.push(&server, &payload).await;
        assert_eq!(status, StatusCode::CREATED, "{confirmation}");
        server.state.clock.advance(time::Duration::seconds(61));
        let late = ditto_payload(&server, "sub-8", &KtpFields::sample(48), "faces/obama_1.jpg", "faces/obama_2.jpg");
        let (status, refused) = vendor.push(&server, &late).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
        let renewed = Vendor {
            key_id: rotated["key"]["id"].as_str().unwrap().to_string(),
            key: STANDARD.decode(rotated["key"]["secret"].as_str().unwrap()).unwrap().try_into().unwrap(),
            ..vendor
        };
        let (status, confirmation) = renewed.push(&server, &late).await;
        assert_eq!(status, StatusCode::CREATED, "{confirmation}");

        // A disabled integration takes nothing.
        let (status, _) =
            server.request(reqwest::Method::PATCH, &path, Some(&server.key), Some(&json!({"enabled": false}))).await;
        assert_eq!(status, StatusCode::OK);
        let next = ditto_payload(&server, "sub-9", &KtpFields::sample(49), "faces/obama_1.jpg", "faces/obama_2.jpg");
        let (status, refused) = renewed.push(&server, &next).await;
        assert_eq!((status, refused["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("integration_disabled")));
    }
}
