//! Inputs for tests and benchmarks: the real photos of the repository's `testdata/`, captures under a
//! flash challenge synthesised from them, and bundles signed the way an SDK signs them.
//! Test support only: panics on bad input instead of returning errors.

#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod ktp;
pub mod ktp_scene;
pub mod ktp_styled;

use std::path::PathBuf;

use base64::Engine;
use image::RgbImage;
use serde_json::{json, Value};

/// The repository's `testdata/` (photos and spoof samples with their licences, see its MANIFEST.md).
pub fn testdata_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

/// A file of `testdata/`; a missing one stops the test with a message that says what to do.
pub fn testdata_bytes(path: &str) -> Vec<u8> {
    let full = testdata_dir().join(path);
    std::fs::read(&full).unwrap_or_else(|e| {
        panic!(
            "test data file {} could not be read ({e}): it ships with the repository under testdata/; \
             restore it with `git checkout -- testdata`",
            full.display()
        )
    })
}

/// A file of `testdata/`, base64-encoded.
pub fn testdata_b64(path: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(testdata_bytes(path))
}

/// A photo of `testdata/`, decoded.
pub fn testdata_image(path: &str) -> RgbImage {
    image::load_from_memory(&testdata_bytes(path)).unwrap().to_rgb8()
}

/// The live sample (`spoof/live_1.jpg`) as an SDK would send it: the photo was taken with the
/// camera on its side (the face lies horizontally), and SDK frames come upright.
pub fn upright_live_face() -> RgbImage {
    image::imageops::rotate90(&testdata_image("spoof/live_1.jpg"))
}

pub fn jpeg(image: &RgbImage) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Frames of a capture under a flash challenge, made from one real photo: each frame is lit
/// by its step's colour (light added in proportion to the surface's own brightness, as a
/// screen's glow reflects off skin) and shifted by a few pixels (hand-held motion).
pub fn lit_frames(path: &str, colors: &[String], strength: f32) -> Vec<String> {
    lit_frames_of(&testdata_image(path), colors, strength)
}

/// The same capture filmed off a display: a fine grating (the screen's pixel grid as the camera
/// aliases it) over the photo, then lit and moved like a live capture.
pub fn screen_replay_frames(path: &str, colors: &[String]) -> Vec<String> {
    let mut base = testdata_image(path);
    let (s, c) = 0.3f32.sin_cos();
    for (x, y, pixel) in base.enumerate_pixels_mut() {
        let delta = 5.0 * (2.0 * std::f32::consts::PI * (x as f32 * c + y as f32 * s) / 5.0).sin();
        for k in 0..3 {
            pixel[k] = (f32::from(pixel[k]) + delta).clamp(0.0, 255.0) as u8;
        }
    }
    lit_frames_of(&base, colors, 0.35)
}

/// [`lit_frames`] of an image already in memory, base64 JPEG.
pub fn lit_frames_of(base: &RgbImage, colors: &[String], strength: f32) -> Vec<String> {
    colors
        .iter()
        .enumerate()
        .map(|(i, color)| {
            let rgb = kenali_core::challenge::parse_color(color).unwrap();
            b64(&jpeg(&lit_frame(base, rgb, i as u32, strength)))
        })
        .collect()
}

/// Step `step` of [`lit_frames_of`], before encoding: `base` moved 3 px right and 1.5 px down
/// per step (cropped 12 px smaller) and lit by `rgb` at `strength`.
pub fn lit_frame(base: &RgbImage, rgb: [u8; 3], step: u32, strength: f32) -> RgbImage {
    let shift = 3 * step;
    let (w, h) = (base.width() - 12, base.height() - 12);
    let mut frame = image::imageops::crop_imm(base, shift, shift / 2, w, h).to_image();
    for pixel in frame.pixels_mut() {
        for c in 0..3 {
            let v = f32::from(pixel[c]);
            pixel[c] = (v + strength * f32::from(rgb[c]) * (v / 255.0)).min(255.0) as u8;
        }
    }
    frame
}

/// The colours of a `flashChallenge` object.
pub fn challenge_colors(challenge: &Value) -> Vec<String> {
    challenge["colors"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_string()).collect()
}

/// A bundle answering `challenge`, one flash sample per frame, signed with its hmacSecret.
pub fn signed_bundle(challenge: &Value, frames: Vec<String>) -> Value {
    let colors = challenge["colors"].as_array().unwrap();
    let samples: Vec<Value> = (0..frames.len().min(colors.len()))
        .map(|i| json!({"step": i, "frameIndex": i, "color": colors[i], "tMs": 500 * i}))
        .collect();
    let mut bundle = json!({
        "version": "1", "sdkVersion": "web-1.0.0", "platform": "web",
        "frames": frames, "capturedAt": "2026-11-26T05:00:00Z",
        "flashChallengeNonce": challenge["nonce"], "flashSamples": samples,
    });
    let signature =
        kenali_core::challenge::sign(&bundle, challenge["hmacSecret"].as_str().unwrap().as_bytes()).unwrap();
    bundle["signature"] = Value::String(signature);
    bundle
}
