//! Finding a KTP card in a capture frame, rectifying it to ID-1 proportions, and measuring
//! it for the document voters (kenali_core::document).
//!
//! The card is found as the largest region that differs from the frame's border (the desk or
//! hand around it): the frame is scaled down, each pixel's colour distance to the border's
//! median colour is thresholded (Otsu), and the largest connected region's principal axes give
//! an oriented rectangle. This assumes the card is held roughly upright (within 45°) against a
//! background of another colour, as the capture SDK's frame guide asks; perspective is not
//! corrected (the rectangle is fitted, not a general quadrilateral).

use image::{GrayImage, Rgb, RgbImage};
use kenali_core::document::thresholds::{HIGHLIGHT_FRACTION_MIN, HOLOGRAM_BOX, PORTRAIT_BOX};
use kenali_core::document::{CardFrameMeasure, PortraitMeasure};

use crate::align::sample;
use crate::detect::Face;
use crate::engine::{FaceEngine, FaceError};

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
const THUMB_W: u32 = 64;
const THUMB_H: u32 = 40;
const THUMB_CELL: u32 = 4;
/// How far from the template's portrait edge a photo's border is searched (card pixels); a
/// border steps by at least this much (summed over R, G, B, across four pixels) along at least
/// this fraction of its length.
const EDGE_SEARCH: i32 = 40;
const EDGE_STEP_MIN: f32 = 30.0;
const EDGE_COVERAGE_MIN: f32 = 0.6;
/// Card pixels along the rectified card's border where no portrait edge is looked for.
const CARD_MARGIN: i32 = 16;

/// The card's corners in frame pixels: top-left, top-right, bottom-right, bottom-left.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CardQuad {
    pub corners: [[f32; 2]; 4],
}

impl CardQuad {
    pub fn width(&self) -> f32 {
        distance(self.corners[0], self.corners[1])
    }

    pub fn height(&self) -> f32 {
        distance(self.corners[0], self.corners[3])
    }

    /// A point given in card fractions, in frame pixels.
    pub fn point(&self, u: f32, v: f32) -> [f32; 2] {
        let [tl, tr, _, bl] = self.corners;
        [tl[0] + u * (tr[0] - tl[0]) + v * (bl[0] - tl[0]), tl[1] + u * (tr[1] - tl[1]) + v * (bl[1] - tl[1])]
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
fn otsu(values: &[f32]) -> f32 {
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
    Some(CardQuad { corners: [corner(u0, v0), corner(u1, v0), corner(u1, v1), corner(u0, v1)] })
}

/// The card as an upright CARD_WIDTH × CARD_HEIGHT image.
pub fn rectify(image: &RgbImage, quad: &CardQuad) -> RgbImage {
    let (du, dv) = (1.0 / CARD_WIDTH as f32, 1.0 / CARD_HEIGHT as f32);
    RgbImage::from_fn(CARD_WIDTH, CARD_HEIGHT, |x, y| {
        let [sx, sy] = quad.point((x as f32 + 0.5) * du, (y as f32 + 0.5) * dv);
        let v = sample(image, sx - 0.5, sy - 0.5);
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
        moire_ratio,
        thumbnail,
        hologram,
        hologram_glare,
    }
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
        return (Vec::new(), glare as f32 / total.max(1) as f32);
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

/// Position (card fraction) of the straightest edge near `expected` along one axis, where
/// `coverage(i)` is the fraction of the edge's length that steps sharply at offset `i`: a photo's
/// cut border steps all along, the outline of a face or a jacket only in part.
fn straightest_edge(expected: f32, length: u32, coverage: impl Fn(u32) -> f32) -> Option<f32> {
    let centre = (expected * length as f32).round() as i32;
    let (at, best) = (centre - EDGE_SEARCH..=centre + EDGE_SEARCH)
        // Away from the card's own border, which is a straight edge too.
        .filter(|i| *i >= CARD_MARGIN && *i + CARD_MARGIN < length as i32)
        .map(|i| (i as u32, coverage(i as u32)))
        .max_by(|a, b| a.1.total_cmp(&b.1))?;
    (best >= EDGE_COVERAGE_MIN).then_some(at as f32 / length as f32)
}

/// The photo's frame edges near the template's portrait box (left, top, right, bottom).
fn portrait_edges(card: &RgbImage) -> [Option<f32>; 4] {
    let (w, h) = card.dimensions();
    // Colour, not grey: a light photo background on the pale blue card differs in hue more
    // than in brightness.
    let at = |x: u32, y: u32| card.get_pixel(x.min(w - 1), y.min(h - 1)).0.map(f32::from);
    let b = PORTRAIT_BOX;
    // Sum across the middle of each edge, away from the corners.
    let rows = ((b[1] + 0.1 * (b[3] - b[1])) * h as f32) as u32..((b[3] - 0.1 * (b[3] - b[1])) * h as f32) as u32;
    let cols = ((b[0] + 0.1 * (b[2] - b[0])) * w as f32) as u32..((b[2] - 0.1 * (b[2] - b[0])) * w as f32) as u32;
    let steps = |a: [f32; 3], b: [f32; 3]| (0..3).map(|c| (a[c] - b[c]).abs()).sum::<f32>() >= EDGE_STEP_MIN;
    let span = |range: &std::ops::Range<u32>| range.len().max(1) as f32;
    // Across four pixels: the capture's blur and the rectification spread a cut edge.
    let vertical = |x: u32| rows.clone().filter(|&y| steps(at(x + 2, y), at(x - 2, y))).count() as f32 / span(&rows);
    let horizontal = |y: u32| cols.clone().filter(|&x| steps(at(x, y + 2), at(x, y - 2))).count() as f32 / span(&cols);
    [
        straightest_edge(b[0], w, vertical),
        straightest_edge(b[1], h, horizontal),
        straightest_edge(b[2], w, vertical),
        straightest_edge(b[3], h, horizontal),
    ]
}

/// The card's portrait, usable as a face reference.
#[derive(Debug, Clone)]
pub struct Portrait {
    pub face: Face,
    pub embedding: Vec<f32>,
}

/// The portrait on a rectified card, with its embedding when exactly one usable face is there.
pub fn measure_portrait(
    engine: &FaceEngine,
    card: &RgbImage,
) -> Result<(PortraitMeasure, Option<Portrait>), FaceError> {
    let faces = engine.detector.detect(card)?;
    let (w, h) = (card.width() as f32, card.height() as f32);
    let face_box = faces.first().map(|f| [f.bbox[0] / w, f.bbox[1] / h, f.bbox[2] / w, f.bbox[3] / h]);
    let measure = PortraitMeasure { faces: faces.len(), face_box, edges: portrait_edges(card) };
    let usable = match faces.as_slice() {
        [face] if face.width().min(face.height()) >= crate::engine::MIN_FACE_SIDE => {
            Some(Portrait { face: face.clone(), embedding: engine.embed_face(card, face)? })
        }
        _ => None,
    };
    Ok((measure, usable))
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
                assert!(distance(*found, want) < 4.0, "{degrees}°: {quad:?} vs {truth:?}");
            }
            let card = rectify(&image, &quad);
            // The stripe lands where it was printed: 102 px below the top on a 504 px card.
            let stripe_y = (102.0 / 504.0 * CARD_HEIGHT as f32) as u32;
            assert!(card.get_pixel(CARD_WIDTH / 2, stripe_y)[0] < 80, "{degrees}°");
            assert!(card.get_pixel(CARD_WIDTH / 2, CARD_HEIGHT / 2)[0] > 170);
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
