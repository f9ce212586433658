//! The NIK line's typeface, measured on its upright crop: the digits' height, their advance
//! (KTP digits are tabular, so the ink's column profile repeats at one pitch), and the
//! thickness of their vertical stems and horizontal bars. Each is a ratio to the digit height,
//! so the card's scale drops out; `kenali_core::document::font_match` compares them with the
//! template's (`kenali_core::typeface::template`). A NIK re-typed in another face or weight
//! moves at least one of them: a regular weight thins the strokes, a serif face narrows the
//! pitch, a monospaced face widens it. Stroke thickness is summed darkness, not a count of
//! pixels, so it keeps to a fraction of a pixel and a blur leaves it as it was, provided
//! darkness is measured against the ink's true level: a thin stroke blurred by the camera never
//! reaches it, so the line's own darkest pixels would make a regular weight look bold. The
//! caller gives the level of the card's heaviest print ([`print_ink_level`]), whose strokes are
//! wide enough to keep their core through the blur. The digits' shapes are compared with
//! OCR-A's ([`crate::glyphs`]), a NIK face whose weight alone would pass for a regular one.

use image::RgbImage;
use kenali_core::typeface::TypefaceMeasure;

use crate::card::otsu;

/// Ink must be at least this much darker than the paper (0–255 grey levels) to be measured.
const MIN_CONTRAST: f32 = 40.0;
/// Rows whose ink is at least this share of the fullest row's belong to the digits' band.
const BAND_ROW_SHARE: f32 = 0.15;
/// Fewer band rows than this are too small to measure.
const MIN_DIGIT_HEIGHT: usize = 12;
/// The pitch is searched between these multiples of the digit height.
const PITCH_SEARCH: (f32, f32) = (0.45, 1.3);

/// Share of the darkest pixels of the heaviest print taken as the ink's level: a low
/// percentile rather than the minimum, so that sensor noise does not set it.
const INK_PERCENTILE: f32 = 0.01;

fn luma(image: &RgbImage) -> Vec<f32> {
    image.pixels().map(crate::measure::luminance).collect()
}

/// The grey level (0–255) of the card's ink: the darkest percentile over `crops` of its
/// heaviest print (the header and the NIK), or `None` when they hold no pixels.
pub fn print_ink_level<'a>(crops: impl IntoIterator<Item = &'a RgbImage>) -> Option<f32> {
    let levels = crops.into_iter().filter(|c| c.width() > 0 && c.height() > 0).map(|crop| {
        let mut grey = luma(crop);
        grey.sort_by(f32::total_cmp);
        grey[((grey.len() - 1) as f32 * INK_PERCENTILE) as usize]
    });
    levels.min_by(f32::total_cmp)
}

/// The mean grey levels of the dark (ink) and light (paper) classes that Otsu's threshold
/// ([`crate::card::otsu`]) splits `grey` into, over whole grey levels as it counts them.
fn class_means(grey: &[f32]) -> (f32, f32) {
    let threshold = otsu(grey);
    let (mut dark, mut dark_n, mut light, mut light_n) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for &g in grey {
        let level = (g as usize).min(255) as f32;
        if level < threshold {
            dark += f64::from(level);
            dark_n += 1.0;
        } else {
            light += f64::from(level);
            light_n += 1.0;
        }
    }
    ((dark / dark_n.max(1.0)) as f32, (light / light_n.max(1.0)) as f32)
}

/// Thickness of each stroke a line of `darkness` (0 paper, 1 ink) crosses, to a fraction of
/// a pixel: the ink summed over the stroke's run (darkness ≥ ½) and up to two pixels either
/// side, but no nearer a neighbouring stroke than half the gap, so that a blur, which spreads
/// the ink without changing its sum, leaves the thickness as it was.
fn stroke_widths(darkness: &[f32], into: &mut Vec<f32>) {
    let mut strokes = Vec::new();
    let mut start = None;
    for (i, &d) in darkness.iter().enumerate() {
        match (d >= 0.5, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                strokes.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        strokes.push((s, darkness.len()));
    }
    for (k, &(a, b)) in strokes.iter().enumerate() {
        let previous_end = if k == 0 { 0 } else { strokes[k - 1].1 };
        let next_start = strokes.get(k + 1).map_or(darkness.len(), |s| s.0);
        let from = a.saturating_sub(2).max(previous_end + (a - previous_end) / 2);
        let to = (b + 2).min(next_start - (next_start - b) / 2);
        into.push(darkness[from..to].iter().sum());
    }
}

/// The mean of the middle half of `values`: steady against the odd merged or broken stroke.
fn middle_mean(values: &mut [f32]) -> Option<f32> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f32::total_cmp);
    let (from, to) = (values.len() / 4, values.len() - values.len() / 4);
    let middle = &values[from..to.max(from + 1)];
    Some(middle.iter().sum::<f32>() / middle.len() as f32)
}

