//! Renders synthetic KTP cards and reads them with the OCR pipeline: every line's text and
//! confidence, and the time taken. A development aid for the card parser.
//!
//! `cargo run --release -p kenali-vision --example read_card -- [MODELS_DIR] [SEED]`

use std::path::PathBuf;
use std::time::Instant;

use kenali_testkit::ktp::{render_card, KtpFields};
use kenali_vision::models::fetch;
use kenali_vision::ocr::{OcrEngine, OCR_PACK};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().map(PathBuf::from).unwrap_or_else(|| PathBuf::from("target/test-models"));
    let seed: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(1);
    fetch(&dir, &OCR_PACK, &mut |line| eprintln!("models: {line}"))?;
    let started = Instant::now();
    let engine = OcrEngine::load(&dir)?;
    println!("loaded in {:.0} ms", started.elapsed().as_secs_f64() * 1000.0);
    let fields = KtpFields::sample(seed);
    let card = render_card(&fields, "faces/obama_2.jpg");
    for round in 0..2 {
        let started = Instant::now();
        let boxes = engine.detect(&card)?;
        let detected = started.elapsed();
        let lines = engine.read(&card)?;
        println!(
            "round {round}: {} boxes, detect {:.0} ms, read {:.0} ms",
            boxes.len(),
            detected.as_secs_f64() * 1000.0,
            started.elapsed().as_secs_f64() * 1000.0
        );
        if round == 1 {
            for line in &lines {
                println!("  {:5.3} {:?}", line.confidence, line.text);
            }
        }
    }
    println!("truth: {fields:?}");
    Ok(())
}
