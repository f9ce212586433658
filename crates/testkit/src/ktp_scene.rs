//! A phone filming a KTP card on a desk under a flash challenge, for the KTP capture tests and
//! benchmark: the card reflects each step's colour (and, laminated, a moving glint, and a
//! hologram whose rainbow turns with the tilt) the way a real card does, while a photocopy or a
//! card replayed on a screen gives itself away. Every choice comes from a seeded RNG, so the
//! same inputs give the same bytes.

use image::{imageops, Rgb, RgbImage};
use imageproc::geometric_transformations::Projection;
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

use crate::ktp::{portrait_photo, render_card, KtpFields};

pub const FRAME_WIDTH: u32 = 1280;
pub const FRAME_HEIGHT: u32 = 720;

/// The camera exposes for the whole scene, so the pale card sits this far below its printed
/// brightness and the flash light added to it is not clipped away.
pub(crate) const CARD_EXPOSURE: f32 = 0.8;

/// How the presented card was produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presentation {
    /// The original laminated card: reflects the flash colours strongly, with a bright specular
    /// highlight that moves across the card between frames as the hand tilts it, and a
    /// hologram whose colours turn with the tilt.
    Original,
    /// A grayscale paper photocopy: lower contrast, slightly warm paper tone, matte (no specular
    /// highlight at all, the hologram a grey disc), reflects the flash colours weakly and
    /// diffusely.
    Photocopy,
    /// The card shown on a phone/monitor screen and re-captured: the screen emits its own light,
    /// so every frame shows the same image whatever the flash colour (only tiny sensor noise
    /// differs per frame, so frames are NOT byte-identical), with a display moiré grating over
    /// the card area (like `screen_replay_frames` does for faces) and no specular highlight moving.
    ScreenReplay,
}

impl Presentation {
    /// Grey levels a full-strength flash channel adds on the card and on the desk around it.
    fn flash_reflectance(self) -> (f32, f32) {
        match self {
            Presentation::Original => (45.0, 15.0),
            Presentation::Photocopy => (25.0, 15.0),
            // A recording on a screen: the flash falls on glass showing an already-lit scene.
            Presentation::ScreenReplay => (0.0, 0.0),
        }
    }
}

/// How the hand holds the card up to the camera.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Handling {
    /// Flat to the camera, as the frame guide asks.
    #[default]
    Flat,
    /// Turned out of the picture plane: `yaw` degrees about the card's vertical axis (positive
    /// brings its right edge nearer), `pitch` about its horizontal one (positive brings its bottom
    /// edge nearer), so the card shows as a keystone, not a rectangle.
    Tilted { yaw: f32, pitch: f32 },
    /// Flat, but tilted toward the light so that a broad glare sits on the hologram in every
    /// frame (seed 001's first failure mode).
    GlareOnHologram,
}

/// The camera's focal length in frame pixels (about 65° across the frame, a phone's main camera).
pub(crate) const FOCAL_LENGTH: f32 = FRAME_WIDTH as f32;

/// Where the card lies in a frame (its centre, frame pixels per card pixel, its turn in and out
/// of the picture plane) and, on a laminated card, where on it the flash glints (card pixels).
#[derive(Debug, Clone, Copy)]
struct Pose {
    center_x: f32,
    center_y: f32,
    scale: f32,
    angle: f32,
    /// Turns out of the picture plane, radians.
    yaw: f32,
    pitch: f32,
    glint: Option<(f32, f32)>,
    /// Glint strength (grey levels at its centre) and size (multiple of the usual).
    glint_strength: f32,
    glint_size: f32,
    /// Where in its rainbow the hologram is at this tilt (laminated original only).
    foil_phase: Option<f32>,
}

/// The template's hologram (kenali_core's `HOLOGRAM_BOX`): a disc of rainbow rings, in card
/// pixels of the 1012×638 template.
pub(crate) const FOIL_CENTER: (f32, f32) = (875.5, 574.5);
pub(crate) const FOIL_RADIUS: f32 = 42.0;

