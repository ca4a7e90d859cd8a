//! Human units for scenario files: durations such as `"50ms"`, `"1.5s"`, `"250us"` and sizes
//! such as `"14kb"`, `"1.5mb"`, `"64kib"`. Sizes follow the SI convention the analytical model
//! uses (1 kb = 1000 bytes, so ten 1460-byte segments are 14.6 kb); binary units are `kib`,
//! `mib`, `gib`. Rates are bits per second, written as tc writes them: `"20mbit"`, `"500kbit"`,
//! `"1gbit"` (SI, 1 kbit = 1000 bits); `"20mb"` and `"20mbps"` are refused as ambiguous.
//! Fractions (loss) are `"2%"` or `0.02`. Inside the code these become `Duration`, `u64`
//! bytes, `u64` bits per second and an `f64` fraction of packets.
//!
//! The parsers check spelling, not magnitude: a number too large for its type saturates
//! (`"100gb"` is 10^11 bytes, `"1000000s"` a million seconds, anything beyond `u64` its
//! largest value), and each key's own check then says what that key allows (`size` at most
//! 1gb, `think` at most 600s), so a large value is told its limit, not that it is misspelt.

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
    #[error("`{0}` is not a rate: write a number and a unit in bits per second, e.g. \"20mbit\", \"500kbit\", \"1gbit\" (units: bit, kbit, mbit, gbit)")]
    Rate(String),
    #[error("`{input}` is ambiguous as a rate (bits or bytes?): write \"{suggestion}\" for bits per second (units: bit, kbit, mbit, gbit)")]
    AmbiguousRate { input: String, suggestion: String },
    #[error("`{0}` is not a fraction: write a percentage such as \"2%\" or a number such as 0.02")]
    Fraction(String),
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
    // `as` saturates: a duration beyond u64 nanoseconds (584 years) is the largest one.
    Ok(Duration::from_nanos((value * nanos_per).round() as u64))
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
    if bytes.fract() != 0.0 && bytes < 1.0 {
        return Err(err());
    }
    // `as` saturates: a size beyond u64 is the largest one, refused by the key's own check.
    Ok(bytes.round() as u64)
}

/// Parses a human rate in bits per second. A bare `0` is accepted (the caller decides whether
/// zero makes sense); units ending in a bare `b`, `bps` or only a prefix are refused as
/// ambiguous, with the `bit` spelling suggested (tc reads `mbps` as megabytes per second).
pub fn parse_rate(s: &str) -> Result<u64, UnitError> {
    let err = || UnitError::Rate(s.to_string());
    let (value, unit) = split_number(s).ok_or_else(err)?;
    let unit = unit.strip_suffix("/s").unwrap_or(&unit);
    let factor = match unit {
        "bit" => 1.0,
        "kbit" => 1e3,
        "mbit" => 1e6,
        "gbit" => 1e9,
        "" if value == 0.0 => 1.0,
        _ => {
            let (prefix, rest) = match unit.chars().next() {
                Some(p @ ('k' | 'm' | 'g')) => (p.to_string(), &unit[1..]),
                _ => (String::new(), unit),
            };
            let ambiguous = matches!(rest, "b" | "bps" | "byte" | "bytes")
                || (rest.is_empty() && !prefix.is_empty());
            if ambiguous {
                let number = s
                    .trim()
                    .trim_end_matches(|c: char| !(c.is_ascii_digit() || c == '.'));
                return Err(UnitError::AmbiguousRate {
                    input: s.to_string(),
                    suggestion: format!("{number}{prefix}bit"),
                });
            }
            return Err(err());
        }
    };
    let bits = value * factor;
    if bits.fract() != 0.0 && bits < 1.0 {
        return Err(err());
    }
    // `as` saturates, as for sizes: the `[network]` checks name the largest rate.
    Ok(bits.round() as u64)
}

/// Parses a fraction written as a percentage (`"2%"`, `"0.5%"`) or a plain number (`"0.02"`).
/// The range is the caller's to check.
pub fn parse_fraction(s: &str) -> Result<f64, UnitError> {
    let err = || UnitError::Fraction(s.to_string());
    let (value, unit) = split_number(s).ok_or_else(err)?;
    match unit.as_str() {
        "%" => Ok(value / 100.0),
        "" => Ok(value),
        _ => Err(err()),
    }
}

/// Formats a rate for people: `500 kbit/s`, `20 Mbit/s`, `1.5 Gbit/s`.
pub fn format_rate(bps: u64) -> String {
    let b = bps as f64;
    let (value, unit) = if b < 1e3 {
        (b, "bit/s")
    } else if b < 1e6 {
        (b / 1e3, "kbit/s")
    } else if b < 1e9 {
        (b / 1e6, "Mbit/s")
    } else {
        (b / 1e9, "Gbit/s")
    };
    let text = format!("{value:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text} {unit}")
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

/// A rate in bits per second written as a human string in a scenario file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HumanRate(pub u64);

impl<'de> Deserialize<'de> for HumanRate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_rate(&s)
            .map(HumanRate)
            .map_err(serde::de::Error::custom)
    }
}

