//! The retention sweeper (seed 000 "Retention", SPEC §8). Onboarding capture frames go after
//! the org's onboarding window (3 years by default), step-up frames after 90 days, verification
//! rows, the records hanging off them and audit entries after 7 years. Pruning the start of the
//! audit chain records a checkpoint (the last pruned entry's sequence number and hash), from
//! which `kenali audit verify` still proves the rest unbroken. Each org is swept in one
//! transaction together with its audit entry, which carries the counts.
//!
//! `kenali serve` sweeps every [`SWEEP_EVERY`] under a lease in the database, so that of several
//! processes one sweeps; `kenali retention run [--now T]` sweeps at once.

use std::time::Duration;

use kenali_core::id::{new_id, IdKind};
use kenali_core::settings::RetentionWindows;
use kenali_core::time_fmt::{format_timestamp, now_timestamp};
use serde::Serialize;
use serde_json::json;
use time::OffsetDateTime;
use tokio::sync::watch;

use crate::ledger::{self, Actor};
use crate::service::Result;
use crate::state::AppState;
use crate::store::retention::{self, AuditCheckpoint, RecordsPruned};
use crate::store::{org_settings, StoreResult};

/// The lease name in `job_leases`.
const JOB: &str = "retention";
/// How often a sweep is due.
pub const SWEEP_EVERY: Duration = Duration::from_secs(3600);
/// How often a process looks whether one is due.
const CHECK_EVERY: Duration = Duration::from_secs(300);
/// First look after start, so a restart does not wait a whole check interval.
const FIRST_CHECK: Duration = Duration::from_secs(15);
/// How long a sweeping process holds the job; a process that dies frees it after this.
const LEASE: Duration = Duration::from_secs(1800);

/// The cut-off times of one org's windows: what was stored before each is deleted.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cutoffs {
    pub onboarding_frames_before: String,
    pub step_up_frames_before: String,
    pub records_before: String,
}

impl Cutoffs {
    pub fn new(now: OffsetDateTime, windows: &RetentionWindows) -> Self {
        let before = |days: u32| format_timestamp(now - time::Duration::days(i64::from(days)));
        Cutoffs {
            onboarding_frames_before: before(windows.onboarding_frames_days),
            step_up_frames_before: before(windows.step_up_frames_days),
            records_before: before(windows.records_days),
        }
    }
}

/// What one sweep deleted in one org.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrgSweep {
    pub org_id: String,
    pub cutoffs: Cutoffs,
    pub onboarding_frames_deleted: u64,
    pub step_up_frames_deleted: u64,
    pub records_deleted: RecordsPruned,
    pub audit_entries_deleted: u64,
    /// Stored idempotent responses past their 24-hour replay window.
    pub idempotency_records_deleted: u64,
    /// Face-match submissions whose images were deleted: finished ones past the step-up frame
    /// window, and abandoned ones (never confirmed before their upload URLs expired, which
    /// also fails them).
    pub submission_images_deleted: u64,
    /// Where the org's audit chain now starts, when this sweep moved it.
    pub audit_checkpoint: Option<AuditCheckpoint>,
}

impl OrgSweep {
    fn deleted_anything(&self) -> bool {
        self.onboarding_frames_deleted
            + self.step_up_frames_deleted
            + self.audit_entries_deleted
            + self.idempotency_records_deleted
            + self.submission_images_deleted
            > 0
            || self.records_deleted != RecordsPruned::default()
    }
}

