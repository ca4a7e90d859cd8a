use super::*;
use crate::fixtures::{scenario, RunBuilder};
use httplab_core::tcp_trace::{
    RetransmissionKind, WireDirection, WireHandshake, WireOutcome, WireRetransmission, WireRound,
    WireTrace,
};

fn us(v: u64) -> Duration {
    Duration::from_micros(v)
}

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

fn assert_sums(run: &RunRecord, causes: &RunCauses) {
    for (r, c) in run.requests.iter().zip(&causes.requests) {
        assert_eq!(c.request_id, r.id);
        assert_eq!(c.split.total(), r.phases.total(), "request {}", r.id);
    }
    let last = run.requests.iter().map(|r| r.ended_at()).max().unwrap();
    assert_eq!(causes.page.total(), last - run.started_at);
}

#[test]
fn every_request_s_causes_add_up_to_its_duration_exactly() {
    let s = scenario();
    for run in [
        RunBuilder::http10(0, 20).build(),
        RunBuilder::http11(0, 20).build(),
        RunBuilder::h2(0, 20).build(),
        RunBuilder::http11(0, 20).fail(2, "reset").build(),
    ] {
        let causes = run_causes(&s, &run);
        assert_sums(&run, &causes);
    }
}

#[test]
fn queueing_for_a_connection_is_not_waiting_for_one_s_own_handshakes() {
    let s = scenario();
    // http1.1, two connections: requests 2 and 3 wait 4.1 ms for a free one.
    let run = RunBuilder::http11(0, 20).build();
    let c = run_causes(&s, &run);
    assert_eq!(c.requests[2].split.get(Cause::Queued), us(4_102));
    assert_eq!(c.requests[2].split.get(Cause::OwnHandshake), Duration::ZERO);
    assert_eq!(c.requests[0].split.get(Cause::TcpHandshake), us(1_500));
    assert_eq!(c.requests[0].split.get(Cause::TlsHandshake), us(2_250));
    // h2: requests issued with the first, before the one connection was up, wait for its
    // handshakes (3 us after the issue it starts; 1.5 ms TCP and 2.25 ms TLS).
    let mut run = RunBuilder::h2(0, 20).build();
    for r in run.requests.iter_mut().skip(1) {
        r.phases.blocked = us(3_800);
    }
    let c = run_causes(&s, &run);
    assert_sums(&run, &c);
    for r in &c.requests[1..] {
        assert_eq!(r.split.get(Cause::OwnHandshake), us(3_750));
        assert_eq!(r.split.get(Cause::Queued), us(50));
    }
}

#[test]
fn the_server_s_think_and_the_rest_of_the_wait_on_loopback() {
    let s = scenario();
    let run = RunBuilder::http11(0, 20).build();
    let c = run_causes(&s, &run);
    // The fixture's server thinks 1 ms; no link, so no round trip to attribute.
    assert_eq!(c.requests[0].split.get(Cause::ServerThink), ms(1));
    assert_eq!(c.requests[0].split.get(Cause::RoundTrip), Duration::ZERO);
    let wait_and_receive = run.requests[0].phases.wait + run.requests[0].phases.receive;
    assert_eq!(
        c.requests[0].split.get(Cause::Other),
        wait_and_receive - ms(1)
    );
}

fn with_link(mut run: RunRecord, wire: WireConnection) -> RunRecord {
    run.link = Some(crate::fixtures::link_record());
    run.wire = Some(WireTrace {
        connections: vec![wire],
        observations: 100,
        skipped: 0,
        truncated: false,
    });
    run
}

fn linked_scenario() -> Scenario {
    let src = r#"
name = "four-objects-linked"
[client]
max_connections_per_host = 2
tls = true
[server]
think = "1ms"
[network]
rtt = "40ms"
bandwidth = "10mbit"
[[resource]]
path = "/index.html"
size = "2kb"
[[resource]]
path = "/img/{i}.png"
count = 3
size = "14kb"
"#;
    Scenario::parse(src, "linked.toml").expect("a valid scenario")
}

