//! ArcFace MobileFaceNet (`w600k_mbf`): a 112×112 aligned crop, RGB, (x − 127.5) / 127.5,
//! NCHW → 512 numbers, L2-normalised here so that cosine similarity is a dot product.

use image::RgbImage;
use tract_onnx::prelude::*;

use crate::align::ARCFACE_SIZE;
use crate::engine::{load_plan, run_plan, FaceError, Plan};

pub const EMBEDDING_DIM: usize = 512;

pub struct Embedder {
    plan: Plan,
}

impl Embedder {
    pub fn load(path: &std::path::Path) -> Result<Self, FaceError> {
        let size = ARCFACE_SIZE as usize;
        Ok(Self { plan: load_plan(path, &[1, 3, size, size])? })
    }

    pub fn embed(&self, aligned: &RgbImage) -> Result<Vec<f32>, FaceError> {
        let size = ARCFACE_SIZE as usize;
        let plane = size * size;
        let mut input = vec![0f32; 3 * plane];
        for (x, y, pixel) in aligned.enumerate_pixels() {
            let offset = y as usize * size + x as usize;
            for c in 0..3 {
                input[c * plane + offset] = (f32::from(pixel[c]) - 127.5) / 127.5;
            }
        }
        let tensor = Tensor::from_shape(&[1, 3, size, size], &input).map_err(FaceError::inference)?;
        let outputs = run_plan(&self.plan, tensor)?;
        let (_, mut embedding) = outputs.into_iter().next().ok_or_else(|| FaceError::Model("no embedding".into()))?;
        if embedding.len() != EMBEDDING_DIM {
            return Err(FaceError::Model(format!(
                "embedding has {} values, expected {EMBEDDING_DIM}",
                embedding.len()
            )));
        }
        normalize(&mut embedding);
        Ok(embedding)
    }
}

pub fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

/// Cosine similarity of two L2-normalised embeddings.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