/// The edges of the span where `profile` stands at or above `level`, inside `from..=to`, to a
/// fraction of a step (linear between sample centres): `(start, end)` in sample-edge units.
fn span_edges(profile: &[f32], from: usize, to: usize, level: f32) -> Option<(f32, f32)> {
    let first = (from..=to).find(|&i| profile[i] >= level)?;
    let last = (from..=to).rev().find(|&i| profile[i] >= level)?;
    let fraction = |rise: f32, step: f32| (rise / step.max(f32::EPSILON)).clamp(0.0, 1.0);
    let start = match first.checked_sub(1) {
        Some(p) => p as f32 + 0.5 + fraction(level - profile[p], profile[first] - profile[p]),
        None => first as f32,
    };
    let end = match profile.get(last + 1) {
        Some(&next) => last as f32 + 0.5 + fraction(profile[last] - level, profile[last] - next),
        None => last as f32 + 1.0,
    };
    Some((start, end))
}

/// The period of `profile` between `min` and `max` columns: the lag of the highest normalised
/// autocorrelation, refined to a fraction of a column by a parabola through its neighbours.
fn period(profile: &[f32], min: usize, max: usize) -> Option<f32> {
    let n = profile.len();
    let mean = profile.iter().sum::<f32>() / n.max(1) as f32;
    let centred: Vec<f32> = profile.iter().map(|v| v - mean).collect();
    let energy: f32 = centred.iter().map(|v| v * v).sum();
    if energy <= f32::EPSILON || max + 2 >= n {
        return None;
    }
    let correlation = |lag: usize| -> f32 {
        let overlap = n - lag;
        let sum: f32 = (0..overlap).map(|i| centred[i] * centred[i + lag]).sum();
        sum / energy * n as f32 / overlap as f32
    };
    let scores: Vec<f32> = (min.saturating_sub(1)..=max + 1).map(correlation).collect();
    let (best, _) =
        scores[1..scores.len() - 1].iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, s)| (i + 1, *s))?;
    let (left, centre, right) = (scores[best - 1], scores[best], scores[best + 1]);
    if centre <= 0.0 {
        return None;
    }
    let curve = left - 2.0 * centre + right;
    let shift = if curve < 0.0 { (0.5 * (left - right) / curve).clamp(-0.5, 0.5) } else { 0.0 };
    Some((min.saturating_sub(1) + best) as f32 + shift)
}

