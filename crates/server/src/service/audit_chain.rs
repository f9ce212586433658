//! The audit log's hash chain, proven end to end: each entry links to the one before it, the
//! newest matches the org's head, and a retention checkpoint is the one the sweeper recorded.

use kenali_core::audit::{verify_chain, BrokenLink, GENESIS_HASH};

use super::Result;
use crate::store::{audit, retention, Store};

/// Outcome of `kenali audit verify`, per organization.
#[derive(Debug)]
pub struct AuditReport {
    pub orgs: Vec<(String, u64)>,
}

/// Walks every org's chain (or only `only_org`'s) in bounded batches: `kenali audit verify` and
/// the dashboard's "verify chain" run this one check.
pub async fn verify(store: &Store, only_org: Option<&str>) -> Result<std::result::Result<AuditReport, BrokenLink>> {
    let mut conn = store.reader().acquire().await?;
    let heads = audit::heads(&mut conn).await?;
    let mut report = AuditReport { orgs: Vec::new() };
    for (org_id, head) in heads.into_iter().filter(|(org, _)| only_org.is_none_or(|only| only == org)) {
        let mut entries = Vec::new();
        let mut after = 0;
        loop {
            let batch = audit::chain_batch(&mut conn, &org_id, after, 1000).await?;
            let Some(last) = batch.last() else { break };
            after = last.0.seq;
            entries.extend(batch);
        }
        // Entries the retention sweeper pruned are gone; the chain is proven from its checkpoint.
        let checkpoint = retention::audit_checkpoint(&mut conn, &org_id).await?;
        let start = match &checkpoint {
            Some(checkpoint) => (checkpoint.seq, checkpoint.hash.as_str()),
            None => (0, GENESIS_HASH),
        };
        match verify_chain(entries.iter().map(|(r, h)| (r, h.as_str())), start, Some(&head)) {
            Ok(count) => report.orgs.push((org_id, count)),
            Err(broken) => return Ok(Err(broken)),
        }
        if let Some(checkpoint) = checkpoint {
            if let Err(broken) = checkpoint_vouched(&entries, &checkpoint) {
                return Ok(Err(broken));
            }
        }
    }
    Ok(Ok(report))
}

/// The checkpoint table is not itself chained, so a checkpoint counts only when the newest
/// `retention.swept` entry that moved it (an entry inside the verified chain) names the same
/// link; otherwise someone deleted the chain's start and moved the checkpoint by hand.
fn checkpoint_vouched(
    entries: &[(kenali_core::audit::AuditRecord, String)],
    checkpoint: &retention::AuditCheckpoint,
) -> std::result::Result<(), BrokenLink> {
    let recorded = entries.iter().rev().filter(|(r, _)| r.action == "retention.swept").find_map(|(r, _)| {
        let details: serde_json::Value = serde_json::from_str(&r.details).ok()?;
        let seq = details["auditCheckpoint"]["seq"].as_i64()?;
        Some((r, seq, details["auditCheckpoint"]["hash"].as_str()?.to_string()))
    });
    match recorded {
        Some((_, seq, hash)) if seq == checkpoint.seq && hash == checkpoint.hash => Ok(()),
        other => Err(BrokenLink {
            seq: checkpoint.seq + 1,
            entry_id: other.map(|(r, _, _)| r.id.clone()).unwrap_or_else(|| "(none)".into()),
            reason: "the audit checkpoint is not the one the last retention sweep recorded: \
                     entries before it were removed outside the sweeper"
                .into(),
        }),
    }
}