impl Serialize for HumanRate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}bit", self.0))
    }
}

/// A fraction written in a scenario file either as a percentage string (`"2%"`) or as a
/// number (`0.02`, `0`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct HumanFraction(pub f64);

impl<'de> Deserialize<'de> for HumanFraction {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = HumanFraction;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a percentage such as \"2%\" or a number such as 0.02")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<HumanFraction, E> {
                parse_fraction(v).map(HumanFraction).map_err(E::custom)
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<HumanFraction, E> {
                Ok(HumanFraction(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<HumanFraction, E> {
                Ok(HumanFraction(v as f64))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<HumanFraction, E> {
                Ok(HumanFraction(v as f64))
            }
        }
        d.deserialize_any(Visitor)
    }
}

impl Serialize for HumanFraction {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.0)
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
        // Large is not misspelt: the key's own check names its limit.
        assert_eq!(
            parse_duration("1000000s").unwrap(),
            Duration::from_secs(1_000_000)
        );
        assert_eq!(
            parse_duration("99999999999999999999999m").unwrap(),
            Duration::from_nanos(u64::MAX)
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("14kb").unwrap(), 14_000);
        assert_eq!(parse_size("8KB").unwrap(), 8_000);
        assert_eq!(parse_size("64kib").unwrap(), 65_536);
        assert_eq!(parse_size("1.5mb").unwrap(), 1_500_000);
        assert_eq!(parse_size("0b").unwrap(), 0);
        assert_eq!(parse_size("512").unwrap(), 512);
        for bad in ["", "kb", "-1kb", "1 parsec", "0.5b"] {
            assert!(parse_size(bad).is_err(), "{bad} accepted");
        }
        assert_eq!(parse_size("100gb").unwrap(), 100_000_000_000);
        assert_eq!(parse_size("99999999999999999999999gib").unwrap(), u64::MAX);
    }

    #[test]
    fn rates() {
        assert_eq!(parse_rate("20mbit").unwrap(), 20_000_000);
        assert_eq!(parse_rate("1gbit").unwrap(), 1_000_000_000);
        assert_eq!(parse_rate("500kbit").unwrap(), 500_000);
        assert_eq!(parse_rate("1.5Mbit").unwrap(), 1_500_000);
        assert_eq!(parse_rate("64kbit/s").unwrap(), 64_000);
        assert_eq!(parse_rate("9600bit").unwrap(), 9_600);
        assert_eq!(parse_rate("0").unwrap(), 0);
        for bad in ["", "mbit", "20", "-1mbit", "20 parsecs", "0.5bit", "1mib"] {
            assert_eq!(parse_rate(bad), Err(UnitError::Rate(bad.into())), "{bad}");
        }
        assert_eq!(parse_rate("2000000gbit").unwrap(), 2_000_000_000_000_000);
        // Bytes or bits? Refused, with the bit spelling suggested.
        for (bad, suggestion) in [
            ("20mb", "20mbit"),
            ("20MBps", "20mbit"),
            ("1.5mbps", "1.5mbit"),
            ("500k", "500kbit"),
            ("100b/s", "100bit"),
            ("1gb", "1gbit"),
        ] {
            let e = parse_rate(bad).unwrap_err();
            assert_eq!(
                e,
                UnitError::AmbiguousRate {
                    input: bad.into(),
                    suggestion: suggestion.into()
                }
            );
            assert!(e.to_string().contains("ambiguous"), "{e}");
        }
    }

    #[test]
    fn fractions() {
        assert_eq!(parse_fraction("2%").unwrap(), 0.02);
        assert_eq!(parse_fraction("0.5%").unwrap(), 0.005);
        assert_eq!(parse_fraction("0.02").unwrap(), 0.02);
        assert_eq!(parse_fraction("0").unwrap(), 0.0);
        for bad in ["", "%", "-2%", "2 percent", "two"] {
            assert!(parse_fraction(bad).is_err(), "{bad} accepted");
        }
        #[derive(Deserialize)]
        struct T {
            loss: HumanFraction,
        }
        for (src, want) in [
            ("loss = \"2%\"", 0.02),
            ("loss = 0.02", 0.02),
            ("loss = 0", 0.0),
        ] {
            let t: T = toml::from_str(src).unwrap();
            assert_eq!(t.loss.0, want, "{src}");
        }
        assert!(toml::from_str::<T>("loss = true").is_err());
    }

    #[test]
    fn formatting() {
        assert_eq!(format_duration(Duration::from_micros(850)), "850us");
        assert_eq!(format_duration(Duration::from_micros(12_340)), "12.3ms");
        assert_eq!(format_size(14_000), "14.0 kB");
        assert_eq!(format_rate(20_000_000), "20 Mbit/s");
        assert_eq!(format_rate(1_500_000_000), "1.5 Gbit/s");
        assert_eq!(format_rate(500_000), "500 kbit/s");
    }
}
