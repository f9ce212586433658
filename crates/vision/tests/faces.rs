//! The face pipeline on real photographs (the repository's `testdata/`, see its MANIFEST.md), with the
//! real models fetched through `models::fetch` into a cache shared by every test run.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::OnceLock;

use kenali_vision::embed::cosine;
use kenali_vision::models::{fetch, FACE_PACK};
use kenali_vision::{decode_image, DecodeLimits, FaceEngine, FaceError};

fn testdata(path: &str) -> Vec<u8> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata");
    std::fs::read(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The models directory tests share: `KENALI_MODELS_DIR` when set, else `target/test-models`.
pub fn models_dir() -> PathBuf {
    std::env::var_os("KENALI_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/test-models"))
}

fn engine() -> &'static FaceEngine {
    static ENGINE: OnceLock<FaceEngine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let dir = models_dir();
        fetch(&dir, &FACE_PACK, &mut |line| eprintln!("models: {line}")).expect("fetching models");
        FaceEngine::load(&dir).expect("loading models")
    })
}

fn embedding(path: &str) -> Vec<f32> {
    let image = decode_image(&testdata(path), DecodeLimits::default()).unwrap();
    engine().analyze(&image).unwrap_or_else(|e| panic!("{path}: {e}")).embedding
}

const PEOPLE: [(&str, &[&str]); 5] = [
    ("alex_lacamoire", &["faces/alex_lacamoire_1.jpg", "faces/alex_lacamoire_2.jpg"]),
    ("biden", &["faces/biden_1.jpg", "faces/biden_2.jpg"]),
    ("kit_harington", &["faces/kit_harington_1.jpg", "faces/kit_harington_2.jpg"]),
    ("obama", &["faces/obama_1.jpg", "faces/obama_2.jpg", "faces/obama_3.jpg", "faces/obama_4.jpg"]),
    ("rose_leslie", &["faces/rose_leslie_1.jpg", "faces/rose_leslie_2.jpg"]),
];

#[test]
fn same_people_match_and_different_people_do_not() {
    let threshold = 0.45;
    let mut all = Vec::new();
    for (person, files) in PEOPLE {
        for file in files {
            all.push((person, *file, embedding(file)));
        }
    }
    let (mut lowest_same, mut highest_different) = (f32::MAX, f32::MIN);
    for (i, (p1, f1, e1)) in all.iter().enumerate() {
        for (p2, f2, e2) in &all[i + 1..] {
            let score = cosine(e1, e2);
            if p1 == p2 {
                assert!(score > threshold, "{f1} vs {f2}: {score}");
                lowest_same = lowest_same.min(score);
            } else {
                assert!(score < threshold, "{f1} vs {f2}: {score}");
                highest_different = highest_different.max(score);
            }
        }
    }
    eprintln!("lowest same-person {lowest_same:.3}, highest different-person {highest_different:.3}");
}

#[test]
fn embeddings_are_deterministic_and_unit_length() {
    let a = embedding("faces/obama_1.jpg");
    let b = embedding("faces/obama_1.jpg");
    assert_eq!(a, b);
    assert_eq!(a.len(), 512);
    assert!((cosine(&a, &a) - 1.0).abs() < 1e-4);
}

#[test]
fn the_anti_spoof_model_tells_live_from_presented_photos() {
    let engine = engine();
    let mut scores = Vec::new();
    for (file, live) in [("spoof/live_1.jpg", true), ("spoof/spoof_1.jpg", false), ("spoof/spoof_2.jpg", false)] {
        let image = decode_image(&testdata(file), DecodeLimits::default()).unwrap();
        let face = engine.single_face(&image).unwrap();
        let p = engine.liveness.live_probability(&image, &face).unwrap();
        scores.push((file, p));
        assert_eq!(p >= 0.5, live, "{file}: live probability {p}");
    }
    eprintln!("{scores:?}");
}

#[test]
fn images_without_exactly_one_face_are_refused() {
    let engine = engine();
    let blank = image::RgbImage::from_pixel(320, 240, image::Rgb([128, 128, 128]));
    assert!(matches!(engine.single_face(&blank), Err(FaceError::NoFace)));
    // Two people side by side.
    let left = decode_image(&testdata("faces/obama_1.jpg"), DecodeLimits::default()).unwrap();
    let right = decode_image(&testdata("faces/biden_1.jpg"), DecodeLimits::default()).unwrap();
    let height = left.height().min(right.height());
    let left = image::imageops::resize(
        &left,
        left.width() * height / left.height(),
        height,
        image::imageops::FilterType::Triangle,
    );
    let right = image::imageops::resize(
        &right,
        right.width() * height / right.height(),
        height,
        image::imageops::FilterType::Triangle,
    );
    let mut pair = image::RgbImage::new(left.width() + right.width(), height);
    image::imageops::replace(&mut pair, &left, 0, 0);
    image::imageops::replace(&mut pair, &right, i64::from(left.width()), 0);
    assert!(
        matches!(engine.single_face(&pair), Err(FaceError::SeveralFaces(2))),
        "{:?}",
        engine.single_face(&pair).map(|f| f.bbox)
    );
}

