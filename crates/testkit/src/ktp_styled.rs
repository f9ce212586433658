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

/// A font file of a Debian package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FontFile {
    pub name: &'static str,
    pub path: &'static str,
    pub package: &'static str,
}

impl FontFile {
    const fn new(name: &'static str, path: &'static str, package: &'static str) -> Self {
        FontFile { name, path, package }
    }

    /// The parsed font; a missing file panics with the package that installs it.
    pub fn load(&self) -> FontVec {
        let bytes = std::fs::read(self.path).unwrap_or_else(|e| {
            panic!(
                "font {} ({}) could not be read: {e}; install the Debian package {} (apt-get install {})",
                self.name, self.path, self.package, self.package
            )
        });
        FontVec::try_from_vec(bytes).unwrap_or_else(|e| panic!("font {} ({}): {e}", self.name, self.path))
    }
}

pub const LIBERATION_SANS: FontFile = FontFile::new(
    "Liberation Sans Regular",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "fonts-liberation",
);
pub const LIBERATION_SANS_BOLD: FontFile = FontFile::new(
    "Liberation Sans Bold",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
    "fonts-liberation",
);
pub const LIBERATION_SERIF_BOLD: FontFile = FontFile::new(
    "Liberation Serif Bold",
    "/usr/share/fonts/truetype/liberation/LiberationSerif-Bold.ttf",
    "fonts-liberation",
);
pub const LIBERATION_MONO_BOLD: FontFile = FontFile::new(
    "Liberation Mono Bold",
    "/usr/share/fonts/truetype/liberation/LiberationMono-Bold.ttf",
    "fonts-liberation",
);
pub const DEJAVU_SANS: FontFile =
    FontFile::new("DejaVu Sans", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "fonts-dejavu-core");
pub const DEJAVU_SANS_BOLD: FontFile =
    FontFile::new("DejaVu Sans Bold", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", "fonts-dejavu-core");
pub const ARIMO: FontFile =
    FontFile::new("Arimo Regular", "/usr/share/fonts/truetype/croscore/Arimo-Regular.ttf", "fonts-croscore");
pub const ARIMO_BOLD: FontFile =
    FontFile::new("Arimo Bold", "/usr/share/fonts/truetype/croscore/Arimo-Bold.ttf", "fonts-croscore");
pub const NOTO_SANS: FontFile =
    FontFile::new("Noto Sans Regular", "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf", "fonts-noto-core");
pub const NOTO_SANS_BOLD: FontFile =
    FontFile::new("Noto Sans Bold", "/usr/share/fonts/truetype/noto/NotoSans-Bold.ttf", "fonts-noto-core");
pub const FREE_SANS: FontFile =
    FontFile::new("FreeSans", "/usr/share/fonts/truetype/freefont/FreeSans.ttf", "fonts-freefont-ttf");
pub const FREE_SANS_BOLD: FontFile =
    FontFile::new("FreeSans Bold", "/usr/share/fonts/truetype/freefont/FreeSansBold.ttf", "fonts-freefont-ttf");
pub const FREE_SERIF_BOLD: FontFile =
    FontFile::new("FreeSerif Bold", "/usr/share/fonts/truetype/freefont/FreeSerifBold.ttf", "fonts-freefont-ttf");
pub const FREE_MONO_BOLD: FontFile =
    FontFile::new("FreeMono Bold", "/usr/share/fonts/truetype/freefont/FreeMonoBold.ttf", "fonts-freefont-ttf");
pub const OCR_A: FontFile = FontFile::new("OCR-A", "/usr/share/fonts/truetype/ocr-a/OCRA.ttf", "fonts-ocr-a");

/// Every font this module draws with (CI installs their packages).
pub const ALL_FONTS: [FontFile; 15] = [
    LIBERATION_SANS,
    LIBERATION_SANS_BOLD,
    LIBERATION_SERIF_BOLD,
    LIBERATION_MONO_BOLD,
    DEJAVU_SANS,
    DEJAVU_SANS_BOLD,
    ARIMO,
    ARIMO_BOLD,
    NOTO_SANS,
    NOTO_SANS_BOLD,
    FREE_SANS,
    FREE_SANS_BOLD,
    FREE_SERIF_BOLD,
    FREE_MONO_BOLD,
    OCR_A,
];

/// (regular, bold) text faces, and NIK faces, per family.
fn text_faces(family: Family) -> &'static [(FontFile, FontFile)] {
    match family {
        Family::Calibration => &[(LIBERATION_SANS, LIBERATION_SANS_BOLD), (DEJAVU_SANS, DEJAVU_SANS_BOLD)],
        Family::HeldOut => &[(ARIMO, ARIMO_BOLD), (NOTO_SANS, NOTO_SANS_BOLD), (FREE_SANS, FREE_SANS_BOLD)],
    }
}

fn nik_faces(family: Family) -> &'static [FontFile] {
    match family {
        Family::Calibration => &[LIBERATION_SANS_BOLD, DEJAVU_SANS_BOLD],
        Family::HeldOut => &[ARIMO_BOLD, NOTO_SANS_BOLD, FREE_SANS_BOLD, OCR_A],
    }
}

/// The face a forger re-types the NIK in: the card's own text face at its regular weight, or a
/// serif or monospaced face (Liberation for Calibration, FreeFont for HeldOut).
pub fn forged_face(style: &CardStyle, typeface: ForgedTypeface) -> FontFile {
    match (typeface, style.family) {
        (ForgedTypeface::SansRegular, _) => style.regular,
        (ForgedTypeface::SerifBold, Family::Calibration) => LIBERATION_SERIF_BOLD,
        (ForgedTypeface::SerifBold, Family::HeldOut) => FREE_SERIF_BOLD,
        (ForgedTypeface::MonoBold, Family::Calibration) => LIBERATION_MONO_BOLD,
        (ForgedTypeface::MonoBold, Family::HeldOut) => FREE_MONO_BOLD,
    }
}

/// The fixed template's values ([`crate::ktp::render_card`]), which the jitter is around.
pub mod nominal {
    pub const HEADER_SIZE: f32 = 34.0;
    pub const HEADER_TOP: f32 = 14.0;
    pub const LABEL_X: f32 = 28.0;
    pub const COLON_X: f32 = 262.0;
    /// Value x less colon x.
    pub const VALUE_GAP: f32 = 18.0;
    pub const FIRST_ROW_Y: f32 = 158.0;
    pub const ROW_PITCH: f32 = 36.0;
    pub const ROW_SIZE: f32 = 25.0;
    /// NIK left less colon x.
    pub const NIK_GAP: f32 = 10.0;
    pub const NIK_TOP: f32 = 102.0;
    pub const NIK_SIZE: f32 = 40.0;
    /// The portrait box: left, top, width, height.
    pub const PORTRAIT: [f32; 4] = [770.0, 120.0, 210.0, 280.0];
    pub const GUILLOCHE: f32 = 4.0;
    pub const GLINT_STRENGTH: f32 = 120.0;
    pub const FOIL_OPACITY: f32 = 0.7;
    pub const FOIL_TURN: f32 = 0.35;
    pub const EXPOSURE: f32 = 0.79;
    pub const CARD_FLASH: f32 = 44.0;
    pub const COPY_LIFT: f32 = 60.0;
    pub const COPY_GAIN: f32 = 0.62;
    pub const COPY_FLASH: f32 = 25.0;
    pub const MOIRE_PERIOD: f32 = 5.0;
    pub const MOIRE_ANGLE: f32 = 0.3;
    pub const MOIRE_AMPLITUDE: f32 = 5.0;
}

/// `nominal` moved by up to `reach` either way: Calibration within the inner half
/// (`|offset| < reach/2`), HeldOut in the outer half (`reach/2 ≤ |offset| ≤ reach`).
fn band(rng: &mut StdRng, family: Family, nominal: f32, reach: f32) -> f32 {
    let magnitude = match family {
        Family::Calibration => rng.gen_range(0.0..0.5),
        Family::HeldOut => rng.gen_range(0.5..=1.0),
    };
    let sign = if rng.gen_bool(0.5) { 1.0 } else { -1.0 };
    nominal + sign * magnitude * reach
}

/// A value from `calibration`, or from one of `held_out` (picked with equal odds).
fn split(rng: &mut StdRng, family: Family, calibration: Range<f32>, held_out: &[Range<f32>]) -> f32 {
    match family {
        Family::Calibration => rng.gen_range(calibration),
        Family::HeldOut => {
            let range = held_out[rng.gen_range(0..held_out.len())].clone();
            rng.gen_range(range)
        }
    }
}

fn pick<T: Copy>(rng: &mut StdRng, list: &[T]) -> T {
    list[rng.gen_range(0..list.len())]
}

