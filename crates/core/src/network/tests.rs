//! Unit tests of the `[network]` table and the congestion control it names.

use super::*;
use crate::Scenario;

/// Parses a scenario whose only interesting part is `network` (the table's body).
fn parse(network: &str) -> Result<NetworkSettings, ScenarioError> {
    let src = format!("name = \"n\"\n[network]\n{network}[[resource]]\npath = \"/a\"\n");
    Scenario::parse(&src, "net.toml").map(|s| s.network.expect("a [network] table"))
}

#[test]
fn absent_table_is_plain_loopback() {
    let s = Scenario::parse("name = \"n\"\n[[resource]]\npath = \"/a\"\n", "n.toml").unwrap();
    assert_eq!(s.network, None);
}

#[test]
fn defaults() {
    let n = parse("rtt = \"40ms\"\n").unwrap();
    assert_eq!(
        n,
        NetworkSettings {
            rtt: Duration::from_millis(40),
            bandwidth: None,
            uplink: None,
            loss: 0.0,
            loss_model: LossModel::Random,
            jitter: Duration::ZERO,
            downlink_queue: None,
            uplink_queue: None,
            seed: DEFAULT_SEED,
            congestion_control: None,
            slow_start_after_idle: None,
        }
    );
    assert_eq!(n.uplink_delay(), Duration::from_millis(20));
    assert_eq!(n.downlink_delay(), Duration::from_millis(20));
    assert_eq!(n.gilbert_elliott(), None);
}

#[test]
fn every_key() {
    let n = parse(
        "rtt = \"50ms\"\nbandwidth = \"20mbit\"\nuplink = \"5mbit\"\nloss = \"2%\"\n\
         loss_model = \"gilbert-elliott\"\nburst = 4\njitter = \"3ms\"\nqueue = \"100kb\"\n\
         seed = 7\ncongestion_control = \"bbr\"\nslow_start_after_idle = false\n",
    )
    .unwrap();
    assert_eq!(n.rtt, Duration::from_millis(50));
    assert_eq!((n.bandwidth, n.uplink), (Some(20_000_000), Some(5_000_000)));
    assert_eq!(n.loss, 0.02);
    assert_eq!(n.loss_model, LossModel::GilbertElliott { burst: 4.0 });
    assert_eq!(n.jitter, Duration::from_millis(3));
    assert_eq!(
        (n.downlink_queue, n.uplink_queue),
        (Some(100_000), Some(100_000))
    );
    assert_eq!(n.seed, 7);
    assert_eq!(n.congestion_control.as_deref(), Some("bbr"));
    assert_eq!(n.slow_start_after_idle, Some(false));
    let (p_gb, p_bg) = n.gilbert_elliott().unwrap();
    assert_eq!(p_bg, 0.25);
    // The chain's stationary loss is the loss asked for.
    assert!((p_gb / (p_gb + p_bg) - 0.02).abs() < 1e-12);
}

#[test]
fn derived_defaults() {
    // Uplink follows bandwidth; queues are one BDP each way, at least 64 KiB.
    let n = parse("rtt = \"100ms\"\nbandwidth = \"20mbit\"\n").unwrap();
    assert_eq!(n.uplink, Some(20_000_000));
    assert_eq!(n.downlink_queue, Some(250_000)); // 20 Mbit/s × 100 ms / 8
    assert_eq!(n.uplink_queue, Some(250_000));
    let n = parse("rtt = \"10ms\"\nbandwidth = \"20mbit\"\nuplink = \"1mbit\"\n").unwrap();
    assert_eq!(n.downlink_queue, Some(MIN_DEFAULT_QUEUE_BYTES));
    assert_eq!(n.uplink_queue, Some(MIN_DEFAULT_QUEUE_BYTES));
    // Only the uplink limited: the downlink stays unlimited and unqueued.
    let n = parse("rtt = \"10ms\"\nuplink = \"1mbit\"\n").unwrap();
    assert_eq!((n.bandwidth, n.downlink_queue), (None, None));
    // A loss number, bursty loss with the default burst, and an odd RTT split exactly.
    let n = parse("rtt = \"41ns\"\nloss = 0.1\nloss_model = \"gilbert-elliott\"\n").unwrap();
    assert_eq!(n.loss, 0.1);
    assert_eq!(
        n.loss_model,
        LossModel::GilbertElliott {
            burst: DEFAULT_BURST
        }
    );
    assert_eq!(n.uplink_delay(), Duration::from_nanos(20));
    assert_eq!(n.downlink_delay(), Duration::from_nanos(21));
    let n = parse("rtt = \"0\"\nloss_model = \"random\"\n").unwrap();
    assert_eq!((n.rtt, n.loss_model), (Duration::ZERO, LossModel::Random));
}

