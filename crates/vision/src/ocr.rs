//! Server-side OCR with PaddleOCR's PP-OCRv6 small models (PyPI `rapidocr` 3.10.0, Apache-2.0):
//! DB text detection, an oriented crop per text box, CTC recognition. Pre- and post-processing
//! follow rapidocr's own configuration (see `shared/MODELS.md`): BGR, (x/255 − 0.5)/0.5, NCHW;
//! detection at a short side of 736 with sides rounded to multiples of 32, probability
//! threshold 0.3, box score 0.5, 2×2 dilation, unclip ratio 1.6; recognition at height 48.
//!
//! Text boxes are found as 8-connected components of the thresholded probability map, each
//! fitted with an oriented rectangle from its pixels' principal axes. This is written here
//! rather than taken from OpenCV (which rapidocr uses) to keep the server free of C++
//! dependencies; it reads cards rotated by a few degrees, where axis-aligned boxes lose lines.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};

use image::RgbImage;
use tract_onnx::prelude::tract_linalg::multithread::{multithread_tract_scope, Executor};
use tract_onnx::prelude::*;

use crate::align::sample;
use crate::engine::Plan;
use crate::models::{self, ModelError};

/// Short side of the detector's input.
pub const DET_SHORT_SIDE: u32 = 736;
/// Pixels above this probability are text.
pub const DET_PIXEL_THRESHOLD: f32 = 0.3;
/// A box is kept when the mean probability inside it reaches this.
pub const DET_BOX_THRESHOLD: f32 = 0.5;
/// Boxes grow by area × ratio / perimeter on every side (DB's shrunk text kernels).
pub const DET_UNCLIP_RATIO: f32 = 1.6;
/// Boxes whose shorter side is at most this (detector pixels) are noise.
pub const DET_MIN_SIDE: f32 = 3.0;
/// Height of a line as the recogniser reads it.
pub const REC_HEIGHT: u32 = 48;
/// Widest line input; longer lines are squeezed to this width.
pub const REC_MAX_WIDTH: u32 = 1600;
/// Recogniser input widths are rounded up to a multiple of this, so that few plans exist.
pub const REC_WIDTH_STEP: u32 = 160;
/// Lines read with less confidence than this are dropped.
pub const REC_MIN_CONFIDENCE: f32 = 0.5;
/// Boxes whose tops are within this many pixels belong to one row.
pub const ROW_TOLERANCE: f32 = 10.0;

pub const OCR_DET: models::ModelFile = models::ModelFile {
    file_name: "PP-OCRv6_det_small.onnx",
    registry: models::Registry::PyPI,
    package: "rapidocr",
    version: "3.10.0",
    member: "rapidocr/models/PP-OCRv6_det_small.onnx",
    sha256: "090f04abcd9d9a7498bc4ebf677e4cb9bdce1fe4197ddb7e529f1ef44e1ff94f",
    licence: "Apache-2.0 (PaddleOCR PP-OCRv6 models, shipped in rapidocr)",
};

pub const OCR_REC: models::ModelFile = models::ModelFile {
    file_name: "PP-OCRv6_rec_small.onnx",
    registry: models::Registry::PyPI,
    package: "rapidocr",
    version: "3.10.0",
    member: "rapidocr/models/PP-OCRv6_rec_small.onnx",
    sha256: "6f327246b50388f3c176ae304bd95767ea6dc0c9ae92153ef8cbe210b3c14884",
    licence: "Apache-2.0 (PaddleOCR PP-OCRv6 models, shipped in rapidocr)",
};

/// The OCR model pack.
pub const OCR_PACK: [models::ModelFile; 2] = [OCR_DET, OCR_REC];