/// The foil's colour and opacity at card point (u, v) when its rainbow stands at `phase`
/// (turns): two rings of hue from the centre out, shifted as the viewing angle changes.
fn foil_color(u: f32, v: f32, phase: f32) -> Option<([f32; 3], f32)> {
    let distance = ((u - FOIL_CENTER.0).powi(2) + (v - FOIL_CENTER.1).powi(2)).sqrt() / FOIL_RADIUS;
    if distance > 1.0 {
        return None;
    }
    let hue = (2.0 * distance + phase).rem_euclid(1.0) * 6.0;
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
    // A pale rainbow (saturation 0.5, value 0.95), as a foil over a light card looks.
    let rgb = [ramp(2.0), ramp(0.0), ramp(4.0)].map(|c| 255.0 * 0.95 * (0.5 + 0.5 * c));
    Some((rgb, 0.75))
}

/// The flat card with its foil painted in at one fixed `phase`.
fn with_foil(card: &RgbImage, phase: f32) -> RgbImage {
    let mut painted = card.clone();
    for (x, y, pixel) in painted.enumerate_pixels_mut() {
        if let Some((foil, alpha)) = foil_color(x as f32 + 0.5, y as f32 + 0.5, phase) {
            for c in 0..3 {
                pixel[c] = (f32::from(pixel[c]) * (1.0 - alpha) + foil[c] * alpha).round() as u8;
            }
        }
    }
    painted
}

/// JPEG (quality 90) frames, one per challenge colour, FRAME_WIDTH×FRAME_HEIGHT, of `card` held
/// flat over a desk.
pub fn capture_frames(card: &RgbImage, colors: &[String], presentation: Presentation, seed: u64) -> Vec<Vec<u8>> {
    capture_frames_held(card, colors, presentation, Handling::Flat, seed)
}

/// `capture_frames` with the card held as `handling` says.
pub fn capture_frames_held(
    card: &RgbImage,
    colors: &[String],
    presentation: Presentation,
    handling: Handling,
    seed: u64,
) -> Vec<Vec<u8>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let desk = desk_texture(&mut rng);
    // The foil as a copier or a recording caught it once; the original shows it live per frame.
    let surface = match presentation {
        Presentation::Photocopy => photocopy(&with_foil(card, 0.0)),
        Presentation::ScreenReplay => with_foil(card, 0.0),
        Presentation::Original => card.clone(),
    };
    let poses = hand_held_poses(&mut rng, card, colors.len(), presentation, handling);
    colors
        .iter()
        .enumerate()
        .map(|(i, color)| {
            let rgb = kenali_core::challenge::parse_color(color).unwrap_or_else(|| panic!("colour {color}"));
            let flash = rgb.map(|c| f32::from(c) / 255.0);
            let mut frame = compose(&desk, &surface, poses[i], flash, presentation);
            add_sensor_noise(&mut frame, &mut rng);
            let frame = imageops::blur(&frame, 0.6);
            let mut bytes = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 90).encode_image(&frame).unwrap();
            bytes
        })
        .collect()
}

/// `render_card` with a different person's photo glued over the portrait: the pasted photo is
/// 8–12% larger than the template's 210×280 box, offset by 10–20 px, with a 3 px dark drop shadow
/// along two edges and a thin light paper border — what a forger's cut-out looks like.
pub fn render_card_with_pasted_portrait(
    fields: &KtpFields,
    original_portrait: &str,
    pasted_portrait: &str,
) -> RgbImage {
    let mut card = render_card(fields, original_portrait);
    let fnv = |hash: u64, byte: u8| (hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01B3);
    let key = fields.nik.bytes().chain(pasted_portrait.bytes()).fold(0xCBF2_9CE4_8422_2325, fnv);
    let mut rng = StdRng::seed_from_u64(key);
    let enlarge = rng.gen_range(1.08f32..=1.12);
    let (width, height) = ((210.0 * enlarge).round() as i64, (280.0 * enlarge).round() as i64);
    // Centre offset up and to the left, so the cut-out keeps off the place and date of issue
    // printed below the box (and off the card's right edge).
    let (dx, dy) = (-rng.gen_range(10..=20i64), -rng.gen_range(10..=20i64));
    let left = 770 + (210 - width) / 2 + dx;
    let top = 120 + (280 - height) / 2 + dy;
    // The shadow: the cut-out's rectangle shifted 3 px down and right, left visible along the
    // right and bottom edges once the cut-out covers the rest.
    let shadow = 3;
    for y in top + shadow..top + height + shadow {
        for x in left + shadow..left + width + shadow {
            if let Some(pixel) = card.get_pixel_mut_checked(x as u32, y as u32) {
                pixel.0 = pixel.0.map(|c| (f32::from(c) * 0.35) as u8);
            }
        }
    }
    // The cut-out: the photo inside a 2 px margin of the paper it was printed on.
    let border = 2;
    let mut cutout = RgbImage::from_pixel(width as u32, height as u32, Rgb([244, 241, 232]));
    let photo = portrait_photo(pasted_portrait, (width - 2 * border) as u32, (height - 2 * border) as u32);
    imageops::overlay(&mut cutout, &photo, border, border);
    imageops::overlay(&mut card, &cutout, left, top);
    card
}

