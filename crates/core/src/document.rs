//! KTP capture voters and their fusion (seed 001, SPEC §6). Anti-spoof voters ask whether the
//! camera saw an original laminated card; tamper voters ask whether what is printed on it is
//! genuine. Each is a pure function of measurements the vision crate took; every threshold
//! lives in [`thresholds`].

use serde::{Deserialize, Serialize};
use serde_json::Value;
use unicode_normalization::UnicodeNormalization;

use crate::ktp::{label_row, parse_card_date, validate_fields, KtpReading, OcrLine};
use crate::liveness::{FlashSample, Voter};
use crate::typeface::TypefaceMeasure;
use crate::vote::{Role, Seat, CAPTURE_QUALITY, FLASH_REFLECTANCE, MULTI_FRAME_CONSISTENCY, SCREEN_MOIRE};

pub mod thresholds;

use thresholds::*;

/// What was measured on one capture frame.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CardFrameMeasure {
    pub sha256: String,
    pub card_found: bool,
    pub area_fraction: f32,
    /// The card's corners in the frame (top-left, top-right, bottom-right, bottom-left).
    pub corners: [[f32; 2]; 4],
    pub card_width: f32,
    pub sharpness: f32,
    pub glare_fraction: f32,
    /// Mean colour of the card without its glare.
    pub mean_rgb: [f32; 3],
    /// Centre of the saturated highlight in card fractions, when there is one.
    pub highlight: Option<[f32; 2]>,
    /// Mean grey level of each cell of the rectified card, [`thresholds::BRIGHTNESS_COLUMNS`] ×
    /// [`thresholds::BRIGHTNESS_ROWS`], row by row.
    pub brightness: Vec<f32>,
    /// How far the lighter pixels' chromaticities spread (99th percentile of the distance from
    /// the card's median (r, g) chromaticity): an original's portrait is in colour.
    pub colour_spread: f32,
    pub moire_ratio: Option<f32>,
    /// A small zero-mean, unit-norm edge map of the rectified card.
    pub thumbnail: Vec<f32>,
    /// The hologram box ([`thresholds::HOLOGRAM_BOX`]) as 4×4 cells, each cell's (r, g)
    /// chromaticity less the box's mean: 32 values, row by row.
    pub hologram: Vec<f32>,
    /// Fraction of the hologram box that is saturated glare.
    pub hologram_glare: f32,
}

/// The portrait as found on the rectified card.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PortraitMeasure {
    /// Faces the detector found on the card.
    pub faces: usize,
    /// The face's box in card fractions (left, top, right, bottom), when there is one.
    pub face_box: Option<[f32; 4]>,
    /// The photo's own rectangle around the face in card fractions (left, top, right, bottom),
    /// each `None` where no straight edge was found.
    pub frame: [Option<f32>; 4],
    /// The place and date of issue printed under the portrait.
    pub caption: Caption,
}