#[derive(Debug, thiserror::Error)]
pub enum OcrError {
    #[error(transparent)]
    Models(#[from] ModelError),
    #[error("OCR model: {0}")]
    Model(String),
    #[error("OCR inference failed: {0}")]
    Inference(String),
}

fn inference(err: impl std::fmt::Display) -> OcrError {
    OcrError::Inference(err.to_string())
}

/// An oriented rectangle in image pixels: centre, size along its axes, and the direction of
/// its width axis (a unit vector; the height axis is that turned 90° clockwise on screen).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OrientedBox {
    pub center: [f32; 2],
    pub width: f32,
    pub height: f32,
    pub axis: [f32; 2],
}

impl OrientedBox {
    /// Top-left, top-right, bottom-right, bottom-left.
    pub fn corners(&self) -> [[f32; 2]; 4] {
        let [ax, ay] = self.axis;
        let (bx, by) = (-ay, ax);
        let (hw, hh) = (self.width / 2.0, self.height / 2.0);
        let at = |s: f32, t: f32| [self.center[0] + s * ax + t * bx, self.center[1] + s * ay + t * by];
        [at(-hw, -hh), at(hw, -hh), at(hw, hh), at(-hw, hh)]
    }

    pub fn top(&self) -> f32 {
        self.corners().iter().map(|c| c[1]).fold(f32::MAX, f32::min)
    }

    pub fn left(&self) -> f32 {
        self.corners().iter().map(|c| c[0]).fold(f32::MAX, f32::min)
    }

    /// The box's pixels as an upright image, width along the box's axis.
    pub fn crop(&self, image: &RgbImage) -> Option<RgbImage> {
        let (w, h) = (self.width.round() as u32, self.height.round() as u32);
        if w < 2 || h < 2 || w > 8192 || h > 8192 {
            return None;
        }
        let [ax, ay] = self.axis;
        let (bx, by) = (-ay, ax);
        let origin = [
            self.center[0] - self.width / 2.0 * ax - self.height / 2.0 * bx,
            self.center[1] - self.width / 2.0 * ay - self.height / 2.0 * by,
        ];
        Some(RgbImage::from_fn(w, h, |i, j| {
            let (s, t) = (i as f32 + 0.5, j as f32 + 0.5);
            // Pixel centres are at +0.5 in the source too.
            let x = origin[0] + s * ax + t * bx - 0.5;
            let y = origin[1] + s * ay + t * by - 0.5;
            let v = sample(image, x, y);
            image::Rgb([v[0].round() as u8, v[1].round() as u8, v[2].round() as u8])
        }))
    }
}

/// One line of text read from an image.
#[derive(Debug, Clone, PartialEq)]
pub struct TextLine {
    pub text: String,
    /// Mean probability of the characters kept by the CTC decoder.
    pub confidence: f32,
    pub bounds: OrientedBox,
}

/// The lines as the card parser takes them (text, confidence, axis-aligned bounds), turned
/// about `center` by the lines' median skew so that a card held at a slight angle still has its
/// labels and values on level rows.
pub fn level_lines(lines: &[TextLine], center: [f32; 2]) -> Vec<kenali_core::ktp::OcrLine> {
    let mut angles: Vec<f32> = lines.iter().map(|l| l.bounds.axis[1].atan2(l.bounds.axis[0])).collect();
    angles.sort_by(f32::total_cmp);
    let skew = angles.get(angles.len() / 2).copied().unwrap_or(0.0);
    let (sin, cos) = (-skew).sin_cos();
    lines
        .iter()
        .map(|line| {
            let turned: Vec<[f32; 2]> = line
                .bounds
                .corners()
                .iter()
                .map(|[x, y]| {
                    let (dx, dy) = (x - center[0], y - center[1]);
                    [center[0] + dx * cos - dy * sin, center[1] + dx * sin + dy * cos]
                })
                .collect();
            let extent =
                |axis: usize, pick: fn(f32, f32) -> f32, start: f32| turned.iter().map(|c| c[axis]).fold(start, pick);
            kenali_core::ktp::OcrLine {
                text: line.text.clone(),
                confidence: line.confidence,
                left: extent(0, f32::min, f32::MAX),
                top: extent(1, f32::min, f32::MAX),
                right: extent(0, f32::max, f32::MIN),
                bottom: extent(1, f32::max, f32::MIN),
            }
        })
        .collect()
}

