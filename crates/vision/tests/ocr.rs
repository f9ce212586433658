//! Server OCR on rendered KTP cards (`kenali_testkit::ktp`), clean and degraded, with the real
//! PP-OCRv6 models fetched through `models::fetch` into the cache tests share: every field of
//! the card must be read exactly.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::OnceLock;

use kenali_core::ktp::{parse_card, validate_fields, KtpReading, Reading};
use kenali_testkit::ktp::{degrade, render_card, Degradation, KtpFields, CARD_WIDTH};
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

/// The fields that differ from the truth, as (field, read, expected).
fn mismatches(reading: &KtpReading, truth: &KtpFields) -> Vec<(&'static str, String, String)> {
    let value = |r: &Option<Reading>| r.as_ref().map(|r| r.value.clone()).unwrap_or_default();
    let iso = |card_date: &str| {
        let d = kenali_core::ktp::parse_card_date(card_date).unwrap();
        format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
    };
    let gender = if truth.gender == "PEREMPUAN" { "female" } else { "male" };
    let expected = [
        ("province", &reading.province, truth.province.clone()),
        ("regency", &reading.regency, truth.regency.clone()),
        ("nik", &reading.nik, truth.nik.clone()),
        ("fullName", &reading.full_name, truth.full_name.clone()),
        ("placeOfBirth", &reading.place_of_birth, truth.place_of_birth.clone()),
        ("dateOfBirth", &reading.date_of_birth, iso(&truth.date_of_birth)),
        ("gender", &reading.gender, gender.to_string()),
        ("bloodType", &reading.blood_type, truth.blood_type.clone()),
        ("address", &reading.address, truth.address.clone()),
        ("rtRw", &reading.rt_rw, truth.rt_rw.clone()),
        ("kelurahan", &reading.kelurahan, truth.kelurahan.clone()),
        ("kecamatan", &reading.kecamatan, truth.kecamatan.clone()),
        ("religion", &reading.religion, truth.religion.clone()),
        ("maritalStatus", &reading.marital_status, truth.marital_status.clone()),
        ("occupation", &reading.occupation, truth.occupation.clone()),
        ("nationality", &reading.nationality, truth.nationality.clone()),
        ("validUntil", &reading.valid_until, truth.valid_until.clone()),
        ("issueDate", &reading.issue_date, iso(&truth.issue_date)),
    ];
    expected
        .into_iter()
        .filter(|(_, read, want)| value(read) != *want)
        .map(|(name, read, want)| (name, value(read), want))
        .collect()
}

#[test]
fn every_field_of_clean_and_degraded_cards_is_read() {
    let variants: [&[Degradation]; 4] =
        [&[], &[Degradation::Blur(1.2)], &[Degradation::Jpeg(50)], &[Degradation::Rotate(2.0), Degradation::Jpeg(80)]];
    for (seed, variant) in variants.iter().enumerate() {
        let truth = KtpFields::sample(seed as u64);
        let card = degrade(&render_card(&truth, "faces/obama_2.jpg"), variant);
        let reading = read(&card);
        assert_eq!(mismatches(&reading, &truth), vec![], "seed {seed}, {variant:?}");
        assert_eq!(validate_fields(&reading, 2026), vec![], "seed {seed}, {variant:?}");
        assert!(reading.nik.as_ref().unwrap().confidence > 0.8);
    }
}

#[test]
fn a_blank_card_reads_nothing() {
    let blank = image::RgbImage::from_pixel(CARD_WIDTH, 638, image::Rgb([200, 225, 240]));
    assert!(engine().read(&blank).unwrap().is_empty());
}
