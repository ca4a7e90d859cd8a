//! Durations in JSON outputs are milliseconds as decimal numbers, in fields whose names end in
//! `_ms` or that the schema (docs/results-schema.md) documents as milliseconds.

use serde::{Deserialize, Deserializer, Serializer};
use std::time::Duration;

pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(round_ms(*d))
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    from_ms(f64::deserialize(d)?).map_err(serde::de::Error::custom)
}

/// Milliseconds with microsecond precision, the unit of HAR and of every lab output.
pub fn round_ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// A millisecond count read back (e.g. `httplab compare` reading results.json); a negative,
/// infinite, NaN or absurdly large one is an error, not a panic.
fn from_ms(ms: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(ms / 1e3)
        .map_err(|e| format!("{ms} is not a duration in milliseconds ({e})"))
}

/// The same for `Option<Duration>`, written as `null` when absent.
pub mod option {
    use super::*;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&round_ms(*d)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<f64>::deserialize(d)?
            .map(from_ms)
            .transpose()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct T {
        #[serde(with = "super")]
        d: Duration,
        #[serde(with = "super::option")]
        o: Option<Duration>,
    }

    #[test]
    fn milliseconds_read_back_and_nonsense_is_refused() {
        let t: T = serde_json::from_str(r#"{"d": 1.5, "o": null}"#).unwrap();
        assert_eq!((t.d, t.o), (Duration::from_micros(1500), None));
        for bad in [
            r#"{"d": 1e300, "o": null}"#,
            r#"{"d": -1, "o": null}"#,
            r#"{"d": 1, "o": 1e300}"#,
        ] {
            let err = serde_json::from_str::<T>(bad).unwrap_err().to_string();
            assert!(
                err.contains("not a duration in milliseconds"),
                "{bad}: {err}"
            );
        }
    }
}
