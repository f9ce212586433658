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
//! caller gives the levels of the card's heaviest print ([`print_levels`]), whose strokes are
//! wide enough to keep their core through the blur. The digits' shapes are compared with
//! OCR-A's (a NIK face whose weight alone would pass for a regular one), a grotesque bold's
//! and a serif bold's ([`crate::glyphs`]: the two overlap in pitch).

use image::RgbImage;
use kenali_core::typeface::TypefaceMeasure;

use crate::card::otsu;
use crate::glyphs::{likeness, Face};
use crate::measure::parallel_indexed;

/// Ink must be at least this much darker than the paper (0–255 grey levels) to be measured.
const MIN_CONTRAST: f32 = 40.0;
/// Rows whose ink is at least this share of the fullest row's belong to the digits' band.
const BAND_ROW_SHARE: f32 = 0.15;
/// Fewer band rows than this are too small to measure.
const MIN_DIGIT_HEIGHT: usize = 12;
/// The pitch is searched between these multiples of the digit height.
const PITCH_SEARCH: (f32, f32) = (0.45, 1.3);

/// Paper this bright (grey level) is a highlight the sensor saturated: the ink's contrast
/// under it cannot be known.
const SATURATED_PAPER: f32 = 250.0;

/// Share of the darkest pixels of the heaviest print taken as the ink's level: a low
/// percentile rather than the minimum, so that sensor noise does not set it.
const INK_PERCENTILE: f32 = 0.01;

fn luma(image: &RgbImage) -> Vec<f32> {
    image.pixels().map(crate::measure::luminance).collect()
}

/// The grey levels (0–255) of the card's heaviest print and of the paper around it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PrintLevels {
    /// The ink: the darkest percentile of the print.
    pub ink: f32,
    /// The paper of the crop the ink was found in: the mean of its light class.
    pub paper: f32,
}

/// The card's print levels over `crops` of its heaviest print (the header and the NIK): the
/// ink of the crop whose darkest percentile is the darkest, with that crop's paper; `None`
/// when they hold no pixels.
pub fn print_levels<'a>(crops: impl IntoIterator<Item = &'a RgbImage>) -> Option<PrintLevels> {
    let levels = crops.into_iter().filter(|c| c.width() > 0 && c.height() > 0).map(|crop| {
        let mut grey = luma(crop);
        let (_, paper, _) = class_means(&grey);
        grey.sort_by(f32::total_cmp);
        PrintLevels { ink: grey[((grey.len() - 1) as f32 * INK_PERCENTILE) as usize], paper }
    });
    levels.min_by(|a, b| a.ink.total_cmp(&b.ink))
}

/// The mean grey levels of the dark (ink) and light (paper) classes that Otsu's threshold
/// ([`crate::card::otsu`]) splits `grey` into, over whole grey levels as it counts them, and
/// the threshold.
fn class_means(grey: &[f32]) -> (f32, f32, f32) {
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
    ((dark / dark_n.max(1.0)) as f32, (light / light_n.max(1.0)) as f32, threshold)
}

