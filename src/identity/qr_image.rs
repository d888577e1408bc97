//! A verification QR code read from a picture (feature `qr-image`): PNG or JPEG in, the exact bytes
//! of the code out (spec "QR codes": the payload is binary, in byte mode), then
//! [`decode_qr`](super::decode_qr) as for a payload file.

use std::io::Cursor;

use super::{decode_qr, image_format, ImageFormat, QrError, QrPayload};

/// The largest picture read by default: 40 megapixels (a phone photo is 12 to 50; a screenshot is
/// under 10). Decoding needs about 2 bytes per pixel, plus what the file's own format needs.
pub const DEFAULT_MAX_PIXELS: u64 = 40_000_000;

/// Why no verification payload came out of a picture.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QrImageError {
    /// Neither PNG nor JPEG (by the first bytes).
    #[error("not a PNG or JPEG image (it starts with {0})")]
    NotAnImage(String),
    /// More pixels than allowed; nothing was decoded.
    #[error("the image is {width}x{height} pixels, above the limit of {limit} pixels; crop or scale it down to the QR code")]
    TooLarge {
        /// Width the header declares.
        width: u32,
        /// Height the header declares.
        height: u32,
        /// The limit in pixels.
        limit: u64,
    },
    /// The PNG or JPEG decoder refused the file (truncated, corrupt, unsupported).
    #[error("the {format} image cannot be decoded ({detail}); copy or export the picture again")]
    Undecodable {
        /// `PNG` or `JPEG`.
        format: &'static str,
        /// What the decoder said.
        detail: String,
    },
    /// Nothing that looks like a QR code.
    #[error("no QR code found in the image; photograph the code straight on so it fills most of the picture, or crop to it")]
    NoQrCode,
    /// One or more QR codes were found but none could be read.
    #[error("a QR code was found at {at} but cannot be read ({detail}); take a sharper, straighter picture")]
    Unreadable {
        /// Where, in pixels.
        at: String,
        /// What the QR decoder said.
        detail: String,
    },
    /// More than one readable QR code.
    #[error("the image holds {count} QR codes: {list}; crop the image to the one to decode")]
    Several {
        /// How many were read.
        count: usize,
        /// Each one's position and first bytes.
        list: String,
    },
    /// A readable QR code that is not a Matrix verification code.
    #[error("the QR code holds {len} bytes starting {start}, not a Matrix verification payload (those start with \"MATRIX\")")]
    NotMatrix {
        /// Length of the code's data.
        len: usize,
        /// The first bytes, quoted and escaped.
        start: String,
    },
    /// Starts with `MATRIX` but is malformed.
    #[error("the QR code is not a valid verification payload: {0}")]
    Payload(QrError),
}

impl QrImageError {
    /// Short name for manifests.
    pub fn kind(&self) -> &'static str {
        match self {
            QrImageError::NotAnImage(_) => "not_image",
            QrImageError::TooLarge { .. } => "too_large",
            QrImageError::Undecodable { .. } => "undecodable",
            QrImageError::NoQrCode => "no_qr_code",
            QrImageError::Unreadable { .. } => "unreadable",
            QrImageError::Several { .. } => "several",
            QrImageError::NotMatrix { .. } => "not_matrix",
            QrImageError::Payload(_) => "payload",
        }
    }
}

/// The first bytes of `b`, quoted and escaped, for messages.
fn preview(b: &[u8]) -> String {
    let head = b.get(..24).unwrap_or(b);
    let more = if head.len() < b.len() { "..." } else { "" };
    format!("\"{}\"{more}", head.escape_ascii())
}

/// Width and height from a PNG's IHDR, read before any decoder sees the file, so that a header
/// declaring a huge image is refused even when the rest of the file is missing.
fn png_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    let ihdr = bytes.get(8..24)?;
    let (len_tag, dims) = ihdr.split_first_chunk::<8>()?;
    if len_tag.get(4..) != Some(b"IHDR".as_slice()) {
        return None;
    }
    let (w, h) = dims.split_first_chunk::<4>()?;
    Some((
        u32::from_be_bytes(*w),
        u32::from_be_bytes(h.try_into().ok()?),
    ))
}

fn check_size(width: u32, height: u32, limit: u64) -> Result<(), QrImageError> {
    if u64::from(width) * u64::from(height) > limit {
        return Err(QrImageError::TooLarge {
            width,
            height,
            limit,
        });
    }
    Ok(())
}

