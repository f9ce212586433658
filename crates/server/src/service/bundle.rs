//! Signed capture bundles (SPEC §5): issuing flash challenges, and checking a bundle that
//! answers one (signature first, then single-use consumption) for the face and KTP endpoints.

use kenali_core::challenge::{self, parse_color, SignatureError};
use kenali_core::id::{new_id, IdKind};
use kenali_core::liveness::FlashSample;
use kenali_core::time_fmt::{format_timestamp, parse_timestamp};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::customers::load_customer;
use super::{Error, Result};
use crate::faces::{image_field, ImageInput};
use crate::ledger::data_key;
use crate::state::AppState;
use crate::store::challenges::{self, ChallengeRow};
use crate::store::customers::CustomerRow;

/// Frames a bundle may carry.
pub const MAX_FRAMES: usize = 10;
/// Most pixels all of a bundle's frames may decode to together (10 frames of 1920×1080 fit):
/// a bundle of huge images is refused from their headers, before anything is decoded.
pub const MAX_BUNDLE_PIXELS: u64 = 40_000_000;
/// How long the same signed bundle gets its first answer back (seed 000, Idempotency).
pub const REPLAY_WINDOW: time::Duration = time::Duration::hours(24);

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChallengeRequest {
    pub customer_id: String,
    steps: Option<u32>,
    ttl_ms: Option<u64>,
    #[allow(dead_code)]
    external_id: Option<String>,
}

fn challenge_secret_context(challenge_id: &str) -> String {
    format!("challenge/secret/{challenge_id}")
}

/// A flash challenge as issued: the colours to show and for how long, and the secret the SDK
/// signs the bundle with (shown this once).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FlashChallengeView {
    id: String,
    /// `face` or `ktp`
    purpose: String,
    nonce: String,
    colors: Vec<String>,
    hold_ms: Vec<u32>,
    expires_at: String,
    hmac_secret: String,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChallengeIssued {
    flash_challenge: FlashChallengeView,
}

