//! Synthetic KTP cards with known ground truth, for OCR and capture tests and benchmarks. The
//! layout follows the e-KTP: a header with province and regency/city, labelled fields with the
//! NIK line in larger type, the portrait on the right above the place and date of issue and a
//! signature. Liberation Sans (metric-compatible with Arial, the card's typeface; Debian
//! package `fonts-liberation`). Every choice comes from a seeded RNG, so failures reproduce.

use ab_glyph::{Font, FontVec, PxScale, ScaleFont};
use image::{imageops, Rgb, RgbImage};
use imageproc::drawing::{draw_line_segment_mut, draw_text_mut, text_size};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use kenali_core::ktp::{parse_card_date, KtpReading, Reading};

use crate::testdata_image;

/// ID-1 proportions (85.6 × 54 mm) at about 300 dpi.
pub const CARD_WIDTH: u32 = 1012;
pub const CARD_HEIGHT: u32 = 638;

/// What a card says: the 16 fields of seed 001 plus the header and the place of issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KtpFields {
    pub province: String,
    pub regency: String,
    pub nik: String,
    pub full_name: String,
    pub place_of_birth: String,
    /// DD-MM-YYYY, as printed.
    pub date_of_birth: String,
    /// `LAKI-LAKI` or `PEREMPUAN`.
    pub gender: String,
    pub blood_type: String,
    pub address: String,
    pub rt_rw: String,
    pub kelurahan: String,
    pub kecamatan: String,
    pub religion: String,
    pub marital_status: String,
    pub occupation: String,
    pub nationality: String,
    pub valid_until: String,
    pub issue_date: String,
}

/// Real district codes (Kemendagri), with the regency's and province's names as printed.
const DISTRICTS: [(&str, &str, &str, &str); 8] = [
    ("320101", "JAWA BARAT", "KABUPATEN BOGOR", "CIBINONG"),
    ("327301", "JAWA BARAT", "KOTA BANDUNG", "SUKASARI"),
    ("317101", "DKI JAKARTA", "JAKARTA PUSAT", "GAMBIR"),
    ("337401", "JAWA TENGAH", "KOTA SEMARANG", "SEMARANG TENGAH"),
    ("357801", "JAWA TIMUR", "KOTA SURABAYA", "KARANG PILANG"),
    ("517101", "BALI", "KOTA DENPASAR", "DENPASAR SELATAN"),
    ("127101", "SUMATERA UTARA", "KOTA MEDAN", "MEDAN KOTA"),
    ("737101", "SULAWESI SELATAN", "KOTA MAKASSAR", "MARISO"),
];
const GIVEN: [&str; 10] = ["BUDI", "SITI", "AGUS", "DEWI", "RINA", "EKO", "PUTRI", "ANDI", "NUR", "WAHYU"];
const FAMILY: [&str; 10] =
    ["SANTOSO", "RAHAYU", "PRATAMA", "LESTARI", "HIDAYAT", "KURNIAWAN", "SAPUTRA", "WIJAYA", "NASUTION", "SETIAWAN"];
const STREETS: [&str; 6] =
    ["JL. MERDEKA", "JL. SUDIRMAN", "JL. DIPONEGORO", "JL. KENANGA", "GG. MAWAR", "JL. AHMAD YANI"];
const VILLAGES: [&str; 6] = ["SUKAMAJU", "CIBIRU", "KEBON JERUK", "MEKARSARI", "TAMAN SARI", "SUKADAMAI"];
const PLACES: [&str; 6] = ["BANDUNG", "JAKARTA", "SURABAYA", "MEDAN", "SEMARANG", "MAKASSAR"];
const RELIGIONS: [&str; 5] = ["ISLAM", "KRISTEN", "KATOLIK", "HINDU", "BUDDHA"];
const MARITAL: [&str; 4] = ["BELUM KAWIN", "KAWIN", "CERAI HIDUP", "CERAI MATI"];
const JOBS: [&str; 5] =
    ["KARYAWAN SWASTA", "WIRASWASTA", "PELAJAR/MAHASISWA", "PEGAWAI NEGERI SIPIL", "PETANI/PEKEBUN"];
const BLOOD: [&str; 5] = ["A", "B", "AB", "O", "-"];

