//! Finding a KTP card in a capture frame, rectifying it to ID-1 proportions, and measuring
//! it for the document voters (kenali_core::document).
//!
//! The card is found as the largest region that differs from the frame's border (the desk or
//! hand around it): the frame is scaled down, each pixel's colour distance to the border's
//! median colour is thresholded (Otsu), and the largest connected region's principal axes give
//! an oriented rectangle. Each of its sides is then refined on the full-size frame: across the
//! side, at points along its middle, the card's outer border is where the colour distance to the
//! background first rises (looking inward), and a line fitted through those points is the side.
//! The four lines meet in a general quadrilateral, so a card held at an angle to the camera is
//! rectified through the homography of its corners, not a rectangle's. This assumes the card is
//! held roughly upright (within 45°) against a background of another colour, as the capture
//! SDK's frame guide asks.

use image::{GrayImage, Rgb, RgbImage};
use imageproc::geometric_transformations::Projection;
use kenali_core::document::thresholds::{
    BRIGHTNESS_COLUMNS, BRIGHTNESS_ROWS, HIGHLIGHT_FRACTION_MIN, HOLOGRAM_BOX, PORTRAIT_BOX, THUMBNAIL_COLUMNS,
    THUMBNAIL_ROWS,
};
use kenali_core::document::CardFrameMeasure;

use crate::align::sample;

/// The rectified card: ID-1 (85.60 × 53.98 mm) at about 11.8 px/mm, the OCR's working size.
pub const CARD_WIDTH: u32 = 1012;
pub const CARD_HEIGHT: u32 = 638;
/// Long side of the copy the card is located on.
const LOCATE_LONG_SIDE: u32 = 480;
/// A region counts as a card when its sides are within this ratio band (ID-1 is 1.586)…
const ASPECT_RANGE: std::ops::RangeInclusive<f32> = 1.3..=1.9;
/// …and it covers at least this fraction of the frame.
const LOCATE_AREA_MIN: f32 = 0.04;
/// Least colour distance (RGB units) that separates card from background, whatever Otsu says.
const DISTANCE_FLOOR: f32 = 24.0;
/// A pixel is glare when every channel is at least this.
const GLARE_LEVEL: u8 = 250;
/// Edge map compared across frames (`multi_frame_consistency`): cells, and pixels per cell.
const THUMB_W: u32 = THUMBNAIL_COLUMNS as u32;
const THUMB_H: u32 = THUMBNAIL_ROWS as u32;
const THUMB_CELL: u32 = 4;
/// Refining the sides: how far across each side the border is looked for, as a fraction of the
/// card's width, in a first pass from the fitted rectangle and a second from the first pass's
/// lines (frame pixels at least `EDGE_REACH_MIN`).
const EDGE_REACH_FIRST: f32 = 0.10;
const EDGE_REACH_SECOND: f32 = 0.02;
const EDGE_REACH_MIN: f32 = 6.0;
/// Points looked at along each side, spread over its middle (clear of the rounded corners).
const EDGE_POINTS: usize = 40;
const EDGE_SPAN: std::ops::RangeInclusive<f32> = 0.12..=0.88;
/// A side is refined only when the border is found at this fraction of its points…
const EDGE_FOUND_MIN: f32 = 0.5;
/// …and points further than this (frame pixels) from the first line through them are dropped.
const EDGE_OUTLIER: f32 = 1.5;

/// The card's corners in frame pixels (top-left, top-right, bottom-right, bottom-left) and the
/// homography that carries the card's fractions onto them.
#[derive(Debug, Clone, Copy)]
pub struct CardQuad {
    pub corners: [[f32; 2]; 4],
    to_frame: Projection,
}

impl CardQuad {
    /// `None` for corners that do not span a quadrilateral.
    pub fn new(corners: [[f32; 2]; 4]) -> Option<CardQuad> {
        let unit = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)];
        let to_frame = Projection::from_control_points(unit, corners.map(|[x, y]| (x, y)))?;
        Some(CardQuad { corners, to_frame })
    }

    /// Mean length of the top and bottom sides.
    pub fn width(&self) -> f32 {
        let [tl, tr, br, bl] = self.corners;
        (distance(tl, tr) + distance(bl, br)) / 2.0
    }

    /// Mean length of the left and right sides.
    pub fn height(&self) -> f32 {
        let [tl, tr, br, bl] = self.corners;
        (distance(tl, bl) + distance(tr, br)) / 2.0
    }

    /// A point given in card fractions, in frame pixels.
    pub fn point(&self, u: f32, v: f32) -> [f32; 2] {
        let (x, y) = self.to_frame * (u, v);
        [x, y]
    }
}