/// The place and date of issue that an e-KTP prints centred under its portrait, measured
/// against the photo: a photo glued over the card is rarely cut and laid to the print.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub enum Caption {
    /// No date of issue was read under the portrait.
    #[default]
    Unread,
    /// A date of issue was read under the portrait, with no line of text just above it where
    /// the place of issue belongs.
    PlaceMissing,
    Read {
        /// How far the caption's centre (the place's and the date's, averaged) sits from the
        /// photo's, as a fraction of the photo's width; `None` when the photo's sides were not
        /// found.
        offset: Option<f32>,
        /// The blank between the photo's lower edge and the place of issue's ink, over the date
        /// line's height (negative where the photo covers it); `None` when the photo's lower
        /// edge was not found.
        gap: Option<f32>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AntiSpoof {
    Live,
    Spoof,
    Unclear,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tamper {
    Authentic,
    Tampered,
    Unclear,
}

impl AntiSpoof {
    pub fn as_str(self) -> &'static str {
        match self {
            AntiSpoof::Live => "live",
            AntiSpoof::Spoof => "spoof",
            AntiSpoof::Unclear => "unclear",
        }
    }
}

impl Tamper {
    pub fn as_str(self) -> &'static str {
        match self {
            Tamper::Authentic => "authentic",
            Tamper::Tampered => "tampered",
            Tamper::Unclear => "unclear",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AssuranceTier {
    High,
    Standard,
    Low,
}

impl AssuranceTier {
    pub fn as_str(self) -> &'static str {
        match self {
            AssuranceTier::High => "high",
            AssuranceTier::Standard => "standard",
            AssuranceTier::Low => "low",
        }
    }
}

pub const SPECULAR_CHECK: Seat = Seat::new("specular_check", Role::Attack);
pub const PRINT_COLOUR: Seat = Seat::new("print_colour", Role::Attack);

/// Every anti-spoof voter of the KTP judge, with its role (fusion reads only the roles).
pub const ANTI_SPOOF_VOTERS: [Seat; 6] =
    [CAPTURE_QUALITY, FLASH_REFLECTANCE, SPECULAR_CHECK, PRINT_COLOUR, SCREEN_MOIRE, MULTI_FRAME_CONSISTENCY];

/// The NIK against the card: authentic needs it to have run.
pub const NIK_CONSISTENCY: Seat = Seat::required("nik_consistency", Role::Contradiction);
pub const OCR_CONSISTENCY: Seat = Seat::new("ocr_consistency", Role::Contradiction);
pub const PHOTO_SUBSTITUTION: Seat = Seat::new("photo_substitution", Role::Contradiction);
/// A malformed field is most often a misread one: the reading was not good enough to judge.
pub const FIELD_FORMAT: Seat = Seat::new("field_format", Role::Quality);
pub const FONT_MATCH: Seat = Seat::new("font_match", Role::Suspicion);
pub const HOLOGRAM_CHECK: Seat = Seat::new("hologram_check", Role::Suspicion);
pub const CUSTOMER_NIK: Seat = Seat::new("customer_nik", Role::Suspicion);

/// Every tamper voter of the KTP judge, with its role.
pub const TAMPER_VOTERS: [Seat; 7] =
    [NIK_CONSISTENCY, FIELD_FORMAT, OCR_CONSISTENCY, PHOTO_SUBSTITUTION, FONT_MATCH, HOLOGRAM_CHECK, CUSTOMER_NIK];

fn frame_problems(f: &CardFrameMeasure) -> Vec<&'static str> {
    if !f.card_found {
        return vec!["no card"];
    }
    let mut problems = Vec::new();
    if f.area_fraction < CARD_AREA_FRACTION_MIN {
        problems.push("card too small in the frame");
    }
    if f.sharpness < CARD_SHARPNESS_MIN {
        problems.push("blurred");
    }
    if f.glare_fraction > GLARE_FRACTION_MAX {
        problems.push("glare");
    }
    problems
}

/// The best frame decides: the card fills it, is in focus and is not washed out by glare (the
/// card is read from its best frame). When no frame is that good but every field was read
/// with high confidence anyway, the voter abstains: a poor capture that was read well is no
/// reason for review by itself. Otherwise it fails, saying what to fix for a retake.
pub fn capture_quality(frames: &[CardFrameMeasure], reading: &KtpReading) -> Voter {
    let per_frame: Vec<Vec<&str>> = frames.iter().map(frame_problems).collect();
    let voter = crate::vote::quality_vote(
        &per_frame,
        "a sharp card filling the frame, without glare",
        crate::vote::FramesNeeded::Best,
    );
    if voter.failed() && frames.iter().any(|f| f.card_found) && reading.read_confidently(READING_CONFIDENCE_MIN) {
        return CAPTURE_QUALITY.abstain(
            format!("no frame meets the quality bar, but every field was read with high confidence ({})", voter.reason),
            voter.score,
        );
    }
    voter
}

/// The laminate reflects the challenge colours in the frames the samples name.
pub fn flash_reflectance(frames: &[CardFrameMeasure], samples: &[FlashSample]) -> Option<Voter> {
    let pairs: Vec<([f32; 3], [u8; 3])> = samples
        .iter()
        .filter_map(|s| frames.get(s.frame_index).filter(|f| f.card_found).map(|f| (f.mean_rgb, s.color)))
        .collect();
    let rule = crate::vote::FlashRule {
        surface: "card",
        samples_min: CARD_FLASH_SAMPLES_MIN,
        colors_min: CARD_FLASH_COLORS_MIN,
        response_min: CARD_FLASH_RESPONSE_MIN,
        correlation_min: CARD_FLASH_CORRELATION_MIN,
    };
    crate::vote::flash_vote(&pairs, &rule)
}

/// A laminated original shows a highlight (of any shape, anywhere) that moves or changes as
/// the card and the light move; a photocopy, a print or a screen shows none, or one that stays
/// put. Each frame's cells are compared with the same cells in the other frames
/// ([`moving_highlight`]): passes when some frame shows a highlight the others do not; fails
/// when a saturated highlight stays in one place through every frame (a picture of a glint);
/// abstains otherwise, since a matte laminate or a steady light gives no chance to see one.
pub fn specular_check(frames: &[CardFrameMeasure]) -> Option<Voter> {
    let with_card: Vec<&CardFrameMeasure> = frames.iter().filter(|f| f.card_found).collect();
    if with_card.len() < 2 {
        return None;
    }
    let strength = moving_highlight(&with_card);
    if strength.is_some_and(|s| s >= 1.0) {
        return Some(SPECULAR_CHECK.vote(true, "a highlight moves across the laminate between frames", strength));
    }
    let highlights: Vec<[f32; 2]> = with_card.iter().filter_map(|f| f.highlight).collect();
    if highlights.len() == with_card.len() {
        let mut travel = 0f32;
        for (i, a) in highlights.iter().enumerate() {
            for b in &highlights[i + 1..] {
                travel = travel.max(((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt());
            }
        }
        if travel < HIGHLIGHT_TRAVEL_MIN {
            return Some(SPECULAR_CHECK.vote(
                false,
                "a saturated highlight stays in one place on the card in every frame: a picture of a glint",
                Some(travel),
            ));
        }
    }
    Some(SPECULAR_CHECK.abstain(
        "no highlight moved between frames: a matte laminate or a steady light gives no chance to judge",
        strength,
    ))
}

/// Whether a cell lies in the hologram's search box, whose foil changes colour of its own.
fn in_hologram_box(column: usize, row: usize) -> bool {
    let (u, v) = ((column as f32 + 0.5) / BRIGHTNESS_COLUMNS as f32, (row as f32 + 0.5) / BRIGHTNESS_ROWS as f32);
    let b = HOLOGRAM_BOX;
    (b[0]..=b[2]).contains(&u) && (b[1]..=b[3]).contains(&v)
}

/// One frame's rise of every brightness cell over its dimmest frame, each frame's median taken
/// away (the flash and the exposure lift the whole card alike), and the rise that makes a cell
/// lit by a highlight in that frame: the largest of [`HIGHLIGHT_RISE_MIN`],
/// [`HIGHLIGHT_RISE_HEADROOM`] of the headroom to white and [`HIGHLIGHT_RISE_FLASH`] of the
/// flash's swing of the frames' medians.
struct Rise {
    cells: Vec<f32>,
    threshold: f32,
}

impl Rise {
    fn lit(&self, cell: usize) -> bool {
        self.cells[cell] >= self.threshold
    }
}

/// Each frame's [`Rise`], or `None` when the brightness grids are missing.
fn highlight_rises(frames: &[&CardFrameMeasure]) -> Option<Vec<Rise>> {
    let cells = BRIGHTNESS_COLUMNS * BRIGHTNESS_ROWS;
    if frames.iter().any(|f| f.brightness.len() != cells) {
        return None;
    }
    let medians: Vec<f32> = frames.iter().map(|f| median(&f.brightness)).collect();
    let levelled: Vec<Vec<f32>> =
        frames.iter().zip(&medians).map(|(f, m)| f.brightness.iter().map(|b| b - m).collect()).collect();
    let dimmest: Vec<f32> = (0..cells).map(|c| levelled.iter().map(|l| l[c]).fold(f32::MAX, f32::min)).collect();
    let swing = medians.iter().copied().fold(f32::MIN, f32::max) - medians.iter().copied().fold(f32::MAX, f32::min);
    let rises = levelled
        .iter()
        .zip(&medians)
        .map(|(frame, median)| Rise {
            cells: (0..cells).map(|c| frame[c] - dimmest[c]).collect(),
            threshold: HIGHLIGHT_RISE_MIN
                .max(HIGHLIGHT_RISE_HEADROOM * (255.0 - median))
                .max(HIGHLIGHT_RISE_FLASH * swing),
        })
        .collect();
    Some(rises)
}

/// The strongest moving highlight of the frames, as its peak rise over its [`Rise`] threshold
/// (at least 1: a highlight), or `None` when the brightness grids are missing. A frame counts
/// when its lit cells cover between [`HIGHLIGHT_AREA_MIN`] and [`HIGHLIGHT_AREA_MAX`] of the
/// card outside the hologram's box.
fn moving_highlight(frames: &[&CardFrameMeasure]) -> Option<f32> {
    let cells = BRIGHTNESS_COLUMNS * BRIGHTNESS_ROWS;
    let rises = highlight_rises(frames)?;
    let outside: Vec<usize> =
        (0..cells).filter(|c| !in_hologram_box(c % BRIGHTNESS_COLUMNS, c / BRIGHTNESS_COLUMNS)).collect();
    let mut strongest = 0f32;
    for rise in rises {
        let lit = outside.iter().filter(|c| rise.lit(**c)).count() as f32 / cells as f32;
        if (HIGHLIGHT_AREA_MIN..=HIGHLIGHT_AREA_MAX).contains(&lit) {
            let peak = outside.iter().map(|c| rise.cells[*c]).fold(0.0, f32::max);
            strongest = strongest.max(peak / rise.threshold);
        }
    }
    Some(strongest)
}

/// Whether each cell of the structure thumbnails lies under a highlight in any frame (the
/// glare washes the print out there), judged on the brightness grid it falls in; empty when
/// the grids or the thumbnails are not of the expected sizes.
fn glared_thumbnail_cells(frames: &[&CardFrameMeasure]) -> Vec<bool> {
    let thumbnail_cells = THUMBNAIL_COLUMNS * THUMBNAIL_ROWS;
    let Some(rises) = highlight_rises(frames) else { return Vec::new() };
    if frames.iter().any(|f| f.thumbnail.len() != thumbnail_cells) {
        return Vec::new();
    }
    (0..thumbnail_cells)
        .map(|t| {
            let (column, row) = (t % THUMBNAIL_COLUMNS, t / THUMBNAIL_COLUMNS);
            let cell = (row * BRIGHTNESS_ROWS / THUMBNAIL_ROWS) * BRIGHTNESS_COLUMNS
                + column * BRIGHTNESS_COLUMNS / THUMBNAIL_COLUMNS;
            rises.iter().any(|r| r.lit(cell))
        })
        .collect()
}

/// The correlation of two structure thumbnails over the cells not `glared` (all when empty).
fn print_similarity(a: &[f32], b: &[f32], glared: &[bool]) -> f32 {
    let kept: Vec<(f32, f32)> = a
        .iter()
        .zip(b)
        .enumerate()
        .filter(|(t, _)| !glared.get(*t).copied().unwrap_or(false))
        .map(|(_, (x, y))| (*x, *y))
        .collect();
    let n = kept.len().max(1) as f32;
    let (mean_a, mean_b) = (kept.iter().map(|k| k.0).sum::<f32>() / n, kept.iter().map(|k| k.1).sum::<f32>() / n);
    let (mut ab, mut aa, mut bb) = (0f32, 0f32, 0f32);
    for (x, y) in &kept {
        let (x, y) = (x - mean_a, y - mean_b);
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    ab / (aa * bb).sqrt().max(f32::EPSILON)
}

fn median(values: &[f32]) -> f32 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f32::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(0.0)
}

/// An original is printed in colour (the portrait above all); a monochrome photocopy shows one
/// tint throughout. Judged on the frame the flash tinted least (the least spread).
pub fn print_colour(frames: &[CardFrameMeasure]) -> Option<Voter> {
    let least = frames.iter().filter(|f| f.card_found).map(|f| f.colour_spread).reduce(f32::min)?;
    if least >= COLOUR_SPREAD_MIN {
        Some(PRINT_COLOUR.vote(true, "the card is printed in colour", Some(least)))
    } else {
        Some(PRINT_COLOUR.vote(false, "the card shows one tint throughout: a monochrome copy", Some(least)))
    }
}

/// The median peak ratio over the portrait: a card re-filmed off a display carries its grid.
pub fn screen_moire(frames: &[CardFrameMeasure]) -> Option<Voter> {
    crate::vote::moire_vote(frames.iter().filter_map(|f| f.moire_ratio).collect(), CARD_MOIRE_PEAK_MAX, "card")
}

/// One card in every frame, not byte-identical copies, with natural small motion.
pub fn multi_frame_consistency(frames: &[CardFrameMeasure]) -> Option<Voter> {
    let with_card: Vec<&CardFrameMeasure> = frames.iter().filter(|f| f.card_found).collect();
    if with_card.len() < 2 {
        return None;
    }
    let mut hashes: Vec<&str> = frames.iter().map(|f| f.sha256.as_str()).collect();
    hashes.sort_unstable();
    hashes.dedup();
    if hashes.len() < frames.len() {
        return Some(MULTI_FRAME_CONSISTENCY.vote(false, "frames are byte-identical copies", Some(0.0)));
    }
    let first = with_card[0];
    let glared = glared_thumbnail_cells(&with_card);
    let least_similar = with_card[1..]
        .iter()
        .map(|f| print_similarity(&f.thumbnail, &first.thumbnail, &glared))
        .fold(f32::MAX, f32::min);
    if least_similar < SAME_CARD_MIN {
        return Some(MULTI_FRAME_CONSISTENCY.vote(false, "the card changes between frames", Some(least_similar)));
    }
    let motion = with_card
        .iter()
        .map(|f| {
            let moved = f
                .corners
                .iter()
                .zip(&first.corners)
                .map(|(a, b)| ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt())
                .fold(0.0, f32::max);
            moved / first.card_width.max(1.0)
        })
        .fold(0.0, f32::max);
    if motion < CARD_MOTION_MIN {
        return Some(MULTI_FRAME_CONSISTENCY.vote(false, "no natural motion: a frozen image", Some(motion)));
    }
    if motion > CARD_MOTION_MAX {
        return Some(MULTI_FRAME_CONSISTENCY.vote(false, "the card jumps between frames", Some(motion)));
    }
    Some(MULTI_FRAME_CONSISTENCY.vote(true, "one card, natural small motion", Some(least_similar)))
}

const NIK_FIELDS: [&str; 3] = ["nik", "dateOfBirth", "gender"];

/// The NIK's structure, region and the birth date and gender it encodes against the card's.
fn rms(values: impl Iterator<Item = f32>) -> f32 {
    let (sum, count) = values.fold((0f32, 0usize), |(s, n), v| (s + v * v, n + 1));
    (sum / count.max(1) as f32).sqrt()
}

/// Whether the hologram where the template puts it changes colour as the card moves (a reprint
/// or a screen shows a fixed pattern). Fails when glare hides it (seed 001); abstains when no
/// foil colour shows at all; absent with fewer than two frames of the card.
pub fn hologram_check(frames: &[CardFrameMeasure]) -> Option<Voter> {
    let seat = HOLOGRAM_CHECK;
    let with_card: Vec<&CardFrameMeasure> = frames.iter().filter(|f| f.card_found && !f.hologram.is_empty()).collect();
    if with_card.len() < 2 {
        return None;
    }
    let readable: Vec<&[f32]> =
        with_card.iter().filter(|f| f.hologram_glare <= HOLOGRAM_GLARE_MAX).map(|f| f.hologram.as_slice()).collect();
    if readable.len() < 2 {
        return Some(seat.vote(false, "glare on the laminate hides the hologram", None));
    }
    let colour = readable.iter().map(|p| rms(p.iter().copied())).sum::<f32>() / readable.len() as f32;
    if colour < HOLOGRAM_COLOR_MIN {
        // Foils differ by print batch and some show no colour under a phone's light: no foil
        // seen is no evidence either way (a copy is judged by the anti-spoof voters).
        return Some(
            seat.abstain("no hologram colours visible where the card carries its foil: cannot judge", Some(colour)),
        );
    }
    let mut shift = 0f32;
    for (i, a) in readable.iter().enumerate() {
        for b in &readable[i + 1..] {
            shift = shift.max(rms(a.iter().zip(b.iter()).map(|(x, y)| x - y)));
        }
    }
    if shift < HOLOGRAM_SHIFT_MIN {
        return Some(seat.vote(false, "no reflective specular ring: the hologram's colours stay fixed", Some(shift)));
    }
    Some(seat.vote(true, "the hologram's colours shift as the card moves", Some(shift)))
}

/// Whether the card's NIK is the one the customer registered with (compared through blind
/// indexes; `None` when either is missing). A mismatch does not prove the card forged, but the
/// card may belong to someone else: it leaves the tamper check unclear, for an analyst.
pub fn customer_nik(card_matches_customer: Option<bool>) -> Option<Voter> {
    card_matches_customer.map(|matches| {
        if matches {
            CUSTOMER_NIK.vote(true, "the card's NIK is the customer's", None)
        } else {
            CUSTOMER_NIK.vote(false, "the card's NIK differs from the customer's registered NIK", None)
        }
    })
}

pub fn nik_consistency(reading: &KtpReading, reference_year: i32) -> Voter {
    let problems: Vec<_> =
        validate_fields(reading, reference_year).into_iter().filter(|p| NIK_FIELDS.contains(&p.field)).collect();
    if problems.is_empty() {
        return NIK_CONSISTENCY.vote(true, "NIK structure, region, birth date and gender agree", None);
    }
    let reason = problems.iter().map(|p| format!("{}: {}", p.field, p.message)).collect::<Vec<_>>().join("; ");
    NIK_CONSISTENCY.vote(false, reason, None)
}

/// Seed 001's formats for the other fields: Latin name, RT/RW, the enums, validity.
pub fn field_format(reading: &KtpReading, reference_year: i32) -> Voter {
    let problems: Vec<_> =
        validate_fields(reading, reference_year).into_iter().filter(|p| !NIK_FIELDS.contains(&p.field)).collect();
    if problems.is_empty() {
        return FIELD_FORMAT.vote(true, "every field has its KTP format", None);
    }
    let reason = problems.iter().map(|p| format!("{}: {}", p.field, p.message)).collect::<Vec<_>>().join("; ");
    FIELD_FORMAT.vote(false, reason, None)
}

/// Upper case, NFKC, single spaces; dates as ISO; gender as male/female.
fn canonical(field: &str, text: &str) -> String {
    let text: String = text.nfkc().collect::<String>().to_uppercase();
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match field {
        "dateOfBirth" | "issueDate" | "validUntil" => {
            if let Some(date) = parse_card_date(&text) {
                return format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day());
            }
            text
        }
        "religion" => crate::ktp::canonical_religion(&text).map_or(text, str::to_string),
        "gender" => match text.as_str() {
            "LAKI-LAKI" | "MALE" | "L" => "MALE".into(),
            "PEREMPUAN" | "FEMALE" | "P" => "FEMALE".into(),
            _ => text,
        },
        _ => text,
    }
}

const STRUCTURED_FIELDS: [&str; 8] =
    ["nik", "dateOfBirth", "gender", "rtRw", "bloodType", "validUntil", "issueDate", "nationality"];

/// The server's reading against the fields the SDK read on the device, field by field.
/// Absent when the SDK sent none.
pub fn ocr_consistency(reading: &KtpReading, sdk_fields: Option<&Value>) -> Option<Voter> {
    let sdk = sdk_fields?.as_object()?;
    let server = serde_json::to_value(reading).ok()?;
    let mut compared = 0usize;
    let mut differing = Vec::new();
    for (field, sdk_value) in sdk {
        let (Some(sdk_text), Some(server_text)) =
            (sdk_value.as_str(), server.get(field).and_then(|r| r.get("value")).and_then(Value::as_str))
        else {
            continue;
        };
        compared += 1;
        let (a, b) = (canonical(field, sdk_text), canonical(field, server_text));
        let allowed =
            if STRUCTURED_FIELDS.contains(&field.as_str()) { 0 } else { a.chars().count() / OCR_CHARS_PER_EDIT };
        if strsim::levenshtein(&a, &b) > allowed {
            differing.push(field.clone());
        }
    }
    if compared == 0 {
        return None;
    }
    let score = Some(1.0 - differing.len() as f32 / compared as f32);
    if differing.is_empty() {
        return Some(OCR_CONSISTENCY.vote(true, format!("{compared} fields agree with the SDK's reading"), score));
    }
    Some(OCR_CONSISTENCY.vote(false, format!("the SDK read differently: {}", differing.join(", ")), score))
}

/// One face, in a photo whose place and date of issue are printed centred under it and clear of
/// its edge: a photo glued over the card is neither cut to the exact size nor laid to the card's
/// print, so it covers the place of issue, runs into it, or sits off its centre. Relative to
/// the card's own print, not to template coordinates; abstains when the caption or the photo's
/// sides could not be read.
pub fn photo_substitution(portrait: &PortraitMeasure) -> Voter {
    let seat = PHOTO_SUBSTITUTION;
    if portrait.faces != 1 {
        return seat.vote(false, format!("{} faces on the card; a KTP has one portrait", portrait.faces), None);
    }
    let (offset, gap) = match portrait.caption {
        Caption::Unread => return seat.abstain("no date of issue was read under the portrait", None),
        Caption::PlaceMissing => {
            return seat.vote(
                false,
                "the place of issue under the portrait is covered: a photo laid over the card",
                None,
            )
        }
        Caption::Read { offset, gap } => (offset, gap),
    };
    if let Some(gap) = gap.filter(|g| *g < CAPTION_GAP_MIN) {
        return seat.vote(
            false,
            "the portrait's lower edge runs into the place of issue: a photo laid over the card",
            Some(gap),
        );
    }
    let Some(offset) = offset else {
        return seat.abstain("the portrait's sides could not be found", None);
    };
    if offset.abs() > CAPTION_OFFSET_MAX {
        return seat.vote(
            false,
            "the place and date of issue are not centred under the portrait: a photo laid over the card",
            Some(offset),
        );
    }
    seat.vote(true, "one portrait, with the place and date of issue centred under it", Some(offset))
}

/// The labels' layout against the KTP template (left-aligned in one column at the template's
/// margin, on rows the template's pitch apart), then the NIK's type (`nik_type`,
/// [`crate::typeface`]): larger than the labels, in a bold grotesque's shapes, pitch and weight
/// or in OCR-A's shapes. Cards re-typed on a generic template, fields pasted in, or a NIK printed
/// again in another face or weight break one of these.
pub fn font_match(lines: &[OcrLine], card_width: f32, card_height: f32, nik_type: Option<&TypefaceMeasure>) -> Voter {
    let seat = FONT_MATCH;
    let mut labels: Vec<(usize, &OcrLine)> = lines.iter().filter_map(|l| Some((label_row(&l.text)?, l))).collect();
    labels.sort_by_key(|(row, _)| *row);
    labels.dedup_by_key(|(row, _)| *row);
    if labels.len() < LABELS_MIN {
        return seat.vote(false, format!("only {} of the KTP's 13 labels were found", labels.len()), None);
    }
    // The labels share one left edge (the card's own column, wherever its print batch put it),
    // near the card's left edge.
    let lefts: Vec<f32> = labels.iter().map(|(_, l)| l.left / card_width).collect();
    let column = median(&lefts);
    if column > LABEL_COLUMN_MAX {
        return seat.vote(false, "the labels are not printed along the card's left edge", Some(column));
    }
    let off_column = lefts.iter().map(|x| (x - column).abs()).fold(0.0, f32::max);
    if off_column > LABEL_ALIGN_TOLERANCE {
        return seat.vote(false, "a label is not aligned with the others", Some(off_column));
    }
    // Rows after the NIK's, which stands apart in its larger type.
    let rows: Vec<(usize, f32)> =
        labels.iter().filter(|(row, _)| *row > 0).map(|(row, l)| (*row, l.top / card_height)).collect();
    // The rows' own pitch (print batches and the rectification scale it a little), then each
    // row against it: a field pasted in sits off the card's rhythm.
    let mut pitches: Vec<f32> = rows.windows(2).map(|w| (w[1].1 - w[0].1) / (w[1].0 - w[0].0) as f32).collect();
    pitches.sort_by(f32::total_cmp);
    let Some(&card_pitch) = pitches.get(pitches.len() / 2) else {
        return seat.vote(false, "the field rows could not be measured", None);
    };
    if (card_pitch / ROW_PITCH - 1.0).abs() > ROW_PITCH_SPREAD {
        return seat.vote(false, "the field rows are not spaced as on a KTP", Some(card_pitch));
    }
    let worst_pitch = pitches.iter().map(|p| (p / card_pitch - 1.0).abs()).fold(0.0, f32::max);
    if worst_pitch > ROW_PITCH_TOLERANCE {
        return seat.vote(false, "the field rows are not evenly spaced as on a KTP", Some(worst_pitch));
    }
    let Some(nik_type) = nik_type else {
        return seat.vote(false, "the NIK's typeface could not be measured", None);
    };
    let mut heights: Vec<f32> = labels.iter().map(|(_, l)| l.bottom - l.top).collect();
    heights.sort_by(f32::total_cmp);
    let label_height = heights[heights.len() / 2];
    if let Some((reason, score)) = crate::typeface::mismatch(nik_type, label_height) {
        return seat.vote(false, reason, Some(score));
    }
    seat.vote(true, format!("{} labels in the KTP template's layout", labels.len()), Some(worst_pitch))
}

/// Spoof when an [`Role::Attack`] voter failed (each looks for a presentation attack in
/// evidence of its own: the flash's reflection, the laminate's highlight, a display's moiré, the
/// frames' agreement); unclear when the capture was too poor or fewer than two attack voters
/// could run; live when every voter passed.
pub fn fuse_anti_spoof(voters: &[Voter]) -> AntiSpoof {
    use crate::vote::{all_passed, failed, ran, required_ran};
    if failed(voters, Role::Attack).next().is_some() {
        return AntiSpoof::Spoof;
    }
    if ran(voters, Role::Attack) >= 2 && required_ran(voters, &ANTI_SPOOF_VOTERS) && all_passed(voters) {
        AntiSpoof::Live
    } else {
        AntiSpoof::Unclear
    }
}

/// Tampered when a [`Role::Contradiction`] voter failed (the NIK, the portrait or the SDK's
/// reading contradict the card); unclear when a field is unreadable or malformed or a suspicion
/// was raised; authentic when the NIK was checked (the required seat of [`TAMPER_VOTERS`]) and
/// every voter passed.
pub fn fuse_tamper(voters: &[Voter]) -> Tamper {
    use crate::vote::{all_passed, failed, required_ran};
    if failed(voters, Role::Contradiction).next().is_some() {
        return Tamper::Tampered;
    }
    if required_ran(voters, &TAMPER_VOTERS) && all_passed(voters) {
        Tamper::Authentic
    } else {
        Tamper::Unclear
    }
}

/// Seed 001's table: high needs the flash challenge satisfied as well; standard is both checks
/// passing without flash samples; anything else is low (persisted for review).
pub fn assurance(anti_spoof: AntiSpoof, tamper: Tamper, anti_spoof_voters: &[Voter]) -> AssuranceTier {
    if anti_spoof != AntiSpoof::Live || tamper != Tamper::Authentic {
        return AssuranceTier::Low;
    }
    match anti_spoof_voters.iter().find(|v| v.name == FLASH_REFLECTANCE.name) {
        Some(v) if v.succeeded() => AssuranceTier::High,
        Some(_) => AssuranceTier::Low,
        None => AssuranceTier::Standard,
    }
}

/// `ktpBundle.verdict` (SPEC §6): `passed` at assurance high or standard; `failed` when the
/// card gave no field to read, or when two independent attack voters failed (one failing
/// voter may be a bad frame, two separate kinds of evidence are an attack); the rest of the low
/// outcomes go to an analyst as `requires_review`.
pub fn verdict(judgement: &Judgement, fields_read: usize) -> crate::verification::KtpVerdict {
    use crate::verification::KtpVerdict;
    let failed_attack_voters = crate::vote::failed(&judgement.anti_spoof_voters, Role::Attack).count();
    if fields_read == 0 || failed_attack_voters >= 2 {
        KtpVerdict::Failed
    } else if judgement.assurance == AssuranceTier::Low {
        KtpVerdict::RequiresReview
    } else {
        KtpVerdict::Passed
    }
}

/// Every voter of a capture, both fused checks and the assurance tier.
#[derive(Debug, Clone)]
pub struct Judgement {
    pub anti_spoof_voters: Vec<Voter>,
    pub tamper_voters: Vec<Voter>,
    pub anti_spoof: AntiSpoof,
    pub tamper: Tamper,
    pub assurance: AssuranceTier,
}

/// What a capture's measurements say, voter by voter (absent voters could not run).
pub struct Evidence<'a> {
    pub frames: &'a [CardFrameMeasure],
    pub samples: &'a [FlashSample],
    pub reading: &'a KtpReading,
    /// The OCR's lines in rectified-card pixels, and the card's size.
    pub lines: &'a [OcrLine],
    pub card_size: [f32; 2],
    pub portrait: &'a PortraitMeasure,
    /// The NIK's type, when its line could be measured.
    pub nik_type: Option<&'a TypefaceMeasure>,
    /// What the SDK read on the device, when it sent it.
    pub sdk_fields: Option<&'a Value>,
    /// The year NIK birth dates are judged against.
    pub reference_year: i32,
    /// Whether the card's NIK equals the customer's registered one, when both are known.
    pub card_matches_customer: Option<bool>,
}

/// Runs every voter and fuses them (seed 001's table).
pub fn judge(e: &Evidence<'_>) -> Judgement {
    let anti_spoof_voters: Vec<Voter> = [
        Some(capture_quality(e.frames, e.reading)),
        flash_reflectance(e.frames, e.samples),
        specular_check(e.frames),
        print_colour(e.frames),
        screen_moire(e.frames),
        multi_frame_consistency(e.frames),
    ]
    .into_iter()
    .flatten()
    .collect();
    let tamper_voters: Vec<Voter> = [
        Some(nik_consistency(e.reading, e.reference_year)),
        Some(field_format(e.reading, e.reference_year)),
        ocr_consistency(e.reading, e.sdk_fields),
        Some(photo_substitution(e.portrait)),
        Some(font_match(e.lines, e.card_size[0], e.card_size[1], e.nik_type)),
        hologram_check(e.frames),
        customer_nik(e.card_matches_customer),
    ]
    .into_iter()
    .flatten()
    .collect();
    let anti_spoof = fuse_anti_spoof(&anti_spoof_voters);
    let tamper = fuse_tamper(&tamper_voters);
    let assurance = assurance(anti_spoof, tamper, &anti_spoof_voters);
    Judgement { anti_spoof_voters, tamper_voters, anti_spoof, tamper, assurance }
}

/// Each field of the reading, under the name `KtpReading` serialises it with, mapped through
/// `pick` (a field not read stays null).
fn reading_fields(reading: &KtpReading, pick: impl Fn(&Value) -> Value) -> Value {
    match serde_json::to_value(reading) {
        Ok(Value::Object(fields)) => Value::Object(
            fields
                .into_iter()
                .map(|(name, read)| {
                    let shown = if read.is_null() { Value::Null } else { pick(&read) };
                    (name, shown)
                })
                .collect(),
        ),
        _ => Value::Null,
    }
}

/// The fields as `ktpBundle.ocr` shows them: each field's value as a string, null when not read
/// (seed 002 reads `ktpBundle.ocr.nik`). Confidences are in [`reading_confidence_json`].
pub fn reading_json(reading: &KtpReading) -> Value {
    reading_fields(reading, |read| read.get("value").cloned().unwrap_or(Value::Null))
}

/// The OCR's confidence in each field, 0 to 1, as `ktpBundle.ocrConfidence` shows it: the same
/// keys as [`reading_json`], null when not read. Rounded to four places: the `f32` would
/// otherwise show its binary tail (`0.949999988…`).
pub fn reading_confidence_json(reading: &KtpReading) -> Value {
    reading_fields(reading, |read| {
        read.get("confidence").and_then(Value::as_f64).map_or(Value::Null, |c| Value::from((c * 1e4).round() / 1e4))
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
#[path = "document_tests.rs"]
mod tests;
