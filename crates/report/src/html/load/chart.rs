//! The load page's two charts, drawn as inline SVG by this code: a line chart (one line per
//! series through its points in x order, dots where asked, an optional shaded band for the
//! warm-up, a legend, and both axes between "nice" round ticks), and a horizontal bar chart
//! with each bar's value written beside it. Colours come from the page's `c0`…`c5` classes, so
//! a protocol keeps its colour in every chart. Nothing here reads load.json: the page hands
//! over plain numbers, and every label is escaped here before it is written.

use super::{esc, number, thousands};
use std::fmt::Write as _;

/// Width of every chart in SVG user units; the page scales it to the column.
const WIDTH: f64 = 640.0;
/// Left edge of a line chart's plot (tick labels and the y title live to its left).
const LEFT: f64 = 72.0;
/// Right edge of a line chart's plot.
const RIGHT: f64 = WIDTH - 18.0;
/// Height of a line chart's plot.
const PLOT_H: f64 = 210.0;
/// Height of a row of the legend.
const LEGEND_ROW: f64 = 20.0;
/// Roughly how wide a character of the 13px labels is, for laying out the legend and bars.
const CHAR_W: f64 = 7.2;

/// One line of a line chart.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Series {
    pub label: String,
    /// Index into the page's palette (`c0`…`c5`, repeating).
    pub colour: usize,
    pub dashed: bool,
    /// `(x, y)`; non-finite points are left out, the rest drawn in x order (then y).
    pub points: Vec<(f64, f64)>,
}

/// What a line chart shows, apart from its series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct LineChart<'a> {
    /// Said to screen readers.
    pub title: &'a str,
    /// The x axis's title with its unit, e.g. `seconds since the measured load began`.
    pub x_title: &'a str,
    pub y_title: &'a str,
    /// The x axis starts at zero (or below, for negative values) rather than at the data.
    pub x_from_zero: bool,
    /// Shade the plot left of this x (the warm-up).
    pub shade_before: Option<f64>,
    /// A dot at every point (a scatter), not only where a series has a single point.
    pub dots: bool,
    /// An extra legend entry without a swatch, e.g. what solid and dashed lines mean.
    pub note: Option<&'a str>,
}

/// An axis between round ticks.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Scale {
    lo: f64,
    hi: f64,
    step: f64,
}

/// A round step (1, 2, 2.5 or 5 × 10ⁿ) of at least `raw`.
fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * magnitude)
}

