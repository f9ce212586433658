//! Per-stage timings of the face pipeline on a 720p selfie-sized frame, one thread: decode,
//! detect, align, embed, passive anti-spoof (crop and model), photometry, moiré, the coarse
//! detection and refinement and the appearance that bundles use; then `measure_frames` on a
//! 5-frame bundle as a step-up runs it, on all cores. Median and p99 of N runs.
//!
//! `cargo run --release -p kenali-vision --example bench_faces -- [MODELS_DIR] [RUNS]`

use std::path::PathBuf;
use std::time::Instant;

use kenali_vision::align::align_arcface;
use kenali_vision::detect::COARSE_LONG_SIDE;
use kenali_vision::liveness::liveness_crop;
use kenali_vision::measure::{face_appearance, face_photometry};
use kenali_vision::models::{fetch, FACE_PACK};
use kenali_vision::moire::moire_peak_ratio;
use kenali_vision::{decode_image, DecodeLimits, FaceEngine};

fn percentile(samples: &mut [f64], p: f64) -> f64 {
    samples.sort_by(f64::total_cmp);
    let index = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[index]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().map(PathBuf::from).unwrap_or_else(|| PathBuf::from("target/test-models"));
    let runs: usize = args.next().map(|r| r.parse()).transpose()?.unwrap_or(30);
    fetch(&dir, &FACE_PACK, &mut |line| eprintln!("models: {line}"))?;
    let engine = FaceEngine::load(&dir)?;
    // A 1280×720 frame made from a real photo of about that shape (obama_1, 1480×832).
    let source = image::open("testdata/faces/obama_1.jpg")?.to_rgb8();
    let frame = image::imageops::resize(&source, 1280, 720, image::imageops::FilterType::Triangle);
    let mut jpeg = std::io::Cursor::new(Vec::new());
    frame.write_to(&mut jpeg, image::ImageFormat::Jpeg)?;
    let jpeg = jpeg.into_inner();
    let stages = [
        "decode",
        "detect",
        "align",
        "embed",
        "spoof crop",
        "spoof model",
        "photometry",
        "moire",
        "coarse detect",
        "refine",
        "appearance",
        "5-frame bundle",
    ];
    let mut timings: Vec<Vec<f64>> = vec![Vec::new(); stages.len()];
    for _ in 0..runs {
        let mut marks = vec![Instant::now()];
        let image = decode_image(&jpeg, DecodeLimits::default())?;
        marks.push(Instant::now());
        let face = engine.single_face(&image)?;
        marks.push(Instant::now());
        let aligned = align_arcface(&image, &face.landmarks).ok_or("alignment failed")?;
        marks.push(Instant::now());
        let _embedding = engine.embedder.embed(&aligned)?;
        marks.push(Instant::now());
        let _crop = liveness_crop(&image, &face).ok_or("no crop")?;
        marks.push(Instant::now());
        let _live = engine.liveness.live_probability(&image, &face)?;
        marks.push(Instant::now());
        let _photometry = face_photometry(&image, &face);
        marks.push(Instant::now());
        let _moire = moire_peak_ratio(&image, &face);
        marks.push(Instant::now());
        let coarse = engine.detector.detect_at(&image, COARSE_LONG_SIDE)?;
        marks.push(Instant::now());
        let _refined = engine.detector.refine(&image, coarse.first().ok_or("no coarse face")?)?;
        marks.push(Instant::now());
        let _appearance = face_appearance(&image, &face.landmarks);
        marks.push(Instant::now());
        let shas = ["0", "1", "2", "3", "4"];
        let bundle: Vec<(&[u8], &str)> = shas.iter().map(|sha| (jpeg.as_slice(), *sha)).collect();
        let start = Instant::now();
        let _measures = engine.measure_frames(&bundle, DecodeLimits::default())?;
        let elapsed = start.elapsed().as_secs_f64() * 1000.0;
        for (i, pair) in marks.windows(2).enumerate() {
            let ms = (pair[1] - pair[0]).as_secs_f64() * 1000.0;
            timings[i].push(ms);
        }
        // The model stage timed above includes its crop: report the model alone.
        let crop = timings[4].last().copied().unwrap_or(0.0);
        if let Some(model) = timings[5].last_mut() {
            *model = (*model - crop).max(0.0);
        }
        timings[11].push(elapsed);
    }
    println!(
        "{runs} runs on a 1280x720 JPEG ({} bytes), {} cores",
        jpeg.len(),
        std::thread::available_parallelism()?.get()
    );
    for (name, samples) in stages.iter().zip(timings.iter_mut()) {
        println!("{name:>14}: p50 {:7.1} ms   p99 {:7.1} ms", percentile(samples, 0.5), percentile(samples, 0.99));
    }
    Ok(())
}