pub struct OcrEngine {
    det_model: InferenceModel,
    rec_model: InferenceModel,
    det_plans: Mutex<HashMap<(usize, usize), Plan>>,
    rec_plans: Mutex<HashMap<usize, Plan>>,
    /// Class index → text; index 0 is the CTC blank.
    classes: Vec<String>,
    /// Threads for the detector's matrix products. Detection is one large inference that
    /// would otherwise leave every core but one idle; recognition runs its lines in parallel
    /// instead.
    detector_threads: Executor,
}

fn parse_model(path: &Path) -> Result<InferenceModel, OcrError> {
    // The files' own shape annotations clash with tract's inference (MODELS.md).
    tract_onnx::onnx()
        .with_ignore_value_info(true)
        .with_ignore_output_shapes(true)
        .model_for_path(path)
        .map_err(|e| OcrError::Model(format!("{}: {e:#}", path.display())))
}

fn cached_plan<K: std::hash::Hash + Eq + Copy>(
    cache: &Mutex<HashMap<K, Plan>>,
    key: K,
    model: &InferenceModel,
    shape: &[usize],
) -> Result<Plan, OcrError> {
    let poisoned = || OcrError::Model("plan cache poisoned".into());
    if let Some(plan) = cache.lock().map_err(|_| poisoned())?.get(&key) {
        return Ok(Arc::clone(plan));
    }
    let build = || -> TractResult<Plan> {
        model.clone().with_input_fact(0, f32::fact(shape).into())?.into_optimized()?.into_runnable()
    };
    let plan = build().map_err(|e| OcrError::Model(format!("{e:#}")))?;
    cache.lock().map_err(|_| poisoned())?.insert(key, Arc::clone(&plan));
    Ok(plan)
}

/// NCHW input in BGR order, normalised to (x/255 − 0.5)/0.5, padded with zeros on the right.
fn bgr_input(image: &RgbImage, width: usize) -> Vec<f32> {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let plane = width * h;
    let mut input = vec![0f32; 3 * plane];
    for (x, y, pixel) in image.enumerate_pixels() {
        let (x, y) = (x as usize, y as usize);
        if x >= w.min(width) {
            continue;
        }
        let offset = y * width + x;
        for (channel, value) in [pixel[2], pixel[1], pixel[0]].into_iter().enumerate() {
            input[channel * plane + offset] = (f32::from(value) / 255.0 - 0.5) / 0.5;
        }
    }
    input
}

impl OcrEngine {
    /// Loads the verified OCR models from `models_dir` and reads the recogniser's character
    /// list from its metadata.
    pub fn load(models_dir: &Path) -> Result<Self, OcrError> {
        let det_model = parse_model(&models::verified_path(models_dir, &OCR_DET)?)?;
        let rec_model = parse_model(&models::verified_path(models_dir, &OCR_REC)?)?;
        let characters = rec_model
            .properties
            .get("onnx.metadata_props.character")
            .ok_or_else(|| OcrError::Model("the recogniser has no character list in its metadata".into()))?
            .to_plain_array_view::<String>()
            .map_err(|e| OcrError::Model(format!("character list: {e}")))?
            .iter()
            .next()
            .cloned()
            .ok_or_else(|| OcrError::Model("the character list is empty".into()))?;
        let mut classes = vec![String::new()];
        classes.extend(characters.split('\n').map(str::to_string));
        classes.push(" ".into());
        Ok(Self {
            det_model,
            rec_model,
            det_plans: Mutex::new(HashMap::new()),
            rec_plans: Mutex::new(HashMap::new()),
            classes,
            detector_threads: Executor::multithread_with_name(
                std::thread::available_parallelism().map_or(1, |n| n.get()),
                "kenali-ocr-detect",
            ),
        })
    }

    /// Every line of text in `image` read with at least [`REC_MIN_CONFIDENCE`], in reading
    /// order: rows from top to bottom (tops within [`ROW_TOLERANCE`]), left to right in a row.
    pub fn read(&self, image: &RgbImage) -> Result<Vec<TextLine>, OcrError> {
        self.read_at(image, DET_SHORT_SIDE)
    }

