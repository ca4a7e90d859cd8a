//! The emulated link's fidelity (issue 5): on a loss-free link with ample bandwidth at a 40 ms
//! RTT, handshakes cost their round trips and page loads match the analytical model of
//! DESIGN.md (`httplab_core::analytical`), measured on real kernel TCP between the lab's client
//! and server namespaces.
//!
//! A handshake is a physical duration: noise on a shared machine only ever adds to it, so it is
//! estimated by the minimum of its repetitions, on the link and on loopback alike. A page load
//! is a typical time, so the page test compares the median run, as the reports do; the machine's
//! own work it adds to the model (the same page on loopback) is CPU work, a physical duration,
//! so it is the least loopback page (a median of loopback pages swung from 8 to 18 ms from one
//! lab to the next on a machine whose link pages held within 1 ms).
//!
//! What a round trip costs beyond the model has two parts, and the tests hold them apart. The
//! link's own part (its lateness, the kernels' turnaround inside its TUN writes) is timed by the
//! relay on every handshake, and a run over its bound is untrustworthy and set aside. The
//! endpoints' part is this machine's: a client or server that slept through half a round trip
//! wakes, and runs its code, more slowly than the same code on loopback, where nothing sleeps.
//! That part differs from machine to machine of the kind, and from one lab to the next on the
//! same machine, but not with the delay. So what the link itself adds is judged where the
//! endpoints do little (a TCP connect, a plain GET) by timing it at two RTTs, whose difference
//! must be the model's within a tight bound; the excess over loopback gets a loose bound, a
//! bound on the machine. Every bound is stated once, below, with its reason; none depends on
//! which machine of the kind CI lands on.
// Each test binary uses some of the crate's dependencies, never all.
#![allow(unused_crate_dependencies)]

use httplab_core::analytical::{predict, PageModel};
use httplab_core::{Protocol, RunRecord, Scenario};
use httplab_harness::{Lab, LabOptions, LinkMode};
use httplab_testkit::{inline_scenario, require_link, temp_dir};
use std::sync::Arc;
use std::time::Duration;

const RTT_MS: u64 = 40;
/// The second RTT the handshakes are timed at: a half round trip of 40 ms idles every CPU as
/// long as one of 20 ms does, so the endpoints' wake-ups cost the same at both.
const LONG_RTT_MS: u64 = 80;

/// One link at a time: two links' relays and two labs on a 2-core machine would measure each
/// other's scheduling, not the link.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Repetitions of each measurement.
const REPETITIONS: u32 = 5;
/// Runs tried to get [`REPETITIONS`] the link's self-check trusts.
const MAX_ATTEMPTS: u32 = 10;

/// How far the difference between a duration's least at [`LONG_RTT_MS`] and at [`RTT_MS`] may
/// stray from the model's, per round trip, where the endpoints do little. Each least of five
/// still carries some of the noise that only adds, and the difference of two carries it both
/// ways: on the 2-vCPU KVM machines CI uses, the least of five TCP connects, and a cold plain
/// GET's per round trip, moves by at most 0.12 ms from one lab to the next. A link whose delay
/// were off by two-thirds of a percent would miss this bound at these RTTs.
const SLOPE_PER_RTT: Duration = Duration::from_micros(250);

/// What a round trip across the link may cost beyond the model and beyond the same work on
/// loopback, on any idle machine of the kind CI uses (2 vCPUs under KVM):
/// - the link's part, at most [`httplab_link::MAX_TRUSTWORTHY_EXCESS_PER_RTT`] in a trusted run;
/// - both endpoints' wake-ups after half an RTT of idleness, and their code run on cold caches:
///   on loopback nothing sleeps. TLS crypto makes this part large and noisy: a lab's least of
///   five TLS handshakes moves by 0.5 ms from one lab to the next on the same machine, and so
///   does its least on loopback.
///
/// Measured per round trip on such machines (least of five, test build): 0.09–0.22 ms for a
/// TCP connect, 0.1–0.25 ms for each of a cold GET's two, 0–0.75 ms for TLS 1.3, 0–0.4 ms for
/// each of TLS 1.2's two. So 1.5 ms, twice the worst seen: a bound on the machine, which still
/// tells one round trip from two and catches packets held to a timer tick (1–4 ms a crossing).
/// The link's fidelity is judged by [`SLOPE_PER_RTT`] and by its self-check, not by this.
const MACHINE_PER_RTT: Duration = Duration::from_micros(1500);

