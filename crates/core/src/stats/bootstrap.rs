//! Bootstrap confidence intervals (Efron's percentile method): for the median of one sample,
//! and for the ratio of two samples' medians. Resampling is driven by a seeded SplitMix64
//! generator, so the same samples always give the same interval and every report is
//! reproducible. It owns the resampling and the choice of percentiles; it deliberately reads no
//! clock and no entropy source, and knows nothing of protocols or runs.

use std::time::Duration;

/// Resamples drawn for an interval (Efron & Tibshirani suggest 1,000–2,000 for percentiles).
pub const RESAMPLES: usize = 2_000;
/// Coverage of the intervals the reports print.
pub const CONFIDENCE: f64 = 0.95;
/// The generator's seed: "httplab!" in ASCII. Any fixed value would do; a fixed one makes the
/// reports reproducible.
pub const SEED: u64 = 0x6874_7470_6c61_6221;

/// How to bootstrap: resamples, coverage and seed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bootstrap {
    pub resamples: usize,
    /// In (0, 1), e.g. 0.95.
    pub confidence: f64,
    pub seed: u64,
}

impl Default for Bootstrap {
    fn default() -> Self {
        Self {
            resamples: RESAMPLES,
            confidence: CONFIDENCE,
            seed: SEED,
        }
    }
}

/// A closed interval `low..=high`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval<T> {
    pub low: T,
    pub high: T,
}

/// SplitMix64 (Steele, Lea & Flood 2014; the seeder of xoshiro): tiny, fast, and passes
/// BigCrush, which is far more than resampling a few repetitions needs.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (Lemire's multiply-shift; the bias is below 2^-50 for small `n`).
    fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }
}

/// Draws `into.len()` samples from `from` with replacement and returns their median.
fn resample_median(rng: &mut SplitMix64, from: &[Duration], into: &mut [Duration]) -> Duration {
    for slot in into.iter_mut() {
        *slot = from[rng.below(from.len())];
    }
    into.sort_unstable();
    let n = into.len();
    if n % 2 == 1 {
        into[n / 2]
    } else {
        (into[n / 2 - 1] + into[n / 2]) / 2
    }
}

/// The percentile interval of sorted bootstrap statistics: the values at ranks
/// ⌊(α/2)·B⌋ and ⌈(1−α/2)·B⌉ − 1 (0-based), e.g. 50 and 1,949 of 2,000 for 95%.
fn percentile_interval<T: Copy>(sorted: &[T], confidence: f64) -> Option<Interval<T>> {
    let b = sorted.len();
    if b == 0 {
        return None;
    }
    let tail = (1.0 - confidence.clamp(0.0, 1.0)) / 2.0;
    let low = ((tail * b as f64).floor() as usize).min(b - 1);
    let high = (((1.0 - tail) * b as f64).ceil() as usize).clamp(1, b) - 1;
    Some(Interval {
        low: sorted[low],
        high: sorted[high.max(low)],
    })
}

/// Percentile-bootstrap interval of the median of `samples`; `None` when there are none.
pub fn median_ci(samples: &[Duration], how: Bootstrap) -> Option<Interval<Duration>> {
    if samples.is_empty() || how.resamples == 0 {
        return None;
    }
    let mut rng = SplitMix64(how.seed);
    let mut buf = vec![Duration::ZERO; samples.len()];
    let mut medians: Vec<Duration> = (0..how.resamples)
        .map(|_| resample_median(&mut rng, samples, &mut buf))
        .collect();
    medians.sort_unstable();
    percentile_interval(&medians, how.confidence)
}

