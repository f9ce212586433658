//! Export of many verifications from a running `kenali serve`: seeds `--rows` verification rows
//! straight into its database (one customer, made through the API), then downloads
//! `/api/identity/export/verifications.csv` `--runs` times and reports the time (median), rows
//! per second, and the server's resident memory before and at its peak during each download
//! (sampled from /proc every 10 ms), to show that memory stays flat however many rows stream.
//!
//! `bench/export.sh` starts the servers and runs this.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use kenali_core::id::{new_id, IdKind};
use kenali_core::time_fmt::now_timestamp;
use kenali_server::store::verifications::{self, VerificationRow};
use kenali_server::store::Store;
use serde_json::{json, Value};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    base: String,
    /// An API key with the public and internal scopes.
    #[arg(long, env = "KENALI_BENCH_KEY")]
    key: String,
    /// The server's database, to seed rows into.
    #[arg(long)]
    database_url: String,
    /// The server's process id, to read its memory.
    #[arg(long)]
    server_pid: u32,
    #[arg(long, default_value_t = 100_000)]
    rows: usize,
    #[arg(long, default_value_t = 3)]
    runs: usize,
}

/// Resident memory of a process in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let client = reqwest::Client::new();
    let created: Value = client
        .post(format!("{}/api/customers", args.base))
        .bearer_auth(&args.key)
        .json(&json!({"fullName": "Budi Santoso", "nik": "3201010101900001"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let customer_id = created["customer"]["id"].as_str().expect("customer created").to_string();

    let store = Store::connect(&args.database_url, 2, None).await.unwrap();
    let org_row = sqlx::query("SELECT org_id FROM customers WHERE id = $1")
        .bind(&customer_id)
        .fetch_one(store.reader())
        .await
        .unwrap();
    let org_id: String = sqlx::Row::try_get(&org_row, "org_id").unwrap();
    let seeding = Instant::now();
    let details = json!({"score": 0.8123, "threshold": 0.45, "modelId": "buffalo_l/w600k_r50"}).to_string();
    for chunk in (0..args.rows).collect::<Vec<_>>().chunks(5000) {
        let mut tx = store.begin().await.unwrap();
        for i in chunk {
            let row = VerificationRow {
                id: new_id(IdKind::Verification),
                org_id: org_id.clone(),
                customer_id: customer_id.clone(),
                kind: "face_match".into(),
                status: if i % 3 == 0 { "failed".into() } else { "passed".into() },
                reasons: json!(["score_above_threshold"]).to_string(),
                details: details.clone(),
                actor: "api_key:key_bench".into(),
                actor_user_id: None,
                created_at: now_timestamp(),
            };
            verifications::insert(&mut tx, &row).await.unwrap();
        }
        tx.commit().await.unwrap();
    }
    println!("seeded {} verifications in {:.1} s", args.rows, seeding.elapsed().as_secs_f64());

    let mut times = Vec::new();
    for run in 1..=args.runs {
        let before = rss_kib(args.server_pid);
        let peak = Arc::new(AtomicU64::new(before));
        let done = Arc::new(AtomicBool::new(false));
        let sampler = {
            let (peak, done, pid) = (peak.clone(), done.clone(), args.server_pid);
            tokio::spawn(async move {
                while !done.load(Ordering::Relaxed) {
                    peak.fetch_max(rss_kib(pid), Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            })
        };
        let started = Instant::now();
        let mut response = client
            .get(format!("{}/api/identity/export/verifications.csv", args.base))
            .bearer_auth(&args.key)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{}", response.status());
        let (mut bytes, mut lines) = (0usize, 0usize);
        let mut first_byte = None;
        while let Some(chunk) = response.chunk().await.unwrap() {
            first_byte.get_or_insert_with(|| started.elapsed());
            bytes += chunk.len();
            lines += chunk.iter().filter(|b| **b == b'\n').count();
        }
        let elapsed = started.elapsed();
        done.store(true, Ordering::Relaxed);
        sampler.await.unwrap();
        let peak = peak.load(Ordering::Relaxed);
        println!(
            "run {run}: {} rows, {:.1} MB in {:.2} s ({:.0} rows/s, first byte after {} ms); \
             server RSS {:.1} MB before, {:.1} MB at peak (+{:.1} MB)",
            lines - 1,
            bytes as f64 / 1e6,
            elapsed.as_secs_f64(),
            (lines - 1) as f64 / elapsed.as_secs_f64(),
            first_byte.unwrap_or_default().as_millis(),
            before as f64 / 1024.0,
            peak as f64 / 1024.0,
            peak.saturating_sub(before) as f64 / 1024.0,
        );
        times.push(elapsed.as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    println!("median {:.2} s over {} runs", times[times.len() / 2], times.len());
}
