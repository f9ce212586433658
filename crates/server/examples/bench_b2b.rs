//! Seed 003's backend-to-backend face match end to end against running `kenali serve`
//! processes, as a partner's backend drives it: an OAuth client and token, then `--submissions`
//! submissions at `--concurrency`, each created with a callback URL on a local receiver, its
//! two images PUT to the presigned URLs (S3's own with an S3 blob store), and confirmed. Reports
//! submissions completed per second (first create to last callback), the delay from confirm to
//! callback and the queue delay (confirm to a worker's claim, from the details) at p50/p99, and
//! counts lost submissions (no callback, or not completed) and jobs done twice (two distinct
//! events for one submission; a repeated delivery of one event is at-least-once, counted apart).
//! With `--kill-pid`, that server process is killed (SIGKILL) once a third of the callbacks
//! have arrived: its leased jobs must be taken over, and written once.
//!
//! `bench/b2b.sh` starts the servers (and Garage) and runs this.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::{json, Value};

#[derive(Parser)]
struct Args {
    /// Servers to spread the partner's requests over (comma-separated base URLs).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    base: String,
    /// An API key with the public and admin scopes (to create the OAuth client).
    #[arg(long, env = "KENALI_BENCH_KEY")]
    key: String,
    #[arg(long, default_value_t = 200)]
    submissions: usize,
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// The selfie and the baseline (a selfie-to-selfie match of one person).
    #[arg(long, default_value = "../shared/testdata/faces/obama_1.jpg")]
    selfie: String,
    #[arg(long, default_value = "../shared/testdata/faces/obama_3.jpg")]
    baseline: String,
    /// Each client waits for its submission's callback before the next (latency with no
    /// backlog), instead of submitting as fast as the server accepts (throughput).
    #[arg(long)]
    closed_loop: bool,
    /// A server process to kill once a third of the callbacks have arrived.
    #[arg(long)]
    kill_pid: Option<u32>,
    #[arg(long, default_value_t = 300)]
    wait_secs: u64,
}

/// Callbacks: submission id → (distinct event ids, deliveries, status, when first received).
type Callbacks = Arc<Mutex<HashMap<String, (Vec<String>, usize, String, Instant)>>>;

fn percentile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