/// Overlays a fine sinusoidal grating, the pattern a camera records off a display's pixel grid.
fn with_grating(image: &image::RgbImage, period: f32, angle: f32, amplitude: f32) -> image::RgbImage {
    let (s, c) = angle.sin_cos();
    let mut out = image.clone();
    for (x, y, pixel) in out.enumerate_pixels_mut() {
        let phase = 2.0 * std::f32::consts::PI * (x as f32 * c + y as f32 * s) / period;
        let delta = amplitude * phase.sin();
        for k in 0..3 {
            pixel[k] = (f32::from(pixel[k]) + delta).clamp(0.0, 255.0) as u8;
        }
    }
    out
}

#[test]
fn moire_ratio_separates_clean_faces_from_display_gratings() {
    use kenali_vision::moire::moire_peak_ratio;
    let engine = engine();
    let mut clean = Vec::new();
    let mut screened = Vec::new();
    let files = PEOPLE.iter().flat_map(|(_, files)| files.iter()).chain(["spoof/live_1.jpg"].iter());
    {
        for file in files {
            let image = decode_image(&testdata(file), DecodeLimits::default()).unwrap();
            let face = engine.single_face(&image).unwrap();
            clean.push((file.to_string(), moire_peak_ratio(&image, &face).unwrap()));
            // A grating whose period is a few pixels of the face patch, as a screen gives.
            let period = face.width() / 128.0 * 4.0;
            let replay = with_grating(&image, period.max(2.5), 0.3, 12.0);
            screened.push((file.to_string(), moire_peak_ratio(&replay, &face).unwrap()));
        }
    }
    eprintln!("clean: {clean:?}\nscreened: {screened:?}");
    let max_clean = clean.iter().map(|(_, r)| *r).fold(0.0, f32::max);
    let min_screened = screened.iter().map(|(_, r)| *r).fold(f32::MAX, f32::min);
    eprintln!("max clean {max_clean}, min screened {min_screened}");
    assert!(max_clean < kenali_core::liveness::thresholds::MOIRE_PEAK_MAX, "{clean:?}");
    assert!(min_screened > kenali_core::liveness::thresholds::MOIRE_PEAK_MAX, "{screened:?}");
}

/// The appearance that ties a bundle's frames together: every pair of different people's
/// photos stays below `SAME_CAPTURE_MIN`, and one photo under the palette's flash tints (and a
/// few pixels of motion) stays above it.
#[test]
fn appearance_tells_one_capture_from_another_person() {
    use kenali_core::liveness::appearance_similarity;
    use kenali_core::liveness::thresholds::SAME_CAPTURE_MIN;
    use kenali_vision::measure::face_appearance;
    let appearance = |image: &image::RgbImage| {
        let face = engine().single_face(image).unwrap();
        face_appearance(image, &face.landmarks)
    };
    let mut all = Vec::new();
    for (person, files) in PEOPLE {
        for file in files {
            let image = decode_image(&testdata(file), DecodeLimits::default()).unwrap();
            all.push((person, *file, appearance(&image), image));
        }
    }
    let mut highest_different = f32::MIN;
    for (i, (p1, f1, a1, _)) in all.iter().enumerate() {
        for (p2, f2, a2, _) in &all[i + 1..] {
            if p1 != p2 {
                let score = appearance_similarity(a1, a2);
                assert!(score < SAME_CAPTURE_MIN, "{f1} vs {f2}: {score}");
                highest_different = highest_different.max(score);
            }
        }
    }
    let mut lowest_same_capture = f32::MAX;
    for (_, file, plain, image) in &all {
        for color in kenali_core::challenge::PALETTE {
            let rgb = kenali_core::challenge::parse_color(color).unwrap();
            let frame = kenali_testkit::lit_frame(image, rgb, 2, 0.35);
            let score = appearance_similarity(plain, &appearance(&frame));
            assert!(score >= SAME_CAPTURE_MIN, "{file} under {color}: {score}");
            lowest_same_capture = lowest_same_capture.min(score);
        }
    }
    eprintln!(
        "appearance: different people at most {highest_different:.3}, one capture at least {lowest_same_capture:.3}"
    );
}

/// A bundle's coarse detection, refined, places upright faces where a full-size detection does.
#[test]
fn refined_coarse_faces_agree_with_full_size_detection() {
    use kenali_vision::detect::COARSE_LONG_SIDE;
    for (_, files) in PEOPLE {
        for file in files {
            let image = decode_image(&testdata(file), DecodeLimits::default()).unwrap();
            let full = engine().single_face(&image).unwrap();
            let coarse = engine().detector.detect_at(&image, COARSE_LONG_SIDE).unwrap();
            let refined = engine().detector.refine(&image, &coarse[0]).unwrap().expect("refined face");
            // Measured: landmarks within 1.8–6.3% of the face width of the full-size ones, and
            // embeddings at cosine 0.957–0.994 to them.
            let drift = refined
                .landmarks
                .iter()
                .zip(full.landmarks.iter())
                .map(|(a, b)| ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt())
                .fold(0.0, f32::max);
            assert!(drift < 0.08 * full.width(), "{file}: landmarks moved {drift} px of a {} px face", full.width());
            let similarity =
                cosine(&engine().embed_face(&image, &refined).unwrap(), &engine().embed_face(&image, &full).unwrap());
            assert!(similarity > 0.93, "{file}: {similarity}");
            let live = |face| engine().liveness.live_probability(&image, face).unwrap();
            assert!((live(&refined) - live(&full)).abs() < 0.05, "{file}");
        }
    }
}