/// Decode the picture to grey levels over a white background (transparent pixels count as white,
/// as a viewer shows them).
fn grey(bytes: &[u8], max_pixels: u64) -> Result<(usize, usize, Vec<u8>), QrImageError> {
    let format = image_format(bytes).ok_or_else(|| QrImageError::NotAnImage(preview(bytes)))?;
    let (name, fmt) = match format {
        ImageFormat::Png => ("PNG", image::ImageFormat::Png),
        ImageFormat::Jpeg => ("JPEG", image::ImageFormat::Jpeg),
    };
    let undecodable = |e: image::ImageError| QrImageError::Undecodable {
        format: name,
        detail: e.to_string().replace('\n', " "),
    };
    // zune-jpeg pads a cut-off JPEG with grey and reports success; without an end-of-image marker
    // anywhere (FF D9 cannot occur inside entropy-coded data) the file is certainly incomplete.
    if format == ImageFormat::Jpeg && !bytes.windows(2).any(|w| w == [0xff, 0xd9]) {
        return Err(QrImageError::Undecodable {
            format: name,
            detail: "the file ends before the JPEG end-of-image marker: it is truncated".into(),
        });
    }
    if let Some((w, h)) = png_dimensions(bytes) {
        check_size(w, h, max_pixels)?;
    }
    let (w, h) = image::ImageReader::with_format(Cursor::new(bytes), fmt)
        .into_dimensions()
        .map_err(undecodable)?;
    check_size(w, h, max_pixels)?;
    let mut reader = image::ImageReader::with_format(Cursor::new(bytes), fmt);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(w);
    limits.max_image_height = Some(h);
    // The largest output buffer (16-bit RGBA) plus the decoders' own state.
    limits.max_alloc = Some(max_pixels.saturating_mul(8).saturating_add(64 << 20));
    reader.limits(limits);
    let img = reader.decode().map_err(undecodable)?.into_luma_alpha8();
    let (w, h) = (img.width() as usize, img.height() as usize);
    let grey = img
        .pixels()
        .map(|p| {
            let [l, a] = p.0;
            let (l, a) = (u32::from(l), u32::from(a));
            // `l * a + 255 * (255 - a)` is at most 255 * 255, so the quotient fits in a u8.
            u8::try_from((l * a + 255 * (255 - a) + 127) / 255).unwrap_or(u8::MAX)
        })
        .collect();
    Ok((w, h, grey))
}

/// Where a grid is, as `x A..B, y C..D` in pixels.
fn place(bounds: &[rqrr::Point; 4]) -> String {
    let xs = bounds.iter().map(|p| p.x);
    let ys = bounds.iter().map(|p| p.y);
    format!(
        "x {}..{}, y {}..{}",
        xs.clone().min().unwrap_or(0),
        xs.max().unwrap_or(0),
        ys.clone().min().unwrap_or(0),
        ys.max().unwrap_or(0)
    )
}

/// What each grid rqrr found decodes to.
type Found = Vec<(String, Result<Vec<u8>, String>)>;

fn find_codes(w: usize, h: usize, grey: &[u8]) -> Found {
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| {
        grey.get(y * w + x).copied().unwrap_or(u8::MAX)
    });
    img.detect_grids()
        .iter()
        .map(|g| {
            let mut out = Vec::new();
            // decode_to writes byte-mode segments as they are (no text conversion).
            let r = g
                .decode_to(&mut out)
                .map(|_| out)
                .map_err(|e| e.to_string());
            (place(&g.bounds), r)
        })
        .collect()
}

/// Otsu's threshold: the grey level that best splits the histogram into two classes.
fn otsu_threshold(grey: &[u8]) -> u8 {
    let mut hist = [0u64; 256];
    for v in grey {
        if let Some(c) = hist.get_mut(usize::from(*v)) {
            *c += 1;
        }
    }
    let total = grey.len() as f64;
    let sum: f64 = hist
        .iter()
        .zip(0u32..)
        .map(|(c, i)| f64::from(i) * *c as f64)
        .sum();
    let (mut sum_b, mut w_b, mut best, mut threshold) = (0.0, 0.0, 0.0, 0u8);
    for (c, t) in hist.iter().zip(0u8..=u8::MAX) {
        w_b += *c as f64;
        let w_f = total - w_b;
        if w_b == 0.0 || w_f == 0.0 {
            continue;
        }
        sum_b += f64::from(t) * *c as f64;
        let (m_b, m_f) = (sum_b / w_b, (sum - sum_b) / w_f);
        let between = w_b * w_f * (m_b - m_f) * (m_b - m_f);
        if between > best {
            best = between;
            threshold = t;
        }
    }
    threshold
}

