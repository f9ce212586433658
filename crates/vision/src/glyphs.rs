//! The NIK's digits against the glyphs of the faces a NIK may be printed in. Pitch and stroke
//! weight cannot tell OCR-A (ISO 1073-1, a light monoline face set wide) from a monospaced
//! typewriter face a forger would reach for, nor a grotesque bold measured a little narrow
//! from a serif bold; the digits' shapes can. Each digit of the NIK line is compared with the
//! reference face's glyph for that digit, scaled to the measured height and blurred as the
//! camera blurred the card; the answer is the median correlation over the digits, the best
//! over a few scales and blurs.
//!
//! The references are the digits of Debian's fonts drawn by
//! `kenali_testkit::ktp_styled::digit_strip` into `assets/*_digits.png`
//! (`KENALI_BLESS=1 cargo test -p kenali-vision --test capture` draws them again; a test holds
//! each file to its font): `fonts-ocr-a`'s OCRA.ttf (John Sauter's OCR-A, public domain) and
//! `fonts-liberation`'s Liberation Sans Bold (Arial's metrics, the e-KTP's grotesque) and
//! Liberation Serif Bold (Times's, the serif a forger's word processor offers first), both
//! under the SIL Open Font Licence. The digits are placed one measured pitch apart: summing
//! the scaled glyphs' rounded widths drifted by pixels over 16 digits.

use std::sync::LazyLock;

use image::{imageops, GrayImage};

/// The reference strips' digit height in pixels (the digit 8, top to baseline).
pub const REFERENCE_HEIGHT: u32 = 48;

/// A face the NIK's digits are compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Face {
    /// OCR-A, one of the faces e-KTPs print the NIK in.
    OcrA,
    /// A grotesque bold (Liberation Sans Bold), the e-KTP's own NIK face.
    GrotesqueBold,
    /// A serif bold (Liberation Serif Bold), no e-KTP's.
    SerifBold,
}

impl Face {
    pub const ALL: [Face; 3] = [Face::OcrA, Face::GrotesqueBold, Face::SerifBold];

    /// The reference strip's file under `assets/`.
    pub fn asset(self) -> &'static str {
        match self {
            Face::OcrA => "ocr_a_digits.png",
            Face::GrotesqueBold => "grotesque_bold_digits.png",
            Face::SerifBold => "serif_bold_digits.png",
        }
    }

    /// The face's ten digits, 0–9 in equal advances, white ink on black.
    pub fn reference_png(self) -> &'static [u8] {
        match self {
            Face::OcrA => include_bytes!("../assets/ocr_a_digits.png"),
            Face::GrotesqueBold => include_bytes!("../assets/grotesque_bold_digits.png"),
            Face::SerifBold => include_bytes!("../assets/serif_bold_digits.png"),
        }
    }
}

/// Scales tried around the measured height (its band edges are within a few percent).
const SCALES: [f32; 5] = [0.92, 0.96, 1.0, 1.04, 1.08];
/// Blurs (pixels, Gaussian sigma) tried on the reference, for the camera's and the
/// rectification's.
const BLURS: [f32; 4] = [0.8, 1.4, 2.0, 2.8];
/// Each digit is searched this far (pixels) either way from where the pitch puts it.
const SHIFT_X: i64 = 3;
const SHIFT_Y: i64 = 2;
/// The reference line is laid only where at least this share of it falls inside the line.
const MIN_OVERLAP: f32 = 0.85;
/// How many of the best placements of the line are tried.
const LINE_CANDIDATES: usize = 3;

/// A reference face's ten digits as darkness (0 paper, 1 ink), each its advance wide.
struct Reference {
    digits: Vec<GrayImage>,
}

impl Reference {
    fn decode(png: &[u8]) -> Option<Reference> {
        let strip = image::load_from_memory(png).ok()?.to_luma8();
        let advance = strip.width() / 10;
        if advance == 0 || strip.height() != REFERENCE_HEIGHT {
            return None;
        }
        let digits = (0..10).map(|k| imageops::crop_imm(&strip, k * advance, 0, advance, strip.height()).to_image());
        Some(Reference { digits: digits.collect() })
    }
}

static REFERENCES: LazyLock<Vec<Option<Reference>>> =
    LazyLock::new(|| Face::ALL.iter().map(|face| Reference::decode(face.reference_png())).collect());

fn reference(face: Face) -> Option<&'static Reference> {
    let index = Face::ALL.iter().position(|&f| f == face)?;
    REFERENCES.get(index)?.as_ref()
}

