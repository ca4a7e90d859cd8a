//! The TCP strip under a connection's lane: what the link saw of that connection
//! (`RunRecord::wire`) and what the server's socket said of its congestion window
//! (`ServerConnectionRecord::tcp_info`), on the lane's time axis and scale. It draws the
//! server's flights (rounds of new data) as bars whose height is their segments, each side's
//! retransmissions as marks shaped by kind (fast, timeout, tail loss probe), hollow when
//! spurious, with a thin line back to the dropped original, and the server's congestion window
//! at each reading as a dash on the rounds' vertical scale, so a flight that fills its window is
//! visibly as tall as the dash. Rounds and retransmissions, never packets: a lossy page stays a
//! few hundred marks.
//!
//! It owns this drawing and its legend only. It finds a client connection's wire connection and
//! server socket by address (the same join `causes` and `server_side` make) and computes
//! nothing the records do not hold. On loopback (no wire trace) it draws and says nothing.

use super::axis::{TimeScale, PLOT_X, WIDTH};
use super::text::{esc, ms3};
use httplab_core::tcp_info::INFINITE_SSTHRESH;
use httplab_core::tcp_trace::{
    RetransmissionKind, WireConnection, WireDirection, WireRetransmission,
};
use httplab_core::units::format_size;
use httplab_core::{ConnectionRecord, RunRecord, ServerConnectionRecord, TcpInfo};
use std::fmt::Write as _;
use std::time::Duration;

/// Height of the strip under a lane.
pub(super) const HEIGHT: f64 = 42.0;
/// The row above the rounds' row, for the congestion windows' numbers.
const TOP_PAD: f64 = 10.0;
/// Height of the rounds' row: a bar's full height.
const ROUNDS_H: f64 = 20.0;
/// The vertical scale of rounds and congestion windows, in pixels per segment.
const SEGMENT_PX: f64 = 0.5;
/// Segments at which a bar or a window dash reaches the row's full height.
const FULL_SEGMENTS: u64 = (ROUNDS_H / SEGMENT_PX) as u64;
/// Between the rounds' baseline and the retransmissions' marks.
const MARK_GAP: f64 = 2.5;
/// Half the size of a retransmission mark.
const MARK_R: f64 = 3.5;
/// A bar's least width, so a round sent in a burst stays visible.
const MIN_BAR_W: f64 = 1.5;
/// Width of a digit in the strip's 8 px labels, for keeping labels apart.
const DIGIT_W: f64 = 5.0;

/// A client connection's account on the wire and its server socket.
pub(super) struct TcpLane<'a> {
    wire: &'a WireConnection,
    server: Option<&'a ServerConnectionRecord>,
}

impl<'a> TcpLane<'a> {
    /// The wire connection whose client address is `c`'s local address (of several, the one
    /// whose SYN came nearest `c`'s connect) and the server socket whose peer it is; `None`
    /// when the run has no wire trace or the trace does not hold the connection.
    pub(super) fn of(run: &'a RunRecord, c: &ConnectionRecord) -> Option<Self> {
        let wire = run
            .wire
            .as_ref()?
            .connections
            .iter()
            .filter(|w| w.client == c.local_addr)
            .min_by_key(|w| {
                w.handshake
                    .syn_at
                    .unwrap_or(w.first_packet_at)
                    .abs_diff(c.opened_at)
            })?;
        let server = run
            .server_connections
            .iter()
            .find(|s| s.peer_addr == c.local_addr);
        Some(Self { wire, server })
    }

