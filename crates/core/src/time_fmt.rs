//! One timestamp format everywhere: RFC 3339 UTC with milliseconds, e.g.
//! `2026-05-24T08:15:52.481Z`. Fixed width, so text order is time order in both databases.

use time::format_description::FormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

const FORMAT: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

/// Formats an instant as the canonical timestamp string.
pub fn format_timestamp(at: OffsetDateTime) -> String {
    let utc = at.to_offset(UtcOffset::UTC);
    // The format has no fallible components for in-range dates; fall back to RFC 3339 anyway.
    utc.format(FORMAT).unwrap_or_else(|_| utc.unix_timestamp().to_string())
}

/// The current time as a canonical timestamp string.
pub fn now_timestamp() -> String {
    format_timestamp(OffsetDateTime::now_utc())
}

/// Parses any RFC 3339 timestamp (with offset) into an instant.
pub fn parse_timestamp(value: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_fixed_width_utc() {
        let at = parse_timestamp("2026-05-24T15:15:52.48+07:00").unwrap();
        assert_eq!(format_timestamp(at), "2026-05-24T08:15:52.480Z");
        assert!(parse_timestamp("yesterday").is_none());
    }
}