/// Normalised cross-correlation of `glyph` with `darkness` (row-major, `width` wide) at
/// (`x`, `y`); `None` where the glyph would leave the image or either side is flat.
fn correlation(darkness: &[f32], width: usize, glyph: &[f32], glyph_width: usize, x: i64, y: i64) -> Option<f32> {
    let glyph_height = glyph.len() / glyph_width;
    let height = darkness.len() / width;
    if x < 0 || y < 0 || x as usize + glyph_width > width || y as usize + glyph_height > height {
        return None;
    }
    let (x, y) = (x as usize, y as usize);
    let n = glyph.len() as f32;
    let (mut sum_a, mut sum_b, mut sum_ab, mut sum_aa, mut sum_bb) = (0.0f32, 0.0f32, 0.0f32, 0.0f32, 0.0f32);
    for row in 0..glyph_height {
        let observed = &darkness[(y + row) * width + x..(y + row) * width + x + glyph_width];
        for (a, b) in observed.iter().zip(&glyph[row * glyph_width..(row + 1) * glyph_width]) {
            sum_a += a;
            sum_b += b;
            sum_ab += a * b;
            sum_aa += a * a;
            sum_bb += b * b;
        }
    }
    let covariance = sum_ab - sum_a * sum_b / n;
    let spread = ((sum_aa - sum_a * sum_a / n) * (sum_bb - sum_b * sum_b / n)).sqrt();
    (spread > f32::EPSILON).then(|| covariance / spread)
}

/// The offsets (pixels) at which a line of glyphs whose column profile is `reference` lines up
/// best with the `observed` profile, best first: the highest peaks of their normalised
/// correlation over offsets that keep at least `MIN_OVERLAP` of the reference inside the line
/// (the OCR's box may clip the last digit). Digits of one face have alike profiles, so a line
/// laid a digit out of step can score nearly as well: the caller tries a few.
fn line_offsets(observed: &[f32], reference: &[f32]) -> Vec<i64> {
    let (n, m) = (observed.len() as i64, reference.len() as i64);
    let least = ((m as f32 * MIN_OVERLAP) as i64).max(1);
    let mut scores: Vec<(i64, f32)> = Vec::new();
    for offset in (least - m)..=(n - least) {
        let (from, to) = (offset.max(0), (offset + m).min(n));
        if to - from < least {
            continue;
        }
        // The overlapping part of the reference, as a one-row glyph on the one-row profile.
        let overlap = &reference[(from - offset) as usize..(to - offset) as usize];
        let score = correlation(observed, observed.len(), overlap, overlap.len(), from, 0).unwrap_or(f32::MIN);
        scores.push((offset, score));
    }
    let mut peaks: Vec<(i64, f32)> = (0..scores.len())
        .filter(|&i| {
            let score = scores[i].1;
            score > f32::MIN
                && i.checked_sub(1).is_none_or(|j| scores[j].1 <= score)
                && scores.get(i + 1).is_none_or(|next| next.1 < score)
        })
        .map(|i| scores[i])
        .collect();
    peaks.sort_by(|a, b| b.1.total_cmp(&a.1));
    peaks.into_iter().take(LINE_CANDIDATES).map(|(offset, _)| offset).collect()
}

/// How closely the digits on a NIK line's darkness (`darkness`, row-major, `width` wide, 0
/// paper to 1 ink; its digits' band on rows `top..=bottom`, `pitch` pixels apart) follow
/// `face`'s, for the printed `digits`: the median over the digits of each one's best
/// correlation, the best over scales and blurs. The line of reference digits is first laid
/// where its column profile best matches the line's (a line may begin with the label's colon,
/// end in a clipped digit or carry a highlight), then each digit is searched a few pixels
/// around its place. `None` when nothing could be compared.
pub fn likeness(
    face: Face,
    darkness: &[f32],
    width: usize,
    (top, bottom): (usize, usize),
    pitch: f32,
    digits: &str,
) -> Option<f32> {
    let reference = reference(face)?;
    let indices: Vec<usize> = digits.chars().filter_map(|c| c.to_digit(10)).map(|d| d as usize).collect();
    if indices.is_empty() || width == 0 || pitch <= 0.0 {
        return None;
    }
    let band_height = (bottom + 1).saturating_sub(top) as f32;
    let observed: Vec<f32> = (0..width).map(|x| (top..=bottom).map(|y| darkness[y * width + x]).sum()).collect();
    // Each scale's best placement, judged at a middling blur; then every blur at the best
    // scale's.
    let mut placed: Option<(f32, Placement)> = None;
    for scale in SCALES {
        let zoom = band_height * scale / REFERENCE_HEIGHT as f32;
        // Each of the ten digits scaled (and below, blurred) once, however often the NIK
        // repeats it.
        let scaled: Vec<GrayImage> = reference
            .digits
            .iter()
            .map(|glyph| {
                let w = ((glyph.width() as f32 * zoom).round() as u32).max(1);
                let h = ((glyph.height() as f32 * zoom).round() as u32).max(1);
                imageops::resize(glyph, w, h, imageops::FilterType::Triangle)
            })
            .collect();
        // Where each digit's glyph starts in a line of cells `pitch` wide, the glyph centred
        // in its cell, and that line's column profile.
        let starts: Vec<i64> = indices
            .iter()
            .enumerate()
            .map(|(k, &d)| (k as f32 * pitch + (pitch - scaled[d].width() as f32) / 2.0).round() as i64)
            .collect();
        let span = starts.iter().zip(&indices).map(|(&x, &d)| x + i64::from(scaled[d].width())).max()?;
        let lead = starts.iter().copied().min()?.min(0);
        let mut profile = vec![0f32; (span - lead).max(1) as usize];
        for (&x, &d) in starts.iter().zip(&indices) {
            let glyph = &scaled[d];
            for gx in 0..glyph.width() {
                let ink: f32 = (0..glyph.height()).map(|gy| f32::from(glyph.get_pixel(gx, gy)[0]) / 255.0).sum();
                profile[(x - lead + i64::from(gx)) as usize] += ink;
            }
        }
        let glyph_height = scaled[indices[0]].height();
        let y0 = (top as f32 + band_height / 2.0 - glyph_height as f32 / 2.0).round() as i64;
        let mut placement = Placement { scaled, starts, origin: 0, y0 };
        let middling = placement.blurred(BLURS[BLURS.len() / 2]);
        let mut best_here: Option<(f32, i64)> = None;
        for offset in line_offsets(&observed, &profile) {
            placement.origin = offset + lead;
            let Some(score) = placement.score(darkness, width, &indices, &middling) else { continue };
            if best_here.is_none_or(|(best, _)| score > best) {
                best_here = Some((score, placement.origin));
            }
        }
        if let Some((score, origin)) = best_here {
            if placed.as_ref().is_none_or(|(best, _)| score > *best) {
                placement.origin = origin;
                placed = Some((score, placement));
            }
        }
    }
    let (_, placement) = placed?;
    BLURS
        .iter()
        .filter_map(|&sigma| placement.score(darkness, width, &indices, &placement.blurred(sigma)))
        .max_by(f32::total_cmp)
}