fn distance(a: [f32; 2], b: [f32; 2]) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

fn median(values: &mut [f32]) -> f32 {
    values.sort_by(f32::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// Otsu's threshold over values in 0..256.
pub(crate) fn otsu(values: &[f32]) -> f32 {
    let mut histogram = [0u64; 256];
    for v in values {
        histogram[(*v as usize).min(255)] += 1;
    }
    let total = values.len() as f64;
    let sum_all: f64 = histogram.iter().enumerate().map(|(i, n)| i as f64 * *n as f64).sum();
    let (mut weight_low, mut sum_low, mut best, mut best_t) = (0f64, 0f64, 0f64, 0usize);
    for (t, n) in histogram.iter().enumerate() {
        weight_low += *n as f64;
        sum_low += t as f64 * *n as f64;
        let weight_high = total - weight_low;
        if weight_low == 0.0 || weight_high == 0.0 {
            continue;
        }
        let between = weight_low * weight_high * (sum_low / weight_low - (sum_all - sum_low) / weight_high).powi(2);
        if between > best {
            best = between;
            best_t = t;
        }
    }
    best_t as f32 + 0.5
}

/// Pixel indices of the largest 4-connected region of `mask`.
fn largest_region(mask: &[bool], w: usize, h: usize) -> Vec<usize> {
    let mut seen = vec![false; mask.len()];
    let mut best = Vec::new();
    let mut stack = Vec::new();
    for start in 0..mask.len() {
        if !mask[start] || seen[start] {
            continue;
        }
        let mut region = Vec::new();
        seen[start] = true;
        stack.push(start);
        while let Some(i) = stack.pop() {
            region.push(i);
            let (x, y) = (i % w, i / w);
            let neighbours = [
                (x > 0).then(|| i - 1),
                (x + 1 < w).then(|| i + 1),
                (y > 0).then(|| i - w),
                (y + 1 < h).then(|| i + w),
            ];
            for j in neighbours.into_iter().flatten() {
                if mask[j] && !seen[j] {
                    seen[j] = true;
                    stack.push(j);
                }
            }
        }
        if region.len() > best.len() {
            best = region;
        }
    }
    best
}

/// Everything but the background: pixels near the border's colour that connect to the border.
/// Dark print inside the card is enclosed by the card, so it stays foreground.
fn not_background(distances: &[f32], threshold: f32, w: usize, h: usize) -> Vec<bool> {
    let mut background = vec![false; distances.len()];
    let mut stack: Vec<usize> =
        (0..w).flat_map(|x| [x, (h - 1) * w + x]).chain((0..h).flat_map(|y| [y * w, y * w + w - 1])).collect();
    while let Some(i) = stack.pop() {
        if background[i] || distances[i] > threshold {
            continue;
        }
        background[i] = true;
        let (x, y) = (i % w, i / w);
        if x > 0 {
            stack.push(i - 1);
        }
        if x + 1 < w {
            stack.push(i + 1);
        }
        if y > 0 {
            stack.push(i - w);
        }
        if y + 1 < h {
            stack.push(i + w);
        }
    }
    background.iter().map(|b| !b).collect()
}

/// The card in `image`, or `None` when no card-shaped region stands out from the background.
pub fn locate_card(image: &RgbImage) -> Option<CardQuad> {
    let (fw, fh) = image.dimensions();
    let scale = LOCATE_LONG_SIDE as f32 / fw.max(fh) as f32;
    let (w, h) = (((fw as f32 * scale).round() as u32).max(8), ((fh as f32 * scale).round() as u32).max(8));
    let small = crate::resample::resize(image, w, h)?;
    let (wu, hu) = (w as usize, h as usize);
    // The background: the median colour of a 3-pixel ring around the frame.
    let ring: Vec<&Rgb<u8>> = small
        .enumerate_pixels()
        .filter(|(x, y, _)| *x < 3 || *y < 3 || *x >= w - 3 || *y >= h - 3)
        .map(|(_, _, p)| p)
        .collect();
    let mut background = [0f32; 3];
    for (c, value) in background.iter_mut().enumerate() {
        let mut channel: Vec<f32> = ring.iter().map(|p| f32::from(p[c])).collect();
        *value = median(&mut channel);
    }
    let distances: Vec<f32> = small
        .pixels()
        .map(|p| {
            let d: f32 = (0..3).map(|c| (f32::from(p[c]) - background[c]).powi(2)).sum();
            d.sqrt().min(255.0)
        })
        .collect();
    let threshold = otsu(&distances).max(DISTANCE_FLOOR);
    let mask = not_background(&distances, threshold, wu, hu);
    let region = largest_region(&mask, wu, hu);
    if (region.len() as f32) < LOCATE_AREA_MIN * (wu * hu) as f32 {
        return None;
    }
    // Principal axes of the region's pixels.
    let n = region.len() as f64;
    let (mut mx, mut my) = (0f64, 0f64);
    for &i in &region {
        mx += (i % wu) as f64 / n;
        my += (i / wu) as f64 / n;
    }
    let (mut sxx, mut syy, mut sxy) = (0f64, 0f64, 0f64);
    for &i in &region {
        let (dx, dy) = ((i % wu) as f64 - mx, (i / wu) as f64 - my);
        sxx += dx * dx;
        syy += dy * dy;
        sxy += dx * dy;
    }
    let angle = 0.5 * (2.0 * sxy).atan2(sxx - syy);
    let (mut ux, mut uy) = (angle.cos(), angle.sin());
    if ux < 0.0 {
        (ux, uy) = (-ux, -uy);
    }
    // The second axis points down the card.
    let (vx, vy) = (-uy, ux);
    let mut along: Vec<f32> = Vec::with_capacity(region.len());
    let mut across: Vec<f32> = Vec::with_capacity(region.len());
    for &i in &region {
        let (dx, dy) = ((i % wu) as f64 - mx, (i / wu) as f64 - my);
        along.push((dx * ux + dy * uy) as f32);
        across.push((dx * vx + dy * vy) as f32);
    }
    along.sort_by(f32::total_cmp);
    across.sort_by(f32::total_cmp);
    // Extremes a little inside the ends, so that a stray attached pixel does not stretch the box;
    // half a pixel outward again, since pixels are squares around their centres.
    let quantile = |sorted: &[f32], q: f32| sorted[((sorted.len() - 1) as f32 * q).round() as usize];
    let (u0, u1) = (quantile(&along, 0.0005) - 0.5, quantile(&along, 0.9995) + 0.5);
    let (v0, v1) = (quantile(&across, 0.0005) - 0.5, quantile(&across, 0.9995) + 0.5);
    let aspect = (u1 - u0) / (v1 - v0).max(1.0);
    if !ASPECT_RANGE.contains(&aspect) {
        return None;
    }
    let corner = |u: f32, v: f32| {
        let x = mx as f32 + u * ux as f32 + v * vx as f32;
        let y = my as f32 + u * uy as f32 + v * vy as f32;
        // Small-image pixel centres back to frame pixel centres.
        [(x + 0.5) / scale - 0.5, (y + 0.5) / scale - 0.5]
    };
    let rectangle = [corner(u0, v0), corner(u1, v0), corner(u1, v1), corner(u0, v1)];
    let refined = refine_sides(image, background, rectangle, EDGE_REACH_FIRST)
        .and_then(|first| refine_sides(image, background, first, EDGE_REACH_SECOND));
    CardQuad::new(refined.unwrap_or(rectangle))
}

/// The quadrilateral whose sides run along the card's border near those of `corners`, or `None`
/// when a side's border cannot be followed (a hand over it, a background like the card).
fn refine_sides(image: &RgbImage, background: [f32; 3], corners: [[f32; 2]; 4], reach: f32) -> Option<[[f32; 2]; 4]> {
    let [tl, tr, br, bl] = corners;
    let reach = (reach * (distance(tl, tr) + distance(bl, br)) / 2.0).max(EDGE_REACH_MIN);
    let centre = [corners.iter().map(|c| c[0]).sum::<f32>() / 4.0, corners.iter().map(|c| c[1]).sum::<f32>() / 4.0];
    let mut lines = [Line::default(); 4];
    for (side, line) in lines.iter_mut().enumerate() {
        let (a, b) = (corners[side], corners[(side + 1) % 4]);
        let length = distance(a, b).max(1.0);
        let along = [(b[0] - a[0]) / length, (b[1] - a[1]) / length];
        let middle = [(a[0] + b[0]) / 2.0 - centre[0], (a[1] + b[1]) / 2.0 - centre[1]];
        let mut outward = [-along[1], along[0]];
        if outward[0] * middle[0] + outward[1] * middle[1] < 0.0 {
            outward = [-outward[0], -outward[1]];
        }
        let points: Vec<[f32; 2]> = (0..EDGE_POINTS)
            .filter_map(|k| {
                let t = EDGE_SPAN.start() + (EDGE_SPAN.end() - EDGE_SPAN.start()) * k as f32 / (EDGE_POINTS - 1) as f32;
                let at = [a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])];
                let offset = border_offset(image, background, at, outward, reach)?;
                Some([at[0] + offset * outward[0], at[1] + offset * outward[1]])
            })
            .collect();
        if (points.len() as f32) < EDGE_FOUND_MIN * EDGE_POINTS as f32 {
            return None;
        }
        // Print or glare mistaken for the border can be a third of the points, and a line fitted
        // through all of them misses the border: the line most points agree with is kept.
        let consensus = Line::most_supported(&points, 2.0 * EDGE_OUTLIER)?;
        let near: Vec<[f32; 2]> = points.into_iter().filter(|p| consensus.distance(*p) <= 2.0 * EDGE_OUTLIER).collect();
        let fitted = Line::through(&near)?;
        let inliers: Vec<[f32; 2]> = near.into_iter().filter(|p| fitted.distance(*p) <= EDGE_OUTLIER).collect();
        if (inliers.len() as f32) < EDGE_FOUND_MIN * EDGE_POINTS as f32 {
            return None;
        }
        *line = Line::through(&inliers)?;
    }
    // Corner i is where the side ending there meets the side starting there.
    let mut refined = [[0f32; 2]; 4];
    for (i, corner) in refined.iter_mut().enumerate() {
        *corner = lines[(i + 3) % 4].meet(&lines[i])?;
        if distance(*corner, corners[i]) > 2.0 * reach {
            return None;
        }
    }
    Some(refined)
}

