use super::*;
use crate::ktp::{OcrLine, Reading};
use serde_json::json;

fn card_frame(i: usize, rgb: [f32; 3], highlight: Option<[f32; 2]>, shift: f32) -> CardFrameMeasure {
    CardFrameMeasure {
        sha256: format!("hash{i}"),
        card_found: true,
        area_fraction: 0.4,
        corners: [[100.0 + shift, 100.0], [900.0 + shift, 100.0], [900.0 + shift, 600.0], [100.0 + shift, 600.0]],
        card_width: 800.0,
        sharpness: 400.0,
        glare_fraction: 0.01,
        mean_rgb: rgb,
        highlight,
        brightness: brightness_with_glint(highlight, 150.0, 90.0),
        colour_spread: 0.08,
        moire_ratio: Some(5.0),
        thumbnail: vec![0.6, 0.8],
        hologram: foil(i as f32),
        hologram_glare: 0.0,
    }
}

/// A card of even grey `level` whose laminate, where `glint` is, lifts a block of 2 × 2 cells
/// by `rise` grey levels.
fn brightness_with_glint(glint: Option<[f32; 2]>, level: f32, rise: f32) -> Vec<f32> {
    let mut grid = vec![level; BRIGHTNESS_COLUMNS * BRIGHTNESS_ROWS];
    if let Some([u, v]) = glint {
        let (column, row) = ((u * BRIGHTNESS_COLUMNS as f32) as usize, (v * BRIGHTNESS_ROWS as f32) as usize);
        for (dc, dr) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
            grid[(row + dr) * BRIGHTNESS_COLUMNS + column + dc] = level + rise;
        }
    }
    grid
}

/// A hologram's colour pattern seen from the `angle`-th tilt.
fn foil(angle: f32) -> Vec<f32> {
    (0..32).map(|k| 0.04 * (k as f32 * 0.7 + angle * 1.5).sin()).collect()
}

const COLORS: [[u8; 3]; 4] = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]];

fn samples() -> Vec<FlashSample> {
    COLORS.iter().enumerate().map(|(i, c)| FlashSample { frame_index: i, color: *c }).collect()
}

fn original() -> Vec<CardFrameMeasure> {
    COLORS
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let rgb = [180.0 + 0.2 * f32::from(c[0]), 200.0 + 0.2 * f32::from(c[1]), 210.0 + 0.1 * f32::from(c[2])];
            card_frame(i, rgb, Some([0.2 + 0.1 * i as f32, 0.3]), i as f32 * 3.0)
        })
        .collect()
}

#[test]
fn an_original_card_passes_every_anti_spoof_voter() {
    let frames = original();
    let voters: Vec<Voter> = [
        Some(capture_quality(&frames, &KtpReading::default())),
        flash_reflectance(&frames, &samples()),
        specular_check(&frames),
        print_colour(&frames),
        screen_moire(&frames),
        multi_frame_consistency(&frames),
    ]
    .into_iter()
    .flatten()
    .collect();
    assert_eq!(voters.len(), 6);
    assert!(voters.iter().all(|v| v.succeeded()), "{voters:?}");
    assert_eq!(fuse_anti_spoof(&voters), AntiSpoof::Live);
    assert_eq!(assurance(AntiSpoof::Live, Tamper::Authentic, &voters), AssuranceTier::High);
    let without_flash: Vec<Voter> = voters.iter().filter(|v| v.name != "flash_reflectance").cloned().collect();
    assert_eq!(assurance(AntiSpoof::Live, Tamper::Authentic, &without_flash), AssuranceTier::Standard);
}

#[test]
fn a_highlight_that_moves_passes_specular_and_none_abstains() {
    let voter = specular_check(&original()).unwrap();
    assert!(voter.succeeded() && voter.score.is_some_and(|s| s >= 1.0), "{voter:?}");
    // A matte laminate or a steady light: nothing changes between frames, nothing to judge.
    let mut matte = original();
    for f in &mut matte {
        f.highlight = None;
        f.brightness = brightness_with_glint(None, 150.0, 0.0);
    }
    let voter = specular_check(&matte).unwrap();
    assert_eq!(voter.passed, None, "{voter:?}");
    assert_eq!(fuse_anti_spoof(&[voter]), AntiSpoof::Unclear);
    // A saturated glint printed or shown in one place in every frame: a picture of a glint.
    let mut fixed = original();
    for f in &mut fixed {
        f.highlight = Some([0.5, 0.5 + 0.01]);
        f.brightness = brightness_with_glint(Some([0.5, 0.5]), 150.0, 100.0);
    }
    let voter = specular_check(&fixed).unwrap();
    assert!(voter.failed(), "{voter:?}");
    assert_eq!(fuse_anti_spoof(&[voter]), AntiSpoof::Spoof);
    // One frame cannot show a change: the voter does not run.
    assert!(specular_check(&original()[..1]).is_none());
}

