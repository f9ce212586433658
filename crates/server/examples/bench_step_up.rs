//! End-to-end decision latency against a running `kenali serve`, for step-up or KTP capture.
//! Step-up (`--kind step-up`, the default): each request is a signed 720p bundle of `--steps`
//! frames (5 by default; a real photo lit by the challenge's colours) matched against a Dukcapil
//! enrollment of the same person. KTP capture (`--kind ktp-capture`): each request is a signed
//! bundle of a rendered KTP card filmed at 1280×720, one frame per challenge colour (3 by
//! default). Reports client-side p50/p99 and decisions per second at each concurrency, and the
//! server's per-stage means from its /metrics.
//!
//! `bench/step-up.sh` builds, starts the server and runs this (`KIND=ktp-capture` for the
//! card); by hand:
//! `cargo run --release -p kenali-server --example bench_step_up -- --base URL --key KEY`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Instant;

use clap::Parser;
use kenali_testkit::ktp::{render_card, KtpFields};
use kenali_testkit::ktp_scene::{capture_frames, Presentation};
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
    /// Flash steps per step-up challenge, hence frames per bundle (SPEC §5: 3 to 8).
    #[arg(long, default_value_t = 5)]
    steps: u32,
    #[arg(long, value_enum, default_value_t = Kind::StepUp)]
    kind: Kind,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Kind {
    StepUp,
    KtpCapture,
}

impl Kind {
    fn path(self) -> &'static str {
        match self {
            Kind::StepUp => "/api/identity/auth/step-up",
            Kind::KtpCapture => "/api/identity/document/ktp/capture",
        }
    }

    /// Whether the answer is the good outcome the bench's inputs must get.
    fn passed(self, answer: &Value) -> bool {
        match self {
            Kind::StepUp => answer["allow"] == true,
            Kind::KtpCapture => answer["ktpBundle"]["verdict"] == "passed",
        }
    }

    /// Requests one customer may make in the run: step-up allows 60 a minute, KTP capture 5.
    fn per_customer(self) -> usize {
        match self {
            Kind::StepUp => 30,
            Kind::KtpCapture => 4,
        }
    }
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

    /// Fresh KTP challenges for `customers`, each answered with `card` filmed under its colours.
    async fn capture_bodies(&self, customers: &[String], card: &image::RgbImage) -> Vec<Value> {
        let mut bodies = Vec::new();
        for (n, id) in customers.iter().enumerate() {
            let (status, body) = self.post("/api/identity/document/ktp/challenge", &json!({"customerId": id})).await;
            assert_eq!(status, 201, "ktp challenge: {body}");
            let challenge = &body["flashChallenge"];
            let frames = capture_frames(card, &challenge_colors(challenge), Presentation::Original, n as u64);
            let frames = frames.iter().map(|f| b64(f)).collect();
            bodies.push(json!({"customerId": id, "bundle": signed_bundle(challenge, frames)}));
        }
        bodies
    }

    async fn bodies(&self, kind: Kind, customers: &[String], inputs: &Inputs, steps: u32) -> Vec<Value> {
        match kind {
            Kind::StepUp => self.step_up_bodies(customers, &inputs.selfie, steps).await,
            Kind::KtpCapture => self.capture_bodies(customers, &inputs.card).await,
        }
    }
}

/// What the requests are made of.
struct Inputs {
    selfie: image::RgbImage,
    card: image::RgbImage,
}

/// The voters that failed in an answer (liveness, anti-spoof and tamper), by name and reason.
fn failed_voters(answer: &Value) -> String {
    let checks = [&answer["liveness"]["voters"], &answer["antiSpoof"]["voters"], &answer["tamper"]["voters"]];
    let failed: Vec<String> = checks
        .iter()
        .filter_map(|voters| voters.as_array())
        .flatten()
        .filter(|v| v["passed"] == false)
        .map(|v| format!("{} ({})", v["name"].as_str().unwrap_or("?"), v["reason"].as_str().unwrap_or("")))
        .collect();
    if failed.is_empty() {
        answer["reasons"].to_string()
    } else {
        failed.join("; ")
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
    let inputs = Inputs { selfie, card: render_card(&KtpFields::sample(1), "faces/obama_2.jpg") };
    let enrollment_photo = b64(&jpeg(&testdata_image("faces/obama_2.jpg")));
    // Spread the requests over enough customers to stay under the per-customer rate limits.
    let total = args.requests * args.concurrency.len() + 2;
    let mut customers = Vec::new();
    for n in 0..total.div_ceil(args.kind.per_customer()) {
        let body = json!({"fullName": format!("Bench {n}"), "externalRef": ulid::Ulid::new().to_string()});
        let (status, created) = client.post("/api/customers", &body).await;
        assert!(status < 300, "create customer: {status} {created}");
        let id = created["customer"]["id"].as_str().expect("customer id").to_string();
        if args.kind == Kind::StepUp {
            let body = json!({"customerId": id, "valid": true, "photo": enrollment_photo});
            let (status, verdict) = client.post("/api/identity/nik/dukcapil", &body).await;
            assert_eq!(status, 201, "dukcapil enrollment: {verdict}");
        }
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
    let kind = args.kind;
    for body in client.bodies(kind, &next_customers(2), &inputs, args.steps).await {
        let (status, answer) = client.post(kind.path(), &body).await;
        assert_eq!(status, 200, "warm-up: {answer}");
        assert!(kind.passed(&answer), "the bench's inputs must pass: {answer}");
    }
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    match kind {
        Kind::StepUp => println!("step-up: {} frames of 1280x720 JPEG per request", args.steps),
        Kind::KtpCapture => println!("KTP capture: one 1280x720 JPEG frame per challenge colour per request"),
    }
    println!("{cores} cores shared by client and server");
    for &concurrency in &args.concurrency {
        // Bundles are made before the clock starts, so the client's JPEG work is not timed.
        let bodies = client.bodies(kind, &next_customers(args.requests), &inputs, args.steps).await;
        let before = client.stage_totals().await;
        let started = Instant::now();
        let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(concurrency));
        let mut tasks = Vec::new();
        for body in bodies {
            let permit = gate.clone().acquire_owned().await.expect("semaphore");
            let request =
                client.http.post(format!("{}{}", client.base, kind.path())).bearer_auth(&client.key).json(&body);
            tasks.push(tokio::spawn(async move {
                let t0 = Instant::now();
                let response = request.send().await.expect("request");
                let status = response.status().as_u16();
                let answer: Value = response.json().await.unwrap_or(Value::Null);
                drop(permit);
                let passed = kind.passed(&answer);
                if !passed {
                    eprintln!("not passed: {}", failed_voters(&answer));
                }
                (t0.elapsed().as_secs_f64() * 1000.0, status, passed)
            }));
        }
        let mut latencies = Vec::new();
        let mut passed = 0;
        for task in tasks {
            let (elapsed, status, allow) = task.await.expect("task");
            assert_eq!(status, 200, "answered {status}");
            passed += usize::from(allow);
            latencies.push(elapsed);
        }
        let wall = started.elapsed().as_secs_f64();
        latencies.sort_by(f64::total_cmp);
        println!(
            "concurrency {concurrency}: {} requests, p50 {:.0} ms, p99 {:.0} ms, {:.2} decisions/s, {passed} passed",
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
