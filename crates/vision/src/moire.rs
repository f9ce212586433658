//! Screen-replay detection in the frequency domain. A face filmed off a display carries the
//! display's pixel grid, aliased by the camera into moiré: a few strong, isolated peaks in the
//! 2-D spectrum. A real face's spectrum falls off smoothly with frequency. The measure is the
//! largest spectral magnitude in the mid/high band divided by the mean magnitude at the same
//! radius (so the natural 1/f fall-off cancels out).

use image::RgbImage;
use rustfft::num_complex::Complex;
use rustfft::FftPlanner;

use crate::detect::Face;

/// Side of the square patch analysed.
pub const PATCH: usize = 128;
/// The band searched for peaks, in cycles per patch: below is face structure, above is
/// mostly JPEG noise.
pub const BAND: std::ops::RangeInclusive<usize> = 12..=56;

/// Peak-to-radial-mean ratio of the face's spectrum (see module docs); `None` when the face
/// box is too small to analyse.
pub fn moire_peak_ratio(image: &RgbImage, face: &Face) -> Option<f32> {
    region_peak_ratio(image, [face.bbox[0], face.bbox[1], face.width(), face.height()])
}

/// The same measure over any region `[x, y, width, height]` of the image.
pub fn region_peak_ratio(image: &RgbImage, region: [f32; 4]) -> Option<f32> {
    let (x, y) = (region[0].max(0.0) as u32, region[1].max(0.0) as u32);
    if x >= image.width() || y >= image.height() {
        return None;
    }
    let w = (region[2] as u32).min(image.width() - x);
    let h = (region[3] as u32).min(image.height() - y);
    if w < 32 || h < 32 {
        return None;
    }
    let region = [f64::from(x), f64::from(y), f64::from(w), f64::from(h)];
    let grey = image::imageops::grayscale(&crate::resample::resize_region(image, region, PATCH as u32, PATCH as u32)?);
    let mean = grey.pixels().map(|p| f32::from(p[0])).sum::<f32>() / (PATCH * PATCH) as f32;
    // Hann window, so the patch's borders do not paint a cross into the spectrum.
    let hann = |i: usize| 0.5 - 0.5 * (2.0 * std::f32::consts::PI * i as f32 / (PATCH - 1) as f32).cos();
    let mut data: Vec<Complex<f32>> = (0..PATCH * PATCH)
        .map(|i| {
            let (row, col) = (i / PATCH, i % PATCH);
            let v = f32::from(grey.get_pixel(col as u32, row as u32)[0]) - mean;
            Complex::new(v * hann(row) * hann(col), 0.0)
        })
        .collect();
    let fft = FftPlanner::new().plan_fft_forward(PATCH);
    for row in data.chunks_mut(PATCH) {
        fft.process(row);
    }
    let mut column = vec![Complex::new(0.0, 0.0); PATCH];
    for col in 0..PATCH {
        for row in 0..PATCH {
            column[row] = data[row * PATCH + col];
        }
        fft.process(&mut column);
        for row in 0..PATCH {
            data[row * PATCH + col] = column[row];
        }
    }
    let half = PATCH / 2;
    let mut radial_sum = vec![0f32; half + 1];
    let mut radial_count = vec![0u32; half + 1];
    let mut cells = Vec::new();
    for row in 0..PATCH {
        for col in 0..PATCH {
            let fy = if row > half { row as i64 - PATCH as i64 } else { row as i64 };
            let fx = if col > half { col as i64 - PATCH as i64 } else { col as i64 };
            let radius = ((fx * fx + fy * fy) as f32).sqrt().round() as usize;
            if BAND.contains(&radius) {
                let magnitude = data[row * PATCH + col].norm();
                radial_sum[radius] += magnitude;
                radial_count[radius] += 1;
                cells.push((radius, magnitude));
            }
        }
    }
    cells
        .iter()
        .map(|(r, m)| m / (radial_sum[*r] / radial_count[*r].max(1) as f32).max(f32::EPSILON))
        .fold(None, |best: Option<f32>, ratio| Some(best.map_or(ratio, |b| b.max(ratio))))
}
