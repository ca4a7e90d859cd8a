//! A line chart of page load time against a varied value, the picture the SPDY and HTTP/2
//! papers draw: one line per configuration through its medians, a shaded band for each
//! median's bootstrap 95% interval, a dot per point with hover text. The y axis is time from
//! zero (round ticks from `axis::TimeScale`); where each x value sits, and its label, is the
//! caller's (`sweep` knows whether the values are durations, rates or categories). It owns
//! this chart's drawing only.

use super::axis::{TimeScale, WIDTH};
use super::distribution::colour_class;
use super::text::{esc, ms3};
use httplab_core::stats::Interval;
use httplab_core::units::format_duration;
use std::fmt::Write as _;
use std::time::Duration;

/// Left edge of the plot (time labels live to its left).
const LEFT: f64 = 90.0;
/// Right edge of the plot.
const RIGHT: f64 = WIDTH - 40.0;
/// Space kept inside the plot on either side, so the first and last points are not on its
/// edges.
const PAD: f64 = 28.0;
const TOP: f64 = 16.0;
const PLOT_H: f64 = 360.0;

/// The chart's own style, added after the report's stylesheet: line, band and dot colours
/// follow the distribution chart's `c0`…`c5`.
pub(super) const CSS: &str = "\
.sweep-line { fill: none; stroke-width: 2.5; stroke-linejoin: round; stroke-linecap: round; }
.sweep-band { stroke: none; fill-opacity: 0.16; }
.sweep-point { stroke: #fff; stroke-width: 1.5; }
.axis text.y-tick { text-anchor: end; }
.axis-title { fill: var(--muted) !important; font-size: 12px; text-anchor: middle; }
.sw.line { height: 3px; }
.c0 .sweep-line { stroke: #1a73e8; } .c0 .sweep-band, .c0 .sweep-point, .sw.line.c0 { fill: #1a73e8; background: #1a73e8; }
.c1 .sweep-line { stroke: #e8710a; } .c1 .sweep-band, .c1 .sweep-point, .sw.line.c1 { fill: #e8710a; background: #e8710a; }
.c2 .sweep-line { stroke: #188038; } .c2 .sweep-band, .c2 .sweep-point, .sw.line.c2 { fill: #188038; background: #188038; }
.c3 .sweep-line { stroke: #a142f4; } .c3 .sweep-band, .c3 .sweep-point, .sw.line.c3 { fill: #a142f4; background: #a142f4; }
.c4 .sweep-line { stroke: #d01884; } .c4 .sweep-band, .c4 .sweep-point, .sw.line.c4 { fill: #d01884; background: #d01884; }
.c5 .sweep-line { stroke: #5f6368; } .c5 .sweep-band, .c5 .sweep-point, .sw.line.c5 { fill: #5f6368; background: #5f6368; }
";

/// The x axis: where each tick sits (0 = left end, 1 = right end) and its label.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct XAxis {
    /// What varies, e.g. `network.rtt`.
    pub title: String,
    pub ticks: Vec<(f64, String)>,
}

/// One point of a line.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct LinePoint {
    /// Position on the x axis, 0..=1.
    pub x: f64,
    /// The x value as written, for hover text.
    pub value: String,
    pub median: Duration,
    pub ci: Option<Interval<Duration>>,
}

/// One configuration's line, its points in x order.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Line {
    pub label: String,
    pub points: Vec<LinePoint>,
}

fn x_at(fraction: f64) -> f64 {
    LEFT + PAD + fraction.clamp(0.0, 1.0) * (RIGHT - LEFT - 2.0 * PAD)
}

/// The y coordinate of `t` on `scale` (which runs from zero).
fn y_at(scale: &TimeScale, t: Duration) -> f64 {
    let frac = t.as_secs_f64() / scale.span.as_secs_f64().max(f64::MIN_POSITIVE);
    TOP + PLOT_H - frac.clamp(0.0, 1.0) * PLOT_H
}

/// `M x y L x y …` through `points`.
fn polyline(points: impl Iterator<Item = (f64, f64)>) -> String {
    let mut d = String::new();
    for (i, (x, y)) in points.enumerate() {
        let _ = write!(d, "{}{x:.1} {y:.1}", if i == 0 { "M" } else { " L" });
    }
    d
}

/// The chart's `<svg>`.
pub(super) fn line_chart(axis: &XAxis, lines: &[Line]) -> String {
    let highest = lines
        .iter()
        .flat_map(|l| l.points.iter())
        .map(|p| p.ci.map_or(p.median, |ci| ci.high.max(p.median)))
        .max()
        .unwrap_or_default();
    let scale = TimeScale::covering(highest);
    let bottom = TOP + PLOT_H;
    let height = bottom + 58.0;
    let mut out = format!(
        "<svg class=\"chart line-chart\" viewBox=\"0 0 {WIDTH} {height:.0}\" width=\"{WIDTH}\" \
         height=\"{height:.0}\" role=\"img\" aria-label=\"page load time against {}\">",
        esc(&axis.title)
    );
    // Horizontal grid lines with time labels, vertical ones at the x ticks.
    out.push_str("<g class=\"axis\">");
    for t in scale.ticks() {
        let y = y_at(&scale, t);
        let _ = write!(
            out,
            "<line x1=\"{LEFT:.1}\" y1=\"{y:.1}\" x2=\"{RIGHT:.1}\" y2=\"{y:.1}\"/>\
             <text class=\"y-tick\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            LEFT - 8.0,
            y + 4.0,
            scale.label(t)
        );
    }
    for (fraction, label) in &axis.ticks {
        let x = x_at(*fraction);
        let _ = write!(
            out,
            "<line x1=\"{x:.1}\" y1=\"{TOP:.1}\" x2=\"{x:.1}\" y2=\"{bottom:.1}\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\">{}</text>",
            bottom + 16.0,
            esc(label)
        );
    }
    let _ = write!(
        out,
        "<text class=\"axis-title\" x=\"{:.1}\" y=\"{:.1}\">{}</text>\
         <text class=\"axis-title\" transform=\"translate(18 {:.1}) rotate(-90)\">page load \
         time, median</text></g>",
        (LEFT + RIGHT) / 2.0,
        bottom + 44.0,
        esc(&axis.title),
        TOP + PLOT_H / 2.0
    );

    for (i, line) in lines.iter().enumerate() {
        let label = esc(&line.label);
        let _ = write!(
            out,
            "<g class=\"series {}\" data-label=\"{label}\">",
            colour_class(i)
        );
        if line.points.iter().any(|p| p.ci.is_some()) {
            // Along the upper ends, back along the lower ones; a point without an interval
            // pinches the band to its median.
            let upper = line
                .points
                .iter()
                .map(|p| (x_at(p.x), y_at(&scale, p.ci.map_or(p.median, |ci| ci.high))));
            let lower = line
                .points
                .iter()
                .rev()
                .map(|p| (x_at(p.x), y_at(&scale, p.ci.map_or(p.median, |ci| ci.low))));
            let _ = write!(
                out,
                "<path class=\"sweep-band\" data-label=\"{label}\" d=\"{} Z\"><title>{label}: \
                 95% interval of the median</title></path>",
                polyline(upper.chain(lower))
            );
        }
        let _ = write!(
            out,
            "<path class=\"sweep-line\" data-label=\"{label}\" d=\"{}\"/>",
            polyline(
                line.points
                    .iter()
                    .map(|p| (x_at(p.x), y_at(&scale, p.median)))
            )
        );
        for p in &line.points {
            let ci = p.ci.map_or_else(String::new, |ci| {
                format!(" (95% CI {} – {})", ms3(ci.low), ms3(ci.high))
            });
            let _ = write!(
                out,
                "<circle class=\"sweep-point\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"4.5\"><title>{label} \
                 at {}: median {}{ci}</title></circle>",
                x_at(p.x),
                y_at(&scale, p.median),
                esc(&p.value),
                format_duration(p.median)
            );
        }
        out.push_str("</g>");
    }
    out.push_str("</svg>");
    out
}

/// The legend: a line swatch per configuration and the band's meaning.
pub(super) fn legend(lines: &[Line]) -> String {
    let mut out = String::from("<ul class=\"legend\">");
    for (i, line) in lines.iter().enumerate() {
        let _ = write!(
            out,
            "<li><span class=\"sw line {}\"></span>{}</li>",
            colour_class(i),
            esc(&line.label)
        );
    }
    out.push_str("<li>shaded: bootstrap 95% interval of the median</li></ul>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    fn point(x: f64, median: u64, ci: Option<(u64, u64)>) -> LinePoint {
        LinePoint {
            x,
            value: format!("{median}"),
            median: ms(median),
            ci: ci.map(|(low, high)| Interval {
                low: ms(low),
                high: ms(high),
            }),
        }
    }

    #[test]
    fn one_line_and_band_per_configuration_on_a_time_axis_from_zero() {
        let axis = XAxis {
            title: "network.rtt".into(),
            ticks: vec![
                (0.0, "0".into()),
                (0.5, "20ms".into()),
                (1.0, "40ms".into()),
            ],
        };
        let lines = vec![
            Line {
                label: "http1.1".into(),
                points: vec![
                    point(0.0, 10, Some((9, 11))),
                    point(0.5, 30, Some((28, 33))),
                    point(1.0, 48, Some((45, 50))),
                ],
            },
            Line {
                label: "h2".into(),
                points: vec![point(0.0, 5, None), point(1.0, 20, None)],
            },
        ];
        let svg = line_chart(&axis, &lines);
        assert_eq!(svg.matches("class=\"sweep-line\"").count(), 2);
        assert!(svg.contains("<path class=\"sweep-line\" data-label=\"h2\""));
        // Only the configuration with intervals gets a band.
        assert_eq!(svg.matches("class=\"sweep-band\"").count(), 1);
        assert_eq!(svg.matches("<circle class=\"sweep-point\"").count(), 5);
        // Time from 0 to 50 ms (the highest interval end), ticks every 10 ms.
        assert!(
            svg.contains(">0</text>") && svg.contains(">50 ms</text>"),
            "{svg}"
        );
        // The plot spans y 16..376: 50 ms at the top, 0 at the bottom; x from 118 to 1052.
        let h2 = svg
            .split("data-label=\"h2\" d=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .expect("h2 line");
        assert_eq!(
            h2,
            format!("M118.0 {:.1} L1052.0 {:.1}", 376.0 - 36.0, 376.0 - 144.0)
        );
        assert!(svg.contains(
            "<title>http1.1 at 30: median 30.0ms (95% CI 28.000 ms – 33.000 ms)</title>"
        ));
        assert!(svg.contains(">20ms</text>") && svg.contains(">network.rtt</text>"));
        assert_eq!(legend(&lines).matches("class=\"sw line").count(), 2);
    }

    #[test]
    fn labels_are_escaped() {
        let axis = XAxis {
            title: "client.profile".into(),
            ticks: vec![(0.5, "<b>".into())],
        };
        let svg = line_chart(
            &axis,
            &[Line {
                label: "a\"b".into(),
                points: vec![point(0.5, 1, None)],
            }],
        );
        assert!(svg.contains("&lt;b&gt;") && svg.contains("data-label=\"a&quot;b\""));
        assert!(!svg.contains("<b>"));
    }
}
