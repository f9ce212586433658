//! Prefixed ULID identifiers (SPEC §1): `cus_01J...`, `ver_01J...`.

use std::sync::Mutex;

use ulid::{Generator, Ulid};

/// Ids made in one millisecond still sort in the order they were made, so "ORDER BY id" is
/// creation order within a process (the tier fold relies on history order).
static GENERATOR: Mutex<Generator> = Mutex::new(Generator::new());

/// The kinds of object that carry an id, each with its fixed prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    Customer,
    Verification,
    FlashChallenge,
    KtpBundle,
    FaceEnrollment,
    Attempt,
    ReviewItem,
    TierEvent,
    AuditEntry,
    Webhook,
    WebhookEvent,
    ApiKey,
    Device,
    Submission,
    User,
    Organization,
    Request,
    Capture,
    OAuthClient,
    SigningKey,
    Integration,
    IntegrationKey,
    Passkey,
}

impl IdKind {
    pub const fn prefix(self) -> &'static str {
        match self {
            IdKind::Customer => "cus",
            IdKind::Verification => "ver",
            IdKind::FlashChallenge => "fc",
            IdKind::KtpBundle => "ktpb",
            IdKind::FaceEnrollment => "fe",
            IdKind::Attempt => "att",
            IdKind::ReviewItem => "rev",
            IdKind::TierEvent => "tev",
            IdKind::AuditEntry => "aud",
            IdKind::Webhook => "whk",
            IdKind::WebhookEvent => "evt",
            IdKind::ApiKey => "key",
            IdKind::Device => "dev",
            IdKind::Submission => "sub",
            IdKind::User => "usr",
            IdKind::Organization => "org",
            IdKind::Request => "req",
            IdKind::Capture => "cap",
            IdKind::OAuthClient => "ocl",
            IdKind::SigningKey => "kid",
            IdKind::Integration => "int",
            IdKind::IntegrationKey => "ik",
            IdKind::Passkey => "pk",
        }
    }
}

/// A new, time-ordered id of the given kind.
pub fn new_id(kind: IdKind) -> String {
    // `Ulid::default()` is the nil id, not a fresh one: the fallback must call `Ulid::new`.
    #[allow(clippy::unwrap_or_default)]
    let ulid = GENERATOR.lock().ok().and_then(|mut generator| generator.generate().ok()).unwrap_or_else(Ulid::new);
    format!("{}_{}", kind.prefix(), ulid)
}

/// The smallest id of `kind` made at `unix_ms` or later: ids sort by their creation time.
pub fn id_floor(kind: IdKind, unix_ms: u64) -> String {
    format!("{}_{}", kind.prefix(), Ulid::from_parts(unix_ms, 0))
}

/// Whether `value` is a well-formed id of `kind` (prefix plus a valid ULID).
pub fn is_id_of(kind: IdKind, value: &str) -> bool {
    value
        .strip_prefix(kind.prefix())
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|ulid| Ulid::from_string(ulid).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_carry_their_prefix_and_parse_back() {
        let id = new_id(IdKind::Customer);
        assert!(id.starts_with("cus_"));
        assert_eq!(id.len(), 4 + 26);
        assert!(is_id_of(IdKind::Customer, &id));
        assert!(!is_id_of(IdKind::Verification, &id));
    }

    #[test]
    fn ids_made_in_a_burst_sort_in_creation_order() {
        let ids: Vec<_> = (0..1000).map(|_| new_id(IdKind::Verification)).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
    }

    #[test]
    #[allow(clippy::unwrap_used)]
    fn the_floor_of_a_time_sorts_before_every_id_made_then_or_later() {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
        let floor = id_floor(IdKind::FaceEnrollment, now - 1);
        let id = new_id(IdKind::FaceEnrollment);
        assert!(floor < id, "{floor} {id}");
        assert!(id_floor(IdKind::FaceEnrollment, now + 60_000) > id);
        assert!(is_id_of(IdKind::FaceEnrollment, &floor));
    }

    #[test]
    fn malformed_ids_are_rejected() {
        for bad in ["cus_", "cus_123", "cus01HXY", "", "cus_01HXYZZZZZZZZZZZZZZZZZZZZZZZ"] {
            assert!(!is_id_of(IdKind::Customer, bad), "{bad}");
        }
    }
}