    /// Draws the strip from `y` down `HEIGHT`.
    pub(super) fn draw(&self, out: &mut String, run: &RunRecord, y: f64, scale: &TimeScale) {
        let since = |at: Duration| at.saturating_sub(run.started_at);
        let w = self.wire;
        let (down, up) = (&w.server_to_client, &w.client_to_server);
        let baseline = y + TOP_PAD + ROUNDS_H;
        let _ = write!(
            out,
            "<g class=\"tcp\"><title>{}</title><rect class=\"tcp-bg\" x=\"0\" y=\"{y:.1}\" \
             width=\"{WIDTH}\" height=\"{HEIGHT:.1}\"/>",
            esc(&self.title(run))
        );
        let _ = write!(
            out,
            "<text class=\"lane-sub\" x=\"{x:.1}\" y=\"{:.1}\">server: {}, {} resent</text>",
            y + 17.0,
            counted(down.round_count, "round"),
            down.retransmitted_segments,
            x = PLOT_X - 8.0,
        );
        let rtt = w
            .handshake
            .rtt
            .map(|d| format!(" · handshake {}", ms3(d)))
            .unwrap_or_default();
        let _ = write!(
            out,
            "<text class=\"lane-sub\" x=\"{x:.1}\" y=\"{:.1}\">client: {} resent{rtt}</text>",
            y + 31.0,
            up.retransmitted_segments,
            x = PLOT_X - 8.0,
        );
        // The rounds' baseline, over the connection's packets.
        let (first, last) = (since(w.first_packet_at), since(w.last_packet_at));
        let _ = write!(
            out,
            "<line class=\"tcp-base\" x1=\"{:.1}\" y1=\"{baseline:.1}\" x2=\"{:.1}\" \
             y2=\"{baseline:.1}\"/>",
            scale.x(first),
            scale.x(last)
        );
        let mut labels = Labels::default();
        for r in &down.rounds {
            let (a, b) = (since(r.first_sent_at), since(r.last_sent_at));
            let x = scale.x(a);
            let width = scale.w(a, b.saturating_sub(a)).max(MIN_BAR_W);
            let h = height_of(r.segments);
            let _ = write!(
                out,
                "<rect class=\"round\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{width:.2}\" \
                 height=\"{h:.1}\"><title>{}</title></rect>",
                baseline - h,
                esc(&format!(
                    "round {}, server → client: {}, {} (offsets {}–{}), sent {}",
                    r.index,
                    counted(r.segments, "segment"),
                    format_size(r.bytes),
                    r.start,
                    r.end,
                    if a == b {
                        format!("at {}", ms3(a))
                    } else {
                        format!("{}–{}", ms3(a), ms3(b))
                    }
                ))
            );
            labels.put(out, "round-n", x + width + 1.0, baseline - 1.0, r.segments);
        }
        let mut labels = Labels::default();
        for (reading, info) in self.readings() {
            let Some(cwnd) = info.snd_cwnd else {
                continue;
            };
            let x = scale.x(since(info.at));
            let cy = baseline - height_of(u64::from(cwnd));
            let _ = write!(
                out,
                "<path class=\"cwnd\" d=\"M{:.1},{cy:.1}h6\"><title>{}</title></path>",
                x - 3.0,
                esc(&cwnd_title(reading, info, since(info.at)))
            );
            // The number above the rounds' row, over its dash.
            labels.put(out, "cwnd-n", x - 3.0, y + TOP_PAD - 2.0, u64::from(cwnd));
        }
        let cy = baseline + MARK_GAP + MARK_R;
        for (d, from_server) in [(down, true), (up, false)] {
            for rx in &d.retransmissions {
                let x = scale.x(since(rx.at));
                let _ = write!(
                    out,
                    "<g class=\"rx {}{}{}\"><title>{}</title>",
                    kind_class(rx.kind),
                    if from_server { "" } else { " up" },
                    if rx.original_dropped { "" } else { " spurious" },
                    esc(&retransmission_title(
                        rx,
                        from_server,
                        since(rx.at),
                        since(rx.original_at)
                    ))
                );
                if rx.original_dropped {
                    let _ = write!(
                        out,
                        "<line class=\"rx-wait\" x1=\"{:.1}\" y1=\"{cy:.1}\" x2=\"{x:.1}\" \
                         y2=\"{cy:.1}\"/>",
                        scale.x(since(rx.original_at))
                    );
                }
                out.push_str(&mark(rx.kind, x, cy));
                out.push_str("</g>");
            }
        }
        out.push_str("</g>");
    }