/// Along `outward` from `at`, the offset (frame pixels, within ±`reach`) where the card's outer
/// border is: looking inward from the background, the first place the colour distance to the
/// background rises halfway to the card's. The search stops at the frame's edge, so a card
/// that nearly fills the frame keeps a short stretch of background to look from. `None` when
/// no border stands out on the line.
fn border_offset(image: &RgbImage, background: [f32; 3], at: [f32; 2], outward: [f32; 2], reach: f32) -> Option<f32> {
    let (w, h) = (image.width() as f32, image.height() as f32);
    let point = |s: i32| [at[0] + s as f32 * outward[0], at[1] + s as f32 * outward[1]];
    let inside = |p: [f32; 2]| p[0] >= 0.0 && p[1] >= 0.0 && p[0] <= w - 1.0 && p[1] <= h - 1.0;
    let steps = reach.ceil() as i32;
    let outer = (0..=steps).rev().find(|&s| inside(point(s)))?;
    if outer < 3 || !inside(point(-steps)) {
        return None;
    }
    // From the outermost point (index 0) inward.
    let profile: Vec<f32> = (-steps..=outer)
        .rev()
        .map(|s| {
            let p = point(s);
            let colour = sample(image, p[0], p[1]);
            (0..3).map(|c| (colour[c] - background[c]).powi(2)).sum::<f32>().sqrt()
        })
        .collect();
    // Levels robust to what lies beside the border: the desk's grain outside; inside, print
    // (the portrait comes within 3% of the card's right edge), so the card's own brightness is
    // an upper percentile there.
    let mut outside_part = profile[..outer as usize].to_vec();
    let outside_level = median(&mut outside_part);
    let mut card_part = profile[outer as usize + 1..].to_vec();
    card_part.sort_by(f32::total_cmp);
    let card_level = card_part[(card_part.len() - 1) * 9 / 10];
    if card_level - outside_level < DISTANCE_FLOOR {
        return None;
    }
    let half = (outside_level + card_level) / 2.0;
    let rise = profile.windows(2).position(|pair| pair[0] < half && pair[1] >= half)?;
    let fraction = (half - profile[rise]) / (profile[rise + 1] - profile[rise]);
    // Index i lies at offset outer - i.
    Some(outer as f32 - (rise as f32 + fraction))
}