fn wire_for(run: &RunRecord) -> WireConnection {
    WireConnection {
        client: run.connections[0].local_addr.clone(),
        server: "10.0.0.2:8443".into(),
        first_packet_at: Duration::ZERO,
        last_packet_at: ms(1_000),
        handshake: WireHandshake::default(),
        outcome: WireOutcome::Complete {
            both_ways: true,
            at: ms(1_000),
        },
        notes: Vec::new(),
        client_to_server: WireDirection::default(),
        server_to_client: WireDirection::default(),
    }
}

#[test]
fn on_the_link_a_round_trip_serialization_rounds_and_loss_take_their_share() {
    let s = linked_scenario();
    // One request, 200 ms from being written to its last byte.
    let mut run = RunBuilder::http11(0, 20).build();
    run.requests.truncate(1);
    run.server.truncate(1);
    run.requests[0].phases.wait = ms(120);
    run.requests[0].phases.receive = ms(80);
    let sent = run.requests[0].sent_at() + run.requests[0].phases.send;
    let ready = run.server[0].response_ready_at;
    let mut w = wire_for(&run);
    // Three rounds of the server's data after the response was ready: two beyond the first.
    w.server_to_client.rounds = (0..3)
        .map(|i| WireRound {
            index: i + 1,
            first_sent_at: ready + ms(40) * i as u32,
            last_sent_at: ready + ms(40) * i as u32 + us(100),
            start: i * 20_000,
            end: (i + 1) * 20_000,
            segments: 14,
            bytes: 20_000,
        })
        .collect();
    // A dropped segment retransmitted 30 ms later, and a spurious one that does not count.
    w.server_to_client.retransmissions = vec![
        WireRetransmission {
            at: sent + ms(50),
            original_at: sent + ms(20),
            offset: 1_448,
            length: 1_448,
            syn: false,
            fin: false,
            original_dropped: true,
            kind: RetransmissionKind::Fast,
        },
        WireRetransmission {
            at: sent + ms(90),
            original_at: sent + ms(60),
            offset: 2_896,
            length: 1_448,
            syn: false,
            fin: false,
            original_dropped: false,
            kind: RetransmissionKind::TailLossProbe,
        },
    ];
    let run = with_link(run, w);
    let c = run_causes(&s, &run);
    assert_sums(&run, &c);
    let split = c.requests[0].split;
    assert_eq!(split.get(Cause::ServerThink), ms(1));
    assert_eq!(split.get(Cause::LossRecovery), ms(30));
    assert_eq!(split.get(Cause::RoundTrip), ms(40));
    // 64 request bytes up and 2,096 response bytes down at 10 Mbit/s.
    let serialization =
        Duration::from_secs_f64(64.0 * 8.0 / 1e7) + Duration::from_secs_f64(2_096.0 * 8.0 / 1e7);
    assert_eq!(split.get(Cause::Serialization), serialization);
    // Rounds 2 and 3 began after the first needed retransmission (sent + 50 ms)? Round 2
    // began at ready + 40 ms, before it; round 3 at ready + 80 ms, after it.
    assert_eq!(split.get(Cause::CongestionWindow), ms(40));
    assert_eq!(split.get(Cause::LossWindow), ms(40));
}

#[test]
fn the_page_s_critical_path_follows_after() {
    let src = r#"
name = "chain"
[[resource]]
path = "/index.html"
[[resource]]
path = "/style.css"
after = "/index.html"
"#;
    let s = Scenario::parse(src, "chain.toml").unwrap();
    let mut run = RunBuilder::http11(0, 20).build();
    run.requests.truncate(2);
    run.server.truncate(2);
    // The stylesheet is issued 50 us after the page's last byte.
    run.requests[1].issued_at = run.requests[0].ended_at() + us(50);
    let c = run_causes(&s, &run);
    assert_eq!(c.critical_path, vec![0, 1]);
    assert_sums(&run, &c);
    let both = c.requests[0].split.total() + c.requests[1].split.total();
    assert_eq!(c.page.total(), both + us(50));
}
