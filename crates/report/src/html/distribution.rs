//! The distribution of page load times across repetitions: one row per configuration on a
//! single time axis from zero, a dot per repetition (spread vertically by repetition so equal
//! times stay visible), the median as a tick and its bootstrap 95% interval as a band. It shows
//! at a glance how far apart the protocols are and how much each varies. It owns this chart's
//! drawing only; the numbers come from `summary`.

use super::axis::{TimeScale, PLOT_X, WIDTH};
use super::text::{esc, ms3};
use crate::summary::ProtocolSummary;
use httplab_core::units::format_duration;
use std::fmt::Write as _;

const ROW_H: f64 = 36.0;
const TOP: f64 = 8.0;

/// One colour per configuration, in order of appearance (CSS classes `c0`…`c5`, reused after).
pub(super) fn colour_class(index: usize) -> String {
    format!("c{}", index % 6)
}

/// The chart's `<svg>`, with its own axis over every repetition: from zero, or zoomed in when
/// all page times lie close together far from zero (the first tick then says where it starts).
pub(super) fn distribution(summaries: &[ProtocolSummary]) -> String {
    let slowest = summaries
        .iter()
        .map(|s| s.page_time_max)
        .max()
        .unwrap_or_default();
    let fastest = summaries
        .iter()
        .map(|s| s.page_time_min)
        .min()
        .unwrap_or_default();
    let scale = TimeScale::covering_range(fastest, slowest);
    let bottom = TOP + ROW_H * summaries.len() as f64;
    let height = bottom + 24.0;
    let mut out = format!(
        "<svg class=\"chart distribution-chart\" viewBox=\"0 0 {WIDTH} {height:.0}\" \
         width=\"{WIDTH}\" height=\"{height:.0}\" role=\"img\" aria-label=\"page load times \
         per repetition\">"
    );
    out.push_str(&scale.grid(TOP, bottom, true));
    for (i, s) in summaries.iter().enumerate() {
        let y = TOP + ROW_H * i as f64;
        let mid = y + ROW_H / 2.0;
        let colour = colour_class(i);
        let _ = write!(
            out,
            "<g class=\"dist-row {colour}\" data-label=\"{}\"><text class=\"dist-label\" x=\"{:.1}\" \
             y=\"{:.1}\">{}</text>",
            esc(&s.label),
            PLOT_X - 12.0,
            mid + 4.0,
            esc(&s.label)
        );
        if let Some(ci) = s.page_time_median_ci {
            let _ = write!(
                out,
                "<rect class=\"ci\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.2}\" height=\"22\" rx=\"3\">\
                 <title>{}: 95% interval of the median {} – {}</title></rect>",
                scale.x(ci.low),
                mid - 11.0,
                (scale.x(ci.high) - scale.x(ci.low)).max(1.0),
                esc(&s.label),
                ms3(ci.low),
                ms3(ci.high)
            );
        }
        for (k, t) in s.page_times.iter().enumerate() {
            // Five vertical positions, cycling with the repetition.
            let dy = ((k % 5) as f64 - 2.0) * 3.5;
            let _ = write!(
                out,
                "<circle class=\"dot\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\"><title>{}, repetition \
                 {k}: {}</title></circle>",
                scale.x(*t),
                mid + dy,
                esc(&s.label),
                ms3(*t)
            );
        }
        let x = scale.x(s.page_time_median);
        let _ = write!(
            out,
            "<line class=\"median\" x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\"><title>\
             {}: median {}</title></line><text class=\"dist-median\" x=\"{:.1}\" y=\"{:.1}\">\
             {}</text></g>",
            mid - 14.0,
            mid + 14.0,
            esc(&s.label),
            ms3(s.page_time_median),
            scale.x(s.page_time_max) + 10.0,
            mid + 4.0,
            format_duration(s.page_time_median)
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::RunBuilder;
    use crate::summary::summarize;

    #[test]
    fn a_dot_per_repetition_and_a_median_per_configuration() {
        let runs: Vec<_> = (0..5)
            .map(|i| RunBuilder::http10(i, 40 + u64::from(i)).build())
            .chain((0..5).map(|i| RunBuilder::http11(i, 20 + u64::from(i)).build()))
            .collect();
        let svg = distribution(&summarize(&runs));
        assert_eq!(svg.matches("<circle class=\"dot\"").count(), 10);
        assert_eq!(svg.matches("<line class=\"median\"").count(), 2);
        assert_eq!(svg.matches("<rect class=\"ci\"").count(), 2);
        assert!(
            svg.contains("<title>http1.1, repetition 3: 23.000 ms</title>"),
            "{svg}"
        );
        assert!(
            svg.contains("<title>http1.0: median 42.000 ms</title>"),
            "{svg}"
        );
        // One axis for both, from 0 to 50 ms.
        assert!(
            svg.contains(">0</text>") && svg.contains(">50 ms</text>"),
            "{svg}"
        );
    }

    #[test]
    fn close_page_times_far_from_zero_get_a_zoomed_axis() {
        let runs: Vec<_> = (0..3)
            .map(|i| RunBuilder::http10(i, 502 + u64::from(i)).build())
            .chain((0..3).map(|i| RunBuilder::http11(i, 528 + u64::from(i)).build()))
            .collect();
        let svg = distribution(&summarize(&runs));
        assert!(!svg.contains(">0</text>"), "{svg}");
        assert!(
            svg.contains(">495 ms</text>") && svg.contains(">535 ms</text>"),
            "{svg}"
        );
    }
}