/// A line n·p = d with unit normal n.
#[derive(Debug, Clone, Copy, Default)]
struct Line {
    normal: [f32; 2],
    offset: f32,
}

impl Line {
    /// The total-least-squares line through `points` (at least two).
    fn through(points: &[[f32; 2]]) -> Option<Line> {
        if points.len() < 2 {
            return None;
        }
        let n = points.len() as f32;
        let mean = [points.iter().map(|p| p[0]).sum::<f32>() / n, points.iter().map(|p| p[1]).sum::<f32>() / n];
        let (mut sxx, mut syy, mut sxy) = (0f32, 0f32, 0f32);
        for p in points {
            let (dx, dy) = (p[0] - mean[0], p[1] - mean[1]);
            sxx += dx * dx;
            syy += dy * dy;
            sxy += dx * dy;
        }
        // The direction of most spread; the normal is across it.
        let angle = 0.5 * (2.0 * sxy).atan2(sxx - syy);
        let normal = [-angle.sin(), angle.cos()];
        Some(Line { normal, offset: normal[0] * mean[0] + normal[1] * mean[1] })
    }

    /// Of the lines through two of `points`, the one with the most points within `tolerance`
    /// (every pair is tried: a side has a few dozen points).
    fn most_supported(points: &[[f32; 2]], tolerance: f32) -> Option<Line> {
        let mut best: Option<(usize, Line)> = None;
        for (i, a) in points.iter().enumerate() {
            for b in &points[i + 1..] {
                let Some(line) = Line::through(&[*a, *b]) else { continue };
                let support = points.iter().filter(|p| line.distance(**p) <= tolerance).count();
                if best.as_ref().is_none_or(|(most, _)| support > *most) {
                    best = Some((support, line));
                }
            }
        }
        best.map(|(_, line)| line)
    }