/// rqrr's own threshold follows the light along each row; on photos with a dark surround it can
/// miss the finder patterns, so a picture where nothing was read gets a second pass with one
/// global threshold.
fn find_codes_twice(w: usize, h: usize, grey: &[u8]) -> Found {
    let first = find_codes(w, h, grey);
    if first.iter().any(|(_, r)| r.is_ok()) {
        return first;
    }
    let t = otsu_threshold(grey);
    let binary: Vec<u8> = grey.iter().map(|v| if *v > t { 255 } else { 0 }).collect();
    let second = find_codes(w, h, &binary);
    if second.iter().any(|(_, r)| r.is_ok()) || first.is_empty() {
        second
    } else {
        first
    }
}

/// The bytes of the one QR code in a PNG or JPEG picture, exactly as encoded (byte mode data is
/// not converted to text). Pictures with more than `max_pixels` pixels are refused before they are
/// decoded ([`DEFAULT_MAX_PIXELS`] is a sane value).
///
/// # Errors
/// [`QrImageError`]: not PNG/JPEG, too large, not decodable, no QR code, several readable codes,
/// or one that cannot be read.
pub fn qr_bytes_from_image(bytes: &[u8], max_pixels: u64) -> Result<Vec<u8>, QrImageError> {
    let (w, h, grey) = grey(bytes, max_pixels)?;
    // rqrr is not held to this crate's no-panic rule: a panic inside it becomes an error.
    let found = std::panic::catch_unwind(|| find_codes_twice(w, h, &grey)).map_err(|_| {
        QrImageError::Unreadable {
            at: "an unknown place".into(),
            detail: "the QR decoder failed".into(),
        }
    })?;
    let mut read: Vec<(String, Vec<u8>)> = Vec::new();
    let mut failed = None;
    for (at, r) in found {
        match r {
            Ok(b) => read.push((at, b)),
            Err(detail) => failed = failed.or(Some((at, detail))),
        }
    }
    match (read.len(), failed) {
        (0, None) => Err(QrImageError::NoQrCode),
        (0, Some((at, detail))) => Err(QrImageError::Unreadable { at, detail }),
        (1, _) => Ok(read.pop().map(|(_, b)| b).unwrap_or_default()),
        (count, _) => {
            let list = read
                .iter()
                .enumerate()
                .map(|(i, (at, b))| {
                    let what = if decode_qr(b).is_ok() {
                        "a Matrix verification code".to_owned()
                    } else {
                        format!("starts {}", preview(b))
                    };
                    format!("#{} at {at} ({what})", i + 1)
                })
                .collect::<Vec<_>>()
                .join(", ");
            Err(QrImageError::Several { count, list })
        }
    }
}

/// [`qr_bytes_from_image`], then [`decode_qr`](super::decode_qr) on the bytes.
///
/// # Errors
/// [`QrImageError`]; a code that does not start with `MATRIX` is
/// [`QrImageError::NotMatrix`], one that does but is malformed [`QrImageError::Payload`].
pub fn decode_qr_image(bytes: &[u8], max_pixels: u64) -> Result<QrPayload, QrImageError> {
    let data = qr_bytes_from_image(bytes, max_pixels)?;
    decode_qr(&data).map_err(|e| match e {
        QrError::Header => QrImageError::NotMatrix {
            len: data.len(),
            start: preview(&data),
        },
        other => QrImageError::Payload(other),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_header_size_is_checked_first() {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        png.extend_from_slice(&100_000u32.to_be_bytes());
        png.extend_from_slice(&100_000u32.to_be_bytes());
        let e = qr_bytes_from_image(&png, DEFAULT_MAX_PIXELS).unwrap_err();
        assert_eq!(e.kind(), "too_large", "{e}");
        assert!(e.to_string().contains("100000x100000"), "{e}");
    }

    #[test]
    fn not_an_image() {
        let e = qr_bytes_from_image(b"GIF89a", DEFAULT_MAX_PIXELS).unwrap_err();
        assert_eq!(
            e.to_string(),
            "not a PNG or JPEG image (it starts with \"GIF89a\")"
        );
    }
}
