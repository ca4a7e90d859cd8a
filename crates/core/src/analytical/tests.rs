//! The analytical model on literal pages, each number worked out by hand in its comment.

use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn object(head: u64, body: u64, think: u64) -> ModelObject {
    ModelObject {
        response_header_bytes: head,
        response_body_bytes: body,
        think: ms(think),
    }
}

/// `n` objects of `bytes` (all body), think `think` ms, `k` connections, at 40 ms; no control
/// segments (see [`on`]), packed, loss-free.
fn page(n: usize, bytes: u64, think: u64, k: u32, tls: Option<TlsVersion>) -> PageModel {
    PageModel {
        rtt: ms(40),
        objects: vec![object(0, bytes, think); n],
        connections: k,
        tls,
        serial_server: false,
        max_concurrent_streams: 100,
        write: WriteMode::Packed,
        control_segments: 0,
        loss: 0.0,
        bandwidth: None,
    }
}

/// `page` as `protocol` loads it: with that protocol's control segments, as `of_run` sets them.
fn on(protocol: Protocol, page: &PageModel) -> PageModel {
    let tls = if protocol == Protocol::H2c {
        None
    } else {
        page.tls
    };
    PageModel {
        control_segments: control_segments(protocol, tls),
        ..page.clone()
    }
}

