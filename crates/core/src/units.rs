//! Human units for scenario files: durations such as `"50ms"`, `"1.5s"`, `"250us"` and sizes
//! such as `"14kb"`, `"1.5mb"`, `"64kib"`. Sizes follow the SI convention the analytical model
//! uses (1 kb = 1000 bytes, so ten 1460-byte segments are 14.6 kb); binary units are `kib`,
//! `mib`, `gib`. Inside the code these become `Duration` and `u64` bytes.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::time::Duration;

/// Why a unit string was refused; the message says what would have been accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    #[error("`{0}` is not a duration: write a number and a unit, e.g. \"50ms\", \"1.5s\", \"250us\" (units: ns, us, ms, s, m)")]
    Duration(String),
    #[error("`{0}` is not a size: write a number and a unit, e.g. \"14kb\", \"1.5mb\", \"512b\" (units: b, kb, mb, gb, kib, mib, gib)")]
    Size(String),
}

/// Splits `"12.5ms"` into (12.5, "ms"), rejecting signs, blanks and non-finite numbers.
fn split_number(s: &str) -> Option<(f64, String)> {
    let s = s.trim();
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(end);
    if num.is_empty() || num.starts_with('.') || num.ends_with('.') {
        return None;
    }
    let value: f64 = num.parse().ok()?;
    value
        .is_finite()
        .then(|| (value, unit.trim().to_ascii_lowercase()))
}

/// Parses a human duration. A bare `0` is accepted; any other number needs a unit.
pub fn parse_duration(s: &str) -> Result<Duration, UnitError> {
    let err = || UnitError::Duration(s.to_string());
    let (value, unit) = split_number(s).ok_or_else(err)?;
    let nanos_per = match unit.as_str() {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "m" | "min" => 60e9,
        "" if value == 0.0 => 0.0,
        _ => return Err(err()),
    };
    let nanos = value * nanos_per;
    if nanos > 24.0 * 3600.0 * 1e9 {
        return Err(err());
    }
    Ok(Duration::from_nanos(nanos.round() as u64))
}

/// Parses a human size in bytes.
pub fn parse_size(s: &str) -> Result<u64, UnitError> {
    let err = || UnitError::Size(s.to_string());
    let (value, unit) = split_number(s).ok_or_else(err)?;
    let factor: f64 = match unit.as_str() {
        "b" | "" => 1.0,
        "kb" | "k" => 1e3,
        "mb" | "m" => 1e6,
        "gb" | "g" => 1e9,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        _ => return Err(err()),
    };
    let bytes = value * factor;
    if bytes > 16e9 || bytes.fract() != 0.0 && bytes < 1.0 {
        return Err(err());
    }
    Ok(bytes.round() as u64)
}

/// Formats a duration for people: `850us`, `12.3ms`, `1.25s`.
pub fn format_duration(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 {
        format!("{us:.0}us")
    } else if us < 1e6 {
        format!("{:.1}ms", us / 1e3)
    } else {
        format!("{:.2}s", us / 1e6)
    }
}

/// Formats a byte count for people: `512 B`, `14.0 kB`, `1.20 MB`.
pub fn format_size(bytes: u64) -> String {
    let b = bytes as f64;
    if b < 1e3 {
        format!("{bytes} B")
    } else if b < 1e6 {
        format!("{:.1} kB", b / 1e3)
    } else {
        format!("{:.2} MB", b / 1e6)
    }
}

/// A duration written as a human string in a scenario file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HumanDuration(pub Duration);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_duration(&s)
            .map(HumanDuration)
            .map_err(serde::de::Error::custom)
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration(self.0))
    }
}

/// A size written as a human string in a scenario file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HumanSize(pub u64);

impl<'de> Deserialize<'de> for HumanSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_size(&s)
            .map(HumanSize)
            .map_err(serde::de::Error::custom)
    }
}

impl Serialize for HumanSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}b", self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("50ms").unwrap(), Duration::from_millis(50));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("250us").unwrap(), Duration::from_micros(250));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        for bad in [
            "",
            "ms",
            "5",
            "-5ms",
            "5 parsecs",
            "1e3ms",
            ".5s",
            "5.s",
            "NaNms",
            "99999h",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("14kb").unwrap(), 14_000);
        assert_eq!(parse_size("8KB").unwrap(), 8_000);
        assert_eq!(parse_size("64kib").unwrap(), 65_536);
        assert_eq!(parse_size("1.5mb").unwrap(), 1_500_000);
        assert_eq!(parse_size("0b").unwrap(), 0);
        assert_eq!(parse_size("512").unwrap(), 512);
        for bad in ["", "kb", "-1kb", "1 parsec", "0.5b", "100gb"] {
            assert!(parse_size(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn formatting() {
        assert_eq!(format_duration(Duration::from_micros(850)), "850us");
        assert_eq!(format_duration(Duration::from_micros(12_340)), "12.3ms");
        assert_eq!(format_size(14_000), "14.0 kB");
    }
}
