//! Webhook rules (SPEC §8): the delivery signature, the retry schedule, and which addresses a
//! delivery may go to.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Event types a webhook can subscribe to (seed 000; `webhook.test` only goes where asked).
pub const EVENT_TYPES: [&str; 8] = [
    "kyc.tier_changed",
    "verification.completed",
    "ktp.capture_completed",
    "review.decided",
    "step_up.decided",
    "customer.erased",
    "face_match.completed",
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

/// Whether a delivery may go to this address without the operator allowing private targets.
///
/// IPv4: refused are "this network" 0.0.0.0/8, private (RFC 1918), shared CGNAT 100.64.0.0/10,
/// loopback, link-local (cloud metadata lives there), IETF protocol assignments 192.0.0.0/24,
/// the documentation ranges, the deprecated 6to4 relay 192.88.99.0/24, benchmarking
/// 198.18.0.0/15, multicast 224.0.0.0/4 and reserved 240.0.0.0/4 with the broadcast address.
///
/// IPv6: only global unicast (2000::/3) can be public, so the unspecified and loopback
/// addresses, IPv4-compatible `::a.b.c.d`, IPv4-translated `::ffff:0:a.b.c.d`, NAT64
/// `64:ff9b::/96` and `64:ff9b:1::/48`, discard-only `100::/64`, unique-local `fc00::/7`,
/// link-local `fe80::/10`, site-local `fec0::/10` and multicast are refused; inside it the IETF
/// protocol assignments `2001::/23` (Teredo `2001::/32` among them), documentation
/// `2001:db8::/32` and `3fff::/20`, and 6to4 `2002::/16` are refused too. An IPv4-mapped
/// `::ffff:a.b.c.d` is a connection to its IPv4 address and is judged as that address. Every
/// address that embeds an IPv4 address some gateway would reach (NAT64, 6to4, Teredo) is refused
/// whole: what lies behind the gateway cannot be checked from here.
pub fn is_public_address(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(v4: Ipv4Addr) -> bool {
    let [a, b, c, _] = v4.octets();
    !(a == 0 // 0.0.0.0/8 "this network", the unspecified address among them
        || v4.is_private() // 10/8, 172.16/12, 192.168/16
        || (a == 100 && (b & 0xc0) == 64) // 100.64.0.0/10 shared address space (CGNAT)
        || v4.is_loopback() // 127/8
        || v4.is_link_local() // 169.254/16
        || (a == 192 && b == 0 && c == 0) // 192.0.0.0/24 IETF protocol assignments
        || v4.is_documentation() // 192.0.2/24, 198.51.100/24, 203.0.113/24
        || (a == 192 && b == 88 && c == 99) // 192.88.99.0/24 6to4 relay anycast (deprecated)
        || (a == 198 && (b & 0xfe) == 18) // 198.18.0.0/15 benchmarking
        || v4.is_multicast() // 224/4
        || a >= 240) // 240/4 reserved, 255.255.255.255 broadcast among them
}

fn is_public_v6(v6: Ipv6Addr) -> bool {
    let s = v6.segments();
    // Global unicast is 2000::/3; everything below and above it is special or unallocated.
    if (s[0] & 0xe000) != 0x2000 {
        return false;
    }
    !matches!(
        (s[0], s[1]),
        (0x2001, 0x0000..=0x01ff) // 2001::/23 IETF protocol assignments (Teredo 2001::/32, ...)
            | (0x2001, 0x0db8) // 2001:db8::/32 documentation
            | (0x2002, _) // 2002::/16 6to4
            | (0x3fff, 0x0000..=0x0fff) // 3fff::/20 documentation
    )
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

    fn public(address: &str) -> bool {
        is_public_address(address.parse().unwrap_or_else(|_| panic!("{address} is not an address")))
    }

    /// Each special range: addresses inside it (its edges where they matter), then public
    /// addresses next to it. Where a range has no public neighbour (everything around it is
    /// special too) the list names the nearest public ones or the same IPv4 address reached
    /// directly.
    const RANGES: &[(&str, &[&str], &[&str])] = &[
        ("0.0.0.0/8 this network", &["0.0.0.0", "0.1.2.3", "0.255.255.255"], &["1.0.0.1", "1.1.1.1"]),
        ("10.0.0.0/8 private", &["10.0.0.0", "10.1.2.3", "10.255.255.255"], &["9.255.255.254", "11.0.0.1"]),
        (
            "100.64.0.0/10 CGNAT",
            &["100.64.0.0", "100.100.100.200", "100.127.255.255"],
            &["100.63.255.255", "100.128.0.0"],
        ),
        ("127.0.0.0/8 loopback", &["127.0.0.1", "127.255.255.254"], &["126.255.255.254", "128.0.0.1"]),
        ("169.254.0.0/16 link-local", &["169.254.0.1", "169.254.169.254"], &["169.253.255.254", "169.255.0.1"]),
        ("172.16.0.0/12 private", &["172.16.0.1", "172.31.255.255"], &["172.15.255.254", "172.32.0.1"]),
        (
            "192.0.0.0/24 IETF protocol assignments",
            &["192.0.0.1", "192.0.0.8", "192.0.0.170", "192.0.0.255"],
            &["192.0.1.1", "191.255.255.254"],
        ),
        ("192.0.2.0/24 documentation", &["192.0.2.0", "192.0.2.255"], &["192.0.3.1"]),
        ("192.88.99.0/24 6to4 relay", &["192.88.99.1"], &["192.88.98.1", "192.88.100.1"]),
        ("192.168.0.0/16 private", &["192.168.0.1", "192.168.255.255"], &["192.167.255.254", "192.169.0.1"]),
        ("198.18.0.0/15 benchmarking", &["198.18.0.1", "198.19.255.255"], &["198.17.255.254", "198.20.0.1"]),
        ("198.51.100.0/24 documentation", &["198.51.100.7"], &["198.51.101.1", "198.51.99.1"]),
        ("203.0.113.0/24 documentation", &["203.0.113.9"], &["203.0.114.1", "203.0.112.1"]),
        ("224.0.0.0/4 multicast", &["224.0.0.1", "239.255.255.250"], &["223.255.255.254"]),
        ("240.0.0.0/4 reserved and broadcast", &["240.0.0.1", "254.1.2.3", "255.255.255.255"], &["223.255.255.254"]),
        ("::/128 and ::1", &["::", "::1"], &["::ffff:8.8.8.8"]),
        ("::/96 IPv4-compatible", &["::0.0.0.2", "::127.0.0.1", "::169.254.169.254", "::8.8.8.8"], &["::ffff:8.8.8.8"]),
        (
            "::ffff:0:0/96 IPv4-mapped, embedding a private address",
            &[
                "::ffff:10.0.0.1",
                "::ffff:127.0.0.1",
                "::ffff:169.254.169.254",
                "::ffff:0.0.0.0",
                "::ffff:100.64.0.1",
                "::ffff:255.255.255.255",
            ],
            &["::ffff:8.8.8.8", "::ffff:1.1.1.1"],
        ),
        ("::ffff:0:0:0/96 IPv4-translated", &["::ffff:0:808:808", "::ffff:0:7f00:1"], &["::ffff:8.8.8.8"]),
        (
            "64:ff9b::/96 NAT64",
            &["64:ff9b::808:808", "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe"],
            &["::ffff:8.8.8.8", "2001:4860:4860::8888"],
        ),
        ("64:ff9b:1::/48 local-use NAT64", &["64:ff9b:1::808:808", "64:ff9b:1:ffff::1"], &["::ffff:8.8.8.8"]),
        ("100::/64 discard-only", &["100::1"], &["2000::1"]),
        ("below 2000::/3", &["1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "1::1"], &["2000::1"]),
        (
            "2001::/23 IETF protocol assignments, Teredo 2001::/32 among them",
            &["2001::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001:2::1", "2001:10::1", "2001:1ff:ffff::1"],
            &["2001:200::1", "2001:4860:4860::8888"],
        ),
        ("2001:db8::/32 documentation", &["2001:db8::1", "2001:db8:ffff::1"], &["2001:db7:ffff::1", "2001:db9::1"]),
        (
            "2002::/16 6to4",
            &["2002::1", "2002:c0a8:101::1", "2002:808:808::1", "2002:ffff::1"],
            &["2001:ffff:ffff::1", "2003::1"],
        ),
        ("3fff::/20 documentation", &["3fff::1", "3fff:fff:ffff::1"], &["3fff:1000::1", "3ffe:ffff::1"]),
        ("above 2000::/3", &["4000::1", "e000::1"], &["3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"]),
        ("fc00::/7 unique-local", &["fc00::1", "fd00::1", "fdff:ffff::1"], &["2606:4700::1111"]),
        ("fe80::/10 link-local", &["fe80::1", "febf:ffff::1"], &["2606:4700::1111"]),
        ("fec0::/10 site-local", &["fec0::1", "feff:ffff::1"], &["2606:4700::1111"]),
        ("ff00::/8 multicast", &["ff02::1", "ff0e::1"], &["2606:4700::1111"]),
    ];

    #[test]
    fn every_special_range_is_refused_and_its_public_neighbours_are_not() {
        for (range, refused, accepted) in RANGES {
            for address in *refused {
                assert!(!public(address), "{address} ({range}) was accepted");
            }
            for address in *accepted {
                assert!(public(address), "{address} (next to {range}) was refused");
            }
        }
    }

    #[test]
    fn ordinary_public_addresses_are_accepted() {
        for address in ["8.8.8.8", "1.1.1.1", "203.0.114.1", "2606:4700::1111", "2a00:1450:4001:82b::200e"] {
            assert!(public(address), "{address}");
        }
    }
}
