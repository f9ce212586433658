//! The face pipeline as one shareable object: models loaded once, used by every request.

use std::path::Path;
use std::sync::Arc;

use image::RgbImage;
use tract_onnx::prelude::*;

use crate::align::align_arcface;
use crate::detect::{Detector, Face};
use crate::embed::Embedder;
use crate::liveness::LivenessModel;
use crate::models::{self, ModelError};

pub type Plan = Arc<TypedRunnableModel>;

#[derive(Debug, thiserror::Error)]
pub enum FaceError {
    #[error(transparent)]
    Models(#[from] ModelError),
    #[error("model: {0}")]
    Model(String),
    #[error("inference failed: {0}")]
    Inference(String),
    #[error("no face found")]
    NoFace,
    #[error("{0} faces found; exactly one is needed")]
    SeveralFaces(usize),
    #[error("the face is too small or too close to the edge to use")]
    FaceTooSmall,
}

impl FaceError {
    pub fn inference(err: impl std::fmt::Display) -> Self {
        FaceError::Inference(err.to_string())
    }
}

/// Loads an ONNX model with a fixed input shape, optimised for this CPU.
pub fn load_plan(path: &Path, input_shape: &[usize]) -> Result<Plan, FaceError> {
    let load = || -> TractResult<Plan> {
        tract_onnx::onnx()
            .model_for_path(path)?
            .with_input_fact(0, f32::fact(input_shape).into())?
            .into_optimized()?
            .into_runnable()
    };
    load().map_err(|e| FaceError::Model(format!("{}: {e:#}", path.display())))
}

/// One model output: its shape and its values in row-major order.
pub type Output = (Vec<usize>, Vec<f32>);

/// Runs a plan on one input.
pub fn run_plan(plan: &Plan, input: Tensor) -> Result<Vec<Output>, FaceError> {
    let outputs = plan.run(tvec!(input.into())).map_err(FaceError::inference)?;
    outputs
        .iter()
        .map(|value| {
            let view = value.to_plain_array_view::<f32>().map_err(FaceError::inference)?;
            Ok((view.shape().to_vec(), view.iter().copied().collect()))
        })
        .collect()
}

/// A face found in an image with what the later checks need.
#[derive(Debug, Clone)]
pub struct AnalyzedFace {
    pub face: Face,
    pub embedding: Vec<f32>,
}

/// The model pack `qe-face-v3`: detector, embedder, passive anti-spoof.
pub struct FaceEngine {
    pub detector: Detector,
    pub embedder: Embedder,
    pub liveness: LivenessModel,
}

/// The id stored with every embedding; embeddings of different ids are never compared.
pub const MODEL_ID: &str = "qe-face-v3";

/// Smallest face (shorter box side, pixels) the pipeline accepts.
pub const MIN_FACE_SIDE: f32 = 40.0;

impl FaceEngine {
    /// Loads the verified model files from `models_dir` (see [`models::fetch`]).
    pub fn load(models_dir: &Path) -> Result<Self, FaceError> {
        Ok(Self {
            detector: Detector::load(&models::verified_path(models_dir, &models::SCRFD)?)?,
            embedder: Embedder::load(&models::verified_path(models_dir, &models::ARCFACE)?)?,
            liveness: LivenessModel::load(&models::verified_path(models_dir, &models::LIVENESS)?)?,
        })
    }

    /// Exactly one usable face, or the reason there is none.
    pub fn single_face(&self, image: &RgbImage) -> Result<Face, FaceError> {
        let faces = self.detector.detect(image)?;
        match faces.len() {
            0 => Err(FaceError::NoFace),
            1 => {
                let face = faces.into_iter().next().ok_or(FaceError::NoFace)?;
                if face.width().min(face.height()) < MIN_FACE_SIDE {
                    Err(FaceError::FaceTooSmall)
                } else {
                    Ok(face)
                }
            }
            n => Err(FaceError::SeveralFaces(n)),
        }
    }

    pub fn embed_face(&self, image: &RgbImage, face: &Face) -> Result<Vec<f32>, FaceError> {
        let aligned = align_arcface(image, &face.landmarks).ok_or(FaceError::FaceTooSmall)?;
        self.embedder.embed(&aligned)
    }

    /// Detects the single face and embeds it.
    pub fn analyze(&self, image: &RgbImage) -> Result<AnalyzedFace, FaceError> {
        let face = self.single_face(image)?;
        let embedding = self.embed_face(image, &face)?;
        Ok(AnalyzedFace { face, embedding })
    }
}
