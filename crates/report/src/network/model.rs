//! The analytical model beside the measurements, a line per configuration: on a loss-free
//! link the page time the model predicts and its flights per connection, against the measured
//! median and the flights the wire saw in the median run; on a lossy link Mathis's estimate,
//! said as an estimate so it is never read as the loss-free check; under a congestion control
//! that is not the model's loss-based slow start (bbr), that the model does not apply.
//!
//! It owns the wording and the reading of the wire's rounds as flights (`httplab_core::
//! tcp_trace::WireRound`: those the server sent once the client's handshakes ended). It
//! computes no prediction (`httplab_core::analytical` does) and measures nothing.

use crate::summary::{median_run, ProtocolSummary};
use httplab_core::analytical::{
    follows_slow_start, predict, PageModel, Prediction, INITIAL_WINDOW_SEGMENTS,
    SLOW_START_CONGESTION_CONTROLS,
};
use httplab_core::units::{format_duration, format_rate};
use httplab_core::{RunRecord, Scenario};
use std::time::Duration;

/// Per configuration, the analytical model's page time beside the measured median, where the
/// model holds (an emulated link, without jitter, with ample bandwidth or loss): predicted on a
/// loss-free link, with its flights and the wire's, estimated under loss; and, for the
/// configurations whose sockets used a congestion control other than the model's slow start
/// (bbr), one line per such algorithm saying the model does not apply, instead of a distance
/// from it.
pub(crate) fn model_lines(
    scenario: &Scenario,
    runs: &[RunRecord],
    summaries: &[ProtocolSummary],
    real_path: bool,
) -> Vec<String> {
    let mut lines = Vec::new();
    // (congestion control, the labels that ran it), in order of appearance.
    let mut not_modelled: Vec<(&str, Vec<&str>)> = Vec::new();
    for s in summaries {
        // A run on the link, or on a real path (`real_path`): not one on plain loopback.
        let Some(run) = median_run(runs, s).filter(|r| r.link.is_some() || real_path) else {
            continue;
        };
        if let Some(cc) = run
            .congestion_control_used()
            .filter(|cc| !follows_slow_start(cc))
        {
            match not_modelled.iter_mut().find(|(c, _)| *c == cc) {
                Some((_, labels)) => labels.push(&s.label),
                None => not_modelled.push((cc, vec![&s.label])),
            }
            continue;
        }
        // A client variant (a browser profile, a TLS version) has its own client settings.
        let variant = run
            .client_variant
            .as_deref()
            .and_then(|label| scenario.variant(label));
        let Some(page) = PageModel::of_run(variant.as_ref().unwrap_or(scenario), run) else {
            continue;
        };
        let Some(prediction) = predict(s.protocol, &page) else {
            continue;
        };
        lines.push(model_line(
            &s.label,
            &prediction,
            s.page_time_median,
            wire_flights(run),
        ));
    }
    for (cc, labels) in not_modelled {
        lines.push(format!(
            "{}: the model does not apply, since these runs used TCP congestion control {cc} \
             and the model assumes loss-based slow start from an initial window of {} segments \
             ({}); leave `congestion_control` at the lab's default, cubic, to compare with it",
            labels.join(", "),
            INITIAL_WINDOW_SEGMENTS,
            SLOW_START_CONGESTION_CONTROLS.join(" or "),
        ));
    }
    lines
}

/// One configuration's line. `measured`: the median page time; `wire`: the median run's
/// flights per connection, where the link traced them.
fn model_line(
    label: &str,
    prediction: &Prediction,
    measured: Duration,
    wire: Option<Vec<Vec<u64>>>,
) -> String {
    let median = format!(
        "measured median {} ({:+.1}%)",
        format_duration(measured),
        (measured.as_secs_f64() / prediction.page_time().as_secs_f64() - 1.0) * 100.0
    );
    match prediction {
        Prediction::Exact {
            page_time,
            connections,
        } => {
            let predicted: Vec<Vec<u64>> = connections
                .iter()
                .map(|c| c.iter().map(|f| f.segments).collect())
                .collect();
            let mut line = format!(
                "{label}: the model predicts {} {} {}; {median}",
                format_duration(*page_time),
                if predicted.len() == 1 { "in" } else { "over" },
                flights_phrase(&predicted)
            );
            if let Some(wire) = wire.filter(|w| !w.is_empty()) {
                line.push_str(", ");
                line.push_str(&flights_phrase(&wire));
            }
            line
        }
        Prediction::Estimate {
            page_time,
            loss,
            connections,
            connection_bps,
            bps,
            capped,
        } => {
            let rate = |b: f64| format_rate(b.round() as u64);
            let carried = match (connections, capped) {
                (1, _) => format!("1 connection of about {}", rate(*connection_bps)),
                (n, false) => format!(
                    "{n} connections of about {} each, {} in all",
                    rate(*connection_bps),
                    rate(*bps)
                ),
                (n, true) => format!(
                    "{n} connections of about {} each, capped at the link's {}",
                    rate(*connection_bps),
                    rate(*bps)
                ),
            };
            format!(
                "{label}: the model estimates (Mathis, under {} loss) {}: {carried}; {median}",
                percent(*loss),
                format_duration(*page_time),
            )
        }
    }
}

