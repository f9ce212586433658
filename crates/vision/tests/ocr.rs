//! Server OCR on rendered KTP cards (`kenali_testkit::ktp`), clean and degraded, with the real
//! PP-OCRv6 models fetched through `models::fetch` into the cache tests share: every field of
//! the card must be read exactly.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::OnceLock;

use kenali_core::ktp::{parse_card, validate_fields, KtpReading};
use kenali_testkit::ktp::{degrade, field_mismatches, render_card, Degradation, KtpFields, CARD_WIDTH};
use kenali_vision::models::fetch;
use kenali_vision::ocr::{level_lines, OcrEngine, OCR_PACK};

fn engine() -> &'static OcrEngine {
    static ENGINE: OnceLock<OcrEngine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let dir = std::env::var_os("KENALI_MODELS_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/test-models"));
        fetch(&dir, &OCR_PACK, &mut |line| eprintln!("models: {line}")).expect("fetching OCR models");
        OcrEngine::load(&dir).expect("loading OCR models")
    })
}

fn read(card: &image::RgbImage) -> KtpReading {
    let center = [card.width() as f32 / 2.0, card.height() as f32 / 2.0];
    parse_card(&level_lines(&engine().read(card).unwrap(), center), CARD_WIDTH as f32)
}

#[test]
fn every_field_of_clean_and_degraded_cards_is_read() {
    let variants: [&[Degradation]; 4] =
        [&[], &[Degradation::Blur(1.2)], &[Degradation::Jpeg(50)], &[Degradation::Rotate(2.0), Degradation::Jpeg(80)]];
    for (seed, variant) in variants.iter().enumerate() {
        let truth = KtpFields::sample(seed as u64);
        let card = degrade(&render_card(&truth, "faces/obama_2.jpg"), variant);
        let reading = read(&card);
        assert_eq!(field_mismatches(&reading, &truth), vec![], "seed {seed}, {variant:?}");
        assert_eq!(validate_fields(&reading, 2026), vec![], "seed {seed}, {variant:?}");
        assert!(reading.nik.as_ref().unwrap().confidence > 0.8);
    }
}

#[test]
fn a_blank_card_reads_nothing() {
    let blank = image::RgbImage::from_pixel(CARD_WIDTH, 638, image::Rgb([200, 225, 240]));
    assert!(engine().read(&blank).unwrap().is_empty());
}