/// The paper's grey level at each column of a line (`grey`, row-major, `width` wide): the
/// mean of the paper-class pixels (at or above `threshold`) within `reach` columns either
/// side, or `fallback` where there are none. A highlight or a shadow across the line lifts or
/// dims the paper under some digits only; against one level for the whole line their ink
/// would read lighter or their paper as ink.
fn paper_levels(grey: &[f32], width: usize, threshold: f32, reach: usize, fallback: f32) -> Vec<f32> {
    let (mut sums, mut counts) = (vec![0f64; width + 1], vec![0u32; width + 1]);
    let mut column = vec![(0f64, 0u32); width];
    for row in grey.chunks(width) {
        for (x, &g) in row.iter().enumerate() {
            if g >= threshold {
                column[x].0 += f64::from(g);
                column[x].1 += 1;
            }
        }
    }
    for (x, (sum, count)) in column.into_iter().enumerate() {
        sums[x + 1] = sums[x] + sum;
        counts[x + 1] = counts[x] + count;
    }
    (0..width)
        .map(|x| {
            let (from, to) = (x.saturating_sub(reach), (x + reach + 1).min(width));
            let count = counts[to] - counts[from];
            if count == 0 {
                fallback
            } else {
                ((sums[to] - sums[from]) / f64::from(count)) as f32
            }
        })
        .collect()
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

/// A line of print as darkness against the card's print levels, and the rows its letters or
/// digits stand in.
struct LineInk {
    width: usize,
    /// Darkness (0 paper, 1 ink) linear in the grey level, clamped only far outside it, so
    /// that summed over a stroke the paper's noise cancels and a blur's spread is counted whole.
    linear: Vec<f32>,
    /// The same clamped to 0–1, on which the band is found.
    darkness: Vec<f32>,
    /// Columns whose paper a highlight saturated: the ink's contrast there is lost.
    saturated: Vec<bool>,
    /// The band's first and last rows, and its height to a fraction of a row.
    top: usize,
    bottom: usize,
    height: f32,
}

/// `line` (an upright crop of one line of print) against the card's `print` levels, or `None`
/// when there is too little contrast or height to measure.
fn line_ink(line: &RgbImage, print: PrintLevels) -> Option<LineInk> {
    let (w, h) = (line.width() as usize, line.height() as usize);
    if w < 32 || h < MIN_DIGIT_HEIGHT {
        return None;
    }
    let grey = luma(line);
    let (ink_mean, paper_mean, threshold) = class_means(&grey);
    if paper_mean - ink_mean < MIN_CONTRAST {
        return None;
    }
    let ink = print.ink.min(ink_mean);
    let print_paper = if print.ink < ink_mean { print.paper.max(ink + MIN_CONTRAST) } else { paper_mean };
    // The paper's level column by column, over about a digit's height either side, and the
    // ink's contrast against it: the print's, dimmed where the light on the line is dimmer
    // (light scales paper and ink alike) but not raised where a highlight lifts it (a glint
    // adds the same light to both). Where the highlight saturates the paper the ink's
    // contrast is lost: those columns are left out of the strokes' measure.
    let paper = paper_levels(&grey, w, threshold, h / 2, paper_mean);
    let contrast: Vec<f32> =
        paper.iter().map(|&p| ((print_paper - ink) * (p / print_paper).min(1.0)).max(MIN_CONTRAST)).collect();
    let saturated: Vec<bool> = paper.iter().map(|&p| p >= SATURATED_PAPER).collect();
    let linear: Vec<f32> =
        grey.iter().enumerate().map(|(i, &g)| ((paper[i % w] - g) / contrast[i % w]).clamp(-0.5, 1.5)).collect();
    let darkness: Vec<f32> = linear.iter().map(|d| d.clamp(0.0, 1.0)).collect();
    // The band: the rows around the fullest one with a fair share of ink.
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
    Some(LineInk { width: w, linear, darkness, saturated, top, bottom, height })
}

/// Measures the `digits` on an upright crop of the NIK line against the card's print
/// ([`print_levels`]), or `None` when there is too little contrast or height to measure.
/// `values` are crops of field values in capitals, whose height the digits' is compared with
/// ([`text_height`]).
pub fn measure_typeface(
    line: &RgbImage,
    print: PrintLevels,
    digits: &str,
    values: &[RgbImage],
) -> Option<TypefaceMeasure> {
    let h = line.height() as usize;
    let ink = line_ink(line, print)?;
    let LineInk { width: w, ref linear, ref darkness, ref saturated, top, bottom, height } = ink;
    let at = |x: usize, y: usize| darkness[y * w + x];
    let profile: Vec<f32> = (0..w).map(|x| (top..=bottom).map(|y| at(x, y)).sum()).collect();
    let pitch = period(&profile, (height * PITCH_SEARCH.0) as usize, ((height * PITCH_SEARCH.1) as usize).min(w / 3))?;
    let (mut stems, mut bars) = (Vec::new(), Vec::new());
    // Rows are crossed in the runs of columns whose paper is not saturated.
    let mut runs = Vec::new();
    let mut start = None;
    for (x, &lost) in saturated.iter().chain([&true]).enumerate() {
        match (lost, start) {
            (false, None) => start = Some(x),
            (true, Some(s)) => {
                runs.push(s..x);
                start = None;
            }
            _ => {}
        }
    }
    for y in top..=bottom {
        for run in &runs {
            stroke_widths(&linear[y * w + run.start..y * w + run.end], &mut stems);
        }
    }
    // Columns run a little past the band, so that a bar on its edge is crossed whole.
    let (from, to) = (top.saturating_sub(2), (bottom + 3).min(h));
    for x in (0..w).filter(|&x| !saturated[x]) {
        let column: Vec<f32> = (from..to).map(|y| linear[y * w + x]).collect();
        stroke_widths(&column, &mut bars);
    }
    // The three faces' comparisons are independent: on the cores there are.
    let faces = [Face::OcrA, Face::GrotesqueBold, Face::SerifBold];
    let found = parallel_indexed(faces.len(), |i| likeness(faces[i], darkness, w, (top, bottom), pitch, digits));
    let (ocr_a, grotesque, serif) = (found[0], found[1], found[2]);
    Some(TypefaceMeasure {
        digit_height: height,
        pitch: pitch / height,
        stem: middle_mean(&mut stems)? / height,
        bar: middle_mean(&mut bars)? / height,
        ocr_a,
        grotesque,
        serif,
        text_height: text_height(values, print),
    })
}

/// The height of the card's field type: the median over `values` (upright crops of field
/// values in capitals) of each line's band, measured as the NIK's digits are (capitals stand
/// as tall as digits in the faces KTPs are printed in).
pub fn text_height(values: &[RgbImage], print: PrintLevels) -> Option<f32> {
    let mut heights: Vec<f32> = values.iter().filter_map(|line| Some(line_ink(line, print)?.height)).collect();
    heights.sort_by(f32::total_cmp);
    heights.get(heights.len() / 2).copied()
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

    /// The print levels of [`bars`]' ink (at `ink`) and paper.
    fn print(ink: f32) -> PrintLevels {
        PrintLevels { ink, paper: crate::measure::luminance(&image::Rgb([200, 225, 240])) }
    }

    #[test]
    fn the_pitch_and_stems_of_a_regular_pattern_are_found() {
        let measured = measure_typeface(&bars(22, 5, 30), print(20.0), "0000", &[]).unwrap();
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
        let measured = measure_typeface(&blurred, print(20.0), "1111", &[]).unwrap();
        assert!((measured.stem * measured.digit_height - 3.0).abs() < 0.25, "{measured:?}");
        let own_level = measure_typeface(&blurred, print(255.0), "1111", &[]).unwrap();
        assert!(own_level.stem > measured.stem * 1.15, "{own_level:?} vs {measured:?}");
    }

    #[test]
    fn the_ink_level_is_the_heaviest_prints_darkest_percentile() {
        let header = bars(22, 6, 30);
        let faint = RgbImage::from_pixel(40, 20, image::Rgb([120, 120, 120]));
        let levels = print_levels([&faint, &header]).unwrap();
        assert_eq!(levels.ink, crate::measure::luminance(&image::Rgb([20, 20, 30])));
        assert!((levels.paper - print(0.0).paper).abs() < 1.0, "{levels:?}");
        assert_eq!(print_levels([]), None);
        assert!(print_levels([&faint]).is_some_and(|level| (level.ink - 120.0).abs() < 0.01));
    }

    #[test]
    fn light_across_the_line_leaves_its_strokes_as_they_were() {
        let plain = bars(22, 5, 30);
        let measured = measure_typeface(&plain, print(20.0), "0000", &[]).unwrap();
        // Light that changes smoothly along the line, as a shadow or a glint does: a shadow
        // dims paper and ink alike (to 0.7), a glint lifts both by as much (up to 40 grey
        // levels), a stronger one saturates the paper of the line's last third.
        let width = plain.width();
        // Each light maps a grey level and the place along the line (0–1) to a grey level.
        type Light = fn(f32, f32) -> f32;
        let lights: [(&str, Light); 3] = [
            ("shadow", |c, along| c * (1.0 - 0.3 * along)),
            ("glint", |c, along| c + 40.0 * along),
            ("saturating glint", |c, along| c + 150.0 * along),
        ];
        for (name, light) in lights {
            let lit = RgbImage::from_fn(width, plain.height(), |x, y| {
                let along = x as f32 / width as f32;
                image::Rgb(plain.get_pixel(x, y).0.map(|c| light(f32::from(c), along).round().clamp(0.0, 255.0) as u8))
            });
            let under_light = measure_typeface(&lit, print(20.0), "0000", &[]).unwrap();
            assert!((under_light.stem - measured.stem).abs() < 0.01, "{name}: {under_light:?} vs {measured:?}");
            assert!((under_light.pitch - measured.pitch).abs() < 0.02, "{name}: {under_light:?} vs {measured:?}");
        }
    }

    #[test]
    fn blank_or_faint_crops_are_not_measured() {
        assert!(measure_typeface(&RgbImage::from_pixel(300, 40, image::Rgb([200, 200, 200])), print(0.0), "1", &[])
            .is_none());
        let faint = RgbImage::from_fn(300, 40, |x, _| image::Rgb(if x % 20 < 4 { [180; 3] } else { [200; 3] }));
        assert!(measure_typeface(&faint, print(0.0), "1", &[]).is_none());
    }
}
