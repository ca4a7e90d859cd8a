//! The analytical model of a page load (DESIGN.md): what an emulated, loss-free link with ample
//! bandwidth must reproduce, so the lab can check its own measurements and the report can set
//! each protocol's measured page time beside the time the model predicts.
//!
//! R = RTT, T = server think time, H = handshake round trips before the first request (1 for
//! TCP, 2 for TCP + TLS 1.3 or a resumed TLS 1.2, 3 for TCP + a full TLS 1.2 handshake), and
//! F = the slow-start flights a response needs: the first flight is the initial window of 10
//! segments (RFC 6928) and each acknowledged segment lets one more go, so the window doubles
//! per round trip. The model walks the workload in issue order, one connection slot at a time,
//! like the clients do: HTTP/1.0 pays H and a cold window per request, HTTP/1.1 pays H once per
//! connection and keeps each connection's window, pipelining and HTTP/2 pay H once and send
//! everything in flights of one window. It deliberately ignores what the emulator is told to
//! leave out (loss, a bandwidth limit, jitter) and the client's and server's CPU time; it is
//! pure arithmetic on literal inputs, with no clock and no I/O.
//!
//! Its slow start is a loss-based congestion control's (cubic, the lab's default, or reno):
//! the window grows by a segment per acknowledged segment until a loss. BBR paces its sending
//! at the bottleneck rate it estimates instead of bursting a window per round trip, so under
//! bbr the model does not apply, and it says so rather than predicting.

use crate::protocol::Protocol;
use crate::record::RunRecord;
use crate::scenario::{Scenario, TlsVersion};
use std::time::Duration;

/// Payload bytes per TCP segment on a 1500-byte MTU with TCP timestamps (Linux's default):
/// 1500 − 20 (IPv4) − 20 (TCP) − 12 (timestamp option).
pub const MSS: u64 = 1448;

/// RFC 6928's initial congestion window, in segments.
pub const INITIAL_WINDOW_SEGMENTS: u64 = 10;

/// The TCP congestion controls whose slow start the model is: loss-based, from the initial
/// window, one more segment per segment acknowledged.
pub const SLOW_START_CONGESTION_CONTROLS: [&str; 2] = ["cubic", "reno"];

/// Whether the model's slow start describes TCP congestion control `name`.
pub fn follows_slow_start(name: &str) -> bool {
    SLOW_START_CONGESTION_CONTROLS.contains(&name)
}

/// What one page load looks like to the model.
#[derive(Debug, Clone, PartialEq)]
pub struct PageModel {
    pub rtt: Duration,
    /// The page's requests, in issue order.
    pub objects: Vec<ModelObject>,
    /// Connections per host (HTTP/1.0 and HTTP/1.1).
    pub connections: u32,
    /// `None`: cleartext.
    pub tls: Option<TlsVersion>,
    /// Whether a pipelining server runs handlers one at a time (`serial`) rather than at once.
    pub serial_server: bool,
    /// SETTINGS_MAX_CONCURRENT_STREAMS of the server (HTTP/2).
    pub max_concurrent_streams: u32,
}

impl PageModel {
    /// The model of the page `run` loaded: the scenario's RTT, think times, connection cap,
    /// TLS version and stream cap, and each object's response bytes (head and body) as the run
    /// measured them. `None` where the model does not hold: no `[network]` table, loss or
    /// jitter on the link, a congestion control other than cubic or reno (see
    /// [`follows_slow_start`]), or a bandwidth so low that carrying the page's bytes alone
    /// takes more than 3% of the predicted time.
    pub fn of_run(scenario: &Scenario, run: &RunRecord) -> Option<PageModel> {
        let net = scenario.network.as_ref()?;
        if net.loss > 0.0 || !net.jitter.is_zero() {
            return None;
        }
        if run
            .congestion_control_used()
            .is_some_and(|cc| !follows_slow_start(cc))
        {
            return None;
        }
        let mut requests: Vec<_> = run.requests.iter().collect();
        requests.sort_by_key(|r| r.id);
        let objects = requests
            .iter()
            .map(|r| {
                let think = scenario
                    .resources
                    .get(r.id as usize)
                    .map_or(scenario.server.think, |res| res.think);
                ModelObject {
                    response_bytes: r.response_header_bytes + r.response_body_bytes,
                    think,
                }
            })
            .collect();
        let tls = run
            .tls
            .then(|| scenario.client.tls_version.unwrap_or(TlsVersion::Tls13));
        let page = PageModel {
            rtt: net.rtt,
            objects,
            connections: scenario.client.max_connections_per_host,
            tls,
            serial_server: run.server_pipelining == Some(crate::PipeliningModel::Serial),
            max_concurrent_streams: scenario.server.max_concurrent_streams,
        };
        if let (Some(rate), Some(predicted)) = (net.bandwidth, predict(run.protocol, &page)) {
            let bytes: u64 = page.objects.iter().map(|o| o.response_bytes).sum();
            let carry = Duration::from_secs_f64(bytes as f64 * 8.0 / rate as f64);
            if carry.as_secs_f64() > 0.03 * predicted.as_secs_f64() {
                return None;
            }
        }
        Some(page)
    }
}