/// The exact prediction for `page` under `protocol` (with its control segments): the page time
/// and, per connection, the segments of each flight.
fn exact(protocol: Protocol, page: &PageModel) -> (Duration, Vec<Vec<u64>>) {
    match predict(protocol, &on(protocol, page)) {
        Some(Prediction::Exact {
            page_time,
            connections,
        }) => (
            page_time,
            connections
                .iter()
                .map(|c| c.iter().map(|f| f.segments).collect())
                .collect(),
        ),
        other => panic!("{protocol:?}: not an exact prediction: {other:?}"),
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
    // A warm window: after 30 segments it is 40, so 40 more go in one flight. At 40 ms: 10
    // segments at 0, 20 at 40 ms (the last arrives at 60 ms); 40 written at 80 ms, when the
    // last 20 are acknowledged, all leave then and arrive at 100 ms.
    let mut w = Sender::new(ms(40));
    let last = w.write(Duration::ZERO, 30 * MSS);
    assert_eq!(w.delivered(last), Some(ms(60)));
    let last = w.write(ms(80), 40 * MSS);
    assert_eq!(w.window(), 40);
    assert_eq!(w.delivered(last), Some(ms(100)));
    let flights: Vec<_> = w.flights().iter().map(|f| f.segments).collect();
    assert_eq!(flights, [10, 20, 40]);
    assert_eq!(w.flights()[2].first_sent_at, ms(80));
    assert_eq!(w.delivered(last + 1), None);
}

#[test]
fn writes_waiting_for_the_window_share_segments() {
    // Ten 580-byte writes fill the window of 10, one segment each. Five more wait in the
    // socket and fill its last waiting segment, as Linux does: 2,900 bytes in 3 segments
    // (1,448 + 1,448 + 4), not 5. They leave when the first acknowledgements come, at 40 ms.
    let mut s = Sender::new(ms(40));
    let mut last = 0;
    for _ in 0..15 {
        last = s.write(ms(1), 580);
    }
    assert_eq!(last, 12);
    assert_eq!(s.delivered(last), Some(ms(41 + 20)));
    let flights: Vec<_> = s.flights().iter().map(|f| f.segments).collect();
    assert_eq!(flights, [10, 3]);
    // Control segments are segments of their own: nothing joins them.
    let mut c = Sender::new(ms(40));
    c.control(Duration::ZERO, 3);
    assert_eq!(c.write(Duration::ZERO, 100), 3);
}

#[test]
fn handshakes_cost_one_two_or_three_round_trips() {
    assert_eq!(handshake_rtts(None), 1);
    assert_eq!(handshake_rtts(Some(TlsVersion::Tls13)), 2);
    assert_eq!(handshake_rtts(Some(TlsVersion::Tls12)), 3);
}

#[test]
fn control_segments_are_tickets_and_settings() {
    let tls13 = Some(TlsVersion::Tls13);
    assert_eq!(control_segments(Protocol::H2, tls13), 3);
    assert_eq!(control_segments(Protocol::H2, Some(TlsVersion::Tls12)), 2);
    assert_eq!(control_segments(Protocol::H2c, None), 2);
    assert_eq!(control_segments(Protocol::Http11, tls13), 1);
    assert_eq!(
        control_segments(Protocol::Http10, Some(TlsVersion::Tls12)),
        0
    );
    assert_eq!(control_segments(Protocol::Http11Pipelined, None), 0);
}

#[test]
fn a_cold_small_http10_get_is_two_round_trips_plus_think() {
    let p = page(1, 1000, 5, 6, None);
    assert_eq!(exact(Protocol::Http10, &p), (ms(2 * 40 + 5), vec![vec![1]]));
}

#[test]
fn the_design_formulas_for_n_small_objects() {
    // N = 13 objects of 2,000 B, T = 5 ms, k = 6, R = 40 ms, TLS 1.3 (H = 2): a request on a
    // new connection reaches the server at 100 ms. A response is 2,022 B with its record: 2
    // segments, beside 1 control segment (the session tickets).
    let p = page(13, 2000, 5, 6, Some(TlsVersion::Tls13));
    // HTTP/1.0: ⌈13/6⌉ · (H + F·R + T) = 3 · (80 + 40 + 5).
    let (t, flights) = exact(Protocol::Http10, &p);
    assert_eq!(t, ms(3 * 125));
    assert_eq!(flights, vec![vec![3]; 13]);
    // HTTP/1.1: H + ⌈13/6⌉ · (F·R + T) = 80 + 3 · 45.
    let (t, flights) = exact(Protocol::Http11, &p);
    assert_eq!(t, ms(80 + 3 * 45));
    assert_eq!(flights[0], [3, 2, 2]);
    assert_eq!(flights[5], [3, 2]);
    // Pipelined (parallel server): H + T + 2 flights = 80 + 5 + 80, as before, now in
    // segments: one write of 26,000 B in 2 records, 26,044 B, 18 segments. The ticket (at
    // 100 ms) and 9 of them (at 105 ms) fill the window; the ticket's acknowledgement (140 ms)
    // lets 2 go, the first 9's (145 ms) the last 7, which arrive at 165 ms.
    assert_eq!(
        exact(Protocol::Http11Pipelined, &p),
        (ms(80 + 5 + 80), vec![vec![10, 9]])
    );
    // h2: 13 × (2,000 + 2 frame headers) = 26,234 B, 2 records: 26,278 B, 19 segments. 3
    // control segments and 7 at 105 ms; 6 more at 140 ms, the last 6 at 145 ms: 165 ms.
    assert_eq!(
        exact(Protocol::H2, &p),
        (ms(80 + 5 + 80), vec![vec![10, 12]])
    );
    // h2c has only TCP's round trip and no records: 26,234 B, 19 segments; 2 control
    // segments at 60 ms, 8 at 65, 4 at 100 and 7 at 105 ms, which arrive at 125 ms.
    assert_eq!(
        exact(Protocol::H2c, &p),
        (ms(40 + 5 + 80), vec![vec![10, 11]])
    );
    // A serial pipelining server adds every think time: before, H + 13·T + F(26 KB)·R =
    // 80 + 65 + 80 = 225 ms, as if nothing left before the last think ended. In segments, the
    // responses leave while the server thinks: written at 105, 110, …, 165 ms, 2 segments
    // each. The window holds the ticket and 9 segments until 140 ms; the 5th to 8th
    // responses wait in the socket and share segments (8,088 B in 6, not 8); from 140 ms the
    // acknowledgements of the ticket and the first responses (145, 150, … ms) free the window
    // faster than the server writes, so the 13th response leaves when written, at 165 ms, and
    // arrives at 185 ms = H + R/2 + 13·T + R/2.
    let serial = PageModel {
        serial_server: true,
        ..p.clone()
    };
    assert_eq!(
        exact(Protocol::Http11Pipelined, &serial),
        (ms(80 + 13 * 5 + 40), vec![vec![10, 15]])
    );
}

#[test]
fn twelve_small_h2_responses_packed_and_per_frame() {
    // The lab's measurement: 12 responses of 500 B, R = 60 ms, TLS 1.3, T = 10 ms. The
    // requests reach the server at 2R + R/2 = 150 ms, with the client's Finished; the server
    // sends its ticket, SETTINGS and SETTINGS ACK then (3 control segments), and the
    // responses at 160 ms. A response is a 40 B header block and 500 B of body in HEADERS and
    // DATA frames, 558 B.
    let mut p = page(12, 0, 10, 6, Some(TlsVersion::Tls13));
    p.rtt = ms(60);
    p.objects = vec![object(40, 500, 10); 12];
    // Packed: one write of 12 × 558 = 6,696 B, one record, 6,718 B: 5 segments, which with
    // the 3 control segments fit the window of 10: 3R + T = 190 ms (measured 192–198 ms).
    assert_eq!(exact(Protocol::H2, &p), (ms(190), vec![vec![8]]));
    // Per-frame: each response is a record of its own, 580 B, a segment of its own. Only 7
    // fit beside the control segments; the other 5 wait in the socket (2,900 B: 3 segments).
    // They leave when the control segments are acknowledged, at 150 + 60 = 210 ms, and arrive
    // at 240 ms (measured 242–251 ms): a round trip less the think time later than packed,
    // not a whole round trip (250 ms), since the control segments left the think time before
    // the responses and are acknowledged that much earlier too.
    p.write = WriteMode::PerFrame;
    assert_eq!(exact(Protocol::H2, &p), (ms(240), vec![vec![10, 3]]));
}

/// scenarios/quickstart.toml's page without its 20 Mbit/s limit (with it, `of_run` declines:
/// carrying 111 kB at 20 Mbit/s takes 44 ms, far more than 3% of the page): an index of 14 kB
/// with T = 2 ms, then 12 images of 8 kB with T = 5 ms, R = 40 ms, TLS 1.3 (H = 2), chrome's 6
/// connections per host; response heads of `head` bytes. A new connection's request reaches
/// the server at 2R + R/2 = 100 ms.
fn quickstart(head: u64) -> PageModel {
    let mut p = page(0, 0, 0, 6, Some(TlsVersion::Tls13));
    p.objects = std::iter::once(object(head, 14_000, 2))
        .chain(std::iter::repeat_n(object(head, 8_000, 5), 12))
        .collect();
    p
}

#[test]
fn the_quickstart_page_over_http10_http11_and_h2() {
    // HTTP/1.x, with heads of 160 B: the index is 14,160 B, one record, 14,182 B: 10 segments, beside the ticket
    // (1 control segment): 9 leave at 102 ms, the 10th when the ticket is acknowledged
    // (140 ms), and it arrives at 160 ms. An image is 8,160 B, 8,182 B: 6 segments, which
    // fit beside the ticket: written at 105 ms, arrived at 125 ms on a new connection.
    //
    // HTTP/1.0, a connection per request, 6 at once: the index ends at 160 ms and the first
    // five images at 125; images 6 to 10 take the five slots free at 125 ms and end at 250;
    // the 11th takes the index's slot (160 → 285 ms), the 12th a slot free at 250 ms:
    // 250 + 125 = 375 ms. (Counting bytes, the index was one flight and the page 372 ms.)
    let p = quickstart(160);
    let (t, flights) = exact(Protocol::Http10, &p);
    assert_eq!(t, ms(375));
    assert_eq!(flights.len(), 13);
    assert_eq!(flights[0], [10, 1]);
    assert!(flights[1..].iter().all(|f| f == &[7]), "{flights:?}");
    // HTTP/1.1, 6 connections kept: the first five images end at 125 ms; images 6 to 10 are
    // written on those connections at 125 + R/2 + T = 150 ms and arrive at 170; the 11th goes
    // on the index's connection (free at 160 ms: written at 185, arrived at 205), the 12th on
    // a connection free at 170 ms: written at 195 ms, arrived at 215 ms. (Counting bytes:
    // 212 ms.)
    let (t, flights) = exact(Protocol::Http11, &p);
    assert_eq!(t, ms(215));
    assert_eq!(
        flights,
        [
            vec![10, 1, 6],
            vec![7, 6, 6],
            vec![7, 6],
            vec![7, 6],
            vec![7, 6],
            vec![7, 6]
        ]
    );
    // h2, with header blocks of 60 B, one connection, 3 control segments at 100 ms. The index (60 + 9 + 14,000 + 9 =
    // 14,078 B, one record, 14,100 B: 10 segments, the last of 1,068 B) is written at 102 ms,
    // the 12 images together at 105 ms (12 × 8,078 = 96,936 B in 6 records, 97,068 B). Only
    // 7 segments leave at 102 ms; the images fill the index's last waiting segment and take
    // 67 more: 77 segments in all. The window lets 6 go at 140 ms (control acknowledged), 14
    // at 142, 12 at 180, 28 at 182, the last 10 at 220 ms: flights of 3 + 7, 20, 40 and 10
    // segments, and the page ends at 240 ms. (Counting bytes: H + T + 4R = 245 ms.)
    let (t, flights) = exact(Protocol::H2, &quickstart(60));
    assert_eq!(t, ms(240));
    assert_eq!(flights, [vec![10, 20, 40, 10]]);
}

#[test]
fn under_loss_the_model_estimates_with_mathis() {
    // One connection at R = 60 ms and 2% loss: 1.22 · 1,448 · 8 / (0.06 · √0.02) bits/s.
    let per = mathis_bps(ms(60), 0.02).expect("loss and a round trip");
    assert!((per - 1_665_528.74).abs() < 1.0, "{per}");
    assert_eq!(mathis_bps(ms(60), 0.0), None);
    assert_eq!(mathis_bps(Duration::ZERO, 0.02), None);

    // 10 objects of 435 kB, T = 10 ms, TLS 1.3, on a 10 Mbit/s link with 2% loss.
    let mut p = page(0, 0, 0, 6, Some(TlsVersion::Tls13));
    p.rtt = ms(60);
    p.objects = vec![object(160, 435_000, 10); 10];
    p.loss = 0.02;
    p.bandwidth = Some(10_000_000);
    let estimate = |protocol: Protocol, page: &PageModel| match predict(protocol, page) {
        Some(Prediction::Estimate {
            page_time,
            connections,
            bps,
            capped,
            ..
        }) => (page_time.as_secs_f64(), connections, bps, capped),
        other => panic!("{protocol:?}: not an estimate: {other:?}"),
    };
    // h2, one connection of 1.67 Mbit/s: a response is 160 + 9 + 435,000 + 27 · 9 =
    // 435,412 B; one write of 4,354,120 B in 266 records, 4,359,972 B. 3R (handshakes, the
    // request's round trip) + T + 4,359,972 · 8 / 1,665,528.74 = 0.19 + 20.9422 = 21.1322 s.
    let (t, n, bps, capped) = estimate(Protocol::H2, &p);
    assert_eq!((n, capped), (1, false));
    assert!((bps - per).abs() < 1e-6);
    assert!((t - 21.1322).abs() < 1e-3, "{t}");
    // HTTP/1.1, 6 connections: 9.99 Mbit/s, just under the link's 10. A response is 435,160
    // B in 27 records, 435,754 B; 10 of them, 4,357,540 B, take 3.4884 s. The busiest
    // connections carry 2 responses: H + 2R + 2T = 0.26 s, 3.7484 s in all.
    let (t, n, bps, capped) = estimate(Protocol::Http11, &p);
    assert_eq!((n, capped), (6, false));
    assert!((bps - 6.0 * per).abs() < 1e-6);
    assert!((t - 3.7484).abs() < 1e-3, "{t}");
    // HTTP/1.0 with 8 connections would hold 13.3 Mbit/s: the link caps it at 10, 3.4860 s
    // for the bytes; the busiest connections pay 2 · (H + R + T) = 0.38 s: 3.8660 s.
    p.connections = 8;
    let (t, n, bps, capped) = estimate(Protocol::Http10, &p);
    assert_eq!((n, capped), (8, true));
    assert_eq!(bps, 10_000_000.0);
    assert!((t - 3.8660).abs() < 1e-3, "{t}");
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
    let mut run = run_record();
    let page = PageModel::of_run(&scenario, &run).expect("the model holds");
    // h2 over TLS 1.3 (negotiated): a ticket, SETTINGS and SETTINGS ACK.
    assert_eq!(page.control_segments, 3);
    assert_eq!(page.write, WriteMode::Packed);
    run.congestion_control = "bbr".into();
    assert_eq!(PageModel::of_run(&scenario, &run), None);
}

#[test]
fn a_lossy_link_gets_an_estimate_and_jitter_nothing() {
    let lossy = Scenario::parse(
        "name = \"n\"\n[server]\nwrite = \"per-frame\"\n[network]\nrtt = \"40ms\"\n\
         loss = \"2%\"\n[[resource]]\npath = \"/a\"\n",
        "n.toml",
    )
    .unwrap();
    let page = PageModel::of_run(&lossy, &run_record()).expect("an estimate");
    assert_eq!(page.loss, 0.02);
    assert_eq!(page.write, WriteMode::PerFrame);
    let jittery = Scenario::parse(
        "name = \"n\"\n[network]\nrtt = \"40ms\"\njitter = \"5ms\"\n[[resource]]\npath = \"/a\"\n",
        "n.toml",
    )
    .unwrap();
    assert_eq!(PageModel::of_run(&jittery, &run_record()), None);
}

fn run_record() -> RunRecord {
    RunRecord {
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
    }
}

#[test]
fn the_model_declines_what_it_does_not_cover() {
    let mut p = page(10, 1000, 0, 6, None);
    p.max_concurrent_streams = 4;
    assert_eq!(predict(Protocol::H2, &p), None);
    assert_eq!(predict(Protocol::Http11, &page(0, 1, 0, 6, None)), None);
}
