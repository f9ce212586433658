//! SCRFD-500M face detection (with 5 landmarks). The image is scaled so that its long side is
//! the requested size, padded right and bottom up to a multiple of a tenth of that size (so a
//! 16:9 frame costs 640×384 rather than a 640×640 square), normalised to (x − 127.5) / 128,
//! RGB, NCHW. The model is fully convolutional; one optimised plan is kept per input shape.
//! It answers, for strides 8, 16 and 32, a score, a box (distances from the anchor centre, in
//! stride units) and 5 landmarks per anchor, 2 anchors per cell.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use image::RgbImage;
use tract_onnx::prelude::*;

use crate::engine::{load_plan, run_plan, FaceError, Output, Plan};

/// Long side of the detector's input for single images: insightface's own size, for faces down
/// to about 16 px in a 640 px view. Smaller inputs cost less (320: a quarter) and still find
/// selfie faces, but their coarser boxes move the anti-spoof model's crop and the alignment:
/// bundles therefore detect coarsely and refine the faces the models read (see
/// [`Detector::refine`]). On the upright test photos, refined boxes gave live probabilities
/// within 0.01 of full-size ones, and embeddings at cosine ≥ 0.95 to them; on the sideways
/// live sample every size disagrees (0.63 at 640, 0.23 refined), which is why bundles require
/// upright faces.
pub const LONG_SIDE: u32 = 640;
/// Long side of the coarse detection of capture frames, whose faces are large (a selfie's face
/// spans at least [`kenali_core::liveness::thresholds::FACE_WIDTH_FRACTION_MIN`] of the frame):
/// a quarter of the full size's cost. The faces the models then read are refined
/// ([`Detector::refine`]).
pub const COARSE_LONG_SIDE: u32 = 320;
/// The refining window's side, in face-box sides, and its input's size.
pub const REFINE_WINDOW: f64 = 2.0;
pub const REFINE_SIDE: u32 = 256;
/// Detections below this score are dropped (insightface's default).
pub const SCORE_THRESHOLD: f32 = 0.5;
/// Overlapping detections above this IoU are merged into the best one.
pub const NMS_IOU: f32 = 0.4;
const STRIDES: [usize; 3] = [8, 16, 32];
const ANCHORS_PER_CELL: usize = 2;

/// One detected face, in the original image's pixel coordinates.
#[derive(Debug, Clone, PartialEq)]
pub struct Face {
    /// x1, y1, x2, y2.
    pub bbox: [f32; 4],
    pub score: f32,
    /// Left eye, right eye, nose, left mouth corner, right mouth corner (as seen in the image).
    pub landmarks: [[f32; 2]; 5],
}

impl Face {
    pub fn width(&self) -> f32 {
        self.bbox[2] - self.bbox[0]
    }
    pub fn height(&self) -> f32 {
        self.bbox[3] - self.bbox[1]
    }
}

pub struct Detector {
    path: PathBuf,
    /// Optimised plans by input (width, height); a handful of shapes in practice.
    plans: Mutex<HashMap<(usize, usize), Plan>>,
}

/// The scaled size of an image whose long side becomes `long_side`, and the padded input size.
fn input_geometry(width: u32, height: u32, long_side: u32) -> ((u32, u32), (usize, usize), f32) {
    let scale = long_side as f32 / width.max(height).max(1) as f32;
    let scaled_w = ((width as f32 * scale).round() as u32).clamp(1, long_side);
    let scaled_h = ((height as f32 * scale).round() as u32).clamp(1, long_side);
    // A multiple of the largest stride (32), and of a tenth of the long side, so that few shapes
    // (and plans) exist.
    let step = (long_side / 10).div_ceil(32).max(1) * 32;
    let pad = |side: u32| (side.div_ceil(step) * step) as usize;
    ((scaled_w, scaled_h), (pad(scaled_w), pad(scaled_h)), scale)
}

impl Detector {
    /// Loads the model and builds the plans for square, 16:9 and 4:3 images either way up, at
    /// both detection sizes, and the refining window's (which also checks the file), so that no
    /// common request pays for building one.
    pub fn load(path: &Path) -> Result<Self, FaceError> {
        let detector = Self { path: path.to_path_buf(), plans: Mutex::new(HashMap::new()) };
        for long_side in [LONG_SIDE, COARSE_LONG_SIDE] {
            for (width, height) in [(1, 1), (16, 9), (9, 16), (4, 3), (3, 4)] {
                let (_, (input_w, input_h), _) = input_geometry(width * 100, height * 100, long_side);
                detector.plan(input_w, input_h)?;
            }
        }
        let refine = REFINE_SIDE as usize;
        detector.plan(refine, refine)?;
        Ok(detector)
    }

