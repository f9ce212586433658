//! The portrait on a rectified KTP card: its face, the photo's own rectangle around it, and the
//! place and date of issue printed under it, for `photo_substitution` (kenali_core::document).
//!
//! The photo's rectangle is searched from the outside in: on each side, starting well beyond
//! the face, the first straight line that steps sharply in colour along most of the side is the
//! photo's edge (searching outward from the face would stop at lines inside the photo: a flag
//! pole, a collar). The lower edge must also step in one unbroken run along half the photo's
//! width, so that the line of text under the photo (which steps in many short runs, one per
//! glyph) is not taken for it. The caption is read from the OCR's lines: the first date under
//! the face, within the photo's width, and the line just above it (the place of issue).

use image::RgbImage;
use kenali_core::document::{Caption, PortraitMeasure};
use kenali_core::ktp::OcrLine;

use crate::detect::Face;
use crate::engine::{FaceEngine, FaceError};
use crate::measure::luminance;

/// A photo's edge steps by at least this much (summed over R, G, B, across four pixels: the
/// capture's blur and the rectification spread a cut edge) along at least this fraction of the
/// side, and at least `EDGE_SHARE_OF_BEST` of the strongest line searched on that side.
const EDGE_STEP_MIN: f32 = 30.0;
const EDGE_COVERAGE_MIN: f32 = 0.8;
const EDGE_SHARE_OF_BEST: f32 = 0.9;
/// The lower edge's stepping pixels include one unbroken run of this fraction of its length.
const BOTTOM_RUN_MIN: f32 = 0.5;
/// Card pixels along the rectified card's border where no edge is looked for (the card's own
/// border is a straight edge too).
const CARD_MARGIN: i32 = 5;
/// How far beyond the face the sides are searched: this many face widths, or this fraction of
/// the card's width when more (a small face in a loosely cropped photo).
const SIDE_REACH_FACES: f32 = 2.0;
const SIDE_REACH_CARD: f32 = 0.3;
/// How far above the face's top and below it the top and bottom are searched, in photo widths
/// (an ID photo is 3:4, with the head in its upper half).
const TOP_REACH: f32 = 0.8;
const BOTTOM_REACH: f32 = 1.8;
/// Along a side, where the search starts off each end of the side (pixels), so that the
/// corners, rounded or shadowed, do not count.
const SIDE_INSET: i32 = 6;
/// A line of text's ink (its box's 5th percentile of grey) is at least this many grey levels
/// below its paper (the 90th); a row of the line holds ink when this fraction of it is darker
/// than halfway between them, and is part of a photo rather than a line of text above this
/// fraction.
const INK_CONTRAST: f32 = 45.0;
const INK_ROW_MIN: f32 = 0.03;
/// A line's ink, measured to a fraction of a pixel for the caption's centre, spans at least
/// this share of its OCR box (which pads the text by a few pixels), or it was not all seen.
const INK_SPAN_OF_BOX: f32 = 0.85;
const INK_ROW_MAX: f32 = 0.6;

/// The card's portrait, usable as a face reference.
#[derive(Debug, Clone)]
pub struct Portrait {
    pub face: Face,
    pub embedding: Vec<f32>,
}

/// The portrait on a rectified card (`lines`: the OCR's, in the card's pixels), with its
/// embedding when exactly one usable face is there.
pub fn measure_portrait(
    engine: &FaceEngine,
    card: &RgbImage,
    lines: &[OcrLine],
) -> Result<(PortraitMeasure, Option<Portrait>), FaceError> {
    let faces = engine.detector.detect(card)?;
    let (w, h) = (card.width() as f32, card.height() as f32);
    let mut measure = PortraitMeasure { faces: faces.len(), ..PortraitMeasure::default() };
    if let Some(face) = faces.first() {
        let b = face.bbox;
        measure.face_box = Some([b[0] / w, b[1] / h, b[2] / w, b[3] / h]);
        let frame = photo_frame(card, b);
        measure.frame =
            [frame[0].map(|x| x / w), frame[1].map(|y| y / h), frame[2].map(|x| x / w), frame[3].map(|y| y / h)];
        measure.caption = caption(card, lines, b, frame);
    }
    let usable = match faces.as_slice() {
        [face] if face.width().min(face.height()) >= crate::engine::MIN_FACE_SIDE => {
            Some(Portrait { face: face.clone(), embedding: engine.embed_face(card, face)? })
        }
        _ => None,
    };
    Ok((measure, usable))
}