/// The card's first pose, then each next one a few pixels and at most half a degree off the last.
fn hand_held_poses(
    rng: &mut StdRng,
    card: &RgbImage,
    count: usize,
    presentation: Presentation,
    handling: Handling,
) -> Vec<Pose> {
    let (mid_x, mid_y) = (FRAME_WIDTH as f32 / 2.0, FRAME_HEIGHT as f32 / 2.0);
    let max_angle = 4f32.to_radians();
    let mut pose = Pose {
        center_x: mid_x + rng.gen_range(-20.0..20.0),
        center_y: mid_y + rng.gen_range(-12.0..12.0),
        scale: FRAME_WIDTH as f32 * rng.gen_range(0.63..0.69) / card.width() as f32,
        angle: rng.gen_range(-3f32..3.0).to_radians(),
        yaw: 0.0,
        pitch: 0.0,
        glint: None,
        glint_strength: 120.0,
        glint_size: 1.0,
        foil_phase: None,
    };
    // Handling takes nothing from the RNG, so a flat capture's frames stay what they were.
    match handling {
        Handling::Flat => {}
        Handling::Tilted { yaw, pitch } => (pose.yaw, pose.pitch) = (yaw.to_radians(), pitch.to_radians()),
        Handling::GlareOnHologram => (pose.glint_strength, pose.glint_size) = (170.0, 1.4),
    }
    // Derived from the first pose rather than drawn, so the RNG's stream (and every other
    // choice) stays what it was before the foil existed.
    let foil_start = (pose.center_x * 0.37).fract();
    // A replayed recording is the same picture every frame; a hand-held card drifts.
    let moving = presentation != Presentation::ScreenReplay;
    (0..count)
        .map(|i| {
            if i > 0 && moving {
                // Clamped so that a long capture cannot walk the card out of the frame.
                pose.center_x = (pose.center_x + rng.gen_range(-4.0..4.0)).clamp(mid_x - 35.0, mid_x + 35.0);
                pose.center_y = (pose.center_y + rng.gen_range(-3.0..3.0)).clamp(mid_y - 25.0, mid_y + 25.0);
                pose.angle = (pose.angle + rng.gen_range(-0.5f32..0.5).to_radians()).clamp(-max_angle, max_angle);
            }
            // The glint slides left to right (and a little down) as the hand tilts the card.
            let t = if count > 1 { i as f32 / (count - 1) as f32 } else { 0.5 };
            let mut u = card.width() as f32 * (0.2 + 0.6 * t + rng.gen_range(-0.03..0.03));
            let mut v = card.height() as f32 * (0.3 + 0.2 * t + rng.gen_range(-0.05..0.05));
            if handling == Handling::GlareOnHologram {
                // Held toward the light: the glare slides over the foil without leaving it.
                (u, v) = (FOIL_CENTER.0 + 0.1 * card.width() as f32 * (t - 0.5), FOIL_CENTER.1);
            }
            // The same tilt turns the hologram's rainbow by about a third over the capture.
            let phase = foil_start + 0.35 * t;
            let original = presentation == Presentation::Original;
            Pose { glint: original.then_some((u, v)), foil_phase: original.then_some(phase), ..pose }
        })
        .collect()
}