    /// The server socket's readings: at the end of each response, then at close (or at the
    /// run's end, for a socket still open then).
    fn readings(&self) -> impl Iterator<Item = (Reading, &'a TcpInfo)> + 'a {
        let log = self.server.map(|s| &s.tcp_info);
        log.into_iter().flat_map(|l| {
            l.responses
                .iter()
                .map(|r| (Reading::Response(r.request_id), &r.info))
                .chain(l.at_close.iter().map(|i| (Reading::Close, i)))
                .chain(l.at_end.iter().map(|i| (Reading::End, i)))
        })
    }

    /// The strip's hover text: the connection as the wire saw it.
    fn title(&self, run: &RunRecord) -> String {
        let since = |at: Duration| ms3(at.saturating_sub(run.started_at));
        let w = self.wire;
        let mut t = format!("TCP on the wire: {} → {}", w.client, w.server);
        let h = &w.handshake;
        let steps: Vec<String> = [
            ("SYN", h.syn_at),
            ("SYN-ACK", h.syn_ack_at),
            ("ACK", h.ack_at),
        ]
        .iter()
        .filter_map(|(name, at)| at.map(|at| format!("{name} at {}", since(at))))
        .collect();
        if !steps.is_empty() {
            let _ = write!(t, "\nhandshake: {}", steps.join(", "));
            if let Some(rtt) = h.rtt {
                let _ = write!(t, " (round trip {})", ms3(rtt));
            }
        }
        let _ = write!(
            t,
            "\nserver → client: {}\nclient → server: {}",
            direction_line(&w.server_to_client),
            direction_line(&w.client_to_server)
        );
        for note in &w.notes {
            let _ = write!(t, "\nnote: {note}");
        }
        t
    }
}

/// When a server socket's `TCP_INFO` was read.
#[derive(Clone, Copy)]
enum Reading {
    /// At the end of the response to this request (`None`: a request without an id).
    Response(Option<u32>),
    Close,
    /// At the run's end, the socket still open.
    End,
}

/// Whether any connection of `run` gets a strip.
pub(super) fn any(run: &RunRecord) -> bool {
    run.connections
        .iter()
        .any(|c| TcpLane::of(run, c).is_some())
}

/// A bar's or a window dash's height for `segments`, at most the rounds' row.
fn height_of(segments: u64) -> f64 {
    (segments.min(FULL_SEGMENTS) as f64 * SEGMENT_PX).max(MIN_BAR_W)
}

/// Small numbers beside marks, each written only where it does not overlap the one before.
#[derive(Default)]
struct Labels {
    free_from: f64,
}

impl Labels {
    fn put(&mut self, out: &mut String, class: &str, x: f64, y: f64, n: u64) {
        if x < self.free_from {
            return;
        }
        let text = n.to_string();
        let _ = write!(
            out,
            "<text class=\"{class}\" x=\"{x:.1}\" y=\"{y:.1}\">{text}</text>"
        );
        self.free_from = x + text.len() as f64 * DIGIT_W + 3.0;
    }
}

fn counted(n: u64, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

fn kind_class(kind: RetransmissionKind) -> &'static str {
    match kind {
        RetransmissionKind::Fast => "fast",
        RetransmissionKind::Rto => "rto",
        RetransmissionKind::TailLossProbe => "tlp",
    }
}

fn kind_words(kind: RetransmissionKind) -> &'static str {
    match kind {
        RetransmissionKind::Fast => "fast retransmission",
        RetransmissionKind::Rto => "retransmission timeout",
        RetransmissionKind::TailLossProbe => "tail loss probe",
    }
}

