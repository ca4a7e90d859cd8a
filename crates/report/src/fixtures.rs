//! Test-only builders: a scenario and hand-built `RunRecord`s with literal, microsecond-exact
//! offsets, so every test can assert exact numbers. Not part of the crate's public face.

use httplab_core::{
    CloseReason, ConnectionRecord, H2FrameCounts, H2FrameDirection, HandshakeKind, Phases,
    Protocol, RequestRecord, RunRecord, Scenario, ServerRequestRecord, TlsRecord,
};
use std::time::Duration;

pub(crate) const PATHS: [(&str, u64, &str); 4] = [
    ("/index.html", 2_000, "text/html; charset=utf-8"),
    ("/img/1.png", 14_000, "image/png"),
    ("/img/2.png", 14_000, "image/png"),
    ("/img/3.png", 14_000, "image/png"),
];

/// The scenario the fixture runs belong to.
pub(crate) fn scenario() -> Scenario {
    let src = r#"
name = "four-objects"
description = "An HTML page and three 14 kB images."
protocols = ["http1.0", "http1.1"]
repeat = 5
[client]
max_connections_per_host = 2
tls = true
[server]
think = "1ms"
[[resource]]
path = "/index.html"
size = "2kb"
[[resource]]
path = "/img/{i}.png"
count = 3
size = "14kb"
status = 200
"#;
    Scenario::parse(src, "fixture.toml").expect("the fixture scenario is valid")
}

fn us(v: u64) -> Duration {
    Duration::from_micros(v)
}

/// The frames an h2 connection carrying `requests` counts: each way SETTINGS and its ACK, and
/// a WINDOW_UPDATE from the client; per request a HEADERS frame each way whose HPACK block is
/// 30 bytes for the first request and 8 for each later one (sent), 40 and 6 (received), and
/// one DATA frame per response body.
pub(crate) fn h2_frames_of(requests: &[&RequestRecord]) -> H2FrameCounts {
    let k = requests.len() as u64;
    let blocks = |first: u64, later: u64| if k == 0 { 0 } else { first + later * (k - 1) };
    let body: u64 = requests.iter().map(|r| r.response_body_bytes).sum();
    let sent_blocks = blocks(30, 8);
    let received_blocks = blocks(40, 6);
    H2FrameCounts {
        sent: H2FrameDirection {
            settings: 2,
            window_update: 1,
            headers: k,
            header_block_bytes: sent_blocks,
            frame_bytes: (9 + 12) + 9 + (9 + 4) + 9 * k + sent_blocks,
            ..H2FrameDirection::default()
        },
        received: H2FrameDirection {
            settings: 2,
            headers: k,
            data: k,
            header_block_bytes: received_blocks,
            data_bytes: body,
            frame_bytes: (9 + 6) + 9 + 18 * k + received_blocks + body,
            ..H2FrameDirection::default()
        },
    }
}

/// Builds one run: http1.0 opens a connection per request; anything else opens up to
/// `max_connections` and reuses them round-robin, the reusing requests blocked meanwhile.
pub(crate) struct RunBuilder {
    protocol: Protocol,
    repetition: u32,
    page_time: Option<Duration>,
    max_connections: u32,
    tls: bool,
    reuse_blocked: Duration,
    wait: Duration,
    failures: Vec<(u32, String)>,
    hol: Vec<(u32, Duration)>,
    h2_frames: bool,
}

impl RunBuilder {
    pub(crate) fn new(protocol: Protocol, repetition: u32) -> Self {
        Self {
            protocol,
            repetition,
            page_time: None,
            max_connections: 2,
            tls: true,
            reuse_blocked: us(4_100),
            wait: us(2_000),
            failures: Vec::new(),
            hol: Vec::new(),
            h2_frames: false,
        }
    }

    /// An h2 run whose page time is `page_ms`: one connection carrying every request, each
    /// blocked 20 us for a stream slot, with HTTP/2 frame counts (`h2_frames_of`).
    pub(crate) fn h2(repetition: u32, page_ms: u64) -> Self {
        let mut b = Self::new(Protocol::H2, repetition).page_ms(page_ms);
        b.max_connections = 1;
        b.reuse_blocked = us(20);
        b.h2_frames = true;
        b
    }

    /// The same as `h2`, over cleartext (h2c).
    pub(crate) fn h2c(repetition: u32, page_ms: u64) -> Self {
        let mut b = Self::h2(repetition, page_ms).no_tls();
        b.protocol = Protocol::H2c;
        b
    }

    /// Leaves `ConnectionRecord::h2_frames` empty, as a harness that does not count frames.
    pub(crate) fn without_h2_frames(mut self) -> Self {
        self.h2_frames = false;
        self
    }

    /// An http1.0 run whose page time is `page_ms`.
    pub(crate) fn http10(repetition: u32, page_ms: u64) -> Self {
        Self::new(Protocol::Http10, repetition).page_ms(page_ms)
    }

    /// An http1.1 run whose page time is `page_ms`.
    pub(crate) fn http11(repetition: u32, page_ms: u64) -> Self {
        Self::new(Protocol::Http11, repetition).page_ms(page_ms)
    }

    pub(crate) fn page_ms(mut self, ms: u64) -> Self {
        self.page_time = Some(Duration::from_millis(ms));
        self
    }

    pub(crate) fn no_tls(mut self) -> Self {
        self.tls = false;
        self
    }