    fn plan(&self, width: usize, height: usize) -> Result<Plan, FaceError> {
        let cached = self
            .plans
            .lock()
            .map_err(|_| FaceError::Model("detector plan cache poisoned".into()))?
            .get(&(width, height))
            .cloned();
        if let Some(plan) = cached {
            return Ok(plan);
        }
        // Built outside the lock: two threads may both build a new shape once, harmlessly.
        let plan = load_plan(&self.path, &[1, 3, height, width])?;
        self.plans
            .lock()
            .map_err(|_| FaceError::Model("detector plan cache poisoned".into()))?
            .insert((width, height), Arc::clone(&plan));
        Ok(plan)
    }

    /// Faces found, best score first.
    pub fn detect(&self, image: &RgbImage) -> Result<Vec<Face>, FaceError> {
        self.detect_at(image, LONG_SIDE)
    }

    /// Faces found with the image scaled so that its long side is `long_side`.
    pub fn detect_at(&self, image: &RgbImage, long_side: u32) -> Result<Vec<Face>, FaceError> {
        let whole = [0.0, 0.0, f64::from(image.width()), f64::from(image.height())];
        self.detect_region(image, whole, long_side)
    }

    /// Faces found in the region `[left, top, width, height]` of the image, scaled so that the
    /// region's long side is `long_side`; boxes and landmarks in the image's coordinates.
    pub fn detect_region(&self, image: &RgbImage, region: [f64; 4], long_side: u32) -> Result<Vec<Face>, FaceError> {
        let [left, top, width, height] = region;
        let ((scaled_w, scaled_h), (input_w, input_h), scale) =
            input_geometry(width.round() as u32, height.round() as u32, long_side);
        let resized = crate::resample::resize_region(image, region, scaled_w, scaled_h)
            .ok_or_else(|| FaceError::Inference("cannot scale the image for detection".into()))?;
        let plane = input_w * input_h;
        // Padding is black, which normalises to about −1, as insightface's letterbox does.
        let mut input = vec![-127.5f32 / 128.0; 3 * plane];
        for (x, y, pixel) in resized.enumerate_pixels() {
            let offset = y as usize * input_w + x as usize;
            for c in 0..3 {
                input[c * plane + offset] = (f32::from(pixel[c]) - 127.5) / 128.0;
            }
        }
        let tensor = Tensor::from_shape(&[1, 3, input_h, input_w], &input).map_err(FaceError::inference)?;
        let outputs = run_plan(&self.plan(input_w, input_h)?, tensor)?;
        let mut faces = decode(&outputs, (input_w, input_h), 1.0 / scale)?;
        let (dx, dy) = (left as f32, top as f32);
        for face in &mut faces {
            face.bbox = [face.bbox[0] + dx, face.bbox[1] + dy, face.bbox[2] + dx, face.bbox[3] + dy];
            for point in &mut face.landmarks {
                *point = [point[0] + dx, point[1] + dy];
            }
        }
        Ok(non_max_suppression(faces, NMS_IOU))
    }

    /// A face found by a coarse (small-input) detection, detected again in a square window
    /// around it at [`REFINE_SIDE`]: the face then fills about half of the model's view, so its
    /// box and landmarks are as precise as from a full-size detection, at a fraction of the
    /// cost. `None` when the window no longer shows a face.
    pub fn refine(&self, image: &RgbImage, coarse: &Face) -> Result<Option<Face>, FaceError> {
        let side = f64::from(coarse.width().max(coarse.height())) * REFINE_WINDOW;
        let (cx, cy) =
            (f64::from(coarse.bbox[0] + coarse.bbox[2]) / 2.0, f64::from(coarse.bbox[1] + coarse.bbox[3]) / 2.0);
        let (image_w, image_h) = (f64::from(image.width()), f64::from(image.height()));
        // Always square (shifted inside the image rather than cut), so one plan serves every
        // refinement.
        let side = side.min(image_w).min(image_h);
        if side < 8.0 {
            return Ok(None);
        }
        let left = (cx - side / 2.0).clamp(0.0, image_w - side);
        let top = (cy - side / 2.0).clamp(0.0, image_h - side);
        let faces = self.detect_region(image, [left, top, side, side], REFINE_SIDE)?;
        Ok(faces
            .into_iter()
            .max_by(|a, b| iou(&a.bbox, &coarse.bbox).total_cmp(&iou(&b.bbox, &coarse.bbox)))
            .filter(|face| iou(&face.bbox, &coarse.bbox) > 0.3))
    }
}