/// One object: the bytes the server sends for it (headers and body) and its think time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelObject {
    pub response_bytes: u64,
    pub think: Duration,
}

/// Handshake round trips before the first request can go: TCP, plus TLS (TLS 1.3 one, a full
/// TLS 1.2 two).
pub fn handshake_rtts(tls: Option<TlsVersion>) -> u32 {
    match tls {
        None => 1,
        Some(TlsVersion::Tls13) => 2,
        Some(TlsVersion::Tls12) => 3,
    }
}

/// A sender's congestion window in slow start, in segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub segments: u64,
}

impl Default for Window {
    fn default() -> Self {
        Self {
            segments: INITIAL_WINDOW_SEGMENTS,
        }
    }
}

impl Window {
    /// Round trips needed to send `bytes` (at least one), growing the window by one segment per
    /// segment sent, as slow start does without loss.
    pub fn flights(&mut self, bytes: u64) -> u32 {
        let mut left = bytes.div_ceil(MSS).max(1);
        let mut flights = 0;
        while left > 0 {
            let sent = left.min(self.segments);
            left -= sent;
            self.segments += sent;
            flights += 1;
        }
        flights
    }
}

/// F(S): slow-start flights for `bytes` on a fresh connection.
pub fn cold_flights(bytes: u64) -> u32 {
    Window::default().flights(bytes)
}

/// The page completion time the model predicts for `protocol`, or `None` where the model says
/// nothing (an empty page; HTTP/2 with more requests than the server's stream cap).
pub fn predict(protocol: Protocol, page: &PageModel) -> Option<Duration> {
    if page.objects.is_empty() {
        return None;
    }
    let r = page.rtt;
    let h = r * handshake_rtts(page.tls);
    let k = page.connections.max(1) as usize;
    match protocol {
        Protocol::Http10 => {
            // Each request: a new connection (H), a cold window, the think time.
            let mut free = vec![Duration::ZERO; k];
            for o in &page.objects {
                let slot = earliest(&free);
                free[slot] += h + r * cold_flights(o.response_bytes) + o.think;
            }
            free.into_iter().max()
        }
        Protocol::Http11 => {
            // Each connection pays H once and keeps its window from response to response.
            let mut free = vec![Duration::ZERO; k];
            let mut windows: Vec<Option<Window>> = vec![None; k];
            for o in &page.objects {
                let slot = earliest(&free);
                let window = windows[slot].get_or_insert_with(|| {
                    free[slot] += h;
                    Window::default()
                });
                free[slot] += r * window.flights(o.response_bytes) + o.think;
            }
            free.into_iter().max()
        }
        Protocol::Http11Pipelined => {
            let bytes = page.objects.iter().map(|o| o.response_bytes).sum();
            let server = if page.serial_server {
                page.objects.iter().map(|o| o.think).sum()
            } else {
                page.objects.iter().map(|o| o.think).max()?
            };
            Some(h + server + r * cold_flights(bytes))
        }
        Protocol::H2 | Protocol::H2c => {
            if page.objects.len() > page.max_concurrent_streams as usize {
                return None;
            }
            let h = if protocol == Protocol::H2c { r } else { h };
            let bytes = page.objects.iter().map(|o| o.response_bytes).sum();
            let think = page.objects.iter().map(|o| o.think).max()?;
            Some(h + think + r * cold_flights(bytes))
        }
    }
}

