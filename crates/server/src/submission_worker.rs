//! Runs face-match submission jobs (seed 003). Every `kenali serve` process runs this worker:
//! it claims queued jobs under a lease (`store::submissions::claim_due`, `FOR UPDATE SKIP
//! LOCKED` on PostgreSQL), so processes share the work, and a job whose process died is taken
//! over when its lease runs out. The result is written only under the claim's token, so a job
//! is done once.
//!
//! It wakes when a transaction of its own process commits and, on PostgreSQL, when any process
//! confirms a submission (`LISTEN kenali_face_match`); it polls only as a fallback.

use std::sync::Arc;
use std::time::Duration;

use kenali_core::time_fmt::format_timestamp;
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;

use crate::state::AppState;
use crate::store::submissions::{self as store, ClaimedJob};
use crate::store::{listen, Backend, StoreResult};

/// How long a claimed job is held; far longer than a job takes (about a third of a second),
/// short enough that a dead process's jobs are soon taken over.
pub const LEASE: Duration = Duration::from_secs(60);
/// The longest pause when nothing is due: jobs of dead processes and missed wake-ups are found
/// by this poll.
const IDLE_POLL: Duration = Duration::from_secs(1);

/// Runs until `stop` turns true, then finishes the jobs in hand. Jobs in flight are bounded
/// by the cores (the face pipeline's own limit), so a backlog waits in the database, where
/// other processes can take it, not in this process's memory.
pub async fn run_worker(state: AppState, mut stop: watch::Receiver<bool>) {
    if state.faces.is_none() {
        return;
    }
    let slots = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let wake = Arc::new(Notify::new());
    let listener = (state.store.backend() == Backend::Postgres)
        .then(|| tokio::spawn(listen(state.config.database_url(), store::JOBS_CHANNEL, wake.clone(), stop.clone())));
    let mut commits = state.store.commits();
    let mut running = JoinSet::new();
    loop {
        while running.try_join_next().is_some() {}
        let free = slots.saturating_sub(running.len());
        if free == 0 {
            tokio::select! {
                _ = running.join_next() => {}
                _ = stop.wait_for(|stopped| *stopped) => break,
            }
            continue;
        }
        let jobs = claim(&state, free).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "claiming face-match jobs failed");
            Vec::new()
        });
        let idle = jobs.is_empty();
        for job in jobs {
            let state = state.clone();
            running.spawn(async move {
                if let Err(e) = crate::service::face_match_job::process(&state, &job).await {
                    tracing::warn!(submission = %job.id, error = %e,
                                   "a face-match job could not be recorded; it is retried when its lease ends");
                }
            });
        }
        if *stop.borrow() {
            break;
        }
        if idle {
            tokio::select! {
                _ = tokio::time::sleep(IDLE_POLL) => {}
                _ = commits.changed() => {}
                () = wake.notified() => {}
                _ = running.join_next(), if !running.is_empty() => {}
                _ = stop.wait_for(|stopped| *stopped) => break,
            }
        }
    }
    while running.join_next().await.is_some() {}
    if let Some(listener) = listener {
        listener.abort();
    }
}

/// Claims up to `limit` due jobs; a cheap read first, so that a wake-up with nothing due costs
/// no write.
async fn claim(state: &AppState, limit: usize) -> StoreResult<Vec<ClaimedJob>> {
    let now = state.clock.now();
    let mut conn = state.store.reader().acquire().await?;
    if !store::any_due(&mut conn, &format_timestamp(now)).await? {
        return Ok(Vec::new());
    }
    drop(conn);
    let token = ulid::Ulid::new().to_string();
    let mut tx = state.store.begin().await?;
    let claimed = store::claim_due(
        &mut tx,
        state.store.backend(),
        &format_timestamp(now),
        &format_timestamp(now + LEASE),
        &token,
        i64::try_from(limit).unwrap_or(1),
    )
    .await?;
    tx.commit().await?;
    Ok(claimed)
}
