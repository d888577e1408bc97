//! A verification QR code read from a picture (feature `qr-image`): PNG or JPEG in, the exact bytes
//! of the code out (spec "QR codes": the payload is binary, in byte mode), then
//! [`decode_qr`](super::decode_qr) as for a payload file.

use std::io::Cursor;
use std::panic::AssertUnwindSafe;

use super::{decode_qr, image_format, ImageFormat, QrError, QrPayload};

mod scan;

use scan::{Busy, Census, CensusLimits};

/// The largest picture read by default: 40 megapixels (a phone photo is 12 to 50; a screenshot is
/// under 10). Decoding needs about 2 bytes per pixel, plus what the file's own format needs.
pub const DEFAULT_MAX_PIXELS: u64 = 40_000_000;

// The three limits below are quoted in `mxkeys qr decode --help` (src/cli/identity.rs).

/// Pictures are searched at no more than this many pixels: larger ones are scaled down (by a whole
/// factor, averaging blocks of pixels). A QR code that fills a tenth of the width of a 40-megapixel
/// photo still has 3 or more pixels per module at this size.
const SEARCH_PIXELS: usize = 2_000_000;

/// The most candidate corner squares (rqrr's "capstones") a picture may have. A QR code has 3;
/// photos of screens and paper add a few false ones. rqrr tries each capstone with every pair of
/// others in line with it, each try on a copy of the picture, so its work grows with the cube of
/// this number.
const MAX_CAPSTONES: usize = 16;

/// The most pixels rqrr may flood-fill while finding capstones (see [`scan`]): 8 times the largest
/// searched picture, about 0.2 s at the 14 ns per pixel measured on an AMD EPYC. The committed
/// pictures of QR codes need a third of one fill of the picture.
const MAX_PAINT: u64 = 8 * SEARCH_PIXELS as u64;

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
    /// More candidate corner squares than a search may try: nothing was searched.
    #[error("the image has more than {limit} shapes like the corner squares of a QR code, too many to search; crop it to the QR code")]
    TooManyCorners {
        /// The most corner squares searched.
        limit: usize,
    },
    /// So much fine detail that looking for corner squares would take too long: nothing was
    /// searched.
    #[error("the image has too much fine detail to search for a QR code (more than {limit} pixels to fill while looking for its corner squares); crop it to the QR code")]
    TooDetailed {
        /// The most pixels filled.
        limit: u64,
    },
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

/// The class of a [`QrImageError`] ([`QrImageError::kind`]), as manifests name it. Serialized
/// as [`QrImageErrorKind::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum QrImageErrorKind {
    /// `not_image`: [`QrImageError::NotAnImage`].
    #[serde(rename = "not_image")]
    NotAnImage,
    /// `too_large`: [`QrImageError::TooLarge`].
    TooLarge,
    /// `undecodable`: [`QrImageError::Undecodable`].
    Undecodable,
    /// `no_qr_code`: [`QrImageError::NoQrCode`].
    NoQrCode,
    /// `too_many_corners`: [`QrImageError::TooManyCorners`].
    TooManyCorners,
    /// `too_detailed`: [`QrImageError::TooDetailed`].
    TooDetailed,
    /// `unreadable`: [`QrImageError::Unreadable`].
    Unreadable,
    /// `several`: [`QrImageError::Several`].
    Several,
    /// `not_matrix`: [`QrImageError::NotMatrix`].
    NotMatrix,
    /// `payload`: [`QrImageError::Payload`].
    Payload,
}

impl QrImageErrorKind {
    /// The short, stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            QrImageErrorKind::NotAnImage => "not_image",
            QrImageErrorKind::TooLarge => "too_large",
            QrImageErrorKind::Undecodable => "undecodable",
            QrImageErrorKind::NoQrCode => "no_qr_code",
            QrImageErrorKind::TooManyCorners => "too_many_corners",
            QrImageErrorKind::TooDetailed => "too_detailed",
            QrImageErrorKind::Unreadable => "unreadable",
            QrImageErrorKind::Several => "several",
            QrImageErrorKind::NotMatrix => "not_matrix",
            QrImageErrorKind::Payload => "payload",
        }
    }
}

