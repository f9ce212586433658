//! Everything about pixels: decoding images, obtaining and verifying model files, and the
//! face pipeline (detect → align → embed, plus passive anti-spoof). Synchronous and
//! CPU-bound: callers run it off the async runtime.

pub mod align;
pub mod capture;
pub mod card;
pub mod decode;
pub mod detect;
pub mod embed;
pub mod engine;
pub mod glyphs;
pub mod liveness;
pub mod measure;
pub mod models;
pub mod moire;
pub mod ocr;
pub mod pair;
pub mod portrait;
pub mod resample;
pub mod typeface;

pub use decode::{decode_image, image_dimensions, DecodeError, DecodeLimits, MAX_FRAME_PIXELS};
pub use engine::{FaceEngine, FaceError};