impl KtpFields {
    /// A consistent card: the NIK's region, birth date (day + 40 for women) and gender agree
    /// with the printed fields.
    pub fn sample(seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let pick = |rng: &mut StdRng, list: &[&str]| list[rng.gen_range(0..list.len())].to_string();
        let (district, province, regency, kecamatan) = DISTRICTS[rng.gen_range(0..DISTRICTS.len())];
        let female = rng.gen_bool(0.5);
        let (day, month, year) = (rng.gen_range(1..=28u32), rng.gen_range(1..=12u32), rng.gen_range(1960..=2004u32));
        let nik = format!(
            "{district}{:02}{month:02}{:02}{:04}",
            if female { day + 40 } else { day },
            year % 100,
            rng.gen_range(1..=9999u32)
        );
        let given = pick(&mut rng, &GIVEN);
        let family = pick(&mut rng, &FAMILY);
        let issue_year = rng.gen_range(2012..=2024u32);
        KtpFields {
            province: province.into(),
            regency: regency.into(),
            nik,
            full_name: format!("{given} {family}"),
            place_of_birth: pick(&mut rng, &PLACES),
            date_of_birth: format!("{day:02}-{month:02}-{year}"),
            gender: if female { "PEREMPUAN" } else { "LAKI-LAKI" }.into(),
            blood_type: pick(&mut rng, &BLOOD),
            address: format!("{} NO. {}", pick(&mut rng, &STREETS), rng.gen_range(1..=120)),
            rt_rw: format!("{:03}/{:03}", rng.gen_range(1..=15), rng.gen_range(1..=12)),
            kelurahan: pick(&mut rng, &VILLAGES),
            kecamatan: kecamatan.into(),
            religion: pick(&mut rng, &RELIGIONS),
            marital_status: pick(&mut rng, &MARITAL),
            occupation: pick(&mut rng, &JOBS),
            nationality: "WNI".into(),
            valid_until: "SEUMUR HIDUP".into(),
            issue_date: format!("{:02}-{:02}-{issue_year}", rng.gen_range(1..=28), rng.gen_range(1..=12)),
        }
    }

    /// (label, value) rows of the left column, as printed.
    pub fn rows(&self) -> Vec<(&'static str, String)> {
        vec![
            ("Nama", self.full_name.clone()),
            ("Tempat/Tgl Lahir", format!("{}, {}", self.place_of_birth, self.date_of_birth)),
            ("Jenis Kelamin", self.gender.clone()),
            ("Alamat", self.address.clone()),
            ("RT/RW", self.rt_rw.clone()),
            ("Kel/Desa", self.kelurahan.clone()),
            ("Kecamatan", self.kecamatan.clone()),
            ("Agama", self.religion.clone()),
            ("Status Perkawinan", self.marital_status.clone()),
            ("Pekerjaan", self.occupation.clone()),
            ("Kewarganegaraan", self.nationality.clone()),
            ("Berlaku Hingga", self.valid_until.clone()),
        ]
    }
}

pub(crate) const INK: Rgb<u8> = Rgb([20, 20, 30]);
/// Where the NIK's digits are printed (top-left of the text) and at what size, in Liberation
/// Sans Bold.
const NIK_LEFT: u32 = 272;
const NIK_TOP: u32 = 102;
const NIK_SIZE: f32 = 40.0;

/// The card's paper: pale blue with a soft diagonal gradient and a fine guilloche of sine waves.
fn paper(x: u32, y: u32) -> Rgb<u8> {
    let t = (x as f32 / CARD_WIDTH as f32 + y as f32 / CARD_HEIGHT as f32) / 2.0;
    let wave = ((x as f32 / 23.0 + (y as f32 / 37.0).sin() * 3.0).sin() * 4.0) as i32;
    let channel = |a: f32, b: f32| ((a + (b - a) * t) as i32 + wave).clamp(0, 255) as u8;
    Rgb([channel(176.0, 206.0), channel(214.0, 232.0), channel(236.0, 246.0)])
}

fn font(name: &str) -> FontVec {
    let path = format!("/usr/share/fonts/truetype/liberation/{name}");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e} (apt-get install fonts-liberation)"));
    FontVec::try_from_vec(bytes).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A `testdata/` photo cropped to 3:4 around its centre and scaled to `width`×`height`.
pub(crate) fn portrait_photo(path: &str, width: u32, height: u32) -> RgbImage {
    let photo = testdata_image(path);
    let (pw, ph) = photo.dimensions();
    let (cw, ch) = if pw * 4 > ph * 3 { (ph * 3 / 4, ph) } else { (pw, pw * 4 / 3) };
    let cropped = imageops::crop_imm(&photo, (pw - cw) / 2, (ph - ch) / 2, cw, ch).to_image();
    imageops::resize(&cropped, width, height, imageops::FilterType::Triangle)
}

