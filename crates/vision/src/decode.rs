//! Image decoding with limits: JPEG and PNG only, EXIF orientation applied, bounded size.

use std::io::Cursor;

use image::{ImageDecoder, ImageFormat, ImageReader, RgbImage};

#[derive(Debug, Clone, Copy)]
pub struct DecodeLimits {
    /// Largest encoded input.
    pub max_bytes: usize,
    /// Largest width × height after decoding (guards against decompression bombs).
    pub max_pixels: u64,
    /// Smallest side; smaller images cannot hold a usable face.
    pub min_side: u32,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self { max_bytes: 10 * 1024 * 1024, max_pixels: MAX_FRAME_PIXELS, min_side: 64 }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("image is larger than {0} bytes")]
    TooManyBytes(usize),
    #[error("not a JPEG or PNG image")]
    UnsupportedFormat,
    #[error("image is {0}×{1}, larger than the pixel limit")]
    TooManyPixels(u32, u32),
    #[error("image is {0}×{1}, smaller than the minimum side of {2} pixels")]
    TooSmall(u32, u32, u32),
    #[error("image data is corrupt: {0}")]
    Corrupt(String),
}

/// Most pixels one image may decode to: 12 MP, above any phone frame the SDKs send (a
/// 1280×720 frame is 0.9 MP) and small enough that a decoded RGB frame stays under 40 MB.
pub const MAX_FRAME_PIXELS: u64 = 12_000_000;

/// An image's width and height, read from its header alone (nothing is decoded), so that a
/// caller can refuse an oversized image or a bundle over its pixel budget before any work.
pub fn image_dimensions(bytes: &[u8]) -> Result<(u32, u32), DecodeError> {
    jpeg_or_png(bytes)?.into_dimensions().map_err(|e| DecodeError::Corrupt(e.to_string()))
}

/// A reader for `bytes` when they are a JPEG or a PNG, the only formats accepted.
fn jpeg_or_png(bytes: &[u8]) -> Result<ImageReader<Cursor<&[u8]>>, DecodeError> {
    let format = match image::guess_format(bytes) {
        Ok(ImageFormat::Jpeg) => ImageFormat::Jpeg,
        Ok(ImageFormat::Png) => ImageFormat::Png,
        _ => return Err(DecodeError::UnsupportedFormat),
    };
    let mut reader = ImageReader::new(Cursor::new(bytes));
    reader.set_format(format);
    Ok(reader)
}

/// Decodes to RGB, upright as the camera saw it.
pub fn decode_image(bytes: &[u8], limits: DecodeLimits) -> Result<RgbImage, DecodeError> {
    if bytes.len() > limits.max_bytes {
        return Err(DecodeError::TooManyBytes(limits.max_bytes));
    }
    let mut decoder = jpeg_or_png(bytes)?.into_decoder().map_err(|e| DecodeError::Corrupt(e.to_string()))?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(DecodeError::TooManyPixels(width, height));
    }
    if width.min(height) < limits.min_side {
        return Err(DecodeError::TooSmall(width, height, limits.min_side));
    }
    let orientation = decoder.orientation().map_err(|e| DecodeError::Corrupt(e.to_string()))?;
    let mut image = image::DynamicImage::from_decoder(decoder).map_err(|e| DecodeError::Corrupt(e.to_string()))?;
    image.apply_orientation(orientation);
    Ok(image.to_rgb8())
}

/// Encodes an image the server made (a rectified card) as a JPEG of `quality` (1-100).
pub fn encode_jpeg(image: &RgbImage, quality: u8) -> Result<Vec<u8>, image::ImageError> {
    let mut out = Cursor::new(Vec::new());
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality.clamp(1, 100)).encode_image(image)?;
    Ok(out.into_inner())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = RgbImage::from_pixel(width, height, image::Rgb([10, 20, 30]));
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn an_encoded_jpeg_decodes_to_the_same_size() {
        let image = RgbImage::from_pixel(320, 200, image::Rgb([200, 120, 40]));
        let jpeg = encode_jpeg(&image, 85).unwrap();
        assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
        let back = decode_image(&jpeg, DecodeLimits::default()).unwrap();
        assert_eq!(back.dimensions(), (320, 200));
        assert!(back.get_pixel(10, 10).0.iter().zip([200u8, 120, 40]).all(|(a, b)| a.abs_diff(b) < 6));
    }

    #[test]
    fn decodes_png_and_refuses_what_is_not_an_image() {
        let image = decode_image(&png(100, 80), DecodeLimits::default()).unwrap();
        assert_eq!(image.dimensions(), (100, 80));
        assert_eq!(decode_image(b"hello world", DecodeLimits::default()), Err(DecodeError::UnsupportedFormat));
        let mut truncated = png(100, 80);
        truncated.truncate(60);
        assert!(matches!(decode_image(&truncated, DecodeLimits::default()), Err(DecodeError::Corrupt(_))));
    }

    #[test]
    fn limits_hold() {
        let limits = DecodeLimits { max_bytes: 100, ..DecodeLimits::default() };
        assert_eq!(decode_image(&png(100, 80), limits), Err(DecodeError::TooManyBytes(100)));
        let limits = DecodeLimits { max_pixels: 1000, ..DecodeLimits::default() };
        assert_eq!(decode_image(&png(100, 80), limits), Err(DecodeError::TooManyPixels(100, 80)));
        assert_eq!(decode_image(&png(30, 80), DecodeLimits::default()), Err(DecodeError::TooSmall(30, 80, 64)));
    }

    #[test]
    fn dimensions_come_from_the_header() {
        assert_eq!(image_dimensions(&png(100, 80)), Ok((100, 80)));
        assert_eq!(image_dimensions(b"hello world"), Err(DecodeError::UnsupportedFormat));
    }
}
