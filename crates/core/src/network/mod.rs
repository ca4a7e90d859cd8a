//! The `[network]` table: the emulated link a scenario runs over — round-trip time, bandwidth
//! each way, drop-tail queue, jitter, packet loss (random or in bursts), the PRNG seed that makes
//! loss and jitter repeatable, and the lab's TCP knobs (congestion control, slow start after
//! idle).
//!
//! It owns the keys, their defaults and their validation (errors located like every other
//! scenario mistake), and the arithmetic that turns a user's words into link parameters: the
//! even split of the RTT, the default queue (one bandwidth-delay product, at least 64 KiB) and the
//! Gilbert–Elliott transition probabilities that give a requested loss and mean burst length.
//! It deliberately does not emulate anything: the link crate's model does, from these settings.
//! Without a `[network]` table a scenario runs over plain loopback.
//!
//! The TCP congestion control is the lab's choice, not the host's: every socket of every run,
//! client and server, on the link and on loopback, uses [`CongestionControl`] — the table's
//! `congestion_control`, else cubic. Whether the kernel has that algorithm is a fact of the
//! host, so the check against it ([`CongestionControl::check`]) takes the kernel's list as an
//! argument ([`congestion_control_names`] reads it from text the caller read) and reports a
//! missing one where the scenario names it, like every other mistake.

use crate::scenario::ScenarioError;
use crate::units::{HumanDuration, HumanFraction, HumanRate, HumanSize};
use serde::{Deserialize, Serialize};
use std::ops::Range;
use std::time::Duration;
use toml::Spanned;

/// Longest RTT a scenario may ask for.
pub const MAX_RTT: Duration = Duration::from_secs(10);
/// Largest jitter a scenario may ask for.
pub const MAX_JITTER: Duration = Duration::from_secs(10);
/// Fastest link a scenario may ask for (the relay is userspace code; this is already generous).
pub const MAX_RATE_BPS: u64 = 100_000_000_000;
/// The smallest queue a scenario may set: one full-size Ethernet-MTU packet.
pub const MIN_QUEUE_BYTES: u64 = 1_500;
/// Largest `queue`: a gigabyte holds minutes of a 10 Gbit/s link, more than any buffer a
/// router has.
pub const MAX_QUEUE_BYTES: u64 = 1_000_000_000;
/// The floor of the default queue (one bandwidth-delay product, but never less than this).
pub const MIN_DEFAULT_QUEUE_BYTES: u64 = 64 * 1024;
/// The PRNG seed when the scenario sets none: runs are repeatable by default.
pub const DEFAULT_SEED: u64 = 1;
/// Mean loss-burst length, in packets, of `loss_model = "gilbert-elliott"` without `burst`.
pub const DEFAULT_BURST: f64 = 3.0;
/// Longest congestion-control name the kernel accepts (TCP_CA_NAME_MAX less the NUL).
pub const MAX_CONGESTION_CONTROL_LEN: usize = 15;
/// The lab's TCP congestion control when a scenario names none: CUBIC (RFC 9438), Linux's
/// default and the loss-based slow start the analytical model assumes.
pub const DEFAULT_CONGESTION_CONTROL: &str = "cubic";

/// The congestion controllers QUIC offers (h3 runs its own, in user space), by the kernel's
/// name for the same algorithm, so a scenario's `congestion_control` means the same thing over
/// TCP and over QUIC (`reno` is QUIC's NewReno).
pub const QUIC_CONGESTION_CONTROLS: [&str; 3] = ["cubic", "reno", "bbr"];
/// Where the kernel's congestion controls come from, as error messages name it.
pub const CONGESTION_CONTROL_SOURCES: &str = "net.ipv4.tcp_available_congestion_control, and \
     the tcp_<name> modules the kernel loads on demand";

