//! Passive anti-spoof (the faceplugin `fr_liveness` model): the face box scaled ×2.7 about its
//! centre (shifted to stay inside the image), resized to 128×128, BGR, raw 0–255 values,
//! NCHW; softmax over the classes, class 0 = a live face.

use image::RgbImage;
use tract_onnx::prelude::*;

use crate::detect::Face;
use crate::engine::{load_plan, run_plan, FaceError, Plan};

pub const INPUT_SIZE: u32 = 128;
/// How much context around the face box the model was trained with.
pub const CROP_SCALE: f32 = 2.7;

pub struct LivenessModel {
    plan: Plan,
}

/// The crop the model sees, as the reference implementation computes it.
pub fn liveness_crop(image: &RgbImage, face: &Face) -> Option<RgbImage> {
    let (src_w, src_h) = (image.width() as f32, image.height() as f32);
    let (x, y) = (face.bbox[0].floor(), face.bbox[1].floor());
    let (box_w, box_h) = (face.width().max(1.0), face.height().max(1.0));
    let scale = ((src_h - 1.0) / box_h).min((src_w - 1.0) / box_w).min(CROP_SCALE);
    let (new_w, new_h) = (box_w * scale, box_h * scale);
    let (cx, cy) = (x + box_w / 2.0, y + box_h / 2.0);
    let (mut left, mut top) = (cx - new_w / 2.0, cy - new_h / 2.0);
    let (mut right, mut bottom) = (cx + new_w / 2.0, cy + new_h / 2.0);
    if left < 0.0 {
        right -= left;
        left = 0.0;
    }
    if top < 0.0 {
        bottom -= top;
        top = 0.0;
    }
    if right > src_w - 1.0 {
        left -= right - src_w + 1.0;
        right = src_w - 1.0;
    }
    if bottom > src_h - 1.0 {
        top -= bottom - src_h + 1.0;
        bottom = src_h - 1.0;
    }
    let (left, top) = (left.max(0.0) as u32, top.max(0.0) as u32);
    let width = ((right - left as f32) as u32).min(image.width() - left);
    let height = ((bottom - top as f32) as u32).min(image.height() - top);
    if width < 2 || height < 2 {
        return None;
    }
    let region = [f64::from(left), f64::from(top), f64::from(width), f64::from(height)];
    crate::resample::resize_region(image, region, INPUT_SIZE, INPUT_SIZE)
}

impl LivenessModel {
    pub fn load(path: &std::path::Path) -> Result<Self, FaceError> {
        let size = INPUT_SIZE as usize;
        Ok(Self { plan: load_plan(path, &[1, 3, size, size])? })
    }

    /// The probability (0..1) that the face is live.
    pub fn live_probability(&self, image: &RgbImage, face: &Face) -> Result<f32, FaceError> {
        let crop = liveness_crop(image, face).ok_or(FaceError::FaceTooSmall)?;
        let size = INPUT_SIZE as usize;
        let plane = size * size;
        let mut input = vec![0f32; 3 * plane];
        for (x, y, pixel) in crop.enumerate_pixels() {
            let offset = y as usize * size + x as usize;
            // BGR order.
            input[offset] = f32::from(pixel[2]);
            input[plane + offset] = f32::from(pixel[1]);
            input[2 * plane + offset] = f32::from(pixel[0]);
        }
        let tensor = Tensor::from_shape(&[1, 3, size, size], &input).map_err(FaceError::inference)?;
        let outputs = run_plan(&self.plan, tensor)?;
        let (_, logits) = outputs.into_iter().next().ok_or_else(|| FaceError::Model("no liveness output".into()))?;
        let probabilities = softmax(&logits);
        probabilities.first().copied().ok_or_else(|| FaceError::Model("empty liveness output".into()))
    }
}

pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = logits.iter().map(|x| (x - max).exp()).collect();
    let sum: f32 = exps.iter().sum();
    exps.iter().map(|e| e / sum).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_sums_to_one() {
        let p = softmax(&[2.0, 1.0, 0.1]);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(p[0] > p[1] && p[1] > p[2]);
    }

    #[test]
    fn the_crop_stays_inside_the_image() {
        let image = RgbImage::new(200, 100);
        let face = Face { bbox: [150.0, 10.0, 190.0, 60.0], score: 0.9, landmarks: [[0.0; 2]; 5] };
        let crop = liveness_crop(&image, &face);
        assert_eq!(crop.map(|c| c.dimensions()), Some((128, 128)));
    }
}