/// Where the portrait goes and how it is cut.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PortraitStyle {
    /// The box, card pixels.
    pub left: f32,
    pub top: f32,
    pub width: f32,
    pub height: f32,
    /// Side of the 3:4 crop of the photo as a multiple of the largest that fits: below 1 a
    /// tighter crop around the face, above 1 a looser one (the photo's plain background extends).
    pub crop: f32,
    /// A thin printed line around the photo.
    pub frame: Option<PortraitFrame>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortraitFrame {
    pub width: u32,
    pub shade: u8,
}

/// The card's paper.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PaperStyle {
    /// Added to each channel of the template's pale blue (never more than a third of the
    /// largest shift upward, so the paper does not glare under the flash).
    pub tint: [f32; 3],
    /// The guilloche's amplitude (grey levels) and the multiple of its periods.
    pub guilloche: f32,
    pub guilloche_period: f32,
}

/// How one card is printed.
#[derive(Debug, Clone, PartialEq)]
pub struct CardStyle {
    pub family: Family,
    pub regular: FontFile,
    pub bold: FontFile,
    pub nik_face: FontFile,
    pub header_size: f32,
    pub header_top: f32,
    pub label_x: f32,
    pub colon_x: f32,
    pub value_x: f32,
    pub first_row_y: f32,
    pub row_pitch: f32,
    pub row_size: f32,
    pub nik_left: f32,
    pub nik_top: f32,
    /// The NIK's size as drawn; [`render_card_styled`] shrinks it if the number would run into
    /// the portrait (and moves the colon, value and NIK columns right together if the widest
    /// label would reach the colon).
    pub nik_size: f32,
    pub portrait: PortraitStyle,
    pub paper: PaperStyle,
}

impl CardStyle {
    pub fn draw(family: Family, seed: u64) -> CardStyle {
        use nominal as n;
        let mut rng = StdRng::seed_from_u64(seed ^ 0x4B54_505F_4341_5244);
        let f = family;
        let (regular, bold) = pick(&mut rng, text_faces(f));
        let nik_face = pick(&mut rng, nik_faces(f));
        let header_size = band(&mut rng, f, n::HEADER_SIZE, 3.0);
        let header_top = band(&mut rng, f, n::HEADER_TOP, 4.0);
        let label_x = band(&mut rng, f, n::LABEL_X, 10.0);
        let colon_x = band(&mut rng, f, n::COLON_X, 12.0);
        let value_x = colon_x + band(&mut rng, f, n::VALUE_GAP, 6.0);
        let first_row_y = band(&mut rng, f, n::FIRST_ROW_Y, 8.0);
        let row_pitch = band(&mut rng, f, n::ROW_PITCH, 2.0);
        let row_size = band(&mut rng, f, n::ROW_SIZE, 2.0);
        let nik_left = colon_x + band(&mut rng, f, n::NIK_GAP, 6.0);
        let nik_top = band(&mut rng, f, n::NIK_TOP, 5.0);
        let nik_size = band(&mut rng, f, n::NIK_SIZE, 4.0);
        let [left, top, width, height] = n::PORTRAIT;
        let scale = band(&mut rng, f, 1.0, 0.10);
        let (dx, dy) = (band(&mut rng, f, 0.0, 15.0), band(&mut rng, f, 0.0, 15.0));
        let (w, h) = (width * scale, height * scale);
        let crop = band(&mut rng, f, 1.0, 0.15);
        let frame = match f {
            Family::Calibration => None,
            Family::HeldOut => Some(PortraitFrame { width: rng.gen_range(1..=2), shade: rng.gen_range(40..=110) }),
        };
        let portrait = PortraitStyle {
            left: left + width / 2.0 - w / 2.0 + dx,
            top: top + height / 2.0 - h / 2.0 + dy,
            width: w,
            height: h,
            crop,
            frame,
        };
        let shift = band(&mut rng, f, 0.0, 10.0).abs();
        // One channel takes the whole shift, downward (a darker, greyer or greener paper); the
        // others move less, and upward by at most a third of it.
        let mut direction: [f32; 3] = std::array::from_fn(|_| rng.gen_range(-1.0..(1.0 / 3.0)));
        direction[rng.gen_range(0..3)] = -1.0;
        let paper = PaperStyle {
            tint: direction.map(|d| d * shift),
            guilloche: band(&mut rng, f, n::GUILLOCHE, 3.0),
            guilloche_period: band(&mut rng, f, 1.0, 0.3),
        };
        CardStyle {
            family,
            regular,
            bold,
            nik_face,
            header_size,
            header_top,
            label_x,
            colon_x,
            value_x,
            first_row_y,
            row_pitch,
            row_size,
            nik_left,
            nik_top,
            nik_size,
            portrait,
            paper,
        }
    }

    /// The paper tint's largest channel shift.
    pub fn tint_shift(&self) -> f32 {
        self.paper.tint.iter().fold(0f32, |m, t| m.max(t.abs()))
    }
}

/// The styled card's paper at (x, y): the template's gradient and guilloche, tinted and
/// re-scaled.
fn styled_paper(x: u32, y: u32, paper: &PaperStyle) -> Rgb<u8> {
    let t = (x as f32 / CARD_WIDTH as f32 + y as f32 / CARD_HEIGHT as f32) / 2.0;
    let k = paper.guilloche_period;
    let wave = ((x as f32 / (23.0 * k) + (y as f32 / (37.0 * k)).sin() * 3.0).sin() * paper.guilloche) as i32;
    let channel = |a: f32, b: f32, tint: f32| ((a + tint + (b - a) * t) as i32 + wave).clamp(0, 255) as u8;
    Rgb([
        channel(176.0, 206.0, paper.tint[0]),
        channel(214.0, 232.0, paper.tint[1]),
        channel(236.0, 246.0, paper.tint[2]),
    ])
}

/// Where the columns land on a card: the drawn colon, value and NIK x, moved right together if
/// the widest label in the row type would reach the colon (a printer sets the colon column
/// after the longest label), and the NIK's size: the drawn one, shrunk if the number would come
/// within 16 px of the portrait.
#[derive(Debug, Clone, Copy)]
struct Columns {
    colon_x: f32,
    value_x: f32,
    nik_left: f32,
    nik_size: f32,
}

fn columns(style: &CardStyle, regular: &FontVec, nik_face: &FontVec, nik: &str) -> Columns {
    let size = PxScale::from(style.row_size);
    let widest =
        KtpFields::sample(0).rows().iter().map(|(label, _)| text_size(size, regular, label).0).max().unwrap_or(0);
    let shift = (style.label_x + widest as f32 + 8.0 - style.colon_x).max(0.0);
    let nik_left = style.nik_left + shift;
    let (width, _) = text_size(PxScale::from(style.nik_size), nik_face, nik);
    let room = style.portrait.left - 16.0 - nik_left;
    let nik_size = if width as f32 > room { style.nik_size * room / width as f32 } else { style.nik_size };
    Columns { colon_x: style.colon_x + shift, value_x: style.value_x + shift, nik_left, nik_size }
}

/// A `testdata/` photo cut to 3:4 as an ID photo is framed, head and shoulders: the largest
/// 3:4 window, centred across and near the top of a tall photo (a centred window cuts the head
/// off `faces/biden_2.jpg`, as the template's `portrait_photo` does), times `crop`: a tighter
/// crop keeps the window's top (the head) and loses the shoulders, a looser one is centred on it
/// and shows the photo's border colour beyond the photo (a plain studio background). Scaled to
/// `width`×`height`.
fn styled_portrait_photo(path: &str, width: u32, height: u32, crop: f32) -> RgbImage {
    let photo = testdata_image(path);
    let (pw, ph) = photo.dimensions();
    let (pw_f, ph_f) = (pw as f32, ph as f32);
    let (fw, fh) = if pw * 4 > ph * 3 { (ph_f * 0.75, ph_f) } else { (pw_f, pw_f * 4.0 / 3.0) };
    let (full_left, full_top) = ((pw_f - fw) / 2.0, 0.05 * (ph_f - fh));
    let (cw, ch) = (fw * crop, fh * crop);
    let left = full_left + (fw - cw) / 2.0;
    let top = if crop < 1.0 { full_top } else { full_top + (fh - ch) / 2.0 };
    let ring = 4;
    let (mut sum, mut count) = ([0u64; 3], 0u64);
    for (x, y, p) in photo.enumerate_pixels() {
        if x < ring || y < ring || x + ring >= pw || y + ring >= ph {
            for c in 0..3 {
                sum[c] += u64::from(p[c]);
            }
            count += 1;
        }
    }
    let background = Rgb(sum.map(|s| (s / count.max(1)) as u8));
    let mut canvas = RgbImage::from_pixel(cw.round().max(4.0) as u32, ch.round().max(4.0) as u32, background);
    imageops::overlay(&mut canvas, &photo, -left.round() as i64, -top.round() as i64);
    imageops::resize(&canvas, width, height, imageops::FilterType::Triangle)
}