/// The `[network]` table, validated, with every default resolved.
///
/// Directions follow the page load: the downlink carries responses (server → client), the
/// uplink carries requests (client → server).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NetworkSettings {
    /// Round-trip propagation delay, split evenly into a one-way delay each way.
    #[serde(rename = "rtt_ms", with = "crate::serde_ms")]
    pub rtt: Duration,
    /// Downlink (server → client) rate in bits/s; `None`: unlimited.
    #[serde(rename = "bandwidth_bps")]
    pub bandwidth: Option<u64>,
    /// Uplink (client → server) rate in bits/s; the scenario's `uplink`, else `bandwidth`.
    #[serde(rename = "uplink_bps")]
    pub uplink: Option<u64>,
    /// Fraction of packets lost each way, in [0, 1).
    pub loss: f64,
    /// How losses are spread over packets.
    pub loss_model: LossModel,
    /// Largest extra one-way delay, drawn uniformly from [0, jitter] per packet.
    #[serde(rename = "jitter_ms", with = "crate::serde_ms")]
    pub jitter: Duration,
    /// Drop-tail queue of the downlink in bytes; `None`: unlimited (no `bandwidth`).
    #[serde(rename = "downlink_queue_bytes")]
    pub downlink_queue: Option<u64>,
    /// Drop-tail queue of the uplink in bytes; `None`: unlimited (no uplink rate).
    #[serde(rename = "uplink_queue_bytes")]
    pub uplink_queue: Option<u64>,
    /// Seed of the PRNG behind loss and jitter: one seed, one sequence of drops and delays.
    pub seed: u64,
    /// `congestion_control` as the table writes it (`"cubic"`, `"bbr"`, `"reno"`); `None`: not
    /// written, so the lab's default, [`DEFAULT_CONGESTION_CONTROL`]. The lab sets
    /// [`Scenario::congestion_control`](crate::Scenario::congestion_control) (this, or the
    /// default) on every socket; the link crate may also make it its namespaces' default, which
    /// only an algorithm in `tcp_allowed_congestion_control` can be, so the harness leaves that
    /// to the host.
    pub congestion_control: Option<String>,
    /// `net.ipv4.tcp_slow_start_after_idle` in the lab's namespaces; `None`: as the host has it.
    pub slow_start_after_idle: Option<bool>,
}

/// The TCP congestion control of every socket the lab makes for a scenario — client and
/// server, on the link and on loopback (with or without a `[network]` table, and under
/// `--no-link`) — with where the scenario says so, for a mistake found only against the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CongestionControl {
    /// The kernel's name for the algorithm, e.g. `"cubic"`.
    pub name: String,
    origin: Origin,
    /// The error a mistake about it starts from: its place in the file, or the `--set` that
    /// wrote it (then the message so far names that override).
    at: ScenarioError,
}

/// Where a scenario's congestion control comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// `[network] congestion_control`.
    Written,
    /// The lab's default, in a `[network]` table without the key.
    DefaultInTable,
    /// The lab's default, in a scenario without a `[network]` table.
    DefaultNoTable,
}

impl CongestionControl {
    /// The congestion control of a scenario whose `[network]` table is `network` (`None`: no
    /// table), with `key` and `table` where the key and the table are written; `locate` turns a
    /// place into an error, as the scenario's parse does.
    pub(crate) fn of(
        network: Option<&NetworkSettings>,
        key: Option<Range<usize>>,
        table: Option<Range<usize>>,
        locate: &dyn Fn(Option<Range<usize>>, String) -> ScenarioError,
    ) -> Self {
        let written = network.and_then(|n| n.congestion_control.clone());
        let (name, origin, place) = match (written, table) {
            (Some(name), table) => (name, Origin::Written, key.or(table)),
            (None, Some(table)) => (
                DEFAULT_CONGESTION_CONTROL.to_string(),
                Origin::DefaultInTable,
                Some(table),
            ),
            // The start of the file: the scenario as a whole.
            (None, None) => (
                DEFAULT_CONGESTION_CONTROL.to_string(),
                Origin::DefaultNoTable,
                Some(0..0),
            ),
        };
        Self {
            name,
            origin,
            at: locate(place, String::new()),
        }
    }

    /// Checks the name against QUIC's own controllers, for a scenario that runs h3: a missing
    /// one is an error where the scenario names it, naming what QUIC has. (The lab's default
    /// is one of them.)
    pub fn check_quic(&self) -> Result<(), ScenarioError> {
        if QUIC_CONGESTION_CONTROLS.contains(&self.name.as_str()) {
            return Ok(());
        }
        let mut e = self.at.clone();
        e.message.push_str(&format!(
            "h3 runs QUIC's own congestion control, in user space, and QUIC has {} but no \
             \"{}\": name one of those, or leave h3 out of the protocols (`protocols` or \
             --protocols; a scenario that lists none runs h3)",
            QUIC_CONGESTION_CONTROLS.join(", "),
            self.name
        ));
        Err(e)
    }