/// A line of reference digits scaled and laid on the NIK line.
struct Placement {
    /// The ten digits at the line's scale.
    scaled: Vec<GrayImage>,
    /// Where each of the NIK's digits starts from the line's origin.
    starts: Vec<i64>,
    /// The line's first column and the glyphs' top row on the NIK line.
    origin: i64,
    y0: i64,
}

impl Placement {
    /// The ten digits blurred by `sigma`, as darkness.
    fn blurred(&self, sigma: f32) -> Vec<Vec<f32>> {
        self.scaled
            .iter()
            .map(|glyph| imageops::blur(glyph, sigma).pixels().map(|p| f32::from(p[0]) / 255.0).collect())
            .collect()
    }

    /// The median over the NIK's `indices` of each digit's best correlation with its
    /// `blurred` glyph, a few pixels around its place; `None` when fewer than half could be
    /// compared.
    fn score(&self, darkness: &[f32], width: usize, indices: &[usize], blurred: &[Vec<f32>]) -> Option<f32> {
        let mut scores = Vec::with_capacity(indices.len());
        for (&d, &start) in indices.iter().zip(&self.starts) {
            let glyph_width = self.scaled[d].width() as usize;
            let (x, y) = (self.origin + start, self.y0);
            let found = (-SHIFT_X..=SHIFT_X)
                .flat_map(|dx| (-SHIFT_Y..=SHIFT_Y).map(move |dy| (dx, dy)))
                .filter_map(|(dx, dy)| correlation(darkness, width, &blurred[d], glyph_width, x + dx, y + dy))
                .fold(None, |m: Option<f32>, c| Some(m.map_or(c, |m| m.max(c))));
            scores.extend(found);
        }
        if scores.len() * 2 < indices.len() {
            return None;
        }
        scores.sort_by(f32::total_cmp);
        Some(scores[scores.len() / 2])
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_decodes_into_ten_digits() {
        for face in Face::ALL {
            let reference = reference(face).unwrap();
            assert_eq!(reference.digits.len(), 10, "{face:?}");
            // Every digit carries ink.
            for glyph in &reference.digits {
                assert!(glyph.pixels().filter(|p| p[0] > 127).count() > 50, "{face:?}");
            }
        }
    }

    #[test]
    fn the_references_own_digits_match_and_blank_ones_do_not() {
        let reference = reference(Face::OcrA).unwrap();
        let digits = "3175";
        let strip: Vec<&GrayImage> =
            digits.chars().map(|c| &reference.digits[c.to_digit(10).unwrap() as usize]).collect();
        let width: u32 = strip.iter().map(|g| g.width()).sum::<u32>() + 20;
        let height = REFERENCE_HEIGHT + 20;
        let mut line = GrayImage::new(width, height);
        let mut x = 10;
        for glyph in strip {
            imageops::overlay(&mut line, glyph, x, 10);
            x += i64::from(glyph.width());
        }
        let darkness: Vec<f32> = line.pixels().map(|p| f32::from(p[0]) / 255.0).collect();
        let bottom = 10 + REFERENCE_HEIGHT as usize - 1;
        let pitch = reference.digits[0].width() as f32;
        let score = likeness(Face::OcrA, &darkness, width as usize, (10, bottom), pitch, digits).unwrap();
        assert!(score > 0.9, "{score}");
        let blank = vec![0.0; darkness.len()];
        assert_eq!(likeness(Face::OcrA, &blank, width as usize, (10, bottom), pitch, digits), None);
    }
}