/// Runs `protocol` [`REPETITIONS`] times over the scenario `toml` (a `[network]` table is
/// appended) on the emulated link and returns the runs the link's self-check trusts, in page
/// time order; `None` after a SKIP line where the link cannot run.
async fn run_on_link(
    test: &str,
    toml: &str,
    protocol: Protocol,
    rtt_ms: u64,
) -> Option<(Scenario, Vec<RunRecord>)> {
    if !require_link(test) {
        return None;
    }
    let _turn = ONE_AT_A_TIME.lock().await;
    // cubic, Linux's default: the model is loss-based slow start (bbr paces its flights).
    let scenario = inline_scenario(&format!(
        "{toml}\n[network]\nrtt = \"{rtt_ms}ms\"\ncongestion_control = \"cubic\"\n"
    ));
    let lab = Lab::start(
        Arc::new(scenario.clone()),
        LabOptions {
            certs_dir: temp_dir("certs"),
            link: LinkMode::Require,
            ..LabOptions::default()
        },
    )
    .await
    .expect("lab starts on the emulated link");
    assert!(lab.link_emulated());
    // A run the link's self-check marks untrustworthy (the host stalled the relay) is not a
    // measurement of the link, as every report says: it is set aside and run again, within a
    // bound.
    let mut runs = Vec::new();
    let mut set_aside = Vec::new();
    for repetition in 0..MAX_ATTEMPTS {
        if runs.len() == REPETITIONS as usize {
            break;
        }
        let run = lab.run(protocol, repetition).await.expect("run completes");
        assert_eq!(run.failed_requests(), 0, "{:#?}", run.requests);
        let link = run.link.clone().expect("the run crossed the link");
        assert!(link.uplink.packets > 0 && link.downlink.packets > 0);
        if link.trustworthy {
            runs.push(run);
        } else {
            set_aside.push(link);
        }
    }
    lab.shutdown().await;
    assert_eq!(
        runs.len(),
        REPETITIONS as usize,
        "too many untrustworthy runs: {set_aside:#?}"
    );
    runs.sort_by_key(|r| r.page_time);
    for run in &runs {
        let link = run.link.as_ref().expect("linked");
        eprintln!(
            "{test} at {rtt_ms} ms: {} page {:?}, stamping {} {:?}, stamped {}/{} {}/{}, excess per RTT {:?}",
            protocol.id(),
            run.page_time,
            link.stamping,
            link.stamping_note,
            link.uplink.stamped_kernel,
            link.uplink.stamped_reader,
            link.downlink.stamped_kernel,
            link.downlink.stamped_reader,
            link.excess_per_rtt
        );
    }
    Some((scenario, runs))
}

/// The median of runs sorted by page time (the lower middle, as the reports pick).
fn median(runs: &[RunRecord]) -> &RunRecord {
    &runs[(runs.len() - 1) / 2]
}

/// The least of `measure` over `runs`.
fn least(runs: &[RunRecord], measure: impl Fn(&RunRecord) -> Duration) -> Duration {
    runs.iter().map(measure).min().expect("at least one run")
}

const ONE_SMALL: &str = "[[resource]]\npath = \"/small\"\nsize = \"1kb\"\nthink = \"10ms\"\n";

/// The least of `measure` over `REPETITIONS` runs of `protocol` on plain loopback, one lab at a
/// time: what the same work costs this machine without a network, a physical duration that noise
/// only adds to.
async fn on_loopback(
    toml: &str,
    protocol: Protocol,
    measure: impl Fn(&RunRecord) -> Duration,
) -> Duration {
    let _turn = ONE_AT_A_TIME.lock().await;
    let lab = Lab::start(
        Arc::new(inline_scenario(toml)),
        LabOptions {
            certs_dir: temp_dir("certs"),
            link: LinkMode::Off,
            ..LabOptions::default()
        },
    )
    .await
    .expect("lab starts");
    let mut times = Vec::new();
    for repetition in 0..REPETITIONS {
        times.push(measure(&lab.run(protocol, repetition).await.expect("run")));
    }
    lab.shutdown().await;
    times.into_iter().min().expect("at least one repetition")
}

fn tls_handshake(run: &RunRecord) -> Duration {
    run.connections[0].tls.as_ref().expect("TLS").handshake
}

/// The TLS handshake's own cost on this machine (both ends' crypto, no link): the least of
/// its repetitions.
async fn loopback_handshake(toml: &str) -> Duration {
    on_loopback(toml, Protocol::Http10, tls_handshake).await
}

