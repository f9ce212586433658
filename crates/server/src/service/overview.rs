//! The dashboard's overview: KTP captures per day by verdict, the step-up allow rate and its
//! latency (p50, p99) per day, and how long the open review items have waited.

use kenali_core::time_fmt::{format_timestamp, parse_timestamp};
use time::Duration;

use super::Result;
use crate::state::AppState;
use crate::store::faces::{self, AttemptSample};
use crate::store::ktp as ktp_store;

/// Days the overview covers, today included.
pub const DAYS: i64 = 14;
/// Most attempts it reads (the newest); beyond that a day's figures are a sample.
const MAX_ATTEMPTS: i64 = 100_000;
/// Most open review items it ages.
const MAX_OPEN_ITEMS: i64 = 10_000;

/// One day's KTP captures by outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaptureDay {
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    pub passed: u64,
    /// Failed, or sent to review (a capture that did not pass on its own).
    pub failed: u64,
    pub refused: u64,
}

/// One day's step-ups.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StepUpDay {
    pub day: String,
    pub attempts: u64,
    pub allowed: u64,
    pub p50_ms: Option<i64>,
    pub p99_ms: Option<i64>,
}

impl StepUpDay {
    /// Allowed of all attempts, 0 to 1; `None` on a day without any.
    pub fn allow_rate(&self) -> Option<f64> {
        (self.attempts > 0).then(|| self.allowed as f64 / self.attempts as f64)
    }
}

/// Open review items by how long they have waited.
pub const AGE_BUCKETS: [(&str, i64); 5] =
    [("< 1 h", 3600), ("1–4 h", 4 * 3600), ("4–24 h", 86_400), ("1–3 d", 3 * 86_400), ("> 3 d", i64::MAX)];

pub struct Overview {
    pub captures: Vec<CaptureDay>,
    pub step_ups: Vec<StepUpDay>,
    /// Counts per [`AGE_BUCKETS`] entry.
    pub queue_age: [u64; 5],
}

/// The `q`-quantile (0 to 1) of sorted values, nearest rank.
pub fn quantile(sorted: &[i64], q: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted.get(rank.min(sorted.len()) - 1).copied()
}

/// The last [`DAYS`] days ending `today` (`YYYY-MM-DD`), oldest first.
fn days_ending(today: time::Date) -> Vec<String> {
    (0..DAYS).rev().map(|back| (today - Duration::days(back)).to_string()).collect()
}

/// Sorts samples into their days (their timestamp's date: `YYYY-MM-DD`).
pub fn per_day(days: &[String], samples: &[AttemptSample]) -> (Vec<CaptureDay>, Vec<StepUpDay>) {
    let mut captures: Vec<CaptureDay> =
        days.iter().map(|d| CaptureDay { day: d.clone(), ..Default::default() }).collect();
    let mut latencies: Vec<Vec<i64>> = vec![Vec::new(); days.len()];
    let mut step_ups: Vec<StepUpDay> =
        days.iter().map(|d| StepUpDay { day: d.clone(), ..Default::default() }).collect();
    for sample in samples {
        let Some(at) = days.iter().position(|d| sample.created_at.starts_with(d.as_str())) else { continue };
        match sample.kind.as_str() {
            "ktp_capture" => match sample.outcome.as_str() {
                "passed" => captures[at].passed += 1,
                "refused" => captures[at].refused += 1,
                _ => captures[at].failed += 1,
            },
            "step_up" => {
                step_ups[at].attempts += 1;
                if sample.outcome == "passed" {
                    step_ups[at].allowed += 1;
                }
                latencies[at].push(sample.latency_ms);
            }
            _ => {}
        }
    }
    for (day, mut latency) in step_ups.iter_mut().zip(latencies) {
        latency.sort_unstable();
        day.p50_ms = quantile(&latency, 0.50);
        day.p99_ms = quantile(&latency, 0.99);
    }
    (captures, step_ups)
}

/// How many items have waited how long, by [`AGE_BUCKETS`].
pub fn age_buckets(now: time::OffsetDateTime, opened: &[String]) -> [u64; 5] {
    let mut counts = [0u64; 5];
    for at in opened.iter().filter_map(|t| parse_timestamp(t)) {
        let waited = (now - at).whole_seconds().max(0);
        if let Some(bucket) = AGE_BUCKETS.iter().position(|(_, below)| waited < *below) {
            counts[bucket] += 1;
        }
    }
    counts
}

pub async fn overview(state: &AppState, org_id: &str) -> Result<Overview> {
    let now = state.clock.now();
    let days = days_ending(now.date());
    let since = format_timestamp(now - Duration::days(DAYS));
    let mut conn = state.store.reader().acquire().await?;
    let samples = faces::capture_and_step_up_attempts(&mut conn, org_id, &since, MAX_ATTEMPTS).await?;
    let opened = ktp_store::open_review_times(&mut conn, org_id, MAX_OPEN_ITEMS).await?;
    let (captures, step_ups) = per_day(&days, &samples);
    Ok(Overview { captures, step_ups, queue_age: age_buckets(now, &opened) })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sample(kind: &str, outcome: &str, latency_ms: i64, created_at: &str) -> AttemptSample {
        AttemptSample { kind: kind.into(), outcome: outcome.into(), latency_ms, created_at: created_at.into() }
    }

    #[test]
    fn quantiles_are_nearest_rank() {
        let values: Vec<i64> = (1..=100).collect();
        assert_eq!(quantile(&values, 0.5), Some(50));
        assert_eq!(quantile(&values, 0.99), Some(99));
        assert_eq!(quantile(&[7], 0.99), Some(7));
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn attempts_fall_on_their_day_and_kind() {
        let days = vec!["2026-12-06".to_string(), "2026-12-07".to_string()];
        let samples = [
            sample("ktp_capture", "passed", 900, "2026-12-06T10:00:00Z"),
            sample("ktp_capture", "failed", 900, "2026-12-07T10:00:00Z"),
            sample("ktp_capture", "refused", 5, "2026-12-07T11:00:00Z"),
            sample("step_up", "passed", 300, "2026-12-07T10:00:00Z"),
            sample("step_up", "passed", 500, "2026-12-07T10:01:00Z"),
            sample("step_up", "failed", 700, "2026-12-07T10:02:00Z"),
            sample("step_up", "passed", 100, "2026-11-01T10:00:00Z"),
        ];
        let (captures, step_ups) = per_day(&days, &samples);
        assert_eq!((captures[0].passed, captures[0].failed), (1, 0));
        assert_eq!((captures[1].failed, captures[1].refused), (1, 1));
        assert_eq!(step_ups[0].attempts, 0);
        assert_eq!(step_ups[0].allow_rate(), None);
        assert_eq!((step_ups[1].attempts, step_ups[1].allowed), (3, 2));
        assert_eq!((step_ups[1].p50_ms, step_ups[1].p99_ms), (Some(500), Some(700)));
    }

    #[test]
    fn open_items_are_aged_into_buckets() {
        let now = parse_timestamp("2026-12-07T12:00:00Z").unwrap();
        let opened = ["2026-12-07T11:30:00Z", "2026-12-07T09:00:00Z", "2026-12-06T13:00:00Z", "2026-12-01T00:00:00Z"]
            .map(String::from);
        assert_eq!(age_buckets(now, &opened), [1, 1, 1, 0, 1]);
    }
}
