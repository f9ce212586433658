//! The KTP capture pipeline on synthetic captures (kenali_testkit::ktp_scene) with the real
//! models: the card is found and read in every presentation, and the document voters tell an
//! original from a photocopy, a screen replay, a pasted portrait and a NIK printed again in
//! another typeface.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::OnceLock;

use kenali_core::document::{self, AntiSpoof, Tamper};
use kenali_core::liveness::{FlashSample, Voter};
use kenali_testkit::ktp::{render_card, render_card_with_retyped_nik, ForgedTypeface, KtpFields};
use kenali_testkit::ktp_scene::{capture_frames_held, render_card_with_pasted_portrait, Handling, Presentation};
use kenali_vision::capture::{analyze_capture, CaptureAnalysis};
use kenali_vision::card::{CARD_HEIGHT, CARD_WIDTH};
use kenali_vision::models::{fetch, FACE_PACK};
use kenali_vision::ocr::{OcrEngine, OCR_PACK};
use kenali_vision::{DecodeLimits, FaceEngine};

fn engines() -> &'static (FaceEngine, OcrEngine) {
    static ENGINES: OnceLock<(FaceEngine, OcrEngine)> = OnceLock::new();
    ENGINES.get_or_init(|| {
        let dir = std::env::var_os("KENALI_MODELS_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/test-models"));
        for pack in [&FACE_PACK[..], &OCR_PACK[..]] {
            fetch(&dir, pack, &mut |line| eprintln!("models: {line}")).expect("fetching models");
        }
        (FaceEngine::load(&dir).unwrap(), OcrEngine::load(&dir).unwrap())
    })
}

const COLORS: [&str; 5] = ["#FF0000", "#00FF00", "#0000FF", "#FFFFFF", "#FF00FF"];

fn analyze(card: &image::RgbImage, presentation: Presentation) -> (CaptureAnalysis, Vec<Voter>, Vec<Voter>) {
    analyze_held(card, presentation, Handling::Flat)
}

fn analyze_held(
    card: &image::RgbImage,
    presentation: Presentation,
    handling: Handling,
) -> (CaptureAnalysis, Vec<Voter>, Vec<Voter>) {
    let colors: Vec<String> = COLORS.iter().map(|c| c.to_string()).collect();
    let frames = capture_frames_held(card, &colors, presentation, handling, 3);
    judge_frames(&frames, &format!("{presentation:?}"))
}

/// The capture's analysis and its anti-spoof and tamper voters, for frames filmed under
/// [`COLORS`].
fn judge_frames(frames: &[Vec<u8>], label: &str) -> (CaptureAnalysis, Vec<Voter>, Vec<Voter>) {
    let hashes: Vec<String> = (0..frames.len()).map(|i| format!("frame{i}")).collect();
    let inputs: Vec<(&[u8], &str)> = frames.iter().zip(&hashes).map(|(f, h)| (f.as_slice(), h.as_str())).collect();
    let (faces, ocr) = engines();
    let analysis = analyze_capture(faces, ocr, &inputs, DecodeLimits::default()).unwrap();
    let samples: Vec<FlashSample> = COLORS
        .iter()
        .enumerate()
        .map(|(i, c)| FlashSample { frame_index: i, color: kenali_core::challenge::parse_color(c).unwrap() })
        .collect();
    let judgement = document::judge(&document::Evidence {
        frames: &analysis.frames,
        samples: &samples,
        reading: &analysis.reading,
        lines: &analysis.lines,
        card_size: [CARD_WIDTH as f32, CARD_HEIGHT as f32],
        portrait: &analysis.portrait,
        nik_type: analysis.nik_type.as_ref(),
        sdk_fields: None,
        reference_year: 2026,
        card_matches_customer: None,
    });
    let (anti, tamper) = (judgement.anti_spoof_voters, judgement.tamper_voters);
    let f = &analysis.frames;
    for m in f {
        eprintln!(
            "{label}: area {:.2} sharp {:.0} glare {:.4} rgb {:?} highlight {:?} colour {:.4} moire {:?} foil colour {:.4} glare {:.3}",
            m.area_fraction,
            m.sharpness,
            m.glare_fraction,
            m.mean_rgb,
            m.highlight,
            m.colour_spread,
            m.moire_ratio,
            (m.hologram.iter().map(|v| v * v).sum::<f32>() / m.hologram.len().max(1) as f32).sqrt(),
            m.hologram_glare
        );
    }
    eprintln!("{label}: portrait {:?}\n anti {anti:#?}\n tamper {tamper:#?}", analysis.portrait);
    (analysis, anti, tamper)
}