/// One frame before the sensor: the desk, the card warped onto it by inverse mapping with
/// bilinear sampling and an anti-aliased edge, both lit by the flash, plus glint or moiré.
/// Plain loops over raw buffers: the test crate builds unoptimised, and this runs per frame.
fn compose(desk: &RgbImage, card: &RgbImage, pose: Pose, flash: [f32; 3], presentation: Presentation) -> RgbImage {
    let (card_flash, desk_flash) = presentation.flash_reflectance();
    let desk_light = flash.map(|c| c * desk_flash);
    let mut frame = desk.clone();
    for pixel in frame.as_mut().chunks_exact_mut(3) {
        for c in 0..3 {
            pixel[c] = (f32::from(pixel[c]) + desk_light[c]).min(255.0) as u8;
        }
    }
    let (card_w, card_h) = (card.width() as f32, card.height() as f32);
    let corner_radius = card_w * 3.18 / 85.6; // ID-1 rounded corners
    let (sin, cos) = pose.angle.sin_cos();
    let (glint_rx, glint_ry) = (0.075 * card_w * pose.glint_size, 0.045 * card_w * pose.glint_size);
    let (moire_sin, moire_cos) = 0.3f32.sin_cos();
    // Only the card's bounding box (plus a pixel for the edge ramp) needs the warp.
    let corners =
        [(0.0, 0.0), (card_w, 0.0), (card_w, card_h), (0.0, card_h)].map(|(u, v)| card_to_frame(&pose, card, u, v));
    let span = |axis: fn(&(f32, f32)) -> f32, limit: u32| {
        let low = corners.iter().map(axis).fold(f32::MAX, f32::min) - 2.0;
        let high = corners.iter().map(axis).fold(f32::MIN, f32::max) + 2.0;
        (low.max(0.0) as u32)..(high.max(0.0) as u32).min(limit)
    };
    // Seen at an angle, frame pixels go back onto the card through the inverse homography.
    let tilted = pose.yaw != 0.0 || pose.pitch != 0.0;
    let to_card = tilted.then(|| {
        let card_corners = [(0.0, 0.0), (card_w, 0.0), (card_w, card_h), (0.0, card_h)];
        Projection::from_control_points(corners, card_corners).expect("a card's corners span a quadrilateral")
    });
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
            // Signed distance to the card's edge in frame pixels gives about one pixel of ramp.
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
                    extra += pose.glint_strength * (-0.5 * falloff).exp();
                }
            }
            if presentation == Presentation::ScreenReplay {
                let phase = (x as f32 * moire_cos + y as f32 * moire_sin) / 5.0;
                extra += 5.0 * (std::f32::consts::TAU * phase).sin();
            }
            let mut card_pixel = bilinear(card, u - 0.5, v - 0.5);
            if let Some((foil, alpha)) = pose.foil_phase.and_then(|phase| foil_color(u, v, phase)) {
                for c in 0..3 {
                    card_pixel[c] = card_pixel[c] * (1.0 - alpha) + foil[c] * alpha;
                }
            }
            let pixel = frame.get_pixel_mut(x, y);
            for c in 0..3 {
                let on_desk = f32::from(pixel[c]);
                let on_card = (CARD_EXPOSURE * card_pixel[c] + card_flash * flash[c] + extra).clamp(0.0, 255.0);
                pixel[c] = (on_desk + (on_card - on_desk) * coverage).round() as u8;
            }
        }
    }
    frame
}

/// Card pixel (u, v) in frame pixels: the card, `pose.scale` frame pixels per card pixel at the
/// camera's focal distance, turned by yaw and pitch out of the picture plane and by its angle
/// in it, seen through a pinhole camera.
fn card_to_frame(pose: &Pose, card: &RgbImage, u: f32, v: f32) -> (f32, f32) {
    let (a, b) = ((u - card.width() as f32 / 2.0) * pose.scale, (v - card.height() as f32 / 2.0) * pose.scale);
    let (sin_yaw, cos_yaw) = pose.yaw.sin_cos();
    let (sin_pitch, cos_pitch) = pose.pitch.sin_cos();
    // Yaw about the vertical axis, then pitch about the horizontal one; z points away from the
    // camera, so a positive yaw brings the right edge (a > 0) nearer.
    let (x1, z1) = (a * cos_yaw, -a * sin_yaw);
    let (y2, z2) = (b * cos_pitch + z1 * sin_pitch, z1 * cos_pitch - b * sin_pitch);
    let (sin, cos) = pose.angle.sin_cos();
    let (x3, y3) = (x1 * cos - y2 * sin, x1 * sin + y2 * cos);
    let perspective = FOCAL_LENGTH / (FOCAL_LENGTH + z2);
    (pose.center_x + x3 * perspective, pose.center_y + y3 * perspective)
}

/// Distance from (u, v) to a `width`×`height` rectangle with rounded corners; negative inside.
pub(crate) fn rounded_rect_distance(u: f32, v: f32, width: f32, height: f32, radius: f32) -> f32 {
    let qx = (u - width / 2.0).abs() - (width / 2.0 - radius);
    let qy = (v - height / 2.0).abs() - (height / 2.0 - radius);
    qx.max(0.0).hypot(qy.max(0.0)) + qx.max(qy).min(0.0) - radius
}

