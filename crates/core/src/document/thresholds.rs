//! Every KTP voter threshold, in one documented place.

/// `capture_quality`: the card's area as a fraction of the frame's.
pub const CARD_AREA_FRACTION_MIN: f32 = 0.25;
/// `capture_quality`: variance of the Laplacian over the rectified card (grey levels²), at
/// 1012 px wide. Printed text is dense edges: a sharp card measures in the hundreds.
pub const CARD_SHARPNESS_MIN: f32 = 60.0;
/// `capture_quality`: fraction of the card that is saturated glare; above hides fields.
pub const GLARE_FRACTION_MAX: f32 = 0.06;
/// `capture_quality`: the least OCR confidence of every one of the 18 fields for a capture
/// with no good frame to count as read well anyway (the voter then abstains). PP-OCR's line
/// confidences on clean synthetic cards sit at 0.95–1.0; a misread line rarely passes 0.9.
/// Provisional: to be set on the calibration family of the randomised renderer.
pub const READING_CONFIDENCE_MIN: f32 = 0.9;
/// `flash_reflectance`: as for faces, correlation of the card's colour change with the
/// challenge colours, and the least RMS colour movement (grey levels).
pub const CARD_FLASH_CORRELATION_MIN: f32 = 0.5;
pub const CARD_FLASH_RESPONSE_MIN: f32 = 2.0;
pub const CARD_FLASH_SAMPLES_MIN: usize = 3;
pub const CARD_FLASH_COLORS_MIN: usize = 2;
/// `specular_check`, the fixed-highlight case: a saturated highlight is this fraction of the
/// card or more; one that stays within `HIGHLIGHT_TRAVEL_MIN` (fraction of the card's width)
/// in every frame is a picture of a glint, not a laminate's.
pub const HIGHLIGHT_FRACTION_MIN: f32 = 0.0005;
pub const HIGHLIGHT_TRAVEL_MIN: f32 = 0.04;
/// `specular_check`: the rectified card's grey levels are averaged over this grid of cells
/// (`CardFrameMeasure::brightness`), about 32 card pixels square.
pub const BRIGHTNESS_COLUMNS: usize = 32;
pub const BRIGHTNESS_ROWS: usize = 20;
/// `specular_check`: a cell is lit by a moving highlight in a frame when, each frame's median
/// taken away (the flash and the exposure lift the whole card alike), it stands above its
/// dimmest frame by the largest of: `HIGHLIGHT_RISE_MIN` grey levels (noise and print moving by
/// a pixel), `HIGHLIGHT_RISE_HEADROOM` of the headroom between the frame's median and white (a
/// bright card has little room to show a glint), and `HIGHLIGHT_RISE_FLASH` of the flash's
/// swing (how far the frames' medians move: a flash that lights the card unevenly).
pub const HIGHLIGHT_RISE_MIN: f32 = 12.0;
pub const HIGHLIGHT_RISE_HEADROOM: f32 = 0.25;
pub const HIGHLIGHT_RISE_FLASH: f32 = 0.5;
/// `specular_check`: a highlight covers at least this fraction of the card's cells (outside the
/// hologram's search box, whose foil changes colour of its own), and at most this (beyond, the
/// light changed over the whole card).
pub const HIGHLIGHT_AREA_MIN: f32 = 0.004;
pub const HIGHLIGHT_AREA_MAX: f32 = 0.35;
/// `print_colour`: the least `CardFrameMeasure::colour_spread` over the frames (the frame the
/// flash tinted least) for a card printed in colour; a monochrome copy shows one tint. Chosen
/// on the calibration family of `bench_ktp --families` (genuine ≥ 0.059, photocopies ≤ 0.021:
/// 0.035 is 1.7× from either side); the held-out family measured genuine ≥ 0.047, photocopies
/// ≤ 0.023.
pub const COLOUR_SPREAD_MIN: f32 = 0.035;
/// `screen_moire`: spectral peak ratio over the portrait (kenali_vision::moire). Synthetic
/// captures of clean cards measure 4.3–5.4, the same cards re-filmed off a display 9.7–9.9
/// (kenali-vision's capture tests); not yet calibrated on real replays.
pub const CARD_MOIRE_PEAK_MAX: f32 = 7.5;
/// `multi_frame_consistency`: the structure thumbnail's grid of cells, row by row
/// (`CardFrameMeasure::thumbnail`, made by kenali_vision::card).
pub const THUMBNAIL_COLUMNS: usize = 64;
pub const THUMBNAIL_ROWS: usize = 40;
/// `multi_frame_consistency`: correlation of each frame's edge map of the card with the
/// first's, leaving out the cells a highlight lit in any frame (glare washes the print out).
/// Frames of one synthetic card measure ≥ 0.96 under changing flash colours and a travelling
/// highlight (≥ 0.994 on the calibration family of `bench_ktp --families`); two different
/// cards (same template, other fields and portrait) up to 0.89 (bench_ktp).
pub const SAME_CARD_MIN: f32 = 0.93;
/// `multi_frame_consistency`: largest corner movement across frames, as a fraction of the
/// card's width. Below: a frozen still. Above: not one steady capture.
pub const CARD_MOTION_MIN: f32 = 0.001;
pub const CARD_MOTION_MAX: f32 = 0.3;
/// `screen_moire`: the KTP template's portrait box, as fractions of the card (left, top,
/// right, bottom), where the display's grid is looked for.
pub const PORTRAIT_BOX: [f32; 4] = [0.761, 0.188, 0.968, 0.627];
/// `photo_substitution`: the place and date of issue sit centred under the portrait within
/// this fraction of the photo's width, and clear of its lower edge by at least this fraction
/// of the date line's height. Chosen on the calibration family of `bench_ktp --families`,
/// with the caption measured from its ink and the photo's sides to a fraction of a pixel:
/// offsets of 100 genuine cards −0.0032 to 0.0121 (a caption is centred by its glyphs'
/// advances, not their ink, and on whole pixels) and of 30 pasted photos ≥ 0.0341 (0.0203 is
/// their geometric mean); gaps of genuine cards ≥ 0.42 (0.2 is about half: a photo that
/// touches the line or covers its top measures 0.1–0.17). Reported on the held-out family in
/// docs/ktp.md.
pub const CAPTION_OFFSET_MAX: f32 = 0.0203;
pub const CAPTION_GAP_MIN: f32 = 0.2;
/// `hologram_check`: the template's hologram (card fractions: left, top, right, bottom),
/// read as a 4×4 grid of chromaticities less their mean (`CardFrameMeasure::hologram`).
/// A diffractive foil shows rings of colour that move as the card tilts; ink, a photocopy or a
/// screen shows a fixed pattern, or none. Frames where more than `HOLOGRAM_GLARE_MAX` of the
/// box is glare cannot be read (seed 001: glare hiding the hologram). Colourfulness is the
/// pattern's RMS, the shift the largest RMS change of it between two frames. Synthetic
/// captures (kenali_testkit::ktp_scene, kenali-vision's capture tests): an original's
/// frames show colour 0.006–0.011 and shift 0.016; a photocopy's colour is ≤ 0.001; a
/// screen replay's shift 0.0004. On `bench_ktp --families` genuine colour is 0.0038–0.0099
/// (calibration) and 0.0004–0.0085 (held-out, whose foil is absent on one card in four:
/// abstentions), photocopies ≤ 0.0013. The shift is chosen on the calibration family: genuine
/// cards shift at least 0.0038, screen replays at most 0.0003, and 0.0011 is their geometric
/// mean (it was 0.004, from the template's captures, which failed genuine foils of 0.0031 and
/// 0.0038). Not yet calibrated on real cards.
pub const HOLOGRAM_BOX: [f32; 4] = [0.79, 0.78, 0.94, 0.99];
pub const HOLOGRAM_GLARE_MAX: f32 = 0.25;
pub const HOLOGRAM_COLOR_MIN: f32 = 0.004;
pub const HOLOGRAM_SHIFT_MIN: f32 = 0.0011;
/// `font_match`: the labels' layout, as fractions of the card (ID-1, 85.60 × 53.98 mm). The
/// labels are left-aligned in one column of the card's own (the median of their OCR boxes'
/// left edges), which lies within `LABEL_COLUMN_MAX` of the card's left edge (about 10 mm;
/// e-KTPs print it about 3 mm in, and a print batch or the rectification moves it by a
/// millimetre or two), and every label's left edge lies within `LABEL_ALIGN_TOLERANCE` of the
/// column (0.85 mm; `bench_ktp --families` measures at most 0.0026 on calibration cards and
/// 0.0031 on held-out ones: a label printed again or pasted in off the column shows). It was
/// a fixed column, 0.028 ± 0.02, which cards drawn by another renderer fell outside of. Field
/// rows are `ROW_PITCH` of the card's height apart (3.0 mm): the card's own row pitch (the
/// median of its rows') may differ from it by `ROW_PITCH_SPREAD` (print batches, the
/// rectification's scale), and each row from the card's pitch by `ROW_PITCH_TOLERANCE`. The
/// NIK's type is judged by [`crate::typeface::template`].
pub const LABEL_COLUMN_MAX: f32 = 0.12;
pub const LABEL_ALIGN_TOLERANCE: f32 = 0.01;
pub const ROW_PITCH: f32 = 0.0564;
pub const ROW_PITCH_SPREAD: f32 = 0.2;
pub const ROW_PITCH_TOLERANCE: f32 = 0.15;
/// `font_match`: labels that must be found to judge the layout.
pub const LABELS_MIN: usize = 8;
/// `ocr_consistency`: free-text fields may differ by one edit per this many characters
/// (two OCR engines rarely agree on every character); structured fields must be equal.
pub const OCR_CHARS_PER_EDIT: usize = 8;

