//! Face alignment: a similarity transform (rotation, uniform scale, translation) that maps the
//! 5 detected landmarks onto ArcFace's reference points, estimated by least squares
//! (Umeyama's method, as insightface's `norm_crop`), then a bilinear warp into 112×112.

use image::{Rgb, RgbImage};

pub const ARCFACE_SIZE: u32 = 112;

/// ArcFace's canonical landmark positions in a 112×112 crop.
pub const ARCFACE_TEMPLATE: [[f32; 2]; 5] =
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]];

/// `[a, -b, tx; b, a, ty]`: maps source points to destination points.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Similarity {
    pub a: f32,
    pub b: f32,
    pub tx: f32,
    pub ty: f32,
}

impl Similarity {
    pub fn apply(&self, [x, y]: [f32; 2]) -> [f32; 2] {
        [self.a * x - self.b * y + self.tx, self.b * x + self.a * y + self.ty]
    }

    pub fn inverse(&self) -> Option<Similarity> {
        let det = self.a * self.a + self.b * self.b;
        if det < 1e-12 {
            return None;
        }
        let (a, b) = (self.a / det, -self.b / det);
        // x = R⁻¹ (y − t)
        let tx = -(a * self.tx - b * self.ty);
        let ty = -(b * self.tx + a * self.ty);
        Some(Similarity { a, b, tx, ty })
    }

    /// Least-squares similarity from `src` to `dst` (Umeyama 1991, without reflection).
    pub fn estimate(src: &[[f32; 2]], dst: &[[f32; 2]]) -> Option<Similarity> {
        let n = src.len().min(dst.len());
        if n < 2 {
            return None;
        }
        let nf = n as f64;
        let mean = |pts: &[[f32; 2]]| {
            let (sx, sy) = pts[..n].iter().fold((0.0, 0.0), |(x, y), p| (x + f64::from(p[0]), y + f64::from(p[1])));
            (sx / nf, sy / nf)
        };
        let (msx, msy) = mean(src);
        let (mdx, mdy) = mean(dst);
        // For 2-D similarities the optimum has closed form: a = Σ(x·u + y·v)/Σ|x|², b = Σ(x·v − y·u)/Σ|x|².
        let (mut dot, mut cross, mut norm) = (0.0, 0.0, 0.0);
        for i in 0..n {
            let (x, y) = (f64::from(src[i][0]) - msx, f64::from(src[i][1]) - msy);
            let (u, v) = (f64::from(dst[i][0]) - mdx, f64::from(dst[i][1]) - mdy);
            dot += x * u + y * v;
            cross += x * v - y * u;
            norm += x * x + y * y;
        }
        if norm < 1e-9 {
            return None;
        }
        let (a, b) = (dot / norm, cross / norm);
        let tx = mdx - (a * msx - b * msy);
        let ty = mdy - (b * msx + a * msy);
        Some(Similarity { a: a as f32, b: b as f32, tx: tx as f32, ty: ty as f32 })
    }
}

/// Bilinear sample with black outside the image.
pub(crate) fn sample(image: &RgbImage, x: f32, y: f32) -> [f32; 3] {
    let (w, h) = image.dimensions();
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let mut out = [0f32; 3];
    for (dx, dy, weight) in
        [(0, 0, (1.0 - fx) * (1.0 - fy)), (1, 0, fx * (1.0 - fy)), (0, 1, (1.0 - fx) * fy), (1, 1, fx * fy)]
    {
        let (px, py) = (x0 as i64 + dx, y0 as i64 + dy);
        if px < 0 || py < 0 || px >= i64::from(w) || py >= i64::from(h) || weight == 0.0 {
            continue;
        }
        let Rgb(p) = *image.get_pixel(px as u32, py as u32);
        for c in 0..3 {
            out[c] += weight * f32::from(p[c]);
        }
    }
    out
}

/// Warps `image` so that `landmarks` land on the ArcFace template, into a 112×112 crop.
pub fn align_arcface(image: &RgbImage, landmarks: &[[f32; 2]; 5]) -> Option<RgbImage> {
    let forward = Similarity::estimate(landmarks, &ARCFACE_TEMPLATE)?;
    let inverse = forward.inverse()?;
    let mut out = RgbImage::new(ARCFACE_SIZE, ARCFACE_SIZE);
    for (x, y, pixel) in out.enumerate_pixels_mut() {
        let [sx, sy] = inverse.apply([x as f32, y as f32]);
        let v = sample(image, sx, sy);
        *pixel = Rgb([v[0].round() as u8, v[1].round() as u8, v[2].round() as u8]);
    }
    Some(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_known_similarity_is_recovered_exactly() {
        let truth = Similarity { a: 0.8, b: 0.3, tx: 12.0, ty: -4.0 };
        let src = [[10.0, 20.0], [50.0, 22.0], [30.0, 40.0], [15.0, 60.0], [45.0, 58.0]];
        let dst: Vec<_> = src.iter().map(|p| truth.apply(*p)).collect();
        let found = Similarity::estimate(&src, &dst).unwrap();
        for (got, want) in [(found.a, truth.a), (found.b, truth.b), (found.tx, truth.tx), (found.ty, truth.ty)] {
            assert!((got - want).abs() < 1e-3, "{found:?}");
        }
        let back = found.inverse().unwrap().apply(found.apply([7.0, 9.0]));
        assert!((back[0] - 7.0).abs() < 1e-3 && (back[1] - 9.0).abs() < 1e-3);
    }

    #[test]
    fn the_template_maps_onto_itself() {
        let image = RgbImage::from_fn(112, 112, |x, y| Rgb([x as u8, y as u8, 7]));
        let aligned = align_arcface(&image, &ARCFACE_TEMPLATE).unwrap();
        assert_eq!(aligned.get_pixel(40, 60), image.get_pixel(40, 60));
    }

    #[test]
    fn degenerate_landmarks_do_not_align() {
        assert!(align_arcface(&RgbImage::new(10, 10), &[[5.0, 5.0]; 5]).is_none());
    }
}
