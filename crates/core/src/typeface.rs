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
}

/// The template's NIK type, each measure with the range a genuine card falls in. Measured on
/// the synthetic template (`kenali_testkit::ktp`: Liberation Sans Bold, metric-compatible with
/// the Arial of real cards) through the capture pipeline, clean and degraded (blur, JPEG,
/// turned, held at an angle): `bench_ktp` prints each measure's range over genuine cards and
/// over cards whose NIK was printed again in another face. On 200 genuine cards (half degraded):
/// height 0.039–0.041 of the card, pitch 0.768–0.815, stem 0.230–0.295, bar 0.213–0.286; on 20
/// re-typed in Liberation Sans Regular, stems 0.172–0.188 and bars 0.166–0.182; in Liberation
/// Serif Bold, pitch 0.715–0.755; in Liberation Mono Bold, pitch 0.878–0.904. The pitch's margin
/// against a serif face is narrow (0.013): real cards will need these refined on a
/// labelled set.
pub mod template {
    use std::ops::RangeInclusive;

    /// Digits shorter than this (pixels) are too coarse to judge the type.
    pub const MIN_DIGIT_HEIGHT: f32 = 16.0;
    /// The digits' height (to where their rows hold half a typical row's ink) as a fraction of
    /// the card's: the NIK is printed larger than the other fields, whose capitals stand
    /// about 0.028 of the card.
    pub const HEIGHT: RangeInclusive<f32> = 0.034..=0.047;
    /// Advance from digit to digit: wider in a monospaced face, narrower in a serif one.
    pub const PITCH: RangeInclusive<f32> = 0.762..=0.845;
    /// Stroke thickness: thinner at a regular weight.
    pub const STEM: RangeInclusive<f32> = 0.205..=0.34;
    pub const BAR: RangeInclusive<f32> = 0.19..=0.32;
}

/// Why the NIK's type is not the template's, with the measure that gave it away; `None` when
/// it matches. `card_height` is the rectified card's, in the measure's pixels.
pub fn mismatch(measure: &TypefaceMeasure, card_height: f32) -> Option<(&'static str, f32)> {
    use template::*;
    if measure.digit_height < MIN_DIGIT_HEIGHT {
        return Some(("the NIK's digits are too small to judge their type", measure.digit_height));
    }
    let height = measure.digit_height / card_height.max(1.0);
    if !HEIGHT.contains(&height) {
        return Some(("the NIK is not printed in the template's larger type", height));
    }
    if !PITCH.contains(&measure.pitch) {
        return Some(("the NIK's digits are not spaced as the template's typeface spaces them", measure.pitch));
    }
    if !STEM.contains(&measure.stem) {
        return Some(("the NIK's strokes are not the template's weight", measure.stem));
    }
    if !BAR.contains(&measure.bar) {
        return Some(("the NIK's horizontal strokes are not the template's weight", measure.bar));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn genuine() -> TypefaceMeasure {
        TypefaceMeasure { digit_height: 25.3, pitch: 0.79, stem: 0.26, bar: 0.24 }
    }

    #[test]
    fn the_template_type_matches_and_each_measure_can_break_it() {
        assert_eq!(mismatch(&genuine(), 638.0), None);
        let off = |m: TypefaceMeasure| mismatch(&m, 638.0).map(|(reason, _)| reason);
        assert!(off(TypefaceMeasure { digit_height: 10.0, ..genuine() }).is_some_and(|r| r.contains("too small")));
        // The size of the other fields' type.
        assert!(off(TypefaceMeasure { digit_height: 18.0, ..genuine() }).is_some_and(|r| r.contains("larger type")));
        assert!(off(TypefaceMeasure { pitch: 0.95, ..genuine() }).is_some_and(|r| r.contains("spaced")));
        assert!(off(TypefaceMeasure { pitch: 0.74, ..genuine() }).is_some_and(|r| r.contains("spaced")));
        assert!(off(TypefaceMeasure { stem: 0.18, bar: 0.17, ..genuine() }).is_some_and(|r| r.contains("weight")));
        assert!(off(TypefaceMeasure { bar: 0.17, ..genuine() }).is_some_and(|r| r.contains("horizontal")));
    }
}
