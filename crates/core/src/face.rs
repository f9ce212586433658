//! Face-match policy (SPEC §7): thresholds on the cosine similarity of ArcFace embeddings.

use serde::{Deserialize, Serialize};

/// Default step-up and match threshold (seed 000: tunable per org for a target FAR ~1e-4).
/// On 300 public labelled pairs the lowest same-person score was 0.430 and the highest
/// different-person score 0.236 (shared/MODELS.md).
pub const DEFAULT_MATCH_THRESHOLD: f32 = 0.45;
/// Extra margin demanded when the caller marks an action high-risk.
pub const HIGH_RISK_MARGIN: f32 = 0.05;
/// Bounds an org may set its threshold within.
pub const MIN_MATCH_THRESHOLD: f32 = 0.30;
pub const MAX_MATCH_THRESHOLD: f32 = 0.90;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum RiskLevel {
    Low,
    #[default]
    Medium,
    High,
}

/// The threshold a decision uses: the org's, raised for high-risk actions, never above the max.
pub fn threshold_for(org_threshold: f32, risk: RiskLevel) -> f32 {
    let base = org_threshold.clamp(MIN_MATCH_THRESHOLD, MAX_MATCH_THRESHOLD);
    match risk {
        RiskLevel::High => (base + HIGH_RISK_MARGIN).min(MAX_MATCH_THRESHOLD),
        RiskLevel::Low | RiskLevel::Medium => base,
    }
}

/// The best score of a pool and which entry gave it.
pub fn best_match<'a, T>(scores: impl IntoIterator<Item = (&'a T, f32)>) -> Option<(&'a T, f32)> {
    scores.into_iter().fold(None, |best, (item, score)| match best {
        Some((_, top)) if top >= score => best,
        _ => Some((item, score)),
    })
}

/// Embeddings as stored: little-endian f32s.
pub fn embedding_to_bytes(embedding: &[f32]) -> Vec<u8> {
    embedding.iter().flat_map(|v| v.to_le_bytes()).collect()
}

pub fn embedding_from_bytes(bytes: &[u8]) -> Option<Vec<f32>> {
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    Some(bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn high_risk_raises_the_threshold_within_bounds() {
        assert_eq!(threshold_for(0.45, RiskLevel::Medium), 0.45);
        assert!((threshold_for(0.45, RiskLevel::High) - 0.50).abs() < 1e-6);
        assert_eq!(threshold_for(0.89, RiskLevel::High), MAX_MATCH_THRESHOLD);
        assert_eq!(threshold_for(0.1, RiskLevel::Low), MIN_MATCH_THRESHOLD);
    }

    #[test]
    fn the_best_score_wins() {
        let pool = ["a", "b", "c"];
        let best = best_match(pool.iter().zip([0.2, 0.7, 0.5]));
        assert_eq!(best, Some((&"b", 0.7)));
        assert_eq!(best_match::<&str>([]), None);
    }

    #[test]
    fn embeddings_round_trip_through_bytes() {
        let v = vec![0.5f32, -1.25, 3.0];
        assert_eq!(embedding_from_bytes(&embedding_to_bytes(&v)), Some(v));
        assert_eq!(embedding_from_bytes(&[1, 2, 3]), None);
    }
}