#[test]
fn default_queue_is_a_bdp() {
    assert_eq!(
        default_queue(1_000_000_000, Duration::from_millis(40)),
        5_000_000
    );
    assert_eq!(default_queue(1_000_000, Duration::from_millis(40)), 65_536);
    assert_eq!(default_queue(u64::MAX, Duration::from_secs(10)), u64::MAX);
}

#[test]
fn mistakes_are_located() {
    // (the [network] body, the line of the mistake (the table starts on line 2), column,
    // words the message must hold)
    let cases: &[(&str, usize, usize, &str)] = &[
        ("bandwidth = \"20mbit\"\n", 2, 1, "needs an `rtt`"),
        ("rtt = \"11s\"\n", 3, 7, "at most 10s"),
        ("rtt = \"-5ms\"\n", 3, 7, "not a duration"),
        (
            "rtt = \"40ms\"\nbandwidth = \"20mb\"\n",
            4,
            13,
            "write \"20mbit\"",
        ),
        (
            "rtt = \"40ms\"\nbandwidth = \"0mbit\"\n",
            4,
            13,
            "above zero",
        ),
        ("rtt = \"40ms\"\nuplink = \"0\"\n", 4, 10, "above zero"),
        (
            "rtt = \"40ms\"\nbandwidth = \"200gbit\"\n",
            4,
            13,
            "at most 100gbit",
        ),
        (
            "rtt = \"40ms\"\nloss = \"100%\"\n",
            4,
            8,
            "loss must be below 100%",
        ),
        (
            "rtt = \"40ms\"\nloss = 2\n",
            4,
            8,
            "loss must be below 100%",
        ),
        ("rtt = \"40ms\"\nloss = -0.1\n", 4, 8, "not negative"),
        (
            "rtt = \"40ms\"\nloss = \"2 percent\"\n",
            4,
            8,
            "not a fraction",
        ),
        (
            "rtt = \"40ms\"\nloss_model = \"bursty\"\n",
            4,
            14,
            "unknown variant",
        ),
        (
            "rtt = \"40ms\"\nburst = 3\n",
            4,
            9,
            "loss_model = \"gilbert-elliott\"",
        ),
        (
            "rtt = \"40ms\"\nloss_model = \"gilbert-elliott\"\nburst = 0.5\n",
            5,
            9,
            "at least 1",
        ),
        (
            "rtt = \"40ms\"\nloss_model = \"gilbert-elliott\"\nburst = nan\n",
            5,
            9,
            "at least 1",
        ),
        (
            "rtt = \"40ms\"\nloss = \"60%\"\nloss_model = \"gilbert-elliott\"\nburst = 1\n",
            4,
            8,
            "at most 50.0%",
        ),
        ("rtt = \"40ms\"\njitter = \"1min\"\n", 4, 10, "at most 10s"),
        (
            "rtt = \"40ms\"\nqueue = \"64kb\"\n",
            4,
            9,
            "needs a `bandwidth`",
        ),
        (
            "rtt = \"40ms\"\nbandwidth = \"1mbit\"\nqueue = \"1kb\"\n",
            5,
            9,
            "1500b",
        ),
        (
            "rtt = \"40ms\"\ncongestion_control = \"bbr; rm\"\n",
            4,
            22,
            "kernel algorithm",
        ),
        (
            "rtt = \"40ms\"\ncongestion_control = \"\"\n",
            4,
            22,
            "kernel algorithm",
        ),
        ("rtt = \"40ms\"\nseed = -1\n", 4, 8, "u64"),
        (
            "rtt = \"40ms\"\nslow_start_after_idle = \"no\"\n",
            4,
            25,
            "invalid type",
        ),
        ("rtt = \"40ms\"\ndelay = \"20ms\"\n", 4, 1, "unknown field"),
    ];
    for (body, line, col, words) in cases {
        let e = parse(body).unwrap_err();
        assert_eq!((e.line, e.column), (*line, *col), "{body}: {e}");
        assert!(e.message.contains(words), "{body}: {e}");
        assert!(
            e.to_string()
                .starts_with(&format!("net.toml:{line}:{col}: ")),
            "{e}"
        );
        assert!(e.snippet.contains('^'), "{e}");
    }
}