    /// [`Self::read`] with the detector seeing the image scaled to `short_side` (rounded to 32).
    pub fn read_at(&self, image: &RgbImage, short_side: u32) -> Result<Vec<TextLine>, OcrError> {
        let boxes = self.detect_at(image, short_side)?;
        // Lines are recognised independently: spread them over the cores.
        let read = crate::measure::parallel_indexed(boxes.len(), |i| {
            let Some(crop) = boxes[i].crop(image) else { return Ok(None) };
            let (text, confidence) = self.recognize(&crop)?;
            Ok((confidence >= REC_MIN_CONFIDENCE && !text.trim().is_empty()).then_some(TextLine {
                text,
                confidence,
                bounds: boxes[i],
            }))
        });
        let lines = read.into_iter().collect::<Result<Vec<_>, OcrError>>()?.into_iter().flatten().collect();
        Ok(reading_order(lines))
    }

    /// Recognises again, at the same box in each of `others` (images registered with the one
    /// `read` came from, such as a capture's other rectified frames), each line of `read` with
    /// less than `confidence_min`, and keeps the most confident reading. Only the unsure lines
    /// are read again: a few recognitions at most.
    pub fn reread_unsure(
        &self,
        read: &mut [TextLine],
        others: &[&RgbImage],
        confidence_min: f32,
    ) -> Result<(), OcrError> {
        let jobs: Vec<(usize, &RgbImage)> = (0..read.len())
            .filter(|&line| read[line].confidence < confidence_min)
            .flat_map(|line| others.iter().map(move |image| (line, *image)))
            .collect();
        let rereads = crate::measure::parallel_indexed(jobs.len(), |j| {
            let (line, image) = jobs[j];
            let Some(crop) = read[line].bounds.crop(image) else { return Ok(None) };
            self.recognize(&crop).map(|reading| Some((line, reading)))
        });
        for reread in rereads {
            let Some((line, (text, confidence))) = reread? else { continue };
            if confidence > read[line].confidence && !text.trim().is_empty() {
                read[line].text = text;
                read[line].confidence = confidence;
            }
        }
        Ok(())
    }

    /// Oriented boxes around the text in `image`, in image pixels.
    pub fn detect(&self, image: &RgbImage) -> Result<Vec<OrientedBox>, OcrError> {
        self.detect_at(image, DET_SHORT_SIDE)
    }

    /// [`Self::detect`] at another input scale.
    pub fn detect_at(&self, image: &RgbImage, short_side: u32) -> Result<Vec<OrientedBox>, OcrError> {
        let (src_w, src_h) = image.dimensions();
        let scale = short_side as f32 / src_w.min(src_h).max(1) as f32;
        let round32 = |side: u32| ((side as f32 * scale / 32.0).round() as u32).max(1) * 32;
        let (in_w, in_h) = (round32(src_w), round32(src_h));
        if u64::from(in_w) * u64::from(in_h) > 4096 * 4096 {
            return Err(OcrError::Inference(format!("image {src_w}×{src_h} is too elongated to read")));
        }
        let resized = crate::resample::resize(image, in_w, in_h)
            .ok_or_else(|| OcrError::Inference("cannot scale the image for text detection".into()))?;
        let (w, h) = (in_w as usize, in_h as usize);
        let tensor = Tensor::from_shape(&[1, 3, h, w], &bgr_input(&resized, w)).map_err(inference)?;
        let plan = cached_plan(&self.det_plans, (w, h), &self.det_model, &[1, 3, h, w])?;
        let outputs = multithread_tract_scope(self.detector_threads.clone(), || plan.run(tvec!(tensor.into())))
            .map_err(inference)?;
        let probability = outputs
            .first()
            .ok_or_else(|| OcrError::Model("the text detector gave no output".into()))?
            .to_plain_array_view::<f32>()
            .map_err(inference)?
            .iter()
            .copied()
            .collect::<Vec<f32>>();
        if probability.len() != w * h {
            return Err(OcrError::Model(format!("detector output has {} values for {w}×{h}", probability.len())));
        }
        let (sx, sy) = (src_w as f32 / w as f32, src_h as f32 / h as f32);
        Ok(text_boxes(&probability, w, h)
            .into_iter()
            .map(|b| {
                // Back to the source image; the axes' lengths scale with their direction.
                let axis = [b.axis[0] * sx, b.axis[1] * sy];
                let norm = (axis[0] * axis[0] + axis[1] * axis[1]).sqrt().max(f32::EPSILON);
                let across = [-b.axis[1] * sx, b.axis[0] * sy];
                let across_norm = (across[0] * across[0] + across[1] * across[1]).sqrt();
                OrientedBox {
                    center: [b.center[0] * sx, b.center[1] * sy],
                    width: b.width * norm,
                    height: b.height * across_norm,
                    axis: [axis[0] / norm, axis[1] / norm],
                }
            })
            .collect())
    }

