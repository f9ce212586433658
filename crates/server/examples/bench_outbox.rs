//! The webhook outbox alone, in process: how fast a `kenali serve` delivers events that are
//! already committed, and how long one event waits between its commit and its receipt.
//!
//! 1. Throughput: `--events` events are published in one transaction (one delivery each to a
//!    local receiver); deliveries per second from that commit to the last receipt.
//! 2. Latency: `--paced` events are published one transaction each, every `--gap-ms`; the delay
//!    from each commit to its receipt (p50/p99).
//!
//! Both count lost and duplicated deliveries. `--database-url postgres://...` runs on
//! PostgreSQL (an empty database); the default is SQLite in a temporary directory.
//!
//! `cargo run --release -p kenali-server --example bench_outbox -- --events 5000`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use clap::Parser;
use kenali_server::config::{Config, Secret};
use serde_json::{json, Value};

#[derive(Parser)]
struct Args {
    #[arg(long)]
    database_url: Option<String>,
    #[arg(long, default_value_t = 5000)]
    events: usize,
    #[arg(long, default_value_t = 300)]
    paced: usize,
    #[arg(long, default_value_t = 5)]
    gap_ms: u64,
}

/// Receipts: event id → (times received, when first received).
type Receipts = Arc<Mutex<HashMap<String, (usize, Instant)>>>;

fn percentile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

async fn wait_for(receipts: &Receipts, ids: &[String], limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let done = {
            let got = receipts.lock().unwrap();
            ids.iter().all(|id| got.contains_key(id))
        };
        if done || Instant::now() > deadline {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

async fn publish(tx: &mut kenali_server::store::WriteTx, org_id: &str, i: usize) -> String {
    let data = json!({"verificationId": format!("ver_bench_{i}"), "kind": "nik_format", "status": "passed"});
    kenali_server::store::events::publish(tx, org_id, "verification.completed", data).await.unwrap()
}

fn lost_and_duplicated(receipts: &Receipts, ids: &[String]) -> (usize, usize) {
    let got = receipts.lock().unwrap();
    let lost = ids.iter().filter(|id| !got.contains_key(*id)).count();
    let duplicated = ids.iter().filter_map(|id| got.get(id)).map(|(n, _)| n - 1).sum();
    (lost, duplicated)
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let receipts: Receipts = Arc::default();
    let receiver = axum::Router::new()
        .route(
            "/hook",
            axum::routing::post(
                |axum::extract::State(receipts): axum::extract::State<Receipts>, body: String| async move {
                    let event: Value = serde_json::from_str(&body).unwrap();
                    let id = event["id"].as_str().unwrap().to_string();
                    receipts.lock().unwrap().entry(id).and_modify(|(n, _)| *n += 1).or_insert((1, Instant::now()));
                    axum::http::StatusCode::NO_CONTENT
                },
            ),
        )
        .with_state(receipts.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, receiver).await.unwrap() });

    let data_dir = std::env::temp_dir().join(format!("kenali-bench-outbox-{}", ulid::Ulid::new()));
    let key = format!("qe_sk_bench_{}", ulid::Ulid::new());
    let config = Config {
        data_dir: data_dir.clone(),
        database_url: args.database_url.clone().map(Secret::new),
        master_key: Some(Secret::new(base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>()))),
        bootstrap_api_key: Some(Secret::new(key.clone())),
        webhook_allow_private: true,
        ..Config::default()
    };
    let backend = if args.database_url.is_some() { "postgres" } else { "sqlite" };
    let state = kenali_server::app::build_state(config, None).await.unwrap();
    let api = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", api.local_addr().unwrap());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(kenali_server::app::serve(api, None, state.clone(), async move {
        let _ = stop_rx.await;
    }));
    let created: Value = reqwest::Client::new()
        .post(format!("{base}/api/identity/webhooks"))
        .bearer_auth(&key)
        .json(&json!({"url": hook_url, "events": ["verification.completed"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(created["webhook"]["id"].is_string(), "{created}");
    let org_id = {
        let mut tx = state.store.begin().await.unwrap();
        let org = kenali_server::store::orgs::get_or_create(&mut tx, "default").await.unwrap();
        tx.commit().await.unwrap();
        org.id
    };
    // 1. Throughput: a backlog committed at once.
    let mut tx = state.store.begin().await.unwrap();
    let mut backlog = Vec::with_capacity(args.events);
    for i in 0..args.events {
        backlog.push(publish(&mut tx, &org_id, i).await);
    }
    tx.commit().await.unwrap();
    let committed = Instant::now();
    wait_for(&receipts, &backlog, Duration::from_secs(300)).await;
    let last = backlog.iter().filter_map(|id| receipts.lock().unwrap().get(id).map(|r| r.1)).max().unwrap();
    let seconds = (last - committed).as_secs_f64();
    let (lost, duplicated) = lost_and_duplicated(&receipts, &backlog);
    println!(
        "{backend}: {} deliveries of a committed backlog in {seconds:.2} s: {:.0} deliveries/s; lost {lost}, duplicated {duplicated}",
        args.events,
        args.events as f64 / seconds
    );

    // 2. Latency: one event per transaction, paced.
    let mut commits = Vec::with_capacity(args.paced);
    for i in 0..args.paced {
        let mut tx = state.store.begin().await.unwrap();
        let id = publish(&mut tx, &org_id, args.events + i).await;
        tx.commit().await.unwrap();
        commits.push((id, Instant::now()));
        tokio::time::sleep(Duration::from_millis(args.gap_ms)).await;
    }
    let ids: Vec<String> = commits.iter().map(|(id, _)| id.clone()).collect();
    wait_for(&receipts, &ids, Duration::from_secs(60)).await;
    let mut delays: Vec<f64> = {
        let got = receipts.lock().unwrap();
        commits
            .iter()
            .filter_map(|(id, at)| {
                got.get(id).map(|(_, received)| received.saturating_duration_since(*at).as_secs_f64() * 1e3)
            })
            .collect()
    };
    delays.sort_by(f64::total_cmp);
    let (lost, duplicated) = lost_and_duplicated(&receipts, &ids);
    println!(
        "{backend}: {} events committed one by one every {} ms: commit to receipt p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; lost {lost}, duplicated {duplicated}",
        args.paced,
        args.gap_ms,
        percentile(&delays, 0.5),
        percentile(&delays, 0.99),
        delays[delays.len() - 1]
    );
    let _ = stop_tx.send(());
    let _ = served.await;
    let _ = std::fs::remove_dir_all(&data_dir);
}
