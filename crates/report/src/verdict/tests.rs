//! Unit tests of the verdict.

use super::words::times;
use super::*;
use crate::fixtures::RunBuilder;
use crate::summary::summarize;
use httplab_core::{Protocol, Scenario};

fn verdict_of(runs: &[RunRecord]) -> String {
    let scenario = crate::fixtures::scenario();
    let env = crate::Environment::default();
    crate::analysis::Analysis::new(&scenario, runs, &env).verdict
}

/// A wire trace of `run`'s connections, each with `segments` new data segments from the
/// server in `rounds` rounds, and `retransmitted` of them sent again.
fn wire(run: &mut RunRecord, segments: u64, rounds: u64, retransmitted: u64) {
    use httplab_core::tcp_trace::{WireConnection, WireOutcome, WireTrace};
    let connections = run
        .connections
        .iter()
        .map(|c| {
            let mut w = WireConnection {
                client: c.local_addr.clone(),
                server: c.remote_addr.clone(),
                first_packet_at: Duration::ZERO,
                last_packet_at: Duration::from_secs(1),
                handshake: Default::default(),
                outcome: WireOutcome::Open,
                notes: Vec::new(),
                client_to_server: Default::default(),
                server_to_client: Default::default(),
            };
            w.server_to_client.new_data_segments = segments;
            w.server_to_client.round_count = rounds;
            w.server_to_client.retransmitted_segments = retransmitted;
            w
        })
        .collect();
    run.link = Some(crate::fixtures::link_record());
    run.wire = Some(WireTrace {
        connections,
        observations: 1,
        skipped: 0,
        truncated: false,
    });
}

/// The verdict of `runs` of a scenario on a lossy link, with the page's causes given.
fn verdict_with_causes(runs: &[RunRecord], page: &[&[(Why, u64)]]) -> String {
    let scenario = Scenario::parse(
        "name = \"l\"\n[network]\nrtt = \"60ms\"\nbandwidth = \"10mbit\"\nloss = \"2%\"\n\
         [[resource]]\npath = \"/a\"\n",
        "l.toml",
    )
    .unwrap();
    let summaries = summarize(runs);
    let causes: Vec<RunCauses> = runs
        .iter()
        .map(|r| crate::causes::run_causes(&crate::fixtures::scenario(), r))
        .collect();
    let page_causes: Vec<CauseSplit> = page
        .iter()
        .map(|pairs| {
            CauseSplit::from_pairs(pairs.iter().map(|(c, ms)| (*c, Duration::from_millis(*ms))))
        })
        .collect();
    let inputs = Inputs {
        scenario: &scenario,
        runs,
        causes: &causes,
        page_causes: &page_causes,
    };
    verdict(&summaries, &inputs)
}

/// http1.1 at 4.7 s on 2 connections retransmitting 60 segments each, h2 at 17.1 s on 1
/// retransmitting 310.
fn lossy_pair() -> [RunRecord; 2] {
    let mut fast = RunBuilder::http11(0, 4_700).build();
    let mut slow = RunBuilder::h2(0, 17_100).build();
    wire(&mut fast, 1_500, 40, 60);
    wire(&mut slow, 3_000, 200, 310);
    [fast, slow]
}

