//! Measurements of a bundle's capture frames for the liveness voters: the face (count, size,
//! landmarks, embedding, anti-spoof probability) and simple photometry of the face region.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use image::imageops::FilterType;
use image::{Rgb, RgbImage};
use kenali_core::liveness::thresholds::{ANTISPOOF_FRAMES, EMBEDDED_FRAMES};
use kenali_core::liveness::{frames_for_models, FrameMeasure};

use crate::align::align_arcface;
use crate::decode::{decode_image, DecodeError, DecodeLimits};
use crate::detect::{Face, COARSE_LONG_SIDE};
use crate::engine::{FaceEngine, FaceError};

/// The central part of the face box: skin, not hair or background.
fn inner_region(image: &RgbImage, bbox: &[f32; 4]) -> Option<RgbImage> {
    let (w, h) = (bbox[2] - bbox[0], bbox[3] - bbox[1]);
    let x = (bbox[0] + 0.2 * w).max(0.0) as u32;
    let y = (bbox[1] + 0.2 * h).max(0.0) as u32;
    if x >= image.width() || y >= image.height() {
        return None;
    }
    let cw = ((0.6 * w) as u32).min(image.width() - x);
    let ch = ((0.6 * h) as u32).min(image.height() - y);
    if cw < 4 || ch < 4 {
        return None;
    }
    Some(image::imageops::crop_imm(image, x, y, cw, ch).to_image())
}

/// (sharpness, mean luminance, mean RGB) of the face's inner region. Sharpness is the
/// variance of the 4-neighbour Laplacian on a copy scaled to 128 px wide, so that it does not
/// depend on the camera's resolution.
pub fn face_photometry(image: &RgbImage, face: &Face) -> Option<(f32, f32, [f32; 3])> {
    let region = inner_region(image, &face.bbox)?;
    let mut mean = [0f64; 3];
    for pixel in region.pixels() {
        for c in 0..3 {
            mean[c] += f64::from(pixel[c]);
        }
    }
    let count = f64::from(region.width() * region.height());
    let mean_rgb = [(mean[0] / count) as f32, (mean[1] / count) as f32, (mean[2] / count) as f32];
    let luminance = 0.299 * mean_rgb[0] + 0.587 * mean_rgb[1] + 0.114 * mean_rgb[2];
    let scaled_h = (region.height() * 128 / region.width().max(1)).max(3);
    let grey = image::imageops::grayscale(&image::imageops::resize(&region, 128, scaled_h, FilterType::Triangle));
    let (gw, gh) = grey.dimensions();
    let at = |x: u32, y: u32| f64::from(grey.get_pixel(x, y)[0]);
    let mut values = Vec::with_capacity(((gw - 2) * (gh - 2)) as usize);
    for y in 1..gh - 1 {
        for x in 1..gw - 1 {
            values.push(at(x - 1, y) + at(x + 1, y) + at(x, y - 1) + at(x, y + 1) - 4.0 * at(x, y));
        }
    }
    let n = values.len().max(1) as f64;
    let m = values.iter().sum::<f64>() / n;
    let variance = values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / n;
    Some((variance as f32, luminance, mean_rgb))
}

/// Side of the aligned face compared across frames (`FrameMeasure::appearance`): coarse
/// enough that small motion and JPEG noise do not matter, fine enough to tell people apart.
pub const APPEARANCE_SIDE: u32 = 28;

/// A pixel's luminance (ITU-R BT.601 weights), in grey levels.
pub(crate) fn luminance(p: &Rgb<u8>) -> f32 {
    0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2])
}