#[test]
fn an_original_card_is_read_and_passes_every_voter() {
    let truth = KtpFields::sample(21);
    let (analysis, anti, tamper) = analyze(&render_card(&truth, "faces/obama_2.jpg"), Presentation::Original);
    assert!(analysis.frames.iter().all(|f| f.card_found));
    assert_eq!(analysis.reading.nik.as_ref().unwrap().value, truth.nik);
    assert_eq!(analysis.reading.full_name.as_ref().unwrap().value, truth.full_name);
    assert!(analysis.portrait_face.is_some());
    assert!(anti.iter().all(|v| v.succeeded()), "{anti:?}");
    assert!(tamper.iter().all(|v| v.succeeded()), "{tamper:?}");
    assert!(tamper.iter().any(|v| v.name == "hologram_check"), "{tamper:?}");
    assert_eq!(document::fuse_anti_spoof(&anti), AntiSpoof::Live);
}

#[test]
fn a_photocopy_shows_one_tint_and_no_moving_highlight() {
    let (_, anti, tamper) = analyze(&render_card(&KtpFields::sample(22), "faces/obama_2.jpg"), Presentation::Photocopy);
    assert!(anti.iter().any(|v| v.name == "print_colour" && v.failed()), "{anti:?}");
    assert!(anti.iter().any(|v| v.name == "specular_check" && !v.succeeded()), "{anti:?}");
    assert_eq!(document::fuse_anti_spoof(&anti), AntiSpoof::Spoof);
    let hologram = tamper.iter().find(|v| v.name == "hologram_check").unwrap();
    assert!(hologram.passed.is_none() && hologram.reason.starts_with("no hologram colours"), "{hologram:?}");
}

#[test]
fn a_screen_replay_is_a_spoof() {
    let (_, anti, tamper) =
        analyze(&render_card(&KtpFields::sample(23), "faces/obama_2.jpg"), Presentation::ScreenReplay);
    assert!(anti.iter().any(|v| v.name == "screen_moire" && v.failed()), "{anti:?}");
    let hologram = tamper.iter().find(|v| v.name == "hologram_check").unwrap();
    assert!(hologram.failed() && hologram.reason.starts_with("no reflective specular ring"), "{hologram:?}");
    assert!(anti.iter().any(|v| v.name == "flash_reflectance" && v.failed()), "{anti:?}");
}

#[test]
fn a_pasted_portrait_is_tampering() {
    let truth = KtpFields::sample(24);
    let card = render_card_with_pasted_portrait(&truth, "faces/obama_2.jpg", "faces/biden_1.jpg");
    let (_, _, tamper) = analyze(&card, Presentation::Original);
    assert!(tamper.iter().any(|v| v.name == "photo_substitution" && v.failed()), "{tamper:?}");
    assert_eq!(document::fuse_tamper(&tamper), Tamper::Tampered);
}

/// `photo_substitution` judges the card's own print, not the template's coordinates: cards of
/// the held-out family (portraits of other sizes and places, framed, in other typefaces) pass
/// it, and photos glued over them fail it.
#[test]
fn a_pasted_portrait_is_found_on_cards_unlike_the_template() {
    use kenali_testkit::ktp_styled::{
        capture_frames_styled, render_card_styled, render_card_styled_with_pasted_portrait, CardStyle, Family,
        SceneStyle,
    };
    let colors: Vec<String> = COLORS.iter().map(|c| c.to_string()).collect();
    let film = |card: &image::RgbImage, seed: u64| {
        capture_frames_styled(card, &colors, Presentation::Original, &SceneStyle::draw(Family::HeldOut, seed), seed)
    };
    let portrait_voter = |tamper: &[Voter]| tamper.iter().find(|v| v.name == "photo_substitution").unwrap().clone();
    for seed in [200_000, 200_003] {
        let (truth, style) = (KtpFields::sample(seed), CardStyle::draw(Family::HeldOut, seed));
        let card = render_card_styled(&truth, "faces/obama_2.jpg", &style);
        let (_, _, tamper) = judge_frames(&film(&card, seed), "held-out genuine");
        let voter = portrait_voter(&tamper);
        assert!(voter.succeeded(), "{seed}: {voter:?}");
    }
    for seed in [230_000, 230_004] {
        let (truth, style) = (KtpFields::sample(seed), CardStyle::draw(Family::HeldOut, seed));
        let card = render_card_styled_with_pasted_portrait(&truth, "faces/obama_2.jpg", "faces/biden_1.jpg", &style);
        let (_, _, tamper) = judge_frames(&film(&card, seed), "held-out pasted");
        let voter = portrait_voter(&tamper);
        assert!(voter.failed(), "{seed}: {voter:?}");
    }
}