#[test]
fn loss_on_one_connection_is_named_with_retransmissions_and_what_one_connection_holds() {
    let v = verdict_with_causes(
        &lossy_pair(),
        &[
            &[(Why::LossRecovery, 900), (Why::CongestionWindow, 2_400)],
            &[(Why::LossRecovery, 2_000), (Why::CongestionWindow, 14_000)],
        ],
    );
    // The largest gap is the window (11.6 s), cut by loss; the loss evidence goes with the
    // loss cause, so check both words are available by asking for each.
    assert!(
        v.contains("Most of the difference is congestion-window rounds"),
        "{v}"
    );
    assert!(
        v.contains("3000 segments per connection (1 of them) in 200 round trips"),
        "{v}"
    );
    assert!(!v.contains("waited for a free connection"), "{v}");
    assert!(!v.contains("slow start begins"), "{v}");

    let v = verdict_with_causes(
        &lossy_pair(),
        &[
            &[(Why::LossRecovery, 900), (Why::LossWindow, 2_400)],
            &[(Why::LossRecovery, 2_000), (Why::LossWindow, 12_000)],
        ],
    );
    assert!(
        v.contains(
            "Most of the difference is loss (waiting for retransmissions, and rounds of windows \
             cut by it): h2 spent 14.00s"
        ),
        "{v}"
    );
    // 310 on h2's one connection; 60 on each of http1.1's 2.
    assert!(
        v.contains("h2's 1 connection retransmitted 310 segments per page load, http1.1's 2 120"),
        "{v}"
    );
    // 1.22 · 1448 B · 8 / (60 ms · √0.02) = 1.67 Mbit/s.
    assert!(
        v.contains("At 2% loss one connection holds about 1.67 Mbit/s (Mathis et al."),
        "{v}"
    );
    assert!(
        v.contains(
            "so h2's 1 connection holds about 1.67 Mbit/s and http1.1's 2 about 3.33 Mbit/s of \
             the link's 10 Mbit/s"
        ),
        "{v}"
    );
}

#[test]
fn queueing_for_a_connection_names_the_requests_that_queued() {
    let fast = RunBuilder::h2(0, 20).build();
    let slow = RunBuilder::http11(0, 30).build();
    let v = verdict_with_causes(&[fast, slow], &[&[(Why::Queued, 0)], &[(Why::Queued, 8)]]);
    // The fixture's http1.1 requests 2 and 3 wait 4.1 ms for one of its 2 connections.
    assert!(
        v.contains(
            "Most of the difference is queued for a connection or stream slot: http1.1 spent 8.0ms"
        ),
        "{v}"
    );
    assert!(
        v.contains(
            "http1.1's requests 2–3 queued 4.1ms for a connection or stream slot on average"
        ),
        "{v}"
    );
    assert!(!v.contains("waited for a free connection"), "{v}");
}

#[test]
fn no_cause_beyond_noise_is_said_as_such() {
    let fast = RunBuilder::h2(0, 20).build();
    let slow = RunBuilder::h2c(0, 30).build();
    let v = verdict_with_causes(&[fast, slow], &[&[(Why::Other, 10)], &[(Why::Other, 10)]]);
    assert!(
        v.contains("No one cause of the page's critical path accounts for the difference"),
        "{v}"
    );
}

#[test]
fn names_the_faster_protocol_and_the_handshakes() {
    let runs = vec![
        RunBuilder::http10(0, 44).build(),
        RunBuilder::http11(0, 23).build(),
        RunBuilder::http10(1, 46).build(),
        RunBuilder::http11(1, 24).build(),
        RunBuilder::http10(2, 42).build(),
        RunBuilder::http11(2, 22).build(),
    ];
    let v = verdict_of(&runs);
    assert!(
        v.starts_with("**http1.1** loaded the page in 23.0ms (median of 3), 1.9× faster than http1.0 (44.0ms)."),
        "{v}"
    );
    assert!(
        v.contains(
            "http1.0 opened 4 connections and paid 4 TCP and 4 TLS handshakes, one per request"
        ),
        "{v}"
    );
    assert!(
        v.contains("http1.1 opened 2 and reused them for 2 more requests."),
        "{v}"
    );
    assert!(!v.contains("waited for a free connection"), "{v}");
    assert!(!v.contains("failed"), "{v}");
    assert!(!v.contains("noise"), "{v}");
    // Three against three: even a complete separation gives p = 0.1 at best.
    assert!(
        v.contains(
            "With 3 repetitions of each protocol, the differences above cannot be tested for \
             significance: even if every run of one were faster than every run of the other, \
             the Mann–Whitney U test could not reach p < 0.05 (at best p = 0.1). Run with \
             `--repeat 5` or more to test them."
        ),
        "{v}"
    );
}

fn five(page_ms: [u64; 5], build: fn(u32, u64) -> RunBuilder) -> Vec<RunRecord> {
    (0..5)
        .map(|i| build(i, page_ms[i as usize]).build())
        .collect()
}