    /// Whether the scenario named it (`[network] congestion_control`) rather than taking the
    /// lab's default.
    pub fn chosen(&self) -> bool {
        self.origin == Origin::Written
    }

    /// Checks the name against `available`, the congestion controls this kernel has (see
    /// [`congestion_control_names`]); a missing one is an error at the `congestion_control`
    /// key, or, when the scenario took the default, at its `[network]` table or the start of
    /// the file, naming what is available. Pure: the caller reads the kernel's list.
    pub fn check(&self, available: &[String]) -> Result<(), ScenarioError> {
        if available.contains(&self.name) {
            return Ok(());
        }
        let list = if available.is_empty() {
            "none".to_string()
        } else {
            available.join(", ")
        };
        let name = &self.name;
        let here = format!("available here: {list} ({CONGESTION_CONTROL_SOURCES})");
        let message = match self.origin {
            Origin::Written => format!(
                "the kernel has no TCP congestion control \"{name}\"; {here}: name one of them"
            ),
            Origin::DefaultInTable => format!(
                "the lab runs TCP congestion control \"{name}\" unless `congestion_control` \
                 names another, and the kernel has no \"{name}\"; {here}: set \
                 `congestion_control` in this [network] table to one of them"
            ),
            Origin::DefaultNoTable => format!(
                "the lab runs TCP congestion control \"{name}\" unless a [network] table's \
                 `congestion_control` names another, and the kernel has no \"{name}\"; {here}: \
                 add a [network] table with `rtt = \"0\"` and `congestion_control` set to one \
                 of them (run with --no-link to stay on plain loopback)"
            ),
        };
        let mut e = self.at.clone();
        e.message.push_str(&message);
        Err(e)
    }
}

/// The congestion controls a kernel offers, each once: the names in `available` (the text of
/// `/proc/sys/net/ipv4/tcp_available_congestion_control`: what is registered now), then those
/// of its congestion-control modules, from the file names in
/// `/lib/modules/<release>/kernel/net/ipv4` (`tcp_bbr.ko`, `tcp_htcp.ko.zst`): setting one on a
/// socket loads `tcp_<name>`. `tcp_diag`, the socket-monitoring module, is no algorithm. Pure:
/// the caller reads the file and lists the folder.
pub fn congestion_control_names<'a>(
    available: &str,
    module_files: impl IntoIterator<Item = &'a str>,
) -> Vec<String> {
    let modules = module_files.into_iter().filter_map(|file| {
        let (name, rest) = file.strip_prefix("tcp_")?.split_once(".ko")?;
        let is_module = rest.is_empty() || rest.starts_with('.');
        (is_module && name != "diag" && valid_congestion_control(name)).then_some(name)
    });
    let mut names: Vec<String> = Vec::new();
    for name in available.split_whitespace().chain(modules) {
        if !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
    }
    names
}

/// A name the kernel could hold: lowercase letters, digits and '_', at most
/// [`MAX_CONGESTION_CONTROL_LEN`] characters.
fn valid_congestion_control(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_CONGESTION_CONTROL_LEN
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// How lost packets are spread.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum LossModel {
    /// Each packet is lost independently with probability `loss`.
    Random,
    /// Losses come in bursts of `burst` packets on average (a two-state Gilbert–Elliott chain
    /// whose bad state loses every packet and whose good state loses none), with long-run loss
    /// `loss`.
    GilbertElliott { burst: f64 },
}

