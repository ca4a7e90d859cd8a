//! Wall-clock dates for the outputs: a run's clock epoch (Unix milliseconds) plus a monotonic
//! offset, written as RFC 3339 / ISO 8601 in UTC with milliseconds, as HAR's `startedDateTime`
//! wants. It does not read any clock; the harness recorded the epoch.

use std::time::Duration;
use time::OffsetDateTime;

/// `epoch_unix_ms + offset` as e.g. `2025-01-31T12:00:00.123Z` (milliseconds truncated).
///
/// A date outside what the `time` crate represents (years past 9999) cannot come from a real
/// clock; it is written as the offset from the Unix epoch instead, so the output stays valid.
pub(crate) fn rfc3339(epoch_unix_ms: u64, offset: Duration) -> String {
    let at = Duration::from_millis(epoch_unix_ms).saturating_add(offset);
    let dt = i128::try_from(at.as_nanos())
        .ok()
        .and_then(|n| OffsetDateTime::from_unix_timestamp_nanos(n).ok())
        .unwrap_or_else(|| {
            let ns = i128::try_from(offset.as_nanos()).unwrap_or(0);
            OffsetDateTime::from_unix_timestamp_nanos(ns).unwrap_or(OffsetDateTime::UNIX_EPOCH)
        });
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        dt.year(),
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second(),
        dt.millisecond()
    )
}

/// `epoch_unix_ms` as e.g. `20250131-120000` (UTC, to the second): a date that sorts and is
/// safe in a file name, for a folder set aside with the time its run was written.
pub fn file_stamp(epoch_unix_ms: u64) -> String {
    let full = rfc3339(epoch_unix_ms, Duration::ZERO);
    full.chars()
        .take(19)
        .filter(|c| c.is_ascii_digit() || *c == 'T')
        .map(|c| if c == 'T' { '-' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_plus_offset_in_utc_with_milliseconds() {
        // 2024-02-29T23:59:59.900Z plus 250.7 ms crosses into March.
        let epoch = 1_709_251_199_900;
        assert_eq!(rfc3339(epoch, Duration::ZERO), "2024-02-29T23:59:59.900Z");
        assert_eq!(
            rfc3339(epoch, Duration::from_micros(250_700)),
            "2024-03-01T00:00:00.150Z"
        );
        assert_eq!(rfc3339(0, Duration::ZERO), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339(u64::MAX, Duration::from_millis(5)),
            "1970-01-01T00:00:00.005Z"
        );
    }
}