#[test]
fn the_specular_thresholds_are_relative_to_the_card_and_the_flash() {
    let with_rise = |level: f32, rise: f32| {
        let frames: Vec<_> = original()
            .into_iter()
            .enumerate()
            .map(|(i, f)| CardFrameMeasure {
                highlight: None,
                brightness: brightness_with_glint(Some([0.2 + 0.1 * i as f32, 0.3]), level, rise),
                ..f
            })
            .collect();
        specular_check(&frames).unwrap().passed
    };
    // A grey card: the threshold is a quarter of the headroom to white.
    let headroom = HIGHLIGHT_RISE_HEADROOM * (255.0 - 150.0);
    assert_eq!((with_rise(150.0, headroom * 1.1), with_rise(150.0, headroom * 0.9)), (Some(true), None));
    // A bright card: the absolute floor holds.
    assert_eq!(
        (with_rise(245.0, HIGHLIGHT_RISE_MIN * 1.1), with_rise(245.0, HIGHLIGHT_RISE_MIN * 0.9)),
        (Some(true), None)
    );
    // A flash that lifts the card by 120 grey levels between frames raises the bar to 60.
    let flashed = |rise: f32| {
        let frames: Vec<_> = original()
            .into_iter()
            .enumerate()
            .map(|(i, f)| {
                let level = if i % 2 == 0 { 60.0 } else { 180.0 };
                CardFrameMeasure {
                    highlight: None,
                    brightness: brightness_with_glint(Some([0.2 + 0.1 * i as f32, 0.3]), level, rise),
                    ..f
                }
            })
            .collect();
        specular_check(&frames).unwrap().passed
    };
    let bar = HIGHLIGHT_RISE_FLASH * 120.0;
    assert_eq!((flashed(bar * 1.1), flashed(bar * 0.9)), (Some(true), None));
    // Light that changes over most of the card is not a highlight.
    let frames: Vec<_> = original()
        .into_iter()
        .enumerate()
        .map(|(i, f)| {
            let mut brightness = brightness_with_glint(None, 150.0, 0.0);
            let lit = (BRIGHTNESS_COLUMNS * BRIGHTNESS_ROWS) as f32 * (HIGHLIGHT_AREA_MAX + 0.05);
            if i == 1 {
                brightness.iter_mut().take(lit as usize).for_each(|b| *b += 80.0);
            }
            CardFrameMeasure { highlight: None, brightness, ..f }
        })
        .collect();
    assert_eq!(specular_check(&frames).unwrap().passed, None);
}

#[test]
fn a_monochrome_copy_fails_print_colour() {
    let voter = print_colour(&original()).unwrap();
    assert!(voter.succeeded(), "{voter:?}");
    let tinted = |spread: f32| {
        let mut frames = original();
        frames[2].colour_spread = spread;
        print_colour(&frames).unwrap().passed
    };
    assert_eq!((tinted(COLOUR_SPREAD_MIN * 1.1), tinted(COLOUR_SPREAD_MIN * 0.9)), (Some(true), Some(false)));
    let no_card: Vec<_> = original().into_iter().map(|f| CardFrameMeasure { card_found: false, ..f }).collect();
    assert!(print_colour(&no_card).is_none());
}

#[test]
fn a_replayed_still_fails_flash_motion_and_copies() {
    let mut frames = original();
    for (i, f) in frames.iter_mut().enumerate() {
        f.mean_rgb = [190.0 + i as f32 * 0.1, 200.0, 210.0];
        f.corners = original()[0].corners;
    }
    assert!(!flash_reflectance(&frames, &samples()).unwrap().succeeded());
    let motion = multi_frame_consistency(&frames).unwrap();
    assert!(!motion.succeeded() && motion.reason.contains("frozen"), "{motion:?}");
    frames[1].sha256 = frames[0].sha256.clone();
    assert!(multi_frame_consistency(&frames).unwrap().reason.contains("byte-identical"));
    let mut swapped = original();
    swapped[2].thumbnail = vec![0.8, -0.6];
    assert!(!multi_frame_consistency(&swapped).unwrap().succeeded());
}

