//! Webhook delivery end to end against running `kenali serve` processes: registers a local
//! receiver for `verification.completed`, creates `--events` customers with a NIK (one event
//! each) at `--concurrency`, and reports events per second, the delay from an event's creation
//! (in the change's transaction) to its receipt (p50/p99), and lost and duplicated events.
//! With `--kill-pid`, that server process is killed (SIGKILL) once half the events have arrived,
//! to count what a crash mid-delivery loses (it should lose nothing: a dead process's leased
//! deliveries are taken over when the lease ends, under the same event ids).
//!
//! `bench/webhooks.sh` starts the servers and runs this.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::{json, Value};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    base: String,
    /// An API key with the public and admin scopes.
    #[arg(long, env = "KENALI_BENCH_KEY")]
    key: String,
    #[arg(long, default_value_t = 1000)]
    events: usize,
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// A server process to kill once half the events have been received.
    #[arg(long)]
    kill_pid: Option<u32>,
    /// How long to wait for stragglers after the last event was created.
    #[arg(long, default_value_t = 120)]
    wait_secs: u64,
}

/// Receipts: event id → (times received, delay of the first receipt in ms).
type Receipts = Arc<Mutex<HashMap<String, (usize, f64)>>>;

fn percentile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let receipts: Receipts = Arc::default();
    let app = axum::Router::new()
        .route(
            "/hook",
            axum::routing::post(
                |axum::extract::State(receipts): axum::extract::State<Receipts>, body: String| async move {
                    let event: Value = serde_json::from_str(&body).unwrap();
                    let created = time::OffsetDateTime::parse(
                        event["createdAt"].as_str().unwrap(),
                        &time::format_description::well_known::Rfc3339,
                    )
                    .unwrap();
                    let delay = (time::OffsetDateTime::now_utc() - created).as_seconds_f64() * 1000.0;
                    let id = event["id"].as_str().unwrap().to_string();
                    receipts.lock().unwrap().entry(id).and_modify(|(n, _)| *n += 1).or_insert((1, delay));
                    axum::http::StatusCode::NO_CONTENT
                },
            ),
        )
        .with_state(receipts.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let client = reqwest::Client::new();
    let created: Value = client
        .post(format!("{}/api/identity/webhooks", args.base))
        .bearer_auth(&args.key)
        .json(&json!({"url": url, "events": ["verification.completed"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(created["webhook"]["id"].is_string(), "{created}");

    let started = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..args.concurrency {
        let (client, base, key, next) = (client.clone(), args.base.clone(), args.key.clone(), next.clone());
        let total = args.events;
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= total {
                    return;
                }
                // Cibinong, born 1990-01-01, serial i + 1: a valid NIK each.
                let nik = format!("320101010190{:04}", i % 9999 + 1);
                let response = client
                    .post(format!("{base}/api/customers"))
                    .bearer_auth(&key)
                    .json(&json!({"fullName": format!("Bench {i}"), "nik": nik}))
                    .send()
                    .await
                    .unwrap();
                assert!(response.status().is_success(), "{}", response.text().await.unwrap());
            }
        }));
    }
    let received = |receipts: &Receipts| receipts.lock().unwrap().len();
    // Kills the named server (once) when half the events have arrived.
    let mut kill_pid = args.kill_pid;
    let kill_halfway = |pid: &mut Option<u32>| {
        if let Some(victim) = pid.filter(|_| received(&receipts) >= args.events / 2) {
            std::process::Command::new("kill").args(["-9", &victim.to_string()]).status().unwrap();
            eprintln!("killed server {victim} after {} events", received(&receipts));
            *pid = None;
        }
    };
    while workers.iter().any(|w| !w.is_finished()) {
        kill_halfway(&mut kill_pid);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let created_in = started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(args.wait_secs);
    while received(&receipts) < args.events && Instant::now() < deadline {
        kill_halfway(&mut kill_pid);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let all_in = started.elapsed();
    let receipts = receipts.lock().unwrap().clone();
    let duplicates: usize = receipts.values().map(|(n, _)| n - 1).sum();
    let mut delays: Vec<f64> = receipts.values().map(|(_, d)| *d).collect();
    delays.sort_by(f64::total_cmp);
    println!(
        "{} events created in {:.1} s ({:.0}/s); {} received in {:.1} s ({:.0}/s end to end)",
        args.events,
        created_in.as_secs_f64(),
        args.events as f64 / created_in.as_secs_f64(),
        receipts.len(),
        all_in.as_secs_f64(),
        receipts.len() as f64 / all_in.as_secs_f64()
    );
    if !delays.is_empty() {
        println!(
            "delay from commit to receipt: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            percentile(&delays, 0.5),
            percentile(&delays, 0.99),
            delays[delays.len() - 1]
        );
    }
    println!("lost: {}, duplicated deliveries: {duplicates}", args.events - receipts.len().min(args.events));
}