/// `image` at the real-valued pixel position (x, y), edges extended.
pub(crate) fn bilinear(image: &RgbImage, x: f32, y: f32) -> [f32; 3] {
    let (width, height) = (image.width() as usize, image.height() as usize);
    let (x, y) = (x.clamp(0.0, (width - 1) as f32), y.clamp(0.0, (height - 1) as f32));
    let (x0, y0) = (x as usize, y as usize);
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let right = if x0 + 1 < width { 3 } else { 0 };
    let down = if y0 + 1 < height { 3 * width } else { 0 };
    let (raw, at) = (image.as_raw(), (y0 * width + x0) * 3);
    let mut out = [0.0; 3];
    for (c, value) in out.iter_mut().enumerate() {
        let (top_left, top_right) = (f32::from(raw[at + c]), f32::from(raw[at + right + c]));
        let (bottom_left, bottom_right) = (f32::from(raw[at + down + c]), f32::from(raw[at + down + right + c]));
        let top = top_left + (top_right - top_left) * fx;
        let bottom = bottom_left + (bottom_right - bottom_left) * fx;
        *value = top + (bottom - top) * fy;
    }
    out
}

/// A brownish-grey wooden desk: wavy grain, rings of denser wood, fibre streaks and speckle.
pub(crate) fn desk_texture(rng: &mut StdRng) -> RgbImage {
    let phases: [f32; 6] = std::array::from_fn(|_| rng.gen_range(0.0..std::f32::consts::TAU));
    let base = rng.gen_range(78.0..92.0);
    // The grain line through (x, y) is y + wobble(x) · bend(y), so lines waver and are not all
    // parallel; the wood's shade is a function of that line alone, tabulated per quarter pixel
    // (fibres: one random shade per line).
    let wobble: Vec<f32> = (0..FRAME_WIDTH)
        .map(|x| 14.0 * (x as f32 / 170.0 + phases[0]).sin() + 6.0 * (x as f32 / 53.0 + phases[1]).sin())
        .collect();
    let bend: Vec<f32> = (0..FRAME_HEIGHT).map(|y| 1.0 + 0.6 * (y as f32 / 160.0 + phases[2]).sin()).collect();
    let margin = 40.0;
    let shade: Vec<f32> = (0..4 * (FRAME_HEIGHT + 2 * margin as u32))
        .map(|i| {
            let grain = i as f32 / 4.0 - margin;
            let rings =
                (grain / 9.0 + 2.5 * (grain / 47.0 + phases[3]).sin() + 3.0 * (grain / 131.0 + phases[4]).sin()).sin();
            base + 16.0 * rings + 7.0 * (grain / 31.0 + phases[5]).sin()
        })
        .collect();
    let fibres: Vec<f32> = (0..FRAME_HEIGHT + 2 * margin as u32).map(|_| rng.gen_range(-6.0..6.0)).collect();
    let mut speckle = vec![0u8; (FRAME_WIDTH * FRAME_HEIGHT) as usize];
    rng.fill_bytes(&mut speckle);
    let mut desk = RgbImage::new(FRAME_WIDTH, FRAME_HEIGHT);
    for (i, pixel) in desk.as_mut().chunks_exact_mut(3).enumerate() {
        let (x, y) = (i % FRAME_WIDTH as usize, i / FRAME_WIDTH as usize);
        let line = y as f32 + wobble[x] * bend[y] + margin;
        let grit = (f32::from(speckle[i]) - 127.5) / 21.0;
        let level = shade[(4.0 * line) as usize] + fibres[line as usize] + grit;
        pixel[0] = (level * 1.1).clamp(0.0, 255.0) as u8;
        pixel[1] = (level * 0.95).clamp(0.0, 255.0) as u8;
        pixel[2] = (level * 0.8).clamp(0.0, 255.0) as u8;
    }
    desk
}

/// Sensor noise of sigma 2, near enough Gaussian: each value gets the sum of four random bytes
/// (Irwin–Hall, sigma 147.8), centred and scaled. Cheaper than sampling a normal per value.
fn add_sensor_noise(frame: &mut RgbImage, rng: &mut StdRng) {
    let mut random = vec![0u8; 4 * frame.as_raw().len()];
    rng.fill_bytes(&mut random);
    for (value, bytes) in frame.as_mut().iter_mut().zip(random.chunks_exact(4)) {
        let sum = u32::from(bytes[0]) + u32::from(bytes[1]) + u32::from(bytes[2]) + u32::from(bytes[3]);
        let noise = (sum as f32 - 510.0) * (2.0 / 147.8);
        *value = (f32::from(*value) + noise).round().clamp(0.0, 255.0) as u8;
    }
}