/// The card, flat and upright, printed as `style` says, with `portrait` (a `testdata/` path).
pub fn render_card_styled(fields: &KtpFields, portrait: &str, style: &CardStyle) -> RgbImage {
    let (regular, bold, nik_face) = (style.regular.load(), style.bold.load(), style.nik_face.load());
    let mut card = RgbImage::from_fn(CARD_WIDTH, CARD_HEIGHT, |x, y| styled_paper(x, y, &style.paper));
    let at = |v: f32| v.round() as i32;
    let centered = |card: &mut RgbImage, text: &str, center_x: i32, y: i32, size: f32, face: &FontVec| {
        let (w, _) = text_size(PxScale::from(size), face, text);
        draw_text_mut(card, INK, center_x - w as i32 / 2, y, PxScale::from(size), face, text);
    };
    let header = style.header_size;
    centered(
        &mut card,
        &format!("PROVINSI {}", fields.province),
        CARD_WIDTH as i32 / 2,
        at(style.header_top),
        header,
        &bold,
    );
    centered(&mut card, &fields.regency, CARD_WIDTH as i32 / 2, at(style.header_top + header + 4.0), header, &bold);
    let columns = columns(style, &regular, &nik_face, &fields.nik);
    let label_size = PxScale::from(style.nik_size - 4.0);
    let label_y = at(style.nik_top + 2.0);
    draw_text_mut(&mut card, INK, at(style.label_x), label_y, label_size, &bold, "NIK");
    draw_text_mut(&mut card, INK, at(columns.colon_x - 8.0), label_y, label_size, &bold, ":");
    let (nik_x, nik_y) = (at(columns.nik_left), at(style.nik_top));
    draw_text_mut(&mut card, INK, nik_x, nik_y, PxScale::from(columns.nik_size), &nik_face, &fields.nik);
    let size = PxScale::from(style.row_size);
    let shift = columns.value_x - nominal::COLON_X - nominal::VALUE_GAP;
    for (row, (label, value)) in fields.rows().into_iter().enumerate() {
        let y = at(style.first_row_y + row as f32 * style.row_pitch);
        draw_text_mut(&mut card, INK, at(style.label_x), y, size, &regular, label);
        draw_text_mut(&mut card, INK, at(columns.colon_x), y, size, &regular, ":");
        draw_text_mut(&mut card, INK, at(columns.value_x), y, size, &regular, &value);
        if label == "Jenis Kelamin" {
            let gol_x = at(520.0 + shift);
            draw_text_mut(&mut card, INK, gol_x, y, size, &regular, "Gol. Darah");
            let after = gol_x + text_size(size, &regular, "Gol. Darah").0 as i32 + 6;
            let blood = format!(": {}", fields.blood_type);
            draw_text_mut(&mut card, INK, at(640.0 + shift).max(after), y, size, &regular, &blood);
        }
    }
    let p = style.portrait;
    let (left, top) = (at(p.left), at(p.top));
    let (width, height) = (p.width.round() as u32, p.height.round() as u32);
    imageops::overlay(&mut card, &styled_portrait_photo(portrait, width, height, p.crop), left.into(), top.into());
    if let Some(frame) = p.frame {
        let shade = Rgb([frame.shade, frame.shade, frame.shade.saturating_add(8)]);
        for k in 0..frame.width as i32 {
            let (x0, y0, x1, y1) = (left + k, top + k, left + width as i32 - 1 - k, top + height as i32 - 1 - k);
            for (a, b) in [((x0, y0), (x1, y0)), ((x1, y0), (x1, y1)), ((x1, y1), (x0, y1)), ((x0, y1), (x0, y0))] {
                draw_line_segment_mut(&mut card, (a.0 as f32, a.1 as f32), (b.0 as f32, b.1 as f32), shade);
            }
        }
    }
    let signature_x = at(p.left + p.width / 2.0);
    let bottom = p.top + p.height;
    centered(&mut card, &fields.regency, signature_x, at(bottom + 10.0), 21.0, &regular);
    centered(&mut card, &fields.issue_date, signature_x, at(bottom + 36.0), 21.0, &regular);
    // A signature: a few joined strokes, below the place and date of issue.
    let line = 500.0 + 0.5 * (bottom - 400.0);
    let mut rng = StdRng::seed_from_u64(fields.nik.bytes().map(u64::from).sum());
    let mut point = (signature_x as f32 - 60.0, line);
    for _ in 0..12 {
        let next = (point.0 + rng.gen_range(4.0..16.0), line + rng.gen_range(-18.0..18.0));
        draw_line_segment_mut(&mut card, point, next, INK);
        point = next;
    }
    card
}

/// [`render_card_styled`] with a different person's photo glued over the portrait, the way
/// `render_card_with_pasted_portrait` glues one on the template, around the styled box. The
/// cut-out's craft differs by family: Calibration as the template's attack (8–12 % larger,
/// 10–20 px up and left, a 3 px shadow, a 2 px paper border), HeldOut a neater or a cruder one
/// (3–8 % or 12–16 % larger, 3–10 px off in any direction, a 0–2 px shadow, a 0–1 px border).
/// Either way the cut-out is trimmed to stay 8 px inside the card's edges.
pub fn render_card_styled_with_pasted_portrait(
    fields: &KtpFields,
    original_portrait: &str,
    pasted_portrait: &str,
    style: &CardStyle,
) -> RgbImage {
    let mut card = render_card_styled(fields, original_portrait, style);
    let fnv = |hash: u64, byte: u8| (hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01B3);
    let key = fields.nik.bytes().chain(pasted_portrait.bytes()).fold(0xCBF2_9CE4_8422_2325, fnv);
    let mut rng = StdRng::seed_from_u64(key ^ style.family as u64);
    let sign = |rng: &mut StdRng| if rng.gen_bool(0.5) { 1 } else { -1 };
    let (enlarge, dx, dy, shadow, border, paper) = match style.family {
        Family::Calibration => (
            rng.gen_range(1.08f32..=1.12),
            -rng.gen_range(10..=20i64),
            -rng.gen_range(10..=20i64),
            3i64,
            2i64,
            Rgb([244, 241, 232]),
        ),
        Family::HeldOut => (
            if rng.gen_bool(0.5) { rng.gen_range(1.03f32..1.08) } else { rng.gen_range(1.12f32..1.16) },
            sign(&mut rng) * rng.gen_range(3..=10i64),
            sign(&mut rng) * rng.gen_range(3..=10i64),
            rng.gen_range(0..=2i64),
            rng.gen_range(0..=1i64),
            Rgb([250, 250, 248]),
        ),
    };
    let p = style.portrait;
    let (box_w, box_h) = (p.width.round() as i64, p.height.round() as i64);
    let (width, height) = ((p.width * enlarge).round() as i64, (p.height * enlarge).round() as i64);
    // A forger trims the cut-out to the card: it stays 8 px inside the card's edges.
    let margin = 8;
    let left = (p.left.round() as i64 + (box_w - width) / 2 + dx).min(i64::from(CARD_WIDTH) - margin - width);
    let top =
        (p.top.round() as i64 + (box_h - height) / 2 + dy).clamp(margin, i64::from(CARD_HEIGHT) - margin - height);
    for y in top + shadow..top + height + shadow {
        for x in left + shadow..left + width + shadow {
            if let Some(pixel) = card.get_pixel_mut_checked(x as u32, y as u32) {
                pixel.0 = pixel.0.map(|c| (f32::from(c) * 0.35) as u8);
            }
        }
    }
    let mut cutout = RgbImage::from_pixel(width as u32, height as u32, paper);
    let photo =
        styled_portrait_photo(pasted_portrait, (width - 2 * border) as u32, (height - 2 * border) as u32, p.crop);
    imageops::overlay(&mut cutout, &photo, border, border);
    imageops::overlay(&mut card, &cutout, left, top);
    card
}

/// [`render_card_styled`] with its NIK painted out (with the card's own paper) and printed
/// again in [`forged_face`], scaled to the printed digits' height and set on their baseline, as
/// `render_card_with_retyped_nik` does on the template.
pub fn render_card_styled_with_retyped_nik(
    fields: &KtpFields,
    portrait: &str,
    style: &CardStyle,
    typeface: ForgedTypeface,
) -> RgbImage {
    let mut card = render_card_styled(fields, portrait, style);
    let printed = style.nik_face.load();
    let forged = forged_face(style, typeface).load();
    let columns = columns(style, &style.regular.load(), &printed, &fields.nik);
    let size = columns.nik_size;
    let (left, top) = (columns.nik_left.round() as i32, style.nik_top.round() as i32);
    let (template_width, _) = text_size(PxScale::from(size), &printed, &fields.nik);
    let (template_height, template_ascent) = digit_metrics(&printed, size);
    for y in top.max(0) as u32..(top + size as i32 + 6).max(0) as u32 {
        for x in left.max(0) as u32..(left + template_width as i32 + 6).clamp(0, CARD_WIDTH as i32) as u32 {
            card.put_pixel(x, y, styled_paper(x, y, &style.paper));
        }
    }
    let (forged_height, _) = digit_metrics(&forged, size);
    let forged_size = size * template_height / forged_height;
    let (_, forged_ascent) = digit_metrics(&forged, forged_size);
    let forged_top = top as f32 + template_ascent - forged_ascent;
    draw_text_mut(&mut card, INK, left, forged_top.round() as i32, PxScale::from(forged_size), &forged, &fields.nik);
    card
}

