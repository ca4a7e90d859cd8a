//! Connection lanes of one run: one lane per connection over time, on the report's shared time
//! axis. A lane shows the connection's life (opened → closed), its TCP and TLS handshakes, and
//! the requests it carried, each from its first request byte to its last response byte (send,
//! wait, head-of-line and receive in their phase colours, labelled with the request id).
//! Requests in flight at the same time on one connection (pipelining, HTTP/2 streams) are
//! stacked in tracks, so "6 connections" and "1 connection, 13 streams" are visibly different
//! shapes. Under a connection the link carried, its TCP strip (`tcp_lane`): the server's rounds,
//! congestion window and both sides' retransmissions on the same axis; on loopback nothing. It
//! owns the lanes' drawing only.

use super::axis::{TimeScale, PLOT_X, WIDTH};
use super::tcp_lane::{self, TcpLane};
use super::text::{esc, ms3, shorten};
use super::waterfall::{in_issue_order, PHASES};
use httplab_core::units::format_size;
use httplab_core::{CloseReason, ConnectionRecord, HandshakeKind, RequestRecord, RunRecord};
use std::fmt::Write as _;
use std::time::Duration;

const PAD: f64 = 5.0;

/// Height of one track in a lane of `tracks`: roomy with a request id inside each block for a
/// few, thinner for many (40 HTTP/2 streams), so a lane stays within a screen.
fn track_height(tracks: usize) -> f64 {
    match tracks {
        0..=16 => 13.0,
        17..=48 => 8.0,
        _ => 4.0,
    }
}
const TOP: f64 = 24.0;

/// Assigns each interval (start, end) a track: the first whose last interval ended by `start`.
/// Intervals must come sorted by start. Returns each interval's track and the track count.
pub(super) fn tracks(intervals: &[(Duration, Duration)]) -> (Vec<usize>, usize) {
    let mut ends: Vec<Duration> = Vec::new();
    let mut out = Vec::with_capacity(intervals.len());
    for &(start, end) in intervals {
        match ends.iter().position(|&e| e <= start) {
            Some(t) => {
                ends[t] = end;
                out.push(t);
            }
            None => {
                ends.push(end);
                out.push(ends.len() - 1);
            }
        }
    }
    let n = ends.len();
    (out, n)
}

/// The lanes' `<svg>`.
pub(super) fn lanes(run: &RunRecord, scale: &TimeScale) -> String {
    let mut connections: Vec<&ConnectionRecord> = run.connections.iter().collect();
    connections.sort_by_key(|c| (c.opened_at, c.id));
    let requests = in_issue_order(run);
    let carried: Vec<Vec<&RequestRecord>> = connections
        .iter()
        .map(|c| {
            let mut rs: Vec<&RequestRecord> = requests
                .iter()
                .copied()
                .filter(|r| r.connection == Some(c.id))
                .collect();
            rs.sort_by_key(|r| (r.sent_at(), r.id));
            rs
        })
        .collect();
    let packed: Vec<(Vec<usize>, usize)> = carried
        .iter()
        .map(|rs| {
            let spans: Vec<(Duration, Duration)> =
                rs.iter().map(|r| (r.sent_at(), r.ended_at())).collect();
            tracks(&spans)
        })
        .collect();
    let strips: Vec<Option<TcpLane>> = connections.iter().map(|c| TcpLane::of(run, c)).collect();
    let requests_height = |n: usize| n.max(1) as f64 * track_height(n) + 2.0 * PAD;
    let lane_height = |i: usize| {
        let strip = if strips[i].is_some() {
            tcp_lane::HEIGHT
        } else {
            0.0
        };
        requests_height(packed[i].1) + strip
    };
    let height: f64 = TOP + (0..connections.len()).map(lane_height).sum::<f64>() + 8.0;
    let mut out = format!(
        "<svg class=\"chart lanes-chart\" viewBox=\"0 0 {WIDTH} {height:.0}\" width=\"{WIDTH}\" \
         height=\"{height:.0}\" role=\"img\" aria-label=\"connections of {}, repetition {}\">",
        esc(&run.label()),
        run.repetition
    );
    out.push_str(&scale.grid(TOP, height - 8.0, false));
    let mut y = TOP;
    for (i, c) in connections.iter().enumerate() {
        let (assigned, n) = &packed[i];
        let geometry = Lane {
            y,
            height: lane_height(i),
            requests_height: requests_height(*n),
            track: track_height(*n),
            odd: i % 2 == 1,
            strip: strips[i].as_ref(),
        };
        lane(&mut out, run, c, &carried[i], assigned, &geometry, scale);
        y += geometry.height;
    }
    out.push_str("</svg>");
    out
}