#[test]
fn a_card_held_at_an_angle_is_rectified_read_and_passes_every_voter() {
    let truth = KtpFields::sample(25);
    for (yaw, pitch) in [(16.0, -8.0), (-12.0, 10.0)] {
        let handling = Handling::Tilted { yaw, pitch };
        let (analysis, anti, tamper) =
            analyze_held(&render_card(&truth, "faces/obama_2.jpg"), Presentation::Original, handling);
        assert_eq!(analysis.reading.nik.as_ref().unwrap().value, truth.nik, "{handling:?}");
        assert_eq!(analysis.reading.full_name.as_ref().unwrap().value, truth.full_name, "{handling:?}");
        assert!(anti.iter().all(|v| v.succeeded()), "{handling:?}: {anti:?}");
        assert!(tamper.iter().all(|v| v.succeeded()), "{handling:?}: {tamper:?}");
        let portrait = tamper.iter().find(|v| v.name == "photo_substitution").unwrap();
        assert!(portrait.succeeded(), "{handling:?}: {portrait:?}");
    }
}

#[test]
fn glare_over_the_hologram_sends_the_capture_to_review() {
    let truth = KtpFields::sample(26);
    let (analysis, anti, tamper) =
        analyze_held(&render_card(&truth, "faces/obama_2.jpg"), Presentation::Original, Handling::GlareOnHologram);
    // The fields are still read; only the foil is hidden.
    assert_eq!(analysis.reading.nik.as_ref().unwrap().value, truth.nik);
    let hologram = tamper.iter().find(|v| v.name == "hologram_check").unwrap();
    assert!(hologram.failed() && hologram.reason.contains("glare"), "{hologram:?}");
    assert_eq!(document::fuse_tamper(&tamper), Tamper::Unclear);
    let assurance = document::assurance(document::fuse_anti_spoof(&anti), document::fuse_tamper(&tamper), &anti);
    assert_eq!(assurance, document::AssuranceTier::Low);
}

#[test]
fn a_nik_printed_again_in_another_typeface_is_not_accepted() {
    let truth = KtpFields::sample(27);
    // The genuine card's NIK type, for comparison in the failure messages.
    let (genuine, _, _) = analyze(&render_card(&truth, "faces/obama_2.jpg"), Presentation::Original);
    eprintln!("genuine NIK type: {:?}", genuine.nik_type);
    for (typeface, reason) in [
        (ForgedTypeface::SansRegular, "the NIK's strokes are not the template's weight"),
        (ForgedTypeface::SerifBold, "the NIK's digits are shaped as a serif face's"),
        (ForgedTypeface::MonoBold, "the NIK's digits are spaced as a monospaced face spaces them"),
    ] {
        let card = render_card_with_retyped_nik(&truth, "faces/obama_2.jpg", typeface);
        let (analysis, anti, tamper) = analyze(&card, Presentation::Original);
        // The same digits, read as well as ever: only their type gives the forgery away.
        assert_eq!(analysis.reading.nik.as_ref().unwrap().value, truth.nik, "{typeface:?}");
        let font = tamper.iter().find(|v| v.name == "font_match").unwrap();
        assert_eq!((font.passed, font.reason.as_str()), (Some(false), reason), "{typeface:?}: {:?}", analysis.nik_type);
        let assurance = document::assurance(document::fuse_anti_spoof(&anti), document::fuse_tamper(&tamper), &anti);
        assert_eq!(assurance, document::AssuranceTier::Low, "{typeface:?}");
    }
}