/// Percentile-bootstrap interval of `median(numerator) / median(denominator)`, each sample
/// resampled independently. Resamples whose denominator median is zero are left out; `None`
/// when either sample is empty or every resample was left out.
pub fn median_ratio_ci(
    numerator: &[Duration],
    denominator: &[Duration],
    how: Bootstrap,
) -> Option<Interval<f64>> {
    if numerator.is_empty() || denominator.is_empty() || how.resamples == 0 {
        return None;
    }
    let mut rng = SplitMix64(how.seed);
    let mut num = vec![Duration::ZERO; numerator.len()];
    let mut den = vec![Duration::ZERO; denominator.len()];
    let mut ratios: Vec<f64> = (0..how.resamples)
        .filter_map(|_| {
            let n = resample_median(&mut rng, numerator, &mut num);
            let d = resample_median(&mut rng, denominator, &mut den);
            (!d.is_zero()).then(|| n.as_secs_f64() / d.as_secs_f64())
        })
        .collect();
    ratios.sort_unstable_by(f64::total_cmp);
    percentile_interval(&ratios, how.confidence)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|&m| Duration::from_millis(m)).collect()
    }

    // Eleven distinct values. The median of a resample of 11 is its 6th smallest draw, so
    // P(median ≤ k-th smallest) = P(Binomial(11, k/11) ≥ 6), which is 0.0072 for k = 2, 0.0512
    // for k = 3, 0.9488 for k = 8 and 0.9928 for k = 9: the exact bootstrap 95% interval is
    // [3rd smallest, 9th smallest]. 2,000 resamples estimate those CDF values with a standard
    // error of 0.0035, so landing elsewhere would be a 5-sigma event.
    const SLOW: [u64; 11] = [41, 43, 44, 46, 47, 49, 50, 52, 55, 58, 63];
    const FAST: [u64; 11] = [20, 21, 22, 23, 24, 25, 26, 27, 29, 31, 34];

    #[test]
    fn median_interval_matches_the_exact_bootstrap_distribution() {
        for seed in [SEED, 1, 2, 3] {
            let how = Bootstrap {
                seed,
                ..Bootstrap::default()
            };
            let slow = median_ci(&ms(&SLOW), how).expect("samples");
            assert_eq!(
                (slow.low, slow.high),
                (ms(&[44])[0], ms(&[55])[0]),
                "{seed}"
            );
            let fast = median_ci(&ms(&FAST), how).expect("samples");
            assert_eq!(
                (fast.low, fast.high),
                (ms(&[22])[0], ms(&[29])[0]),
                "{seed}"
            );
        }
    }

    #[test]
    fn ratio_interval_lies_where_the_exact_distribution_puts_it() {
        // The exact distribution of median(SLOW*) / median(FAST*) over the 121 pairs of order
        // statistics: its CDF crosses 0.015 and 0.035 between 1.6207 and 1.6897, and 0.965 and
        // 0.985 between 2.2727 and 2.3636. The point estimate is 49 / 25 = 1.96.
        let ci = median_ratio_ci(&ms(&SLOW), &ms(&FAST), Bootstrap::default()).expect("samples");
        assert!((1.6206..=1.6898).contains(&ci.low), "{ci:?}");
        assert!((2.2727..=2.3637).contains(&ci.high), "{ci:?}");
        // Deterministic: the same seed gives the same interval.
        assert_eq!(
            Some(ci),
            median_ratio_ci(&ms(&SLOW), &ms(&FAST), Bootstrap::default())
        );
    }

    #[test]
    fn constant_samples_give_a_point_and_degenerate_inputs_none() {
        let ci = median_ci(&ms(&[7, 7, 7]), Bootstrap::default()).expect("samples");
        assert_eq!((ci.low, ci.high), (ms(&[7])[0], ms(&[7])[0]));
        let r = median_ratio_ci(&ms(&[40, 40, 40]), &ms(&[20, 20]), Bootstrap::default());
        assert_eq!(
            r,
            Some(Interval {
                low: 2.0,
                high: 2.0
            })
        );
        assert_eq!(median_ci(&[], Bootstrap::default()), None);
        assert_eq!(
            median_ratio_ci(&ms(&[1]), &ms(&[0, 0]), Bootstrap::default()),
            None
        );
        assert_eq!(median_ratio_ci(&[], &ms(&[1]), Bootstrap::default()), None);
    }

    #[test]
    fn splitmix64_reference_output() {
        // First outputs for seed 1234567 from the reference implementation (Vigna's
        // splitmix64.c), as used in xoshiro's seeding tests.
        let mut rng = SplitMix64(1_234_567);
        assert_eq!(rng.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(rng.next_u64(), 3_203_168_211_198_807_973);
        assert_eq!(rng.next_u64(), 9_817_491_932_198_370_423);
    }

    #[test]
    fn percentile_ranks() {
        let v: Vec<u32> = (0..2_000).collect();
        assert_eq!(
            percentile_interval(&v, 0.95),
            Some(Interval {
                low: 50,
                high: 1_949
            })
        );
        assert_eq!(
            percentile_interval(&[5u32], 0.95),
            Some(Interval { low: 5, high: 5 })
        );
    }
}