/// The kernel's list as the link crate reads it on a host with bbr built in and cubic a
/// module.
fn kernel() -> Vec<String> {
    congestion_control_names(
        "reno bbr\n",
        [
            "tcp_cubic.ko.zst",
            "tcp_diag.ko",
            "tcp_htcp.ko",
            "udp_diag.ko",
            "tcp_bbr.ko",
        ],
    )
}

#[test]
fn the_kernels_names_come_from_proc_and_its_modules_each_once() {
    assert_eq!(kernel(), ["reno", "bbr", "cubic", "htcp"]);
    assert_eq!(congestion_control_names("", []), Vec::<String>::new());
    // Not modules, or not names the kernel could hold.
    assert_eq!(
        congestion_control_names("cubic", ["tcp_x.kobj", "tcp_.ko", "tcp_Vegas.ko", "tcp_nv"]),
        ["cubic"]
    );
}

#[test]
fn the_lab_chooses_cubic_on_the_link_and_on_loopback() {
    let loopback =
        Scenario::parse("name = \"n\"\n[[resource]]\npath = \"/a\"\n", "n.toml").unwrap();
    assert_eq!(loopback.congestion_control.name, DEFAULT_CONGESTION_CONTROL);
    assert_eq!(DEFAULT_CONGESTION_CONTROL, "cubic");
    assert!(!loopback.congestion_control.chosen());
    let src =
        |network: &str| format!("name = \"n\"\n[network]\n{network}[[resource]]\npath = \"/a\"\n");
    let linked = Scenario::parse(&src("rtt = \"40ms\"\n"), "n.toml").unwrap();
    assert_eq!(linked.congestion_control.name, "cubic");
    assert_eq!(linked.network.as_ref().unwrap().congestion_control, None);
    let bbr = Scenario::parse(
        &src("rtt = \"40ms\"\ncongestion_control = \"bbr\"\n"),
        "n.toml",
    )
    .unwrap();
    assert_eq!(bbr.congestion_control.name, "bbr");
    assert!(bbr.congestion_control.chosen());
    // Every one of them passes a kernel that has it.
    for s in [&loopback, &linked, &bbr] {
        assert_eq!(s.congestion_control.check(&kernel()), Ok(()));
    }
}