/// `font_match` on a card filmed in the held-out family's scene for `seed` under `colors`,
/// with the NIK's measured type.
fn held_out_font_match(
    card: &image::RgbImage,
    seed: u64,
    colors: &[String],
    label: &str,
) -> (Voter, Option<kenali_core::typeface::TypefaceMeasure>) {
    use kenali_testkit::ktp_styled::{capture_frames_styled, Family, SceneStyle};
    let scene = SceneStyle::draw(Family::HeldOut, seed);
    let frames = capture_frames_styled(card, colors, Presentation::Original, &scene, seed);
    let (analysis, _, tamper) = judge_frames(&frames, label);
    (tamper.iter().find(|v| v.name == "font_match").unwrap().clone(), analysis.nik_type)
}

/// A NIK printed in OCR-A (light and wide) passes by its digits' shapes; the same NIK
/// re-typed in a typewriter face as wide does not.
#[test]
fn an_ocr_a_nik_is_known_by_its_shapes_and_a_typewriter_face_is_not() {
    use kenali_testkit::ktp_styled::{
        render_card_styled, render_card_styled_with_retyped_nik, CardStyle, Family, OCR_A,
    };
    let colors: Vec<String> = COLORS.iter().map(|c| c.to_string()).collect();
    let font_voter = |card: &image::RgbImage, seed: u64, label: &str| held_out_font_match(card, seed, &colors, label);
    for seed in [600_002, 600_007] {
        let (truth, style) = (KtpFields::sample(seed), CardStyle::draw(Family::HeldOut, seed));
        assert_eq!(style.nik_face, OCR_A, "{seed}");
        let card = render_card_styled(&truth, "faces/obama_2.jpg", &style);
        let (voter, measure) = font_voter(&card, seed, "OCR-A genuine");
        assert!(voter.succeeded(), "{seed}: {voter:?} {measure:?}");
        let forged = render_card_styled_with_retyped_nik(&truth, "faces/obama_2.jpg", &style, ForgedTypeface::MonoBold);
        let (voter, measure) = font_voter(&forged, seed, "typewriter forgery");
        assert!(voter.failed(), "{seed}: {voter:?} {measure:?}");
    }
}

/// A NIK in a grotesque bold measured narrower than the calibration family's (FreeSans Bold,
/// Helvetica's cut, at 0.77 of its height) passes by its digits' shapes; the same NIK
/// re-typed in a serif bold, spaced about as narrow, fails by them.
#[test]
fn a_narrow_grotesque_nik_is_known_from_a_serif_by_its_shapes() {
    use kenali_testkit::ktp_styled::{
        render_card_styled, render_card_styled_with_retyped_nik, CardStyle, Family, FREE_SANS_BOLD,
    };
    let font_voter = |card: &image::RgbImage, seed: u64, label: &str| {
        // Filmed under the bench's challenge for the seed (only `font_match` is looked at).
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(seed);
        let (colors, _) = kenali_core::challenge::draw_sequence(3, &mut rng);
        let colors: Vec<String> = colors.iter().map(|c| c.to_string()).collect();
        held_out_font_match(card, seed, &colors, label)
    };
    // A card of `bench_ktp --families`, with its portrait and challenge: pitch measured 0.766,
    // below the 0.773 that a NIK whose shapes were not read must reach.
    let (seed, portrait) = (200_007, "faces/biden_2.jpg");
    let (truth, style) = (KtpFields::sample(seed), CardStyle::draw(Family::HeldOut, seed));
    assert_eq!(style.nik_face, FREE_SANS_BOLD, "{seed}");
    let card = render_card_styled(&truth, portrait, &style);
    let (voter, measure) = font_voter(&card, seed, "FreeSans Bold genuine");
    assert!(voter.succeeded(), "{seed}: {voter:?} {measure:?}");
    let forged = render_card_styled_with_retyped_nik(&truth, portrait, &style, ForgedTypeface::SerifBold);
    let (voter, measure) = font_voter(&forged, seed, "serif forgery");
    assert!(voter.failed() && voter.reason.contains("serif"), "{seed}: {voter:?} {measure:?}");
}

