//! The charts' shared geometry: the page width, where the plot area starts, and a linear time
//! scale between round ticks (1, 2, 2.5 or 5 × 10ⁿ), drawn as grid lines with labels. The
//! waterfalls and lanes of a report share one scale from zero, so bars compare across
//! protocols by eye; the distribution chart may start above zero to show the spread. It owns
//! no data and draws no bars.

use std::fmt::Write as _;
use std::time::Duration;

/// Width of every chart, in SVG user units (pixels at 100% zoom).
pub(super) const WIDTH: f64 = 1120.0;
/// Left edge of the plot area; labels live to its left.
pub(super) const PLOT_X: f64 = 250.0;
/// Width of the plot area; totals are written to its right.
pub(super) const PLOT_W: f64 = 790.0;

/// A time axis from `start` to `span`, with a tick every `step`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct TimeScale {
    pub start: Duration,
    pub span: Duration,
    pub step: Duration,
}

/// A round step (1, 2, 2.5 or 5 × 10ⁿ nanoseconds) for about 8 ticks over `range_ns`.
fn round_step(range_ns: f64) -> u64 {
    let raw = range_ns.max(1_000.0) / 8.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    (step.round() as u64).max(1)
}

impl TimeScale {
    /// A scale from zero to the first round tick at or past `max` (about 8 ticks).
    pub(super) fn covering(max: Duration) -> Self {
        let step = round_step(max.as_nanos() as f64);
        let ticks = (max.as_nanos() as u64).div_ceil(step).max(1);
        Self {
            start: Duration::ZERO,
            span: Duration::from_nanos(step * ticks),
            step: Duration::from_nanos(step),
        }
    }

    /// A scale over `min..=max` between round ticks; from zero unless every value lies within
    /// the top quarter of `max` (a wider spread is visible from zero, and zooming in would
    /// exaggerate ratios).
    pub(super) fn covering_range(min: Duration, max: Duration) -> Self {
        if min.as_secs_f64() < max.as_secs_f64() * 0.75 {
            return Self::covering(max);
        }
        // At least 4% of the largest value, so equal times still get a readable range.
        let range = ((max - min).as_nanos() as f64).max(max.as_nanos() as f64 * 0.04);
        let step = round_step(range);
        let lo = (min.as_nanos() as u64 / step).saturating_sub(1) * step;
        let hi = (max.as_nanos() as u64 / step + 1) * step;
        Self {
            start: Duration::from_nanos(lo),
            span: Duration::from_nanos(hi),
            step: Duration::from_nanos(step),
        }
    }

    /// The x coordinate of `t`, clamped to the plot area.
    pub(super) fn x(&self, t: Duration) -> f64 {
        let range = (self.span.saturating_sub(self.start)).as_secs_f64();
        let frac = t.saturating_sub(self.start).as_secs_f64() / range.max(f64::MIN_POSITIVE);
        PLOT_X + frac.clamp(0.0, 1.0) * PLOT_W
    }

    /// The width of a span of `d` starting at `from`.
    pub(super) fn w(&self, from: Duration, d: Duration) -> f64 {
        self.x(from + d) - self.x(from)
    }

    /// Tick positions from the start to the span, inclusive.
    pub(super) fn ticks(&self) -> Vec<Duration> {
        let n =
            (self.span.saturating_sub(self.start).as_nanos() / self.step.as_nanos().max(1)) as u32;
        (0..=n).map(|i| self.start + self.step * i).collect()
    }

    /// A tick's label: the unit by the span (µs below 1 ms, s from 10 s, else ms), as many
    /// decimals as the step needs: `0`, `2.5 ms`, `19.9 ms`, `12 s`.
    pub(super) fn label(&self, t: Duration) -> String {
        if t.is_zero() {
            return "0".to_string();
        }
        let span = self.span.as_secs_f64();
        let (scale, unit) = if span >= 10.0 {
            (1.0, "s")
        } else if span >= 1e-3 {
            (1e3, "ms")
        } else {
            (1e6, "µs")
        };
        let step = self.step.as_secs_f64() * scale;
        let decimals = (0..3)
            .find(|&d| {
                let x = step * 10f64.powi(d);
                (x - x.round()).abs() < 1e-6
            })
            .unwrap_or(3) as usize;
        format!("{:.decimals$} {unit}", t.as_secs_f64() * scale)
    }

