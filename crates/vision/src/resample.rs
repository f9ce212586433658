//! Downscaling through SIMD convolution (`fast_image_resize`). The filter is the triangle
//! (bilinear) kernel widened by the scale factor, the same as `image`'s `FilterType::Triangle`,
//! at a fraction of its cost, and a crop of the source is read in place instead of copied.

use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};
use image::RgbImage;

/// The region `[left, top, width, height]` of `image` (fractional pixels allowed) resized to
/// `width × height`; `None` for an empty or out-of-bounds region.
pub fn resize_region(image: &RgbImage, region: [f64; 4], width: u32, height: u32) -> Option<RgbImage> {
    let [left, top, w, h] = region;
    let inside = left >= 0.0
        && top >= 0.0
        && w >= 1.0
        && h >= 1.0
        && left + w <= f64::from(image.width())
        && top + h <= f64::from(image.height());
    if !inside || width == 0 || height == 0 {
        return None;
    }
    let mut out = RgbImage::new(width, height);
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear)).crop(left, top, w, h);
    Resizer::new().resize(image, &mut out, &options).ok()?;
    Some(out)
}

/// The whole of `image` resized to `width × height`.
pub fn resize(image: &RgbImage, width: u32, height: u32) -> Option<RgbImage> {
    resize_region(image, [0.0, 0.0, f64::from(image.width()), f64::from(image.height())], width, height)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_flat_region_stays_flat_and_a_crop_reads_its_region() {
        let image =
            RgbImage::from_fn(200, 100, |x, _| if x < 100 { image::Rgb([10, 20, 30]) } else { image::Rgb([200; 3]) });
        // The filter reads a few pixels around the region too: stay clear of the edge at x = 100.
        let left = resize_region(&image, [0.0, 0.0, 80.0, 100.0], 16, 20).unwrap();
        assert!(left.pixels().all(|p| p.0 == [10, 20, 30]));
        let whole = resize(&image, 20, 10).unwrap();
        assert_eq!(whole.dimensions(), (20, 10));
        assert_eq!(whole.get_pixel(19, 5).0, [200; 3]);
    }

    #[test]
    fn regions_outside_the_image_are_refused() {
        let image = RgbImage::new(10, 10);
        assert!(resize_region(&image, [5.0, 5.0, 6.0, 2.0], 4, 4).is_none());
        assert!(resize_region(&image, [-1.0, 0.0, 4.0, 4.0], 4, 4).is_none());
        assert!(resize(&image, 0, 4).is_none());
    }
}