/// The NIK's type is measured on the frame whose light lies most evenly over the NIK line: a
/// held-out card whose read frame has a glint's edge along the NIK (a Noto Sans Bold NIK,
/// whose strokes measured 0.157 of its height there, under the 0.167 a bold face must reach)
/// passes `font_match`, with its strokes measured at a bold face's weight.
#[test]
fn the_nik_type_is_measured_where_the_light_is_even() {
    use kenali_testkit::ktp_styled::{render_card_styled, CardStyle, Family, NOTO_SANS_BOLD};
    let seed = 200_012;
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(seed);
    let (colors, _) = kenali_core::challenge::draw_sequence(3, &mut rng);
    let colors: Vec<String> = colors.iter().map(|c| c.to_string()).collect();
    let (truth, style) = (KtpFields::sample(seed), CardStyle::draw(Family::HeldOut, seed));
    assert_eq!(style.nik_face, NOTO_SANS_BOLD, "{seed}");
    let card = render_card_styled(&truth, "faces/obama_2.jpg", &style);
    let (voter, measure) = held_out_font_match(&card, seed, &colors, "Noto Sans Bold under a glint");
    assert!(voter.succeeded(), "{voter:?} {measure:?}");
    let stem = measure.unwrap().stem;
    assert!(stem >= kenali_core::typeface::template::STEM_MIN, "{stem}");
}

/// `font_match` holds the labels to a column of the card's own: a card whose labels are
/// printed 60 px in (0.059 of its width, beyond the fixed column 0.028 ± 0.02 it once had to
/// match) passes; the same card with one label printed 20 px off that column does not.
#[test]
fn the_labels_column_is_the_cards_own() {
    use kenali_testkit::ktp_styled::{render_card_styled, CardStyle, Family};
    let colors: Vec<String> = COLORS.iter().map(|c| c.to_string()).collect();
    let seed = 200_000;
    let truth = KtpFields::sample(seed);
    let style = CardStyle { label_x: 60.0, ..CardStyle::draw(Family::HeldOut, seed) };
    let mut card = render_card_styled(&truth, "faces/obama_2.jpg", &style);
    let (voter, measure) = held_out_font_match(&card, seed, &colors, "labels 60 px in");
    assert!(voter.succeeded(), "{voter:?} {measure:?}");
    // "Agama" (the eighth field row) moved 20 px right, over the card's own paper.
    let row_top = (style.first_row_y + 7.0 * style.row_pitch) as u32;
    let band = image::imageops::crop_imm(&card, 50, row_top, 150, style.row_pitch as u32).to_image();
    let paper = *card.get_pixel(40, row_top + 2);
    for y in row_top..row_top + style.row_pitch as u32 {
        for x in 50..200 {
            card.put_pixel(x, y, paper);
        }
    }
    image::imageops::overlay(&mut card, &band, 70, i64::from(row_top));
    let (voter, measure) = held_out_font_match(&card, seed, &colors, "one label off the column");
    assert!(voter.failed() && voter.reason.contains("not aligned"), "{voter:?} {measure:?}");
}

/// The reference digits that `kenali_vision::glyphs` embeds are the Debian fonts' digits,
/// drawn by the test kit; `KENALI_BLESS=1` writes them again (then build and run it once more).
#[test]
fn the_embedded_reference_digits_are_the_fonts() {
    use kenali_testkit::ktp_styled::{digit_strip, LIBERATION_SANS_BOLD, LIBERATION_SERIF_BOLD, OCR_A};
    use kenali_vision::glyphs::{Face, REFERENCE_HEIGHT};
    for face in Face::ALL {
        let font = match face {
            Face::OcrA => OCR_A,
            Face::GrotesqueBold => LIBERATION_SANS_BOLD,
            Face::SerifBold => LIBERATION_SERIF_BOLD,
        };
        let drawn = digit_strip(&font, REFERENCE_HEIGHT);
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets").join(face.asset());
        if std::env::var_os("KENALI_BLESS").is_some() {
            // The embedded bytes are the build's: compared on the next build.
            drawn.save(&path).unwrap();
            continue;
        }
        let embedded = image::load_from_memory(face.reference_png()).unwrap().to_luma8();
        assert_eq!(embedded.dimensions(), drawn.dimensions(), "{face:?}");
        assert!(embedded.as_raw() == drawn.as_raw(), "{} differs from {}'s digits", path.display(), font.name);
    }
}
