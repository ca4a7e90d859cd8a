//! Statistics over repetitions: the median and nearest-rank percentiles the reports print, the
//! choice of the representative (median) repetition, and the comparison of two protocols'
//! page times (ratio of medians with a bootstrap interval, Mann–Whitney U test). Pure functions
//! over durations; the resampling and the test live in the submodules. It deliberately says
//! nothing in words: the report's verdict phrases what these numbers show.

pub mod bootstrap;
pub mod mann_whitney;

pub use bootstrap::{Bootstrap, Interval};
pub use mann_whitney::MannWhitney;

use std::time::Duration;

/// Significance level of the comparisons the reports state.
pub const ALPHA: f64 = 0.05;

/// Fewer repetitions than this on either side and a comparison is not tested at all.
pub const MIN_REPETITIONS: usize = 3;

/// Nearest-rank percentile (p in 0..=100) of unsorted samples; `None` when empty.
pub fn percentile(samples: &[Duration], p: f64) -> Option<Duration> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort();
    let rank = ((p.clamp(0.0, 100.0) / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// The median: the mean of the two middle samples for an even count.
pub fn median(samples: &[Duration]) -> Option<Duration> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort();
    let n = sorted.len();
    Some(if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2
    })
}

/// Arithmetic mean; `None` when empty.
pub fn mean(samples: &[Duration]) -> Option<Duration> {
    if samples.is_empty() {
        return None;
    }
    let total: Duration = samples.iter().sum();
    Some(total / samples.len() as u32)
}

/// Index of the sample that represents the set: the lower middle one, so it is a real sample.
pub fn median_index(samples: &[Duration]) -> Option<usize> {
    if samples.is_empty() {
        return None;
    }
    let mut order: Vec<usize> = (0..samples.len()).collect();
    order.sort_by_key(|&i| (samples[i], i));
    Some(order[(samples.len() - 1) / 2])
}

/// The smallest and largest sample; `None` when empty.
pub fn min_max(samples: &[Duration]) -> Option<(Duration, Duration)> {
    Some((*samples.iter().min()?, *samples.iter().max()?))
}

/// The bootstrap 95% interval of the median, when there are at least `MIN_REPETITIONS` samples.
pub fn median_ci(samples: &[Duration]) -> Option<Interval<Duration>> {
    if samples.len() < MIN_REPETITIONS {
        return None;
    }
    bootstrap::median_ci(samples, Bootstrap::default())
}

/// How much longer sample `b` took than sample `a`, and whether the difference is real.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MedianComparison {
    /// median(b) / median(a); above 1 when `b` took longer. Infinite when `a`'s median is zero.
    pub ratio: f64,
    /// Bootstrap 95% interval of the ratio, when the comparison was tested.
    pub ratio_ci: Option<Interval<f64>>,
    /// The two-sided Mann–Whitney test of `a` against `b`; `None` when the samples are too
    /// small to test: fewer than `MIN_REPETITIONS` on a side, or so few that even a complete
    /// separation could not reach p < `ALPHA` (3 against 3 cannot do better than p = 0.1).
    pub test: Option<MannWhitney>,
    /// The smallest p-value samples of these sizes can reach.
    pub smallest_p: f64,
}

impl MedianComparison {
    /// Whether the test ran and found p < `ALPHA`.
    pub fn significant(&self) -> bool {
        self.test.is_some_and(|t| t.p < ALPHA)
    }
}