    pub(crate) fn wait(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    pub(crate) fn fail(mut self, request: u32, error: &str) -> Self {
        self.failures.push((request, error.to_string()));
        self
    }

    pub(crate) fn hol(mut self, request: u32, hol: Duration) -> Self {
        self.hol.push((request, hol));
        self
    }

    pub(crate) fn build(self) -> RunRecord {
        let started_at = us(1_000);
        let per_request = self.protocol == Protocol::Http10;
        let mut requests = Vec::new();
        let mut server = Vec::new();
        for (i, (path, size, mime)) in PATHS.iter().enumerate() {
            let id = i as u32;
            let new_conn = per_request || id < self.max_connections;
            let connection = if per_request {
                id
            } else {
                id % self.max_connections
            };
            let failed = self.failures.iter().find(|(r, _)| *r == id);
            let phases = Phases {
                blocked: if new_conn {
                    us(3)
                } else {
                    self.reuse_blocked + us(u64::from(id))
                },
                connect: new_conn.then(|| us(1_500 + 7 * u64::from(id))),
                ssl: (new_conn && self.tls).then(|| us(2_250)),
                send: us(12),
                wait: self.wait,
                receive: us(800 + 13 * u64::from(id)),
                hol: self.hol.iter().find(|(r, _)| *r == id).map(|(_, d)| *d),
            };
            let req = RequestRecord {
                id,
                method: "GET".into(),
                url: format!("https://lab.test:8443{path}"),
                path: (*path).into(),
                connection: Some(connection),
                issued_at: started_at,
                phases,
                status: if failed.is_some() { 0 } else { 200 },
                http_version: if failed.is_some() {
                    "".into()
                } else {
                    self.protocol.http_version().into()
                },
                request_headers: vec![
                    ("host".into(), "lab.test:8443".into()),
                    ("x-httplab-request".into(), id.to_string()),
                ],
                response_headers: if failed.is_some() {
                    Vec::new()
                } else {
                    vec![
                        ("Content-Type".into(), (*mime).into()),
                        ("content-length".into(), size.to_string()),
                    ]
                },
                request_header_bytes: 64,
                request_body_bytes: 0,
                response_header_bytes: if failed.is_some() { 0 } else { 96 },
                response_body_bytes: if failed.is_some() { 0 } else { *size },
                error: failed.map(|(_, e)| e.clone()),
                retries: 0,
            };
            if req.error.is_none() {
                let arrived_at = req.sent_at() + phases.send + us(500);
                server.push(ServerRequestRecord {
                    request_id: Some(id),
                    connection: u64::from(connection),
                    peer_addr: format!("10.0.0.1:{}", 40_000 + connection),
                    method: "GET".into(),
                    path: (*path).into(),
                    arrived_at,
                    started_at: arrived_at,
                    request_body_bytes: 0,
                    response_ready_at: arrived_at + us(1_000),
                    turn_at: None,
                    response_sent_at: Some(arrived_at + us(1_200)),
                    status: 200,
                    response_body_bytes: *size,
                });
            }
            requests.push(req);
        }
        let connections = (0..requests.iter().filter(|r| r.opened_connection()).count())
            .map(|c| {
                let c = c as u32;
                let mine: Vec<&RequestRecord> = requests
                    .iter()
                    .filter(|r| r.connection == Some(c))
                    .collect();
                let opener = mine.first().map(|r| r.phases).unwrap_or_default();
                ConnectionRecord {
                    id: c,
                    local_addr: format!("10.0.0.1:{}", 40_000 + c),
                    remote_addr: "10.0.0.2:8443".into(),
                    origin: "localhost".into(),
                    opened_at: started_at + opener.blocked,
                    tcp_connect: opener.connect.unwrap_or_default(),
                    tls: self.tls.then(|| TlsRecord {
                        version: "TLSv1.3".into(),
                        cipher: "TLS13_AES_128_GCM_SHA256".into(),
                        key_exchange_group: Some("X25519".into()),
                        alpn: Some(
                            if matches!(self.protocol, Protocol::H2 | Protocol::H2c) {
                                "h2"
                            } else {
                                "http/1.1"
                            }
                            .into(),
                        ),
                        handshake_kind: HandshakeKind::Full,
                        handshake: opener.ssl.unwrap_or_default(),
                    }),
                    closed_at: mine.iter().map(|r| r.ended_at()).max(),
                    close_reason: if per_request {
                        CloseReason::AfterResponse
                    } else {
                        CloseReason::WorkloadDone
                    },
                    bytes_sent: mine.iter().map(|r| r.request_header_bytes).sum::<u64>() + 600,
                    bytes_received: mine
                        .iter()
                        .map(|r| r.response_header_bytes + r.response_body_bytes)
                        .sum::<u64>()
                        + 3_000,
                    requests_served: mine.iter().filter(|r| r.error.is_none()).count() as u32,
                    ping_rtt: None,
                    h2_frames: self.h2_frames.then(|| h2_frames_of(&mine)),
                    tcp_info: Default::default(),
                    quic: None,
                }
            })
            .collect();
        let natural = requests
            .iter()
            .map(|r| r.ended_at())
            .max()
            .unwrap_or(started_at)
            - started_at;
        RunRecord {
            protocol: self.protocol,
            server_pipelining: None,
            client_variant: None,
            repetition: self.repetition,
            epoch_unix_ms: 1_700_000_000_000,
            started_at,
            page_time: self.page_time.unwrap_or(natural),
            tls: self.tls,
            connections,
            requests,
            server,
            link: None,
            congestion_control: "cubic".into(),
            server_connections: Vec::new(),
            wire: None,
        }
    }
}

/// The link's account of a trusted run on cubic, as a run that crossed the emulated link has.
pub(crate) fn link_record() -> httplab_core::LinkRecord {
    httplab_core::LinkRecord {
        congestion_control: "cubic".into(),
        slow_start_after_idle: false,
        uplink: Default::default(),
        downlink: Default::default(),
        realtime: true,
        fault: None,
        trustworthy: true,
        stamping: "kernel".into(),
        stamping_note: None,
        excess_per_rtt: None,
        keep_awake: true,
    }
}
