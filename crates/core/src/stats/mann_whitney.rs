//! The Mann–Whitney U test (Wilcoxon rank-sum), two-sided: does one sample tend to be larger
//! than the other? It makes no assumption about the distributions' shape, which suits page
//! times (skewed, a few slow outliers). It owns ranking with midranks for ties, the exact null
//! distribution of U for small samples without ties, and the normal approximation (with tie
//! and continuity corrections) otherwise, matching `scipy.stats.mannwhitneyu`. It deliberately
//! does not decide what "significant" means; the caller compares `p` with its α.

use std::time::Duration;

/// Samples at most this large on both sides, without ties, get the exact p-value.
pub const EXACT_MAX: usize = 10;

/// How the p-value was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// From the exact distribution of U under the null hypothesis.
    Exact,
    /// Normal approximation with tie and continuity corrections.
    Normal,
}

/// The outcome of a two-sided Mann–Whitney U test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannWhitney {
    /// U of the first sample: the number of (x, y) pairs with x > y, ties counting one half.
    pub u: f64,
    /// Two-sided p-value.
    pub p: f64,
    pub method: Method,
}

/// Tests `x` against `y`; `None` when either is empty.
pub fn mann_whitney(x: &[Duration], y: &[Duration]) -> Option<MannWhitney> {
    let (m, n) = (x.len(), y.len());
    if m == 0 || n == 0 {
        return None;
    }
    let (rank_sum_x, tie_term) = rank_sum(x, y);
    let u = rank_sum_x - (m * (m + 1)) as f64 / 2.0;
    let u_big = u.max((m * n) as f64 - u);
    if tie_term == 0.0 && m <= EXACT_MAX && n <= EXACT_MAX {
        // U is a whole number without ties.
        let p = 2.0 * exact_upper_tail(m, n, u_big.round() as usize);
        return Some(MannWhitney {
            u,
            p: p.min(1.0),
            method: Method::Exact,
        });
    }
    let total = (m + n) as f64;
    let mn = (m * n) as f64;
    let variance = mn / 12.0 * ((total + 1.0) - tie_term / (total * (total - 1.0)));
    let p = if variance <= 0.0 {
        1.0
    } else {
        let z = (u_big - mn / 2.0 - 0.5) / variance.sqrt();
        erfc(z / std::f64::consts::SQRT_2).min(1.0)
    };
    Some(MannWhitney {
        u,
        p,
        method: Method::Normal,
    })
}

/// The smallest two-sided p-value samples of `m` and `n` can reach without ties (every value
/// of one below every value of the other): 2 / C(m + n, m), at most 1.
pub fn smallest_p(m: usize, n: usize) -> f64 {
    if m == 0 || n == 0 {
        return 1.0;
    }
    // C(m+n, m) as a float: exact enough, and no overflow for large samples.
    let arrangements = (1..=m.min(n)).fold(1.0_f64, |c, i| c * (m.max(n) + i) as f64 / i as f64);
    (2.0 / arrangements).min(1.0)
}

/// The sum of `x`'s ranks in the pooled sample (midranks for ties) and Σ(t³ − t) over groups
/// of t tied values.
fn rank_sum(x: &[Duration], y: &[Duration]) -> (f64, f64) {
    let mut pooled: Vec<(Duration, bool)> = x
        .iter()
        .map(|&v| (v, true))
        .chain(y.iter().map(|&v| (v, false)))
        .collect();
    pooled.sort_by_key(|&(v, _)| v);
    let (mut sum, mut ties) = (0.0, 0.0);
    let mut i = 0;
    while i < pooled.len() {
        let j = i + pooled[i..]
            .iter()
            .take_while(|(v, _)| *v == pooled[i].0)
            .count();
        // Ranks i+1 ..= j share their mean.
        let midrank = (i + 1 + j) as f64 / 2.0;
        sum += midrank * pooled[i..j].iter().filter(|(_, in_x)| *in_x).count() as f64;
        let t = (j - i) as f64;
        ties += t * t * t - t;
        i = j;
    }
    (sum, ties)
}