/// Where a lane sits, how tall its tracks are, and the TCP strip under its requests.
struct Lane<'a> {
    y: f64,
    /// The whole lane, its strip included.
    height: f64,
    /// The requests' part: the connection's life.
    requests_height: f64,
    track: f64,
    odd: bool,
    strip: Option<&'a TcpLane<'a>>,
}

fn lane(
    out: &mut String,
    run: &RunRecord,
    c: &ConnectionRecord,
    carried: &[&RequestRecord],
    assigned: &[usize],
    geometry: &Lane,
    scale: &TimeScale,
) {
    let &Lane {
        y,
        height: lane_h,
        requests_height,
        track,
        odd,
        strip,
    } = geometry;
    let since = |at: Duration| at.saturating_sub(run.started_at);
    let _ = write!(
        out,
        "<g class=\"lane\" data-connection=\"{}\"><title>{}</title>\
         <rect class=\"hit{}\" x=\"0\" y=\"{y:.1}\" width=\"{WIDTH}\" height=\"{lane_h:.1}\"/>",
        c.id,
        esc(&lane_title(run, c, carried)),
        if odd { " odd" } else { "" }
    );
    let text_y = y + PAD + 13.0 / 2.0 + 4.0;
    let _ = write!(
        out,
        "<text class=\"lane-label\" x=\"8\" y=\"{text_y:.1}\">connection {}</text>\
         <text class=\"lane-sub\" x=\"{:.1}\" y=\"{text_y:.1}\">{}</text>",
        c.id,
        PLOT_X - 8.0,
        esc(&lane_summary(c, carried.len()))
    );
    // The connection's life, from TCP connect start to close (or the last byte it carried).
    let opened = since(c.opened_at);
    let last = carried
        .iter()
        .map(|r| r.ended_at())
        .max()
        .unwrap_or(c.opened_at);
    let closed = since(c.closed_at.unwrap_or(last).max(last));
    let _ = write!(
        out,
        "<rect class=\"life\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.2}\" height=\"{:.1}\" rx=\"3\"/>",
        scale.x(opened),
        y + 2.0,
        scale.w(opened, closed.saturating_sub(opened)),
        requests_height - 4.0
    );
    let bar_y = y + PAD;
    let mut at = opened;
    let tls = c.tls.as_ref().map(|t| t.handshake).unwrap_or_default();
    for (class, d) in [("connect", c.tcp_connect), ("ssl", tls)] {
        if !d.is_zero() {
            let _ = write!(
                out,
                "<rect class=\"ph-{class}\" x=\"{:.1}\" y=\"{bar_y:.1}\" width=\"{:.2}\" \
                 height=\"{:.1}\"><title>{} handshake {}</title></rect>",
                scale.x(at),
                scale.w(at, d),
                track.max(11.0) - 2.0,
                if class == "connect" { "TCP" } else { "TLS" },
                ms3(d)
            );
        }
        at += d;
    }
    for (r, slot) in carried.iter().zip(assigned) {
        request(out, run, r, bar_y + *slot as f64 * track, track, scale);
    }
    // Inside the lane's group, so hovering the strip highlights its lane.
    if let Some(strip) = strip {
        strip.draw(out, run, y + requests_height, scale);
    }
    out.push_str("</g>");
}

fn request(
    out: &mut String,
    run: &RunRecord,
    r: &RequestRecord,
    y: f64,
    track: f64,
    scale: &TimeScale,
) {
    let since = |at: Duration| at.saturating_sub(run.started_at);
    let p = &r.phases;
    let hol = p.hol.unwrap_or_default().min(p.wait);
    let start = since(r.sent_at());
    let _ = write!(
        out,
        "<g class=\"lane-req\" data-request-id=\"{}\"><title>#{} {} {}: sent at {}, first \
         byte at {}, done at {}{}</title>",
        r.id,
        r.id,
        esc(&r.method),
        esc(&r.path),
        ms3(start),
        ms3(start + p.send + p.wait),
        ms3(since(r.ended_at())),
        if r.error.is_some() { " (failed)" } else { "" }
    );
    let mut at = start;
    for (class, d) in [
        ("send", p.send),
        ("wait", p.wait - hol),
        ("hol", hol),
        ("receive", p.receive),
    ] {
        if !d.is_zero() {
            let _ = write!(
                out,
                "<rect class=\"ph-{class}\" x=\"{:.1}\" y=\"{y:.1}\" width=\"{:.2}\" \
                 height=\"{:.1}\"/>",
                scale.x(at),
                scale.w(at, d),
                (track - 2.0).max(1.0)
            );
        }
        at += d;
    }
    let width = scale.w(start, at - start);
    if width >= 14.0 && track >= 13.0 {
        let _ = write!(
            out,
            "<text class=\"req-id\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            scale.x(start) + width / 2.0,
            y + track / 2.0 + 2.5,
            r.id
        );
    }
    out.push_str("</g>");
}