    /// Vertical grid lines from `top` to `bottom`, labelled above `top` (or below `bottom`).
    pub(super) fn grid(&self, top: f64, bottom: f64, labels_below: bool) -> String {
        let mut out = String::from("<g class=\"axis\">");
        for t in self.ticks() {
            let x = self.x(t);
            let _ = write!(
                out,
                "<line x1=\"{x:.1}\" y1=\"{top:.1}\" x2=\"{x:.1}\" y2=\"{bottom:.1}\"/>"
            );
            let y = if labels_below {
                bottom + 14.0
            } else {
                top - 6.0
            };
            let _ = write!(
                out,
                "<text x=\"{x:.1}\" y=\"{y:.1}\">{}</text>",
                self.label(t)
            );
        }
        out.push_str("</g>");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn round_spans_and_steps() {
        let s = TimeScale::covering(ms(23));
        assert_eq!((s.step, s.span), (ms(5), ms(25)));
        assert_eq!(s.ticks().len(), 6);
        assert_eq!(s.label(ms(5)), "5 ms");
        let s = TimeScale::covering(ms(18));
        assert_eq!((s.step, s.span), (Duration::from_micros(2_500), ms(20)));
        assert_eq!(s.label(Duration::from_micros(7_500)), "7.5 ms");
        let s = TimeScale::covering(ms(44));
        assert_eq!((s.step, s.span), (ms(10), ms(50)));
        let s = TimeScale::covering(Duration::from_micros(730));
        assert_eq!(
            (s.step, s.span),
            (Duration::from_micros(100), Duration::from_micros(800))
        );
        assert_eq!(s.label(Duration::from_micros(300)), "300 µs");
        let s = TimeScale::covering(Duration::from_millis(1_600));
        assert_eq!((s.step, s.span), (ms(200), ms(1_600)));
        assert_eq!(s.label(ms(400)), "400 ms");
        let s = TimeScale::covering(Duration::from_secs(16));
        assert_eq!(s.label(Duration::from_secs(4)), "4 s");
        // Nothing to show still gives a usable axis.
        assert!(TimeScale::covering(Duration::ZERO).span > Duration::ZERO);
    }

    #[test]
    fn a_narrow_range_far_from_zero_is_zoomed_in() {
        // 502–531 ms: a 5 ms step from 495 to 535 ms.
        let s = TimeScale::covering_range(ms(502), ms(531));
        assert_eq!((s.start, s.span, s.step), (ms(495), ms(535), ms(5)));
        assert_eq!(s.x(ms(495)), PLOT_X);
        assert_eq!(s.ticks().first(), Some(&ms(495)));
        assert_eq!(s.label(ms(500)), "500 ms");
        // Equal times still get a range around them.
        let s = TimeScale::covering_range(ms(20), ms(20));
        assert_eq!(
            (s.start, s.span),
            (Duration::from_micros(19_900), Duration::from_micros(20_100))
        );
        assert_eq!(s.label(Duration::from_micros(19_900)), "19.9 ms");
        // A wide range starts at zero.
        assert_eq!(
            TimeScale::covering_range(ms(24), ms(36)).start,
            Duration::ZERO
        );
    }

    #[test]
    fn positions_are_linear_and_clamped() {
        let s = TimeScale::covering(ms(50));
        assert_eq!(s.x(Duration::ZERO), PLOT_X);
        assert_eq!(s.x(ms(25)), PLOT_X + PLOT_W / 2.0);
        assert_eq!(s.x(ms(500)), PLOT_X + PLOT_W);
        assert_eq!(s.w(ms(10), ms(5)), PLOT_W / 10.0);
    }
}
