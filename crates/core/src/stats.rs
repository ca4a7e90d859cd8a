//! Statistics over repetitions: the median and nearest-rank percentiles the reports print, and
//! the choice of the representative (median) repetition. Pure functions over durations.

use std::time::Duration;

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
    }
}