/// Checks a duration of `round_trips` round trips, the least of its repetitions at [`RTT_MS`]
/// (`short`), against `on_loopback`, the same work's own cost:
/// - it is not under its round trips, since the link never delivers before the model's
///   deadline (a measured fact alone, nothing subtracted);
/// - beyond loopback and the model, it is at most [`MACHINE_PER_RTT`] a round trip.
///
/// With `long`, its least at [`LONG_RTT_MS`], the longer link must also add the model's
/// difference, within [`SLOPE_PER_RTT`] a round trip.
fn costs_its_round_trips(
    what: &str,
    round_trips: u32,
    short: Duration,
    long: Option<Duration>,
    on_loopback: Duration,
) {
    let (rtt, long_rtt) = (ms(RTT_MS), ms(LONG_RTT_MS));
    let beyond = short.saturating_sub(on_loopback + round_trips * rtt);
    eprintln!(
        "{what}: {short:?} at {RTT_MS} ms, {long:?} at {LONG_RTT_MS} ms, {on_loopback:?} on \
         loopback (least of each): {:.3} ms a round trip beyond the model and loopback",
        beyond.as_secs_f64() * 1e3 / f64::from(round_trips)
    );
    for (took, rtt) in [(Some(short), rtt), (long, long_rtt)] {
        let Some(took) = took else { continue };
        assert!(
            took >= round_trips * rtt,
            "{what}: {took:?}, under the model's {round_trips} × {rtt:?}"
        );
    }
    if let Some(long) = long {
        let added = long.as_secs_f64() - short.as_secs_f64();
        let want = f64::from(round_trips) * (long_rtt - rtt).as_secs_f64();
        let tolerance = f64::from(round_trips) * SLOPE_PER_RTT.as_secs_f64();
        assert!(
            (added - want).abs() <= tolerance,
            "{what}: {long:?} at {LONG_RTT_MS} ms less {short:?} at {RTT_MS} ms is {:.3} ms, \
             want {:.3} ± {:.3} ms",
            added * 1e3,
            want * 1e3,
            tolerance * 1e3
        );
    }
    assert!(
        beyond <= round_trips * MACHINE_PER_RTT,
        "{what}: {short:?} on the link is {beyond:?} beyond {on_loopback:?} on loopback and \
         {round_trips} × {rtt:?}, want at most {:?}",
        round_trips * MACHINE_PER_RTT
    );
}