/// What lies under the card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Background {
    /// The template scene's wooden desk (`ktp_scene`'s texture).
    Desk,
    /// A woven cloth, with a few soft folds.
    Fabric,
    /// A sheet of paper or card stock (grey, cream or kraft).
    Paper,
    /// A plain painted or laminated surface under uneven light.
    Plain,
}

/// The direction the glint sweeps in as the hand tilts the card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GlintPath {
    LeftToRight,
    RightToLeft,
    TopToBottom,
}

impl GlintPath {
    /// Start and end of the sweep, card fractions.
    fn ends(self) -> ((f32, f32), (f32, f32)) {
        match self {
            GlintPath::LeftToRight => ((0.2, 0.3), (0.8, 0.5)),
            GlintPath::RightToLeft => ((0.8, 0.55), (0.25, 0.3)),
            GlintPath::TopToBottom => ((0.4, 0.15), (0.55, 0.8)),
        }
    }
}

/// The card's laminate under the capture's light.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Laminate {
    /// No specular glint at all (a matte laminate, or light that does not catch it).
    Matte,
    /// A glint of `strength` grey levels at its centre, `size` times the template's.
    Glossy { path: GlintPath, strength: f32, size: f32 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FoilPattern {
    /// Rainbow rings from the centre out (the template's).
    Rings,
    /// A five-pointed star whose rainbow runs around it.
    Star,
    /// Rainbow rings on an ellipse, turned.
    Ellipse,
}

/// The hologram foil: where, how large, how opaque, and how far its rainbow turns over a capture.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Foil {
    pub pattern: FoilPattern,
    /// Card pixels.
    pub center: (f32, f32),
    pub radius: f32,
    pub opacity: f32,
    pub turn: f32,
}

/// A photocopy of the card: grey = lift + gain × luma, warmed by `warmth` × (6, 2, −8), and the
/// flash it reflects (grey levels).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CopyStyle {
    pub lift: f32,
    pub gain: f32,
    pub warmth: f32,
    pub flash: f32,
}

/// A display's moiré over a replayed card: a grating of `period` frame pixels at `angle`
/// radians, `amplitude` grey levels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReplayStyle {
    pub period: f32,
    pub angle: f32,
    pub amplitude: f32,
}

/// How one capture is filmed (and how the card's laminate and foil show in it).
#[derive(Debug, Clone, PartialEq)]
pub struct SceneStyle {
    pub family: Family,
    pub background: Background,
    /// The background's colour at the template's exposure (unused by the desk).
    pub background_tone: [f32; 3],
    /// The ambient light's colour temperature (kelvin); the camera's white balance corrects
    /// half of its cast (in log gain).
    pub temperature: f32,
    /// Exposure of the scene's ambient light (the template's is 0.8).
    pub exposure: f32,
    /// Light lost at the frame's corners (fraction).
    pub vignette: f32,
    pub noise_sigma: f32,
    pub blur: f32,
    pub jpeg_quality: u8,
    /// The card's width as a fraction of the frame's.
    pub card_scale: f32,
    /// Degrees: the card's turn in the picture, and out of it (as `Handling::Tilted`).
    pub angle: f32,
    pub yaw: f32,
    pub pitch: f32,
    /// Grey levels a full flash channel adds on the original card.
    pub card_flash: f32,
    pub laminate: Laminate,
    pub foil: Option<Foil>,
    pub copy: CopyStyle,
    pub replay: ReplayStyle,
}

const FABRICS: [[f32; 3]; 5] =
    [[40.0, 50.0, 82.0], [58.0, 58.0, 62.0], [92.0, 36.0, 42.0], [72.0, 76.0, 46.0], [62.0, 82.0, 116.0]];
const PLAINS: [[f32; 3]; 5] =
    [[52.0, 54.0, 58.0], [26.0, 26.0, 30.0], [32.0, 92.0, 96.0], [150.0, 118.0, 88.0], [96.0, 98.0, 104.0]];

impl SceneStyle {
    pub fn draw(family: Family, seed: u64) -> SceneStyle {
        use nominal as n;
        let mut rng = StdRng::seed_from_u64(seed ^ 0x4B54_505F_5343_454E);
        let f = family;
        let background = match f {
            Family::Calibration => Background::Desk,
            Family::HeldOut => pick(&mut rng, &[Background::Fabric, Background::Paper, Background::Plain]),
        };
        let background_tone = match background {
            Background::Desk => [0.0; 3],
            Background::Fabric => pick(&mut rng, &FABRICS).map(|c| c * rng.gen_range(0.85..1.15)),
            Background::Paper => {
                let level = rng.gen_range(120.0..160.0);
                pick(&mut rng, &[[1.0, 0.99, 0.96], [1.0, 0.97, 0.88], [1.0, 0.8, 0.58]]).map(|c| c * level)
            }
            Background::Plain => pick(&mut rng, &PLAINS).map(|c| c * rng.gen_range(0.9..1.1)),
        };
        let temperature = split(&mut rng, f, 5600.0..7000.0, &[3000.0..5600.0, 3000.0..5600.0, 7000.0..9000.0]);
        let exposure = band(&mut rng, f, n::EXPOSURE, 0.07);
        let vignette = split(&mut rng, f, 0.0..0.06, &[0.06..0.2]);
        let noise_sigma = split(&mut rng, f, 1.0..2.5, &[2.5..4.0]);
        let blur = split(&mut rng, f, 0.3..0.75, &[0.75..1.2]);
        let jpeg_quality = match f {
            Family::Calibration => rng.gen_range(86..=95),
            Family::HeldOut => rng.gen_range(70..=85),
        };
        let card_scale = split(&mut rng, f, 0.62..0.70, &[0.54..0.62, 0.70..0.72]);
        let angle = band(&mut rng, f, 0.0, 3.0);
        let yaw = band(&mut rng, f, 0.0, 8.0);
        let pitch = band(&mut rng, f, 0.0, 8.0);
        let card_flash = band(&mut rng, f, n::CARD_FLASH, 10.0);
        let glint_strength = band(&mut rng, f, n::GLINT_STRENGTH, 40.0);
        let glint_size = band(&mut rng, f, 1.0, 0.4);
        let laminate = match f {
            Family::Calibration => {
                Laminate::Glossy { path: GlintPath::LeftToRight, strength: glint_strength, size: glint_size }
            }
            Family::HeldOut => match rng.gen_range(0..3) {
                0 => Laminate::Matte,
                1 => Laminate::Glossy { path: GlintPath::RightToLeft, strength: glint_strength, size: glint_size },
                _ => Laminate::Glossy { path: GlintPath::TopToBottom, strength: glint_strength, size: glint_size },
            },
        };
        let foil_drawn = Foil {
            pattern: match f {
                Family::Calibration => FoilPattern::Rings,
                Family::HeldOut => pick(&mut rng, &[FoilPattern::Star, FoilPattern::Ellipse]),
            },
            center: (FOIL_CENTER.0 + band(&mut rng, f, 0.0, 8.0), FOIL_CENTER.1 + band(&mut rng, f, 0.0, 8.0)),
            radius: band(&mut rng, f, FOIL_RADIUS, 8.0),
            opacity: band(&mut rng, f, n::FOIL_OPACITY, 0.2),
            turn: band(&mut rng, f, n::FOIL_TURN, 0.2),
        };
        let foil = match f {
            Family::Calibration => Some(foil_drawn),
            Family::HeldOut => (rng.gen_range(0..4) != 0).then_some(foil_drawn),
        };
        let copy = CopyStyle {
            lift: band(&mut rng, f, n::COPY_LIFT, 16.0),
            gain: band(&mut rng, f, n::COPY_GAIN, 0.1),
            warmth: band(&mut rng, f, 1.0, 1.0),
            flash: band(&mut rng, f, n::COPY_FLASH, 6.0),
        };
        let replay = ReplayStyle {
            period: band(&mut rng, f, n::MOIRE_PERIOD, 1.6),
            angle: band(&mut rng, f, n::MOIRE_ANGLE, 0.5),
            amplitude: band(&mut rng, f, n::MOIRE_AMPLITUDE, 2.4),
        };
        SceneStyle {
            family,
            background,
            background_tone,
            temperature,
            exposure,
            vignette,
            noise_sigma,
            blur,
            jpeg_quality,
            card_scale,
            angle,
            yaw,
            pitch,
            card_flash,
            laminate,
            foil,
            copy,
            replay,
        }
    }