/// Finds the score, box and landmark outputs of one stride by their shapes: the model's
/// outputs are 9 tensors, [N,1], [N,4] and [N,10] for each of the three strides.
fn decode(outputs: &[Output], (input_w, input_h): (usize, usize), inverse_scale: f32) -> Result<Vec<Face>, FaceError> {
    let mut faces = Vec::new();
    for stride in STRIDES {
        let cols = input_w / stride;
        let cells = cols * (input_h / stride);
        let anchors = cells * ANCHORS_PER_CELL;
        let find = |width: usize| {
            outputs
                .iter()
                .find(|(shape, data)| data.len() == anchors * width && shape.last() == Some(&width))
                .map(|(_, data)| data.as_slice())
                .ok_or_else(|| FaceError::Model(format!("SCRFD output for stride {stride} width {width} missing")))
        };
        let (scores, boxes, landmarks) = (find(1)?, find(4)?, find(10)?);
        for (anchor, &score) in scores.iter().enumerate() {
            if score < SCORE_THRESHOLD {
                continue;
            }
            let cell = anchor / ANCHORS_PER_CELL;
            let cx = ((cell % cols) * stride) as f32;
            let cy = ((cell / cols) * stride) as f32;
            let s = stride as f32;
            let d = &boxes[anchor * 4..anchor * 4 + 4];
            let bbox = [
                (cx - d[0] * s) * inverse_scale,
                (cy - d[1] * s) * inverse_scale,
                (cx + d[2] * s) * inverse_scale,
                (cy + d[3] * s) * inverse_scale,
            ];
            let k = &landmarks[anchor * 10..anchor * 10 + 10];
            let mut points = [[0f32; 2]; 5];
            for (i, point) in points.iter_mut().enumerate() {
                *point = [(cx + k[2 * i] * s) * inverse_scale, (cy + k[2 * i + 1] * s) * inverse_scale];
            }
            faces.push(Face { bbox, score, landmarks: points });
        }
    }
    Ok(faces)
}

fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = w * h;
    let union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
    if union <= 0.0 {
        0.0
    } else {
        inter / union
    }
}

fn non_max_suppression(mut faces: Vec<Face>, threshold: f32) -> Vec<Face> {
    faces.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Face> = Vec::new();
    for face in faces {
        if kept.iter().all(|k| iou(&k.bbox, &face.bbox) <= threshold) {
            kept.push(face);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(bbox: [f32; 4], score: f32) -> Face {
        Face { bbox, score, landmarks: [[0.0; 2]; 5] }
    }

    #[test]
    fn nms_keeps_the_best_of_overlapping_boxes() {
        let faces = vec![
            face([0.0, 0.0, 10.0, 10.0], 0.8),
            face([1.0, 1.0, 11.0, 11.0], 0.9),
            face([50.0, 50.0, 60.0, 60.0], 0.7),
        ];
        let kept = non_max_suppression(faces, NMS_IOU);
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[0].score, 0.9);
        assert_eq!(kept[1].score, 0.7);
    }

    #[test]
    fn inputs_keep_the_aspect_ratio_on_few_shapes() {
        assert_eq!(input_geometry(1280, 720, 640), ((640, 360), (640, 384), 0.5));
        assert_eq!(input_geometry(720, 1280, 320).1, (192, 320));
        assert_eq!(input_geometry(1000, 1000, 640).1, (640, 640));
        assert_eq!(input_geometry(1000, 100, 640).1, (640, 64));
    }

    #[test]
    fn iou_of_identical_and_disjoint_boxes() {
        assert!((iou(&[0.0, 0.0, 2.0, 2.0], &[0.0, 0.0, 2.0, 2.0]) - 1.0).abs() < 1e-6);
        assert_eq!(iou(&[0.0, 0.0, 1.0, 1.0], &[2.0, 2.0, 3.0, 3.0]), 0.0);
    }
}