/// The photo's rectangle around `face` (card pixels: left, top, right, bottom), each side
/// `None` where no straight edge was found.
pub fn photo_frame(card: &RgbImage, face: [f32; 4]) -> [Option<f32>; 4] {
    let (w, h) = (card.width() as i32, card.height() as i32);
    if w < 4 * CARD_MARGIN || h < 4 * CARD_MARGIN {
        return [None; 4];
    }
    let at = |x: i32, y: i32| card.get_pixel(x.clamp(0, w - 1) as u32, y.clamp(0, h - 1) as u32).0.map(f32::from);
    let steps = |a: [f32; 3], b: [f32; 3]| (0..3).map(|c| (a[c] - b[c]).abs()).sum::<f32>() >= EDGE_STEP_MIN;
    let [fl, ft, fr, fb] = face.map(|v| v.round() as i32);
    let face_width = (fr - fl).max(1) as f32;
    let reach = (SIDE_REACH_FACES * face_width).max(SIDE_REACH_CARD * w as f32) as i32;
    let (lo, hi) = (CARD_MARGIN, w - CARD_MARGIN - 3);
    let (row_lo, row_hi) = (CARD_MARGIN, h - CARD_MARGIN - 3);
    // Vertical edges are judged along the face's rows, which the photo spans on both sides.
    let rows: Vec<i32> = (ft.max(0)..fb.min(h)).collect();
    let vertical = |x: i32| fraction(rows.iter().map(|&y| steps(at(x + 2, y), at(x - 2, y))));
    let left = outermost((fl - reach).max(lo)..fl.min(hi), false, vertical);
    let right = outermost(fr.max(lo)..(fr + reach).min(hi), true, vertical);
    let (span_left, span_right) = (left.unwrap_or(fl), right.unwrap_or(fr));
    let photo_width = (span_right - span_left).max(1) as f32;
    let cols: Vec<i32> = (span_left + SIDE_INSET..span_right - SIDE_INSET).collect();
    let horizontal = |y: i32| cols.iter().map(move |&x| steps(at(x, y + 2), at(x, y - 2)));
    let top_from = ((ft as f32 - TOP_REACH * photo_width) as i32).max(row_lo);
    let top = outermost(top_from..ft.min(row_hi), false, |y| fraction(horizontal(y)));
    let bottom_to = ((ft as f32 + BOTTOM_REACH * photo_width) as i32).min(row_hi);
    let bottom = outermost(fb.max(row_lo)..bottom_to, true, |y| {
        let stepping: Vec<bool> = horizontal(y).collect();
        if longest_run(&stepping) as f32 >= BOTTOM_RUN_MIN * stepping.len() as f32 {
            fraction(stepping.into_iter())
        } else {
            0.0
        }
    });
    [left, top, right, bottom].map(|edge| edge.map(|v| v as f32))
}

fn fraction(flags: impl Iterator<Item = bool>) -> f32 {
    let (mut yes, mut all) = (0usize, 0usize);
    for flag in flags {
        yes += usize::from(flag);
        all += 1;
    }
    yes as f32 / all.max(1) as f32
}

fn longest_run(flags: &[bool]) -> usize {
    let (mut best, mut run) = (0, 0);
    for &flag in flags {
        run = if flag { run + 1 } else { 0 };
        best = best.max(run);
    }
    best
}

/// The outermost line in `range` (from its far end when `from_end`) whose `coverage` reaches
/// [`EDGE_COVERAGE_MIN`] and [`EDGE_SHARE_OF_BEST`] of the best in the range, moved to the
/// strongest of the few lines just inside it (a blurred edge covers several).
fn outermost(range: std::ops::Range<i32>, from_end: bool, coverage: impl Fn(i32) -> f32) -> Option<i32> {
    let mut positions: Vec<i32> = range.collect();
    if from_end {
        positions.reverse();
    }
    let covered: Vec<f32> = positions.iter().map(|&p| coverage(p)).collect();
    let best = covered.iter().copied().fold(0.0, f32::max);
    let need = EDGE_COVERAGE_MIN.max(EDGE_SHARE_OF_BEST * best);
    let first = covered.iter().position(|c| *c >= need)?;
    let strongest = (first..(first + 5).min(covered.len())).max_by(|a, b| covered[*a].total_cmp(&covered[*b]))?;
    Some(positions[strongest])
}