/// A card's print as a zero-mean, unit-norm structure thumbnail; `card` picks which card.
fn print_map(card: f32) -> Vec<f32> {
    let raw: Vec<f32> = (0..THUMBNAIL_COLUMNS * THUMBNAIL_ROWS)
        .map(|t| (t as f32 * 0.37 * card).sin() + (t as f32 * 0.011 * card).cos())
        .collect();
    let mean = raw.iter().sum::<f32>() / raw.len() as f32;
    let norm = raw.iter().map(|v| (v - mean).powi(2)).sum::<f32>().sqrt();
    raw.iter().map(|v| (v - mean) / norm).collect()
}

#[test]
fn glare_washing_out_part_of_the_print_is_not_another_card() {
    // Frame 1 under a broad glare over the card's top-left quarter: the print is washed out
    // there (flat), and the brightness grid shows the light.
    let glared = |frames: &mut Vec<CardFrameMeasure>| {
        let f = &mut frames[1];
        for row in 0..THUMBNAIL_ROWS / 2 {
            for column in 0..THUMBNAIL_COLUMNS / 2 {
                f.thumbnail[row * THUMBNAIL_COLUMNS + column] = 0.0;
            }
        }
        for row in 0..BRIGHTNESS_ROWS / 2 {
            for column in 0..BRIGHTNESS_COLUMNS / 2 {
                f.brightness[row * BRIGHTNESS_COLUMNS + column] += 80.0;
            }
        }
    };
    let mut frames = original();
    frames
        .iter_mut()
        .for_each(|f| (f.thumbnail, f.brightness) = (print_map(1.0), brightness_with_glint(None, 150.0, 0.0)));
    glared(&mut frames);
    let voter = multi_frame_consistency(&frames).unwrap();
    assert!(voter.succeeded(), "{voter:?}");
    // Without the brightness grids to show where the light fell, the washed-out print looks
    // like another card.
    let mut blind = frames.clone();
    blind.iter_mut().for_each(|f| f.brightness.clear());
    let voter = multi_frame_consistency(&blind).unwrap();
    assert!(voter.failed() && voter.score.is_some_and(|s| s < SAME_CARD_MIN), "{voter:?}");
    // Another card in one frame is still another card, glare or not.
    frames[2].thumbnail = print_map(2.3);
    assert!(multi_frame_consistency(&frames).unwrap().failed());
}

#[test]
fn moire_and_quality_thresholds_hold_on_both_sides() {
    let mut frames = original();
    for f in &mut frames {
        f.moire_ratio = Some(CARD_MOIRE_PEAK_MAX + 1.0);
    }
    assert!(!screen_moire(&frames).unwrap().succeeded());
    // The best frame decides: one good frame among poor ones passes.
    let unread = KtpReading::default();
    let mut poor = original();
    poor[1].sharpness = CARD_SHARPNESS_MIN - 1.0;
    poor[2].glare_fraction = GLARE_FRACTION_MAX + 0.01;
    poor[3].card_found = false;
    assert!(capture_quality(&poor, &unread).succeeded());
    // No good frame: failed, frame by frame, with what to fix for a retake.
    poor[0].sharpness = CARD_SHARPNESS_MIN - 1.0;
    let voter = capture_quality(&poor, &unread);
    assert!(voter.failed());
    assert!(voter.reason.contains("frame 1: blurred") && voter.reason.contains("frame 2: glare"), "{voter:?}");
    assert!(voter.reason.contains("frame 3: no card"));
    assert!(voter.reason.contains("retake: hold still, tilt away from the light"), "{voter:?}");
    assert_eq!(fuse_anti_spoof(&[voter.clone(), specular_check(&original()).unwrap()]), AntiSpoof::Unclear);
    // ... unless every field was read with high confidence anyway: then it cannot judge.
    let voter = capture_quality(&poor, &reading());
    assert_eq!(voter.passed, None, "{voter:?}");
    let mut doubtful = reading();
    doubtful.full_name = Some(Reading { value: "BUDI".into(), confidence: READING_CONFIDENCE_MIN - 0.01 });
    assert!(capture_quality(&poor, &doubtful).failed());
    let mut small = original();
    for frame in &mut small {
        frame.area_fraction = CARD_AREA_FRACTION_MIN - 0.01;
    }
    let voter = capture_quality(&small, &unread);
    assert!(voter.failed() && voter.reason.contains("retake: move closer"), "{voter:?}");
}