/// A retransmission's mark centred on (`x`, `y`): a triangle for fast, a square for a timeout,
/// a circle for a tail loss probe.
fn mark(kind: RetransmissionKind, x: f64, y: f64) -> String {
    let r = MARK_R;
    match kind {
        RetransmissionKind::Fast => format!(
            "<path d=\"M{:.1},{:.1}h{:.1}l{:.1},{:.1}z\"/>",
            x - r,
            y - r + 0.5,
            2.0 * r,
            -r,
            2.0 * r - 0.5
        ),
        RetransmissionKind::Rto => format!(
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\"/>",
            x - r + 0.5,
            y - r + 0.5,
            2.0 * r - 1.0,
            2.0 * r - 1.0
        ),
        RetransmissionKind::TailLossProbe => {
            format!("<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{:.1}\"/>", r - 0.5)
        }
    }
}

/// A retransmission's hover text; `at` and `original_at` are its stamps from the page-load
/// start.
fn retransmission_title(
    rx: &WireRetransmission,
    from_server: bool,
    at: Duration,
    original_at: Duration,
) -> String {
    let what = if rx.syn {
        if from_server { "SYN-ACK" } else { "SYN" }.to_string()
    } else if rx.length == 0 {
        "FIN".to_string()
    } else {
        format!(
            "{} at offset {}{}",
            format_size(rx.length),
            rx.offset,
            if rx.fin { " with FIN" } else { "" }
        )
    };
    format!(
        "{}, {}: {what}, sent again at {}; first sent at {}, {} before; {}",
        kind_words(rx.kind),
        if from_server {
            "server → client"
        } else {
            "client → server"
        },
        ms3(at),
        ms3(original_at),
        ms3(at.saturating_sub(original_at)),
        if rx.original_dropped {
            "the link had dropped it"
        } else {
            "spurious: it had arrived"
        }
    )
}

/// A congestion-window reading's hover text; `at` is its time from the page-load start.
fn cwnd_title(reading: Reading, info: &TcpInfo, at: Duration) -> String {
    let mut t = format!(
        "server's congestion window: {} at {}, ",
        counted(u64::from(info.snd_cwnd.unwrap_or_default()), "segment"),
        ms3(at)
    );
    match reading {
        Reading::Response(Some(id)) => {
            let _ = write!(t, "end of response #{id}");
        }
        Reading::Response(None) => t.push_str("end of a response"),
        Reading::Close => t.push_str("at close"),
        Reading::End => t.push_str("at the run's end, still open"),
    }
    match info.snd_ssthresh {
        Some(INFINITE_SSTHRESH) => t.push_str("; first slow start (no threshold yet)"),
        Some(s) => {
            let _ = write!(t, "; slow-start threshold {s}");
        }
        None => {}
    }
    if let Some(state) = &info.ca_state {
        let _ = write!(t, "; state {state}");
    }
    if let Some(n) = info.total_retrans {
        let _ = write!(
            t,
            "; {} retransmitted so far",
            counted(u64::from(n), "segment")
        );
    }
    t
}

fn direction_line(d: &WireDirection) -> String {
    let mut t = format!(
        "{} of new data ({}) in {}",
        counted(d.new_data_segments, "segment"),
        format_size(d.new_payload_bytes),
        counted(d.round_count, "round")
    );
    if d.retransmitted_segments > 0 {
        let _ = write!(
            t,
            "; {} sent again ({} fast, {} timeout, {} tail loss probe; {} spurious)",
            d.retransmitted_segments,
            d.fast_retransmits,
            d.rto_retransmits,
            d.tail_loss_probes,
            d.spurious_retransmits
        );
    }
    let _ = write!(
        t,
        "; {} dropped by the link; at most {} in flight",
        d.dropped,
        format_size(d.max_in_flight)
    );
    if d.zero_window_count > 0 {
        let _ = write!(
            t,
            "; receive window zero {}× for {}",
            d.zero_window_count,
            ms3(d.zero_window)
        );
    }
    if let Some(full) = d.receive_window_full.filter(|f| !f.is_zero()) {
        let _ = write!(t, "; receive window full for {}", ms3(full));
    }
    t
}

