//! The network a run crossed, in words every output shares: the emulated link's settings or
//! "plain loopback" (and why), the link's self-check (a run whose relay was late or lost packets
//! itself is untrustworthy, and every output says so), the TCP congestion control the runs'
//! sockets used, and (`model.rs`) the analytical model beside each configuration's measured
//! page time. It formats what the records say; it measures nothing.

mod model;

use crate::Environment;
use httplab_core::units::{format_duration, format_rate, format_size};
use httplab_core::{LossModel, RunRecord, Scenario};
pub(crate) use model::model_lines;
use std::fmt::Write;

/// The network in one sentence: a real path and its measured round trip, the link's settings,
/// or loopback and why.
pub(crate) fn network_sentence(
    scenario: &Scenario,
    runs: &[RunRecord],
    env: &Environment,
) -> String {
    if let Some(real) = &env.real_network {
        return format!(
            "real network to {} ({}), no emulated link: path RTT {}, the least of {} TCP \
             connects; the analytical model is set at that RTT",
            real.target,
            real.addr,
            format_duration(real.path_rtt()),
            real.probes
        );
    }
    let notes = &env.notes;
    let emulated = runs.iter().any(|r| r.link.is_some());
    let Some(net) = scenario.network.as_ref().filter(|_| emulated) else {
        let why = notes
            .iter()
            .find(|n| n.contains("loopback"))
            .cloned()
            .unwrap_or_else(|| {
                if scenario.network.is_some() {
                    "the scenario's [network] table was not emulated".into()
                } else {
                    "the scenario has no [network] table".into()
                }
            });
        let cc = runs
            .iter()
            .find_map(|r| r.congestion_control_used())
            .map(|cc| format!("; TCP congestion control {cc}"))
            .unwrap_or_default();
        return format!(
            "plain loopback, no emulated link ({why}): round trips cost microseconds, so \
             handshakes and queueing look cheaper than on any real network{cc}"
        );
    };
    let mut s = format!("emulated link: RTT {}", format_duration(net.rtt));
    match (net.bandwidth, net.uplink) {
        (None, None) => s.push_str(", bandwidth unlimited"),
        (down, up) => {
            let rate = |r: Option<u64>| r.map_or("unlimited".to_string(), format_rate);
            let _ = write!(s, ", {} down, {} up", rate(down), rate(up.or(down)));
        }
    }
    if net.loss > 0.0 {
        let _ = write!(s, ", {:.2}% loss each way", net.loss * 100.0);
        if let LossModel::GilbertElliott { burst } = net.loss_model {
            let _ = write!(s, " in bursts of {burst:.1} packets on average");
        }
    } else {
        s.push_str(", no loss");
    }
    if !net.jitter.is_zero() {
        let _ = write!(s, ", jitter up to {}", format_duration(net.jitter));
    }
    if let Some(q) = net.downlink_queue {
        let _ = write!(s, ", {} drop-tail queue", format_size(q));
    }
    if let Some(link) = runs.iter().find_map(|r| r.link.as_ref()) {
        let _ = write!(
            s,
            "; TCP congestion control {}, slow start after idle {}",
            link.congestion_control,
            if link.slow_start_after_idle {
                "on"
            } else {
                "off"
            }
        );
    }
    s
}

/// The link's self-check over all runs: `None` without a link.
pub(crate) fn link_check(runs: &[RunRecord]) -> Option<LinkCheck> {
    let linked: Vec<_> = runs.iter().filter_map(|r| r.link.as_ref()).collect();
    if linked.is_empty() {
        return None;
    }
    let untrustworthy = linked.iter().filter(|l| !l.trustworthy).count();
    let p99 = linked
        .iter()
        .flat_map(|l| [l.uplink.lateness_p99, l.downlink.lateness_p99])
        .max()
        .unwrap_or_default();
    let tun_drops = linked
        .iter()
        .map(|l| l.uplink.drops_tun + l.downlink.drops_tun)
        .sum();
    let model_drops = linked
        .iter()
        .map(|l| {
            l.uplink.drops_loss
                + l.downlink.drops_loss
                + l.uplink.drops_queue
                + l.downlink.drops_queue
        })
        .sum();
    let fault = linked.iter().find_map(|l| l.fault.clone());
    let mut excess: Vec<_> = linked
        .iter()
        .filter_map(|l| l.excess_per_rtt.map(|e| e.median))
        .collect();
    excess.sort();
    let handshakes = linked
        .iter()
        .filter_map(|l| l.excess_per_rtt.map(|e| e.handshakes))
        .sum();
    let read_stamped: Vec<_> = linked.iter().filter(|l| l.stamping == "reader").collect();
    Some(LinkCheck {
        runs: linked.len(),
        untrustworthy,
        worst_p99: p99,
        tun_drops,
        model_drops,
        fault,
        excess_median: excess.get(excess.len().saturating_sub(1) / 2).copied(),
        excess_worst: excess.last().copied(),
        handshakes,
        read_stamped: read_stamped.len(),
        stamping_note: read_stamped.iter().find_map(|l| l.stamping_note.clone()),
    })
}

