//! Per-stage timings of the face pipeline on a 720p selfie-sized frame: decode, detect,
//! align + embed, passive anti-spoof. Median and p99 of N runs.
//!
//! `cargo run --release -p kenali-vision --example bench_faces -- [MODELS_DIR] [RUNS]`

use std::path::PathBuf;
use std::time::Instant;

use kenali_vision::align::align_arcface;
use kenali_vision::models::{fetch, FACE_PACK};
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
    // A 1280×720 frame made from a real selfie-like photo (the live anti-spoof sample).
    let source = image::open("../shared/testdata/spoof/live_1.jpg")?.to_rgb8();
    let frame = image::imageops::resize(&source, 1280, 720, image::imageops::FilterType::Triangle);
    let mut jpeg = std::io::Cursor::new(Vec::new());
    frame.write_to(&mut jpeg, image::ImageFormat::Jpeg)?;
    let jpeg = jpeg.into_inner();
    let stages = ["decode", "detect", "align+embed", "anti-spoof", "total"];
    let mut timings: Vec<Vec<f64>> = vec![Vec::new(); stages.len()];
    for _ in 0..runs {
        let t0 = Instant::now();
        let image = decode_image(&jpeg, DecodeLimits::default())?;
        let t1 = Instant::now();
        let face = engine.single_face(&image)?;
        let t2 = Instant::now();
        let aligned = align_arcface(&image, &face.landmarks).ok_or("alignment failed")?;
        let _embedding = engine.embedder.embed(&aligned)?;
        let t3 = Instant::now();
        let _live = engine.liveness.live_probability(&image, &face)?;
        let t4 = Instant::now();
        for (i, (a, b)) in [(t0, t1), (t1, t2), (t2, t3), (t3, t4), (t0, t4)].iter().enumerate() {
            timings[i].push((*b - *a).as_secs_f64() * 1000.0);
        }
    }
    println!(
        "{runs} runs on a 1280x720 JPEG ({} bytes), {} cores",
        jpeg.len(),
        std::thread::available_parallelism()?.get()
    );
    for (name, samples) in stages.iter().zip(timings.iter_mut()) {
        println!("{name:>12}: p50 {:7.1} ms   p99 {:7.1} ms", percentile(samples, 0.5), percentile(samples, 0.99));
    }
    Ok(())
}
