//! Flash challenges and signed capture bundles (SPEC §5).

use hmac::{Hmac, Mac};
use rand::seq::SliceRandom;
use rand::Rng;
use serde_json::Value;
use sha2::Sha256;

/// Colours a challenge draws from: saturated primaries and secondaries plus white, which a
/// phone screen can throw onto a face strongly enough to measure. (No black: it lights nothing.)
pub const PALETTE: [&str; 7] = ["#FF0000", "#00FF00", "#0000FF", "#FFFFFF", "#FFFF00", "#FF00FF", "#00FFFF"];
pub const MIN_STEPS: u32 = 3;
pub const MAX_STEPS: u32 = 8;
pub const DEFAULT_STEPS: u32 = 5;
pub const MIN_TTL_MS: u64 = 10_000;
pub const MAX_TTL_MS: u64 = 300_000;
pub const DEFAULT_TTL_MS: u64 = 90_000;
/// How long each colour is shown, drawn per step.
pub const HOLD_MS_RANGE: std::ops::RangeInclusive<u32> = 300..=600;

/// A colour sequence with no colour twice in a row, and the hold time of each step, drawn
/// from the given (cryptographic) RNG.
pub fn draw_sequence(steps: u32, rng: &mut impl Rng) -> (Vec<&'static str>, Vec<u32>) {
    let mut colors: Vec<&'static str> = Vec::with_capacity(steps as usize);
    for _ in 0..steps {
        let choices: Vec<&&str> = PALETTE.iter().filter(|c| colors.last() != Some(*c)).collect();
        // The palette has more than one colour, so there is always a choice.
        let color = choices.choose(rng).map(|c| **c).unwrap_or(PALETTE[0]);
        colors.push(color);
    }
    let holds = (0..steps).map(|_| rng.gen_range(HOLD_MS_RANGE)).collect();
    (colors, holds)
}

/// `#RRGGBB` as RGB in 0..=255.
pub fn parse_color(hex: &str) -> Option<[u8; 3]> {
    let digits = hex.strip_prefix('#')?;
    if digits.len() != 6 {
        return None;
    }
    let byte = |i: usize| u8::from_str_radix(digits.get(i..i + 2)?, 16).ok();
    Some([byte(0)?, byte(2)?, byte(4)?])
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("the bundle is not a JSON object")]
    NotAnObject,
    #[error("the bundle has no signature")]
    Missing,
    #[error("the signature is not lowercase hex of 32 bytes")]
    Malformed,
    #[error("the signature does not match the bundle")]
    Mismatch,
}

/// The signed bytes: RFC 8785 (JCS) canonical JSON of the bundle without `signature`.
pub fn signing_payload(bundle: &Value) -> Result<String, SignatureError> {
    let mut object = bundle.as_object().ok_or(SignatureError::NotAnObject)?.clone();
    object.remove("signature");
    serde_json_canonicalizer::to_string(&Value::Object(object)).map_err(|_| SignatureError::NotAnObject)
}

/// Lowercase hex HMAC-SHA256 of the payload.
pub fn sign(bundle: &Value, key: &[u8]) -> Result<String, SignatureError> {
    let payload = signing_payload(bundle)?;
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).map_err(|_| SignatureError::Malformed)?;
    mac.update(payload.as_bytes());
    Ok(hex::encode(mac.finalize().into_bytes()))
}

/// A native SDK's signing key for one bundle (SPEC §5): HKDF-SHA256 with the registered
/// device's secret as input key material, the challenge nonce (UTF-8) as salt and no info,
/// 32 bytes long. Every bundle gets its own key, so one leaked key signs nothing else.
pub fn device_signing_key(device_secret: &[u8], nonce: &str) -> [u8; 32] {
    let hkdf = hkdf::Hkdf::<Sha256>::new(Some(nonce.as_bytes()), device_secret);
    let mut key = [0u8; 32];
    // 32 bytes is far below HKDF-SHA256's 8160-byte limit, so expand cannot fail.
    let _ = hkdf.expand(&[], &mut key);
    key
}

