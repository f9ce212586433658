//! Webhook rules (SPEC §8): the delivery signature, the retry schedule, and which addresses a
//! delivery may go to.

use std::net::IpAddr;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Event types a webhook can subscribe to (seed 000; `webhook.test` only goes where asked).
pub const EVENT_TYPES: [&str; 7] = [
    "kyc.tier_changed",
    "verification.completed",
    "ktp.capture_completed",
    "review.decided",
    "step_up.decided",
    "customer.erased",
    "webhook.test",
];

/// First retry delay, doubling per attempt up to `RETRY_MAX_SECS`.
pub const RETRY_BASE_SECS: f64 = 10.0;
pub const RETRY_MAX_SECS: f64 = 3600.0;
/// Each delay is spread by up to ±20% so that receivers coming back are not hit in lockstep.
pub const RETRY_JITTER: f64 = 0.2;

/// `sha256=<hex>` of HMAC-SHA256 over the raw body: the value of `X-Identity-Signature` and of
/// `X-Quantum-Signature`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    // HMAC takes a key of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!("HMAC key length"));
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Seconds to wait after failed attempt number `attempt` (1-based); `jitter` in [-1, 1].
pub fn retry_delay_secs(attempt: u32, jitter: f64) -> f64 {
    let exponent = attempt.saturating_sub(1).min(30);
    let delay = (RETRY_BASE_SECS * 2f64.powi(exponent as i32)).min(RETRY_MAX_SECS);
    delay * (1.0 + RETRY_JITTER * jitter.clamp(-1.0, 1.0))
}

/// Whether a delivery may go to this address without the operator allowing private targets:
/// not loopback, private (RFC 1918, unique-local), link-local (cloud metadata lives there),
/// shared (CGNAT), unspecified, broadcast, multicast or documentation ranges.
pub fn is_public_address(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (b == 18 || b == 19)))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_address(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_the_raw_body() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn retries_double_up_to_an_hour_with_bounded_jitter() {
        assert_eq!(retry_delay_secs(1, 0.0), 10.0);
        assert_eq!(retry_delay_secs(2, 0.0), 20.0);
        assert_eq!(retry_delay_secs(9, 0.0), 2560.0);
        assert_eq!(retry_delay_secs(10, 0.0), 3600.0);
        assert_eq!(retry_delay_secs(500, 0.0), 3600.0);
        assert_eq!(retry_delay_secs(1, 1.0), 12.0);
        assert_eq!(retry_delay_secs(1, -5.0), 8.0);
        // Within 24 h of the first attempt there are at least 25 retries, even at the longest jitter.
        let mut elapsed = 0.0;
        let mut attempts = 0;
        while elapsed < 24.0 * 3600.0 {
            attempts += 1;
            elapsed += retry_delay_secs(attempts, 1.0);
        }
        assert!(attempts >= 25, "{attempts}");
    }

    #[test]
    fn private_loopback_and_link_local_targets_are_refused() {
        for refused in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public_address(refused.parse().unwrap_or_else(|_| panic!("{refused}"))), "{refused}");
        }
        for allowed in ["8.8.8.8", "203.0.114.1", "2606:4700::1111"] {
            assert!(is_public_address(allowed.parse().unwrap_or_else(|_| panic!("{allowed}"))), "{allowed}");
        }
    }
}