impl NetworkSettings {
    /// A path of round trip `rtt` and nothing else: no rate limit, loss or jitter, as a
    /// `[network]` table with only `rtt` reads. The analytical model's view of a real path
    /// whose round trip was measured (`run --target`).
    pub fn with_rtt(rtt: Duration) -> NetworkSettings {
        NetworkSettings {
            rtt,
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
    }

    /// One-way propagation delay of the uplink (client → server): half the RTT, rounded down.
    pub fn uplink_delay(&self) -> Duration {
        self.rtt / 2
    }

    /// One-way propagation delay of the downlink: the rest of the RTT, so both add up to it.
    pub fn downlink_delay(&self) -> Duration {
        self.rtt - self.uplink_delay()
    }

    /// The Gilbert–Elliott chain's `(p_good_to_bad, p_bad_to_good)` for this loss and burst;
    /// `None` with the random model.
    pub fn gilbert_elliott(&self) -> Option<(f64, f64)> {
        match self.loss_model {
            LossModel::Random => None,
            LossModel::GilbertElliott { burst } => {
                Some(gilbert_elliott_transitions(self.loss, burst))
            }
        }
    }
}

/// A drop-tail queue of one bandwidth-delay product of `rate_bps` over `rtt`, but at least
/// [`MIN_DEFAULT_QUEUE_BYTES`]: the buffer a well-sized bottleneck router has.
pub fn default_queue(rate_bps: u64, rtt: Duration) -> u64 {
    let bdp = u128::from(rate_bps) * rtt.as_nanos() / 8 / 1_000_000_000;
    u64::try_from(bdp)
        .unwrap_or(u64::MAX)
        .max(MIN_DEFAULT_QUEUE_BYTES)
}

/// Transition probabilities `(p_good_to_bad, p_bad_to_good)` of a Gilbert–Elliott chain that
/// loses every packet in its bad state and none in its good state, with mean burst length
/// `burst` packets and long-run loss `loss`.
///
/// A bad state lasts 1/p_bad_to_good packets on average, so p_bad_to_good = 1/burst; the chain
/// is bad a fraction p_gb/(p_gb + p_bg) of the time, which equals `loss` when
/// p_gb = loss·p_bg/(1 − loss). That is a probability only while loss ≤ burst/(1 + burst).
pub fn gilbert_elliott_transitions(loss: f64, burst: f64) -> (f64, f64) {
    let p_bad_to_good = 1.0 / burst;
    let p_good_to_bad = loss * p_bad_to_good / (1.0 - loss);
    (p_good_to_bad, p_bad_to_good)
}

/// The `[network]` table as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNetwork {
    rtt: Option<Spanned<HumanDuration>>,
    bandwidth: Option<Spanned<HumanRate>>,
    uplink: Option<Spanned<HumanRate>>,
    loss: Option<Spanned<HumanFraction>>,
    loss_model: Option<Spanned<LossModelName>>,
    burst: Option<Spanned<f64>>,
    jitter: Option<Spanned<HumanDuration>>,
    queue: Option<Spanned<HumanSize>>,
    seed: Option<u64>,
    congestion_control: Option<Spanned<String>>,
    slow_start_after_idle: Option<bool>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
enum LossModelName {
    Random,
    GilbertElliott,
}

impl RawNetwork {
    /// Where `congestion_control` is written, if it is.
    pub(crate) fn congestion_control_span(&self) -> Option<Range<usize>> {
        self.congestion_control.as_ref().map(|c| c.span())
    }