/// Checks the bundle's `signature` in constant time.
pub fn verify(bundle: &Value, key: &[u8]) -> Result<(), SignatureError> {
    let signature = bundle.get("signature").and_then(Value::as_str).ok_or(SignatureError::Missing)?;
    if signature.len() != 64 || signature.bytes().any(|b| !matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(SignatureError::Malformed);
    }
    let expected = hex::decode(signature).map_err(|_| SignatureError::Malformed)?;
    let payload = signing_payload(bundle)?;
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).map_err(|_| SignatureError::Malformed)?;
    mac.update(payload.as_bytes());
    mac.verify_slice(&expected).map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The native SDKs' test vector (docs/native-sdk.md), computed independently with Python's
    /// hmac and hashlib: the key derived from a device secret and a nonce, the canonical
    /// payload, and the bundle's signature.
    #[test]
    fn the_native_sdk_test_vector_holds() {
        let secret = format!("qe_dsec_{}", "0123456789abcdef".repeat(4));
        let nonce = "Q2hhbGxlbmdlTm9uY2UtMDAwMQ";
        let key = device_signing_key(secret.as_bytes(), nonce);
        assert_eq!(hex::encode(key), "98382d99f5639ee9ad318cbe93c5ef1b25ac55f9164cf6c50527927da56cfc7d");
        let bundle = json!({
            "version": "1", "sdkVersion": "android-1.0.0", "platform": "android",
            "frames": ["/9j/4AAQSkZJRg=="], "capturedAt": "2026-12-07T05:00:00Z",
            "flashChallengeNonce": nonce,
            "flashSamples": [{"step": 0, "frameIndex": 0, "color": "#FF0000", "tMs": 480}],
        });
        assert_eq!(
            signing_payload(&bundle).unwrap(),
            r##"{"capturedAt":"2026-12-07T05:00:00Z","flashChallengeNonce":"Q2hhbGxlbmdlTm9uY2UtMDAwMQ","flashSamples":[{"color":"#FF0000","frameIndex":0,"step":0,"tMs":480}],"frames":["/9j/4AAQSkZJRg=="],"platform":"android","sdkVersion":"android-1.0.0","version":"1"}"##
        );
        assert_eq!(sign(&bundle, &key).unwrap(), "ff3343fd166851f75ad2a06a204e214bc82bb902da77e49d3bca3d79231d3091");
    }

    /// The vectors the web SDK's tests hold too (sdk/web/test/fixtures): both sides must make
    /// the same bytes, so a bundle the SDK signs verifies here byte for byte.
    #[test]
    fn the_web_sdks_shared_vectors_hold() {
        let vectors: Value =
            serde_json::from_str(include_str!("../../../sdk/web/test/fixtures/signing-vectors.json")).unwrap();
        for case in vectors["canonical"].as_array().unwrap() {
            let input: Value = serde_json::from_str(case["input"].as_str().unwrap()).unwrap();
            let canonical = serde_json_canonicalizer::to_string(&input).unwrap();
            assert_eq!(canonical, case["output"].as_str().unwrap());
        }
        let web = &vectors["web"];
        assert_eq!(signing_payload(&web["bundle"]).unwrap(), web["payload"].as_str().unwrap());
        let secret = web["hmacSecret"].as_str().unwrap().as_bytes();
        assert_eq!(sign(&web["bundle"], secret).unwrap(), web["signature"].as_str().unwrap());
        let mut signed = web["bundle"].clone();
        signed["signature"] = web["signature"].clone();
        assert!(verify(&signed, secret).is_ok());
        let native = &vectors["native"];
        let key =
            device_signing_key(native["deviceSecret"].as_str().unwrap().as_bytes(), native["nonce"].as_str().unwrap());
        assert_eq!(hex::encode(key), native["derivedKey"].as_str().unwrap());
        assert_eq!(signing_payload(&native["bundle"]).unwrap(), native["payload"].as_str().unwrap());
        assert_eq!(sign(&native["bundle"], &key).unwrap(), native["signature"].as_str().unwrap());
    }

    #[test]
    fn sequences_never_repeat_a_colour_back_to_back() {
        let mut rng = rand::rngs::OsRng;
        for steps in MIN_STEPS..=MAX_STEPS {
            let (colors, holds) = draw_sequence(steps, &mut rng);
            assert_eq!(colors.len(), steps as usize);
            assert_eq!(holds.len(), steps as usize);
            assert!(colors.windows(2).all(|w| w[0] != w[1]), "{colors:?}");
            assert!(holds.iter().all(|h| HOLD_MS_RANGE.contains(h)));
            assert!(colors.iter().all(|c| parse_color(c).is_some()));
        }
    }

    #[test]
    fn colours_parse() {
        assert_eq!(parse_color("#FF8000"), Some([255, 128, 0]));
        assert_eq!(parse_color("FF8000"), None);
        assert_eq!(parse_color("#FF80"), None);
        assert_eq!(parse_color("#GG8000"), None);
    }

    #[test]
    fn signatures_cover_the_canonical_form_and_nothing_else() {
        let key = b"qe_whsec_test";
        let mut bundle = json!({"version": "1", "frames": ["a", "b"], "capturedAt": "2026-01-01T00:00:00Z", "n": 1.0});
        let signature = sign(&bundle, key).unwrap();
        bundle["signature"] = Value::String(signature.clone());
        assert_eq!(verify(&bundle, key), Ok(()));
        // Key order and number spelling do not change the canonical form.
        let reordered: Value = serde_json::from_str(&format!(
            r#"{{"n": 1, "signature": "{signature}", "capturedAt": "2026-01-01T00:00:00Z", "frames": ["a","b"], "version": "1"}}"#
        ))
        .unwrap();
        assert_eq!(verify(&reordered, key), Ok(()));
        let mut altered = bundle.clone();
        altered["frames"][1] = json!("c");
        assert_eq!(verify(&altered, key), Err(SignatureError::Mismatch));
        assert_eq!(verify(&bundle, b"other key"), Err(SignatureError::Mismatch));
        let mut upper = bundle.clone();
        upper["signature"] = Value::String(signature.to_uppercase());
        assert_eq!(verify(&upper, key), Err(SignatureError::Malformed));
        assert_eq!(verify(&json!({"frames": []}), key), Err(SignatureError::Missing));
        assert_eq!(verify(&json!([1]), key), Err(SignatureError::Missing));
    }

    #[test]
    fn the_canonical_form_matches_rfc_8785() {
        let value = json!({"b": [1e30, 0.5, -0.0], "a": "é\u{0001}", "c": {"z": true, "y": null}});
        assert_eq!(signing_payload(&value).unwrap(), r#"{"a":"é\u0001","b":[1e+30,0.5,0],"c":{"y":null,"z":true}}"#);
    }
}