/// The face aligned onto the ArcFace template by its landmarks, scaled to
/// [`APPEARANCE_SIDE`]², grey, standardised to zero mean and unit variance (so that the flash's
/// tint and brightness do not count). Empty when the landmarks do not align.
pub fn face_appearance(image: &RgbImage, landmarks: &[[f32; 2]; 5]) -> Vec<f32> {
    let Some(aligned) = align_arcface(image, landmarks) else { return Vec::new() };
    let Some(small) = crate::resample::resize(&aligned, APPEARANCE_SIDE, APPEARANCE_SIDE) else { return Vec::new() };
    let grey: Vec<f32> = small.pixels().map(luminance).collect();
    let n = grey.len() as f32;
    let mean = grey.iter().sum::<f32>() / n;
    let deviation = (grey.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n).sqrt();
    if deviation < 1e-3 {
        // A flat patch has no appearance to compare.
        return Vec::new();
    }
    grey.iter().map(|v| (v - mean) / deviation).collect()
}

/// Where the time went for one frame, stage by stage (CPU time on the worker that ran it).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StageTimes {
    pub decode: Duration,
    /// The coarse detection, and the refinement on the frames the models read.
    pub detect: Duration,
    /// Alignment and embedding.
    pub embed: Duration,
    pub antispoof: Duration,
    /// Face photometry, the moiré spectrum and the appearance.
    pub photometry: Duration,
}

impl StageTimes {
    pub fn stages(&self) -> [(&'static str, Duration); 5] {
        [
            ("decode", self.decode),
            ("detect", self.detect),
            ("embed", self.embed),
            ("antispoof", self.antispoof),
            ("photometry", self.photometry),
        ]
    }
}

/// Why a bundle's frames could not be measured.
#[derive(Debug, thiserror::Error)]
pub enum MeasureError {
    #[error("frame {index}: {error}")]
    Decode { index: usize, error: DecodeError },
    #[error(transparent)]
    Face(#[from] FaceError),
}

/// A frame after the first phase: decoded, its face found and photometry taken.
struct Located {
    image: RgbImage,
    face: Option<Face>,
    measure: FrameMeasure,
    times: StageTimes,
}

/// Runs `job(i)` for every `i < count` on up to one thread per core; each thread takes the
/// next index when it is free, so unequal jobs still spread evenly.
pub(crate) fn parallel_indexed<R: Send>(count: usize, job: impl Fn(usize) -> R + Sync) -> Vec<R> {
    let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(count);
    if workers <= 1 {
        return (0..count).map(job).collect();
    }
    let next = AtomicUsize::new(0);
    let mut results: Vec<(usize, R)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= count {
                            return done;
                        }
                        done.push((i, job(i)));
                    }
                })
            })
            .collect();
        // A panicking job is a bug; let it propagate like a panic on this thread would.
        handles.into_iter().flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
    });
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

impl FaceEngine {
    /// Decodes a frame, finds its face and takes its photometry.
    fn locate(&self, bytes: &[u8], sha256: &str, limits: DecodeLimits) -> Result<Located, MeasureError> {
        let started = Instant::now();
        let mut times = StageTimes::default();
        let image = decode_image(bytes, limits).map_err(|error| MeasureError::Decode { index: 0, error })?;
        times.decode = started.elapsed();
        let started = Instant::now();
        let faces = self.detector.detect_at(&image, COARSE_LONG_SIDE)?;
        times.detect = started.elapsed();
        let mut measure = FrameMeasure {
            sha256: sha256.to_string(),
            width: image.width(),
            faces: faces.len(),
            ..FrameMeasure::default()
        };
        let face = faces.into_iter().next();
        if let Some(face) = &face {
            let started = Instant::now();
            measure.face_width = face.width();
            measure.face_score = face.score;
            measure.landmarks = face.landmarks;
            if let Some((sharpness, luminance, mean_rgb)) = face_photometry(&image, face) {
                measure.sharpness = sharpness;
                measure.luminance = luminance;
                measure.mean_rgb = mean_rgb;
            }
            measure.moire_ratio = crate::moire::moire_peak_ratio(&image, face);
            measure.appearance = face_appearance(&image, &face.landmarks);
            times.photometry = started.elapsed();
        }
        Ok(Located { image, face, measure, times })
    }