/// Compares the medians of `a` and `b`; `None` when either is empty.
pub fn compare_medians(a: &[Duration], b: &[Duration]) -> Option<MedianComparison> {
    let (ma, mb) = (median(a)?, median(b)?);
    let ratio = mb.as_secs_f64() / ma.as_secs_f64();
    let smallest_p = mann_whitney::smallest_p(a.len(), b.len());
    let testable = a.len().min(b.len()) >= MIN_REPETITIONS && smallest_p < ALPHA;
    Some(MedianComparison {
        ratio: if ratio.is_nan() { 1.0 } else { ratio },
        ratio_ci: testable
            .then(|| bootstrap::median_ratio_ci(b, a, Bootstrap::default()))
            .flatten(),
        test: testable.then(|| mann_whitney::mann_whitney(a, b)).flatten(),
        smallest_p,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|&m| Duration::from_millis(m)).collect()
    }

    #[test]
    fn order_statistics() {
        let s = ms(&[50, 10, 40, 20, 30]);
        assert_eq!(median(&s), Some(Duration::from_millis(30)));
        assert_eq!(percentile(&s, 95.0), Some(Duration::from_millis(50)));
        assert_eq!(percentile(&s, 0.0), Some(Duration::from_millis(10)));
        assert_eq!(mean(&s), Some(Duration::from_millis(30)));
        assert_eq!(median_index(&s), Some(4));
        assert_eq!(median(&ms(&[10, 20])), Some(Duration::from_millis(15)));
        assert_eq!(median_index(&ms(&[20, 10])), Some(1));
        assert_eq!(median(&[]), None);
        assert_eq!(min_max(&s), Some((ms(&[10])[0], ms(&[50])[0])));
        assert_eq!(min_max(&[]), None);
    }

    #[test]
    fn median_ci_needs_three_samples() {
        assert_eq!(median_ci(&ms(&[10, 20])), None);
        let ci = median_ci(&ms(&[10, 20, 30, 40, 50])).expect("five samples");
        assert!(ci.low <= ms(&[30])[0] && ms(&[30])[0] <= ci.high, "{ci:?}");
    }

    #[test]
    fn comparison_of_separated_samples_is_significant() {
        // Five against five, every http1.1 time below every http1.0 time: U = 0, exact
        // p = 2 / 252; the medians 44 and 23 ms give a ratio of 44 / 23.
        let http10 = ms(&[44, 46, 42, 45, 43]);
        let http11 = ms(&[23, 24, 22, 25, 21]);
        let c = compare_medians(&http11, &http10).expect("samples");
        assert!((c.ratio - 44.0 / 23.0).abs() < 1e-12, "{c:?}");
        let t = c.test.expect("testable");
        assert_eq!(t.u, 0.0);
        assert!((t.p - 2.0 / 252.0).abs() < 1e-12, "{t:?}");
        assert!(c.significant());
        let ci = c.ratio_ci.expect("interval");
        // Resampled medians range over 42..46 and 21..25 ms.
        assert!(ci.low >= 42.0 / 25.0 && ci.high <= 46.0 / 21.0, "{ci:?}");
        assert!(ci.low < c.ratio && c.ratio < ci.high, "{ci:?}");
    }

    #[test]
    fn overlapping_or_too_few_samples_are_not_significant() {
        // Interleaved: U = 10 of 25, exact p = 0.69 (scipy: 0.6904761904761905).
        let c = compare_medians(&ms(&[20, 22, 24, 26, 28]), &ms(&[21, 23, 25, 27, 29]))
            .expect("samples");
        let t = c.test.expect("testable");
        assert!((t.p - 0.690_476_190_476_190_5).abs() < 1e-12, "{t:?}");
        assert!(!c.significant());
        // Three against three cannot reach p < 0.05: not tested, no interval.
        let c = compare_medians(&ms(&[10, 11, 12]), &ms(&[20, 21, 22])).expect("samples");
        assert_eq!((c.test, c.ratio_ci), (None, None));
        assert!((c.smallest_p - 0.1).abs() < 1e-12);
        assert!((c.ratio - 21.0 / 11.0).abs() < 1e-12);
        let c = compare_medians(&ms(&[10, 11]), &ms(&[20, 21, 22, 23, 24])).expect("samples");
        assert_eq!(c.test, None, "two repetitions are too few");
        assert_eq!(compare_medians(&[], &ms(&[1])), None);
    }
}