fn reading() -> KtpReading {
    let r = |v: &str| Some(Reading { value: v.into(), confidence: 0.95 });
    KtpReading {
        province: r("JAWA BARAT"),
        regency: r("KOTA BANDUNG"),
        nik: r("3273016204830001"),
        full_name: r("SITI RAHAYU"),
        place_of_birth: r("BANDUNG"),
        date_of_birth: r("1983-04-22"),
        gender: r("female"),
        blood_type: r("AB"),
        address: r("JL. MERDEKA NO. 10"),
        rt_rw: r("003/007"),
        kelurahan: r("BABAKAN"),
        kecamatan: r("BANDUNG KULON"),
        religion: r("ISLAM"),
        marital_status: r("KAWIN"),
        occupation: r("KARYAWAN SWASTA"),
        nationality: r("WNI"),
        valid_until: r("SEUMUR HIDUP"),
        issue_date: r("2015-06-12"),
    }
}

#[test]
fn tamper_voters_pass_a_consistent_card_and_catch_a_contradicting_nik() {
    let good = reading();
    assert!(nik_consistency(&good, 2026).succeeded());
    assert!(field_format(&good, 2026).succeeded());
    let mut forged = reading();
    // Day 22 + 40 says female; 22 alone says male: the NIK contradicts the printed gender.
    forged.nik = Some(Reading { value: "3273012204830001".into(), confidence: 0.9 });
    let voter = nik_consistency(&forged, 2026);
    assert!(voter.failed(), "{voter:?}");
    assert_eq!(fuse_tamper(&[voter, field_format(&forged, 2026)]), Tamper::Tampered);
    let mut malformed = reading();
    malformed.rt_rw = Some(Reading { value: "3/7".into(), confidence: 0.9 });
    let format = field_format(&malformed, 2026);
    assert!(!format.succeeded() && format.reason.contains("rtRw"), "{format:?}");
    assert_eq!(fuse_tamper(&[nik_consistency(&malformed, 2026), format]), Tamper::Unclear);
}

#[test]
fn ocr_consistency_compares_field_by_field_with_tolerance_for_free_text() {
    let good = reading();
    assert!(ocr_consistency(&good, None).is_none());
    assert!(ocr_consistency(&good, Some(&json!({}))).is_none());
    let agreeing = json!({"nik": "3273016204830001", "fullName": "Siti  Rahayu", "dateOfBirth": "22-04-1983",
                          "gender": "PEREMPUAN", "address": "JL. MERDEKA N0. 10"});
    let voter = ocr_consistency(&good, Some(&agreeing)).unwrap();
    assert!(voter.succeeded(), "{voter:?}");
    let differing = json!({"nik": "3273016204830002", "fullName": "BUDI SANTOSO"});
    let voter = ocr_consistency(&good, Some(&differing)).unwrap();
    assert!(!voter.succeeded() && voter.reason.contains("nik") && voter.reason.contains("fullName"), "{voter:?}");
    assert_eq!(voter.score, Some(0.0));
}

/// One face in a photo with the place and date of issue centred under it and clear of it.
fn printed_portrait() -> PortraitMeasure {
    PortraitMeasure {
        faces: 1,
        face_box: Some([0.8, 0.25, 0.92, 0.45]),
        frame: [Some(0.76), Some(0.19), Some(0.97), Some(0.63)],
        caption: Caption::Read { offset: Some(0.004), gap: Some(0.4) },
    }
}

