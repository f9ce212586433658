//! A KTP capture bundle, measured: every frame decoded, its card located, rectified and
//! measured (in parallel across the cores); then the sharpest frame's card read by the OCR and
//! its portrait found and embedded.

use std::time::{Duration, Instant};

use image::RgbImage;
use kenali_core::document::thresholds::READING_CONFIDENCE_MIN;
use kenali_core::document::{CardFrameMeasure, PortraitMeasure};
use kenali_core::ktp::{parse_card, KtpReading, OcrLine};
use kenali_core::typeface::TypefaceMeasure;

use crate::card::{locate_card, measure_card, rectify, CARD_WIDTH};
use crate::decode::{decode_image, DecodeError, DecodeLimits};
use crate::engine::{FaceEngine, FaceError};
use crate::measure::parallel_indexed;
use crate::ocr::{level_lines, OcrEngine, OcrError, TextLine};
use crate::portrait::{measure_portrait, Portrait};
use crate::typeface::{measure_typeface, print_levels};

/// The detector reads the rectified card (1012×638) scaled to a short side of 480, not the
/// default 736: its smallest type (the 21 px place and date of issue) is still 16 px high
/// there, every line is still found (kenali-vision's `bench_ktp`), and detection costs less
/// than half of what it does at the card's own size.
pub const CARD_DET_SHORT_SIDE: u32 = 480;

/// Where a capture's time went (CPU time of the worker that ran each stage; frames overlap).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CaptureTimes {
    pub decode: Duration,
    /// Locating, rectifying and measuring the card, over all frames.
    pub card: Duration,
    pub ocr: Duration,
    pub portrait: Duration,
}