/// The card, flat and upright, with `portrait` (a `testdata/` path) as the photo.
pub fn render_card(fields: &KtpFields, portrait: &str) -> RgbImage {
    let regular = font("LiberationSans-Regular.ttf");
    let bold = font("LiberationSans-Bold.ttf");
    let ink = INK;
    let mut card = RgbImage::from_fn(CARD_WIDTH, CARD_HEIGHT, paper);
    let centered = |card: &mut RgbImage, text: &str, center_x: i32, y: i32, size: f32, face: &FontVec| {
        let (w, _) = text_size(PxScale::from(size), face, text);
        draw_text_mut(card, ink, center_x - w as i32 / 2, y, PxScale::from(size), face, text);
    };
    centered(&mut card, &format!("PROVINSI {}", fields.province), CARD_WIDTH as i32 / 2, 14, 34.0, &bold);
    centered(&mut card, &fields.regency, CARD_WIDTH as i32 / 2, 52, 34.0, &bold);
    let (label_x, colon_x, value_x) = (28, 262, 280);
    draw_text_mut(&mut card, ink, label_x, 104, PxScale::from(36.0), &bold, "NIK");
    draw_text_mut(&mut card, ink, colon_x - 8, 104, PxScale::from(36.0), &bold, ":");
    draw_text_mut(&mut card, ink, NIK_LEFT as i32, NIK_TOP as i32, PxScale::from(NIK_SIZE), &bold, &fields.nik);
    let mut y = 158;
    for (label, value) in fields.rows() {
        let size = PxScale::from(25.0);
        draw_text_mut(&mut card, ink, label_x, y, size, &regular, label);
        draw_text_mut(&mut card, ink, colon_x, y, size, &regular, ":");
        draw_text_mut(&mut card, ink, value_x, y, size, &regular, &value);
        if label == "Jenis Kelamin" {
            draw_text_mut(&mut card, ink, 520, y, size, &regular, "Gol. Darah");
            draw_text_mut(&mut card, ink, 640, y, size, &regular, &format!(": {}", fields.blood_type));
        }
        y += 36;
    }
    imageops::overlay(&mut card, &portrait_photo(portrait, 210, 280), 770, 120);
    let signature_x = 875;
    centered(&mut card, &fields.regency, signature_x, 410, 21.0, &regular);
    centered(&mut card, &fields.issue_date, signature_x, 436, 21.0, &regular);
    // A signature: a few joined strokes.
    let mut rng = StdRng::seed_from_u64(fields.nik.bytes().map(u64::from).sum());
    let mut point = (signature_x as f32 - 60.0, 500.0f32);
    for _ in 0..12 {
        let next = (point.0 + rng.gen_range(4.0..16.0), 500.0 + rng.gen_range(-18.0..18.0));
        draw_line_segment_mut(&mut card, point, next, ink);
        point = next;
    }
    card
}

/// A typeface a forger might re-type the NIK in (all in `fonts-liberation`), for `font_match`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForgedTypeface {
    /// The template's face at its regular weight.
    SansRegular,
    /// A serif face (Times-compatible).
    SerifBold,
    /// A monospaced face (Courier-compatible).
    MonoBold,
}

impl ForgedTypeface {
    pub const ALL: [ForgedTypeface; 3] =
        [ForgedTypeface::SansRegular, ForgedTypeface::SerifBold, ForgedTypeface::MonoBold];

    pub fn font_name(self) -> &'static str {
        match self {
            ForgedTypeface::SansRegular => "Liberation Sans Regular",
            ForgedTypeface::SerifBold => "Liberation Serif Bold",
            ForgedTypeface::MonoBold => "Liberation Mono Bold",
        }
    }

    fn file(self) -> &'static str {
        match self {
            ForgedTypeface::SansRegular => "LiberationSans-Regular.ttf",
            ForgedTypeface::SerifBold => "LiberationSerif-Bold.ttf",
            ForgedTypeface::MonoBold => "LiberationMono-Bold.ttf",
        }
    }
}

/// Height in pixels of the digit 8 in `face` at `size`, and the face's ascent there.
pub(crate) fn digit_metrics(face: &FontVec, size: f32) -> (f32, f32) {
    let scaled = face.as_scaled(PxScale::from(size));
    let height = face.outline_glyph(scaled.scaled_glyph('8')).map(|g| g.px_bounds().height()).unwrap_or(size * 0.7);
    (height, scaled.ascent())
}

/// The card with its NIK painted out and printed again, the same digits in another typeface,
/// scaled so that they stand as tall as the template's and sit on its baseline: what a forger
/// with a printer and the wrong font produces. Only the typeface gives it away.
pub fn render_card_with_retyped_nik(fields: &KtpFields, portrait: &str, typeface: ForgedTypeface) -> RgbImage {
    let mut card = render_card(fields, portrait);
    let bold = font("LiberationSans-Bold.ttf");
    let forged = font(typeface.file());
    let (template_width, _) = text_size(PxScale::from(NIK_SIZE), &bold, &fields.nik);
    let (template_height, template_ascent) = digit_metrics(&bold, NIK_SIZE);
    for y in NIK_TOP..NIK_TOP + NIK_SIZE as u32 + 6 {
        for x in NIK_LEFT..(NIK_LEFT + template_width + 6).min(CARD_WIDTH) {
            card.put_pixel(x, y, paper(x, y));
        }
    }
    let (forged_height, _) = digit_metrics(&forged, NIK_SIZE);
    let size = NIK_SIZE * template_height / forged_height;
    let (_, forged_ascent) = digit_metrics(&forged, size);
    let top = NIK_TOP as f32 + template_ascent - forged_ascent;
    draw_text_mut(&mut card, INK, NIK_LEFT as i32, top.round() as i32, PxScale::from(size), &forged, &fields.nik);
    card
}