/// A black-and-white copy: grey toner, lifted blacks and dulled whites, on warm paper.
fn photocopy(card: &RgbImage) -> RgbImage {
    let mut copy = card.clone();
    for pixel in copy.pixels_mut() {
        let [r, g, b] = pixel.0.map(f32::from);
        let grey = 60.0 + 0.62 * (0.299 * r + 0.587 * g + 0.114 * b);
        pixel.0 = [grey + 6.0, grey + 2.0, grey - 8.0].map(|c| c.clamp(0.0, 255.0) as u8);
    }
    copy
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card() -> RgbImage {
        render_card(&KtpFields::sample(1), "faces/obama_1.jpg")
    }

    fn colors(list: &[&str]) -> Vec<String> {
        list.iter().map(|c| c.to_string()).collect()
    }

    fn decode(bytes: &[u8]) -> RgbImage {
        image::load_from_memory_with_format(bytes, image::ImageFormat::Jpeg).unwrap().to_rgb8()
    }

    /// Mean red minus mean blue over the middle of the frame, always on the card.
    fn red_over_blue(frame: &RgbImage) -> f32 {
        let middle = imageops::crop_imm(frame, 540, 310, 200, 100).to_image();
        middle.pixels().map(|p| f32::from(p[0]) - f32::from(p[2])).sum::<f32>() / (200.0 * 100.0)
    }

    /// Near-white pixels (all channels ≥ 250) in a region that lies on the card in any pose.
    fn saturated_on_card(frame: &RgbImage) -> usize {
        let on_card = imageops::crop_imm(frame, 340, 180, 600, 360).to_image();
        on_card.pixels().filter(|p| p.0.iter().all(|&c| c >= 250)).count()
    }

    #[test]
    fn frames_are_deterministic_distinct_full_size_jpegs() {
        let card = card();
        let steps = colors(&["#FF0000", "#00FF00", "#0000FF"]);
        let frames = capture_frames(&card, &steps, Presentation::Original, 7);
        assert_eq!(frames.len(), 3);
        for frame in &frames {
            assert_eq!(image::guess_format(frame).unwrap(), image::ImageFormat::Jpeg);
            assert_eq!(decode(frame).dimensions(), (FRAME_WIDTH, FRAME_HEIGHT));
        }
        assert_eq!(frames, capture_frames(&card, &steps, Presentation::Original, 7));
        assert!(frames.windows(2).all(|pair| pair[0] != pair[1]));
        // Even a replay of one colour twice differs by its sensor noise.
        let replay = capture_frames(&card, &colors(&["#FF0000", "#FF0000"]), Presentation::ScreenReplay, 7);
        assert_ne!(replay[0], replay[1]);
    }

    #[test]
    fn the_card_reflects_the_flash_unless_it_is_on_a_screen() {
        let card = card();
        let steps = colors(&["#FF0000", "#0000FF"]);
        let shift = |presentation| {
            let frames = capture_frames(&card, &steps, presentation, 3);
            red_over_blue(&decode(&frames[0])) - red_over_blue(&decode(&frames[1]))
        };
        let (original, photocopy) = (shift(Presentation::Original), shift(Presentation::Photocopy));
        assert!(original > 60.0, "original card: {original}");
        assert!(photocopy > 10.0 && photocopy < original - 20.0, "photocopy: {photocopy}, original: {original}");
        let replay = shift(Presentation::ScreenReplay);
        assert!(replay.abs() < 3.0, "screen replay: {replay}");
    }

    #[test]
    fn only_the_laminated_card_shows_a_saturated_glint() {
        let card = card();
        let steps = colors(&["#FFFFFF", "#00FF00", "#0000FF"]);
        for frame in capture_frames(&card, &steps, Presentation::Original, 5) {
            let glint = saturated_on_card(&decode(&frame));
            assert!(glint > 200, "original card: {glint} near-white pixels");
        }
        for frame in capture_frames(&card, &steps, Presentation::Photocopy, 5) {
            assert_eq!(saturated_on_card(&decode(&frame)), 0, "photocopy");
        }
    }
}
