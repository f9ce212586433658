//! Measurements of one capture frame for the liveness voters: the face (count, size,
//! landmarks, embedding, anti-spoof probability) and simple photometry of the face region.

use image::imageops::FilterType;
use image::RgbImage;
use kenali_core::liveness::FrameMeasure;

use crate::align::align_arcface;
use crate::detect::Face;
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

impl FaceEngine {
    /// Everything the liveness voters need from one frame. A frame without a face is a
    /// measurement too (the quality voter reports it), not an error.
    pub fn measure_frame(&self, image: &RgbImage, sha256: String) -> Result<FrameMeasure, FaceError> {
        let faces = self.detector.detect(image)?;
        let mut measure = FrameMeasure { sha256, width: image.width(), faces: faces.len(), ..FrameMeasure::default() };
        let Some(face) = faces.first() else { return Ok(measure) };
        measure.face_width = face.width();
        measure.face_score = face.score;
        measure.landmarks = face.landmarks;
        if let Some((sharpness, luminance, mean_rgb)) = face_photometry(image, face) {
            measure.sharpness = sharpness;
            measure.luminance = luminance;
            measure.mean_rgb = mean_rgb;
        }
        if let Some(aligned) = align_arcface(image, &face.landmarks) {
            measure.embedding = self.embedder.embed(&aligned)?;
        }
        measure.live_probability = self.liveness.live_probability(image, face).ok();
        measure.moire_ratio = crate::moire::moire_peak_ratio(image, face);
        Ok(measure)
    }
}