    /// Per-channel gains of the ambient light: a black body at `temperature` relative to
    /// 6500 K (Tanner Helland's fit), half corrected by the camera's white balance, at the
    /// brightness of the uncorrected light.
    pub fn light_gains(&self) -> [f32; 3] {
        let rgb = |kelvin: f32| {
            let t = kelvin / 100.0;
            let r = if t <= 66.0 { 255.0 } else { 329.699 * (t - 60.0).powf(-0.133_204_76) };
            let g = if t <= 66.0 { 99.4708 * t.ln() - 161.1196 } else { 288.1222 * (t - 60.0).powf(-0.075_514_85) };
            let b = if t >= 66.0 {
                255.0
            } else if t <= 19.0 {
                0.0
            } else {
                138.5177 * (t - 10.0).ln() - 305.0448
            };
            [r, g, b].map(|c: f32| c.clamp(1.0, 255.0))
        };
        let (light, white) = (rgb(self.temperature), rgb(6500.0));
        let half: [f32; 3] = std::array::from_fn(|c| (light[c] / white[c]).sqrt());
        let luma = 0.299 * half[0] + 0.587 * half[1] + 0.114 * half[2];
        half.map(|g| g / luma)
    }

    /// Grey levels a full flash channel adds on the card and around it.
    fn flash_reflectance(&self, presentation: Presentation) -> (f32, f32) {
        let around = match self.background {
            Background::Desk => 15.0,
            Background::Fabric => 9.0,
            Background::Paper => 20.0,
            Background::Plain => 12.0,
        };
        match presentation {
            Presentation::Original => (self.card_flash, around),
            Presentation::Photocopy => (self.copy.flash, around),
            Presentation::ScreenReplay => (0.0, 0.0),
        }
    }
}

/// The foil's colour and opacity at card point (u, v) when its rainbow stands at `phase`.
fn foil_at(foil: &Foil, u: f32, v: f32, phase: f32) -> Option<([f32; 3], f32)> {
    let (du, dv) = (u - foil.center.0, v - foil.center.1);
    let reach = 1.4 * foil.radius;
    if du.abs() > reach || dv.abs() > reach {
        return None;
    }
    let turns = match foil.pattern {
        FoilPattern::Rings => {
            let distance = du.hypot(dv) / foil.radius;
            (distance <= 1.0).then_some(2.0 * distance + phase)
        }
        FoilPattern::Ellipse => {
            let (sin, cos) = 0.5f32.sin_cos();
            let (a, b) = (du * cos + dv * sin, -du * sin + dv * cos);
            let distance = (a / 1.3).hypot(b * 1.3) / foil.radius;
            (distance <= 1.0).then_some(2.0 * distance + phase)
        }
        FoilPattern::Star => {
            let theta = dv.atan2(du);
            let outline = foil.radius * (0.72 + 0.28 * (5.0 * theta).cos());
            let distance = du.hypot(dv);
            (distance <= outline).then(|| 3.0 * theta / TAU + distance / foil.radius + phase)
        }
    }?;
    let hue = turns.rem_euclid(1.0) * 6.0;
    let ramp = |offset: f32| {
        let h = (hue + offset).rem_euclid(6.0);
        (if h < 1.0 {
            h
        } else if h < 3.0 {
            1.0
        } else if h < 4.0 {
            4.0 - h
        } else {
            0.0
        })
        .clamp(0.0, 1.0)
    };
    let rgb = [ramp(2.0), ramp(0.0), ramp(4.0)].map(|c| 255.0 * 0.95 * (0.5 + 0.5 * c));
    Some((rgb, foil.opacity))
}

/// The flat card with its foil (if any) painted in at one fixed `phase`.
fn with_styled_foil(card: &RgbImage, foil: Option<Foil>, phase: f32) -> RgbImage {
    let mut painted = card.clone();
    let Some(foil) = foil else { return painted };
    let reach = 1.4 * foil.radius;
    let xs = (foil.center.0 - reach).max(0.0) as u32..((foil.center.0 + reach) as u32 + 1).min(card.width());
    let ys = (foil.center.1 - reach).max(0.0) as u32..((foil.center.1 + reach) as u32 + 1).min(card.height());
    for y in ys {
        for x in xs.clone() {
            if let Some((rgb, alpha)) = foil_at(&foil, x as f32 + 0.5, y as f32 + 0.5, phase) {
                let pixel = painted.get_pixel_mut(x, y);
                for c in 0..3 {
                    pixel[c] = (f32::from(pixel[c]) * (1.0 - alpha) + rgb[c] * alpha).round() as u8;
                }
            }
        }
    }
    painted
}

fn styled_copy(card: &RgbImage, copy: &CopyStyle) -> RgbImage {
    let mut out = card.clone();
    let warm = [6.0, 2.0, -8.0].map(|w| w * copy.warmth);
    for pixel in out.as_mut().chunks_exact_mut(3) {
        let luma = 0.299 * f32::from(pixel[0]) + 0.587 * f32::from(pixel[1]) + 0.114 * f32::from(pixel[2]);
        let grey = copy.lift + copy.gain * luma;
        for c in 0..3 {
            pixel[c] = (grey + warm[c]).clamp(0.0, 255.0) as u8;
        }
    }
    out
}

/// The background at the template's exposure, then under the scene's light.
fn background(style: &SceneStyle, rng: &mut StdRng) -> RgbImage {
    let (w, h) = (FRAME_WIDTH as usize, FRAME_HEIGHT as usize);
    let tone = style.background_tone;
    let mut image = match style.background {
        Background::Desk => desk_texture(rng),
        Background::Fabric => {
            let period = rng.gen_range(3.0f32..6.0);
            let phases: [f32; 3] = std::array::from_fn(|_| rng.gen_range(0.0..TAU));
            // Threads rounded across their width; over and under in a checker (plain weave).
            let across = |i: usize| (PI * (i as f32 / period).fract()).sin();
            let (cols, rows): (Vec<f32>, Vec<f32>) = ((0..w).map(across).collect(), (0..h).map(across).collect());
            let fold_x: Vec<f32> = (0..w).map(|x| (x as f32 / 170.0 + phases[0]).sin()).collect();
            let fold_y: Vec<f32> = (0..h).map(|y| (y as f32 / 230.0 + phases[1]).sin()).collect();
            let fold_z: Vec<f32> = (0..w).map(|x| (x as f32 / 61.0 + phases[2]).sin()).collect();
            let mut speckle = vec![0u8; w * h];
            rng.fill_bytes(&mut speckle);
            let mut image = RgbImage::new(FRAME_WIDTH, FRAME_HEIGHT);
            for (i, pixel) in image.as_mut().chunks_exact_mut(3).enumerate() {
                let (x, y) = (i % w, i / w);
                let over = ((x as f32 / period) as usize + (y as f32 / period) as usize).is_multiple_of(2);
                let thread = 0.78 + 0.32 * if over { cols[x] } else { rows[y] };
                let fold = 1.0 + 0.14 * fold_x[x] * fold_y[y] + 0.05 * fold_z[x];
                let grit = (f32::from(speckle[i]) - 127.5) / 24.0;
                for c in 0..3 {
                    pixel[c] = (tone[c] * thread * fold + grit).clamp(0.0, 255.0) as u8;
                }
            }
            image
        }
        Background::Paper | Background::Plain => {
            let (slope, grain) = if style.background == Background::Paper { (0.06, 10.0) } else { (0.09, 28.0) };
            let direction = rng.gen_range(0.0..TAU);
            let (dx, dy) = (direction.cos() / w as f32, direction.sin() / w as f32);
            let mut speckle = vec![0u8; w * h];
            rng.fill_bytes(&mut speckle);
            let mut image = RgbImage::new(FRAME_WIDTH, FRAME_HEIGHT);
            for (i, pixel) in image.as_mut().chunks_exact_mut(3).enumerate() {
                let (x, y) = ((i % w) as f32 - w as f32 / 2.0, (i / w) as f32 - h as f32 / 2.0);
                let light = 1.0 + 2.0 * slope * (x * dx + y * dy);
                let grit = (f32::from(speckle[i]) - 127.5) / grain;
                for c in 0..3 {
                    pixel[c] = (tone[c] * light + grit).clamp(0.0, 255.0) as u8;
                }
            }
            image
        }
    };
    let gains = style.light_gains().map(|g| g * style.exposure / CARD_EXPOSURE);
    for pixel in image.as_mut().chunks_exact_mut(3) {
        for c in 0..3 {
            pixel[c] = (f32::from(pixel[c]) * gains[c]).round().min(255.0) as u8;
        }
    }
    image
}

