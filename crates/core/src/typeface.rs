//! The typeface half of `font_match`: the NIK's digits as measured on the card (by
//! `kenali_vision::typeface`) against the KTP template's. Each measure is a ratio to the
//! digits' height, so the card's scale drops out.

/// The NIK digits' type as measured on the rectified card.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TypefaceMeasure {
    /// Height of the digits in rectified-card pixels.
    pub digit_height: f32,
    /// Advance from one digit to the next (KTP digits are tabular), over the height.
    pub pitch: f32,
    /// Median thickness of the vertical strokes (horizontal runs of ink), over the height.
    pub stem: f32,
    /// Median thickness of the horizontal strokes and curves (vertical runs of ink), over the
    /// height.
    pub bar: f32,
    /// How closely the digits' shapes follow OCR-A's (median correlation, −1 to 1); `None`
    /// when they could not be compared.
    pub ocr_a: Option<f32>,
    /// How closely they follow a grotesque bold's (Arial's), the e-KTP's own NIK face.
    pub grotesque: Option<f32>,
    /// How closely they follow a serif bold's (Times's), no e-KTP's.
    pub serif: Option<f32>,
    /// The height of the card's field values in capitals, measured as the digits' is;
    /// `None` when none could be measured.
    pub text_height: Option<f32>,
}

/// The NIK type genuine cards are printed in, as ranges of each measure. Genuine NIKs come in
/// a grotesque bold face (Arial Bold, seed 001's "Arial"; its digits are tabular, about 0.78
/// of their height apart), a wider grotesque bold (DejaVu Sans Bold, about 0.93) or OCR-A
/// (ISO 1073-1: as wide, but light and monoline, so known by its digits' shapes); a NIK
/// re-typed by a forger comes in a regular weight, a serif face (narrower, and told by its
/// digits' shapes) or a monospaced typewriter face (as wide as the wide grotesque but
/// lighter). Chosen on the calibration
/// family of `kenali_testkit::ktp_styled` through the capture pipeline (`bench_ktp
/// --families` prints the measures by face), midway between the nearest genuine and forged
/// cards where they do not overlap: genuine Liberation Sans Bold pitch 0.766–0.821, stem
/// 0.195–0.211, bar 0.177–0.203; DejaVu Sans Bold pitch 0.925–0.961, stem 0.250–0.267;
/// re-typed at a regular weight stem 0.122–0.139, bar 0.118–0.133; in Liberation Serif Bold
/// pitch 0.707–0.772; in Liberation Mono Bold pitch 0.889–0.927, stem 0.205–0.226. The
/// held-out family's figures are in `docs/ktp.md`.
pub mod template {
    use std::ops::RangeInclusive;

    /// Digits shorter than this (pixels) are too coarse to judge the type.
    pub const MIN_DIGIT_HEIGHT: f32 = 16.0;
    /// The digits' height over the median height of the labels' OCR boxes: digits of the
    /// fields' own size stand about 0.55 of a label's box, and the NIK is printed larger (on
    /// genuine cards 0.74–0.83 in the calibration family, 0.58–0.86 in the held-out one, whose
    /// NIK type is nearer the fields'). No attack prints the NIK smaller, so this only holds
    /// the measure to the NIK line: it fails a NIK smaller than the fields' type.
    pub const HEIGHT_OVER_LABELS_MIN: f32 = 0.55;
    /// Where the field values' capitals were measured (`TypefaceMeasure::text_height`, the same
    /// band measure as the digits'), the NIK's digits stand at least this much of their height:
    /// no smaller than the fields' type, less the measure's error. The label boxes' ratio above
    /// depends on the text face's ascenders and descenders (held-out faces put the fields' own
    /// digits near 0.47 of a box); this one does not. `bench_ktp --families` with 100 genuine
    /// cards: calibration 1.44–1.72, held-out 0.975–2.42 (a layout that shrank the NIK to fit
    /// before the portrait brings it down to the fields' size).
    pub const HEIGHT_OVER_TEXT_MIN: f32 = 0.9;
    /// Advance from digit to digit of the grotesque bold face when its shapes could not be read;
    /// below it a serif face. On calibration cards the two overlap a little (genuine down to
    /// 0.766, serif up to 0.772): the bound keeps every serif card of the calibration family
    /// out.
    pub const PITCH: RangeInclusive<f32> = 0.773..=0.85;
    /// Advance of the wide grotesque, which is also a monospaced face's.
    pub const WIDE_PITCH: RangeInclusive<f32> = 0.85..=1.0;
    /// Stroke thickness of a bold face; a regular weight is thinner.
    pub const STEM_MIN: f32 = 0.167;
    pub const BAR_MIN: f32 = 0.158;
    /// At the wide pitch the stems must be the wide grotesque's: a monospaced face is lighter.
    pub const WIDE_STEM_MIN: f32 = 0.238;
    /// At the wide pitch, digits whose shapes follow OCR-A's this closely (median correlation,
    /// `kenali_vision::glyphs`) are OCR-A, whatever their weight. The calibration family has
    /// no OCR-A card; its cards in other faces reach 0.87 (a regular sans; DejaVu Sans Bold
    /// 0.84, Liberation Mono Bold 0.83), and the bound is halfway from there to a perfect
    /// match.
    pub const OCR_A_LIKENESS_MIN: f32 = 0.93;
    /// The digits' shapes were read when they follow the grotesque's or the serif's this
    /// closely: every card of the calibration family, in any face, follows one of them at
    /// 0.89 or more; a line the glyphs were laid on out of step (a pitch mis-measured, a band
    /// taken too tall) follows neither, and its face is then judged by its pitch alone.
    pub const SHAPES_READ_MIN: f32 = 0.8;
    /// Digits whose shapes were read are a grotesque's when they follow the grotesque's at
    /// least this much more closely than the serif's: the nearer template. On the calibration
    /// family genuine cards stand 0.031 (DejaVu Sans Bold) to 0.12 above, serif re-typings
    /// 0.064 to 0.107 below; 0 is about midway.
    pub const GROTESQUE_OVER_SERIF_MIN: f32 = 0.0;
    /// The advance of digits shaped as a grotesque's, kept generous since the shapes have
    /// told it from a serif face: the grotesque's nominal 0.78 (Arial Bold, Helvetica Bold)
    /// within 10 %, less the rectification's and the band's error.
    pub const GROTESQUE_PITCH: RangeInclusive<f32> = 0.70..=0.85;
}