#[test]
fn a_portrait_must_sit_over_its_own_caption() {
    let genuine = printed_portrait();
    assert!(photo_substitution(&genuine).succeeded());
    let with_caption = |offset, gap| PortraitMeasure { caption: Caption::Read { offset, gap }, ..printed_portrait() };
    // Each side of the centring tolerance, either way.
    for sign in [1.0, -1.0] {
        assert!(photo_substitution(&with_caption(Some(sign * CAPTION_OFFSET_MAX * 0.9), Some(0.4))).succeeded());
        let off = photo_substitution(&with_caption(Some(sign * CAPTION_OFFSET_MAX * 1.1), Some(0.4)));
        assert!(off.failed() && off.reason.contains("not centred"), "{off:?}");
    }
    // Each side of the least gap to the photo's lower edge, and a photo over the line.
    assert!(photo_substitution(&with_caption(Some(0.0), Some(CAPTION_GAP_MIN * 1.1))).succeeded());
    for gap in [CAPTION_GAP_MIN * 0.9, -0.3] {
        let touching = photo_substitution(&with_caption(Some(0.0), Some(gap)));
        assert!(touching.failed() && touching.reason.contains("runs into"), "{touching:?}");
    }
    // A lower edge not found leaves the centring to judge.
    assert!(photo_substitution(&with_caption(Some(0.0), None)).succeeded());
    // The place of issue covered: failed whatever else was measured.
    let covered = photo_substitution(&PortraitMeasure { caption: Caption::PlaceMissing, ..printed_portrait() });
    assert!(covered.failed() && covered.reason.contains("covered"), "{covered:?}");
    // Nothing to judge the photo against: abstains rather than failing a genuine card.
    let unread = photo_substitution(&PortraitMeasure { caption: Caption::Unread, ..printed_portrait() });
    assert_eq!(unread.passed, None, "{unread:?}");
    let sideless = photo_substitution(&with_caption(None, Some(0.4)));
    assert_eq!(sideless.passed, None, "{sideless:?}");
    // But the wrong number of faces always fails.
    assert!(photo_substitution(&PortraitMeasure { faces: 2, ..genuine.clone() }).failed());
    assert!(photo_substitution(&PortraitMeasure { faces: 0, face_box: None, ..genuine }).failed());
}

#[test]
fn low_assurance_whenever_a_fused_check_fails() {
    assert_eq!(assurance(AntiSpoof::Spoof, Tamper::Authentic, &[]), AssuranceTier::Low);
    assert_eq!(assurance(AntiSpoof::Live, Tamper::Unclear, &[]), AssuranceTier::Low);
    assert_eq!(assurance(AntiSpoof::Unclear, Tamper::Authentic, &[]), AssuranceTier::Low);
}

/// Label boxes where the synthetic template prints them (1012 × 638).
fn template_labels() -> Vec<OcrLine> {
    let labels = [
        "Nama",
        "Tempat/Tgl Lahir",
        "Jenis Kelamin",
        "Alamat",
        "RT/RW",
        "Kel/Desa",
        "Kecamatan",
        "Agama",
        "Status Perkawinan",
        "Pekerjaan",
        "Kewarganegaraan",
        "Berlaku Hingga",
    ];
    let mut lines =
        vec![OcrLine { text: "NIK".into(), confidence: 0.9, left: 30.0, top: 106.0, right: 90.0, bottom: 136.0 }];
    for (i, label) in labels.iter().enumerate() {
        let top = 160.0 + 36.0 * i as f32;
        lines.push(OcrLine {
            text: (*label).into(),
            confidence: 0.9,
            left: 29.0,
            top,
            right: 200.0,
            bottom: top + 32.0,
        });
    }
    lines
}

/// The template's NIK type as the capture pipeline measures it.
const NIK_TYPE: TypefaceMeasure = TypefaceMeasure {
    digit_height: 25.3,
    pitch: 0.79,
    stem: 0.26,
    bar: 0.24,
    ocr_a: Some(0.4),
    grotesque: Some(0.9),
    serif: Some(0.8),
    text_height: None,
};