/// P(U ≥ u) under the null hypothesis for samples of `m` and `n` without ties, from the
/// number of arrangements giving each U: f(i, j, u) = f(i−1, j, u−j) + f(i, j−1, u), the
/// first term when the largest pooled value belongs to the first sample.
fn exact_upper_tail(m: usize, n: usize, u: usize) -> f64 {
    // counts[i][j][k]: arrangements of i and j values with U = k.
    let mut counts: Vec<Vec<Vec<u64>>> = vec![vec![Vec::new(); n + 1]; m + 1];
    for i in 0..=m {
        for j in 0..=n {
            counts[i][j] = if i == 0 || j == 0 {
                vec![1]
            } else {
                let mut f = vec![0u64; i * j + 1];
                for (k, c) in counts[i - 1][j].iter().enumerate() {
                    f[k + j] += c;
                }
                for (k, c) in counts[i][j - 1].iter().enumerate() {
                    f[k] += c;
                }
                f
            };
        }
    }
    let f = &counts[m][n];
    let all: u64 = f.iter().sum();
    let tail: u64 = f.iter().skip(u).sum();
    tail as f64 / all as f64
}

/// The complementary error function, with fractional error below 1.2e-7 everywhere
/// (Numerical Recipes' `erfcc`, a Chebyshev fit).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|&m| Duration::from_millis(m)).collect()
    }

    /// Reference values from scipy 1.17 `scipy.stats.mannwhitneyu(x, y,
    /// alternative="two-sided", method=...)`, "exact" for the small samples without ties,
    /// "asymptotic" (continuity-corrected) otherwise.
    fn check(x: &[u64], y: &[u64], u: f64, p: f64, method: Method) {
        let r = mann_whitney(&ms(x), &ms(y)).expect("non-empty");
        assert_eq!(r.u, u, "{x:?} vs {y:?}");
        assert_eq!(r.method, method, "{x:?} vs {y:?}");
        assert!((r.p - p).abs() < 1e-7, "{x:?} vs {y:?}: p {} ≠ {p}", r.p);
    }

    #[test]
    fn small_samples_without_ties_are_exact() {
        // scipy's documentation example (Ludbrook & Dudley's ages): U = 17, p = 1/9.
        check(
            &[19, 22, 16, 29, 24],
            &[20, 11, 17, 12],
            17.0,
            0.111_111_111_111_111_1,
            Method::Exact,
        );
        // Complete separation: p = 2 / C(10, 5) = 2 / 252.
        check(
            &[10, 11, 12, 13, 14],
            &[20, 21, 22, 23, 24],
            0.0,
            0.007_936_507_936_507_936,
            Method::Exact,
        );
        check(&[10, 11, 12], &[20, 21, 22], 0.0, 0.1, Method::Exact);
        check(
            &[1, 3, 5, 7, 9, 11],
            &[2, 4, 6, 8, 10],
            15.0,
            1.0,
            Method::Exact,
        );
    }

    #[test]
    fn ties_and_large_samples_use_the_normal_approximation() {
        check(
            &[1, 2, 2, 3, 4, 4, 5],
            &[3, 4, 4, 5, 6, 6, 7, 8],
            8.0,
            0.022_287_319_014_553_01,
            Method::Normal,
        );
        let x: Vec<u64> = (1..25).step_by(2).collect();
        let y: Vec<u64> = (2..26).step_by(2).map(|v| v + 4).collect();
        check(&x, &y, 45.0, 0.126_022_121_770_373_09, Method::Normal);
        check(&[5, 5, 5], &[5, 5, 5], 4.5, 1.0, Method::Normal);
    }

    #[test]
    fn empty_samples_and_the_smallest_p() {
        assert_eq!(mann_whitney(&[], &ms(&[1])), None);
        assert!((smallest_p(3, 3) - 0.1).abs() < 1e-12);
        assert!((smallest_p(4, 4) - 2.0 / 70.0).abs() < 1e-12);
        assert!((smallest_p(5, 5) - 2.0 / 252.0).abs() < 1e-12);
        assert_eq!(smallest_p(1, 1), 1.0);
        assert_eq!(smallest_p(0, 4), 1.0);
    }

    #[test]
    fn erfc_known_values() {
        // erfc(0) = 1, erfc(1) = 0.157299207..., erfc(-1) = 1.842700792...
        assert!((erfc(0.0) - 1.0).abs() < 1e-7);
        assert!((erfc(1.0) - 0.157_299_207_050_285_1).abs() < 2e-8);
        assert!((erfc(-1.0) - 1.842_700_792_949_715).abs() < 2e-7);
        assert!((erfc(3.0) - 2.209_049_699_858_544e-5).abs() < 3e-12);
    }
}
