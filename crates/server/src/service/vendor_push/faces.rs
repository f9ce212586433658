//! Kenali's own face checks of a vendor push: the pushed images decoded, its selfie's
//! anti-spoof and its match with the ID photo.

use kenali_core::face::{threshold_for, RiskLevel};
use kenali_core::liveness::thresholds::PASSIVE_LIVE_MIN;
use kenali_core::vendor::VendorKyc;
use kenali_core::verification::OwnScore;
use kenali_vision::embed::cosine;
use kenali_vision::{decode_image, pair, DecodeLimits};

use crate::faces::{decode_error, face_error, image_field, ImageInput, MAX_IMAGE_BYTES};
use crate::service::faces::face_service;
use crate::service::{Error, ImageProblem, Result};
use crate::state::AppState;

/// The pushed images, decoded from base64 and typed (not yet analysed).
pub(super) struct PushedImages {
    pub(super) selfie: Option<ImageInput>,
    pub(super) id_photo: Option<ImageInput>,
}

impl PushedImages {
    pub(super) fn decode(kyc: &VendorKyc) -> Result<PushedImages> {
        Ok(PushedImages {
            selfie: kyc.selfie_image.as_deref().map(|b| image_field("selfieImage", b)).transpose()?,
            id_photo: kyc.id_photo.as_deref().map(|b| image_field("idPhoto", b)).transpose()?,
        })
    }
}

/// Kenali's own face checks of a push.
#[derive(Default)]
pub(super) struct FaceChecks {
    pub(super) face_match: Option<OwnScore>,
    pub(super) selfie_live: Option<OwnScore>,
    pub(super) model_id: Option<String>,
}

/// Matches the selfie with the ID photo and runs the passive anti-spoof model on the selfie,
/// where the push sent them and the models are loaded. An image with no usable face fails the
/// check it was for; one that is not an image refuses the push.
pub(super) async fn check_faces(state: &AppState, images: &PushedImages, match_threshold: f32) -> Result<FaceChecks> {
    let Some(selfie) = images.selfie.clone() else { return Ok(FaceChecks::default()) };
    let Ok(service) = face_service(state) else { return Ok(FaceChecks::default()) };
    let engine = service.engine().clone();
    let id_photo = images.id_photo.clone();
    let threshold = threshold_for(match_threshold, RiskLevel::Medium);
    service
        .run_blocking(move || {
            let limits = DecodeLimits { max_bytes: MAX_IMAGE_BYTES, ..DecodeLimits::default() };
            let failed = |threshold: f32, e: &Error| {
                Some(OwnScore { score: None, threshold, passed: false, problem: Some(e.to_string()) })
            };
            let selfie_image = decode_image(&selfie.bytes, limits).map_err(|e| decode_error("selfieImage", e))?;
            let id_image =
                id_photo.map(|p| decode_image(&p.bytes, limits).map_err(|e| decode_error("idPhoto", e))).transpose()?;
            let model_id = Some(kenali_vision::engine::MODEL_ID.to_string());
            let selfie_face = match pair::selfie_face(&engine, &selfie_image).map_err(|e| face_error("selfieImage", e))
            {
                Ok(face) => face,
                Err(e) if unusable_face(&e) => {
                    let face_match = id_image.as_ref().and_then(|_| failed(threshold, &e));
                    return Ok(FaceChecks { face_match, selfie_live: failed(PASSIVE_LIVE_MIN, &e), model_id });
                }
                Err(e) => return Err(e),
            };
            let live = pair::live_probability(&engine, &selfie_image, &selfie_face.face)
                .map_err(|e| face_error("selfieImage", e))?;
            let selfie_live = Some(OwnScore {
                score: Some(live),
                threshold: PASSIVE_LIVE_MIN,
                passed: live >= PASSIVE_LIVE_MIN,
                problem: None,
            });
            let face_match = match id_image {
                None => None,
                Some(id_image) => match pair::ktp_face(&engine, &id_image).map_err(|e| face_error("idPhoto", e)) {
                    Ok(reference) => {
                        let score = cosine(&selfie_face.embedding, &reference.embedding);
                        Some(OwnScore { score: Some(score), threshold, passed: score >= threshold, problem: None })
                    }
                    Err(e) if unusable_face(&e) => failed(threshold, &e),
                    Err(e) => return Err(e),
                },
            };
            Ok(FaceChecks { face_match, selfie_live, model_id })
        })
        .await
}

fn unusable_face(error: &Error) -> bool {
    matches!(
        error,
        Error::Image {
            problem: ImageProblem::NoFace | ImageProblem::SeveralFaces(_) | ImageProblem::FaceTooSmall(_),
            ..
        }
    )
}