impl std::fmt::Display for QrImageErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl QrImageError {
    /// The class of the failure, for manifests.
    pub fn kind(&self) -> QrImageErrorKind {
        match self {
            QrImageError::NotAnImage(_) => QrImageErrorKind::NotAnImage,
            QrImageError::TooLarge { .. } => QrImageErrorKind::TooLarge,
            QrImageError::Undecodable { .. } => QrImageErrorKind::Undecodable,
            QrImageError::NoQrCode => QrImageErrorKind::NoQrCode,
            QrImageError::TooManyCorners { .. } => QrImageErrorKind::TooManyCorners,
            QrImageError::TooDetailed { .. } => QrImageErrorKind::TooDetailed,
            QrImageError::Unreadable { .. } => QrImageErrorKind::Unreadable,
            QrImageError::Several { .. } => QrImageErrorKind::Several,
            QrImageError::NotMatrix { .. } => QrImageErrorKind::NotMatrix,
            QrImageError::Payload(_) => QrImageErrorKind::Payload,
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

/// Where a grid is, as `x A..B, y C..D` in pixels of the picture (`scale` times those searched).
fn place(bounds: &[rqrr::Point; 4], scale: usize) -> String {
    let k = i64::try_from(scale).unwrap_or(1);
    let xs = bounds.iter().map(|p| i64::from(p.x) * k);
    let ys = bounds.iter().map(|p| i64::from(p.y) * k);
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

/// What a search did, for tests of its bounds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Trace {
    /// The size searched (after scaling down).
    pub searched: (usize, usize),
    /// Each pass: the replay of rqrr's capstone search, and how many grids rqrr returned (none
    /// when it was not run).
    pub passes: Vec<(Result<Census, Busy>, usize)>,
}

/// The limits of one search pass.
const LIMITS: CensusLimits = CensusLimits {
    capstones: MAX_CAPSTONES,
    paint: MAX_PAINT,
};

/// One pass of rqrr over a black-and-white picture (`true` is black), if [`scan::census`] finds it
/// small enough. The picture was scaled down by `scale`.
fn find_codes(
    (w, h, scale): (usize, usize, usize),
    black: &[bool],
    trace: &mut Trace,
) -> Result<Found, QrImageError> {
    let census = scan::census(w, h, black, LIMITS);
    trace.passes.push((census, 0));
    census.map_err(|b| match b {
        Busy::Capstones => QrImageError::TooManyCorners {
            limit: LIMITS.capstones,
        },
        Busy::Paint => QrImageError::TooDetailed {
            limit: LIMITS.paint,
        },
    })?;
    let mut img = rqrr::PreparedImage::prepare_from_bitmap(w, h, |x, y| {
        black.get(y * w + x).copied().unwrap_or(false)
    });
    let grids = img.detect_grids();
    if let Some(p) = trace.passes.last_mut() {
        p.1 = grids.len();
    }
    let mut found = Vec::with_capacity(grids.len());
    for g in &grids {
        let mut out = Vec::new();
        // decode_to writes byte-mode segments as they are (no text conversion).
        let r = g
            .decode_to(&mut out)
            .map(|_| out)
            .map_err(|e| e.to_string());
        found.push((place(&g.bounds, scale), r));
    }
    Ok(found)
}

/// The picture scaled down by the smallest whole factor that leaves at most `max` pixels, each the
/// average of its block: width, height, the factor, the pixels.
fn scale_down(w: usize, h: usize, grey: Vec<u8>, max: usize) -> (usize, usize, usize, Vec<u8>) {
    if w.saturating_mul(h) <= max || w == 0 {
        return (w, h, 1, grey);
    }
    let mut k = 2;
    while w.div_ceil(k).saturating_mul(h.div_ceil(k)) > max {
        k += 1;
    }
    let (sw, sh) = (w.div_ceil(k), h.div_ceil(k));
    let mut out = Vec::with_capacity(sw * sh);
    let (mut sum, mut count) = (vec![0u64; sw], vec![0u64; sw]);
    for band in grey.chunks(w.saturating_mul(k)) {
        sum.fill(0);
        count.fill(0);
        for row in band.chunks_exact(w) {
            for (x, p) in row.iter().enumerate() {
                if let (Some(s), Some(c)) = (sum.get_mut(x / k), count.get_mut(x / k)) {
                    *s += u64::from(*p);
                    *c += 1;
                }
            }
        }
        out.extend(sum.iter().zip(&count).map(|(s, c)| {
            // An average of bytes fits in a byte.
            u8::try_from((s + c / 2) / (*c).max(1)).unwrap_or(u8::MAX)
        }));
    }
    (sw, sh, k, out)
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
/// global threshold (Otsu's) first.
fn find_codes_twice(
    w: usize,
    h: usize,
    grey: Vec<u8>,
    trace: &mut Trace,
) -> Result<Found, QrImageError> {
    let (w, h, k, grey) = scale_down(w, h, grey, SEARCH_PIXELS);
    trace.searched = (w, h);
    let first = find_codes((w, h, k), &scan::threshold(w, h, &grey), trace);
    if let Ok(f) = &first {
        if f.iter().any(|(_, r)| r.is_ok()) {
            return first;
        }
    }
    let t = otsu_threshold(&grey);
    let binary: Vec<u8> = grey.iter().map(|v| if *v > t { 255 } else { 0 }).collect();
    drop(grey);
    let second = find_codes((w, h, k), &scan::threshold(w, h, &binary), trace);
    match (first, second) {
        // A read in the second pass, or something found when the first found nothing.
        (Ok(f), Ok(s)) if s.iter().any(|(_, r)| r.is_ok()) || f.is_empty() => Ok(s),
        (Err(_), Ok(s)) if !s.is_empty() => Ok(s),
        // The first pass's verdict: the second was only another look.
        (first, _) => first,
    }
}

/// The bytes of the one QR code in a PNG or JPEG picture, exactly as encoded (byte mode data is
/// not converted to text). Pictures with more than `max_pixels` pixels are refused before they are
/// decoded ([`DEFAULT_MAX_PIXELS`] is a sane value).
///
/// # Time
/// The search is bounded: pictures above 2 megapixels are searched scaled down, and a picture
/// with more than 16 candidate corner squares, or whose corner squares would take more than 16
/// million flood-filled pixels to find, is refused before the QR detector (rqrr 0.10) runs. One
/// step of rqrr cannot be bounded from outside: the spiral search for the alignment pattern of a
/// candidate code (inherited from quirc, where it is issue 162) runs for as long as the shape of
/// the candidate corner squares says, which a crafted picture can make minutes. Run this on a
/// thread you can give up on when you need a hard time limit, as `mxkeys qr decode` does.
///
/// # Errors
/// [`QrImageError`]: not PNG/JPEG, too large, not decodable, too many candidate corner squares or
/// too much fine detail to search, no QR code, several readable codes, or one that cannot be read.
pub fn qr_bytes_from_image(bytes: &[u8], max_pixels: u64) -> Result<Vec<u8>, QrImageError> {
    qr_bytes_traced(bytes, max_pixels, &mut Trace::default())
}

/// [`qr_bytes_from_image`], telling what the search did.
fn qr_bytes_traced(
    bytes: &[u8],
    max_pixels: u64,
    trace: &mut Trace,
) -> Result<Vec<u8>, QrImageError> {
    let (w, h, grey) = grey(bytes, max_pixels)?;
    // rqrr is not held to this crate's no-panic rule: a panic inside it becomes an error.
    let found = std::panic::catch_unwind(AssertUnwindSafe(|| find_codes_twice(w, h, grey, trace)))
        .map_err(|_| QrImageError::Unreadable {
            at: "an unknown place".into(),
            detail: "the QR decoder failed".into(),
        })??;
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
    fn kinds_serialize_as_their_names() {
        for (k, name) in [
            (QrImageErrorKind::NotAnImage, "not_image"),
            (QrImageErrorKind::TooLarge, "too_large"),
            (QrImageErrorKind::Undecodable, "undecodable"),
            (QrImageErrorKind::NoQrCode, "no_qr_code"),
            (QrImageErrorKind::TooManyCorners, "too_many_corners"),
            (QrImageErrorKind::TooDetailed, "too_detailed"),
            (QrImageErrorKind::Unreadable, "unreadable"),
            (QrImageErrorKind::Several, "several"),
            (QrImageErrorKind::NotMatrix, "not_matrix"),
            (QrImageErrorKind::Payload, "payload"),
        ] {
            assert_eq!((k.as_str(), k.to_string().as_str()), (name, name));
            assert_eq!(serde_json::to_value(k).unwrap(), name);
        }
    }

    #[test]
    fn png_header_size_is_checked_first() {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        png.extend_from_slice(&100_000u32.to_be_bytes());
        png.extend_from_slice(&100_000u32.to_be_bytes());
        let e = qr_bytes_from_image(&png, DEFAULT_MAX_PIXELS).unwrap_err();
        assert_eq!(e.kind(), QrImageErrorKind::TooLarge, "{e}");
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

    /// QR corner squares tiled with one white module between them, one pixel per module.
    fn tiled_finders(size: usize) -> Vec<u8> {
        let module = |x: usize, y: usize| {
            let (x, y) = (x % 8, y % 8);
            let ring = x == 0 || x == 6 || y == 0 || y == 6;
            let stone = (2..=4).contains(&x) && (2..=4).contains(&y);
            x < 7 && y < 7 && (ring || stone)
        };
        (0..size * size)
            .map(|i| if module(i % size, i / size) { 0 } else { 255 })
            .collect()
    }

    /// Black bars 1 and 3 pixels wide, one pixel apart.
    fn bars(size: usize) -> Vec<u8> {
        (0..size * size)
            .map(|i| {
                if matches!(i % size % 6, 0 | 2..=4) {
                    0
                } else {
                    255
                }
            })
            .collect()
    }

    fn noise(len: usize, mut seed: u32) -> Vec<u8> {
        (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                (seed >> 24) as u8
            })
            .collect()
    }

    fn search(w: usize, h: usize, grey: Vec<u8>) -> (Result<Found, QrImageError>, Trace) {
        let mut trace = Trace::default();
        let r = find_codes_twice(w, h, grey, &mut trace);
        (r, trace)
    }

    /// The pictures that kept rqrr busy for minutes are refused before it runs: counting stops one
    /// capstone past the limit, or at the limit of painted pixels.
    #[test]
    fn hostile_pictures_never_reach_rqrr() {
        for (size, grey, kind) in [
            (300, tiled_finders(300), QrImageErrorKind::TooManyCorners),
            (1000, tiled_finders(1000), QrImageErrorKind::TooManyCorners),
            (1000, bars(1000), QrImageErrorKind::TooDetailed),
        ] {
            let (r, trace) = search(size, size, grey);
            assert_eq!(r.unwrap_err().kind(), kind, "{size}");
            assert_eq!(trace.passes.len(), 2, "{trace:?}");
            for (census, grids) in &trace.passes {
                let busy = census.unwrap_err();
                assert_eq!(*grids, 0);
                assert_eq!(
                    busy,
                    if kind == QrImageErrorKind::TooManyCorners {
                        Busy::Capstones
                    } else {
                        Busy::Paint
                    }
                );
            }
        }
    }

    /// A 4-megapixel picture of noise is searched at 1 megapixel, with few capstones.
    #[test]
    fn noise_is_searched_scaled_down() {
        let (r, trace) = search(2000, 2000, noise(2000 * 2000, 0x9e37_79b9));
        assert_eq!(r.unwrap(), Vec::new());
        assert_eq!(trace.searched, (1000, 1000));
        assert_eq!(trace.passes.len(), 2);
        for (census, _) in &trace.passes {
            let c = census.unwrap();
            assert!(c.capstones <= MAX_CAPSTONES, "{c:?}");
            assert!(c.paint <= MAX_PAINT, "{c:?}");
        }
    }

    /// The real pictures are far inside the limits, and the replay counts their corner squares.
    #[test]
    fn real_pictures_are_within_the_limits() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("test-vectors/identity/qr-images");
        for (name, corners) in [
            ("element-web-mode0.png", 3),
            ("element-web-mode0.jpg", 3),
            ("wasm-render-mode1.png", 3),
            ("transparent-background.png", 3),
            ("two-codes.png", 6),
        ] {
            let bytes = std::fs::read(dir.join(name)).unwrap();
            let mut trace = Trace::default();
            let r = qr_bytes_traced(&bytes, DEFAULT_MAX_PIXELS, &mut trace);
            assert!(r.is_ok() || name == "two-codes.png", "{name}: {r:?}");
            let (census, grids) = trace.passes[0];
            let c = census.unwrap();
            assert_eq!((c.capstones, grids), (corners, corners / 3), "{name}");
            assert!(c.paint < MAX_PAINT / 100, "{name}: {c:?}");
        }
    }

    #[test]
    fn scale_down_averages_whole_blocks() {
        let grey: Vec<u8> = (0..6 * 4).map(|i| (i * 10) as u8).collect();
        assert_eq!(scale_down(6, 4, grey.clone(), 24), (6, 4, 1, grey.clone()));
        // 6x4 in at most 6 pixels: blocks of 2x2 (3x2 = 6).
        let (w, h, k, out) = scale_down(6, 4, grey, 6);
        assert_eq!((w, h, k), (3, 2, 2));
        assert_eq!(out, [35, 55, 75, 155, 175, 195]);
        // A partial block at the edge averages what it has.
        let (w, h, k, out) = scale_down(3, 1, vec![0, 100, 255], 2);
        assert_eq!((w, h, k, out), (2, 1, 2, vec![50, 255]));
        // A long thin picture still ends up within the limit.
        let (w, h, _, out) = scale_down(10_000, 2, vec![7; 20_000], 1000);
        assert!(w * h <= 1000 && out.len() == w * h, "{w}x{h}");
    }

    #[test]
    fn places_are_in_pixels_of_the_picture() {
        let p = |x, y| rqrr::Point { x, y };
        let bounds = [p(10, 20), p(50, 21), p(51, 60), p(9, 59)];
        assert_eq!(place(&bounds, 1), "x 9..51, y 20..60");
        assert_eq!(place(&bounds, 3), "x 27..153, y 60..180");
    }
}