/// Which side of its threshold a voter's score passes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Passes {
    AtLeast,
    AtMost,
    /// The score's magnitude at most (an offset either way).
    WithinEither,
}

impl Passes {
    /// How far `score` lies on the passing side of `threshold` (negative: that far over it).
    pub fn margin(self, score: f32, threshold: f32) -> f32 {
        match self {
            Passes::AtLeast => score - threshold,
            Passes::AtMost => threshold - score,
            Passes::WithinEither => threshold - score.abs(),
        }
    }
}

/// A KTP voter whose score is the one measure its threshold applies to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SingleThreshold {
    pub voter: &'static str,
    pub threshold: f32,
    pub passes: Passes,
}

/// The KTP voters judged by a single threshold, with it (the benchmark's margins and the
/// dashboard's voter table read this). The others (`capture_quality`, `font_match`, the field
/// checks) judge several measures, each against its own bound. Where one of these failed a
/// capture on a secondary rule (`photo_substitution` on the caption's gap,
/// `multi_frame_consistency` on motion) its score is that rule's measure, and the comparison
/// is only as exact as that: the voter's reason names the rule.
pub const SINGLE_THRESHOLDS: [SingleThreshold; 7] = [
    SingleThreshold { voter: "flash_reflectance", threshold: CARD_FLASH_CORRELATION_MIN, passes: Passes::AtLeast },
    SingleThreshold { voter: "hologram_check", threshold: HOLOGRAM_SHIFT_MIN, passes: Passes::AtLeast },
    SingleThreshold { voter: "multi_frame_consistency", threshold: SAME_CARD_MIN, passes: Passes::AtLeast },
    SingleThreshold { voter: "photo_substitution", threshold: CAPTION_OFFSET_MAX, passes: Passes::WithinEither },
    SingleThreshold { voter: "print_colour", threshold: COLOUR_SPREAD_MIN, passes: Passes::AtLeast },
    SingleThreshold { voter: "screen_moire", threshold: CARD_MOIRE_PEAK_MAX, passes: Passes::AtMost },
    // `specular_check` passes a highlight whose rise is at least its threshold (1 = the rise
    // that lights a cell).
    SingleThreshold { voter: "specular_check", threshold: 1.0, passes: Passes::AtLeast },
];

/// The single threshold a KTP voter named `voter` is held to, if it has one.
pub fn single_threshold(voter: &str) -> Option<SingleThreshold> {
    SINGLE_THRESHOLDS.iter().copied().find(|t| t.voter == voter)
}