/// Where the card lies in one frame, and where on it the glint and the foil's rainbow stand.
#[derive(Debug, Clone, Copy)]
struct Placement {
    center_x: f32,
    center_y: f32,
    /// Frame pixels per card pixel.
    scale: f32,
    /// Radians.
    angle: f32,
    yaw: f32,
    pitch: f32,
    glint: Option<(f32, f32)>,
    foil_phase: Option<f32>,
}

/// Card pixel (u, v) in frame pixels, as `ktp_scene` projects it (a pinhole camera).
fn project(pose: &Placement, card_w: f32, card_h: f32, u: f32, v: f32) -> (f32, f32) {
    let (a, b) = ((u - card_w / 2.0) * pose.scale, (v - card_h / 2.0) * pose.scale);
    let (sin_yaw, cos_yaw) = pose.yaw.sin_cos();
    let (sin_pitch, cos_pitch) = pose.pitch.sin_cos();
    let (x1, z1) = (a * cos_yaw, -a * sin_yaw);
    let (y2, z2) = (b * cos_pitch + z1 * sin_pitch, z1 * cos_pitch - b * sin_pitch);
    let (sin, cos) = pose.angle.sin_cos();
    let (x3, y3) = (x1 * cos - y2 * sin, x1 * sin + y2 * cos);
    let perspective = FOCAL_LENGTH / (FOCAL_LENGTH + z2);
    (pose.center_x + x3 * perspective, pose.center_y + y3 * perspective)
}

/// The first placement, then each next a few pixels and at most half a degree off the last,
/// the card kept whole in the frame with a margin.
fn styled_poses(
    rng: &mut StdRng,
    card: &RgbImage,
    count: usize,
    presentation: Presentation,
    style: &SceneStyle,
) -> Vec<Placement> {
    let (mid_x, mid_y) = (FRAME_WIDTH as f32 / 2.0, FRAME_HEIGHT as f32 / 2.0);
    let max_angle = 4f32.to_radians().max(style.angle.abs().to_radians());
    let scale = FRAME_WIDTH as f32 * style.card_scale / card.width() as f32;
    // Half the card's extent at the largest turn, and 8 % for the perspective of a tilt.
    let (w, h) = (card.width() as f32 * scale, card.height() as f32 * scale);
    let (sin, cos) = max_angle.sin_cos();
    let (half_x, half_y) = (1.08 * (w * cos + h * sin) / 2.0, 1.08 * (w * sin + h * cos) / 2.0);
    let room_x = (mid_x - half_x - 8.0).clamp(0.0, 35.0);
    let room_y = (mid_y - half_y - 8.0).clamp(0.0, 25.0);
    let mut pose = Placement {
        center_x: mid_x + rng.gen_range(-20.0f32..20.0).clamp(-room_x, room_x),
        center_y: mid_y + rng.gen_range(-12.0f32..12.0).clamp(-room_y, room_y),
        scale,
        angle: style.angle.to_radians(),
        yaw: style.yaw.to_radians(),
        pitch: style.pitch.to_radians(),
        glint: None,
        foil_phase: None,
    };
    let foil_start = rng.gen_range(0.0f32..1.0);
    let moving = presentation != Presentation::ScreenReplay;
    let original = presentation == Presentation::Original;
    (0..count)
        .map(|i| {
            if i > 0 && moving {
                pose.center_x = (pose.center_x + rng.gen_range(-4.0..4.0)).clamp(mid_x - room_x, mid_x + room_x);
                pose.center_y = (pose.center_y + rng.gen_range(-3.0..3.0)).clamp(mid_y - room_y, mid_y + room_y);
                pose.angle = (pose.angle + rng.gen_range(-0.5f32..0.5).to_radians()).clamp(-max_angle, max_angle);
            }
            let t = if count > 1 { i as f32 / (count - 1) as f32 } else { 0.5 };
            let jitter = (rng.gen_range(-0.03..0.03), rng.gen_range(-0.05..0.05));
            let glint = match style.laminate {
                Laminate::Glossy { path, .. } if original => {
                    let ((u0, v0), (u1, v1)) = path.ends();
                    let (u, v) = (u0 + (u1 - u0) * t + jitter.0, v0 + (v1 - v0) * t + jitter.1);
                    Some((u * card.width() as f32, v * card.height() as f32))
                }
                _ => None,
            };
            let foil_phase = match style.foil {
                Some(foil) if original => Some(foil_start + foil.turn * t),
                _ => None,
            };
            Placement { glint, foil_phase, ..pose }
        })
        .collect()
}

/// One frame before the sensor, as `ktp_scene`'s `compose` makes it, under the style's light:
/// the background lit by the flash, the card warped onto it (bilinear, anti-aliased edge), its
/// print at the style's exposure and light colour plus the flash, the glint (a clipped
/// highlight, neutral) or a display's moiré, and the live foil; then the vignette.
fn compose_styled(
    background: &RgbImage,
    card: &RgbImage,
    pose: &Placement,
    flash: [f32; 3],
    presentation: Presentation,
    style: &SceneStyle,
) -> RgbImage {
    let (card_flash, desk_flash) = style.flash_reflectance(presentation);
    let desk_light = flash.map(|c| c * desk_flash);
    let mut frame = background.clone();
    for pixel in frame.as_mut().chunks_exact_mut(3) {
        for c in 0..3 {
            pixel[c] = (f32::from(pixel[c]) + desk_light[c]).min(255.0) as u8;
        }
    }
    let ambient = style.light_gains().map(|g| g * style.exposure);
    let (card_w, card_h) = (card.width() as f32, card.height() as f32);
    let corner_radius = card_w * 3.18 / 85.6;
    let (glint_strength, glint_size) = match style.laminate {
        Laminate::Glossy { strength, size, .. } => (strength, size),
        Laminate::Matte => (0.0, 1.0),
    };
    let (glint_rx, glint_ry) = (0.075 * card_w * glint_size, 0.045 * card_w * glint_size);
    let replay = style.replay;
    let (moire_sin, moire_cos) = replay.angle.sin_cos();
    let corners =
        [(0.0, 0.0), (card_w, 0.0), (card_w, card_h), (0.0, card_h)].map(|(u, v)| project(pose, card_w, card_h, u, v));
    let span = |axis: fn(&(f32, f32)) -> f32, limit: u32| {
        let low = corners.iter().map(axis).fold(f32::MAX, f32::min) - 2.0;
        let high = corners.iter().map(axis).fold(f32::MIN, f32::max) + 2.0;
        (low.max(0.0) as u32)..(high.max(0.0) as u32).min(limit)
    };
    let card_corners = [(0.0, 0.0), (card_w, 0.0), (card_w, card_h), (0.0, card_h)];
    let to_card = Projection::from_control_points(corners, card_corners);
    let (sin, cos) = pose.angle.sin_cos();
    for y in span(|c| c.1, FRAME_HEIGHT) {
        for x in span(|c| c.0, FRAME_WIDTH) {
            let (u, v) = match to_card {
                Some(to_card) => to_card * (x as f32 + 0.5, y as f32 + 0.5),
                None => {
                    let (dx, dy) = (x as f32 + 0.5 - pose.center_x, y as f32 + 0.5 - pose.center_y);
                    (
                        (dx * cos + dy * sin) / pose.scale + card_w / 2.0,
                        (-dx * sin + dy * cos) / pose.scale + card_h / 2.0,
                    )
                }
            };
            let outside = rounded_rect_distance(u, v, card_w, card_h, corner_radius) * pose.scale;
            let coverage = (0.5 - outside).clamp(0.0, 1.0);
            if coverage == 0.0 {
                continue;
            }
            let mut extra = 0.0;
            if let Some((glint_u, glint_v)) = pose.glint {
                let (a, b) = ((u - glint_u) / glint_rx, (v - glint_v) / glint_ry);
                let falloff = a * a + b * b;
                if falloff < 40.0 {
                    extra += glint_strength * (-0.5 * falloff).exp();
                }
            }
            if presentation == Presentation::ScreenReplay {
                let phase = (x as f32 * moire_cos + y as f32 * moire_sin) / replay.period;
                extra += replay.amplitude * (TAU * phase).sin();
            }
            let mut card_pixel = bilinear(card, u - 0.5, v - 0.5);
            if let Some((foil, alpha)) =
                pose.foil_phase.zip(style.foil).and_then(|(phase, foil)| foil_at(&foil, u, v, phase))
            {
                for c in 0..3 {
                    card_pixel[c] = card_pixel[c] * (1.0 - alpha) + foil[c] * alpha;
                }
            }
            let pixel = frame.get_pixel_mut(x, y);
            for c in 0..3 {
                let on_desk = f32::from(pixel[c]);
                let on_card = (ambient[c] * card_pixel[c] + card_flash * flash[c] + extra).clamp(0.0, 255.0);
                pixel[c] = (on_desk + (on_card - on_desk) * coverage).round() as u8;
            }
        }
    }
    if style.vignette > 0.0 {
        let (w, h) = (FRAME_WIDTH as usize, FRAME_HEIGHT as usize);
        let corner = (w * w + h * h) as f32 / 4.0;
        for (i, pixel) in frame.as_mut().chunks_exact_mut(3).enumerate() {
            let (dx, dy) = ((i % w) as f32 - w as f32 / 2.0, (i / w) as f32 - h as f32 / 2.0);
            let keep = 1.0 - style.vignette * (dx * dx + dy * dy) / corner;
            for value in pixel.iter_mut() {
                *value = (f32::from(*value) * keep).round() as u8;
            }
        }
    }
    frame
}