/// What the link's self-check found.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LinkCheck {
    pub runs: usize,
    pub untrustworthy: usize,
    pub worst_p99: std::time::Duration,
    pub tun_drops: u64,
    /// Drops the scenario asked for (loss model, full queue).
    pub model_drops: u64,
    pub fault: Option<String>,
    /// The runs' median handshake excess over the model's round trip: the median run's, and
    /// the worst run's; `None` when no run timed a handshake.
    pub excess_median: Option<std::time::Duration>,
    pub excess_worst: Option<std::time::Duration>,
    /// Handshakes timed over all runs.
    pub handshakes: u64,
    /// Runs whose packets were (some or all) stamped when the relay read them.
    pub read_stamped: usize,
    pub stamping_note: Option<String>,
}

impl LinkCheck {
    pub(crate) fn trustworthy(&self) -> bool {
        self.untrustworthy == 0
    }

    /// The verdict in one sentence.
    pub(crate) fn sentence(&self) -> String {
        let excess = match (self.excess_median, self.excess_worst) {
            (Some(median), Some(worst)) => format!(
                "the link's excess per round trip {} (worst run {}, from {} TCP handshake{}), ",
                format_duration(median),
                format_duration(worst),
                self.handshakes,
                if self.handshakes == 1 { "" } else { "s" }
            ),
            _ => "no TCP handshake timed for the link's excess per round trip, ".into(),
        };
        let stamping = match (self.read_stamped, &self.stamping_note) {
            (0, _) => "packets stamped by the kernel".to_string(),
            (n, note) => format!(
                "packets stamped at the relay's read in {n} run{}{}",
                if n == 1 { "" } else { "s" },
                note.as_ref().map(|w| format!(" ({w})")).unwrap_or_default()
            ),
        };
        let detail = format!(
            "{excess}worst p99 packet lateness {}, {} packet{} lost by the TUN devices, {} \
             dropped as the scenario asked (loss, queue); {stamping}",
            format_duration(self.worst_p99),
            self.tun_drops,
            if self.tun_drops == 1 { "" } else { "s" },
            self.model_drops
        );
        let fault = self
            .fault
            .as_ref()
            .map(|f| format!("; relay fault: {f}"))
            .unwrap_or_default();
        if self.trustworthy() {
            format!(
                "link self-check passed in all {} runs ({detail})",
                self.runs
            )
        } else {
            format!(
                "UNTRUSTWORTHY: the link missed its model in {} of {} runs ({detail}{fault}); \
                 their times include the emulator's own delays — rerun on a quieter machine",
                self.untrustworthy, self.runs
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{scenario, RunBuilder};
    use httplab_core::{LinkDirectionRecord, LinkRecord};
    use std::time::Duration;

    pub(super) fn link(p99_us: u64, tun_drops: u64) -> LinkRecord {
        let dir = LinkDirectionRecord {
            packets: 100,
            bytes: 50_000,
            drops_tun: tun_drops,
            lateness_p99: Duration::from_micros(p99_us),
            ..LinkDirectionRecord::default()
        };
        LinkRecord {
            congestion_control: "cubic".into(),
            slow_start_after_idle: false,
            uplink: dir,
            downlink: dir,
            realtime: true,
            fault: None,
            trustworthy: p99_us <= 500 && tun_drops == 0,
            stamping: "kernel".into(),
            stamping_note: None,
            keep_awake: true,
            excess_per_rtt: Some(httplab_core::LinkExcessRecord {
                handshakes: 2,
                min: Duration::from_micros(40),
                median: Duration::from_micros(60),
                max: Duration::from_micros(80),
            }),
        }
    }

    pub(super) fn runs(links: &[LinkRecord]) -> Vec<RunRecord> {
        links
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let mut run = RunBuilder::http11(i as u32, 200).build();
                run.link = Some(l.clone());
                run
            })
            .collect()
    }

    #[test]
    fn loopback_says_so_and_why() {
        let s = scenario();
        let plain = runs(&[]);
        let sentence = network_sentence(&s, &plain, &Environment::default());
        assert!(sentence.starts_with("plain loopback"), "{sentence}");
        assert!(sentence.contains("no [network] table"), "{sentence}");
        assert_eq!(link_check(&plain), None);
        // The runs' own congestion control, the lab's choice, not the host's.
        let one = vec![RunBuilder::http11(0, 200).build()];
        let sentence = network_sentence(&s, &one, &Environment::default());
        assert!(
            sentence.ends_with("; TCP congestion control cubic"),
            "{sentence}"
        );
    }

    #[test]
    fn the_link_settings_and_its_self_check() {
        let mut s = scenario();
        let with_net = Scenario::parse(
            "name = \"n\"\n[[resource]]\npath = \"/a\"\nsize = \"1kb\"\n\
             [network]\nrtt = \"40ms\"\nbandwidth = \"20mbit\"\n",
            "n.toml",
        )
        .expect("valid");
        s.network = with_net.network;
        let good = runs(&[link(80, 0), link(120, 0)]);
        let sentence = network_sentence(&s, &good, &Environment::default());
        assert!(sentence.starts_with("emulated link: RTT 40"), "{sentence}");
        assert!(sentence.contains("20"), "{sentence}");
        assert!(sentence.contains("congestion control cubic"), "{sentence}");
        let check = link_check(&good).expect("linked runs");
        assert!(check.trustworthy());
        assert!(check.sentence().contains("passed in all 2 runs"));

        // One late run and one that lost packets in the TUN device: both untrustworthy.
        let bad = runs(&[link(80, 0), link(900, 0), link(80, 3)]);
        let check = link_check(&bad).expect("linked runs");
        assert_eq!(check.untrustworthy, 2);
        assert_eq!(check.tun_drops, 6);
        let sentence = check.sentence();
        assert!(sentence.starts_with("UNTRUSTWORTHY: "), "{sentence}");
        assert!(sentence.contains("2 of 3 runs"), "{sentence}");
        let md = crate::markdown(&crate::Analysis::new(
            &s,
            &bad,
            &crate::Environment::default(),
        ));
        assert!(md.contains("> **UNTRUSTWORTHY: "), "{md}");
        let html = crate::html::html(&crate::Analysis::new(
            &s,
            &bad,
            &crate::Environment::default(),
        ));
        assert!(html.contains("class=\"untrustworthy\""));
    }

    #[test]
    fn the_self_check_gives_the_excess_per_round_trip_and_the_stamping() {
        let mut slow = link(80, 0);
        slow.excess_per_rtt = Some(httplab_core::LinkExcessRecord {
            handshakes: 13,
            min: Duration::from_micros(200),
            median: Duration::from_micros(400),
            max: Duration::from_micros(900),
        });
        slow.trustworthy = false;
        slow.stamping = "reader".into();
        slow.stamping_note = Some("the host refused a packet tap".into());
        let all = runs(&[link(80, 0), link(80, 0), slow]);
        let check = link_check(&all).expect("linked runs");
        assert_eq!(check.handshakes, 17);
        assert_eq!(check.excess_median, Some(Duration::from_micros(60)));
        assert_eq!(check.excess_worst, Some(Duration::from_micros(400)));
        let sentence = check.sentence();
        assert!(
            sentence.contains("excess per round trip 60us"),
            "{sentence}"
        );
        assert!(sentence.contains("worst run 400us"), "{sentence}");
        assert!(sentence.contains("17 TCP handshakes"), "{sentence}");
        assert!(
            sentence.contains("stamped at the relay's read in 1 run (the host refused"),
            "{sentence}"
        );
        let good = link_check(&runs(&[link(80, 0)])).expect("linked");
        assert!(
            good.sentence().contains("packets stamped by the kernel"),
            "{}",
            good.sentence()
        );
    }
}
