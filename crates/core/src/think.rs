//! Think time: how long the lab server works on a request before its response is ready —
//! fixed (`"5ms"`) or drawn from a distribution: `"uniform(5ms,50ms)"`, `"exp(20ms)"` (mean
//! 20 ms) or `"normal(20ms,5ms)"` (mean, standard deviation; truncated at 0).
//!
//! A draw is a pure function of the scenario's `seed`, the request's path and its number in the
//! workload (`draw_key`): every protocol and every repetition meet the same server, request by
//! request, so a difference between runs is the protocols', not the dice's; another `seed` gives
//! another set of think times. This module owns the parsing, the arithmetic and the PRNG
//! (SplitMix64); it deliberately does not sleep — the server does.

use crate::units::{format_duration, parse_duration};
use serde::{Deserialize, Deserializer};
use std::fmt;
use std::time::Duration;

/// Longest think time a scenario may ask for, fixed or as a distribution's parameter; draws are
/// capped here too (an exponential has no upper bound).
pub const MAX_THINK: Duration = Duration::from_secs(600);

/// How a resource's think time is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Think {
    /// Always this long.
    Fixed(Duration),
    /// Uniform between `low` and `high` (inclusive of `low`).
    Uniform { low: Duration, high: Duration },
    /// Exponential with this mean (memoryless: a queueing theorist's service time).
    Exp { mean: Duration },
    /// Normal with this mean and standard deviation; negative draws become 0.
    Normal { mean: Duration, sd: Duration },
}

impl Default for Think {
    fn default() -> Self {
        Think::Fixed(Duration::ZERO)
    }
}

/// Why a think time was refused; the message says what would have been accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThinkError {
    #[error("`{0}` is not a duration nor a think-time distribution: write a duration (\"5ms\") or a distribution: \"uniform(5ms,50ms)\", \"exp(20ms)\" or \"normal(20ms,5ms)\"")]
    Syntax(String),
    #[error("`{0}`: uniform(low,high) needs low <= high")]
    Reversed(String),
    #[error("`{0}`: think time may be at most {secs}s", secs = MAX_THINK.as_secs())]
    TooLong(String),
}

impl Think {
    /// Parses a fixed duration or a distribution (see the module header).
    pub fn parse(s: &str) -> Result<Think, ThinkError> {
        let syntax = || ThinkError::Syntax(s.to_string());
        let text = s.trim();
        let think = match text.strip_suffix(')').and_then(|t| t.split_once('(')) {
            None => Think::Fixed(parse_duration(text).map_err(|_| syntax())?),
            Some((name, args)) => {
                let args: Vec<Duration> = args
                    .split(',')
                    .map(|a| parse_duration(a.trim()))
                    .collect::<Result<_, _>>()
                    .map_err(|_| syntax())?;
                match (name.trim().to_ascii_lowercase().as_str(), args.as_slice()) {
                    ("uniform", [low, high]) if low <= high => Think::Uniform {
                        low: *low,
                        high: *high,
                    },
                    ("uniform", [_, _]) => return Err(ThinkError::Reversed(s.to_string())),
                    ("exp", [mean]) => Think::Exp { mean: *mean },
                    ("normal", [mean, sd]) => Think::Normal {
                        mean: *mean,
                        sd: *sd,
                    },
                    _ => return Err(syntax()),
                }
            }
        };
        let longest = match think {
            Think::Fixed(d) => d,
            Think::Uniform { high, .. } => high,
            Think::Exp { mean } => mean,
            Think::Normal { mean, sd } => mean.max(sd),
        };
        if longest > MAX_THINK {
            return Err(ThinkError::TooLong(s.to_string()));
        }
        Ok(think)
    }

    /// The mean think time (of a normal, before truncation at 0): what the analytical model
    /// and the reports use as "the" think time.
    pub fn mean(&self) -> Duration {
        match *self {
            Think::Fixed(d) => d,
            Think::Uniform { low, high } => (low + high) / 2,
            Think::Exp { mean } | Think::Normal { mean, .. } => mean,
        }
    }

    /// Whether every draw is the same.
    pub fn is_fixed(&self) -> bool {
        match *self {
            Think::Fixed(_) => true,
            Think::Uniform { low, high } => low == high,
            Think::Exp { mean } => mean.is_zero(),
            Think::Normal { sd, .. } => sd.is_zero(),
        }
    }

    /// The think time of the request `key` (from `draw_key`) under `seed`: deterministic,
    /// never negative, at most `MAX_THINK`.
    pub fn draw(&self, seed: u64, key: u64) -> Duration {
        let mut rng = SplitMix64::new(seed, key);
        let secs = match *self {
            Think::Fixed(d) => return d,
            Think::Uniform { low, high } => {
                let (low, high) = (low.as_secs_f64(), high.as_secs_f64());
                low + rng.unit() * (high - low)
            }
            // Inversion: -mean·ln(1-u), u in [0,1) so the logarithm is finite.
            Think::Exp { mean } => -mean.as_secs_f64() * (1.0 - rng.unit()).ln(),
            // Box–Muller: u1 in (0,1] keeps the logarithm finite.
            Think::Normal { mean, sd } => {
                let u1 = 1.0 - rng.unit();
                let u2 = rng.unit();
                let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                mean.as_secs_f64() + sd.as_secs_f64() * z
            }
        };
        Duration::from_secs_f64(secs.clamp(0.0, MAX_THINK.as_secs_f64()))
    }
}