#[test]
fn a_consistent_difference_is_significant_with_its_interval() {
    let mut runs = five([44, 46, 42, 45, 43], RunBuilder::http10);
    runs.extend(five([23, 24, 22, 25, 21], RunBuilder::http11));
    let v = verdict_of(&runs);
    // Every http1.1 run beat every http1.0 run: U = 0, exact p = 2/252 = 0.0079. The
    // interval is the bootstrap's (seeded, so fixed) percentile interval of 44/23 = 1.91.
    assert!(
        v.starts_with(
            "**http1.1** loaded the page in 23.0ms (median of 5), 1.9× faster than http1.0 \
             (44.0ms; 95% CI 1.8–2.1×, p = 0.008). http1.0 opened 4 connections"
        ),
        "{v}"
    );
    assert!(!v.contains("cannot be tested"), "{v}");
}

#[test]
fn overlapping_page_times_are_no_significant_difference() {
    let mut runs = five([20, 22, 24, 26, 28], RunBuilder::http10);
    runs.extend(five([21, 23, 25, 27, 29], RunBuilder::http11));
    let v = verdict_of(&runs);
    // Interleaved samples: U = 10 of 25, exact p = 0.69 (scipy agrees).
    assert!(
        v.starts_with(
            "No significant difference in page load time (Mann–Whitney U, α = 0.05): \
             medians **http1.0** 24.0ms and **http1.1** 25.0ms (p = 0.69)."
        ),
        "{v}"
    );
    assert!(
        v.contains("http1.0 paid 4 TCP and 4 TLS handshakes and http1.1 paid 2 TCP"),
        "{v}"
    );
    assert!(!v.contains("faster"), "{v}");
    // Three configurations: one significantly slower, one not (tied values, so the normal
    // approximation: scipy's asymptotic p is 0.398).
    let mut runs = five([20, 21, 22, 23, 24], RunBuilder::http11);
    runs.extend(five([21, 22, 23, 24, 25], RunBuilder::h2));
    runs.extend(five([40, 41, 42, 43, 44], RunBuilder::http10));
    let v = verdict_of(&runs);
    assert!(
        v.starts_with(
            "**http1.1** loaded the page in 22.0ms (median of 5), 1.9× faster than \
             http1.0 (42.0ms; 95% CI 1.7–2.1×, p = 0.008); no significant difference from h2 \
             (23.0ms, p = 0.4)."
        ),
        "{v}"
    );
}

#[test]
fn same_connections_with_and_without_tls_say_so() {
    let runs = vec![
        RunBuilder::h2c(0, 10).build(),
        RunBuilder::h2(0, 14).wait(Duration::from_millis(5)).build(),
    ];
    let v = verdict_of(&runs);
    assert!(
        v.contains(
            "Both opened the same connections, but h2c paid 1 TCP handshake and h2 paid 1 \
             TCP and 1 TLS handshake"
        ),
        "{v}"
    );
}

#[test]
fn p_values_and_ratios_as_printed() {
    assert_eq!(p_value(0.007_936), "p = 0.008");
    assert_eq!(p_value(0.4), "p = 0.4");
    assert_eq!(p_value(0.111_11), "p = 0.11");
    assert_eq!(p_value(1.0), "p = 1");
    assert_eq!(p_value(0.000_2), "p < 0.001");
    assert_eq!(times(2.13, 2.13), "2.1×");
    assert_eq!(times(1.042, 1.042), "1.04×");
    assert_eq!(times(1.2, 1.04), "1.20×");
}

#[test]
fn within_five_percent_is_noise() {
    let runs = vec![
        RunBuilder::http10(0, 100).build(),
        RunBuilder::http11(0, 97).build(),
    ];
    let v = verdict_of(&runs);
    assert!(
        v.contains("about the same time, within run-to-run noise"),
        "{v}"
    );
    assert!(!v.contains("faster than"), "{v}");
    assert!(v.contains("http1.0 paid 4 TCP and 4 TLS handshakes"), "{v}");
    assert!(
        v.contains(
            "With 1 repetition of each protocol, the differences above cannot be \
             tested for significance: the test needs at least 3 of each."
        ),
        "{v}"
    );
}