fn lane_summary(c: &ConnectionRecord, requests: usize) -> String {
    let tls = match &c.tls {
        Some(t) => {
            let kind = match t.handshake_kind {
                HandshakeKind::Full => "full",
                HandshakeKind::FullWithHelloRetryRequest => "full+HRR",
                HandshakeKind::Resumed => "resumed",
                HandshakeKind::ZeroRtt => "0-RTT",
            };
            format!("{} {kind} · ", t.version.replace("TLSv", "TLS "))
        }
        None => String::new(),
    };
    format!(
        "{tls}{requests} request{}",
        if requests == 1 { "" } else { "s" }
    )
}

fn lane_title(run: &RunRecord, c: &ConnectionRecord, carried: &[&RequestRecord]) -> String {
    let since = |at: Duration| ms3(at.saturating_sub(run.started_at));
    let mut t = format!(
        "connection {}: {} → {}\nopened at {}, TCP connect {}",
        c.id,
        c.local_addr,
        c.remote_addr,
        since(c.opened_at),
        ms3(c.tcp_connect)
    );
    if let Some(tls) = &c.tls {
        let _ = write!(
            t,
            "\n{} {} ({:?} handshake, {}), ALPN {}",
            tls.version,
            tls.cipher,
            tls.handshake_kind,
            ms3(tls.handshake),
            tls.alpn.as_deref().unwrap_or("none")
        );
    }
    if let Some(rtt) = c.ping_rtt {
        let _ = write!(t, "\nHTTP/2 PING round trip {}", ms3(rtt));
    }
    let closed = match (&c.closed_at, &c.close_reason) {
        (_, CloseReason::Open) | (None, _) => "still open".to_string(),
        (Some(at), reason) => format!("closed at {} ({})", since(*at), close_reason(reason)),
    };
    let ids: Vec<String> = carried.iter().map(|r| r.id.to_string()).collect();
    let _ = write!(
        t,
        "\n{closed}\n{} sent, {} received\nrequests: {}",
        format_size(c.bytes_sent),
        format_size(c.bytes_received),
        shorten(&ids.join(", "), 200)
    );
    t
}

fn close_reason(reason: &CloseReason) -> String {
    match reason {
        CloseReason::AfterResponse => "after its response".into(),
        CloseReason::ServerClosed => "the server closed it".into(),
        CloseReason::WorkloadDone => "workload done".into(),
        CloseReason::Error(e) => format!("error: {e}"),
        CloseReason::Open => "still open".into(),
    }
}

/// The phases a lane draws, for the legend: the handshakes and the request's own phases.
pub(super) fn legend_phases() -> impl Iterator<Item = &'static (&'static str, &'static str)> {
    PHASES.iter().filter(|(c, _)| *c != "blocked")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::RunBuilder;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn overlapping_requests_stack_and_sequential_ones_share_a_track() {
        // Back to back on one connection: one track.
        assert_eq!(
            tracks(&[(ms(0), ms(5)), (ms(5), ms(9)), (ms(9), ms(12))]),
            (vec![0, 0, 0], 1)
        );
        // Three streams at once, then one after the first ended.
        assert_eq!(
            tracks(&[
                (ms(0), ms(5)),
                (ms(1), ms(8)),
                (ms(2), ms(9)),
                (ms(6), ms(10))
            ]),
            (vec![0, 1, 2, 0], 3)
        );
        assert_eq!(tracks(&[]), (vec![], 0));
    }

    #[test]
    fn one_lane_per_connection_with_its_requests() {
        let run = RunBuilder::http11(0, 23).build();
        let svg = lanes(&run, &TimeScale::covering(ms(10)));
        assert_eq!(svg.matches("<g class=\"lane\"").count(), 2);
        assert_eq!(svg.matches("<g class=\"lane-req\"").count(), 4);
        assert!(svg.contains("TLS 1.3 full · 2 requests"), "{svg}");
        assert!(
            svg.contains("<title>TLS handshake 2.250 ms</title>"),
            "{svg}"
        );
        // h2: one connection, every request on it; all in flight together → 4 tracks.
        let run = RunBuilder::h2(0, 15).build();
        let svg = lanes(&run, &TimeScale::covering(ms(10)));
        assert_eq!(svg.matches("<g class=\"lane\"").count(), 1);
        assert!(svg.contains("4 requests"), "{svg}");
    }
}