/// The flights the server sent on each of the run's connections once the client's handshakes
/// ended (the server's handshake flights left out) and before the last response on it was read
/// (the closing alerts left out), segments per flight, as the link traced them; `None` without
/// a trace or a traced connection of the run.
fn wire_flights(run: &RunRecord) -> Option<Vec<Vec<u64>>> {
    let wire = run.wire.as_ref()?;
    let flights: Vec<Vec<u64>> = run
        .connections
        .iter()
        .filter_map(|c| {
            // The client's handshakes ended: the server's own handshake flights left before,
            // its first flight after them (control segments, responses) after.
            let ready = c.opened_at
                + c.tcp_connect
                + c.tls.as_ref().map_or(Duration::ZERO, |t| t.handshake);
            // Its last response's last byte was read: what the server sent later is its close.
            let done = run
                .requests
                .iter()
                .filter(|r| r.connection == Some(c.id))
                .map(|r| r.ended_at())
                .max()?;
            // A port reused across runs: the connection whose handshake the trace saw.
            let mine = |w: &&httplab_core::tcp_trace::WireConnection| w.client == c.local_addr;
            let w = wire
                .connections
                .iter()
                .filter(mine)
                .find(|w| w.handshake.syn_at.is_some())
                .or_else(|| wire.connections.iter().find(mine))?;
            Some(
                w.server_to_client
                    .rounds
                    .iter()
                    .filter(|round| round.last_sent_at >= ready && round.first_sent_at < done)
                    .map(|round| round.segments)
                    .collect(),
            )
        })
        .collect();
    (!flights.is_empty()).then_some(flights)
}

/// Flights per connection in words: one connection's flights with their segments ("2 flights
/// of 5 and 3 segments"), several connections' flight counts ("6 connections of 3, 3, 2, 2, 2
/// and 2 flights"; beyond six, grouped: "13 connections: 1 of 2 flights, 12 of 1 flight").
fn flights_phrase(connections: &[Vec<u64>]) -> String {
    let plural = |n: usize| if n == 1 { "flight" } else { "flights" };
    if let [one] = connections {
        let shown: Vec<String> = one.iter().take(8).map(u64::to_string).collect();
        let segments = if one.len() > shown.len() {
            format!("{}, …", shown.join(", "))
        } else {
            and_list(&shown)
        };
        return match one.len() {
            0 => "no flights".into(),
            n => format!("{n} {} of {segments} segments", plural(n)),
        };
    }
    let mut counts: Vec<usize> = connections.iter().map(Vec::len).collect();
    counts.sort_unstable_by(|a, b| b.cmp(a));
    let k = counts.len();
    match (counts.first(), counts.last()) {
        (Some(&most), Some(&least)) if most == least => {
            format!("{k} connections of {most} {} each", plural(most))
        }
        _ if k <= 6 => {
            let shown: Vec<String> = counts.iter().map(usize::to_string).collect();
            format!("{k} connections of {} flights", and_list(&shown))
        }
        _ => {
            let mut groups: Vec<(usize, usize)> = Vec::new();
            for n in counts {
                match groups.last_mut() {
                    Some((flights, conns)) if *flights == n => *conns += 1,
                    _ => groups.push((n, 1)),
                }
            }
            let groups: Vec<String> = groups
                .iter()
                .map(|(flights, conns)| format!("{conns} of {flights} {}", plural(*flights)))
                .collect();
            format!("{k} connections: {}", groups.join(", "))
        }
    }
}