/// Issues a single-use challenge for `purpose` (`face` or `ktp`) to a customer of `org_id`.
pub async fn issue_challenge(
    state: &AppState,
    org_id: &str,
    body: ChallengeRequest,
    purpose: &str,
) -> Result<ChallengeIssued> {
    let steps = body.steps.unwrap_or(challenge::DEFAULT_STEPS);
    if !(challenge::MIN_STEPS..=challenge::MAX_STEPS).contains(&steps) {
        return Err(Error::invalid_field(
            "steps",
            format!("must be {} to {}", challenge::MIN_STEPS, challenge::MAX_STEPS),
        ));
    }
    let ttl_ms = body.ttl_ms.unwrap_or(challenge::DEFAULT_TTL_MS);
    if !(challenge::MIN_TTL_MS..=challenge::MAX_TTL_MS).contains(&ttl_ms) {
        return Err(Error::invalid_field(
            "ttlMs",
            format!("must be {} to {}", challenge::MIN_TTL_MS, challenge::MAX_TTL_MS),
        ));
    }
    // Unknown and other orgs' customers answer 404 before the per-customer limit counts.
    let customer = {
        let mut conn = state.store.reader().acquire().await?;
        load_customer(&mut conn, org_id, &body.customer_id).await?
    };
    let limit = if purpose == "ktp" { crate::ratelimit::KTP_CHALLENGE } else { crate::ratelimit::FACE_CHALLENGE };
    crate::ratelimit::check(state, limit, &customer.id).await?;
    let mut rng = rand::rngs::OsRng;
    let (colors, holds) = challenge::draw_sequence(steps, &mut rng);
    let mut secret_bytes = [0u8; 32];
    rng.fill_bytes(&mut secret_bytes);
    let secret = format!("qe_whsec_{}", hex::encode(secret_bytes));
    let mut nonce_bytes = [0u8; 16];
    rng.fill_bytes(&mut nonce_bytes);
    let nonce = hex::encode(nonce_bytes);
    let id = new_id(IdKind::FlashChallenge);
    let now = state.clock.now();
    let expires_at = format_timestamp(now + time::Duration::milliseconds(i64::try_from(ttl_ms).unwrap_or(90_000)));
    let sealed = state.keys.challenge.seal(secret.as_bytes(), &challenge_secret_context(&id));
    let row = ChallengeRow {
        id: id.clone(),
        org_id: org_id.to_string(),
        customer_id: body.customer_id.clone(),
        purpose: purpose.to_string(),
        nonce: nonce.clone(),
        colors: serde_json::to_string(&colors).map_err(Error::internal)?,
        hold_ms: serde_json::to_string(&holds).map_err(Error::internal)?,
        secret_sealed: hex::encode(sealed),
        expires_at: expires_at.clone(),
        consumed_at: None,
        consumed_signature: None,
        result: None,
        created_at: format_timestamp(now),
    };
    let mut tx = state.store.begin().await?;
    load_customer(&mut tx, org_id, &body.customer_id).await?;
    challenges::insert(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(ChallengeIssued {
        flash_challenge: FlashChallengeView {
            id,
            purpose: purpose.to_string(),
            nonce,
            colors: colors.iter().map(|c| c.to_string()).collect(),
            hold_ms: holds,
            expires_at,
            hmac_secret: secret,
        },
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FlashSampleIn {
    step: usize,
    frame_index: usize,
    color: String,
    #[allow(dead_code)]
    t_ms: Option<u64>,
}

/// A capture bundle (seed 001); `signature` covers everything else (JCS + HMAC-SHA256).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Bundle {
    #[allow(dead_code)]
    version: String,
    #[allow(dead_code)]
    sdk_version: String,
    #[allow(dead_code)]
    platform: String,
    frames: Vec<String>,
    captured_at: String,
    #[allow(dead_code)]
    signature: String,
    flash_challenge_nonce: Option<String>,
    flash_samples: Option<Vec<FlashSampleIn>>,
    ocr_fields: Option<Value>,
    #[allow(dead_code)]
    ocr_confidence: Option<Value>,
}

/// A verified bundle and the challenge it answers (consumed when its answer is kept).
pub struct CheckedBundle {
    pub challenge: ChallengeRow,
    /// The bundle's signature, recorded with the consumption so the same bundle replays.
    pub signature: String,
    pub frames: Vec<ImageInput>,
    pub samples: Vec<FlashSample>,
    /// What the SDK read on the device, when it sent it (`ocr_consistency`).
    pub ocr_fields: Option<Value>,
}

pub enum BundleCheck {
    Fresh(Box<CheckedBundle>),
    /// The same signed bundle was already decided: its stored answer.
    Replay(Value),
}

/// Signature first (SPEC §5): the bundle is parsed, its challenge found by nonce and the
/// HMAC checked before any image is decoded. The challenge is consumed later, by
/// [`keep_answer`] in the transaction that records the outcome.
pub async fn check_bundle(
    state: &AppState,
    customer: &CustomerRow,
    bundle_value: Value,
    hmac_key: Option<&str>,
    purpose: &str,
) -> Result<BundleCheck> {
    let bundle: Bundle = serde_path_to_error::deserialize(&bundle_value).map_err(|err| {
        let field = err.path().to_string();
        let message = err.into_inner().to_string();
        // serde's message may end with " at line L column C", which helps nobody here.
        let message = message.split(" at line ").next().unwrap_or(&message).to_string();
        Error::invalid_field(if field == "." { "bundle".to_string() } else { format!("bundle.{field}") }, message)
    })?;
    let nonce = bundle.flash_challenge_nonce.as_deref().ok_or_else(|| {
        Error::invalid_field("bundle.flashChallengeNonce", "is required: sign with a flash challenge")
    })?;
    let mut conn = state.store.reader().acquire().await?;
    let challenge = challenges::find_by_nonce(&mut conn, &customer.org_id, nonce)
        .await?
        .filter(|c| c.customer_id == customer.id && c.purpose == purpose)
        .ok_or_else(|| Error::InvalidSignature("the bundle does not answer a challenge of this customer".into()))?;
    let key = match hmac_key.filter(|k| k.starts_with("dev_")) {
        // Native SDKs sign with a key derived from their registered device's secret.
        Some(device_id) => super::devices::signing_key(state, &mut conn, customer, device_id, nonce).await?,
        None => {
            let sealed = hex::decode(&challenge.secret_sealed).map_err(Error::internal)?;
            state
                .keys
                .challenge
                .open(&sealed, &challenge_secret_context(&challenge.id))
                .map_err(|e| Error::internal(format!("challenge secret: {e}")))?
        }
    };
    drop(conn);
    // Canonicalising megabytes of frames for the HMAC is CPU work: off the async threads.
    let signature = run_blocking(move || {
        challenge::verify(&bundle_value, &key).map_err(|e| match e {
            SignatureError::Missing | SignatureError::Malformed => Error::InvalidSignature(e.to_string()),
            _ => Error::InvalidSignature("the bundle signature does not match".into()),
        })?;
        Ok(bundle_value["signature"].as_str().unwrap_or_default().to_string())
    })
    .await?;
    if challenge.consumed_at.is_some() {
        // The same signed bundle again returns the first answer (idempotent retry).
        let within_a_day = challenge
            .consumed_at
            .as_deref()
            .and_then(parse_timestamp)
            .is_some_and(|at| state.clock.now() - at < REPLAY_WINDOW);
        if within_a_day && challenge.consumed_signature.as_deref() == Some(signature.as_str()) {
            if let Some(result) = &challenge.result {
                return Ok(BundleCheck::Replay(open_answer(state, customer, &challenge.id, result)?));
            }
        }
        return Err(Error::ChallengeConsumed);
    }
    let expired = parse_timestamp(&challenge.expires_at).is_none_or(|at| at < state.clock.now());
    if expired {
        return Err(Error::ChallengeExpired);
    }
    if bundle.frames.is_empty() || bundle.frames.len() > MAX_FRAMES {
        return Err(Error::invalid_field("bundle.frames", format!("must hold 1 to {MAX_FRAMES} frames")));
    }
    parse_timestamp(&bundle.captured_at)
        .ok_or_else(|| Error::invalid_field("bundle.capturedAt", "must be an RFC 3339 time"))?;
    let colors: Vec<String> = serde_json::from_str(&challenge.colors).map_err(Error::internal)?;
    let mut samples = Vec::new();
    for sample in bundle.flash_samples.unwrap_or_default() {
        // The server uses the challenge's own colour for the step, never the client's.
        let expected = colors.get(sample.step).ok_or_else(|| {
            Error::invalid_field("bundle.flashSamples", "a sample names a step the challenge does not have")
        })?;
        if !sample.color.eq_ignore_ascii_case(expected) {
            return Err(Error::invalid_field(
                "bundle.flashSamples",
                "a sample's colour is not the challenge's colour for its step",
            ));
        }
        if sample.frame_index >= bundle.frames.len() {
            return Err(Error::invalid_field("bundle.flashSamples", "a sample names a frame the bundle does not have"));
        }
        let color = parse_color(expected).ok_or_else(|| Error::internal("challenge colour"))?;
        samples.push(FlashSample { frame_index: sample.frame_index, color });
    }
    let encoded = bundle.frames;
    // Base64 decoding and hashing every frame, then reading their headers: off the async threads.
    let frames = run_blocking(move || {
        let frames = encoded
            .iter()
            .enumerate()
            .map(|(i, f)| image_field(&format!("bundle.frames[{i}]"), f))
            .collect::<Result<Vec<_>>>()?;
        check_pixel_budget(&frames)?;
        Ok(frames)
    })
    .await?;
    Ok(BundleCheck::Fresh(Box::new(CheckedBundle {
        challenge,
        signature,
        frames,
        samples,
        ocr_fields: bundle.ocr_fields,
    })))
}

/// Runs a bundle's CPU work (canonical JSON, base64, SHA-256) on the blocking pool.
async fn run_blocking<T: Send + 'static>(work: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(work).await.map_err(Error::internal)?
}

/// Refuses a frame over 12 MP or a bundle over [`MAX_BUNDLE_PIXELS`] from the images' headers.
fn check_pixel_budget(frames: &[ImageInput]) -> Result<()> {
    let mut total = 0u64;
    for (i, frame) in frames.iter().enumerate() {
        let field = format!("bundle.frames[{i}]");
        let (width, height) =
            kenali_vision::image_dimensions(&frame.bytes).map_err(|e| crate::faces::decode_error(&field, e))?;
        let pixels = u64::from(width) * u64::from(height);
        if pixels > kenali_vision::MAX_FRAME_PIXELS {
            return Err(Error::PixelBudget {
                whole_bundle: false,
                message: format!("{field}: {width}×{height} is more than {} pixels", kenali_vision::MAX_FRAME_PIXELS),
            });
        }
        total += pixels;
    }
    if total > MAX_BUNDLE_PIXELS {
        return Err(Error::PixelBudget {
            whole_bundle: true,
            message: format!(
                "bundle.frames: {total} pixels in all, more than the {MAX_BUNDLE_PIXELS} a bundle may hold"
            ),
        });
    }
    Ok(())
}

fn answer_context(challenge_id: &str) -> String {
    format!("challenge-answer/{challenge_id}")
}

/// Consumes the challenge and keeps its answer for idempotent retries, in the caller's
/// transaction. The answer holds personal data (a card's reading), so it is sealed with the
/// customer's data key and erasure shreds it with the rest. A challenge another request
/// consumed meanwhile is 409, and the caller's transaction writes nothing.
pub async fn keep_answer(
    state: &AppState,
    conn: &mut sqlx::AnyConnection,
    customer: &CustomerRow,
    challenge_id: &str,
    signature: &str,
    answer: &Value,
) -> Result<()> {
    let sealed = data_key(&state.keys, customer)?.seal(answer.to_string().as_bytes(), &answer_context(challenge_id));
    if !challenges::consume(conn, challenge_id, signature, &state.clock.now_timestamp(), &hex::encode(sealed)).await? {
        return Err(Error::ChallengeConsumed);
    }
    Ok(())
}

fn open_answer(state: &AppState, customer: &CustomerRow, challenge_id: &str, sealed_hex: &str) -> Result<Value> {
    let sealed = hex::decode(sealed_hex).map_err(Error::internal)?;
    let bytes = data_key(&state.keys, customer)?
        .open(&sealed, &answer_context(challenge_id))
        .map_err(|e| Error::internal(format!("challenge answer: {e}")))?;
    serde_json::from_slice(&bytes).map_err(Error::internal)
}