#[test]
fn single_protocol_has_nothing_to_compare() {
    let runs = vec![RunBuilder::http11(0, 20).no_tls().build()];
    let v = verdict_of(&runs);
    assert!(
        v.starts_with("**http1.1** loaded the page in 20.0ms (median of 1"),
        "{v}"
    );
    assert!(
        v.contains("opened 2 connections for 4 requests and paid 2 TCP handshakes"),
        "{v}"
    );
    assert!(v.contains("nothing to compare"), "{v}");
}

#[test]
fn failures_are_named_with_their_count() {
    let runs = vec![
        RunBuilder::http10(0, 44)
            .fail(1, "reset")
            .fail(2, "reset")
            .build(),
        RunBuilder::http10(1, 44).build(),
        RunBuilder::http11(0, 23).build(),
    ];
    let v = verdict_of(&runs);
    assert!(
        v.starts_with("**http1.0**: 2 of 8 requests failed across 2 repetitions"),
        "{v}"
    );
    assert!(v.contains("**http1.1** loaded the page"), "{v}");
    // A fast protocol whose requests failed says so where it is called fastest.
    let runs = vec![
        RunBuilder::http10(0, 44).build(),
        RunBuilder::http11(0, 23).fail(0, "reset").build(),
    ];
    let v = verdict_of(&runs);
    assert!(
        v.starts_with("**http1.1**: 1 of 4 requests failed across 1 repetition"),
        "{v}"
    );
    assert!(
        v.contains("**http1.1** loaded the page in 23.0ms (median of 1, with 1 failed request), 1.9× faster"),
        "{v}"
    );
}

#[test]
fn same_handshakes_points_at_ttfb() {
    let runs = vec![
        RunBuilder::http11(0, 30)
            .wait(Duration::from_millis(9))
            .build(),
        RunBuilder::new(httplab_core::Protocol::Http11Pipelined, 0)
            .page_ms(15)
            .hol(3, Duration::from_micros(1_500))
            .build(),
    ];
    let v = verdict_of(&runs);
    assert!(
        v.starts_with("**http1.1-pipelined** loaded the page in 15.0ms"),
        "{v}"
    );
    assert!(v.contains("2.0× faster than http1.1 (30.0ms)"), "{v}");
    assert!(
        v.contains("Both paid the same handshakes (2 TCP and 2 TLS handshakes)"),
        "{v}"
    );
    // The fixture's longer wait on http1.1 is neither think time nor a link's: the endpoints'.
    assert!(
        v.contains("Most of the difference is other (the endpoints' own time): http1.1 spent"),
        "{v}"
    );
    assert!(
        v.contains("On http1.1-pipelined, 1 request over 1 repetition had a response ready"),
        "{v}"
    );
    assert!(v.contains("head-of-line blocking, mean 1.5ms"), "{v}");
}

#[test]
fn no_runs() {
    assert!(verdict_of(&[]).contains("nothing to compare"));
}

#[test]
fn quic_loss_is_counted_beside_h2s_retransmissions() {
    // Three repetitions each: h3's server lost 12, 12 and 15 packets; h2's wire shows 20
    // retransmitted segments a load.
    let mut runs = Vec::new();
    for (rep, lost) in [(0, 12), (1, 12), (2, 15)] {
        let mut h2 = RunBuilder::h2(rep, 900).build();
        wire(&mut h2, 400, 20, 20);
        runs.push(h2);
        let mut h3 = RunBuilder::h2(rep, 700).build();
        h3.protocol = Protocol::H3;
        h3.server_connections = vec![httplab_core::ServerConnectionRecord {
            connection: 0,
            peer_addr: "127.0.0.1:1".into(),
            accepted_at: Duration::ZERO,
            first_request_at: None,
            requests: 1,
            closed_at: None,
            tcp_info: Default::default(),
            quic: Some(httplab_core::QuicInfo {
                congestion_control: "cubic".into(),
                lost_packets: lost,
                congestion_events: 4,
                ..Default::default()
            }),
        }];
        runs.push(h3);
    }
    let v = verdict_of(&runs);
    assert!(
        v.contains(
            "h3's server lost 13 packets per page load (its QUIC's own count; cubic cut the \
             window 4 times); QUIC delivers each stream on its own, so each loss stalled only \
             the streams whose bytes it carried, where each of h2's 20 retransmitted segments \
             stalled every stream behind it on its TCP connection."
        ),
        "{v}"
    );
}