/// "a", "a and b", "a, b and c".
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// A probability as a percentage, without trailing zeros: 0.02 → "2%", 0.005 → "0.5%".
fn percent(p: f64) -> String {
    let text = format!("{:.2}", p * 100.0);
    format!("{}%", text.trim_end_matches('0').trim_end_matches('.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{scenario, RunBuilder};
    use crate::network::tests::{link, runs};
    use httplab_core::tcp_trace::{
        WireConnection, WireDirection, WireHandshake, WireOutcome, WireRound, WireTrace,
    };

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// The fixture's scenario on an emulated link: `network` is the `[network]` table's body.
    fn on_link(network: &str) -> Scenario {
        let mut s = scenario();
        s.network = Scenario::parse(
            &format!("name = \"n\"\n[[resource]]\npath = \"/a\"\n[network]\n{network}"),
            "n.toml",
        )
        .expect("valid")
        .network;
        s
    }

    /// A traced connection from `client` whose server sent flights of `segments`, the first at
    /// 10 ms and one every 40 ms, after its handshake flight at 2 ms (before the client's
    /// handshakes ended, at 4.75 ms).
    fn traced(client: &str, handshake_seen: bool, segments: &[u64]) -> WireConnection {
        let round = |index: u64, at: Duration, segments: u64| WireRound {
            index,
            first_sent_at: at,
            last_sent_at: at + Duration::from_micros(100),
            start: 0,
            end: 0,
            segments,
            bytes: segments * 1448,
        };
        let rounds: Vec<WireRound> = std::iter::once(round(1, ms(2), 4))
            .chain(
                segments
                    .iter()
                    .enumerate()
                    .map(|(i, n)| round(i as u64 + 2, ms(10 + 40 * i as u64), *n)),
            )
            .collect();
        WireConnection {
            client: client.into(),
            server: "10.0.0.2:8443".into(),
            first_packet_at: ms(1),
            last_packet_at: ms(300),
            handshake: WireHandshake {
                syn_at: handshake_seen.then(|| ms(1)),
                ..WireHandshake::default()
            },
            outcome: WireOutcome::Open,
            notes: Vec::new(),
            client_to_server: WireDirection::default(),
            server_to_client: WireDirection {
                round_count: rounds.len() as u64,
                rounds,
                ..WireDirection::default()
            },
        }
    }

    fn traced_runs(mut runs: Vec<RunRecord>, connections: &[WireConnection]) -> Vec<RunRecord> {
        for run in &mut runs {
            // The fixture's responses end after the traced flights (which end by 300 ms).
            for r in &mut run.requests {
                r.phases.wait += ms(300);
            }
            run.link = Some(link(80, 0));
            run.wire = Some(WireTrace {
                connections: connections.to_vec(),
                ..WireTrace::default()
            });
        }
        runs
    }

    #[test]
    fn a_loss_free_line_sets_the_predicted_flights_beside_the_traced_ones() {
        // The fixture's page (a 2 kB index and three 14 kB images, heads of 96 B, T = 1 ms,
        // 2 connections, TLS 1.3) at R = 40 ms: requests on a new connection reach the server
        // at 100 ms, beside a ticket (1 control segment) over HTTP/1.1.
        let s = on_link("rtt = \"40ms\"\n");
        // HTTP/1.1: the index (2,118 B: 2 segments) arrives at 121 ms and its connection's
        // second image, 10 segments written at 142 ms, at 162; the first image (10 segments,
        // 9 beside the ticket, the 10th when the ticket is acknowledged at 140 ms) at 160 ms,
        // and the last, written on that connection at 181 ms, at 201 ms. Flights: 3 and 10 on
        // one connection, 10, 1 and 10 on the other.
        let h1 = traced_runs(
            (0..3).map(|i| RunBuilder::http11(i, 200).build()).collect(),
            &[
                // The previous run's connection on the same port, still closing: not this one.
                traced("10.0.0.1:40000", false, &[99]),
                traced("10.0.0.1:40000", true, &[3, 10]),
                traced("10.0.0.1:40001", true, &[10, 1, 10]),
            ],
        );
        let lines = model_lines(&s, &h1, &crate::summarize(&h1), false);
        assert_eq!(
            lines,
            [
                "http1.1: the model predicts 201.0ms over 2 connections of 3 and 2 flights; \
              measured median 200.0ms (-0.5%), 2 connections of 3 and 2 flights"
            ]
        );
        // h2: one write of 44,456 B of frames in 3 records, 44,522 B: 31 segments beside 3
        // control ones. 7 leave at 101 ms, 6 at 140 (control acknowledged), 14 at 141 and the
        // last 4 at 180 ms: they arrive at 200 ms.
        let mut h2 = traced_runs(
            (0..3).map(|i| RunBuilder::h2(i, 210).build()).collect(),
            &[traced("10.0.0.1:40000", true, &[10, 20, 5])],
        );
        let lines = model_lines(&s, &h2, &crate::summarize(&h2), false);
        let predicted = "h2: the model predicts 200.0ms in 3 flights of 10, 20 and 4 segments; \
                         measured median 210.0ms (+5.0%)";
        assert_eq!(
            lines,
            [format!("{predicted}, 3 flights of 10, 20 and 5 segments")]
        );
        // Without a trace, the prediction alone.
        for run in &mut h2 {
            run.wire = None;
        }
        assert_eq!(
            model_lines(&s, &h2, &crate::summarize(&h2), false),
            [predicted]
        );
    }

    #[test]
    fn under_loss_the_line_is_an_estimate() {
        // R = 60 ms, 2% loss: one connection about 1,665,529 bit/s (Mathis), the fixture's 2
        // connections 3.33 Mbit/s, under the link's 10. The busiest connection carries 2
        // requests: H + 2R + 2T = 242 ms; the page's 44,472 B (with their records) take
        // 106.8 ms at 3.33 Mbit/s: 348.8 ms.
        let s = on_link("rtt = \"60ms\"\nloss = \"2%\"\nbandwidth = \"10mbit\"\n");
        let h1 = traced_runs(
            (0..3).map(|i| RunBuilder::http11(i, 200).build()).collect(),
            &[traced("10.0.0.1:40000", true, &[3])],
        );
        let lines = model_lines(&s, &h1, &crate::summarize(&h1), false);
        let estimate = "http1.1: the model estimates (Mathis, under 2% loss) 348.8ms: 2 \
                        connections of about 1.67 Mbit/s each, 3.33 Mbit/s in all; measured \
                        median 200.0ms (-42.7%)";
        assert_eq!(lines, [estimate]);
        let md = crate::markdown(&crate::Analysis::new(
            &s,
            &h1,
            &crate::Environment::default(),
        ));
        assert!(md.contains(&format!("- {estimate}")), "{md}");
        assert!(!md.contains("the model predicts"), "{md}");
    }

    #[test]
    fn flights_in_words() {
        assert_eq!(flights_phrase(&[vec![8]]), "1 flight of 8 segments");
        assert_eq!(
            flights_phrase(&[vec![5, 3]]),
            "2 flights of 5 and 3 segments"
        );
        assert_eq!(
            flights_phrase(&[vec![10, 20, 40, 80, 160, 320, 640, 1280, 2560]]),
            "9 flights of 10, 20, 40, 80, 160, 320, 640, 1280, … segments"
        );
        assert_eq!(flights_phrase(&[vec![]]), "no flights");
        assert_eq!(
            flights_phrase(&vec![vec![7]; 13]),
            "13 connections of 1 flight each"
        );
        assert_eq!(
            flights_phrase(&[vec![7, 6], vec![10, 1, 6], vec![7, 6]]),
            "3 connections of 3, 2 and 2 flights"
        );
        let mut http10 = vec![vec![7]; 12];
        http10.insert(0, vec![10, 1]);
        assert_eq!(
            flights_phrase(&http10),
            "13 connections: 1 of 2 flights, 12 of 1 flight"
        );
        assert_eq!(percent(0.02), "2%");
        assert_eq!(percent(0.005), "0.5%");
        assert_eq!(percent(0.1), "10%");
    }
    #[test]
    fn the_model_does_not_apply_under_bbr() {
        let mut s = scenario();
        s.network = Scenario::parse(
            "name = \"n\"\n[[resource]]\npath = \"/a\"\n[network]\nrtt = \"40ms\"\n",
            "n.toml",
        )
        .expect("valid")
        .network;
        let cubic = runs(&[link(80, 0), link(90, 0), link(100, 0)]);
        let lines = model_lines(&s, &cubic, &crate::summarize(&cubic), false);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].starts_with("http1.1: the model predicts "),
            "{lines:?}"
        );

        let mut bbr = cubic.clone();
        for run in &mut bbr {
            run.congestion_control = "bbr".into();
            if let Some(link) = run.link.as_mut() {
                link.congestion_control = "bbr".into();
            }
        }
        let lines = model_lines(&s, &bbr, &crate::summarize(&bbr), false);
        let plainly = "http1.1: the model does not apply, since these runs used TCP congestion \
                       control bbr and the model assumes loss-based slow start from an initial \
                       window of 10 segments (cubic or reno)";
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].starts_with(plainly), "{lines:?}");
        // No distance from a model that does not hold, in either report.
        let md = crate::markdown(&crate::Analysis::new(
            &s,
            &bbr,
            &crate::Environment::default(),
        ));
        assert!(md.contains(&format!("- {plainly}")), "{md}");
        assert!(!md.contains("the model predicts"), "{md}");
        let html = crate::html::html(&crate::Analysis::new(
            &s,
            &bbr,
            &crate::Environment::default(),
        ));
        assert!(html.contains(plainly), "{html}");
        assert!(!html.contains("the model predicts"));

        // A record from before runs kept their congestion control: the link's says it.
        for run in &mut bbr {
            run.congestion_control.clear();
        }
        let lines = model_lines(&s, &bbr, &crate::summarize(&bbr), false);
        assert!(lines[0].starts_with(plainly), "{lines:?}");
    }
}