impl CaptureTimes {
    pub fn stages(&self) -> [(&'static str, Duration); 4] {
        [("decode", self.decode), ("card", self.card), ("ocr", self.ocr), ("portrait", self.portrait)]
    }
}

#[derive(Debug, Clone)]
pub struct CaptureAnalysis {
    pub frames: Vec<CardFrameMeasure>,
    /// The frame the card was read from.
    pub read_frame: usize,
    pub lines: Vec<OcrLine>,
    pub reading: KtpReading,
    pub portrait: PortraitMeasure,
    pub portrait_face: Option<Portrait>,
    /// The NIK's type, measured on the line it was read from.
    pub nik_type: Option<TypefaceMeasure>,
    /// The rectified card the fields were read from.
    pub card: RgbImage,
    pub times: CaptureTimes,
}

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("frame {index}: {error}")]
    Decode { index: usize, error: DecodeError },
    #[error("no frame shows a readable KTP card")]
    NoCard,
    #[error(transparent)]
    Face(#[from] FaceError),
    #[error(transparent)]
    Ocr(#[from] OcrError),
}

/// One frame after the first phase.
struct FramePass {
    measure: CardFrameMeasure,
    card: Option<RgbImage>,
    decode: Duration,
    locate: Duration,
}

fn measure_frame(bytes: &[u8], sha256: &str, limits: DecodeLimits) -> Result<FramePass, DecodeError> {
    let started = Instant::now();
    let image = decode_image(bytes, limits)?;
    let decode = started.elapsed();
    let started = Instant::now();
    let (measure, card) = match locate_card(&image) {
        Some(quad) => {
            let card = rectify(&image, &quad);
            (measure_card(&image, &quad, &card, sha256), Some(card))
        }
        None => (CardFrameMeasure { sha256: sha256.to_string(), ..CardFrameMeasure::default() }, None),
    };
    Ok(FramePass { measure, card, decode, locate: started.elapsed() })
}

/// A line of at least four capitals and no small letters: a field's value (the NIK has none).
fn is_value_in_capitals(text: &str) -> bool {
    text.chars().filter(char::is_ascii_uppercase).count() >= 4 && !text.chars().any(|c| c.is_ascii_lowercase())
}

/// How unevenly a line of print is lit: its paper's level (the 90th percentile of grey) in
/// each of 8 × 2 cells along and across the line, as (brightest − dimmest) / brightest.
fn uneven_light(line: &RgbImage) -> f32 {
    const ALONG: u32 = 8;
    const ACROSS: u32 = 2;
    let (w, h) = line.dimensions();
    if w < ALONG || h < ACROSS {
        return f32::MAX;
    }
    let mut cells = vec![Vec::new(); (ALONG * ACROSS) as usize];
    for (x, y, pixel) in line.enumerate_pixels() {
        cells[((y * ACROSS / h) * ALONG + x * ALONG / w) as usize].push(crate::measure::luminance(pixel));
    }
    let papers: Vec<f32> = cells
        .iter_mut()
        .map(|cell| {
            cell.sort_by(f32::total_cmp);
            cell[(cell.len() - 1) * 9 / 10]
        })
        .collect();
    let (brightest, dimmest) = papers.iter().fold((f32::MIN, f32::MAX), |(hi, lo), p| (hi.max(*p), lo.min(*p)));
    (brightest - dimmest) / brightest.max(1.0)
}

/// Sharp and free of glare: the frame the OCR reads best.
fn readability(m: &CardFrameMeasure) -> f32 {
    m.sharpness * (1.0 - 10.0 * m.glare_fraction).max(0.05)
}

/// Measures every frame (`(bytes, sha256)`), reads the best card and finds its portrait.
pub fn analyze_capture(
    faces: &FaceEngine,
    ocr: &OcrEngine,
    frames: &[(&[u8], &str)],
    limits: DecodeLimits,
) -> Result<CaptureAnalysis, CaptureError> {
    let passes = parallel_indexed(frames.len(), |i| measure_frame(frames[i].0, frames[i].1, limits));
    let mut times = CaptureTimes::default();
    let mut measures = Vec::with_capacity(passes.len());
    let mut cards = Vec::with_capacity(passes.len());
    for (index, pass) in passes.into_iter().enumerate() {
        let pass = pass.map_err(|error| CaptureError::Decode { index, error })?;
        times.decode += pass.decode;
        times.card += pass.locate;
        measures.push(pass.measure);
        cards.push(pass.card);
    }
    let read_frame = (0..measures.len())
        .filter(|&i| cards[i].is_some())
        .max_by(|&a, &b| readability(&measures[a]).total_cmp(&readability(&measures[b])))
        .ok_or(CaptureError::NoCard)?;
    let card = cards[read_frame].take().ok_or(CaptureError::NoCard)?;
    let started = Instant::now();
    let center = [card.width() as f32 / 2.0, card.height() as f32 / 2.0];
    let mut read = ocr.read_at(&card, CARD_DET_SHORT_SIDE)?;
    // The frames are rectified alike: a line blurred by a shake, dimmed or lit by a glint in
    // the read frame is often clean where the others have it.
    let others: Vec<&RgbImage> = cards.iter().flatten().collect();
    ocr.reread_unsure(&mut read, &others, READING_CONFIDENCE_MIN)?;
    let lines = level_lines(&read, center);
    let reading = parse_card(&lines, CARD_WIDTH as f32);
    let nik_type = reading.nik.as_ref().and_then(|nik| {
        let printed = read.iter().find(|line| {
            let digits: String = line.text.chars().filter(char::is_ascii_digit).collect();
            digits.contains(&nik.value)
        })?;
        // The card's heaviest print: the NIK and the header's two lines (the topmost).
        let mut by_top: Vec<&TextLine> = read.iter().collect();
        by_top.sort_by(|a, b| a.bounds.top().total_cmp(&b.bounds.top()));
        // Measured on the frame whose light lies most evenly over the NIK line (the frames are
        // rectified alike, so the line is where the read frame has it): a glint over part of
        // the line lifts the ink under it, which reads as thinner strokes or a taller band.
        let (card, digits) = std::iter::once(&card)
            .chain(cards.iter().flatten())
            .filter_map(|frame| Some((frame, printed.bounds.crop(frame)?)))
            .min_by(|a, b| uneven_light(&a.1).total_cmp(&uneven_light(&b.1)))?;
        let header: Vec<RgbImage> = by_top.iter().take(2).filter_map(|line| line.bounds.crop(card)).collect();
        // The fields' type: values below the header in capitals (the labels are in mixed case).
        let values: Vec<RgbImage> = by_top
            .iter()
            .skip(2)
            .filter(|line| is_value_in_capitals(&line.text))
            .filter_map(|line| line.bounds.crop(card))
            .collect();
        measure_typeface(&digits, print_levels(header.iter().chain([&digits]))?, &nik.value, &values)
    });
    times.ocr = started.elapsed();
    // A region shaped like a card that carries none of a KTP's labelled fields is something
    // else (a face photo, a sheet of paper): no card to judge.
    if reading.fields_read() == 0 {
        return Err(CaptureError::NoCard);
    }
    let started = Instant::now();
    let (portrait, usable) = measure_portrait(faces, &card, &lines)?;
    times.portrait = started.elapsed();
    Ok(CaptureAnalysis {
        frames: measures,
        read_frame,
        lines,
        reading,
        portrait,
        portrait_face: usable,
        nik_type,
        card,
        times,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_glint_over_part_of_a_line_is_uneven_light() {
        // Dark strokes on paper at 200; a glint lifts the paper of the line's upper right
        // quarter by 40 grey levels.
        let line = |glint: f32| {
            RgbImage::from_fn(320, 40, |x, y| {
                let ink = x % 20 < 4 && (8..32).contains(&y);
                let base = if ink { 40.0 } else { 200.0 };
                let lift = if x >= 240 && y < 20 { glint } else { 0.0 };
                let v = (base + lift).min(255.0) as u8;
                image::Rgb([v, v, v])
            })
        };
        let (even, glinted) = (uneven_light(&line(0.0)), uneven_light(&line(40.0)));
        assert!(even < 0.01, "{even}");
        assert!(glinted > 0.15, "{glinted}");
    }
}