impl Scale {
    /// About five round ticks covering `values`; from zero when `from_zero` (or when there is
    /// nothing to cover), and a range around a single value.
    fn covering(values: impl Iterator<Item = f64>, from_zero: bool) -> Self {
        let (mut lo, mut hi) = values
            .filter(|v| v.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
        if lo > hi {
            (lo, hi) = (0.0, 1.0);
        }
        if from_zero {
            lo = lo.min(0.0);
            hi = hi.max(0.0);
        }
        if hi - lo <= hi.abs().max(lo.abs()) * 1e-12 {
            // One value (or all zero): a range around it.
            let pad = if hi == 0.0 { 1.0 } else { hi.abs() * 0.1 };
            if from_zero && lo >= 0.0 {
                hi += pad;
            } else {
                lo -= pad;
                hi += pad;
            }
        }
        let step = nice_step((hi - lo) / 5.0);
        Self {
            lo: (lo / step).floor() * step,
            hi: (hi / step).ceil() * step,
            step,
        }
    }

    /// Where `v` falls between `from` (at `lo`) and `to` (at `hi`), clamped.
    fn at(&self, v: f64, from: f64, to: f64) -> f64 {
        let frac = ((v - self.lo) / (self.hi - self.lo)).clamp(0.0, 1.0);
        from + frac * (to - from)
    }

    /// The tick values, `lo` to `hi` inclusive (at most 50).
    fn ticks(&self) -> Vec<f64> {
        let n = ((self.hi - self.lo) / self.step).round().clamp(1.0, 50.0) as usize;
        (0..=n).map(|i| self.lo + self.step * i as f64).collect()
    }

    /// A tick's label with as many decimals as the step needs: `0`, `2.5`, `12,000`.
    fn label(&self, v: f64) -> String {
        let decimals = (0..6)
            .find(|&d| {
                let x = self.step * 10f64.powi(d);
                (x - x.round()).abs() < 1e-6 * x.abs().max(1.0)
            })
            .unwrap_or(6) as usize;
        // Snap -0 and rounding noise to the tick's true value.
        let v = if v.abs() < self.step * 1e-9 { 0.0 } else { v };
        thousands(v, decimals)
    }
}

/// The legend at the top of a line chart: a swatch and label per series (each label once, as
/// its first series draws it), wrapped onto as many rows as it takes. Returns the markup and
/// its height.
fn legend(series: &[Series], note: Option<&str>) -> (String, f64) {
    let mut items: Vec<(&Series, f64)> = Vec::new();
    for s in series {
        if !items.iter().any(|(t, _)| t.label == s.label) {
            items.push((s, 30.0 + s.label.chars().count() as f64 * CHAR_W + 18.0));
        }
    }
    let mut out = String::from("<g class=\"legend\">");
    let (mut x, mut row) = (LEFT, 0.0);
    for (s, w) in &items {
        if x + w > RIGHT && x > LEFT {
            x = LEFT;
            row += 1.0;
        }
        let y = 14.0 + row * LEGEND_ROW;
        let _ = write!(
            out,
            "<g class=\"c{}\"><line class=\"series{}\" x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" \
             y2=\"{:.1}\"/><text x=\"{:.1}\" y=\"{y:.1}\">{}</text></g>",
            s.colour % 6,
            if s.dashed { " dashed" } else { "" },
            y - 4.0,
            x + 24.0,
            y - 4.0,
            x + 30.0,
            esc(&s.label)
        );
        x += w;
    }
    if let Some(note) = note {
        let w = note.chars().count() as f64 * CHAR_W;
        if x + w > RIGHT && x > LEFT {
            x = LEFT;
            row += 1.0;
        }
        let _ = write!(
            out,
            "<text class=\"muted\" x=\"{x:.1}\" y=\"{:.1}\">{}</text>",
            14.0 + row * LEGEND_ROW,
            esc(note)
        );
    }
    out.push_str("</g>");
    let rows = if items.is_empty() && note.is_none() {
        0.0
    } else {
        row + 1.0
    };
    (out, rows * LEGEND_ROW)
}

/// A line (or scatter) chart's `<svg>`: one line per series, a shared pair of axes from the
/// points of them all, the y axis from zero.
pub(super) fn line_chart(chart: &LineChart<'_>, series: &[Series]) -> String {
    let series: Vec<Series> = series
        .iter()
        .map(|s| {
            let mut points: Vec<(f64, f64)> = s
                .points
                .iter()
                .copied()
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .collect();
            // By x, and up a column of equal x, so a scatter's line does not zigzag.
            points.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
            Series {
                points,
                ..s.clone()
            }
        })
        .collect();
    let all = || series.iter().flat_map(|s| s.points.iter());
    let xs = Scale::covering(all().map(|p| p.0), chart.x_from_zero);
    let ys = Scale::covering(all().map(|p| p.1), true);
    let (legend, legend_h) = legend(&series, chart.note);
    let top = legend_h + 14.0;
    let bottom = top + PLOT_H;
    let height = bottom + 46.0;
    let x = |v: f64| xs.at(v, LEFT, RIGHT);
    let y = |v: f64| ys.at(v, bottom, top);
    let mut out = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {WIDTH:.0} {height:.0}\" role=\"img\" \
         aria-label=\"{}\">{legend}",
        esc(chart.title)
    );
    if let Some(shade) = chart.shade_before.filter(|s| *s > xs.lo) {
        let right = x(shade.min(xs.hi));
        let _ = write!(
            out,
            "<rect class=\"warmup\" x=\"{LEFT:.1}\" y=\"{top:.1}\" width=\"{:.1}\" \
             height=\"{PLOT_H:.1}\"/><text class=\"muted\" x=\"{:.1}\" y=\"{:.1}\">warm-up</text>",
            right - LEFT,
            LEFT + 4.0,
            top + 14.0
        );
    }
    out.push_str("<g class=\"axis\">");
    for t in ys.ticks() {
        let _ = write!(
            out,
            "<line x1=\"{LEFT:.1}\" y1=\"{0:.1}\" x2=\"{RIGHT:.1}\" y2=\"{0:.1}\"/>\
             <text class=\"y-tick\" x=\"{1:.1}\" y=\"{2:.1}\">{3}</text>",
            y(t),
            LEFT - 6.0,
            y(t) + 4.0,
            ys.label(t)
        );
    }
    for t in xs.ticks() {
        let _ = write!(
            out,
            "<line x1=\"{0:.1}\" y1=\"{top:.1}\" x2=\"{0:.1}\" y2=\"{bottom:.1}\"/>\
             <text x=\"{0:.1}\" y=\"{1:.1}\">{2}</text>",
            x(t),
            bottom + 16.0,
            xs.label(t)
        );
    }
    let _ = write!(
        out,
        "<line class=\"frame\" x1=\"{LEFT:.1}\" y1=\"{bottom:.1}\" x2=\"{RIGHT:.1}\" \
         y2=\"{bottom:.1}\"/><line class=\"frame\" x1=\"{LEFT:.1}\" y1=\"{top:.1}\" \
         x2=\"{LEFT:.1}\" y2=\"{bottom:.1}\"/>\
         <text class=\"title\" x=\"{:.1}\" y=\"{:.1}\">{}</text>\
         <text class=\"title\" transform=\"translate(14 {:.1}) rotate(-90)\">{}</text></g>",
        (LEFT + RIGHT) / 2.0,
        bottom + 38.0,
        esc(chart.x_title),
        (top + bottom) / 2.0,
        esc(chart.y_title)
    );
    if series.iter().all(|s| s.points.is_empty()) {
        let _ = write!(
            out,
            "<text class=\"muted\" x=\"{:.1}\" y=\"{:.1}\">no data</text>",
            (LEFT + RIGHT) / 2.0,
            (top + bottom) / 2.0
        );
    }
    for s in &series {
        let _ = write!(out, "<g class=\"c{}\">", s.colour % 6);
        if s.points.len() > 1 {
            let mut d = String::new();
            for (i, (px, py)) in s.points.iter().enumerate() {
                let _ = write!(
                    d,
                    "{}{:.1} {:.1}",
                    if i == 0 { "M" } else { " L" },
                    x(*px),
                    y(*py)
                );
            }
            let _ = write!(
                out,
                "<path class=\"series{}\" d=\"{d}\"/>",
                if s.dashed { " dashed" } else { "" }
            );
        }
        if chart.dots || s.points.len() == 1 {
            for (px, py) in &s.points {
                let _ = write!(
                    out,
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\"><title>{}: {}, {}</title></circle>",
                    x(*px),
                    y(*py),
                    esc(&s.label),
                    number(*px),
                    number(*py)
                );
            }
        }
        out.push_str("</g>");
    }
    out.push_str("</svg>");
    out
}

