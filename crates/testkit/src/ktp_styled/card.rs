//! How a card is printed: the typefaces, the layout, the portrait and the paper.

use super::*;

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
pub(super) fn text_faces(family: Family) -> &'static [(FontFile, FontFile)] {
    match family {
        Family::Calibration => &[(LIBERATION_SANS, LIBERATION_SANS_BOLD), (DEJAVU_SANS, DEJAVU_SANS_BOLD)],
        Family::HeldOut => &[(ARIMO, ARIMO_BOLD), (NOTO_SANS, NOTO_SANS_BOLD), (FREE_SANS, FREE_SANS_BOLD)],
    }
}

pub(super) fn nik_faces(family: Family) -> &'static [FontFile] {
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
pub(super) fn band(rng: &mut StdRng, family: Family, nominal: f32, reach: f32) -> f32 {
    let magnitude = match family {
        Family::Calibration => rng.gen_range(0.0..0.5),
        Family::HeldOut => rng.gen_range(0.5..=1.0),
    };
    let sign = if rng.gen_bool(0.5) { 1.0 } else { -1.0 };
    nominal + sign * magnitude * reach
}

/// A value from `calibration`, or from one of `held_out` (picked with equal odds).
pub(super) fn split(rng: &mut StdRng, family: Family, calibration: Range<f32>, held_out: &[Range<f32>]) -> f32 {
    match family {
        Family::Calibration => rng.gen_range(calibration),
        Family::HeldOut => {
            let range = held_out[rng.gen_range(0..held_out.len())].clone();
            rng.gen_range(range)
        }
    }
}

pub(super) fn pick<T: Copy>(rng: &mut StdRng, list: &[T]) -> T {
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
pub(super) fn styled_paper(x: u32, y: u32, paper: &PaperStyle) -> Rgb<u8> {
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
pub(super) struct Columns {
    colon_x: f32,
    value_x: f32,
    nik_left: f32,
    nik_size: f32,
}

pub(super) fn columns(style: &CardStyle, regular: &FontVec, nik_face: &FontVec, nik: &str) -> Columns {
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
pub(super) fn styled_portrait_photo(path: &str, width: u32, height: u32, crop: f32) -> RgbImage {
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

/// The digits 0–9 of `face` side by side, each in its advance (the faces a NIK is printed in
/// set digits tabular), scaled so that the digit 8 stands `height` pixels, its top on the first
/// row and the baseline under the last: white ink on black, as `kenali_vision::glyphs` keeps
/// its reference faces.
pub fn digit_strip(face: &FontFile, height: u32) -> image::GrayImage {
    use ab_glyph::{point, Font, ScaleFont};
    let font = face.load();
    let (digit_height, _) = digit_metrics(&font, 100.0);
    let scale = PxScale::from(100.0 * height as f32 / digit_height);
    let scaled = font.as_scaled(scale);
    let advance = scaled.h_advance(scaled.glyph_id('0')).round() as u32;
    let eight = scaled.scaled_glyph('8');
    let top = font.outline_glyph(eight).map_or(-(height as f32), |g| g.px_bounds().min.y);
    let mut strip = image::GrayImage::new(advance * 10, height);
    for (k, digit) in ('0'..='9').enumerate() {
        let mut glyph = scaled.scaled_glyph(digit);
        glyph.position = point(k as f32 * advance as f32, -top);
        let Some(outlined) = font.outline_glyph(glyph) else { continue };
        let bounds = outlined.px_bounds();
        outlined.draw(|x, y, coverage| {
            let (x, y) = (x as i64 + bounds.min.x as i64, y as i64 + bounds.min.y as i64);
            if (0..i64::from(strip.width())).contains(&x) && (0..i64::from(height)).contains(&y) {
                let value = (coverage.clamp(0.0, 1.0) * 255.0).round() as u8;
                let pixel = strip.get_pixel_mut(x as u32, y as u32);
                pixel[0] = pixel[0].max(value);
            }
        });
    }
    strip
}