/// Sweeps every org as of `now`. A sweep that deletes something is audited in the org's chain;
/// with `audit_empty`, one that deletes nothing is too (a sweep an operator asked for).
pub async fn sweep(state: &AppState, now: OffsetDateTime, actor: &str, audit_empty: bool) -> Result<Vec<OrgSweep>> {
    let org_ids = {
        let mut conn = state.store.reader().acquire().await?;
        retention::org_ids(&mut conn).await?
    };
    let request_id = new_id(IdKind::Request);
    let mut report = Vec::with_capacity(org_ids.len());
    for org_id in org_ids {
        let mut tx = state.store.begin().await?;
        let (settings, _) = org_settings::get(&mut tx, &org_id).await?;
        let cutoffs = Cutoffs::new(now, &settings.retention);
        let onboarding_frames_deleted =
            retention::delete_captures(&mut tx, &org_id, "onboarding", &cutoffs.onboarding_frames_before).await?;
        let step_up_frames_deleted =
            retention::delete_captures(&mut tx, &org_id, "step_up", &cutoffs.step_up_frames_before).await?;
        let records_deleted = retention::prune_records(&mut tx, &org_id, &cutoffs.records_before).await?;
        let (audit_entries_deleted, audit_checkpoint) =
            retention::prune_audit(&mut tx, &org_id, &cutoffs.records_before, &now_timestamp()).await?;
        let idempotency_before = kenali_core::time_fmt::format_timestamp(now - crate::middleware::REPLAY_WINDOW);
        let idempotency_records_deleted = retention::delete_idempotency(&mut tx, &org_id, &idempotency_before).await?;
        let submission_images_deleted = crate::service::submissions::sweep(
            &mut tx,
            &org_id,
            &cutoffs.step_up_frames_before,
            &kenali_core::time_fmt::format_timestamp(now),
        )
        .await?;
        let swept = OrgSweep {
            org_id: org_id.clone(),
            cutoffs,
            onboarding_frames_deleted,
            step_up_frames_deleted,
            records_deleted,
            audit_entries_deleted,
            idempotency_records_deleted,
            submission_images_deleted,
            audit_checkpoint,
        };
        if swept.deleted_anything() || audit_empty {
            let actor = Actor { org_id, actor: actor.into(), actor_user_id: None, request_id: request_id.clone() };
            let details = serde_json::to_value(&swept).unwrap_or_else(|_| json!({}));
            ledger::audit(&mut tx, &actor, "retention.swept", "retention", details).await?;
        }
        tx.commit().await?;
        report.push(swept);
    }
    // The expired objects, and any deletion an erasure or an earlier sweep left queued.
    if let Err(e) = crate::blobs::drain_deletions(&state.store, &state.blobs, now).await {
        tracing::warn!(error = %e, "deleting expired objects from the blob store; they stay queued");
    }
    Ok(report)
}

/// Runs in `serve` until `stop` turns true: looks every few minutes whether a sweep is due and,
/// when this process wins the lease, sweeps.
pub async fn run_sweeper(state: AppState, mut stop: watch::Receiver<bool>) {
    let holder = new_id(IdKind::Request);
    let mut wait = FIRST_CHECK;
    loop {
        tokio::select! {
            _ = stop.wait_for(|stop| *stop) => return,
            () = tokio::time::sleep(wait) => {}
        }
        wait = CHECK_EVERY;
        match claim(&state, &holder).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "could not check whether a retention sweep is due");
                continue;
            }
        }
        match sweep(&state, state.clock.now(), "retention", false).await {
            Ok(report) => {
                for org in report.iter().filter(|o| o.deleted_anything()) {
                    tracing::info!(org = %org.org_id, onboarding_frames = org.onboarding_frames_deleted,
                                   step_up_frames = org.step_up_frames_deleted,
                                   verifications = org.records_deleted.verifications,
                                   audit_entries = org.audit_entries_deleted, "retention sweep deleted expired data");
                }
                match crate::oauth::purge_retired_keys(&state).await {
                    Ok(0) => {}
                    Ok(n) => {
                        tracing::info!(keys = n, "deleted retired OAuth signing keys whose tokens have all expired")
                    }
                    Err(e) => tracing::warn!(error = %e, "could not delete retired OAuth signing keys"),
                }
                if let Err(e) = finish(&state, &holder).await {
                    tracing::warn!(error = %e, "could not record the retention sweep as finished");
                }
            }
            // The lease runs out and the next check (here or in another process) tries again.
            Err(e) => tracing::error!(error = %e, "retention sweep failed"),
        }
    }
}

async fn claim(state: &AppState, holder: &str) -> StoreResult<bool> {
    let now = OffsetDateTime::now_utc();
    let mut conn = state.store.write().await?;
    retention::try_claim_job(
        &mut conn,
        JOB,
        holder,
        &format_timestamp(now),
        &format_timestamp(now + LEASE),
        &format_timestamp(now - SWEEP_EVERY),
    )
    .await
}

async fn finish(state: &AppState, holder: &str) -> StoreResult<()> {
    let mut conn = state.store.write().await?;
    retention::finish_job(&mut conn, JOB, holder, &now_timestamp()).await
}