/// Measures the `digits` on an upright crop of the NIK line against the card's ink level
/// (`ink`, grey 0–255, [`print_ink_level`]), or `None` when there is too little contrast or
/// height to measure.
pub fn measure_typeface(line: &RgbImage, ink: f32, digits: &str) -> Option<TypefaceMeasure> {
    let (w, h) = (line.width() as usize, line.height() as usize);
    if w < 32 || h < MIN_DIGIT_HEIGHT {
        return None;
    }
    let grey = luma(line);
    let (ink_mean, paper_mean) = class_means(&grey);
    let ink = ink.min(ink_mean);
    if paper_mean - ink_mean < MIN_CONTRAST {
        return None;
    }
    // Linear in the grey level (clamped only far outside it), so that summed over a stroke the
    // paper's noise cancels and a blur's spread is counted whole; the band is found on the
    // clamped darkness.
    let linear: Vec<f32> = grey.iter().map(|&g| ((paper_mean - g) / (paper_mean - ink)).clamp(-0.5, 1.5)).collect();
    let darkness: Vec<f32> = linear.iter().map(|d| d.clamp(0.0, 1.0)).collect();
    // The digits' band: the rows around the fullest one with a fair share of ink.
    let row_ink: Vec<f32> = darkness.chunks(w).map(|row| row.iter().sum()).collect();
    let (fullest, &most) = row_ink.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1))?;
    let floor = most * BAND_ROW_SHARE;
    let top = (0..=fullest).rev().take_while(|&y| row_ink[y] >= floor).last()?;
    let bottom = (fullest..h).take_while(|&y| row_ink[y] >= floor).last()?;
    if bottom - top + 1 < MIN_DIGIT_HEIGHT {
        return None;
    }
    // The band's edges to a fraction of a row: where the ink falls to half a typical row's.
    let mut band_rows: Vec<f32> = row_ink[top..=bottom].to_vec();
    let half = middle_mean(&mut band_rows)? / 2.0;
    let (upper, lower) = span_edges(&row_ink, top, bottom, half)?;
    let height = lower - upper;
    if height < MIN_DIGIT_HEIGHT as f32 {
        return None;
    }
    let at = |x: usize, y: usize| darkness[y * w + x];
    let profile: Vec<f32> = (0..w).map(|x| (top..=bottom).map(|y| at(x, y)).sum()).collect();
    let pitch = period(&profile, (height * PITCH_SEARCH.0) as usize, ((height * PITCH_SEARCH.1) as usize).min(w / 3))?;
    let (mut stems, mut bars) = (Vec::new(), Vec::new());
    for y in top..=bottom {
        stroke_widths(&linear[y * w..(y + 1) * w], &mut stems);
    }
    // Columns run a little past the band, so that a bar on its edge is crossed whole.
    let (from, to) = (top.saturating_sub(2), (bottom + 3).min(h));
    for x in 0..w {
        let column: Vec<f32> = (from..to).map(|y| linear[y * w + x]).collect();
        stroke_widths(&column, &mut bars);
    }
    Some(TypefaceMeasure {
        digit_height: height,
        pitch: pitch / height,
        stem: middle_mean(&mut stems)? / height,
        bar: middle_mean(&mut bars)? / height,
        ocr_a: crate::glyphs::ocr_a_likeness(&darkness, w, (top, bottom), pitch, digits),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Dark bars `stem` wide and `height` high every `pitch` columns on light paper.
    fn bars(pitch: u32, stem: u32, height: u32) -> RgbImage {
        RgbImage::from_fn(pitch * 16 + 20, height + 20, |x, y| {
            let inside = (10..10 + height).contains(&y) && x >= 10 && (x - 10) % pitch < stem && x < 10 + pitch * 16;
            if inside {
                image::Rgb([20, 20, 30])
            } else {
                image::Rgb([200, 225, 240])
            }
        })
    }

    #[test]
    fn the_pitch_and_stems_of_a_regular_pattern_are_found() {
        let measured = measure_typeface(&bars(22, 5, 30), 20.0, "0000").unwrap();
        assert!((measured.digit_height - 30.0).abs() < 0.5, "{measured:?}");
        assert!((measured.pitch - 22.0 / 30.0).abs() < 0.02, "{measured:?}");
        assert!((measured.stem - 5.0 / 30.0).abs() < 0.01, "{measured:?}");
    }

    #[test]
    fn a_blurred_thin_stroke_keeps_its_width_against_the_cards_ink() {
        // 3 px stems under a blur that keeps them from reaching the ink's level: measured
        // against the card's ink they keep their width; against their own darkest pixels
        // (the line's class means) they would read near half as thick again.
        let blurred = image::imageops::blur(&bars(22, 3, 30), 1.2);
        let measured = measure_typeface(&blurred, 20.0, "1111").unwrap();
        assert!((measured.stem * measured.digit_height - 3.0).abs() < 0.25, "{measured:?}");
        let own_level = measure_typeface(&blurred, 255.0, "1111").unwrap();
        assert!(own_level.stem > measured.stem * 1.15, "{own_level:?} vs {measured:?}");
    }

    #[test]
    fn the_ink_level_is_the_heaviest_prints_darkest_percentile() {
        let header = bars(22, 6, 30);
        let faint = RgbImage::from_pixel(40, 20, image::Rgb([120, 120, 120]));
        assert_eq!(print_ink_level([&faint, &header]), Some(crate::measure::luminance(&image::Rgb([20, 20, 30]))));
        assert_eq!(print_ink_level([]), None);
        assert!(print_ink_level([&faint]).is_some_and(|level| (level - 120.0).abs() < 0.01));
    }

    #[test]
    fn blank_or_faint_crops_are_not_measured() {
        assert!(measure_typeface(&RgbImage::from_pixel(300, 40, image::Rgb([200, 200, 200])), 0.0, "1").is_none());
        let faint = RgbImage::from_fn(300, 40, |x, _| image::Rgb(if x % 20 < 4 { [180; 3] } else { [200; 3] }));
        assert!(measure_typeface(&faint, 0.0, "1").is_none());
    }
}