#[test]
fn font_match_holds_the_template_layout_on_both_sides() {
    let good = template_labels();
    let voter = font_match(&good, 1012.0, 638.0, Some(&NIK_TYPE));
    assert!(voter.succeeded(), "{voter:?}");
    let mut indented = good.clone();
    indented[4].left += 40.0;
    let voter = font_match(&indented, 1012.0, 638.0, Some(&NIK_TYPE));
    assert!(!voter.succeeded() && voter.reason.contains("not aligned"), "{voter:?}");
    // One label just within and just beyond the column's tolerance.
    let nudged = |by: f32| {
        let mut lines = good.clone();
        lines[4].left += by * 1012.0;
        font_match(&lines, 1012.0, 638.0, Some(&NIK_TYPE)).succeeded()
    };
    assert!(nudged(LABEL_ALIGN_TOLERANCE * 0.9) && !nudged(LABEL_ALIGN_TOLERANCE * 1.1));
    // The whole column wherever a print batch puts it near the left edge, but not beyond.
    let column_at = |left: f32| {
        let lines: Vec<OcrLine> = good.iter().map(|l| OcrLine { left: left * 1012.0, ..l.clone() }).collect();
        font_match(&lines, 1012.0, 638.0, Some(&NIK_TYPE))
    };
    assert!(column_at(0.005).succeeded() && column_at(LABEL_COLUMN_MAX * 0.95).succeeded());
    let voter = column_at(LABEL_COLUMN_MAX * 1.05);
    assert!(!voter.succeeded() && voter.reason.contains("left edge"), "{voter:?}");
    let mut spread = good.clone();
    for (i, line) in spread.iter_mut().enumerate().skip(6) {
        line.top += 8.0 * i as f32;
    }
    assert!(!font_match(&spread, 1012.0, 638.0, Some(&NIK_TYPE)).succeeded());
    // Every row 18% further apart (a batch printed looser, or a rectification a little off):
    // even, so the card's own pitch holds; 30% is not a KTP's.
    let scaled = |factor: f32| -> Vec<OcrLine> {
        good.iter().map(|l| OcrLine { top: 160.0 + (l.top - 160.0) * factor, ..l.clone() }).collect()
    };
    assert!(font_match(&scaled(1.18), 1012.0, 638.0, Some(&NIK_TYPE)).succeeded());
    let voter = font_match(&scaled(1.3), 1012.0, 638.0, Some(&NIK_TYPE));
    assert_eq!((voter.passed, voter.reason.as_str()), (Some(false), "the field rows are not spaced as on a KTP"));
    let small_nik = TypefaceMeasure { digit_height: 16.5, ..NIK_TYPE };
    let voter = font_match(&good, 1012.0, 638.0, Some(&small_nik));
    assert_eq!(
        (voter.passed, voter.reason.as_str()),
        (Some(false), "the NIK is not printed in the template's larger type")
    );
    assert!(!font_match(&good[..5], 1012.0, 638.0, Some(&NIK_TYPE)).succeeded());
    // The layout right, the NIK's type not: a NIK printed again in another face.
    let thin = TypefaceMeasure { stem: 0.13, bar: 0.125, ..NIK_TYPE };
    let voter = font_match(&good, 1012.0, 638.0, Some(&thin));
    assert_eq!((voter.passed, voter.reason.as_str()), (Some(false), "the NIK's strokes are not the template's weight"));
    let voter = font_match(&good, 1012.0, 638.0, None);
    assert_eq!((voter.passed, voter.reason.as_str()), (Some(false), "the NIK's typeface could not be measured"));
    // A failed layout alone makes the capture unclear, not tampered.
    assert_eq!(
        fuse_tamper(&[nik_consistency(&reading(), 2026), font_match(&good[..5], 1012.0, 638.0, Some(&NIK_TYPE))]),
        Tamper::Unclear
    );
}

#[test]
fn the_hologram_must_show_colours_that_move() {
    let frames = original();
    let voter = hologram_check(&frames).unwrap();
    assert!(voter.succeeded(), "{voter:?}");
    // No foil colour at all (a batch whose foil shows none under this light, or a copy):
    // nothing to judge, so the voter abstains and the tamper check does not count it.
    let copy: Vec<_> = frames.iter().cloned().map(|f| CardFrameMeasure { hologram: vec![0.001; 32], ..f }).collect();
    let voter = hologram_check(&copy).unwrap();
    assert_eq!(voter.passed, None, "{voter:?}");
    assert!(voter.reason.contains("cannot judge"), "{voter:?}");
    assert_eq!(fuse_tamper(&[nik_consistency(&reading(), 2026), voter]), Tamper::Authentic);
    // Printed colours (or a screen): the same pattern in every frame.
    let printed: Vec<_> = frames.iter().cloned().map(|f| CardFrameMeasure { hologram: foil(0.0), ..f }).collect();
    let voter = hologram_check(&printed).unwrap();
    assert!(!voter.succeeded() && voter.reason.starts_with("no reflective specular ring"), "{voter:?}");
    // Just above and below the shift threshold.
    let shifted = |delta: f32| {
        let mut pair = vec![frames[0].clone(), frames[1].clone()];
        pair[1].hologram =
            pair[0].hologram.iter().enumerate().map(|(k, v)| v + if k % 2 == 0 { delta } else { -delta }).collect();
        hologram_check(&pair).unwrap().succeeded()
    };
    assert!(shifted(HOLOGRAM_SHIFT_MIN * 1.1) && !shifted(HOLOGRAM_SHIFT_MIN * 0.9));
    // Glare over the box in all but one frame.
    let mut glared = frames.clone();
    glared.iter_mut().skip(1).for_each(|f| f.hologram_glare = HOLOGRAM_GLARE_MAX + 0.1);
    let voter = hologram_check(&glared).unwrap();
    assert_eq!((voter.passed, voter.reason.as_str()), (Some(false), "glare on the laminate hides the hologram"));
    assert!(hologram_check(&frames[..1]).is_none());
    // A hologram that fails leaves the tamper check unclear (review), not tampered.
    assert_eq!(fuse_tamper(&[nik_consistency(&reading(), 2026), hologram_check(&printed).unwrap()]), Tamper::Unclear);
}