/// One bar of a bar chart.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Bar {
    pub label: String,
    pub colour: usize,
    /// `None` draws no bar and says "n/a".
    pub value: Option<f64>,
    /// The value as the page writes it, e.g. `6,000` or `0.42 ms`.
    pub text: String,
}

/// A horizontal bar chart's `<svg>`: a row per bar, from zero to the largest value, each
/// labelled on the left and with its value on the right of the bar.
pub(super) fn bar_chart(title: &str, bars: &[Bar]) -> String {
    const ROW: f64 = 28.0;
    const VALUE_W: f64 = 110.0;
    let label_w = (bars
        .iter()
        .map(|b| b.label.chars().count())
        .max()
        .unwrap_or(0) as f64
        * CHAR_W
        + 14.0)
        .clamp(60.0, 220.0);
    let bar_max = WIDTH - label_w - VALUE_W;
    let max = bars
        .iter()
        .filter_map(|b| b.value)
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let height = (bars.len().max(1) as f64) * ROW + 8.0;
    let mut out = format!(
        "<svg class=\"chart bars\" viewBox=\"0 0 {WIDTH:.0} {height:.0}\" role=\"img\" \
         aria-label=\"{}\"><line class=\"frame\" x1=\"{label_w:.1}\" y1=\"2\" \
         x2=\"{label_w:.1}\" y2=\"{:.1}\"/>",
        esc(title),
        height - 4.0
    );
    if bars.is_empty() {
        let _ = write!(
            out,
            "<text class=\"muted\" x=\"{:.1}\" y=\"22\">no data</text>",
            label_w + 8.0
        );
    }
    for (i, bar) in bars.iter().enumerate() {
        let top = 4.0 + i as f64 * ROW;
        let mid = top + ROW / 2.0;
        let w = match bar.value.filter(|v| v.is_finite()) {
            Some(v) if max > 0.0 => (v.max(0.0) / max * bar_max).max(1.0),
            Some(_) => 1.0,
            None => 0.0,
        };
        let text = if bar.value.is_some() {
            esc(&bar.text)
        } else {
            "n/a".to_string()
        };
        let _ = write!(
            out,
            "<g class=\"c{}\"><text class=\"bar-label\" x=\"{:.1}\" y=\"{:.1}\">{}</text>\
             <rect class=\"bar\" x=\"{label_w:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"18\">\
             <title>{}: {text}</title></rect><text x=\"{:.1}\" y=\"{:.1}\">{text}</text></g>",
            bar.colour % 6,
            label_w - 8.0,
            mid + 4.0,
            esc(&bar.label),
            mid - 9.0,
            esc(&bar.label),
            label_w + w + 6.0,
            mid + 4.0,
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(haystack: &str, needle: &str) -> usize {
        haystack.matches(needle).count()
    }

    #[test]
    fn scales_end_on_round_ticks() {
        let s = Scale::covering([0.0, 5_870.0].into_iter(), true);
        assert_eq!((s.lo, s.hi, s.step), (0.0, 6_000.0, 2_000.0));
        assert_eq!(s.label(6_000.0), "6,000");
        let s = Scale::covering([-5.0, 29.0].into_iter(), false);
        assert_eq!((s.lo, s.hi, s.step), (-10.0, 30.0, 10.0));
        let s = Scale::covering([0.0, 0.42].into_iter(), true);
        assert_eq!((s.lo, s.hi), (0.0, 0.5));
        assert_eq!(s.label(0.1), "0.1");
        let s = Scale::covering([0.0, 11.0].into_iter(), true);
        assert_eq!(s.step, 2.5);
        assert_eq!(s.label(7.5), "7.5");
        assert_eq!(s.label(5.0), "5.0");
    }

    #[test]
    fn degenerate_data_still_gives_a_usable_scale() {
        for values in [
            vec![],
            vec![0.0, 0.0],
            vec![f64::NAN],
            vec![f64::INFINITY, 3.0],
            vec![7.0],
        ] {
            for from_zero in [true, false] {
                let s = Scale::covering(values.iter().copied(), from_zero);
                assert!(
                    s.lo.is_finite() && s.hi.is_finite() && s.hi > s.lo && s.step > 0.0,
                    "{values:?} {from_zero}: {s:?}"
                );
                assert!(s.ticks().len() >= 2 && s.ticks().len() <= 51, "{s:?}");
            }
        }
        let s = Scale::covering([3.0].into_iter(), false);
        assert!(s.lo < 3.0 && s.hi > 3.0, "{s:?}");
    }

    fn chart() -> LineChart<'static> {
        LineChart {
            title: "t",
            x_title: "x",
            y_title: "y",
            x_from_zero: false,
            shade_before: Some(0.0),
            dots: false,
            note: None,
        }
    }

    #[test]
    fn a_line_chart_draws_a_path_per_series_and_survives_odd_data() {
        let series = [
            Series {
                label: "h2".into(),
                colour: 0,
                dashed: false,
                points: vec![(2.0, 5.0), (-1.0, 1.0), (0.0, f64::NAN), (1.0, 3.0)],
            },
            Series {
                label: "<b>".into(),
                colour: 7,
                dashed: true,
                points: vec![(0.0, 0.0)],
            },
            Series {
                label: "empty".into(),
                colour: 2,
                dashed: false,
                points: vec![],
            },
        ];
        let svg = line_chart(&chart(), &series);
        assert_eq!(count(&svg, "<path"), 1, "{svg}");
        // Sorted by x; the NaN point left out.
        assert!(svg.contains("M72.0 "), "{svg}");
        assert_eq!(count(&svg, " L"), 2, "{svg}");
        // The single point is a dot; colours wrap around the palette.
        assert_eq!(count(&svg, "<circle"), 1, "{svg}");
        assert!(svg.contains("class=\"c1\""), "{svg}");
        assert!(svg.contains("&lt;b&gt;") && !svg.contains("<b>"), "{svg}");
        assert!(svg.contains("warm-up"), "{svg}");
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
        let empty = line_chart(&chart(), &[]);
        assert!(
            empty.contains("no data") && empty.ends_with("</svg>"),
            "{empty}"
        );
    }

    #[test]
    fn bars_scale_to_the_largest_and_say_what_is_missing() {
        let bar = |label: &str, value: Option<f64>| Bar {
            label: label.into(),
            colour: 0,
            value,
            text: value.map_or(String::new(), |v| thousands(v, 0)),
        };
        let svg = bar_chart(
            "peak",
            &[
                bar("http1.1", Some(6_000.0)),
                bar("h2", Some(1_000.0)),
                bar("x", None),
            ],
        );
        let widths: Vec<f64> = svg
            .split("width=\"")
            .skip(1)
            .filter_map(|s| s.split('"').next()?.parse().ok())
            .collect();
        assert_eq!(widths.len(), 3, "{svg}");
        assert!((widths[0] / widths[1] - 6.0).abs() < 0.01, "{widths:?}");
        assert_eq!(widths[2], 0.0);
        assert!(svg.contains(">6,000<") && svg.contains(">n/a<"), "{svg}");
        let zeros = bar_chart("zero", &[bar("a", Some(0.0)), bar("b", Some(f64::NAN))]);
        assert!(!zeros.contains("NaN"), "{zeros}");
        assert!(bar_chart("none", &[]).contains("no data"));
    }
}