    fn distance(&self, p: [f32; 2]) -> f32 {
        (self.normal[0] * p[0] + self.normal[1] * p[1] - self.offset).abs()
    }

    /// Where two lines cross; `None` for (near-)parallel lines.
    fn meet(&self, other: &Line) -> Option<[f32; 2]> {
        let [a, b] = self.normal;
        let [c, d] = other.normal;
        let determinant = a * d - b * c;
        if determinant.abs() < 1e-3 {
            return None;
        }
        Some([(self.offset * d - b * other.offset) / determinant, (a * other.offset - self.offset * c) / determinant])
    }
}

/// The card as an upright CARD_WIDTH × CARD_HEIGHT image.
pub fn rectify(image: &RgbImage, quad: &CardQuad) -> RgbImage {
    let (du, dv) = (1.0 / CARD_WIDTH as f32, 1.0 / CARD_HEIGHT as f32);
    RgbImage::from_fn(CARD_WIDTH, CARD_HEIGHT, |x, y| {
        let [sx, sy] = quad.point((x as f32 + 0.5) * du, (y as f32 + 0.5) * dv);
        // Corners are in pixel-centre coordinates, as `sample` reads them.
        let v = sample(image, sx, sy);
        Rgb([v[0].round() as u8, v[1].round() as u8, v[2].round() as u8])
    })
}

/// Variance of the 4-neighbour Laplacian.
fn laplacian_variance(grey: &GrayImage) -> f32 {
    let (w, h) = grey.dimensions();
    if w < 3 || h < 3 {
        return 0.0;
    }
    let at = |x: u32, y: u32| f64::from(grey.get_pixel(x, y)[0]);
    let (mut sum, mut sum_sq, mut n) = (0f64, 0f64, 0f64);
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let v = at(x - 1, y) + at(x + 1, y) + at(x, y - 1) + at(x, y + 1) - 4.0 * at(x, y);
            sum += v;
            sum_sq += v * v;
            n += 1.0;
        }
    }
    let mean = sum / n;
    (sum_sq / n - mean * mean) as f32
}

/// Everything the anti-spoof voters need from one frame whose card was found.
pub fn measure_card(image: &RgbImage, quad: &CardQuad, card: &RgbImage, sha256: &str) -> CardFrameMeasure {
    let (fw, fh) = image.dimensions();
    let pixels = (card.width() * card.height()) as f32;
    let (mut glare, mut gx, mut gy) = (0f32, 0f32, 0f32);
    let mut sum = [0f64; 3];
    for (x, y, p) in card.enumerate_pixels() {
        if p.0.iter().all(|c| *c >= GLARE_LEVEL) {
            glare += 1.0;
            gx += x as f32;
            gy += y as f32;
        } else {
            for c in 0..3 {
                sum[c] += f64::from(p[c]);
            }
        }
    }
    let lit = f64::from((pixels - glare).max(1.0));
    let glare_fraction = glare / pixels;
    let highlight = (glare_fraction >= HIGHLIGHT_FRACTION_MIN)
        .then(|| [gx / glare / card.width() as f32, gy / glare / card.height() as f32]);
    // Moiré over the portrait, in the frame's own pixels (rectifying would resample the grid).
    let b = PORTRAIT_BOX;
    let portrait_corners =
        [quad.point(b[0], b[1]), quad.point(b[2], b[1]), quad.point(b[2], b[3]), quad.point(b[0], b[3])];
    let min = |k: usize| portrait_corners.iter().map(|c| c[k]).fold(f32::MAX, f32::min);
    let max = |k: usize| portrait_corners.iter().map(|c| c[k]).fold(f32::MIN, f32::max);
    let moire_ratio = crate::moire::region_peak_ratio(image, [min(0), min(1), max(0) - min(0), max(1) - min(1)]);
    let grey = image::imageops::grayscale(card);
    let brightness = brightness_grid(&grey);
    let colour_spread = colour_spread(card);
    let thumbnail = structure_thumbnail(card);
    let (hologram, hologram_glare) = hologram_pattern(card);
    CardFrameMeasure {
        sha256: sha256.to_string(),
        card_found: true,
        area_fraction: quad.width() * quad.height() / (fw * fh) as f32,
        corners: quad.corners,
        card_width: quad.width(),
        sharpness: laplacian_variance(&grey),
        glare_fraction,
        mean_rgb: [(sum[0] / lit) as f32, (sum[1] / lit) as f32, (sum[2] / lit) as f32],
        highlight,
        brightness,
        colour_spread,
        moire_ratio,
        thumbnail,
        hologram,
        hologram_glare,
    }
}

