//! The NIK's digits against the glyphs of a face e-KTPs print it in. Pitch and stroke weight
//! cannot tell OCR-A (ISO 1073-1, a light monoline face set wide) from a monospaced typewriter
//! face a forger would reach for; the digits' shapes can. Each digit of the NIK line is
//! compared with the reference face's glyph for that digit, scaled to the measured height and
//! blurred as the camera blurred the card; the answer is the median correlation over the
//! digits, the best over a few scales and blurs.
//!
//! The reference is the digits of `fonts-ocr-a`'s OCRA.ttf (John Sauter's OCR-A, public
//! domain), drawn by `kenali_testkit::ktp_styled::digit_strip` into `assets/ocr_a_digits.png`
//! (`KENALI_BLESS=1 cargo test -p kenali-vision --test capture` draws it again; a test holds
//! the file to the font). The digits are placed from the line's last ink leftwards at the
//! measured pitch: summing the scaled glyphs' rounded widths drifted by pixels over 16 digits.

use std::sync::LazyLock;

use image::{imageops, GrayImage};

/// The reference strip's digit height in pixels (the digit 8, top to baseline).
pub const REFERENCE_HEIGHT: u32 = 48;
/// OCR-A's digits, 0–9 in equal advances, white ink on black.
pub const OCR_A_DIGITS: &[u8] = include_bytes!("../assets/ocr_a_digits.png");

/// Scales tried around the measured height (its band edges are within a few percent).
const SCALES: [f32; 5] = [0.92, 0.96, 1.0, 1.04, 1.08];
/// Blurs (pixels, Gaussian sigma) tried on the reference, for the camera's and the
/// rectification's.
const BLURS: [f32; 4] = [0.8, 1.4, 2.0, 2.8];
/// Each digit is searched this far (pixels) either way from where the pitch puts it.
const SHIFT_X: i64 = 3;
const SHIFT_Y: i64 = 2;

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

static OCR_A: LazyLock<Option<Reference>> = LazyLock::new(|| Reference::decode(OCR_A_DIGITS));

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

/// How closely the digits on a NIK line's darkness (`darkness`, row-major, `width` wide, 0
/// paper to 1 ink; its digits' band on rows `top..=bottom`, `pitch` pixels apart) follow
/// OCR-A's, for the printed `digits`: the median over the digits of each one's best
/// correlation, the best over scales and blurs. The digits are laid from the line's last ink
/// leftwards at the measured pitch (a line may begin with the label's colon). `None` when
/// nothing could be compared.
pub fn ocr_a_likeness(
    darkness: &[f32],
    width: usize,
    (top, bottom): (usize, usize),
    pitch: f32,
    digits: &str,
) -> Option<f32> {
    let reference = OCR_A.as_ref()?;
    let indices: Vec<usize> = digits.chars().filter_map(|c| c.to_digit(10)).map(|d| d as usize).collect();
    if indices.is_empty() || width == 0 {
        return None;
    }
    let band_height = (bottom + 1).saturating_sub(top) as f32;
    let column_ink = |x: usize| (top..=bottom).map(|y| darkness[y * width + x]).sum::<f32>();
    let last_ink = (0..width).rev().find(|&x| column_ink(x) > 0.5)?;
    let mut best: Option<f32> = None;
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
        let glyphs: Vec<&GrayImage> = indices.iter().map(|&d| &scaled[d]).collect();
        // Where the reference line's last ink falls within its last digit's cell.
        let last = glyphs.last()?;
        let trailing = (0..last.width())
            .rev()
            .find(|&x| (0..last.height()).any(|y| last.get_pixel(x, y)[0] > 127))
            .map_or(0, |x| last.width() - 1 - x);
        // The last cell ends where its glyph's advance ends; each cell is `pitch` wide.
        let end = (last_ink + 1) as f32 + trailing as f32 + (pitch - last.width() as f32) / 2.0;
        let glyph_height = glyphs[0].height();
        let y0 = (top as f32 + band_height / 2.0 - glyph_height as f32 / 2.0).round() as i64;
        for sigma in BLURS {
            let blurred: Vec<Vec<f32>> = scaled
                .iter()
                .map(|glyph| imageops::blur(glyph, sigma).pixels().map(|p| f32::from(p[0]) / 255.0).collect())
                .collect();
            let mut scores = Vec::with_capacity(glyphs.len());
            for (k, &d) in indices.iter().enumerate() {
                let glyph_width = scaled[d].width() as usize;
                let cell = end - (indices.len() - k) as f32 * pitch;
                let x = (cell + (pitch - glyph_width as f32) / 2.0).round() as i64;
                let found = (-SHIFT_X..=SHIFT_X)
                    .flat_map(|dx| (-SHIFT_Y..=SHIFT_Y).map(move |dy| (dx, dy)))
                    .filter_map(|(dx, dy)| correlation(darkness, width, &blurred[d], glyph_width, x + dx, y0 + dy))
                    .fold(None, |m: Option<f32>, c| Some(m.map_or(c, |m| m.max(c))));
                if let Some(score) = found {
                    scores.push(score);
                }
            }
            if scores.len() * 2 < glyphs.len() {
                continue;
            }
            scores.sort_by(f32::total_cmp);
            let median = scores[scores.len() / 2];
            best = Some(best.map_or(median, |b: f32| b.max(median)));
        }
    }
    best
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_decodes_into_ten_digits() {
        let reference = Reference::decode(OCR_A_DIGITS).unwrap();
        assert_eq!(reference.digits.len(), 10);
        // Every digit carries ink.
        for glyph in &reference.digits {
            assert!(glyph.pixels().filter(|p| p[0] > 127).count() > 50);
        }
    }

    #[test]
    fn the_references_own_digits_match_and_blank_ones_do_not() {
        let reference = Reference::decode(OCR_A_DIGITS).unwrap();
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
        let score = ocr_a_likeness(&darkness, width as usize, (10, bottom), pitch, digits).unwrap();
        assert!(score > 0.9, "{score}");
        let blank = vec![0.0; darkness.len()];
        assert_eq!(ocr_a_likeness(&blank, width as usize, (10, bottom), pitch, digits), None);
    }
}