    /// Reads one upright line crop: the text and its confidence.
    pub fn recognize(&self, line: &RgbImage) -> Result<(String, f32), OcrError> {
        let (w, h) = line.dimensions();
        let width = ((REC_HEIGHT as f32 * w as f32 / h.max(1) as f32).ceil() as u32).clamp(8, REC_MAX_WIDTH);
        let resized = crate::resample::resize(line, width, REC_HEIGHT)
            .ok_or_else(|| OcrError::Inference("cannot scale a text line".into()))?;
        let padded = (width.div_ceil(REC_WIDTH_STEP) * REC_WIDTH_STEP) as usize;
        let height = REC_HEIGHT as usize;
        let tensor = Tensor::from_shape(&[1, 3, height, padded], &bgr_input(&resized, padded)).map_err(inference)?;
        let plan = cached_plan(&self.rec_plans, padded, &self.rec_model, &[1, 3, height, padded])?;
        let outputs = plan.run(tvec!(tensor.into())).map_err(inference)?;
        let view = outputs
            .first()
            .ok_or_else(|| OcrError::Model("the recogniser gave no output".into()))?
            .to_plain_array_view::<f32>()
            .map_err(inference)?;
        let shape = view.shape().to_vec();
        let classes = *shape.last().unwrap_or(&0);
        if classes != self.classes.len() {
            return Err(OcrError::Model(format!("recogniser has {classes} classes, the list {}", self.classes.len())));
        }
        let scores: Vec<f32> = view.iter().copied().collect();
        Ok(ctc_greedy(&scores, classes, &self.classes))
    }
}

/// Greedy CTC: the best class per step, repeats collapsed, blanks dropped; the confidence is
/// the mean probability of the kept steps.
fn ctc_greedy(scores: &[f32], classes: usize, names: &[String]) -> (String, f32) {
    let mut text = String::new();
    let mut kept = Vec::new();
    let mut previous = 0usize;
    for step in scores.chunks(classes) {
        let (best, probability) =
            step.iter().copied().enumerate().fold((0, f32::MIN), |top, (i, p)| if p > top.1 { (i, p) } else { top });
        if best != 0 && best != previous {
            text.push_str(&names[best]);
            kept.push(probability);
        }
        previous = best;
    }
    let confidence = if kept.is_empty() { 0.0 } else { kept.iter().sum::<f32>() / kept.len() as f32 };
    (text, confidence)
}

/// Rows top to bottom, left to right within a row.
fn reading_order(mut lines: Vec<TextLine>) -> Vec<TextLine> {
    lines.sort_by(|a, b| a.bounds.top().total_cmp(&b.bounds.top()));
    let mut rows: Vec<Vec<TextLine>> = Vec::new();
    for line in lines {
        match rows.last_mut() {
            Some(row) if (line.bounds.top() - row[0].bounds.top()).abs() <= ROW_TOLERANCE => row.push(line),
            _ => rows.push(vec![line]),
        }
    }
    rows.into_iter()
        .flat_map(|mut row| {
            row.sort_by(|a, b| a.bounds.left().total_cmp(&b.bounds.left()));
            row
        })
        .collect()
}

