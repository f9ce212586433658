//! The faces of a 1:1 match of two images (seed 003's backend-to-backend face match): a live
//! selfie, and either a photo of a KTP (whose printed portrait is found through the card
//! pipeline) or a baseline selfie. Each face comes with the quality figures a partner needs to
//! tell a poor photo from a different person: its size, sharpness and pose.

use image::RgbImage;

use crate::card::{locate_card, rectify};
use crate::detect::Face;
use crate::engine::{FaceEngine, FaceError};
use crate::measure::face_photometry;

/// How a face in one image looks to the pipeline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaceQuality {
    /// The face box's shorter side, in pixels of the image it was found in (the rectified card
    /// for a KTP portrait).
    pub face_side_px: f32,
    /// The detector's confidence.
    pub detection_score: f32,
    /// Variance of the Laplacian over the face's inner region scaled to 128 px wide (higher is
    /// sharper; a blurred face is under about 20).
    pub sharpness: f32,
    /// Head turn, estimated from the five landmarks: the nose's offset from the eyes' midpoint
    /// against the eye distance, as degrees (0 frontal, sign: towards the image's right).
    pub yaw_deg: f32,
    /// The eye line's tilt in degrees.
    pub roll_deg: f32,
}

/// A face analysed for a match.
#[derive(Debug, Clone)]
pub struct PairFace {
    pub face: Face,
    pub embedding: Vec<f32>,
    pub quality: FaceQuality,
    /// Whether the face was found on a located card (a KTP photo), not the whole image.
    pub on_card: bool,
}

/// Quality figures of a detected face.
pub fn face_quality(image: &RgbImage, face: &Face) -> FaceQuality {
    let [left_eye, right_eye, nose, _, _] = face.landmarks;
    let (dx, dy) = (right_eye[0] - left_eye[0], right_eye[1] - left_eye[1]);
    let eye_distance = (dx * dx + dy * dy).sqrt().max(1.0);
    // The nose's offset along the eye line, relative to half the eye distance: ±1 is about a
    // profile, where the nose passes the eye.
    let mid = [(left_eye[0] + right_eye[0]) / 2.0, (left_eye[1] + right_eye[1]) / 2.0];
    let along = ((nose[0] - mid[0]) * dx + (nose[1] - mid[1]) * dy) / eye_distance;
    let yaw = (along / (eye_distance / 2.0)).clamp(-1.0, 1.0).asin().to_degrees();
    FaceQuality {
        face_side_px: face.width().min(face.height()),
        detection_score: face.score,
        sharpness: face_photometry(image, face).map_or(0.0, |(sharpness, _, _)| sharpness),
        yaw_deg: yaw,
        roll_deg: dy.atan2(dx).to_degrees(),
    }
}

/// The single face of a selfie (or a baseline selfie).
pub fn selfie_face(engine: &FaceEngine, image: &RgbImage) -> Result<PairFace, FaceError> {
    let analyzed = engine.analyze(image)?;
    let quality = face_quality(image, &analyzed.face);
    Ok(PairFace { face: analyzed.face, embedding: analyzed.embedding, quality, on_card: false })
}

/// The portrait of a KTP photo: the card is located and rectified as for a capture and its one
/// face taken; an image where no card is found, or whose card holds no single usable face (a
/// close crop of the portrait itself), is searched whole.
pub fn ktp_face(engine: &FaceEngine, image: &RgbImage) -> Result<PairFace, FaceError> {
    if let Some(quad) = locate_card(image) {
        let card = rectify(image, &quad);
        if let Ok(analyzed) = engine.analyze(&card) {
            let quality = face_quality(&card, &analyzed.face);
            return Ok(PairFace { face: analyzed.face, embedding: analyzed.embedding, quality, on_card: true });
        }
    }
    selfie_face(engine, image)
}

/// The passive anti-spoof model's probability that a selfie's face is live.
pub fn live_probability(engine: &FaceEngine, image: &RgbImage, face: &Face) -> Result<f32, FaceError> {
    engine.liveness.live_probability(image, face)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face_with(landmarks: [[f32; 2]; 5]) -> Face {
        Face { bbox: [0.0, 0.0, 100.0, 120.0], score: 0.9, landmarks }
    }

    #[test]
    fn pose_reads_frontal_turned_and_tilted_faces() {
        let image = RgbImage::new(200, 200);
        let frontal =
            face_quality(&image, &face_with([[30.0, 40.0], [70.0, 40.0], [50.0, 60.0], [35.0, 80.0], [65.0, 80.0]]));
        assert!(frontal.yaw_deg.abs() < 1.0 && frontal.roll_deg.abs() < 1.0);
        assert_eq!(frontal.face_side_px, 100.0);
        let turned =
            face_quality(&image, &face_with([[30.0, 40.0], [70.0, 40.0], [60.0, 60.0], [35.0, 80.0], [65.0, 80.0]]));
        assert!((turned.yaw_deg - 30.0).abs() < 0.5, "{}", turned.yaw_deg);
        let tilted =
            face_quality(&image, &face_with([[30.0, 40.0], [70.0, 80.0], [50.0, 70.0], [35.0, 80.0], [65.0, 80.0]]));
        assert!((tilted.roll_deg - 45.0).abs() < 0.5, "{}", tilted.roll_deg);
    }
}