#[test]
fn a_card_of_another_nik_than_the_customers_goes_to_review() {
    assert!(customer_nik(None).is_none());
    assert!(customer_nik(Some(true)).is_some_and(|v| v.succeeded()));
    let mismatch = customer_nik(Some(false)).unwrap();
    assert!(!mismatch.succeeded());
    assert_eq!(fuse_tamper(&[nik_consistency(&reading(), 2026), mismatch]), Tamper::Unclear);
}

#[test]
fn the_answer_shows_each_field_as_a_string_with_confidences_beside() {
    let mut read = reading();
    read.nik = Some(Reading { value: "3273016204830001".into(), confidence: 0.97 });
    read.blood_type = None;
    let ocr = reading_json(&read);
    assert_eq!(ocr["nik"], json!("3273016204830001"));
    assert_eq!(ocr["fullName"], json!("SITI RAHAYU"));
    assert_eq!(ocr["dateOfBirth"], json!("1983-04-22"));
    assert!(ocr["bloodType"].is_null() && ocr.as_object().unwrap().contains_key("bloodType"));
    let confidence = reading_confidence_json(&read);
    assert_eq!(confidence["nik"], json!(0.97));
    assert_eq!(confidence["fullName"], json!(0.95));
    assert!(confidence["bloodType"].is_null());
    // The same keys in both, the names KtpReading serialises with; nothing but strings in one
    // and numbers in the other.
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    let stored = serde_json::to_value(&read).unwrap();
    assert_eq!(keys(&ocr), keys(&stored));
    assert_eq!(keys(&confidence), keys(&stored));
    assert_eq!(keys(&ocr).len(), 18);
    for (field, value) in ocr.as_object().unwrap() {
        assert!(value.is_string() || (field == "bloodType" && value.is_null()), "{field}: {value}");
    }
    for (field, value) in confidence.as_object().unwrap() {
        let c = value.as_f64();
        assert!(c.is_some_and(|c| (0.0..=1.0).contains(&c)) || field == "bloodType", "{field}: {value}");
    }
    // KtpReading itself still serialises each field as {value, confidence}: what is stored.
    assert_eq!(stored["nik"]["value"], json!("3273016204830001"));
    assert_eq!(reading_json(&KtpReading::default())["nik"], Value::Null);
}

#[test]
fn the_native_faith_religion_passes_the_field_format_check() {
    let mut read = reading();
    read.religion = Some(Reading { value: "KEPERCAYAAN TERHADAP TUHAN YME".into(), confidence: 0.9 });
    let voter = field_format(&read, 2026);
    assert!(voter.succeeded(), "{voter:?}");
    // The SDK may spell it out; that is the same religion.
    let sdk = json!({"religion": "Kepercayaan Terhadap Tuhan Yang Maha Esa"});
    let voter = ocr_consistency(&read, Some(&sdk)).unwrap();
    assert!(voter.succeeded(), "{voter:?}");
    read.religion = Some(Reading { value: "KEPERCAYAAN".into(), confidence: 0.9 });
    let voter = field_format(&read, 2026);
    assert!(!voter.succeeded() && voter.reason.contains("religion"), "{voter:?}");
}

