//! How a card is filmed: the laminate, the foil, the background, the light, the sensor and the
//! framing.

use super::*;

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

pub(super) const FABRICS: [[f32; 3]; 5] =
    [[40.0, 50.0, 82.0], [58.0, 58.0, 62.0], [92.0, 36.0, 42.0], [72.0, 76.0, 46.0], [62.0, 82.0, 116.0]];
pub(super) const PLAINS: [[f32; 3]; 5] =
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
pub(super) fn foil_at(foil: &Foil, u: f32, v: f32, phase: f32) -> Option<([f32; 3], f32)> {
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
pub(super) fn with_styled_foil(card: &RgbImage, foil: Option<Foil>, phase: f32) -> RgbImage {
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

pub(super) fn styled_copy(card: &RgbImage, copy: &CopyStyle) -> RgbImage {
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
pub(super) fn background(style: &SceneStyle, rng: &mut StdRng) -> RgbImage {
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
pub(super) struct Placement {
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
pub(super) fn project(pose: &Placement, card_w: f32, card_h: f32, u: f32, v: f32) -> (f32, f32) {
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
pub(super) fn styled_poses(
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
pub(super) fn compose_styled(
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
pub(super) fn add_noise(frame: &mut RgbImage, rng: &mut StdRng, sigma: f32) {
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