/// DB post-processing on a `w × h` probability map: threshold, dilate 2×2, 8-connected
/// components, an oriented rectangle per component, scored, unclipped. Detector pixels.
fn text_boxes(probability: &[f32], w: usize, h: usize) -> Vec<OrientedBox> {
    let raw: Vec<bool> = probability.iter().map(|&p| p > DET_PIXEL_THRESHOLD).collect();
    // 2×2 dilation: a pixel is set when it or its left, upper or upper-left neighbour is.
    let mut mask = raw.clone();
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            mask[i] = raw[i] || (x > 0 && raw[i - 1]) || (y > 0 && raw[i - w]) || (x > 0 && y > 0 && raw[i - w - 1]);
        }
    }
    let mut seen = vec![false; w * h];
    let mut boxes = Vec::new();
    let mut queue = VecDeque::new();
    for start in 0..w * h {
        if !mask[start] || seen[start] {
            continue;
        }
        seen[start] = true;
        queue.push_back(start);
        let mut pixels = Vec::new();
        while let Some(i) = queue.pop_front() {
            pixels.push(i);
            let (x, y) = ((i % w) as i64, (i / w) as i64);
            for (dx, dy) in [(-1, -1), (0, -1), (1, -1), (-1, 0), (1, 0), (-1, 1), (0, 1), (1, 1)] {
                let (nx, ny) = (x + dx, y + dy);
                if nx < 0 || ny < 0 || nx >= w as i64 || ny >= h as i64 {
                    continue;
                }
                let j = ny as usize * w + nx as usize;
                if mask[j] && !seen[j] {
                    seen[j] = true;
                    queue.push_back(j);
                }
            }
        }
        if let Some(found) = component_box(&pixels, w, probability) {
            boxes.push(found);
        }
    }
    boxes
}

