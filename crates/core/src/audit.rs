//! The audit log's hash chain (SPEC §8). Each entry's hash covers its own fields and the
//! previous entry's hash, per organization; a head record holds the newest sequence number
//! and hash so that deleting the newest rows is caught as well as editing any row.

use sha2::{Digest, Sha256};

/// The hash that precedes an organization's first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The fields of one audit entry that the chain protects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub id: String,
    pub org_id: String,
    pub seq: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub request_id: String,
    /// JSON text exactly as stored.
    pub details: String,
    pub created_at: String,
    pub prev_hash: String,
}

/// Hex SHA-256 over the length-prefixed fields, so no two field lists collide by shifting
/// bytes from one field to the next.
pub fn entry_hash(record: &AuditRecord) -> String {
    let mut hasher = Sha256::new();
    let seq = record.seq.to_string();
    for field in [
        "kenali-audit-v1",
        &record.id,
        &record.org_id,
        &seq,
        &record.actor,
        &record.action,
        &record.target,
        &record.request_id,
        &record.details,
        &record.created_at,
        &record.prev_hash,
    ] {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// The first place the chain fails, named for an operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit chain broken at seq {seq} ({entry_id}): {reason}")]
pub struct BrokenLink {
    pub seq: i64,
    pub entry_id: String,
    pub reason: String,
}

/// The newest entry as the head record remembers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    pub seq: i64,
    pub hash: String,
}

/// Walks one organization's entries in sequence order, each with its stored hash, and checks
/// continuity, each hash, and that the chain ends where the head says. `start` is the point
/// the walk begins from: `(0, GENESIS_HASH)` for a full chain, or a retention checkpoint.
pub fn verify_chain<'a>(
    entries: impl IntoIterator<Item = (&'a AuditRecord, &'a str)>,
    start: (i64, &str),
    head: Option<&ChainHead>,
) -> Result<u64, BrokenLink> {
    let (mut expected_seq, mut prev_hash) = (start.0 + 1, start.1.to_string());
    let mut last: Option<(i64, String)> = None;
    let mut count = 0u64;
    for (record, stored_hash) in entries {
        let broken = |reason: String| BrokenLink { seq: record.seq, entry_id: record.id.clone(), reason };
        if record.seq != expected_seq {
            return Err(broken(format!("expected seq {expected_seq}: an entry before it was removed")));
        }
        if record.prev_hash != prev_hash {
            return Err(broken("prev_hash does not match the previous entry".into()));
        }
        let computed = entry_hash(record);
        if computed != stored_hash {
            return Err(broken("contents do not match the stored hash (row altered)".into()));
        }
        expected_seq += 1;
        prev_hash = computed;
        last = Some((record.seq, record.id.clone()));
        count += 1;
    }
    if let Some(head) = head {
        let (last_seq, last_id) = last.unwrap_or((start.0, "(none)".into()));
        if head.seq != last_seq || head.hash != prev_hash {
            return Err(BrokenLink {
                seq: last_seq + 1,
                entry_id: last_id,
                reason: format!(
                    "head records seq {} but the chain ends at seq {last_seq}: newest entries removed or altered",
                    head.seq
                ),
            });
        }
    }
    Ok(count)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<(AuditRecord, String)> {
        let mut prev = GENESIS_HASH.to_string();
        (1..=n)
            .map(|seq| {
                let record = AuditRecord {
                    id: format!("aud_{seq}"),
                    org_id: "org_1".into(),
                    seq,
                    actor: "key_1".into(),
                    action: "customer.created".into(),
                    target: format!("cus_{seq}"),
                    request_id: "req_1".into(),
                    details: "{}".into(),
                    created_at: "2026-01-01T00:00:00.000Z".into(),
                    prev_hash: prev.clone(),
                };
                let hash = entry_hash(&record);
                prev = hash.clone();
                (record, hash)
            })
            .collect()
    }

    fn verify(entries: &[(AuditRecord, String)], head: Option<&ChainHead>) -> Result<u64, BrokenLink> {
        verify_chain(entries.iter().map(|(r, h)| (r, h.as_str())), (0, GENESIS_HASH), head)
    }

    fn head_of(entries: &[(AuditRecord, String)]) -> ChainHead {
        let (record, hash) = entries.last().unwrap();
        ChainHead { seq: record.seq, hash: hash.clone() }
    }

    #[test]
    fn an_untouched_chain_verifies() {
        let entries = chain(5);
        assert_eq!(verify(&entries, Some(&head_of(&entries))), Ok(5));
        assert_eq!(verify(&[], None), Ok(0));
    }

    #[test]
    fn an_altered_row_is_named() {
        let mut entries = chain(5);
        entries[2].0.target = "cus_999".into();
        let err = verify(&entries, None).unwrap_err();
        assert_eq!(err.seq, 3);
        assert!(err.reason.contains("altered"));
    }

    #[test]
    fn a_removed_middle_row_is_named() {
        let mut entries = chain(5);
        entries.remove(1);
        let err = verify(&entries, None).unwrap_err();
        assert_eq!(err.seq, 3);
    }

    #[test]
    fn a_removed_newest_row_is_caught_by_the_head() {
        let mut entries = chain(5);
        let head = head_of(&entries);
        entries.pop();
        let err = verify(&entries, Some(&head)).unwrap_err();
        assert_eq!(err.seq, 5);
    }

    #[test]
    fn a_rehashed_forgery_breaks_the_next_link() {
        let mut entries = chain(3);
        entries[0].0.action = "customer.erased".into();
        entries[0].1 = entry_hash(&entries[0].0);
        let err = verify(&entries, None).unwrap_err();
        assert_eq!(err.seq, 2);
    }

    #[test]
    fn verification_can_start_at_a_checkpoint() {
        let entries = chain(5);
        let rest = &entries[2..];
        let start = (2, entries[1].1.as_str());
        let verified = verify_chain(rest.iter().map(|(r, h)| (r, h.as_str())), start, Some(&head_of(&entries)));
        assert_eq!(verified, Ok(3));
    }
}