/// Sensor noise of `sigma`, as `ktp_scene` adds it (Irwin–Hall of four random bytes).
fn add_noise(frame: &mut RgbImage, rng: &mut StdRng, sigma: f32) {
    let mut random = vec![0u8; 4 * frame.as_raw().len()];
    rng.fill_bytes(&mut random);
    for (value, bytes) in frame.as_mut().iter_mut().zip(random.chunks_exact(4)) {
        let sum = u32::from(bytes[0]) + u32::from(bytes[1]) + u32::from(bytes[2]) + u32::from(bytes[3]);
        let noise = (sum as f32 - 510.0) * (sigma / 147.8);
        *value = (f32::from(*value) + noise).round().clamp(0.0, 255.0) as u8;
    }
}

/// JPEG frames, one per challenge colour, FRAME_WIDTH×FRAME_HEIGHT, of `card` presented as
/// `presentation` and filmed as `style` says ([`crate::ktp_scene::capture_frames`]'s scene,
/// every fixed choice of it drawn). `seed` drives the hand's drift, the background's texture
/// and the sensor noise.
pub fn capture_frames_styled(
    card: &RgbImage,
    colors: &[String],
    presentation: Presentation,
    style: &SceneStyle,
    seed: u64,
) -> Vec<Vec<u8>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let background = background(style, &mut rng);
    let surface = match presentation {
        Presentation::Photocopy => styled_copy(&with_styled_foil(card, style.foil, 0.0), &style.copy),
        Presentation::ScreenReplay => with_styled_foil(card, style.foil, 0.0),
        Presentation::Original => card.clone(),
    };
    let poses = styled_poses(&mut rng, card, colors.len(), presentation, style);
    colors
        .iter()
        .enumerate()
        .map(|(i, color)| {
            let rgb = kenali_core::challenge::parse_color(color).unwrap_or_else(|| panic!("colour {color}"));
            let flash = rgb.map(|c| f32::from(c) / 255.0);
            let mut frame = compose_styled(&background, &surface, &poses[i], flash, presentation, style);
            add_noise(&mut frame, &mut rng, style.noise_sigma);
            let frame = imageops::blur(&frame, style.blur);
            let mut bytes = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, style.jpeg_quality)
                .encode_image(&frame)
                .unwrap_or_else(|e| panic!("jpeg encode: {e}"));
            bytes
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn colors(list: &[&str]) -> Vec<String> {
        list.iter().map(|c| c.to_string()).collect()
    }

    fn decode(bytes: &[u8]) -> RgbImage {
        image::load_from_memory_with_format(bytes, image::ImageFormat::Jpeg).unwrap().to_rgb8()
    }

    /// Mean red minus mean blue over the middle of the frame, on the card in any style.
    fn red_over_blue(frame: &RgbImage) -> f32 {
        let middle = imageops::crop_imm(frame, 560, 320, 160, 80).to_image();
        middle.pixels().map(|p| f32::from(p[0]) - f32::from(p[2])).sum::<f32>() / (160.0 * 80.0)
    }

    #[test]
    fn every_font_is_installed() {
        for font in ALL_FONTS {
            font.load();
        }
    }

    #[test]
    fn styles_and_their_bytes_are_deterministic_per_seed() {
        for family in Family::ALL {
            assert_eq!(CardStyle::draw(family, 11), CardStyle::draw(family, 11));
            assert_eq!(SceneStyle::draw(family, 11), SceneStyle::draw(family, 11));
            assert_ne!(CardStyle::draw(family, 11), CardStyle::draw(family, 12));
            let fields = KtpFields::sample(3);
            let style = CardStyle::draw(family, 11);
            let card = render_card_styled(&fields, "faces/obama_1.jpg", &style);
            assert_eq!(card.dimensions(), (CARD_WIDTH, CARD_HEIGHT));
            assert_eq!(card, render_card_styled(&fields, "faces/obama_1.jpg", &style));
            let scene = SceneStyle::draw(family, 11);
            let steps = colors(&["#FF0000", "#0000FF"]);
            let frames = capture_frames_styled(&card, &steps, Presentation::Original, &scene, 4);
            assert_eq!(frames, capture_frames_styled(&card, &steps, Presentation::Original, &scene, 4));
        }
    }

    /// The smallest and largest of `values`.
    fn range(values: impl Iterator<Item = f32>) -> (f32, f32) {
        values.fold((f32::MAX, f32::MIN), |(low, high), v| (low.min(v), high.max(v)))
    }

    /// Calibration's values of one axis lie wholly below HeldOut's (or above).
    fn disjoint(axis: &str, calibration: (f32, f32), held_out: (f32, f32)) {
        assert!(
            calibration.1 < held_out.0 || held_out.1 < calibration.0,
            "{axis}: calibration {calibration:?} and held-out {held_out:?} overlap"
        );
    }

    /// Sets of values (several per family) share none.
    fn no_common<T: PartialEq + std::fmt::Debug>(axis: &str, calibration: &[T], held_out: &[T]) {
        for value in calibration {
            assert!(!held_out.contains(value), "{axis}: {value:?} in both families");
        }
    }

    #[test]
    fn the_families_share_no_value_on_any_axis() {
        use nominal as n;
        type Styles = Vec<(CardStyle, SceneStyle)>;
        let draws = |family| (0..200u64).map(|s| (CardStyle::draw(family, s), SceneStyle::draw(family, s))).collect();
        let (calibration, held_out): (Styles, Styles) = (draws(Family::Calibration), draws(Family::HeldOut));
        type CardAxis = (&'static str, fn(&CardStyle) -> f32);
        let card_axes: [CardAxis; 17] = [
            ("header size", |c| (c.header_size - n::HEADER_SIZE).abs()),
            ("header top", |c| (c.header_top - n::HEADER_TOP).abs()),
            ("label x", |c| (c.label_x - n::LABEL_X).abs()),
            ("colon x", |c| (c.colon_x - n::COLON_X).abs()),
            ("value x", |c| (c.value_x - c.colon_x - n::VALUE_GAP).abs()),
            ("first row y", |c| (c.first_row_y - n::FIRST_ROW_Y).abs()),
            ("row pitch", |c| (c.row_pitch - n::ROW_PITCH).abs()),
            ("row size", |c| (c.row_size - n::ROW_SIZE).abs()),
            ("NIK x", |c| (c.nik_left - c.colon_x - n::NIK_GAP).abs()),
            ("NIK y", |c| (c.nik_top - n::NIK_TOP).abs()),
            ("NIK size", |c| (c.nik_size - n::NIK_SIZE).abs()),
            ("portrait size", |c| (c.portrait.width / n::PORTRAIT[2] - 1.0).abs()),
            ("portrait x", |c| {
                (c.portrait.left + c.portrait.width / 2.0 - n::PORTRAIT[0] - n::PORTRAIT[2] / 2.0).abs()
            }),
            ("portrait y", |c| {
                (c.portrait.top + c.portrait.height / 2.0 - n::PORTRAIT[1] - n::PORTRAIT[3] / 2.0).abs()
            }),
            ("portrait crop", |c| (c.portrait.crop - 1.0).abs()),
            ("paper tint", |c| c.tint_shift()),
            ("guilloche", |c| (c.paper.guilloche - n::GUILLOCHE).abs()),
        ];
        for (axis, measure) in card_axes {
            let of = |draws: &[(CardStyle, SceneStyle)]| range(draws.iter().map(|(c, _)| measure(c)));
            disjoint(axis, of(&calibration), of(&held_out));
        }
        let of = |draws: &[(CardStyle, SceneStyle)]| {
            range(draws.iter().map(|(c, _)| (c.paper.guilloche_period - 1.0).abs()))
        };
        disjoint("guilloche period", of(&calibration), of(&held_out));
        let faces = |draws: &[(CardStyle, SceneStyle)], pick: fn(&CardStyle) -> FontFile| {
            draws.iter().map(|(c, _)| pick(c)).collect::<Vec<_>>()
        };
        no_common("text face", &faces(&calibration, |c| c.regular), &faces(&held_out, |c| c.regular));
        no_common("bold face", &faces(&calibration, |c| c.bold), &faces(&held_out, |c| c.bold));
        no_common("NIK face", &faces(&calibration, |c| c.nik_face), &faces(&held_out, |c| c.nik_face));
        assert!(faces(&held_out, |c| c.nik_face).contains(&OCR_A));
        let frames = |draws: &[(CardStyle, SceneStyle)]| {
            draws.iter().map(|(c, _)| c.portrait.frame.is_some()).collect::<Vec<_>>()
        };
        no_common("portrait frame", &frames(&calibration), &frames(&held_out));
        for typeface in [ForgedTypeface::SerifBold, ForgedTypeface::MonoBold] {
            no_common(
                "forged face",
                &calibration.iter().map(|(c, _)| forged_face(c, typeface)).collect::<Vec<_>>(),
                &held_out.iter().map(|(c, _)| forged_face(c, typeface)).collect::<Vec<_>>(),
            );
        }

        type SceneAxis = (&'static str, fn(&SceneStyle) -> f32);
        let scene_axes: [SceneAxis; 16] = [
            ("exposure", |s| (s.exposure - n::EXPOSURE).abs()),
            ("vignette", |s| s.vignette),
            ("noise", |s| s.noise_sigma),
            ("blur", |s| s.blur),
            ("JPEG quality", |s| -f32::from(s.jpeg_quality)),
            ("turn", |s| s.angle.abs()),
            ("yaw", |s| s.yaw.abs()),
            ("pitch", |s| s.pitch.abs()),
            ("card flash", |s| (s.card_flash - n::CARD_FLASH).abs()),
            ("copy lift", |s| (s.copy.lift - n::COPY_LIFT).abs()),
            ("copy gain", |s| (s.copy.gain - n::COPY_GAIN).abs()),
            ("copy warmth", |s| (s.copy.warmth - 1.0).abs()),
            ("copy flash", |s| (s.copy.flash - n::COPY_FLASH).abs()),
            ("moiré period", |s| (s.replay.period - n::MOIRE_PERIOD).abs()),
            ("moiré angle", |s| (s.replay.angle - n::MOIRE_ANGLE).abs()),
            ("moiré amplitude", |s| (s.replay.amplitude - n::MOIRE_AMPLITUDE).abs()),
        ];
        for (axis, measure) in scene_axes {
            let of = |draws: &[(CardStyle, SceneStyle)]| range(draws.iter().map(|(_, s)| measure(s)));
            disjoint(axis, of(&calibration), of(&held_out));
        }
        // Held-out bands on either side of Calibration's.
        let two_sided: [SceneAxis; 2] = [("temperature", |s| s.temperature), ("card scale", |s| s.card_scale)];
        for (axis, measure) in two_sided {
            let (low, high) = range(calibration.iter().map(|(_, s)| measure(s)));
            for (_, scene) in &held_out {
                let value = measure(scene);
                assert!(value < low || value > high, "{axis}: held-out {value} within calibration's {low}–{high}");
            }
        }
        let glossy = |draws: &[(CardStyle, SceneStyle)]| {
            draws
                .iter()
                .filter_map(|(_, s)| match s.laminate {
                    Laminate::Glossy { path, strength, size } => Some((path, strength, size)),
                    Laminate::Matte => None,
                })
                .collect::<Vec<_>>()
        };
        let (cal_glossy, held_glossy) = (glossy(&calibration), glossy(&held_out));
        assert_eq!(cal_glossy.len(), 200, "every calibration laminate is glossy");
        assert!(held_glossy.len() < 180 && held_glossy.len() > 100, "about a third of held-out cards are matte");
        no_common(
            "glint path",
            &cal_glossy.iter().map(|g| g.0).collect::<Vec<_>>(),
            &held_glossy.iter().map(|g| g.0).collect::<Vec<_>>(),
        );
        let strength = |g: &[(GlintPath, f32, f32)]| range(g.iter().map(|g| (g.1 - n::GLINT_STRENGTH).abs()));
        disjoint("glint strength", strength(&cal_glossy), strength(&held_glossy));
        let size = |g: &[(GlintPath, f32, f32)]| range(g.iter().map(|g| (g.2 - 1.0).abs()));
        disjoint("glint size", size(&cal_glossy), size(&held_glossy));
        let foils = |draws: &[(CardStyle, SceneStyle)]| draws.iter().filter_map(|(_, s)| s.foil).collect::<Vec<_>>();
        let (cal_foils, held_foils) = (foils(&calibration), foils(&held_out));
        assert_eq!(cal_foils.len(), 200, "every calibration card shows its foil");
        assert!(held_foils.len() < 180 && held_foils.len() > 120, "about a quarter of held-out foils are not seen");
        no_common(
            "foil pattern",
            &cal_foils.iter().map(|f| f.pattern).collect::<Vec<_>>(),
            &held_foils.iter().map(|f| f.pattern).collect::<Vec<_>>(),
        );
        type FoilAxis = (&'static str, fn(&Foil) -> f32);
        let foil_axes: [FoilAxis; 5] = [
            ("foil x", |f| (f.center.0 - FOIL_CENTER.0).abs()),
            ("foil y", |f| (f.center.1 - FOIL_CENTER.1).abs()),
            ("foil radius", |f| (f.radius - FOIL_RADIUS).abs()),
            ("foil opacity", |f| (f.opacity - n::FOIL_OPACITY).abs()),
            ("foil turn", |f| (f.turn - n::FOIL_TURN).abs()),
        ];
        for (axis, measure) in foil_axes {
            disjoint(axis, range(cal_foils.iter().map(measure)), range(held_foils.iter().map(measure)));
        }
        let backgrounds =
            |draws: &[(CardStyle, SceneStyle)]| draws.iter().map(|(_, s)| s.background).collect::<Vec<_>>();
        no_common("background", &backgrounds(&calibration), &backgrounds(&held_out));
    }

    #[test]
    fn a_styled_genuine_card_moves_between_frames_and_reflects_the_flash() {
        for (family, seed) in [(Family::Calibration, 21), (Family::HeldOut, 22), (Family::HeldOut, 23)] {
            let style = CardStyle::draw(family, seed);
            let card = render_card_styled(&KtpFields::sample(seed), "faces/biden_2.jpg", &style);
            let scene = SceneStyle::draw(family, seed);
            let steps = colors(&["#FF0000", "#0000FF", "#FF0000"]);
            let frames = capture_frames_styled(&card, &steps, Presentation::Original, &scene, seed);
            assert_eq!(frames.len(), 3);
            assert!(frames.windows(2).all(|pair| pair[0] != pair[1]), "{family:?}");
            let decoded: Vec<RgbImage> = frames.iter().map(|f| decode(f)).collect();
            assert!(decoded.iter().all(|f| f.dimensions() == (FRAME_WIDTH, FRAME_HEIGHT)));
            let shift = red_over_blue(&decoded[0]) - red_over_blue(&decoded[1]);
            assert!(shift > 40.0, "{family:?} seed {seed}: red over blue moves {shift} between red and blue flashes");
            // A replay of the same card shows no flash at all.
            let replay = capture_frames_styled(&card, &steps, Presentation::ScreenReplay, &scene, seed);
            assert_ne!(replay[0], replay[2]);
            let replayed = red_over_blue(&decode(&replay[0])) - red_over_blue(&decode(&replay[1]));
            assert!(replayed.abs() < 3.0, "{family:?}: replay {replayed}");
        }
    }

    #[test]
    fn styled_attacks_change_the_card_where_they_should() {
        for family in Family::ALL {
            let (fields, style) = (KtpFields::sample(31), CardStyle::draw(family, 31));
            let card = render_card_styled(&fields, "faces/obama_2.jpg", &style);
            let pasted =
                render_card_styled_with_pasted_portrait(&fields, "faces/obama_2.jpg", "faces/biden_2.jpg", &style);
            let retyped =
                render_card_styled_with_retyped_nik(&fields, "faces/obama_2.jpg", &style, ForgedTypeface::MonoBold);
            let differs = |other: &RgbImage, x: std::ops::Range<u32>, y: std::ops::Range<u32>| {
                y.clone()
                    .flat_map(|y| x.clone().map(move |x| (x, y)))
                    .filter(|&(x, y)| card.get_pixel(x, y) != other.get_pixel(x, y))
                    .count()
            };
            let p = style.portrait;
            let (left, top) = (p.left as u32, p.top as u32);
            assert!(differs(&pasted, left..left + p.width as u32, top..top + p.height as u32) > 10_000, "{family:?}");
            assert_eq!(differs(&pasted, 0..500, 0..CARD_HEIGHT), 0, "{family:?}: pasted left the fields alone");
            let (nik_x, nik_y) = (style.nik_left as u32, style.nik_top as u32);
            assert!(differs(&retyped, nik_x..nik_x + 300, nik_y..nik_y + 40) > 500, "{family:?}");
            assert_eq!(
                differs(&retyped, 0..CARD_WIDTH, nik_y + 60..CARD_HEIGHT),
                0,
                "{family:?}: only the NIK changed"
            );
        }
    }
}
