//! 1:N face search (issue 21): `kenali_core::face_index` on a pool of N faces, one thread.
//! The pool mixes synthetic identities (a random unit centre, each customer a noisy sample of
//! it at about the spread of two photos of one person) with the real embeddings of the test
//! photos. Reports the build time, the memory the vectors take, top-10 search p50/p99, and
//! recall@10 of the int8 search against an exact f32 search of the same pool.
//!
//! `cargo run --release -p kenali-vision --example bench_face_search -- [MODELS_DIR] [N] [QUERIES]`

use std::path::PathBuf;
use std::time::Instant;

use kenali_core::face_index::FaceIndex;
use kenali_vision::models::{fetch, FACE_PACK};
use kenali_vision::FaceEngine;
use rand::{Rng, SeedableRng};

const DIM: usize = 512;

fn unit(v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.into_iter().map(|x| x / norm).collect()
}

fn random_unit(rng: &mut impl Rng) -> Vec<f32> {
    // Sums of uniforms: close enough to Gaussian for a direction on the sphere.
    unit((0..DIM).map(|_| (0..4).map(|_| rng.gen_range(-1.0f32..1.0)).sum()).collect())
}

/// Another photo of the identity `centre`: cosine about 0.65 to it.
fn sample_of(rng: &mut impl Rng, centre: &[f32]) -> Vec<f32> {
    let noise = random_unit(rng);
    unit(centre.iter().zip(&noise).map(|(c, n)| c + 1.15 * n).collect())
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn percentile(samples: &mut [f64], p: f64) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[((samples.len() as f64 - 1.0) * p).round() as usize]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().map(PathBuf::from).unwrap_or_else(|| PathBuf::from("target/test-models"));
    let n: usize = args.next().map(|v| v.parse()).transpose()?.unwrap_or(100_000);
    let queries: usize = args.next().map(|v| v.parse()).transpose()?.unwrap_or(100);
    fetch(&dir, &FACE_PACK, &mut |line| eprintln!("models: {line}"))?;
    let engine = FaceEngine::load(&dir)?;
    // The real photos: customer `real:<file>` each, queried with the same person's other photos.
    let mut real = Vec::new();
    for entry in std::fs::read_dir("testdata/faces")? {
        let path = entry?.path();
        let image = image::open(&path)?.to_rgb8();
        let face = engine.analyze(&image)?;
        real.push((path.file_stem().unwrap_or_default().to_string_lossy().to_string(), face.embedding));
    }
    real.sort_by(|a, b| a.0.cmp(&b.0));

    let mut rng = rand::rngs::StdRng::seed_from_u64(21);
    let identities = n / 2;
    let centres: Vec<Vec<f32>> = (0..identities.max(1)).map(|_| random_unit(&mut rng)).collect();
    // Two customers per identity (the duplicates dedup looks for), plus the real photos.
    let mut pool: Vec<(String, Vec<f32>)> = (0..n - real.len().min(n))
        .map(|i| (format!("cus_syn{i}"), sample_of(&mut rng, &centres[i % centres.len()])))
        .collect();
    pool.extend(real.iter().map(|(name, e)| (format!("cus_real_{name}"), e.clone())));

    let started = Instant::now();
    let mut index = FaceIndex::new(DIM);
    for (i, (customer, embedding)) in pool.iter().enumerate() {
        index.insert(&format!("fe_{i}"), customer, embedding);
    }
    let build = started.elapsed().as_secs_f64();
    let ids_bytes: usize = pool.iter().map(|(c, _)| c.len() + 12 + 48).sum();

    let mut probes: Vec<Vec<f32>> =
        (0..queries).map(|i| sample_of(&mut rng, &centres[(i * 7919) % centres.len()])).collect();
    probes.extend(real.iter().map(|(_, e)| e.clone()));
    let mut times = Vec::new();
    let mut recall_hits = 0usize;
    let mut reranked_hits = 0usize;
    let mut recall_total = 0usize;
    for probe in &probes {
        let started = Instant::now();
        let hits = index.search(probe, 10);
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        // Exact top-10 customers with f32 (one face per customer here).
        let mut exact: Vec<(f32, &str)> = pool.iter().map(|(c, e)| (dot(probe, e), c.as_str())).collect();
        exact.select_nth_unstable_by(9, |a, b| b.0.total_cmp(&a.0));
        let truth: Vec<&str> = exact[..10].iter().map(|(_, c)| *c).collect();
        recall_total += truth.len();
        recall_hits += hits.iter().filter(|h| truth.contains(&h.customer_id.as_str())).count();
        // What the server returns: the int8 top 30, re-scored exactly, best 10.
        let mut rescored: Vec<(f32, &str)> = index
            .search(probe, 30)
            .iter()
            .map(|h| {
                let at: usize = h.enrollment_id[3..].parse().unwrap_or(0);
                (dot(probe, &pool[at].1), pool[at].0.as_str())
            })
            .collect();
        rescored.sort_by(|a, b| b.0.total_cmp(&a.0));
        reranked_hits += rescored.iter().take(10).filter(|(_, c)| truth.contains(c)).count();
    }
    // The real photos: is the same person's other photo the best other customer?
    let mut same_person_first = 0;
    for (name, embedding) in &real {
        let person = name.rsplit_once('_').map_or(name.as_str(), |(p, _)| p);
        let hits = index.search(embedding, 3);
        let other = hits.iter().find(|h| h.customer_id != format!("cus_real_{name}"));
        if other.is_some_and(|h| h.customer_id.starts_with(&format!("cus_real_{person}_"))) {
            same_person_first += 1;
        }
    }
    println!(
        "pool {n} faces ({} real), build {build:.2} s, vectors {:.1} MiB (+ ids about {:.1} MiB)",
        real.len(),
        index.vector_bytes() as f64 / 1048576.0,
        ids_bytes as f64 / 1048576.0
    );
    println!(
        "top-10 search, one thread, {} queries: p50 {:.2} ms, p99 {:.2} ms; recall@10 against exact f32: int8 alone {:.4}, int8 top 30 re-scored exactly (as the server answers) {:.4}",
        probes.len(),
        percentile(&mut times.clone(), 0.5),
        percentile(&mut times, 0.99),
        recall_hits as f64 / recall_total as f64,
        reranked_hits as f64 / recall_total as f64
    );
    println!("real photos whose best other customer is the same person: {same_person_first} of {}", real.len());
    Ok(())
}
