//! Checks of values that more than one table takes: HTTP/2 flow-control windows (`[client]` and
//! `[server]`) and timeouts (`[server]` and each `[[resource]]`), with their limits; and the
//! `[server]` limits that always have a value (a default when not written): bounded timeouts
//! and the least request-body rate.
//!
//! One check per kind of value, so the same key gets the same words wherever it is written. It
//! deliberately knows nothing of the tables themselves: the caller passes the key's name, its
//! default and where it is written.

use super::ScenarioError;
use crate::units::{HumanDuration, HumanRate, HumanSize};
use std::ops::{Range, RangeInclusive};
use std::time::Duration;
use toml::Spanned;

/// The largest window HTTP/2 allows (RFC 9113 §6.9.1).
pub(crate) const MAX_H2_WINDOW: u32 = (1 << 31) - 1;
/// Longest `request_timeout` and `keep_alive_timeout`.
pub(crate) const MAX_TIMEOUT: Duration = Duration::from_secs(3600);

/// An HTTP/2 window in bytes: `default` when `value` is not written, else 1 to 2^31-1.
pub(crate) fn h2_window(
    value: &Option<Spanned<HumanSize>>,
    key: &str,
    default: u32,
    err: &dyn Fn(Range<usize>, String) -> ScenarioError,
) -> Result<u32, ScenarioError> {
    let message =
        || format!("`{key}` must be between 1b and 2147483647b (2^31-1, RFC 9113 §6.9.1)");
    let window = within(value, |w| w.0, 1..=u64::from(MAX_H2_WINDOW), message, err)?;
    Ok(window.map_or(default, |w| w as u32))
}

/// A written value's number (`number`), if it lies in `range`; else `message`, located at it.
fn within<T>(
    value: &Option<Spanned<T>>,
    number: impl Fn(&T) -> u64,
    range: RangeInclusive<u64>,
    message: impl Fn() -> String,
    err: &dyn Fn(Range<usize>, String) -> ScenarioError,
) -> Result<Option<u64>, ScenarioError> {
    let Some(v) = value else {
        return Ok(None);
    };
    let n = number(v.get_ref());
    if range.contains(&n) {
        Ok(Some(n))
    } else {
        Err(err(v.span(), message()))
    }
}

/// A timeout: `None` (no limit) when `value` is not written, else above zero and at most
/// [`MAX_TIMEOUT`].
pub(crate) fn timeout(
    value: &Option<Spanned<HumanDuration>>,
    key: &str,
    err: &dyn Fn(Range<usize>, String) -> ScenarioError,
) -> Result<Option<Duration>, ScenarioError> {
    let Some(t) = value else {
        return Ok(None);
    };
    within_limit(t).map(Some).ok_or_else(|| {
        err(
            t.span(),
            format!(
                "`{key}` must be above zero and at most {}s: leave it out for no limit",
                MAX_TIMEOUT.as_secs()
            ),
        )
    })
}

/// A written timeout's duration, if it is above zero and at most [`MAX_TIMEOUT`].
fn within_limit(t: &Spanned<HumanDuration>) -> Option<Duration> {
    let d = t.get_ref().0;
    (!d.is_zero() && d <= MAX_TIMEOUT).then_some(d)
}

/// A timeout that always applies: `default` when `value` is not written, else above zero and at
/// most [`MAX_TIMEOUT`].
pub(crate) fn bounded_timeout(
    value: &Option<Spanned<HumanDuration>>,
    key: &str,
    default: Duration,
    err: &dyn Fn(Range<usize>, String) -> ScenarioError,
) -> Result<Duration, ScenarioError> {
    let Some(t) = value else {
        return Ok(default);
    };
    within_limit(t).ok_or_else(|| {
        err(
            t.span(),
            format!(
                "`{key}` must be above zero and at most {}s (default {}s): the server always \
                 bounds this wait",
                MAX_TIMEOUT.as_secs(),
                default.as_secs()
            ),
        )
    })
}

/// Least `min_body_rate`, in bits per second: one byte per second.
pub(crate) const MIN_BODY_RATE_BITS: u64 = 8;
/// Largest `min_body_rate`, in bits per second.
pub(crate) const MAX_BODY_RATE_BITS: u64 = 1_000_000_000;

/// A least request-body rate, in bytes per second: `default` when `value` is not written, else
/// written in bits per second from [`MIN_BODY_RATE_BITS`] to [`MAX_BODY_RATE_BITS`].
pub(crate) fn body_rate(
    value: &Option<Spanned<HumanRate>>,
    key: &str,
    default: u64,
    err: &dyn Fn(Range<usize>, String) -> ScenarioError,
) -> Result<u64, ScenarioError> {
    let message = || format!("`{key}` must be between 8bit (one byte a second) and 1gbit");
    let range = MIN_BODY_RATE_BITS..=MAX_BODY_RATE_BITS;
    let bits = within(value, |r| r.0, range, message, err)?;
    Ok(bits.map_or(default, |bits| bits / 8))
}