fn earliest(free: &[Duration]) -> usize {
    free.iter()
        .enumerate()
        .min_by_key(|(i, t)| (**t, *i))
        .map_or(0, |(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn page(n: usize, bytes: u64, think: u64, k: u32, tls: Option<TlsVersion>) -> PageModel {
        PageModel {
            rtt: ms(40),
            objects: vec![
                ModelObject {
                    response_bytes: bytes,
                    think: ms(think),
                };
                n
            ],
            connections: k,
            tls,
            serial_server: false,
            max_concurrent_streams: 100,
        }
    }

    #[test]
    fn flights_follow_slow_start_from_ten_segments() {
        // 10, then 20, then 40, then 80 segments: 10, 30, 70, 150 in all.
        assert_eq!(cold_flights(1), 1);
        assert_eq!(cold_flights(10 * MSS), 1);
        assert_eq!(cold_flights(10 * MSS + 1), 2);
        assert_eq!(cold_flights(30 * MSS), 2);
        assert_eq!(cold_flights(70 * MSS), 3);
        assert_eq!(cold_flights(150 * MSS), 4);
        assert_eq!(cold_flights(150 * MSS + 1), 5);
        // A warm window: after 30 segments it is 40, so 40 more go in one flight.
        let mut w = Window::default();
        assert_eq!(w.flights(30 * MSS), 2);
        assert_eq!(w.flights(40 * MSS), 1);
    }

    #[test]
    fn handshakes_cost_one_two_or_three_round_trips() {
        assert_eq!(handshake_rtts(None), 1);
        assert_eq!(handshake_rtts(Some(TlsVersion::Tls13)), 2);
        assert_eq!(handshake_rtts(Some(TlsVersion::Tls12)), 3);
    }

    #[test]
    fn a_cold_small_http10_get_is_two_round_trips_plus_think() {
        let p = page(1, 1000, 5, 6, None);
        assert_eq!(predict(Protocol::Http10, &p), Some(ms(2 * 40 + 5)));
    }

    #[test]
    fn the_design_formulas_for_n_small_objects() {
        // N = 13 objects of 2 KB, T = 5 ms, k = 6, TLS 1.3 (H = 2).
        let p = page(13, 2000, 5, 6, Some(TlsVersion::Tls13));
        // HTTP/1.0: ⌈13/6⌉ · (H + F·R + T) = 3 · (80 + 40 + 5).
        assert_eq!(predict(Protocol::Http10, &p), Some(ms(3 * 125)));
        // HTTP/1.1: H + ⌈13/6⌉ · (F·R + T) = 80 + 3 · 45.
        assert_eq!(predict(Protocol::Http11, &p), Some(ms(80 + 3 * 45)));
        // Pipelined (parallel server): H + T + F(26 KB)·R = 80 + 5 + 2 · 40.
        assert_eq!(
            predict(Protocol::Http11Pipelined, &p),
            Some(ms(80 + 5 + 80))
        );
        // h2: H + T + F(N·S)·R, the same; h2c has only TCP's round trip.
        assert_eq!(predict(Protocol::H2, &p), Some(ms(80 + 5 + 80)));
        assert_eq!(predict(Protocol::H2c, &p), Some(ms(40 + 5 + 80)));
        // A serial pipelining server adds every think time.
        let serial = PageModel {
            serial_server: true,
            ..p.clone()
        };
        assert_eq!(
            predict(Protocol::Http11Pipelined, &serial),
            Some(ms(80 + 13 * 5 + 80))
        );
    }

    #[test]
    fn the_model_is_loss_based_slow_start() {
        assert!(follows_slow_start("cubic") && follows_slow_start("reno"));
        assert!(!follows_slow_start("bbr") && !follows_slow_start(""));
        let scenario = Scenario::parse(
            "name = \"n\"\n[network]\nrtt = \"40ms\"\n[[resource]]\npath = \"/a\"\n",
            "n.toml",
        )
        .unwrap();
        let mut run = RunRecord {
            protocol: Protocol::H2,
            server_pipelining: None,
            client_variant: None,
            repetition: 0,
            epoch_unix_ms: 0,
            started_at: Duration::ZERO,
            page_time: ms(100),
            tls: true,
            connections: Vec::new(),
            requests: Vec::new(),
            server: Vec::new(),
            link: None,
            congestion_control: "cubic".into(),
            server_connections: Vec::new(),
            wire: None,
        };
        assert!(PageModel::of_run(&scenario, &run).is_some());
        run.congestion_control = "bbr".into();
        assert_eq!(PageModel::of_run(&scenario, &run), None);
    }

    #[test]
    fn the_model_declines_what_it_does_not_cover() {
        let mut p = page(10, 1000, 0, 6, None);
        p.max_concurrent_streams = 4;
        assert_eq!(predict(Protocol::H2, &p), None);
        assert_eq!(predict(Protocol::Http11, &page(0, 1, 0, 6, None)), None);
    }
}
