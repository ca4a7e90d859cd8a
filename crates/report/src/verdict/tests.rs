//! Unit tests of the verdict.

use super::words::times;
use super::*;
use crate::fixtures::RunBuilder;
use crate::summary::summarize;

fn verdict_of(runs: &[RunRecord]) -> String {
    verdict(&summarize(runs), runs)
}

#[test]
fn fewer_connections_pay_more_round_trips_of_slow_start_on_a_link() {
    let link = httplab_core::LinkRecord {
        congestion_control: "cubic".into(),
        slow_start_after_idle: true,
        uplink: Default::default(),
        downlink: Default::default(),
        realtime: true,
        fault: None,
        trustworthy: true,
        stamping: "kernel".into(),
        stamping_note: None,
        keep_awake: true,
        excess_per_rtt: None,
    };
    let mut runs = vec![
        RunBuilder::http11(0, 200).build(),
        RunBuilder::h2(0, 240).build(),
    ];
    let on_loopback = verdict_of(&runs);
    assert!(!on_loopback.contains("slow start"), "{on_loopback}");
    for run in &mut runs {
        run.link = Some(link.clone());
    }
    let v = verdict_of(&runs);
    // h2: the page's 4 responses on 1 connection, 3 round trips of slow start; http1.1:
    // half of it on each of 2 connections, 2 round trips each.
    assert!(
        v.contains("h2 carried the page's") && v.contains("on 1 connection, where TCP slow start begins from a 10-segment window (14.5 kB) per connection: about 3 round trips of it, against about 2 for each of http1.1's 2 connections (29.0 kB of initial windows together)"),
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
        v.contains("http1.1 opened 2 and reused them, so 2 requests waited for a free connection (mean blocked 4.1ms)"),
        "{v}"
    );
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
    assert!(v.contains("mean TTFB 9.0ms against 2.0ms"), "{v}");
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