    /// Checks every key; `table` is where the `[network]` table sits, for mistakes that have
    /// no key of their own (a missing `rtt`).
    pub(crate) fn validate(
        self,
        table: Range<usize>,
        err: &dyn Fn(Range<usize>, String) -> ScenarioError,
    ) -> Result<NetworkSettings, ScenarioError> {
        let rtt = match &self.rtt {
            None => return Err(err(
                table,
                "the [network] table needs an `rtt`, e.g. `rtt = \"40ms\"` (write \"0\" for none)"
                    .into(),
            )),
            Some(r) if r.get_ref().0 > MAX_RTT => {
                return Err(err(
                    r.span(),
                    format!("`rtt` may be at most {}s", MAX_RTT.as_secs()),
                ))
            }
            Some(r) => r.get_ref().0,
        };

        let rate = |v: &Option<Spanned<HumanRate>>, key: &str| match v {
            None => Ok(None),
            Some(r) if r.get_ref().0 == 0 => Err(err(
                r.span(),
                format!("`{key}` must be above zero: leave it out for an unlimited link"),
            )),
            Some(r) if r.get_ref().0 > MAX_RATE_BPS => {
                Err(err(r.span(), format!("`{key}` may be at most 100gbit")))
            }
            Some(r) => Ok(Some(r.get_ref().0)),
        };
        let bandwidth = rate(&self.bandwidth, "bandwidth")?;
        let uplink = rate(&self.uplink, "uplink")?.or(bandwidth);

        let loss = match &self.loss {
            None => 0.0,
            Some(l) if (0.0..1.0).contains(&l.get_ref().0) => l.get_ref().0,
            Some(l) => {
                return Err(err(
                    l.span(),
                    "loss must be below 100% and not negative: it is the fraction of packets \
                     lost each way, written \"2%\" or 0.02"
                        .into(),
                ))
            }
        };

        let name = self.loss_model.as_ref().map(|m| *m.get_ref());
        let loss_model = match (name, &self.burst) {
            (None | Some(LossModelName::Random), None) => LossModel::Random,
            (None | Some(LossModelName::Random), Some(b)) => {
                return Err(err(
                    b.span(),
                    "`burst` applies to bursty loss: add `loss_model = \"gilbert-elliott\"`".into(),
                ))
            }
            (Some(LossModelName::GilbertElliott), None) => LossModel::GilbertElliott {
                burst: DEFAULT_BURST,
            },
            (Some(LossModelName::GilbertElliott), Some(b)) => {
                let burst = *b.get_ref();
                // NaN is in no range, so it fails too.
                if !(1.0..=1e6).contains(&burst) {
                    return Err(err(
                        b.span(),
                        "`burst` is the mean number of packets lost in a row: at least 1 (and at most 1000000)"
                            .into(),
                    ));
                }
                LossModel::GilbertElliott { burst }
            }
        };
        if let (LossModel::GilbertElliott { burst }, Some(l)) = (loss_model, &self.loss) {
            let max = burst / (1.0 + burst);
            if loss > max {
                return Err(err(
                    l.span(),
                    format!(
                        "with `burst = {burst}` the gilbert-elliott model loses at most \
                         {:.1}% of packets: raise `burst` or lower `loss`",
                        max * 100.0
                    ),
                ));
            }
        }

        let jitter = match &self.jitter {
            None => Duration::ZERO,
            Some(j) if j.get_ref().0 > MAX_JITTER => {
                return Err(err(
                    j.span(),
                    format!("`jitter` may be at most {}s", MAX_JITTER.as_secs()),
                ))
            }
            Some(j) => j.get_ref().0,
        };

        let (downlink_queue, uplink_queue) = match &self.queue {
            None => (
                bandwidth.map(|r| default_queue(r, rtt)),
                uplink.map(|r| default_queue(r, rtt)),
            ),
            Some(q) if bandwidth.is_none() && uplink.is_none() => {
                return Err(err(
                    q.span(),
                    "`queue` needs a `bandwidth`: without a rate limit no packet ever waits".into(),
                ))
            }
            Some(q) if q.get_ref().0 > MAX_QUEUE_BYTES => {
                return Err(err(q.span(), "`queue` may be at most 1gb".into()))
            }
            Some(q) if q.get_ref().0 < MIN_QUEUE_BYTES => {
                return Err(err(
                    q.span(),
                    format!("`queue` must hold at least one full-size packet ({MIN_QUEUE_BYTES}b)"),
                ))
            }
            Some(q) => {
                let q = q.get_ref().0;
                (bandwidth.map(|_| q), uplink.map(|_| q))
            }
        };

        let congestion_control = match self.congestion_control {
            None => None,
            Some(cc) => {
                if !valid_congestion_control(cc.get_ref()) {
                    return Err(err(
                        cc.span(),
                        format!(
                            "`congestion_control` names a kernel algorithm such as \"cubic\", \
                             \"bbr\" or \"reno\": lowercase letters, digits and '_', at most \
                             {MAX_CONGESTION_CONTROL_LEN} characters"
                        ),
                    ));
                }
                Some(cc.into_inner())
            }
        };

        Ok(NetworkSettings {
            rtt,
            bandwidth,
            uplink,
            loss,
            loss_model,
            jitter,
            downlink_queue,
            uplink_queue,
            seed: self.seed.unwrap_or(DEFAULT_SEED),
            congestion_control,
            slow_start_after_idle: self.slow_start_after_idle,
        })
    }
}

#[cfg(test)]
mod tests;