/// Ways a capture degrades a card.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Degradation {
    /// Out of focus: a Gaussian blur of this sigma (pixels).
    Blur(f32),
    /// Saved as JPEG at this quality.
    Jpeg(u8),
    /// Turned by this many degrees about the centre (hand-held), corners filled with grey.
    Rotate(f32),
}

/// The card after `steps`, in order.
pub fn degrade(card: &RgbImage, steps: &[Degradation]) -> RgbImage {
    let mut image = card.clone();
    for step in steps {
        image = match *step {
            Degradation::Blur(sigma) => imageops::blur(&image, sigma),
            Degradation::Jpeg(quality) => {
                let mut bytes = Vec::new();
                image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, quality)
                    .encode_image(&image)
                    .expect("jpeg encode");
                image::load_from_memory(&bytes).expect("jpeg decode").to_rgb8()
            }
            Degradation::Rotate(degrees) => imageproc::geometric_transformations::rotate_about_center(
                &image,
                degrees.to_radians(),
                imageproc::geometric_transformations::Interpolation::Bilinear,
                Rgb([128, 128, 128]),
            ),
        };
    }
    image
}

/// The fields of `reading` that differ from the card's truth, as (field, read, expected); the
/// reading's dates are ISO and its gender `male`/`female`, as the server reports them.
pub fn field_mismatches(reading: &KtpReading, truth: &KtpFields) -> Vec<(&'static str, String, String)> {
    let value = |r: &Option<Reading>| r.as_ref().map(|r| r.value.clone()).unwrap_or_default();
    let iso = |card_date: &str| {
        parse_card_date(card_date)
            .map(|d| format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day()))
            .unwrap_or_default()
    };
    let gender = if truth.gender == "PEREMPUAN" { "female" } else { "male" };
    let expected = [
        ("province", &reading.province, truth.province.clone()),
        ("regency", &reading.regency, truth.regency.clone()),
        ("nik", &reading.nik, truth.nik.clone()),
        ("fullName", &reading.full_name, truth.full_name.clone()),
        ("placeOfBirth", &reading.place_of_birth, truth.place_of_birth.clone()),
        ("dateOfBirth", &reading.date_of_birth, iso(&truth.date_of_birth)),
        ("gender", &reading.gender, gender.to_string()),
        ("bloodType", &reading.blood_type, truth.blood_type.clone()),
        ("address", &reading.address, truth.address.clone()),
        ("rtRw", &reading.rt_rw, truth.rt_rw.clone()),
        ("kelurahan", &reading.kelurahan, truth.kelurahan.clone()),
        ("kecamatan", &reading.kecamatan, truth.kecamatan.clone()),
        ("religion", &reading.religion, truth.religion.clone()),
        ("maritalStatus", &reading.marital_status, truth.marital_status.clone()),
        ("occupation", &reading.occupation, truth.occupation.clone()),
        ("nationality", &reading.nationality, truth.nationality.clone()),
        ("validUntil", &reading.valid_until, truth.valid_until.clone()),
        ("issueDate", &reading.issue_date, iso(&truth.issue_date)),
    ];
    expected
        .into_iter()
        .filter(|(_, read, want)| value(read) != *want)
        .map(|(name, read, want)| (name, value(read), want))
        .collect()
}

/// Fields a KTP carries, as [`field_mismatches`] counts them.
pub const FIELD_COUNT: usize = 18;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampled_niks_agree_with_the_printed_birth_date_and_gender() {
        for seed in 0..50 {
            let fields = KtpFields::sample(seed);
            let day: u32 = fields.nik[6..8].parse().unwrap();
            let printed_day: u32 = fields.date_of_birth[..2].parse().unwrap();
            let female = fields.gender == "PEREMPUAN";
            assert_eq!(day, if female { printed_day + 40 } else { printed_day }, "{fields:?}");
            assert_eq!(&fields.nik[8..10], &fields.date_of_birth[3..5]);
            assert_eq!(&fields.nik[10..12], &fields.date_of_birth[8..10]);
            assert!(kenali_core::nik::region_name(&fields.nik[..6]).is_some(), "{}", fields.nik);
        }
        assert_eq!(KtpFields::sample(7), KtpFields::sample(7));
    }
}