/// Whether the NIK's digits are shaped as a grotesque's (`Some(true)`) or a serif face's
/// (`Some(false)`), or `None` when their shapes could not be read.
pub fn grotesque_shapes(measure: &TypefaceMeasure) -> Option<bool> {
    use template::*;
    let (grotesque, serif) = (measure.grotesque?, measure.serif?);
    if grotesque.max(serif) < SHAPES_READ_MIN {
        return None;
    }
    Some(grotesque - serif >= GROTESQUE_OVER_SERIF_MIN)
}

/// Why the NIK's type is not a genuine card's, with the measure that gave it away; `None`
/// when it matches. `label_height` is the median height of the labels' OCR boxes, in the
/// measure's pixels.
pub fn mismatch(measure: &TypefaceMeasure, label_height: f32) -> Option<(&'static str, f32)> {
    use template::*;
    if measure.digit_height < MIN_DIGIT_HEIGHT {
        return Some(("the NIK's digits are too small to judge their type", measure.digit_height));
    }
    let (height, least) = match measure.text_height {
        Some(text) => (measure.digit_height / text.max(1.0), HEIGHT_OVER_TEXT_MIN),
        None => (measure.digit_height / label_height.max(1.0), HEIGHT_OVER_LABELS_MIN),
    };
    if height < least {
        return Some(("the NIK is not printed in the template's larger type", height));
    }
    // OCR-A: light and wide, so judged by its digits' shapes rather than by weight.
    if WIDE_PITCH.contains(&measure.pitch) && measure.ocr_a.is_some_and(|likeness| likeness >= OCR_A_LIKENESS_MIN) {
        return None;
    }
    if measure.stem < STEM_MIN {
        return Some(("the NIK's strokes are not the template's weight", measure.stem));
    }
    if measure.bar < BAR_MIN {
        return Some(("the NIK's horizontal strokes are not the template's weight", measure.bar));
    }
    if WIDE_PITCH.contains(&measure.pitch) && !PITCH.contains(&measure.pitch) {
        if measure.stem < WIDE_STEM_MIN {
            return Some(("the NIK's digits are spaced as a monospaced face spaces them", measure.stem));
        }
        return None;
    }
    // A grotesque or a serif face: told apart by the digits' shapes where they were read,
    // else by the pitch alone (a serif face sets digits narrower).
    match grotesque_shapes(measure) {
        Some(false) => Some((
            "the NIK's digits are shaped as a serif face's",
            measure.grotesque.unwrap_or(0.0) - measure.serif.unwrap_or(0.0),
        )),
        Some(true) if !GROTESQUE_PITCH.contains(&measure.pitch) => {
            Some(("the NIK's digits are not spaced as the template's typeface spaces them", measure.pitch))
        }
        None if !PITCH.contains(&measure.pitch) => {
            Some(("the NIK's digits are not spaced as the template's typeface spaces them", measure.pitch))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::template::HEIGHT_OVER_TEXT_MIN;
    use super::*;

    fn genuine() -> TypefaceMeasure {
        TypefaceMeasure {
            digit_height: 25.3,
            pitch: 0.79,
            stem: 0.205,
            bar: 0.19,
            ocr_a: Some(0.4),
            grotesque: Some(0.9),
            serif: Some(0.8),
            text_height: None,
        }
    }

    #[test]
    fn the_template_type_matches_and_each_measure_can_break_it() {
        // Labels' boxes 32 px high: the NIK's digits stand 0.79 of them.
        assert_eq!(mismatch(&genuine(), 32.0), None);
        let off = |m: TypefaceMeasure| mismatch(&m, 32.0).map(|(reason, _)| reason);
        assert!(off(TypefaceMeasure { digit_height: 10.0, ..genuine() }).is_some_and(|r| r.contains("too small")));
        // Smaller than the fields' own size, and just larger.
        assert!(off(TypefaceMeasure { digit_height: 16.5, ..genuine() }).is_some_and(|r| r.contains("larger type")));
        assert_eq!(off(TypefaceMeasure { digit_height: 18.0, ..genuine() }), None);
        // Against the fields' capitals where they were measured (then the label boxes are not
        // used): either side of the bound.
        let against_text = |digits: f32| TypefaceMeasure { digit_height: digits, text_height: Some(20.0), ..genuine() };
        assert_eq!(off(against_text(20.0 * HEIGHT_OVER_TEXT_MIN * 1.05)), None);
        assert!(off(against_text(20.0 * HEIGHT_OVER_TEXT_MIN * 0.95)).is_some_and(|r| r.contains("larger type")));
        // A regular weight, either side of the threshold.
        assert!(off(TypefaceMeasure { stem: 0.135, bar: 0.13, ..genuine() }).is_some_and(|r| r.contains("weight")));
        assert!(off(TypefaceMeasure { stem: 0.165, ..genuine() }).is_some_and(|r| r.contains("weight")));
        assert!(off(TypefaceMeasure { bar: 0.155, ..genuine() }).is_some_and(|r| r.contains("horizontal")));
        // A serif face's shapes, either side of the threshold, whatever the pitch.
        let serif = |grotesque: f32, serif: f32, pitch: f32| TypefaceMeasure {
            grotesque: Some(grotesque),
            serif: Some(serif),
            pitch,
            ..genuine()
        };
        assert!(off(serif(0.85, 0.86, 0.79)).is_some_and(|r| r.contains("serif")));
        assert!(off(serif(0.80, 0.95, 0.74)).is_some_and(|r| r.contains("serif")));
        assert_eq!(off(serif(0.86, 0.85, 0.79)), None);
        // Shaped as a grotesque: spaced within the grotesque's generous range.
        assert_eq!(off(serif(0.95, 0.88, 0.72)), None);
        assert!(off(serif(0.95, 0.88, 0.69)).is_some_and(|r| r.contains("spaced")));
        // Shapes not read (neither face followed closely, or not compared): the pitch alone
        // tells a serif face's narrower advance, either side of the threshold.
        for unread in [serif(0.6, 0.7, 0.77), TypefaceMeasure { grotesque: None, pitch: 0.77, ..genuine() }] {
            assert!(off(unread).is_some_and(|r| r.contains("spaced")), "{unread:?}");
            assert_eq!(off(TypefaceMeasure { pitch: 0.776, ..unread }), None, "{unread:?}");
        }
        assert_eq!(grotesque_shapes(&serif(0.79, 0.7, 0.8)), None);
        assert_eq!(grotesque_shapes(&serif(0.81, 0.7, 0.8)), Some(true));
        // The wide grotesque is heavy; a monospaced face at its pitch is lighter.
        assert_eq!(off(TypefaceMeasure { pitch: 0.94, stem: 0.255, ..genuine() }), None);
        assert!(off(TypefaceMeasure { pitch: 0.9, stem: 0.215, ..genuine() }).is_some_and(|r| r.contains("monospaced")));
        assert!(off(TypefaceMeasure { pitch: 1.05, stem: 0.255, ..genuine() }).is_some_and(|r| r.contains("spaced")));
        // OCR-A: light at the wide pitch, known by its shapes; a light face at that pitch whose
        // shapes are not OCR-A's is a typewriter face.
        let ocr_a = TypefaceMeasure { pitch: 0.91, stem: 0.14, bar: 0.15, ocr_a: Some(0.95), ..genuine() };
        assert_eq!(off(ocr_a), None);
        assert!(off(TypefaceMeasure { ocr_a: Some(0.92), ..ocr_a }).is_some_and(|r| r.contains("weight")));
        assert!(off(TypefaceMeasure { ocr_a: None, ..ocr_a }).is_some_and(|r| r.contains("weight")));
        // OCR-A's shapes at a grotesque's pitch are not enough.
        assert!(off(TypefaceMeasure { pitch: 0.8, ..ocr_a }).is_some_and(|r| r.contains("weight")));
    }
}
