//! End-to-end step-up latency against a running `kenali serve`: each request is a signed
//! 720p bundle of `--steps` frames (5 by default) (a real photo lit by the challenge's colours) matched against a
//! Dukcapil enrollment of the same person. Reports client-side p50/p99 and decisions per
//! second at each concurrency, and the server's per-stage means from its /metrics.
//!
//! `bench/step-up.sh` builds, starts the server and runs this; by hand:
//! `cargo run --release -p kenali-server --example bench_step_up -- --base URL --key KEY`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Instant;

use clap::Parser;
use kenali_testkit::{b64, challenge_colors, jpeg, lit_frames_of, signed_bundle, testdata_image};
use serde_json::{json, Value};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    base: String,
    /// An API key with the public scope.
    #[arg(long, env = "KENALI_BENCH_KEY")]
    key: String,
    /// Timed step-ups per concurrency level.
    #[arg(long, default_value_t = 40)]
    requests: usize,
    #[arg(long, value_delimiter = ',', default_value = "1,8")]
    concurrency: Vec<usize>,
    /// Flash steps per challenge, hence frames per bundle (SPEC §5: 3 to 8).
    #[arg(long, default_value_t = 5)]
    steps: u32,
}

struct Client {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Client {
    async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .json(body)
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `kenali_face_stage_seconds` sums and counts, by stage.
    async fn stage_totals(&self) -> BTreeMap<String, (f64, f64)> {
        let url = format!("{}/metrics", self.base);
        let text = self.http.get(url).send().await.expect("metrics").text().await.unwrap_or_default();
        let mut totals: BTreeMap<String, (f64, f64)> = BTreeMap::new();
        for line in text.lines().filter(|l| l.starts_with("kenali_face_stage_seconds_")) {
            let Some((name, value)) = line.rsplit_once(' ') else { continue };
            let Some(stage) = name.split("stage=\"").nth(1).and_then(|s| s.split('"').next()) else { continue };
            let value: f64 = value.parse().unwrap_or(0.0);
            let entry = totals.entry(stage.to_string()).or_default();
            if name.starts_with("kenali_face_stage_seconds_sum") {
                entry.0 += value;
            } else if name.starts_with("kenali_face_stage_seconds_count") {
                entry.1 += value;
            }
        }
        totals
    }

    /// Fresh challenges for `customers`, each answered with a signed bundle of the selfie.
    async fn step_up_bodies(&self, customers: &[String], selfie: &image::RgbImage, steps: u32) -> Vec<Value> {
        let mut bodies = Vec::new();
        for id in customers {
            let request = json!({"customerId": id, "ttlMs": 300000, "steps": steps});
            let (status, body) = self.post("/api/identity/face/flash-challenge", &request).await;
            assert_eq!(status, 201, "challenge: {body}");
            let challenge = &body["flashChallenge"];
            let frames = lit_frames_of(selfie, &challenge_colors(challenge), 0.35);
            bodies.push(json!({"customerId": id, "riskLevel": "low", "actionLabel": "bench",
                               "trigger": "transfer", "bundle": signed_bundle(challenge, frames)}));
        }
        bodies
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let client = Client { http: reqwest::Client::new(), base: args.base.trim_end_matches('/').into(), key: args.key };
    // A 720p selfie: obama_1 (1480×832) scaled to 1280×720; enrolled from another photo of him.
    let selfie =
        image::imageops::resize(&testdata_image("faces/obama_1.jpg"), 1280, 720, image::imageops::FilterType::Triangle);
    let enrollment_photo = b64(&jpeg(&testdata_image("faces/obama_2.jpg")));
    // Step-up allows 60 per minute per customer: spread the requests over enough customers.
    let total = args.requests * args.concurrency.len() + 2;
    let mut customers = Vec::new();
    for n in 0..total.div_ceil(30) {
        let body = json!({"fullName": format!("Bench {n}"), "externalRef": ulid::Ulid::new().to_string()});
        let (status, created) = client.post("/api/customers", &body).await;
        assert!(status < 300, "create customer: {status} {created}");
        let id = created["customer"]["id"].as_str().expect("customer id").to_string();
        let body = json!({"customerId": id, "valid": true, "photo": enrollment_photo});
        let (status, verdict) = client.post("/api/identity/nik/dukcapil", &body).await;
        assert_eq!(status, 201, "dukcapil enrollment: {verdict}");
        customers.push(id);
    }
    let mut turn = 0usize;
    let mut next_customers = |n: usize| -> Vec<String> {
        (0..n)
            .map(|_| {
                turn += 1;
                customers[turn % customers.len()].clone()
            })
            .collect()
    };
    // Warm-up: the first requests pay for lazy initialisation.
    for body in client.step_up_bodies(&next_customers(2), &selfie, args.steps).await {
        let (status, answer) = client.post("/api/identity/auth/step-up", &body).await;
        assert_eq!(status, 200, "warm-up step-up: {answer}");
        assert_eq!(answer["allow"], true, "the bench's selfie must be allowed: {answer}");
    }
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    println!("step-up: {} frames of 1280x720 JPEG per request; {cores} cores shared by client and server", args.steps);
    for &concurrency in &args.concurrency {
        // Bundles are made before the clock starts, so the client's JPEG work is not timed.
        let bodies = client.step_up_bodies(&next_customers(args.requests), &selfie, args.steps).await;
        let before = client.stage_totals().await;
        let started = Instant::now();
        let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(concurrency));
        let mut tasks = Vec::new();
        for body in bodies {
            let permit = gate.clone().acquire_owned().await.expect("semaphore");
            let request = client
                .http
                .post(format!("{}/api/identity/auth/step-up", client.base))
                .bearer_auth(&client.key)
                .json(&body);
            tasks.push(tokio::spawn(async move {
                let t0 = Instant::now();
                let response = request.send().await.expect("step-up");
                let status = response.status().as_u16();
                let answer: Value = response.json().await.unwrap_or(Value::Null);
                drop(permit);
                (t0.elapsed().as_secs_f64() * 1000.0, status, answer["allow"] == true)
            }));
        }
        let mut latencies = Vec::new();
        let mut allowed = 0;
        for task in tasks {
            let (elapsed, status, allow) = task.await.expect("task");
            assert_eq!(status, 200, "step-up answered {status}");
            allowed += usize::from(allow);
            latencies.push(elapsed);
        }
        let wall = started.elapsed().as_secs_f64();
        latencies.sort_by(f64::total_cmp);
        println!(
            "concurrency {concurrency}: {} requests, p50 {:.0} ms, p99 {:.0} ms, {:.2} decisions/s, {allowed} allowed",
            latencies.len(),
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99),
            latencies.len() as f64 / wall
        );
        let after = client.stage_totals().await;
        let stages: Vec<String> = after
            .iter()
            .map(|(stage, (sum, count))| {
                let (sum0, count0) = before.get(stage).copied().unwrap_or_default();
                format!("{stage} {:.1} ms", (sum - sum0) * 1000.0 / (count - count0).max(1.0))
            })
            .collect();
        println!("  server stage means (per occurrence): {}", stages.join(", "));
    }
}