async fn json_of(response: reqwest::Response) -> Value {
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.is_success(), "{status} {text}");
    serde_json::from_str(&text).unwrap()
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let bases: Vec<String> = args.base.split(',').map(str::to_string).collect();
    let callbacks: Callbacks = Arc::default();
    let app = axum::Router::new()
        .route(
            "/callback",
            axum::routing::post(
                |axum::extract::State(callbacks): axum::extract::State<Callbacks>, body: String| async move {
                    let event: Value = serde_json::from_str(&body).unwrap();
                    let id = event["data"]["submissionId"].as_str().unwrap().to_string();
                    let event_id = event["id"].as_str().unwrap().to_string();
                    let status = event["data"]["status"].as_str().unwrap().to_string();
                    let mut got = callbacks.lock().unwrap();
                    let entry = got.entry(id).or_insert_with(|| (Vec::new(), 0, status, Instant::now()));
                    entry.1 += 1;
                    if !entry.0.contains(&event_id) {
                        entry.0.push(event_id);
                    }
                    axum::http::StatusCode::NO_CONTENT
                },
            ),
        )
        .with_state(callbacks.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let callback_url = format!("http://{}/callback", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let client = reqwest::Client::new();
    let created = json_of(
        client
            .post(format!("{}/api/identity/oauth-clients", bases[0]))
            .bearer_auth(&args.key)
            .json(&json!({"name": "bench partner", "scopes": ["public"]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let (client_id, secret) = (
        created["oauthClient"]["id"].as_str().unwrap().to_string(),
        created["oauthClient"]["clientSecret"].as_str().unwrap().to_string(),
    );
    let token = json_of(
        client
            .post(format!("{}/api/oauth/token", bases[0]))
            .basic_auth(&client_id, Some(&secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap(),
    )
    .await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let images = Arc::new((std::fs::read(&args.selfie).unwrap(), std::fs::read(&args.baseline).unwrap()));

    let started = Instant::now();
    let confirmed: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut workers = Vec::new();
    for worker in 0..args.concurrency {
        let (client, token, next, images, confirmed, callbacks) =
            (client.clone(), token.clone(), next.clone(), images.clone(), confirmed.clone(), callbacks.clone());
        let closed_loop = args.closed_loop;
        let (bases, callback_url, total) = (bases.clone(), callback_url.clone(), args.submissions);
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= total {
                    return;
                }
                // Each request to the next server in turn, as a load balancer would; a server
                // that was killed is skipped, and a 429 waits as its Retry-After says.
                let turn = worker + i;
                let send = |build: &dyn Fn(&str) -> reqwest::RequestBuilder| {
                    let attempts = |round: usize| -> Vec<reqwest::RequestBuilder> {
                        (0..bases.len()).map(|k| build(&bases[(turn + round + k) % bases.len()])).collect()
                    };
                    let rounds: Vec<Vec<reqwest::RequestBuilder>> = (0..20).map(attempts).collect();
                    async move {
                        let mut last = None;
                        for round in rounds {
                            for request in round {
                                match request.send().await {
                                    Ok(response) if response.status() == reqwest::StatusCode::TOO_MANY_REQUESTS => {
                                        let wait = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
                                        tokio::time::sleep(Duration::from_secs(wait)).await;
                                        break;
                                    }
                                    Ok(response) => return response,
                                    Err(e) => last = Some(e),
                                }
                            }
                        }
                        panic!("no server answered: {last:?}");
                    }
                };
                let created = json_of(
                    send(&|base| {
                        client
                            .post(format!("{base}/api/b2b/face-match/submissions"))
                            .bearer_auth(&token)
                            .json(&json!({"mode": "selfie_to_selfie", "callbackUrl": callback_url}))
                    })
                    .await,
                )
                .await;
                let id = created["submission"]["id"].as_str().unwrap().to_string();
                for upload in created["uploads"].as_array().unwrap() {
                    let bytes = if upload["role"] == "selfie" { images.0.clone() } else { images.1.clone() };
                    let response = client.put(upload["url"].as_str().unwrap()).body(bytes).send().await.unwrap();
                    assert!(response.status().is_success(), "{}", response.text().await.unwrap());
                }
                json_of(
                    send(&|base| {
                        client.post(format!("{base}/api/b2b/face-match/submissions/{id}/confirm")).bearer_auth(&token)
                    })
                    .await,
                )
                .await;
                confirmed.lock().unwrap().insert(id.clone(), Instant::now());
                while closed_loop && !callbacks.lock().unwrap().contains_key(&id) {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        }));
    }
    let received = |callbacks: &Callbacks| callbacks.lock().unwrap().len();
    let mut kill_pid = args.kill_pid;
    let kill_when_due = |pid: &mut Option<u32>| {
        if let Some(victim) = pid.filter(|_| received(&callbacks) >= args.submissions / 3) {
            std::process::Command::new("kill").args(["-9", &victim.to_string()]).status().unwrap();
            eprintln!("killed server {victim} after {} callbacks", received(&callbacks));
            *pid = None;
        }
    };
    while workers.iter().any(|w| !w.is_finished()) {
        kill_when_due(&mut kill_pid);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for worker in workers {
        worker.await.unwrap();
    }
    let created_in = started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(args.wait_secs);
    while received(&callbacks) < args.submissions && Instant::now() < deadline {
        kill_when_due(&mut kill_pid);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let all_in = started.elapsed();
    let callbacks = callbacks.lock().unwrap().clone();
    let confirmed = confirmed.lock().unwrap().clone();
    let done_twice = callbacks.values().filter(|(events, ..)| events.len() > 1).count();
    let redelivered: usize = callbacks.values().map(|(events, n, ..)| n - events.len()).sum();
    let not_completed = callbacks.values().filter(|(_, _, status, _)| status != "completed").count();
    let lost = confirmed.keys().filter(|id| !callbacks.contains_key(*id)).count();
    let mut delays: Vec<f64> = confirmed
        .iter()
        .filter_map(|(id, at)| callbacks.get(id).map(|c| c.3.saturating_duration_since(*at).as_secs_f64() * 1000.0))
        .collect();
    delays.sort_by(f64::total_cmp);
    // The queue delay of a sample, from the details (a worker's claim minus the confirm).
    let mut queue: Vec<f64> = Vec::new();
    for id in confirmed.keys().take(200) {
        let response = client
            .get(format!("{}/api/b2b/face-match/submissions/{id}/details", bases[0]))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        if let Ok(details) = response.json::<Value>().await {
            if let Some(ms) = details["details"]["timings"]["queueMs"].as_f64() {
                queue.push(ms);
            }
        }
    }
    queue.sort_by(f64::total_cmp);
    println!(
        "{} submissions created, uploaded and confirmed in {:.1} s; {} callbacks in {:.1} s: {:.1} submissions/s end to end",
        confirmed.len(),
        created_in.as_secs_f64(),
        callbacks.len(),
        all_in.as_secs_f64(),
        callbacks.len() as f64 / all_in.as_secs_f64()
    );
    if !delays.is_empty() {
        println!(
            "confirm to callback: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            percentile(&delays, 0.5),
            percentile(&delays, 0.99),
            delays[delays.len() - 1]
        );
    }
    if !queue.is_empty() {
        println!(
            "queue delay (confirm to claim): p50 {:.0} ms, p99 {:.0} ms",
            percentile(&queue, 0.5),
            percentile(&queue, 0.99)
        );
    }
    println!("lost {lost}, done twice {done_twice}, not completed {not_completed}, callbacks delivered again (at least once) {redelivered}");
    if lost > 0 || done_twice > 0 || not_completed > 0 {
        std::process::exit(1);
    }
}
