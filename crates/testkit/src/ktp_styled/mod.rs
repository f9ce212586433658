//! Cards and captures drawn in ways the KTP voters were not tuned on (issue 16): the same
//! fields as [`crate::ktp`] and the same flash-challenge scene as [`crate::ktp_scene`], but with
//! the typefaces, the layout, the portrait, the paper, the laminate, the foil and the scene
//! drawn at random from a seed, in two families that share no value on any axis, so that
//! thresholds can be chosen on one ([`Family::Calibration`]) and reported on the other
//! ([`Family::HeldOut`]). [`render_card`](crate::ktp::render_card) and
//! [`capture_frames`](crate::ktp_scene::capture_frames) are untouched: they stay the one fixed
//! template the voters were calibrated on.
//!
//! Ranges written `a ± r` are split into halves: Calibration draws the inner half
//! (`|offset| < r/2`), HeldOut the outer half (`r/2 ≤ |offset| ≤ r`, either sign); other ranges
//! and sets are given per family. Card pixels are of the 1012×638 card.
//!
//! | axis | range | Calibration | HeldOut |
//! |---|---|---|---|
//! | header, labels, values | typeface | Liberation Sans, DejaVu Sans | Arimo, Noto Sans, FreeSans |
//! | NIK | typeface | Liberation Sans Bold, DejaVu Sans Bold | Arimo Bold, Noto Sans Bold, FreeSans Bold, OCR-A |
//! | header | size, top | 34 ± 3 px, 14 ± 4 px | (halves) | (halves) |
//! | label column x | | 28 ± 10 px | inner | outer |
//! | colon x | | 262 ± 12 px | inner | outer |
//! | value x | after the colon | 18 ± 6 px | inner | outer |
//! | first row y, row pitch, row type | | 158 ± 8, 36 ± 2, 25 ± 2 px | inner | outer |
//! | NIK | after the colon, top, size | 10 ± 6, 102 ± 5, 40 ± 4 px | inner | outer |
//! | portrait | size, centre offset x and y | 210×280 × (1 ± 0.10), 0 ± 15 px | inner | outer |
//! | portrait crop | side of the 3:4 crop, × the photo's | 1 ± 0.15 (beyond 1: plain background) | inner | outer |
//! | portrait frame line | | | none | 1–2 px, grey 40–110 |
//! | paper tint | largest channel shift | 0 ± 10 | inner | outer |
//! | guilloche | amplitude, period | 4 ± 3 grey levels, × (1 ± 0.3) | inner | outer |
//! | laminate | model | | glossy, glint sweeping left to right | matte (no glint, 1 in 3), or glossy sweeping right to left or top to bottom |
//! | glint | strength, size | 120 ± 40 grey levels, × (1 ± 0.4) | inner | outer |
//! | foil | pattern | | rainbow rings | none (1 in 4), star, or ellipse |
//! | foil | centre offset, radius, opacity, rainbow turn | 0 ± 8 px, 42 ± 8 px, 0.7 ± 0.2, 0.35 ± 0.2 | inner | outer |
//! | background | | | wooden desk | fabric, paper sheet, plain surface |
//! | light | colour temperature (half corrected by white balance) | | 5600–7000 K | 3000–5600 K or 7000–9000 K |
//! | light | exposure of the card, vignette | 0.79 ± 0.07; | inner; 0–0.06 | outer; 0.06–0.2 |
//! | flash | grey levels the card reflects | 44 ± 10 | inner | outer |
//! | sensor | noise sigma, blur sigma, JPEG quality | | 1–2.5, 0.3–0.75, 86–95 | 2.5–4, 0.75–1.2, 70–85 |
//! | framing | card width / frame width | | 0.62–0.70 | 0.54–0.62 or 0.70–0.72 |
//! | framing | turn in the picture, yaw and pitch | 0 ± 3°, 0 ± 8° | inner | outer |
//! | photocopy | toner lift, gain, warmth, flash | 60 ± 16, 0.62 ± 0.1, 1 ± 1, 25 ± 6 | inner | outer |
//! | screen replay | moiré period, angle, amplitude | 5 ± 1.6 px, 0.3 ± 0.5 rad, 5 ± 2.4 | inner | outer |
//! | pasted portrait | size, offset, shadow, border | | 8–12 % larger, 10–20 px up and left, 3 px, 2 px | 3–8 % or 12–16 % larger, 3–10 px any way, 0–2 px, 0–1 px |
//! | re-typed NIK | serif and mono faces | | Liberation Serif Bold, Liberation Mono Bold | FreeSerif Bold, FreeMono Bold |
//!
//! The re-typed NIK's third face is the card's own text face at its regular weight. Real
//! e-KTPs differ by print batch and phones by maker; these ranges stay within what both show,
//! keep the card whole in the frame and keep it 1012×638 (ID-1). The laminate and the foil are
//! the card's, but they only show under the capture's light, so they are drawn with the
//! [`SceneStyle`]. Same family and seed, same style; same style, inputs and seed, same bytes.
//!
//! The fonts come from Debian packages: `fonts-liberation`, `fonts-dejavu-core`,
//! `fonts-croscore` (Arimo), `fonts-noto-core` (Noto Sans), `fonts-freefont-ttf` (FreeSans,
//! FreeSerif, FreeMono) and `fonts-ocr-a`; a missing one panics with the package to install.

use std::f32::consts::{PI, TAU};
use std::ops::Range;

use ab_glyph::{FontVec, PxScale};
use image::{imageops, Rgb, RgbImage};
use imageproc::drawing::{draw_line_segment_mut, draw_text_mut, text_size};
use imageproc::geometric_transformations::Projection;
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

use crate::ktp::{digit_metrics, ForgedTypeface, KtpFields, CARD_HEIGHT, CARD_WIDTH, INK};
use crate::ktp_scene::{
    bilinear, desk_texture, rounded_rect_distance, Presentation, CARD_EXPOSURE, FOCAL_LENGTH, FOIL_CENTER, FOIL_RADIUS,
    FRAME_HEIGHT, FRAME_WIDTH,
};
use crate::testdata_image;

/// Which half of every axis a style is drawn from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// Close to the fixed template: thresholds may be chosen on these cards.
    Calibration,
    /// Everything else: thresholds are reported on these cards, never chosen on them.
    HeldOut,
}

impl Family {
    pub const ALL: [Family; 2] = [Family::Calibration, Family::HeldOut];

    pub fn name(self) -> &'static str {
        match self {
            Family::Calibration => "calibration",
            Family::HeldOut => "held-out",
        }
    }
}

mod card;
mod scene;

pub use card::*;
pub use scene::*;

#[cfg(test)]
mod tests;