/// Runs `protocol` over `toml` at both RTTs; `None` after a SKIP line where the link cannot
/// run.
async fn at_both_rtts(test: &str, toml: &str, protocol: Protocol) -> Option<[Vec<RunRecord>; 2]> {
    let (_, short) = run_on_link(test, toml, protocol, RTT_MS).await?;
    let (_, long) = run_on_link(test, toml, protocol, LONG_RTT_MS)
        .await
        .expect("the link ran a moment ago");
    Some([short, long])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_connect_and_tls_handshakes_cost_their_round_trips() {
    let tcp_connect = |r: &RunRecord| r.connections[0].tcp_connect;
    let tls13 = format!("name = \"t\"\n[client]\ntls = true\ntls_version = \"1.3\"\n{ONE_SMALL}");
    let Some([short, long]) = at_both_rtts("handshakes", &tls13, Protocol::Http10).await else {
        return;
    };
    // A connect's own work on loopback is a few microseconds; it is counted as none.
    costs_its_round_trips(
        "TCP connect",
        1,
        least(&short, tcp_connect),
        Some(least(&long, tcp_connect)),
        Duration::ZERO,
    );
    // The link adds the handshake's round trips; the crypto itself (about a millisecond on
    // this 2-core machine, both ends together) is measured on loopback and set aside. Its
    // noise is the machine's (see MACHINE_PER_RTT), so the two RTTs are not compared.
    costs_its_round_trips(
        "TLS 1.3 full handshake",
        1,
        least(&short, tls_handshake),
        None,
        loopback_handshake(&tls13).await,
    );

    let tls12 = tls13.replace("\"1.3\"", "\"1.2\"");
    let (_, short) = run_on_link("handshakes", &tls12, Protocol::Http10, RTT_MS)
        .await
        .expect("the link ran a moment ago");
    costs_its_round_trips(
        "TLS 1.2 full handshake",
        2,
        least(&short, tls_handshake),
        None,
        loopback_handshake(&tls12).await,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cold_small_http10_get_is_two_round_trips_plus_think() {
    let toml = format!("name = \"cold\"\n[client]\ntls = false\n{ONE_SMALL}");
    let Some([short, long]) = at_both_rtts("cold-get", &toml, Protocol::Http10).await else {
        return;
    };
    let cold_get = |run: &RunRecord| {
        let r = &run.requests[0];
        r.ended_at() - r.issued_at
    };
    // On loopback the same GET costs its think time and this machine's own work.
    let on_loopback = on_loopback(&toml, Protocol::Http10, cold_get).await;
    assert!(
        on_loopback >= ms(10),
        "the think time is kept: {on_loopback:?}"
    );
    costs_its_round_trips(
        "cold GET",
        2,
        least(&short, cold_get),
        Some(least(&long, cold_get)),
        on_loopback,
    );
    let page = |run: &RunRecord| run.page_time;
    costs_its_round_trips(
        "page",
        2,
        least(&short, page),
        Some(least(&long, page)),
        on_loopback,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_of_small_objects_match_the_analytical_model() {
    // 20 objects of 3 KB, 5 ms think, TLS 1.3, 6 connections per host.
    let toml = "name = \"page\"\n[client]\ntls = true\ntls_version = \"1.3\"\n\
                max_connections_per_host = 6\n\
                [[resource]]\npath = \"/o/{i}\"\ncount = 20\nsize = \"3kb\"\nthink = \"5ms\"\n";
    for protocol in [Protocol::Http10, Protocol::Http11, Protocol::H2] {
        let Some((scenario, runs)) = run_on_link("model", toml, protocol, RTT_MS).await else {
            return;
        };
        assert_matches_model(&scenario, &runs, toml, protocol, protocol.id()).await;
    }
}

/// Twelve responses smaller than one segment, ready at once, at a short and a long RTT, written
/// packed and per-frame: the model counts the segments as the server writes them (packed, five
/// segments in the first flight; per-frame, a segment each, and with the three control
/// segments only seven fit the initial window, so the rest wait a round trip), and each
/// median page matches it within 3% beside the machine's own work on loopback, as the page
/// test above. HTTP/1.1 is checked at the long RTT only: its six TLS handshakes at once cost
/// this machine's endpoints about 0.6 ms per round trip beyond loopback (measured +2.6% and
/// +2.9% of a 100 ms page at 20 ms), too close to 3% to hold on every machine of the kind.
#[tokio::test]
async fn small_responses_match_the_segment_counting_model_packed_and_per_frame() {
    for rtt_ms in [20, 200] {
        let configs: &[(Protocol, &str)] = if rtt_ms == 200 {
            &[
                (Protocol::H2, "packed"),
                (Protocol::H2, "per-frame"),
                (Protocol::Http11, "packed"),
            ]
        } else {
            &[(Protocol::H2, "packed"), (Protocol::H2, "per-frame")]
        };
        for &(protocol, write) in configs {
            let toml = format!(
                "name = \"small\"\n[client]\ntls = true\ntls_version = \"1.3\"\n\
                 max_connections_per_host = 6\nwrite = \"{write}\"\n\
                 [server]\nwrite = \"{write}\"\n\
                 [[resource]]\npath = \"/o/{{i}}\"\ncount = 12\nsize = \"500b\"\nthink = \"10ms\"\n"
            );
            let Some((scenario, runs)) = run_on_link("small", &toml, protocol, rtt_ms).await else {
                return;
            };
            let what = format!("{} {write} at {rtt_ms} ms", protocol.id());
            assert_matches_model(&scenario, &runs, &toml, protocol, &what).await;
        }
    }
}

/// The median of `runs` against the analytical model, within 3%. The model counts round trips,
/// segments and think time, not the machine's own work (TLS crypto, the client and server
/// code): that is measured on plain loopback, where the model predicts the think times alone,
/// and added to the prediction. What is left to compare is what the link adds.
async fn assert_matches_model(
    scenario: &Scenario,
    runs: &[RunRecord],
    toml: &str,
    protocol: Protocol,
    what: &str,
) {
    let run = median(runs);
    let page = PageModel::of_run(scenario, run).expect("the model holds here");
    let model = |page: &PageModel| {
        predict(protocol, page)
            .expect("the model covers it")
            .page_time()
    };
    let predicted = model(&page);
    let at_zero = model(&PageModel {
        rtt: Duration::ZERO,
        ..page.clone()
    });
    let loopback = loopback_page(toml, protocol).await;
    let machine = loopback.saturating_sub(at_zero);
    let expected = predicted + machine;
    let off = run.page_time.as_secs_f64() / expected.as_secs_f64() - 1.0;
    eprintln!(
        "{what}: measured {:?}; model {predicted:?} + this machine's own work {machine:?} \
         (loopback {loopback:?}) = {expected:?} ({:+.1}%)",
        run.page_time,
        off * 100.0
    );
    assert!(
        off.abs() <= 0.03,
        "{what}: measured {:?} against the model's {predicted:?} + {machine:?}",
        run.page_time
    );
}

/// The least page time of `protocol` over the scenario `toml` on plain loopback: the machine's
/// own work for the page, which noise only adds to.
async fn loopback_page(toml: &str, protocol: Protocol) -> Duration {
    on_loopback(toml, protocol, |run| run.page_time).await
}