/// The oriented rectangle of one component, or `None` when it is noise or scores too low.
fn component_box(pixels: &[usize], w: usize, probability: &[f32]) -> Option<OrientedBox> {
    if pixels.len() < 4 {
        return None;
    }
    let points: Vec<[f32; 2]> = pixels.iter().map(|&i| [(i % w) as f32 + 0.5, (i / w) as f32 + 0.5]).collect();
    let n = points.len() as f32;
    let mean = points.iter().fold([0.0, 0.0], |m, p| [m[0] + p[0] / n, m[1] + p[1] / n]);
    let (mut sxx, mut syy, mut sxy) = (0.0f32, 0.0f32, 0.0f32);
    for p in &points {
        let (dx, dy) = (p[0] - mean[0], p[1] - mean[1]);
        sxx += dx * dx;
        syy += dy * dy;
        sxy += dx * dy;
    }
    // Principal axis of the pixel spread; of it and its normal, the more horizontal one is the
    // width axis, pointing right.
    let angle = 0.5 * (2.0 * sxy).atan2(sxx - syy);
    let (major, minor) = ([angle.cos(), angle.sin()], [-angle.sin(), angle.cos()]);
    let mut axis = if major[0].abs() >= minor[0].abs() { major } else { minor };
    if axis[0] < 0.0 {
        axis = [-axis[0], -axis[1]];
    }
    let across = [-axis[1], axis[0]];
    let (mut s_min, mut s_max, mut t_min, mut t_max) = (f32::MAX, f32::MIN, f32::MAX, f32::MIN);
    for p in &points {
        let (dx, dy) = (p[0] - mean[0], p[1] - mean[1]);
        let (s, t) = (dx * axis[0] + dy * axis[1], dx * across[0] + dy * across[1]);
        s_min = s_min.min(s - 0.5);
        s_max = s_max.max(s + 0.5);
        t_min = t_min.min(t - 0.5);
        t_max = t_max.max(t + 0.5);
    }
    let (width, height) = (s_max - s_min, t_max - t_min);
    if width.min(height) <= DET_MIN_SIDE {
        return None;
    }
    let (cs, ct) = ((s_min + s_max) / 2.0, (t_min + t_max) / 2.0);
    let center = [mean[0] + cs * axis[0] + ct * across[0], mean[1] + cs * axis[1] + ct * across[1]];
    // Score: mean probability over the component's pixels (the text kernel itself).
    let score = pixels.iter().map(|&i| probability[i]).sum::<f32>() / n;
    if score < DET_BOX_THRESHOLD {
        return None;
    }
    let grow = width * height * DET_UNCLIP_RATIO / (2.0 * (width + height));
    let (width, height) = (width + 2.0 * grow, height + 2.0 * grow);
    if width.min(height) <= DET_MIN_SIDE + 2.0 {
        return None;
    }
    Some(OrientedBox { center, width, height, axis })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ctc_collapses_repeats_and_drops_blanks() {
        let names: Vec<String> = ["", "a", "b"].iter().map(|s| s.to_string()).collect();
        // Steps: a a blank a b b → "aab".
        let steps =
            [[0.1, 0.8, 0.1], [0.1, 0.9, 0.0], [0.9, 0.05, 0.05], [0.2, 0.7, 0.1], [0.1, 0.1, 0.8], [0.0, 0.2, 0.8]];
        let flat: Vec<f32> = steps.iter().flatten().copied().collect();
        let (text, confidence) = ctc_greedy(&flat, 3, &names);
        assert_eq!(text, "aab");
        assert!((confidence - (0.8 + 0.7 + 0.8) / 3.0).abs() < 1e-5);
    }

    #[test]
    fn a_tilted_bar_of_probability_becomes_one_tilted_box() {
        let (w, h) = (200, 100);
        let mut map = vec![0f32; w * h];
        // A 120×10 bar tilted by 5°, centred at (100, 50).
        let (sin, cos) = 5f32.to_radians().sin_cos();
        for y in 0..h {
            for x in 0..w {
                let (dx, dy) = (x as f32 + 0.5 - 100.0, y as f32 + 0.5 - 50.0);
                let (s, t) = (dx * cos + dy * sin, -dx * sin + dy * cos);
                if s.abs() <= 60.0 && t.abs() <= 5.0 {
                    map[y * w + x] = 0.9;
                }
            }
        }
        let boxes = text_boxes(&map, w, h);
        assert_eq!(boxes.len(), 1);
        let found = boxes[0];
        assert!((found.axis[1].atan2(found.axis[0]).to_degrees() - 5.0).abs() < 1.0, "{found:?}");
        assert!((found.center[0] - 100.0).abs() < 2.0 && (found.center[1] - 50.0).abs() < 2.0, "{found:?}");
        // Unclipped: 120×10 grows by 120·10·1.6 / 260 ≈ 7.4 on each side.
        assert!(found.width > 130.0 && found.height > 20.0, "{found:?}");
    }

    #[test]
    fn faint_or_thin_marks_are_not_text() {
        let (w, h) = (50, 50);
        let mut map = vec![0f32; w * h];
        for x in 5..45 {
            map[10 * w + x] = 0.9; // one pixel high
        }
        for y in 20..30 {
            for x in 5..45 {
                map[y * w + x] = 0.35; // above the pixel threshold, below the box score
            }
        }
        assert!(text_boxes(&map, w, h).is_empty());
    }

    #[test]
    fn lines_are_read_row_by_row_left_to_right() {
        let line = |text: &str, x: f32, y: f32| TextLine {
            text: text.into(),
            confidence: 0.9,
            bounds: OrientedBox { center: [x, y], width: 20.0, height: 10.0, axis: [1.0, 0.0] },
        };
        let ordered = reading_order(vec![line("c", 50.0, 40.0), line("b", 80.0, 12.0), line("a", 30.0, 10.0)]);
        let texts: Vec<&str> = ordered.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["a", "b", "c"]);
    }
}
