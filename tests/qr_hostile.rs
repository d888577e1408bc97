//! `mxkeys qr decode` on pictures made to be slow to search for a QR code (security review: "qr
//! decode CPU exhaustion"; test-vectors/qr-hostile/README.md has the timings). Before the search
//! was bounded they took from 13 s to more than 5 minutes; now each is decided with exit 1 and one
//! `error:` line. The bound itself is asserted structurally by the library's unit tests
//! (src/identity/qr_image.rs: what was searched, and that rqrr never ran on these), not by timing.
//!
//! The generators are below; `cargo test --test qr_hostile -- --ignored write_pictures` rewrites
//! test-vectors/qr-hostile/*.png from them, and `committed_pictures_are_the_generators` checks the
//! committed files have the same pixels.

#![cfg(feature = "qr-image")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::PathBuf;

use common::*;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{GrayImage, ImageEncoder, Luma};

/// A QR corner square ("finder pattern") on a grid of 8x8 modules: a 7x7 black ring, a white ring,
/// a 3x3 black centre (1:1:3:1:1 across), then one white module before the next.
fn finder_module(x: u32, y: u32) -> bool {
    let (x, y) = (x % 8, y % 8);
    let ring = x == 0 || x == 6 || y == 0 || y == 6;
    let stone = (2..=4).contains(&x) && (2..=4).contains(&y);
    x < 7 && y < 7 && (ring || stone)
}

/// Corner squares tiled over the whole picture, one pixel per module: thousands of candidate
/// corners, each of which rqrr tried with every pair of others in line with it.
fn tiled_finders(size: u32) -> GrayImage {
    GrayImage::from_fn(size, size, |x, y| {
        Luma([if finder_module(x, y) { 0 } else { 255 }])
    })
}

/// Black bars 1 and 3 pixels wide, alternating, one white pixel apart, as tall as the picture:
/// every row holds hundreds of 1:1:3:1:1 patterns over hundreds of regions, more than rqrr's cache
/// of 251 painted regions, so it repaints whole bars for every row.
fn bars(size: u32) -> GrayImage {
    GrayImage::from_fn(size, size, |x, _| {
        // Period 6: black 1, white 1, black 3, white 1.
        Luma([if matches!(x % 6, 0 | 2..=4) { 0 } else { 255 }])
    })
}

/// Grey noise from a fixed seed (xorshift32).
fn noise(w: u32, h: u32, mut seed: u32) -> GrayImage {
    GrayImage::from_fn(w, h, |_, _| {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        Luma([(seed >> 24) as u8])
    })
}

fn png(img: &GrayImage) -> Vec<u8> {
    let mut out = Vec::new();
    PngEncoder::new_with_quality(&mut out, CompressionType::Best, FilterType::Adaptive)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::L8,
        )
        .unwrap();
    out
}

/// The committed pictures and how each is made.
fn committed() -> Vec<(&'static str, GrayImage)> {
    vec![
        ("tiled-finders-300.png", tiled_finders(300)),
        ("tiled-finders-1000.png", tiled_finders(1000)),
        ("bars-1000.png", bars(1000)),
    ]
}

fn dir() -> PathBuf {
    vector_dir("qr-hostile")
}

/// The noise picture, made at run time (4 MB as a PNG).
fn noise_2000() -> GrayImage {
    noise(2000, 2000, 0x9e37_79b9)
}

/// Writes the committed pictures, and the noise picture and the 40-megapixel photo into
/// target/tmp (to time by hand).
#[test]
#[ignore = "writes test-vectors/qr-hostile"]
fn write_pictures() {
    for (name, img) in committed() {
        std::fs::write(dir().join(name), png(&img)).unwrap();
    }
    let noise = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("qr-hostile-noise-2000.png");
    std::fs::write(&noise, png(&noise_2000())).unwrap();
    eprintln!("wrote {}", noise.display());
    let photo = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("qr-hostile-photo-40mp.jpg");
    std::fs::write(&photo, photo_40mp(730)).unwrap();
    eprintln!("wrote {}", photo.display());
}

#[test]
fn committed_pictures_are_the_generators() {
    for (name, img) in committed() {
        let bytes = std::fs::read(dir().join(name)).unwrap();
        assert!(bytes.len() < 8 << 10, "{name}: {} bytes", bytes.len());
        let got = image::load_from_memory(&bytes).unwrap().into_luma8();
        assert!(got == img, "{name} is not what its generator makes");
    }
}

/// Exit 1, one `error:` line containing `needle`, nothing on standard output.
fn refused(picture: &std::path::Path, needle: &str) {
    let o = mxkeys(&["qr", "decode", s(picture)], &[]);
    assert_fails(&o, 1, needle);
    assert!(
        o.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(stderr(&o).contains(s(picture)), "{}", stderr(&o));
}

#[test]
fn tiled_finder_patterns_are_refused_unsearched() {
    for name in ["tiled-finders-300.png", "tiled-finders-1000.png"] {
        refused(
            &dir().join(name),
            "shapes like the corner squares of a QR code, too many to search; crop it to the QR code",
        );
    }
}

#[test]
fn bars_are_refused_unsearched() {
    refused(
        &dir().join("bars-1000.png"),
        "too much fine detail to search for a QR code",
    );
}

#[test]
fn noise_is_searched_small_and_has_no_code() {
    let tmp = tmpdir();
    let file = tmp.path().join("noise-2000.png");
    std::fs::write(&file, png(&noise_2000())).unwrap();
    refused(&file, "no QR code found in the image");
}

/// A 40-megapixel JPEG (7300x5470) with Element Web's mode-0 code enlarged to `side` pixels on a
/// light, noisy background.
fn photo_40mp(side: u32) -> Vec<u8> {
    let code = image::open(vector_dir("identity").join("qr-images/element-web-mode0.png"))
        .unwrap()
        .into_luma8();
    let (w, h) = (7300, 5470);
    let big = image::imageops::resize(&code, side, side, image::imageops::Nearest);
    let mut img = noise(w, h, 7);
    for p in img.pixels_mut() {
        p.0[0] = 160 + p.0[0] / 4;
    }
    image::imageops::overlay(&mut img, &big, 2900, 1900);
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 85)
        .write_image(img.as_raw(), w, h, image::ExtendedColorType::L8)
        .unwrap();
    jpeg
}

/// The search scales large pictures down (to 1460x1094 here): a code a tenth as wide as a
/// 40-megapixel photo (730 pixels, 3.6 pixels per module once scaled) is still read.
#[test]
fn code_in_a_40_megapixel_picture_is_read() {
    let tmp = tmpdir();
    let file = tmp.path().join("big.jpg");
    std::fs::write(&file, photo_40mp(730)).unwrap();
    // Not a test of time: the debug binary on a busy machine may take longer than the default.
    let o = mxkeys(&["qr", "decode", s(&file), "--time-limit", "600"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("mode:           0"));
}