/// A date of issue as printed under the portrait (dd-mm-yyyy, however the OCR spaced it).
fn is_date(text: &str) -> bool {
    let kept: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    kept.chars().filter(char::is_ascii_digit).count() == 8 && kept.chars().count() <= 11
}

/// The place and date of issue under the face (card pixels), against the photo's `frame`.
fn caption(card: &RgbImage, lines: &[OcrLine], face: [f32; 4], frame: [Option<f32>; 4]) -> Caption {
    let (span_left, span_right) = (frame[0].unwrap_or(face[0]), frame[2].unwrap_or(face[2]));
    let centre = |l: &OcrLine| (l.left + l.right) / 2.0;
    let Some(date) = lines
        .iter()
        .filter(|l| l.top > face[3] && (span_left..=span_right).contains(&centre(l)) && is_date(&l.text))
        .min_by(|a, b| a.top.total_cmp(&b.top))
    else {
        return Caption::Unread;
    };
    let date_height = (date.bottom - date.top).max(1.0);
    // The place of issue: the nearest line above the date, over it, within two and a half of
    // its heights.
    let place = lines
        .iter()
        .filter(|l| {
            let middle = (l.top + l.bottom) / 2.0;
            middle < date.top
                && middle >= date.top - 2.5 * date_height
                && l.right.min(date.right) > l.left.max(date.left)
                && !is_date(&l.text)
        })
        .max_by(|a, b| a.top.total_cmp(&b.top));
    let Some(place) = place else { return Caption::PlaceMissing };
    let rows = (face[1].max(0.0) as i32, face[3].min(card.height() as f32) as i32);
    let offset = match (frame[0], frame[2]) {
        (Some(left), Some(right)) if right > left => {
            // The caption's centre from its ink where it can be measured (an OCR box is
            // padded unevenly, by a pixel or three), else from the boxes.
            let caption_centre = match (ink_span(card, place), ink_span(card, date)) {
                (Some(a), Some(b)) => (a[0] + a[1] + b[0] + b[1]) / 4.0,
                _ => (centre(place) + centre(date)) / 2.0,
            };
            let left = edge_position(card, left, rows, false).unwrap_or(left);
            let right = edge_position(card, right, rows, true).unwrap_or(right);
            Some((caption_centre - (left + right) / 2.0) / (right - left))
        }
        _ => None,
    };
    let gap = frame[3].and_then(|bottom| Some((ink_top(card, place, bottom + 3.0)? - bottom) / date_height));
    Caption::Read { offset, gap }
}

/// Where, to a fraction of a pixel, a vertical edge of the photo found at column `at` lies over
/// the face's `rows`: on each row, from the card's paper outside it (`outward` to the right for
/// the right edge) inward, the first point where the colour has moved half of the way it moves
/// within a few pixels; the median over the rows. The outer boundary of whatever stands on
/// the paper (a frame line, a cut-out's border, the photo), the same kind on both sides, so
/// that the caption's offset is measured against the photo's true centre.
fn edge_position(card: &RgbImage, at: f32, rows: (i32, i32), outward: bool) -> Option<f32> {
    const OUTSIDE: std::ops::RangeInclusive<i32> = 5..=8;
    const REACH: i32 = 5;
    let (w, h) = (card.width() as i32, card.height() as i32);
    let at = at.round() as i32;
    let dir = if outward { -1 } else { 1 };
    // Pixel `k` steps inward from the edge's column (negative: outside it).
    let column = |k: i32| at + dir * k;
    if !(0..w).contains(&column(-*OUTSIDE.end())) || !(0..w).contains(&column(REACH)) {
        return None;
    }
    let mut crossings: Vec<f32> = (rows.0.max(0)..rows.1.min(h))
        .filter_map(|y| {
            let rgb = |k: i32| card.get_pixel(column(k) as u32, y as u32).0.map(f32::from);
            let mut paper = [0f32; 3];
            for k in OUTSIDE {
                let p = rgb(-k);
                (0..3).for_each(|c| paper[c] += p[c] / OUTSIDE.count() as f32);
            }
            let distance = |k: i32| {
                let p = rgb(k);
                (0..3).map(|c| (p[c] - paper[c]).powi(2)).sum::<f32>().sqrt()
            };
            let profile: Vec<f32> = (-4..=REACH).map(distance).collect();
            let peak = profile.iter().copied().fold(0.0, f32::max);
            if peak < EDGE_STEP_MIN / 2.0 {
                return None;
            }
            let half = peak / 2.0;
            let i = profile.iter().position(|d| *d >= half)?;
            if i == 0 {
                return None;
            }
            let (before, after) = (profile[i - 1], profile[i]);
            let k = (i as f32 - 4.0) - 1.0 + (half - before) / (after - before).max(f32::EPSILON);
            Some(at as f32 + dir as f32 * k)
        })
        .collect();
    if crossings.len() < 8 {
        return None;
    }
    crossings.sort_by(f32::total_cmp);
    Some(crossings[crossings.len() / 2])
}