/// Mean grey level of each cell of the rectified card, [`BRIGHTNESS_COLUMNS`] ×
/// [`BRIGHTNESS_ROWS`], row by row (`specular_check` compares them across frames).
fn brightness_grid(grey: &GrayImage) -> Vec<f32> {
    let (w, h) = grey.dimensions();
    let (columns, rows) = (BRIGHTNESS_COLUMNS as u32, BRIGHTNESS_ROWS as u32);
    let mut sums = vec![0f64; (columns * rows) as usize];
    let mut counts = vec![0u32; sums.len()];
    for (x, y, p) in grey.enumerate_pixels() {
        let cell = ((y * rows / h) * columns + x * columns / w) as usize;
        sums[cell] += f64::from(p[0]);
        counts[cell] += 1;
    }
    sums.iter().zip(&counts).map(|(s, n)| (*s / f64::from((*n).max(1))) as f32).collect()
}

/// How colourful the card's print is: over its lighter pixels (the paper, the portrait's skin
/// and backdrop; dark ink takes the flash's tint more than anything else), the 99th percentile
/// of each pixel's (r, g) chromaticity distance from the card's median. An original's portrait
/// is in colour; a monochrome copy has one tint throughout. Every second pixel is read.
fn colour_spread(card: &RgbImage) -> f32 {
    let sampled: Vec<(&Rgb<u8>, f32)> = card.pixels().step_by(2).map(|p| (p, crate::measure::luminance(p))).collect();
    let bright = {
        let mut levels: Vec<f32> = sampled.iter().map(|(_, level)| *level).collect();
        let at = ((levels.len() as f32 - 1.0) * 0.9) as usize;
        *levels.select_nth_unstable_by(at, f32::total_cmp).1
    };
    let chroma: Vec<[f32; 2]> = sampled
        .iter()
        .filter(|(_, level)| *level >= 0.6 * bright)
        .map(|(p, _)| {
            let sum = (f32::from(p[0]) + f32::from(p[1]) + f32::from(p[2])).max(1.0);
            [f32::from(p[0]) / sum, f32::from(p[1]) / sum]
        })
        .collect();
    if chroma.is_empty() {
        return 0.0;
    }
    let median = [0, 1].map(|k| {
        let mut values: Vec<f32> = chroma.iter().map(|c| c[k]).collect();
        let at = values.len() / 2;
        *values.select_nth_unstable_by(at, f32::total_cmp).1
    });
    let mut distances: Vec<f32> = chroma.iter().map(|c| (c[0] - median[0]).hypot(c[1] - median[1])).collect();
    let at = ((distances.len() as f32 - 1.0) * 0.99) as usize;
    *distances.select_nth_unstable_by(at, f32::total_cmp).1
}

/// Cells per side of the hologram's colour pattern.
const HOLOGRAM_CELLS: u32 = 4;