#[test]
fn a_congestion_control_the_kernel_lacks_is_located() {
    // (the scenario, its line and column of the mistake, words the message must hold)
    let cases: &[(&str, usize, usize, &str)] = &[
        (
            "name = \"n\"\n[network]\nrtt = \"40ms\"\ncongestion_control = \"nonexistent\"\n\
             [[resource]]\npath = \"/a\"\n",
            4,
            22,
            "the kernel has no TCP congestion control \"nonexistent\"; available here: \
             reno, bbr, cubic, htcp (net.ipv4.tcp_available_congestion_control",
        ),
        (
            "name = \"n\"\n[network]\nrtt = \"40ms\"\n[[resource]]\npath = \"/a\"\n",
            2,
            1,
            "set `congestion_control` in this [network] table to one of them",
        ),
        (
            "# a page\nname = \"n\"\n[[resource]]\npath = \"/a\"\n",
            1,
            1,
            "add a [network] table",
        ),
    ];
    let no_cubic = congestion_control_names("reno bbr", []);
    for (src, line, col, words) in cases {
        let s = Scenario::parse(src, "cc.toml").unwrap();
        let available = if s.congestion_control.chosen() {
            kernel()
        } else {
            no_cubic.clone()
        };
        let e = s.congestion_control.check(&available).unwrap_err();
        assert_eq!((e.line, e.column), (*line, *col), "{e}");
        assert!(e.message.contains(words), "{e}");
        assert!(e.message.contains("reno, bbr"), "{e}");
        assert!(
            e.to_string()
                .starts_with(&format!("cc.toml:{line}:{col}: ")),
            "{e}"
        );
        assert!(e.snippet.contains('^'), "{e}");
    }
    // The caret sits under the name.
    let s = Scenario::parse(cases[0].0, "cc.toml").unwrap();
    let e = s.congestion_control.check(&no_cubic).unwrap_err();
    assert!(
        e.snippet
            .ends_with(&format!("{}^^^^^^^^^^^^^", " ".repeat(21))),
        "{e}"
    );
}

#[test]
fn a_congestion_control_set_on_the_command_line_names_the_override() {
    let src = "name = \"n\"\n[network]\nrtt = \"40ms\"\n[[resource]]\npath = \"/a\"\n";
    let set = ["network.congestion_control=nonexistent".parse().unwrap()];
    let s = Scenario::parse_with_overrides(src, "cc.toml", &set).unwrap();
    assert_eq!(s.congestion_control.name, "nonexistent");
    let e = s.congestion_control.check(&kernel()).unwrap_err();
    assert_eq!(e.line, 0, "{e}");
    assert!(
        e.message.starts_with(
            "--set network.congestion_control=nonexistent: the kernel has no TCP \
             congestion control \"nonexistent\""
        ),
        "{e}"
    );
}

#[test]
fn serializes_for_results_json() {
    let n = parse(
        "rtt = \"40ms\"\nbandwidth = \"20mbit\"\nloss = \"1%\"\nloss_model = \"gilbert-elliott\"\n",
    )
    .unwrap();
    let toml = toml::to_string(&n).unwrap();
    for want in [
        "rtt_ms = 40.0",
        "bandwidth_bps = 20000000",
        "loss = 0.01",
        "kind = \"gilbert-elliott\"",
        "burst = 3.0",
    ] {
        assert!(toml.contains(want), "{want} missing from\n{toml}");
    }
}

#[test]
fn a_congestion_control_quic_lacks_is_located_when_h3_runs() {
    let src = |protocols: &str| {
        format!(
            "name = \"n\"\n{protocols}[network]\nrtt = \"40ms\"\ncongestion_control = \"htcp\"\n\
             [[resource]]\npath = \"/a\"\n"
        )
    };
    // No protocols listed: every protocol runs, h3 among them.
    for protocols in ["", "protocols = [\"h2\", \"h3\"]\n"] {
        let s = Scenario::parse(&src(protocols), "cc.toml").unwrap();
        assert_eq!(
            s.congestion_control.check(&kernel()),
            Ok(()),
            "TCP has htcp"
        );
        let e = s.check_quic().unwrap_err();
        let line = if protocols.is_empty() { 4 } else { 5 };
        assert_eq!((e.line, e.column), (line, 22), "{e}");
        assert!(
            e.message.contains(
                "h3 runs QUIC's own congestion control, in user space, and QUIC has cubic, \
                 reno, bbr but no \"htcp\""
            ),
            "{e}"
        );
        assert!(e.message.contains("--protocols"), "{e}");
    }
    // Without h3, the kernel's algorithm is all that counts.
    let s = Scenario::parse(&src("protocols = [\"h2\"]\n"), "cc.toml").unwrap();
    assert_eq!(s.check_quic(), Ok(()));
    // QUIC's own three pass.
    for cc in QUIC_CONGESTION_CONTROLS {
        let s = Scenario::parse(&src("").replace("htcp", cc), "cc.toml").unwrap();
        assert_eq!(s.check_quic(), Ok(()), "{cc}");
    }
}