/// A line of text's ink from its first column to its last (card pixels, to a fraction of a
/// pixel): over the middle of the line's box, the columns whose darkest pixel passes halfway
/// from the paper to the ink, their ends interpolated at that level.
fn ink_span(card: &RgbImage, line: &OcrLine) -> Option<[f32; 2]> {
    let (w, h) = (card.width() as i32, card.height() as i32);
    let height = line.bottom - line.top;
    let (y0, y1) = (((line.top + 0.25 * height) as i32).max(0), ((line.bottom - 0.25 * height) as i32).min(h));
    let (x0, x1) = ((line.left as i32 - 2).max(0), (line.right as i32 + 2).min(w));
    if y1 - y0 < 3 || x1 - x0 < 8 {
        return None;
    }
    let grey = |x: i32, y: i32| luminance(card.get_pixel(x as u32, y as u32));
    let darkest: Vec<f32> = (x0..x1).map(|x| (y0..y1).map(|y| grey(x, y)).fold(f32::MAX, f32::min)).collect();
    let mut sorted = darkest.clone();
    sorted.sort_by(f32::total_cmp);
    let (ink, paper) = (sorted[sorted.len() / 20], sorted[(sorted.len() - 1) * 95 / 100]);
    if paper - ink < INK_CONTRAST {
        return None;
    }
    let level = (ink + paper) / 2.0;
    let first = darkest.iter().position(|g| *g < level)?;
    let last = darkest.iter().rposition(|g| *g < level)?;
    if first == 0 || last + 1 == darkest.len() {
        // The ink runs to the box's end: the line may go on beyond it.
        return None;
    }
    if ((last - first) as f32) < INK_SPAN_OF_BOX * (line.right - line.left) {
        // Part of the line is too faint against one level (a glint washes it out): its ends
        // would be taken inside the text.
        return None;
    }
    // How far from the inked column towards the blank one the level is crossed.
    let cross = |outside: f32, inside: f32| (level - inside) / (outside - inside).max(f32::EPSILON);
    let left = x0 as f32 + first as f32 - cross(darkest[first - 1], darkest[first]);
    let right = x0 as f32 + last as f32 + cross(darkest[last + 1], darkest[last]);
    Some([left, right])
}