/// The hologram box of the rectified card as [`HOLOGRAM_CELLS`]² cells, each cell's (r, g)
/// chromaticity (glare left out) less the box's mean, and the box's glare fraction. The flash
/// tints the whole box alike, so taking the mean away leaves the foil's own pattern of colours.
fn hologram_pattern(card: &RgbImage) -> (Vec<f32>, f32) {
    let (w, h) = (card.width() as f32, card.height() as f32);
    let [left, top, right, bottom] = HOLOGRAM_BOX;
    let (x0, y0) = ((left * w) as u32, (top * h) as u32);
    let (x1, y1) = (((right * w) as u32).min(card.width()), ((bottom * h) as u32).min(card.height()));
    if x1 <= x0 + HOLOGRAM_CELLS || y1 <= y0 + HOLOGRAM_CELLS {
        return (Vec::new(), 0.0);
    }
    let cells = HOLOGRAM_CELLS as usize;
    let mut sums = vec![[0f64; 3]; cells * cells];
    let (mut glare, mut total) = (0u32, 0u32);
    for y in y0..y1 {
        let row = ((y - y0) * HOLOGRAM_CELLS / (y1 - y0)) as usize;
        for x in x0..x1 {
            let p = card.get_pixel(x, y);
            total += 1;
            if p.0.iter().all(|c| *c >= GLARE_LEVEL) {
                glare += 1;
                continue;
            }
            let sum = f64::from(p[0]) + f64::from(p[1]) + f64::from(p[2]);
            if sum < 1.0 {
                continue;
            }
            let col = ((x - x0) * HOLOGRAM_CELLS / (x1 - x0)) as usize;
            let cell = &mut sums[row * cells + col];
            cell[0] += f64::from(p[0]) / sum;
            cell[1] += f64::from(p[1]) / sum;
            cell[2] += 1.0;
        }
    }
    // A cell that is all glare has no colour of its own: it counts as the box's mean.
    let seen: Vec<[f64; 2]> = sums.iter().filter(|c| c[2] > 0.0).map(|c| [c[0] / c[2], c[1] / c[2]]).collect();
    if seen.is_empty() {
        return (vec![0.0; 2 * cells * cells], glare as f32 / total.max(1) as f32);
    }
    let mean = [0, 1].map(|k| seen.iter().map(|c| c[k]).sum::<f64>() / seen.len() as f64);
    let pattern = sums
        .iter()
        .flat_map(|c| if c[2] > 0.0 { [c[0] / c[2] - mean[0], c[1] / c[2] - mean[1]] } else { [0.0; 2] })
        .map(|v| v as f32)
        .collect();
    (pattern, glare as f32 / total.max(1) as f32)
}

