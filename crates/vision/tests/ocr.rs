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

#[test]
fn a_line_read_unsurely_is_read_again_where_another_frame_has_it_clean() {
    let truth = KtpFields::sample(7);
    let clean = render_card(&truth, "faces/obama_2.jpg");
    let reads = engine().read(&clean).unwrap();
    let name = reads.iter().find(|l| l.text.contains(&truth.full_name)).expect("the name is read");
    // A shake smears the name's line in this frame alone.
    let (x0, y0) = (name.bounds.center[0] - name.bounds.width / 2.0, name.bounds.center[1] - name.bounds.height / 2.0);
    let smear = imageproc::filter::box_filter(&image::imageops::grayscale(&clean), 4, 1);
    let mut shaken = clean.clone();
    for y in y0.max(0.0) as u32..((y0 + name.bounds.height) as u32).min(clean.height()) {
        for x in x0.max(0.0) as u32..((x0 + name.bounds.width) as u32).min(clean.width()) {
            let v = smear.get_pixel(x, y).0[0];
            shaken.put_pixel(x, y, image::Rgb([v, v, v]));
        }
    }
    let mut read = engine().read(&shaken).unwrap();
    let unsure: Vec<usize> = (0..read.len()).filter(|&i| read[i].confidence < 0.9).collect();
    assert!(!unsure.is_empty(), "the smeared line should be read unsurely: {read:?}");
    let sure_before: Vec<(String, f32)> =
        read.iter().filter(|l| l.confidence >= 0.9).map(|l| (l.text.clone(), l.confidence)).collect();
    engine().reread_unsure(&mut read, &[&clean], 0.9).unwrap();
    let reread = read.iter().find(|l| l.text.contains(&truth.full_name)).expect("the name is read again");
    assert!(reread.confidence >= 0.9, "{reread:?}");
    // What was read surely is left as it was.
    let sure_after: Vec<(String, f32)> = read
        .iter()
        .filter(|l| sure_before.iter().any(|(t, _)| *t == l.text))
        .map(|l| (l.text.clone(), l.confidence))
        .collect();
    assert_eq!(sure_before, sure_after);
}