/// The first row (card pixels) of a text line's ink below `floor` (the photo's lower edge, which
/// may cover the line's top): from the line's inkiest row upward while rows hold ink.
fn ink_top(card: &RgbImage, line: &OcrLine, floor: f32) -> Option<f32> {
    let (w, h) = (card.width() as i32, card.height() as i32);
    let (x0, x1) = ((line.left as i32).max(0), (line.right as i32).min(w));
    let (y0, y1) = ((line.top as i32 - 4).max(floor.ceil() as i32).max(0), (line.bottom as i32 + 3).min(h));
    if x1 - x0 < 4 {
        return None;
    }
    if y0 as f32 >= line.bottom {
        // The line lies above the photo's lower edge: under the photo.
        return Some(floor);
    }
    let grey = |x: i32, y: i32| luminance(card.get_pixel(x as u32, y as u32));
    let mut box_grey: Vec<f32> = ((line.top as i32).max(y0)..(line.bottom as i32).min(h))
        .flat_map(|y| (x0..x1).map(move |x| (x, y)))
        .map(|(x, y)| grey(x, y))
        .collect();
    if box_grey.is_empty() {
        return None;
    }
    box_grey.sort_by(f32::total_cmp);
    let at = |q: usize| box_grey[(box_grey.len() - 1) * q / 100];
    let (ink_level, paper) = (at(5), at(90));
    if paper - ink_level < INK_CONTRAST {
        return None;
    }
    // A pixel holds ink when it is darker than its own column's paper by half the line's
    // contrast: a glint's edge or a band of the card's pattern darkens some columns of the paper
    // over every row, which one level for the whole box would count as ink on every row.
    let half_contrast = (paper - ink_level) / 2.0;
    let column_paper: Vec<f32> = (x0..x1)
        .map(|x| {
            let mut column: Vec<f32> = (y0..y1).map(|y| grey(x, y)).collect();
            column.sort_by(f32::total_cmp);
            column[(column.len() - 1) * 9 / 10]
        })
        .collect();
    // Each row's share of ink, row `y0 + i` at `i`.
    let ink: Vec<f32> = (y0..y1)
        .map(|y| fraction((x0..x1).map(|x| grey(x, y) < column_paper[(x - x0) as usize] - half_contrast)))
        .collect();
    let (inkiest, _) = ink.iter().enumerate().filter(|(_, f)| **f < INK_ROW_MAX).max_by(|a, b| a.1.total_cmp(b.1))?;
    let mut top = inkiest;
    while top > 0 && (INK_ROW_MIN..INK_ROW_MAX).contains(&ink[top - 1]) {
        top -= 1;
    }
    Some((y0 + top as i32) as f32)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use image::Rgb;

    use super::*;

    const PAPER: Rgb<u8> = Rgb([200, 220, 235]);
    const INK: Rgb<u8> = Rgb([40, 40, 50]);

    /// A "photo" over `photo` (left, top, right, bottom): a light background above, a dark
    /// jacket below.
    fn paint_photo(card: &mut RgbImage, photo: [u32; 4]) {
        for y in photo[1]..photo[3] {
            for x in photo[0]..photo[2] {
                let shade = if y < photo[1] + 100 { 170 } else { 60 };
                card.put_pixel(x, y, Rgb([shade, shade - 10, shade - 20]));
            }
        }
    }

    /// A line of blocky "glyphs" 15 px tall over `width` px from `left`, 4 px below `top`:
    /// `glyph.1` px of ink every `glyph.0` px.
    fn paint_glyphs(card: &mut RgbImage, left: u32, top: u32, width: u32, glyph: (u32, u32)) {
        for x in (left..left + width).filter(|x| (x - left) % glyph.0 < glyph.1) {
            for y in top + 4..top + 19 {
                card.put_pixel(x, y, INK);
            }
        }
    }

    /// A pale card with a dark-suited "photo" at `photo` (left, top, right, bottom), and two
    /// caption lines of blocky "glyphs" centred at `caption_x`, starting `caption_top`.
    fn drawn(photo: [u32; 4], caption_x: u32, caption_top: u32) -> (RgbImage, Vec<OcrLine>) {
        let mut card = RgbImage::from_pixel(1012, 638, PAPER);
        paint_photo(&mut card, photo);
        let mut lines = Vec::new();
        for (row, (text, width)) in [("KOTA BANDUNG", 160u32), ("12-08-2016", 110)].into_iter().enumerate() {
            let top = caption_top + row as u32 * 26;
            let left = caption_x - width / 2;
            // Glyphs 6 px wide with 8 px gaps.
            paint_glyphs(&mut card, left, top, width, (14, 6));
            lines.push(OcrLine {
                text: text.into(),
                confidence: 0.99,
                left: left as f32 - 2.0,
                top: top as f32,
                right: (left + width) as f32 + 2.0,
                bottom: (top + 23) as f32,
            });
        }
        (card, lines)
    }

    const FACE: [f32; 4] = [830.0, 150.0, 910.0, 250.0];

    #[test]
    fn the_photos_rectangle_is_found_from_outside() {
        let (card, _) = drawn([770, 120, 980, 400], 875, 406);
        let frame = photo_frame(&card, FACE);
        let want = [770.0, 120.0, 980.0, 400.0];
        for (got, want) in frame.iter().zip(want) {
            assert!((got.unwrap() - want).abs() <= 3.0, "{frame:?}");
        }
    }

    #[test]
    fn a_centred_caption_clear_of_the_photo_reads_as_printed() {
        let (card, lines) = drawn([770, 120, 980, 400], 875, 406);
        let Caption::Read { offset, gap } = caption(&card, &lines, FACE, photo_frame(&card, FACE)) else {
            panic!("no caption");
        };
        assert!(offset.unwrap().abs() < 0.01, "{offset:?}");
        assert!(gap.unwrap() > 0.3, "{gap:?}");
    }

    #[test]
    fn a_band_of_shaded_paper_under_the_photo_is_not_taken_for_ink() {
        // A glint's edge leaves a band of columns half as bright below the photo, over the
        // blank above the caption and the caption itself.
        let (mut card, lines) = drawn([770, 120, 980, 400], 875, 406);
        for y in 401..470 {
            for x in 800..830 {
                let p = card.get_pixel_mut(x, y);
                p.0 = p.0.map(|c| c / 2);
            }
        }
        let Caption::Read { gap, .. } = caption(&card, &lines, FACE, photo_frame(&card, FACE)) else {
            panic!("no caption");
        };
        assert!(gap.unwrap() > 0.3, "{gap:?}");
    }

    /// A photo over columns `photo_left..photo_left + 209` and rows 120..400 (a plain light
    /// background over a dark jacket) and two caption lines whose ink spans columns
    /// `ink_left..ink_left + width` exactly (bars 5 px wide, symmetric about their middle),
    /// blurred as a camera would.
    fn drawn_exactly(photo_left: u32, ink_left: u32) -> (RgbImage, Vec<OcrLine>) {
        let mut card = RgbImage::from_pixel(1012, 638, PAPER);
        paint_photo(&mut card, [photo_left, 120, photo_left + 209, 400]);
        let mut lines = Vec::new();
        for (row, (text, width)) in [("KOTA BANDUNG", 145u32), ("12-08-2016", 95)].into_iter().enumerate() {
            let top = 406 + row as u32 * 26;
            let left = ink_left + (145 - width) / 2;
            paint_glyphs(&mut card, left, top, width, (10, 5));
            // The OCR pads its boxes unevenly.
            lines.push(OcrLine {
                text: text.into(),
                confidence: 0.99,
                left: left as f32 - 4.0,
                top: top as f32,
                right: (left + width) as f32 + 1.0,
                bottom: (top + 23) as f32,
            });
        }
        (imageproc::filter::gaussian_blur_f32(&card, 1.2), lines)
    }

    #[test]
    fn the_captions_offset_is_measured_to_a_fraction_of_a_pixel() {
        // The photo covers columns 770..=978 (centre 874); the caption's ink 802..=946 (874).
        for (photo_left, want_px) in [(770u32, 0.0f32), (773, -3.0), (768, 2.0)] {
            let (card, lines) = drawn_exactly(photo_left, 802);
            let Caption::Read { offset, .. } = caption(&card, &lines, FACE, photo_frame(&card, FACE)) else {
                panic!("no caption");
            };
            let got_px = offset.unwrap() * 209.0;
            assert!((got_px - want_px).abs() < 0.4, "photo at {photo_left}: {got_px} px, want {want_px}");
        }
    }

    #[test]
    fn a_photo_off_the_caption_or_over_it_shows() {
        // Laid 12 px to the right: the caption sits left of the photo's centre.
        let (card, lines) = drawn([782, 120, 992, 400], 875, 406);
        let Caption::Read { offset, .. } = caption(&card, &lines, FACE, photo_frame(&card, FACE)) else {
            panic!("no caption");
        };
        assert!(offset.unwrap() < -0.05, "{offset:?}");
        // Reaching down over the top of the place of issue.
        let (mut card, lines) = drawn([770, 120, 980, 400], 875, 406);
        for y in 400..412 {
            for x in 770..980 {
                card.put_pixel(x, y, Rgb([60, 50, 40]));
            }
        }
        let Caption::Read { gap, .. } = caption(&card, &lines, FACE, photo_frame(&card, FACE)) else {
            panic!("no caption");
        };
        assert!(gap.unwrap() < 0.2, "{gap:?}");
        // Covering it: only the date shows.
        let covered: Vec<OcrLine> = lines[1..].to_vec();
        assert_eq!(caption(&card, &covered, FACE, photo_frame(&card, FACE)), Caption::PlaceMissing);
        assert_eq!(caption(&card, &[], FACE, photo_frame(&card, FACE)), Caption::Unread);
    }
}