/// The card's print as a small zero-mean, unit-norm map of edge strength: the text and the
/// portrait, without the smooth light of the flash and the highlight, which move between frames.
fn structure_thumbnail(card: &RgbImage) -> Vec<f32> {
    let (w, h) = (THUMB_W * THUMB_CELL, THUMB_H * THUMB_CELL);
    let Some(small) = crate::resample::resize(card, w, h) else { return Vec::new() };
    let grey = image::imageops::grayscale(&small);
    let at = |x: u32, y: u32| f32::from(grey.get_pixel(x.clamp(0, w - 1), y.clamp(0, h - 1))[0]);
    let mut cells = vec![0f32; (THUMB_W * THUMB_H) as usize];
    for y in 0..h {
        for x in 0..w {
            let gx = at(x + 1, y) - at(x.saturating_sub(1), y);
            let gy = at(x, y + 1) - at(x, y.saturating_sub(1));
            cells[((y / THUMB_CELL) * THUMB_W + x / THUMB_CELL) as usize] += (gx * gx + gy * gy).sqrt();
        }
    }
    let mean = cells.iter().sum::<f32>() / cells.len() as f32;
    let centred: Vec<f32> = cells.iter().map(|v| v - mean).collect();
    let norm = centred.iter().map(|v| v * v).sum::<f32>().sqrt().max(f32::EPSILON);
    centred.iter().map(|v| v / norm).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A pale card with a dark stripe on a brown desk, turned by `degrees`.
    fn scene(degrees: f32) -> (RgbImage, [[f32; 2]; 4]) {
        let (cx, cy, hw, hh) = (640.0f32, 360.0f32, 400.0f32, 252.0f32);
        let (sin, cos) = degrees.to_radians().sin_cos();
        let image = RgbImage::from_fn(1280, 720, |x, y| {
            let (dx, dy) = (x as f32 - cx, y as f32 - cy);
            let (u, v) = (dx * cos + dy * sin, -dx * sin + dy * cos);
            if u.abs() <= hw && v.abs() <= hh {
                if (v + 150.0).abs() < 10.0 && u.abs() < hw - 30.0 {
                    Rgb([30, 30, 40])
                } else {
                    Rgb([190, 220, 240])
                }
            } else {
                Rgb([90 + (x % 7) as u8, 60, 40])
            }
        });
        let corner = |u: f32, v: f32| [cx + u * cos - v * sin, cy + u * sin + v * cos];
        (image, [corner(-hw, -hh), corner(hw, -hh), corner(hw, hh), corner(-hw, hh)])
    }

    #[test]
    fn a_turned_card_is_found_to_within_a_few_pixels() {
        for degrees in [0.0, 3.5, -6.0] {
            let (image, truth) = scene(degrees);
            let quad = locate_card(&image).unwrap();
            for (found, want) in quad.corners.iter().zip(truth) {
                assert!(distance(*found, want) < 1.5, "{degrees}°: {quad:?} vs {truth:?}");
            }
            let card = rectify(&image, &quad);
            // The stripe lands where it was printed: 102 px below the top on a 504 px card.
            let stripe_y = (102.0 / 504.0 * CARD_HEIGHT as f32) as u32;
            assert!(card.get_pixel(CARD_WIDTH / 2, stripe_y)[0] < 80, "{degrees}°");
            assert!(card.get_pixel(CARD_WIDTH / 2, CARD_HEIGHT / 2)[0] > 170);
        }
    }

    /// The card of `scene` seen at an angle: its corners at `truth`, whatever the sides' slants.
    fn keystone(truth: [[f32; 2]; 4]) -> RgbImage {
        let to_card = CardQuad::new(truth).unwrap().to_frame.invert();
        RgbImage::from_fn(1280, 720, |x, y| {
            let (u, v) = to_card * (x as f32, y as f32);
            if (0.0..=1.0).contains(&u) && (0.0..=1.0).contains(&v) {
                if (v - 102.0 / 504.0).abs() < 10.0 / 504.0 && (u - 0.5).abs() < 0.46 {
                    Rgb([30, 30, 40])
                } else {
                    Rgb([190, 220, 240])
                }
            } else {
                Rgb([90 + (x % 7) as u8, 60, 40])
            }
        })
    }

    #[test]
    fn a_card_held_at_an_angle_is_found_as_a_quadrilateral() {
        // The left side nearer the camera than the right, and the top tipped away.
        let truth = [[230.0, 120.0], [1010.0, 175.0], [1030.0, 560.0], [210.0, 640.0]];
        let image = keystone(truth);
        let quad = locate_card(&image).unwrap();
        for (found, want) in quad.corners.iter().zip(truth) {
            assert!(distance(*found, want) < 1.5, "{quad:?} vs {truth:?}");
        }
        let card = rectify(&image, &quad);
        let stripe_y = (102.0 / 504.0 * CARD_HEIGHT as f32) as u32;
        for x in [CARD_WIDTH / 8, CARD_WIDTH / 2, CARD_WIDTH * 7 / 8] {
            assert!(card.get_pixel(x, stripe_y)[0] < 80, "stripe at x {x}");
            assert!(card.get_pixel(x, stripe_y + 20)[0] > 170, "below the stripe at x {x}");
        }
    }

    #[test]
    fn a_thumb_over_a_third_of_a_side_does_not_move_it() {
        // A thumb the desk's colour covers the right side's middle third, 40 px into the card:
        // the border is found on it at a dozen of the side's points, off the line of the rest.
        let truth = [[230.0, 120.0], [1010.0, 175.0], [1030.0, 560.0], [210.0, 640.0]];
        let mut image = keystone(truth);
        for y in 300..430 {
            for x in 960..1060 {
                image.put_pixel(x, y, Rgb([90 + (x % 7) as u8, 60, 40]));
            }
        }
        let quad = locate_card(&image).unwrap();
        for (found, want) in quad.corners.iter().zip(truth) {
            assert!(distance(*found, want) < 1.5, "{quad:?} vs {truth:?}");
        }
    }

    #[test]
    fn an_empty_desk_holds_no_card() {
        let desk = RgbImage::from_fn(640, 480, |x, _| Rgb([90 + (x % 7) as u8, 60, 40]));
        assert!(locate_card(&desk).is_none());
        // A long thin object is not a card.
        let mut ruler = desk.clone();
        for y in 200..240 {
            for x in 20..620 {
                ruler.put_pixel(x, y, Rgb([230, 230, 230]));
            }
        }
        assert!(locate_card(&ruler).is_none());
    }

    #[test]
    fn glare_is_measured_and_its_centre_located() {
        let (mut image, _) = scene(0.0);
        for y in 300..340 {
            for x in 400..460 {
                image.put_pixel(x, y, Rgb([255, 255, 255]));
            }
        }
        let quad = locate_card(&image).unwrap();
        let card = rectify(&image, &quad);
        let measure = measure_card(&image, &quad, &card, "h");
        let [hx, hy] = measure.highlight.unwrap();
        assert!(
            (hx - (430.0 - 240.0) / 800.0).abs() < 0.02 && (hy - (320.0 - 108.0) / 504.0).abs() < 0.02,
            "{hx} {hy}"
        );
        assert!(measure.glare_fraction > 0.004 && measure.glare_fraction < 0.01, "{}", measure.glare_fraction);
        assert!((measure.area_fraction - 800.0 * 504.0 / (1280.0 * 720.0)).abs() < 0.01);
    }
}