#[test]
fn fusion_reads_the_role_not_the_name() {
    let new = |role, passed| Voter::new("a_new_voter", role, passed, "", None);
    let attack = |passed| SPECULAR_CHECK.vote(passed, "", None);
    assert_eq!(fuse_anti_spoof(&[attack(true), new(Role::Attack, true)]), AntiSpoof::Live);
    assert_eq!(fuse_anti_spoof(&[attack(true), new(Role::Attack, false)]), AntiSpoof::Spoof);
    assert_eq!(fuse_anti_spoof(&[attack(true), attack(true), new(Role::Quality, false)]), AntiSpoof::Unclear);
    // One attack voter is not enough to call a card live, whatever it is called.
    assert_eq!(fuse_anti_spoof(&[attack(true), new(Role::Quality, true)]), AntiSpoof::Unclear);
    let nik = NIK_CONSISTENCY.vote(true, "", None);
    assert_eq!(fuse_tamper(&[nik.clone(), new(Role::Contradiction, true)]), Tamper::Authentic);
    assert_eq!(fuse_tamper(&[nik.clone(), new(Role::Contradiction, false)]), Tamper::Tampered);
    assert_eq!(fuse_tamper(&[nik.clone(), new(Role::Suspicion, false)]), Tamper::Unclear);
    assert_eq!(fuse_tamper(&[nik, new(Role::Quality, false)]), Tamper::Unclear);
    // Without the required NIK check nothing is authentic.
    assert_eq!(fuse_tamper(&[new(Role::Contradiction, true)]), Tamper::Unclear);
    // Two failed attack voters of any name fail the bundle outright; two failed others do not.
    let judgement = |anti_spoof_voters: Vec<Voter>| Judgement {
        anti_spoof: fuse_anti_spoof(&anti_spoof_voters),
        anti_spoof_voters,
        tamper_voters: Vec::new(),
        tamper: Tamper::Authentic,
        assurance: AssuranceTier::Low,
    };
    let failed = judgement(vec![new(Role::Attack, false), attack(false)]);
    assert_eq!(failed.anti_spoof, AntiSpoof::Spoof);
    assert_eq!(verdict(&failed, 5), crate::verification::KtpVerdict::Failed);
    let poor = judgement(vec![new(Role::Quality, false), new(Role::Suspicion, false), attack(true)]);
    assert_eq!(verdict(&poor, 5), crate::verification::KtpVerdict::RequiresReview);
}

#[test]
fn every_voter_the_judge_emits_sits_in_its_table() {
    let labels = template_labels();
    let portrait = printed_portrait();
    let sdk = json!({"nik": "3273016204830001"});
    let (good_frames, good_reading) = (original(), reading());
    let mut bad_frames = original();
    bad_frames.iter_mut().for_each(|f| (f.sharpness, f.highlight, f.moire_ratio) = (0.0, None, Some(99.0)));
    let mut bad_reading = reading();
    bad_reading.rt_rw = Some(Reading { value: "3/7".into(), confidence: 0.9 });
    let evidence = |frames, reading, matches| Evidence {
        frames,
        samples: &[],
        reading,
        lines: &labels,
        card_size: [1012.0, 638.0],
        portrait: &portrait,
        nik_type: Some(&NIK_TYPE),
        sdk_fields: Some(&sdk),
        reference_year: 2026,
        card_matches_customer: Some(matches),
    };
    let samples = samples();
    let good = judge(&Evidence { samples: &samples, ..evidence(&good_frames, &good_reading, true) });
    assert_eq!(
        (good.anti_spoof, good.tamper, good.assurance),
        (AntiSpoof::Live, Tamper::Authentic, AssuranceTier::High)
    );
    let bad = judge(&Evidence { samples: &samples[..2], ..evidence(&bad_frames, &bad_reading, false) });
    assert_eq!((bad.anti_spoof, bad.tamper), (AntiSpoof::Spoof, Tamper::Unclear));
    // Every seat filled in both captures, each voter with its table's role.
    let check = |emitted: &[Voter], table: &[Seat]| {
        assert_eq!(emitted.len(), table.len(), "{emitted:?}");
        for voter in emitted {
            let seat = table.iter().find(|s| s.name == voter.name);
            assert_eq!(seat.map(|s| s.role), Some(voter.role), "{voter:?}");
        }
    };
    for judgement in [&good, &bad] {
        check(&judgement.anti_spoof_voters, &ANTI_SPOOF_VOTERS);
        check(&judgement.tamper_voters, &TAMPER_VOTERS);
    }
    assert!(bad.anti_spoof_voters.iter().chain(&bad.tamper_voters).any(|v| !v.succeeded() && v.role == Role::Attack));
    assert!(
        bad.tamper_voters.iter().all(|v| v.succeeded() || v.role != Role::Contradiction),
        "{:?}",
        bad.tamper_voters
    );
}