    /// Everything the liveness voters need from a bundle's frames (encoded JPEG/PNG with their
    /// SHA-256), with the time each stage took per frame. A frame without a face is a
    /// measurement too (the quality voter reports it), not an error.
    ///
    /// Every frame is decoded, its faces found by a coarse detection, and its face's photometry,
    /// moiré and appearance taken. Then the frames [`frames_for_models`] chooses have their face
    /// refined and read by the models: the first [`EMBEDDED_FRAMES`] by the embedder, the first
    /// [`ANTISPOOF_FRAMES`] by the anti-spoof model; the appearance ties the other frames to
    /// them. Each phase is spread over the cores.
    pub fn measure_frames(
        &self,
        frames: &[(&[u8], &str)],
        limits: DecodeLimits,
    ) -> Result<Vec<(FrameMeasure, StageTimes)>, MeasureError> {
        let located = parallel_indexed(frames.len(), |i| {
            self.locate(frames[i].0, frames[i].1, limits).map_err(|e| match e {
                MeasureError::Decode { error, .. } => MeasureError::Decode { index: i, error },
                other => other,
            })
        })
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
        let measures: Vec<FrameMeasure> = located.iter().map(|frame| frame.measure.clone()).collect();
        let chosen = frames_for_models(&measures, EMBEDDED_FRAMES.max(ANTISPOOF_FRAMES));
        let mut measured: Vec<(FrameMeasure, StageTimes)> =
            measures.into_iter().zip(located.iter().map(|frame| frame.times)).collect();
        // The models read the face as a full-size detection would place it.
        let refined = parallel_indexed(chosen.len(), |k| -> Result<(Option<Face>, Duration), FaceError> {
            let frame = &located[chosen[k]];
            let started = Instant::now();
            let face = match &frame.face {
                Some(coarse) => Some(self.detector.refine(&frame.image, coarse)?.unwrap_or_else(|| coarse.clone())),
                None => None,
            };
            Ok((face, started.elapsed()))
        });
        let mut faces = Vec::with_capacity(chosen.len());
        for (k, result) in refined.into_iter().enumerate() {
            let (face, took) = result?;
            let (measure, times) = &mut measured[chosen[k]];
            times.detect += took;
            if let Some(face) = &face {
                measure.face_score = face.score;
            }
            faces.push(face);
        }
        // The embeddings first (the longer jobs), so that the cores finish together.
        let jobs: Vec<(usize, bool)> = (0..chosen.len().min(EMBEDDED_FRAMES))
            .map(|k| (k, true))
            .chain((0..chosen.len().min(ANTISPOOF_FRAMES)).map(|k| (k, false)))
            .collect();
        let model_runs = parallel_indexed(jobs.len(), |job| -> Result<ModelRun, FaceError> {
            let (k, embed) = jobs[job];
            let frame = &located[chosen[k]];
            let Some(face) = &faces[k] else { return Ok(ModelRun::Skipped) };
            let started = Instant::now();
            if embed {
                let embedding = match align_arcface(&frame.image, &face.landmarks) {
                    Some(aligned) => self.embedder.embed(&aligned)?,
                    None => Vec::new(),
                };
                Ok(ModelRun::Embedding(embedding, started.elapsed()))
            } else {
                Ok(ModelRun::Live(self.liveness.live_probability(&frame.image, face).ok(), started.elapsed()))
            }
        });
        for (job, run) in model_runs.into_iter().enumerate() {
            let (measure, times) = &mut measured[chosen[jobs[job].0]];
            match run? {
                ModelRun::Embedding(embedding, took) => {
                    measure.embedding = embedding;
                    times.embed = took;
                }
                ModelRun::Live(probability, took) => {
                    measure.live_probability = probability;
                    times.antispoof = took;
                }
                ModelRun::Skipped => {}
            }
        }
        Ok(measured)
    }
}

enum ModelRun {
    Embedding(Vec<f32>, Duration),
    Live(Option<f32>, Duration),
    Skipped,
}