/// The strip's legend, for the page to place under the lanes' own when any lane has a strip:
/// a sentence, then each mark drawn as in the strip with what it means.
pub(super) fn legend() -> String {
    let rx = |class: &str, kind: RetransmissionKind| {
        format!("<g class=\"rx {class}\">{}</g>", mark(kind, 11.0, 7.0))
    };
    let items: [(String, String); 8] = [
        (
            "<rect class=\"round\" x=\"4\" y=\"8\" width=\"4\" height=\"6\"/>\
             <rect class=\"round\" x=\"13\" y=\"2\" width=\"4\" height=\"12\"/>"
                .to_string(),
            format!("server's round of new data (height: segments, full at {FULL_SEGMENTS})"),
        ),
        (
            "<path class=\"cwnd\" d=\"M6,5h10\"/>".to_string(),
            "server's congestion window at a response's end (same scale)".to_string(),
        ),
        (
            rx("", RetransmissionKind::Fast),
            "fast retransmission".to_string(),
        ),
        (
            rx("", RetransmissionKind::Rto),
            "retransmission timeout".to_string(),
        ),
        (
            rx("", RetransmissionKind::TailLossProbe),
            "tail loss probe".to_string(),
        ),
        (
            rx("up", RetransmissionKind::Rto),
            "sent again by the client (red: by the server)".to_string(),
        ),
        (
            rx("spurious", RetransmissionKind::TailLossProbe),
            "hollow: spurious (the original had arrived)".to_string(),
        ),
        (
            format!(
                "<g class=\"rx\"><line class=\"rx-wait\" x1=\"1\" y1=\"7\" x2=\"15\" \
                 y2=\"7\"/>{}</g>",
                mark(RetransmissionKind::Fast, 15.0, 7.0)
            ),
            "the wait since the dropped original".to_string(),
        ),
    ];
    let mut h = String::from(
        "<p class=\"note\">Under each lane, TCP as the link saw it: the server's rounds of new \
         data (one flight per round trip), its congestion window as its socket reported it, and \
         each side's retransmissions. Hover a mark for its numbers.</p>\n\
         <ul class=\"legend tcp-legend\">",
    );
    for (body, label) in items {
        let _ = write!(
            h,
            "<li><svg class=\"sw-mark\" width=\"22\" height=\"14\" viewBox=\"0 0 22 14\" \
             aria-hidden=\"true\">{body}</svg>{}</li>",
            esc(&label)
        );
    }
    h.push_str("</ul>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::super::lanes::lanes;
    use super::*;
    use crate::fixtures::RunBuilder;
    use httplab_core::tcp_trace::{WireHandshake, WireOutcome, WireRound, WireTrace};
    use httplab_core::{ResponseTcpInfo, TcpInfoLog};

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    fn us(v: u64) -> Duration {
        Duration::from_micros(v)
    }

    /// A scale of 100 ms over the plot's 790 px: 7.9 px per ms from x = 250.
    fn scale() -> TimeScale {
        let s = TimeScale::covering(ms(100));
        assert_eq!(s.span, ms(100));
        s
    }

    fn round(index: u64, first: Duration, last: Duration, segments: u64) -> WireRound {
        WireRound {
            index,
            first_sent_at: first,
            last_sent_at: last,
            start: 0,
            end: segments * 1_448,
            segments,
            bytes: segments * 1_448,
        }
    }

    fn retransmission(
        kind: RetransmissionKind,
        at: Duration,
        original_at: Duration,
        original_dropped: bool,
    ) -> WireRetransmission {
        WireRetransmission {
            at,
            original_at,
            offset: 14_480,
            length: 1_448,
            syn: false,
            fin: false,
            original_dropped,
            kind,
        }
    }

    fn reading(at: Duration, cwnd: Option<u32>) -> TcpInfo {
        TcpInfo {
            at,
            snd_cwnd: cwnd,
            ..TcpInfo::default()
        }
    }

    /// The fixture's http1.1 run (started at 1 ms, two connections) with connection 0 on the
    /// wire: three rounds, three retransmissions of the server's and a SYN sent again, and
    /// the server socket's congestion window at two responses' ends and at close.
    fn linked_run() -> RunRecord {
        let mut run = RunBuilder::http11(0, 23).build();
        let client = run.connections[0].local_addr.clone();
        let wire = WireConnection {
            client: client.clone(),
            server: "10.0.0.2:8443".into(),
            first_packet_at: ms(1),
            last_packet_at: ms(81),
            handshake: WireHandshake {
                syn_at: Some(ms(1)),
                syn_ack_at: Some(ms(6)),
                ack_at: Some(ms(11)),
                rtt: Some(ms(10)),
                ..WireHandshake::default()
            },
            outcome: WireOutcome::Complete {
                both_ways: true,
                at: ms(81),
            },
            notes: vec!["<b>odd</b> & so on".into()],
            client_to_server: WireDirection {
                retransmitted_segments: 1,
                rto_retransmits: 1,
                retransmissions: vec![WireRetransmission {
                    syn: true,
                    length: 0,
                    offset: 0,
                    ..retransmission(RetransmissionKind::Rto, ms(3), ms(1), true)
                }],
                ..WireDirection::default()
            },
            server_to_client: WireDirection {
                round_count: 3,
                rounds: vec![
                    round(1, ms(21), us(21_500), 10),
                    round(2, ms(41), ms(41), 20),
                    round(3, ms(61), ms(62), 90),
                ],
                retransmitted_segments: 3,
                fast_retransmits: 1,
                rto_retransmits: 1,
                tail_loss_probes: 1,
                spurious_retransmits: 1,
                retransmissions: vec![
                    retransmission(RetransmissionKind::Fast, ms(51), ms(31), true),
                    retransmission(RetransmissionKind::Rto, ms(71), ms(61), false),
                    retransmission(RetransmissionKind::TailLossProbe, ms(76), ms(62), true),
                ],
                ..WireDirection::default()
            },
        };
        run.wire = Some(WireTrace {
            connections: vec![wire],
            observations: 400,
            skipped: 0,
            truncated: false,
        });
        run.server_connections = vec![ServerConnectionRecord {
            connection: 0,
            peer_addr: client,
            accepted_at: ms(6),
            first_request_at: Some(ms(12)),
            requests: 2,
            closed_at: Some(ms(82)),
            tcp_info: TcpInfoLog {
                responses: vec![
                    ResponseTcpInfo {
                        request_id: Some(0),
                        stream_received: None,
                        stream_sent: None,
                        info: TcpInfo {
                            snd_ssthresh: Some(INFINITE_SSTHRESH),
                            ..reading(ms(31), Some(10))
                        },
                    },
                    ResponseTcpInfo {
                        request_id: Some(2),
                        stream_received: None,
                        stream_sent: None,
                        info: TcpInfo {
                            snd_ssthresh: Some(7),
                            ca_state: Some("recovery".into()),
                            total_retrans: Some(2),
                            ..reading(ms(66), Some(14))
                        },
                    },
                    // A kernel that does not report the window: no mark.
                    ResponseTcpInfo {
                        request_id: None,
                        stream_received: None,
                        stream_sent: None,
                        info: reading(ms(70), None),
                    },
                ],
                at_close: Some(reading(ms(81), Some(60))),
                at_end: None,
                error: None,
            },
            quic: None,
        }];
        run
    }

    /// The value of attribute `name` on every element that starts with `open`.
    fn attrs(svg: &str, open: &str, name: &str) -> Vec<f64> {
        svg.split(open)
            .skip(1)
            .map(|el| {
                let el = &el[..el.find('>').expect("a closed tag")];
                let key = format!(" {name}=\"");
                let at = el.find(&key).expect("the attribute") + key.len();
                let v = &el[at..];
                v[..v.find('"').expect("a quoted value")]
                    .parse()
                    .expect("a number")
            })
            .collect()
    }

    #[test]
    fn rounds_windows_and_retransmissions_sit_at_their_times() {
        let run = linked_run();
        let svg = lanes(&run, &scale());
        // One strip: connection 1 has no wire connection.
        assert_eq!(svg.matches("<g class=\"tcp\">").count(), 1, "{svg}");
        let top = attrs(&svg, "<rect class=\"tcp-bg\"", "y")[0];
        let baseline = top + TOP_PAD + ROUNDS_H;

        // Rounds at their first segment's stamp (since the run's start at 1 ms), as wide as
        // the flight took (at least 1.5 px), as tall as their segments at 0.5 px each, up to
        // the row's 20 px.
        assert_eq!(
            attrs(&svg, "<rect class=\"round\"", "x"),
            [408.0, 566.0, 724.0]
        );
        assert_eq!(
            attrs(&svg, "<rect class=\"round\"", "width"),
            [3.95, 1.5, 7.9]
        );
        assert_eq!(
            attrs(&svg, "<rect class=\"round\"", "height"),
            [5.0, 10.0, 20.0]
        );
        assert_eq!(
            attrs(&svg, "<rect class=\"round\"", "y"),
            [baseline - 5.0, baseline - 10.0, baseline - 20.0]
        );
        // Their segment counts beside each bar, and the windows' beside each dash.
        let texts = |class: &str| -> Vec<String> {
            svg.split(&format!("<text class=\"{class}\""))
                .skip(1)
                .map(|t| t[t.find('>').map_or(0, |i| i + 1)..t.find('<').unwrap_or(0)].to_string())
                .collect()
        };
        assert_eq!(texts("round-n"), ["10", "20", "90"]);
        assert_eq!(texts("cwnd-n"), ["10", "14", "60"]);
        assert!(
            svg.contains("<title>round 2, server → client: 20 segments, 29.0 kB (offsets 0–28960), sent at 40.000 ms</title>"),
            "{svg}"
        );
        assert!(svg.contains("(offsets 0–14480), sent 20.000 ms–20.500 ms</title>"));

        // The congestion window: a dash per reading that has one, centred on its time, on the
        // rounds' scale (60 segments reach the top).
        let dashes: Vec<&str> = svg
            .split("<path class=\"cwnd\" d=\"M")
            .skip(1)
            .map(|p| &p[..p.find('"').unwrap_or(0)])
            .collect();
        assert_eq!(
            dashes,
            [
                format!("484.0,{:.1}h6", baseline - 5.0),
                format!("760.5,{:.1}h6", baseline - 7.0),
                format!("879.0,{:.1}h6", baseline - 20.0),
            ]
        );
        assert!(svg.contains(
            "server&#39;s congestion window: 14 segments at 65.000 ms, end of response #2; \
             slow-start threshold 7; state recovery; 2 segments retransmitted so far"
        ));
        assert!(
            svg.contains("at 30.000 ms, end of response #0; first slow start (no threshold yet)")
        );
        assert!(svg.contains("60 segments at 80.000 ms, at close"));

        // Retransmissions: one mark each, by kind, hollow when spurious, client's apart.
        assert_eq!(svg.matches("<g class=\"rx ").count(), 4);
        assert_eq!(svg.matches("<g class=\"rx fast\">").count(), 1);
        assert_eq!(svg.matches("<g class=\"rx rto spurious\">").count(), 1);
        assert_eq!(svg.matches("<g class=\"rx tlp\">").count(), 1);
        assert_eq!(svg.matches("<g class=\"rx rto up\">").count(), 1);
        let cy = baseline + MARK_GAP + MARK_R;
        // The fast retransmission's triangle centred at 50 ms, its wait line from 30 ms.
        assert!(
            svg.contains(&format!(
                "<line class=\"rx-wait\" x1=\"487.0\" y1=\"{cy:.1}\" x2=\"645.0\" y2=\"{cy:.1}\"/>\
                 <path d=\"M641.5,{:.1}h7.0l-3.5,6.5z\"/>",
                cy - 3.0
            )),
            "{svg}"
        );
        // The timeout at 70 ms was spurious: a square, no wait line.
        assert_eq!(svg.matches("class=\"rx-wait\"").count(), 3);
        assert!(svg.contains(&format!(
            "spurious: it had arrived</title><rect x=\"800.0\" y=\"{:.1}\" width=\"6.0\"",
            cy - 3.0
        )));
        // The probe at 75 ms.
        assert!(svg.contains(&format!("<circle cx=\"842.5\" cy=\"{cy:.1}\" r=\"3.0\"/>")));
        assert!(svg.contains(
            "fast retransmission, server → client: 1.4 kB at offset 14480, sent again at \
             50.000 ms; first sent at 30.000 ms, 20.000 ms before; the link had dropped it"
        ));
        assert!(
            svg.contains("retransmission timeout, client → server: SYN, sent again at 2.000 ms")
        );

        // The strip's own hover text and labels, escaped.
        assert!(svg.contains("handshake: SYN at 0.000 ms, SYN-ACK at 5.000 ms, ACK at 10.000 ms (round trip 10.000 ms)"));
        assert!(svg.contains("3 sent again (1 fast, 1 timeout, 1 tail loss probe; 1 spurious)"));
        assert!(
            svg.contains("note: &lt;b&gt;odd&lt;/b&gt; &amp; so on"),
            "{svg}"
        );
        assert!(!svg.contains("<b>"));
        assert!(svg.contains(">server: 3 rounds, 3 resent</text>"));
        assert!(svg.contains(">client: 1 resent · handshake 10.000 ms</text>"));
    }

    #[test]
    fn without_the_wire_nothing_is_added() {
        let plain = RunBuilder::http11(0, 23).build();
        let before = lanes(&plain, &scale());
        assert!(
            !before.contains("tcp") && !before.contains("class=\"rx"),
            "{before}"
        );
        // A trace that holds none of the run's connections draws nothing either.
        let mut elsewhere = linked_run();
        if let Some(w) = elsewhere.wire.as_mut() {
            w.connections[0].client = "10.0.0.9:1".into();
        }
        elsewhere.server_connections.clear();
        assert_eq!(lanes(&elsewhere, &scale()), before);
        assert!(!any(&elsewhere) && !any(&plain));
        // With it, the same lanes, one strip taller.
        let linked = lanes(&linked_run(), &scale());
        let height = |svg: &str| attrs(svg, "<svg class=\"chart lanes-chart\"", "height")[0];
        assert_eq!(height(&linked), height(&before) + HEIGHT);
        assert_eq!(
            linked.matches("<g class=\"lane-req\"").count(),
            before.matches("<g class=\"lane-req\"").count()
        );
    }

    #[test]
    fn labels_keep_apart_and_marks_are_per_round_not_per_packet() {
        let mut run = linked_run();
        if let Some(w) = run.wire.as_mut() {
            // 200 rounds of 12 segments, one every 0.25 ms (2 px): every round drawn, labels
            // only where they fit (a two-digit label and its gap take 13 px).
            let rounds = &mut w.connections[0].server_to_client.rounds;
            *rounds = (0..200)
                .map(|i| {
                    let at = ms(21) + us(250 * i);
                    round(i + 1, at, at, 12)
                })
                .collect();
        }
        let svg = lanes(&run, &scale());
        assert_eq!(svg.matches("<rect class=\"round\"").count(), 200);
        let labels = svg.matches("class=\"round-n\"").count();
        assert!((25..=30).contains(&labels), "{labels}");
    }

    #[test]
    fn the_page_explains_the_strip_only_when_a_lane_has_one() {
        use crate::analysis::Analysis;
        use crate::fixtures::scenario;
        use crate::Environment;
        let page = |runs: &[RunRecord]| {
            crate::html::html(&Analysis::new(&scenario(), runs, &Environment::default()))
        };
        let plain = page(&[RunBuilder::http11(0, 23).build()]);
        assert!(!plain.contains("tcp-legend") && !plain.contains("as the link saw it"));
        let linked = page(&[linked_run()]);
        assert_eq!(
            linked.matches("<ul class=\"legend tcp-legend\">").count(),
            1
        );
        assert_eq!(linked.matches("<g class=\"tcp\">").count(), 1);
        assert!(linked.contains("full at 40"), "{linked}");
    }
}