/// The key of one request's draw: its path and its number in the workload (a server that is
/// not told the number uses a counter of its own).
pub fn draw_key(path: &str, request: u64) -> u64 {
    // FNV-1a of the path, then the request number mixed in.
    let hash = path.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    hash ^ request.wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

impl fmt::Display for Think {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = |d: Duration| format_duration(d);
        match *self {
            Think::Fixed(t) => f.write_str(&d(t)),
            Think::Uniform { low, high } => write!(f, "uniform({},{})", d(low), d(high)),
            Think::Exp { mean } => write!(f, "exp({})", d(mean)),
            Think::Normal { mean, sd } => write!(f, "normal({},{})", d(mean), d(sd)),
        }
    }
}

impl<'de> Deserialize<'de> for Think {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Think::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// SplitMix64 (Steele, Lea & Flood 2014): a tiny PRNG that passes BigCrush, more than a few
/// think times need.
struct SplitMix64(u64);

impl SplitMix64 {
    fn new(seed: u64, key: u64) -> Self {
        let mut rng = SplitMix64(seed);
        let mixed = rng.next_u64() ^ key;
        SplitMix64(mixed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1), 53 bits.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn parses_fixed_and_distributions() {
        assert_eq!(Think::parse("5ms"), Ok(Think::Fixed(ms(5))));
        assert_eq!(
            Think::parse(" uniform( 5ms , 50ms ) "),
            Ok(Think::Uniform {
                low: ms(5),
                high: ms(50)
            })
        );
        assert_eq!(Think::parse("exp(20ms)"), Ok(Think::Exp { mean: ms(20) }));
        assert_eq!(
            Think::parse("Normal(20ms,5ms)"),
            Ok(Think::Normal {
                mean: ms(20),
                sd: ms(5)
            })
        );
        for bad in [
            "",
            "5",
            "uniform(5ms)",
            "uniform(5ms,50)",
            "exp(20ms,1ms)",
            "poisson(3ms)",
            "normal(20ms;5ms)",
            "uniform(5ms,50ms",
        ] {
            assert!(
                matches!(Think::parse(bad), Err(ThinkError::Syntax(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            Think::parse("uniform(50ms,5ms)"),
            Err(ThinkError::Reversed(_))
        ));
        assert!(matches!(
            Think::parse("exp(11m)"),
            Err(ThinkError::TooLong(_))
        ));
        assert_eq!(
            Think::parse("normal(20ms,5ms)").unwrap().to_string(),
            "normal(20.0ms,5.0ms)"
        );
    }

    #[test]
    fn draws_are_reproducible_and_follow_the_distribution() {
        let n = 20_000u64;
        let draws = |t: Think, seed: u64| -> Vec<f64> {
            (0..n)
                .map(|i| t.draw(seed, draw_key("/a", i)).as_secs_f64() * 1e3)
                .collect()
        };
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let sd = |v: &[f64]| {
            let m = mean(v);
            (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64).sqrt()
        };

        let uniform = Think::parse("uniform(5ms,50ms)").unwrap();
        let u = draws(uniform, 1);
        assert!(u.iter().all(|x| (5.0..=50.0).contains(x)));
        assert!((mean(&u) - 27.5).abs() < 0.5, "{}", mean(&u));
        assert_eq!(u, draws(uniform, 1), "same seed, same draws");
        assert_ne!(u, draws(uniform, 2), "another seed, other draws");

        let e = draws(Think::parse("exp(20ms)").unwrap(), 1);
        assert!((mean(&e) - 20.0).abs() < 0.6, "{}", mean(&e));
        assert!((sd(&e) - 20.0).abs() < 1.0, "{}", sd(&e));

        let g = draws(Think::parse("normal(20ms,5ms)").unwrap(), 1);
        assert!((mean(&g) - 20.0).abs() < 0.2, "{}", mean(&g));
        assert!((sd(&g) - 5.0).abs() < 0.2, "{}", sd(&g));
        // Truncated at zero, never negative.
        let wide = draws(Think::parse("normal(1ms,5ms)").unwrap(), 1);
        assert!(wide.iter().all(|x| *x >= 0.0));
        assert!(wide.iter().filter(|x| **x == 0.0).count() > (n as usize) / 4);

        // Different paths and requests draw independently.
        let t = Think::parse("exp(20ms)").unwrap();
        assert_ne!(t.draw(1, draw_key("/a", 0)), t.draw(1, draw_key("/b", 0)));
        assert_ne!(t.draw(1, draw_key("/a", 0)), t.draw(1, draw_key("/a", 1)));
        assert_eq!(Think::Fixed(ms(3)).draw(9, 9), ms(3));
        assert_eq!(uniform.mean(), Duration::from_micros(27_500));
    }
}
